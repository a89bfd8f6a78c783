"""``/admin/tokens``: personal API tokens for scripts (``curl -H "Authorization: Bearer $T"``).

Lists every token (prefix, account, name, created, last used, revoked; times in the operator's
time zone), creates one for the signed-in person's active admin account (the account comes from
the server side, never from the browser), and revokes one after asking. A new token's secret is
in the answer to "Create token" only: no store holds it and no later callback sends it again
("I have copied it" removes it from the page). The admin chooses its scopes: ``export``
(``/export/``) and ``commands`` (the JSON API, ``web.api``); see ``data.accounts.tokens``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from flask import request

from auth.accounts import current_actor
from auth.roles import admin_only, require_admin
from components.admin import admin_page
from components.tokens import (
    REVOKE_BODY_ID,
    REVOKE_CONFIRM_ID,
    REVOKE_KEEP_ID,
    REVOKE_MODAL_ID,
    REVOKE_TARGET_ID,
    TOKENS_CREATE_ID,
    TOKENS_CREATED_ID,
    TOKENS_FEEDBACK_ID,
    TOKENS_HIDE_ID,
    TOKENS_LIST_ID,
    TOKENS_NAME_ID,
    TOKENS_REVOKE_TYPE,
    TOKENS_SCOPES_ID,
    TOKENS_VERSION_ID,
    created_notice,
    message,
    revoke_question,
    tokens_skeleton,
    tokens_table,
)
from data.accounts.tokens import (
    NAME_LENGTH,
    SCOPES,
    TokenError,
    TokenRow,
    create_token,
    list_tokens,
    revoke_token,
)
from data.charging.dashboard import operator_settings
from pages._admin import admin_layout, bump, pressed, timed_table
from web.db import session_scope

dash.register_page(
    __name__, path="/admin/tokens", title="API tokens · Polaris Express", name="API tokens"
)


@admin_layout
def layout(**_: object) -> Component:
    return admin_page("API tokens", "/admin/tokens", *tokens_skeleton())


def _token_id(value: object) -> int | None:
    """A token id from the browser: only a lookup key (anything but a small int is none)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        return None
    return value


def _find(rows: list[TokenRow], token_id: int) -> TokenRow | None:
    return next((row for row in rows if row.token_id == token_id), None)


@callback(
    Output(TOKENS_LIST_ID, "children"),
    Input(TOKENS_VERSION_ID, "data"),
)
@admin_only
def show_tokens(_version: object) -> Component:
    """Every token, newest first; again after each create or revoke."""
    return timed_table(list_tokens, tokens_table)


@callback(
    Output(TOKENS_CREATED_ID, "children"),
    Output(TOKENS_NAME_ID, "value"),
    Output(TOKENS_VERSION_ID, "data"),
    Input(TOKENS_CREATE_ID, "n_clicks"),
    State(TOKENS_NAME_ID, "value"),
    State(TOKENS_VERSION_ID, "data"),
    State(TOKENS_SCOPES_ID, "value"),
    prevent_initial_call=True,
)
@admin_only
def create(_clicks: object, name: object, version: object, scopes: object) -> tuple[Any, Any, Any]:
    """A token for the signed-in person's active admin account, with the scopes ticked; its
    secret, this once."""
    account = require_admin()  # the server's idea of who is asking, not the browser's
    text = name.strip() if isinstance(name, str) else ""
    chosen = [s for s in scopes if s in SCOPES] if isinstance(scopes, list) else []
    if not chosen:
        return message("Tick what the token may do.", ok=False), no_update, no_update
    if len(text) > NAME_LENGTH:
        return (
            message(f"The name is longer than {NAME_LENGTH} characters.", ok=False),
            (no_update),
            no_update,
        )
    now, actor = datetime.now(UTC), current_actor()
    try:
        with session_scope() as s:
            tz = operator_settings(s).tz
            token = create_token(
                s,
                actor.user,
                now,
                account_id=account.id,
                name=text or None,
                scopes=chosen,
                actor=actor,
            )
    except TokenError as exc:
        return message(str(exc), ok=False), no_update, no_update
    month_start = now.astimezone(tz).date().replace(day=1)
    notice = created_notice(
        token.token_id,
        token.account_id,
        token.secret,
        request.host_url,
        month_start,
        token.scopes,
    )
    return notice, "", bump(version)


@callback(
    Output(TOKENS_CREATED_ID, "children", allow_duplicate=True),
    Input(TOKENS_HIDE_ID, "n_clicks"),
    prevent_initial_call=True,
)
@admin_only
def hide_secret(clicks: object) -> Any:
    """After "I have copied it", the secret leaves the page."""
    if not clicks:
        raise PreventUpdate
    return None


@callback(
    Output(REVOKE_MODAL_ID, "is_open"),
    Output(REVOKE_BODY_ID, "children"),
    Output(REVOKE_TARGET_ID, "data"),
    Output(TOKENS_FEEDBACK_ID, "children"),
    Output(TOKENS_VERSION_ID, "data", allow_duplicate=True),
    Input({"type": TOKENS_REVOKE_TYPE, "token": ALL}, "n_clicks"),
    Input(REVOKE_KEEP_ID, "n_clicks"),
    Input(REVOKE_CONFIRM_ID, "n_clicks"),
    State(REVOKE_TARGET_ID, "data"),
    State(TOKENS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def revoke_flow(
    _revoke: list[Any], _keep: object, _confirm: object, target: object, version: object
) -> tuple[Any, ...]:
    """Revoke…: name the token (read again) and ask. Keep it: close. Revoke token: revoke."""
    trigger = ctx.triggered_id
    now = datetime.now(UTC)
    if trigger == REVOKE_KEEP_ID:
        return False, no_update, None, no_update, no_update
    if isinstance(trigger, dict) and trigger.get("type") == TOKENS_REVOKE_TYPE:
        # A table rebuilt after a change fires with n_clicks None: that is not a click.
        if not pressed():
            raise PreventUpdate
        token_id = _token_id(trigger.get("token"))
        with session_scope() as s:
            tz = operator_settings(s).tz
            row = None if token_id is None else _find(list_tokens(s), token_id)
        if row is None:
            note = message("That token does not exist.", ok=False)
            return False, no_update, None, note, bump(version)
        if row.revoked_at is not None:
            note = message(f"Token {row.token_id} is already revoked.", ok=False)
            return False, no_update, None, note, bump(version)
        return True, revoke_question(row, tz, now), row.token_id, None, no_update
    if trigger == REVOKE_CONFIRM_ID:
        token_id = _token_id(target)
        if token_id is None:
            return False, no_update, None, message("Choose a token first.", ok=False), no_update
        try:
            with session_scope() as s:
                changed = revoke_token(s, token_id, now, actor=current_actor())
        except TokenError as exc:
            return False, no_update, None, message(str(exc), ok=False), bump(version)
        text = (
            f"Token {token_id} revoked: requests with it now get 401."
            if changed
            else f"Token {token_id} was already revoked."
        )
        return False, no_update, None, message(text, ok=changed), bump(version)
    raise PreventUpdate
