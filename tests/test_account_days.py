"""``account_days`` (migration 0031, data/charging/account_days.py): the dashboard's period read
from the per-account daily rollup must equal the scan of the account's sessions, on SQLite and
PostgreSQL, through inserts, bulk inserts (imports), edits, deletes, disputes, sessions in
progress, DST days and a change of the operator's zone; and the triggers' rows must equal a
recount from scratch."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from data.accounts.operator_settings import save_operator_settings
from data.charging.account_days import (
    day_window,
    recount_in_operator_zone,
    refill_account_days,
    zone_runs,
)
from data.charging.dashboard import (
    _usage_from_days,
    account_usage,
    account_usage_from_sessions,
)
from data.core.db import Database
from data.core.models import AccountDay, AccountDayZone, ChargingSession
from data.core.periods import PERIODS, Period, local_midnight_utc, period_bounds
from tests.support.audit import CLI
from tests.support.factories import make_session
from tests.support.random_sessions import operator_with_three, random_sessions

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _periods(tz: ZoneInfo) -> list[Period]:
    """The dashboard's three periods, and the months holding this year's DST days."""
    found = [period_bounds(p, NOW, tz) for p in PERIODS]
    for month in (3, 10):
        first, end = date(2026, month, 1), date(2026, month + 1, 1)
        found.append(
            Period(
                "current",
                first,
                end,
                local_midnight_utc(first, tz),
                local_midnight_utc(end, tz),
                tz,
            )
        )
    return found


def _rows(db: Database) -> list[tuple[str, int, int, int, int, int]]:
    with db.session() as s:
        return [
            tuple(r)  # type: ignore[misc]
            for r in s.execute(
                select(
                    AccountDay.account_id,
                    AccountDay.day,
                    AccountDay.sessions,
                    AccountDay.energy_wh,
                    AccountDay.cost_milli,
                    AccountDay.costed,
                )
                .where(AccountDay.sessions != 0)
                .order_by(AccountDay.account_id, AccountDay.day)
            ).all()
        ]


def assert_same(db: Database, accounts: list[str], tz: ZoneInfo) -> int:
    """Every period, every account: the rollup's answer is the scan's; the rollup's rows are
    a recount's. Returns how many periods were answered from the rollup."""
    from_rollup = 0
    with db.session() as s:
        for period in _periods(tz):
            window = day_window(period)
            assert window is not None, period
            for account in accounts:
                fast = _usage_from_days(s, account, period, window)
                assert fast is not None  # the stored runs are the zone's: read from the rollup
                again = account_usage(s, account, period)
                assert (again.cost, again.in_progress) == (fast.cost, fast.in_progress)
                slow = account_usage_from_sessions(s, account, period)
                assert fast.days["day"].tolist() == slow.days["day"].tolist()
                assert fast.days["energy_kwh"].tolist() == slow.days["energy_kwh"].tolist()
                assert fast.cost == slow.cost
                assert sorted(fast.in_progress) == sorted(slow.in_progress)
                from_rollup += 1
    kept = _rows(db)
    with db.session() as s:
        refill_account_days(s, tz)
        s.commit()
    assert _rows(db) == kept
    return from_rollup


def test_rollup_equals_the_sessions_scan_through_every_write(db: Database) -> None:
    rng = random.Random(19)
    accounts, chargers = operator_with_three(db)
    with db.session() as s:
        # One by one (the ORM), then a bulk insert as an import writes many rows at once.
        for row in random_sessions(rng, accounts[0], chargers, 40, NOW):
            s.add(ChargingSession(**row))
            s.flush()
        s.execute(insert(ChargingSession), random_sessions(rng, accounts[1], chargers, 150, NOW))
        s.commit()
    assert assert_same(db, accounts, BERLIN) > 0
    assert _rows(db)  # something was counted

    with db.session() as s:
        ids = list(s.scalars(select(ChargingSession.id).order_by(ChargingSession.id)))
        picked = rng.sample(ids, 40)
        for n, sid in enumerate(picked):
            change: dict[str, object]
            kind = n % 6
            if kind == 0:  # energy so far grows, then the session ends with a cost
                change = {"energy_kwh": Decimal("12.345")}
            elif kind == 1:
                moved = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
                change = {"started_at": moved, "ended_at": moved + timedelta(hours=1)}
            elif kind == 2:
                change = {"energy_disputed_at": NOW}
            elif kind == 3:
                change = {"energy_disputed_at": None, "cost_total": Decimal("1.005")}
            elif kind == 4:
                change = {"account_id": accounts[2]}
            else:
                started = s.scalars(
                    select(ChargingSession.started_at).where(ChargingSession.id == sid)
                ).one()
                change = {
                    "ended_at": started + timedelta(minutes=1),
                    "finalized": True,
                    "cost_total": Decimal("0.001"),
                }
            s.execute(update(ChargingSession).where(ChargingSession.id == sid).values(**change))
        # A statement touching many rows at once (PostgreSQL: one trigger call).
        s.execute(
            update(ChargingSession)
            .where(ChargingSession.account_id == accounts[1], ChargingSession.energy_kwh > 40)
            .values(energy_kwh=ChargingSession.energy_kwh + Decimal("0.001"))
        )
        s.execute(delete(ChargingSession).where(ChargingSession.id.in_(picked[:10])))
        s.commit()
    assert assert_same(db, accounts, BERLIN) > 0


