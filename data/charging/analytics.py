"""Fleet analytics for /admin/analytics and its CSV downloads: each figure one SQL aggregate.

Every query takes a session and a ``Period`` (a named period or a custom range of local days)
and groups in SQL; no query loads sessions into Python. The fleet-wide figures (energy per day
and month, sessions per hour of the week, energy per connector type) sum the period's rows of
``usage_quarters`` (data/charging/rollup.py: per UTC quarter-hour, kept by triggers), or scan the
index range of the period's sessions (``ix_sessions_started``) when the period's local days are not
whole quarters; utilisation is per charger and always reads the period's sessions. Days and
hours are local to the operator's time zone and are computed without a time-zone database in
SQL (``offset_runs``, ``local_day_expression``, ``hour_of_week_expression``), so SQLite and
PostgreSQL give the same answer.

Usage follows shared/spec/data-exchange.md: a session's energy counts on the local day it
started, in progress with its energy so far, so the fleet total here is the sum of every
account's ``data.charging.dashboard.account_usage``.

Revenue is the sum of the stored costs (``cost_total``, data/pricing) of the sessions that count,
attributed like their energy (spec, "Prices and costs"): per day, month and connector type from
the same rows as the energy (the rollups carry the cost, migration 0018), per charger from
``charger_days`` / ``charger_months``. A session in progress has no stored cost yet; its cost
counts once it is finalized, so history stays what was billed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    SQLColumnExpression,
    case,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from data.charging.dashboard import day_buckets, local_day_expression
from data.charging.rollup import (
    LONGEST_FINISHED_SESSION,
    Usage,
    cost_per_charger_parts,
    in_use_micros,
    local_quarters,
    sessions_per_hour_of_week,
    usage_per_connector,
    usage_per_local_day,
)
from data.core.models import Charger, ChargingSession, ConnectorType
from data.core.periods import PERIODS, Period, local_midnight_utc, period_bounds
from data.core.sql import (
    EpochSeconds,
    Greatest,
    Least,
    ShiftedHourOfWeek,
    from_thousandths,
    kwh_decimal,
    thousandths,
)
from data.pricing.cost import round_money

CUSTOM = "custom"
# The charts, in page order; each is also a CSV download named ``<chart>.csv``.
CHARTS = (
    "energy-daily",
    "energy-monthly",
    "hour-of-week",
    "utilisation",
    "connectors",
    "revenue-daily",
    "revenue-monthly",
    "revenue-connectors",
    "revenue-chargers",
)
TOP_CHARGERS = 10
MAX_RANGE_DAYS = 366
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- the period the operator picked ---------------------------------------------------------------


@dataclass(frozen=True)
class AnalyticsRange:
    """A named period (``current``, ``previous``, ``year``) or a custom range of local days.

    Only ``read_range`` builds these from what a browser sent, so every instance is valid.
    """

    period: str = "current"
    first_day: date | None = None  # custom only
    last_day: date | None = None  # custom only, inclusive

    @property
    def is_custom(self) -> bool:
        return self.period == CUSTOM

    def query(self) -> dict[str, str]:
        """The URL query that names this range (page links and CSV downloads)."""
        if self.first_day is not None and self.last_day is not None:
            return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        return {"period": self.period}

    def bounds(self, now: datetime, tz: ZoneInfo) -> Period:
        """The local days and UTC instants of this range, in the operator's time zone."""
        if self.first_day is not None and self.last_day is not None:
            end_day = self.last_day + timedelta(days=1)
            return Period(
                CUSTOM,
                self.first_day,
                end_day,
                local_midnight_utc(self.first_day, tz),
                local_midnight_utc(end_day, tz),
                tz,
            )
        return period_bounds(self.period, now, tz)


class RangeError(ValueError):
    """A period or custom range that cannot be shown; the message says why, in full sentences."""


