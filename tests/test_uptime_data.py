"""Uptime per charger and month (``data.uptime.monthly``) against an independent computation of
the spec's formula, and the outage log's rules; SQLite and PostgreSQL (the ``db`` fixture).

The reference (``reference_uptime``) cuts time at every outage edge, month start and ``now`` into
elementary spans, asks of each span whether any outage, and any counted (not excluded) outage,
covers it (a pandas/numpy broadcast), and sums the spans per month: exact to the microsecond,
with no running maximum and no SQL. Minutes and percentages are then rounded half up from exact
fractions, as the spec's figures are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.exc import IntegrityError

from data.core.db import Database
from data.pricing.statements import month_period, shift_month
from data.uptime.monthly import MAX_MONTHS, UptimeMonth, monthly_uptime, uptime_statement
from data.uptime.outages import OutageKind
from tests.support.factories import make_charger, make_outage

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 5, 15, 0, 30, 123456, tzinfo=UTC)
FIRST, LAST = date(2026, 1, 1), date(2027, 2, 1)  # ends with two months not begun


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True)
class Span:
    charger_id: str
    started_at: datetime
    ended_at: datetime | None
    excluded: bool


# --- The reference -------------------------------------------------------------------------------


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _round3(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.001"), rounding=ROUND_HALF_UP
    )


def _percent(total: int, counted: int) -> Decimal:
    return _round3(Fraction(100 * (total - counted), total))


def reference_uptime(
    spans: list[Span], chargers: list[str], first: date, last: date, tz: ZoneInfo, now: datetime
) -> list[UptimeMonth]:
    """The spec's formula, computed by elementary spans (see the module docstring)."""
    months: list[date] = []
    day = shift_month(first, -11)
    assert day is not None
    while day <= last:
        months.append(day)
        day = shift_month(day, 1)  # type: ignore[assignment]
    starts = np.array([_micros(month_period(m, tz).start_utc) for m in months], dtype=np.int64)
    ends = np.array([_micros(month_period(m, tz).end_utc) for m in months], dtype=np.int64)
    now_us = _micros(now)
    lengths = np.clip(np.minimum(ends, now_us) - starts, 0, None)
    frame = pd.DataFrame(
        {
            "charger_id": [s.charger_id for s in spans],
            "start": [_micros(s.started_at) for s in spans],
            "end": [now_us if s.ended_at is None else _micros(s.ended_at) for s in spans],
            "excluded": [s.excluded for s in spans],
        }
    )
    rows = []
    for charger in chargers:
        mine = frame[frame.charger_id == charger]
        cuts = np.unique(np.concatenate([mine.start, mine.end, starts, ends, [now_us]]))
        cuts = cuts[(cuts >= starts[0]) & (cuts <= min(ends[-1], now_us))]
        left, right = cuts[:-1], cuts[1:]
        s, e = mine.start.to_numpy()[:, None], mine.end.to_numpy()[:, None]
        covers = (s <= left) & (left < e)  # outages x spans
        counted = ~mine.excluded.to_numpy()[:, None]
        spans_frame = pd.DataFrame(
            {
                "month": np.searchsorted(starts, left, side="right") - 1,
                "length": right - left,
                "any": covers.any(axis=0),
                "counted": (covers & counted).any(axis=0),
            }
        )
        spans_frame["outage_us"] = spans_frame.length * spans_frame["any"]
        spans_frame["counted_us"] = spans_frame.length * spans_frame["counted"]
        per_month = (
            spans_frame.groupby("month")[["outage_us", "counted_us"]]
            .sum()
            .reindex(range(len(months)), fill_value=0)
        )
        for i, month in enumerate(months):
            if month < first:
                continue
            window = slice(max(0, i - 11), i + 1)
            total, total_12 = int(lengths[i]), int(lengths[window].sum())
            outage = int(per_month.outage_us.iloc[i])
            count = int(per_month.counted_us.iloc[i])
            count_12 = int(per_month.counted_us.iloc[window].sum())
            rows.append(
                UptimeMonth(
                    charger_id=charger,
                    month=month,
                    minutes=_round3(Fraction(total, 60_000_000)),
                    outage_minutes=_round3(Fraction(outage, 60_000_000)),
                    excluded_minutes=_round3(Fraction(outage - count, 60_000_000)),
                    uptime_percent=_percent(total, count) if total else None,
                    uptime_12m_percent=_percent(total_12, count_12) if total else None,
                )
            )
    return rows


