"""Start-up's database work (migrations, the production check for demo people, demo data) and
the demo's ticker: what ``create_app`` needs the database for before it serves. A database that
is unreachable at start-up does not stop the app; requests get the friendly 503 page until it is
back (``DatabaseStartUp``)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import click
from flask import Flask, g, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from auth.guard import PUBLIC_PREFIXES
from config import ConfigError
from data.core.db import Database, DatabaseNotReady, is_empty, upgrade
from data.demo.loader import demo_people, has_demo, load_demo, tick_demo
from data.demo.showcase import DEMO_LOGINS

log = logging.getLogger("polaris")
DEMO_TICK_SECONDS = 10
DATABASE_ERRORS = (OperationalError, PoolTimeoutError)
# Served while the database is not ready yet: liveness, and what the 503 page itself loads.
NO_DATABASE_PATHS = frozenset({"/healthz", "/favicon.ico", "/_favicon.ico"})


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


def install_demo_ticker(server: Flask, db: Database, start_up: DatabaseStartUp) -> None:
    """Keep the demo alive (heartbeats, the charging session's kWh) while people look at it."""
    last_tick = [0.0]

    @server.before_request
    def tick() -> None:
        if not start_up.ready or time.monotonic() - last_tick[0] < DEMO_TICK_SECONDS:
            return
        last_tick[0] = time.monotonic()
        with db.session() as s:
            tick_demo(s, datetime.now(UTC))
