"""``/sessions``: every session of the active customer account, newest first, paged by the
server (``data.charging.my_sessions``).

The filter lives in the query string (``?from=2025-03-01&to=2025-03-31&charger=PX-003``) so
back/forward and bookmarks work. The layout only hands the raw query to the page (no SQL);
``show_view`` validates it, says in plain words what it had to leave out, and mounts a grid
for the canonical view; ``history_rows`` answers the grid's block requests (with the totals on
the first). The account always comes from the server-side session: the grid's id carries only
the filter, parsed again on every request. "Export CSV" is ``/export/sessions.csv`` with the
same query, which a customer account may only run on itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
from dash import MATCH, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.accounts import current_account
from components.history import sessions_totals_text
from components.my_sessions import (
    ALL_CHARGERS,
    HISTORY_APPLY_ID,
    HISTORY_CHARGER_ID,
    HISTORY_COUNT_TYPE,
    HISTORY_FROM_ID,
    HISTORY_GRID_TYPE,
    HISTORY_LOCATION_ID,
    HISTORY_NOTE_ID,
    HISTORY_QUERY_ID,
    HISTORY_RESULTS_ID,
    HISTORY_TO_ID,
    HISTORY_TOTALS_TYPE,
    charger_options,
    customers_only_notice,
    history_grid_rows,
    history_notes,
    history_results,
    history_skeleton,
    history_summary,
)
from data.charging.dashboard import operator_settings
from data.charging.history import (
    DEFAULT_SORT,
    PageKeys,
    SessionTotals,
    parse_sessions_request,
)
from data.charging.my_sessions import (
    HistoryFilter,
    UsedCharger,
    history_page,
    history_totals,
    parse_history_filter,
    recent_chargers,
    search_used_chargers,
    used_charger,
)
from data.pricing.tariffs import live_costs
from web.db import read_scope

dash.register_page(
    __name__, path="/sessions", title="All my sessions · Polaris Express", name="All my sessions"
)

QUERY_KEYS = ("from", "to", "charger")
# Last-row keys of pages this process served: the next block continues from them (keyset).
# Each key belongs to a filter of one account, so no account reads another's positions.
PAGE_KEYS = PageKeys()


def layout(**query: object) -> Component:
    kept = {k: v for k, v in query.items() if k in QUERY_KEYS and isinstance(v, str | list)}
    return history_skeleton(kept)


def _customer_id() -> str | None:
    """The active account's id when it is a customer one; None for an admin account."""
    account = current_account()
    if account is None:
        raise PermissionError("no active account")
    return None if account.is_admin else account.id


@callback(
    Output(HISTORY_FROM_ID, "value"),
    Output(HISTORY_TO_ID, "value"),
    Output(HISTORY_CHARGER_ID, "options"),
    Output(HISTORY_CHARGER_ID, "value"),
    Output(HISTORY_NOTE_ID, "children"),
    Output(HISTORY_RESULTS_ID, "children"),
    Input(HISTORY_QUERY_ID, "data"),
)
def show_view(query: object) -> tuple[Any, ...]:
    """Validate the address's filter (it came from a browser) and mount a grid for it."""
    account_id = _customer_id()
    if account_id is None:
        return "", "", charger_options([]), ALL_CHARGERS, None, customers_only_notice()
    params = query if isinstance(query, dict) else {}
    flt, problems = parse_history_filter(params)
    with read_scope() as s:
        tz = operator_settings(s).tz
        chargers = recent_chargers(s, account_id)
        chosen = None if flt.charger_id is None else used_charger(s, account_id, flt.charger_id)
    if flt.charger_id is not None and chosen is None:
        problems.append("You have no session on that charger; showing every charger.")
        flt = HistoryFilter(flt.first_day, flt.last_day, None)
    return (
        "" if flt.first_day is None else flt.first_day.isoformat(),
        "" if flt.last_day is None else flt.last_day.isoformat(),
        charger_options(_with_chosen(chargers, chosen)),
        flt.charger_id or ALL_CHARGERS,
        history_notes(problems),
        history_results(
            flt.query_string(),
            history_summary(flt, None if chosen is None else chosen.friendly_name, tz),
        ),
    )


def _with_chosen(chargers: list[UsedCharger], chosen: UsedCharger | None) -> list[UsedCharger]:
    """The chosen charger stays listed (a dropdown drops a value it has no option for)."""
    if chosen is None or any(c.charger_id == chosen.charger_id for c in chargers):
        return chargers
    return [chosen, *chargers]


