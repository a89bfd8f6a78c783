"""``/sessions``, a driver's every session: the filter form, the totals line and the grid
(dash-ag-grid, infinite rows answered by the page's callback). No database access.

Rows reuse the sessions explorer's text (``components.history.session_grid_rows``) plus a link
to the receipt of each finalized, priced session (the receipt page shows no other).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.dashboard import RECEIPT_TEXT
from components.fleet import markdown_link
from components.history import (
    _grid_options,
    export_link,
    new_grid_key,
    session_grid_rows,
    sessions_export_href,
)
from components.landmarks import aria
from components.receipts import receipt_href
from data.charging.history import SessionListRow
from data.charging.my_sessions import HistoryFilter, UsedCharger
from data.pricing.cost import SessionCost

HISTORY_LOCATION_ID = "history-location"
HISTORY_QUERY_ID = "history-query"
HISTORY_FROM_ID = "history-from"
HISTORY_TO_ID = "history-to"
HISTORY_CHARGER_ID = "history-charger"
HISTORY_APPLY_ID = "history-apply"
HISTORY_NOTE_ID = "history-note"
HISTORY_RESULTS_ID = "history-results"
HISTORY_EXPORT_ID = "history-export"
HISTORY_GRID_TYPE = "history-grid"
HISTORY_TOTALS_TYPE = "history-totals"
HISTORY_COUNT_TYPE = "history-count"
ALL_CHARGERS = "all"
HISTORY_PATH = "/sessions"
ALL_SESSIONS_TEXT = "All my sessions"


def all_sessions_link(link_id: str, class_name: str = "") -> dcc.Link:
    return dcc.Link(ALL_SESSIONS_TEXT, href=HISTORY_PATH, id=link_id, className=class_name)


def _field(label: str, ident: str, control: Component, **width: Any) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=ident, class_name="small mb-1"), control],
        **width,
        class_name="mb-2",
    )


def history_form() -> dbc.Form:
    """From, to (local days), charger; filled from the address by a callback."""
    return dbc.Form(
        id="history-filters",
        className="mb-2",
        children=dbc.Row(
            [
                _field(
                    "From", HISTORY_FROM_ID, dbc.Input(id=HISTORY_FROM_ID, type="date"), xs=6, md=3
                ),
                _field("To", HISTORY_TO_ID, dbc.Input(id=HISTORY_TO_ID, type="date"), xs=6, md=3),
                _field(
                    "Charger",
                    HISTORY_CHARGER_ID,
                    # Searched on the server: the account may have used hundreds.
                    dcc.Dropdown(
                        id=HISTORY_CHARGER_ID,
                        options=charger_options([]),
                        value=ALL_CHARGERS,
                        clearable=False,
                        placeholder="Type a charger name",
                    ),
                    xs=12,
                    md=4,
                ),
                dbc.Col(
                    html.Div(
                        [
                            dbc.Button("Show", id=HISTORY_APPLY_ID, color="primary"),
                            dbc.Button(
                                "Clear",
                                href=HISTORY_PATH,
                                color="secondary",
                                outline=True,
                                id="history-reset",
                            ),
                        ],
                        className="d-flex gap-2",
                    ),
                    xs=12,
                    md="auto",
                    class_name="mb-2 d-flex align-items-end",
                ),
            ],
            class_name="g-2",
        ),
    )


def history_skeleton(query: dict[str, Any]) -> html.Div:
    return html.Div(
        [
            dcc.Location(id=HISTORY_LOCATION_ID, refresh="callback-nav"),
            dcc.Store(id=HISTORY_QUERY_ID, data=query),
            html.H1(ALL_SESSIONS_TEXT, className="h3 mb-3"),
            history_form(),
            html.Div(id=HISTORY_NOTE_ID, role="status", **aria(live="polite")),
            html.Div(
                id=HISTORY_RESULTS_ID,
                children=html.P("Loading your sessions…", className="text-body-secondary"),
            ),
        ],
        className="history-page",
    )


def charger_options(chargers: Sequence[UsedCharger]) -> list[dict[str, str]]:
    """ "All chargers", then ``chargers`` by name; the browser filters what it has by name or id
    too (the server's search matches both)."""
    return [{"label": "All chargers", "value": ALL_CHARGERS}] + [
        {
            "label": c.friendly_name,
            "value": c.charger_id,
            "search": f"{c.friendly_name} {c.charger_id}",
        }
        for c in chargers
    ]


def history_notes(problems: Sequence[str]) -> Component:
    if not problems:
        return html.Div()
    return dbc.Alert(
        [html.P(p, className="mb-0") for p in problems],
        color="warning",
        fade=False,
        class_name="py-2 small history-notes",
    )


def _days_text(flt: HistoryFilter) -> str:
    first, last = flt.first_day, flt.last_day
    if first is None and last is None:
        return "All your sessions"
    if first is None:
        assert last is not None
        return f"Your sessions until {last.day} {last:%b %Y}"
    if last is None:
        return f"Your sessions from {first.day} {first:%b %Y}"
    return f"Your sessions from {first.day} {first:%b %Y} to {last.day} {last:%b %Y}"


def history_summary(flt: HistoryFilter, charger_name: str | None, tz: ZoneInfo) -> str:
    """``Your sessions from 1 Mar 2025 to 31 Mar 2025 at Hauptbahnhof (Europe/Berlin days)``."""
    text = _days_text(flt)
    if charger_name:
        text += f" at {charger_name}"
    return text + f", newest first (days in {tz.key})"


def history_results(view: str, summary: str) -> html.Div:
    """Totals (filled with the first block), Export CSV of the same filter, and the grid."""
    key = new_grid_key()
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.P(summary, className="mb-1 small text-body-secondary"),
                            html.P(
                                "Counting…",
                                id={"type": HISTORY_TOTALS_TYPE, "view": view, "n": key},
                                className="fs-5 fw-semibold mb-2 history-totals",
                                role="status",
                                **aria(live="polite"),
                            ),
                        ]
                    ),
                    export_link(HISTORY_EXPORT_ID, sessions_export_href(view), "these sessions"),
                ],
                className="d-flex flex-wrap justify-content-between align-items-start gap-2",
            ),
            dcc.Store(id={"type": HISTORY_COUNT_TYPE, "view": view, "n": key}),
            history_grid(view, key),
        ]
    )


