"""``/``: the customer dashboard, as the 60-second tour describes it.

The layout is a static skeleton (no user data, no SQL): Dash also calls it outside any request.
``render_dashboard`` fills it once per period; ``refresh_dashboard`` then sends, in one request on
every tick of the shell's ``refresh-interval``, only what changed of the Active session banner,
the status pills and the available count, and Next reservation.
Every callback takes the account from the server-side session, never from the browser.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    no_update,
)
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from flask_login import current_user
from sqlalchemy.orm import Session

from auth.accounts import current_account_id, current_actor
from components.booking import (
    BOOK_CHARGER_STORE,
    BOOK_CLOSE_ID,
    BOOK_DATE_ID,
    BOOK_LENGTH_ID,
    BOOK_MODAL_ID,
    BOOK_OUTCOME_ID,
    BOOK_RULES_ID,
    BOOK_SUBMIT_ID,
    BOOK_TIME_ID,
    BOOK_TITLE_ID,
    BOOK_TYPE,
    BOOKING_NOTICE_ID,
    CANCEL_TYPE,
    NEXT_WATCH_ID,
    book_title,
    booking_done,
    booking_refused,
    dialog_values,
    watch_data,
)
from components.dashboard import (
    AVAILABLE_COUNT_ID,
    CHARGER_DATA_ID,
    CHARGER_GRID_ID,
    CHARGER_ITEM_TYPE,
    CHARGER_LIST_ID,
    CHARGER_NO_MATCH_ID,
    CHARGER_SEARCH_ID,
    CHARGER_TOGGLE_ID,
    CONNECTOR_TYPE,
    DASHBOARD_TICK_ID,
    FAVOURITE_TYPE,
    NEXT_RESERVATION_BODY_ID,
    OPERATOR_CONTACT_ID,
    PERIOD_STORE_ID,
    PLAN_GAUGE_ID,
    RECENT_DATA_ID,
    RECENT_REFRESH_ID,
    RECENT_SEEN_ID,
    RECENT_SESSIONS_ID,
    REPORT_CHARGER_STORE,
    REPORT_CLOSE_ID,
    REPORT_KIND_ID,
    REPORT_MODAL_ID,
    REPORT_OUTCOME_ID,
    REPORT_SEND_ID,
    REPORT_TEXT_ID,
    REPORT_TITLE_ID,
    REPORT_TYPE,
    START_NOTE_TYPE,
    START_TYPE,
    STATUS_DATA_ID,
    STATUS_SHOWN_ID,
    STATUS_TYPE,
    USAGE_CHART_ID,
    USAGE_TOTAL_ID,
    available_text,
    charger_grid_data,
    connector_choice,
    daily_usage_figure,
    dashboard_skeleton,
    next_reservation_card_body,
    operator_contact,
    plan_gauge,
    recent_sessions_data,
    report_received,
    report_refused,
    report_title,
    status_payload,
    too_many_requests_text,
    unknown_period_note,
    usage_frame,
    usage_sum,
    usage_total,
)
from components.shell import (
    BANNER_CHARGER_ID,
    BANNER_COST_ID,
    BANNER_ID,
    BANNER_KWH_ID,
    BANNER_PROPS,
    COMMAND_POLL_ID,
    COMMAND_STORE_ID,
    STOP_CONFIRM_ID,
    banner_texts,
    changed_only,
    driver_command,
    nothing_unchanged,
)
from components.static import encoded_once
from config import offline_after_s, snapshot_s
from data.chargers.favourites import (
    FavouriteRefused,
    add_favourite,
    favourite_ids,
    remove_favourite,
)
from data.chargers.incidents import (
    NO_SUCH_CHARGER,
    ReportRefused,
    report_problem,
    reportable_charger,
)
from data.chargers.snapshots import (
    FLEET,
    SETTINGS,
    FleetSnapshot,
    account_grants,
    shown_statuses,
    snapshot_chargers,
)
from data.charging.booking import (
    BookingRefused,
    EndedBooking,
    book_charger,
    booking_rules,
    booking_times,
    cancel_own_booking,
    ended_booking,
    ended_booking_text,
)
from data.charging.dashboard import (
    CHARGER_LIMIT,
    ChargerRow,
    ConnectorReport,
    ReservationRow,
    SessionRow,
    account_plan,
    account_usage,
    charger_connectors,
    next_reservation,
    recent_sessions,
)
from data.charging.reservations import reservation_window_text
from data.charging.tick import TickReads, tick_reads
from data.core.models import ID_LENGTH
from data.core.periods import parse_period, period_bounds
from data.ocpp.command_limits import TooManyCommands
from data.ocpp.driver_commands import DriverCommandRefused, start_charging, stop_charging
from data.pricing.cost import SessionCost, TariffPrices
from data.pricing.tariffs import live_costs
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
    Output(NEXT_WATCH_ID, "data"),
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
        sessions = recent_sessions(s, account_id, now)
        reservation, watch = _next_reservation(s, account_id, now, tz)
        usage = account_usage(s, account_id, period)
        # The cost so far of its sessions in progress: Recent activity read those among its
        # last 5 (nearly always all of them) by the same rule; a statement only for the others.
        live = _so_far_costs(sessions)
        live |= live_costs(s, [i for i in usage.in_progress if i not in live], now)
        # The plan, and the tariff in force now that prices every card (one statement).
        pricing = account_plan(s, account_id, now)
        grid, shown = _charger_grid(s, account_id, now, pricing.tariff)

    frame = usage_frame(usage.days, period)
    # The allowance is per calendar month: for "year", the gauge reads this month's days.
    if period.name == "year":
        month = period_bounds("current", now, tz)
        used = usage_sum(frame, since=month.first_day)
        billing_label: str | None = month.label
    else:
        used, billing_label = usage_sum(frame), None

    return (
        recent_sessions_data(sessions, tz, now),
        reservation,
        usage_total(frame, period, usage.cost_with(live), settings.currency),
        daily_usage_figure(frame, period),
        plan_gauge(pricing.plan, used, billing_label, pricing.tariff),
        grid,
        available_text(shown["available"]),
        operator_contact(settings),
        shown["shown"],
        watch,
    )


def _charger_grid(
    s: Session, account_id: str, now: datetime, tariff: TariffPrices | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cards' data (the account's favourites first) and what the browser keeps of their
    pills, with the available count."""
    fleet = FLEET.get(s, now, max_age_s=snapshot_s(), key=offline_after_s())
    favourites = favourite_ids(s, account_id)
    chargers = snapshot_chargers(fleet, account_grants(s, account_id), favourites=favourites)
    connectors = charger_connectors(s, [r.charger_id for r in chargers.chargers])
    grid = charger_grid_data(chargers, connectors, tariff, favourites)
    shown = _shown(chargers.chargers, chargers.available, connectors)
    return grid, {"shown": shown, "available": chargers.available}


