"""Commands end to end: rows asked for in the database, delivered by the real OCPP server over a
loopback websocket to simulated chargers, answered, recorded; on SQLite (polling) and PostgreSQL
(LISTEN/NOTIFY: the server looks only every 30 s, so a quick answer proves the wake-up)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

import data.ocpp.commands as commands
from central.server import CentralSystem, bound_port
from central.simulator import CommandBehaviour, SimulatedCharger, connect_charger
from data.core.db import Database
from data.core.models import ChargingSession, CommandStatus
from data.ocpp.commands import CommandRow
from tests.support.factories import make_account, make_charger, make_id_tag


@pytest.fixture
def site(db: Database) -> Database:
    with db.session() as s:
        make_account(s, account_id="a1")
        make_id_tag(s, "a1", id_tag="TAG1")
        for charger_id in ("C1", "C2", "C3", "C4"):
            make_charger(s, charger_id=charger_id, max_power_kw="50")
    return db


def run_central(db: Database, scenario: Callable[[CentralSystem, str], Awaitable[None]]) -> None:
    central = CentralSystem(
        db,
        command_timeout_s=2,
        command_offline_after_s=1.5,
        command_poll_s=0.2,
        command_listen_poll_s=30,  # PostgreSQL: only NOTIFY can make it quick
        command_expire_every_s=0.2,
    )

    async def main() -> None:
        async with central.running("127.0.0.1", 0, reservations=False) as server:
            if db.dialect == "postgresql":
                while not central.listening:
                    await asyncio.sleep(0.02)
            await asyncio.wait_for(
                scenario(central, f"ws://127.0.0.1:{bound_port(server)}/ocpp"), timeout=60
            )

    try:
        asyncio.run(main())
    finally:
        central.close()


async def ask(db: Database, charger_id: str, action: str, **params: Any) -> int:
    def write() -> int:
        with db.session() as s:
            return commands.request_command(s, charger_id, action, params, datetime.now(UTC)).id

    return await asyncio.to_thread(write)


async def finished(db: Database, command_id: int, within_s: float = 10) -> CommandRow:
    deadline = time.monotonic() + within_s
    while True:
        with db.session() as s:
            row = commands.command(s, command_id)
        assert row is not None
        if row.finished or time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.05)


async def until(condition: Callable[[], bool], within_s: float = 10) -> None:
    deadline = time.monotonic() + within_s
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def test_commands_reach_the_charger_and_end_in_the_right_state(site: Database):
    outcome: dict[str, Any] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with (
            connect_charger(url, "C1") as c1,
            connect_charger(url, "C2") as c2,
            connect_charger(url, "C4") as c4,
        ):
            chargers: list[SimulatedCharger] = [c1, c2, c4]
            for charger in chargers:
                await charger.boot()
            c2.commands = CommandBehaviour.ignore
            c4.commands, c4.answer_delay_s = CommandBehaviour.reject, 0.5
            await asyncio.sleep(0.5)  # the wake-ups of the connections are spent
            started = time.monotonic()
            unlock = await finished(site, await ask(site, "C1", "UnlockConnector", connector_id=1))
            outcome["unlock took"] = time.monotonic() - started
            ids = {
                "read-only": await ask(
                    site, "C1", "ChangeConfiguration", key="NumberOfConnectors", value="2"
                ),
                "change": await ask(
                    site, "C1", "ChangeConfiguration", key="HeartbeatInterval", value="60"
                ),
                "get": await ask(site, "C1", "GetConfiguration", key="HeartbeatInterval,Nope"),
                "offline": await ask(site, "C3", "Reset", type="Soft"),  # never connected
                "ignored": await ask(site, "C2", "ClearCache"),
                "refused slowly": await ask(site, "C4", "Reset", type="Hard"),
            }
            rows = {name: await finished(site, i) for name, i in ids.items()}
            reset = await finished(site, await ask(site, "C1", "Reset", type="Soft"))
            await until(lambda: c1.boots == 2 and central.connected.get("C1") is not None)
            outcome.update(rows, unlock=unlock, reset=reset, boots=c1.boots)
            outcome["after reboot"] = await finished(
                site, await ask(site, "C1", "TriggerMessage", requested_message="Heartbeat")
            )
            outcome["configuration"] = c1.configuration["HeartbeatInterval"]
            outcome["received"] = [action for action, _ in c1.received]
            outcome["ignored received"] = [action for action, _ in c2.received]

    run_central(site, scenario)

    def answer(name: str) -> tuple[CommandStatus, Any]:
        row = outcome[name]
        return row.status, row.response

    assert outcome["unlock took"] < 2  # PostgreSQL: NOTIFY woke the server (it polls every 30 s)
    assert answer("unlock") == (CommandStatus.accepted, {"status": "Unlocked"})
    assert answer("read-only") == (CommandStatus.rejected, {"status": "Rejected"})
    assert answer("change") == (CommandStatus.accepted, {"status": "Accepted"})
    assert outcome["configuration"] == ("60", False)
    assert answer("get") == (
        CommandStatus.accepted,
        {
            "configuration_key": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
            "unknown_key": ["Nope"],
        },
    )
    assert answer("offline") == (CommandStatus.offline, None)
    assert outcome["offline"].sent_at is None
    assert answer("ignored") == (CommandStatus.timeout, None)
    assert outcome["ignored"].sent_at is not None
    assert outcome["ignored received"] == ["ClearCache"]  # it got it and never answered
    assert answer("refused slowly") == (CommandStatus.rejected, {"status": "Rejected"})
    assert answer("reset") == (CommandStatus.accepted, {"status": "Accepted"})
    assert outcome["boots"] == 2  # Reset: disconnected, reconnected, BootNotification
    assert answer("after reboot") == (CommandStatus.accepted, {"status": "Accepted"})
    assert outcome["received"] == [
        "UnlockConnector", "ChangeConfiguration", "ChangeConfiguration", "GetConfiguration",
        "Reset", "TriggerMessage",
    ]  # fmt: skip
    sent_by = {outcome[name].sent_by for name in ("unlock", "reset", "ignored")}
    assert len(sent_by) == 1 and None not in sent_by  # this server instance


def test_remote_start_and_stop_a_charging_session(site: Database):
    outcome: dict[str, Any] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as c1:
            c1.meter_interval_s, c1.power_kw = 0.1, 7.0  # 0.194 Wh a reading: not whole Wh
            await c1.boot()
            start = await finished(
                site, await ask(site, "C1", "RemoteStartTransaction", account_id="a1")
            )
            await until(lambda: c1.transaction_id is not None and c1.register_wh >= 1)
            busy = await finished(
                site, await ask(site, "C1", "RemoteStartTransaction", id_tag="TAG1")
            )
            with site.session() as s:
                running = s.scalars(select(ChargingSession)).one()
            stop = await finished(
                site, await ask(site, "C1", "RemoteStopTransaction", session_id=running.id)
            )
            await until(lambda: c1.transaction_id is None)
            await asyncio.sleep(0.3)  # StopTransaction is handled
            outcome.update(start=start, busy=busy, stop=stop, running=running)

    run_central(site, scenario)
    assert (outcome["start"].status, outcome["start"].params) == (
        CommandStatus.accepted, {"account_id": "a1", "id_tag": "TAG1"},
    )  # fmt: skip
    assert outcome["busy"].response == {"status": "Rejected"}  # the connector is occupied
    assert outcome["stop"].status == CommandStatus.accepted
    assert outcome["running"].account_id == "a1" and outcome["running"].finalized is False
    with site.session() as s:
        done = s.scalars(select(ChargingSession)).one()
    assert done.finalized is True and done.ended_at is not None
    assert Decimal(done.energy_kwh) > 0
    assert done.energy_disputed_at is None  # the stop's whole Wh are not below the last reading


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_server_listens_again_after_losing_its_listen_connection(site: Database):
    outcome: dict[str, Any] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as c1:
            await c1.boot()
            with site.engine.begin() as c:  # the database drops the server's LISTEN connection
                killed = c.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                    )
                ).scalar_one()
            await until(lambda: not central.listening, within_s=5)
            outcome["dropped"] = (killed, central.listening)
            await until(lambda: central.listening, within_s=10)
            await asyncio.sleep(0.3)  # the catch-up pass after reconnecting is spent
            started = time.monotonic()
            row = await finished(site, await ask(site, "C1", "ClearCache"))
            outcome["took"] = time.monotonic() - started
            outcome["row"] = row

    run_central(site, scenario)
    assert outcome["dropped"] == (1, False)
    assert outcome["row"].status == CommandStatus.accepted
    assert outcome["took"] < 2  # woken by NOTIFY on the new connection (polls every 30 s)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_server_instances_deliver_for_their_own_chargers_and_outlive_each_other(
    site: Database,
):
    """Chargers split over instances A and B: each command is sent by the instance holding its
    charger; a CallError ends as failed; A dies with a command sent and unanswered, and B's
    expiry ends it as timeout."""
    options: dict[str, Any] = {
        "command_timeout_s": 2, "command_offline_after_s": 1.5, "command_listen_poll_s": 30,
        "command_expire_every_s": 0.2,
    }  # fmt: skip
    a = CentralSystem(site, instance_id="A", **options)
    b = CentralSystem(site, instance_id="B", **options)
    outcome: dict[str, Any] = {}

    def failing(**_: Any) -> None:
        raise RuntimeError("the firmware crashed")

    async def main() -> None:
        a_running = a.running("127.0.0.1", 0, reservations=False)
        server_a = await a_running.__aenter__()
        try:
            async with b.running("127.0.0.1", 0, reservations=False) as server_b:
                await until(lambda: a.listening and b.listening)
                url_a = f"ws://127.0.0.1:{bound_port(server_a)}/ocpp"
                url_b = f"ws://127.0.0.1:{bound_port(server_b)}/ocpp"
                async with (
                    connect_charger(url_a, "C1") as c1,
                    connect_charger(url_b, "C2") as c2,
                    connect_charger(url_a, "C4") as c4,
                ):
                    for charger in (c1, c2, c4):
                        await charger.boot()
                    c2.route_map["ClearCache"]["_on_action"] = failing  # answers a CallError
                    c4.commands = CommandBehaviour.ignore
                    asked = {
                        "C1": await ask(site, "C1", "UnlockConnector", connector_id=1),
                        "C2": await ask(site, "C2", "UnlockConnector", connector_id=1),
                        "C2 fails": await ask(site, "C2", "ClearCache"),
                    }
                    for name, command_id in asked.items():
                        outcome[name] = await finished(site, command_id)
                    stranded = await ask(site, "C4", "ClearCache")
                    await until(lambda: c4.received != [])
                    outcome["C4 received"] = [action for action, _ in c4.received]
                    await a_running.__aexit__(None, None, None)  # A dies mid-command
                    a_running = None
                    outcome["A died"] = datetime.now(UTC)
                    outcome["stranded"] = await finished(site, stranded)
        finally:
            if a_running is not None:
                await a_running.__aexit__(None, None, None)

    try:
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    finally:
        a.close()
        b.close()
    assert (outcome["C1"].status, outcome["C1"].sent_by) == (CommandStatus.accepted, "A")
    assert (outcome["C2"].status, outcome["C2"].sent_by) == (CommandStatus.accepted, "B")
    failed = outcome["C2 fails"]
    assert (failed.status, failed.response["error"]) == (CommandStatus.failed, "InternalError")
    assert outcome["C4 received"] == ["ClearCache"]
    stranded = outcome["stranded"]
    assert (stranded.status, stranded.sent_by, stranded.response) == (
        CommandStatus.timeout, "A", None,
    )  # fmt: skip
    assert stranded.answered_at > outcome["A died"]  # so B ended it: A was gone
