// The dashboard's clientside callbacks (pages/dashboard.py); every text comes from the server.
const html = (type, props) => ({ type, namespace: "dash_html_components", props });
const dbc = (type, props) => ({ type, namespace: "dash_bootstrap_components", props });
// A name as the charger search compares it: lower case, accents dropped ("Köln" ~ "koln").
const folded = (text) =>
  (text || "")
    .normalize("NFD")
    .replace(/\p{Diacritic}/gu, "")
    .toLowerCase()
    .trim();
const searchMiss = (card, query) =>
  query !== "" && !folded(card.name + " " + card.specs).includes(query);
// A card's classes: a favourite (shown on a phone before Show all chargers) and a search miss.
const itemClass = (card, query) =>
  "charger-item" + (card.favourite ? " is-favourite" : "") + (searchMiss(card, query) ? " search-miss" : "");

window.dash_clientside = Object.assign({}, window.dash_clientside, {
  polaris: {
    // The charger cards from components/dashboard.py charger_grid_data: {cards: [{id, name,
    // specs, status, pill, startable, connectors, price}], prices, note, empty, pill_type,
    // start, report, book, price_separator}. Each pill keeps its pattern-matching id, so applyStatuses
    // repaints it on every poll; so does each choice of connector (connectors: {options,
    // value}, or null: the charger chooses). price: the index of the card's price in prices,
    // each a list of parts (null: no tariff, no line). favourite: the card's star is pressed.
    // The search box's text keeps its filter when the cards are drawn again (a star pressed).
    renderChargers: function (data, search) {
      if (!data) {
        return window.dash_clientside.no_update;
      }
      const query = folded(search);
      // A star pressed from the keyboard keeps the focus on that charger's star once redrawn.
      const active = document.activeElement;
      const starred = active && active.classList.contains("favourite-star") ? active.dataset.charger : null;
      if (starred) {
        setTimeout(() => {
          const star = document.querySelector(`.favourite-star[data-charger="${CSS.escape(starred)}"]`);
          if (star) {
            star.focus();
          }
        }, 100);
      }
      if (!data.cards.length) {
        return html("P", {
          children: data.empty,
          className: "text-body-secondary mb-0 no-chargers",
        });
      }
      // A price's parts, each kept on one line (components/dashboard.py price_line).
      const priceLine = (parts) =>
        parts.flatMap((part, i) => [
          ...(i ? [data.price_separator] : []),
          html("Span", { children: part, className: "text-nowrap" }),
        ]);
      const cards = data.cards.map((card) =>
        html("Li", {
          id: { type: data.item_type, charger: card.id },
          className: itemClass(card, query),
          children: html("Div", {
            className: "card card-body charger-card h-100",
            children: [
              html("Div", {
                className: "charger-head",
                children: [
                  html("H3", { children: card.name, className: "h6 card-title mb-1 charger-name" }),
                  // The star: pressed for a favourite; the server toggles it and lists it first.
                  html("Button", {
                    children: card.favourite ? "\u2605" : "\u2606",
                    type: "button",
                    "aria-pressed": card.favourite ? "true" : "false",
                    "aria-label": data.favourite.label + ": " + card.name,
                    "data-charger": card.id,
                    className: "btn btn-link favourite-star" + (card.favourite ? " is-favourite" : ""),
                    id: { type: data.favourite.type, charger: card.id },
                  }),
                ],
              }),
              html("P", {
                children: card.specs,
                className: "small text-body-secondary mb-0 charger-specs",
              }),
              ...(card.price === null || card.price === undefined
                ? []
                : [html("P", { children: priceLine(data.prices[card.price]), className: "small mb-0 charger-price" })]),
              html("Span", {
                children: card.status,
                className: card.pill,
                id: { type: data.pill_type, charger: card.id },
              }),
              // The connector to start on: shown with Start charging (polaris.css).
              ...(card.connectors
                ? [
                    html("Label", {
                      className: "connector-choice mt-2 mb-0",
                      children: [
                        html("Span", { children: data.start.connector_label, className: "visually-hidden" }),
                        dbc("Select", {
                          id: { type: data.start.connector_type, charger: card.id },
                          options: card.connectors.options,
                          value: card.connectors.value,
                          size: "sm",
                        }),
                      ],
                    }),
                  ]
                : []),
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
              // Book: opens the booking dialog (pages/dashboard.py book_dialog) for this charger.
              html("Button", {
                children: data.book.label,
                type: "button",
                "aria-label": data.book.label + ": " + card.name,
                className: "btn btn-sm btn-link book-charger p-0 mt-1 align-self-start",
                id: { type: data.book.type, charger: card.id },
              }),
              // Report a problem: on every card, whatever its status (an Offline one most of all).
              html("Button", {
                children: data.report.label,
                type: "button",
                "aria-label": data.report.label + ": " + card.name,
                className: "btn btn-sm btn-link report-problem p-0 mt-1 align-self-start",
                id: { type: data.report.type, charger: card.id },
              }),
            ],
          }),
        }),
      );
      const children = [];
      if (!data.cards.some((card) => card.favourite)) {
        children.push(html("P", { children: data.no_favourites, className: "small text-body-secondary no-favourites-note" }));
      }
      children.push(html("Ul", { children: cards, className: "charger-grid-list list-unstyled mb-0" }));
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
    // The charger search and Show all chargers (components/dashboard.py charger_section): each
    // card's classes (a search miss hides), the list's (on a phone: the favourites only until
    // expanded or searched), the button's words and state, and the note when nothing matches.
    filterChargers: function (search, clicks, data, showAll, showFewer) {
      const outputs = window.dash_clientside.callback_context.outputs_list;
      const query = folded(search);
      const expanded = (clicks || 0) % 2 === 1;
      const cards = new Map(((data && data.cards) || []).map((card) => [card.id, card]));
      const items = outputs[0].map((o) => {
        const card = cards.get(o.id.charger);
        return card ? itemClass(card, query) : "charger-item";
      });
      const matches = [...cards.values()].filter((card) => !searchMiss(card, query)).length;
      return [
        items,
        "charger-list" + (expanded ? " expanded" : "") + (query ? " searching" : ""),
        expanded ? showFewer : showAll,
        expanded ? "true" : "false",
        !(query && cards.size && matches === 0),
      ];
    },
    // Recent activity from components/dashboard.py recent_sessions_data: {items: [{kwh,
    // charger, start, end, duration, icon, mark, mark_class, cost, receipt, receipt_label}],
    // empty: {title, text}, cost_label, receipt_text}. cost "": no tariff prices it, no entry;
    // receipt null: no link.
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
      const time = (label, value, className) =>
        html("Div", {
          className: "session-time" + (className ? " " + className : ""),
          children: [html("Dt", { children: label }), html("Dd", { children: value })],
        });
      const cost = (item) => {
        const parts = [html("Span", { children: item.cost, className: "session-cost-value" })];
        if (item.receipt) {
          parts.push(
            html("Span", { children: " · ", "aria-hidden": "true" }),
            html("A", {
              children: data.receipt_text,
              href: item.receipt,
              "aria-label": item.receipt_label,
              className: "session-receipt",
            }),
          );
        }
        return time(data.cost_label, parts, "session-cost");
      };
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
                ...(item.cost ? [cost(item)] : []),
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
    // startable: [chargerId], the cards whose Start charging shows (Online now); connectors:
    // {chargerId: options}, the choices of connector with their connectors' statuses now.
    applyStatuses: function (data) {
      const noUpdate = window.dash_clientside.no_update;
      const outputs = window.dash_clientside.callback_context.outputs_list;
      const pills = outputs[0];
      const buttons = outputs[3];
      const choices = outputs[4];
      if (!data || !data.pills) {
        return [
          pills.map(() => noUpdate),
          pills.map(() => noUpdate),
          noUpdate,
          buttons.map(() => noUpdate),
          choices.map(() => noUpdate),
        ];
      }
      const shown = pills.map((o) => data.pills[o.id.charger] || data.unknown);
      const startable = new Set(data.startable || []);
      const connectors = data.connectors || {};
      return [
        shown.map((p) => p[0]),
        shown.map((p) => p[1]),
        data.available,
        buttons.map((o) => !startable.has(o.id.charger)),
        choices.map((o) => connectors[o.id.charger] || noUpdate),
      ];
    },
    // The driver's command (components/shell.py COMMAND_STORE_ID, written by the server only):
    // {id, kind: "start" | "stop", charger, state: "waiting" | "done" | "refused", message}.
    // Start: the pressed card's note says it; every Start, and every choice of connector,
    // waits while one command is open.
    startNotes: function (command) {
      const noUpdate = window.dash_clientside.no_update;
      const outputs = window.dash_clientside.callback_context.outputs_list;
      if (!command || command.kind !== "start") {
        return outputs.map((group) => group.map(() => noUpdate));
      }
      const waiting = command.state === "waiting";
      return [
        outputs[0].map((o) => (o.id.charger === command.charger ? command.message : "")),
        outputs[1].map(() => waiting),
        outputs[2].map(() => waiting),
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
    // counter only when it changes after that: it appears or hides, moves to another charger,
    // or its kWh or cost so far changes (so the row in progress says what the banner says).
    // The banner's first answer (its charger text goes from null to a string) is what the
    // page's own render already shows. Hidden, its texts stay "": nothing is asked.
    // Who answers a refresh tick: on the dashboard ("/") its own tick (dashboardTick: banner,
    // pills and next reservation in one request), on any other page the shell's banner. A page
    // shown (the pathname, or the first call) always draws the banner.
    bannerTick: function (n, pathname, ticks) {
      const triggered = (window.dash_clientside.callback_context.triggered || []).map(
        (t) => t.prop_id
      );
      if (pathname === "/" && triggered.includes("refresh-interval.n_intervals")) {
        return window.dash_clientside.no_update;
      }
      return (ticks || 0) + 1;
    },
    dashboardTick: function (n, ticks) {
      return (ticks || 0) + 1;
    },
    recentGate: function (hidden, kwh, charger, cost, seen, refreshes) {
      const noUpdate = window.dash_clientside.no_update;
      const now = [hidden, kwh, charger, cost];
      if (!seen || seen[2] === null || seen[2] === undefined) {
        return [now, noUpdate];
      }
      if (now.every((value, i) => value === seen[i])) {
        return [noUpdate, noUpdate];
      }
      return [now, (refreshes || 0) + 1];
    },
  },
});