def _so_far_costs(rows: Sequence[SessionRow]) -> dict[str, SessionCost]:
    """The costs so far that Recent activity's rows carry (sessions in progress), by id."""
    return {r.session_id: r.cost for r in rows if r.ended_at is None and r.cost is not None}


def _shown(
    rows: list[ChargerRow], available: int, connectors: dict[str, list[ConnectorReport]]
) -> dict[str, Any]:
    """What the browser keeps of the pills on screen: their chargers, those whose card has a
    choice of connector, and the digest."""
    statuses = {r.charger_id: r.status for r in rows}
    _payload, digest = status_payload(statuses, available, connectors)
    return {"digest": digest, "ids": list(statuses), "choices": _choices(connectors)}


def _choices(connectors: dict[str, list[ConnectorReport]]) -> list[str]:
    return sorted(cid for cid, reports in connectors.items() if connector_choice(reports))


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


def _shown_choices(shown: object, ids: list[str]) -> list[str]:
    """The chargers among ``ids`` whose card the browser says has a choice of connector."""
    choices = shown.get("choices") if isinstance(shown, dict) else None
    if not isinstance(choices, list):
        return []
    known = set(ids)
    return list(dict.fromkeys(c for c in choices if isinstance(c, str) and c in known))


# Builds the charger cards from the render's data in the browser (assets/dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="renderChargers"),
    Output(CHARGER_GRID_ID, "children"),
    Input(CHARGER_DATA_ID, "data"),
    State(CHARGER_SEARCH_ID, "value"),
    prevent_initial_call=True,
)