# --- The outage logs -----------------------------------------------------------------------------

# Hand-made: the DST changes, an excluded outage overlapping a counted one (both ways), a long
# outage over three months, one going on, one past now and one after now.
EDGE_SPANS = [
    # Europe/Berlin: 2026-03-29 01:00 UTC clocks jump to 03:00; 2026-10-25 01:00 UTC back to 02:00.
    Span("c-dst", utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 2, 30), False),
    Span("c-dst", utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 2, 0), True),
    Span("c-dst", utc(2026, 3, 31, 21, 0), utc(2026, 3, 31, 23, 0), False),  # over April's start
    Span("c-excluded", utc(2026, 5, 10, 10), utc(2026, 5, 10, 12), False),
    Span("c-excluded", utc(2026, 5, 10, 11), utc(2026, 5, 10, 13), True),
    Span("c-excluded", utc(2026, 5, 11, 9), utc(2026, 5, 11, 17), True),
    Span("c-excluded", utc(2026, 5, 11, 10), utc(2026, 5, 11, 11), False),
    Span("c-excluded", utc(2026, 5, 11, 10), utc(2026, 5, 11, 11), False),  # the same twice
    Span("c-excluded", utc(2026, 5, 12, 8), utc(2026, 5, 12, 8), False),  # nothing at all
    Span("c-long", utc(2026, 2, 15, 6), utc(2026, 4, 15, 6), False),
    Span("c-long", utc(2026, 3, 1, 0), utc(2026, 3, 2, 0), True),  # inside the long one
    Span("c-long", utc(2026, 11, 30, 12), None, False),  # still going on
    Span("c-late", utc(2026, 12, 5, 14), utc(2026, 12, 6, 0), False),  # ends after now
    Span("c-late", utc(2026, 12, 6, 0), None, True),  # starts after now
    Span("c-late", utc(2025, 1, 1), utc(2025, 1, 2), False),  # before the twelve months
    Span("c-late", utc(2025, 12, 20), utc(2026, 1, 10), True),  # from before them into them
]


def random_spans(rng: random.Random, charger: str, count: int) -> list[Span]:
    """Outages from 2025 into 2027: mostly minutes, some hours, a few days to weeks; a quarter
    excluded; one still going on (started in the last weeks, or after now); microseconds
    everywhere."""
    spans = []
    low, high = _micros(utc(2025, 1, 1)), _micros(utc(2027, 1, 15))
    for _ in range(count):
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(low, high))
        kind = rng.random()
        if kind < 0.7:
            seconds = rng.uniform(1, 3600)
        elif kind < 0.95:
            seconds = rng.uniform(3600, 2 * 86400)
        else:
            seconds = rng.uniform(2 * 86400, 40 * 86400)
        end = start + timedelta(seconds=seconds, microseconds=rng.randrange(1_000_000))
        spans.append(Span(charger, start, end, rng.random() < 0.25))
    # Across the first few, from their middle to an hour after them, the other way excluded.
    for span in spans[:6]:
        assert span.ended_at is not None
        middle = span.started_at + (span.ended_at - span.started_at) / 2
        spans.append(Span(charger, middle, span.ended_at + timedelta(hours=1), not span.excluded))
    going_on = NOW - timedelta(days=20) + timedelta(seconds=rng.uniform(0, 25 * 86400))
    spans.append(Span(charger, going_on, None, rng.random() < 0.5))
    return spans


