"""The usage rollup (migration 0008, data/charging/rollup.py) on SQLite and PostgreSQL.

After every write path the rollups (usage_quarters and its coarser views, charger_days and
charger_months) must equal a recount from scratch (``refill_rollups``) and
an independent count in Python; and the figures read from them must equal the old scans of
``sessions``, also across DST changes, in a +05:45 zone and for utilisation windows of every
shape (whole months, whole days, hours; ending now or in the past).
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from bench.build import build
from data.charging.analytics import (
    AnalyticsRange,
    energy_by_connector,
    energy_by_connector_from_sessions,
    energy_per_day,
    energy_per_day_from_sessions,
    offset_runs,
    revenue_per_charger,
    sessions_by_hour_of_week,
    sessions_by_hour_of_week_from_sessions,
    top_chargers_by_utilisation,
    top_chargers_by_utilisation_from_sessions,
    total_revenue,
)
from data.charging.history import SessionFilter, session_totals
from data.charging.rollup import (
    day_of,
    local_quarters,
    month_of,
    quarter_of,
    refill_rollups,
    start_spans,
    usage_between,
)
from data.core.db import Database
from data.core.models import (
    Account,
    Base,
    Charger,
    ChargerDay,
    ChargerMonth,
    ChargingSession,
    ConnectorType,
    Role,
    UsageDay,
    UsageQuarter,
    UsageQuarterTotal,
)
from data.core.periods import Period
from data.exchange import importer
from data.ocpp.admin import resolve_energy_dispute
from data.pricing.tariffs import price_session, price_unpriced_sessions
from tests.support.audit import AT, CLI, admin
from tests.support.databases import postgres_admin, scratch_postgres_name
from tests.support.factories import make_account, make_charger, make_operator, make_session
from tests.support.receipts import priced_site
from tests.support.rollups import Row, cost_rows, costs_in_python, counted_in_python, table_rows

SAMPLE = Path(__file__).parent / "fixtures" / "exchange_sample"
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
KATHMANDU = ZoneInfo("Asia/Kathmandu")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- what the table should hold -------------------------------------------------------------


def charger_rows(s: Session) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], dict]:
    """``charger_days`` and ``charger_months`` without zero rows, and the months' longest."""
    days = s.execute(
        select(ChargerDay.day, ChargerDay.charger_id, ChargerDay.sessions, ChargerDay.seconds_us)
    ).all()
    months = s.execute(
        select(
            ChargerMonth.month,
            ChargerMonth.charger_id,
            ChargerMonth.sessions,
            ChargerMonth.seconds_us,
            ChargerMonth.longest_us,
        )
    ).all()
    return (
        sorted((r[0], r[1], int(r[2]), int(r[3])) for r in days if r[2] or r[3]),
        sorted((r[0], r[1], int(r[2]), int(r[3])) for r in months if r[2] or r[3]),
        {(r[0], r[1]): int(r[4]) for r in months if r[2]},
    )


def charger_usage_in_python(s: Session) -> tuple[list, list, dict]:
    days: dict[tuple[int, str], list[int]] = {}
    months: dict[tuple[int, str], list[int]] = {}
    longest: dict[tuple[int, str], int] = {}
    for charger, started, ended in s.execute(
        select(ChargingSession.charger_id, ChargingSession.started_at, ChargingSession.ended_at)
    ):
        if ended is None:
            continue
        us = (ended - started) // timedelta(microseconds=1)
        for acc, key in (
            (days, (day_of(started), charger)),
            (months, (month_of(started), charger)),
        ):
            entry = acc.setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += us
        key = (month_of(started), charger)
        longest[key] = max(longest.get(key, 0), us)
    return (
        sorted((*k, *v) for k, v in days.items()),
        sorted((*k, *v) for k, v in months.items()),
        longest,
    )


def coarser_rows(s: Session) -> tuple[list[tuple[int, ...]], list[tuple]]:
    """``usage_quarter_totals`` and ``usage_days`` without zero rows."""
    totals = s.execute(
        select(
            UsageQuarterTotal.quarter,
            UsageQuarterTotal.sessions,
            UsageQuarterTotal.energy_wh,
            UsageQuarterTotal.finalized_sessions,
            UsageQuarterTotal.finalized_energy_wh,
        )
    ).all()
    days = s.execute(
        select(
            UsageDay.day,
            UsageDay.connector_type,
            UsageDay.sessions,
            UsageDay.energy_wh,
            UsageDay.finalized_sessions,
            UsageDay.finalized_energy_wh,
        )
    ).all()
    return (
        sorted(tuple(map(int, r)) for r in totals if any(r[1:])),
        sorted((r[0], r[1], *map(int, r[2:])) for r in days if any(r[2:])),
    )