# The charger search and Show all chargers, in the browser (assets/dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="filterChargers"),
    Output({"type": CHARGER_ITEM_TYPE, "charger": ALL}, "className"),
    Output(CHARGER_LIST_ID, "className"),
    Output(CHARGER_TOGGLE_ID, "children"),
    Output(CHARGER_TOGGLE_ID, "aria-expanded"),
    Output(CHARGER_NO_MATCH_ID, "hidden"),
    Input(CHARGER_SEARCH_ID, "value"),
    Input(CHARGER_TOGGLE_ID, "n_clicks"),
    State(CHARGER_DATA_ID, "data"),
    State(CHARGER_TOGGLE_ID, "data-all"),
    State(CHARGER_TOGGLE_ID, "data-fewer"),
    prevent_initial_call=True,
)


@callback(
    Output(CHARGER_DATA_ID, "data", allow_duplicate=True),
    Output(AVAILABLE_COUNT_ID, "children", allow_duplicate=True),
    Output(STATUS_SHOWN_ID, "data", allow_duplicate=True),
    Input({"type": FAVOURITE_TYPE, "charger": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def toggle_favourite(_stars: object) -> tuple[Any, ...]:
    """Star or unstar the pressed card's charger for the session's account, then send the
    cards again, favourites first. The charger id in the button's id is only a key: one the
    account may not see is refused (nothing written) and the cards are sent as they are."""
    trigger = dash.ctx.triggered_id
    pressed = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not pressed or not isinstance(trigger, dict) or not _plausible_id(trigger.get("charger")):
        raise PreventUpdate  # cards drawn (n_clicks None), or nothing pressed
    charger_id = str(trigger["charger"])
    account_id = current_account_id()
    now = datetime.now(UTC)
    with session_scope() as s:
        if not remove_favourite(s, account_id, charger_id):
            try:
                add_favourite(s, account_id, charger_id, now)
            except FavouriteRefused as refused:
                dash.set_props("page-alert", {"children": str(refused), "is_open": True})
                raise PreventUpdate from None
        pricing = account_plan(s, account_id, now)
        grid, shown = _charger_grid(s, account_id, now, pricing.tariff)
    return grid, available_text(shown["available"]), shown["shown"]


# Counts the banner's changes after the one Recent activity was rendered with (dashboard.js):
# it starts, ends, moves to another charger, or its kWh or its cost so far changes.
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="recentGate"),
    Output(RECENT_SEEN_ID, "data"),
    Output(RECENT_REFRESH_ID, "data"),
    Input(BANNER_ID, "hidden"),
    Input(BANNER_KWH_ID, "children"),
    Input(BANNER_CHARGER_ID, "children"),
    Input(BANNER_COST_ID, "children"),
    State(RECENT_SEEN_ID, "data"),
    State(RECENT_REFRESH_ID, "data"),
)


@callback(
    Output(RECENT_DATA_ID, "data", allow_duplicate=True),
    Input(RECENT_REFRESH_ID, "data"),
    prevent_initial_call=True,
)
def refresh_recent_sessions(_refreshes: object) -> Any:
    """Recent activity again when the Active session banner starts, ends, moves to another
    charger or shows a new kWh or cost so far after the page's first view: a session that just
    ended shows finalized (with its stored cost and receipt) without a reload, and the one in
    progress shows the banner's energy, cost (and duration) so far. One indexed read of the
    account's last 5 sessions (their costs in the same statement) per banner change, so only
    while a session is in progress or just ended; with nothing in progress the banner does not
    change and nothing is asked."""
    account_id = current_account_id()
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
        sessions = recent_sessions(s, account_id, now)
    return recent_sessions_data(sessions, tz, now)


# Draws Recent activity from its data in the browser (assets/dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="renderSessions"),
    Output(RECENT_SESSIONS_ID, "children"),
    Input(RECENT_DATA_ID, "data"),
)


