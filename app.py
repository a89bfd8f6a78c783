"""Polaris Express: ``create_app()`` builds the Flask server with sign-in and CLI commands, then
the one Dash app. ``server`` is what gunicorn runs (``gunicorn app:server``)."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Mapping
from typing import Any

import click
import dash
from flask import Flask, Response, send_file
from werkzeug.middleware.proxy_fix import ProxyFix

from auth import install_auth
from central.cli import register_ocpp_cli
from cli.alerts import register_alerts_cli
from cli.data import register_cli
from cli.tokens import register_token_cli
from cli.uptime import register_uptime_cli
from config import ROOT, ConfigError, load_config
from data.core.db import Database
from pages import _shell
from web.analytics_csv import register_analytics_routes
from web.api import register_api_routes
from web.commands_csv import register_command_log_routes
from web.db import install_read_scope
from web.errors import install_error_pages
from web.exports import register_export_routes
from web.receipts import register_document_routes
from web.start_up import DatabaseStartUp, install_demo_ticker

log = logging.getLogger("polaris")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    server = Flask(__name__, static_folder=None, instance_path=str(ROOT / "instance"))
    server.config.update(settings)
    if settings["PROXY_COUNT"]:
        # Behind a balancer (deploy/haproxy.cfg): the person's address and scheme from the
        # headers the trusted proxies added, the last ``n`` of each (earlier ones are the
        # client's own and could be forged).
        proxies = settings["PROXY_COUNT"]
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
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
    server.extensions["polaris_db"] = db
    install_read_scope(server)
    start_up = DatabaseStartUp(
        db,
        production=settings["ENV"] == "production" and _serving(),
        demo=settings["DEMO"] and _serving(),
        retry_s=settings["DB_RETRY_S"],
    )
    start_up.prepare_or_defer()  # a ConfigError (demo people in production) stops here
    server.extensions["polaris_start_up"] = start_up

    dash_app = dash.Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash 4's hints say bool; a Flask app is documented
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        title="Polaris Express",
        update_title=None,  # type: ignore[arg-type]  # None turns the "Updating..." title off
        suppress_callback_exceptions=True,
        on_error=_shell.callback_error,
        enable_mcp=False,  # no MCP endpoint in production: callbacks are the only API
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    dash_app.layout = _shell.layout
    dash_app.index_string = _shell.INDEX_STRING
    _shell.register_callbacks(dash_app)
    server.extensions["polaris_dash"] = dash_app
    server.add_url_rule("/favicon.ico", "favicon", _favicon)
    # After Dash's own first-request setup, before the guard (whose user loader reads the
    # database): until start-up's database work is done, requests get the friendly 503 page.
    start_up.install(server)
    if settings["DEMO"]:
        install_demo_ticker(server, db, start_up)

    install_auth(server, dash_app)
    install_error_pages(server)
    register_analytics_routes(server)
    register_command_log_routes(server)
    register_cli(server)
    register_ocpp_cli(server)
    register_export_routes(server)
    register_document_routes(server)
    register_api_routes(server)
    register_token_cli(server)
    register_uptime_cli(server)
    register_alerts_cli(server)
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


def _favicon() -> Response:
    return send_file(ROOT / "assets" / "favicon.ico", mimetype="image/x-icon", max_age=86_400)


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
        try:
            globals()["server"] = create_app()
        except ConfigError as refusal:
            # The message says what to do; a traceback would only bury it. Exit status 3 is
            # gunicorn's "worker failed to boot": its master stops instead of respawning.
            print(f"Polaris Express cannot start: {refusal}", file=sys.stderr)
            raise SystemExit(3) from None
        freeze_start_up_heap()
        return globals()["server"]
    raise AttributeError(name)
