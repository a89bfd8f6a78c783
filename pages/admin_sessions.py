"""``/admin/sessions``: every charging session, filtered by the URL, paged by the server.

The filters live in the query string (``?from=2026-11-01&to=2026-11-24&charger=PX-003&state=
in_progress``) so a view can be shared. The layout only hands the raw query to the page (no SQL);
``show_view`` validates it in the operator's time zone, explains anything it had to ignore and
mounts a grid for the canonical view. ``sessions_page`` answers the grid's block requests; with the
first block it also sends the totals (count and kWh of the same WHERE clause). "Show" writes the
form into the URL, and the page renders again from it, so back/forward and shared links agree.

Each row shows its cost: the stored one of a finalized session, the cost so far of one in
progress (``live_costs``, one batch per page). A row chosen in the grid shows its cost parts,
tariff version and who settled its disputed energy (``session_detail``, read again by its id).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
from dash import ALL, MATCH, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.roles import admin_only
from components.admin import admin_page
from components.energy import ENERGY_STORE, energy_disputes_skeleton
from components.history import (
    SESSIONS_ACCOUNT_ID,
    SESSIONS_APPLY_ID,
    SESSIONS_CHARGER_ID,
    SESSIONS_COUNT_TYPE,
    SESSIONS_DETAIL_ID,
    SESSIONS_FROM_ID,
    SESSIONS_GRID_TYPE,
    SESSIONS_LOCATION_ID,
    SESSIONS_NOTE_ID,
    SESSIONS_QUERY_ID,
    SESSIONS_RESULTS_ID,
    SESSIONS_STATE_ID,
    SESSIONS_TO_ID,
    SESSIONS_TOTALS_TYPE,
    filter_notes,
    session_detail_panel,
    session_grid_rows,
    sessions_results,
    sessions_skeleton,
    sessions_totals_text,
    view_summary,
)
from data.charging.dashboard import operator_settings
from data.charging.history import (
    PageKeys,
    SessionTotals,
    filter_matches,
    parse_session_filter,
    parse_sessions_request,
    session_detail,
    session_page,
    session_sort,
    session_totals,
)
from data.pricing.tariffs import live_costs
from pages import _energy
from pages._admin import admin_layout
from web.db import session_scope

dash.register_page(
    __name__, path="/admin/sessions", title="Sessions · Polaris Express", name="Sessions"
)

# The "Disputed energy" section's callbacks, for this page and the charger page.
_energy.register()

QUERY_KEYS = ("from", "to", "charger", "account", "state")
# Last-row keys of pages served by this process: the next page continues from them (keyset).
PAGE_KEYS = PageKeys()


def _query(params: dict[str, object]) -> dict[str, Any]:
    """The filter parameters as the URL gave them (strings, or lists when repeated)."""
    return {k: v for k, v in params.items() if k in QUERY_KEYS and isinstance(v, str | list)}


@admin_layout
def layout(**query: object) -> Component:
    return admin_page(
        "Sessions",
        "/admin/sessions",
        energy_disputes_skeleton(),
        *sessions_skeleton(_query(query)),
    )


@callback(
    Output(SESSIONS_FROM_ID, "value"),
    Output(SESSIONS_TO_ID, "value"),
    Output(SESSIONS_CHARGER_ID, "value"),
    Output(SESSIONS_ACCOUNT_ID, "value"),
    Output(SESSIONS_STATE_ID, "value"),
    Output(SESSIONS_NOTE_ID, "children"),
    Output(SESSIONS_RESULTS_ID, "children"),
    Input(SESSIONS_QUERY_ID, "data"),
    Input(ENERGY_STORE, "data"),
)
@admin_only
def show_view(query: object, _resolved: object) -> tuple[Any, ...]:
    """Validate the URL's filter (it came from a browser) and mount a grid for it (again once
    a disputed session was resolved: fresh totals and rows)."""
    params = query if isinstance(query, dict) else {}
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        flt, notes = parse_session_filter(params, now.astimezone(tz).date())
        matches = filter_matches(s, flt)
    return (
        flt.first_day.isoformat(),
        flt.last_day.isoformat(),
        flt.charger or "",
        flt.account_id or "",
        flt.state,
        filter_notes(notes, matches, flt),
        sessions_results(flt.query_string(), view_summary(flt, tz)),
    )


@callback(
    Output({"type": SESSIONS_GRID_TYPE, "view": MATCH, "n": MATCH}, "getRowsResponse"),
    Output({"type": SESSIONS_TOTALS_TYPE, "view": MATCH, "n": MATCH}, "children"),
    Output({"type": SESSIONS_COUNT_TYPE, "view": MATCH, "n": MATCH}, "data"),
    Input({"type": SESSIONS_GRID_TYPE, "view": MATCH, "n": MATCH}, "getRowsRequest"),
    State({"type": SESSIONS_COUNT_TYPE, "view": MATCH, "n": MATCH}, "data"),
)
@admin_only
def sessions_page(request: object, known: object) -> tuple[Any, ...]:
    """One block of rows for the grid; the totals with the first block of a view.

    The view (the grid id's canonical query) is parsed and validated again: the id came from
    the browser. ``known`` (the count sent with the first block) only helps paging.
    """
    if not isinstance(request, dict):
        raise PreventUpdate
    grid_id = ctx.triggered_id or {}
    view = grid_id.get("view") if isinstance(grid_id, dict) else None
    raw = parse_qs(view.removeprefix("?")) if isinstance(view, str) else {}
    params = {k: v[0] if len(v) == 1 else v for k, v in raw.items()}
    grid = parse_sessions_request(request)
    start, end, sort = grid.start, grid.end, session_sort(grid)
    known_count = known.get("sessions") if isinstance(known, dict) else None
    count = known_count if isinstance(known_count, int) and known_count >= 0 else None

    now = datetime.now(UTC)
    with session_scope() as s:
        settings = operator_settings(s)
        tz = settings.tz
        flt, _notes = parse_session_filter(params, now.astimezone(tz).date())
        totals: SessionTotals | None = None
        if count is None:
            totals = session_totals(s, flt, tz)
            count = totals.sessions
        after = PAGE_KEYS.get(flt, tz, sort, start - 1) if start > 0 else None
        rows = session_page(s, flt, tz, start, end, sort, after=after, total=count)
        # Sessions not finalized cost what they cost so far; a finalized one's cost is stored.
        live = live_costs(
            s, (r.session_id for r in rows if not r.finalized and not r.energy_disputed), now
        )
    if rows:
        PAGE_KEYS.remember(flt, tz, sort, start + len(rows) - 1, sort.key_of(rows[-1]))

    response = {"rowData": session_grid_rows(rows, tz, now, live), "rowCount": count}
    if totals is None:
        return response, no_update, no_update
    return response, sessions_totals_text(totals, settings.currency), {"sessions": totals.sessions}


@callback(
    Output(SESSIONS_DETAIL_ID, "children"),
    Input({"type": SESSIONS_GRID_TYPE, "view": ALL, "n": ALL}, "selectedRows"),
)
@admin_only
def show_session(selected: object) -> Component:
    """The chosen session in detail, read again from the database: the row the browser sent
    only names it."""
    chosen = None
    for rows in selected if isinstance(selected, list) else []:
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            chosen = rows[0].get("session")
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        detail = session_detail(s, chosen, now)
    return session_detail_panel(detail, tz, now)


@callback(
    Output(SESSIONS_LOCATION_ID, "search"),
    Output(SESSIONS_QUERY_ID, "data", allow_duplicate=True),
    Input(SESSIONS_APPLY_ID, "n_clicks"),
    Input(SESSIONS_CHARGER_ID, "n_submit"),
    Input(SESSIONS_ACCOUNT_ID, "n_submit"),
    State(SESSIONS_FROM_ID, "value"),
    State(SESSIONS_TO_ID, "value"),
    State(SESSIONS_CHARGER_ID, "value"),
    State(SESSIONS_ACCOUNT_ID, "value"),
    State(SESSIONS_STATE_ID, "value"),
    State(SESSIONS_LOCATION_ID, "search"),
    prevent_initial_call=True,
)
@admin_only
def apply_filters(
    _clicks: object,
    _submit_charger: object,
    _submit_account: object,
    first: object,
    last: object,
    charger: object,
    account: object,
    state: object,
    shown: object,
) -> tuple[Any, Any]:
    """The form as a query string; the page then renders from the URL (validated there).

    The same filters again reload the view in place (fresh totals and rows): the URL would
    not change, so nothing else would."""
    values = {"from": first, "to": last, "charger": charger, "account": account, "state": state}
    params = {k: v.strip() for k, v in values.items() if isinstance(v, str) and v.strip()}
    if params.get("state") == "all":
        del params["state"]
    search = "?" + urlencode(params) if params else ""
    if search != (shown or ""):
        return search, no_update
    return no_update, params | {"reload": datetime.now(UTC).isoformat()}
