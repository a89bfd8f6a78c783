"""Shared fixtures: every data test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``POLARIS_TEST_POSTGRES_URL`` (default: the local server on 127.0.0.1:5432,
database ``test``). Each pytest process works in a database of its own, created here and dropped
at the end. Without a reachable server those tests skip with the reason printed, except under
``CI=true``, where a skip is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, text

from data.core.db import Database, normalise_url, upgrade
from data.core.models import Base
from data.demo.loader import load_demo
from tests.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.web import make_app

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("POLARIS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")


def skip_or_fail(reason: str) -> None:
    """Skip with the reason on a laptop; in CI a missing dependency is a failure."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (cheaper than migrating per test)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.engine.dispose()
    return path


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


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this pytest process."""
    with migrated_postgres_database("polaris_test") as url:
        yield url


def _truncate_postgres(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "polaris.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database_url")
        db = Database(url)
        _truncate_postgres(db)
        db.engine.dispose()
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A ``Database`` on an empty, migrated schema (SQLite and PostgreSQL)."""
    database = Database(database_url)
    yield database
    database.engine.dispose()


# --- markers that select what they say -------------------------------------------------------

# A test that takes one of these needs that service: ``-m postgres`` / ``-m browser`` (or their
# ``not``) select it whether or not its module remembered the decorator.
POSTGRES_FIXTURES = frozenset({"postgres_database_url"})
BROWSER_FIXTURES = frozenset({"browser", "page"})


def needs_postgres(item: pytest.Item) -> bool:
    """True for the PostgreSQL run of a ``database_url``/``db`` test and any test that takes the
    session's PostgreSQL database."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("database_url") == "postgresql":
        return True
    return bool(POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())))


def needs_browser(item: pytest.Item) -> bool:
    return bool(BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if needs_postgres(item):
            item.add_marker(pytest.mark.postgres)
        if needs_browser(item):
            item.add_marker(pytest.mark.browser)


# --- browser tests: a live app with the demo data, and headless Chromium -------------------


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Flask:
    """The app on a fresh SQLite copy with the demo loaded; one per test module."""
    path = tmp_path_factory.mktemp("browser") / "demo.db"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}", REFRESH_INTERVAL_MS=1000)
    with app.extensions["polaris_db"].session() as s:
        load_demo(s, datetime.now(UTC))
    return app


@pytest.fixture(scope="module")
def base_url(demo_app: Flask) -> Iterator[str]:
    with live_server(demo_app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
