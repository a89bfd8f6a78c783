"""Uptime per charger and calendar month, by the spec's rule ("Outages and uptime"), in SQL.

For the calendar months ``first_month`` to ``last_month`` in the operator's time zone, per
charger (every charger, or the ones asked for) and month:

- ``minutes``: the month's real minutes (a month with a DST change is an hour shorter or
  longer) up to ``now``: a month not over yet counts up to now, one not begun counts 0 and has
  no uptime (both percentages empty);
- ``outage_minutes``: the minutes covered by at least one outage (overlapping outages count
  once), an ongoing outage up to ``now``, nothing past ``now``;
- ``excluded_minutes``: the minutes covered only by excluded outages;
- ``uptime_percent`` = (minutes - (outage_minutes - excluded_minutes)) / minutes x 100, and
  ``uptime_12m_percent``, the same over the twelve months that end with this one (months do not
  overlap, so the window's figures are the sums of its months').

Durations are exact (microseconds); minutes are given to the thousandth and percentages
rounded half up to three decimals, from the exact durations.

One statement whatever the number of chargers, one pass over the outages: those of the window,
clipped to it, in start order per charger (``ix_outages_charger_started``, read in its order,
index only on PostgreSQL); each adds only what no earlier one covered, from ``max(start, the
latest end so far)`` to its end (a running max, a window function), once over all outages and
once over the counted (not excluded) ones, so a union is a sum with no self-join, and
``outage - counted`` is what only excluded outages cover. These pieces do not overlap and come
in order, so summed per month of their end (a balanced CASE over the month starts), only the
first piece of a month can have started before it; what it spent in earlier months (rare) is
moved there by a small join. Laid over every charger and month (zeros where nothing happened),
the twelve-month figures are window sums over that grid. Measured with ``python -m
bench.uptime`` (bench/README.md).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import FrameClause, FrameClauseType
from sqlalchemy.sql.selectable import Subquery

from data.core.db import core_rows
from data.core.models import Charger, UTCDateTime
from data.core.sql import AnySelect, Bytewise, Greatest, Least, MicrosBetween, SumMicrosBetween
from data.pricing.statements import FIRST_YEAR, month_key, month_period, parse_month, shift_month
from data.uptime.outages import ChargerUptimeMonth, Outage, UptimeMonthFilled

TRAILING_MONTHS = 12
MAX_MONTHS = 120  # what one request may ask for (ten years)
_MICROS_PER_MILLI_MINUTE = 60_000  # a thousandth of a minute
_FIRST_MONTH = date(FIRST_YEAR, 1, 1)


def _rows(count: int) -> ColumnElement[int]:
    # Written into the SQL, not bound: windows whose frames read the same are then one window
    # to PostgreSQL (one pass over the rows).
    return literal(count, Integer(), literal_execute=True)


_UNBOUNDED, _CURRENT = FrameClauseType.UNBOUNDED, FrameClauseType.CURRENT
_EARLIER = FrameClause(None, _rows(1), _UNBOUNDED, FrameClauseType.PRECEDING)
_TWELVE = FrameClause(_rows(TRAILING_MONTHS - 1), None, FrameClauseType.PRECEDING, _CURRENT)


class UptimeMonth(NamedTuple):
    """One charger's month. Minutes to the thousandth; percentages with three decimals, None
    for a month that has not begun. (A named tuple: a fleet's year is 60,000 of them.)"""

    charger_id: str
    month: date  # its first day
    minutes: Decimal
    outage_minutes: Decimal
    excluded_minutes: Decimal
    uptime_percent: Decimal | None
    uptime_12m_percent: Decimal | None


@dataclass(frozen=True)
class _Month:
    index: int
    first_day: date
    start_utc: datetime
    end_utc: datetime
    micros: int  # its length up to now (0 when it has not begun)


def _months(
    first_month: date,
    last_month: date,
    tz: ZoneInfo,
    now: datetime,
    history: int = TRAILING_MONTHS - 1,
) -> list[_Month]:
    """The asked months and the ``history`` months before the first (for the twelve-month
    figures; none before 1970)."""
    if last_month < first_month:
        raise ValueError(f"{last_month} is before {first_month}")
    first = shift_month(first_month, -history) or _FIRST_MONTH
    months: list[_Month] = []
    day: date | None = first
    while day is not None and day <= last_month:
        period = month_period(day, tz)
        counted = max(timedelta(0), min(period.end_utc, now) - period.start_utc)
        months.append(
            _Month(
                len(months),
                day,
                period.start_utc,
                period.end_utc,
                counted // timedelta(microseconds=1),
            )
        )
        day = shift_month(day, 1)
    if len(months) - _history_of(months, first_month) > MAX_MONTHS:
        raise ValueError(f"at most {MAX_MONTHS} months at a time")
    return months


def _history_of(months: list[_Month], first_month: date) -> int:
    """How many of ``months`` come before ``first_month`` (the twelve-month history)."""
    return sum(1 for m in months if m.first_day < first_month)


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


def _month_index(
    moment: ColumnElement[datetime], months: list[_Month], *, end: bool
) -> ColumnElement[int]:
    """The index of the month that holds ``moment`` (for an ``end``, the instant just before
    it), as a balanced CASE: log2(months) comparisons a row."""

    def node(low: int, high: int) -> ColumnElement[int]:
        if low == high:
            return literal(months[low].index, Integer())
        middle = (low + high + 1) // 2
        start = _at(months[middle].start_utc)
        holds = start < moment if end else start <= moment
        return case((holds, node(middle, high)), else_=node(low, middle - 1))

    return node(0, len(months) - 1)


def uptime_statement(
    tz: ZoneInfo,
    first_month: date,
    last_month: date,
    now: datetime,
    charger_ids: Sequence[str] | None = None,
    stored: Collection[str] = (),
    history: int = TRAILING_MONTHS - 1,
) -> AnySelect:
    """Per charger (byte order) and month: ``charger_id``, ``month`` (``YYYY-MM``) and, as
    integers, ``minutes_milli``, ``outage_milli``, ``excluded_milli`` (thousandths of a minute)
    and ``uptime_milli``, ``uptime_12m_milli`` (thousandths of a percent, NULL for a month not
    begun). ``ValueError`` for more than ``MAX_MONTHS`` months or ``last_month`` before
    ``first_month``.

    ``stored``: months (``YYYY-MM``) whose outage figures are read from
    ``charger_uptime_months`` (``data.uptime.stored.stored_months``: filled, over by ``now``)
    instead of computed from the outage log; the others are computed here. ``history``: how
    many months before ``first_month`` the twelve-month figures see (fewer than eleven: only the
    figure of the twelfth month on is complete)."""
    months = _months(first_month, last_month, tz, now, history)
    history = _history_of(months, first_month)
    per_month = _per_month(tz, months, now, charger_ids, stored)

    # 5. The twelve months that end with each: sums over the grid's rows.
    pm = per_month.c
    grid = select(
        pm.charger_id,
        pm.idx,
        pm.month,
        pm.micros,
        pm.outage_us,
        pm.counted_us,
        cast(
            func.sum(pm.micros).over(partition_by=pm.charger_id, order_by=pm.idx, rows=_TWELVE),
            BigInteger,
        ).label("micros_12m"),
        cast(
            func.sum(pm.counted_us).over(partition_by=pm.charger_id, order_by=pm.idx, rows=_TWELVE),
            BigInteger,
        ).label("counted_12m"),
    ).subquery("grid")
    g = grid.c
    return (
        select(
            g.charger_id,
            g.month,
            _milli_minutes(g.micros).label("minutes_milli"),
            _milli_minutes(g.outage_us).label("outage_milli"),
            _milli_minutes(g.outage_us - g.counted_us).label("excluded_milli"),
            _milli_percent(g.micros, g.counted_us, g.micros).label("uptime_milli"),
            _milli_percent(g.micros_12m, g.counted_12m, g.micros).label("uptime_12m_milli"),
        )
        .where(g.idx >= history)
        .order_by(Bytewise(g.charger_id), g.idx)
    )


def _per_month(
    tz: ZoneInfo,
    months: list[_Month],
    now: datetime,
    charger_ids: Sequence[str] | None,
    stored: Collection[str],
) -> Subquery:
    """Every charger x month of ``months``: ``charger_id``, ``idx``, ``month``, ``micros`` (the
    month's length up to now), ``outage_us`` (covered by an outage) and ``counted_us`` (by a
    counted one). Months in ``stored`` and over by ``now`` are read from
    ``charger_uptime_months``, the run from the first other month to the last other one is
    computed from the outage log (so nothing reads the outages of the stored months)."""
    stored_keys = {month_key(m.first_day) for m in months if m.end_utc <= now} & set(stored)
    computed = [m for m in months if month_key(m.first_day) not in stored_keys]
    month_rows = union_all(
        *(
            select(
                literal(m.index, Integer()).label("idx"),
                literal(month_key(m.first_day), String()).label("month"),
                _at(m.start_utc).label("start_utc"),
                _at(m.end_utc).label("end_utc"),
                literal(m.micros, BigInteger()).label("micros"),
            )
            for m in months
        )
    ).cte("months")
    chargers = select(Charger.id.label("charger_id"))
    if charger_ids is not None:
        chargers = chargers.where(Charger.id.in_(charger_ids))
    ch = chargers.subquery("charger_list")
    mo = month_rows.c
    outage_us: Any = literal(0, BigInteger())
    counted_us: Any = literal(0, BigInteger())
    grid = (
        select(ch.c.charger_id, mo.idx, mo.month, mo.micros)
        .select_from(ch)
        .join(month_rows, true())
    )
    if computed:
        run = months[computed[0].index - months[0].index : computed[-1].index - months[0].index + 1]
        ends_in_month, spilled = _computed(run, now, charger_ids, month_rows)
        em, sp = ends_in_month.c, spilled.c

        def covered(length: Any, first: Any, spilled_in: Any) -> ColumnElement[int]:
            before = case((first < mo.start_utc, MicrosBetween(first, mo.start_utc)), else_=0)
            return func.coalesce(length, 0) - before + func.coalesce(spilled_in, 0)

        outage_us = covered(em.all_us, em.all_first, sp.all_us)
        counted_us = covered(em.counted_us, em.counted_first, sp.counted_us)
        grid = grid.outerjoin(
            ends_in_month, and_(em.charger_id == ch.c.charger_id, em.idx == mo.idx)
        ).outerjoin(spilled, and_(sp.charger_id == ch.c.charger_id, sp.idx == mo.idx))
        stored_keys -= {month_key(m.first_day) for m in run}
    if stored_keys:
        k = ChargerUptimeMonth
        conditions = [k.tz == tz.key, k.month.in_(sorted(stored_keys))]
        if charger_ids is not None:
            conditions.append(k.charger_id.in_(charger_ids))
        # Filtered first, so the join is on (charger, month) alone: one hash join.
        kept = (
            select(k.charger_id, k.month, k.outage_us, k.counted_us)
            .where(*conditions)
            .subquery("kept")
        )
        grid = grid.outerjoin(
            kept, and_(kept.c.charger_id == ch.c.charger_id, kept.c.month == mo.month)
        )
        outage_us = outage_us + func.coalesce(kept.c.outage_us, 0)
        counted_us = counted_us + func.coalesce(kept.c.counted_us, 0)
    return grid.add_columns(
        cast(outage_us, BigInteger).label("outage_us"),
        cast(counted_us, BigInteger).label("counted_us"),
    ).subquery("per_month")


def _computed(
    months: list[_Month],
    now: datetime,
    charger_ids: Sequence[str] | None,
    month_rows: Any,
) -> tuple[Any, Any]:
    """From the outage log, for the run of ``months``: per charger and month, the union's
    pieces that end in it (``ends_in_month``: their length and the first one's start) and what
    such first pieces spent in earlier months (``spilled``)."""
    window_start = _at(months[0].start_utc)
    window_end = _at(min(months[-1].end_utc, now))
    # 1. The outages of the window, clipped to it, in start order per charger; with each, the
    # latest end among the earlier ones (all of them, and the counted ones).
    o = Outage
    start = Greatest(o.started_at, window_start)
    end = Least(func.coalesce(o.ended_at, window_end), window_end)
    conditions = [o.started_at < window_end, or_(o.ended_at.is_(None), o.ended_at > window_start)]
    if charger_ids is not None:
        conditions.append(o.charger_id.in_(charger_ids))
    clipped = (
        select(
            o.charger_id,
            o.excluded,
            start.label("s"),
            end.label("e"),
            func.max(end)
            .over(partition_by=o.charger_id, order_by=o.started_at, rows=_EARLIER)
            .label("all_until"),
            func.max(end)
            .filter(o.excluded.is_(False))
            .over(partition_by=o.charger_id, order_by=o.started_at, rows=_EARLIER)
            .label("counted_until"),
        )
        .where(*conditions)
        .subquery("clipped")
    )
    # 2. What each adds to the union: from max(start, latest end so far) to its end, when that
    # is not empty (NULL otherwise); and the month its end falls in. A layer's pieces do not
    # overlap and come in order, so only the first piece ending in a month can start before it.
    c = clipped.c
    new_all = Greatest(c.s, func.coalesce(c.all_until, c.s))
    new_counted = Greatest(c.s, func.coalesce(c.counted_until, c.s))
    pieces = select(
        c.charger_id,
        c.e,
        case((c.e > new_all, new_all)).label("a_all"),
        case((and_(c.excluded.is_(False), c.e > new_counted), new_counted)).label("a_counted"),
        _month_index(c.e, months, end=True).label("idx"),
    ).subquery("pieces")
    # 3. Per charger and month of the end: the pieces' length and the first one's start.
    p = pieces.c
    ends_in_month = (
        select(
            p.charger_id,
            p.idx,
            SumMicrosBetween(p.a_all, p.e).label("all_us"),
            func.min(p.a_all).label("all_first"),
            SumMicrosBetween(p.a_counted, p.e).label("counted_us"),
            func.min(p.a_counted).label("counted_first"),
        )
        .group_by(p.charger_id, p.idx)
        .cte("ends_in_month")
    )
    # 4. What such a first piece spent in earlier months (rare: an outage over a month's
    # start), per charger and month.
    em = ends_in_month.c
    own, earlier = month_rows.alias("own_month"), month_rows.alias("earlier_month")
    spilled = (
        select(
            em.charger_id,
            earlier.c.idx,
            func.sum(_spent_in(em.all_first, earlier)).label("all_us"),
            func.sum(_spent_in(em.counted_first, earlier)).label("counted_us"),
        )
        .join(own, own.c.idx == em.idx)
        .join(
            earlier,
            and_(
                earlier.c.idx < em.idx,
                or_(earlier.c.end_utc > em.all_first, earlier.c.end_utc > em.counted_first),
            ),
        )
        .where(or_(em.all_first < own.c.start_utc, em.counted_first < own.c.start_utc))
        .group_by(em.charger_id, earlier.c.idx)
        .subquery("spilled")
    )
    return ends_in_month, spilled


def stored_figures_statement(
    tz: ZoneInfo, first_month: date, last_month: date, charger_ids: Sequence[str] | None
) -> tuple[AnySelect, list[tuple[str, datetime, datetime]]]:
    """What ``charger_uptime_months`` stores for the months ``first_month`` to ``last_month``
    (over, all of them): the SELECT of its rows (``charger_id``, ``tz``, ``month``,
    ``outage_us``, ``counted_us``; the months with an outage) by the same computation as
    ``uptime_statement``'s, and the months (key, start, end)."""
    months = _months(first_month, last_month, tz, datetime.max.replace(tzinfo=UTC), history=0)
    per_month = _per_month(tz, months, months[-1].end_utc, charger_ids, ()).c
    rows = select(
        per_month.charger_id,
        literal(tz.key, String()).label("tz"),
        per_month.month,
        per_month.outage_us,
        per_month.counted_us,
    ).where(per_month.outage_us > 0)
    return rows, [(month_key(m.first_day), m.start_utc, m.end_utc) for m in months]


def stored_twelve_months(
    tz: ZoneInfo, last_month: date, now: datetime, stored: Collection[str]
) -> AnySelect | None:
    """Per charger, from the stored figures alone, the twelve months that end with
    ``last_month`` as ``uptime_statement`` gives them: ``charger_id``, ``month_milli`` and
    ``twelve_milli`` (its ``uptime_milli`` and ``uptime_12m_milli`` of ``last_month``),
    ``minutes`` and ``counted`` (sums over the twelve of ``minutes_milli`` and of
    ``outage_milli - excluded_milli``), ``month_minutes`` and ``month_counted`` (the same of
    ``last_month``). One read of at most twelve rows a charger, no grid of months: what
    ``/admin/uptime`` needs. None unless all twelve are stored and over by ``now``."""
    first_month = shift_month(last_month, 1 - TRAILING_MONTHS)
    if first_month is None:
        return None
    months = _months(first_month, last_month, tz, now, history=0)
    keys = [month_key(m.first_day) for m in months]
    if any(m.end_utc > now for m in months) or not set(keys) <= set(stored):
        return None
    total = literal(sum(m.micros for m in months), BigInteger())
    last = literal(months[-1].micros, BigInteger())
    k = ChargerUptimeMonth
    in_last = k.month == keys[-1]
    outage_us: ColumnElement[int] = k.outage_us.expression
    counted_milli = _milli_minutes(outage_us) - _milli_minutes(outage_us - k.counted_us)
    kept = (
        select(
            k.charger_id,
            func.sum(k.counted_us).label("counted_us"),
            func.sum(case((in_last, k.counted_us), else_=0)).label("last_counted_us"),
            func.sum(counted_milli).label("counted"),
            func.sum(case((in_last, counted_milli), else_=0)).label("month_counted"),
        )
        .where(k.tz == tz.key, k.month.in_(keys))
        .group_by(k.charger_id)
        .subquery("kept")
    )
    c = kept.c

    def zero_if_none(value: Any) -> ColumnElement[int]:
        return cast(func.coalesce(value, 0), BigInteger)

    half, per = _MICROS_PER_MILLI_MINUTE // 2, _MICROS_PER_MILLI_MINUTE  # _milli_minutes
    minutes = sum((m.micros + half) // per for m in months)
    month_minutes = (months[-1].micros + half) // per
    return select(
        Charger.id.label("charger_id"),
        _milli_percent(last, zero_if_none(c.last_counted_us), last).label("month_milli"),
        _milli_percent(total, zero_if_none(c.counted_us), last).label("twelve_milli"),
        literal(minutes, BigInteger()).label("minutes"),
        zero_if_none(c.counted).label("counted"),
        literal(month_minutes, BigInteger()).label("month_minutes"),
        zero_if_none(c.month_counted).label("month_counted"),
    ).outerjoin(kept, c.charger_id == Charger.id)


def stored_months(session: Session, tz: ZoneInfo, now: datetime) -> frozenset[str]:
    """The months (``YYYY-MM``) in ``tz`` whose figures are stored and that are over by
    ``now``: what ``uptime_statement`` may read from ``charger_uptime_months``."""
    filled = UptimeMonthFilled
    statement = select(filled.month).where(filled.tz == tz.key, filled.end_utc <= now)
    return frozenset(core_rows(session, statement, {}).scalars())


def _spent_in(first: ColumnElement[datetime], month: Any) -> ColumnElement[int]:
    """Of a piece from ``first`` that ends in a later month: its microseconds in ``month``."""
    start, end = month.c.start_utc, month.c.end_utc
    return case((first < end, MicrosBetween(Greatest(first, start), end)), else_=0)


def _milli_minutes(micros: ColumnElement[int]) -> ColumnElement[int]:
    """Microseconds in thousandths of a minute, rounded half up (integers: exact)."""
    return (micros + _MICROS_PER_MILLI_MINUTE // 2) // _MICROS_PER_MILLI_MINUTE


def _milli_percent(
    total: ColumnElement[int], counted: ColumnElement[int], month: ColumnElement[int]
) -> ColumnElement[int | None]:
    """(total - counted) / total x 100 in thousandths of a percent, rounded half up, in integer
    arithmetic (a year is 3.2e13 microseconds: x 200,000 stays within 64 bits); NULL while
    ``month`` (the row's own month) has not begun."""
    return case(
        (month > 0, (200_000 * (total - counted) + total) // (2 * total)),
        else_=literal(None, BigInteger()),
    )


def _thousandths(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value).scaleb(-3)


def monthly_uptime(
    session: Session,
    tz: ZoneInfo,
    first_month: date,
    last_month: date,
    now: datetime,
    charger_ids: Sequence[str] | None = None,
) -> list[UptimeMonth]:
    """``uptime_statement``'s rows, typed: per charger (byte order of its id), then month."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: now needs a time zone")
    stored = stored_months(session, tz, now)
    statement = uptime_statement(
        tz, first_month, last_month, now.astimezone(UTC), charger_ids, stored
    )
    first_days: dict[str, date] = {}
    rows = []
    for charger_id, month, minutes, outage, excluded, uptime, uptime_12m in core_rows(
        session, statement, {}
    ):
        first_day = first_days.get(month) or first_days.setdefault(month, parse_month(month))
        rows.append(
            UptimeMonth(
                charger_id,
                first_day,
                Decimal(minutes).scaleb(-3),
                Decimal(outage).scaleb(-3),
                Decimal(excluded).scaleb(-3),
                _thousandths(uptime),
                _thousandths(uptime_12m),
            )
        )
    return rows
