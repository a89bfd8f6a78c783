"""The OCPP 1.6J central system over a real loopback websocket, driven by the simulator (the
``ocpp`` library's client classes), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.headers import build_authorization_basic

import central.server as server_module
from central.server import CentralSystem
from central.simulator import SimulatedCharger, charging_session, connect_charger
from data.accounts.passwords import hash_password, verify_password
from data.charging.reservations import cancel_reservation
from data.core.db import Database
from data.core.models import (
    Charger,
    ChargerCommand,
    ChargingSession,
    CommandStatus,
    ConnectorStatus,
    OcppReservation,
    OcppTransaction,
)
from tests.support.audit import CLI
from tests.support.central import run_central
from tests.support.factories import make_account, make_charger, make_id_tag, make_reservation

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def deliver(central: CentralSystem) -> int:
    """Claim and send the pending commands of the connected chargers, wait for the answers."""
    claimed = await central.command_pass()
    await central.wait_for_sends()
    return claimed


@pytest.fixture
def site(db: Database) -> Database:
    with db.session() as s:
        make_account(s, account_id="a1")
        make_charger(s, charger_id="C1")
        make_charger(s, charger_id="LOCKED").ocpp_password_hash = hash_password("s3cret-pass")
        make_id_tag(s, "a1", id_tag="TAG1")
    return db


def _refused_status(url: str, **kwargs) -> Callable[[], Awaitable[int]]:
    async def attempt() -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, open_timeout=10, **kwargs):
                pass
        return refused.value.response.status_code

    return attempt


def test_handshake_refuses_unknown_chargers_other_paths_and_missing_subprotocol(site: Database):
    statuses: dict[str, int] = {}

    async def scenario(_central: CentralSystem, url: str) -> None:
        statuses["unknown"] = await _refused_status(f"{url}/NOPE", subprotocols=["ocpp1.6"])()
        root = url.removesuffix("/ocpp")
        statuses["path"] = await _refused_status(f"{root}/other/C1", subprotocols=["ocpp1.6"])()
        statuses["subprotocol"] = await _refused_status(f"{url}/C1")()

    run_central(site, scenario)
    assert statuses == {"unknown": 404, "path": 404, "subprotocol": 400}
    with site.session() as s:
        assert s.get(Charger, "C1").last_seen_at is None


def test_basic_auth_is_required_for_a_charger_with_an_ocpp_password(site: Database):
    outcome: dict[str, object] = {}

    async def scenario(_central: CentralSystem, url: str) -> None:
        async def refused(password: str | None, user: str = "LOCKED") -> int:
            try:
                headers = {}
                if password is not None:
                    headers["Authorization"] = build_authorization_basic(user, password)
                async with connect(
                    f"{url}/LOCKED", subprotocols=["ocpp1.6"], additional_headers=headers
                ):
                    return 101
            except InvalidStatus as exc:
                return exc.response.status_code

        outcome["none"] = await refused(None)
        outcome["wrong"] = await refused("wrong-pass")
        outcome["other user"] = await refused("s3cret-pass", user="C1")
        async with connect_charger(url, "LOCKED", password="s3cret-pass") as charger:
            outcome["boot"] = (await charger.boot()).status

    run_central(site, scenario)
    assert outcome == {"none": 401, "wrong": 401, "other user": 401, "boot": "Accepted"}
    with site.session() as s:
        assert s.get(Charger, "LOCKED").last_seen_at == NOW


def test_a_charging_session_through_the_wire(site: Database):
    seen: dict[str, object] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as charger:
            boot = await charger.boot()
            seen["boot"] = (boot.status, boot.interval)
            await charger.heartbeat()
            await charger.status("Preparing")
            seen["authorize"] = (await charger.authorize("TAG1"), await charger.authorize("X"))
            stamp = "2026-11-25T08:50:00.000Z"
            tx, status = await charger.start_transaction(
                "TAG1", meter_start_wh=500, timestamp=stamp
            )
            # A reconnecting charger re-sends its queued StartTransaction: same transaction.
            seen["resent"] = await charger.start_transaction(
                "TAG1", meter_start_wh=500, timestamp=stamp
            ) == (tx, status)
            await charger.status("Charging")
            await charger.meter(tx, 1700)
            await charger.meter(tx, 1700)  # duplicate
            await charger.meter(tx, "1.2", unit="kWh")  # late, lower
            with central.db.session() as s:
                seen["so far"] = s.get(ChargingSession, f"ocpp-{tx}").energy_kwh
            seen["stop"] = await charger.stop_transaction(tx, 2750)
            await charger.stop_transaction(tx, 2750)  # re-sent
            seen["tx"] = tx
        seen["handled"] = central.stats.handled

    run_central(site, scenario)
    tx = seen.pop("tx")
    assert seen == {
        "boot": ("Accepted", 300),
        "authorize": ("Accepted", "Invalid"),
        "resent": True,
        "so far": Decimal("1.200"),
        "stop": None,  # the simulator sends no idTag with its stop
        "handled": 13,
    }
    with site.session() as s:
        row = s.get(ChargingSession, f"ocpp-{tx}")
        assert (row.account_id, row.charger_id, row.finalized) == ("a1", "C1", True)
        assert Decimal(row.energy_kwh) == Decimal("2.250")
        assert row.started_at == datetime(2026, 11, 25, 8, 50, tzinfo=UTC)
        assert row.ended_at is not None
        assert s.get(ConnectorStatus, ("C1", 1)).status == "Charging"
        assert s.get(Charger, "C1").last_seen_at == NOW
        assert len(s.scalars(select(ChargingSession)).all()) == 1


def test_the_simulators_power_readings_become_the_transactions_peak(site: Database):
    seen: dict[str, object] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as charger:
            await charger.boot()
            summary = await charging_session(
                charger, "TAG1", meter_values=3, interval_s=0.01, power_kw=6.6, unit="kWh"
            )
            seen["tx"] = summary.transaction_id
            # A real charger's three phases, and one absurd total: ignored.
            tx = await charger.start_transaction(
                "TAG1", meter_start_wh=0, timestamp="2026-11-25T08:58:00.000Z"
            )
            seen["phases"] = tx[0]
            await charger.send(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=tx[0],
                    meter_value=[
                        {
                            "timestamp": "2026-11-25T08:59:00.000Z",
                            "sampledValue": [
                                {"value": v, "measurand": "Power.Active.Import", "unit": "kW",
                                 "phase": p}
                                for v, p in (("3.6", "L1"), ("3.7", "L2"), ("3.8", "L3"))
                            ],
                        },
                        {
                            "timestamp": "2026-11-25T08:59:30.000Z",
                            "sampledValue": [
                                {"value": "5e9", "measurand": "Power.Active.Import"}
                            ]
                        },
                    ],
                )
            )  # fmt: skip
            await charger.stop_transaction(tx[0], 1)

    run_central(site, scenario)
    with site.session() as s:
        assert s.get(OcppTransaction, seen["tx"]).peak_power_w == Decimal("6600")
        assert s.get(OcppTransaction, seen["phases"]).peak_power_w == Decimal("11100")


def test_impossible_energy_is_answered_but_not_taken(site: Database):
    """Issue 13: a charger without a password opens a session with a known tag, reports
    500,000,000,000 Wh and stops a second later. Both messages are answered (no CallError: it
    would retry forever); the session keeps 0 kWh, finalized, disputed."""
    seen: dict[str, object] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as charger:
            await charger.boot()
            started, later = "2026-11-25T08:59:59.000Z", "2026-11-25T09:00:00.000Z"
            tx, status = await charger.start_transaction(
                "TAG1", meter_start_wh=0, timestamp=started
            )
            await charger.meter(tx, 500_000_000_000, timestamp=later)
            seen["stop"] = await charger.stop_transaction(tx, 500_000_000_000, timestamp=later)
            seen["tx"], seen["status"] = tx, status
        seen["handled"] = central.stats.handled

    run_central(site, scenario)
    tx = seen.pop("tx")
    assert seen == {"status": "Accepted", "stop": None, "handled": 4}
    with site.session() as s:
        row = s.get(ChargingSession, f"ocpp-{tx}")
        assert row.finalized is True and row.ended_at is not None
        assert Decimal(row.energy_kwh) == 0
        assert row.energy_disputed_at == NOW
        assert Decimal(row.energy_disputed_kwh) == Decimal("500000000")


def test_bad_values_get_a_call_error_and_the_connection_stays_up(site: Database):
    seen: dict[str, object] = {}

    async def scenario(_central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as charger:
            with pytest.raises(OCPPError) as refused:
                await charger.send(
                    call.StartTransaction(
                        connector_id=1,
                        id_tag="TAG1",
                        meter_start=-5,
                        timestamp="2026-11-25T08:00:00Z",
                    )
                )
            seen["error"] = refused.value.code
            seen["after"] = (await charger.heartbeat()).current_time

    run_central(site, scenario)
    assert seen == {"error": "PropertyConstraintViolation", "after": "2026-11-25T09:00:00.000Z"}
    with site.session() as s:
        assert s.scalars(select(ChargingSession)).all() == []


def test_reservations_go_out_as_commands_and_their_answers_are_recorded(site: Database):
    with site.session() as s:
        make_charger(s, charger_id="C2")
        make_charger(s, charger_id="C3")  # never connects: nothing is asked for it
        held = make_reservation(
            s, "a1", "C1", starts_at=NOW + timedelta(minutes=5), ends_at=NOW + timedelta(hours=1)
        ).id
        busy = make_reservation(
            s, "a1", "C2", starts_at=NOW + timedelta(minutes=2), ends_at=NOW + timedelta(hours=1)
        ).id
        away = make_reservation(
            s, "a1", "C3", starts_at=NOW + timedelta(minutes=2), ends_at=NOW + timedelta(hours=1)
        ).id
    seen: dict[str, object] = {}
    received: dict[str, list] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as c1, connect_charger(url, "C2") as c2:
            c2.reserve_answer = "Occupied"
            chargers: list[SimulatedCharger] = [c1, c2]
            for charger in chargers:
                await charger.boot()
            seen["asked"] = await central.reservation_pass()
            seen["delivered"] = await deliver(central)
            seen["asked again"] = await central.reservation_pass()  # nothing is asked twice
            with central.db.session() as s:
                cancel_reservation(s, held, NOW, actor=CLI)  # as /admin/reservations does
            c1.cancel_answer = "Accepted"
            seen["cancels"] = await central.reservation_pass()
            seen["cancels delivered"] = await deliver(central)
            received["C1"] = c1.received
            received["C2"] = c2.received

    run_central(site, scenario, commands=False)
    assert seen == {
        "asked": 2, "delivered": 2, "asked again": 0, "cancels": 1, "cancels delivered": 1,
    }  # fmt: skip
    with site.session() as s:
        rows = {r.reservation_id: r for r in s.scalars(select(OcppReservation))}
        log = {
            (c.action, c.charger_id): c
            for c in s.scalars(select(ChargerCommand).order_by(ChargerCommand.id))
        }
    assert away not in rows
    assert (rows[held].state, rows[held].cancel_answer) == ("cancelled", "Accepted")
    assert (rows[busy].state, rows[busy].cancel_answer) == ("Occupied", None)
    assert [action for action, _ in received["C1"]] == ["ReserveNow", "CancelReservation"]
    reserve = received["C1"][0][1]
    assert reserve == {
        "connector_id": 1,
        "expiry_date": "2026-11-25T10:00:00.000Z",
        "id_tag": "TAG1",
        "reservation_id": rows[held].id,
    }
    assert received["C1"][1][1] == {"reservation_id": rows[held].id}
    assert [action for action, _ in received["C2"]] == ["ReserveNow"]
    # The command log holds them, made by Polaris for their reservation.
    assert {key: c.status for key, c in log.items()} == {
        ("ReserveNow", "C1"): CommandStatus.accepted,
        ("ReserveNow", "C2"): CommandStatus.rejected,
        ("CancelReservation", "C1"): CommandStatus.accepted,
    }
    assert {(c.user_id, c.account_id) for c in log.values()} == {(None, None)}
    assert log[("ReserveNow", "C2")].ocpp_reservation_id == rows[busy].id
    assert log[("CancelReservation", "C1")].ocpp_reservation_id == rows[held].id


def test_a_reconnecting_charger_replaces_its_old_connection(site: Database):
    seen: dict[str, object] = {}

    async def scenario(central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as old:
            await old.boot()
            async with connect_charger(url, "C1") as new:
                await new.boot()
                await asyncio.wait_for(old._connection.wait_closed(), timeout=10)
                seen["old closed"] = old._connection.close_code
                seen["current is new"] = central.connected["C1"].connection.remote_address == (
                    new._connection.local_address
                )
                seen["heartbeat"] = (await new.heartbeat()).current_time

    run_central(site, scenario)
    assert seen == {
        "old closed": 1000,
        "current is new": True,
        "heartbeat": "2026-11-25T09:00:00.000Z",
    }


def test_repeated_wrong_passwords_are_refused_without_checking(site: Database):
    codes: list[int] = []

    async def scenario(central: CentralSystem, url: str) -> None:
        central.auth_failures_per_minute = 3

        async def attempt(password: str) -> int:
            headers = {"Authorization": build_authorization_basic("LOCKED", password)}
            try:
                async with connect(
                    f"{url}/LOCKED", subprotocols=["ocpp1.6"], additional_headers=headers
                ):
                    return 101
            except InvalidStatus as exc:
                return exc.response.status_code

        for password in ("guess-1", "guess-2", "guess-3", "s3cret-pass"):
            codes.append(await attempt(password))
        # Another charger without a password is not affected.
        async with connect_charger(url, "C1") as charger:
            codes.append(101 if (await charger.boot()).status == "Accepted" else 0)

    run_central(site, scenario)
    assert codes == [401, 401, 401, 429, 101]


def test_parallel_wrong_passwords_check_at_most_the_limit(
    site: Database, monkeypatch: pytest.MonkeyPatch
):
    """30 handshakes at once with a wrong password: each was checked (argon2) before any was
    counted. Counted before the check, at most the limit (10) run argon2; the rest get 429."""
    checked: list[str] = []

    def counting_verify(password_hash: str | None, password: str) -> bool:
        checked.append(password)
        time.sleep(0.05)  # every handshake is in flight while the first checks run
        return verify_password(password_hash, password)

    monkeypatch.setattr(server_module, "verify_password", counting_verify)
    codes: list[int] = []
    retry_after: list[int] = []

    async def scenario(_central: CentralSystem, url: str) -> None:
        async def attempt(password: str) -> int:
            headers = {"Authorization": build_authorization_basic("LOCKED", password)}
            try:
                async with connect(
                    f"{url}/LOCKED", subprotocols=["ocpp1.6"], additional_headers=headers
                ):
                    return 101
            except InvalidStatus as exc:
                if exc.response.status_code == 429:
                    retry_after.append(int(exc.response.headers["Retry-After"]))
                return exc.response.status_code

        # A charger reconnecting often is not locked out: a right password is refunded.
        for _ in range(12):
            async with connect_charger(url, "LOCKED", password="s3cret-pass") as charger:
                assert (await charger.boot()).status == "Accepted"
        codes.extend(await asyncio.gather(*(attempt(f"guess-{i}") for i in range(30))))

    run_central(site, scenario)
    guesses = [p for p in checked if p != "s3cret-pass"]
    assert len(guesses) == 10  # was 30: all reached argon2
    assert sorted(codes) == [401] * 10 + [429] * 20
    assert all(1 <= s <= 60 for s in retry_after)
