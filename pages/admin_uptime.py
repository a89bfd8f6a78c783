"""/admin/uptime: the fleet's uptime against NEVI's 97% (last full month, twelve months), the
chargers below it first with the minutes they can still lose, one charger's months and outage
timeline, the outage list with its filters and an edit of cause, exclusion and note, and the
quarterly NEVI report's quarter picker (the last full quarter until someone chooses) and download
(``/export/nevi-report.zip``, ``web.nevi_report``).

The layout is a static skeleton (no SQL); every callback checks the admin role itself
(``admin_only``) and reads what the browser sends as untrusted: a filter that is not valid is
said, not guessed; an edit goes through ``data.uptime.outage_log.edit_outage``, which refuses
an unknown outage or cause.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dash
from dash import Input, Output, State, callback, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy.orm import Session

from auth.accounts import current_actor
from auth.roles import admin_only
from components.uptime import (
    ALERTS_ID,
    ANY,
    CHARGER_ID,
    EDIT_CAUSE_ID,
    EDIT_EXCLUDED_ID,
    EDIT_NOTE_ID,
    EDIT_OUTAGE_ID,
    EDIT_RESULT_ID,
    EDIT_SAVE_ID,
    EVERY_CHARGER,
    FILTER_CAUSE_ID,
    FILTER_CHARGER_ID,
    FILTER_FROM_ID,
    FILTER_NOTE_ID,
    FILTER_STATE_ID,
    FILTER_TO_ID,
    HEADLINE_ID,
    MONTHS_ID,
    NEVI_DOWNLOAD_ID,
    NEVI_NOTE_ID,
    NEVI_QUARTER_ID,
    NEVI_YEAR_ID,
    OUTAGES_CSV_ID,
    OUTAGES_ID,
    STANDINGS_BLOCK,
    STANDINGS_GRID_ID,
    STANDINGS_ID,
    TIMELINE_ID,
    VERSION_ID,
    alerts_table,
    charger_options,
    edit_result,
    headline,
    months_table,
    nevi_download,
    nevi_year_options,
    outage_choices,
    outage_table,
    outage_timeline_figure,
    outages_csv_href,
    standings_rows,
    standings_table,
    uptime_skeleton,
)
from data.chargers.incidents import open_incident_count
from data.charging.dashboard import operator_settings
from data.charging.reservations import ChargerChoice, charger_choice, search_chargers
from data.core.grid import parse_grid_request
from data.core.periods import local_midnight_utc
from data.exchange.nevi import NeviRequestError, last_full_quarter, parse_quarter, quarter_of
from data.pricing.statements import shift_month
from data.uptime.alerts import open_alerts
from data.uptime.monthly import TRAILING_MONTHS, monthly_uptime
from data.uptime.outage_log import (
    LIST_LIMIT,
    OutageEditError,
    OutageFilter,
    OutageState,
    charger_outages,
    edit_outage,
    find_outage,
    list_outages,
    parse_cause,
)
from data.uptime.standings import fleet_headline, fleet_standings_block
from pages._admin import admin_layout, bump, pressed, search_dropdown, text_value
from web.db import read_scope, session_scope

dash.register_page(__name__, path="/admin/uptime", title="Uptime · Polaris Express", name="Uptime")


@admin_layout
def layout(**_query: object) -> Component:
    return uptime_skeleton()


@callback(
    Output(HEADLINE_ID, "children"),
    Output(STANDINGS_ID, "children"),
    Output(CHARGER_ID, "options"),
    Output(CHARGER_ID, "value"),
    Input(VERSION_ID, "data"),
    State(CHARGER_ID, "value"),
)
@admin_only
def render_fleet(_version: object, chosen: object) -> tuple[Any, ...]:
    """The headline figures and the standings' grid; the chosen charger (the lowest until
    someone chooses), the only one listed until someone types (``find_chargers``)."""
    now = datetime.now(UTC)
    with read_scope() as s:
        fleet = fleet_headline(s, operator_settings(s).tz, now)
        incidents = open_incident_count(s)
        known = text_value(chosen, 64)
        current = charger_choice(s, known) if known else None
        if current is None and fleet.lowest_charger_id is not None:
            current = charger_choice(s, fleet.lowest_charger_id)
    options = charger_options([current] if current else [])
    value = current.charger_id if current else ""
    return headline(fleet, incidents), standings_table(fleet), options, value


def _typed_chargers(session: Session, typed: str) -> list[ChargerChoice]:
    # Nothing typed, nothing listed but the chosen one: the fleet has thousands.
    return search_chargers(session, typed) if typed else []


# The two charger dropdowns, searched on the server.
find_chargers = search_dropdown(
    CHARGER_ID,
    _typed_chargers,
    charger_choice,
    lambda c: c.charger_id,
    charger_options,
    shared=True,
)
find_filter_chargers = search_dropdown(
    FILTER_CHARGER_ID,
    _typed_chargers,
    charger_choice,
    lambda c: c.charger_id,
    charger_options,
    fixed=[EVERY_CHARGER],
)


@callback(
    Output(STANDINGS_GRID_ID, "getRowsResponse"),
    Input(STANDINGS_GRID_ID, "getRowsRequest"),
)
@admin_only
def standings_block(request: object) -> dict[str, Any]:
    """One block of the fleet's chargers for the grid, in the standings' order."""
    if not isinstance(request, dict):
        raise PreventUpdate
    grid = parse_grid_request(request, max_rows=STANDINGS_BLOCK)
    now = datetime.now(UTC)
    with read_scope() as s:
        rows, total = fleet_standings_block(s, operator_settings(s).tz, now, grid.start, grid.end)
    return {"rowData": standings_rows(rows), "rowCount": total}


@callback(
    Output(MONTHS_ID, "children"),
    Output(TIMELINE_ID, "figure"),
    Input(CHARGER_ID, "value"),
    Input(VERSION_ID, "data"),
)
@admin_only
def render_charger(charger_id: object, _version: object) -> tuple[Any, Any]:
    """The chosen charger's last twelve months (this one so far) and their outages."""
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = operator_settings(s).tz
        this_month = now.astimezone(tz).date().replace(day=1)
        first = shift_month(this_month, 1 - TRAILING_MONTHS) or this_month
        start = local_midnight_utc(first, tz)
        if not isinstance(charger_id, str) or not charger_id:
            months, outages = [], []
        else:
            months = monthly_uptime(s, tz, first, this_month, now, [charger_id])
            outages = charger_outages(s, charger_id, start, now)
    return months_table(months), outage_timeline_figure(outages, start, now, tz)


