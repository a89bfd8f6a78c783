"""The New person dialog of /admin/accounts: email, name, password and their first accounts."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from components.forms import form_field, live_region, text_input
from components.plans import NO_PLAN_VALUE
from data.accounts.validation import PASSWORD_MIN_LENGTH

# Every id starts with ``admin-``: the callback gate refuses customers for those.
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
        form_field(
            "Account id",
            text_input(account_id, placeholder="Generated when empty", maxlength=64),
        ),
        form_field("Label", text_input(label_id, placeholder=label_example, maxlength=200)),
    ]
    if plan_id is not None:
        fields.append(form_field("Plan", dbc.Select(id=plan_id, options=[], value=NO_PLAN_VALUE)))
    width = 12 // len(fields)
    extra: dict[str, Any] = {"hidden": True} if hidden else {}
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
                                form_field(
                                    "Email",
                                    text_input(
                                        f["email"], type="email", autocomplete="off", maxlength=254
                                    ),
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Name",
                                    text_input(f["display_name"], maxlength=200),
                                ),
                                md=6,
                            ),
                        ]
                    ),
                    form_field(
                        "Initial password (optional)",
                        text_input(
                            f["password"],
                            type="password",
                            autocomplete="new-password",
                            maxlength=1024,
                        ),
                        f"At least {PASSWORD_MIN_LENGTH} characters. Without one the person "
                        "cannot sign in until you set it.",
                    ),
                    form_field(
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
