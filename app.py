"""Polaris Express: ``create_app()`` builds the Flask server with sign-in and CLI commands, then
the one Dash app. ``server`` is what gunicorn runs (``gunicorn app:server``)."""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import click
import dash
from flask import Flask, Response, g, request, send_file
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from auth import install_auth
from auth.guard import PUBLIC_PREFIXES
from central.cli import register_ocpp_cli
from cli.data import register_cli
from cli.tokens import register_token_cli
from config import ROOT, ConfigError, load_config
from data.core.db import Database, DatabaseNotReady, is_empty, upgrade
from data.demo import DEMO_LOGINS, demo_people, has_demo, load_demo, tick_demo
from pages import _shell
from web.analytics_csv import register_analytics_routes
from web.db import install_read_scope
from web.errors import install_error_pages
from web.exports import register_export_routes

log = logging.getLogger("polaris")
DEMO_TICK_SECONDS = 10
DATABASE_ERRORS = (OperationalError, PoolTimeoutError)
# Served while the database is not ready yet: liveness, and what the 503 page itself loads.
NO_DATABASE_PATHS = frozenset({"/healthz", "/favicon.ico", "/_favicon.ico"})


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
    server.add_url_rule("/favicon.ico", "favicon", _favicon)
    # After Dash's own first-request setup, before the guard (whose user loader reads the
    # database): until start-up's database work is done, requests get the friendly 503 page.
    start_up.install(server)
    if settings["DEMO"]:
        _install_demo_ticker(server, db, start_up)

    install_auth(server, dash_app)
    install_error_pages(server)
    register_analytics_routes(server)
    register_cli(server)
    register_ocpp_cli(server)
    register_export_routes(server)
    register_token_cli(server)
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


class DatabaseStartUp:
    """What starting needs the database for: migrations, the production check for demo people,
    demo data. A database that is unreachable at start-up does not stop the app (gunicorn's
    master would exit): requests get the friendly 503 page, and one of them at a time, at most
    every ``retry_s`` seconds, tries again; once that succeeds the app serves, no restart."""

    def __init__(self, db: Database, *, production: bool, demo: bool, retry_s: float) -> None:
        self.db = db
        self.production = production
        self.demo = demo
        self.retry_s = retry_s
        self.ready = False
        self._lock = threading.Lock()
        self._last_try = 0.0
        self._refusal: str | None = None

    def prepare(self) -> None:
        """Migrate, check and load; raises the database's error when it cannot be reached, and
        ``ConfigError`` when a production database holds the demo people."""
        self._last_try = time.monotonic()
        upgrade(self.db.engine)
        if self.production:
            with self.db.session() as s:
                _refuse_demo_people(s)
        if self.demo:
            _load_demo_if_empty(self.db)
        self.ready = True

    def prepare_or_defer(self) -> None:
        try:
            self.prepare()
        except DATABASE_ERRORS as error:
            # One line, no traceback: the state is ordinary and the app handles it.
            log.warning(
                "database unreachable at start-up (%s); will retry every %g s while serving "
                "the 503 page",
                error.__class__.__name__,
                self.retry_s,
            )

    def retry(self) -> None:
        """Called by requests while not ready: one thread tries, the others answer at once."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self.ready or time.monotonic() - self._last_try < self.retry_s:
                return
            try:
                self.prepare()
            except DATABASE_ERRORS:
                return
            except ConfigError as refusal:
                if str(refusal) != self._refusal:  # say it once, not every retry
                    log.error("%s", refusal)
                    self._refusal = str(refusal)
                return
            log.warning("database reachable again: schema up to date, serving")
        finally:
            self._lock.release()

    def install(self, server: Flask) -> None:
        @server.before_request
        def wait_for_database() -> None:
            if self.ready or _needs_no_database(request.path):
                return
            self.retry()
            if not self.ready:
                # As for a database that fails mid-request (auth.accounts): the 503 page and the
                # after-request hooks go on as for nobody, without asking the database again.
                g.polaris_db_down = True
                raise DatabaseNotReady()


def _needs_no_database(path: str) -> bool:
    return path in NO_DATABASE_PATHS or path.startswith(PUBLIC_PREFIXES)


def _refuse_demo_people(session: Session) -> None:
    found = demo_people(session)
    if found or has_demo(session):
        what = f"the demo people ({', '.join(found)})" if found else "the demo operator"
        raise ConfigError(
            f"POLARIS_ENV=production, and the database holds {what}; the demo logins' password "
            "is published in the README. Point DATABASE_URL at an "
            "empty database (and import your data with flask import-data), or delete the demo "
            "people and operator from this one."
        )


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


def _install_demo_ticker(server: Flask, db: Database, start_up: DatabaseStartUp) -> None:
    """Keep the demo alive (heartbeats, the charging session's kWh) while people look at it."""
    last_tick = [0.0]

    @server.before_request
    def tick() -> None:
        if not start_up.ready or time.monotonic() - last_tick[0] < DEMO_TICK_SECONDS:
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
