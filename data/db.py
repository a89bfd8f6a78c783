"""Engine, sessions and schema upgrades.

The Flask app keeps one ``Database`` in ``app.extensions``; callbacks and routes open a short
session with ``session_scope()``. Every query function elsewhere in ``data`` takes that session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import current_app
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from data.models import Charger, Operator, User

MIGRATIONS = Path(__file__).parent / "migrations"


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
    pre-ping replaces connections the server dropped, so the app recovers when it returns."""
    url = normalise_url(url)
    dialect = make_url(url).get_backend_name()
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if dialect == "postgresql":
        # A query held by a lock is cancelled well before a web worker would be killed. JIT
        # off: the app's queries are index lookups of a few ms, and JIT compiling them when
        # the planner's estimate grows (a big fleet) costs tens of ms and buys nothing.
        kwargs["connect_args"] = {
            "options": f"-c statement_timeout={statement_timeout_ms} -c jit=off",
            "connect_timeout": connect_timeout_s,
        }
        kwargs["pool_timeout"] = pool_timeout_s
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = max_overflow
    elif dialect == "sqlite":
        kwargs["connect_args"] = {"timeout": 15}
    engine = create_engine(url, **kwargs)
    if dialect == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


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
    """An engine and its session factory."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.engine = make_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self.sessions() as s, s.begin():
            yield s


def get_db() -> Database:
    return current_app.extensions["polaris_db"]


@contextmanager
def session_scope() -> Iterator[Session]:
    with get_db().session() as s:
        yield s
