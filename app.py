"""Polaris Express: ``create_app()`` builds the Flask server with sign-in and CLI commands, then
the one Dash app. ``server`` is what gunicorn runs (``gunicorn app:server``)."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click
import dash
from flask import Flask

from auth import install_auth
from central.cli import register_ocpp_cli
from config import ROOT, load_config
from data.analytics_routes import register_analytics_routes
from data.cli import register_cli
from data.db import Database, install_read_scope, is_empty, upgrade
from data.demo import DEMO_LOGINS, has_demo, load_demo, tick_demo
from data.export_routes import register_export_routes
from pages import _shell

log = logging.getLogger("polaris")
DEMO_TICK_SECONDS = 10


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    server = Flask(__name__, static_folder=None, instance_path=str(ROOT / "instance"))
    server.config.update(settings)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["HTTPS"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings["HTTPS"],
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the signed-in session
        RATELIMIT_STORAGE_URI=settings["RATELIMIT_STORAGE_URI"],
        RATELIMIT_HEADERS_ENABLED=True,
    )

    db = Database(
        settings["DATABASE_URL"],
        statement_timeout_ms=settings["STATEMENT_TIMEOUT_MS"],
        pool_timeout_s=settings["POOL_TIMEOUT_S"],
        connect_timeout_s=settings["CONNECT_TIMEOUT_S"],
        pool_size=settings["POOL_SIZE"],
        max_overflow=settings["MAX_OVERFLOW"],
    )
    upgrade(db.engine)
    server.extensions["polaris_db"] = db
    install_read_scope(server)
    if settings["DEMO"] and _serving():
        _load_demo_if_empty(db)
    if settings["DEMO"]:
        _install_demo_ticker(server, db)

    dash_app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        title="Polaris Express",
        update_title=None,
        suppress_callback_exceptions=True,
        on_error=_shell.callback_error,
        enable_mcp=False,  # no MCP endpoint in production: callbacks are the only API
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    dash_app.layout = _shell.layout
    dash_app.index_string = _shell.INDEX_STRING
    _shell.register_callbacks(dash_app)
    server.extensions["polaris_dash"] = dash_app

    install_auth(server, dash_app)
    register_analytics_routes(server)
    register_cli(server)
    register_ocpp_cli(server)
    register_export_routes(server)
    # Run Dash's first-request setup now: it claims the page callbacks (registered with the
    # global ``dash.callback``) for this app, so an app built later in the process gets its own.
    with server.test_request_context("/healthz"):
        server.preprocess_request()
    return server


def _serving() -> bool:
    """True when the app starts to serve requests, not for maintenance commands like import-data
    (an import into an empty database must load only the imported rows)."""
    ctx = click.get_current_context(silent=True)
    return ctx is None or ctx.info_name == "run"


def _load_demo_if_empty(db: Database) -> None:
    with db.session() as s:
        if is_empty(s):
            click.echo("Empty database: loading the demo operator (a few seconds)...", err=True)
            load_demo(s, datetime.now(UTC))
        elif not has_demo(s):
            return  # real data: never mix demo rows in
    lines = ["", "Polaris Express demo logins:"]
    lines += [f"  {x.email} / {x.password}  {x.description}" for x in DEMO_LOGINS]
    click.echo("\n".join(lines) + "\n", err=True)


def _install_demo_ticker(server: Flask, db: Database) -> None:
    """Keep the demo alive (heartbeats, the charging session's kWh) while people look at it."""
    last_tick = [0.0]

    @server.before_request
    def tick() -> None:
        if time.monotonic() - last_tick[0] < DEMO_TICK_SECONDS:
            return
        last_tick[0] = time.monotonic()
        with db.session() as s:
            tick_demo(s, datetime.now(UTC))


def freeze_start_up_heap() -> None:
    """Move what start-up built (Dash's registries, plotly, pandas: ~200,000 objects) out of the
    cyclic garbage collector's sight. Otherwise every full collection walks all of it: 143 ms
    measured, a stall that lands on whichever request is running. Only for a serving process:
    a test suite that builds many apps must keep collecting them."""
    gc.collect()
    gc.freeze()


def __getattr__(name: str) -> Flask:
    # ``server`` is built on first use, so importing create_app (tests, CLI) builds nothing.
    if name == "server":
        globals()["server"] = create_app()
        freeze_start_up_heap()
        return globals()["server"]
    raise AttributeError(name)
