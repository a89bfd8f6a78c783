"""The pieces of ``/admin/accounts`` and ``/admin/settings``: small typed functions over
``data.accounts.people`` rows. No database access here; the pages' callbacks query and call these.

Every component id starts with ``admin-`` (the callback gate refuses customers for those).
Messages carry a mark and words (✓ Saved, ✕ and the reason), never colour alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.history import export_link
from components.landmarks import aria as _aria
from components.landmarks import scroll_box
from data.accounts.operator_settings import OperatorValues
from data.accounts.people import (
    REFRESH_FILTER,
    SEARCH_FILTER,
    AccountListRow,
    Person,
    PersonAccount,
)
from data.accounts.plans import PlanSummary
from data.accounts.validation import ISO_4217_CODES, PASSWORD_MIN_LENGTH, timezone_names
from data.chargers.grants import GrantedCharger
from data.core.models import Role

# --- ids: /admin/accounts -----------------------------------------------------------------------

ACCOUNTS_SEARCH_ID = "admin-accounts-search"
ACCOUNTS_EXPORT_ID = "admin-accounts-export"
ACCOUNTS_GRID_ID = "admin-accounts-grid"
ACCOUNTS_COUNT_ID = "admin-accounts-count"
ACCOUNTS_ALERT_ID = "admin-accounts-alert"
SELECTED_ID = "admin-accounts-selected"  # {"user_id": int, "account_id": str | None, "rev": n}

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

NEW_OPEN_ID = "admin-new-person-open"
NEW_MODAL_ID = "admin-new-person-modal"
NEW_SAVE_ID = "admin-new-person-save"
NEW_CANCEL_ID = "admin-new-person-cancel"
NEW_FEEDBACK_ID = "admin-new-person-feedback"
NEW_KINDS_ID = "admin-new-kinds"  # checklist: customer / admin
NEW_CUSTOMER_FIELDS_ID = "admin-new-customer-fields"
NEW_ADMIN_FIELDS_ID = "admin-new-admin-fields"

# Field name (as data.accounts.people reports it) -> input id. Each has an error line "<id>-error".
NEW_PERSON_FIELDS = {
    "email": "admin-new-email",
    "display_name": "admin-new-name",
    "password": "admin-new-password",
    "accounts": NEW_KINDS_ID,
    "customer_account_id": "admin-new-customer-id",
    "customer_label": "admin-new-customer-label",
    "customer_plan": "admin-new-customer-plan",
    "admin_account_id": "admin-new-admin-id",
    "admin_label": "admin-new-admin-label",
}
ADD_ACCOUNT_FIELDS = {"account_id": ADD_ACCOUNT_ID, "label": ADD_LABEL_ID, "plan": ADD_PLAN_ID}

# --- ids: /admin/settings -----------------------------------------------------------------------

SETTINGS_PLANS_VERSION_ID = "admin-plans-version"  # bumped after a plan is saved
SETTINGS_OPERATOR_VERSION_ID = "admin-operator-version"
PLANS_TABLE_ID = "admin-plans-table"
PLAN_EDIT_TYPE = "admin-plan-edit"  # {"type": ..., "plan": id}
PLAN_EDITING_ID = "admin-plan-editing"  # store: the plan id being edited, or None
PLAN_FORM_TITLE_ID = "admin-plan-form-title"
PLAN_NEW_ID = "admin-plan-new"
PLAN_FORM_SAVE_ID = "admin-plan-form-save"
PLAN_FORM_FEEDBACK_ID = "admin-plan-form-feedback"
PLAN_FIELDS = {
    "plan_id": "admin-plan-id",
    "name": "admin-plan-name",
    "allowance_kwh": "admin-plan-allowance",
    "currency": "admin-plan-currency",
}
OPERATOR_SAVE_ID = "admin-operator-save"
OPERATOR_FEEDBACK_ID = "admin-operator-feedback"
OPERATOR_FIELDS = {
    "name": "admin-operator-name",
    "support_email": "admin-operator-email",
    "timezone": "admin-operator-timezone",
    "currency": "admin-operator-currency",
}

NO_PLAN = "—"
# The "No plan" choice of a plan select. Not "": dbc.Select keeps "" for its placeholder. Not a
# possible plan id either (ids start with a letter or digit).
NO_PLAN_VALUE = "-"
ROLE_TEXT = {Role.customer: "Customer", Role.admin: "Admin"}
REFRESH_NOTE = "Customers see it the next time their dashboard refreshes."


def error_id(input_id: str) -> str:
    return f"{input_id}-error"


# --- small shared pieces ------------------------------------------------------------------------


def success(message: str) -> html.Div:
    """A confirmation: a tick and words, announced to screen readers by the live region."""
    return html.Div(
        [html.Span("✓ ", **_aria(hidden="true")), message],
        className="admin-feedback text-success-emphasis small mt-2",
    )


def failure(message: str) -> html.Div:
    return html.Div(
        [html.Span("✕ ", **_aria(hidden="true")), message],
        className="admin-feedback text-danger small mt-2",
    )


def live_region(region_id: str) -> html.Div:
    """Where a form's outcome appears; polite, so typing is not interrupted."""
    return html.Div(id=region_id, role="status", **_aria(live="polite"))


