"""Fleet-wide usage read from rollups kept by database triggers instead of from ``sessions``.

- ``usage_quarters`` (migration 0008): sessions and their energy in integer Wh (all, and the
  finalized ones) per UTC quarter-hour of ``started_at`` and connector type; its sums per
  quarter (``usage_quarter_totals``) and per UTC day and type (``usage_days``, 0010).
- ``charger_days`` and ``charger_months`` (0009, 0011): finished sessions and their whole
  durations in microseconds per charger and UTC day / month of start, for utilisation.
- ``account_days`` (0031, data/charging/account_days.py): an account's sessions, energy and
  stored cost per local day in the operator's zone, for the customer dashboard.
- Every one of them also sums the stored cost (``cost_total``, data/pricing) of the sessions
  it counts, in integer thousandths of the operator's currency (``cost_milli``, 0018): revenue
  over any period is read like energy, and stays what was billed whatever tariffs do later.

Triggers keep them exact on every write path; ``refill_rollups`` recounts them after a bulk
load that ran with triggers off (``session_replication_role = replica``, bench/build.py).

A period is read as quarters only when that is exact: every UTC offset in the period and every
instant where it changes lie on a quarter, and each quarter's local wall clock falls on the
local day that ``day_buckets`` gives it. The helpers return ``None`` otherwise (an offset such
as Monrovia's -00:44:30 before 1972), and the callers scan ``sessions`` as before.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    Subquery,
    Table,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from data.charging.account_days import operator_zone_name, refill_account_days
from data.charging.dashboard import day_buckets
from data.core.models import (
    Charger,
    ChargerDay,
    ChargerMonth,
    ChargingSession,
    UsageDay,
    UsageQuarter,
    UsageQuarterTotal,
)
from data.core.periods import Period
from data.core.sql import (
    AnySelect,
    DayOf,
    EpochSeconds,
    Greatest,
    Least,
    MicrosBetween,
    MonthOf,
    QuarterOf,
    from_thousandths,
    thousandths,
)

QUARTER = timedelta(minutes=15)
QUARTERS_PER_DAY = 96
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- quarters and energy in Python and SQL (the key functions themselves: data/core/sql.py) -------


def _counted_cost() -> ColumnElement[int]:
    """A session's stored cost in thousandths, NULL when it has none or its energy is
    disputed (it counts nowhere then, its cost neither)."""
    s = ChargingSession
    return case((s.counted(), thousandths(s.cost_total)))


def quarter_of(moment: datetime) -> int:
    """The quarter of an aware instant (``QuarterOf`` in Python)."""
    return (moment - EPOCH) // QUARTER


def _on_quarter(moment: datetime) -> bool:
    return (moment - EPOCH) % QUARTER == timedelta(0)


# --- refill ---------------------------------------------------------------------------------------


def refill_usage_quarters(bind: Session | Connection) -> int:
    """Recompute ``usage_quarters`` from ``sessions``; returns the number of rows written.

    For after a bulk load with triggers off. Runs in the caller's transaction; on PostgreSQL
    sessions are locked against writes until it commits, so none can slip between the
    recount and the triggers."""
    table = typing.cast(Table, UsageQuarter.__table__)
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name == "postgresql":
        bind.execute(text("LOCK TABLE sessions IN SHARE MODE"))
        bind.execute(text(f"TRUNCATE {table.name}"))  # no dead rows left behind, unlike DELETE
    else:
        bind.execute(delete(table))
    wh = thousandths(ChargingSession.energy_kwh)
    finalized = ChargingSession.finalized.is_(True)
    quarter = QuarterOf(ChargingSession.started_at)
    counted = (
        select(
            quarter,
            Charger.connector_type,
            func.count(),
            func.sum(wh),
            func.coalesce(func.sum(case((finalized, 1), else_=0)), 0),
            func.coalesce(func.sum(case((finalized, wh), else_=0)), 0),
            func.coalesce(func.sum(thousandths(ChargingSession.cost_total)), 0),
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
        # As the triggers since 0012: disputed energy counts nowhere until resolved.
        .where(ChargingSession.counted())
        .group_by(quarter, Charger.connector_type)
        # Written in key order: a period is then a run of adjacent pages, as the triggers
        # leave it when sessions arrive in time order.
        .order_by(quarter, Charger.connector_type)
    )
    bind.execute(
        insert(table).from_select(
            [
                "quarter",
                "connector_type",
                "sessions",
                "energy_wh",
                "finalized_sessions",
                "finalized_energy_wh",
                "cost_milli",
            ],
            counted,
        )
    )
    return int(bind.execute(select(func.count()).select_from(table)).scalar_one())


# --- a period as quarters -------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalQuarters:
    """A period as UTC quarters ``[first, end)`` and, per run of one UTC offset, the shift that
    makes a quarter count from the local midnight starting the period: ``quarter + shift`` is
    ``local quarter-hours since first_day 00:00`` (never negative inside the period)."""

    first_day: date
    first: int
    end: int
    runs: tuple[tuple[int, int], ...]  # (end quarter of the run, shift), in time order

    def local_quarter(self) -> ColumnElement[int]:
        """``quarter + shift`` of ``usage_quarter_totals.quarter``, as SQL."""
        q = UsageQuarterTotal.quarter
        shifts = [(end, literal_column(str(shift), BigInteger())) for end, shift in self.runs]
        if len(shifts) == 1:
            return q + shifts[0][1]
        return q + case(*((q < end, shift) for end, shift in shifts[:-1]), else_=shifts[-1][1])

    def in_period(self) -> list[ColumnElement[bool]]:
        # One range of the primary key.
        return [UsageQuarterTotal.quarter >= self.first, UsageQuarterTotal.quarter < self.end]


def local_quarters(
    period: Period, runs: list[tuple[datetime, datetime, int]]
) -> LocalQuarters | None:
    """``period`` (cut by ``runs``, ``data.charging.analytics.offset_runs``) as quarters; ``None``
    when some local day or hour of it is not a whole number of UTC quarters."""
    if not runs or not period.days:
        return None
    base = datetime.combine(period.first_day, time.min, tzinfo=UTC)
    shifted: list[tuple[int, int, int]] = []  # (first quarter, end quarter, shift)
    for start, end, offset in runs:
        if offset % 900 or not (_on_quarter(start) and _on_quarter(end)):
            return None
        shift = offset // 900 - quarter_of(base)
        shifted.append((quarter_of(start), quarter_of(end), shift))
    # Each local day must be exactly the quarters whose shifted wall clock names that day (a
    # fall-back across midnight would break it); pieces of a run are monotone, so checking
    # their first and last quarter is enough.
    for index, (_day, start, end) in enumerate(day_buckets(period)):
        if not (_on_quarter(start) and _on_quarter(end)):
            return None
        first_q, end_q = quarter_of(start), quarter_of(end)
        for run_first, run_end, shift in shifted:
            lo, hi = max(first_q, run_first), min(end_q, run_end)
            if lo >= hi:
                continue
            if (lo + shift) // QUARTERS_PER_DAY != index:
                return None
            if (hi - 1 + shift) // QUARTERS_PER_DAY != index:
                return None
    return LocalQuarters(
        period.first_day,
        shifted[0][0],
        shifted[-1][1],
        tuple((end, shift) for _first, end, shift in shifted),
    )


# --- what the fleet charged -----------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    sessions: int
    energy_kwh: Decimal  # 3 decimals
    cost: Decimal  # the sum of their stored costs, in the operator's currency (3 decimals)


def _usage(sessions: Any, wh: Any, milli: Any) -> Usage:
    return Usage(int(sessions or 0), from_thousandths(wh), from_thousandths(milli))


def usage_per_local_day(session: Session, quarters: LocalQuarters) -> dict[date, Usage]:
    """Sessions started on each local day (only days that have rows), their energy and their
    stored cost."""
    day = (quarters.local_quarter() // QUARTERS_PER_DAY).label("day")
    t = UsageQuarterTotal
    rows = session.execute(
        select(day, func.sum(t.sessions), func.sum(t.energy_wh), func.sum(t.cost_milli))
        .where(*quarters.in_period())
        .group_by(day)
    ).all()
    return {
        quarters.first_day + timedelta(days=int(index)): _usage(count, wh, milli)
        for index, count, wh, milli in rows
    }


def sessions_per_hour_of_week(session: Session, quarters: LocalQuarters) -> dict[int, int]:
    """Sessions started per local ``weekday * 24 + hour`` (Monday 0), only hours that have
    rows."""
    local = quarters.local_quarter()
    weekday = (local // QUARTERS_PER_DAY + quarters.first_day.weekday()) % 7
    how = (weekday * 24 + (local // 4) % 24).label("how")
    rows = session.execute(
        select(how, func.sum(UsageQuarterTotal.sessions)).where(*quarters.in_period()).group_by(how)
    ).all()
    return {int(h): int(n or 0) for h, n in rows}


def _utc_range(first: int, end: int, finalized_only: bool) -> Subquery:
    """``(connector_type, sessions, energy_wh, cost_milli)`` rows that add up to the quarters
    ``[first, end)``: whole UTC days from ``usage_days``, the quarters at both ends from
    ``usage_quarters`` (a year is ~2,000 rows instead of ~175,000)."""
    figures = (
        ("finalized_sessions", "finalized_energy_wh")
        if finalized_only
        else ("sessions", "energy_wh")
    )
    first_day = -(-first // QUARTERS_PER_DAY)
    end_day = end // QUARTERS_PER_DAY
    if first_day >= end_day:
        edges = [(first, end)]
        days: list[tuple[int, int]] = []
    else:
        edges = [
            (first, first_day * QUARTERS_PER_DAY),
            (end_day * QUARTERS_PER_DAY, end),
        ]
        days = [(first_day, end_day)]
    q, d = UsageQuarter, UsageDay
    # Costs are stored on finalized sessions only: one sum serves both.
    parts: list[AnySelect] = [
        select(
            table.connector_type,
            getattr(table, figures[0]).label("sessions"),
            getattr(table, figures[1]).label("energy_wh"),
            table.cost_milli,
        ).where(key >= lo, key < hi)
        for table, key, ranges in ((q, q.quarter, edges), (d, d.day, days))
        for lo, hi in ranges
        if lo < hi
    ]
    if not parts:  # an empty range
        parts.append(select(q.connector_type, q.sessions, q.energy_wh, q.cost_milli).where(false()))
    return union_all(*parts).subquery("in_range")


def usage_per_connector(session: Session, quarters: LocalQuarters) -> dict[str, Usage]:
    """Sessions started in the period, their energy and stored cost per connector type (types
    with rows)."""
    rows = _utc_range(quarters.first, quarters.end, finalized_only=False)
    found = session.execute(
        select(
            rows.c.connector_type,
            func.sum(rows.c.sessions),
            func.sum(rows.c.energy_wh),
            func.sum(rows.c.cost_milli),
        ).group_by(rows.c.connector_type)
    ).all()
    return {kind: _usage(count, wh, milli) for kind, count, wh, milli in found}


def usage_between(
    session: Session, start: datetime, end: datetime, *, finalized_only: bool = False
) -> Usage | None:
    """Sessions started in ``[start, end)`` (UTC), their energy and stored cost (only finalized
    ones with ``finalized_only``); ``None`` unless both bounds lie on quarters."""
    if not (_on_quarter(start) and _on_quarter(end)):
        return None
    rows = _utc_range(quarter_of(start), quarter_of(end), finalized_only)
    row = session.execute(
        select(func.sum(rows.c.sessions), func.sum(rows.c.energy_wh), func.sum(rows.c.cost_milli))
    ).one()
    return _usage(*row)


# --- time in use per charger (migration 0009) -----------------------------------------------------

DAY = timedelta(days=1)
# Utilisation looks this far before the period for finished sessions that reach into it; a
# session still in progress is found however long ago it started (partial index). Keeps the
# reads index ranges of the period instead of the whole history.
LONGEST_FINISHED_SESSION = timedelta(days=31)


def day_of(moment: datetime) -> int:
    """``floor(epoch seconds / 86400)`` of an aware instant: its UTC day."""
    return (moment - EPOCH) // DAY


def month_of(moment: datetime) -> int:
    """``(year - 1970) * 12 + month - 1`` of an aware instant's UTC date."""
    utc = moment.astimezone(UTC)
    return (utc.year - 1970) * 12 + utc.month - 1