def coarser_in_python(quarters: list[Row]) -> tuple[list[tuple[int, ...]], list[tuple]]:
    totals: dict[int, list[int]] = {}
    days: dict[tuple[int, str], list[int]] = {}
    for q, kind, *figures in quarters:
        for acc, key in ((totals, q), (days, (q // 96, kind))):
            entry = acc.setdefault(key, [0, 0, 0, 0])  # type: ignore[attr-defined]
            for i, value in enumerate(figures):
                entry[i] += value
    return (
        sorted((q, *v) for q, v in totals.items() if any(v)),
        sorted((*k, *v) for k, v in days.items() if any(v)),
    )


def assert_exact(db: Database) -> list[Row]:
    """The tables as the triggers left them = a recount from scratch = the Python count (the
    longest session per month may only be larger: it never shrinks); the same for the stored
    costs every rollup carries."""
    with db.session() as s:
        kept = table_rows(s)
        expected = counted_in_python(s)
        kept_days, kept_months, kept_longest = charger_rows(s)
        kept_coarser = coarser_rows(s)
        kept_costs = cost_rows(s)
        costs = costs_in_python(s)
        days, months, longest = charger_usage_in_python(s)
        refill_rollups(s)
        assert table_rows(s) == expected
        assert charger_rows(s) == (days, months, longest)
        assert coarser_rows(s) == coarser_in_python(expected)
        assert cost_rows(s) == costs
        s.rollback()
    assert kept == expected
    assert kept_coarser == coarser_in_python(expected)
    assert (kept_days, kept_months) == (days, months)
    assert all(kept_longest.get(key, 0) >= us for key, us in longest.items())
    assert kept_costs == costs
    return kept


# --- every write path -----------------------------------------------------------------------


def _fleet(s: Session) -> tuple[Account, Charger, Charger]:
    make_operator(s, timezone="Europe/Berlin")
    return (
        make_account(s),
        make_charger(s, connector_type=ConnectorType.ccs),
        make_charger(s, connector_type=ConnectorType.type2),
    )


def test_orm_inserts_updates_and_deletes(db: Database) -> None:
    with db.session() as s:
        account, ccs, type2 = _fleet(s)
        first = make_session(
            s, account, ccs, started_at=utc(2026, 3, 29, 0, 59, 59), energy_kwh="7.125"
        )
        make_session(s, account, ccs, started_at=utc(2026, 3, 29, 0, 45), energy_kwh="0.001")
        make_session(s, account, type2, started_at=utc(2026, 3, 29, 1, 0), energy_kwh="12.5")
        live = make_session(s, account, ccs, started_at=utc(2026, 11, 24, 9, 0), energy_kwh="1")
        ids = (first.id, live.id)
        s.commit()
    rows = assert_exact(db)
    # Two sessions in one quarter and connector; the one on a quarter starts the next row.
    assert rows[:2] == [
        (quarter_of(utc(2026, 3, 29, 0, 45)), "CCS", 2, 7126, 0, 0),
        (quarter_of(utc(2026, 3, 29, 1, 0)), "Type 2", 1, 12500, 0, 0),
    ]

    with db.session() as s:
        one = s.get(ChargingSession, ids[0])
        assert one is not None
        one.energy_kwh = Decimal("9.999")  # a meter value
        s.commit()
    assert_exact(db)
    with db.session() as s:
        one = s.get(ChargingSession, ids[0])
        assert one is not None
        one.finalized = True
        one.ended_at = one.started_at + timedelta(hours=1)
        s.commit()
    assert (quarter_of(utc(2026, 3, 29, 0, 45)), "CCS", 2, 10000, 1, 9999) in assert_exact(db)
    with db.session() as s:
        one = s.get(ChargingSession, ids[0])
        assert one is not None
        one.started_at = utc(2025, 12, 31, 23, 59)  # moved to another quarter and year
        one.charger_id = s.scalars(
            select(Charger.id).where(Charger.connector_type == ConnectorType.type2)
        ).one()
        s.commit()
    assert (quarter_of(utc(2025, 12, 31, 23, 45)), "Type 2", 1, 9999, 1, 9999) in assert_exact(db)
    with db.session() as s:
        # Several rows in one statement, one way and the other within one quarter: the
        # totals do not move but the finalized figures do.
        s.execute(
            update(ChargingSession)
            .where(ChargingSession.started_at < utc(2026, 3, 30))
            .values(finalized=~ChargingSession.finalized)
        )
        s.commit()
    assert_exact(db)
    with db.session() as s:
        live_row = s.get(ChargingSession, ids[1])
        s.delete(live_row)
        s.commit()
    assert_exact(db)
    with db.session() as s:
        s.execute(delete(ChargingSession).where(ChargingSession.energy_kwh < 1))
        s.commit()
    assert len(assert_exact(db)) == 2


def test_two_sessions_swapping_finalized_in_one_statement(db: Database) -> None:
    """Same quarter and type, one finalized and one not, swapped by one UPDATE: sessions and
    energy stay, the finalized energy moves (a change only that column sees)."""
    at = utc(2026, 5, 4, 10, 0)
    with db.session() as s:
        account, ccs, _ = _fleet(s)
        make_session(s, account, ccs, started_at=at, ended_at=at, energy_kwh="5", finalized=True)
        make_session(s, account, ccs, started_at=at, ended_at=at, energy_kwh="3", finalized=False)
        s.commit()
    assert assert_exact(db) == [(quarter_of(at), "CCS", 2, 8000, 1, 5000)]
    with db.session() as s:
        s.execute(update(ChargingSession).values(finalized=~ChargingSession.finalized))
        s.commit()
    assert assert_exact(db) == [(quarter_of(at), "CCS", 2, 8000, 1, 3000)]


def test_charger_connector_change_and_charger_and_account_deletes(db: Database) -> None:
    with db.session() as s:
        account, ccs, type2 = _fleet(s)
        other = make_account(s)
        for i in range(6):
            started = utc(2026, 6, 1, 8) + timedelta(minutes=20 * i)
            ended = started + timedelta(minutes=15 + i)
            make_session(
                s,
                account if i % 2 else other,
                ccs,
                started_at=started,
                ended_at=ended,
                energy_kwh=i,
            )
            make_session(s, account, type2, started_at=started, energy_kwh="2.5")
        ids = (account.id, ccs.id, type2.id)
        s.commit()
    assert {r[1] for r in assert_exact(db)} == {"CCS", "Type 2"}

    with db.session() as s:
        charger = s.get(Charger, ids[1])
        assert charger is not None
        charger.connector_type = ConnectorType.nacs
        s.commit()
    assert {r[1] for r in assert_exact(db)} == {"NACS", "Type 2"}
    with db.session() as s:
        # A heartbeat (every OCPP message) changes no figure.
        s.execute(update(Charger).values(last_seen_at=NOW))
        s.commit()
    assert {r[1] for r in assert_exact(db)} == {"NACS", "Type 2"}

    with db.session() as s:
        s.execute(delete(Account).where(Account.id == ids[0]))  # its sessions cascade
        s.commit()
    assert sum(r[2] for r in assert_exact(db)) == 3  # the other account's, all on the NACS one
    with db.session() as s:
        s.delete(s.get(Charger, ids[1]))
        s.commit()
    assert assert_exact(db) == []


MARCH = AnalyticsRange("custom", date(2026, 3, 1), date(2026, 3, 31)).bounds(NOW, BERLIN)


def revenue_read(db: Database, period: Period = MARCH) -> tuple[Decimal, Decimal]:
    """The period's revenue as analytics reads it: summed per local day (usage rollups) and
    per charger (charger rollups)."""
    with db.session() as s:
        by_day = total_revenue(energy_per_day(s, period))
        chargers = revenue_per_charger(s, period, limit=None)
    return by_day, sum((r.revenue for r in chargers), Decimal(0))


def test_stored_costs_follow_every_write_path(db: Database) -> None:
    """Each way a cost is written, changed or taken away moves every rollup's cost with it
    (``assert_exact``), and the revenue read from them is the stored costs'."""
    start = utc(2026, 3, 29, 0, 30)  # 01:30 CET on Berlin's 23-hour day
    with db.session() as s:
        priced_site(s)  # EUR, Europe/Berlin; tariff STD prices everyone; chargers AC, DC
        make_account(s, account_id="a1")
        make_account(s, account_id="ops", role=Role.admin)
        make_session(s, "a1", "DC", session_id="s1", started_at=start, energy_kwh="5")
        s.commit()
    assert_exact(db)
    assert revenue_read(db) == (0, 0)  # in progress: nothing stored yet

    with db.session() as s:  # StopTransaction: ended, finalized, priced
        row = s.get(ChargingSession, "s1")
        assert row is not None
        row.ended_at, row.finalized = start + timedelta(minutes=95), True
        row.energy_kwh = Decimal("20.5")
        s.flush()
        first = price_session(s, "s1")
        s.commit()
    assert first is not None and first.total > 0
    assert_exact(db)
    assert revenue_read(db) == (first.total, first.total)

    with db.session() as s:  # a charger's implausible figure: counted nowhere, its cost neither
        s.execute(
            update(ChargingSession)
            .where(ChargingSession.id == "s1")
            .values(energy_disputed_at=NOW, energy_disputed_kwh=Decimal("900"))
        )
        s.commit()
    assert_exact(db)
    assert revenue_read(db) == (0, 0)
    with db.session() as s:  # an admin corrects it: re-priced by the same version
        resolve_energy_dispute(s, "s1", admin("ops"), "10", NOW)
        corrected = s.get(ChargingSession, "s1")
        assert corrected is not None and corrected.cost_total is not None
        second = Decimal(str(corrected.cost_total))
        s.commit()
    assert second < first.total
    assert_exact(db)
    assert revenue_read(db) == (second, second)

    with db.session() as s:  # finished without a cost, priced later in a batch
        make_session(
            s,
            "a1",
            "AC",
            session_id="s2",
            started_at=utc(2026, 3, 30, 22, 15),  # 00:15 CEST on the 31st
            ended_at=utc(2026, 3, 31, 1),
            energy_kwh="7.25",
        )
        s.commit()
    assert revenue_read(db) == (second, second)
    with db.session() as s:
        assert price_unpriced_sessions(s) == 1
        later = Decimal(str(s.get(ChargingSession, "s2").cost_total))  # type: ignore[union-attr]
        s.commit()
    assert_exact(db)
    assert revenue_read(db) == (second + later, second + later)

    with db.session() as s:  # the charger's connector type changes: its costs move with it
        charger = s.get(Charger, "DC")
        assert charger is not None
        charger.connector_type = ConnectorType.chademo
        s.commit()
    kinds = {r[1] for r in assert_exact(db)}
    assert "CHAdeMO" in kinds and "CCS" not in kinds
    with db.session() as s:
        by_kind = {c.connector_type: c.revenue for c in energy_by_connector(s, MARCH)}
    assert (by_kind["CHAdeMO"], by_kind["Type 2"], by_kind["CCS"]) == (second, later, 0)

    with db.session() as s:
        s.execute(delete(ChargingSession).where(ChargingSession.id == "s1"))
        s.commit()
    assert_exact(db)
    assert revenue_read(db) == (later, later)
    with db.session() as s:
        s.delete(s.get(Charger, "AC"))
        s.commit()
    assert_exact(db)
    assert revenue_read(db) == (0, 0)


def test_deleting_every_session_at_once(db: Database) -> None:
    with db.session() as s:
        account, ccs, type2 = _fleet(s)
        for i in range(4):
            make_session(
                s, account, (ccs, type2)[i % 2], started_at=utc(2026, 2, i + 1), energy_kwh="1"
            )
        s.commit()
    assert len(assert_exact(db)) == 4
    with db.session() as s:
        s.execute(text("DELETE FROM sessions"))  # SQLite's truncate optimisation must not apply
        s.commit()
    assert assert_exact(db) == []


@pytest.fixture
def pg_db(postgres_database_url: str) -> Iterator[Database]:
    """The PostgreSQL half of ``db`` alone, for what only PostgreSQL has."""
    database = Database(postgres_database_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables} CASCADE"))
    yield database
    database.engine.dispose()


def test_postgresql_truncate_and_copy(pg_db: Database) -> None:
    db = pg_db
    with db.session() as s:
        account, ccs, type2 = _fleet(s)
        make_session(s, account, ccs, started_at=utc(2026, 2, 1), energy_kwh="1")
        ids = (account.id, ccs.id, type2.id)
        s.commit()
    with db.session() as s:
        cur = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = (
            "id, account_id, charger_id, started_at, ended_at, energy_kwh, finalized, cost_total"
        )
        with cur.copy(f"COPY sessions ({columns}) FROM STDIN") as copy:
            for i in range(500):
                started = utc(2026, 3, 28) + timedelta(minutes=7 * i)
                copy.write_row(
                    (
                        f"copied-{i:04d}",
                        ids[0],
                        ids[1 + i % 2],
                        started,
                        started + timedelta(minutes=i % 90, microseconds=i),
                        f"{i}.5",
                        i % 3 == 0,
                        f"{i * 0.37:.2f}" if i % 3 == 0 else None,  # the finalized ones
                    )
                )
        s.commit()
    assert sum(r[2] for r in assert_exact(db)) == 501
    with db.session() as s:
        s.execute(text("TRUNCATE sessions CASCADE"))
        s.commit()
    with db.session() as s:
        assert s.scalar(select(UsageQuarter.quarter).limit(1)) is None
    with db.session() as s:
        make_session(s, ids[0], ids[1], started_at=utc(2026, 2, 1), energy_kwh="1")
        s.commit()
    assert len(assert_exact(db)) == 1
    with db.session() as s:
        s.execute(text("TRUNCATE chargers CASCADE"))  # cascades to sessions
        s.commit()
    with db.session() as s:
        assert s.scalar(select(UsageQuarter.quarter).limit(1)) is None


def test_bulk_import_and_reimport(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        importer, "hash_password", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash
    )
    folder = tmp_path / "folder"
    shutil.copytree(SAMPLE, folder)
    with db.session() as s:
        importer.import_folder(s, folder, actor=CLI, now=AT)
        s.commit()
    first = assert_exact(db)
    assert sum(r[2] for r in first) == 12

    # Re-import with every session's energy and finalized flag changed and a charger's type
    # changed: the update paths (COPY into a temporary table + UPDATE ... FROM on PostgreSQL).
    def rewrite(name: str, change: dict[str, str], key_changes: dict[str, dict[str, str]]) -> None:
        path = folder / name
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for row in rows:
            row.update(change)
            row.update(key_changes.get(next(iter(row.values())), {}))
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)

    rewrite(
        "sessions.csv", {"energy_kwh": "1.234"}, {"s-0001": {"started_at": "2020-01-01T00:00:00Z"}}
    )
    rewrite("chargers.csv", {}, {"ch-ccs-1": {"connector_type": "NACS"}})
    with db.session() as s:
        importer.import_folder(s, folder, actor=CLI, now=AT)
        s.commit()
    second = assert_exact(db)
    assert second != first
    assert sum(r[3] for r in second) == 12 * 1234
    assert "NACS" in {r[1] for r in second}


def test_bench_build_refills_the_rollup(tmp_path: Path) -> None:
    """The bench load runs with triggers off (``session_replication_role = replica``)."""
    admin = postgres_admin()
    name, url = scratch_postgres_name("polaris_rollup_bench")
    try:
        build(url.replace("postgresql+psycopg://", "postgresql://"), 0.0002, out=io.StringIO())
        bench = Database(url)
        with bench.session() as s:
            assert s.scalar(select(func.count()).select_from(ChargingSession)) > 2000
        assert sum(r[2] for r in assert_exact(bench)) > 2000
        bench.engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the figures read from it equal the old scans --------------------------------------------


def _random_fleet(s: Session, rng: random.Random, tz: ZoneInfo, around: list[datetime]) -> None:
    make_operator(s, timezone=tz.key)
    accounts = [make_account(s) for _ in range(4)]
    chargers = [make_charger(s, connector_type=kind) for kind in ConnectorType for _ in range(2)]
    for i in range(400):
        # Near the period's edges and the DST changes (to the microsecond), and anywhere.
        anchor = rng.choice(around)
        started = anchor + timedelta(seconds=rng.randint(-3 * 3600, 3 * 3600))
        if rng.random() < 0.3:
            started = anchor + timedelta(days=rng.uniform(-40, 40))
        if rng.random() < 0.3:
            started = started.replace(microsecond=rng.choice([0, 1, 999_999]))
        finished = rng.random() < 0.8
        row = make_session(
            s,
            rng.choice(accounts),
            rng.choice(chargers),
            started_at=started,
            ended_at=started + timedelta(minutes=rng.randint(1, 300)) if finished else None,
            finalized=finished and rng.random() < 0.9,
            energy_kwh=f"{rng.randint(0, 80_000) / 1000:.3f}",
            session_id=f"rnd-{i:04d}",
        )
        if row.finalized and rng.random() < 0.8:  # priced (an UPDATE, as StopTransaction)
            row.cost_total = Decimal(rng.randint(0, 99_999)) / 100
            s.flush()


CASES = [
    # zone, first day, last day, instants the sessions crowd around
    (BERLIN, date(2026, 3, 1), date(2026, 11, 5), [utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)]),
    (BERLIN, date(2026, 3, 29), date(2026, 3, 29), [utc(2026, 3, 29, 1), utc(2026, 3, 28, 23)]),
    (BERLIN, date(2026, 10, 25), date(2026, 10, 26), [utc(2026, 10, 25, 1)]),
    (
        KATHMANDU,
        date(2026, 1, 1),
        date(2026, 2, 28),
        [utc(2025, 12, 31, 18, 15), utc(2026, 2, 28, 18, 15)],
    ),
    (ZoneInfo("America/Havana"), date(2026, 3, 1), date(2026, 3, 31), [utc(2026, 3, 8, 5)]),
]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_rollup_figures_equal_the_scans(db: Database, case: int, seed: int) -> None:
    tz, first, last, around = CASES[case]
    rng = random.Random(seed * 100 + case)
    period = AnalyticsRange("custom", first, last).bounds(NOW, tz)
    around = [*around, period.start_utc, period.end_utc]
    with db.session() as s:
        _random_fleet(s, rng, tz, around)
        s.commit()
    assert_exact(db)
    with db.session() as s:
        assert local_quarters(period, offset_runs(period)) is not None  # the rollup is used
        days = energy_per_day(s, period)
        assert days == energy_per_day_from_sessions(s, period)
        assert sum(d.sessions for d in days) > 0, "the scenario must put sessions in the period"
        assert sessions_by_hour_of_week(s, period) == sessions_by_hour_of_week_from_sessions(
            s, period
        )
        assert energy_by_connector(s, period) == energy_by_connector_from_sessions(s, period)
        assert total_revenue(days) > 0, "the scenario must price sessions in the period"
        for state in ("all", "finalized", "in_progress"):
            flt = SessionFilter(first, last, state=state)
            totals = session_totals(s, flt, tz)
            scanned = s.execute(
                select(
                    ChargingSession.energy_kwh,
                    ChargingSession.finalized,
                    ChargingSession.ended_at,
                    ChargingSession.cost_total,
                ).where(
                    ChargingSession.started_at >= flt.start_utc(tz),
                    ChargingSession.started_at < flt.end_utc(tz),
                )
            ).all()
            kept = [
                (Decimal(str(kwh)), Decimal(str(cost or 0)))
                for kwh, finalized, ended, cost in scanned
                if state == "all"
                or (state == "finalized" and finalized)
                or (state == "in_progress" and ended is None)
            ]
            assert (totals.sessions, totals.energy_kwh, totals.cost) == (
                len(kept),
                sum((k for k, _c in kept), Decimal("0.000")),
                sum((c for _k, c in kept), Decimal("0.000")),
            )
        # Per charger, from the charger rollups: the stored costs of the finished sessions.
        expected: Counter[str] = Counter()
        for charger, ended, cost in s.execute(
            select(
                ChargingSession.charger_id, ChargingSession.ended_at, ChargingSession.cost_total
            ).where(
                ChargingSession.started_at >= period.start_utc,
                ChargingSession.started_at < period.end_utc,
                ChargingSession.cost_total.is_not(None),
            )
        ):
            expected[charger] += Decimal(str(cost)) if ended is not None else 0
        earners = revenue_per_charger(s, period, limit=None)
        assert {r.charger_id: r.revenue for r in earners} == {
            c: v for c, v in expected.items() if v
        }
        revenues = [r.revenue for r in earners]
        assert revenues == sorted(revenues, reverse=True)


UTILISATION_WINDOWS = [
    # (a named period or first and last day, now)
    ("current", NOW),
    ("previous", NOW),  # a past month: the window ends before now
    ((date(2025, 12, 1), date(2026, 11, 24)), NOW),  # a year, as the bench asks
    ((date(2026, 2, 27), date(2026, 3, 2)), NOW),  # days across a month's end, no whole month
    ((date(2026, 11, 24), date(2026, 11, 24)), NOW),  # today so far: no whole UTC day
    ((date(2026, 3, 1), date(2026, 4, 30)), utc(2026, 4, 30, 21, 59, 59, 500_000)),
    ((date(2025, 12, 2), date(2026, 11, 24)), NOW),  # mid-month: a month less its first day
    ((date(2026, 1, 20), date(2026, 3, 10)), NOW),  # month rows less day rows at both ends
]


@pytest.mark.parametrize("window", range(len(UTILISATION_WINDOWS)))
def test_utilisation_from_the_rollup_equals_the_scan(db: Database, window: int) -> None:
    spec, now = UTILISATION_WINDOWS[window]
    if isinstance(spec, str):
        period = AnalyticsRange(spec).bounds(now, BERLIN)
    else:
        period = AnalyticsRange("custom", *spec).bounds(now, BERLIN)
    rng = random.Random(window)
    w_end = min(period.end_utc, now)
    edges = [period.start_utc, w_end, utc(2026, 3, 1), utc(2026, 11, 1), utc(2026, 2, 28)]
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        account = make_account(s)
        chargers = [make_charger(s, friendly_name=f"Bay {i:02d}") for i in range(14)]
        for i in range(300):
            anchor = rng.choice(edges)
            started = anchor + timedelta(seconds=rng.uniform(-2 * 86400, 2 * 86400))
            if i % 5 == 0:
                started = anchor + timedelta(days=rng.uniform(-45, 45))
            length = timedelta(seconds=rng.uniform(0, 6 * 3600))
            if i % 17 == 0:
                length = timedelta(days=rng.uniform(1, 40))  # some longer than the lookback
            ended = None if i % 23 == 0 else started + length
            if ended is not None and ended > now and rng.random() < 0.7:
                ended = None  # what has not ended by now is in progress; the rest ran past
                # now (a charger's clock ahead)
            make_session(s, account, rng.choice(chargers), started_at=started, ended_at=ended)
        s.commit()
    assert_exact(db)
    with db.session() as s:
        got = top_chargers_by_utilisation(s, period, now, limit=14)
        scanned = top_chargers_by_utilisation_from_sessions(s, period, now, limit=14)
    assert len(got) >= 5, "the scenario must put time in use into the window"
    assert [r.charger_id for r in got] == [r.charger_id for r in scanned]
    for mine, old in zip(got, scanned, strict=True):
        assert mine.hours_in_use == pytest.approx(old.hours_in_use, abs=2e-4)
        assert mine.hours_in_period == old.hours_in_period
        assert mine.share == pytest.approx(old.share, rel=1e-9, abs=1e-12)


def test_start_spans_cut_months_days_and_hours() -> None:
    dec, jan, feb, mar = (month_of(utc(2025, 12, 1)) + i for i in range(4))
    # Berlin's year from 1 December: an hour before it, whole months, today's hours.
    spans = start_spans(utc(2025, 11, 30, 23), utc(2026, 12, 1, 21, 30))
    assert spans.instants == (
        (utc(2025, 11, 30, 23), utc(2025, 12, 1)),
        (utc(2026, 12, 1), utc(2026, 12, 1, 21, 30)),
    )
    assert spans.days == ()
    assert spans.months == ((dec, month_of(utc(2026, 12, 1)), 1),)
    # From 2 December: December less its first day, not 30 day rows.
    spans = start_spans(utc(2025, 12, 1, 23), utc(2026, 3, 1))
    assert spans.months == ((dec, mar, 1),)
    assert spans.days == ((day_of(utc(2025, 12, 1)), day_of(utc(2025, 12, 2)), -1),)
    # Across a month's end, a few days of each: days only.
    spans = start_spans(utc(2026, 2, 26, 23), utc(2026, 3, 2, 23))
    assert spans.days == ((day_of(utc(2026, 2, 27)), day_of(utc(2026, 3, 2)), 1),)
    assert spans.months == ()
    # 10 January to 10 February: January less its first 9 days (not 22 day rows), then the
    # 9 days of February.
    spans = start_spans(utc(2026, 1, 10), utc(2026, 2, 10))
    assert spans.months == ((jan, feb, 1),)
    assert spans.days == (
        (day_of(utc(2026, 1, 1)), day_of(utc(2026, 1, 10)), -1),
        (day_of(utc(2026, 2, 1)), day_of(utc(2026, 2, 10)), 1),
    )
    spans = start_spans(utc(2026, 1, 10, 6), utc(2026, 1, 10, 7))
    assert spans == type(spans)(((utc(2026, 1, 10, 6), utc(2026, 1, 10, 7)),), (), ())


def test_kathmandu_quarters_map_to_its_local_hours(db: Database) -> None:
    """+05:45: 18:14:59 UTC is 23:59:59 local, 18:15 UTC the next day's 00:00."""
    with db.session() as s:
        make_operator(s, timezone="Asia/Kathmandu")
        account, charger = make_account(s), make_charger(s)
        for started in (
            utc(2026, 1, 4, 18, 14, 59),
            utc(2026, 1, 4, 18, 15),
            utc(2026, 1, 5, 3, 0),
        ):
            make_session(s, account, charger, started_at=started, energy_kwh="1")
        s.commit()
    period = AnalyticsRange("custom", date(2026, 1, 4), date(2026, 1, 5)).bounds(NOW, KATHMANDU)
    with db.session() as s:
        days = energy_per_day(s, period)
        grid = sessions_by_hour_of_week(s, period)
    assert [(d.day, d.sessions) for d in days] == [(date(2026, 1, 4), 1), (date(2026, 1, 5), 2)]
    # 4 January 2026 is a Sunday: 23:59:59 Sunday, then Monday 00:00 and 08:45.
    found = {(w, h): n for w, row in enumerate(grid) for h, n in enumerate(row) if n}
    assert found == {(6, 23): 1, (0, 0): 1, (0, 8): 1}


def test_offsets_off_the_quarter_fall_back_to_the_scan(db: Database) -> None:
    """Monrovia ran on -00:44:30 until 1972: its days are not whole quarters."""
    monrovia = ZoneInfo("Africa/Monrovia")
    period = AnalyticsRange("custom", date(1971, 6, 1), date(1971, 6, 3)).bounds(NOW, monrovia)
    assert local_quarters(period, offset_runs(period)) is None
    with db.session() as s:
        make_operator(s, timezone="Africa/Monrovia")
        account, charger = make_account(s), make_charger(s)
        # 00:00 local on 2 June is 00:44:30 UTC: the first quarter of the day straddles it.
        make_session(s, account, charger, started_at=utc(1971, 6, 2, 0, 44, 29), energy_kwh="1")
        make_session(s, account, charger, started_at=utc(1971, 6, 2, 0, 44, 30), energy_kwh="2")
        s.commit()
    with db.session() as s:
        days = energy_per_day(s, period)
        assert usage_between(s, period.start_utc, period.end_utc) is None
        totals = session_totals(s, SessionFilter(date(1971, 6, 2), date(1971, 6, 2)), monrovia)
    assert [(d.sessions, d.energy_kwh) for d in days] == [
        (1, Decimal("1.000")),
        (1, Decimal("2.000")),
        (0, Decimal("0.000")),
    ]
    assert (totals.sessions, totals.energy_kwh) == (1, Decimal("2.000"))


def test_the_rollup_is_what_is_read(db: Database) -> None:
    """A row written straight into the table shows in the figures: they do not scan sessions."""
    period = AnalyticsRange("custom", date(2026, 5, 1), date(2026, 5, 1)).bounds(NOW, BERLIN)
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        s.add(
            UsageQuarter(
                quarter=quarter_of(utc(2026, 5, 1, 10)),
                connector_type="NACS",
                sessions=3,
                energy_wh=4500,
                finalized_sessions=2,
                finalized_energy_wh=4000,
            )
        )
        s.commit()
    with db.session() as s:
        assert [(d.sessions, d.energy_kwh) for d in energy_per_day(s, period)] == [
            (3, Decimal("4.500"))
        ]
        grid = sessions_by_hour_of_week(s, period)
        assert grid[4][12] == 3  # Friday 12:00 CEST
        kinds = {c.connector_type: c.sessions for c in energy_by_connector(s, period)}
        assert kinds["NACS"] == 3
        totals = session_totals(
            s, SessionFilter(date(2026, 5, 1), date(2026, 5, 1), state="finalized"), BERLIN
        )
        assert (totals.sessions, totals.energy_kwh) == (2, Decimal("4.000"))
        # With a charger or an account the explorer scans the sessions (there are none).
        assert (
            session_totals(
                s, SessionFilter(date(2026, 5, 1), date(2026, 5, 1), account_id="x"), BERLIN
            ).sessions
            == 0
        )


def test_counter_sanity() -> None:
    """quarter_of floors, also before 1970."""
    assert quarter_of(utc(1970, 1, 1)) == 0
    assert quarter_of(utc(1970, 1, 1, 0, 14, 59)) == 0
    assert quarter_of(utc(1969, 12, 31, 23, 59, 59)) == -1
    assert Counter(
        quarter_of(utc(2026, 1, 1) + timedelta(minutes=m)) for m in range(60)
    ) == Counter({quarter_of(utc(2026, 1, 1)) + i: 15 for i in range(4)})


@pytest.mark.parametrize("window", range(len(UTILISATION_WINDOWS)))
def test_revenue_per_charger_from_the_rollup_equals_the_sessions(db: Database, window: int) -> None:
    """Whole months less days, days, the hours at the edges: every shape of period sums to the
    stored costs of the finished sessions that started in it; disputed energy counts nowhere."""
    spec, now = UTILISATION_WINDOWS[window]
    if isinstance(spec, str):
        period = AnalyticsRange(spec).bounds(now, BERLIN)
    else:
        period = AnalyticsRange("custom", *spec).bounds(now, BERLIN)
    rng = random.Random(100 + window)
    edges = [period.start_utc, period.end_utc, utc(2026, 3, 1), utc(2026, 11, 1)]
    expected: Counter[str] = Counter()
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        account = make_account(s)
        chargers = [make_charger(s, friendly_name=f"Bay {i:02d}") for i in range(12)]
        for i in range(300):
            anchor = rng.choice(edges)
            started = anchor + timedelta(seconds=rng.uniform(-2 * 86400, 2 * 86400))
            if i % 5 == 0:
                started = anchor + timedelta(days=rng.uniform(-45, 45))
            charger = rng.choice(chargers)
            row = make_session(
                s,
                account,
                charger,
                started_at=started,
                ended_at=started + timedelta(minutes=rng.randint(1, 600)),
            )
            row.cost_total = Decimal(rng.randint(1, 20_000)) / 100
            if i % 11 == 0:
                row.energy_disputed_at = NOW
            elif period.start_utc <= started < period.end_utc:
                expected[charger.id] += row.cost_total
        s.commit()
    assert_exact(db)
    with db.session() as s:
        earners = revenue_per_charger(s, period, limit=None)
        top = revenue_per_charger(s, period, limit=3)
    assert len(expected) >= 3, "the scenario must put priced sessions into the period"
    assert {r.charger_id: r.revenue for r in earners} == dict(expected)
    assert [r.charger_id for r in top] == [r.charger_id for r in earners[:3]]
    assert [r.revenue for r in earners] == sorted(expected.values(), reverse=True)
