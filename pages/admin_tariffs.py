"""``/admin/tariffs``: the tariffs, their versions, and who pays which.

A page of its own rather than a section of Plans & settings: a tariff is a price history (its
versions, scheduled, in force or ended, some of them locked by the sessions they priced), wider
than the settings page's two cards, and the money it names deserves a screen where nothing else
is saved. Plans & settings links here.

The layout is a static skeleton; callbacks fill it and save. Every write goes through
``data.pricing`` (``create_tariff``, ``schedule_tariff_version``, ``set_default_tariff``,
``set_plan_tariff``), which checks every field first: a refused one shows its message beside the
field and nothing is written. Every callback checks the admin role itself (``admin_only``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.accounts import current_actor
from auth.roles import admin_only
from components.admin import admin_page
from components.format import format_datetime
from components.forms import error_id, failure, success
from components.tariffs import (
    DEFAULT_NONE_LABEL,
    NO_TARIFF_VALUE,
    PLAN_TARIFF_SAVE_TYPE,
    PLAN_TARIFF_TYPE,
    TARIFF_ASSIGN_FEEDBACK_ID,
    TARIFF_CANCEL_ID,
    TARIFF_DEFAULT_ID,
    TARIFF_DEFAULT_SAVE_ID,
    TARIFF_EDITING_ID,
    TARIFF_FIELDS,
    TARIFF_FORM_FEEDBACK_ID,
    TARIFF_FORM_TITLE_ID,
    TARIFF_MODAL_ID,
    TARIFF_NEW_ID,
    TARIFF_PLANS_ID,
    TARIFF_SAVE_ID,
    TARIFF_SCHEDULE_TYPE,
    TARIFF_TEXT_FIELDS,
    TARIFF_TZ_ID,
    TARIFFS_FEEDBACK_ID,
    TARIFFS_LIST_ID,
    TARIFFS_VERSION_ID,
    local_input,
    plan_tariff_rows,
    price_text,
    tariff_options,
    tariffs_list,
    tariffs_skeleton,
    valid_from_help,
)
from data.accounts.validation import InvalidInput
from data.charging.dashboard import operator_settings
from data.charging.reservations import ReservationError, parse_local_time
from data.pricing.admin import (
    TariffsOverview,
    create_tariff,
    schedule_tariff_version,
    tariffs_overview,
)
from data.pricing.cost import TariffPrices
from data.pricing.tariffs import set_default_tariff, set_plan_tariff
from pages._admin import admin_layout, bump, clicked, pressed
from web.db import session_scope

PATH = "/admin/tariffs"
dash.register_page(__name__, path=PATH, title="Tariffs · Polaris Express", name="Tariffs")

_ERROR_OUTPUTS = [
    Output(error_id(i), "children", allow_duplicate=True) for i in TARIFF_FIELDS.values()
]
_INVALID_OUTPUTS = [
    Output(TARIFF_FIELDS[f], "invalid", allow_duplicate=True) for f in TARIFF_TEXT_FIELDS
]
_CLEAN = [""] * len(TARIFF_FIELDS) + [False] * len(TARIFF_TEXT_FIELDS)


@admin_layout
def layout(**_: object) -> Component:
    return admin_page("Tariffs", PATH, *tariffs_skeleton())


def _errors(errors: dict[str, str]) -> list[Any]:
    """Per field its message, then per text input its invalid flag (the outputs' order)."""
    return [errors.get(f, "") for f in TARIFF_FIELDS] + [f in errors for f in TARIFF_TEXT_FIELDS]


def _tariff_choice(value: object) -> str | None:
    """A tariff select's value: a tariff id to look up, or None for "no tariff"."""
    return value if isinstance(value, str) and value not in ("", NO_TARIFF_VALUE) else None


# --- the lists ----------------------------------------------------------------------------------


@callback(
    Output(TARIFFS_LIST_ID, "children"),
    Output(TARIFF_DEFAULT_ID, "options"),
    Output(TARIFF_DEFAULT_ID, "value"),
    Output(TARIFF_PLANS_ID, "children"),
    Input(TARIFFS_VERSION_ID, "data"),
)
@admin_only
def show_tariffs(_version: object) -> tuple[Any, ...]:
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        overview = tariffs_overview(s, now)
    return (
        tariffs_list(overview, tz, now),
        tariff_options(overview.tariffs, DEFAULT_NONE_LABEL),
        overview.default_tariff_id or NO_TARIFF_VALUE,
        plan_tariff_rows(overview.plans, overview.tariffs),
    )


# --- the dialog ---------------------------------------------------------------------------------


def _next_month(now: datetime, tz: ZoneInfo) -> str:
    """The first of next month, 00:00 local: when prices usually change."""
    today = now.astimezone(tz).date()
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return f"{first.isoformat()}T00:00"


def _today(now: datetime, tz: ZoneInfo) -> str:
    return local_input(datetime.combine(now.astimezone(tz).date(), time(0), tz), tz)


def _form_values(prices: TariffPrices | None, valid_from: str) -> list[Any]:
    """The fields in ``TARIFF_FIELDS`` order: a new version starts from the current prices."""
    if prices is None:
        return ["", "", valid_from, None, "", "", "", "", "", ""]
    return [
        prices.name,
        prices.tariff_id,
        valid_from,
        prices.currency,
        price_text(prices.energy_price_per_kwh),
        price_text(prices.dc_energy_price_per_kwh),
        price_text(prices.session_fee),
        price_text(prices.time_price_per_hour),
        "" if prices.time_free_minutes is None else str(prices.time_free_minutes),
        price_text(prices.vat_percent),
    ]


@callback(
    Output(TARIFF_MODAL_ID, "is_open"),
    Output(TARIFF_EDITING_ID, "data"),
    Output(TARIFF_FORM_TITLE_ID, "children"),
    Output(TARIFF_SAVE_ID, "children"),
    Output(TARIFF_TZ_ID, "children"),
    *(Output(i, "value") for i in TARIFF_FIELDS.values()),
    Output(TARIFF_FIELDS["tariff_id"], "disabled"),
    *_ERROR_OUTPUTS,
    *_INVALID_OUTPUTS,
    Output(TARIFF_FORM_FEEDBACK_ID, "children", allow_duplicate=True),
    Output(TARIFFS_FEEDBACK_ID, "children", allow_duplicate=True),
    Input(TARIFF_NEW_ID, "n_clicks"),
    Input({"type": TARIFF_SCHEDULE_TYPE, "tariff": ALL}, "n_clicks"),
    Input(TARIFF_CANCEL_ID, "n_clicks"),
    prevent_initial_call=True,
)
@admin_only
def open_form(_new: object, _schedule: object, _cancel: object) -> tuple[Any, ...]:
    """Open the dialog empty (New tariff), or with a tariff's current prices for a new version
    of it from the first of next month; or close it (Cancel)."""
    trigger = ctx.triggered_id
    unchanged = [no_update] * (4 + len(TARIFF_FIELDS) + 1 + len(_CLEAN) + 1)
    if trigger == TARIFF_CANCEL_ID:
        return (False, *unchanged, no_update)
    if not pressed():
        raise PreventUpdate  # the list was drawn again; nothing was clicked
    now = datetime.now(UTC)
    tariff_id = trigger.get("tariff") if isinstance(trigger, dict) else None
    with session_scope() as s:
        tz = operator_settings(s).tz
        overview = tariffs_overview(s, now) if tariff_id is not None else None
    if trigger == TARIFF_NEW_ID:
        values = _form_values(None, _today(now, tz))
        return (True, None, "New tariff", "Create tariff", valid_from_help(tz, False),
                *values, False, *_CLEAN, "", "")  # fmt: skip
    found = None if overview is None else overview.find(tariff_id)
    if found is None:
        gone = failure("There is no such tariff. Reload the page.")
        return (False, *unchanged, gone)
    values = _form_values(found.current, _next_month(now, tz))
    return (True, found.tariff_id, f"New version of {found.name}", "Schedule version",
            valid_from_help(tz, True), *values, True, *_CLEAN, "", "")  # fmt: skip


@callback(
    *_ERROR_OUTPUTS,
    *_INVALID_OUTPUTS,
    Output(TARIFF_FORM_FEEDBACK_ID, "children"),
    Output(TARIFF_MODAL_ID, "is_open", allow_duplicate=True),
    Output(TARIFFS_FEEDBACK_ID, "children"),
    Output(TARIFFS_VERSION_ID, "data"),
    Input(TARIFF_SAVE_ID, "n_clicks"),
    State(TARIFF_EDITING_ID, "data"),
    *(State(i, "value") for i in TARIFF_FIELDS.values()),
    State(TARIFFS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_tariff(clicks: object, editing: object, *values: Any) -> tuple[Any, ...]:
    """Create the tariff, or schedule the new version; every field is checked first."""
    if not clicked(clicks):
        raise PreventUpdate
    *field_values, version = values
    v = dict(zip(TARIFF_FIELDS, field_values, strict=True))
    errors: dict[str, str] = {}
    saved: TariffPrices | None = None
    actor, now = current_actor(), datetime.now(UTC)
    try:
        with session_scope() as s:
            tz = operator_settings(s).tz
            try:
                start: datetime | None = parse_local_time(v["valid_from"], tz, "start")
            except ReservationError as exc:
                errors["valid_from"], start = str(exc), None
            fields = {
                k: v[k] for k in TARIFF_FIELDS if k not in ("tariff_id", "name", "valid_from")
            }
            if isinstance(editing, str) and editing:
                saved = schedule_tariff_version(
                    s, editing, name=v["name"], valid_from=start, actor=actor, now=now, **fields
                )
            else:
                saved = create_tariff(
                    s, tariff_id=v["tariff_id"], name=v["name"], valid_from=start,
                    actor=actor, now=now, **fields,
                )  # fmt: skip
    except InvalidInput as exc:
        errors = {**exc.errors, **errors}  # the time as typed says best what is wrong with it
    if saved is None or errors:
        general = errors.get("form") or "Nothing was saved: fix the fields marked above."
        return (*_errors(errors), failure(general), no_update, no_update, no_update)
    when = format_datetime(saved.valid_from, tz, now)
    if isinstance(editing, str) and editing:
        text = f"New version of {saved.name} ({saved.tariff_id}) scheduled from {when}."
    else:
        text = f"Tariff {saved.name} ({saved.tariff_id}) created, from {when}."
    return (*_errors({}), "", False, success(text), bump(version))


# --- who pays which tariff ----------------------------------------------------------------------


@callback(
    Output(error_id(TARIFF_DEFAULT_ID), "children"),
    Output(TARIFF_ASSIGN_FEEDBACK_ID, "children"),
    Output(TARIFFS_VERSION_ID, "data", allow_duplicate=True),
    Input(TARIFF_DEFAULT_SAVE_ID, "n_clicks"),
    State(TARIFF_DEFAULT_ID, "value"),
    State(TARIFFS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_default(clicks: object, value: object, version: object) -> tuple[Any, ...]:
    if not clicked(clicks):
        raise PreventUpdate
    now = datetime.now(UTC)
    try:
        with session_scope() as s:
            chosen = set_default_tariff(s, _tariff_choice(value), actor=current_actor(), now=now)
            overview = tariffs_overview(s, now)
    except InvalidInput as exc:
        return exc.message, failure("The default was not changed."), no_update
    text = (
        f"The default tariff is now {_tariff_name(overview, chosen)}."
        if chosen
        else "No default tariff: sessions of accounts without a plan tariff have no cost."
    )
    return "", success(text), bump(version)


def _tariff_name(overview: TariffsOverview, tariff_id: str) -> str:
    """``Commuter (TARIFF-COMMUTER)``."""
    found = overview.find(tariff_id)
    return tariff_id if found is None else f"{found.name} ({tariff_id})"


def _chosen_for(plan_id: object) -> object:
    """The value of the tariff select in the row of ``plan_id`` (the Save button's row)."""
    for item in ctx.states_list[0] if ctx.states_list else []:
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, dict) and ident.get("plan") == plan_id:
            return item.get("value")
    return None


@callback(
    Output(TARIFF_ASSIGN_FEEDBACK_ID, "children", allow_duplicate=True),
    Output(TARIFFS_VERSION_ID, "data", allow_duplicate=True),
    Input({"type": PLAN_TARIFF_SAVE_TYPE, "plan": ALL}, "n_clicks"),
    State({"type": PLAN_TARIFF_TYPE, "plan": ALL}, "value"),
    State(TARIFFS_VERSION_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def save_plan_tariff(_clicks: object, _values: object, version: object) -> tuple[Any, ...]:
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not pressed():
        raise PreventUpdate  # the rows were drawn again; nothing was clicked
    plan_id = trigger.get("plan")
    tariff_id, now = _tariff_choice(_chosen_for(plan_id)), datetime.now(UTC)
    try:
        with session_scope() as s:
            chosen = set_plan_tariff(s, plan_id, tariff_id, actor=current_actor(), now=now)
            overview = tariffs_overview(s, now)
    except InvalidInput as exc:
        return failure(exc.message), bump(version)
    plan = next((p.name for p in overview.plans if p.plan_id == plan_id), plan_id)
    text = (
        f"Plan {plan} is now priced by {_tariff_name(overview, chosen)}."
        if chosen
        else f"Plan {plan} is now priced by the default tariff."
    )
    return success(text), bump(version)
