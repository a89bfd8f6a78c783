"""``/admin/reservations``: upcoming and current reservations, cancel one, create one.

The list is a server-paged grid; the version store names the grid to mount, so creating or
cancelling a reservation mounts a fresh one that reads from row 0. Cancelling asks first (a
modal naming the reservation, read again from the database). Creating takes a customer account,
a charger and a start and end in the operator's local time; ``data.charging.reservations`` refuses
anything that cannot be (past, unknown, admin account, restricted charger, overlap) with a
message shown as is. Ids from the browser are only keys: each is looked up again here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.accounts import current_actor
from auth.roles import admin_only
from components.admin import admin_page
from components.history import (
    CANCEL_BODY_ID,
    CANCEL_CONFIRM_ID,
    CANCEL_KEEP_ID,
    CANCEL_MODAL_ID,
    CANCEL_OPEN_ID,
    CANCEL_TARGET_ID,
    NEW_ACCOUNT_ID,
    NEW_CHARGER_ID,
    NEW_CREATE_ID,
    NEW_END_ID,
    NEW_MESSAGE_ID,
    NEW_START_ID,
    NEW_TZ_ID,
    RESERVATIONS_COUNT_ID,
    RESERVATIONS_EXPORT_ID,
    RESERVATIONS_FEEDBACK_ID,
    RESERVATIONS_GRID_TYPE,
    RESERVATIONS_LIST_ID,
    RESERVATIONS_READY_ID,
    RESERVATIONS_SEARCH_ID,
    RESERVATIONS_SELECTED_ID,
    RESERVATIONS_VERSION_ID,
    account_options,
    charger_options,
    message,
    new_grid_key,
    reservation_count_text,
    reservation_grid_rows,
    reservation_summary,
    reservations_export_href,
    reservations_grid,
    reservations_skeleton,
)
from data.charging.dashboard import operator_settings
from data.charging.reservations import (
    ReservationError,
    account_choice,
    cancel_reservation,
    charger_choice,
    count_upcoming_reservations,
    create_reservation,
    get_reservation,
    parse_local_time,
    parse_reservations_request,
    reservation_window_text,
    search_chargers,
    search_customer_accounts,
    upcoming_reservations,
)
from pages._admin import admin_layout, search_dropdown, text_value
from web.db import session_scope

dash.register_page(
    __name__,
    path="/admin/reservations",
    title="Reservations · Polaris Express",
    name="Reservations",
)

GRID = {"type": RESERVATIONS_GRID_TYPE, "n": ALL}


@admin_layout
def layout(**_: object) -> Component:
    return admin_page("Reservations", "/admin/reservations", *reservations_skeleton())


@callback(
    Output(NEW_TZ_ID, "children"),
    Output(NEW_START_ID, "value"),
    Output(NEW_END_ID, "value"),
    Input(RESERVATIONS_READY_ID, "data"),
)
@admin_only
def prefill_form(_ready: object) -> tuple[str, str, str]:
    """The operator's time zone, and the next full hour for one hour as a starting point."""
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
    start = (now.astimezone(tz) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=1)
    return f"Times are in {tz.key}.", f"{start:%Y-%m-%dT%H:%M}", f"{end:%Y-%m-%dT%H:%M}"


@callback(
    Output(RESERVATIONS_LIST_ID, "children"),
    Output(RESERVATIONS_EXPORT_ID, "href"),
    Input(RESERVATIONS_VERSION_ID, "data"),
    Input(RESERVATIONS_SEARCH_ID, "value"),
)
@admin_only
def show_list(_version: object, search: object) -> tuple[Component, str]:
    """A fresh grid (after a change, or for a new search): it asks from row 0 again; the
    "Export CSV" link carries the same search."""
    return reservations_grid(new_grid_key()), reservations_export_href(text_value(search))


@callback(
    Output(GRID, "getRowsResponse"),
    Output(RESERVATIONS_COUNT_ID, "children"),
    Input(GRID, "getRowsRequest"),
    State(RESERVATIONS_SEARCH_ID, "value"),
)
@admin_only
def reservations_page(requests: list[Any], search: object) -> tuple[list[Any], Any]:
    """One block of upcoming and current reservations, earliest start first."""
    request = requests[0] if requests and isinstance(requests[0], dict) else None
    if request is None:
        raise PreventUpdate
    grid = parse_reservations_request(request)
    start, end = grid.start, grid.end
    needle = text_value(search)
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        count = count_upcoming_reservations(s, now, needle)
        rows = upcoming_reservations(s, now, start, end, needle)
    response = {"rowData": reservation_grid_rows(rows, tz, now), "rowCount": count}
    return [response] * len(requests), reservation_count_text(count, needle)


