"""The frame around every page: navbar, Active session banner, error alert, refresh timer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.accounts import AccountInfo
from components.format import format_ago, format_kwh, format_money, format_time
from components.forms import post_form
from components.landmarks import aria
from data.charging.dashboard import ActiveSession
from data.pricing.cost import SessionCost

BANNER_ID = "active-session-banner"
BANNER_KWH_ID = "banner-kwh"
BANNER_COST_ID = "banner-cost"  # empty (and hidden, with its separator) when no tariff prices it
BANNER_CHARGER_ID = "banner-charger"
BANNER_STARTED_ID = "banner-started"
# The banner's texts in output order: the shell's banner callback and the dashboard's tick both
# write them (pages/_shell.py, pages/dashboard.py).
BANNER_PROPS = (
    (BANNER_ID, "hidden"),
    (BANNER_KWH_ID, "children"),
    (BANNER_COST_ID, "children"),
    (BANNER_STARTED_ID, "children"),
    (BANNER_CHARGER_ID, "children"),
)
# Who answers a refresh tick (assets/dashboard.js tickRoutes): on the dashboard its own tick
# (one request: banner, pills, next reservation), on every other page the shell's banner, whose
# store this is (also written once per page shown).
BANNER_TICK_ID = "banner-tick"
# A store nothing writes: the account menu's callback listens to it alone, so it runs once per
# page load (its initial call), never on a tick or in-app navigation, which would redraw the menu
# and close it under the pointer.
MENU_LOAD_ID = "account-menu-load"
# A driver's Start or Stop charging in flight: the command's id and where it stands (written by
# the server only: pages/_shell.py follow_driver_command), and the poll that follows it, enabled
# only while a command is open, so an idle page asks nothing more on its ticks.
COMMAND_STORE_ID = "driver-command"
COMMAND_POLL_ID = "driver-command-poll"
COMMAND_POLL_MS = 1000
STOP_CONFIRM_ID = "stop-charging-confirm"
STOP_BUTTON_ID = "stop-charging"
STOP_NOTE_ID = "stop-charging-note"
STOP_LABEL = "Stop charging"
STOP_CONFIRM_TEXT = "Stop charging now? The charger ends your session."
STOPPING_TEXT = "Stopping…"
WAITING_TEXT = "Waiting for the charger…"
# Dark mode: a toggle in the navigation, pressed in dark mode; assets/theme.js switches
# <html data-bs-theme> and remembers the choice in the browser (no account needed).
THEME_TOGGLE_ID = "theme-toggle"
THEME_TOGGLE_LABEL = "Dark mode"


def active_session_banner() -> html.Div:
    """Hidden until the active account has a session in progress; its texts are filled live."""
    return html.Div(
        id=BANNER_ID,
        hidden=True,
        role="status",
        **aria(live="polite"),
        className="alert alert-success d-flex flex-wrap align-items-center gap-2 mb-0 "
        "rounded-0 border-0 border-bottom active-session-banner",
        children=[
            html.Span("⚡", className="banner-icon", **aria(hidden="true")),
            html.Strong("Active session"),
            html.Span(id=BANNER_KWH_ID, className="fw-semibold"),
            html.Span("delivered", className="text-success-emphasis"),
            html.Span("·", className="banner-cost-sep", **aria(hidden="true")),
            html.Span(id=BANNER_COST_ID, className="fw-semibold banner-cost"),
            html.Span("·", **aria(hidden="true")),
            html.Span(id=BANNER_STARTED_ID),
            html.Span("·", **aria(hidden="true")),
            html.Span(id=BANNER_CHARGER_ID),
            html.Span(id=STOP_NOTE_ID, className="fw-semibold stop-charging-note"),
            html.Div(
                dcc.ConfirmDialogProvider(
                    html.Button(
                        STOP_LABEL,
                        id=STOP_BUTTON_ID,
                        type="button",
                        className="btn btn-sm btn-outline-danger bg-white text-danger",
                    ),
                    id=STOP_CONFIRM_ID,
                    message=STOP_CONFIRM_TEXT,
                ),
                className="ms-auto",
            ),
        ],
    )


def banner_texts(active: ActiveSession | None, tz: ZoneInfo, now: datetime) -> tuple[Any, ...]:
    """The banner's props (``BANNER_PROPS`` order) for the account's session in progress, or
    hidden and empty without one."""
    if active is None:
        return (True, "", "", "", "")
    started = f"started {format_time(active.started_at, tz)}, {format_ago(active.started_at, now)}"
    return (
        False,
        format_kwh(active.energy_kwh),
        cost_so_far_text(active.cost),
        started,
        f"on {active.charger_name}",
    )


def changed_only(fresh: Sequence[Any], shown: Sequence[Any]) -> tuple[Any, ...]:
    """``fresh`` with every value the browser already shows as ``no_update``: an unchanged
    banner costs no bytes (and all ``no_update`` is a 204)."""
    return tuple(no_update if new == old else new for new, old in zip(fresh, shown, strict=True))


def nothing_unchanged(outputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """``outputs``, or a 204 when every one is ``no_update``: Dash 4 answers such a tuple with
    a 200 and an empty response, the 204 says the same in no bytes."""
    if all(value is no_update for value in outputs):
        raise PreventUpdate
    return outputs


def cost_so_far_text(cost: SessionCost | None) -> str:
    """``€4.83 so far``: a session's cost while it is not final, as the banner and Recent
    activity both say it; empty when no tariff prices it."""
    return "" if cost is None else f"{format_money(cost.total, cost.currency)} so far"


def navbar() -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(["⚡ ", "Polaris Express"], href="/", className="fw-bold"),
                html.Div(
                    [
                        html.Button(
                            "☀",
                            id=THEME_TOGGLE_ID,
                            type="button",
                            className="btn btn-sm btn-outline-light theme-toggle",
                            **aria(label=THEME_TOGGLE_LABEL, pressed="false"),
                        ),
                        html.Div(id="account-menu", className="d-flex align-items-center gap-2"),
                    ],
                    className="d-flex align-items-center gap-2",
                ),
            ],
            fluid="lg",
        ),
        color="dark",
        dark=True,
        className="py-2",
    )


def account_menu(display_name: str, account: AccountInfo, csrf_token: str) -> list[Component]:
    """Who is signed in, as which account; switch and sign out (a POST form with CSRF)."""
    home = (
        dbc.NavLink("Admin", href="/admin", className="text-light")
        if account.is_admin
        else dbc.NavLink("Dashboard", href="/", className="text-light")
    )
    return [
        home,
        dbc.DropdownMenu(
            label=f"{display_name} · {account.title}",
            align_end=True,
            color="secondary",
            size="sm",
            children=[
                # Plain text, not dbc's header item: that one is a role=heading without a level.
                html.P(
                    f"Signed in as {account.title} ({account.role.value})",
                    className="dropdown-header mb-0",
                ),
                *(
                    []
                    if account.is_admin
                    # /statements redirects to this month's: a Flask route, not a router page.
                    else [
                        dbc.DropdownMenuItem("All my sessions", href="/sessions"),
                        dbc.DropdownMenuItem("Statements", href="/statements", external_link=True),
                    ]
                ),
                dbc.DropdownMenuItem("My account", href="/account"),
                dbc.DropdownMenuItem("Switch account", href="/switch"),
                dbc.DropdownMenuItem(divider=True),
                post_form(
                    "/logout",
                    csrf_token,
                    [
                        html.Button(
                            "Sign out", type="submit", className="btn btn-link p-0", id="sign-out"
                        )
                    ],
                    "px-3",
                ),
            ],
        ),
    ]


def frame(page: Component, refresh_interval_ms: int) -> html.Div:
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            dcc.Interval(id="refresh-interval", interval=refresh_interval_ms),
            dcc.Store(id=MENU_LOAD_ID, data=True),
            dcc.Store(id=BANNER_TICK_ID),
            dcc.Store(id=COMMAND_STORE_ID),
            dcc.Interval(id=COMMAND_POLL_ID, interval=COMMAND_POLL_MS, disabled=True),
            html.Header([navbar(), active_session_banner()]),
            dbc.Container(
                [
                    dbc.Alert(id="page-alert", is_open=False, color="danger", dismissable=True),
                    html.Main(page, id="main"),
                ],
                fluid="lg",
                className="py-3",
            ),
        ]
    )


def driver_command(
    kind: str,
    state: str,
    message: str = "",
    *,
    command_id: int | None = None,
    charger_id: str | None = None,
) -> dict[str, Any]:
    """What ``COMMAND_STORE_ID`` holds: a driver's Start (``kind="start"``, on ``charger_id``) or
    Stop (``"stop"``), ``state`` waiting / done / refused, and what to say (while waiting:
    "Waiting for the charger…" or "Stopping…"; nothing once done)."""
    if state == "waiting" and not message:
        message = WAITING_TEXT if kind == "start" else STOPPING_TEXT
    return {
        "id": command_id,
        "kind": kind,
        "charger": charger_id,
        "state": state,
        "message": message,
    }
