"""One person on /admin/accounts: their accounts, plan, restricted chargers, password, removal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.format import format_datetime
from components.forms import form_field, live_region, text_input
from components.landmarks import aria as _aria
from components.plans import NO_PLAN_VALUE
from data.accounts.cards import Card
from data.accounts.people import Person, PersonAccount
from data.accounts.validation import PASSWORD_MIN_LENGTH
from data.chargers.grants import GrantedCharger
from data.core.models import Role
from data.ocpp.admin import ID_TAG_MAX_LENGTH

# Every id starts with ``admin-``: the callback gate refuses customers for those.
PERSON_PANEL_ID = "admin-person-panel"
PERSON_HEADING_ID = "admin-person-heading"
PERSON_ACCOUNTS_ID = "admin-person-accounts"
ACCOUNT_PICK_TYPE = "admin-account-pick"  # {"type": ..., "account": id}
ACCOUNT_DEFAULT_TYPE = "admin-account-default"
ACCOUNT_HEADING_ID = "admin-account-heading"
CUSTOMER_TOOLS_ID = "admin-customer-tools"
ADMIN_ACCOUNT_NOTE_ID = "admin-admin-account-note"
ACCOUNT_TOOLS_ID = "admin-account-tools"

PLAN_SELECT_ID = "admin-account-plan"
PLAN_SAVE_ID = "admin-account-plan-save"
PLAN_FEEDBACK_ID = "admin-account-plan-feedback"

GRANTS_LIST_ID = "admin-account-grants"
REVOKE_TYPE = "admin-grant-revoke"  # {"type": ..., "charger": id}
GRANT_CHARGER_ID = "admin-grant-charger"
GRANT_SAVE_ID = "admin-grant-save"
GRANT_FEEDBACK_ID = "admin-grant-feedback"

CARDS_LIST_ID = "admin-account-cards"
CARD_ADD_ID = "admin-card-add-tag"
CARD_ADD_SAVE_ID = "admin-card-add-save"
CARD_FEEDBACK_ID = "admin-card-feedback"
CARD_UNBLOCK_TYPE = "admin-card-unblock"  # {"type": ..., "card": id tag}

PASSWORD_INPUT_ID = "admin-password"  # noqa: S105 - a component id
PASSWORD_SAVE_ID = "admin-password-save"  # noqa: S105 - a component id
PASSWORD_FEEDBACK_ID = "admin-password-feedback"  # noqa: S105 - a component id

DEFAULT_FEEDBACK_ID = "admin-default-feedback"

REMOVE_OPEN_ID = "admin-remove-open"
REMOVE_MODAL_ID = "admin-remove-modal"
REMOVE_BODY_ID = "admin-remove-body"
REMOVE_CONFIRM_ID = "admin-remove-confirm"
REMOVE_CANCEL_ID = "admin-remove-cancel"
REMOVE_FEEDBACK_ID = "admin-remove-feedback"

ADD_ROLE_ID = "admin-add-role"
ADD_ACCOUNT_ID = "admin-add-account-id"
ADD_LABEL_ID = "admin-add-label"
ADD_PLAN_ID = "admin-add-plan"
ADD_SAVE_ID = "admin-add-save"
ADD_FEEDBACK_ID = "admin-add-feedback"
ADD_ACCOUNT_FIELDS = {"account_id": ADD_ACCOUNT_ID, "label": ADD_LABEL_ID, "plan": ADD_PLAN_ID}

ROLE_TEXT = {Role.customer: "Customer", Role.admin: "Admin"}


def person_panel() -> html.Section:
    """Hidden until a row is chosen; every control exists from the start (stable ids)."""
    return html.Section(
        id=PERSON_PANEL_ID,
        hidden=True,
        className="card mt-3 admin-person-panel",
        **_aria(labelledby=PERSON_HEADING_ID),
        children=html.Div(
            className="card-body",
            children=[
                html.Div(id=PERSON_HEADING_ID),
                html.Div(id=PERSON_ACCOUNTS_ID, className="mt-3"),
                live_region(DEFAULT_FEEDBACK_ID),
                dbc.Row(
                    className="g-4 mt-1",
                    children=[
                        dbc.Col(account_tools(), lg=7),
                        dbc.Col([password_form(), html.Hr(), add_account_form()], lg=5),
                    ],
                ),
            ],
        ),
    )


def person_heading(p: Person) -> list[Component]:
    password = (
        dbc.Badge("Has a password", color="light", text_color="dark", className="border")
        if p.has_password
        else dbc.Badge("No password yet: cannot sign in", color="warning", text_color="dark")
    )
    return [
        html.H2(p.display_name, className="h4 mb-1"),
        html.Div(
            [html.Span(p.email, className="me-2 admin-person-email"), password],
            className="d-flex flex-wrap align-items-center gap-1",
        ),
    ]


def _account_summary(a: PersonAccount) -> list[Component]:
    parts: list[Component] = [
        html.Span(a.account_id, className="fw-semibold me-2 admin-account-id"),
        dbc.Badge(
            ROLE_TEXT[a.role],
            color="dark" if a.is_admin else "secondary",
            className="me-1",
        ),
    ]
    if a.label:
        parts.append(html.Span(a.label, className="me-2"))
    if not a.is_admin:
        plan = a.plan_name or "no plan"
        grants = f"{a.grants} restricted charger{'s' if a.grants != 1 else ''}"
        parts.append(html.Span(f"Plan: {plan} · {grants}", className="small text-body-secondary"))
    if a.is_default:
        parts.append(
            dbc.Badge("✓ Signs in here", color="success", className="ms-2 admin-default-badge")
        )
    return parts


def _managing_badge() -> dbc.Badge:
    return dbc.Badge("Managing below", color="primary", className="admin-managing")


def _account_button(label: str, button_type: str, account_id: str, color: str) -> dbc.Button:
    """A small outlined button acting on one account (``{"type": button_type, "account": id}``)."""
    return dbc.Button(
        label,
        id={"type": button_type, "account": account_id},
        size="sm",
        color=color,
        outline=True,
        n_clicks=0,
    )


def person_accounts(p: Person, selected: str | None) -> Component:
    """The person's accounts; the chosen one is highlighted and the tools below act on it."""
    if not p.accounts:
        return dbc.Alert(
            "This person has no account yet, so they cannot sign in. Add one below.",
            color="warning",
            className="mb-0",
        )
    items = []
    # Someone who holds an admin account always signs in to one
    # (data.accounts.signin.landing_account_id).
    holds_admin = any(a.is_admin for a in p.accounts)
    for a in p.accounts:
        is_selected = a.account_id == selected
        actions: list[Component] = [_managing_badge()] if is_selected else []
        if not is_selected:
            actions.append(_account_button("Manage", ACCOUNT_PICK_TYPE, a.account_id, "primary"))
        if not a.is_default and (a.is_admin or not holds_admin):
            actions.append(
                _account_button(
                    "Sign in here by default", ACCOUNT_DEFAULT_TYPE, a.account_id, "secondary"
                )
            )
        items.append(
            # html.Li, not dbc.ListGroupItem: only html components take aria-* attributes.
            html.Li(
                html.Div(
                    [
                        html.Div(_account_summary(a), className="flex-grow-1"),
                        html.Div(actions, className="d-flex flex-wrap gap-2"),
                    ],
                    className="d-flex flex-wrap align-items-center justify-content-between gap-2",
                ),
                className="list-group-item admin-person-account"
                + (
                    " admin-account-selected bg-body-tertiary border-start border-primary border-4"
                    if is_selected
                    else ""
                ),
                **(_aria(current="true") if is_selected else {}),
            )
        )
    return html.Div(
        [html.H3("Accounts", className="h6 fw-bold mb-2"), html.Ul(items, className="list-group")],
    )


