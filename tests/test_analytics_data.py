"""The analytics aggregates (data/charging/analytics.py) at their edges, on SQLite and PostgreSQL.

Times are pinned; the operator is in Europe/Berlin, whose 2026 DST days are Sunday 29 March
(23 hours: 02:00 CET jumps to 03:00 CEST at 01:00 UTC) and Sunday 25 October (25 hours: 03:00
CEST falls back to 02:00 CET at 01:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from data.charging.analytics import (
    CHARTS,
    CUSTOM,
    MAX_RANGE_DAYS,
    TOP_CHARGERS,
    AnalyticsRange,
    RangeError,
    chart_table,
    custom_range,
    energy_by_connector,
    energy_per_day,
    energy_per_month,
    offset_runs,
    parse_range,
    range_label,
    read_range,
    sessions_by_hour_of_week,
    top_chargers_by_utilisation,
    total_energy,
)
from data.charging.dashboard import account_usage, operator_settings
from data.core.db import Database
from data.core.models import ConnectorType
from data.core.periods import Period, period_bounds
from tests.support.factories import make_account, make_charger, make_operator, make_session

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
MONDAY, SATURDAY, SUNDAY = 0, 5, 6


def berlin(*args: int) -> datetime:
    """A Berlin wall-clock time (not an ambiguous one) as an aware UTC instant."""
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def days_range(first: date, last: date, tz: ZoneInfo = BERLIN) -> Period:
    return AnalyticsRange(CUSTOM, first, last).bounds(NOW, tz)


def kwh(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.001"))


# --- the range the operator picks (no database) ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, AnalyticsRange("current")),
        ({"period": "previous"}, AnalyticsRange("previous")),
        ({"period": "year"}, AnalyticsRange("year")),
        (
            {"from": "2026-03-29", "to": "2026-03-29"},
            AnalyticsRange(CUSTOM, date(2026, 3, 29), date(2026, 3, 29)),
        ),
        (
            {"from": "2026-03-01", "to": "2026-10-31", "period": "year"},
            AnalyticsRange(CUSTOM, date(2026, 3, 1), date(2026, 10, 31)),
        ),
    ],
)
def test_valid_ranges(query: dict[str, object], expected: AnalyticsRange) -> None:
    assert parse_range(query) == expected
    assert read_range(query) == (expected, None)
    assert parse_range(expected.query()) == expected  # links round-trip


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"period": "decade"}, "“decade” is not a period we know."),
        ({"period": ["year", "current"]}, "Give one period, not several."),
        ({"from": "2026-03-01"}, "The range needs a last day."),
        ({"to": "2026-03-01"}, "The range needs a first day."),
        ({"from": "", "to": ""}, "Pick the first and the last day of the range."),
        ({"from": "1/3/2026", "to": "2026-03-02"}, "The first date “1/3/2026” is not a date"),
        ({"from": "2026-02-30", "to": "2026-03-02"}, "The first date 2026-02-30 does not exist."),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "ends before it starts."),
        ({"from": "1999-12-31", "to": "2000-01-05"}, "must lie between 2000 and 2099."),
        ({"from": "2025-01-01", "to": "2026-01-02"}, f"at most {MAX_RANGE_DAYS} days"),
        ({"from": ["2026-03-01", "2026-03-02"], "to": "2026-03-05"}, "not several"),
        ({"from": "2026-03-01T00:00", "to": "2026-03-05"}, "is not a date like 2026-03-29"),
    ],
)
def test_ranges_that_cannot_be_shown_say_why(query: dict[str, object], message: str) -> None:
    with pytest.raises(RangeError, match=None) as caught:
        parse_range(query)
    assert message in str(caught.value)
    choice, note = read_range(query)
    assert choice == AnalyticsRange("current")
    assert note is not None and message in note and note.endswith("Showing this month.")


def test_a_year_of_days_is_allowed_but_not_one_more() -> None:
    assert custom_range("2024-01-01", "2024-12-31").last_day == date(2024, 12, 31)  # 366 days
    with pytest.raises(RangeError):
        custom_range("2024-01-01", "2025-01-01")


def test_custom_range_bounds_are_local_midnights_with_dst_lengths() -> None:
    spring = days_range(date(2026, 3, 29), date(2026, 3, 29))
    assert (spring.start_utc, spring.end_utc) == (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    autumn = days_range(date(2026, 10, 25), date(2026, 10, 25))
    assert autumn.end_utc - autumn.start_utc == timedelta(hours=25)
    assert range_label(spring) == "29 Mar 2026"
    assert range_label(days_range(date(2026, 3, 1), date(2026, 4, 5))) == (
        "1 Mar 2026 – 5 Apr 2026"
    )
    assert range_label(period_bounds("current", NOW, BERLIN)) == "November 2026"


def test_offset_runs_cut_exactly_at_the_transitions() -> None:
    year = days_range(date(2026, 1, 1), date(2026, 12, 31))
    assert offset_runs(year) == [
        (utc(2025, 12, 31, 23), utc(2026, 3, 29, 1), 3600),
        (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), 7200),
        (utc(2026, 10, 25, 1), utc(2026, 12, 31, 23), 3600),
    ]
    # A half-hour change at 02:00 local (Lord Howe Island) is found to the second as well.
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    runs = offset_runs(days_range(date(2026, 4, 1), date(2026, 4, 30), lord_howe))
    assert [offset for _s, _e, offset in runs] == [39600, 37800]
    change = runs[1][0]
    second = timedelta(seconds=1)
    assert (change - second).astimezone(lord_howe).utcoffset() == timedelta(hours=11)
    assert change.astimezone(lord_howe).utcoffset() == timedelta(hours=10, minutes=30)
    assert offset_runs(days_range(date(2026, 3, 1), date(2026, 3, 31), ZoneInfo("UTC"))) == [
        (utc(2026, 3, 1), utc(2026, 4, 1), 0)
    ]


# --- energy per local day ----------------------------------------------------------------------


def _fleet(s):
    make_operator(s, timezone="Europe/Berlin")
    return make_account(s), make_charger(s)


def test_energy_per_day_at_local_day_edges_and_dst_days(db: Database) -> None:
    with db.session() as s:
        account, charger = _fleet(s)
        at = {
            # Just outside the range: not counted anywhere.
            berlin(2026, 3, 27, 23, 59, 59, 999999): "100",
            berlin(2026, 3, 31, 0, 0): "200",
            # Spring: the 23-hour day.
            berlin(2026, 3, 28, 23, 59, 59, 999999): "1.001",
            berlin(2026, 3, 29, 0, 0): "2.002",  # 23:00 UTC on the 28th
            utc(2026, 3, 29, 0, 59, 59): "4.004",  # 01:59:59 CET
            utc(2026, 3, 29, 1, 0): "8.008",  # 03:00 CEST
            berlin(2026, 3, 29, 23, 59, 59, 999999): "16.016",  # 21:59:59.999999 UTC
            berlin(2026, 3, 30, 0, 0): "32.032",  # 22:00 UTC on the 29th
        }
        for started, energy in at.items():
            make_session(s, account, charger, started_at=started, energy_kwh=energy)
        # In progress: counts with its energy so far, on the day it started.
        make_session(s, account, charger, started_at=berlin(2026, 3, 30, 12, 0), energy_kwh="0.5")
    period = days_range(date(2026, 3, 28), date(2026, 3, 30))
    with db.session() as s:
        days = energy_per_day(s, period)
    assert [(d.day, d.sessions, d.energy_kwh) for d in days] == [
        (date(2026, 3, 28), 1, kwh("1.001")),
        (date(2026, 3, 29), 4, kwh("30.030")),
        (date(2026, 3, 30), 2, kwh("32.532")),
    ]


def test_energy_per_day_on_the_25_hour_day(db: Database) -> None:
    with db.session() as s:
        account, charger = _fleet(s)
        for started, energy in {
            berlin(2026, 10, 24, 23, 59, 59): "1",
            berlin(2026, 10, 25, 0, 0): "2",  # 22:00 UTC on the 24th
            utc(2026, 10, 25, 0, 30): "4",  # 02:30 CEST
            utc(2026, 10, 25, 1, 30): "8",  # 02:30 CET, an hour later
            berlin(2026, 10, 25, 23, 59, 59, 999999): "16",  # 22:59:59.999999 UTC
            berlin(2026, 10, 26, 0, 0): "32",  # 23:00 UTC on the 25th
        }.items():
            make_session(s, account, charger, started_at=started, energy_kwh=energy)
    with db.session() as s:
        days = energy_per_day(s, days_range(date(2026, 10, 24), date(2026, 10, 26)))
    assert [(d.sessions, d.energy_kwh) for d in days] == [
        (1, kwh("1")),
        (4, kwh("30")),
        (1, kwh("32")),
    ]


def test_empty_period_has_every_day_and_only_zeros(db: Database) -> None:
    with db.session() as s:
        account, charger = _fleet(s)
        make_charger(s, connector_type=ConnectorType.type2)
        # Sessions in other months only.
        for started in (berlin(2026, 10, 31, 23, 29), berlin(2026, 12, 1, 0, 0)):
            ended = started + timedelta(minutes=30)
            make_session(s, account, charger, started_at=started, ended_at=ended, energy_kwh="5")
    with db.session() as s:
        tz = operator_settings(s).tz
        period = AnalyticsRange("current").bounds(NOW, tz)
        days = energy_per_day(s, period)
        grid = sessions_by_hour_of_week(s, period)
        connectors = energy_by_connector(s, period)
        tables = {chart: chart_table(s, chart, period, NOW, "EUR") for chart in CHARTS}
        # Before the period's first instant, no hour of it has happened: nothing is "in use".
        before = top_chargers_by_utilisation(s, period, period.start_utc - HOUR)
    assert [d.day for d in days] == [date(2026, 11, n) for n in range(1, 31)]
    assert all(d.sessions == 0 and d.energy_kwh == 0 for d in days)
    assert [(m.month, m.days, m.sessions, m.energy_kwh) for m in energy_per_month(days)] == [
        (date(2026, 11, 1), 30, 0, kwh("0"))
    ]
    assert len(grid) == 7 and all(row == [0] * 24 for row in grid)
    assert [c.connector_type for c in connectors] == [t.value for t in ConnectorType]
    assert all(c.sessions == 0 and c.energy_kwh == 0 and c.share == 0 for c in connectors)
    assert before == []
    assert len(tables["energy-daily"].rows) == 30
    assert len(tables["hour-of-week"].rows) == 7 * 24
    assert tables["utilisation"].rows == []
    assert [r[2] for r in tables["connectors"].rows] == [kwh("0")] * 5


# --- hour of week ------------------------------------------------------------------------------


def test_hour_of_week_follows_local_time_across_both_dst_days(db: Database) -> None:
    with db.session() as s:
        account, charger = _fleet(s)
        for started in (
            utc(2026, 3, 28, 22, 59, 59),  # Sat 23:59:59 CET
            utc(2026, 3, 28, 23, 0),  # Sun 00:00 CET
            utc(2026, 3, 29, 0, 59, 59),  # Sun 01:59:59 CET
            utc(2026, 3, 29, 1, 0),  # Sun 03:00 CEST: 02:00 does not exist that day
            utc(2026, 3, 30, 5, 15),  # Mon 07:15 CEST
            utc(2026, 10, 25, 0, 30),  # Sun 02:30 CEST
            utc(2026, 10, 25, 1, 30),  # Sun 02:30 CET: the same local hour, twice
            utc(2026, 10, 25, 2, 0),  # Sun 03:00 CET
            utc(2026, 10, 26, 6, 59, 59),  # Mon 07:59:59 CET
        ):
            make_session(s, account, charger, started_at=started, energy_kwh="1")
    # One period across both changes: the SQL holds three runs of offsets.
    period = days_range(date(2026, 3, 1), date(2026, 10, 31))
    with db.session() as s:
        grid = sessions_by_hour_of_week(s, period)
    found = {(w, h): n for w, row in enumerate(grid) for h, n in enumerate(row) if n}
    assert found == {
        (SATURDAY, 23): 1,
        (SUNDAY, 0): 1,
        (SUNDAY, 1): 1,
        (SUNDAY, 2): 2,
        (SUNDAY, 3): 2,
        (MONDAY, 7): 2,
    }


# --- everything adds up ------------------------------------------------------------------------


def test_totals_agree_across_charts_and_with_every_accounts_usage(db: Database) -> None:
    kinds = list(ConnectorType)
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        accounts = [make_account(s) for _ in range(3)]
        chargers = [make_charger(s, connector_type=kinds[i % 4]) for i in range(6)]  # no Type 2
        start = berlin(2026, 10, 31, 22, 0)  # from the day before the period
        for i in range(90):
            started = start + timedelta(hours=7 * i, minutes=13 * i)
            finished = started + timedelta(minutes=95) if i % 11 else None  # some in progress
            make_session(
                s,
                accounts[i % 3],
                chargers[i % 6],
                started_at=started,
                ended_at=finished,
                energy_kwh=f"{(i * 7.317) % 60:.3f}",
            )
    with db.session() as s:
        period = AnalyticsRange("current").bounds(NOW, operator_settings(s).tz)
        days = energy_per_day(s, period)
        grid = sessions_by_hour_of_week(s, period)
        connectors = energy_by_connector(s, period)
        per_account = [account_usage(s, a.id, period).days for a in accounts]
    in_period = [d for d in days if d.sessions]
    assert in_period, "the scenario must put sessions into the period"
    # Day by day, the fleet is the sum of its accounts (the dashboard's own query).
    for i, day in enumerate(days):
        accounts_sum = sum(Decimal(str(frame["energy_kwh"][i])) for frame in per_account)
        assert day.energy_kwh == accounts_sum.quantize(Decimal("0.001")), day.day
    total = total_energy(days)
    assert total == total_energy(energy_per_month(days))
    assert total == sum(c.energy_kwh for c in connectors)
    assert sum(c.share for c in connectors) == pytest.approx(1.0)
    assert connectors[kinds.index(ConnectorType.type2)].energy_kwh == 0
    sessions = sum(d.sessions for d in days)
    assert sessions == sum(map(sum, grid)) == sum(c.sessions for c in connectors)


def test_connector_shares_are_of_the_total(db: Database) -> None:
    with db.session() as s:
        account, _ = _fleet(s)
        ccs = make_charger(s, connector_type=ConnectorType.ccs)
        type2 = make_charger(s, connector_type=ConnectorType.type2)
        day = berlin(2026, 11, 3, 12, 0)
        make_session(s, account, ccs, started_at=day, ended_at=day + HOUR, energy_kwh="30.5")
        make_session(s, account, ccs, started_at=day + 2 * HOUR, energy_kwh="10")  # in progress
        make_session(s, account, type2, started_at=day, ended_at=day + HOUR, energy_kwh="9.5")
    with db.session() as s:
        rows = {c.connector_type: c for c in energy_by_connector(s, period_named("current"))}
    assert (rows["CCS"].sessions, rows["CCS"].energy_kwh) == (2, kwh("40.5"))
    assert rows["CCS"].share == pytest.approx(0.81)
    assert rows["Type 2"].share == pytest.approx(0.19)
    assert rows["NACS"].share == 0


def period_named(name: str) -> Period:
    return period_bounds(name, NOW, BERLIN)


# --- utilisation -------------------------------------------------------------------------------


def test_utilisation_is_clipped_to_the_period_and_to_now(db: Database) -> None:
    period = period_named("current")  # 1 Nov 00:00 CET (31 Oct 23:00 UTC) .. now
    elapsed = (NOW - period.start_utc) / HOUR
    assert elapsed == 562.5
    with db.session() as s:
        account, _ = _fleet(s)
        names = "ABCDEFG"
        c = {n: make_charger(s, charger_id=f"ch-{n}", friendly_name=f"Bay {n}") for n in names}
        # A: 2 h inside (began before the period), plus 3 h of a session in progress.
        make_session(
            s,
            account,
            c["A"],
            started_at=utc(2026, 10, 31, 20),
            ended_at=utc(2026, 11, 1, 1),
        )
        make_session(s, account, c["A"], started_at=NOW - 3 * HOUR)
        # B: 10 h inside; its October session is outside the period.
        make_session(
            s, account, c["B"], started_at=utc(2026, 11, 10), ended_at=utc(2026, 11, 10, 10)
        )
        make_session(s, account, c["B"], started_at=utc(2026, 10, 10), ended_at=utc(2026, 10, 11))
        # C: in progress for 60 days: the whole period so far.
        make_session(s, account, c["C"], started_at=NOW - timedelta(days=60))
        # D: two overlapping sessions over the whole period: capped at 100%.
        for _ in range(2):
            make_session(s, account, c["D"], started_at=utc(2026, 10, 20))
        # E: began 10 days before the period, ended 2 h into it.
        make_session(
            s, account, c["E"], started_at=utc(2026, 10, 21, 23), ended_at=utc(2026, 11, 1, 1)
        )
        # F: only before the period; G: never used. Neither is listed.
        make_session(
            s, account, c["F"], started_at=utc(2026, 10, 30), ended_at=utc(2026, 10, 31, 22)
        )
        # A session that starts after "now" (clock skew) adds nothing.
        make_session(s, account, c["G"], started_at=NOW + HOUR, ended_at=NOW + 2 * HOUR)
    with db.session() as s:
        top = top_chargers_by_utilisation(s, period, NOW)
    got = {r.friendly_name: (r.hours_in_use, r.hours_in_period, r.share) for r in top}
    assert got == {
        "Bay D": (562.5, 562.5, 1.0),
        "Bay C": (562.5, 562.5, 1.0),
        "Bay B": (10.0, 562.5, pytest.approx(10 / 562.5)),
        "Bay A": (5.0, 562.5, pytest.approx(5 / 562.5)),
        "Bay E": (2.0, 562.5, pytest.approx(2 / 562.5)),
    }
    assert [r.friendly_name for r in top][2:] == ["Bay B", "Bay A", "Bay E"]
    assert top[0].connector_type == "CCS" and top[0].charger_id in ("ch-C", "ch-D")


def test_utilisation_of_a_past_month_counts_its_dst_hours(db: Database) -> None:
    period = period_named("previous")  # October 2026: 31 days, one of them 25 hours long
    with db.session() as s:
        account, charger = _fleet(s)
        make_session(
            s, account, charger, started_at=utc(2026, 10, 31, 12), ended_at=utc(2026, 11, 2)
        )
    with db.session() as s:
        (row,) = top_chargers_by_utilisation(s, period, NOW)
    assert row.hours_in_period == 31 * 24 + 1
    assert row.hours_in_use == 11.0  # 12:00 UTC to the local month's end at 23:00 UTC
    assert row.share == pytest.approx(11 / 745)


def test_top_chargers_are_the_ten_busiest_by_share_then_name(db: Database) -> None:
    with db.session() as s:
        account, _ = _fleet(s)
        for i in range(TOP_CHARGERS + 2):
            charger = make_charger(s, friendly_name=f"Hub {i:02d}")
            start = utc(2026, 11, 2, 6)
            make_session(
                s, account, charger, started_at=start, ended_at=start + (1 + i // 2) * HOUR
            )
    with db.session() as s:
        top = top_chargers_by_utilisation(s, period_named("current"), NOW)
    assert [r.friendly_name for r in top] == [
        "Hub 10", "Hub 11", "Hub 08", "Hub 09", "Hub 06",
        "Hub 07", "Hub 04", "Hub 05", "Hub 02", "Hub 03",
    ]  # fmt: skip
    assert [r.hours_in_use for r in top[:3]] == [6.0, 6.0, 5.0]


# --- the CSV tables ----------------------------------------------------------------------------


def test_chart_tables_carry_the_chart_figures(db: Database) -> None:
    with db.session() as s:
        account, charger = _fleet(s)
        make_session(
            s,
            account,
            charger,
            started_at=berlin(2026, 11, 2, 8, 30),  # a Monday
            ended_at=berlin(2026, 11, 2, 10, 30),
            energy_kwh="12.345",
        )
    period = period_named("current")
    with db.session() as s:
        tables = {chart: chart_table(s, chart, period, NOW, "EUR") for chart in CHARTS}
        with pytest.raises(ValueError, match="unknown chart"):
            chart_table(s, "sessions", period, NOW, "EUR")
    assert tables["energy-daily"].header == ("day", "sessions", "energy_kwh")
    assert tables["energy-daily"].rows[1] == ("2026-11-02", 1, kwh("12.345"))
    assert tables["energy-monthly"].rows == [("2026-11", 30, 1, kwh("12.345"))]
    assert ("Monday", 8, 1) in tables["hour-of-week"].rows
    assert tables["utilisation"].rows == [
        (1, charger.id, charger.friendly_name, "CCS", Decimal("2.00"), Decimal("562.50"),
         Decimal("0.36")),
    ]  # fmt: skip
    assert tables["connectors"].rows[0] == ("CCS", 1, kwh("12.345"), Decimal("100.00"))
