"""``/account``: My account, for any signed-in person. Profile (display name), Password (the
current one first; the person's other sessions are signed out, this one stays), Notifications
(saved at once), Cards (the active account's id tags: a name each, Block for a lost card) and
API tokens (the ``me`` scope, customer accounts only; the secret shown once).

The layout is a static skeleton. Every callback takes the person and the account from the
server session (``current_user``, ``current_account``); the browser sends only what was typed
and which card or token a button names, which is looked up again within the account (another
account's card reads as no such card).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from flask import current_app
from flask_login import current_user

from auth.accounts import AccountInfo, current_account, current_actor, keep_signed_in
from auth.attempts import AttemptCounter, Refused
from components.account import (
    ADMIN_CARDS,
    ADMIN_TOKENS,
    CARD_BLOCK_TYPE,
    CARD_NAME_TYPE,
    CARD_SAVE_TYPE,
    CARDS_FEEDBACK_ID,
    CARDS_INTRO_ID,
    CARDS_LIST_ID,
    CARDS_VERSION_ID,
    EMAIL_ID,
    NAME_FEEDBACK_ID,
    NAME_INPUT_ID,
    NAME_SAVE_ID,
    NOTIFY_BOX_ID,
    NOTIFY_FEEDBACK_ID,
    NOTIFY_SWITCH_ID,
    PASSWORD_FEEDBACK_ID,
    PASSWORD_FIELDS,
    PASSWORD_SAVE_ID,
    TOKEN_CREATE_ID,
    TOKEN_CREATED_ID,
    TOKEN_FORM_ID,
    TOKEN_HIDE_ID,
    TOKEN_NAME_ID,
    TOKEN_REVOKE_TYPE,
    TOKENS_FEEDBACK_ID,
    TOKENS_LIST_ID,
    TOKENS_VERSION_ID,
    account_skeleton,
    cards_list,
    created_token,
    note,
    notifications_switch,
    tokens_list,
)
from components.forms import error_id, failure, success
from data.accounts.cards import account_cards, block_card, name_card
from data.accounts.profile import (
    change_password,
    profile,
    set_display_name,
    set_email_notifications,
)
from data.accounts.tokens import (
    ME_SCOPE,
    NAME_LENGTH,
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
)
from data.accounts.validation import InvalidInput
from data.charging.dashboard import operator_settings
from pages._admin import bump, clicked, pressed
from web.db import read_scope, session_scope

dash.register_page(
    __name__, path="/account", title="My account · Polaris Express", name="My account"
)

TOO_MANY_TRIES = "Too many tries. Nothing was checked; try again in {wait}."
CHANGED = "Your password is changed. Your other sessions are signed out; this one stays."


def layout(**_: object) -> Component:
    return account_skeleton()


def _me() -> tuple[int, AccountInfo]:
    """The signed-in person and their active account, from the server session only."""
    account = current_account()
    if account is None or not current_user.is_authenticated:
        raise PermissionError("no active account")
    return int(current_user.user_id), account


# --- Profile and notifications ------------------------------------------------------------------


@callback(
    Output(EMAIL_ID, "children"),
    Output(NAME_INPUT_ID, "value"),
    Output(NOTIFY_BOX_ID, "children"),
    Input("url", "pathname"),
)
def show_profile(_path: object) -> tuple[Any, ...]:
    user_id, _account = _me()
    with read_scope() as s:
        me = profile(s, user_id)
    return me.email, me.display_name, notifications_switch(me.email_notifications)


@callback(
    Output(NAME_FEEDBACK_ID, "children"),
    Output(NAME_INPUT_ID, "value", allow_duplicate=True),
    Output(NAME_INPUT_ID, "invalid"),
    Input(NAME_SAVE_ID, "n_clicks"),
    State(NAME_INPUT_ID, "value"),
    prevent_initial_call=True,
)
def save_display_name(clicks: object, name: object) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    user_id, _account = _me()
    try:
        with session_scope() as s:
            clean = set_display_name(s, user_id, name, actor=current_actor(), now=datetime.now(UTC))
    except InvalidInput as exc:
        return failure(exc.message), no_update, True
    return success(f"Saved: you are {clean} now."), clean, False


@callback(
    Output(NOTIFY_FEEDBACK_ID, "children"),
    Input(NOTIFY_SWITCH_ID, "value"),
    prevent_initial_call=True,
)
def save_notifications(on: object) -> Any:
    """Saved as soon as the switch moves (only a real true or false counts)."""
    if not isinstance(on, bool):
        raise PreventUpdate
    user_id, _account = _me()
    with session_scope() as s:
        changed = set_email_notifications(
            s, user_id, on, actor=current_actor(), now=datetime.now(UTC)
        )
    if not changed:  # the switch drawn with the stored value: nothing to save or say
        raise PreventUpdate
    return success("E-mail notifications are on." if on else "E-mail notifications are off.")


# --- Password -----------------------------------------------------------------------------------


def _attempts() -> AttemptCounter:
    limiter = current_app.extensions["polaris_limiter"]
    return AttemptCounter(limiter.storage, current_app.config.get("RATELIMIT_KEY_PREFIX", ""))


@callback(
    Output(PASSWORD_FEEDBACK_ID, "children"),
    *(Output(i, "value") for i in PASSWORD_FIELDS.values()),
    *(Output(error_id(i), "children") for i in PASSWORD_FIELDS.values()),
    *(Output(i, "invalid") for i in PASSWORD_FIELDS.values()),
    Input(PASSWORD_SAVE_ID, "n_clicks"),
    *(State(i, "value") for i in PASSWORD_FIELDS.values()),
    prevent_initial_call=True,
)
def save_password(clicks: object, current: object, new: object) -> tuple[Any, ...]:
    """The current password first (counted like a sign-in confirmation before it is checked),
    then the new one; the other sessions end, this one is issued again."""
    if not clicked(clicks):
        raise PreventUpdate
    user_id, _account = _me()
    attempt = _attempts().reauth(str(user_id))
    if isinstance(attempt, Refused):
        text = TOO_MANY_TRIES.format(wait=attempt.wait_text)
        return failure(text), "", no_update, "", "", True, False
    try:
        with session_scope() as s:
            change_password(s, user_id, current, new, actor=current_actor(), now=datetime.now(UTC))
    except InvalidInput as exc:
        if "current" not in exc.errors:
            _attempts().refund(attempt)  # the right current password is no guess
        errors = [exc.errors.get(field, "") for field in PASSWORD_FIELDS]
        return (
            failure("Nothing was changed: fix the fields marked above."),
            "",
            no_update,
            *errors,
            *(bool(e) for e in errors),
        )
    _attempts().refund(attempt)
    keep_signed_in(user_id)
    return success(CHANGED), "", "", "", "", False, False


# --- Cards --------------------------------------------------------------------------------------


@callback(
    Output(CARDS_LIST_ID, "children"),
    Output(CARDS_INTRO_ID, "hidden"),
    Input("url", "pathname"),
    Input(CARDS_VERSION_ID, "data"),
)
def show_cards(_path: object, _version: object) -> tuple[Any, ...]:
    """The active account's cards (again after each change)."""
    _user_id, account = _me()
    if account.is_admin:
        return note(ADMIN_CARDS), True
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = operator_settings(s).tz
        cards = account_cards(s, account.id)
    return cards_list(cards, tz, now), False


