// The dashboard's clientside callbacks (pages/dashboard.py); every text comes from the server.
const html = (type, props) => ({ type, namespace: "dash_html_components", props });

window.dash_clientside = Object.assign({}, window.dash_clientside, {
  polaris: {
    // The charger cards from components/dashboard.py charger_grid_data: {cards: [{id, name,
    // specs, status, pill}], note, empty, pill_type}. Each pill keeps its pattern-matching id,
    // so applyStatuses repaints it on every poll.
    renderChargers: function (data) {
      if (!data) {
        return window.dash_clientside.no_update;
      }
      if (!data.cards.length) {
        return html("P", {
          children: data.empty,
          className: "text-body-secondary mb-0 no-chargers",
        });
      }
      const cards = data.cards.map((card) =>
        html("Li", {
          children: html("Div", {
            className: "card card-body charger-card h-100",
            children: [
              html("H3", { children: card.name, className: "h6 card-title mb-1 charger-name" }),
              html("P", {
                children: card.specs,
                className: "small text-body-secondary mb-0 charger-specs",
              }),
              html("Span", {
                children: card.status,
                className: card.pill,
                id: { type: data.pill_type, charger: card.id },
              }),
              // Start charging: shown while the charger is Online (applyStatuses keeps it so).
              html("Button", {
                children: data.start.label,
                type: "button",
                hidden: !card.startable,
                className: "btn btn-sm btn-outline-primary start-charging mt-2",
                id: { type: data.start.type, charger: card.id },
              }),
              html("P", {
                children: "",
                role: "status",
                "aria-live": "polite",
                className: "small mb-0 mt-1 start-charging-note",
                id: { type: data.start.note_type, charger: card.id },
              }),
            ],
          }),
        }),
      );
      const children = [html("Ul", { children: cards, className: "charger-grid-list list-unstyled mb-0" })];
      if (data.note) {
        children.push(
          html("P", {
            children: data.note,
            className: "charger-limit-note small text-body-secondary mt-3",
          }),
        );
      }
      return html("Div", { children });
    },
    // Recent activity from components/dashboard.py recent_sessions_data: {items: [{kwh,
    // charger, start, end, duration, icon, mark, mark_class}], empty: {title, text}}.
    renderSessions: function (data) {
      if (!data) {
        return window.dash_clientside.no_update;
      }
      if (!data.items.length) {
        return html("Div", {
          className: "first-run text-body-secondary",
          children: [
            html("P", { children: data.empty.title, className: "fw-semibold mb-1 text-body" }),
            html("P", { children: data.empty.text, className: "mb-0" }),
          ],
        });
      }
      const time = (label, value) =>
        html("Div", {
          className: "session-time",
          children: [html("Dt", { children: label }), html("Dd", { children: value })],
        });
      const items = data.items.map((item) =>
        html("Li", {
          className: "list-group-item session-item",
          children: [
            html("Div", {
              className: "d-flex justify-content-between align-items-start gap-2",
              children: [
                html("Div", {
                  children: [
                    html("Span", { children: item.kwh, className: "session-kwh" }),
                    html("Span", { children: item.charger, className: "session-charger" }),
                  ],
                }),
                html("Span", {
                  className: item.mark_class,
                  children: [
                    html("Span", { children: item.icon + " ", "aria-hidden": "true" }),
                    item.mark,
                  ],
                }),
              ],
            }),
            html("Dl", {
              className: "session-times",
              children: [
                time("Start", item.start),
                time("End", item.end),
                time("Duration", item.duration),
              ],
            }),
          ],
        }),
      );
      return html("Ul", {
        children: items,
        className: "list-group list-group-flush recent-sessions-list",
      });
    },
    // Paints the charger status pills from the poll's payload (refresh_statuses): {pills:
    // {chargerId: [text, classes]}, unknown: [text, classes], available: "N available"}.
    // startable: [chargerId], the cards whose Start charging shows (Online now).
    applyStatuses: function (data) {
      const noUpdate = window.dash_clientside.no_update;
      const outputs = window.dash_clientside.callback_context.outputs_list;
      const pills = outputs[0];
      const buttons = outputs[3];
      if (!data || !data.pills) {
        return [pills.map(() => noUpdate), pills.map(() => noUpdate), noUpdate, buttons.map(() => noUpdate)];
      }
      const shown = pills.map((o) => data.pills[o.id.charger] || data.unknown);
      const startable = new Set(data.startable || []);
      return [
        shown.map((p) => p[0]),
        shown.map((p) => p[1]),
        data.available,
        buttons.map((o) => !startable.has(o.id.charger)),
      ];
    },
    // The driver's command (components/shell.py COMMAND_STORE_ID, written by the server only):
    // {id, kind: "start" | "stop", charger, state: "waiting" | "done" | "refused", message}.
    // Start: the pressed card's note says it; every Start waits while one command is open.
    startNotes: function (command) {
      const noUpdate = window.dash_clientside.no_update;
      const outputs = window.dash_clientside.callback_context.outputs_list;
      if (!command || command.kind !== "start") {
        return [outputs[0].map(() => noUpdate), outputs[1].map(() => noUpdate)];
      }
      const waiting = command.state === "waiting";
      return [
        outputs[0].map((o) => (o.id.charger === command.charger ? command.message : "")),
        outputs[1].map(() => waiting),
      ];
    },
    // Stop: the banner's note ("Stopping…" or the refusal), its button off while waiting.
    stopNote: function (command) {
      const noUpdate = window.dash_clientside.no_update;
      if (!command || command.kind !== "stop") {
        return [noUpdate, noUpdate];
      }
      return [command.message, command.state === "waiting"];
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
