"""The queries of /admin/uptime: the fleet's standing (``data.uptime.standings``) checked against
``monthly_uptime``, and the outage list and edit (``data.uptime.outage_log``); SQLite and
PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from data.core.db import Database
from data.uptime.monthly import monthly_uptime
from data.uptime.outage_log import (
    OutageEditError,
    OutageFilter,
    OutageState,
    edit_outage,
    list_outages,
)
from data.uptime.outages import Outage, OutageCause
from data.uptime.standings import (
    fleet_headline,
    fleet_standings_block,
    fleet_uptime,
    last_full_month,
)
from tests.support.audit import CLI
from tests.support.factories import make_charger, make_outage

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def fleet(db: Database) -> Database:
    with db.session() as s:
        good = make_charger(s, charger_id="CP-GOOD", friendly_name="Good")
        bad = make_charger(s, charger_id="CP-BAD", friendly_name="Bad")
        worse = make_charger(s, charger_id="CP-WORSE", friendly_name="Worse")
        make_charger(s, charger_id="CP-CLEAN", friendly_name="Clean")
        # Good: one hour in November. Bad: 12 days in March (below 97% over twelve months).
        make_outage(s, good, started_at=utc(2026, 11, 3, 10), ended_at=utc(2026, 11, 3, 11),
                    outage_id="o-good")  # fmt: skip
        make_outage(s, bad, started_at=utc(2026, 3, 1), ended_at=utc(2026, 3, 13),
                    cause=OutageCause.utility, outage_id="o-bad")  # fmt: skip
        # Worse: 20 days in June, and 3 excluded days in November (do not count), still open
        # a second one in December (after the last full month: not in these figures).
        make_outage(s, worse, started_at=utc(2026, 6, 1), ended_at=utc(2026, 6, 21),
                    outage_id="o-worse")  # fmt: skip
        storm = OutageCause.natural_disaster
        make_outage(s, worse, started_at=utc(2026, 11, 10), ended_at=utc(2026, 11, 13),
                    excluded=True, cause=storm, outage_id="o-storm")  # fmt: skip
        make_outage(s, worse, started_at=utc(2026, 12, 4), outage_id="o-open")
    return db


def test_last_full_month_is_local() -> None:
    assert last_full_month(NOW, BERLIN) == date(2026, 11, 1)
    # 1 January 00:30 in Berlin is still 31 December in UTC: the month before is December.
    assert last_full_month(utc(2026, 12, 31, 23, 30), BERLIN) == date(2026, 12, 1)


def test_standings_agree_with_the_monthly_figures(fleet: Database) -> None:
    with fleet.session() as s:
        result = fleet_uptime(s, BERLIN, NOW)
        months = monthly_uptime(s, BERLIN, date(2025, 12, 1), date(2026, 11, 1), NOW)
    assert result.month == date(2026, 11, 1)
    # Below 97% first, lowest first; then the others, lowest first, then by id.
    assert [c.charger_id for c in result.chargers] == ["CP-WORSE", "CP-BAD", "CP-GOOD", "CP-CLEAN"]
    assert result.below_target == 2
    for standing in result.chargers:
        mine = [m for m in months if m.charger_id == standing.charger_id]
        november = mine[-1]
        assert standing.month_percent == november.uptime_percent
        assert standing.twelve_month_percent == november.uptime_12m_percent
        assert standing.window_minutes == sum(m.minutes for m in mine)
        counted = sum(m.outage_minutes - m.excluded_minutes for m in mine)
        assert standing.counted_outage_minutes == counted
        budget = standing.window_minutes * Decimal("0.03") - counted
        assert standing.can_still_lose_minutes == max(Decimal(0), budget)
    good = result.chargers[2]
    assert good.counted_outage_minutes == 60 and good.month_percent < 100
    assert result.chargers[3].twelve_month_percent == 100
    # The excluded storm does not count; the open December outage is after the window.
    worse = result.chargers[0]
    assert worse.counted_outage_minutes == 20 * 24 * 60 and worse.month_percent == 100
    assert worse.can_still_lose_minutes == 0 and result.chargers[1].can_still_lose_minutes == 0
    # The fleet: all chargers' minutes together.
    window = sum(c.window_minutes for c in result.chargers)
    lost = sum(c.counted_outage_minutes for c in result.chargers)
    assert result.twelve_month_percent == ((window - lost) * 100 / window).quantize(
        Decimal("0.001")
    )
    month_minutes = 4 * 30 * 24 * 60
    assert result.month_percent == ((Decimal(month_minutes) - 60) * 100 / month_minutes).quantize(
        Decimal("0.001")
    )


def test_a_block_of_the_standings_is_the_same_slice_cut_by_the_database(fleet: Database) -> None:
    with fleet.session() as s:
        every = fleet_uptime(s, BERLIN, NOW).chargers
        for start, end in ((0, 100), (0, 2), (1, 3), (3, 4)):
            assert fleet_standings_block(s, BERLIN, NOW, start, end) == (every[start:end], 4)
        # Past the end: no rows, still the count (the grid's last block).
        assert fleet_standings_block(s, BERLIN, NOW, 10, 110) == ([], 4)


def test_the_headline_is_the_standings_summed_from_one_row(fleet: Database) -> None:
    with fleet.session() as s:
        every = fleet_uptime(s, BERLIN, NOW)
        headline = fleet_headline(s, BERLIN, NOW)
    assert headline == every.headline
    assert (headline.chargers, headline.below_target, headline.lowest_charger_id) == (
        4,
        2,
        "CP-WORSE",
    )
    assert headline.twelve_month_percent is not None and headline.month_percent is not None


def test_an_empty_fleet_has_no_figures(db: Database) -> None:
    with db.session() as s:
        assert fleet_standings_block(s, BERLIN, NOW, 0, 100) == ([], 0)
        result = fleet_uptime(s, BERLIN, NOW)
        headline = fleet_headline(s, BERLIN, NOW)
    assert result.chargers == [] and result.month_percent is None
    assert result.twelve_month_percent is None
    assert headline == result.headline
    assert (headline.chargers, headline.lowest_charger_id) == (0, None)


def test_outage_list_filters(fleet: Database) -> None:
    def ids(flt: OutageFilter) -> list[str]:
        with fleet.session() as s:
            return [r.outage_id for r in list_outages(s, flt, BERLIN)]

    assert ids(OutageFilter()) == ["o-open", "o-storm", "o-good", "o-worse", "o-bad"]
    assert ids(OutageFilter(charger_id="CP-WORSE")) == ["o-open", "o-storm", "o-worse"]
    assert ids(OutageFilter(cause=OutageCause.utility)) == ["o-bad"]
    assert ids(OutageFilter(state=OutageState.open)) == ["o-open"]
    assert "o-open" not in ids(OutageFilter(state=OutageState.closed))
    # Local days: o-good started 3 Nov 11:00 Berlin; o-storm 10 Nov 01:00 Berlin.
    assert ids(OutageFilter(first_day=date(2026, 11, 3), last_day=date(2026, 11, 10))) == [
        "o-storm",
        "o-good",
    ]
    assert ids(OutageFilter(first_day=date(2026, 11, 4), last_day=date(2026, 11, 9))) == []
    with fleet.session() as s:
        (row,) = list_outages(s, OutageFilter(state=OutageState.open), BERLIN)
    assert row.friendly_name == "Worse" and row.ended_at is None
    assert row.duration(NOW) == NOW - utc(2026, 12, 4)
    with fleet.session() as s:
        assert len(list_outages(s, OutageFilter(), BERLIN, limit=2)) == 2


def test_edit_outage_sets_cause_exclusion_and_note(fleet: Database) -> None:
    with fleet.session() as s:
        edit_outage(s, "o-bad", "maintenance", True, "  planned swap  ", actor=CLI, now=NOW)
    with fleet.session() as s:
        outage = s.get(Outage, "o-bad")
        assert outage is not None
        assert (outage.cause, outage.excluded, outage.note) == (
            OutageCause.maintenance,
            True,
            "planned swap",
        )
        edit_outage(s, "o-bad", "utility", False, "", actor=CLI, now=NOW)
        assert outage.note is None and outage.excluded is False
        # Excluded now: the twelve months no longer count it, so Bad is above 97%.
        edit_outage(s, "o-bad", "utility", True, None, actor=CLI, now=NOW)
        standings = fleet_uptime(s, BERLIN, NOW)
    assert [c.charger_id for c in standings.chargers if c.below_target] == ["CP-WORSE"]


@pytest.mark.parametrize(
    ("outage_id", "cause", "excluded", "note", "message"),
    [
        ("o-nope", "utility", False, "", "no such outage"),
        (None, "utility", False, "", "no such outage"),
        ("o-bad", "aliens", False, "", "Unknown cause 'aliens'"),
        ("o-bad", None, False, "", "Unknown cause"),
        ("o-bad", "utility", "yes", "", "Excluded is yes or no"),
        ("o-bad", "utility", False, ["x"], "The note is text"),
        ("o-bad", "utility", False, "x" * 2001, "at most 2000"),
    ],
)
def test_edit_outage_refuses(
    fleet: Database, outage_id: object, cause: object, excluded: object, note: object, message: str
) -> None:
    with fleet.session() as s:
        with pytest.raises(OutageEditError, match=message):
            edit_outage(s, outage_id, cause, excluded, note, actor=CLI, now=NOW)
        outage = s.get(Outage, "o-bad")
        assert outage is not None and outage.cause is OutageCause.utility


def test_an_ongoing_outage_shows_up_to_now(fleet: Database) -> None:
    with fleet.session() as s:
        (row,) = list_outages(s, OutageFilter(state=OutageState.open), BERLIN)
    assert row.duration(NOW + timedelta(hours=1)) == timedelta(days=1, hours=16)
