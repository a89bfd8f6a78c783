"""Shared by the admin pages: a layout decorator that shows customers why they cannot be here,
the checks that a button was really pressed, the next value of a version store, and a table of
times in the operator's time zone.

The request guard already answers 403 for a customer on /admin*; the Dash router still renders
the page's layout in the browser, so each admin layout says so instead of showing admin tools.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from dash import Input, Output, State, callback, ctx
from dash.development.base_component import Component
from flask import has_request_context
from sqlalchemy.orm import Session

from auth.accounts import current_account
from auth.roles import admin_only
from components.admin import ALERTS_BADGE_ID, alerts_badge
from components.notices import admin_only_notice
from data.charging.dashboard import operator_settings
from data.uptime.alerts import count_open_alerts
from web.db import read_scope, session_scope

R = TypeVar("R")
C = TypeVar("C")  # a choice of a search dropdown


def admin_layout(build: Callable[..., Component]) -> Callable[..., Component]:
    @wraps(build)
    def layout(**kwargs: Any) -> Component:
        account = current_account() if has_request_context() else None
        if account is not None and not account.is_admin:
            return admin_only_notice()
        return build(**kwargs)

    return layout


def clicked(value: object) -> bool:
    """Whether a button's ``n_clicks`` says it was pressed (not a first render or a reset)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def pressed() -> bool:
    """Whether the input that fired this callback was really pressed: buttons appearing (a list
    re-rendered with ``n_clicks`` 0 or None) fire pattern-matched callbacks too."""
    return bool(ctx.triggered) and clicked(ctx.triggered[0].get("value"))


def bump(version: object) -> int:
    """A version store's next value: the callbacks that read the store run again (what the
    browser sends back is checked, a missing or odd value counts as 0)."""
    return (version if isinstance(version, int) and not isinstance(version, bool) else 0) + 1


def timed_table(
    read: Callable[[Session], R], table: Callable[[R, ZoneInfo, datetime], Component]
) -> Component:
    """The rows ``read`` finds, as ``table`` shows them: times in the operator's time zone, and
    relative to now."""
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        rows = read(s)
    return table(rows, tz, now)


def text_value(value: object, limit: int = 200) -> str:
    """What the browser sent as text, trimmed and cut to ``limit`` ("" for anything else)."""
    return value.strip()[:limit] if isinstance(value, str) else ""


def search_dropdown(
    dropdown_id: str,
    search: Callable[[Session, str], list[C]],
    choice: Callable[[Session, str], C | None],
    key: Callable[[C], str],
    options: Callable[[Sequence[C]], list[dict[str, str]]],
    *,
    fixed: Sequence[dict[str, str]] = (),
    shared: bool = False,
) -> Callable[[object, object], list[dict[str, str]]]:
    """The callback of a searchable dropdown: the choices matching what is typed, and the chosen
    one stays listed (a dropdown drops a value it has no option for), after the ``fixed``
    options (e.g. "every charger"). ``shared``: another callback sets the value and its option
    (a dropdown clears a value it has no option for), this one answers typing only. Registered
    once per dropdown by the page that imports it; returned for the tests."""

    @callback(
        Output(dropdown_id, "options", allow_duplicate=shared),
        Input(dropdown_id, "search_value"),
        State(dropdown_id, "value"),
        prevent_initial_call=shared,
    )
    @admin_only
    def find(typed: object, value: object) -> list[dict[str, str]]:
        chosen = text_value(value, 64)
        with session_scope() as s:
            choices = search(s, text_value(typed))
            if chosen and all(key(c) != chosen for c in choices):
                current = choice(s, chosen)
                if current is not None:
                    choices.insert(0, current)
        return [*fixed, *options(choices)]

    return find


@admin_only
def count_alerts(_nav: object) -> tuple[Any, str]:
    """The admin navigation's open-alert badge, on every admin page (each draws the
    navigation): one indexed COUNT."""
    with read_scope() as s:
        return alerts_badge(count_open_alerts(s))


def register_alert_count() -> None:
    """Register ``count_alerts`` for the app Dash is building (called by pages/admin.py): Dash
    runs a page module again for every app it builds, this module only once per process."""
    callback(
        Output(ALERTS_BADGE_ID, "children"),
        Output(ALERTS_BADGE_ID, "class_name"),
        Input("admin-nav", "id"),
    )(count_alerts)
