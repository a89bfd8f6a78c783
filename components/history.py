"""The sessions explorer and the reservations page: small typed builders, no database access.

Both tables are dash-ag-grid grids in the infinite row model: the page's callbacks answer each
block request from SQL, and every value arrives formatted (operator's time zone, kWh, status as
text), so the grid needs no JavaScript of ours. A grid's id carries a fresh ``n`` each time it is
built: a new filter, or a reservation created or cancelled, mounts a new grid, which asks again
from row 0.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import confirm_modal
from components.format import (
    format_datetime,
    format_duration,
    format_kwh,
    format_money,
    format_time,
)
from components.landmarks import aria as _aria
from components.landmarks import named_section
from data.charging.history import (
    PAGE_SIZE_MAX,
    STATE_LABELS,
    STATES,
    FilterMatches,
    SessionDetail,
    SessionFilter,
    SessionListRow,
    SessionTotals,
)
from data.charging.reservations import AccountChoice, ChargerChoice, ReservationRow
from data.pricing.cost import SessionCost

# --- ids (stable, for callbacks, tests and people who automate) ---------------------------------

SESSIONS_LOCATION_ID = "admin-sessions-location"
SESSIONS_QUERY_ID = "admin-sessions-query"
SESSIONS_FROM_ID = "admin-sessions-from"
SESSIONS_TO_ID = "admin-sessions-to"
SESSIONS_CHARGER_ID = "admin-sessions-charger"
SESSIONS_ACCOUNT_ID = "admin-sessions-account"
SESSIONS_STATE_ID = "admin-sessions-state"
SESSIONS_APPLY_ID = "admin-sessions-apply"
SESSIONS_NOTE_ID = "admin-sessions-note"
SESSIONS_RESULTS_ID = "admin-sessions-results"
SESSIONS_GRID_TYPE = "admin-sessions-grid"
SESSIONS_TOTALS_TYPE = "admin-sessions-totals"
SESSIONS_COUNT_TYPE = "admin-sessions-count"
SESSIONS_EXPORT_ID = "admin-sessions-export"
SESSIONS_PARQUET_ID = "admin-sessions-parquet"
SESSIONS_DETAIL_ID = "admin-sessions-detail"
DETAIL_HINT = "Choose a session in the table to see its cost parts, tariff and corrections."

RESERVATIONS_VERSION_ID = "admin-reservations-version"
RESERVATIONS_READY_ID = "admin-reservations-ready"
RESERVATIONS_LIST_ID = "admin-reservations-list"
RESERVATIONS_GRID_TYPE = "admin-reservations-grid"
RESERVATIONS_COUNT_ID = "admin-reservations-count"
RESERVATIONS_SEARCH_ID = "admin-reservations-search"
RESERVATIONS_EXPORT_ID = "admin-reservations-export"
RESERVATIONS_SELECTED_ID = "admin-reservations-selected"
RESERVATIONS_FEEDBACK_ID = "admin-reservations-feedback"
CANCEL_OPEN_ID = "admin-reservations-cancel-open"
CANCEL_MODAL_ID = "admin-reservations-cancel-modal"
CANCEL_BODY_ID = "admin-reservations-cancel-body"
CANCEL_KEEP_ID = "admin-reservations-cancel-keep"
CANCEL_CONFIRM_ID = "admin-reservations-cancel-confirm"
CANCEL_TARGET_ID = "admin-reservations-cancel-target"
NEW_ACCOUNT_ID = "admin-reservation-account"
NEW_CHARGER_ID = "admin-reservation-charger"
NEW_START_ID = "admin-reservation-start"
NEW_END_ID = "admin-reservation-end"
NEW_CREATE_ID = "admin-reservation-create"
NEW_MESSAGE_ID = "admin-reservation-message"
NEW_TZ_ID = "admin-reservation-tz"

IN_PROGRESS_TEXT = "In progress"


def new_grid_key() -> str:
    return uuid.uuid4().hex[:12]


def _section(section_id: str, title: str, children: Sequence[Component | str]) -> html.Section:
    return named_section(section_id, title, children, "mb-4")


def _field(label: str, control: dbc.Input | dbc.Select, **width: int) -> dbc.Col:
    """A filter or form column: ``control`` under a small label naming its id; ``width`` in
    grid columns per breakpoint (``xs=6, md=2``)."""
    return dbc.Col(
        [dbc.Label(label, html_for=control.id, class_name="small mb-1"), control],
        **width,
        class_name="mb-2",
    )


def _grid_options(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {
        # One block is one server page; rows arrive formatted, so nothing to evaluate in JS.
        "cacheBlockSize": PAGE_SIZE_MAX,
        "maxBlocksInCache": 20,
        "infiniteInitialRowCount": 1,
        "maxConcurrentDatasourceRequests": 1,
        "blockLoadDebounceMillis": 100,
        "suppressMultiSort": True,
        "suppressCellFocus": False,
        "enableCellTextSelection": True,
        "ensureDomOrder": True,
        "tooltipShowDelay": 300,
    }
    options.update(extra or {})
    return options


def export_link(link_id: str, href: str | None, what: str) -> html.A:
    """ "Export CSV": a plain download link to an ``/export/<name>.csv`` route (streamed by
    Flask, not a callback). ``what`` names the rows for screen readers and the tooltip."""
    return html.A(
        "Export CSV",
        href=href,
        download="",
        id=link_id,
        title=f"Download {what} as CSV",
        className="btn btn-outline-secondary btn-sm text-nowrap admin-export-link",
        # The visible words first, then which rows (WCAG 2.5.3: say what you see to operate it).
        **_aria(label=f"Export CSV of {what}"),
    )


def parquet_link(link_id: str, href: str, what: str) -> html.A:
    """ "Parquet": the same rows as the CSV link, typed, for analysts' tools
    (``/export/<name>.parquet``)."""
    return html.A(
        "Parquet",
        href=href,
        download="",
        id=link_id,
        title=f"Download {what} as Parquet (typed columns, for analysts' tools)",
        className="btn btn-outline-secondary btn-sm text-nowrap admin-export-link",
        **_aria(label=f"Parquet of {what}"),
    )


def sessions_export_href(view: str) -> str:
    """The explorer's view (its canonical ``?from=...`` query) as a CSV download: the export
    reads the same parameters with the same meaning (``data.exchange.exports``)."""
    return "/export/sessions.csv" + view


def reservations_export_href(search: str) -> str:
    """The reservations list (upcoming and current, with its search) as a CSV download."""
    params = {"upcoming": "1"} | ({"search": search} if search else {})
    return "/export/reservations.csv?" + urlencode(params)


# --- sessions explorer -------------------------------------------------------------------------


def sessions_filter_form() -> dbc.Form:
    """Date range, charger, account and state; values are filled from the URL by a callback."""
    state_options = [{"label": STATE_LABELS[s], "value": s} for s in STATES]
    return dbc.Form(
        id="admin-sessions-filters",
        className="admin-filters mb-2",
        children=dbc.Row(
            [
                _field(
                    "From (local day)",
                    dbc.Input(id=SESSIONS_FROM_ID, type="date"),
                    xs=6,
                    md=2,
                ),
                _field(
                    "To (local day)",
                    dbc.Input(id=SESSIONS_TO_ID, type="date"),
                    xs=6,
                    md=2,
                ),
                _field(
                    "Charger (id or name)",
                    dbc.Input(
                        id=SESSIONS_CHARGER_ID,
                        type="search",
                        placeholder="e.g. PX-003 or Hauptbahnhof",
                        maxlength=200,
                        autocomplete="off",
                    ),
                    xs=12,
                    md=4,
                ),
                _field(
                    "Account id",
                    dbc.Input(
                        id=SESSIONS_ACCOUNT_ID,
                        type="search",
                        placeholder="e.g. ACC-DRIVER",
                        maxlength=64,
                        autocomplete="off",
                    ),
                    xs=6,
                    md=2,
                ),
                _field(
                    "State",
                    dbc.Select(id=SESSIONS_STATE_ID, options=state_options, value="all"),
                    xs=6,
                    md=2,
                ),
                dbc.Col(
                    html.Div(
                        [
                            dbc.Button("Show", id=SESSIONS_APPLY_ID, color="primary"),
                            dbc.Button(
                                "Last 7 days",
                                href="/admin/sessions",
                                color="secondary",
                                outline=True,
                                id="admin-sessions-reset",
                                class_name="text-nowrap",
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


def sessions_skeleton(query: dict[str, Any]) -> list[Component]:
    """The explorer before its first answer: the form, a note slot and the results slot."""
    return [
        dcc.Location(id=SESSIONS_LOCATION_ID, refresh="callback-nav"),
        dcc.Store(id=SESSIONS_QUERY_ID, data=query),
        sessions_filter_form(),
        html.Div(id=SESSIONS_NOTE_ID, role="status", **_aria(live="polite")),
        html.Div(
            id=SESSIONS_RESULTS_ID,
            children=html.P("Loading sessions…", className="text-body-secondary"),
        ),
        html.Div(
            id=SESSIONS_DETAIL_ID,
            role="status",
            className="mt-3",
            **_aria(live="polite"),
            children=html.P(DETAIL_HINT, className="small text-body-secondary"),
        ),
    ]


def filter_notes(notes: Sequence[str], matches: FilterMatches, flt: SessionFilter) -> Component:
    """Why the view differs from the URL, or names nothing; empty when all is well."""
    lines = list(notes)
    if matches.chargers == 0:
        lines.append(f"No charger has “{flt.charger}” in its id or name.")
    if matches.account_exists is False:
        lines.append(f"There is no account “{flt.account_id}”.")
    if not lines:
        return html.Div()
    return dbc.Alert(
        [html.P(line, className="mb-0") for line in lines],
        color="warning",
        class_name="py-2 small admin-sessions-notes",
    )


def _day_text(flt: SessionFilter) -> str:
    first, last = flt.first_day, flt.last_day
    if first == last:
        return f"{first.day} {first:%b %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


def view_summary(flt: SessionFilter, tz: ZoneInfo) -> str:
    """``Sessions started 18 Nov – 24 Nov 2026 (Europe/Berlin), in progress, charger “PX-3”``."""
    parts = [f"Sessions started {_day_text(flt)} ({tz.key})"]
    if flt.state != "all":
        parts.append(STATE_LABELS[flt.state].lower())
    if flt.charger:
        parts.append(f"charger “{flt.charger}”")
    if flt.account_id:
        parts.append(f"account {flt.account_id}")
    return ", ".join(parts)


def sessions_results(view: str, summary: str) -> html.Div:
    """Totals (filled with the first page) and the grid for one view (canonical query)."""
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
                                id={"type": SESSIONS_TOTALS_TYPE, "view": view, "n": key},
                                className="fs-5 fw-semibold mb-2 admin-sessions-totals",
                                role="status",
                                **_aria(live="polite"),
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            export_link(
                                SESSIONS_EXPORT_ID, sessions_export_href(view), "these sessions"
                            ),
                            parquet_link(
                                SESSIONS_PARQUET_ID,
                                sessions_export_href(view).replace(".csv", ".parquet", 1),
                                "these sessions",
                            ),
                        ],
                        className="d-flex gap-2",
                    ),
                ],
                className="d-flex flex-wrap justify-content-between align-items-start gap-2",
            ),
            dcc.Store(id={"type": SESSIONS_COUNT_TYPE, "view": view, "n": key}),
            sessions_grid(view, key),
        ]
    )


def sessions_grid(view: str, key: str) -> dag.AgGrid:
    columns = [
        {
            "field": "started",
            "headerName": "Started",
            "sortable": True,
            "sort": "desc",
            "pinned": "left",
            "minWidth": 150,
            "maxWidth": 180,
        },
        {"field": "ended", "headerName": "Ended", "minWidth": 130},
        {"field": "duration", "headerName": "Duration", "minWidth": 140},
        {
            "field": "charger",
            "headerName": "Charger",
            "tooltipField": "charger_title",
            "minWidth": 220,
            "flex": 2,
        },
        {"field": "account", "headerName": "Account", "minWidth": 130},
        {
            "field": "kwh",
            "headerName": "kWh",
            "sortable": True,
            "type": "rightAligned",
            "minWidth": 100,
        },
        {
            "field": "cost",
            "headerName": "Cost",
            "headerTooltip": "Stored when the session was finalized; so far while in progress",
            "type": "rightAligned",
            "minWidth": 120,
        },
        {"field": "finalized", "headerName": "Finalized", "minWidth": 110},
        {"field": "session", "headerName": "Session", "minWidth": 120},
    ]
    return dag.AgGrid(
        id={"type": SESSIONS_GRID_TYPE, "view": view, "n": key},
        rowModelType="infinite",
        columnDefs=columns,
        defaultColDef={
            "sortable": False,
            "resizable": True,
            "suppressHeaderMenuButton": True,
            "sortingOrder": ["desc", "asc"],
            "flex": 1,
        },
        # A row chosen (click, or Space on a focused row) shows its detail below the grid.
        dashGridOptions=_grid_options(
            {
                "rowSelection": {
                    "mode": "singleRow",
                    "checkboxes": False,
                    "enableClickSelection": True,
                },
            }
        ),
        style={"height": "560px", "width": "100%"},
        className="admin-sessions-grid",
    )


def sessions_totals_text(totals: SessionTotals, currency: str) -> str:
    """``1,204 sessions · 5,678.9 kWh · €2,104.50``: energy of sessions in progress counted so
    far; the stored costs (finalized, priced sessions), left out when none cost anything."""
    noun = "session" if totals.sessions == 1 else "sessions"
    text = f"{totals.sessions:,} {noun} · {format_kwh(float(totals.energy_kwh))}"
    if totals.cost > 0:
        text += f" · {format_money(totals.cost, currency)}"
    if totals.disputed:
        text += f" ({totals.disputed:,} with disputed energy not counted)"
    return text


def _kwh_cell(value: float) -> str:
    # The stored precision, aligned: always 3 decimals.
    return f"{value:,.3f}"


def cost_text(row: SessionListRow, so_far: SessionCost | None = None) -> str:
    """The cost cell: the stored total (``€12.34``), ``€1.23 so far`` for a session in
    progress, ``—`` when nothing prices it (no tariff, or energy disputed)."""
    if row.cost is not None:
        return format_money(row.cost.total, row.cost.currency)
    if so_far is not None and not row.energy_disputed:
        return f"{format_money(so_far.total, so_far.currency)} so far"
    return "—"


def session_grid_rows(
    rows: Sequence[SessionListRow],
    tz: ZoneInfo,
    now: datetime,
    live: Mapping[str, SessionCost] | None = None,
) -> list[dict[str, str]]:
    """One dict per session, every value already text; ``live``: the cost so far of the
    sessions in progress (``data.pricing.tariffs.live_costs``)."""
    live = live or {}
    out = []
    for row in rows:
        if row.ended_at is None:
            ended = IN_PROGRESS_TEXT
            duration = f"{format_duration(now - row.started_at)} so far"
            finalized = "—"
        else:
            same_day = row.ended_at.astimezone(tz).date() == row.started_at.astimezone(tz).date()
            ended = (
                format_time(row.ended_at, tz)
                if same_day
                else format_datetime(row.ended_at, tz, now)
            )
            duration = format_duration(row.ended_at - row.started_at)
            finalized = "Yes" if row.finalized else "Not yet"
        if row.energy_disputed:
            finalized = "Disputed"  # its energy: not counted in any total until resolved
        out.append(
            {
                "session": row.session_id,
                "started": format_datetime(row.started_at, tz, now),
                "ended": ended,
                "duration": duration,
                "charger": row.charger_name,
                "charger_title": f"{row.charger_name} ({row.charger_id})",
                "account": row.account_id,
                "kwh": _kwh_cell(float(row.energy_kwh)),
                "cost": cost_text(row, live.get(row.session_id)),
                "finalized": finalized,
            }
        )
    return out


def _money_line(label: str, amount: Decimal, currency: str, *, strong: bool = False) -> html.Div:
    value = format_money(amount, currency)
    return html.Div(
        [
            html.Dt(label, className="col-7 fw-normal"),
            html.Dd(value, className="col-5 text-end mb-1"),
        ],
        className="row" + (" fw-semibold border-top pt-1" if strong else ""),
    )


def session_detail_panel(detail: SessionDetail | None, tz: ZoneInfo, now: datetime) -> Component:
    """A chosen session: charger, account, times and kWh; each part of its cost with VAT and
    the tariff version; who settled its disputed energy, and when."""
    if detail is None:
        return html.P(DETAIL_HINT, className="small text-body-secondary")
    row = detail.row
    ended = IN_PROGRESS_TEXT if row.ended_at is None else format_datetime(row.ended_at, tz, now)
    facts = [
        f"{row.charger_name} ({row.charger_id}) · account {row.account_id}",
        f"{format_datetime(row.started_at, tz, now)} – {ended} · {row.energy_kwh:,.3f} kWh",
    ]
    cost_part: list[Component] = []
    cost = detail.cost
    if cost is None:
        why = (
            "No cost until an admin settles its disputed energy."
            if row.energy_disputed
            else "No tariff prices this session."
        )
        cost_part.append(html.P(why, className="mb-0"))
    else:
        c = cost.currency
        title = "Cost so far" if detail.cost_so_far else "Cost"
        cost_part += [
            html.H3(title, className="h6 mb-2"),
            html.Dl(
                [
                    _money_line("Energy", cost.energy, c),
                    _money_line("Time", cost.time, c),
                    _money_line("Session fee", cost.fee, c),
                    _money_line("Total", cost.total, c, strong=True),
                    _money_line("of which VAT", cost.vat, c),
                ],
                className="mb-2 admin-session-cost",
                style={"maxWidth": "22rem"},
            ),
        ]
        if detail.tariff is not None:
            version = format_datetime(detail.tariff.valid_from, tz, now)
            cost_part.append(
                html.P(
                    f"Tariff {detail.tariff.name} ({detail.tariff.tariff_id}), the version "
                    f"from {version}.",
                    className="small text-body-secondary mb-0",
                )
            )
    corrections: list[Component] = []
    if detail.resolved_at is not None:
        who = detail.resolved_by_name or "an admin account since removed"
        if detail.resolved_by:
            who += f" ({detail.resolved_by})"
        reported = (
            f" The charger had reported {detail.reported_kwh:,.3f} kWh."
            if detail.reported_kwh is not None
            else ""
        )
        corrections.append(
            html.P(
                f"Energy set to {row.energy_kwh:,.3f} kWh by {who}, "
                f"{format_datetime(detail.resolved_at, tz, now)}.{reported}",
                className="small mb-0 mt-2 admin-session-correction",
            )
        )
    heading = f"Session {row.session_id}"
    return html.Section(
        [
            html.H2(heading, className="h6 fw-semibold mb-1"),
            *(html.P(line, className="small mb-1") for line in facts),
            html.Div(cost_part, className="mt-2"),
            *corrections,
        ],
        className="border rounded p-3 admin-session-detail",
        **_aria(label=heading),
    )


# --- reservations ------------------------------------------------------------------------------


def reservations_skeleton() -> list[Component]:
    return [
        dcc.Store(id=RESERVATIONS_VERSION_ID, data="initial"),
        dcc.Store(id=RESERVATIONS_READY_ID, data=True),
        dcc.Store(id=CANCEL_TARGET_ID),
        dbc.Row(
            [
                dbc.Col(
                    _section(
                        "admin-reservations-upcoming",
                        "Upcoming and current",
                        [
                            dbc.Label(
                                "Find reservations",
                                html_for=RESERVATIONS_SEARCH_ID,
                                class_name="visually-hidden",
                            ),
                            html.Div(
                                [
                                    dbc.Input(
                                        id=RESERVATIONS_SEARCH_ID,
                                        type="search",
                                        placeholder="Find by reservation, account or charger",
                                        maxlength=200,
                                        autocomplete="off",
                                        debounce=True,
                                    ),
                                    export_link(
                                        RESERVATIONS_EXPORT_ID,
                                        reservations_export_href(""),
                                        "these reservations",
                                    ),
                                ],
                                className="d-flex align-items-center gap-2 mb-2",
                            ),
                            html.P(
                                "…",
                                id=RESERVATIONS_COUNT_ID,
                                className="small text-body-secondary mb-2",
                                role="status",
                            ),
                            html.Div(id=RESERVATIONS_FEEDBACK_ID),
                            html.Div(
                                id=RESERVATIONS_LIST_ID,
                                children=html.P(
                                    "Loading reservations…", className="text-body-secondary"
                                ),
                            ),
                            html.Div(
                                [
                                    dbc.Button(
                                        "Cancel selected reservation…",
                                        id=CANCEL_OPEN_ID,
                                        color="danger",
                                        outline=True,
                                        disabled=True,
                                    ),
                                    html.Span(
                                        "Select a reservation in the table to cancel it.",
                                        id=RESERVATIONS_SELECTED_ID,
                                        className="small text-body-secondary",
                                    ),
                                ],
                                className="d-flex flex-wrap align-items-center gap-2 mt-2",
                            ),
                        ],
                    ),
                    lg=8,
                ),
                dbc.Col(new_reservation_form(), lg=4),
            ]
        ),
        cancel_modal(),
    ]


def reservations_grid(key: str) -> dag.AgGrid:
    columns = [
        {"field": "starts", "headerName": "Starts", "minWidth": 150},
        {"field": "ends", "headerName": "Ends", "minWidth": 90},
        {"field": "status", "headerName": "Status", "minWidth": 140},
        {
            "field": "charger",
            "headerName": "Charger",
            "tooltipField": "charger_title",
            "minWidth": 200,
            "flex": 2,
        },
        {"field": "account", "headerName": "Account", "minWidth": 130},
        {"field": "reservation", "headerName": "Reservation", "minWidth": 150},
    ]
    return dag.AgGrid(
        id={"type": RESERVATIONS_GRID_TYPE, "n": key},
        rowModelType="infinite",
        columnDefs=columns,
        defaultColDef={
            "sortable": False,
            "resizable": True,
            "suppressHeaderMenuButton": True,
            "flex": 1,
        },
        dashGridOptions=_grid_options(
            {
                "rowSelection": {
                    "mode": "singleRow",
                    "checkboxes": True,
                    "enableClickSelection": True,
                }
            }
        ),
        style={"height": "460px", "width": "100%"},
        className="admin-reservations-grid",
    )


def reservation_count_text(count: int, search: str = "") -> str:
    matching = f" matching “{search}”" if search else ""
    if count == 0:
        return f"No upcoming or current reservations{matching}."
    noun = "reservation" if count == 1 else "reservations"
    return f"{count:,} upcoming or current {noun}{matching}, earliest start first."


def _status_text(row: ReservationRow, now: datetime) -> str:
    label = row.status_label
    if row.starts_at <= now < row.ends_at:
        return f"{label} · now"
    return label


def reservation_grid_rows(
    rows: Sequence[ReservationRow], tz: ZoneInfo, now: datetime
) -> list[dict[str, str]]:
    out = []
    for row in rows:
        same_day = row.ends_at.astimezone(tz).date() == row.starts_at.astimezone(tz).date()
        out.append(
            {
                "reservation": row.reservation_id,
                "starts": format_datetime(row.starts_at, tz, now),
                "ends": format_time(row.ends_at, tz)
                if same_day
                else format_datetime(row.ends_at, tz, now),
                "charger": row.charger_name,
                "charger_title": f"{row.charger_name} ({row.charger_id})",
                "account": row.account_id,
                "status": _status_text(row, now),
            }
        )
    return out


def reservation_summary(row: ReservationRow, tz: ZoneInfo, now: datetime) -> str:
    """``R-1A2B on Marktplatz 1 for ACC-DRIVER, Today 14:00 – 15:00``."""
    same_day = row.ends_at.astimezone(tz).date() == row.starts_at.astimezone(tz).date()
    end = format_time(row.ends_at, tz) if same_day else format_datetime(row.ends_at, tz, now)
    start = format_datetime(row.starts_at, tz, now)
    return f"{row.reservation_id} on {row.charger_name} for {row.account_id}, {start} – {end}"


def cancel_modal() -> dbc.Modal:
    return confirm_modal(
        CANCEL_MODAL_ID,
        "Cancel this reservation?",
        CANCEL_BODY_ID,
        CANCEL_KEEP_ID,
        CANCEL_CONFIRM_ID,
        "Cancel reservation",
    )


def new_reservation_form() -> html.Section:
    return _section(
        "admin-reservations-new",
        "New reservation",
        [
            dbc.Form(
                [
                    dbc.Label("Customer account", html_for=NEW_ACCOUNT_ID, class_name="small mb-1"),
                    dcc.Dropdown(
                        id=NEW_ACCOUNT_ID,
                        placeholder="Type an account id, name or email",
                        className="mb-2",
                    ),
                    dbc.Label("Charger", html_for=NEW_CHARGER_ID, class_name="small mb-1"),
                    dcc.Dropdown(
                        id=NEW_CHARGER_ID,
                        placeholder="Type a charger id or name",
                        className="mb-2",
                    ),
                    dbc.Row(
                        [
                            _field(
                                "Starts",
                                dbc.Input(id=NEW_START_ID, type="datetime-local", step=60),
                                xs=12,
                                sm=6,
                                lg=12,
                            ),
                            _field(
                                "Ends",
                                dbc.Input(id=NEW_END_ID, type="datetime-local", step=60),
                                xs=12,
                                sm=6,
                                lg=12,
                            ),
                        ],
                        class_name="g-2",
                    ),
                    html.P(id=NEW_TZ_ID, className="small text-body-secondary mb-2"),
                    dbc.Button("Create reservation", id=NEW_CREATE_ID, color="primary"),
                    html.Div(id=NEW_MESSAGE_ID, className="mt-3", role="status"),
                ],
                id="admin-reservation-form",
            )
        ],
    )


def account_options(choices: Sequence[AccountChoice]) -> list[dict[str, str]]:
    return [
        {
            "label": f"{c.account_id} — {c.display_name} · {c.email}"
            + (f" ({c.label})" if c.label else ""),
            "value": c.account_id,
        }
        for c in choices
    ]


def charger_options(choices: Sequence[ChargerChoice]) -> list[dict[str, str]]:
    return [
        {
            "label": f"{c.charger_id} — {c.friendly_name}"
            + (" (restricted)" if c.restricted else ""),
            "value": c.charger_id,
        }
        for c in choices
    ]


def message(text: str, ok: bool) -> dbc.Alert:
    return dbc.Alert(text, color="success" if ok else "danger", class_name="py-2 mb-0")