def field_error(input_id: str) -> html.Div:
    """The message next to one field (empty when the field is fine)."""
    return html.Div(
        id=error_id(input_id), className="invalid-feedback d-block field-error", role="alert"
    )


def _field(
    label: str,
    control: Component,
    input_id: str,
    help_text: str | None = None,
    class_name: str = "mb-3",
) -> html.Div:
    children: list[Component] = [dbc.Label(label, html_for=input_id)]
    children.append(control)
    if help_text:
        children.append(dbc.FormText(help_text))
    children.append(field_error(input_id))
    return html.Div(children, className=class_name)


def _text_input(input_id: str, **kwargs: Any) -> dbc.Input:
    return dbc.Input(id=input_id, type=kwargs.pop("type", "text"), **kwargs)


def currency_options() -> list[dict[str, str]]:
    return [{"label": code, "value": code} for code in ISO_4217_CODES]


def currency_dropdown(dropdown_id: str) -> dcc.Dropdown:
    """The ISO 4217 picker of the plan and operator forms (type to search)."""
    return dcc.Dropdown(
        id=dropdown_id,
        options=currency_options(),
        searchable=True,
        clearable=False,
        placeholder="ISO 4217, e.g. EUR",
    )


def timezone_options() -> list[dict[str, str]]:
    return [{"label": name.replace("_", " "), "value": name} for name in timezone_names()]


def plan_options(plans: Sequence[PlanSummary], *, none_label: str = "No plan") -> list[dict]:
    """``dbc.Select`` options: "No plan" (``NO_PLAN_VALUE``) then each plan and its allowance."""
    options = [{"label": none_label, "value": NO_PLAN_VALUE}]
    options += [
        {"label": f"{p.name} · {allowance_text(p.allowance_kwh)}", "value": p.plan_id}
        for p in plans
    ]
    return options


def allowance_text(kwh: Decimal | float) -> str:
    """``250 kWh`` / ``120.5 kWh`` / ``No allowance``: the number as the operator typed it."""
    value = Decimal(str(kwh))
    if value == 0:
        return "No kWh allowance"
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{text} kWh"


# --- /admin/accounts: the list ------------------------------------------------------------------


def accounts_grid() -> dag.AgGrid:
    """People and their accounts, one row per account, paged by the server (infinite model).

    The search box rides in the filter model of a hidden column, so a new search restarts the
    grid's paging like any column filter does; after a write, another hidden column's filter
    changes so the rows are fetched again. No JavaScript functions (the CSP forbids eval).
    """
    text_filter = {
        "filter": "agTextColumnFilter",
        "filterParams": {
            "filterOptions": ["contains", "startsWith", "equals"],
            "maxNumConditions": 1,
            "debounceMs": 400,
            "buttons": ["reset"],
        },
    }
    return dag.AgGrid(
        id=ACCOUNTS_GRID_ID,
        rowModelType="infinite",
        columnDefs=[
            {"field": SEARCH_FILTER, "hide": True, "filter": "agTextColumnFilter"},
            {"field": REFRESH_FILTER, "hide": True, "filter": "agTextColumnFilter"},
            {"field": "email", "headerName": "Email", "minWidth": 220, "flex": 2},
            {"field": "display_name", "headerName": "Name", "minWidth": 150, "flex": 1.5},
            {"field": "account_id", "headerName": "Account", "minWidth": 130, "flex": 1},
            {"field": "role", "headerName": "Role", "minWidth": 110, "flex": 0.8},
            {"field": "plan", "headerName": "Plan", "minWidth": 130, "flex": 1},
            {"field": "label", "headerName": "Label", "minWidth": 120, "flex": 1},
            {
                "field": "default",
                "headerName": "Signs in to",
                "minWidth": 120,
                "flex": 0.8,
                "sortable": False,
                "filter": False,
            },
        ],
        defaultColDef={"sortable": True, "resizable": True, **text_filter},
        dashGridOptions={
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            "cacheBlockSize": 100,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "rowBuffer": 10,
            "animateRows": False,
            "suppressMultiSort": True,
        },
        className="ag-theme-quartz admin-accounts-grid",
        style=grid_style(_GRID_VISIBLE_ROWS),
    )