@callback(
    *(Output(i, p, allow_duplicate=True) for i, p in BANNER_PROPS),
    Output(STATUS_DATA_ID, "data"),
    Output(STATUS_SHOWN_ID, "data", allow_duplicate=True),
    Output(NEXT_RESERVATION_BODY_ID, "children", allow_duplicate=True),
    Output(NEXT_WATCH_ID, "data", allow_duplicate=True),
    Input(DASHBOARD_TICK_ID, "data"),
    *(State(i, p) for i, p in BANNER_PROPS),
    State(STATUS_SHOWN_ID, "data"),
    State(NEXT_WATCH_ID, "data"),
    prevent_initial_call=True,
)
def refresh_dashboard(_tick: object, *state: Any) -> tuple[Any, ...]:
    """Everything on the dashboard that follows the refresh tick, in one request, each part
    only when it changed (all unchanged: a 204, no body): the Active session banner, the pills
    and the available count (with the connectors of the cards that offer a choice), and Next
    reservation while a booking is open.

    Statuses and settings come from the worker's snapshots (``data.chargers.snapshots``), and
    the account's session in progress, its grants and, while a booking is open, its next
    reservation from one statement (``tick_reads``); a few primary-key rows more only when a
    card has a choice of connector.
    """
    banner_shown, (shown, watch) = state[: len(BANNER_PROPS)], state[len(BANNER_PROPS) :]
    account_id = current_account_id()
    now = datetime.now(UTC)
    known = watch if isinstance(watch, dict) else None
    # The render says whether a booking is open; without its word (a lost or forged store),
    # look once.
    watching = known is None or known.get("watch") is True
    with read_scope() as s:
        tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
        fleet = FLEET.get(s, now, max_age_s=snapshot_s(), key=offline_after_s())
        reads = tick_reads(s, account_id, now, watching=watching)
        statuses = _statuses(s, fleet, reads.grants, shown)
    reservation = _reservation_change(reads, tz, now, known) if watching else (no_update,) * 2
    banner = changed_only(banner_texts(reads.active, tz, now), banner_shown)
    return nothing_unchanged((*banner, *statuses, *reservation))


def _statuses(
    s: Session, fleet: FleetSnapshot, granted: frozenset[str], shown: object
) -> tuple[Any, Any]:
    """The pills' payload and what the browser keeps of them, or ``no_update`` twice when the
    digest is the one the browser has.

    The browser names the chargers it shows (as ``render_dashboard`` listed them) and those
    with a choice; only those the account may see get a status, any other id the neutral pill.
    Without a usable list the account's first 50 are found again."""
    ids = _shown_ids(shown)
    if ids is None:
        ids = [r.charger_id for r in snapshot_chargers(fleet, granted).chargers]
        wanted = ids
    else:
        wanted = [c for c in _shown_choices(shown, ids) if fleet.may_see(c, granted)]
    if wanted:
        connectors = charger_connectors(s, wanted)
        statuses, available = shown_statuses(fleet, granted, ids)
        payload, digest = status_payload(statuses, available, connectors)
    else:
        connectors = {}
        payload, digest = _plain_payload(fleet, granted, tuple(ids))
    if isinstance(shown, dict) and digest == shown.get("digest"):
        return no_update, no_update
    return payload, {"digest": digest, "ids": ids, "choices": _choices(connectors)}


def _plain_payload(
    fleet: FleetSnapshot, granted: frozenset[str], ids: tuple[str, ...]
) -> tuple[dict[str, Any], str]:
    """The pills' payload without a connector choice: it depends only on the fleet snapshot
    (reused for ``snapshot_s``), the grants and the ids, so it is built once per snapshot for
    each (most ticks of a worker's drivers ask for one already built; its JSON digest was
    ~0.1 ms a tick)."""

    def build() -> tuple[dict[str, Any], str]:
        statuses, available = shown_statuses(fleet, granted, list(ids))
        return status_payload(statuses, available)

    return fleet.derive(("plain pills", granted, ids), build)


# The dashboard's own tick, on the shell's refresh interval (the shell's banner stays quiet on
# "/": assets/dashboard.js bannerTick). Only while the dashboard is on screen: its output is here.
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="dashboardTick"),
    Output(DASHBOARD_TICK_ID, "data"),
    Input("refresh-interval", "n_intervals"),
    State(DASHBOARD_TICK_ID, "data"),
    prevent_initial_call=True,
)


