"""Shared fixtures: every data test runs on SQLite and on PostgreSQL; every HTTP test builds its
app with ``app_factory`` (or ``module_app_factory``) and reaches it through ``client`` and
``client_for``; browser tests share a live demo app. Helpers are in tests/support/.

PostgreSQL comes from ``POLARIS_TEST_POSTGRES_URL`` (default: the local server on 127.0.0.1:5432,
database ``test``). Each pytest process works in a database of its own, created here and dropped
at the end. Without a reachable server those tests skip with the reason printed, except under
``CI=true``, where a skip is a failure.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

import data.exchange.importer as importer
from data.core.db import Database, upgrade
from tests.support.axe import AXE
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, live_server
from tests.support.databases import migrated_postgres_database, skip_or_fail, truncate_postgres
from tests.support.web import AppFactory, client_for

# The export tests' shared scenario fixture (a module of tests/support, not a test module).
pytest_plugins = ["tests.support.export_scenario"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (cheaper than migrating per test)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.engine.dispose()
    return path


# --- the app, and clients of it ---------------------------------------------------------------


@pytest.fixture
def app_factory(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[AppFactory]:
    """Builds this test's apps (``AppFactory``: a fresh SQLite copy unless given a database
    URL, the demo data on request, config overrides); their engines close when the test ends."""
    factory = AppFactory(lambda: tmp_path_factory.mktemp("app"), sqlite_template)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def module_app_factory(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[AppFactory]:
    """``app_factory`` for an app the whole module shares; engines close when the module ends."""
    factory = AppFactory(lambda: tmp_path_factory.mktemp("app"), sqlite_template)
    yield factory
    factory.close()


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    """The app on a fresh copy of the migrated SQLite database, nobody in it. A module whose
    tests need people, chargers or settings overrides ``app``, building it with ``app_factory``
    (or ``module_app_factory``); ``client`` and ``client_for`` then serve the module's app."""
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous test client of this test's ``app``."""
    return app.test_client()


@pytest.fixture(name="client_for")
def client_for_fixture(app: Flask) -> Callable[[str | None], FlaskClient]:
    """``client_for(email)``: a test client of this test's ``app`` signed in as ``email`` with
    the test password (``tests.support.web.client_for``), anonymous for None."""
    return partial(client_for, app)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this pytest process."""
    with migrated_postgres_database("polaris_test") as url:
        yield url


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
        truncate_postgres(db)
        db.engine.dispose()
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A ``Database`` on an empty, migrated schema (SQLite and PostgreSQL)."""
    database = Database(database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id and verifiable, but cheap: for tests that are not about hashing cost."""
    monkeypatch.setattr(
        importer, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash
    )


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
def demo_app(module_app_factory: AppFactory) -> Flask:
    """The app on a fresh SQLite copy with the demo loaded; one per test module."""
    return module_app_factory(demo=True, REFRESH_INTERVAL_MS=1000)


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


@pytest.fixture(scope="module")
def axe_source() -> Path:
    """axe-core's script, installed by ``npm ci`` (tests/support/axe.py runs it in the page)."""
    if not AXE.exists():
        skip_or_fail(f"axe-core not installed at {AXE} (run npm ci)")
    return AXE