_GRID_HEADER_PX = 50
_GRID_ROW_PX = 42  # the quartz theme's row height
_GRID_VISIBLE_ROWS = 9


def grid_style(total: int) -> dict[str, str]:
    """As tall as the rows found, up to nine; a long list scrolls inside the grid."""
    rows = min(max(total, 1), _GRID_VISIBLE_ROWS)
    return {"height": f"{_GRID_HEADER_PX + rows * _GRID_ROW_PX + 4}px", "width": "100%"}


def grid_rows(rows: Sequence[AccountListRow]) -> list[dict[str, Any]]:
    """Rows as the grid shows them: words, not codes; the ids the detail panel needs."""
    return [
        {
            "user_id": r.user_id,
            "email": r.email,
            "display_name": r.display_name,
            "account_id": r.account_id or "",
            "role": ROLE_TEXT[r.role] if r.role else "No account",
            "plan": r.plan_name or (NO_PLAN if r.role == Role.customer else ""),
            "label": r.label or "",
            "default": "✓ Default" if r.is_default else "",
        }
        for r in rows
    ]


def count_text(total: int, search: str, *, filtered: bool = False) -> str:
    """``3 accounts match “anna”``; people without an account count as a row too."""
    noun = "row" if total == 1 else "rows"
    if search:
        return f"{total:,} {noun} match “{search}”" + (
            " and the column filters" if filtered else ""
        )
    if filtered:
        return f"{total:,} {noun} match the column filters"
    return f"{total:,} {noun}: every account, and people who have none yet"


def accounts_toolbar() -> html.Div:
    return html.Div(
        className="d-flex flex-wrap align-items-end gap-2 mb-2",
        children=[
            html.Div(
                [
                    dbc.Label("Search people and accounts", html_for=ACCOUNTS_SEARCH_ID),
                    dbc.Input(
                        id=ACCOUNTS_SEARCH_ID,
                        type="search",
                        placeholder="Email, name, account id or label",
                        debounce=400,  # ms: search once typing pauses
                        autocomplete="off",
                        maxlength=200,
                    ),
                ],
                className="flex-grow-1 admin-search",
            ),
            dbc.Button("New person", id=NEW_OPEN_ID, color="primary", n_clicks=0),
            html.Div(
                export_link(ACCOUNTS_EXPORT_ID, accounts_export_href({}), "these accounts"),
                className="pb-1",  # btn-sm beside a full-size input: sit on the same line
            ),
        ],
    )


def accounts_export_href(filter_model: object) -> str:
    """The accounts table's filters as ``/export/accounts.csv``: the search box as ``search``
    (every account of the people it finds), column filters in ``filter`` (the grid's model as
    JSON, which the export reads with the table's own parser)."""
    model = filter_model if isinstance(filter_model, Mapping) else {}
    params: dict[str, str] = {}
    others: dict[str, Any] = {}
    for column, entry in model.items():
        if column == REFRESH_FILTER:
            continue  # filters nothing: it only makes the grid fetch again
        value = entry.get("filter") if isinstance(entry, Mapping) else None
        if column == SEARCH_FILTER and isinstance(value, str):
            if value.strip():
                params["search"] = value.strip()
        else:
            others[str(column)] = entry
    if others:
        params["filter"] = json.dumps(others, separators=(",", ":"), sort_keys=True)
    return "/export/accounts.csv" + ("?" + urlencode(params) if params else "")


