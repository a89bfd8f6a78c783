// Operators' pages: what the browser does itself, without a round trip.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  polarisAdmin: {
    // A disputed session was confirmed or corrected: the grid (AG Grid's infinite model, which
    // asks the server for rows only as they scroll into view) asks again for the rows it shows.
    refreshGridRows: function (resolved, gridId) {
      if (resolved) {
        const api = window.dash_ag_grid && window.dash_ag_grid.getApi(gridId);
        if (api) {
          api.refreshInfiniteCache();
        }
      }
      return window.dash_clientside.no_update;
    },
  },
});