# Paints the pills from the payload in the browser (assets/dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="applyStatuses"),
    Output({"type": STATUS_TYPE, "charger": ALL}, "children"),
    Output({"type": STATUS_TYPE, "charger": ALL}, "className"),
    Output(AVAILABLE_COUNT_ID, "children", allow_duplicate=True),
    Output({"type": START_TYPE, "charger": ALL}, "hidden"),
    Output({"type": CONNECTOR_TYPE, "charger": ALL}, "options"),
    Input(STATUS_DATA_ID, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(COMMAND_STORE_ID, "data", allow_duplicate=True),
    Output(COMMAND_POLL_ID, "disabled", allow_duplicate=True),
    Input({"type": START_TYPE, "charger": ALL}, "n_clicks"),
    Input(STOP_CONFIRM_ID, "submit_n_clicks"),
    State({"type": CONNECTOR_TYPE, "charger": ALL}, "value"),
    prevent_initial_call=True,
)
def driver_command_asked(_starts: object, _stops: object, _connectors: object) -> tuple[Any, ...]:
    """Start charging on a pressed card (on the connector chosen there, if it has a choice),
    or Stop charging (confirmed) in the banner.

    The browser only says which button was pressed (for Start, on which card, and the card's
    connector); the account and the user come from the server-side session.
    ``start_charging`` checks, in the transaction that writes the command, that the account
    may see the charger, that it is Online now, that the charger reported that connector, and
    the rate; ``stop_charging`` reads the account's own session in progress itself. The Stop
    button is in the banner, on every page: this callback is global, as the shell is."""
    trigger = dash.ctx.triggered_id
    pressed = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not pressed:
        raise PreventUpdate  # cards drawn (n_clicks None), or nothing pressed
    connector_id = None
    if trigger == STOP_CONFIRM_ID:
        kind, charger_id = "stop", None
    elif isinstance(trigger, dict) and _plausible_id(trigger.get("charger")):
        kind, charger_id = "start", str(trigger["charger"])
        connector_id = _chosen_connector(dash.ctx.states_list, charger_id)
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
                    connector_id=connector_id,
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


def _chosen_connector(states: object, charger_id: str) -> int | None:
    """The connector chosen on ``charger_id``'s card (None: it has no choice, the charger
    chooses). The server checks it is one the charger reported; a value no select could hold
    is a forged request, answered with nothing."""
    choices = states[0] if isinstance(states, list) and states else []
    for state in choices if isinstance(choices, list) else []:
        ident = state.get("id") if isinstance(state, dict) else None
        if isinstance(ident, dict) and ident.get("charger") == charger_id:
            value = state.get("value")
            if value is None:
                return None
            if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) < 4:
                return int(value)
            raise PreventUpdate
    return None


# The pressed card's note, and every Start button and choice of connector off while a command
# is open (dashboard.js).
clientside_callback(
    ClientsideFunction(namespace="polaris", function_name="startNotes"),
    Output({"type": START_NOTE_TYPE, "charger": ALL}, "children"),
    Output({"type": START_TYPE, "charger": ALL}, "disabled"),
    Output({"type": CONNECTOR_TYPE, "charger": ALL}, "disabled"),
    Input(COMMAND_STORE_ID, "data"),
)


# --- Report a problem ----------------------------------------------------------------------------


@callback(
    Output(REPORT_MODAL_ID, "is_open"),
    Output(REPORT_CHARGER_STORE, "data"),
    Output(REPORT_TITLE_ID, "children"),
    Output(REPORT_KIND_ID, "value"),
    Output(REPORT_TEXT_ID, "value"),
    Output(REPORT_OUTCOME_ID, "children"),
    Output(REPORT_SEND_ID, "disabled"),
    Input({"type": REPORT_TYPE, "charger": ALL}, "n_clicks"),
    Input(REPORT_CLOSE_ID, "n_clicks"),
    prevent_initial_call=True,
)
def report_dialog(_reports: object, _close: object) -> tuple[Any, ...]:
    """Open the dialog for the pressed card's charger (a fresh form), or close it. The charger
    is looked up for the session's account: one it may not see (or none) gets the dialog with
    the same words as a missing one, and no Send."""
    trigger = dash.ctx.triggered_id
    pressed = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not pressed:
        raise PreventUpdate  # cards drawn (n_clicks None), or nothing pressed
    if trigger == REPORT_CLOSE_ID:
        return False, None, dash.no_update, None, "", "", False
    if not isinstance(trigger, dict) or not _plausible_id(trigger.get("charger")):
        raise PreventUpdate
    charger_id = str(trigger["charger"])
    account_id = current_account_id()
    with read_scope() as s:
        name = reportable_charger(s, account_id, charger_id)
    if name is None:
        return True, None, report_title(), None, "", report_refused(NO_SUCH_CHARGER), True
    return True, charger_id, report_title(name), None, "", "", False