def _card_clicked() -> str | None:
    """The id tag of the card whose button was really pressed (a re-drawn list fires too)."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not pressed():
        return None
    tag = trigger.get("card")
    return tag if isinstance(tag, str) else None


@callback(
    Output(CARDS_FEEDBACK_ID, "children"),
    Output(CARDS_VERSION_ID, "data"),
    Input({"type": CARD_SAVE_TYPE, "card": ALL}, "n_clicks"),
    Input({"type": CARD_BLOCK_TYPE, "card": ALL}, "submit_n_clicks"),
    State({"type": CARD_NAME_TYPE, "card": ALL}, "value"),
    State(CARDS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
def change_card(
    _saves: list[Any], _blocks: list[Any], _names: list[Any], version: object
) -> tuple[Any, ...]:
    """Save name (the name typed next to that card) or Block (confirmed in its dialog), for a
    card of the active account only."""
    id_tag = _card_clicked()
    if id_tag is None:
        raise PreventUpdate
    _user_id, account = _me()
    actor, now = current_actor(), datetime.now(UTC)
    blocking = (
        isinstance(ctx.triggered_id, dict) and ctx.triggered_id.get("type") == CARD_BLOCK_TYPE
    )
    try:
        with session_scope() as s:
            if blocking:
                changed = block_card(s, account.id, id_tag, actor=actor, now=now)
            else:
                typed = next(
                    (
                        item.get("value")
                        for item in ctx.states_list[0]
                        if isinstance(item, dict) and item.get("id", {}).get("card") == id_tag
                    ),
                    None,
                )
                card = name_card(s, account.id, id_tag, typed, actor=actor, now=now)
    except InvalidInput as exc:
        return failure(exc.message), bump(version)
    if blocking:
        text = (
            f"Card {id_tag} is blocked: chargers refuse it now. Ask the operator for a new one."
            if changed
            else f"Card {id_tag} was already blocked."
        )
    elif card.name:
        text = f"Card {card.id_tag} is now called {card.name}."
    else:
        text = f"Card {card.id_tag} has no name now."
    return success(text), bump(version)


# --- API tokens ---------------------------------------------------------------------------------


@callback(
    Output(TOKENS_LIST_ID, "children"),
    Output(TOKEN_FORM_ID, "hidden"),
    Input("url", "pathname"),
    Input(TOKENS_VERSION_ID, "data"),
)
def show_tokens(_path: object, _version: object) -> tuple[Any, ...]:
    """The active customer account's tokens, newest first (an admin account: a pointer)."""
    _user_id, account = _me()
    if account.is_admin:
        return note(ADMIN_TOKENS), True
    now = datetime.now(UTC)
    with read_scope() as s:
        tz = operator_settings(s).tz
        rows = list_tokens(s, account.id)
    return tokens_list(rows, tz, now), False


