"""``/``: the customer dashboard, as the 60-second tour describes it.

The layout is a static skeleton (no user data, no SQL): Dash also calls it outside any request.
``render_dashboard`` fills it once per period; ``refresh_statuses`` then sends, on every tick of
the shell's ``refresh-interval``, only the status pills and the available count that changed.
Every callback takes the account from the server-side session, never from the browser.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from flask_login import current_user

from auth.accounts import current_account_id
from components.dashboard import (
    AVAILABLE_COUNT_ID,
    CHARGER_DATA_ID,
    CHARGER_GRID_ID,
    NEXT_RESERVATION_BODY_ID,
    OPERATOR_CONTACT_ID,
    PERIOD_STORE_ID,
    PLAN_GAUGE_ID,
    RECENT_DATA_ID,
    RECENT_REFRESH_ID,
    RECENT_SEEN_ID,
    RECENT_SESSIONS_ID,
    START_NOTE_TYPE,
    START_TYPE,
    STATUS_DATA_ID,
    STATUS_SHOWN_ID,
    STATUS_TYPE,
    USAGE_CHART_ID,
    USAGE_TOTAL_ID,
    available_text,
    charger_grid_data,
    daily_usage_figure,
    dashboard_skeleton,
    next_reservation_card_body,
    operator_contact,
    plan_gauge,
    recent_sessions_data,
    status_payload,
    too_many_requests_text,
    unknown_period_note,
    usage_frame,
    usage_sum,
    usage_total,
)
from components.shell import (
    BANNER_CHARGER_ID,
    BANNER_ID,
    COMMAND_POLL_ID,
    COMMAND_STORE_ID,
    STOP_CONFIRM_ID,
    driver_command,
)
from components.static import encoded_once
from config import offline_after_s, snapshot_s
from data.chargers.snapshots import (
    FLEET,
    SETTINGS,
    account_grants,
    shown_statuses,
    snapshot_chargers,
)
from data.charging.dashboard import (
    CHARGER_LIMIT,
    ChargerRow,
    account_plan,
    daily_usage,
    next_reservation,
    recent_sessions,
)
from data.core.models import ID_LENGTH
from data.core.periods import parse_period, period_bounds
from data.ocpp.command_limits import TooManyCommands
from data.ocpp.driver_commands import DriverCommandRefused, start_charging, stop_charging
from web.db import read_scope, session_scope

dash.register_page(__name__, path="/", title="Dashboard · Polaris Express", name="Dashboard")


def _period_name(value: object) -> tuple[str, bool]:
    """``(period, valid)``: a repeated ``?period=`` (a list) or any non-string is unknown."""
    if value is None or isinstance(value, str):
        return parse_period(value)
    return "current", False


def layout(period: str = "current", **_: object) -> Component:
    """Static skeleton; an unknown ``?period=`` shows this month with a visible note."""
    name, valid = _period_name(period)
    if valid:
        return _skeleton(name)
    return dashboard_skeleton(name, unknown_period_note(period))


@functools.cache
def _skeleton(period: str) -> Component:
    """Built and encoded once per period: every page view of ``/`` sends the same tree."""
    return encoded_once(dashboard_skeleton(period))


@callback(
    Output(RECENT_DATA_ID, "data"),
    Output(NEXT_RESERVATION_BODY_ID, "children"),
    Output(USAGE_TOTAL_ID, "children"),
    Output(USAGE_CHART_ID, "figure"),
    Output(PLAN_GAUGE_ID, "children"),
    Output(CHARGER_DATA_ID, "data"),
    Output(AVAILABLE_COUNT_ID, "children"),
    Output(OPERATOR_CONTACT_ID, "children"),
    Output(STATUS_SHOWN_ID, "data"),
    Input(PERIOD_STORE_ID, "data"),
)
def render_dashboard(period_value: object) -> tuple[Any, ...]:
    """The full render, once per period (the store is re-validated: it came from a browser)."""
    name, _valid = _period_name(period_value)
    account_id = current_account_id()
    now = datetime.now(UTC)
    with read_scope() as s:
        settings = SETTINGS.get(s, now, max_age_s=snapshot_s())
        tz = settings.tz
        period = period_bounds(name, now, tz)
        sessions = recent_sessions(s, account_id)
        reservation = next_reservation(s, account_id, now)
        frame = usage_frame(daily_usage(s, account_id, period), period)
        plan = account_plan(s, account_id)
        fleet = FLEET.get(s, now, max_age_s=snapshot_s(), key=offline_after_s())
        chargers = snapshot_chargers(fleet, account_grants(s, account_id))

    # The allowance is per calendar month: for "year", the gauge reads this month's days.
    if period.name == "year":
        month = period_bounds("current", now, tz)
        used = usage_sum(frame, since=month.first_day)
        billing_label: str | None = month.label
    else:
        used, billing_label = usage_sum(frame), None

    return (
        recent_sessions_data(sessions, tz, now),
        next_reservation_card_body(reservation, tz, now),
        usage_total(frame, period),
        daily_usage_figure(frame, period),
        plan_gauge(plan, used, billing_label),
        charger_grid_data(chargers),
        available_text(chargers.available),
        operator_contact(settings),
        _shown(chargers.chargers, chargers.available),
    )


def _shown(rows: list[ChargerRow], available: int) -> dict[str, Any]:
    """What the browser keeps of the pills on screen: their chargers and the digest."""
    _payload, digest = status_payload({r.charger_id: r.status for r in rows}, available)
    return {"digest": digest, "ids": [r.charger_id for r in rows]}


def _shown_ids(shown: object) -> list[str] | None:
    """The charger ids the browser says it shows, if they look like what ``_shown`` wrote."""
    ids = shown.get("ids") if isinstance(shown, dict) else None
    if (
        isinstance(ids, list)
        and len(ids) <= CHARGER_LIMIT
        and all(isinstance(i, str) and 0 < len(i) <= ID_LENGTH for i in ids)
    ):
        return ids
    return None


# Builds the charger cards from the render's data in the browser (assets/dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="renderChargers"),
    Output(CHARGER_GRID_ID, "children"),
    Input(CHARGER_DATA_ID, "data"),
    prevent_initial_call=True,
)


# Counts the banner's changes after the one Recent activity was rendered with (dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="recentGate"),
    Output(RECENT_SEEN_ID, "data"),
    Output(RECENT_REFRESH_ID, "data"),
    Input(BANNER_ID, "hidden"),
    Input(BANNER_CHARGER_ID, "children"),
    State(RECENT_SEEN_ID, "data"),
    State(RECENT_REFRESH_ID, "data"),
)


@callback(
    Output(RECENT_DATA_ID, "data", allow_duplicate=True),
    Input(RECENT_REFRESH_ID, "data"),
    prevent_initial_call=True,
)
def refresh_recent_sessions(_refreshes: object) -> Any:
    """Recent activity again when the Active session banner starts, ends or moves to another
    charger after the page's first view: a session that just ended shows finalized without a
    reload. Between those moments the banner polls and this list stays as it is."""
    account_id = current_account_id()
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
        sessions = recent_sessions(s, account_id)
    return recent_sessions_data(sessions, tz, now)


# Draws Recent activity from its data in the browser (assets/dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="renderSessions"),
    Output(RECENT_SESSIONS_ID, "children"),
    Input(RECENT_DATA_ID, "data"),
)


@callback(
    Output(STATUS_DATA_ID, "data"),
    Output(STATUS_SHOWN_ID, "data", allow_duplicate=True),
    Input("refresh-interval", "n_intervals"),
    State(STATUS_SHOWN_ID, "data"),
    prevent_initial_call=True,
)
def refresh_statuses(_n: int | None, shown: object) -> tuple[Any, ...]:
    """The pills and the count, only when they changed (204 otherwise).

    The browser names the chargers it shows (as ``render_dashboard`` listed them); only those
    the account may see get a status, any other id the neutral pill. Statuses come from the
    worker's fleet snapshot (``data.chargers.snapshots``), so a poll costs one small query (the
    account's grants) whatever the fleet. Without a usable list the account's first 50 are
    found again.
    """
    account_id = current_account_id()
    now = datetime.now(UTC)
    with read_scope() as s:
        fleet = FLEET.get(s, now, max_age_s=snapshot_s(), key=offline_after_s())
        granted = account_grants(s, account_id)
    ids = _shown_ids(shown)
    if ids is None:
        ids = [r.charger_id for r in snapshot_chargers(fleet, granted).chargers]
    statuses, available = shown_statuses(fleet, granted, ids)
    payload, digest = status_payload(statuses, available)
    if isinstance(shown, dict) and digest == shown.get("digest"):
        raise PreventUpdate
    return payload, {"digest": digest, "ids": ids}


# Paints the pills from the payload in the browser (assets/dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="applyStatuses"),
    Output({"type": STATUS_TYPE, "charger": ALL}, "children"),
    Output({"type": STATUS_TYPE, "charger": ALL}, "className"),
    Output(AVAILABLE_COUNT_ID, "children", allow_duplicate=True),
    Output({"type": START_TYPE, "charger": ALL}, "hidden"),
    Input(STATUS_DATA_ID, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(COMMAND_STORE_ID, "data", allow_duplicate=True),
    Output(COMMAND_POLL_ID, "disabled", allow_duplicate=True),
    Input({"type": START_TYPE, "charger": ALL}, "n_clicks"),
    Input(STOP_CONFIRM_ID, "submit_n_clicks"),
    prevent_initial_call=True,
)
def driver_command_asked(_starts: object, _stops: object) -> tuple[Any, ...]:
    """Start charging on a pressed card, or Stop charging (confirmed) in the banner.

    The browser only says which button was pressed (for Start, on which card); the account and
    the user come from the server-side session. ``start_charging`` checks, in the transaction
    that writes the command, that the account may see the charger, that it is Online now, and
    the rate; ``stop_charging`` reads the account's own session in progress itself. The Stop
    button is in the banner, on every page: this callback is global, as the shell is."""
    trigger = dash.ctx.triggered_id
    pressed = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not pressed:
        raise PreventUpdate  # cards drawn (n_clicks None), or nothing pressed
    if trigger == STOP_CONFIRM_ID:
        kind, charger_id = "stop", None
    elif isinstance(trigger, dict) and _plausible_id(trigger.get("charger")):
        kind, charger_id = "start", str(trigger["charger"])
    else:
        raise PreventUpdate
    account_id = current_account_id()
    now = datetime.now(UTC)
    try:
        with session_scope() as s:
            if charger_id is None:
                row = stop_charging(
                    s, user_id=int(current_user.user_id), account_id=account_id, now=now
                )
            else:
                row = start_charging(
                    s,
                    user_id=int(current_user.user_id),
                    account_id=account_id,
                    charger_id=charger_id,
                    now=now,
                    offline_after_s=offline_after_s(),
                )
    except TooManyCommands as exc:
        message = too_many_requests_text(exc.retry_after_s)
        return driver_command(kind, "refused", message, charger_id=charger_id), True
    except DriverCommandRefused as exc:
        return driver_command(kind, "refused", str(exc), charger_id=charger_id), True
    store = driver_command(kind, "waiting", command_id=row.id, charger_id=row.charger_id)
    return store, False


def _plausible_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_LENGTH


# The pressed card's note and every Start button while a command is open (dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="startNotes"),
    Output({"type": START_NOTE_TYPE, "charger": ALL}, "children"),
    Output({"type": START_TYPE, "charger": ALL}, "disabled"),
    Input(COMMAND_STORE_ID, "data"),
)