def history_grid(view: str, key: str) -> dag.AgGrid:
    # Start and receipt stay in view (pinned) while a phone scrolls the middle sideways.
    columns = [
        {"field": "started", "headerName": "Started", "width": 165, "flex": 0, "pinned": "left"},
        {"field": "charger", "headerName": "Charger", "tooltipField": "charger_title",
         "minWidth": 170, "flex": 2},
        {"field": "duration", "headerName": "Duration", "minWidth": 100},
        {"field": "kwh", "headerName": "kWh", "type": "rightAligned", "minWidth": 85},
        {"field": "cost", "headerName": "Cost", "type": "rightAligned", "minWidth": 95},
        {"field": "receipt", "headerName": "Receipt", "cellRenderer": "markdown",
         "width": 100, "flex": 0, "pinned": "right"},
    ]  # fmt: skip
    return dag.AgGrid(
        id={"type": HISTORY_GRID_TYPE, "view": view, "n": key},
        rowModelType="infinite",
        columnDefs=columns,
        defaultColDef={
            "sortable": False,
            "resizable": True,
            "suppressHeaderMenuButton": True,
            "flex": 1,
        },
        # Six columns: all of them in the DOM, so a link scrolled out of view still exists.
        dashGridOptions=_grid_options({"suppressColumnVirtualisation": True}),
        style={"height": "560px", "width": "100%"},
        className="history-grid",
    )


def history_grid_rows(
    rows: Sequence[SessionListRow],
    tz: ZoneInfo,
    now: datetime,
    live: Mapping[str, SessionCost] | None = None,
) -> list[dict[str, str]]:
    """The explorer's row text, and a link to the receipt of each finalized, priced session."""
    out = session_grid_rows(rows, tz, now, live)
    for cells, row in zip(out, rows, strict=True):
        has_receipt = row.finalized and row.ended_at is not None and row.cost is not None
        cells["receipt"] = (
            markdown_link(RECEIPT_TEXT, receipt_href(row.session_id)) if has_receipt else ""
        )
    return out


def customers_only_notice() -> Component:
    return dbc.Alert(
        [
            "Your active account is an admin account, which does not charge. ",
            dcc.Link("Switch to a customer account", href="/switch", className="alert-link"),
            " to see its sessions.",
        ],
        color="info",
        fade=False,
        class_name="history-admin-note",
    )
