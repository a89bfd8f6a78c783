// Paints the charger status pills from the poll's payload (pages/dashboard.py refresh_statuses):
// {pills: {chargerId: [text, classes]}, unknown: [text, classes], available: "N available"}.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  polaris: {
    applyStatuses: function (data) {
      const noUpdate = window.dash_clientside.no_update;
      const pills = window.dash_clientside.callback_context.outputs_list[0];
      if (!data || !data.pills) {
        return [pills.map(() => noUpdate), pills.map(() => noUpdate), noUpdate];
      }
      const shown = pills.map((o) => data.pills[o.id.charger] || data.unknown);
      return [shown.map((p) => p[0]), shown.map((p) => p[1]), data.available];
    },
  },
});