def account_heading(a: PersonAccount | None) -> Component:
    if a is None:
        return html.P("Choose one of the accounts above.", className="text-body-secondary")
    return html.H3(
        [f"Account {a.account_id} ", html.Small(f"({ROLE_TEXT[a.role].lower()})")],
        className="h5 mb-3",
    )


def account_tools() -> html.Div:
    """Plan, restricted chargers and removal for the chosen account."""
    return html.Div(
        id=ACCOUNT_TOOLS_ID,
        children=[
            html.Div(id=ACCOUNT_HEADING_ID),
            html.P(
                "Admin accounts see every charger and carry no plan.",
                id=ADMIN_ACCOUNT_NOTE_ID,
                hidden=True,
                className="text-body-secondary",
            ),
            html.Div(
                id=CUSTOMER_TOOLS_ID,
                hidden=True,
                children=[
                    html.H4("Plan", className="h6 fw-bold"),
                    html.Div(
                        [
                            dbc.Label(
                                "Plan for this account",
                                html_for=PLAN_SELECT_ID,
                                className="visually-hidden",
                            ),
                            dbc.Select(
                                id=PLAN_SELECT_ID, options=[], className="admin-plan-select"
                            ),
                            dbc.Button("Save plan", id=PLAN_SAVE_ID, n_clicks=0, color="primary"),
                        ],
                        className="d-flex flex-wrap gap-2",
                    ),
                    live_region(PLAN_FEEDBACK_ID),
                    html.H4("Restricted chargers", className="h6 fw-bold mt-4"),
                    html.P(
                        "Public chargers are open to every customer. Grant restricted ones here.",
                        className="small text-body-secondary mb-2",
                    ),
                    html.Div(id=GRANTS_LIST_ID),
                    html.Div(
                        [
                            html.Div(
                                [
                                    dbc.Label(
                                        "Grant a restricted charger",
                                        html_for=GRANT_CHARGER_ID,
                                        className="small",
                                    ),
                                    dcc.Dropdown(
                                        id=GRANT_CHARGER_ID,
                                        options=[],
                                        searchable=True,
                                        clearable=True,
                                        placeholder="Search by charger id or name",
                                    ),
                                ],
                                className="flex-grow-1 admin-grant-picker",
                            ),
                            dbc.Button("Grant", id=GRANT_SAVE_ID, n_clicks=0, color="primary"),
                        ],
                        className="d-flex flex-wrap align-items-end gap-2 mt-2",
                    ),
                    live_region(GRANT_FEEDBACK_ID),
                    html.H4("Cards", className="h6 fw-bold mt-4"),
                    html.P(
                        "The account's charging cards and app tags. A driver can block a lost "
                        "card; only an operator unblocks it or adds one.",
                        className="small text-body-secondary mb-2",
                    ),
                    html.Div(id=CARDS_LIST_ID),
                    html.Div(
                        [
                            html.Div(
                                [
                                    dbc.Label(
                                        "Add a card (its id tag)",
                                        html_for=CARD_ADD_ID,
                                        className="small",
                                    ),
                                    dbc.Input(
                                        id=CARD_ADD_ID,
                                        maxlength=ID_TAG_MAX_LENGTH,
                                        autocomplete="off",
                                        placeholder="e.g. 04A1B2C3D4",
                                    ),
                                ],
                                className="flex-grow-1",
                            ),
                            dbc.Button(
                                "Add card", id=CARD_ADD_SAVE_ID, n_clicks=0, color="primary"
                            ),
                        ],
                        className="d-flex flex-wrap align-items-end gap-2 mt-2",
                    ),
                    live_region(CARD_FEEDBACK_ID),
                ],
            ),
            html.H4("Remove this account", className="h6 fw-bold mt-4"),
            html.P(
                "Only an account without sessions or reservations can be removed; its grants "
                "and cards go with it.",
                className="small text-body-secondary mb-2",
            ),
            dbc.Button(
                "Remove account…", id=REMOVE_OPEN_ID, n_clicks=0, color="danger", outline=True
            ),
            live_region(REMOVE_FEEDBACK_ID),
        ],
    )


