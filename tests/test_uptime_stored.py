"""The stored uptime figures of the months that are over (``data.uptime.stored``): filled by the
same computation as ``data.uptime.monthly``, read instead of the outage log, and kept equal to
the computation from the log after every kind of change that reaches back into a stored month
(the OCPP feed's reports and sweep, an admin's edit, an import); SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

import data.ocpp.messages as ocpp
from data.core.db import Database
from data.core.models import Charger
from data.exchange.importer import import_folder
from data.uptime.live import open_offline_outages
from data.uptime.monthly import UptimeMonth, monthly_uptime, stored_months, uptime_statement
from data.uptime.outage_log import edit_outage
from data.uptime.outages import ChargerUptimeMonth, Outage
from data.uptime.standings import fleet_standings_block, fleet_uptime
from data.uptime.stored import STORED_MONTHS, fill_stored_months
from tests.support.audit import AT, CLI, admin
from tests.support.factories import make_charger, make_operator, make_outage

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
FIRST, LAST = date(2025, 12, 1), date(2026, 12, 1)  # their history: from 2025-01
CHARGERS = ["C1", "C2", "C3", "C4"]


def computed(db: Database, chargers: list[str] | None = None) -> list[tuple[object, ...]]:
    """Every charger's months from the outage log alone (nothing stored is read)."""
    with db.session() as s:
        statement = uptime_statement(BERLIN, FIRST, LAST, NOW, chargers)
        return [tuple(r) for r in s.execute(statement).all()]


def read(db: Database, chargers: list[str] | None = None) -> list[tuple[object, ...]]:
    """The same months as the app reads them (stored months from the store), in the same
    integer form as ``computed``."""
    with db.session() as s:
        rows = monthly_uptime(s, BERLIN, FIRST, LAST, NOW, chargers)
    return [_integers(r) for r in rows]


def _integers(r: UptimeMonth) -> tuple[object, ...]:
    def milli(value: object) -> int | None:
        return None if value is None else int(value.scaleb(3))  # type: ignore[attr-defined]

    return (
        r.charger_id,
        f"{r.month:%Y-%m}",
        milli(r.minutes),
        milli(r.outage_minutes),
        milli(r.excluded_minutes),
        milli(r.uptime_percent),
        milli(r.uptime_12m_percent),
    )


def assert_in_step(db: Database) -> None:
    expected = computed(db)
    assert read(db) == expected
    assert read(db, ["C2"]) == [r for r in expected if r[0] == "C2"]


def seeded(db: Database) -> Database:
    """Berlin (DST months), four chargers heard from just now, two years of outages: short and
    long ones, overlapping, some excluded, across month starts, one still going on."""
    rng = random.Random(17)
    with db.session() as s:
        make_operator(s, timezone=BERLIN.key)
        for charger in CHARGERS:
            make_charger(s, charger_id=charger, last_seen_at=NOW - timedelta(minutes=1))
        start = datetime(2024, 11, 20, tzinfo=UTC)
        for i in range(160):
            begins = start + timedelta(minutes=rng.randrange(0, 740 * 24 * 60))
            lasts = timedelta(minutes=rng.choice([5, 30, 200, 2000, 9000]))
            make_outage(
                s,
                CHARGERS[i % 4],
                started_at=begins,
                ended_at=min(begins + lasts, NOW - timedelta(minutes=5)),
                excluded=rng.random() < 0.2,
                outage_id=f"o-{i:03d}",
            )
        make_outage(
            s, "C3", started_at=datetime(2026, 10, 30, 22, 30, tzinfo=UTC), outage_id="o-on"
        )
    return db