@callback(
    Output(REPORT_OUTCOME_ID, "children", allow_duplicate=True),
    Output(REPORT_SEND_ID, "disabled", allow_duplicate=True),
    Input(REPORT_SEND_ID, "n_clicks"),
    State(REPORT_CHARGER_STORE, "data"),
    State(REPORT_KIND_ID, "value"),
    State(REPORT_TEXT_ID, "value"),
    prevent_initial_call=True,
)
def send_report(clicks: object, charger_id: object, kind: object, text: object) -> tuple[Any, Any]:
    """Write the report for the session's account and person (never ids the browser sent);
    the charger in the store is only a key, checked again in ``report_problem``. Once received,
    Send is off until the dialog is opened again."""
    if not clicks:
        raise PreventUpdate
    account_id = current_account_id()
    try:
        with session_scope() as s:
            report = report_problem(
                s,
                account_id=account_id,
                user_id=int(current_user.user_id),
                charger_id=charger_id,
                kind=kind,
                text=text,
                now=datetime.now(UTC),
            )
    except ReportRefused as refused:
        return report_refused(str(refused)), False
    return report_received(report), True


# --- Book a charger ------------------------------------------------------------------------------

EMPTY_DIGEST = "|"


def _next_reservation(
    s: Session, account_id: str, now: datetime, tz: ZoneInfo
) -> tuple[Component, dict[str, Any]]:
    """Next reservation's body (with why a booking ended early, if one did), and what the
    browser keeps to look again on the refresh tick: while a booking is open (the charger may
    refuse it, it may be released, or it starts and can no longer be cancelled)."""
    row = next_reservation(s, account_id, now)
    return _reservation_view(row, ended_booking(s, account_id, now), tz, now)


def _reservation_view(
    row: ReservationRow | None, ended: EndedBooking | None, tz: ZoneInfo, now: datetime
) -> tuple[Component, dict[str, Any]]:
    why = ended_booking_text(ended, tz) if ended else None
    body = next_reservation_card_body(row, tz, now, why)
    return body, watch_data(row is not None, _reservation_digest(row, ended, now))


def _reservation_digest(
    row: ReservationRow | None, ended: EndedBooking | None, now: datetime
) -> str:
    shown = "" if row is None else f"{row.reservation_id}:{row.status}:{row.starts_at > now}"
    return f"{shown}|{ended.reservation_id if ended else ''}"  # EMPTY_DIGEST: neither


def _reservation_change(
    reads: TickReads, tz: ZoneInfo, now: datetime, known: dict[str, Any] | None
) -> tuple[Any, Any]:
    """Next reservation again, only when it changed (``no_update`` twice otherwise): a
    charger's refusal or a release shows without a reload. The digest first: an unchanged
    tick builds no card body (its components were ~0.1 ms a tick)."""
    row, ended = reads.next_reservation, reads.ended_booking
    digest = _reservation_digest(row, ended, now)
    if known is not None and digest == known.get("digest"):
        return no_update, no_update
    if known is None and digest == EMPTY_DIGEST:
        return no_update, watch_data(False, digest)  # nothing booked: the render's body stands
    return _reservation_view(row, ended, tz, now)


@callback(
    Output(BOOK_MODAL_ID, "is_open"),
    Output(BOOK_CHARGER_STORE, "data"),
    Output(BOOK_TITLE_ID, "children"),
    Output(BOOK_DATE_ID, "value"),
    Output(BOOK_DATE_ID, "min"),
    Output(BOOK_DATE_ID, "max"),
    Output(BOOK_TIME_ID, "value"),
    Output(BOOK_LENGTH_ID, "options"),
    Output(BOOK_LENGTH_ID, "value"),
    Output(BOOK_RULES_ID, "children"),
    Output(BOOK_OUTCOME_ID, "children"),
    Output(BOOK_SUBMIT_ID, "disabled"),
    Input({"type": BOOK_TYPE, "charger": ALL}, "n_clicks"),
    Input(BOOK_CLOSE_ID, "n_clicks"),
    prevent_initial_call=True,
)
def book_dialog(_books: object, _close: object) -> tuple[Any, ...]:
    """Open the dialog for the pressed card's charger (a fresh form within the operator's
    rules, times in the operator's time zone), or close it. A charger the session's account may
    not see (or none) gets the dialog with a refusal and no Book."""
    trigger = dash.ctx.triggered_id
    pressed = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not pressed:
        raise PreventUpdate  # cards drawn (n_clicks None), or nothing pressed
    keep = [dash.no_update] * 8
    if trigger == BOOK_CLOSE_ID:
        return (False, None, *keep, "", False)
    if not isinstance(trigger, dict) or not _plausible_id(trigger.get("charger")):
        raise PreventUpdate
    charger_id = str(trigger["charger"])
    account_id = current_account_id()
    now = datetime.now(UTC)
    with read_scope() as s:
        name = reportable_charger(s, account_id, charger_id)
        rules = booking_rules(s)
        tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
    if name is None:
        refused = booking_refused("There is no charger by that name that you can book.")
        return (True, None, book_title(), *keep[:7], refused, True)
    return (True, charger_id, book_title(name), *dialog_values(now, tz, rules), "", False)