def grants_list(grants: Sequence[GrantedCharger], total: int) -> Component:
    if not grants:
        return html.P("No restricted chargers granted.", className="small mb-0 admin-no-grants")
    items = [
        dbc.ListGroupItem(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(g.friendly_name, className="fw-semibold me-2"),
                            html.Span(
                                f"{g.charger_id} · {g.connector_type}",
                                className="small text-body-secondary",
                            ),
                        ]
                    ),
                    dbc.Button(
                        ["Revoke", html.Span(f" {g.friendly_name}", className="visually-hidden")],
                        id={"type": REVOKE_TYPE, "charger": g.charger_id},
                        size="sm",
                        color="danger",
                        outline=True,
                        n_clicks=0,
                    ),
                ],
                className="d-flex align-items-center justify-content-between gap-2",
            ),
            className="py-2 admin-grant",
        )
        for g in grants
    ]
    more = []
    if total > len(grants):
        more = [
            html.P(
                f"Showing {len(grants)} of {total:,} granted chargers.",
                className="small text-body-secondary mt-1 mb-0",
            )
        ]
    return html.Div([dbc.ListGroup(items, className="admin-grants"), *more])


def cards_list(cards: Sequence[Card], tz: ZoneInfo, now: datetime) -> Component:
    """The chosen account's cards; a blocked one with who blocked it, when, and Unblock."""
    if not cards:
        return html.P("No cards.", className="small mb-0 admin-no-cards")
    items = []
    for card in cards:
        what: list[Component] = [
            html.Span(card.name or "Unnamed card", className="fw-semibold me-2"),
            html.Code(card.id_tag, className="small"),
        ]
        action: Component | None = None
        if card.blocked_at is not None:
            who = f" by {card.blocked_by}" if card.blocked_by else ""
            what.append(
                html.Div(
                    f"Blocked {format_datetime(card.blocked_at, tz, now)}{who}",
                    className="small text-danger-emphasis",
                )
            )
            action = dbc.Button(
                ["Unblock", html.Span(f" card {card.id_tag}", className="visually-hidden")],
                id={"type": CARD_UNBLOCK_TYPE, "card": card.id_tag},
                size="sm",
                color="secondary",
                outline=True,
                n_clicks=0,
            )
        items.append(
            html.Li(
                html.Div(
                    [html.Div(what, className="text-break"), action],
                    className="d-flex align-items-center justify-content-between gap-2",
                ),
                className="list-group-item py-2 admin-card",
            )
        )
    return html.Ul(items, className="list-group admin-cards")


