"""The outage log kept live (``data.uptime.live``): StatusNotifications open and close out_of_order
outages in their own transaction, the sweep opens offline ones and the next message closes them,
and nothing doubles on a replay, a second sweep or a restarted server; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from flask import Flask
from sqlalchemy import select
from websockets.typing import Subprotocol

import data.ocpp.messages as ocpp
from central.server import CentralSystem, bound_port
from data.core.db import Database
from data.uptime.live import open_offline_outages
from data.uptime.outages import Outage, OutageKind
from tests.support.factories import make_charger, make_outage, report_connector
from tests.support.web import AppFactory

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
HOUR = 3600


def ts(moment: datetime) -> str:
    return ocpp.ocpp_time(moment)


def outages(
    db: Database, kind: OutageKind | None = None
) -> list[tuple[str, datetime, datetime | None]]:
    with db.session() as s:
        query = select(Outage.charger_id, Outage.started_at, Outage.ended_at, Outage.kind)
        rows = s.execute(query.order_by(Outage.charger_id, Outage.started_at)).all()
    return [(r.charger_id, r.started_at, r.ended_at) for r in rows if kind in (None, r.kind)]


def status(db: Database, charger: str, connector: int, state: str, at: datetime, now=NOW) -> None:
    with db.session() as s:
        ocpp.status_notification(s, charger, connector, state, "NoError", None, ts(at), now)


@pytest.fixture
def site(db: Database) -> Database:
    """C1 and C2, both heard from a minute ago."""
    with db.session() as s:
        make_charger(s, charger_id="C1", last_seen_at=NOW - timedelta(minutes=1))
        make_charger(s, charger_id="C2", last_seen_at=NOW - timedelta(minutes=1))
    return db


def test_a_fault_opens_an_outage_at_the_report_and_recovery_closes_it(site: Database):
    fault, back = NOW - timedelta(minutes=40), NOW - timedelta(minutes=10)
    status(site, "C1", 0, "Faulted", fault)
    assert outages(site, OutageKind.out_of_order) == [("C1", fault, None)]
    status(site, "C1", 0, "Available", back)
    assert outages(site, OutageKind.out_of_order) == [("C1", fault, back)]
    assert outages(site, OutageKind.offline) == []


def test_every_connector_down_is_out_of_order_and_one_up_ends_it(site: Database):
    t1, t2, t3 = (NOW - timedelta(minutes=m) for m in (30, 20, 10))
    status(site, "C1", 2, "Available", t1)
    status(site, "C1", 1, "Faulted", t1)
    assert outages(site) == []  # connector 2 can still charge
    status(site, "C1", 2, "Unavailable", t2)
    assert outages(site) == [("C1", t2, None)]
    # A late report of connector 1, older than the outage's start: it ends at its start, not before.
    status(site, "C1", 1, "Available", t1 + timedelta(minutes=1))
    assert outages(site) == [("C1", t2, t2)]
    status(site, "C1", 1, "Faulted", t3)
    assert outages(site) == [("C1", t2, t2), ("C1", t3, None)]


def test_a_replayed_status_notification_opens_one_outage(site: Database):
    fault = NOW - timedelta(minutes=5)
    for _ in range(3):
        status(site, "C1", 0, "Faulted", fault)
    status(site, "C1", 0, "Faulted", fault + timedelta(minutes=1))  # still faulted, later
    assert outages(site) == [("C1", fault, None)]
    status(site, "C1", 0, "Available", NOW)
    status(site, "C1", 0, "Faulted", fault)  # an old fault replayed after recovery: ignored
    assert outages(site) == [("C1", fault, NOW)]


def test_the_sweep_opens_offline_from_the_last_message_once_and_a_heartbeat_closes_it(
    site: Database,
):
    last = NOW - timedelta(hours=2)
    with site.session() as s:
        make_charger(s, charger_id="C3", last_seen_at=last)
        make_charger(s, charger_id="C4")  # never heard from: no last message to start from
        make_charger(s, charger_id="C5", last_seen_at=NOW - timedelta(seconds=HOUR))  # not past
    with site.session() as s:
        assert open_offline_outages(s, NOW, HOUR) == 1
    with site.session() as s:
        assert open_offline_outages(s, NOW, HOUR) == 0  # the same sweep twice
    assert outages(site, OutageKind.offline) == [("C3", last, None)]
    back = NOW + timedelta(minutes=3)
    with site.session() as s:
        ocpp.heartbeat(s, "C3", back)
    assert outages(site, OutageKind.offline) == [("C3", last, back)]
    with site.session() as s:
        ocpp.heartbeat(s, "C3", back + timedelta(seconds=30))  # closes nothing more
        assert open_offline_outages(s, back + timedelta(minutes=1), HOUR) == 1  # C5 now past
    c5_last = NOW - timedelta(seconds=HOUR)
    assert outages(site, OutageKind.offline) == [("C3", last, back), ("C5", c5_last, None)]


def test_offline_and_out_of_order_overlap_and_each_ends_on_its_own(site: Database):
    fault = NOW - timedelta(hours=3)
    with site.session() as s:
        make_charger(s, charger_id="C3")  # first heard from at the fault
    status(site, "C3", 0, "Faulted", fault, now=fault)
    with site.session() as s:
        assert open_offline_outages(s, NOW, HOUR) == 1  # C1 silent since the fault
        make_outage(s, "C3", started_at=fault, kind=OutageKind.manual)  # other kinds may overlap
    assert outages(site, OutageKind.offline) == [("C3", fault, None)]
    with site.session() as s:
        ocpp.heartbeat(s, "C3", NOW)
    assert outages(site, OutageKind.offline) == [("C3", fault, NOW)]
    assert outages(site, OutageKind.out_of_order) == [("C3", fault, None)]  # still faulted
    status(site, "C3", 0, "Available", NOW + timedelta(minutes=1), now=NOW + timedelta(minutes=1))
    assert outages(site, OutageKind.out_of_order) == [("C3", fault, NOW + timedelta(minutes=1))]
    assert len(outages(site)) == 3


def test_a_restarted_server_sweeps_at_start_and_doubles_nothing(site: Database):
    last = NOW - timedelta(hours=2)
    with site.session() as s:
        make_charger(s, charger_id="C3", last_seen_at=last)
    status(site, "C1", 0, "Faulted", NOW - timedelta(minutes=5))
    clock = [NOW]

    async def run_once(scenario) -> None:
        central = CentralSystem(site, clock=lambda: clock[0], outage_sweep_s=0.05)
        try:
            async with central.running("127.0.0.1", 0, reservations=False, commands=False) as srv:
                await scenario(f"ws://127.0.0.1:{bound_port(srv)}/ocpp")
        finally:
            central.close()

    async def wait_for_sweep(url: str) -> None:
        for _ in range(100):
            if outages(site, OutageKind.offline):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # several more sweeps

    async def heartbeat(url: str) -> None:
        await asyncio.sleep(0.3)  # sweeps again after the restart
        async with websockets.connect(f"{url}/C3", subprotocols=[Subprotocol("ocpp1.6")]) as ws:
            await ws.send('[2,"1","Heartbeat",{}]')
            assert '"currentTime"' in await ws.recv()

    asyncio.run(run_once(wait_for_sweep))
    assert outages(site, OutageKind.offline) == [("C3", last, None)]
    clock[0] = NOW + timedelta(minutes=10)
    asyncio.run(run_once(heartbeat))
    assert outages(site, OutageKind.offline) == [("C3", last, NOW + timedelta(minutes=10))]
    assert outages(site, OutageKind.out_of_order) == [("C1", NOW - timedelta(minutes=5), None)]


def test_backfill_opens_what_the_database_shows_now_and_only_once(
    app_factory: AppFactory, database_url: str
):
    app: Flask = app_factory(database_url)
    db: Database = app.extensions["polaris_db"]
    now = datetime.now(UTC)
    fault, last = now - timedelta(minutes=20), now - timedelta(hours=5)
    with db.session() as s:
        make_charger(s, charger_id="F", last_seen_at=now)
        report_connector(s, "F", 0, "Faulted", reported_at=fault - timedelta(minutes=5))
        report_connector(s, "F", 1, "Faulted", reported_at=fault)
        make_charger(s, charger_id="S", last_seen_at=last)
        make_charger(s, charger_id="OK", last_seen_at=now)
        report_connector(s, "OK", 1, "Available", reported_at=fault)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["backfill-outages"])
    assert first.exit_code == 0, first.output
    assert "Opened 1 out_of_order and 1 offline outage(s)." in first.output
    assert "Past silences and past faults" in first.output
    second = runner.invoke(args=["backfill-outages"])
    assert "Opened 0 out_of_order and 0 offline outage(s)." in second.output
    assert outages(db) == [("F", fault, None), ("S", last, None)]