def store(db: Database, spans: list[Span], chargers: list[str]) -> None:
    with db.session() as s:
        for charger in chargers:
            make_charger(s, charger_id=charger)
        for span in spans:
            make_outage(
                s,
                span.charger_id,
                started_at=span.started_at,
                ended_at=span.ended_at,
                excluded=span.excluded,
            )


def computed(db: Database, tz: ZoneInfo, **kwargs: object) -> list[UptimeMonth]:
    with db.session() as s:
        return monthly_uptime(s, tz, FIRST, LAST, NOW, **kwargs)  # type: ignore[arg-type]


# --- Tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_uptime_equals_the_reference_on_generated_logs(db: Database, zone: str) -> None:
    rng = random.Random(17)
    chargers = [f"c-random-{i}" for i in range(4)]
    spans = [span for c in chargers for span in random_spans(rng, c, 70)]
    edge_chargers = sorted({s.charger_id for s in EDGE_SPANS})
    spans += EDGE_SPANS
    every = sorted([*chargers, *edge_chargers, "c-never-down"])
    store(db, spans, every)
    tz = ZoneInfo(zone)

    rows = computed(db, tz)

    assert len(rows) == len(every) * 14
    assert [(r.charger_id, r.month) for r in rows] == [
        (c, m.month) for c in every for m in rows[:14]
    ]  # chargers in byte order, months in order
    assert rows == reference_uptime(spans, every, FIRST, LAST, tz, NOW)
    # Some of everything was really there.
    assert any(r.excluded_minutes > 0 for r in rows if r.charger_id.startswith("c-random"))
    assert any(r.uptime_percent == Decimal("0.000") for r in rows)
    assert len({r.uptime_12m_percent for r in rows if r.charger_id.startswith("c-r")}) > 20


def test_dst_months_excluded_overlaps_and_the_month_not_over_yet(db: Database) -> None:
    chargers = sorted({s.charger_id for s in EDGE_SPANS})
    store(db, EDGE_SPANS, chargers)
    rows = {(r.charger_id, r.month): r for r in computed(db, BERLIN)}

    march, october = rows[("c-dst", date(2026, 3, 1))], rows[("c-dst", date(2026, 10, 1))]
    assert march.minutes == 44_580 and october.minutes == 44_700  # 743 and 745 hours
    assert rows[("c-dst", date(2026, 4, 1))].minutes == 43_200
    # 00:30-02:30 UTC is two real hours though the clocks jumped; 21:00-22:00 UTC on the 31st
    # is March's last hour (midnight CEST), the next hour is April's.
    assert march.outage_minutes == 180 and march.excluded_minutes == 0
    assert rows[("c-dst", date(2026, 4, 1))].outage_minutes == 60
    assert march.uptime_percent == Decimal("99.596")  # (44580 - 180) / 44580
    assert october.outage_minutes == october.excluded_minutes == 120
    assert october.uptime_percent == Decimal("100.000")

    may = rows[("c-excluded", date(2026, 5, 1))]
    # 10-13 covered (11-13 excluded, 12-13 only excluded); 9-17 covered, 10-11 counted.
    assert (may.outage_minutes, may.excluded_minutes) == (660, 60 + 420)
    assert may.uptime_percent == _percent(44_640 * 60_000_000, 180 * 60_000_000)

    long = {m: rows[("c-long", date(2026, m, 1))] for m in (2, 3, 4, 11, 12)}
    assert long[3].outage_minutes == long[3].minutes  # all of March; the excluded day is
    assert long[3].excluded_minutes == 0  # covered by the counted outage too
    assert long[3].uptime_percent == Decimal("0.000")
    assert long[2].outage_minutes == 13 * 24 * 60 + (24 - 6 - 1) * 60  # from the 15th 07:00
    # Still going on: up to now, not past it.
    assert long[11].outage_minutes == 11 * 60  # 12:00 UTC to midnight in Berlin (23:00 UTC)
    december = long[12]
    assert december.minutes == Decimal("6720.502")  # 4 days 16 h 0 min 30.123456 s
    assert december.outage_minutes == december.minutes
    late = rows[("c-late", date(2026, 12, 1))]
    assert late.outage_minutes == Decimal("60.502")  # 14:00 to now (15:00:30.123456)
    # From January's start (23:00 UTC on 31 December) to 10 January 00:00 UTC.
    assert rows[("c-late", date(2026, 1, 1))].excluded_minutes == 9 * 24 * 60 + 60

    for charger in chargers:  # months not begun: no minutes, no uptime
        for month in (date(2027, 1, 1), date(2027, 2, 1)):
            row = rows[(charger, month)]
            assert row.minutes == row.outage_minutes == 0
            assert row.uptime_percent is None and row.uptime_12m_percent is None


