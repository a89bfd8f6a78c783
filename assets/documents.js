// Receipts and statements (pages/receipts.py): Print asks the browser to print the page,
// which assets/print.css turns into the document alone.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  polarisDocuments: {
    print: function (clicks) {
      if (clicks) {
        window.print();
      }
      return window.dash_clientside.no_update;
    },
  },
});
