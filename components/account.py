"""``/account``: what a person changes about themselves. Small builders, no database.

Cards: Profile (display name), Password, Notifications, Cards (id tags: a name each, Block),
API tokens (the ``me`` scope). Every id starts with ``account-`` (never ``admin-``: any signed-in
person may call these callbacks, each for their own person and active account only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.format import format_datetime
from components.forms import card_section, form_field, live_region, text_input
from components.landmarks import aria, data_attributes
from data.accounts.cards import CARD_NAME_LENGTH, Card
from data.accounts.tokens import NAME_LENGTH, TokenRow
from data.accounts.validation import NAME_MAX_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

NAME_INPUT_ID = "account-display-name"
NAME_SAVE_ID = "account-display-name-save"
NAME_FEEDBACK_ID = "account-display-name-feedback"
EMAIL_ID = "account-email"

CURRENT_PASSWORD_ID = "account-password-current"  # noqa: S105 - a component id
NEW_PASSWORD_ID = "account-password-new"  # noqa: S105 - a component id
PASSWORD_SAVE_ID = "account-password-save"  # noqa: S105 - a component id
PASSWORD_FEEDBACK_ID = "account-password-feedback"  # noqa: S105 - a component id
PASSWORD_FIELDS = {"current": CURRENT_PASSWORD_ID, "new": NEW_PASSWORD_ID}

NOTIFY_BOX_ID = "account-notifications-box"
NOTIFY_SWITCH_ID = "account-notifications"
NOTIFY_FEEDBACK_ID = "account-notifications-feedback"

CARDS_VERSION_ID = "account-cards-version"
CARDS_LIST_ID = "account-cards"
CARDS_FEEDBACK_ID = "account-cards-feedback"
CARD_NAME_TYPE = "account-card-name"  # {"type": ..., "card": id tag}
CARD_SAVE_TYPE = "account-card-save"
CARD_BLOCK_TYPE = "account-card-block"  # a confirm dialog: its submit_n_clicks

TOKENS_SECTION_ID = "account-tokens-section"
TOKEN_FORM_ID = "account-token-form"  # noqa: S105 - a component id
CARDS_INTRO_ID = "account-cards-intro"
TOKENS_VERSION_ID = "account-tokens-version"
TOKENS_LIST_ID = "account-tokens"
TOKENS_FEEDBACK_ID = "account-tokens-feedback"
TOKEN_NAME_ID = "account-token-name"  # noqa: S105 - a component id
TOKEN_CREATE_ID = "account-token-create"  # noqa: S105 - a component id
# The one answer that holds a new secret.
TOKEN_CREATED_ID = "account-token-created"  # noqa: S105 - a component id
TOKEN_VALUE_ID = "account-token-value"  # noqa: S105 - a component id
TOKEN_HIDE_ID = "account-token-hide"  # noqa: S105 - a component id
# A confirm dialog: its submit_n_clicks.
TOKEN_REVOKE_TYPE = "account-token-revoke"  # noqa: S105 - a component id

NOTIFY_LABEL = "E-mail me session receipts and booking news"
BLOCKED_NOTE = "Blocked since {when}; ask the operator to unblock."
NO_CARDS = "No cards yet. Your operator gives you a charging card or an app tag."
ADMIN_CARDS = "Admin accounts have no charging cards; switch to a customer account for yours."
ADMIN_TOKENS = "Operators create API tokens at /admin/tokens."


def card_key(kind: str, id_tag: str) -> dict[str, str]:
    return {"type": kind, "card": id_tag}


def token_key(token_id: int) -> dict[str, object]:
    return {"type": TOKEN_REVOKE_TYPE, "token": token_id}


def block_question(card: Card) -> str:
    return (
        f"Block {card.title}? Chargers refuse it at once. Only your operator can unblock it "
        "or give you a new card."
    )


def account_skeleton() -> html.Div:
    """The page before its first answer: every form, the lists' slots."""
    return html.Div(
        [
            html.H1("My account", className="h3 mb-3"),
            dcc.Store(id=CARDS_VERSION_ID, data=0),
            dcc.Store(id=TOKENS_VERSION_ID, data=0),
            dbc.Row(
                [
                    dbc.Col(_profile(), lg=6, className="mb-3"),
                    dbc.Col(_password(), lg=6, className="mb-3"),
                    dbc.Col(_notifications(), lg=6, className="mb-3"),
                    dbc.Col(_cards(), lg=6, className="mb-3"),
                    dbc.Col(_tokens(), xs=12, className="mb-3"),
                ]
            ),
        ],
        className="account-page",
    )


