"""App-level layout and callbacks (banner, account menu, error alert).

Registered with ``app.callback`` from ``create_app`` rather than the global ``dash.callback``, so
every app built in one process (tests build many) gets them.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import Any

import dash
from dash import ClientsideFunction, Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from flask import current_app
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from auth.accounts import current_account, current_account_id
from components.shell import (
    BANNER_PROPS,
    BANNER_TICK_ID,
    COMMAND_POLL_ID,
    COMMAND_STORE_ID,
    MENU_LOAD_ID,
    STOP_BUTTON_ID,
    STOP_NOTE_ID,
    THEME_TOGGLE_ID,
    account_menu,
    banner_texts,
    changed_only,
    driver_command,
    frame,
    nothing_unchanged,
)
from components.static import encoded_once
from config import snapshot_s
from data.chargers.snapshots import SETTINGS
from data.charging.dashboard import active_session
from data.ocpp.driver_commands import Progress, follow_command
from web.db import read_scope

log = logging.getLogger("polaris")

# Dash's own page template, with the page's language declared (screen readers pick their voice
# and pronunciation from it; WCAG 3.1.1). Every Dash page, the 403 one included, is this. Its
# head sets dark or light mode before the first paint (assets/theme.js) and names the web app
# manifest and icons, so the dashboard can be added to a phone's home screen.
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        <script src="/assets/theme.js"></script>
        <meta name="theme-color" content="#212529">
        <link rel="manifest" href="/assets/manifest.json">
        <link rel="apple-touch-icon" href="/assets/icons/icon-192.png">
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


def layout() -> Any:
    interval = current_app.config["REFRESH_INTERVAL_MS"] if current_app else 15_000
    return _frame(interval)


@functools.cache
def _frame(interval_ms: int) -> Any:
    """The same frame for every page view of an app: built and encoded once."""
    return encoded_once(frame(dash.page_container, interval_ms))


def callback_error(error: Exception) -> None:
    """Every callback's failures end here: a friendly alert, never a traceback."""
    if isinstance(error, HTTPException):
        raise error  # 401/403 stay HTTP statuses
    if isinstance(error, OperationalError) and "statement timeout" in str(error.orig):
        message = "That took too long and was stopped. Try again in a moment."
    elif isinstance(error, OperationalError | PoolTimeoutError):
        message = "We can't reach the database right now. Your data is safe; this page will "
        message += "catch up by itself when it's back."
    elif isinstance(error, PermissionError):
        message = "Your session has ended. Sign in again to continue."
    else:
        log.exception("callback failed", exc_info=error)
        message = "Something went wrong on our side. It has been logged; try again in a minute."
    dash.set_props("page-alert", {"children": message, "is_open": True})


def register_callbacks(app: Dash) -> None:
    # The navigation's dark mode toggle, in the browser (assets/theme.js).
    app.clientside_callback(
        ClientsideFunction(namespace="polarisTheme", function_name="toggle"),
        Output(THEME_TOGGLE_ID, "aria-pressed"),
        Output(THEME_TOGGLE_ID, "children"),
        Input(THEME_TOGGLE_ID, "n_clicks"),
    )

    # Which callback answers a tick or a page shown: the dashboard's own tick on "/", the
    # banner's on every other page (assets/dashboard.js), so a tick is one request everywhere.
    app.clientside_callback(
        ClientsideFunction(namespace="polaris", function_name="bannerTick"),
        Output(BANNER_TICK_ID, "data"),
        Input("refresh-interval", "n_intervals"),
        Input("url", "pathname"),
        State(BANNER_TICK_ID, "data"),
    )

    @app.callback(
        *(Output(i, p) for i, p in BANNER_PROPS),
        Input(BANNER_TICK_ID, "data"),
        *(State(i, p) for i, p in BANNER_PROPS),
        prevent_initial_call=True,
    )
    def refresh_banner(_tick: object, *shown: Any) -> tuple[Any, ...]:
        """The Active session banner, on every page shown and every tick but the dashboard's
        (its own tick draws it): its kWh and its cost so far (``active_session`` reads both in
        one statement, the cost by ``live_cost``'s rule)."""
        account_id = current_account_id()
        now = datetime.now(UTC)
        with read_scope() as s:
            tz = SETTINGS.get(s, now, max_age_s=snapshot_s()).tz
            active = active_session(s, account_id, now)
        # Send only what changed: the banner's texts are props, not a rebuilt tree.
        return nothing_unchanged(changed_only(banner_texts(active, tz, now), shown))

    @app.callback(
        Output(COMMAND_STORE_ID, "data", allow_duplicate=True),
        Output(COMMAND_POLL_ID, "disabled", allow_duplicate=True),
        Output("refresh-interval", "n_intervals", allow_duplicate=True),
        Input(COMMAND_POLL_ID, "n_intervals"),
        State(COMMAND_STORE_ID, "data"),
        State("refresh-interval", "n_intervals"),
        prevent_initial_call=True,
    )
    def follow_driver_command(_n: int | None, command: object, ticks: object) -> tuple[Any, ...]:
        """While a driver's command is open (the poll is enabled only then): one read of its
        row (and, once accepted, of the account's session in progress) per tick; the store
        changes only when it is done or refused, which stops the poll and ticks the page's
        refresh once (the banner and the card's status at once, not at the next tick)."""
        if not isinstance(command, dict):
            return no_update, True, no_update
        command_id, kind = command.get("id"), command.get("kind")
        if not isinstance(command_id, int) or kind not in ("start", "stop"):
            return no_update, True, no_update
        if command.get("state") != "waiting":
            return no_update, True, no_update
        account_id = current_account_id()
        now = datetime.now(UTC)
        with read_scope() as s:
            followed = follow_command(s, account_id, command_id, now)
        if followed.progress is Progress.waiting:
            raise PreventUpdate
        charger = command.get("charger")
        store = driver_command(
            kind,
            followed.progress.value,
            followed.message,
            command_id=command_id,
            charger_id=charger if isinstance(charger, str) else None,
        )
        return store, True, (ticks if isinstance(ticks, int) else 0) + 1

    # The banner's note and its Stop button while a Stop is open (assets/dashboard.js).
    app.clientside_callback(
        ClientsideFunction(namespace="polaris", function_name="stopNote"),
        Output(STOP_NOTE_ID, "children"),
        Output(STOP_BUTTON_ID, "disabled"),
        Input(COMMAND_STORE_ID, "data"),
    )

    @app.callback(Output("account-menu", "children"), Input(MENU_LOAD_ID, "data"))
    def draw_account_menu(_load: object) -> Any:
        """The account menu, once per page load. Its only input is a store nothing writes, so
        Dash calls it once, at load: no tick and no in-app navigation can redraw the menu (a
        redraw replaces the open dropdown with a closed one), nor supersede its one request
        (sharing the banner's ticking callback, a tick dropped every first draw slower than
        the refresh interval, and the menu never appeared)."""
        return _account_menu()


def _account_menu() -> Any:
    account = current_account()
    if account is None:
        return []
    return account_menu(current_user.display_name, account, generate_csrf())