def test_filled_months_are_the_computed_ones_and_are_read(db: Database) -> None:
    seeded(db)
    expected = computed(db)
    with db.session() as s:
        before = fleet_uptime(s, BERLIN, NOW)
        assert fill_stored_months(s, BERLIN, NOW) == STORED_MONTHS
    with db.session() as s:
        assert fill_stored_months(s, BERLIN, NOW) == 0  # once
        months = stored_months(s, BERLIN, NOW)
        assert (min(months), max(months), len(months)) == ("2025-01", "2026-11", STORED_MONTHS)
        assert stored_months(s, BERLIN, datetime(2026, 11, 15, tzinfo=UTC)) == months - {"2026-11"}
        assert s.scalar(select(func.count()).select_from(ChargerUptimeMonth)) > 50
        assert fleet_uptime(s, BERLIN, NOW) == before
        # A block read over the stored months: the same rows, in the same order.
        assert fleet_standings_block(s, BERLIN, NOW, 1, 3) == (before.chargers[1:3], 4)
    assert read(db) == expected
    # The stored months are what is read: spoil one and the figures move.
    with db.session() as s:
        s.execute(
            update(ChargerUptimeMonth)
            .where(ChargerUptimeMonth.charger_id == "C1", ChargerUptimeMonth.month == "2026-03")
            .values(outage_us=0, counted_us=0)
        )
    assert read(db) != expected
    assert computed(db) == expected


def test_the_feed_edits_and_imports_keep_the_stored_months_in_step(
    db: Database, tmp_path: Path
) -> None:
    seeded(db)
    with db.session() as s:
        fill_stored_months(s, BERLIN, NOW)
    assert_in_step(db)

    # A late Faulted report from a stored month opens an out_of_order outage there; a late
    # Available one (still in a stored month) closes it.
    fault, back = datetime(2026, 9, 29, 20, 0, tzinfo=UTC), datetime(2026, 10, 2, 6, 0, tzinfo=UTC)
    with db.session() as s:
        ocpp.status_notification(s, "C1", 0, "Faulted", "NoError", None, ocpp.ocpp_time(fault), NOW)
    assert_in_step(db)
    with db.session() as s:
        ocpp.status_notification(
            s, "C1", 0, "Available", "NoError", None, ocpp.ocpp_time(back), NOW
        )
    assert_in_step(db)

    # An admin excludes an old outage, then counts it again.
    with db.session() as s:
        old = s.scalars(
            select(Outage).where(Outage.charger_id == "C2").order_by(Outage.started_at)
        ).first()
        assert old is not None and old.started_at < datetime(2026, 1, 1, tzinfo=UTC)
        old_id, was_excluded = old.id, old.excluded
    for excluded in (not was_excluded, was_excluded):
        with db.session() as s:
            edit_outage(s, old_id, "utility", excluded, "", actor=admin("acc-olga"), now=AT)
        assert_in_step(db)

    # The sweep after a long stop of the server: offline from a last message months ago.
    with db.session() as s:
        s.execute(
            update(Charger)
            .where(Charger.id == "C4")
            .values(last_seen_at=datetime(2026, 8, 14, tzinfo=UTC))
        )
    with db.session() as s:
        assert open_offline_outages(s, NOW, 3600) == 1
    assert_in_step(db)
    with db.session() as s:  # its next message closes it (now: nothing stored changes)
        ocpp.heartbeat(s, "C4", NOW)
    assert_in_step(db)

    # An import moves an outage to another charger and a year back, and adds one.
    (tmp_path / "outages.csv").write_text(
        "outage_id,charger_id,started_at,ended_at,cause,excluded,note\n"
        "o-001,C3,2025-04-01T10:00:00+02:00,2025-04-03T10:00:00+02:00,utility,false,\n"
        "o-new,C1,2026-02-27T23:00:00+01:00,2026-03-01T02:00:00+01:00,other,false,moved\n"
    )
    with db.session() as s:
        report = import_folder(s, tmp_path, actor=CLI, now=AT)
    assert (report.files["outages.csv"].added, report.files["outages.csv"].updated) == (1, 1)
    assert_in_step(db)


def test_another_time_zone_is_stored_anew(db: Database) -> None:
    seeded(db)
    with db.session() as s:
        fill_stored_months(s, BERLIN, NOW)
        assert fill_stored_months(s, ZoneInfo("UTC"), NOW) == STORED_MONTHS
    with db.session() as s:
        zones = set(s.scalars(select(ChargerUptimeMonth.tz).distinct()))
        assert zones == {"UTC"}
        utc_read = monthly_uptime(s, ZoneInfo("UTC"), FIRST, LAST, NOW)
        utc_computed = s.execute(uptime_statement(ZoneInfo("UTC"), FIRST, LAST, NOW)).all()
        assert stored_months(s, BERLIN, NOW) == frozenset()
    assert [_integers(r) for r in utc_read] == [tuple(r) for r in utc_computed]
    assert read(db) == computed(db)  # Berlin: computed from the log again
