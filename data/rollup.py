"""Fleet-wide usage read from ``usage_quarters`` (migration 0008) instead of ``sessions``.

``usage_quarters`` holds, per UTC quarter-hour of ``started_at`` and connector type, the
sessions and their energy in integer Wh (all of them, and the finalized ones). Triggers keep it
exact on every write path; ``refill_usage_quarters`` recomputes it after a bulk load that ran
with triggers off (``session_replication_role = replica``, bench/build.py).

A period is read as quarters only when that is exact: every UTC offset in the period and every
instant where it changes lie on a quarter, and each quarter's local wall clock falls on the
local day that ``day_buckets`` gives it. The helpers return ``None`` otherwise (an offset such
as Monrovia's -00:44:30 before 1972), and the callers scan ``sessions`` as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from data.dashboard import day_buckets
from data.models import Charger, ChargingSession, UsageQuarter
from data.periods import Period

QUARTER = timedelta(minutes=15)
QUARTERS_PER_DAY = 96
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KWH = Decimal("0.001")


# --- the quarter of a timestamp, in SQL and in Python -------------------------------------------


class QuarterOf(FunctionElement[int]):
    """``floor(epoch seconds / 900)`` of a UTC timestamp column (also before 1970)."""

    type = BigInteger()
    name = "quarter_of"
    inherit_cache = True


@compiles(QuarterOf)
def _quarter_default(element: QuarterOf, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"quarters are not implemented for {compiler.dialect.name}")


@compiles(QuarterOf, "postgresql")
def _quarter_postgresql(element: QuarterOf, compiler: SQLCompiler, **kw: Any) -> str:
    ts = compiler.process(element.clauses, **kw)
    # EXTRACT gives numeric (exact microseconds); floor, not a cast, which would round.
    return f"CAST(floor(EXTRACT(EPOCH FROM {ts}) / 900) AS BIGINT)"


@compiles(QuarterOf, "sqlite")
def _quarter_sqlite(element: QuarterOf, compiler: SQLCompiler, **kw: Any) -> str:
    ts = compiler.process(element.clauses, **kw)
    # Naive UTC text; whole seconds are enough, and SQLite's / truncates toward zero.
    seconds = f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"
    return f"({seconds} / 900 - ({seconds} % 900 < 0))"


def _wh(kwh: ColumnElement[Decimal]) -> ColumnElement[int]:
    # kWh with 3 decimals as integer Wh: exact sums on SQLite too (its NUMERIC is a float).
    return cast(func.round(kwh * 1000), BigInteger)


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
    table = UsageQuarter.__table__
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name == "postgresql":
        bind.execute(text("LOCK TABLE sessions IN SHARE MODE"))
        bind.execute(text(f"TRUNCATE {table.name}"))  # no dead rows left behind, unlike DELETE
    else:
        bind.execute(delete(table))
    wh = _wh(ChargingSession.energy_kwh)
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
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
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
        """``quarter + shift`` of ``usage_quarters.quarter``, as SQL."""
        q = UsageQuarter.quarter
        shifts = [(end, literal_column(str(shift), BigInteger())) for end, shift in self.runs]
        if len(shifts) == 1:
            return q + shifts[0][1]
        return q + case(*((q < end, shift) for end, shift in shifts[:-1]), else_=shifts[-1][1])

    def in_period(self) -> list[ColumnElement[bool]]:
        # One range of the primary key (quarter, connector_type).
        return [UsageQuarter.quarter >= self.first, UsageQuarter.quarter < self.end]


def local_quarters(
    period: Period, runs: list[tuple[datetime, datetime, int]]
) -> LocalQuarters | None:
    """``period`` (cut by ``runs``, ``data.analytics.offset_runs``) as quarters; ``None`` when
    some local day or hour of it is not a whole number of UTC quarters."""
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


def _usage(sessions: Any, wh: Any) -> Usage:
    return Usage(int(sessions or 0), (Decimal(int(wh or 0)) / 1000).quantize(KWH))


def usage_per_local_day(session: Session, quarters: LocalQuarters) -> dict[date, Usage]:
    """Sessions started on each local day (only days that have rows) and their energy."""
    day = (quarters.local_quarter() // QUARTERS_PER_DAY).label("day")
    rows = session.execute(
        select(day, func.sum(UsageQuarter.sessions), func.sum(UsageQuarter.energy_wh))
        .where(*quarters.in_period())
        .group_by(day)
    ).all()
    return {
        quarters.first_day + timedelta(days=int(index)): _usage(count, wh)
        for index, count, wh in rows
    }


def sessions_per_hour_of_week(session: Session, quarters: LocalQuarters) -> dict[int, int]:
    """Sessions started per local ``weekday * 24 + hour`` (Monday 0), only hours that have
    rows."""
    local = quarters.local_quarter()
    weekday = (local // QUARTERS_PER_DAY + quarters.first_day.weekday()) % 7
    how = (weekday * 24 + (local // 4) % 24).label("how")
    rows = session.execute(
        select(how, func.sum(UsageQuarter.sessions)).where(*quarters.in_period()).group_by(how)
    ).all()
    return {int(h): int(n or 0) for h, n in rows}


def usage_per_connector(session: Session, quarters: LocalQuarters) -> dict[str, Usage]:
    """Sessions started in the period and their energy per connector type (types with rows)."""
    rows = session.execute(
        select(
            UsageQuarter.connector_type,
            func.sum(UsageQuarter.sessions),
            func.sum(UsageQuarter.energy_wh),
        )
        .where(*quarters.in_period())
        .group_by(UsageQuarter.connector_type)
    ).all()
    return {kind: _usage(count, wh) for kind, count, wh in rows}


def usage_between(
    session: Session, start: datetime, end: datetime, *, finalized_only: bool = False
) -> Usage | None:
    """Sessions started in ``[start, end)`` (UTC) and their energy (only finalized ones with
    ``finalized_only``); ``None`` unless both bounds lie on quarters."""
    if not (_on_quarter(start) and _on_quarter(end)):
        return None
    sessions, wh = (
        (UsageQuarter.finalized_sessions, UsageQuarter.finalized_energy_wh)
        if finalized_only
        else (UsageQuarter.sessions, UsageQuarter.energy_wh)
    )
    row = session.execute(
        select(func.sum(sessions), func.sum(wh)).where(
            UsageQuarter.quarter >= quarter_of(start), UsageQuarter.quarter < quarter_of(end)
        )
    ).one()
    return _usage(row[0], row[1])