@callback(
    Output(CANCEL_OPEN_ID, "disabled"),
    Output(RESERVATIONS_SELECTED_ID, "children"),
    Input(GRID, "selectedRows"),
)
@admin_only
def selection(selected: list[Any]) -> tuple[bool, str]:
    row = _selected(selected)
    if row is None:
        return True, "Select a reservation in the table to cancel it."
    return False, f"Selected: {row.get('reservation', '')} on {row.get('charger', '')}"


def _selected(selected: object) -> dict[str, Any] | None:
    """The selected grid row (display values only; its id is looked up again before use)."""
    if not isinstance(selected, list):
        return None
    for rows in selected:
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            return rows[0]
    return None


@callback(
    Output(CANCEL_MODAL_ID, "is_open"),
    Output(CANCEL_BODY_ID, "children"),
    Output(CANCEL_TARGET_ID, "data"),
    Output(RESERVATIONS_FEEDBACK_ID, "children"),
    Output(RESERVATIONS_VERSION_ID, "data", allow_duplicate=True),
    Input(CANCEL_OPEN_ID, "n_clicks"),
    Input(CANCEL_KEEP_ID, "n_clicks"),
    Input(CANCEL_CONFIRM_ID, "n_clicks"),
    State(GRID, "selectedRows"),
    State(CANCEL_TARGET_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def cancel_flow(
    _open: object, _keep: object, _confirm: object, selected: list[Any], target: object
) -> tuple[Any, ...]:
    """Open: name the selected reservation and ask. Keep: close. Confirm: cancel it."""
    trigger = ctx.triggered_id
    if trigger == CANCEL_KEEP_ID:
        return False, no_update, None, no_update, no_update
    now = datetime.now(UTC)
    if trigger == CANCEL_OPEN_ID:
        row = _selected(selected)
        rid = text_value(row.get("reservation") if row else None, 64)
        if not rid:
            note = message("Select a reservation in the table first.", ok=False)
            return False, no_update, None, note, no_update
        with session_scope() as s:
            tz = operator_settings(s).tz
            found = get_reservation(s, rid)
        if found is None:
            note = message("That reservation no longer exists.", ok=False)
            return False, no_update, None, note, new_grid_key()
        question = f"This cancels {reservation_summary(found, tz, now)}. The charger is then free "
        question += "for that time."
        return True, question, rid, None, no_update
    if trigger == CANCEL_CONFIRM_ID:
        rid = text_value(target, 64)
        try:
            with session_scope() as s:
                tz = operator_settings(s).tz
                done = cancel_reservation(s, rid, now, actor=current_actor())
        except ReservationError as exc:
            return False, no_update, None, message(str(exc), ok=False), new_grid_key()
        text = f"Cancelled {reservation_summary(done, tz, now)}."
        return False, no_update, None, message(text, ok=True), new_grid_key()
    raise PreventUpdate


@callback(
    Output(NEW_MESSAGE_ID, "children"),
    Output(RESERVATIONS_VERSION_ID, "data", allow_duplicate=True),
    Input(NEW_CREATE_ID, "n_clicks"),
    State(NEW_ACCOUNT_ID, "value"),
    State(NEW_CHARGER_ID, "value"),
    State(NEW_START_ID, "value"),
    State(NEW_END_ID, "value"),
    prevent_initial_call=True,
)
@admin_only
def create(
    _clicks: object, account_id: object, charger_id: object, start: object, end: object
) -> tuple[Any, Any]:
    """A confirmed reservation, or the reason it cannot be."""
    account = text_value(account_id, 64)
    charger = text_value(charger_id, 64)
    if not account:
        return message("Choose a customer account.", ok=False), no_update
    if not charger:
        return message("Choose a charger.", ok=False), no_update
    now = datetime.now(UTC)
    try:
        with session_scope() as s:
            tz = operator_settings(s).tz
            starts_at = parse_local_time(start, tz, "start")
            ends_at = parse_local_time(end, tz, "end")
            row = create_reservation(
                s,
                account_id=account,
                charger_id=charger,
                starts_at=starts_at,
                ends_at=ends_at,
                now=now,
                tz=tz,
                actor=current_actor(),
            )
    except ReservationError as exc:
        return message(str(exc), ok=False), no_update
    text = (
        f"Reservation {row.reservation_id} confirmed: {row.charger_name} for {row.account_id}, "
        f"{reservation_window_text(row, tz)}."
    )
    return message(text, ok=True), new_grid_key()


# Customer accounts, and chargers, matching what is typed.
find_accounts = search_dropdown(
    NEW_ACCOUNT_ID,
    search_customer_accounts,
    account_choice,
    lambda c: c.account_id,
    account_options,
)
find_chargers = search_dropdown(
    NEW_CHARGER_ID, search_chargers, charger_choice, lambda c: c.charger_id, charger_options
)