def accounts_skeleton() -> list[Component]:
    """Everything the page shows, empty: callbacks fill it (the layout runs no SQL)."""
    return [
        html.P(
            "Find a person to set their password, plan and restricted chargers. "
            "Changes reach customers the next time their dashboard refreshes.",
            className="text-body-secondary",
        ),
        accounts_toolbar(),
        html.P(
            id=ACCOUNTS_COUNT_ID,
            className="small text-body-secondary mb-2",
            role="status",
            **_aria(live="polite"),
        ),
        accounts_grid(),
        html.Div(id=ACCOUNTS_ALERT_ID, role="status", className="mt-3", **_aria(live="polite")),
        dcc.Store(id=SELECTED_ID, data=None),
        person_panel(),
        new_person_modal(),
        remove_modal(),
    ]


# --- /admin/accounts: one person ----------------------------------------------------------------


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
            actions.append(
                dbc.Button(
                    "Manage",
                    id={"type": ACCOUNT_PICK_TYPE, "account": a.account_id},
                    size="sm",
                    color="primary",
                    outline=True,
                    n_clicks=0,
                )
            )
        if not a.is_default and (a.is_admin or not holds_admin):
            actions.append(
                dbc.Button(
                    "Sign in here by default",
                    id={"type": ACCOUNT_DEFAULT_TYPE, "account": a.account_id},
                    size="sm",
                    color="secondary",
                    outline=True,
                    n_clicks=0,
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
                **({"aria-current": "true"} if is_selected else {}),
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


def charger_choice_options(choices: Sequence[Any]) -> list[dict[str, str]]:
    return [
        {"label": f"{c.friendly_name} ({c.charger_id})", "value": c.charger_id} for c in choices
    ]


def password_form() -> html.Div:
    return html.Div(
        [
            html.H3("Password", className="h6 fw-bold"),
            _field(
                "New password",
                _text_input(
                    PASSWORD_INPUT_ID,
                    type="password",
                    autocomplete="new-password",
                    minlength=PASSWORD_MIN_LENGTH,
                    maxlength=1024,
                ),
                PASSWORD_INPUT_ID,
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
            _field(
                "Kind",
                dbc.Select(
                    id=ADD_ROLE_ID,
                    options=[
                        {"label": "Customer account", "value": Role.customer.value},
                        {"label": "Admin account", "value": Role.admin.value},
                    ],
                    value=Role.customer.value,
                ),
                ADD_ROLE_ID,
                class_name="mb-2",
            ),
            _field(
                "Account id",
                _text_input(ADD_ACCOUNT_ID, placeholder="Generated when empty", maxlength=64),
                ADD_ACCOUNT_ID,
                class_name="mb-2",
            ),
            _field(
                "Label", _text_input(ADD_LABEL_ID, maxlength=200), ADD_LABEL_ID, class_name="mb-2"
            ),
            _field(
                "Plan (customer accounts)",
                dbc.Select(id=ADD_PLAN_ID, options=[], value=NO_PLAN_VALUE),
                ADD_PLAN_ID,
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


# --- /admin/accounts: a new person --------------------------------------------------------------


def _new_account_fieldset(
    fieldset_id: str,
    legend: str,
    account_id: str,
    label_id: str,
    label_example: str,
    *,
    plan_id: str | None = None,
    hidden: bool = False,
) -> html.Fieldset:
    """The new person's customer or admin account: id, label and (customer only) plan."""
    fields = [
        _field(
            "Account id",
            _text_input(account_id, placeholder="Generated when empty", maxlength=64),
            account_id,
        ),
        _field("Label", _text_input(label_id, placeholder=label_example, maxlength=200), label_id),
    ]
    if plan_id is not None:
        fields.append(
            _field("Plan", dbc.Select(id=plan_id, options=[], value=NO_PLAN_VALUE), plan_id)
        )
    width = 12 // len(fields)
    extra = {"hidden": True} if hidden else {}
    return html.Fieldset(
        id=fieldset_id,
        **extra,
        className="border rounded p-3 mb-3",
        children=[
            html.Legend(legend, className="h6 float-none w-auto"),
            dbc.Row([dbc.Col(field, md=width) for field in fields]),
        ],
    )


def new_person_modal() -> dbc.Modal:
    f = NEW_PERSON_FIELDS
    return dbc.Modal(
        id=NEW_MODAL_ID,
        is_open=False,
        size="lg",
        scrollable=True,
        children=[
            dbc.ModalHeader(dbc.ModalTitle("New person")),
            dbc.ModalBody(
                [
                    dbc.Row(
                        [
                            dbc.Col(
                                _field(
                                    "Email",
                                    _text_input(
                                        f["email"], type="email", autocomplete="off", maxlength=254
                                    ),
                                    f["email"],
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                _field(
                                    "Name",
                                    _text_input(f["display_name"], maxlength=200),
                                    f["display_name"],
                                ),
                                md=6,
                            ),
                        ]
                    ),
                    _field(
                        "Initial password (optional)",
                        _text_input(
                            f["password"],
                            type="password",
                            autocomplete="new-password",
                            maxlength=1024,
                        ),
                        f["password"],
                        f"At least {PASSWORD_MIN_LENGTH} characters. Without one the person "
                        "cannot sign in until you set it.",
                    ),
                    _field(
                        "Accounts",
                        dbc.Checklist(
                            id=NEW_KINDS_ID,
                            options=[
                                {
                                    "label": "Customer account (charges, has a plan)",
                                    "value": "customer",
                                },
                                {"label": "Admin account (runs this portal)", "value": "admin"},
                            ],
                            value=["customer"],
                        ),
                        NEW_KINDS_ID,
                    ),
                    _new_account_fieldset(
                        NEW_CUSTOMER_FIELDS_ID,
                        "Customer account",
                        f["customer_account_id"],
                        f["customer_label"],
                        "e.g. Company car",
                        plan_id=f["customer_plan"],
                    ),
                    _new_account_fieldset(
                        NEW_ADMIN_FIELDS_ID,
                        "Admin account",
                        f["admin_account_id"],
                        f["admin_label"],
                        "e.g. Operations",
                        hidden=True,
                    ),
                    live_region(NEW_FEEDBACK_ID),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Cancel", id=NEW_CANCEL_ID, n_clicks=0, color="secondary"),
                    dbc.Button("Create person", id=NEW_SAVE_ID, n_clicks=0, color="primary"),
                ]
            ),
        ],
    )


# --- /admin/settings ----------------------------------------------------------------------------


def settings_skeleton() -> list[Component]:
    return [
        dcc.Store(id=SETTINGS_PLANS_VERSION_ID, data=0),
        dcc.Store(id=SETTINGS_OPERATOR_VERSION_ID, data=0),
        dcc.Store(id=PLAN_EDITING_ID, data=None),
        dbc.Row(
            className="g-4",
            children=[
                dbc.Col(plans_section(), lg=7),
                dbc.Col(operator_section(), lg=5),
            ],
        ),
    ]


def _card_section(section_id: str, title: str, children: list[Component]) -> html.Section:
    heading = f"{section_id}-heading"
    return html.Section(
        id=section_id,
        className="card h-100",
        **_aria(labelledby=heading),
        children=html.Div(
            [html.H2(title, id=heading, className="h5 mb-3"), *children], className="card-body"
        ),
    )


def plans_section() -> html.Section:
    f = PLAN_FIELDS
    return _card_section(
        "admin-plans",
        "Plans",
        [
            html.P(
                "A plan's allowance is per calendar month in the operator's time zone. "
                + REFRESH_NOTE,
                className="small text-body-secondary",
            ),
            html.Div(id=PLANS_TABLE_ID, className="mb-3"),
            html.Div(
                className="border rounded p-3 admin-plan-form",
                children=[
                    html.Div(
                        [
                            html.H3("New plan", id=PLAN_FORM_TITLE_ID, className="h6 fw-bold mb-0"),
                            dbc.Button(
                                "Start a new plan instead",
                                id=PLAN_NEW_ID,
                                n_clicks=0,
                                color="link",
                                size="sm",
                                className="p-0",
                                style={"display": "none"},
                            ),
                        ],
                        className="d-flex flex-wrap justify-content-between gap-2 mb-3",
                    ),
                    dbc.Row(
                        [
                            dbc.Col(
                                _field(
                                    "Name",
                                    _text_input(f["name"], maxlength=200),
                                    f["name"],
                                ),
                                sm=6,
                            ),
                            dbc.Col(
                                _field(
                                    "Plan id",
                                    _text_input(
                                        f["plan_id"], placeholder="Made from the name", maxlength=64
                                    ),
                                    f["plan_id"],
                                ),
                                sm=6,
                            ),
                            dbc.Col(
                                _field(
                                    "Allowance (kWh per month)",
                                    _text_input(
                                        f["allowance_kwh"],
                                        type="text",
                                        inputmode="decimal",
                                        placeholder="e.g. 250",
                                    ),
                                    f["allowance_kwh"],
                                    "0 means no allowance.",
                                ),
                                sm=6,
                            ),
                            dbc.Col(
                                _field(
                                    "Currency",
                                    currency_dropdown(f["currency"]),
                                    f["currency"],
                                ),
                                sm=6,
                            ),
                        ]
                    ),
                    dbc.Button("Create plan", id=PLAN_FORM_SAVE_ID, n_clicks=0, color="primary"),
                    live_region(PLAN_FORM_FEEDBACK_ID),
                ],
            ),
        ],
    )


def plans_table(plans: Sequence[PlanSummary], editing: str | None) -> Component:
    if not plans:
        return html.P("No plans yet. Create the first one below.", className="mb-0")
    header = html.Thead(
        html.Tr(
            [
                html.Th("Plan", scope="col"),
                html.Th("Allowance", scope="col"),
                html.Th("Currency", scope="col"),
                html.Th("Accounts", scope="col", className="text-end d-none d-sm-table-cell"),
                html.Th(html.Span("Actions", className="visually-hidden"), scope="col"),
            ]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(p.name, className="fw-semibold"),
                            html.Div(p.plan_id, className="small text-body-secondary"),
                        ]
                    ),
                    html.Td(allowance_text(p.allowance_kwh), className="admin-plan-allowance"),
                    html.Td(p.currency),
                    html.Td(f"{p.accounts:,}", className="text-end d-none d-sm-table-cell"),
                    html.Td(
                        dbc.Button(
                            [
                                "Editing" if p.plan_id == editing else "Edit",
                                html.Span(f" {p.name}", className="visually-hidden"),
                            ],
                            id={"type": PLAN_EDIT_TYPE, "plan": p.plan_id},
                            n_clicks=0,
                            size="sm",
                            color="primary",
                            outline=p.plan_id != editing,
                        ),
                        className="text-end",
                    ),
                ],
                className="admin-plan-row",
                **{"data-plan": p.plan_id},
            )
            for p in plans
        ]
    )
    return scroll_box(
        dbc.Table([header, body], hover=True, size="sm", className="mb-0 align-middle"),
        # position-relative: the visually hidden button texts (position: absolute) would
        # otherwise escape the scroll box and widen the whole page on a phone.
        "People",
        class_name="position-relative",
    )


def operator_section() -> html.Section:
    f = OPERATOR_FIELDS
    return _card_section(
        "admin-operator",
        "Operator settings",
        [
            html.P(
                "The time zone defines “today”, the days of the usage charts and the billing "
                "months. " + REFRESH_NOTE,
                className="small text-body-secondary",
            ),
            _field("Operator name", _text_input(f["name"], maxlength=200), f["name"]),
            _field(
                "Support email (optional)",
                _text_input(f["support_email"], type="email", maxlength=254),
                f["support_email"],
                "Shown to customers on their dashboard.",
            ),
            _field(
                "Time zone",
                dcc.Dropdown(
                    id=f["timezone"],
                    options=timezone_options(),
                    searchable=True,
                    clearable=False,
                    placeholder="Type to search, e.g. Berlin",
                ),
                f["timezone"],
            ),
            _field(
                "Currency",
                currency_dropdown(f["currency"]),
                f["currency"],
            ),
            dbc.Button("Save settings", id=OPERATOR_SAVE_ID, n_clicks=0, color="primary"),
            live_region(OPERATOR_FEEDBACK_ID),
        ],
    )


def operator_form_values(values: OperatorValues) -> tuple[str, str, str, str]:
    return values.name, values.support_email or "", values.timezone, values.currency
