"""Starting the app (issue 13): production never runs on demo data, a database that is down at
start-up does not stop the app, and the servers do not name their software and versions.

* ``POLARIS_ENV=production`` loads no demo data, says so when ``POLARIS_DEMO=1`` asks for it,
  and refuses (a plain message, no traceback) a database that holds the demo people, whose
  password the README publishes.
* With the database unreachable, ``create_app`` and a real ``gunicorn app:server`` start, log
  one line, and answer the friendly 503 page; retries are spaced by ``DB_RETRY_S``.
  (``tests/test_reliability.py`` has the database coming back on PostgreSQL.)
* The ``Server`` header names neither Werkzeug, gunicorn nor Python.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

import web.start_up as start_up_module
from app import create_app
from config import ROOT, ConfigError, load_config
from data.core.db import Database, is_empty, upgrade
from data.core.models import Operator, Role, User
from data.demo.loader import load_demo
from data.demo.showcase import DEMO_LOGINS, DEMO_PASSWORD, OPERATOR_EMAIL
from tests.support.browser import live_server
from tests.support.processes import Gunicorn, free_port, gunicorn, http_get, server_env
from tests.support.web import TEST_SECRET, add_person, make_app, sign_in

SMALL = 0.01  # a demo with 1% of the history: the same people, loaded in a moment
TRACEBACK_SIGNS = ("Traceback", 'File "', "OperationalError", "psycopg", "sqlalchemy")


@pytest.fixture(autouse=True)
def no_demo_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests say what they want; the environment running pytest says nothing."""
    for name in ("POLARIS_DEMO", "POLARIS_ENV", "POLARIS_OCPP_ALLOW_NO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def production(url: str, **overrides: Any) -> dict[str, Any]:
    """A production configuration, with the demo setting left to the environment."""
    return {
        "ENV": "production",
        "DATABASE_URL": url,
        "SECRET_KEY": TEST_SECRET,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SNAPSHOT_S": 0,
        **overrides,
    }


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"  # not even migrated: a first start


def sqlite_with_demo(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    db = Database(url)
    upgrade(db.engine)
    with db.session() as s:
        load_demo(s, datetime.now(UTC), scale=SMALL)
    db.engine.dispose()
    return url


# --- production and the demo ------------------------------------------------------------------


def test_production_defaults_to_no_demo_and_development_to_the_demo() -> None:
    assert load_config(production("sqlite://"))["DEMO"] is False
    assert load_config({"SECRET_KEY": TEST_SECRET})["DEMO"] is True  # development


def test_production_on_an_empty_database_loads_no_demo(empty_sqlite: str) -> None:
    """The first production start on a new database: before, it loaded the demo operator and
    operator@polaris.example / demo-password signed in as an admin."""
    app = create_app(production(empty_sqlite))
    with app.extensions["polaris_db"].session() as s:
        assert is_empty(s)
    client = app.test_client()
    refused = sign_in(client, OPERATOR_EMAIL, DEMO_PASSWORD)
    assert refused.status_code != 302  # no admin session
    assert client.get("/admin").status_code == 302  # still anonymous: sent to sign in
    app.extensions["polaris_db"].engine.dispose()


def test_production_ignores_polaris_demo_with_a_warning(
    empty_sqlite: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("POLARIS_DEMO", "1")
    caplog.set_level(logging.WARNING, logger="polaris")
    app = create_app(production(empty_sqlite))
    assert app.config["DEMO"] is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("POLARIS_DEMO=1 is ignored" in w and "production" in w for w in warnings)
    with app.extensions["polaris_db"].session() as s:
        assert is_empty(s)
    # ... and the demo ticker (which rewrites demo rows on requests) is not installed
    hooks = [h.__qualname__ for h in app.before_request_funcs[None]]
    assert not [h for h in hooks if "demo_ticker" in h], hooks
    app.extensions["polaris_db"].engine.dispose()


def test_development_still_loads_and_ticks_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the rule: nothing changed for a newcomer's first start."""
    monkeypatch.setattr(start_up_module, "load_demo", lambda s, now: load_demo(s, now, scale=SMALL))
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET, "SNAPSHOT_S": 0})
    assert app.config["DEMO"] is True
    hooks = [h.__qualname__ for h in app.before_request_funcs[None]]
    assert [h for h in hooks if "demo_ticker" in h], hooks
    assert sign_in(app.test_client(), OPERATOR_EMAIL, DEMO_PASSWORD).status_code == 302
    app.extensions["polaris_db"].engine.dispose()


def test_production_refuses_a_database_holding_the_demo_people(tmp_path: Path) -> None:
    url = sqlite_with_demo(tmp_path)
    with pytest.raises(ConfigError) as refused:
        create_app(production(url))
    message = str(refused.value)
    assert OPERATOR_EMAIL in message and "empty database" in message, message
    # The demo operator renamed, its people kept: still refused (their password is public).
    db = Database(url)
    with db.session() as s:
        s.execute(update(Operator).values(name="Real Energy", support_email="help@real.example"))
    with pytest.raises(ConfigError, match="delete the demo"):
        create_app(production(url))
    emails = [x.email for x in DEMO_LOGINS]
    # Once no published login is left (here: the people given other emails), production starts.
    with db.session() as s:
        for n, user in enumerate(s.scalars(select(User).where(User.email.in_(emails)))):
            user.email = f"person{n}@real.example"
    db.engine.dispose()
    create_app(production(url)).extensions["polaris_db"].engine.dispose()


def test_production_refusal_is_one_plain_message_when_gunicorn_loads_the_app(
    tmp_path: Path,
) -> None:
    """``gunicorn app:server`` builds the app through ``app.server``: the refusal is a line on
    stderr and exit status 3 (gunicorn's "worker failed to boot": the master stops rather
    than respawning), not a traceback."""
    url = sqlite_with_demo(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", "import app; app.server"],
        cwd=ROOT,
        env=server_env(DATABASE_URL=url, POLARIS_INSTANCE=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert "Polaris Express cannot start" in result.stderr and OPERATOR_EMAIL in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_flask_cli_prints_the_refusal_without_a_traceback(tmp_path: Path) -> None:
    url = sqlite_with_demo(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", "0"],
        cwd=ROOT,
        env=server_env(DATABASE_URL=url, POLARIS_INSTANCE=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    expected = "Error: POLARIS_ENV=production, and the database holds the demo people"
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_demo_data_command_refuses_production(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    app = create_app(production(url))
    result = app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 1
    assert "production" in result.output
    with app.extensions["polaris_db"].session() as s:
        assert is_empty(s)
    app.extensions["polaris_db"].engine.dispose()


# --- the database unreachable at start-up -----------------------------------------------------


def test_app_starts_without_its_database_and_spaces_its_retries(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, ``create_app`` raised OperationalError from the start-up migration. Now it logs
    one line and every request gets the friendly 503 page; a request retries the start-up work
    only when ``DB_RETRY_S`` has passed since the last try (here an hour: never again)."""
    tries: list[float] = []
    real_upgrade = start_up_module.upgrade

    def counting_upgrade(engine: Any) -> None:
        tries.append(time.monotonic())
        real_upgrade(engine)

    monkeypatch.setattr(start_up_module, "upgrade", counting_upgrade)
    caplog.set_level(logging.INFO)
    url = f"postgresql://root@127.0.0.1:{free_port()}/polaris"
    app = make_app(url, TESTING=False, DB_RETRY_S=3600, CONNECT_TIMEOUT_S=2)
    start_up = [r for r in caplog.records if r.name == "polaris"]
    assert [r.getMessage() for r in start_up][:1] == [
        "database unreachable at start-up (OperationalError); will retry every 3600 s while "
        "serving the 503 page"
    ]
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    client = app.test_client()
    for path in ("/", "/login", "/switch", "/admin/sessions?period=current"):
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == 503, (path, response.status_code)
        assert "database" in body.lower() and "try again" in body.lower(), body[:400]
        assert not [s for s in TRACEBACK_SIGNS if s in body], body[:400]
    health = client.get("/healthz")  # answered without the 503 page: a balancer reads it
    assert (health.status_code, health.json) == (
        503,
        {"status": "unavailable", "reason": "database not ready yet"},
    )
    assert client.get("/assets/polaris.css").status_code == 200  # what the 503 page loads
    assert len(tries) == 1  # the start only: no retry within the hour

    app.extensions["polaris_start_up"].retry_s = 0
    client.get("/")
    client.get("/switch")
    assert len(tries) == 3  # one retry per request once the interval has passed
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    text = caplog.text
    assert "Traceback" not in text and "Connection refused" not in text


def test_a_signed_in_person_gets_the_503_page_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A session cookie from before the restart makes the sign-in check, the error page and the
    after-request hooks want the person from the database: answered as for nobody, once."""
    working = make_app(f"sqlite:///{tmp_path / 'ok.db'}")
    add_person(working, "alice@example.com", ("acc-alice", Role.customer, None))
    before = working.test_client()
    assert sign_in(before, "alice@example.com").status_code == 302
    cookie = before.get_cookie("session")
    assert cookie is not None
    app = make_app(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", TESTING=False)
    client = app.test_client()
    client.set_cookie("session", cookie.value)
    caplog.set_level(logging.INFO)
    for path in ("/", "/switch", "/login"):
        response = client.get(path)
        assert response.status_code == 503, (path, response.status_code)
        assert "try again" in response.get_data(as_text=True).lower()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    for built in (working, app):
        built.extensions["polaris_db"].engine.dispose()


def test_demo_is_loaded_once_the_database_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Development: a SQLite file in a folder that does not exist yet cannot be opened
    (OperationalError, as for a server that is down). When the folder appears, the next request
    migrates, loads the demo and serves it."""
    monkeypatch.setattr(start_up_module, "load_demo", lambda s, now: load_demo(s, now, scale=SMALL))
    folder = tmp_path / "later"
    url = f"sqlite:///{folder / 'polaris.db'}"
    config = {"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET, "SNAPSHOT_S": 0, "DB_RETRY_S": 0}
    app = create_app(config)
    client = app.test_client()
    assert client.get("/login").status_code == 503
    folder.mkdir()
    assert client.get("/login").status_code == 200
    assert sign_in(client, OPERATOR_EMAIL, DEMO_PASSWORD).status_code == 302
    assert client.get("/admin").status_code == 200
    app.extensions["polaris_db"].engine.dispose()


def test_production_that_finds_the_demo_people_late_stays_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Started while the database was unreachable, production finds the demo people only when
    it comes back: it says so once in the log and keeps answering 503, never serving them."""
    folder = tmp_path / "later"
    app = create_app(production(f"sqlite:///{folder / 'demo.db'}", DB_RETRY_S=0))
    client = app.test_client()
    assert client.get("/login").status_code == 503
    folder.mkdir()
    sqlite_with_demo(folder)  # the same file the app points at: later/demo.db
    caplog.set_level(logging.ERROR, logger="polaris")
    for _ in range(3):
        assert client.get("/login").status_code == 503
        login = {"email": OPERATOR_EMAIL, "password": DEMO_PASSWORD}
        assert client.post("/login", data=login).status_code == 503
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refusals) == 1 and OPERATOR_EMAIL in refusals[0], refusals
    app.extensions["polaris_db"].engine.dispose()


@pytest.fixture(scope="module")
def gunicorn_without_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """DATABASE_URL on a port nothing listens on."""
    url = f"postgresql://root@127.0.0.1:{free_port()}/polaris"
    with gunicorn(tmp_path_factory.mktemp("gunicorn-down"), url) as server:
        yield server


def test_gunicorn_starts_without_its_database_and_answers_503(
    gunicorn_without_database: Gunicorn,
) -> None:
    """Before, the start-up migration raised in the worker and gunicorn's master exited."""
    status, headers, body = http_get(f"{gunicorn_without_database.url}/healthz")
    assert (status, headers["Content-Type"]) == (503, "application/json"), body
    assert json.loads(body)["status"] == "unavailable", body
    for path in ("/login", "/"):
        status, _headers, body = http_get(f"{gunicorn_without_database.url}{path}")
        assert status == 503, (path, status, body[:400])
        assert "database" in body.lower() and "try again" in body.lower()
        assert not [s for s in TRACEBACK_SIGNS if s in body], body[:400]
    text = gunicorn_without_database.log.read_text()
    ours = [line for line in text.splitlines() if not line.startswith("[")]  # not gunicorn's
    assert ours[:1] == [
        "database unreachable at start-up (OperationalError); will retry every 5 s while "
        "serving the 503 page"
    ], text
    assert "Traceback" not in text, text


# --- the Server header --------------------------------------------------------------------------


def test_gunicorn_server_header_names_no_software(tmp_path: Path) -> None:
    """Before: ``Server: gunicorn`` on every answer (gunicorn writes it itself)."""
    with gunicorn(tmp_path, f"sqlite:///{tmp_path / 'polaris.db'}") as server:
        answers = [http_get(f"{server.url}{path}") for path in ("/healthz", "/login", "/")]
    assert [status for status, _, _ in answers] == [200, 200, 200]  # / -> sign in
    for _status, headers, _body in answers:
        named = headers.get("Server", "")
        assert "gunicorn" not in named.lower() and "python" not in named.lower(), named
        assert not any(ch.isdigit() for ch in named), named


def test_werkzeug_server_header_names_no_software(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'w.db'}")
    with live_server(app) as base:
        for path in ("/healthz", "/login", "/no-such-page"):
            _status, headers, _body = http_get(f"{base}{path}")
            server = headers.get("Server", "")
            assert "werkzeug" not in server.lower() and "python" not in server.lower(), server
            assert not any(ch.isdigit() for ch in server), server
    app.extensions["polaris_db"].engine.dispose()
