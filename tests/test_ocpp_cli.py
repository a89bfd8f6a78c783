"""``flask ocpp-simulate`` against a running central system, ``flask charger-command`` to a
simulated charger connected to it, and ``flask ocpp-server``'s plain refusal of a port it cannot
use (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.headers import build_authorization_basic

from central.server import CentralSystem, bound_port
from central.simulator import SimulatedCharger, connect_charger
from data.accounts.passwords import hash_password
from data.core.models import ChargerCommand, ChargingSession, CommandStatus, OcppTransaction
from tests.support.factories import make_account, make_charger, make_id_tag
from tests.support.web import AppFactory, make_app


@pytest.fixture
def app(app_factory: AppFactory, database_url: str) -> Flask:
    app = app_factory(database_url)
    with app.extensions["polaris_db"].session() as s:
        make_account(s, account_id="a1")
        make_charger(s, charger_id="C1")
        make_charger(s, charger_id="C2")
        make_id_tag(s, "a1", id_tag="TAG1")
    return app


@pytest.fixture
def central_url(app: Flask) -> Iterator[str]:
    """The central system in a thread of its own, on a free loopback port."""
    central = CentralSystem(app.extensions["polaris_db"])
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    context = central.running("127.0.0.1", 0, reservations=False)
    server = asyncio.run_coroutine_threadsafe(context.__aenter__(), loop).result(30)
    try:
        yield f"ws://127.0.0.1:{bound_port(server)}/ocpp"
    finally:
        asyncio.run_coroutine_threadsafe(context.__aexit__(None, None, None), loop).result(30)
        central.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def test_simulate_runs_a_session_per_charger(app: Flask, central_url: str):
    args = ["ocpp-simulate", "--url", central_url, "--chargers", "2", "--id-tag", "TAG1"]
    args += ["--meter-values", "2", "--interval", "0.05", "--power-kw", "36", "--unit", "kWh"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    lines = sorted(line for line in result.output.splitlines() if line.startswith("C"))
    assert [line.split(":")[0] for line in lines] == ["C1", "C2"]
    assert all("0.001 kWh" in line for line in lines)  # 36 kW for 2 x 0.05 s = 1 Wh
    with app.extensions["polaris_db"].session() as s:
        sessions = s.scalars(select(ChargingSession).order_by(ChargingSession.charger_id)).all()
        assert [(x.charger_id, x.account_id, x.finalized) for x in sessions] == [
            ("C1", "a1", True),
            ("C2", "a1", True),
        ]
        assert all(Decimal(x.energy_kwh) == Decimal("0.001") for x in sessions)


def test_simulate_reports_a_refused_charger_and_fails(app: Flask, central_url: str):
    args = ["ocpp-simulate", "--url", central_url, "--charger-id", "NOPE", "--meter-values", "1"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1
    assert "NOPE: failed" in result.output and "404" in result.output


def test_simulate_with_an_unknown_tag_starts_nothing(app: Flask, central_url: str):
    args = ["ocpp-simulate", "--url", central_url, "--charger-id", "C1", "--id-tag", "STRANGER"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "C1: id tag STRANGER was refused (Invalid)" in result.output
    with app.extensions["polaris_db"].session() as s:
        assert s.scalars(select(OcppTransaction)).all() == []


def test_server_says_plainly_when_it_cannot_listen(app: Flask):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = app.test_cli_runner().invoke(args=["ocpp-server", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("env", "allow", "expected"),
    [
        ("production", False, 401),  # before: 101, anyone knowing "C1" spoke for it
        ("production", True, 101),  # POLARIS_OCPP_ALLOW_NO_PASSWORD=1
        ("development", False, 101),
    ],
)
def test_production_server_refuses_chargers_without_an_ocpp_password(
    database_url: str, monkeypatch: pytest.MonkeyPatch, env: str, allow: bool, expected: int
):
    """``flask ocpp-server`` takes the rule from the app's config; a charger with a password
    connects with it in every case."""
    app = make_app(database_url, ENV=env, OCPP_ALLOW_NO_PASSWORD=allow)
    with app.extensions["polaris_db"].session() as s:
        make_charger(s, charger_id="C1")
        make_charger(s, charger_id="LOCKED").ocpp_password_hash = hash_password("s3cret-pass-16ch")
    statuses: dict[str, int] = {}

    async def attempt(url: str, password: str | None = None) -> int:
        headers = {}
        if password is not None:
            headers["Authorization"] = build_authorization_basic("LOCKED", password)
        try:
            async with connect(url, subprotocols=["ocpp1.6"], additional_headers=headers):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    async def serve_forever(self: CentralSystem, host: str, port: int) -> None:
        # The command's own CentralSystem, on a free port, for two handshakes and no longer.
        async with self.running("127.0.0.1", 0, reservations=False) as server:
            base = f"ws://127.0.0.1:{bound_port(server)}/ocpp"
            statuses["C1"] = await attempt(f"{base}/C1")
            statuses["LOCKED"] = await attempt(f"{base}/LOCKED", "s3cret-pass-16ch")

    monkeypatch.setattr(CentralSystem, "serve_forever", serve_forever)
    result = app.test_cli_runner().invoke(args=["ocpp-server", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert statuses == {"C1": expected, "LOCKED": 101}
    assert ("without an OCPP password are refused" in result.output) == (expected == 401)


@contextmanager
def connected_charger(url: str, charger_id: str) -> Iterator[SimulatedCharger]:
    """A simulated charger connected (and booted) in a thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    context = connect_charger(url, charger_id)
    charger = asyncio.run_coroutine_threadsafe(context.__aenter__(), loop).result(30)
    asyncio.run_coroutine_threadsafe(charger.boot(), loop).result(30)
    try:
        yield charger
    finally:
        asyncio.run_coroutine_threadsafe(context.__aexit__(None, None, None), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def test_charger_command_waits_for_the_answer(app: Flask, central_url: str):
    runner = app.test_cli_runner()
    with connected_charger(central_url, "C1") as charger:
        unlocked = runner.invoke(
            args=["charger-command", "C1", "UnlockConnector", "connector_id=1", "--wait", "20"]
        )
        read_only = runner.invoke(
            args=["charger-command", "C1", "ChangeConfiguration", "key=NumberOfConnectors",
                  "value=2", "--wait", "20"]
        )  # fmt: skip
    assert unlocked.exit_code == 0, unlocked.output
    assert 'UnlockConnector {"connector_id": 1} to C1: pending' in unlocked.output
    assert "accepted" in unlocked.output and '"status": "Unlocked"' in unlocked.output
    assert read_only.exit_code == 1, read_only.output
    assert "rejected" in read_only.output and '"status": "Rejected"' in read_only.output
    assert [action for action, _ in charger.received] == ["UnlockConnector", "ChangeConfiguration"]
    with app.extensions["polaris_db"].session() as s:
        rows = s.scalars(select(ChargerCommand).order_by(ChargerCommand.id)).all()
        assert [(r.action, r.status, r.user_id) for r in rows] == [
            ("UnlockConnector", CommandStatus.accepted, None),
            ("ChangeConfiguration", CommandStatus.rejected, None),
        ]


def test_charger_command_without_a_server_holding_the_charger(app: Flask, central_url: str):
    result = app.test_cli_runner().invoke(
        args=["charger-command", "C2", "Reset", "type=Hard", "--wait", "0.5"]
    )
    assert result.exit_code == 2, result.output
    assert "Command" in result.output and ": pending" in result.output
    assert "No outcome after 0.5 s (is an ocpp-server running?)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["C1", "Reset", "type=Medium"], "Reset: type: Input should be 'Soft' or 'Hard'"),
        (["C1", "Reset", "Soft"], "Parameters are key=value, not 'Soft'"),
        (["NOPE", "ClearCache"], "Unknown charger 'NOPE'"),
        (["C1", "Dance"], "Unknown action 'Dance'"),
        (["C1", "CancelReservation", "reservation_id=1"], "for reservations only"),
    ],
)
def test_charger_command_refuses_invalid_commands(app: Flask, args: list[str], message: str):
    result = app.test_cli_runner().invoke(args=["charger-command", *args])
    assert result.exit_code != 0
    assert message in result.output
    with app.extensions["polaris_db"].session() as s:
        assert s.scalars(select(ChargerCommand)).all() == []


def test_simulate_without_a_session_only_connects(app: Flask, central_url: str):
    args = ["ocpp-simulate", "--url", central_url, "--charger-id", "C1", "--no-session"]
    args += ["--commands", "reject", "--answer-delay", "0.1"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "C1: connected, 2 messages" in result.output
    with app.extensions["polaris_db"].session() as s:
        assert s.scalars(select(OcppTransaction)).all() == []