def test_dst_days_sum_the_right_instants(db: Database) -> None:
    accounts, chargers = operator_with_three(db)
    a = accounts[0]
    with db.session() as s:
        # 2026-03-29 (23 h) and 2026-10-25 (25 h) in Berlin: first and last instants of each.
        for i, (start, kwh) in enumerate(
            [
                (datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC), "1"),  # 28 March, 23:59:59
                (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "2"),  # 29 March, 00:00
                (datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC), "4"),  # 29 March, 23:59:59
                (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), "8"),  # 30 March, 00:00
                (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), "16"),  # 25 October, 00:00
                (datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC), "32"),  # 25 October, 23:59:59
            ]
        ):
            make_session(
                s, a, chargers[0], started_at=start, ended_at=start + timedelta(hours=1),
                energy_kwh=kwh, session_id=f"dst-{i}",
            )  # fmt: skip
        s.commit()
    assert_same(db, accounts, BERLIN)
    with db.session() as s:
        march = account_usage(s, a, _periods(BERLIN)[3]).days.set_index("day")["energy_kwh"]
        october = account_usage(s, a, _periods(BERLIN)[4]).days.set_index("day")["energy_kwh"]
    assert march[date(2026, 3, 28)] == 1.0
    assert march[date(2026, 3, 29)] == 6.0
    assert march[date(2026, 3, 30)] == 8.0
    assert october[date(2026, 10, 25)] == 48.0


def test_a_changed_zone_is_recounted_and_never_read_stale(db: Database) -> None:
    rng = random.Random(7)
    accounts, chargers = operator_with_three(db)
    with db.session() as s:
        s.execute(insert(ChargingSession), random_sessions(rng, accounts[0], chargers, 120, NOW))
        s.commit()
    assert_same(db, accounts, BERLIN)
    tokyo = ZoneInfo("Asia/Tokyo")
    # Changed behind the settings' back: the stored runs are Berlin's, so Tokyo's periods are
    # not read from the rollup (the answer is the scan's).
    with db.session() as s:
        s.execute(text("UPDATE operator SET timezone = 'Asia/Tokyo'"))
        s.commit()
    with db.session() as s:
        for period in _periods(tokyo):
            window = day_window(period)
            assert window is not None
            assert _usage_from_days(s, accounts[0], period, window) is None
            fast = account_usage(s, accounts[0], period)
            slow = account_usage_from_sessions(s, accounts[0], period)
            assert fast.days["energy_kwh"].tolist() == slow.days["energy_kwh"].tolist()
            assert fast.cost == slow.cost
    # Saved through the settings: nothing recounted in the request; still read from sessions.
    with db.session() as s:
        save_operator_settings(
            s, name="Polaris", support_email=None, timezone="Asia/Tokyo", currency="EUR",
            actor=CLI, now=NOW,
        )  # fmt: skip
        s.commit()
    with db.session() as s:
        assert set(s.scalars(select(AccountDayZone.zone))) == {"Europe/Berlin"}
        period = _periods(tokyo)[0]
        window = day_window(period)
        assert window is not None and _usage_from_days(s, accounts[0], period, window) is None
    # The worker's recount: runs and rows in Tokyo's days; once only.
    with db.session() as s:
        recounted = recount_in_operator_zone(s)
    assert recounted is not None and recounted[0] == "Asia/Tokyo" and recounted[1] > 0
    with db.session() as s:
        zones = set(s.scalars(select(AccountDayZone.zone)))
        count = s.scalar(select(func.count()).select_from(AccountDayZone))
        assert recount_in_operator_zone(s) is None
    assert zones == {"Asia/Tokyo"} and count == len(zone_runs(tokyo))
    assert assert_same(db, accounts, tokyo) > 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_truncate_empties_the_rollup(db: Database) -> None:
    accounts, chargers = operator_with_three(db)
    with db.session() as s:
        make_session(s, accounts[0], chargers[0], started_at=NOW - timedelta(days=1))
        s.commit()
    assert _rows(db)
    with db.session() as s:
        s.execute(text("TRUNCATE sessions CASCADE"))
        s.commit()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AccountDay)) == 0


def test_zone_runs_and_unsafe_periods() -> None:
    runs = zone_runs(BERLIN)
    # Berlin: CET/CEST changes twice a year since 1980 (none 1970-1979).
    assert runs[0] == (-(2**62), 3600)
    assert (int(datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp()), 7200) in runs
    assert (int(datetime(2026, 10, 25, 1, 0, tzinfo=UTC).timestamp()), 3600) in runs
    # Outside 1970-2100 the dashboard scans sessions.
    old = date(1969, 12, 1)
    early = Period(
        "current", old, date(1970, 1, 1), local_midnight_utc(old, BERLIN),
        local_midnight_utc(date(1970, 1, 1), BERLIN), BERLIN,
    )  # fmt: skip
    assert day_window(early) is None
    assert day_window(period_bounds("year", NOW, BERLIN)) is not None
