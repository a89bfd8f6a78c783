"""Engine, sessions and schema upgrades.

The Flask app keeps one ``Database`` in ``app.extensions``; callbacks and routes open a short
session with ``web.db.session_scope()`` (a transaction, committed at the end), or
``web.db.read_scope()`` for reads that need no transaction of their own. Every query function
elsewhere in ``data`` takes that session.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    CursorResult,
    Engine,
    Executable,
    Result,
    create_engine,
    event,
    exc,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from data.core.models import Charger, Operator, User

MIGRATIONS = Path(__file__).parent.parent / "migrations"
# A pooled PostgreSQL connection idle for longer than this is pinged before use (one round trip);
# one that served a request a moment ago is not, so a busy worker never pays a ping per request.
PING_IDLE_AFTER_S = 1.0


class DatabaseNotReady(Exception):
    """The app started while its database was unreachable and has not caught up yet (schema
    migrations pending): answered like a database that is down, with the friendly 503 page."""


def normalise_url(url: str) -> str:
    """Accept the usual ``postgresql://`` spelling and use psycopg 3 for it."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(
    url: str,
    *,
    statement_timeout_ms: int = 15_000,
    pool_timeout_s: float = 5,
    connect_timeout_s: int = 5,
    pool_size: int = 5,
    max_overflow: int = 5,
) -> Engine:
    """PostgreSQL engines fail fast instead of hanging: ``statement_timeout`` cancels a query
    held by a lock, ``connect_timeout_s`` bounds connecting to a server that does not answer
    (libpq counts at least 2 s), ``pool_timeout_s`` bounds waiting for a pooled connection, and
    idle connections are pinged before use (``PING_IDLE_AFTER_S``), so the app recovers when the
    server returns; a connection that dies while busy is found by SQLAlchemy's disconnect
    handling, which then replaces every pooled connection."""
    url = normalise_url(url)
    dialect = make_url(url).get_backend_name()
    kwargs: dict[str, Any] = {"pool_pre_ping": dialect != "postgresql"}
    if dialect == "postgresql":
        # A query held by a lock is cancelled well before a web worker would be killed. JIT
        # off: the app's queries are index lookups of a few ms, and JIT compiling them when
        # the planner's estimate grows (a big fleet) costs tens of ms and buys nothing. No
        # parallel workers: starting them costs more than the rollup-sized queries take, and
        # on a busy server they only take cores from other requests (utilisation 62 -> 35 ms).
        options = f"-c statement_timeout={statement_timeout_ms} -c jit=off"
        options += " -c max_parallel_workers_per_gather=0"
        kwargs["connect_args"] = {
            "options": options,
            "connect_timeout": connect_timeout_s,
        }
        kwargs["pool_timeout"] = pool_timeout_s
        # The most recently used connection first: a worker's requests keep landing on the one
        # whose server process has its caches and prepared statements warm (psycopg prepares a
        # statement on its 5th run on a connection), and the others can stay idle.
        kwargs["pool_use_lifo"] = True
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = max_overflow
    elif dialect == "sqlite":
        kwargs["connect_args"] = {"timeout": 15}
    engine = create_engine(url, **kwargs)
    if dialect == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections idle longer than ``PING_IDLE_AFTER_S``."""

    @event.listens_for(engine, "checkin")
    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["polaris_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("polaris_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_AFTER_S:
            return  # just connected, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool then discards this connection and checks out (or makes) another.
            raise exc.DisconnectionError() from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


MIGRATION_LOCK_KEY = 0x504C4D47  # any constant shared by every worker of this app


def upgrade(engine: Engine) -> None:
    """Bring the database to the latest schema (a no-op when it is already there).

    On PostgreSQL several workers may start at once on a new database: a session-level
    advisory lock lets one migrate while the others wait, then find nothing left to do.
    """
    cfg = alembic_config(engine)
    if engine.dialect.name != "postgresql":
        command.upgrade(cfg, "head")
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        lock.commit()
        try:
            command.upgrade(cfg, "head")
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            lock.commit()


def is_empty(session: Session) -> bool:
    """No operator, person or charger yet: a database nobody has put data in."""
    return all(session.scalar(select(t.id).limit(1)) is None for t in (Operator, User, Charger))


class Database:
    """An engine and its session factories: ``sessions`` in a transaction, ``reads`` in
    autocommit (no BEGIN and COMMIT round trips; each statement sees the latest commits)."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.engine = make_engine(url, **engine_options)
        self.engine_options = engine_options
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.reads = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def single_connection_copy(self) -> Database:
        """The same database and options with a pool of one connection and no overflow: for a
        health check on its own thread, which must never wait behind the busy pool's checkouts
        (one thread, one connection: it never waits for its own either)."""
        options = {**self.engine_options, "pool_size": 1, "max_overflow": 0}
        return Database(self.engine.url.render_as_string(hide_password=False), **options)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self.sessions() as s, s.begin():
            yield s


def core_rows(
    session: Session, statement: Executable, params: Mapping[str, Any]
) -> Result[*tuple[Any, ...]]:
    """Run a column SELECT on the session's connection, past the ORM's per-statement bookkeeping
    (about 0.1 ms of Python a statement, as much as the index lookups of a page view take in the
    database). For the queries every request runs; they return rows, never ORM objects.
    Pending ORM changes are flushed first, as ``session.execute`` would (a no-op when clean)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an INSERT/UPDATE/DELETE in ``session`` and return how many rows it changed (the
    result of such a statement is a cursor result, which has ``rowcount``)."""
    result = typing.cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)


def database_problem(db: Database) -> str | None:
    """None when the database answers ``SELECT 1``; else a plain reason for a health check
    (the error's class only: no address, user or traceback leaves the process)."""
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except exc.SQLAlchemyError as error:
        cause = error.orig if isinstance(error, exc.DBAPIError) else error
        return f"database unreachable ({cause.__class__.__name__})"
    return None
