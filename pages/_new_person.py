"""The New person dialog of /admin/accounts: its callbacks, registered by the page module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import Input, Output, State, callback, ctx, no_update
from dash.exceptions import PreventUpdate

from auth.accounts import current_actor
from auth.roles import admin_only
from components.forms import error_id, failure, success
from components.new_person import (
    NEW_ADMIN_FIELDS_ID,
    NEW_CANCEL_ID,
    NEW_CUSTOMER_FIELDS_ID,
    NEW_FEEDBACK_ID,
    NEW_KINDS_ID,
    NEW_MODAL_ID,
    NEW_OPEN_ID,
    NEW_PERSON_FIELDS,
    NEW_SAVE_ID,
)
from components.people_list import ACCOUNTS_ALERT_ID, ACCOUNTS_SEARCH_ID, SELECTED_ID
from components.plans import NO_PLAN_VALUE, plan_options
from data.accounts.people import NewAccount, create_person
from data.accounts.plans import list_plans
from data.accounts.validation import InvalidInput
from data.core.models import Role
from pages._accounts import field_messages, plan_choice, select
from pages._admin import clicked
from web.db import session_scope

_NEW_INPUTS = {f: i for f, i in NEW_PERSON_FIELDS.items() if f != "accounts"}


@admin_only
def toggle_new_person(_open: object, _cancel: object) -> tuple[Any, ...]:
    """Open with an empty form (and the current plans), or close."""
    if ctx.triggered_id == NEW_CANCEL_ID:
        return (False, *([no_update] * (1 + len(_NEW_INPUTS) + len(NEW_PERSON_FIELDS) + 1)))
    with session_scope() as s:
        plans = list_plans(s)
    empty = [NO_PLAN_VALUE if f == "customer_plan" else "" for f in _NEW_INPUTS]
    return (True, plan_options(plans), *empty, *([""] * len(NEW_PERSON_FIELDS)), "")


@admin_only
def show_account_fields(kinds: object) -> tuple[bool, bool]:
    chosen = kinds if isinstance(kinds, list) else []
    return "customer" not in chosen, "admin" not in chosen


@admin_only
def create_new_person(clicks: object, kinds: object, *values: Any) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    *field_values, selected = values
    v = dict(zip(_NEW_INPUTS, field_values, strict=True))
    chosen = kinds if isinstance(kinds, list) else []

    def text(name: str) -> str:
        return v[name] if isinstance(v[name], str) else ""

    accounts = []
    if "admin" in chosen:
        accounts.append(NewAccount(Role.admin, text("admin_account_id"), text("admin_label")))
    if "customer" in chosen:
        accounts.append(
            NewAccount(
                Role.customer,
                text("customer_account_id"),
                text("customer_label"),
                plan_choice(v["customer_plan"]),
            )
        )
    try:
        with session_scope() as s:
            created = create_person(
                s,
                email=v["email"],
                display_name=v["display_name"],
                accounts=accounts,
                password=v["password"] or None,
                actor=current_actor(),
                now=datetime.now(UTC),
            )
    except InvalidInput as exc:
        messages = field_messages(exc.errors, NEW_PERSON_FIELDS)
        return (
            no_update,
            *messages,
            failure("Nothing was saved: fix the fields marked above."),
            no_update,
            no_update,
            no_update,
        )
    ids = ", ".join(a.account_id for a in created.accounts)
    login = (
        "They can sign in now."
        if created.has_password
        else "Set a password before they can sign in."
    )
    done = success(f"{created.display_name} ({created.email}) created with {ids}. {login}")
    return (
        False,
        *([""] * len(NEW_PERSON_FIELDS)),
        "",
        created.email,
        select(created.user_id, created.default_account_id, selected),
        done,
    )


def register() -> None:
    """Register the dialog's callbacks for the app Dash is building: Dash runs a page module
    again for every app it builds, a module imported normally only once per process."""
    callback(
        Output(NEW_MODAL_ID, "is_open"),
        Output(NEW_PERSON_FIELDS["customer_plan"], "options"),
        *(Output(i, "value") for i in _NEW_INPUTS.values()),
        *(
            Output(error_id(i), "children", allow_duplicate=True)
            for i in NEW_PERSON_FIELDS.values()
        ),
        Output(NEW_FEEDBACK_ID, "children", allow_duplicate=True),
        Input(NEW_OPEN_ID, "n_clicks"),
        Input(NEW_CANCEL_ID, "n_clicks"),
        prevent_initial_call=True,
    )(toggle_new_person)
    callback(
        Output(NEW_CUSTOMER_FIELDS_ID, "hidden"),
        Output(NEW_ADMIN_FIELDS_ID, "hidden"),
        Input(NEW_KINDS_ID, "value"),
    )(show_account_fields)
    callback(
        Output(NEW_MODAL_ID, "is_open", allow_duplicate=True),
        *(Output(error_id(i), "children") for i in NEW_PERSON_FIELDS.values()),
        Output(NEW_FEEDBACK_ID, "children"),
        Output(ACCOUNTS_SEARCH_ID, "value"),
        Output(SELECTED_ID, "data", allow_duplicate=True),
        Output(ACCOUNTS_ALERT_ID, "children", allow_duplicate=True),
        Input(NEW_SAVE_ID, "n_clicks"),
        State(NEW_KINDS_ID, "value"),
        *(State(i, "value") for i in _NEW_INPUTS.values()),
        State(SELECTED_ID, "data"),
        prevent_initial_call=True,
    )(create_new_person)