@callback(
    Output(BOOK_OUTCOME_ID, "children", allow_duplicate=True),
    Output(BOOK_MODAL_ID, "is_open", allow_duplicate=True),
    Output(NEXT_RESERVATION_BODY_ID, "children", allow_duplicate=True),
    Output(NEXT_WATCH_ID, "data", allow_duplicate=True),
    Output(BOOKING_NOTICE_ID, "children"),
    Input(BOOK_SUBMIT_ID, "n_clicks"),
    State(BOOK_CHARGER_STORE, "data"),
    State(BOOK_DATE_ID, "value"),
    State(BOOK_TIME_ID, "value"),
    State(BOOK_LENGTH_ID, "value"),
    prevent_initial_call=True,
)
def book(clicks: object, charger_id: object, day: object, start: object, length: object) -> Any:
    """Book for the session's account and person (never ids the browser sent; the charger in
    the store is only a key, checked again by ``book_charger`` with every rule). Booked: the
    dialog closes and Next reservation shows it at once; refused: the message in the dialog."""
    if not clicks:
        raise PreventUpdate
    keep = (dash.no_update,) * 4
    if not _plausible_id(charger_id):
        return (booking_refused("Choose a charger to book from its card."), *keep)
    account_id = current_account_id()
    now = datetime.now(UTC)
    try:
        with session_scope() as s:
            tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
            starts_at, ends_at = booking_times(day, start, length, tz)
            row = book_charger(
                s, account_id, str(charger_id), starts_at, ends_at, now, actor=current_actor()
            )
    except BookingRefused as refused:
        return (booking_refused(str(refused)), *keep)
    with read_scope() as s:
        body, watch = _next_reservation(s, account_id, now, tz)
    done = booking_done(f"Booked: {row.charger_name}, {reservation_window_text(row, tz)}.")
    return "", False, body, watch, done


@callback(
    Output(NEXT_RESERVATION_BODY_ID, "children", allow_duplicate=True),
    Output(NEXT_WATCH_ID, "data", allow_duplicate=True),
    Output(BOOKING_NOTICE_ID, "children", allow_duplicate=True),
    Input({"type": CANCEL_TYPE, "reservation": ALL}, "submit_n_clicks"),
    prevent_initial_call=True,
)
def cancel_booking(_confirmed: object) -> tuple[Any, Any, Any]:
    """Cancel the booking whose Cancel booking was confirmed: the id in the button's id is only
    a key; ``cancel_own_booking`` refuses any but the session account's own, not started."""
    trigger = dash.ctx.triggered_id
    pressed = dash.ctx.triggered[0].get("value") if dash.ctx.triggered else None
    if not pressed or not isinstance(trigger, dict):
        raise PreventUpdate
    reservation_id = trigger.get("reservation")
    if not _plausible_id(reservation_id):
        raise PreventUpdate
    account_id = current_account_id()
    now = datetime.now(UTC)
    try:
        with session_scope() as s:
            tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
            row = cancel_own_booking(s, account_id, str(reservation_id), now, actor=current_actor())
        notice = booking_done(
            f"Booking cancelled: {row.charger_name}, {reservation_window_text(row, tz)}."
        )
    except BookingRefused as refused:
        notice = booking_refused(str(refused))
    with read_scope() as s:
        tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
        body, watch = _next_reservation(s, account_id, now, tz)
    return body, watch, notice