def charger_choice_options(choices: Sequence[Any]) -> list[dict[str, str]]:
    return [
        {"label": f"{c.friendly_name} ({c.charger_id})", "value": c.charger_id} for c in choices
    ]


def password_form() -> html.Div:
    return html.Div(
        [
            html.H3("Password", className="h6 fw-bold"),
            form_field(
                "New password",
                text_input(
                    PASSWORD_INPUT_ID,
                    type="password",
                    autocomplete="new-password",
                    minlength=PASSWORD_MIN_LENGTH,
                    maxlength=1024,
                ),
                f"At least {PASSWORD_MIN_LENGTH} characters. Their other sessions end.",
                class_name="mb-2",
            ),
            dbc.Button("Set password", id=PASSWORD_SAVE_ID, n_clicks=0, color="primary"),
            live_region(PASSWORD_FEEDBACK_ID),
        ]
    )


def add_account_form() -> html.Div:
    return html.Div(
        [
            html.H3("Add an account", className="h6 fw-bold"),
            form_field(
                "Kind",
                dbc.Select(
                    id=ADD_ROLE_ID,
                    options=[
                        {"label": "Customer account", "value": Role.customer.value},
                        {"label": "Admin account", "value": Role.admin.value},
                    ],
                    value=Role.customer.value,
                ),
                class_name="mb-2",
            ),
            form_field(
                "Account id",
                text_input(ADD_ACCOUNT_ID, placeholder="Generated when empty", maxlength=64),
                class_name="mb-2",
            ),
            form_field("Label", text_input(ADD_LABEL_ID, maxlength=200), class_name="mb-2"),
            form_field(
                "Plan (customer accounts)",
                dbc.Select(id=ADD_PLAN_ID, options=[], value=NO_PLAN_VALUE),
                class_name="mb-2",
            ),
            dbc.Button("Add account", id=ADD_SAVE_ID, n_clicks=0, color="secondary"),
            live_region(ADD_FEEDBACK_ID),
        ]
    )


def remove_modal() -> dbc.Modal:
    return dbc.Modal(
        id=REMOVE_MODAL_ID,
        is_open=False,
        children=[
            dbc.ModalHeader(dbc.ModalTitle("Remove this account?")),
            dbc.ModalBody(id=REMOVE_BODY_ID),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep it", id=REMOVE_CANCEL_ID, n_clicks=0, color="secondary"),
                    dbc.Button("Remove account", id=REMOVE_CONFIRM_ID, n_clicks=0, color="danger"),
                ]
            ),
        ],
    )


def remove_question(account_id: str, person_name: str) -> list[Component]:
    return [
        html.P(f"Remove account {account_id} of {person_name}?"),
        html.P(
            "Its charger grants and cards are deleted. This cannot be undone.",
            className="mb-0 text-body-secondary",
        ),
    ]