@callback(
    Output(NEVI_YEAR_ID, "options"),
    Output(NEVI_YEAR_ID, "value"),
    Output(NEVI_QUARTER_ID, "value"),
    Input(NEVI_YEAR_ID, "id"),
)
@admin_only
def fill_nevi_picker(_ident: object) -> tuple[Any, Any, Any]:
    """The years to choose from and, chosen, the last full quarter (the one a report is due
    for), in the operator's time zone. Once, when the page opens: an edit keeps the choice."""
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = operator_settings(s).tz
    due = last_full_quarter(now, tz)
    return nevi_year_options(quarter_of(now, tz).year), str(due.year), str(due.number)


@callback(
    Output(NEVI_DOWNLOAD_ID, "href"),
    Output(NEVI_DOWNLOAD_ID, "className"),
    Output(NEVI_NOTE_ID, "children"),
    Input(NEVI_YEAR_ID, "value"),
    Input(NEVI_QUARTER_ID, "value"),
)
@admin_only
def point_nevi_download(year: object, quarter: object) -> tuple[Any, Any, Any]:
    """The download of the chosen quarter, read as the route reads it (a quarter not begun has
    none, and the note says so)."""
    if year in (None, "") and quarter in (None, ""):
        return nevi_download(None, "Choose a year and a quarter.")
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = operator_settings(s).tz
    try:
        chosen = parse_quarter(
            year if isinstance(year, str) else "",
            quarter if isinstance(quarter, str) else "",
            now,
            tz,
        )
    except NeviRequestError as exc:
        return nevi_download(None, str(exc))
    return nevi_download(chosen)


