"""The operator's settings form of /admin/settings, and that page's skeleton (plans beside it)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.forms import (
    REFRESH_NOTE,
    card_section,
    currency_dropdown,
    form_field,
    live_region,
    text_input,
)
from components.plans import PLAN_EDITING_ID, SETTINGS_PLANS_VERSION_ID, plans_section
from data.accounts.operator_settings import OperatorValues
from data.accounts.validation import timezone_names

# Every id starts with ``admin-``: the callback gate refuses customers for those.
SETTINGS_OPERATOR_VERSION_ID = "admin-operator-version"
OPERATOR_SAVE_ID = "admin-operator-save"
OPERATOR_FEEDBACK_ID = "admin-operator-feedback"
OPERATOR_FIELDS = {
    "name": "admin-operator-name",
    "support_email": "admin-operator-email",
    "timezone": "admin-operator-timezone",
    "currency": "admin-operator-currency",
}


def timezone_options() -> list[dict[str, str]]:
    return [{"label": name.replace("_", " "), "value": name} for name in timezone_names()]


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


def operator_section() -> html.Section:
    f = OPERATOR_FIELDS
    return card_section(
        "admin-operator",
        "Operator settings",
        [
            html.P(
                "The time zone defines “today”, the days of the usage charts and the billing "
                "months. " + REFRESH_NOTE,
                className="small text-body-secondary",
            ),
            form_field("Operator name", text_input(f["name"], maxlength=200)),
            form_field(
                "Support email (optional)",
                text_input(f["support_email"], type="email", maxlength=254),
                "Shown to customers on their dashboard.",
            ),
            form_field(
                "Time zone",
                dcc.Dropdown(
                    id=f["timezone"],
                    options=timezone_options(),
                    searchable=True,
                    clearable=False,
                    placeholder="Type to search, e.g. Berlin",
                ),
            ),
            form_field(
                "Currency",
                currency_dropdown(f["currency"]),
            ),
            dbc.Button("Save settings", id=OPERATOR_SAVE_ID, n_clicks=0, color="primary"),
            live_region(OPERATOR_FEEDBACK_ID),
        ],
    )


def operator_form_values(values: OperatorValues) -> tuple[str, str, str, str]:
    return values.name, values.support_email or "", values.timezone, values.currency
