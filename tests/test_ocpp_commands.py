"""Commands end to end: rows asked for in the database, delivered by the real OCPP server over a
loopback websocket to simulated chargers, answered, recorded; on SQLite (polling) and PostgreSQL
(LISTEN/NOTIFY: the server looks only every 30 s, so a quick answer proves the wake-up)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

import data.ocpp.commands as commands
from central.server import CentralSystem, bound_port
from central.simulator import CommandBehaviour, SimulatedCharger, connect_charger
from data.charging.reservations import cancel_reservation
from data.core.db import Database
from data.core.models import (
    Charger,
    ChargerCommand,
    ChargingSession,
    CommandStatus,
    OcppReservation,
    OcppTransaction,
)
from data.ocpp.commands import CommandRow
from tests.support.audit import CLI
from tests.support.factories import make_account, make_charger, make_id_tag, make_reservation
from tests.support.processes import free_port


@pytest.fixture
def site(db: Database) -> Database:
    with db.session() as s:
        make_account(s, account_id="a1")
        make_id_tag(s, "a1", id_tag="TAG1")
        for charger_id in ("C1", "C2", "C3", "C4"):
            make_charger(s, charger_id=charger_id, max_power_kw="50")
    return db


def run_central(
    db: Database,
    scenario: Callable[[CentralSystem, str], Awaitable[None]],
    *,
    reservations: bool = False,
) -> None:
    central = CentralSystem(
        db,
        command_timeout_s=2,
        command_offline_after_s=1.5,
        command_poll_s=0.2,
        command_listen_poll_s=30,  # PostgreSQL: only NOTIFY can make it quick
        command_expire_every_s=0.2,
        reserve_poll_s=0.2,
    )

    async def main() -> None:
        async with central.running("127.0.0.1", 0, reservations=reservations) as server:
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


# Listening, a server looks for commands only every 30 s (``run_central``): an answer well within
# that proves a wake-up. A bound, not a timing: a busy machine takes a second or two.
WOKEN_WITHIN_S = 15


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
            # Commands asked together go out side by side: the reading waits for the change.
            change = await ask(
                site, "C1", "ChangeConfiguration", key="HeartbeatInterval", value="60"
            )
            changed = await finished(site, change)
            ids = {
                "read-only": await ask(
                    site, "C1", "ChangeConfiguration", key="NumberOfConnectors", value="2"
                ),
                "get": await ask(site, "C1", "GetConfiguration", key="HeartbeatInterval,Nope"),
                "offline": await ask(site, "C3", "Reset", type="Soft"),  # never connected
                "ignored": await ask(site, "C2", "ClearCache"),
                "refused slowly": await ask(site, "C4", "Reset", type="Hard"),
            }
            rows = {name: await finished(site, i) for name, i in ids.items()}
            rows["change"] = changed
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

    assert outcome["unlock took"] < WOKEN_WITHIN_S  # PostgreSQL: NOTIFY woke the server
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
    received = outcome["received"]
    assert received[:2] == ["UnlockConnector", "ChangeConfiguration"]
    assert sorted(received[2:4]) == ["ChangeConfiguration", "GetConfiguration"]  # side by side
    assert received[4:] == ["Reset", "TriggerMessage"]
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
    with site.session() as s:
        # The simulator samples its power with the register: the peak is its 7 kW.
        assert s.scalars(select(OcppTransaction.peak_power_w)).one() == Decimal("7000")


def test_reservations_reach_the_charger_through_the_command_loop(site: Database):
    """The running server's two loops together: the reservation loop asks, the command loop
    sends at once (PostgreSQL polls only every 30 s here), answers and expiries end up on the
    reservation."""
    now = datetime.now(UTC)
    with site.session() as s:
        window = {"starts_at": now + timedelta(minutes=5), "ends_at": now + timedelta(hours=1)}
        held = make_reservation(s, "a1", "C1", **window).id
        ignored = make_reservation(s, "a1", "C2", **window).id
    outcome: dict[str, Any] = {}

    def state(reservation_id: str) -> tuple[str, str | None] | None:
        with site.session() as s:
            row = s.scalar(
                select(OcppReservation).where(OcppReservation.reservation_id == reservation_id)
            )
            return None if row is None else (row.state, row.cancel_answer)

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as c1, connect_charger(url, "C2") as c2:
            c2.commands = CommandBehaviour.ignore
            for charger in (c1, c2):
                await charger.boot()
            started = time.monotonic()
            await until(lambda: state(held) == ("Accepted", None))
            outcome["accepted after"] = time.monotonic() - started
            await until(lambda: state(ignored) == ("no answer", None))  # its 2 s timeout
            with site.session() as s:
                cancel_reservation(s, held, datetime.now(UTC), actor=CLI)
            await until(lambda: state(held) == ("cancelled", "Accepted"))
            outcome["C1 received"] = [action for action, _ in c1.received]
            outcome["C2 received"] = [action for action, _ in c2.received]

    run_central(site, scenario, reservations=True)
    assert outcome["accepted after"] < WOKEN_WITHIN_S
    assert (state(held), state(ignored)) == (("cancelled", "Accepted"), ("no answer", None))
    assert outcome["C1 received"] == ["ReserveNow", "CancelReservation"]
    assert outcome["C2 received"] == ["ReserveNow"]
    with site.session() as s:
        log = {(c.action, c.charger_id): c.status for c in s.scalars(select(ChargerCommand))}
    assert log == {
        ("ReserveNow", "C1"): CommandStatus.accepted,
        ("ReserveNow", "C2"): CommandStatus.timeout,
        ("CancelReservation", "C1"): CommandStatus.accepted,
    }


def test_an_answer_is_recorded_with_the_chargers_sign_of_life(site: Database):
    """A charger that answers a command was heard from when the answer was recorded (one
    transaction: ``last_seen_at`` is the command's ``answered_at``); one that never answers was
    not."""
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    outcome: dict[str, Any] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as c1, connect_charger(url, "C2") as c2:
            await c1.boot()
            await c2.boot()
            c2.commands = CommandBehaviour.ignore
            with site.session() as s:
                for charger_id in ("C1", "C2"):
                    s.get_one(Charger, charger_id).last_seen_at = long_ago
            answered = await ask(site, "C1", "ClearCache")
            ignored = await ask(site, "C2", "ClearCache")
            outcome["answered"] = await finished(site, answered)
            outcome["ignored"] = await finished(site, ignored)

    run_central(site, scenario)
    assert outcome["answered"].status == CommandStatus.accepted
    assert outcome["ignored"].status == CommandStatus.timeout
    with site.session() as s:
        assert s.get_one(Charger, "C1").last_seen_at == outcome["answered"].answered_at
        assert s.get_one(Charger, "C2").last_seen_at == long_ago


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
    assert outcome["took"] < WOKEN_WITHIN_S  # woken by NOTIFY on the new connection


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


def test_a_claim_still_running_when_its_instance_stops_gives_the_command_back(
    site: Database, monkeypatch: pytest.MonkeyPatch
):
    """A stopping instance's claim runs on in its thread (on a busy SQLite it waits for the
    write lock) and may take a command asked after the stop: that command goes back to
    ``pending`` for another instance instead of staying ``sent`` by one that never sends it."""
    central = CentralSystem(site, instance_id="A")
    central.connected["C1"] = None  # type: ignore[assignment]  # the claim reads only the ids
    claiming, claimed = threading.Event(), threading.Event()
    claim = commands.claim_commands

    def slow_claim(session: Any, *args: Any) -> list[commands.CommandToSend]:
        claiming.set()
        time.sleep(0.5)  # the instance stops meanwhile
        try:
            return claim(session, *args)
        finally:
            claimed.set()

    monkeypatch.setattr(commands, "claim_commands", slow_claim)
    asked: list[int] = []

    async def main() -> None:
        asked.append(await ask(site, "C1", "ClearCache"))
        passing = asyncio.create_task(central.command_pass())
        await asyncio.to_thread(claiming.wait, 10)
        passing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await passing

    try:
        asyncio.run(asyncio.wait_for(main(), timeout=30))
    finally:
        central.close()
    assert claimed.wait(10)
    time.sleep(0.2)  # the claim's transaction commits as its function returns
    with site.session() as s:
        row = commands.command(s, asked[0])
    assert row is not None
    assert (row.status, row.sent_by) == (CommandStatus.pending, None)


def test_a_charger_whose_server_stops_connects_to_the_next_url(site: Database):
    """The simulator's stand-in for one address behind a load balancer: the URLs are tried in
    order (a port nobody listens on, then A, then B). When A stops, the charger, staying
    connected, finds A refusing too, connects to B, boots there, and B delivers its commands."""
    options: dict[str, Any] = {"command_poll_s": 0.2, "command_listen_poll_s": 0.5}
    a = CentralSystem(site, instance_id="A", **options)
    b = CentralSystem(site, instance_id="B", **options)
    outcome: dict[str, Any] = {}

    async def main() -> None:
        a_running = a.running("127.0.0.1", 0, reservations=False)
        server_a = await a_running.__aenter__()
        try:
            async with b.running("127.0.0.1", 0, reservations=False) as server_b:
                urls = [f"ws://127.0.0.1:{free_port()}/ocpp"]  # nobody there
                urls += [f"ws://127.0.0.1:{bound_port(s)}/ocpp" for s in (server_a, server_b)]
                async with connect_charger(urls, "C1") as c1:
                    c1.reconnect_s = 0.1
                    await c1.boot()
                    c1.start_heartbeats(0.2)
                    staying = asyncio.create_task(c1.stay(30))
                    outcome["first"] = (sorted(a.connected), sorted(b.connected))
                    await a_running.__aexit__(None, None, None)  # A stops: C1's connection drops
                    a_running = None
                    await until(lambda: "C1" in b.connected and c1.boots == 2)
                    outcome["then"] = (sorted(a.connected), sorted(b.connected))
                    outcome["connections"] = c1.connections
                    row = await finished(site, await ask(site, "C1", "ClearCache"))
                    outcome["row"] = row
                    handled = b.stats.handled
                    await asyncio.sleep(0.5)  # heartbeats (every 0.2 s) go on, now to B
                    outcome["heartbeats"] = b.stats.handled - handled
                    outcome["staying"] = not staying.done()
                    staying.cancel()
        finally:
            if a_running is not None:
                await a_running.__aexit__(None, None, None)

    try:
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    finally:
        a.close()
        b.close()
    assert outcome["first"] == (["C1"], [])
    assert outcome["then"] == ([], ["C1"])
    assert outcome["connections"] == 2
    assert (outcome["row"].status, outcome["row"].sent_by) == (CommandStatus.accepted, "B")
    assert outcome["heartbeats"] >= 1
    assert outcome["staying"]