def _one(value: object, what: str) -> str | None:
    """A single query value; ``None`` when absent or empty. Repeated values are refused."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        raise RangeError(f"Give one {what}, not several.")
    text = str(value).strip()
    return text or None


def _shown(value: object) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _parse_day(name: str, value: str) -> date:
    if not _DATE.fullmatch(value):
        raise RangeError(f"The {name} date “{_shown(value)}” is not a date like 2026-03-29.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise RangeError(f"The {name} date {value} does not exist.") from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise RangeError(
            f"The {name} date must lie between {EARLIEST_DAY.year} and {LATEST_DAY.year}."
        )
    return day


def custom_range(first_text: str | None, last_text: str | None) -> AnalyticsRange:
    """The local days ``first``..``last`` (both included); ``RangeError`` says what is wrong."""
    if first_text is None and last_text is None:
        raise RangeError("Pick the first and the last day of the range.")
    if first_text is None or last_text is None:
        raise RangeError(f"The range needs a {'first' if first_text is None else 'last'} day.")
    first, last = _parse_day("first", first_text), _parse_day("last", last_text)
    if first > last:
        raise RangeError(
            f"The range {first.isoformat()} to {last.isoformat()} ends before it starts."
        )
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise RangeError(
            f"Pick a range of at most {MAX_RANGE_DAYS} days "
            f"({first.isoformat()} to {last.isoformat()} has {days})."
        )
    return AnalyticsRange(CUSTOM, first, last)


def parse_range(query: Mapping[str, object]) -> AnalyticsRange:
    """The range a URL query asks for; ``RangeError`` when it is not valid.

    ``?period=current|previous|year`` (none: ``current``), or ``?from=YYYY-MM-DD&to=YYYY-MM-DD``
    (local days, both included, at most ``MAX_RANGE_DAYS``); a range wins over a period.
    """
    raw_from, raw_to = query.get("from"), query.get("to")
    if raw_from is not None or raw_to is not None:
        return custom_range(_one(raw_from, "first day"), _one(raw_to, "last day"))
    raw_period = query.get("period")
    name = _one(raw_period, "period")
    if name is None:
        return AnalyticsRange()
    if name not in PERIODS:
        raise RangeError(f"“{_shown(name)}” is not a period we know.")
    return AnalyticsRange(name)


def read_range(query: Mapping[str, object]) -> tuple[AnalyticsRange, str | None]:
    """Like ``parse_range``, for pages: this month and a note saying why, when not valid."""
    try:
        return parse_range(query), None
    except RangeError as exc:
        return AnalyticsRange(), f"{exc} Showing this month."


def range_label(period: Period) -> str:
    """``November 2026``, ``2026``, or ``29 Mar 2026 – 4 Apr 2026`` for a custom range."""
    if period.name != CUSTOM:
        return period.label
    last = period.end_day - timedelta(days=1)
    if last == period.first_day:
        return f"{last.day} {last:%b %Y}"
    return f"{period.first_day.day} {period.first_day:%b %Y} – {last.day} {last:%b %Y}"


# --- UTC offsets over a period ---------------------------------------------------------------


def _utc_offset(moment: datetime, tz: ZoneInfo) -> int:
    offset = moment.astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_runs(period: Period) -> list[tuple[datetime, datetime, int]]:
    """``(start_utc, end_utc, offset_seconds)``: the period cut where the UTC offset changes.

    From ``day_buckets`` (zoneinfo): a day whose offset at its start and at its last second
    differ holds a transition, found to the second by bisection. Europe/Berlin over a year
    gives three runs.
    """
    runs: list[tuple[datetime, datetime, int]] = []

    def add(start: datetime, end: datetime, offset: int) -> None:
        if runs and runs[-1][2] == offset:
            runs[-1] = (runs[-1][0], end, offset)
        else:
            runs.append((start, end, offset))

    second = timedelta(seconds=1)
    for _day, start, end in day_buckets(period):
        first = _utc_offset(start, period.tz)
        last = _utc_offset(end - second, period.tz)
        if first == last:
            add(start, end, first)
            continue
        lo, hi = start, end - second  # offset(lo) == first, offset(hi) != first
        while hi - lo > second:
            mid = lo + (hi - lo) / 2
            mid = mid.replace(microsecond=0)
            if _utc_offset(mid, period.tz) == first:
                lo = mid
            else:
                hi = mid
        add(start, hi, first)
        add(hi, end, last)
    return runs


def hour_of_week_expression(
    started_at: SQLColumnExpression[datetime], period: Period
) -> ColumnElement[int]:
    """Local ``weekday * 24 + hour`` (Monday 0 … Sunday 23 → 167) of a UTC timestamp column,
    for instants inside ``period``: the UTC offset of each run of ``offset_runs`` is added to
    the UTC time, so a DST day puts 01:30 and 03:30 local (one hour apart) in hours 1 and 3."""
    runs = offset_runs(period)
    if not runs:
        return literal(None, Integer())
    exprs = [
        (end, ShiftedHourOfWeek(started_at, literal_column(str(offset))))
        for _start, end, offset in runs
    ]
    if len(exprs) == 1:
        return exprs[0][1]
    return case(*((started_at < bound, expr) for bound, expr in exprs[:-1]), else_=exprs[-1][1])


def _in_period(period: Period) -> list[ColumnElement[bool]]:
    # One range of ix_sessions_started: only the period's sessions are read. Disputed energy
    # counts nowhere until resolved, as in the rollup (migration 0012).
    return [
        ChargingSession.started_at >= period.start_utc,
        ChargingSession.started_at < period.end_utc,
        ChargingSession.counted(),
    ]


# --- energy per day and per month -----------------------------------------------------------------


@dataclass(frozen=True)
class DayEnergy:
    day: date  # local day
    sessions: int  # sessions that started that day
    energy_kwh: Decimal  # their energy (so far, for those in progress)
    revenue: Decimal  # their stored costs, in the operator's currency (3 decimals)


@dataclass(frozen=True)
class MonthEnergy:
    month: date  # the 1st of the month
    days: int  # how many of its days lie in the period
    sessions: int
    energy_kwh: Decimal
    revenue: Decimal


_NO_USAGE = Usage(0, kwh_decimal(None), from_thousandths(None))


def _figures(usage: Usage) -> tuple[int, Decimal, Decimal]:
    return usage.sessions, usage.energy_kwh, usage.cost


def _stored_cost_sum() -> ColumnElement[int]:
    """SQL: the stored costs of the rows in thousandths (a session without one adds nothing)."""
    return func.sum(thousandths(ChargingSession.cost_total))


def energy_per_day(session: Session, period: Period) -> list[DayEnergy]:
    """One row per local day of the period, zeros included (the spec's usage rule, fleet-wide).

    From ``usage_quarters`` (at most 96 quarters x 5 connector types a day), or from the
    period's sessions when its days are not whole quarters."""
    days = period.days
    if not days:
        return []
    quarters = local_quarters(period, offset_runs(period))
    if quarters is None:
        return energy_per_day_from_sessions(session, period)
    found = usage_per_local_day(session, quarters)
    return [DayEnergy(d, *_figures(found.get(d, _NO_USAGE))) for d in days]


def energy_per_day_from_sessions(session: Session, period: Period) -> list[DayEnergy]:
    """``energy_per_day`` by scanning the period's sessions (no rollup)."""
    days = period.days
    if not days:
        return []
    in_period = (
        select(
            local_day_expression(ChargingSession.started_at, period).label("day"),
            ChargingSession.energy_kwh,
            thousandths(ChargingSession.cost_total).label("cost_milli"),
        )
        .where(*_in_period(period))
        .subquery("in_period")
    )
    rows = session.execute(
        select(
            in_period.c.day,
            func.count().label("sessions"),
            func.sum(in_period.c.energy_kwh).label("energy_kwh"),
            func.sum(in_period.c.cost_milli).label("cost_milli"),
        ).group_by(in_period.c.day)
    ).all()
    found = {
        _as_date(r.day): (
            int(r.sessions),
            kwh_decimal(r.energy_kwh),
            from_thousandths(r.cost_milli),
        )
        for r in rows
    }
    return [DayEnergy(d, *found.get(d, _figures(_NO_USAGE))) for d in days]


def _as_date(value: date | str) -> date:
    # SQLite's date() comes back as text.
    return value if isinstance(value, date) else date.fromisoformat(value)


def energy_per_month(days: list[DayEnergy]) -> list[MonthEnergy]:
    """The days summed per calendar month, so each month is exactly the sum of its days.

    Months at the edges of a custom range hold only the days inside it (``days`` says how many).
    """
    months: dict[date, MonthEnergy] = {}
    for row in days:
        key = row.day.replace(day=1)
        seen = months.get(key, MonthEnergy(key, 0, 0, kwh_decimal(None), from_thousandths(None)))
        months[key] = MonthEnergy(
            key,
            seen.days + 1,
            seen.sessions + row.sessions,
            seen.energy_kwh + row.energy_kwh,
            seen.revenue + row.revenue,
        )
    return list(months.values())


def total_energy(rows: list[DayEnergy] | list[MonthEnergy]) -> Decimal:
    return sum((r.energy_kwh for r in rows), kwh_decimal(None))


def total_revenue(rows: list[DayEnergy] | list[MonthEnergy]) -> Decimal:
    return sum((r.revenue for r in rows), from_thousandths(None))


# --- when people charge ---------------------------------------------------------------------------


def sessions_by_hour_of_week(session: Session, period: Period) -> list[list[int]]:
    """Sessions started in the period, counted by local weekday (rows, Monday first) and local
    hour of their start (24 columns)."""
    grid = [[0] * 24 for _ in WEEKDAYS]
    if not period.days:
        return grid
    quarters = local_quarters(period, offset_runs(period))
    if quarters is None:
        return sessions_by_hour_of_week_from_sessions(session, period)
    for how, count in sessions_per_hour_of_week(session, quarters).items():
        weekday, hour = divmod(how, 24)
        grid[weekday][hour] = count
    return grid


def sessions_by_hour_of_week_from_sessions(session: Session, period: Period) -> list[list[int]]:
    """``sessions_by_hour_of_week`` by scanning the period's sessions (no rollup)."""
    grid = [[0] * 24 for _ in WEEKDAYS]
    if not period.days:
        return grid
    in_period = (
        select(hour_of_week_expression(ChargingSession.started_at, period).label("how"))
        .where(*_in_period(period))
        .subquery("in_period")
    )
    rows = session.execute(
        select(in_period.c.how, func.count().label("sessions")).group_by(in_period.c.how)
    ).all()
    for how, count in rows:
        weekday, hour = divmod(int(how), 24)
        grid[weekday][hour] = int(count)
    return grid


# --- utilisation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerUtilisation:
    charger_id: str
    friendly_name: str
    connector_type: str
    hours_in_use: float  # session time inside the period (up to now)
    hours_in_period: float  # the period's hours up to now
    share: float  # hours_in_use / hours_in_period, at most 1


def utilisation_window(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The part of the period that has happened: ``[start, min(end, now))`` (empty if future)."""
    end = min(period.end_utc, max(now, period.start_utc))
    return period.start_utc, end


def top_chargers_by_utilisation(
    session: Session, period: Period, now: datetime, limit: int = TOP_CHARGERS
) -> list[ChargerUtilisation]:
    """The ``limit`` chargers with the largest share of the period's hours (up to now) in use.

    A session's time is clipped to the period: one that began before it counts from the start,
    one in progress until now. Chargers with no time in use are left out. Shares are capped at
    100% (overlapping sessions on one charger would otherwise count twice).

    Finished sessions that started in the period are summed from ``charger_months`` and
    ``charger_days`` (per charger, kept by triggers) with the edge hours from ``sessions``;
    only the sessions that reach across the period's start or end are clipped one by one
    (``data.charging.rollup.in_use_micros``).
    """
    w_start, w_end = utilisation_window(period, now)
    window_seconds = (w_end - w_start).total_seconds()
    if window_seconds <= 0 or limit <= 0:
        return []
    parts = in_use_micros(session, w_start, w_end).subquery("parts")
    micros = func.sum(parts.c.micros)
    per_charger = (
        select(parts.c.charger_id, micros.label("micros"))
        .group_by(parts.c.charger_id)
        .having(micros > 0)
        .subquery("per_charger")
    )
    return _busiest(
        session, per_charger, per_charger.c.micros, _micros_to_seconds, window_seconds, limit
    )


def _micros_to_seconds(micros: Any) -> float:
    return int(micros) / 1e6


def _busiest(
    session: Session,
    per_charger: Subquery,
    in_use: ColumnElement[Any],
    to_seconds: Callable[[Any], float],
    window_seconds: float,
    limit: int,
) -> list[ChargerUtilisation]:
    """The ``limit`` chargers with the most time ``in_use`` (a column of ``per_charger``, made
    seconds by ``to_seconds``), with their names and connector types."""
    rows = session.execute(
        select(Charger.id, Charger.friendly_name, Charger.connector_type, in_use)
        .join(per_charger, per_charger.c.charger_id == Charger.id)
        .order_by(in_use.desc(), Charger.friendly_name, Charger.id)
        .limit(limit)
    ).all()
    return _utilisation_rows([(r[0], r[1], r[2], to_seconds(r[3])) for r in rows], window_seconds)


def _utilisation_rows(
    rows: list[tuple[str, str, str, float]], window_seconds: float
) -> list[ChargerUtilisation]:
    hours_in_period = round(window_seconds / 3600, 4)
    result = []
    for charger_id, name, connector_type, in_use in rows:
        seconds = min(float(in_use), window_seconds)
        result.append(
            ChargerUtilisation(
                charger_id,
                name,
                ConnectorType(connector_type).value,
                round(seconds / 3600, 4),
                hours_in_period,
                seconds / window_seconds,
            )
        )
    return result


def top_chargers_by_utilisation_from_sessions(
    session: Session, period: Period, now: datetime, limit: int = TOP_CHARGERS
) -> list[ChargerUtilisation]:
    """``top_chargers_by_utilisation`` by clipping every session of the period (no rollup)."""
    w_start, w_end = utilisation_window(period, now)
    window_seconds = (w_end - w_start).total_seconds()
    if window_seconds <= 0 or limit <= 0:
        return []
    start_s = w_start.timestamp()
    end_s = w_end.timestamp()
    begins = Greatest(EpochSeconds(ChargingSession.started_at), literal(start_s, Float()))
    # In progress: it runs to now, which is at or after the window's end.
    ends = Least(
        func.coalesce(EpochSeconds(ChargingSession.ended_at), literal(end_s, Float())),
        literal(end_s, Float()),
    )
    columns = (ChargingSession.charger_id, (ends - begins).label("seconds"))
    overlaps = [
        ChargingSession.started_at < w_end,
        (ChargingSession.ended_at.is_(None)) | (ChargingSession.ended_at > w_start),
    ]
    lookback = w_start - LONGEST_FINISHED_SESSION
    # Two disjoint index ranges: recent starts (ix_sessions_started), and sessions still in
    # progress that started long before (partial index on ended_at IS NULL).
    recent = select(*columns).where(ChargingSession.started_at >= lookback, *overlaps)
    long_open = select(*columns).where(
        ChargingSession.ended_at.is_(None), ChargingSession.started_at < lookback
    )
    clipped = union_all(recent, long_open).subquery("clipped")
    per_charger = (
        select(clipped.c.charger_id, func.sum(clipped.c.seconds).label("seconds"))
        .where(clipped.c.seconds > 0)
        .group_by(clipped.c.charger_id)
        .subquery("per_charger")
    )
    return _busiest(session, per_charger, per_charger.c.seconds, float, window_seconds, limit)


# --- energy by connector type ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectorEnergy:
    connector_type: str
    sessions: int
    energy_kwh: Decimal
    share: float  # of the period's energy, 0..1 (0 when there was none)
    revenue: Decimal  # the stored costs of its sessions
    revenue_share: float  # of the period's revenue, 0..1 (0 when there was none)


def energy_by_connector(session: Session, period: Period) -> list[ConnectorEnergy]:
    """Every connector type (in the model's order, zeros included) with the energy of the
    sessions that started in the period on chargers of that type."""
    quarters = local_quarters(period, offset_runs(period))
    if quarters is None:
        return energy_by_connector_from_sessions(session, period)
    found = {
        ConnectorType(kind).value: _figures(usage)
        for kind, usage in usage_per_connector(session, quarters).items()
    }
    return _connector_shares(found)


def energy_by_connector_from_sessions(session: Session, period: Period) -> list[ConnectorEnergy]:
    """``energy_by_connector`` by scanning the period's sessions (no rollup)."""
    rows = session.execute(
        select(
            Charger.connector_type,
            func.count().label("sessions"),
            func.sum(ChargingSession.energy_kwh).label("energy_kwh"),
            _stored_cost_sum().label("cost_milli"),
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
        .where(*_in_period(period))
        .group_by(Charger.connector_type)
    ).all()
    found = {
        ConnectorType(r.connector_type).value: (
            int(r.sessions),
            kwh_decimal(r.energy_kwh),
            from_thousandths(r.cost_milli),
        )
        for r in rows
    }
    return _connector_shares(found)


def _connector_shares(found: dict[str, tuple[int, Decimal, Decimal]]) -> list[ConnectorEnergy]:
    total = sum((kwh for _n, kwh, _cost in found.values()), kwh_decimal(None))
    revenue = sum((cost for _n, _kwh, cost in found.values()), from_thousandths(None))
    result = []
    for kind in ConnectorType:
        sessions, kwh, cost = found.get(kind.value, _figures(_NO_USAGE))
        share = float(kwh / total) if total > 0 else 0.0
        cost_share = float(cost / revenue) if revenue > 0 else 0.0
        result.append(ConnectorEnergy(kind.value, sessions, kwh, share, cost, cost_share))
    return result


# --- revenue per charger --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerRevenue:
    charger_id: str
    friendly_name: str
    connector_type: str
    revenue: Decimal  # the stored costs of its sessions that started in the period


def revenue_per_charger(
    session: Session, period: Period, limit: int | None = TOP_CHARGERS
) -> list[ChargerRevenue]:
    """The chargers whose sessions that started in the period have stored costs, the largest
    revenue first (then by name); the first ``limit`` of them, or all with ``limit`` None.

    Summed from ``charger_months`` and ``charger_days`` (per charger, kept by triggers) and
    the sessions of the period's edge hours (``data.charging.rollup.cost_per_charger_parts``):
    index ranges whatever the period's length."""
    if period.start_utc >= period.end_utc or limit == 0:
        return []
    parts = cost_per_charger_parts(period.start_utc, period.end_utc).subquery("parts")
    milli = func.sum(parts.c.cost_milli)
    per_charger = (
        select(parts.c.charger_id, milli.label("milli"))
        .group_by(parts.c.charger_id)
        .having(milli > 0)
        .subquery("per_charger")
    )
    stmt = (
        select(Charger.id, Charger.friendly_name, Charger.connector_type, per_charger.c.milli)
        .join(per_charger, per_charger.c.charger_id == Charger.id)
        .order_by(per_charger.c.milli.desc(), Charger.friendly_name, Charger.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        ChargerRevenue(r[0], r[1], ConnectorType(r[2]).value, from_thousandths(r[3]))
        for r in session.execute(stmt)
    ]


# --- the figures as tables (CSV downloads) --------------------------------------------------------


@dataclass(frozen=True)
class ChartTable:
    """A chart's figures: a header and rows of plain values (text, int, Decimal, float)."""

    chart: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _percent(share: float) -> Decimal:
    return Decimal(str(share * 100)).quantize(Decimal("0.01"))


def chart_table(
    session: Session, chart: str, period: Period, now: datetime, currency: str
) -> ChartTable:
    """The figures of one chart (``chart`` from ``CHARTS``) for ``period``, money in
    ``currency`` (the operator's); ValueError if the chart is unknown."""
    if chart.startswith("revenue-"):
        return _revenue_table(session, chart, period, currency)
    if chart == "energy-daily":
        days = energy_per_day(session, period)
        return ChartTable(
            chart,
            ("day", "sessions", "energy_kwh"),
            [(r.day.isoformat(), r.sessions, r.energy_kwh) for r in days],
        )
    if chart == "energy-monthly":
        months = energy_per_month(energy_per_day(session, period))
        return ChartTable(
            chart,
            ("month", "days_in_period", "sessions", "energy_kwh"),
            [(f"{m.month:%Y-%m}", m.days, m.sessions, m.energy_kwh) for m in months],
        )
    if chart == "hour-of-week":
        grid = sessions_by_hour_of_week(session, period)
        return ChartTable(
            chart,
            ("weekday", "hour", "sessions"),
            [(WEEKDAYS[w], h, grid[w][h]) for w in range(len(WEEKDAYS)) for h in range(24)],
        )
    if chart == "utilisation":
        top = top_chargers_by_utilisation(session, period, now)
        return ChartTable(
            chart,
            (
                "rank",
                "charger_id",
                "friendly_name",
                "connector_type",
                "hours_in_use",
                "hours_in_period",
                "utilisation_percent",
            ),
            [
                (
                    i,
                    r.charger_id,
                    r.friendly_name,
                    r.connector_type,
                    Decimal(str(r.hours_in_use)).quantize(Decimal("0.01")),
                    Decimal(str(r.hours_in_period)).quantize(Decimal("0.01")),
                    _percent(r.share),
                )
                for i, r in enumerate(top, start=1)
            ],
        )
    if chart == "connectors":
        kinds = energy_by_connector(session, period)
        return ChartTable(
            chart,
            ("connector_type", "sessions", "energy_kwh", "share_percent"),
            [(r.connector_type, r.sessions, r.energy_kwh, _percent(r.share)) for r in kinds],
        )
    raise ValueError(f"unknown chart {chart!r}")


def _revenue_table(session: Session, chart: str, period: Period, currency: str) -> ChartTable:
    def money(value: Decimal) -> Decimal:
        # Sums of stored costs: whole minor units already, written with the currency's digits.
        return round_money(value, currency)

    if chart == "revenue-daily":
        days = energy_per_day(session, period)
        return ChartTable(
            chart,
            ("day", "revenue", "currency"),
            [(r.day.isoformat(), money(r.revenue), currency) for r in days],
        )
    if chart == "revenue-monthly":
        months = energy_per_month(energy_per_day(session, period))
        return ChartTable(
            chart,
            ("month", "days_in_period", "revenue", "currency"),
            [(f"{m.month:%Y-%m}", m.days, money(m.revenue), currency) for m in months],
        )
    if chart == "revenue-connectors":
        kinds = energy_by_connector(session, period)
        return ChartTable(
            chart,
            ("connector_type", "revenue", "currency", "share_percent"),
            [
                (r.connector_type, money(r.revenue), currency, _percent(r.revenue_share))
                for r in kinds
            ],
        )
    if chart == "revenue-chargers":
        chargers = revenue_per_charger(session, period, limit=None)
        return ChartTable(
            chart,
            ("rank", "charger_id", "friendly_name", "connector_type", "revenue", "currency"),
            [
                (i, r.charger_id, r.friendly_name, r.connector_type, money(r.revenue), currency)
                for i, r in enumerate(chargers, start=1)
            ],
        )
    raise ValueError(f"unknown chart {chart!r}")