def _day_start(day: int) -> datetime:
    return EPOCH + day * DAY


def _month_start(month: int) -> datetime:
    return datetime(1970 + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def _ceil_day(moment: datetime) -> int:
    day = day_of(moment)
    return day if _day_start(day) == moment else day + 1


def _ceil_month(moment: datetime) -> int:
    month = month_of(moment)
    return month if _month_start(month) == moment else month + 1


@dataclass(frozen=True)
class StartSpans:
    """``[start, end)`` cut into what answers "finished sessions that started in it" fastest:
    UTC months (``charger_months``), UTC days (``charger_days``), both with a sign, and the
    hours left at both ends (``sessions``, by ``ix_sessions_started``). A month that the range
    covers for more than half is its month row less the days it leaves out, so no more than
    about a month of day rows (5,000 a day at 5,000 chargers) is ever read."""

    instants: tuple[tuple[datetime, datetime], ...]
    days: tuple[tuple[int, int, int], ...]  # (first day, end day, sign)
    months: tuple[tuple[int, int, int], ...]  # (first month, end month, sign)


def _add_range(ranges: list[tuple[int, int, int]], lo: int, hi: int, sign: int) -> None:
    if lo >= hi:
        return
    if ranges and ranges[-1][1] == lo and ranges[-1][2] == sign:
        ranges[-1] = (ranges[-1][0], hi, sign)
    else:
        ranges.append((lo, hi, sign))


def start_spans(start: datetime, end: datetime) -> StartSpans:
    first_day, end_day = _ceil_day(start), day_of(end)
    if first_day >= end_day:
        return StartSpans(((start, end),) if start < end else (), (), ())
    instants = tuple(
        (lo, hi)
        for lo, hi in ((start, _day_start(first_day)), (_day_start(end_day), end))
        if lo < hi
    )
    days: list[tuple[int, int, int]] = []
    months: list[tuple[int, int, int]] = []
    for month in range(month_of(_day_start(first_day)), month_of(_day_start(end_day - 1)) + 1):
        month_first, month_end = day_of(_month_start(month)), day_of(_month_start(month + 1))
        lo, hi = max(first_day, month_first), min(end_day, month_end)
        left_out = (month_end - month_first) - (hi - lo)
        if hi - lo <= left_out:
            _add_range(days, lo, hi, 1)
        else:
            _add_range(months, month, month + 1, 1)
            _add_range(days, month_first, lo, -1)
            _add_range(days, hi, month_end, -1)
    return StartSpans(instants, tuple(days), tuple(months))


def longest_finished_session(session: Session, start: datetime, end: datetime) -> timedelta:
    """An upper bound of the duration of every finished session that started in
    ``[start - LONGEST_FINISHED_SESSION, end)``: the largest of those months' maxima, each the
    last entry of its range of ``ix_charger_months_longest``."""
    months = range(month_of(start - LONGEST_FINISHED_SESSION), month_of(end) + 1)
    per_month = union_all(
        *(
            select(func.max(ChargerMonth.longest_us).label("us")).where(ChargerMonth.month == month)
            for month in months
        )
    ).subquery("per_month")
    us = session.scalar(select(func.max(per_month.c.us)))
    return timedelta(microseconds=int(us or 0))


def _epoch(moment: datetime) -> ColumnElement[float]:
    return literal(moment.timestamp(), Float())


def _micros(seconds: ColumnElement[float]) -> ColumnElement[int]:
    return cast(func.round(seconds * 1_000_000), BigInteger)


def in_use_micros(session: Session, start: datetime, end: datetime) -> CompoundSelect:
    """``(charger_id, microseconds)`` rows whose sum per charger is its time in use inside
    ``[start, end)`` (``end`` at most now): sessions clipped to the window, one in progress
    running to ``end``; finished ones that began more than ``LONGEST_FINISHED_SESSION`` before
    ``start`` are not counted. Every part is an index range: rollup rows of the whole months
    and days, and sessions of the edge hours and of a span no longer than the longest
    finished session at each end."""
    s = ChargingSession
    started, ended = EpochSeconds(s.started_at), EpochSeconds(s.ended_at)
    finished = s.ended_at.is_not(None)
    spans = start_spans(start, end)
    longest = longest_finished_session(session, start, end)
    parts: list[AnySelect] = []
    # Finished sessions that started in the window, whole ...
    for lo, hi in spans.instants:
        parts.append(
            select(s.charger_id, MicrosBetween(s.started_at, s.ended_at).label("micros")).where(
                s.started_at >= lo, s.started_at < hi, finished
            )
        )
    for first, stop, sign in spans.days:
        parts.append(
            select(ChargerDay.charger_id, (sign * ChargerDay.seconds_us).label("micros")).where(
                ChargerDay.day >= first, ChargerDay.day < stop
            )
        )
    for first, stop, sign in spans.months:
        parts.append(
            select(ChargerMonth.charger_id, (sign * ChargerMonth.seconds_us).label("micros")).where(
                ChargerMonth.month >= first, ChargerMonth.month < stop
            )
        )
    # ... less what runs past the end (only sessions shorter than the longest can) ...
    parts.append(
        select(s.charger_id, (-_micros(ended - _epoch(end))).label("micros")).where(
            s.started_at >= max(start, end - longest),
            s.started_at < end,
            s.ended_at > end,
        )
    )
    # ... plus what reaches in from before the start ...
    parts.append(
        select(
            s.charger_id, _micros(Least(ended, _epoch(end)) - _epoch(start)).label("micros")
        ).where(
            s.started_at >= start - min(longest, LONGEST_FINISHED_SESSION),
            s.started_at < start,
            s.ended_at > start,
        )
    )
    # ... and sessions in progress (partial index), however long ago they began.
    parts.append(
        select(
            s.charger_id, _micros(_epoch(end) - Greatest(started, _epoch(start))).label("micros")
        ).where(s.ended_at.is_(None), s.started_at < end)
    )
    return union_all(*parts)


# --- stored cost per charger (migration 0018) -----------------------------------------------------


def cost_per_charger_parts(start: datetime, end: datetime) -> CompoundSelect:
    """``(charger_id, cost_milli)`` rows whose sum per charger is the stored cost of its
    finished sessions that started in ``[start, end)`` (``start < end``) and count (energy not
    disputed), in thousandths. Index ranges only: ``charger_months`` and ``charger_days`` rows of
    the whole months and days (``start_spans``), ``sessions`` of the hours at both edges."""
    s = ChargingSession
    spans = start_spans(start, end)
    parts: list[AnySelect] = [
        select(s.charger_id, _counted_cost().label("cost_milli")).where(
            s.started_at >= lo, s.started_at < hi, s.ended_at.is_not(None)
        )
        for lo, hi in spans.instants
    ]
    for model, key, ranges in (
        (ChargerDay, ChargerDay.day, spans.days),
        (ChargerMonth, ChargerMonth.month, spans.months),
    ):
        parts.extend(
            select(model.charger_id, (sign * model.cost_milli).label("cost_milli")).where(
                key >= first, key < stop
            )
            for first, stop, sign in ranges
        )
    return union_all(*parts)


def refill_charger_usage(bind: Session | Connection) -> None:
    """Recompute ``charger_days`` and ``charger_months`` from ``sessions`` (after a bulk load
    with triggers off), in the caller's transaction."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    postgresql = dialect.name == "postgresql"
    if postgresql:
        bind.execute(text("LOCK TABLE sessions IN SHARE MODE"))
    s = ChargingSession
    us = MicrosBetween(s.started_at, s.ended_at)
    cost = func.coalesce(func.sum(_counted_cost()), 0)
    for model, key, extra in (
        (ChargerDay, DayOf(s.started_at), [cost]),
        (ChargerMonth, MonthOf(s.started_at), [func.max(us), cost]),
    ):
        table = typing.cast(Table, model.__table__)
        if postgresql:
            bind.execute(text(f"TRUNCATE {table.name}"))
        else:
            bind.execute(delete(table))
        columns = [c.name for c in table.columns]
        bind.execute(
            insert(table).from_select(
                columns,
                select(key, s.charger_id, func.count(), func.sum(us), *extra)
                .where(s.ended_at.is_not(None))
                .group_by(key, s.charger_id)
                .order_by(key, s.charger_id),
            )
        )


def refill_rollups(bind: Session | Connection) -> int:
    """``refill_usage_quarters``, ``refill_charger_usage`` and ``refill_account_days`` (in the
    operator's zone, UTC without one); returns the quarters' rows."""
    quarters = refill_usage_quarters(bind)
    refill_charger_usage(bind)
    connection = bind.connection() if isinstance(bind, Session) else bind
    if inspect(connection).has_table("account_days"):  # not on a schema before 0031
        refill_account_days(bind, ZoneInfo(operator_zone_name(bind)))
    return quarters