@callback(Output(ALERTS_ID, "children"), Input(VERSION_ID, "data"))
@admin_only
def render_alerts(_version: object) -> Component:
    """The open alerts, newest first, with what became of their messages."""
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = operator_settings(s).tz
        rows = open_alerts(s)
    return alerts_table(rows, tz, now)


def _day(value: object, label: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else date.fromisoformat("")
    except ValueError:
        raise ValueError(f"{label} is not a date.") from None


def read_filter(
    charger: object, cause: object, state: object, start: object, end: object
) -> OutageFilter:
    """The list's filter from the browser's values; ``ValueError`` saying what is wrong."""
    try:
        chosen_cause = None if cause in (None, "", ANY) else parse_cause(cause)
    except OutageEditError as exc:
        raise ValueError(str(exc)) from None
    try:
        chosen_state = OutageState(state) if isinstance(state, str) else OutageState.all
    except ValueError:
        raise ValueError("Open or closed: choose one of the list.") from None
    first, last = _day(start, "The first day"), _day(end, "The last day")
    if first and last and last < first:
        raise ValueError("The last day is before the first.")
    return OutageFilter(
        charger_id=charger if isinstance(charger, str) and charger not in ("", ANY) else None,
        cause=chosen_cause,
        state=chosen_state,
        first_day=first,
        last_day=last,
    )


@callback(
    Output(OUTAGES_ID, "children"),
    Output(OUTAGES_CSV_ID, "href"),
    Output(FILTER_NOTE_ID, "children"),
    Output(EDIT_OUTAGE_ID, "options"),
    Input(FILTER_CHARGER_ID, "value"),
    Input(FILTER_CAUSE_ID, "value"),
    Input(FILTER_STATE_ID, "value"),
    Input(FILTER_FROM_ID, "value"),
    Input(FILTER_TO_ID, "value"),
    Input(VERSION_ID, "data"),
)
@admin_only
def render_outages(
    charger: object, cause: object, state: object, start: object, end: object, _version: object
) -> tuple[Any, ...]:
    """The newest outages that match the filters, the CSV link with them, the edit choices."""
    try:
        flt = read_filter(charger, cause, state, start, end)
    except ValueError as exc:
        return no_update, no_update, edit_result(str(exc), ok=False), no_update
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = operator_settings(s).tz
        rows = list_outages(s, flt, tz)
    return (
        outage_table(rows, tz, now, LIST_LIMIT),
        outages_csv_href(flt),
        None,
        outage_choices(rows, tz),
    )


@callback(
    Output(EDIT_CAUSE_ID, "value"),
    Output(EDIT_EXCLUDED_ID, "value"),
    Output(EDIT_NOTE_ID, "value"),
    # The last save's message belongs to the outage it saved, not to this one.
    Output(EDIT_RESULT_ID, "children", allow_duplicate=True),
    Input(EDIT_OUTAGE_ID, "value"),
    prevent_initial_call=True,
)
@admin_only
def fill_edit(outage_id: object) -> tuple[Any, Any, Any, Any]:
    """The chosen outage's cause, exclusion and note, to change."""
    with read_scope() as s:
        outage = find_outage(s, outage_id)
    if outage is None:
        return no_update, no_update, no_update, None
    return outage.cause.value, outage.excluded, outage.note or "", None


@callback(
    Output(EDIT_RESULT_ID, "children"),
    Output(VERSION_ID, "data"),
    Input(EDIT_SAVE_ID, "n_clicks"),
    State(EDIT_OUTAGE_ID, "value"),
    State(EDIT_CAUSE_ID, "value"),
    State(EDIT_EXCLUDED_ID, "value"),
    State(EDIT_NOTE_ID, "value"),
    State(VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_outage(
    _clicks: object, outage_id: object, cause: object, excluded: object, note: object,
    version: object,
) -> tuple[Any, Any]:  # fmt: skip
    """Save the edit (validated by ``edit_outage``) and read the figures again."""
    if not pressed():
        return no_update, no_update
    try:
        with session_scope() as s:
            edit_outage(
                s, outage_id, cause, excluded, note, actor=current_actor(), now=datetime.now(UTC)
            )
    except OutageEditError as exc:
        return edit_result(str(exc), ok=False), no_update
    return edit_result("Saved; the figures count it now.", ok=True), bump(version)
