"""What a driver's dashboard shows, each a query that takes a session, the account and ``now``.

Every figure is computed in SQL over indexed ranges, so a driver with 100,000 sessions costs the
same as one with 10. Rules are the ones in ``shared/spec/data-exchange.md``. Costs and prices
come in the same statements as the sessions and the plan they belong to (``data.pricing.rows``:
the version in force is joined in SQL), never in a query of their own.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    SQLColumnExpression,
    Subquery,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from data.chargers.status import (
    OFFLINE_AFTER_SECONDS,
    OUT_OF_ORDER_REPORTS,
    STATUS_RANK,
    ChargerStatus,
    charger_status_expression,
    maybe_not_online_ids,
)
from data.charging.account_days import DayWindow, day_window, from_milli, stored_runs_match
from data.core.db import core_rows
from data.core.models import (
    Account,
    AccountDay,
    AccountDayZone,
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorStatus,
    ConnectorType,
    Operator,
    Plan,
    Reservation,
    ReservationStatus,
    Visibility,
)
from data.core.periods import Period, local_midnight_utc
from data.core.sql import KWH, AnySelect, ShiftedUTCDate
from data.pricing.cost import SessionCost, TariffPrices
from data.pricing.rows import (
    COST_COLUMNS,
    account_tariff,
    cost_now,
    plan_tariff,
    session_version,
    stored_cost,
    version_columns,
    version_in_force,
    version_in_row,
)

CHARGER_LIMIT = 50


@dataclass(frozen=True)
class OperatorSettings:
    name: str
    support_email: str | None
    tz: ZoneInfo
    currency: str


@dataclass(frozen=True)
class ActiveSession:
    session_id: str
    charger_name: str
    started_at: datetime  # aware, UTC
    energy_kwh: float
    cost: SessionCost | None  # so far (``cost_now``, as ``live_cost``); None: no tariff prices it


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    charger_name: str
    started_at: datetime
    ended_at: datetime | None  # None: in progress
    energy_kwh: float
    finalized: bool
    energy_disputed: bool  # no cost until an admin settles its energy
    # Finalized: the stored cost. Not yet: what it costs so far (``cost_now``, the banner's
    # rule). None: no tariff prices it, or its energy is disputed.
    cost: SessionCost | None


@dataclass(frozen=True)
class ReservationRow:
    reservation_id: str
    charger_name: str
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass(frozen=True)
class PlanRow:
    plan_id: str
    name: str
    allowance_kwh: float
    currency: str


@dataclass(frozen=True)
class AccountPlan:
    plan: PlanRow | None  # None: no plan (ad hoc charging)
    # The version in force now of the tariff that prices the account's sessions (its plan's,
    # else the operator's default): what charging costs if it starts now. None: no tariff.
    tariff: TariffPrices | None


@dataclass(frozen=True)
class ChargerRow:
    charger_id: str
    friendly_name: str
    connector_type: str
    max_power_kw: float
    status: ChargerStatus


@dataclass(frozen=True)
class ConnectorReport:
    connector_id: int  # 1, 2, ... (connector 0, the whole charger, is not one)
    status: str  # its latest OCPP StatusNotification: Available, Preparing, Faulted, ...

    @property
    def out_of_order(self) -> bool:
        return self.status in OUT_OF_ORDER_REPORTS


@dataclass(frozen=True)
class ChargerList:
    chargers: list[ChargerRow]  # at most CHARGER_LIMIT, most useful first
    visible: int  # how many the account may see in all
    available: int  # how many of those are Online now


# Statuses a reservation must have to be shown as "next".
UPCOMING_STATUSES = (
    ReservationStatus.pending,
    ReservationStatus.confirmed,
    ReservationStatus.active,
)
# "AS MATERIALIZED" is understood from SQLite 3.35 on; older builds just go without the hint.
_SQLITE_HAS_MATERIALIZED = sqlite3.sqlite_version_info >= (3, 35, 0)
_PLACEHOLDER_OPERATOR = OperatorSettings("Polaris Express", None, ZoneInfo("UTC"), "EUR")


def kwh_figure(value: Decimal | float | None) -> float:
    """Numeric from either database -> float with the 3 decimals the schema stores."""
    if value is None:
        return 0.0
    return float(Decimal(value).quantize(KWH))


def operator_settings(session: Session) -> OperatorSettings:
    """The operator row; a sensible placeholder (UTC, EUR) on a database without one."""
    row = session.execute(
        select(Operator.name, Operator.support_email, Operator.timezone, Operator.currency)
        .order_by(Operator.id)
        .limit(1)
    ).first()
    if row is None:
        return _PLACEHOLDER_OPERATOR
    return OperatorSettings(row.name, row.support_email, ZoneInfo(row.timezone), row.currency)


# The queries every dashboard request runs, built once with bind parameters: building a
# statement anew on each call costs more Python than the database takes to answer it.


def _latest_first(stmt: AnySelect) -> AnySelect:
    return stmt.order_by(ChargingSession.started_at.desc(), ChargingSession.id.desc())


# Pick the row first (partial index ix_sessions_in_progress_account), then join the name: the
# planner then always looks up one charger by primary key.
_active = (
    _latest_first(
        select(
            ChargingSession.id,
            ChargingSession.charger_id,
            ChargingSession.started_at,
            ChargingSession.ended_at,
            ChargingSession.energy_kwh,
            *COST_COLUMNS,
        ).where(
            ChargingSession.account_id == bindparam("account_id"),
            ChargingSession.ended_at.is_(None),
        )
    )
    .limit(1)
    .subquery("latest")
)

# The account's tariff, once per statement (a scalar subquery on the bound account).
_ACCOUNT_TARIFF = account_tariff(bindparam("account_id"))


def _with_cost(rows: Subquery) -> AnySelect:
    """``rows`` (a subquery of sessions with ``COST_COLUMNS``) with their charger's name and
    power and the version that prices each: what ``cost_now`` reads."""
    version, joined = session_version(
        rows.c.tariff_id, rows.c.tariff_valid_from, rows.c.started_at, _ACCOUNT_TARIFF
    )
    return (
        select(rows, Charger.friendly_name, Charger.max_power_kw, *version_columns(version))
        .join(Charger, Charger.id == rows.c.charger_id)
        .outerjoin(version, joined)
    )


_ACTIVE_SESSION = _with_cost(_active)
ACTIVE_SESSION_QUERY = _ACTIVE_SESSION  # bound ``account_id``: ``active_session_from`` reads it

# Backward scan of ix_sessions_account_started, stopped after ``limit`` rows; names joined
# afterwards, so only ``limit`` chargers are looked up.
_last = (
    _latest_first(
        select(
            ChargingSession.id,
            ChargingSession.charger_id,
            ChargingSession.started_at,
            ChargingSession.ended_at,
            ChargingSession.energy_kwh,
            ChargingSession.finalized,
            ChargingSession.energy_disputed_at,
            *COST_COLUMNS,
        ).where(ChargingSession.account_id == bindparam("account_id"))
    )
    .limit(bindparam("limit", type_=Integer))
    .subquery("last")
)
_RECENT_SESSIONS = _with_cost(_last).order_by(_last.c.started_at.desc(), _last.c.id.desc())

_upcoming = (
    select(
        Reservation.id,
        Reservation.charger_id,
        Reservation.starts_at,
        Reservation.ends_at,
        Reservation.status,
    )
    # Range on ix_reservations_account_ends: only reservations that have not ended yet.
    .where(
        Reservation.account_id == bindparam("account_id"),
        Reservation.ends_at > bindparam("now", type_=Reservation.ends_at.type),
        Reservation.status.in_(UPCOMING_STATUSES),
    )
    .order_by(Reservation.starts_at, Reservation.id)
    .limit(1)
    .subquery("upcoming")
)
_NEXT_RESERVATION = select(_upcoming, Charger.friendly_name).join(
    Charger, Charger.id == _upcoming.c.charger_id
)
NEXT_RESERVATION_QUERY = _NEXT_RESERVATION  # bound ``account_id`` and ``now``

_tariff_now, _in_force_now = version_in_force(
    plan_tariff(), bindparam("now", type_=ChargingSession.started_at.type)
)
_ACCOUNT_PLAN = (
    select(Plan.id, Plan.name, Plan.allowance_kwh, Plan.currency, *version_columns(_tariff_now))
    .select_from(Account)
    .outerjoin(Plan, Plan.id == Account.plan_id)
    .outerjoin(_tariff_now, _in_force_now)
    .where(Account.id == bindparam("account_id"))
)


def active_session(session: Session, account_id: str, now: datetime) -> ActiveSession | None:
    """The account's session in progress (``ended_at`` empty), the most recently started one,
    with its cost so far at ``now`` (``cost_now``: what ``live_cost`` says), in one statement.

    "In progress" has no time condition: ``ended_at`` is empty, the same test that makes a
    charger "In use" (see ``charger_status_expression``), so the banner and the card agree.
    """
    row = core_rows(session, _ACTIVE_SESSION, {"account_id": account_id}).first()
    return None if row is None else active_session_from(row, now)


def active_session_from(row: Any, now: datetime) -> ActiveSession:
    """A row of ``ACTIVE_SESSION_QUERY`` (its columns by name) as the banner reads it."""
    return ActiveSession(
        row.id, row.friendly_name, row.started_at, kwh_figure(row.energy_kwh), cost_now(row, now)
    )


def recent_sessions(
    session: Session, account_id: str, now: datetime, limit: int = 5
) -> list[SessionRow]:
    """The account's last ``limit`` sessions, newest first, each with its cost: the stored one
    once finalized, else what it costs so far at ``now`` (the banner's rule, so the session in
    progress costs here what the banner says)."""
    rows = core_rows(
        session, _RECENT_SESSIONS, {"account_id": account_id, "limit": max(limit, 0)}
    ).all()
    return [
        SessionRow(
            r.id,
            r.friendly_name,
            r.started_at,
            r.ended_at,
            kwh_figure(r.energy_kwh),
            bool(r.finalized),
            r.energy_disputed_at is not None,
            _recent_cost(r, now),
        )
        for r in rows
    ]


def _recent_cost(row: Any, now: datetime) -> SessionCost | None:
    if row.energy_disputed_at is not None:
        return None
    return stored_cost(row) if row.finalized else cost_now(row, now)


def next_reservation(session: Session, account_id: str, now: datetime) -> ReservationRow | None:
    """Pending/confirmed/active reservations ending after ``now``: the earliest-starting one."""
    row = core_rows(session, _NEXT_RESERVATION, {"account_id": account_id, "now": now}).first()
    if row is None:
        return None
    return ReservationRow(
        row.id, row.friendly_name, row.starts_at, row.ends_at, ReservationStatus(row.status).value
    )


def day_buckets(period: Period) -> list[tuple[date, datetime, datetime]]:
    """``(day, start_utc, end_utc)`` for each local day of the period.

    Computed with zoneinfo, so a 23 h or 25 h DST day gets its true length; this list is the
    single definition of "which local day" that the SQL below reproduces on both databases.
    """
    edges = [local_midnight_utc(d, period.tz) for d in period.days]
    edges.append(period.end_utc)
    return [(d, edges[i], edges[i + 1]) for i, d in enumerate(period.days)]


def local_day_expression(
    started_at: SQLColumnExpression[datetime], period: Period
) -> ColumnElement[date]:
    """The local calendar day (``period.tz``) of a UTC timestamp column, as SQL, for the instants
    inside ``period``: exact to the microsecond, and the same on PostgreSQL and SQLite.

    No time-zone database is consulted in SQL. From ``day_buckets``: a run of 24-hour days has
    one fixed UTC offset, so there the day is ``date(utc + offset)``; a DST day (23 h, 25 h) is
    matched by its exact UTC bounds. A year in Europe/Berlin is a CASE with 5 branches.
    Reused wherever usage is bucketed by day (dashboard, analytics, exports).
    """
    branches: list[tuple[datetime, ColumnElement[date]]] = []  # (applies while < bound, day)
    previous_shift: int | None = None
    for day, start, end in day_buckets(period):
        if end - start == timedelta(days=1):
            shift = int(
                (datetime.combine(day, time.min) - start.replace(tzinfo=None)).total_seconds()
            )
            if shift == previous_shift:
                branches[-1] = (end, branches[-1][1])  # extend the run
                continue
            expr: ColumnElement[date] = ShiftedUTCDate(started_at, literal_column(str(shift)))
            previous_shift = shift
        else:
            expr = literal(day, Date())
            previous_shift = None
        branches.append((end, expr))
    if not branches:
        return literal(None, Date())
    if len(branches) == 1:
        return branches[0][1]
    return case(
        *((started_at < bound, expr) for bound, expr in branches[:-1]), else_=branches[-1][1]
    )


@dataclass(frozen=True)
class AccountUsage:
    """What an account charged in a period (the spec's usage rule: a session counts on the
    local day it started, one in progress with its energy so far; disputed energy nowhere)."""

    days: pd.DataFrame  # ``day`` (date), ``energy_kwh`` (float): every day, zeros included
    cost: Decimal | None  # the sum of the stored costs (3 decimals); None: no session has one
    in_progress: tuple[str, ...]  # its sessions in progress (no stored cost yet), by id

    def cost_with(self, live: Mapping[str, SessionCost]) -> Decimal | None:
        """The period's cost: the stored costs plus the cost so far of its sessions in progress
        (``live``: ``live_costs`` of ``in_progress``); None when nothing prices any of them."""
        so_far = [live[i].total for i in self.in_progress if i in live]
        if self.cost is None and not so_far:
            return None
        return sum(so_far, self.cost if self.cost is not None else Decimal(0))


def account_usage(session: Session, account_id: str, period: Period) -> AccountUsage:
    """The account's energy per local day of the period, the stored cost of its sessions and
    which of them are still in progress (their cost so far: ``data.pricing.tariffs.live_costs``
    of those ids), in one statement: from ``account_days`` (at most a row per day, migration
    0031) when that is exact for the period, else from its sessions."""
    days = period.days
    if not days:
        return AccountUsage(_usage_frame([], []), None, ())
    window = day_window(period)
    if window is not None:
        found = _usage_from_days(session, account_id, period, window)
        if found is not None:
            return found
    return account_usage_from_sessions(session, account_id, period)


def account_usage_from_sessions(session: Session, account_id: str, period: Period) -> AccountUsage:
    """``account_usage`` from the account's sessions of the period (an index range of
    ``ix_sessions_account_started``): when ``account_days`` cannot answer exactly."""
    days = period.days
    if not days:
        return AccountUsage(_usage_frame([], []), None, ())
    rows = core_rows(session, _account_usage_statement(period), {"account_id": account_id}).all()
    totals = {r.day: kwh_figure(r.energy_kwh) for r in rows if r.in_progress is None}
    # A day's SUM of NUMERIC(14, 3): exact on PostgreSQL, a float on SQLite (read through str,
    # rounded to the 3 decimals every cost has), then added up exactly as Decimals.
    costs = [Decimal(str(r.cost)).quantize(KWH) for r in rows if r.cost is not None]
    return AccountUsage(
        _usage_frame(days, [totals.get(d, 0.0) for d in days]),
        sum(costs, Decimal("0.000")) if costs else None,
        tuple(r.in_progress for r in rows if r.in_progress is not None),
    )


def _usage_from_days(
    session: Session, account_id: str, period: Period, window: DayWindow
) -> AccountUsage | None:
    """``account_usage`` from ``account_days`` (at most a row per day), its sessions in progress
    and the zone's stored runs in one statement; None when those runs are not the ones the
    period was checked with (the zone changed): the caller scans sessions then."""
    rows = core_rows(session, _days_statement(period, window), {"account_id": account_id}).all()
    stored = [(r.day, r.sessions, r.in_progress) for r in rows if r.kind == _ZONE_ROW]
    if not stored_runs_match(window, stored):
        return None
    per_day = {r.day: r for r in rows if r.kind == _DAY_ROW}
    # int / int is the correctly rounded double of wh / 1000, as float(Decimal) of the scan's
    # 3-decimal sum is: the same float, without a Decimal per day.
    energy = [
        per_day[n].energy_wh / 1000 if n in per_day else 0.0
        for n in range(window.first, window.end)
    ]
    costs = [from_milli(r.cost_milli) for r in per_day.values() if r.costed]
    return AccountUsage(
        _usage_frame(period.days, energy),
        sum(costs, Decimal("0.000")) if costs else None,
        tuple(r.in_progress for r in rows if r.kind == _RUNNING_ROW),
    )


_DAY_ROW, _RUNNING_ROW, _ZONE_ROW = 0, 1, 2


@functools.lru_cache(maxsize=32)
def _days_statement(period: Period, window: DayWindow) -> CompoundSelect[*tuple[Any, ...]]:
    s, d, z = ChargingSession, AccountDay, AccountDayZone
    nothing = literal(None, BigInteger())
    days = select(
        literal(_DAY_ROW).label("kind"),
        cast(d.day, BigInteger).label("day"),
        d.sessions.label("sessions"),
        d.energy_wh,
        d.cost_milli,
        d.costed,
        literal(None, s.id.type).label("in_progress"),
    ).where(d.account_id == bindparam("account_id"), d.day >= window.first, d.day < window.end)
    # Its sessions in progress (partial index ix_sessions_in_progress_account), ids only.
    running = select(
        literal(_RUNNING_ROW), nothing, nothing, nothing, nothing, nothing, s.id
    ).where(
        s.account_id == bindparam("account_id"),
        s.started_at >= period.start_utc,
        s.started_at < period.end_utc,
        s.counted(),
        s.ended_at.is_(None),
    )
    # The stored runs covering the window: the one its start is in and those after, to hi.
    first_run = select(func.max(z.start_s)).where(z.start_s <= window.lo).scalar_subquery()
    runs = select(
        literal(_ZONE_ROW), z.start_s, cast(z.offset_s, BigInteger), nothing, nothing, nothing,
        cast(z.zone, s.id.type),
    ).where(z.start_s >= first_run, z.start_s < window.hi)  # fmt: skip
    return union_all(days, running, runs)


@functools.lru_cache(maxsize=32)
def _account_usage_statement(period: Period) -> CompoundSelect[*tuple[Any, ...]]:
    """Built once per period (every account asks for the same month): its day CASE and its
    compilation cost more than the query takes."""
    s = ChargingSession
    in_range = [
        s.account_id == bindparam("account_id"),
        s.started_at >= period.start_utc,
        s.started_at < period.end_utc,
        s.counted(),  # disputed energy counts once an admin resolved it
    ]
    # One range scan of ix_sessions_account_started bounded by the period, grouped by local day:
    # the cost is the account's sessions in the period, nothing per day and nothing per account.
    # Energy and stored cost ride along in the index (PostgreSQL INCLUDE, migration 0018).
    in_period = (
        select(
            local_day_expression(s.started_at, period).label("day"),
            s.energy_kwh,
            s.cost_total,
        )
        .where(*in_range)
        .subquery("in_period")
    )
    c = in_period.c
    # Summed as NUMERIC in SQL, rounded to the schema's 3 decimals in Python; a day's cost is
    # NULL when none of its sessions has one.
    per_day = select(
        c.day,
        func.sum(c.energy_kwh).label("energy_kwh"),
        func.sum(c.cost_total).label("cost"),
        literal(None, s.id.type).label("in_progress"),
    ).group_by(c.day)
    # Its sessions in progress, in the same round trip (partial index
    # ix_sessions_in_progress_account): a row each, only the id filled in.
    running = select(
        literal(None, Date()),
        literal(None, s.energy_kwh.type),
        literal(None, s.cost_total.type),
        s.id,
    ).where(*in_range, s.ended_at.is_(None))
    return union_all(per_day, running)


def _usage_frame(days: list[date], energy: list[float]) -> pd.DataFrame:
    # From typed arrays: a third of what building it from two Series costs.
    return pd.DataFrame(
        {
            "day": np.array(days, dtype=object),
            "energy_kwh": np.array(energy, dtype=np.float64),
        }
    )


def usage_total_kwh(usage: pd.DataFrame) -> float:
    """The total of an ``account_usage`` frame, exact to the 3 decimals its days carry.

    ``frame["energy_kwh"].sum()`` can give 12.300000000000001; the spec wants the chart, the
    total and the plan gauge to agree to the last digit.
    """
    days = (Decimal(str(float(v))) for v in usage["energy_kwh"].tolist())
    return float(sum(days, Decimal(0)).quantize(KWH))


def account_plan(session: Session, account_id: str, now: datetime) -> AccountPlan:
    """The account's plan and the tariff version in force at ``now`` that prices its sessions,
    in one statement (an unknown account: neither)."""
    row = core_rows(session, _ACCOUNT_PLAN, {"account_id": account_id, "now": now}).first()
    if row is None:
        return AccountPlan(None, None)
    plan = (
        None
        if row.id is None
        else PlanRow(row.id, row.name, kwh_figure(row.allowance_kwh), row.currency)
    )
    return AccountPlan(plan, version_in_row(row))


_CONNECTORS = (
    select(ConnectorStatus.charger_id, ConnectorStatus.connector_id, ConnectorStatus.status)
    .where(
        ConnectorStatus.charger_id.in_(bindparam("ids", expanding=True)),
        ConnectorStatus.connector_id > 0,
    )
    .order_by(ConnectorStatus.charger_id, ConnectorStatus.connector_id)
)


def charger_connectors(
    session: Session, charger_ids: Collection[str]
) -> dict[str, list[ConnectorReport]]:
    """The connectors each of ``charger_ids`` reported (``connector_id`` > 0, in order) with
    their latest status; a charger that reported none is left out. Connectors are not modelled
    per charger: these are what each charger said of itself over OCPP (a primary-key range of
    ``connector_statuses`` per charger). Nothing here says whether the account may see them."""
    found: dict[str, list[ConnectorReport]] = {}
    if not charger_ids:
        return found
    for charger_id, connector_id, status in core_rows(
        session, _CONNECTORS, {"ids": list(charger_ids)}
    ):
        found.setdefault(charger_id, []).append(ConnectorReport(connector_id, status))
    return found


def visible_charger_condition(account_id: str) -> ColumnElement[bool]:
    """Public chargers, plus restricted ones granted to ``account_id`` (over ``Charger``)."""
    granted = select(ChargerAccess.charger_id).where(ChargerAccess.account_id == account_id)
    return or_(Charger.visibility == Visibility.public, Charger.id.in_(granted))


def visible_chargers(
    session: Session,
    account_id: str,
    now: datetime,
    limit: int = CHARGER_LIMIT,
    *,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> ChargerList:
    """Public chargers and those granted to the account, with their status at ``now``, in one
    SQL statement. Requests answer from the workers' snapshot instead
    (``data.chargers.snapshots.snapshot_chargers``), which the tests keep equal to this.

    One query whose cost does not grow with the fleet: the status rule runs only for the few
    chargers that may not be Online (``maybe_not_online_ids``); every other visible charger is
    Online, so the list takes the first ones by name and the counts come from plain counts.
    """
    visible = visible_charger_condition(account_id)
    candidates = maybe_not_online_ids(now, offline_after_s).cte("maybe_not_online")
    special = (
        select(
            Charger.id,
            Charger.friendly_name,
            Charger.connector_type,
            Charger.max_power_kw,
            charger_status_expression(now, offline_after_s).label("status"),
        )
        .where(visible, Charger.id.in_(select(candidates.c.id)))
        # Evaluate each status once: the planners would otherwise inline the CASE (and its
        # subqueries) into the sort key and the counts as well.
        .cte("special")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    if _SQLITE_HAS_MATERIALIZED:
        special = special.prefix_with("MATERIALIZED", dialect="sqlite")
    total = select(func.count()).select_from(Charger).where(visible).scalar_subquery()
    special_total = select(func.count()).select_from(special).scalar_subquery()
    special_online = (
        select(func.count())
        .select_from(special)
        .where(special.c.status == ChargerStatus.online.value)
        .scalar_subquery()
    )
    if limit <= 0:
        # Nothing to list, but the counts pill still needs its figures.
        counts = session.execute(select(total, special_total, special_online)).one()
        all_visible, maybe, online = (int(v or 0) for v in counts)
        return ChargerList([], all_visible, all_visible - maybe + online)
    plain = (
        select(
            Charger.id,
            Charger.friendly_name,
            Charger.connector_type,
            Charger.max_power_kw,
            literal(ChargerStatus.online.value).label("status"),
        )
        .where(visible, Charger.id.not_in(select(candidates.c.id)))
        .order_by(Charger.friendly_name, Charger.id)
        .limit(limit)
        .cte("plain")
    )
    listed = union_all(select(plain), select(special)).subquery("listed")
    rows = session.execute(
        select(
            listed,
            total.label("visible_total"),
            special_total.label("special_total"),
            special_online.label("special_online"),
        )
        .order_by(
            case(STATUS_RANK, value=listed.c.status, else_=len(STATUS_RANK)),
            listed.c.friendly_name,
            listed.c.id,
        )
        .limit(limit)
    ).all()
    if not rows:
        return ChargerList([], 0, 0)
    chargers = [
        ChargerRow(
            r.id,
            r.friendly_name,
            ConnectorType(r.connector_type).value,
            float(r.max_power_kw),
            ChargerStatus(r.status),
        )
        for r in rows
    ]
    first = rows[0]
    available = first.visible_total - first.special_total + first.special_online
    return ChargerList(chargers, int(first.visible_total), int(available))
