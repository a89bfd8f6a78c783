"""Callbacks of the "Disputed energy" section (components/energy.py), shown on
``/admin/sessions`` and ``/admin/chargers/<id>``. Admin only, checked here as well as by the
hardening layer; the acting admin comes from the server session, never from the browser.

``register()`` is called by pages/admin_sessions.py: Dash runs a page module again for every
app it builds, so each app gets these callbacks once (a module imported normally would run
once per process, and only the first app would have them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import ALL, Input, Output, State, callback, ctx, no_update
from dash.exceptions import PreventUpdate

from auth.accounts import current_actor
from auth.roles import admin_only
from components.admin import feedback
from components.energy import (
    ENERGY_CONFIRM_TYPE,
    ENERGY_CORRECT_TYPE,
    ENERGY_DISPUTES_ID,
    ENERGY_FEEDBACK_ID,
    ENERGY_SCOPE_STORE,
    ENERGY_SECTION_ID,
    ENERGY_STORE,
    ENERGY_VALUE_TYPE,
    energy_disputes_body,
)
from components.format import format_money
from data.charging.dashboard import operator_settings
from data.charging.history import session_detail
from data.core.models import ID_LENGTH
from data.ocpp.admin import OcppAdminError, disputed_sessions, resolve_energy_dispute
from pages._admin import bump, pressed
from web.db import session_scope


@admin_only
def render_energy_disputes(changed: object, scope: object) -> tuple[Any, bool]:
    """The disputed sessions, of the page's charger (a lookup key only) or of all. With none
    the section stays hidden, unless the operator just resolved the last one (the feedback
    is in it)."""
    charger = scope if isinstance(scope, str) and 0 < len(scope) <= ID_LENGTH else None
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        disputes = disputed_sessions(s, charger)
    body = energy_disputes_body(disputes, tz, now, show_charger=charger is None)
    return body, not disputes.sessions and not changed


def _typed_value(session_id: object) -> object:
    """What the operator typed in the row of ``session_id`` (the Correct button's row)."""
    for item in ctx.states_list[0] if ctx.states_list else []:
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, dict) and ident.get("session") == session_id:
            return item.get("value")
    return None


@admin_only
def resolve_energy(
    _confirms: object, _corrects: object, _values: object, n: object
) -> tuple[Any, Any]:
    """Confirm the reported figure, or correct it to the one typed in the same row."""
    trigger = ctx.triggered_id
    # New buttons appearing (n_clicks None) are not clicks.
    if not isinstance(trigger, dict) or not pressed():
        raise PreventUpdate
    session_id = trigger.get("session")
    confirming = trigger.get("type") == ENERGY_CONFIRM_TYPE
    value = None if confirming else _typed_value(session_id)
    if not confirming and (value is None or (isinstance(value, str) and not value.strip())):
        return feedback("Enter the session's energy in kWh, then press Correct.", ok=False), (
            no_update
        )
    now = datetime.now(UTC)
    try:
        with session_scope() as s:
            energy = resolve_energy_dispute(s, session_id, current_actor(), value, now)
            # Its cost follows its energy (priced again when finalized).
            detail = session_detail(s, session_id, now)
    except OcppAdminError as error:
        return feedback(str(error), ok=False), bump(n)
    how = "confirmed at" if confirming else "corrected to"
    message = f"Session {session_id}: energy {how} {energy:,.3f} kWh; it counts again"
    cost = None if detail is None else detail.cost
    if detail is not None and cost is not None:
        money = format_money(cost.total, cost.currency)
        message += f", {money} so far" if detail.cost_so_far else f", and costs {money} now"
    return feedback(message + ".", ok=True), bump(n)


def register() -> None:
    """Register both callbacks for the app Dash is building (see the module's docstring)."""
    callback(
        Output(ENERGY_DISPUTES_ID, "children"),
        Output(ENERGY_SECTION_ID, "hidden"),
        Input(ENERGY_STORE, "data"),
        State(ENERGY_SCOPE_STORE, "data"),
    )(render_energy_disputes)
    callback(
        Output(ENERGY_FEEDBACK_ID, "children"),
        Output(ENERGY_STORE, "data"),
        Input({"type": ENERGY_CONFIRM_TYPE, "session": ALL}, "n_clicks"),
        Input({"type": ENERGY_CORRECT_TYPE, "session": ALL}, "n_clicks"),
        State({"type": ENERGY_VALUE_TYPE, "session": ALL}, "value"),
        State(ENERGY_STORE, "data"),
        prevent_initial_call=True,
    )(resolve_energy)
