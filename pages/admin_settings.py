"""``/admin/settings``: plans (list, create, edit) and the operator's settings.

The layout is a static skeleton (the time zone and currency choices are constants, not data);
callbacks fill it and save. A save validates every field first: invalid input shows its message
next to the field and nothing is written. The customer dashboard reads plans and the operator row
(``data.charging.dashboard.operator_settings``) on every render, so a change shows on its next
refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import dash
from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy.orm import Session

from auth.accounts import current_actor
from auth.roles import admin_only
from components.admin import admin_page
from components.forms import REFRESH_NOTE, error_id, failure, success
from components.operator_settings import (
    ALERT_FIELDS,
    ALERTS_FEEDBACK_ID,
    ALERTS_SAVE_ID,
    BOOKING_FEEDBACK_ID,
    BOOKING_FIELDS,
    BOOKING_SAVE_ID,
    OPERATOR_FEEDBACK_ID,
    OPERATOR_FIELDS,
    OPERATOR_SAVE_ID,
    SETTINGS_ALERTS_VERSION_ID,
    SETTINGS_BOOKING_VERSION_ID,
    SETTINGS_OPERATOR_VERSION_ID,
    alert_form_values,
    booking_form_values,
    operator_form_values,
    settings_skeleton,
)
from components.plans import (
    PLAN_EDIT_TYPE,
    PLAN_EDITING_ID,
    PLAN_FIELDS,
    PLAN_FORM_FEEDBACK_ID,
    PLAN_FORM_SAVE_ID,
    PLAN_FORM_TITLE_ID,
    PLAN_NEW_ID,
    PLANS_TABLE_ID,
    SETTINGS_PLANS_VERSION_ID,
    plans_table,
)
from data.accounts.operator_settings import operator_values, save_operator_settings
from data.accounts.plans import PlanSummary, create_plan, list_plans, update_plan
from data.accounts.validation import InvalidInput
from data.charging.booking import booking_rules, length_text, save_booking_rules
from data.uptime.alerts import alert_settings, save_alert_settings
from pages._admin import admin_layout, bump, clicked, pressed
from web.db import session_scope

PATH = "/admin/settings"
dash.register_page(
    __name__, path=PATH, title="Plans & settings · Polaris Express", name="Plans & settings"
)

_TEXT_PLAN_FIELDS = ("plan_id", "name", "allowance_kwh")  # dbc.Inputs (they have "invalid")
_TEXT_OPERATOR_FIELDS = ("name", "support_email")
_TEXT_ALERT_FIELDS = ("delay_minutes",)
_TEXT_BOOKING_FIELDS = tuple(BOOKING_FIELDS)
T = TypeVar("T")  # what a save wrote


@admin_layout
def layout(**_: object) -> Component:
    return admin_page("Plans & settings", PATH, *settings_skeleton())


def _errors(
    errors: dict[str, str], fields: dict[str, str], text_fields: tuple[str, ...]
) -> list[Any]:
    """Per field its message, then per text input its invalid flag (in ``_error_outputs`` order)."""
    return [errors.get(f, "") for f in fields] + [f in errors for f in text_fields]


def _error_outputs(
    fields: dict[str, str], text_fields: tuple[str, ...], *, duplicate: bool = False
) -> list[Output]:
    return [Output(error_id(i), "children", allow_duplicate=duplicate) for i in fields.values()] + [
        Output(fields[f], "invalid", allow_duplicate=duplicate) for f in text_fields
    ]


def _save(clicks: object, write: Callable[[Session], T]) -> T | InvalidInput:
    """What ``write`` saved, for a real press of a form's Save button; or, when a field is not
    valid, the error that says which (nothing was written)."""
    if not clicked(clicks):
        raise PreventUpdate
    try:
        with session_scope() as s:
            return write(s)
    except InvalidInput as exc:
        return exc


# --- plans --------------------------------------------------------------------------------------


@callback(
    Output(PLANS_TABLE_ID, "children"),
    Input(SETTINGS_PLANS_VERSION_ID, "data"),
    Input(PLAN_EDITING_ID, "data"),
)
@admin_only
def show_plans(_version: object, editing: object) -> Component:
    with session_scope() as s:
        plans = list_plans(s)
    return plans_table(plans, editing if isinstance(editing, str) else None)


@callback(
    Output(PLAN_EDITING_ID, "data"),
    Output(PLAN_FORM_TITLE_ID, "children"),
    Output(PLAN_NEW_ID, "style"),
    Output(PLAN_FORM_SAVE_ID, "children"),
    *(Output(i, "value") for i in PLAN_FIELDS.values()),
    Output(PLAN_FIELDS["plan_id"], "disabled"),
    *_error_outputs(PLAN_FIELDS, _TEXT_PLAN_FIELDS, duplicate=True),
    Output(PLAN_FORM_FEEDBACK_ID, "children", allow_duplicate=True),
    Input({"type": PLAN_EDIT_TYPE, "plan": ALL}, "n_clicks"),
    Input(PLAN_NEW_ID, "n_clicks"),
    prevent_initial_call=True,
)
@admin_only
def choose_plan(_edits: list[Any], _new: object) -> tuple[Any, ...]:
    """Load a plan into the form (Edit), or empty it for a new one."""
    trigger = ctx.triggered_id
    clean = [""] * len(PLAN_FIELDS) + [False] * len(_TEXT_PLAN_FIELDS)
    if trigger == PLAN_NEW_ID:
        return (
            None,
            "New plan",
            {"display": "none"},
            "Create plan",
            "",
            "",
            "",
            None,
            False,
            *clean,
            "",
        )
    if not isinstance(trigger, dict) or not pressed():
        raise PreventUpdate  # the table was re-rendered; nothing was clicked
    plan_id = trigger.get("plan")
    with session_scope() as s:
        plan = next((p for p in list_plans(s) if p.plan_id == plan_id), None)
    if plan is None:
        gone = failure("That plan no longer exists. The list is up to date now.")
        return (None, *([no_update] * 8), *clean, gone)
    allowance = f"{plan.allowance_kwh.normalize():f}"
    return (
        plan.plan_id,
        f"Edit {plan.name}",
        {"display": "inline"},
        "Save plan",
        plan.plan_id,
        plan.name,
        allowance,
        plan.currency,
        True,
        *clean,
        "",
    )


@callback(
    *_error_outputs(PLAN_FIELDS, _TEXT_PLAN_FIELDS),
    Output(PLAN_FORM_FEEDBACK_ID, "children"),
    Output(SETTINGS_PLANS_VERSION_ID, "data"),
    Output(PLAN_EDITING_ID, "data", allow_duplicate=True),
    Input(PLAN_FORM_SAVE_ID, "n_clicks"),
    State(PLAN_EDITING_ID, "data"),
    *(State(i, "value") for i in PLAN_FIELDS.values()),
    State(SETTINGS_PLANS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_plan(
    clicks: object,
    editing: object,
    plan_id: object,
    name: object,
    allowance: object,
    currency: object,
    version: object,
) -> tuple[Any, ...]:
    def write(s: Session) -> tuple[PlanSummary, str]:
        actor, now = current_actor(), datetime.now(UTC)
        fields = {"name": name, "allowance_kwh": allowance, "currency": currency}
        if isinstance(editing, str) and editing:
            return update_plan(s, editing, **fields, actor=actor, now=now), "saved"
        return create_plan(s, plan_id=plan_id, **fields, actor=actor, now=now), "created"

    result = _save(clicks, write)
    if isinstance(result, InvalidInput):
        general = result.errors.get("form")
        return (
            *_errors(result.errors, PLAN_FIELDS, _TEXT_PLAN_FIELDS),
            failure(general or "Nothing was saved: fix the fields marked above."),
            no_update,
            no_update,
        )
    saved, verb = result
    text = f"Plan {saved.name} {verb}. {REFRESH_NOTE}"
    return (
        *_errors({}, PLAN_FIELDS, _TEXT_PLAN_FIELDS),
        success(text),
        bump(version),
        saved.plan_id,  # keep editing what was just saved
    )


# --- operator settings --------------------------------------------------------------------------


@callback(
    *(Output(i, "value") for i in OPERATOR_FIELDS.values()),
    Input(SETTINGS_OPERATOR_VERSION_ID, "data"),
)
@admin_only
def load_operator(_version: object) -> tuple[str, str, str, str]:
    with session_scope() as s:
        return operator_form_values(operator_values(s))


@callback(
    *_error_outputs(OPERATOR_FIELDS, _TEXT_OPERATOR_FIELDS),
    Output(OPERATOR_FEEDBACK_ID, "children"),
    Output(SETTINGS_OPERATOR_VERSION_ID, "data"),
    Input(OPERATOR_SAVE_ID, "n_clicks"),
    *(State(i, "value") for i in OPERATOR_FIELDS.values()),
    State(SETTINGS_OPERATOR_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_operator(
    clicks: object,
    name: object,
    support_email: object,
    timezone: object,
    currency: object,
    version: object,
) -> tuple[Any, ...]:
    saved = _save(
        clicks,
        lambda s: save_operator_settings(
            s,
            name=name,
            support_email=support_email,
            timezone=timezone,
            currency=currency,
            actor=current_actor(),
            now=datetime.now(UTC),
        ),
    )
    if isinstance(saved, InvalidInput):
        return (
            *_errors(saved.errors, OPERATOR_FIELDS, _TEXT_OPERATOR_FIELDS),
            failure("Nothing was saved: fix the fields marked above."),
            no_update,
        )
    text = f"Settings saved: {saved.name}, {saved.timezone}, {saved.currency}. {REFRESH_NOTE}"
    return (*_errors({}, OPERATOR_FIELDS, _TEXT_OPERATOR_FIELDS), success(text), bump(version))


# --- alert settings -----------------------------------------------------------------------------


@callback(
    *(Output(i, "value") for i in ALERT_FIELDS.values()),
    Input(SETTINGS_ALERTS_VERSION_ID, "data"),
)
@admin_only
def load_alerts(_version: object) -> tuple[int, str]:
    with session_scope() as s:
        return alert_form_values(alert_settings(s))


@callback(
    *_error_outputs(ALERT_FIELDS, _TEXT_ALERT_FIELDS),
    Output(ALERTS_FEEDBACK_ID, "children"),
    Output(SETTINGS_ALERTS_VERSION_ID, "data"),
    Input(ALERTS_SAVE_ID, "n_clicks"),
    *(State(i, "value") for i in ALERT_FIELDS.values()),
    State(SETTINGS_ALERTS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_alerts(
    clicks: object, delay_minutes: object, digest: object, version: object
) -> tuple[Any, ...]:
    saved = _save(
        clicks,
        lambda s: save_alert_settings(
            s,
            delay_minutes=delay_minutes,
            digest=digest,
            actor=current_actor(),
            now=datetime.now(UTC),
        ),
    )
    if isinstance(saved, InvalidInput):
        return (
            *_errors(saved.errors, ALERT_FIELDS, _TEXT_ALERT_FIELDS),
            failure("Nothing was saved: fix the fields marked above."),
            no_update,
        )
    text = f"Alert settings saved: alerts after {saved.delay_minutes} min."
    return (*_errors({}, ALERT_FIELDS, _TEXT_ALERT_FIELDS), success(text), bump(version))


# --- drivers' booking rules ---------------------------------------------------------------------


@callback(
    *(Output(i, "value") for i in BOOKING_FIELDS.values()),
    Input(SETTINGS_BOOKING_VERSION_ID, "data"),
)
@admin_only
def load_booking_rules(_version: object) -> tuple[int, int, int, int]:
    with session_scope() as s:
        return booking_form_values(booking_rules(s))


@callback(
    *_error_outputs(BOOKING_FIELDS, _TEXT_BOOKING_FIELDS),
    Output(BOOKING_FEEDBACK_ID, "children"),
    Output(SETTINGS_BOOKING_VERSION_ID, "data"),
    Input(BOOKING_SAVE_ID, "n_clicks"),
    *(State(i, "value") for i in BOOKING_FIELDS.values()),
    State(SETTINGS_BOOKING_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_booking(
    clicks: object,
    ahead_days: object,
    longest_minutes: object,
    open_per_account: object,
    grace_minutes: object,
    version: object,
) -> tuple[Any, ...]:
    saved = _save(
        clicks,
        lambda s: save_booking_rules(
            s,
            ahead_days=ahead_days,
            longest_minutes=longest_minutes,
            open_per_account=open_per_account,
            grace_minutes=grace_minutes,
            actor=current_actor(),
            now=datetime.now(UTC),
        ),
    )
    if isinstance(saved, InvalidInput):
        return (
            *_errors(saved.errors, BOOKING_FIELDS, _TEXT_BOOKING_FIELDS),
            failure("Nothing was saved: fix the fields marked above."),
            no_update,
        )
    text = (
        f"Booking rules saved: up to {saved.ahead_days} days ahead, at most "
        f"{length_text(saved.longest_minutes)}, {saved.open_per_account} open per account, "
        f"{saved.grace_minutes} min of grace."
    )
    return (*_errors({}, BOOKING_FIELDS, _TEXT_BOOKING_FIELDS), success(text), bump(version))
