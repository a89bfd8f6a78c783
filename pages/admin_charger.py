"""/admin/chargers/<charger_id>: one charger for the operator.

Its status and last heartbeat, name and visibility (editable), the customer accounts that may
see it while restricted (grant and revoke), utilisation and energy per day for a period, its
sessions (paged, newest first) and its reservations (upcoming first).

The layout is a static skeleton holding the charger id from the address as a key; every
callback checks the admin role, then looks the id up: an id that names no charger gets "That
charger doesn't exist" (page) or "That charger no longer exists" (an action), never an error.
Edits are written to the database, so customers see them on their next refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import dash
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    no_update,
)
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.accounts import current_actor
from auth.roles import admin_only
from components import commands as cmd
from components.admin import admin_page, feedback
from components.charger import (
    CHARGER_ACCESS_FEEDBACK_ID,
    CHARGER_ACCESS_ID,
    CHARGER_ACCESS_NOTE_ID,
    CHARGER_ACCESS_STORE,
    CHARGER_ACCOUNT_PICK_ID,
    CHARGER_CONTENT_ID,
    CHARGER_ENERGY_CHART_ID,
    CHARGER_GRANT_ID,
    CHARGER_HEADING_ID,
    CHARGER_ID_STORE,
    CHARGER_INCIDENT_TYPE,
    CHARGER_INCIDENTS_FEEDBACK_ID,
    CHARGER_INCIDENTS_ID,
    CHARGER_INCIDENTS_STORE,
    CHARGER_MISSING_ID,
    CHARGER_NAME_ID,
    CHARGER_PERIOD_ID,
    CHARGER_RESERVATIONS_ID,
    CHARGER_REVOKE_TYPE,
    CHARGER_SAVE_FEEDBACK_ID,
    CHARGER_SAVE_ID,
    CHARGER_SAVED_STORE,
    CHARGER_SESSIONS_GRID_ID,
    CHARGER_SESSIONS_NOTE_ID,
    CHARGER_SUMMARY_ID,
    CHARGER_USAGE_TOTALS_ID,
    CHARGER_UTILISATION_CHART_ID,
    CHARGER_VISIBILITY_ID,
    access_note,
    account_options,
    charger_skeleton,
    charger_summary,
    energy_figure,
    grants_list,
    incidents_table,
    reservations_table,
    session_row,
    usage_totals,
    utilisation_figure,
)
from components.charts import empty_figure
from components.energy import ENERGY_STORE, energy_disputes_skeleton
from config import offline_after_s
from data.chargers.charger import (
    ChargerNotFoundError,
    FleetInputError,
    charger_detail,
    charger_reservations,
    charger_session_count,
    charger_sessions,
    update_charger,
)
from data.chargers.grants import (
    GrantProblem,
    GrantRefused,
    charger_grants,
    customer_account_choices,
    grant_charger,
    revoke_charger,
)
from data.chargers.incidents import IncidentChangeError, charger_incidents, set_incident_status
from data.chargers.usage import charger_daily_usage
from data.charging.dashboard import operator_settings
from data.core.grid import parse_grid_request
from data.core.models import ID_LENGTH
from data.core.periods import parse_period, period_bounds
from data.ocpp.command_log import CommandLogFilter, command_log_rows, sessions_in_progress
from data.ocpp.commands import CommandError, command, operator_command, validate_params
from pages._admin import admin_layout, bump, pressed
from web.db import session_scope

dash.register_page(
    __name__,
    path_template="/admin/chargers/<charger_id>",
    title="Charger · Polaris Express",
    name="Charger",
)

GONE = "That charger no longer exists. Go back to the fleet overview to pick another."


def _charger_id(value: object) -> str:
    """The id as sent by the browser: only ever a lookup key (bad types read as "none")."""
    return value if isinstance(value, str) else ""


@admin_layout
def layout(charger_id: object = "", **_: object) -> Component:
    # The path segment arrives percent-encoded (ids may hold any character).
    cid = unquote(charger_id) if isinstance(charger_id, str) else ""
    from components.ocpp import ocpp_link  # here, so the OCPP link is one edit of this file

    # The disputed-energy section's callbacks are registered by pages/admin_sessions.py.
    return admin_page(
        "Charger",
        "/admin",
        ocpp_link(cid),
        *charger_skeleton(cid, [energy_disputes_skeleton(cid)], [cmd.charger_commands_section()]),
    )


@callback(
    Output(CHARGER_MISSING_ID, "hidden"),
    Output(CHARGER_CONTENT_ID, "hidden"),
    Output(CHARGER_HEADING_ID, "children"),
    Output(CHARGER_SUMMARY_ID, "children"),
    Input(CHARGER_ID_STORE, "data"),
    Input(CHARGER_SAVED_STORE, "data"),
    Input("refresh-interval", "n_intervals"),
)
@admin_only
def render_summary(charger_id: object, _saved: object, _n: object) -> tuple[Any, ...]:
    """Name, status and heartbeat, kept fresh on the shell's timer; or the missing notice."""
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        detail = charger_detail(s, _charger_id(charger_id), now, offline_after_s=offline_after_s())
    if detail is None:
        return False, True, no_update, no_update
    return True, False, detail.friendly_name, charger_summary(detail, tz, now)