def _profile() -> html.Section:
    return card_section(
        "account-profile",
        "Profile",
        [
            html.P(
                ["Signed in as ", html.Span(id=EMAIL_ID, className="fw-semibold text-break")],
                className="small text-body-secondary",
            ),
            form_field(
                "Display name",
                text_input(NAME_INPUT_ID, maxlength=NAME_MAX_LENGTH, autocomplete="name"),
                "How the app greets you and how operators see you.",
                class_name="mb-2",
            ),
            dbc.Button("Save name", id=NAME_SAVE_ID, n_clicks=0, color="primary"),
            live_region(NAME_FEEDBACK_ID),
        ],
    )


def _password() -> html.Section:
    return card_section(
        "account-password",
        "Password",
        [
            form_field(
                "Current password",
                text_input(
                    CURRENT_PASSWORD_ID,
                    type="password",
                    autocomplete="current-password",
                    maxlength=PASSWORD_MAX_LENGTH,
                ),
                class_name="mb-2",
            ),
            form_field(
                "New password",
                text_input(
                    NEW_PASSWORD_ID,
                    type="password",
                    autocomplete="new-password",
                    minlength=PASSWORD_MIN_LENGTH,
                    maxlength=PASSWORD_MAX_LENGTH,
                ),
                f"At least {PASSWORD_MIN_LENGTH} characters. Your other sessions are signed "
                "out; this one stays.",
                class_name="mb-2",
            ),
            dbc.Button("Change password", id=PASSWORD_SAVE_ID, n_clicks=0, color="primary"),
            live_region(PASSWORD_FEEDBACK_ID),
        ],
    )


def _notifications() -> html.Section:
    return card_section(
        "account-notifications-section",
        "Notifications",
        [
            html.Div(html.P("Loading…", className="text-body-secondary mb-0"), id=NOTIFY_BOX_ID),
            html.P(
                "Saved as soon as you switch it. Off until you turn it on.",
                className="small text-body-secondary mt-2 mb-0",
            ),
            live_region(NOTIFY_FEEDBACK_ID),
        ],
    )


def notifications_switch(on: bool) -> dbc.Switch:
    return dbc.Switch(id=NOTIFY_SWITCH_ID, label=NOTIFY_LABEL, value=on)


def _cards() -> html.Section:
    return card_section(
        "account-cards-section",
        "Cards",
        [
            html.P(
                "Your charging cards and app tags. Name them to tell them apart; block one you "
                "have lost.",
                id=CARDS_INTRO_ID,
                className="small text-body-secondary",
            ),
            html.Div(html.P("Loading cards…", className="text-body-secondary"), id=CARDS_LIST_ID),
            live_region(CARDS_FEEDBACK_ID),
        ],
    )


def cards_list(cards: Sequence[Card], tz: ZoneInfo, now: datetime) -> Component:
    if not cards:
        return html.P(NO_CARDS, className="mb-0 account-no-cards")
    items = [_card_item(card, tz, now) for card in cards]
    return html.Ul(items, className="list-group account-cards")


def _card_item(card: Card, tz: ZoneInfo, now: datetime) -> html.Li:
    name_id = card_key(CARD_NAME_TYPE, card.id_tag)
    # Dash writes a dict id as this JSON text (keys sorted); the label points at it.
    dom_id = json.dumps(name_id, sort_keys=True, separators=(",", ":"))
    shown = card.name or "Unnamed card"
    if card.blocked_at is not None:
        state: Component = dbc.Badge("Blocked", color="danger", className="account-card-badge")
        note: list[Component] = [
            html.P(
                BLOCKED_NOTE.format(when=format_datetime(card.blocked_at, tz, now)),
                className="small text-danger-emphasis mt-2 mb-0 account-card-blocked",
            )
        ]
    else:
        state = dcc.ConfirmDialogProvider(
            dbc.Button(
                ["Block", html.Span(f" card {card.id_tag}", className="visually-hidden")],
                color="danger",
                outline=True,
                size="sm",
                class_name="account-card-block-button",
            ),
            id=card_key(CARD_BLOCK_TYPE, card.id_tag),
            message=block_question(card),
        )
        note = []
    return html.Li(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(shown, className="fw-semibold text-break"),
                            html.Code(card.id_tag, className="small text-break"),
                        ]
                    ),
                    state,
                ],
                className="d-flex align-items-start justify-content-between gap-2 mb-2",
            ),
            dbc.Label(
                f"Name for card {card.id_tag}", html_for=dom_id, class_name="visually-hidden"
            ),
            dbc.InputGroup(
                [
                    dbc.Input(
                        id=name_id,
                        value=card.name or "",
                        placeholder="Name it, e.g. Blue keyring",
                        maxlength=CARD_NAME_LENGTH,
                        class_name="account-card-name-input",
                        autocomplete="off",
                    ),
                    dbc.Button(
                        [
                            "Save name",
                            html.Span(f" for card {card.id_tag}", className="visually-hidden"),
                        ],
                        id=card_key(CARD_SAVE_TYPE, card.id_tag),
                        n_clicks=0,
                        color="secondary",
                        outline=True,
                    ),
                ],
                size="sm",
            ),
            *note,
        ],
        className="list-group-item account-card",
        **data_attributes(card=card.id_tag),
    )