def test_twelve_months_are_the_sum_of_their_months(db: Database) -> None:
    store(db, [s for s in EDGE_SPANS if s.charger_id == "c-long"], ["c-long"])
    rows = computed(db, BERLIN, charger_ids=["c-long"])
    assert {r.charger_id for r in rows} == {"c-long"}
    november = next(r for r in rows if r.month == date(2026, 11, 1))
    window = [r for r in rows if date(2025, 12, 1) <= r.month <= date(2026, 11, 1)]
    assert len(window) == 11  # the asked months start in January; December 2025 is history
    minutes = sum(r.minutes for r in window) + 31 * 24 * 60  # December 2025, no outage
    down = sum(r.outage_minutes - r.excluded_minutes for r in window)
    assert november.uptime_12m_percent == ((minutes - down) / minutes * 100).quantize(
        Decimal("0.001"), rounding=ROUND_HALF_UP
    )


def test_asked_chargers_only_and_the_same_figures(db: Database) -> None:
    chargers = sorted({s.charger_id for s in EDGE_SPANS})
    store(db, EDGE_SPANS, chargers)
    every = computed(db, BERLIN)
    some = computed(db, BERLIN, charger_ids=["c-late", "c-dst"])
    assert some == [r for r in every if r.charger_id in ("c-dst", "c-late")]
    assert computed(db, BERLIN, charger_ids=[]) == []


def test_at_most_max_months_and_in_order() -> None:
    with pytest.raises(ValueError, match="at most"):
        uptime_statement(BERLIN, date(2010, 1, 1), date(2010 + MAX_MONTHS // 12, 1, 1), NOW)
    with pytest.raises(ValueError, match="before"):
        uptime_statement(BERLIN, date(2026, 2, 1), date(2026, 1, 1), NOW)
    uptime_statement(BERLIN, date(2010, 1, 1), date(2019, 12, 1), NOW)  # 120 months: fine


def test_one_open_outage_per_charger_and_live_kind(db: Database) -> None:
    with db.session() as s:
        make_charger(s, charger_id="c1")
        make_outage(s, "c1", started_at=utc(2026, 12, 1), kind=OutageKind.offline)
        # Another kind, a closed one of the same kind, imported and manual ones: all fine.
        make_outage(s, "c1", started_at=utc(2026, 12, 1), kind=OutageKind.out_of_order)
        make_outage(
            s, "c1", started_at=utc(2026, 11, 1), ended_at=utc(2026, 11, 2), kind=OutageKind.offline
        )
        for kind in (OutageKind.imported, OutageKind.imported, OutageKind.manual):
            make_outage(s, "c1", started_at=utc(2026, 12, 2), kind=kind)
    with pytest.raises(IntegrityError), db.session() as s:
        make_outage(s, "c1", started_at=utc(2026, 12, 3), kind=OutageKind.offline)
    with pytest.raises(IntegrityError), db.session() as s:  # and it ends after it starts
        make_outage(s, "c1", started_at=utc(2026, 12, 3), ended_at=utc(2026, 12, 2))
