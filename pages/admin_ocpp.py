"""/admin/ocpp: chargers speaking OCPP, their passwords, id tags and reservations sent to them.

The layout is a static skeleton (``?charger=<id>`` only pre-fills the search and the password
form); callbacks fill it, each checking the admin role first. Charger ids, tags and accounts
typed by the operator are validated in ``data.ocpp.admin``; nothing the browser sends names the
acting account.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.accounts import current_actor
from auth.roles import admin_only
from components import commands as cmd
from components.admin import admin_page, feedback
from components.ocpp import (
    CHARGERS_ID,
    CHARGERS_TOTAL_ID,
    LOGIN_CHARGER_ID,
    LOGIN_CLEAR_ID,
    LOGIN_FEEDBACK_ID,
    LOGIN_INPUT_ID,
    LOGIN_SET_ID,
    LOGIN_STORE,
    RESERVATIONS_ID,
    SEARCH_ID,
    TAG_ACCOUNT_ID,
    TAG_ASSIGN_ID,
    TAG_FEEDBACK_ID,
    TAG_INPUT_ID,
    TAG_REMOVE_TYPE,
    TAG_SEARCH_ID,
    TAG_STORE,
    TAGS_ID,
    chargers_table,
    chargers_total_text,
    ocpp_skeleton,
    reservations_table,
    tags_list,
)
from config import offline_after_s
from data.charging.dashboard import operator_settings
from data.ocpp.admin import (
    OcppAdminError,
    assign_id_tag,
    clear_ocpp_password,
    id_tags,
    ocpp_chargers,
    remove_id_tag,
    sent_reservations,
    set_ocpp_password,
)
from data.ocpp.command_log import (
    LOG_LIMIT,
    command_log_count,
    command_log_rows,
    parse_log_filter,
)
from data.ocpp.commands import CommandError
from pages._admin import admin_layout, bump, pressed, timed_table
from web.db import session_scope

dash.register_page(__name__, path="/admin/ocpp", title="OCPP · Polaris Express", name="OCPP")


@admin_layout
def layout(charger: object = "", **_: object) -> Component:
    prefill = charger.strip()[:64] if isinstance(charger, str) else ""
    return admin_page("OCPP", "/admin/ocpp", *ocpp_skeleton(prefill), cmd.fleet_log_section())


@callback(
    Output(CHARGERS_ID, "children"),
    Output(CHARGERS_TOTAL_ID, "children"),
    Input(SEARCH_ID, "value"),
    Input(LOGIN_STORE, "data"),
    Input("refresh-interval", "n_intervals"),
)
@admin_only
def render_chargers(search: object, _saved: object, _n: object) -> tuple[Any, str]:
    """The chargers matching the search with their OCPP facts, fresh on the shell's timer."""
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        result = ocpp_chargers(s, now, search, offline_after_s=offline_after_s())
    return chargers_table(result, tz, now), chargers_total_text(len(result.chargers), result.total)


@callback(
    Output(LOGIN_FEEDBACK_ID, "children"),
    Output(LOGIN_STORE, "data"),
    Output(LOGIN_INPUT_ID, "value"),
    Input(LOGIN_SET_ID, "n_clicks"),
    Input(LOGIN_CLEAR_ID, "n_clicks"),
    Input(LOGIN_INPUT_ID, "n_submit"),
    State(LOGIN_CHARGER_ID, "value"),
    State(LOGIN_INPUT_ID, "value"),
    State(LOGIN_STORE, "data"),
    prevent_initial_call=True,
)
@admin_only
def change_password(
    _set: object, _clear: object, _submit: object, charger_id: object, password: object, n: object
) -> tuple[Any, Any, Any]:
    """Set (or clear) a charger's OCPP password. The field is emptied either way: the password
    is never sent back to the browser."""
    clearing = ctx.triggered_id == LOGIN_CLEAR_ID
    actor, now = current_actor(), datetime.now(UTC)
    try:
        with session_scope() as s:
            if clearing:
                cid = clear_ocpp_password(s, charger_id, actor=actor, now=now)
            else:
                cid = set_ocpp_password(s, charger_id, password, actor=actor, now=now)
    except OcppAdminError as error:
        return feedback(str(error), ok=False), no_update, no_update if clearing else ""
    if clearing:
        message = f"{cid} connects without a password now."
    else:
        message = f"Password set for {cid}: it must log in with it from its next connection."
    return feedback(message, ok=True), bump(n), ""


