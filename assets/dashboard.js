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
    // pages/dashboard.py: the banner as Recent activity last showed it -> bump the refresh
    // counter only when it changes after that. The banner's first answer (its charger text
    // goes from null to a string) is what the page's own render already shows.
    recentGate: function (hidden, charger, seen, refreshes) {
      const noUpdate = window.dash_clientside.no_update;
      const now = [hidden, charger];
      if (!seen || seen[1] === null || seen[1] === undefined) {
        return [now, noUpdate];
      }
      if (seen[0] === now[0] && seen[1] === now[1]) {
        return [noUpdate, noUpdate];
      }
      return [now, (refreshes || 0) + 1];
    },
  },
});