@callback(
    Output(HISTORY_CHARGER_ID, "options", allow_duplicate=True),
    Input(HISTORY_CHARGER_ID, "search_value"),
    State(HISTORY_CHARGER_ID, "value"),
    prevent_initial_call=True,
)
def find_chargers(typed: object, value: object) -> list[dict[str, str]]:
    """The active account's chargers matching what is typed (its recent ones when nothing is),
    and the chosen one. Only chargers it has a session on: the account is the server's."""
    account_id = _customer_id()
    if account_id is None:
        raise PreventUpdate
    text = typed.strip()[:200] if isinstance(typed, str) else ""
    picked = value.strip() if isinstance(value, str) else ""
    with read_scope() as s:
        found = (
            search_used_chargers(s, account_id, text) if text else recent_chargers(s, account_id)
        )
        chosen = None
        if picked and picked != ALL_CHARGERS and all(c.charger_id != picked for c in found):
            chosen = used_charger(s, account_id, picked[:200])
    return charger_options(_with_chosen(found, chosen))


@callback(
    Output({"type": HISTORY_GRID_TYPE, "view": MATCH, "n": MATCH}, "getRowsResponse"),
    Output({"type": HISTORY_TOTALS_TYPE, "view": MATCH, "n": MATCH}, "children"),
    Output({"type": HISTORY_COUNT_TYPE, "view": MATCH, "n": MATCH}, "data"),
    Input({"type": HISTORY_GRID_TYPE, "view": MATCH, "n": MATCH}, "getRowsRequest"),
    State({"type": HISTORY_COUNT_TYPE, "view": MATCH, "n": MATCH}, "data"),
)
def history_rows(request: object, known: object) -> tuple[Any, ...]:
    """One block of the active account's rows; the totals with the first block of a view.

    The view (the grid id's query) is parsed again: the id came from the browser. Whatever it
    says, the rows are the active account's. ``known`` (the count sent with the first block)
    only helps paging."""
    account_id = _customer_id()
    if account_id is None or not isinstance(request, dict):
        raise PreventUpdate
    grid_id = ctx.triggered_id or {}
    view = grid_id.get("view") if isinstance(grid_id, dict) else None
    raw = parse_qs(view.removeprefix("?")) if isinstance(view, str) else {}
    flt, _problems = parse_history_filter({k: v[0] if len(v) == 1 else v for k, v in raw.items()})
    grid = parse_sessions_request(request)
    start, end = grid.start, grid.end
    known_count = known.get("sessions") if isinstance(known, dict) else None
    count = known_count if isinstance(known_count, int) and known_count >= 0 else None

    now = datetime.now(UTC)
    with read_scope() as s:
        settings = operator_settings(s)
        tz = settings.tz
        totals: SessionTotals | None = None
        if count is None:
            totals = history_totals(s, account_id, flt, tz)
            count = totals.sessions
        explorer = flt.for_account(account_id)
        after = PAGE_KEYS.get(explorer, tz, DEFAULT_SORT, start - 1) if start > 0 else None
        rows = history_page(s, account_id, flt, tz, start, end, after=after, total=count)
        live = live_costs(
            s, (r.session_id for r in rows if not r.finalized and not r.energy_disputed), now
        )
    if rows:
        last = start + len(rows) - 1
        PAGE_KEYS.remember(explorer, tz, DEFAULT_SORT, last, DEFAULT_SORT.key_of(rows[-1]))
    response = {"rowData": history_grid_rows(rows, tz, now, live), "rowCount": count}
    if totals is None:
        return response, no_update, no_update
    return response, sessions_totals_text(totals, settings.currency), {"sessions": totals.sessions}


@callback(
    Output(HISTORY_LOCATION_ID, "search"),
    Output(HISTORY_QUERY_ID, "data", allow_duplicate=True),
    Input(HISTORY_APPLY_ID, "n_clicks"),
    State(HISTORY_FROM_ID, "value"),
    State(HISTORY_TO_ID, "value"),
    State(HISTORY_CHARGER_ID, "value"),
    State(HISTORY_LOCATION_ID, "search"),
    prevent_initial_call=True,
)
def apply_filters(
    _clicks: object, first: object, last: object, charger: object, shown: object
) -> tuple[Any, Any]:
    """The form as a query string; the page renders again from the address (validated there).
    The same filter again reloads the view in place (fresh totals and rows)."""
    values = {"from": first, "to": last, "charger": charger}
    params = {k: v.strip() for k, v in values.items() if isinstance(v, str) and v.strip()}
    if params.get("charger") == ALL_CHARGERS:
        del params["charger"]
    search = "?" + urlencode(params) if params else ""
    if search != (shown or ""):
        return search, no_update
    return no_update, params | {"reload": datetime.now(UTC).isoformat()}
