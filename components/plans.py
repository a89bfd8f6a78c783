"""Plans: the choices of a plan select, allowances as text, the plans card of /admin/settings."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

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
from components.landmarks import data_attributes, scroll_box
from data.accounts.plans import PlanSummary

# Every id starts with ``admin-``: the callback gate refuses customers for those.
SETTINGS_PLANS_VERSION_ID = "admin-plans-version"  # bumped after a plan is saved
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
# The "No plan" choice of a plan select. Not "": dbc.Select keeps "" for its placeholder. Not a
# possible plan id either (ids start with a letter or digit).
NO_PLAN_VALUE = "-"


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


def plans_section() -> html.Section:
    f = PLAN_FIELDS
    return card_section(
        "admin-plans",
        "Plans",
        [
            html.P(
                [
                    "A plan's allowance is per calendar month in the operator's time zone. "
                    + REFRESH_NOTE
                    + " What a plan's sessions cost is its tariff: see ",
                    dcc.Link("Tariffs", href="/admin/tariffs"),
                    ".",
                ],
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
                                form_field(
                                    "Name",
                                    text_input(f["name"], maxlength=200),
                                ),
                                sm=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Plan id",
                                    text_input(
                                        f["plan_id"], placeholder="Made from the name", maxlength=64
                                    ),
                                ),
                                sm=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Allowance (kWh per month)",
                                    text_input(
                                        f["allowance_kwh"],
                                        type="text",
                                        inputmode="decimal",
                                        placeholder="e.g. 250",
                                    ),
                                    "0 means no allowance.",
                                ),
                                sm=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Currency",
                                    currency_dropdown(f["currency"]),
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
                **data_attributes(plan=p.plan_id),
            )
            for p in plans
        ]
    )
    return scroll_box(
        dbc.Table([header, body], hover=True, size="sm", className="mb-0 align-middle"),
        # position-relative: the visually hidden button texts (position: absolute) would
        # otherwise escape the scroll box and widen the whole page on a phone.
        "Plans",
        class_name="position-relative",
    )