@callback(
    Output(TOKEN_CREATED_ID, "children"),
    Output(TOKEN_NAME_ID, "value"),
    Output(TOKENS_VERSION_ID, "data"),
    Input(TOKEN_CREATE_ID, "n_clicks"),
    State(TOKEN_NAME_ID, "value"),
    State(TOKENS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
def create(clicks: object, name: object, version: object) -> tuple[Any, ...]:
    """A ``me`` token for the active customer account; its secret, this once."""
    if not clicked(clicks):
        raise PreventUpdate
    _user_id, account = _me()
    if account.is_admin:
        return failure(ADMIN_TOKENS), no_update, no_update
    text = name.strip() if isinstance(name, str) else ""
    if len(text) > NAME_LENGTH:
        return failure(f"Keep the name under {NAME_LENGTH} characters."), no_update, no_update
    actor = current_actor()
    try:
        with session_scope() as s:
            token = create_token(
                s,
                actor.user,
                datetime.now(UTC),
                account_id=account.id,
                name=text or None,
                scopes=[ME_SCOPE],
                actor=actor,
            )
    except TokenError as exc:
        return failure(str(exc)), no_update, no_update
    return created_token(token.secret, text or None), "", bump(version)


@callback(
    Output(TOKEN_CREATED_ID, "children", allow_duplicate=True),
    Input(TOKEN_HIDE_ID, "n_clicks"),
    prevent_initial_call=True,
)
def hide_secret(clicks: object) -> Any:
    """After "I have copied it", the secret leaves the page."""
    if not clicked(clicks):
        raise PreventUpdate
    _me()
    return None


@callback(
    Output(TOKENS_FEEDBACK_ID, "children"),
    Output(TOKENS_VERSION_ID, "data", allow_duplicate=True),
    Input({"type": TOKEN_REVOKE_TYPE, "token": ALL}, "submit_n_clicks"),
    State(TOKENS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
def revoke(_submits: list[Any], version: object) -> tuple[Any, ...]:
    """Revoke, confirmed in the dialog: only a token of the active account."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not pressed():
        raise PreventUpdate
    token_id = trigger.get("token")
    if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 < token_id < 2**63:
        raise PreventUpdate
    _user_id, account = _me()
    try:
        with session_scope() as s:
            changed = revoke_token(
                s, token_id, datetime.now(UTC), actor=current_actor(), account_id=account.id
            )
    except TokenError:
        return failure("There is no such token on this account."), bump(version)
    text = (
        "Token revoked: scripts using it now get 401."
        if changed
        else "That token was already revoked."
    )
    return success(text), bump(version)