@callback(
    Output(TAGS_ID, "children"),
    Input(TAG_SEARCH_ID, "value"),
    Input(TAG_STORE, "data"),
)
@admin_only
def render_tags(search: object, _changed: object) -> Any:
    with session_scope() as s:
        tags = id_tags(s, search)
    return tags_list(tags, searched=isinstance(search, str) and bool(search.strip()))


@callback(
    Output(TAG_FEEDBACK_ID, "children"),
    Output(TAG_STORE, "data"),
    Output(TAG_INPUT_ID, "value"),
    Input(TAG_ASSIGN_ID, "n_clicks"),
    Input(TAG_ACCOUNT_ID, "n_submit"),
    Input({"type": TAG_REMOVE_TYPE, "tag": ALL}, "n_clicks"),
    State(TAG_INPUT_ID, "value"),
    State(TAG_ACCOUNT_ID, "value"),
    State(TAG_STORE, "data"),
    prevent_initial_call=True,
)
@admin_only
def change_tags(
    _assign: object, _submit: object, _removes: object, tag: object, account: object, n: object
) -> tuple[Any, Any, Any]:
    """Assign the typed tag to an account, or remove the tag whose button was pressed."""
    trigger = ctx.triggered_id
    actor, now = current_actor(), datetime.now(UTC)
    if isinstance(trigger, dict):
        # A Remove button; new buttons appearing (n_clicks 0) are not clicks.
        if not pressed():
            raise PreventUpdate
        removed_tag = trigger.get("tag")
        with session_scope() as s:
            removed = remove_id_tag(s, removed_tag, actor=actor, now=now)
        if not removed:
            return feedback("That id tag was already removed.", ok=False), bump(n), no_update
        return feedback(f"Id tag {removed_tag} removed.", ok=True), bump(n), no_update
    try:
        with session_scope() as s:
            row = assign_id_tag(s, tag, account, actor=actor, now=now)
    except OcppAdminError as error:
        return feedback(str(error), ok=False), no_update, no_update
    who = " · ".join(p for p in (row.account_id, row.email) if p)
    return feedback(f"Id tag {row.id_tag} now belongs to {who}.", ok=True), bump(n), ""


@callback(
    Output(RESERVATIONS_ID, "children"),
    Input("refresh-interval", "n_intervals"),
)
@admin_only
def render_reservations(_n: object) -> Any:
    return timed_table(sent_reservations, reservations_table)


@callback(
    Output(cmd.FLEET_LOG_ID, "children"),
    Output(cmd.FLEET_NOTE_ID, "children"),
    Output(cmd.FLEET_EXPORT_ID, "href"),
    Input(cmd.FLEET_CHARGER_ID, "value"),
    Input(cmd.FLEET_ACTION_ID, "value"),
    Input(cmd.FLEET_STATUS_ID, "value"),
    Input(cmd.FLEET_FROM_ID, "value"),
    Input(cmd.FLEET_TO_ID, "value"),
    Input("refresh-interval", "n_intervals"),
)
@admin_only
def render_command_log(
    charger: object, action: object, status: object, first: object, last: object, _n: object
) -> tuple[Any, Any, Any]:
    """The fleet's commands matching the filters, latest first; Export CSV carries them."""
    try:
        flt = parse_log_filter(charger, action, status, first, last)
    except CommandError as error:
        return no_update, feedback(str(error), ok=False), no_update
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        rows = command_log_rows(s, flt, tz)
        total = len(rows) if len(rows) < LOG_LIMIT else command_log_count(s, flt, tz)
    return (
        cmd.command_log_table(rows, tz, now, with_charger=True),
        cmd.fleet_note(len(rows), total),
        cmd.export_href(flt),
    )
