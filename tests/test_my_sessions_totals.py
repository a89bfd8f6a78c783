"""``/sessions`` totals from ``account_days`` (data/charging/my_sessions.py): for every filter of
days without a charger they must equal the aggregate of the account's sessions, on SQLite and
PostgreSQL, with disputed sessions, sessions in progress, DST days as bounds, open bounds, and
fall back (same figures) when the rollup cannot answer exactly."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert, text, update

from data.charging.my_sessions import (
    HistoryFilter,
    _totals_from_days,
    history_totals,
    history_totals_from_sessions,
)
from data.core.db import Database
from data.core.models import AccountDayZone, ChargingSession
from tests.support.factories import make_session
from tests.support.random_sessions import operator_with_three, random_sessions

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # when disputed sessions were disputed
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # until 2019 its DST began at local midnight


def _filters() -> list[HistoryFilter]:
    d = date
    bounds = [
        (None, None),
        (d(2026, 3, 29), None),  # 23 h day (Berlin) as the first
        (None, d(2026, 3, 29)),
        (d(2026, 10, 25), d(2026, 10, 25)),  # 25 h day alone
        (d(2026, 3, 28), d(2026, 10, 25)),
        (d(2026, 1, 1), d(2026, 1, 1)),
        (d(2025, 11, 1), d(2026, 11, 30)),
        (None, d(2025, 12, 31)),
        (d(2027, 1, 1), None),  # nothing yet
        (d(2018, 11, 4), d(2018, 11, 4)),  # Sao Paulo: a day starting at 01:00
        (d(2018, 11, 3), None),
        (None, d(2018, 11, 4)),
    ]
    return [HistoryFilter(a, b) for a, b in bounds]


def _sao_paulo_edges(account: str, charger: str) -> list[dict]:
    """Instants around 2018-11-04, whose local day began at 01:00 (03:00 UTC)."""
    moments = [
        datetime(2018, 11, 4, 2, 59, 59, tzinfo=UTC),  # 3 November, 23:59:59 (-03)
        datetime(2018, 11, 4, 3, 0, tzinfo=UTC),  # 4 November, 01:00 (-02)
        datetime(2018, 11, 5, 1, 59, 59, tzinfo=UTC),  # 4 November, 23:59:59
        datetime(2018, 11, 5, 2, 0, tzinfo=UTC),  # 5 November, 00:00
    ]
    return [
        {
            "id": f"{account}-sp{i}",
            "account_id": account,
            "charger_id": charger,
            "started_at": m,
            "ended_at": m + timedelta(hours=1),
            "energy_kwh": Decimal(2**i),
            "finalized": True,
            "cost_total": Decimal("0.125") * (i + 1),
            "energy_disputed_at": None,
        }
        for i, m in enumerate(moments)
    ]


def assert_same(db: Database, accounts: list[str], tz: ZoneInfo, *, from_days: bool) -> int:
    """Every filter, every account: ``history_totals`` is the sessions aggregate; when
    ``from_days`` the rollup answered at least once. Returns how many it answered."""
    answered = 0
    with db.session() as s:
        for flt in _filters():
            for account in accounts:
                slow = history_totals_from_sessions(s, account, flt, tz)
                assert history_totals(s, account, flt, tz) == slow, (account, flt)
                fast = _totals_from_days(s, account, flt, tz)
                if fast is not None:
                    assert fast == slow, (account, flt)
                    answered += 1
    if from_days:
        assert answered > 0
    return answered


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Sao_Paulo"])
def test_totals_from_days_equal_the_sessions_aggregate(db: Database, zone: str) -> None:
    tz = ZoneInfo(zone)
    rng = random.Random(23)
    accounts, chargers = operator_with_three(db, zone)
    with db.session() as s:
        for row in random_sessions(rng, accounts[0], chargers, 40, NOW):
            s.add(ChargingSession(**row))
            s.flush()
        rows = random_sessions(rng, accounts[1], chargers, 200, NOW)
        s.execute(insert(ChargingSession), rows + _sao_paulo_edges(accounts[1], chargers[0]))
        s.commit()
    # Every filter of the account with sessions and the unbounded one are read from the rollup.
    answered = assert_same(db, accounts, tz, from_days=True)
    assert answered >= len(accounts) * (len(_filters()) - 4)
    with db.session() as s:
        everything = history_totals(s, accounts[1], HistoryFilter(), tz)
        assert everything.sessions == 204 and everything.disputed > 0
        assert everything.energy_kwh > 0 and everything.cost > 0
        assert _totals_from_days(s, accounts[1], HistoryFilter(), tz) == everything

    # Writes: energy so far grows, sessions end with a cost, disputes come and go, a session
    # moves account and day, some are deleted; the rollup's answers follow.
    with db.session() as s:
        ids = sorted(s.scalars(text("SELECT id FROM sessions")))
        picked = rng.sample(ids, 30)
        changes: list[dict[str, object]] = [
            {"energy_kwh": Decimal("7.777")},
            {"energy_disputed_at": NOW},
            {"energy_disputed_at": None, "cost_total": Decimal("2.005")},
            {"account_id": accounts[2]},
            {"started_at": datetime(2026, 10, 24, 22, 0, tzinfo=UTC), "ended_at": None},
        ]
        for n, sid in enumerate(picked):
            change = changes[n % len(changes)]
            s.execute(update(ChargingSession).where(ChargingSession.id == sid).values(**change))
        s.execute(delete(ChargingSession).where(ChargingSession.id.in_(picked[:5])))
        s.commit()
    assert_same(db, accounts, tz, from_days=True)


def test_dst_bounds_count_the_right_sessions(db: Database) -> None:
    accounts, chargers = operator_with_three(db, "Europe/Berlin")
    a = accounts[0]
    with db.session() as s:
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
                s, a, chargers[0], started_at=start, ended_at=None if i == 5 else start,
                energy_kwh=kwh, session_id=f"dst-{i}",
            )  # fmt: skip
        s.commit()
    cases = {
        (date(2026, 3, 29), date(2026, 3, 29)): (2, "6.000"),
        (None, date(2026, 3, 28)): (1, "1.000"),
        (date(2026, 3, 30), None): (3, "56.000"),
        (date(2026, 10, 25), date(2026, 10, 25)): (2, "48.000"),  # one in progress
    }
    with db.session() as s:
        for (first, last), (sessions, kwh) in cases.items():
            flt = HistoryFilter(first, last)
            fast = _totals_from_days(s, a, flt, BERLIN)
            assert fast is not None
            assert (fast.sessions, fast.energy_kwh) == (sessions, Decimal(kwh))
            assert fast == history_totals_from_sessions(s, a, flt, BERLIN)


def test_falls_back_when_the_rollup_cannot_answer(db: Database) -> None:
    rng = random.Random(5)
    accounts, chargers = operator_with_three(db, "Europe/Berlin")
    a = accounts[0]
    with db.session() as s:
        s.execute(insert(ChargingSession), random_sessions(rng, a, chargers, 60, NOW))
        s.commit()
    tokyo = ZoneInfo("Asia/Tokyo")
    with db.session() as s:
        # A charger: the rollup has no charger; the sessions aggregate answers.
        flt = HistoryFilter(charger_id=chargers[0])
        assert history_totals(s, a, flt, BERLIN) == history_totals_from_sessions(s, a, flt, BERLIN)
        assert history_totals(s, a, flt, BERLIN).sessions < 60
        # A bound before 1970 (no runs there) or after 2100.
        for flt in (HistoryFilter(date(1969, 12, 1), None), HistoryFilter(None, date(2200, 1, 1))):
            assert _totals_from_days(s, a, flt, BERLIN) is None
            assert history_totals(s, a, flt, BERLIN) == history_totals_from_sessions(
                s, a, flt, BERLIN
            )
        # The zone changed behind the settings' back: the stored runs are Berlin's.
        for flt in _filters():
            assert _totals_from_days(s, a, flt, tokyo) is None
            assert history_totals(s, a, flt, tokyo) == history_totals_from_sessions(
                s, a, flt, tokyo
            )
    # A session within two days of 1970 or of the explorer's last day: an open bound is not
    # exact any more (1969-12-31 in UTC is 1970-01-01 in Berlin).
    for moment in (datetime(1969, 12, 31, 23, 30, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC)):
        with db.session() as s:
            make_session(s, a, chargers[0], started_at=moment, ended_at=moment, session_id="far")
            s.commit()
        with db.session() as s:
            assert _totals_from_days(s, a, HistoryFilter(), BERLIN) is None
            both = history_totals(s, a, HistoryFilter(), BERLIN)
            assert both == history_totals_from_sessions(s, a, HistoryFilter(), BERLIN)
            assert both.sessions == 61
            bounded = HistoryFilter(date(2025, 1, 1), date(2027, 1, 1))
            assert _totals_from_days(s, a, bounded, BERLIN) is not None
            s.execute(delete(ChargingSession).where(ChargingSession.id == "far"))
            s.commit()
    # No runs stored at all (the triggers would have counted nothing): never read.
    with db.session() as s:
        s.execute(delete(AccountDayZone))
        s.commit()
    with db.session() as s:
        for flt in _filters():
            assert _totals_from_days(s, a, flt, BERLIN) is None
