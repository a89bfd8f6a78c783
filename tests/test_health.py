"""``GET /healthz``, the load balancer's health check (deploy/haproxy.cfg), on both processes:
the app (Flask) and the OCPP server (plain HTTP on its WebSocket port). 200 ``{"status": "ok"}``
when the process can run ``SELECT 1`` on its database; 503 JSON with a plain reason when it
cannot, never a traceback or the database's address."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from central.server import CentralSystem, bound_port
from data.core.db import Database
from tests.support.processes import free_port
from tests.support.web import make_app

LEAKS = ("Traceback", "127.0.0.1", "root", 'File "', "sqlite:///")


def dead_url(dialect: str, tmp_path: Path) -> str:
    """A database URL nothing answers: PostgreSQL on a free port, SQLite in a missing folder."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'polaris.db'}"
    return f"postgresql://root@127.0.0.1:{free_port()}/polaris"


def test_app_health_is_ok_with_its_database(database_url: str) -> None:
    app = make_app(database_url)
    response = app.test_client().get("/healthz")  # anonymous: no sign-in needed
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == {"status": "ok"}
    app.extensions["polaris_db"].engine.dispose()


def test_app_health_is_503_when_its_database_goes(database_url: str, tmp_path: Path) -> None:
    """The database stops answering after start-up (the app was serving)."""
    dialect = database_url.split(":", 1)[0]
    app = make_app(database_url, CONNECT_TIMEOUT_S=2)
    app.extensions["polaris_db"].engine.dispose()
    app.extensions["polaris_db"] = Database(dead_url(dialect, tmp_path), connect_timeout_s=2)
    response = app.test_client().get("/healthz")
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body
    assert response.mimetype == "application/json"
    assert response.json == {
        "status": "unavailable",
        "reason": "database unreachable (OperationalError)",
    }
    assert not [leak for leak in LEAKS if leak in body], body


def test_app_started_without_its_database_is_unhealthy(tmp_path: Path) -> None:
    """Start-up could not migrate: 503 JSON (not the HTML 503 page), so HAProxy keeps it out."""
    app = make_app(dead_url("postgresql", tmp_path), TESTING=False, CONNECT_TIMEOUT_S=2)
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.mimetype) == (503, "application/json")
    assert response.json == {"status": "unavailable", "reason": "database not ready yet"}


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 - loopback
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def _ocpp_health(url: str) -> tuple[int, str, str]:
    """GET /healthz over plain HTTP (what HAProxy sends) from an in-process OCPP server."""

    async def run() -> tuple[int, str, str]:
        central = CentralSystem(Database(url, connect_timeout_s=2))
        try:
            context = central.running("127.0.0.1", 0, reservations=False, commands=False)
            async with context as server:
                port = bound_port(server)
                return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")
        finally:
            central.close()
            central.db.engine.dispose()

    return asyncio.run(run())


def test_ocpp_server_health_is_ok_with_its_database(database_url: str) -> None:
    status, content_type, body = _ocpp_health(database_url)
    assert (status, content_type) == (200, "application/json"), body
    assert json.loads(body) == {"status": "ok"}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_ocpp_server_health_is_503_without_its_database(dialect: str, tmp_path: Path) -> None:
    status, content_type, body = _ocpp_health(dead_url(dialect, tmp_path))
    assert (status, content_type) == (503, "application/json"), body
    assert json.loads(body) == {
        "status": "unavailable",
        "reason": "database unreachable (OperationalError)",
    }
    assert not [leak for leak in LEAKS if leak in body], body


def test_ocpp_server_still_refuses_other_plain_http_paths(database_url: str) -> None:
    """Only /healthz is answered as plain HTTP; /ocpp/<id> still needs the WebSocket handshake."""

    async def run() -> tuple[int, str, str]:
        central = CentralSystem(Database(database_url))
        try:
            async with central.running("127.0.0.1", 0, reservations=False, commands=False) as s:
                port = bound_port(s)
                return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthzz")
        finally:
            central.close()
            central.db.engine.dispose()

    status, _type, _body = asyncio.run(run())
    assert status == 404


def _ocpp_health_while_busy(db: Database, hold: Callable[[CentralSystem], None]) -> tuple[int, str]:
    """GET /healthz while ``hold`` keeps every database thread of the server busy (and more
    work queued behind them): what a saturated server's check meets."""
    released = threading.Event()

    async def run() -> tuple[int, str]:
        central = CentralSystem(db, db_threads=2)
        try:
            async with central.running("127.0.0.1", 0, reservations=False, commands=False) as s:
                port = bound_port(s)
                blocked = [hold_threads(central, released, hold) for _ in range(6)]
                try:
                    status, _type, body = await asyncio.to_thread(
                        _get, f"http://127.0.0.1:{port}/healthz"
                    )
                    # Answered while the handlers were still held: not queued behind them.
                    assert not released.is_set()
                finally:
                    released.set()
                    await asyncio.gather(*blocked, return_exceptions=True)
                return status, body
        finally:
            central.close()
            central.db.engine.dispose()

    return asyncio.run(run())


def hold_threads(
    central: CentralSystem, released: threading.Event, hold: Callable[[CentralSystem], None]
) -> asyncio.Future[None]:
    def held() -> None:
        hold(central)
        released.wait(30)

    return asyncio.get_running_loop().run_in_executor(central._executor, held)


HELD: list[Any] = []  # the connections _check_out holds, closed by the test


def _check_out(central: CentralSystem) -> None:
    """Hold one of the pool's connections, as a message handler in its transaction does."""
    connection = central.db.engine.connect()
    connection.exec_driver_sql("SELECT 1")
    HELD.append(connection)


def test_a_saturated_ocpp_server_still_answers_its_health_check(database_url: str) -> None:
    """Every database thread held and the pool used up (no overflow): the check has its own
    thread and connection, so a busy but working server stays UP at the balancer."""
    db = Database(database_url, pool_size=2, max_overflow=0, pool_timeout_s=30)
    try:
        status, body = _ocpp_health_while_busy(db, _check_out)
    finally:
        for connection in HELD:
            connection.close()
        HELD.clear()
    assert status == 200, body
    assert json.loads(body) == {"status": "ok"}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_saturated_ocpp_server_without_its_database_is_unhealthy(
    dialect: str, tmp_path: Path
) -> None:
    """Its own thread does not make the check pass blindly: the database is still asked."""
    db = Database(dead_url(dialect, tmp_path), connect_timeout_s=2)
    status, body = _ocpp_health_while_busy(db, lambda central: None)
    assert status == 503, body
    assert json.loads(body) == {
        "status": "unavailable",
        "reason": "database unreachable (OperationalError)",
    }
