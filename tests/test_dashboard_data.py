"""The dashboard queries (data/charging/dashboard.py) against the rules in
shared/spec/data-exchange.md, prices and costs included.

Every test runs on SQLite and on PostgreSQL (fixture ``db``); ``now`` is always pinned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import event, select

from data.chargers.status import ChargerStatus, charger_status_expression
from data.charging.dashboard import (
    CHARGER_LIMIT,
    AccountPlan,
    OperatorSettings,
    account_plan,
    account_usage,
    active_session,
    day_buckets,
    next_reservation,
    operator_settings,
    recent_sessions,
    usage_total_kwh,
    visible_chargers,
)
from data.core.db import Database
from data.core.models import (
    Charger,
    ChargingSession,
    ConnectorType,
    ReservationStatus,
    Visibility,
)
from data.core.periods import period_bounds
from data.pricing.receipts import receipt
from data.pricing.rows import stored_cost
from data.pricing.tariffs import (
    create_tariff_version,
    live_cost,
    price_session,
    set_default_tariff,
    set_plan_tariff,
)
from tests.support.audit import AT, CLI
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_operator,
    make_plan,
    make_reservation,
    make_session,
    poll_statuses,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    """A Berlin wall-clock time as an aware UTC instant."""
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def statuses(db: Database, account_id: str, now: datetime = NOW) -> dict[str, ChargerStatus]:
    with db.session() as s:
        return {c.charger_id: c.status for c in visible_chargers(s, account_id, now).chargers}


def usage_by_day(db: Database, account_id: str, period_name: str, now: datetime, tz: ZoneInfo):
    with db.session() as s:
        df = account_usage(s, account_id, period_bounds(period_name, now, tz)).days
    return dict(zip(df["day"], df["energy_kwh"], strict=True))


# --- operator, plan, first run -------------------------------------------------------------


def test_operator_placeholder_without_row(db: Database) -> None:
    with db.session() as s:
        assert operator_settings(s) == OperatorSettings(
            "Polaris Express", None, ZoneInfo("UTC"), "EUR"
        )


def test_operator_settings_from_row(db: Database) -> None:
    with db.session() as s:
        make_operator(
            s, name="Volt GmbH", support_email="help@volt.example", timezone="Europe/Berlin"
        )
    with db.session() as s:
        op = operator_settings(s)
    assert op == OperatorSettings("Volt GmbH", "help@volt.example", BERLIN, "EUR")


def test_first_run_account(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        make_charger(s, last_seen_at=NOW)
    with db.session() as s:
        assert active_session(s, account.id, NOW) is None
        assert recent_sessions(s, account.id, NOW) == []
        assert next_reservation(s, account.id, NOW) is None
        assert account_plan(s, account.id, NOW) == AccountPlan(None, None)
        period = period_bounds("current", NOW, ZoneInfo("UTC"))
        df = account_usage(s, account.id, period).days
    assert list(df.columns) == ["day", "energy_kwh"]
    assert list(df["day"]) == period.days
    assert len(df) == 30  # November
    assert df["energy_kwh"].dtype == "float64"
    assert (df["energy_kwh"] == 0.0).all()
    assert usage_total_kwh(df) == 0.0


def test_account_plan(db: Database) -> None:
    with db.session() as s:
        plan = make_plan(s, plan_id="p-basic", name="Basic", allowance_kwh="150.5", currency="USD")
        with_plan = make_account(s, plan=plan)
        without_plan = make_account(s)
    with db.session() as s:
        row = account_plan(s, with_plan.id, NOW).plan
        assert row is not None
        assert (row.plan_id, row.name, row.allowance_kwh, row.currency) == (
            "p-basic",
            "Basic",
            150.5,
            "USD",
        )
        assert account_plan(s, without_plan.id, NOW).plan is None
        assert account_plan(s, "no-such-account", NOW) == AccountPlan(None, None)


# --- sessions --------------------------------------------------------------------------------


def test_session_ending_exactly_now_is_neither_active_nor_in_use(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s, last_seen_at=NOW)
        make_session(s, account, charger, started_at=NOW - HOUR, ended_at=NOW, energy_kwh="12.5")
    with db.session() as s:
        assert active_session(s, account.id, NOW) is None
        [row] = recent_sessions(s, account.id, NOW)
    assert row.ended_at == NOW and row.finalized is True
    assert statuses(db, account.id) == {charger.id: ChargerStatus.online}


def test_session_in_progress(db: Database) -> None:
    started = NOW - timedelta(minutes=40)
    with db.session() as s:
        make_operator(s)
        account = make_account(s)
        charger = make_charger(s, friendly_name="Depot 1", last_seen_at=NOW)
        make_session(s, account, charger, started_at=NOW - 26 * HOUR, ended_at=NOW - 25 * HOUR)
        make_session(s, account, charger, started_at=started, energy_kwh="7.125", session_id="s-1")
    with db.session() as s:
        active = active_session(s, account.id, NOW)
        recent = recent_sessions(s, account.id, NOW)
        df = account_usage(s, account.id, period_bounds("current", NOW, ZoneInfo("UTC"))).days
    assert active is not None
    assert (active.session_id, active.charger_name, active.energy_kwh) == ("s-1", "Depot 1", 7.125)
    assert active.started_at == started and active.started_at.tzinfo is not None
    assert recent[0].session_id == "s-1" and recent[0].ended_at is None
    assert recent[0].finalized is False
    usage = dict(zip(df["day"], df["energy_kwh"], strict=True))
    assert usage[date(2026, 11, 24)] == 7.125  # counted with its energy so far
    assert statuses(db, account.id) == {charger.id: ChargerStatus.in_use}


def test_active_session_is_latest_started_of_own_account(db: Database) -> None:
    with db.session() as s:
        account, other = make_account(s), make_account(s)
        c1 = make_charger(s, friendly_name="Old", last_seen_at=NOW)
        c2 = make_charger(s, friendly_name="New", last_seen_at=NOW)
        make_session(s, account, c1, started_at=NOW - 5 * HOUR, session_id="older")
        make_session(s, account, c2, started_at=NOW - 2 * HOUR, session_id="newer")
        make_session(s, other, c1, started_at=NOW - HOUR, session_id="not-mine")
    with db.session() as s:
        active = active_session(s, account.id, NOW)
    assert active is not None
    assert (active.session_id, active.charger_name) == ("newer", "New")


def test_recent_sessions_order_limit_and_isolation(db: Database) -> None:
    with db.session() as s:
        account, other = make_account(s), make_account(s)
        charger = make_charger(s, friendly_name="Quay", last_seen_at=NOW)
        for i in range(6):
            start = NOW - (10 - i) * HOUR
            make_session(
                s, account, charger, started_at=start, ended_at=start + HOUR, session_id=f"a{i}"
            )
        # Same start: the id breaks the tie (descending, like started_at), not insertion order.
        for sid in ("c-tie", "d-tie", "b-tie"):
            make_session(s, account, charger, started_at=NOW - HOUR, session_id=sid)
        make_session(s, other, charger, started_at=NOW - timedelta(minutes=1), session_id="x")
    with db.session() as s:
        rows = recent_sessions(s, account.id, NOW)
        three = recent_sessions(s, account.id, NOW, limit=3)
        two = recent_sessions(s, account.id, NOW, limit=2)  # the limit cuts through the tie
    assert [r.session_id for r in rows] == ["d-tie", "c-tie", "b-tie", "a5", "a4"]
    assert [r.session_id for r in three] == ["d-tie", "c-tie", "b-tie"]
    assert [r.session_id for r in two] == ["d-tie", "c-tie"]
    assert all(r.charger_name == "Quay" for r in rows)
    assert rows[3].started_at == NOW - 5 * HOUR and rows[3].ended_at == NOW - 4 * HOUR


# --- next reservation -------------------------------------------------------------------------


def test_reservation_starting_exactly_now_reserves_and_is_next(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s, friendly_name="Bay 7", last_seen_at=NOW)
        make_reservation(s, account, charger, starts_at=NOW, ends_at=NOW + HOUR, reservation_id="r")
        make_reservation(s, account, charger, starts_at=NOW + 2 * HOUR, ends_at=NOW + 3 * HOUR)
    with db.session() as s:
        nxt = next_reservation(s, account.id, NOW)
    assert nxt is not None
    assert (nxt.reservation_id, nxt.charger_name, nxt.status) == ("r", "Bay 7", "confirmed")
    assert (nxt.starts_at, nxt.ends_at) == (NOW, NOW + HOUR)
    assert statuses(db, account.id) == {charger.id: ChargerStatus.reserved}


def test_reservation_ending_exactly_now_neither_reserves_nor_is_next(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s, last_seen_at=NOW)
        make_reservation(
            s, account, charger, starts_at=NOW - HOUR, ends_at=NOW, status=ReservationStatus.active
        )
    with db.session() as s:
        assert next_reservation(s, account.id, NOW) is None
    assert statuses(db, account.id) == {charger.id: ChargerStatus.online}


def test_pending_reservation_is_next_but_does_not_reserve(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s, last_seen_at=NOW)
        make_reservation(
            s,
            account,
            charger,
            starts_at=NOW - HOUR,
            ends_at=NOW + HOUR,
            status=ReservationStatus.pending,
            reservation_id="p",
        )
    with db.session() as s:
        nxt = next_reservation(s, account.id, NOW)
    assert nxt is not None and (nxt.reservation_id, nxt.status) == ("p", "pending")
    assert statuses(db, account.id) == {charger.id: ChargerStatus.online}


@pytest.mark.parametrize("status", [ReservationStatus.cancelled, ReservationStatus.completed])
def test_cancelled_or_completed_never_next_nor_reserving(
    db: Database, status: ReservationStatus
) -> None:
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s, last_seen_at=NOW)
        make_reservation(
            s, account, charger, starts_at=NOW - HOUR, ends_at=NOW + HOUR, status=status
        )
        make_reservation(
            s, account, charger, starts_at=NOW + HOUR, ends_at=NOW + 2 * HOUR, status=status
        )
    with db.session() as s:
        assert next_reservation(s, account.id, NOW) is None
    assert statuses(db, account.id) == {charger.id: ChargerStatus.online}


def test_next_reservation_is_earliest_start_of_own_account(db: Database) -> None:
    with db.session() as s:
        account, other = make_account(s), make_account(s)
        # One charger each: holding reservations may not overlap on a charger.
        chargers = iter([make_charger(s, last_seen_at=NOW) for _ in range(6)])
        make_reservation(
            s, account, next(chargers), starts_at=NOW + 5 * HOUR, ends_at=NOW + 6 * HOUR
        )
        # Started an hour ago and still running: its start is the earliest.
        make_reservation(
            s,
            account,
            next(chargers),
            starts_at=NOW - HOUR,
            ends_at=NOW + HOUR,
            status=ReservationStatus.active,
            reservation_id="running",
        )
        make_reservation(
            s, account, next(chargers), starts_at=NOW - 3 * HOUR, ends_at=NOW - 2 * HOUR
        )
        make_reservation(s, other, next(chargers), starts_at=NOW - 2 * HOUR, ends_at=NOW + HOUR)
        make_reservation(
            s, account, next(chargers), starts_at=NOW + 9 * HOUR, ends_at=NOW + 10 * HOUR
        )
        make_reservation(
            s, account, next(chargers), starts_at=NOW + 9 * HOUR, ends_at=NOW + 10 * HOUR
        )
    with db.session() as s:
        nxt = next_reservation(s, account.id, NOW)
        later = next_reservation(s, account.id, NOW + 7 * HOUR)
    assert nxt is not None and nxt.reservation_id == "running"
    assert later is not None and later.starts_at == NOW + 9 * HOUR
    with db.session() as s:
        other_next = next_reservation(s, other.id, NOW)
    assert other_next is not None and other_next.starts_at == NOW - 2 * HOUR


def test_next_reservation_tie_on_start_breaks_by_id(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        for rid in ("r-b", "r-a", "r-c"):
            make_reservation(
                s,
                account,
                make_charger(s, last_seen_at=NOW),
                starts_at=NOW + HOUR,
                ends_at=NOW + 2 * HOUR,
                reservation_id=rid,
            )
    with db.session() as s:
        nxt = next_reservation(s, account.id, NOW)
    assert nxt is not None and nxt.reservation_id == "r-a"


# --- charger status ----------------------------------------------------------------------------


def test_heartbeat_age_decides_offline(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        exactly = make_charger(s, last_seen_at=NOW - HOUR)
        older = make_charger(s, last_seen_at=NOW - HOUR - timedelta(seconds=1))
        never = make_charger(s, last_seen_at=None)
        fresh = make_charger(s, last_seen_at=NOW)
    assert statuses(db, account.id) == {
        exactly.id: ChargerStatus.online,
        older.id: ChargerStatus.offline,
        never.id: ChargerStatus.offline,
        fresh.id: ChargerStatus.online,
    }


def test_in_use_beats_reserved_and_offline_beats_in_use(db: Database) -> None:
    with db.session() as s:
        account, other = make_account(s), make_account(s)
        busy_and_held = make_charger(s, last_seen_at=NOW)
        silent_busy = make_charger(s, last_seen_at=NOW - 2 * HOUR)
        held = make_charger(s, last_seen_at=NOW)
        # Someone else's session: a charger's status is the same for every driver.
        make_session(s, other, busy_and_held, started_at=NOW - HOUR)
        make_reservation(s, account, busy_and_held, starts_at=NOW - HOUR, ends_at=NOW + HOUR)
        make_session(s, account, silent_busy, started_at=NOW - HOUR)
        make_reservation(
            s,
            other,
            held,
            starts_at=NOW - HOUR,
            ends_at=NOW + HOUR,
            status=ReservationStatus.active,
        )
    assert statuses(db, account.id) == {
        busy_and_held.id: ChargerStatus.in_use,
        silent_busy.id: ChargerStatus.offline,
        held.id: ChargerStatus.reserved,
    }


def test_charger_status_expression_reusable_over_all_chargers(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        online = make_charger(s, last_seen_at=NOW, visibility=Visibility.restricted)
        offline = make_charger(s, last_seen_at=None)
        busy = make_charger(s, last_seen_at=NOW)
        held = make_charger(s, last_seen_at=NOW)
        make_session(s, account, busy, started_at=NOW - HOUR)
        make_reservation(s, account, held, starts_at=NOW, ends_at=NOW + HOUR)
    with db.session() as s:
        rows = dict(s.execute(select(Charger.id, charger_status_expression(NOW))).all())
    assert rows == {
        online.id: "Online",
        offline.id: "Offline",
        busy.id: "In use",
        held.id: "Reserved",
    }


def test_restricted_charger_needs_a_grant_for_this_account(db: Database) -> None:
    with db.session() as s:
        account, other = make_account(s), make_account(s)
        public = make_charger(s, last_seen_at=NOW)
        granted = make_charger(s, last_seen_at=NOW, visibility=Visibility.restricted)
        not_granted = make_charger(s, last_seen_at=NOW, visibility=Visibility.restricted)
        grant_access(s, account, granted)
        grant_access(s, other, not_granted)
    with db.session() as s:
        mine = visible_chargers(s, account.id, NOW)
        stranger = visible_chargers(s, "nobody", NOW)
    assert {c.charger_id for c in mine.chargers} == {public.id, granted.id}
    assert (mine.visible, mine.available) == (2, 2)
    assert [c.charger_id for c in stranger.chargers] == [public.id]
    assert (stranger.visible, stranger.available) == (1, 1)


def test_charger_cap_counts_all_visible(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        for i in range(55):
            make_charger(s, friendly_name=f"Online {i:02d}", last_seen_at=NOW)
        for i in range(5):
            make_charger(s, friendly_name=f"A offline {i}", last_seen_at=None)
        for _ in range(3):
            make_charger(s, last_seen_at=NOW, visibility=Visibility.restricted)
    with db.session() as s:
        result = visible_chargers(s, account.id, NOW)
        counts_only = visible_chargers(s, account.id, NOW, limit=0)
    assert len(result.chargers) == CHARGER_LIMIT == 50
    assert result.visible == 60
    assert result.available == 55  # counted over all visible chargers, not the 50 listed
    assert all(c.status is ChargerStatus.online for c in result.chargers)
    assert [c.friendly_name for c in result.chargers] == [f"Online {i:02d}" for i in range(50)]
    assert (counts_only.chargers, counts_only.visible, counts_only.available) == ([], 60, 55)


def test_chargers_sorted_most_useful_first(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        make_charger(s, charger_id="c-off", friendly_name="Aa", last_seen_at=None)
        busy = make_charger(s, charger_id="c-use", friendly_name="Bb", last_seen_at=NOW)
        held = make_charger(s, charger_id="c-res", friendly_name="Cc", last_seen_at=NOW)
        make_charger(
            s,
            charger_id="c-on-2",
            friendly_name="Dd",
            connector_type=ConnectorType.type2,
            max_power_kw="22",
            last_seen_at=NOW,
        )
        make_charger(s, charger_id="c-on-1", friendly_name="Dd", last_seen_at=NOW)
        make_charger(s, charger_id="c-on-0", friendly_name="Zz", last_seen_at=NOW)
        make_session(s, account, busy, started_at=NOW - HOUR)
        make_reservation(s, account, held, starts_at=NOW - HOUR, ends_at=NOW + HOUR)
    with db.session() as s:
        result = visible_chargers(s, account.id, NOW)
    assert [(c.charger_id, c.status) for c in result.chargers] == [
        ("c-on-1", ChargerStatus.online),
        ("c-on-2", ChargerStatus.online),
        ("c-on-0", ChargerStatus.online),
        ("c-res", ChargerStatus.reserved),
        ("c-use", ChargerStatus.in_use),
        ("c-off", ChargerStatus.offline),
    ]
    assert (result.visible, result.available) == (6, 3)
    type2 = result.chargers[1]
    assert (type2.connector_type, type2.max_power_kw) == ("Type 2", 22.0)


def test_no_visible_chargers(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        make_charger(s, last_seen_at=NOW, visibility=Visibility.restricted)
    with db.session() as s:
        result = visible_chargers(s, account.id, NOW)
    assert (result.chargers, result.visible, result.available) == ([], 0, 0)


# --- usage -------------------------------------------------------------------------------------


def test_session_spanning_midnight_counts_on_start_day(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s)
        make_session(
            s,
            account,
            charger,
            started_at=berlin(2026, 11, 10, 23, 0),
            ended_at=berlin(2026, 11, 11, 2, 0),
            energy_kwh="30.25",
        )
    usage = usage_by_day(db, account.id, "current", NOW, BERLIN)
    assert usage[date(2026, 11, 10)] == 30.25
    assert usage[date(2026, 11, 11)] == 0.0


@pytest.mark.parametrize(
    ("last_day", "now"),
    [
        (date(2026, 1, 31), datetime(2026, 2, 10, tzinfo=UTC)),  # CET, UTC+1
        (date(2026, 3, 31), datetime(2026, 4, 10, tzinfo=UTC)),  # CEST, UTC+2
    ],
)
def test_month_edge_follows_local_day(db: Database, last_day: date, now: datetime) -> None:
    first_next = last_day + timedelta(days=1)
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s)
        # 23:30 local on the last day: still that month (it is already 21:30/22:30 UTC).
        late = berlin(last_day.year, last_day.month, last_day.day, 23, 30)
        make_session(s, account, charger, started_at=late, energy_kwh="11.1")
        # 00:30 local on the 1st: the next month, although it is still the 31st in UTC.
        early = berlin(2026, first_next.month, 1, 0, 30)
        assert early.date() == last_day
        make_session(s, account, charger, started_at=early, energy_kwh="2.2")
    previous = usage_by_day(db, account.id, "previous", now, BERLIN)
    current = usage_by_day(db, account.id, "current", now, BERLIN)
    assert previous[last_day] == 11.1
    assert sum(previous.values()) == 11.1
    assert current[first_next] == 2.2
    assert sum(current.values()) == 2.2


def test_dst_days_bucket_by_local_day(db: Database) -> None:
    march = period_bounds("current", datetime(2026, 3, 15, tzinfo=UTC), BERLIN)
    october = period_bounds("current", datetime(2026, 10, 15, tzinfo=UTC), BERLIN)
    lengths = {d: e - s for d, s, e in day_buckets(march) + day_buckets(october)}
    assert lengths[date(2026, 3, 29)] == timedelta(hours=23)
    assert lengths[date(2026, 10, 25)] == timedelta(hours=25)
    assert lengths[date(2026, 3, 30)] == lengths[date(2026, 10, 26)] == timedelta(hours=24)
    starts = {
        # 23 h day: 2026-03-29 local runs 2026-03-28 23:00Z .. 2026-03-29 22:00Z.
        datetime(2026, 3, 28, 22, 59, 59, 999999, tzinfo=UTC): "1",  # 28th, 23:59:59.999999
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC): "2",  # 29th 00:00 local
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC): "4",  # 29th 03:30 CEST, after the jump
        datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC): "8",  # 29th 23:59:59 CEST
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC): "16",  # 30th 00:00 CEST
        # 25 h day: 2026-10-25 local runs 2026-10-24 22:00Z .. 2026-10-25 23:00Z.
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC): "100",  # 25th 00:00 CEST
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC): "200",  # 02:30 CEST (first pass)
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC): "400",  # 02:30 CET (second pass)
        datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC): "800",  # 25th 23:59:59 CET
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC): "1600",  # 26th 00:00 CET
    }
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s)
        for started, kwh in starts.items():
            make_session(s, account, charger, started_at=started, ended_at=started, energy_kwh=kwh)
    with db.session() as s:
        mar = account_usage(s, account.id, march).days
        octo = account_usage(s, account.id, october).days
    mar_days = dict(zip(mar["day"], mar["energy_kwh"], strict=True))
    oct_days = dict(zip(octo["day"], octo["energy_kwh"], strict=True))
    assert (mar_days[date(2026, 3, 28)], mar_days[date(2026, 3, 29)]) == (1.0, 14.0)
    assert mar_days[date(2026, 3, 30)] == 16.0
    assert (oct_days[date(2026, 10, 24)], oct_days[date(2026, 10, 25)]) == (0.0, 1500.0)
    assert oct_days[date(2026, 10, 26)] == 1600.0
    assert (len(mar), len(octo)) == (31, 31)


@pytest.mark.parametrize(
    ("zone", "when"),
    [
        ("America/Santiago", datetime(2026, 9, 10, tzinfo=UTC)),  # clocks jump at midnight: 23 h
        ("America/Santiago", datetime(2026, 4, 10, tzinfo=UTC)),  # 24:00 -> 23:00: a 25 h day
        ("Australia/Lord_Howe", datetime(2026, 10, 10, tzinfo=UTC)),  # a 30-minute DST shift
        ("America/St_Johns", datetime(2026, 3, 10, tzinfo=UTC)),  # UTC-3:30, 23 h day
        ("Asia/Kolkata", datetime(2026, 2, 10, tzinfo=UTC)),  # UTC+5:30, no DST
        ("Pacific/Apia", datetime(2011, 12, 10, tzinfo=UTC)),  # 2011-12-30 never happened there
    ],
)
def test_local_day_matches_zoneinfo_at_every_boundary(
    db: Database, zone: str, when: datetime
) -> None:
    """Every day's first and last microsecond lands where Python's zoneinfo says it does."""
    tz = ZoneInfo(zone)
    period = period_bounds("current", when, tz)
    instants: set[datetime] = set()
    for _, start, end in day_buckets(period):
        tick = timedelta(microseconds=1)
        instants |= {start - tick, start, start + tick, start + (end - start) / 2, end - tick}
    expected: dict[date, Decimal] = dict.fromkeys(period.days, Decimal(0))
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s)
        for i, started in enumerate(sorted(instants)):
            kwh = Decimal(i + 1) + Decimal(i % 997) / 1000
            make_session(s, account, charger, started_at=started, energy_kwh=kwh)
            if (local_day := started.astimezone(tz).date()) in expected:
                expected[local_day] += kwh
    with db.session() as s:
        df = account_usage(s, account.id, period).days
    assert list(df["day"]) == period.days
    assert dict(zip(df["day"], df["energy_kwh"], strict=True)) == {
        day: float(kwh) for day, kwh in expected.items()
    }


def test_year_and_previous_have_every_day(db: Database) -> None:
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        account, other = make_account(s), make_account(s)
        charger = make_charger(s)
        make_session(s, account, charger, started_at=berlin(2025, 12, 31, 23, 59), energy_kwh="99")
        make_session(s, account, charger, started_at=berlin(2026, 1, 1, 0, 0), energy_kwh="1.1")
        make_session(s, account, charger, started_at=berlin(2026, 10, 1, 8), energy_kwh="2.2")
        make_session(s, account, charger, started_at=berlin(2026, 10, 31, 23), energy_kwh="3.3")
        make_session(s, account, charger, started_at=NOW - HOUR, energy_kwh="4.4")
        make_session(s, other, charger, started_at=berlin(2026, 10, 2, 8), energy_kwh="50")
    with db.session() as s:
        year = account_usage(s, account.id, period_bounds("year", NOW, BERLIN)).days
        previous = account_usage(s, account.id, period_bounds("previous", NOW, BERLIN)).days
    assert list(year["day"]) == [date(2026, 1, 1) + timedelta(days=i) for i in range(328)]
    assert year["day"].iloc[-1] == date(2026, 11, 24)  # up to today
    assert (year["energy_kwh"] > 0).sum() == 4
    assert usage_total_kwh(year) == 11.0  # 1.1 + 2.2 + 3.3 + 4.4, nothing from 2025 or `other`
    assert list(previous["day"]) == [date(2026, 10, 1) + timedelta(days=i) for i in range(31)]
    assert (previous["energy_kwh"] == 0).sum() == 29
    assert usage_total_kwh(previous) == 5.5
    assert all(type(d) is date for d in previous["day"])


def test_usage_sums_to_the_last_digit(db: Database) -> None:
    with db.session() as s:
        account = make_account(s)
        charger = make_charger(s)
        for i in range(30):
            make_session(s, account, charger, started_at=NOW - i * HOUR, energy_kwh="0.1")
        make_session(s, account, charger, started_at=NOW - 2 * HOUR, energy_kwh="12345678.999")
    usage = usage_by_day(db, account.id, "current", NOW, ZoneInfo("UTC"))
    assert usage[date(2026, 11, 24)] == 12345679.999  # 10 x 0.1 + 12345678.999, exactly
    assert usage[date(2026, 11, 23)] == 2.0
    total = usage_total_kwh(pd.DataFrame({"energy_kwh": list(usage.values())}))
    assert total == 12345681.999


def test_other_accounts_never_appear(db: Database) -> None:
    with db.session() as s:
        account, other = make_account(s), make_account(s)
        charger = make_charger(s, last_seen_at=NOW)
        make_session(s, other, charger, started_at=NOW - HOUR, energy_kwh="5")
        make_session(s, other, charger, started_at=NOW - 3 * HOUR, ended_at=NOW - 2 * HOUR)
        make_reservation(s, other, charger, starts_at=NOW + HOUR, ends_at=NOW + 2 * HOUR)
    with db.session() as s:
        assert active_session(s, account.id, NOW) is None
        assert recent_sessions(s, account.id, NOW) == []
        assert next_reservation(s, account.id, NOW) is None
        df = account_usage(s, account.id, period_bounds("current", NOW, ZoneInfo("UTC"))).days
        assert usage_total_kwh(df) == 0.0
        assert active_session(s, other.id, NOW) is not None


def test_the_poll_answers_only_for_chargers_the_account_may_see(db):
    with db.session() as s:
        account = make_account(s)
        other = make_account(s)
        public = make_charger(s, last_seen_at=NOW)
        busy = make_charger(s, last_seen_at=NOW)
        granted = make_charger(s, visibility=Visibility.restricted, last_seen_at=NOW)
        someone_elses = make_charger(s, visibility=Visibility.restricted, last_seen_at=NOW)
        grant_access(s, account, granted)
        grant_access(s, other, someone_elses)
        make_session(s, other, busy, started_at=NOW - HOUR)
        ids = [public.id, busy.id, granted.id, someone_elses.id, "no-such-charger"]
    with db.session() as s:
        found = poll_statuses(s, account.id, ids, NOW)
    assert found == {
        public.id: ChargerStatus.online,
        busy.id: ChargerStatus.in_use,
        granted.id: ChargerStatus.online,
    }


# --- prices and costs ----------------------------------------------------------------------------

T0 = NOW - timedelta(days=30)  # every tariff's first version
NEW_PRICE_FROM = NOW - timedelta(days=2)  # Commuter's version in force now
NEXT_PRICE_FROM = NOW + timedelta(days=7)  # and its next one, scheduled


def _version(s, tariff_id: str, valid_from: datetime, energy: str, dc: str) -> None:
    create_tariff_version(
        s,
        tariff_id=tariff_id,
        valid_from=valid_from,
        name=tariff_id.title(),
        energy_price_per_kwh=energy,
        dc_energy_price_per_kwh=dc,
        session_fee="0.50",
        time_price_per_hour="1.20",
        time_free_minutes="240",
        vat_percent="19",
    )


@pytest.fixture
def priced(db: Database) -> Database:
    """Default tariff ADHOC; tariff COMMUTER (three versions: 0.39, from two days ago 0.42,
    from next week 0.45 a kWh) on plan-commuter; plan-bare has none. Accounts a-commuter,
    a-bare and a-adhoc (no plan); chargers AC (22 kW) and DC (150 kW)."""
    with db.session() as s:
        make_operator(s)
        _version(s, "ADHOC", T0, "0.59", "0.69")
        _version(s, "COMMUTER", T0, "0.39", "0.52")
        _version(s, "COMMUTER", NEW_PRICE_FROM, "0.42", "0.55")
        _version(s, "COMMUTER", NEXT_PRICE_FROM, "0.45", "0.58")
        make_plan(s, plan_id="plan-commuter", name="Commuter 250")
        make_plan(s, plan_id="plan-bare", name="Bare")
        set_plan_tariff(s, "plan-commuter", "COMMUTER", actor=CLI, now=AT)
        set_default_tariff(s, "ADHOC", actor=CLI, now=AT)
        make_account(s, account_id="a-commuter", plan="plan-commuter")
        make_account(s, account_id="a-bare", plan="plan-bare")
        make_account(s, account_id="a-adhoc")
        make_charger(s, charger_id="AC", friendly_name="Kerb", max_power_kw="22")
        make_charger(s, charger_id="DC", friendly_name="Hub", max_power_kw="150")
    return db


def _tariff_at(db: Database, account_id: str, at: datetime) -> tuple[str | None, Any]:
    with db.session() as s:
        found = account_plan(s, account_id, at)
    tariff = found.tariff
    return (
        None if found.plan is None else found.plan.name,
        None if tariff is None else (tariff.tariff_id, tariff.energy_price_per_kwh),
    )


def test_the_plan_comes_with_the_tariff_version_in_force_now(priced: Database) -> None:
    """The plan's tariff, else the default; of it the version in force at ``now`` (one that
    starts exactly then is in force; a scheduled one is not yet); no tariff at all: none."""
    commuter = ("COMMUTER", Decimal("0.42"))
    assert _tariff_at(priced, "a-commuter", NOW) == ("Commuter 250", commuter)
    assert _tariff_at(priced, "a-commuter", NEW_PRICE_FROM) == ("Commuter 250", commuter)
    just_before = NEW_PRICE_FROM - timedelta(microseconds=1)
    assert _tariff_at(priced, "a-commuter", just_before)[1] == ("COMMUTER", Decimal("0.39"))
    assert _tariff_at(priced, "a-commuter", NEXT_PRICE_FROM)[1] == ("COMMUTER", Decimal("0.45"))
    assert _tariff_at(priced, "a-bare", NOW) == ("Bare", ("ADHOC", Decimal("0.59")))
    assert _tariff_at(priced, "a-adhoc", NOW) == (None, ("ADHOC", Decimal("0.59")))
    assert _tariff_at(priced, "a-commuter", T0 - HOUR) == ("Commuter 250", None)  # no version yet
    with priced.session() as s:
        tariff = account_plan(s, "a-commuter", NOW).tariff
        assert tariff is not None
        assert (tariff.name, tariff.currency, tariff.session_fee) == (
            "Commuter",
            "EUR",
            Decimal("0.50"),
        )
        assert (tariff.time_price_per_hour, tariff.time_free_minutes) == (Decimal("1.20"), 240)
        assert tariff.valid_from == NEW_PRICE_FROM
        set_default_tariff(s, None, actor=CLI, now=AT)
    assert _tariff_at(priced, "a-adhoc", NOW) == (None, None)
    assert _tariff_at(priced, "a-bare", NOW) == ("Bare", None)
    assert _tariff_at(priced, "a-commuter", NOW) == ("Commuter 250", commuter)


def test_recent_sessions_cost_what_is_stored_else_what_the_banner_says(priced: Database) -> None:
    """Finalized: the stored cost (the receipt's total), by the version in force when it
    started; disputed: none; not finalized yet: the cost so far, the banner's figure (the
    session in progress pays 1 h of time after its 4 free hours)."""
    with priced.session() as s:
        start = NOW - 5 * 24 * HOUR  # priced by Commuter's first version
        make_session(s, "a-commuter", "DC", session_id="fin", started_at=start,
                     ended_at=start + HOUR, energy_kwh="10")  # fmt: skip
        make_session(s, "a-commuter", "AC", session_id="disputed", started_at=start + 2 * HOUR,
                     ended_at=start + 3 * HOUR, energy_kwh="9")  # fmt: skip
        make_session(s, "a-commuter", "AC", session_id="ended", started_at=NOW - 7 * HOUR,
                     ended_at=NOW - 6 * HOUR, energy_kwh="4", finalized=False)  # fmt: skip
        make_session(s, "a-commuter", "AC", session_id="live", started_at=NOW - 5 * HOUR,
                     energy_kwh="20")  # fmt: skip
        make_session(s, "a-adhoc", "DC", session_id="not-mine", started_at=NOW - HOUR,
                     energy_kwh="33")  # fmt: skip
    with priced.session() as s:
        assert price_session(s, "fin") is not None
        assert price_session(s, "disputed") is not None  # then its energy is disputed
        row = s.get(ChargingSession, "disputed")
        assert row is not None
        row.energy_disputed_at = NOW - HOUR
    with priced.session() as s:
        rows = {r.session_id: r for r in recent_sessions(s, "a-commuter", NOW)}
        active = active_session(s, "a-commuter", NOW)
        live = live_cost(s, "live", NOW)
        stored = stored_cost(s.get(ChargingSession, "fin"))
        fin_receipt = receipt(s, "fin", "a-commuter")
    assert list(rows) == ["live", "ended", "disputed", "fin"]  # not another account's
    assert rows["fin"].cost == stored and stored is not None
    assert stored.total == Decimal("5.70")  # 10 x 0.52 (DC, first version) + 0.50
    assert fin_receipt is not None and fin_receipt.cost == stored
    assert rows["disputed"].cost is None and rows["disputed"].energy_disputed
    assert rows["ended"].cost is not None
    assert rows["ended"].cost.total == Decimal("2.18")  # 4 x 0.42 (AC, the new version) + 0.50
    # 20 x 0.42 + 1 h after 4 free hours x 1.20 + 0.50: the banner's figure, live_cost's.
    assert rows["live"].cost is not None and rows["live"].cost.total == Decimal("10.10")
    assert active is not None and active.session_id == "live"
    assert rows["live"].cost == active.cost == live
    # Later, more time so far: 90 minutes after the free hours.
    with priced.session() as s:
        later = NOW + 30 * timedelta(minutes=1)
        (live_row,) = [r for r in recent_sessions(s, "a-commuter", later) if r.ended_at is None]
        active_later = active_session(s, "a-commuter", later)
    assert live_row.cost is not None and live_row.cost.total == Decimal("10.70")
    assert active_later is not None and active_later.cost == live_row.cost


def test_no_tariff_no_cost_on_the_dashboard(priced: Database) -> None:
    with priced.session() as s:
        set_default_tariff(s, None, actor=CLI, now=AT)
        make_session(s, "a-adhoc", "AC", session_id="free", started_at=NOW - HOUR,
                     energy_kwh="7")  # fmt: skip
    with priced.session() as s:
        (row,) = recent_sessions(s, "a-adhoc", NOW)
        active = active_session(s, "a-adhoc", NOW)
    assert row.cost is None and not row.energy_disputed
    assert active is not None and active.cost is None


def test_the_dashboard_reads_costs_and_prices_in_the_statements_it_ran_before(
    priced: Database,
) -> None:
    """Costs and prices add no statement: the last sessions, the session in progress and the
    plan each come with theirs in one; ``live_cost`` is one statement too."""
    with priced.session() as s:
        make_session(s, "a-commuter", "AC", session_id="live", started_at=NOW - 5 * HOUR,
                     energy_kwh="20")  # fmt: skip
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with priced.session() as s:
        s.execute(select(1))  # the connection, before counting
        event.listen(priced.engine, "before_cursor_execute", count)
        try:
            asked = {
                "recent": recent_sessions(s, "a-commuter", NOW),
                "active": active_session(s, "a-commuter", NOW),
                "plan": account_plan(s, "a-commuter", NOW),
                "live_cost": live_cost(s, "live", NOW),
            }
        finally:
            event.remove(priced.engine, "before_cursor_execute", count)
    assert len(statements) == len(asked), statements
    assert all(asked.values())