def _tokens() -> html.Section:
    form = html.Div(
        [
            html.Div(
                [
                    dbc.Label("What it is for", html_for=TOKEN_NAME_ID, class_name="small"),
                    dbc.Input(
                        id=TOKEN_NAME_ID,
                        placeholder="e.g. home automation",
                        maxlength=NAME_LENGTH,
                        autocomplete="off",
                    ),
                ],
                className="flex-grow-1 account-token-name-field",
            ),
            dbc.Button("Create token", id=TOKEN_CREATE_ID, n_clicks=0, color="primary"),
        ],
        className="d-flex flex-wrap align-items-end gap-2",
    )
    return card_section(
        TOKENS_SECTION_ID,
        "API tokens",
        [
            html.Div(
                [
                    html.P(
                        "A token lets your own scripts read your data and manage your bookings "
                        "(/api/v1/me/), without your password. It is shown once.",
                        className="small text-body-secondary",
                    ),
                    form,
                ],
                id=TOKEN_FORM_ID,
            ),
            html.Div(id=TOKEN_CREATED_ID, className="mt-3", role="status"),
            html.Div(id=TOKENS_FEEDBACK_ID, role="status", **aria(live="polite")),
            html.Div(
                html.P("Loading tokens…", className="text-body-secondary mb-0"),
                id=TOKENS_LIST_ID,
                className="mt-3",
            ),
        ],
    )


def created_token(secret: str, name: str | None) -> dbc.Alert:
    """The secret, once: a read-only field to copy; "I have copied it" takes it away."""
    what = f" “{name}”" if name else ""
    return dbc.Alert(
        [
            html.P(
                [
                    html.Strong(f"Token{what} created. "),
                    "Copy it now: it is not shown again.",
                ],
                className="mb-2",
            ),
            dbc.Label("Token", html_for=TOKEN_VALUE_ID, class_name="small mb-1"),
            dbc.Input(
                id=TOKEN_VALUE_ID,
                value=secret,
                readonly=True,
                class_name="font-monospace mb-2",
                autocomplete="off",
            ),
            dbc.Button(
                "I have copied it", id=TOKEN_HIDE_ID, color="success", outline=True, size="sm"
            ),
        ],
        color="success",
        class_name="mb-0",
    )


def tokens_list(rows: Sequence[TokenRow], tz: ZoneInfo, now: datetime) -> Component:
    if not rows:
        return html.P("No API tokens yet.", className="text-body-secondary mb-0")
    items = []
    for row in rows:
        created = format_datetime(row.created_at, tz, now)
        used = (
            "never used"
            if row.last_used_at is None
            else ("last used " + format_datetime(row.last_used_at, tz, now))
        )
        if row.revoked_at is None:
            state: Component = dcc.ConfirmDialogProvider(
                dbc.Button(
                    ["Revoke", html.Span(f" token {row.prefix}…", className="visually-hidden")],
                    color="danger",
                    outline=True,
                    size="sm",
                ),
                id=token_key(row.token_id),
                message=f"Revoke token {row.prefix}…? Scripts using it stop working at once.",
            )
        else:
            state = html.Span(
                "Revoked " + format_datetime(row.revoked_at, tz, now),
                className="small text-body-secondary",
            )
        items.append(
            dbc.ListGroupItem(
                html.Div(
                    [
                        html.Div(
                            [
                                html.Span(
                                    row.name or "Unnamed token", className="fw-semibold me-2"
                                ),
                                html.Code(row.prefix + "…", className="small"),
                                html.Div(
                                    f"Created {created}, {used}",
                                    className="small text-body-secondary",
                                ),
                            ],
                            className="text-break",
                        ),
                        state,
                    ],
                    className="d-flex flex-wrap align-items-center justify-content-between gap-2",
                ),
                className="account-token" + (" text-body-secondary" if row.revoked_at else ""),
            )
        )
    return dbc.ListGroup(items, className="account-tokens-list")


def note(text: str) -> html.P:
    return html.P(text, className="text-body-secondary mb-0")
