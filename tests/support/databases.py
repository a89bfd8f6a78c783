"""Test databases beside the ``database_url``/``db`` fixtures: PostgreSQL databases of a test's
own, emptying the shared one, and skipping (failing under ``CI=true``) without a server.

PostgreSQL comes from ``POLARIS_TEST_POSTGRES_URL`` (default: the local server on 127.0.0.1:5432,
database ``test``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from data.core.db import Database, normalise_url, upgrade
from data.core.models import Base

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

POSTGRES_URL = os.environ.get("POLARIS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")


def skip_or_fail(reason: str) -> None:
    """Skip with the reason on a laptop; in CI a missing dependency is a failure."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


def postgres_admin() -> Engine:
    """An AUTOCOMMIT engine on the test server, for CREATE and DROP DATABASE; skips (fails
    under CI) when no PostgreSQL answers."""
    try:
        admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no PostgreSQL here"
        skip_or_fail(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}")
    return admin


def scratch_postgres_name(prefix: str) -> tuple[str, str]:
    """A database name of this process's own, ``<prefix>_<pid>_<random>``, and its URL on the
    test server (the database is not created)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    return name, normalise_url(POSTGRES_URL).rsplit("/", 1)[0] + "/" + name


@contextmanager
def migrated_postgres_database(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database (see ``scratch_postgres_name``); yields its URL and
    drops it afterwards, even while connections to it remain."""
    admin = postgres_admin()
    name, url = scratch_postgres_name(prefix)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        db = Database(url)
        upgrade(db.engine)
        db.engine.dispose()
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def truncate_postgres(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables} CASCADE"))


@contextmanager
def fresh_database(dialect: str, directory: Path, template: Path) -> Iterator[str]:
    """An empty, migrated database of its own (not the shared per-process one the ``db``
    fixture truncates), dropped afterwards."""
    if dialect == "sqlite":
        path = directory / f"exports-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    with migrated_postgres_database("polaris_test_exports") as url:
        yield url