@callback(
    Output(CHARGER_NAME_ID, "value"),
    Output(CHARGER_VISIBILITY_ID, "value"),
    Input(CHARGER_ID_STORE, "data"),
    Input(CHARGER_SAVED_STORE, "data"),
)
@admin_only
def load_settings(charger_id: object, _saved: object) -> tuple[Any, Any]:
    """The form's values: on load, and after a save (the name as stored, tidied)."""
    with session_scope() as s:
        detail = charger_detail(s, _charger_id(charger_id), datetime.now(UTC))
    if detail is None:
        return "", None
    return detail.friendly_name, detail.visibility


@callback(
    Output(CHARGER_SAVE_FEEDBACK_ID, "children"),
    Output(CHARGER_SAVED_STORE, "data"),
    Input(CHARGER_SAVE_ID, "n_clicks"),
    Input(CHARGER_NAME_ID, "n_submit"),
    State(CHARGER_ID_STORE, "data"),
    State(CHARGER_NAME_ID, "value"),
    State(CHARGER_VISIBILITY_ID, "value"),
    State(CHARGER_SAVED_STORE, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_settings(
    _clicks: object, _submit: object, charger_id: object, name: object, visibility: object,
    saved: object,
) -> tuple[Any, Any]:  # fmt: skip
    """Validate and store the name and visibility; say what happened."""
    if not pressed():
        raise PreventUpdate
    try:
        with session_scope() as s:
            stored_name, stored_visibility = update_charger(
                s, _charger_id(charger_id), name, visibility,
                actor=current_actor(), now=datetime.now(UTC),
            )  # fmt: skip
    except ChargerNotFoundError:
        return feedback(GONE, ok=False), no_update
    except FleetInputError as error:
        return feedback(str(error), ok=False), no_update
    message = f"Saved: “{stored_name}”, {stored_visibility.value}."
    return feedback(message, ok=True), bump(saved)


@callback(
    Output(CHARGER_ACCESS_ID, "children"),
    Output(CHARGER_ACCESS_NOTE_ID, "children"),
    Output(CHARGER_GRANT_ID, "disabled"),
    Input(CHARGER_ID_STORE, "data"),
    Input(CHARGER_ACCESS_STORE, "data"),
    Input(CHARGER_SAVED_STORE, "data"),
)
@admin_only
def render_access(charger_id: object, _changed: object, _saved: object) -> tuple[Any, ...]:
    """Who may see the charger; granting is for restricted chargers only."""
    cid = _charger_id(charger_id)
    with session_scope() as s:
        detail = charger_detail(s, cid, datetime.now(UTC))
        grants = charger_grants(s, cid) if detail is not None else []
    if detail is None:
        return no_update, GONE, True
    return grants_list(grants), access_note(detail.visibility), detail.visibility != "restricted"


@callback(
    Output(CHARGER_ACCOUNT_PICK_ID, "options"),
    Input(CHARGER_ACCOUNT_PICK_ID, "search_value"),
    State(CHARGER_ACCOUNT_PICK_ID, "value"),
    State(CHARGER_ACCOUNT_PICK_ID, "options"),
    prevent_initial_call=True,
)
@admin_only
def find_accounts(search: object, picked: object, shown: object) -> Any:
    """Customer accounts matching the typed text (id, email, label or name); the picked one
    stays listed so the dropdown keeps showing it."""
    if not isinstance(search, str) or not search.strip():
        raise PreventUpdate
    return _account_choices(search, picked, shown)


def _account_choices(search: str, picked: object, shown: object) -> list[dict[str, str]]:
    with session_scope() as s:
        options = account_options(customer_account_choices(s, search))
    if isinstance(picked, str) and isinstance(shown, list):
        if all(o["value"] != picked for o in options):
            kept = [o for o in shown if isinstance(o, dict) and o.get("value") == picked]
            options = kept[:1] + options
    return options


@callback(
    Output(CHARGER_ACCESS_FEEDBACK_ID, "children"),
    Output(CHARGER_ACCESS_STORE, "data"),
    Output(CHARGER_ACCOUNT_PICK_ID, "value"),
    Input(CHARGER_GRANT_ID, "n_clicks"),
    Input({"type": CHARGER_REVOKE_TYPE, "account": ALL}, "n_clicks"),
    State(CHARGER_ID_STORE, "data"),
    State(CHARGER_ACCOUNT_PICK_ID, "value"),
    State(CHARGER_ACCESS_STORE, "data"),
    prevent_initial_call=True,
)
@admin_only
def change_access(
    _grant: object, _revoke: object, charger_id: object, picked: object, changed: object
) -> tuple[Any, ...]:
    """Grant the picked account, or revoke the one whose button was pressed."""
    if not pressed():
        raise PreventUpdate  # a Revoke button appearing, not being pressed
    trigger = ctx.triggered_id
    cid = _charger_id(charger_id)
    if trigger == CHARGER_GRANT_ID:
        account = picked
    elif isinstance(trigger, dict) and trigger.get("type") == CHARGER_REVOKE_TYPE:
        account = trigger.get("account")
    else:
        raise PreventUpdate
    granting = trigger == CHARGER_GRANT_ID
    actor, now = current_actor(), datetime.now(UTC)
    try:
        with session_scope() as s:
            if granting:
                done = grant_charger(s, account, cid, actor=actor, now=now).changed
                message = (
                    f"{account} may now see this charger."
                    if done
                    else f"{account} could already see this charger."
                )
            else:
                done = revoke_charger(s, account, cid, actor=actor, now=now).changed
                message = (
                    f"{account} no longer sees this charger."
                    if done
                    else f"{account} had no access to this charger."
                )
    except GrantRefused as refused:
        if not granting and refused.problem == GrantProblem.unknown_account:
            if len(str(account)) > ID_LENGTH:
                return feedback("Pick an account first.", ok=False), no_update, no_update
            # No such account has a grant here: as good as revoked already.
            message = f"{account} had no access to this charger."
            return feedback(message, ok=True), bump(changed), None
        return feedback(_grant_refusal(refused.problem, account), ok=False), no_update, no_update
    return feedback(message, ok=True), bump(changed), None


def _grant_refusal(problem: GrantProblem, account: object) -> str:
    """This page's words for a grant it could not make (``data.chargers.grants``)."""
    if problem == GrantProblem.unknown_charger:
        return GONE
    if problem == GrantProblem.no_account:
        return "Pick an account first."
    shown = str(account) if len(str(account)) <= ID_LENGTH else str(account)[:ID_LENGTH] + "…"
    if problem == GrantProblem.unknown_account:
        return f"There is no account “{shown}”."
    if problem == GrantProblem.admin_account:
        return f"“{shown}” is an admin account: only customer accounts can be granted a charger."
    return (
        "This charger is public: every customer already sees it. "
        "Make it restricted to choose who sees it."
    )


@callback(
    Output(CHARGER_UTILISATION_CHART_ID, "figure"),
    Output(CHARGER_ENERGY_CHART_ID, "figure"),
    Output(CHARGER_USAGE_TOTALS_ID, "children"),
    Input(CHARGER_ID_STORE, "data"),
    Input(CHARGER_PERIOD_ID, "value"),
    Input(ENERGY_STORE, "data"),
)
@admin_only
def render_usage(charger_id: object, period_value: object, _resolved: object) -> tuple[Any, ...]:
    """Utilisation and energy per local day of the chosen period (again once a disputed
    session was resolved: it counts from then on)."""
    name, _valid = parse_period(period_value if isinstance(period_value, str) else None)
    now = datetime.now(UTC)
    cid = _charger_id(charger_id)
    with session_scope() as s:
        tz = operator_settings(s).tz
        if charger_detail(s, cid, now) is None:
            return empty_figure(), empty_figure(), GONE
        period = period_bounds(name, now, tz)
        frame = charger_daily_usage(s, cid, period, now)
    return (
        utilisation_figure(frame, period),
        energy_figure(frame, period),
        usage_totals(frame, period),
    )


@callback(
    Output(CHARGER_SESSIONS_GRID_ID, "getRowsResponse"),
    Output(CHARGER_SESSIONS_NOTE_ID, "children"),
    Input(CHARGER_SESSIONS_GRID_ID, "getRowsRequest"),
    State(CHARGER_ID_STORE, "data"),
    prevent_initial_call=True,
)
@admin_only
def session_rows(request: object, charger_id: object) -> tuple[dict[str, Any], str]:
    """A block of the charger's sessions, newest first (no sorting or filtering here)."""
    if request is None:
        raise PreventUpdate
    grid = parse_grid_request(request)
    cid = _charger_id(charger_id)
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        if charger_detail(s, cid, now) is None:
            return {"rowData": [], "rowCount": 0}, GONE
        total = charger_session_count(s, cid)
        rows = charger_sessions(s, cid, grid.start, grid.limit) if grid.start < total else []
    note = f"{total:,} session{'' if total == 1 else 's'}, newest first."
    return {"rowData": [session_row(r, tz, now) for r in rows], "rowCount": total}, note


# After a confirm or correct, the sessions grid shows the resolved session without a reload.
clientside_callback(
    ClientsideFunction(namespace="polarisAdmin", function_name="refreshGridRows"),
    Output(CHARGER_SESSIONS_NOTE_ID, "title"),
    Input(ENERGY_STORE, "data"),
    State(CHARGER_SESSIONS_GRID_ID, "id"),
    prevent_initial_call=True,
)


@callback(
    Output(CHARGER_RESERVATIONS_ID, "children"),
    Input(CHARGER_ID_STORE, "data"),
)
@admin_only
def render_reservations(charger_id: object) -> Any:
    now = datetime.now(UTC)
    cid = _charger_id(charger_id)
    with session_scope() as s:
        tz = operator_settings(s).tz
        if charger_detail(s, cid, now) is None:
            return GONE
        rows = charger_reservations(s, cid, now)
    return reservations_table(rows, tz, now)


# --- problems drivers reported ---------------------------------------------------------------


@callback(
    Output(CHARGER_INCIDENTS_ID, "children"),
    Input(CHARGER_ID_STORE, "data"),
    Input(CHARGER_INCIDENTS_STORE, "data"),
)
@admin_only
def render_incidents(charger_id: object, _changed: object) -> Any:
    """The problems drivers reported here, those still to handle first."""
    now = datetime.now(UTC)
    cid = _charger_id(charger_id)
    with session_scope() as s:
        tz = operator_settings(s).tz
        if charger_detail(s, cid, now) is None:
            return GONE
        rows = charger_incidents(s, cid)
    return incidents_table(rows, tz, now)


@callback(
    Output(CHARGER_INCIDENTS_FEEDBACK_ID, "children"),
    Output(CHARGER_INCIDENTS_STORE, "data"),
    Input({"type": CHARGER_INCIDENT_TYPE, "incident": ALL, "to": ALL}, "n_clicks"),
    State(CHARGER_ID_STORE, "data"),
    State(CHARGER_INCIDENTS_STORE, "data"),
    prevent_initial_call=True,
)
@admin_only
def change_incident(_clicks: object, charger_id: object, changed: object) -> tuple[Any, Any]:
    """Acknowledge or resolve the incident whose button was pressed (of this charger only);
    who does it comes from the server session, and the audit log keeps it."""
    if not pressed():
        raise PreventUpdate  # the list re-rendered, its buttons appearing
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict):
        raise PreventUpdate
    try:
        with session_scope() as s:
            row = set_incident_status(
                s, trigger.get("incident"), trigger.get("to"),
                charger_id=_charger_id(charger_id), actor=current_actor(), now=datetime.now(UTC),
            )  # fmt: skip
    except IncidentChangeError as error:
        return feedback(str(error), ok=False), bump(changed)
    return feedback(f"{row.reference} is now {row.status.value}.", ok=True), bump(changed)


# --- commands to the charger -----------------------------------------------------------------


@callback(
    *[Output(group, "hidden") for group in cmd.FIELD_GROUPS.values()],
    Input(cmd.ACTION_ID, "value"),
)
@admin_only
def show_command_fields(action: object) -> tuple[bool, ...]:
    """Only the fields the chosen command takes."""
    return tuple(cmd.hidden_fields(action))


@callback(
    Output(cmd.ACCOUNT_ID, "options"),
    Input(cmd.ACCOUNT_ID, "search_value"),
    State(cmd.ACCOUNT_ID, "value"),
    State(cmd.ACCOUNT_ID, "options"),
    prevent_initial_call=True,
)
@admin_only
def find_command_accounts(search: object, picked: object, shown: object) -> Any:
    """Customer accounts to start charging for (RemoteStartTransaction)."""
    if not isinstance(search, str) or not search.strip():
        raise PreventUpdate
    return _account_choices(search, picked, shown)


@callback(
    Output(cmd.SESSION_ID, "options"),
    Output(cmd.SESSION_ID, "value"),
    Input(cmd.ACTION_ID, "value"),
    Input(cmd.COMMAND_STORE, "data"),
    State(CHARGER_ID_STORE, "data"),
)
@admin_only
def command_sessions(action: object, _sent: object, charger_id: object) -> tuple[Any, Any]:
    """The sessions in progress that RemoteStopTransaction may stop."""
    if action != "RemoteStopTransaction":
        raise PreventUpdate
    with session_scope() as s:
        options = cmd.session_options(sessions_in_progress(s, _charger_id(charger_id)))
    return options, options[0]["value"] if options else None


def _form_params(
    action: str, connector: object, reset: object, availability: object, account: object,
    session_id: object, message: object, keys: object, key: object, value: object,
) -> dict[str, Any]:  # fmt: skip
    """The parameters of ``action`` from the fields it uses (validated afterwards)."""
    fields = cmd.ACTION_FIELDS.get(action, ())
    params: dict[str, Any] = {}
    if "connector" in fields and connector not in (None, ""):
        params["connector_id"] = connector
    if "reset" in fields:
        params["type"] = reset
    if "availability" in fields:
        params["type"] = availability
    if "account" in fields:
        params["account_id"] = account or None
    if "session" in fields:
        params["session_id"] = session_id or None
    if "message" in fields:
        params["requested_message"] = message
    if "keys" in fields and isinstance(keys, str) and keys.strip():
        params["key"] = keys
    if "key" in fields:
        params["key"] = key if key is not None else ""
    if "value" in fields:
        params["value"] = value if value is not None else ""
    if action == "TriggerMessage" and params.get("connector_id") == 0:
        del params["connector_id"]
    return {k: v for k, v in params.items() if v is not None}


@callback(
    Output(cmd.CONFIRM_MODAL_ID, "is_open"),
    Output(cmd.CONFIRM_BODY_ID, "children"),
    Output(cmd.FEEDBACK_ID, "children"),
    Output(cmd.COMMAND_STORE, "data"),
    Output(cmd.POLL_BOX_ID, "children"),
    Input(cmd.SEND_ID, "n_clicks"),
    Input(cmd.CONFIRM_SEND_ID, "n_clicks"),
    Input(cmd.CONFIRM_KEEP_ID, "n_clicks"),
    State(CHARGER_ID_STORE, "data"),
    State(cmd.ACTION_ID, "value"),
    State(cmd.CONNECTOR_ID, "value"),
    State(cmd.RESET_TYPE_ID, "value"),
    State(cmd.AVAILABILITY_ID, "value"),
    State(cmd.ACCOUNT_ID, "value"),
    State(cmd.SESSION_ID, "value"),
    State(cmd.MESSAGE_ID, "value"),
    State(cmd.KEYS_ID, "value"),
    State(cmd.KEY_ID, "value"),
    State(cmd.VALUE_ID, "value"),
    prevent_initial_call=True,
)
@admin_only
def send_command(
    _send: object, _confirm: object, _keep: object, charger_id: object, action: object,
    connector: object, reset: object, availability: object, account: object, session_id: object,
    message: object, keys: object, key: object, value: object,
) -> tuple[Any, ...]:  # fmt: skip
    """Send the command (a ``pending`` row the OCPP server delivers), asking first when it may
    interrupt a driver. Who asked is the signed-in person and the active account, from the
    server session."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    trigger = ctx.triggered_id
    if trigger == cmd.CONFIRM_KEEP_ID:
        return False, no_update, feedback("Not sent.", ok=True), no_update, no_update
    cid = _charger_id(charger_id)
    name = action if isinstance(action, str) else ""
    params = _form_params(
        name, connector, reset, availability, account, session_id, message, keys, key, value
    )
    now = datetime.now(UTC)
    try:
        if name == "RemoteStopTransaction" and params.get("session_id") is None:
            raise CommandError(f"{cmd.NO_SESSION}: there is nothing to stop.")
        validate_params(name, params)
        with session_scope() as s:
            if charger_detail(s, cid, now) is None:
                return False, no_update, feedback(GONE, ok=False), no_update, no_update
            if trigger == cmd.SEND_ID and cmd.interrupts_driver(name, params):
                in_progress = sessions_in_progress(s, cid)
                stoppable = {p.session_id for p in in_progress if p.remote_stoppable}
                if name == "RemoteStopTransaction" and params["session_id"] not in stoppable:
                    # Said now, not after the confirmation (operator_command checks it again).
                    raise CommandError(
                        f"{name}: session {params['session_id']!r} is not in progress on {cid}"
                    )
                question = cmd.confirm_text(name, params, cid, in_progress)
                return True, question, "", no_update, no_update
            row = operator_command(s, cid, name, params, now, actor=current_actor())
    except CommandError as error:
        return False, no_update, feedback(str(error), ok=False), no_update, no_update
    sent = feedback(f"{name} sent to {cid}.", ok=True)
    return False, no_update, sent, row.id, cmd.poll()


@callback(
    Output(cmd.STATE_ID, "children"),
    Output(cmd.POLL_BOX_ID, "children", allow_duplicate=True),
    Input(cmd.COMMAND_STORE, "data"),
    Input({"type": cmd.POLL_TYPE, "command": ALL}, "n_intervals"),
    State(CHARGER_ID_STORE, "data"),
    prevent_initial_call=True,
)
@admin_only
def render_command_state(command_id: object, _n: object, charger_id: object) -> tuple[Any, Any]:
    """The last command's state, every second until it has ended (then the poll goes)."""
    wanted = cmd.stored_command_id(command_id)
    if wanted is None:
        raise PreventUpdate
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        row = command(s, wanted)
    if row is None or row.charger_id != _charger_id(charger_id):
        return "", []
    return cmd.command_state(row, tz, now), [] if row.finished else no_update


@callback(
    Output(cmd.LOG_ID, "children"),
    Input(CHARGER_ID_STORE, "data"),
    Input(cmd.STATE_ID, "children"),
)
@admin_only
def render_command_log(charger_id: object, _state: object) -> Any:
    """This charger's commands, latest first (again whenever the last sent one's state moves;
    the fleet log on /admin/ocpp follows the shell's timer)."""
    cid = _charger_id(charger_id)
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        if charger_detail(s, cid, now) is None:
            return GONE
        rows = command_log_rows(s, CommandLogFilter(charger_id=cid), tz, limit=50)
    return cmd.command_log_table(rows, tz, now, with_charger=False)
