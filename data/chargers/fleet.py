"""The operator's fleet: status counts, the table of every charger, one charger's detail, and the
edits an operator makes to a charger (name, visibility, which accounts may see it).

Every figure is computed in SQL. The status is ``data.charging.dashboard.charger_status_expression``
(the one rule the customer view uses too). The table pages, sorts and filters in SQL from an ag-grid
request that is translated through an allow-list of columns and operators; anything else in the
request is ignored, never pasted into SQL. Rules: ``shared/spec/data-exchange.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from data.chargers.grants import add_grant, remove_grant
from data.charging.dashboard import (
    KWH,
    OFFLINE_AFTER_SECONDS,
    ChargerStatus,
    charger_status_expression,
    day_buckets,
    local_day_expression,
)
from data.core.models import (
    ID_LENGTH,
    Account,
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorType,
    Reservation,
    ReservationStatus,
    Role,
    User,
    UTCDateTime,
    Visibility,
)
from data.core.periods import Period
from data.core.sql import Bytewise, SecondsBetween

RECENT_DAYS = 30  # "sessions and kWh in the last 30 days" on the fleet table
MAX_GRID_ROWS = 500  # rows per grid request, whatever the browser asks for
MAX_SORT_KEYS = 3
MAX_CONDITIONS = 4
NAME_MAX_LENGTH = 200  # chargers.friendly_name is String(200)
ACCOUNT_SEARCH_LIMIT = 20
UPCOMING_RESERVATIONS = 20
PAST_RESERVATIONS = 10

# Fleet table columns (the grid's colId values): the only names a request may sort or filter by.
FLEET_TEXT_COLUMNS = frozenset({"friendly_name", "charger_id"})
FLEET_CHOICE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "connector_type": tuple(c.value for c in ConnectorType),
    "visibility": tuple(v.value for v in Visibility),
    "status": tuple(s.value for s in ChargerStatus),
}
FLEET_NUMBER_COLUMNS = frozenset({"max_power_kw", "sessions_30d", "energy_kwh_30d"})
FLEET_SORTABLE = frozenset(
    {*FLEET_TEXT_COLUMNS, *FLEET_CHOICE_COLUMNS, *FLEET_NUMBER_COLUMNS, "last_seen_at"}
)
_RECENT_COLUMNS = frozenset({"sessions_30d", "energy_kwh_30d"})
# Statuses sort in the order an operator triages them: what needs attention first.
_STATUS_SORT = {
    ChargerStatus.out_of_order.value: 0,
    ChargerStatus.offline.value: 1,
    ChargerStatus.in_use.value: 2,
    ChargerStatus.reserved.value: 3,
    ChargerStatus.online.value: 4,
}

TEXT_OPERATORS = frozenset(
    {"contains", "notContains", "equals", "notEqual", "startsWith", "endsWith", "blank", "notBlank"}
)
NUMBER_OPERATORS = frozenset(
    {
        "equals",
        "notEqual",
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
        "inRange",
        "blank",
        "notBlank",
    }
)
_NEGATIVE_TEXT = frozenset({"notContains", "notEqual", "blank"})


# --- errors ----------------------------------------------------------------------------------


class FleetInputError(ValueError):
    """Bad input for a fleet edit; the message is meant for the operator, as is."""


class ChargerNotFoundError(FleetInputError):
    def __init__(self) -> None:
        super().__init__("That charger no longer exists.")


# --- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetRow:
    charger_id: str
    friendly_name: str
    connector_type: str
    max_power_kw: float
    visibility: str
    last_seen_at: datetime | None  # None: never heard from
    status: ChargerStatus
    sessions_30d: int
    energy_kwh_30d: float
    granted_accounts: int


@dataclass(frozen=True)
class FleetPage:
    rows: list[FleetRow]
    total: int  # chargers matching the filters, all pages together


@dataclass(frozen=True)
class ChargerDetail:
    charger_id: str
    friendly_name: str
    connector_type: str
    max_power_kw: float
    visibility: str
    last_seen_at: datetime | None
    status: ChargerStatus


@dataclass(frozen=True)
class ChargerSessionRow:
    session_id: str
    account_id: str
    started_at: datetime
    ended_at: datetime | None  # None: in progress
    energy_kwh: float
    finalized: bool
    energy_disputed: bool = False  # counted nowhere until an admin resolves it


@dataclass(frozen=True)
class ChargerReservationRow:
    reservation_id: str
    account_id: str
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass(frozen=True)
class GrantRow:
    account_id: str
    email: str
    display_name: str
    label: str | None


@dataclass(frozen=True)
class AccountOption:
    account_id: str
    email: str
    display_name: str
    label: str | None


# --- the grid request ------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool


@dataclass(frozen=True)
class Condition:
    operator: str
    value: str | float | None = None
    value_to: float | None = None  # inRange only


@dataclass(frozen=True)
class ColumnFilter:
    column: str
    conditions: tuple[Condition, ...]
    join: str = "AND"  # how conditions combine: "AND" or "OR"


@dataclass(frozen=True)
class GridRequest:
    """The part of an ag-grid infinite-model request we act on, already validated."""

    start: int = 0
    end: int = 100
    sort: tuple[SortKey, ...] = ()
    filters: tuple[ColumnFilter, ...] = ()

    @property
    def limit(self) -> int:
        return self.end - self.start


def parse_grid_request(
    raw: object,
    *,
    sortable: frozenset[str] = frozenset(),
    text_columns: frozenset[str] = frozenset(),
    number_columns: frozenset[str] = frozenset(),
    max_rows: int = MAX_GRID_ROWS,
) -> GridRequest:
    """``getRowsRequest`` (whatever the browser sent) -> a ``GridRequest``.

    Rows: ``0 <= start < end``, at most ``max_rows`` at once. Sort and filter entries naming a
    column outside the allow-lists, or an operator we don't know, are dropped silently: the grid
    then shows unsorted/unfiltered data rather than an error, and nothing reaches SQL unchecked.
    """
    if not isinstance(raw, Mapping):
        return GridRequest(0, min(100, max_rows))
    start = _non_negative_int(raw.get("startRow"), 0)
    end = _non_negative_int(raw.get("endRow"), start + 100)
    if end <= start:
        end = start + 100
    end = min(end, start + max_rows)

    sort: list[SortKey] = []
    sort_model = raw.get("sortModel")
    if isinstance(sort_model, list):
        for entry in sort_model:
            if not isinstance(entry, Mapping):
                continue
            column, direction = entry.get("colId"), entry.get("sort")
            if isinstance(column, str) and column in sortable and direction in ("asc", "desc"):
                if all(k.column != column for k in sort):
                    sort.append(SortKey(str(column), direction == "desc"))
            if len(sort) == MAX_SORT_KEYS:
                break

    filters: list[ColumnFilter] = []
    filter_model = raw.get("filterModel")
    if isinstance(filter_model, Mapping):
        for column, model in filter_model.items():
            if column in text_columns:
                parsed = _column_filter(str(column), model, "text")
            elif column in number_columns:
                parsed = _column_filter(str(column), model, "number")
            else:
                parsed = None
            if parsed is not None:
                filters.append(parsed)
    return GridRequest(start, end, tuple(sort), tuple(filters))


def _non_negative_int(value: object, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if not math.isfinite(value) or value < 0:
        return default
    return min(int(value), 10**9)


def _column_filter(column: str, model: object, kind: str) -> ColumnFilter | None:
    if not isinstance(model, Mapping):
        return None
    join = "AND"
    raw_conditions: list[object]
    if isinstance(model.get("conditions"), list):
        raw_conditions = list(model["conditions"])[:MAX_CONDITIONS]
        join = "OR" if model.get("operator") == "OR" else "AND"
    else:
        raw_conditions = [model]
    conditions = [c for c in (_condition(rc, kind) for rc in raw_conditions) if c is not None]
    if not conditions:
        return None
    return ColumnFilter(column, tuple(conditions), join)


def _condition(raw: object, kind: str) -> Condition | None:
    if not isinstance(raw, Mapping):
        return None
    operator = raw.get("type")
    if not isinstance(operator, str):
        return None
    if operator in ("blank", "notBlank"):
        return Condition(str(operator))
    if kind == "text":
        value = raw.get("filter")
        if operator not in TEXT_OPERATORS or not isinstance(value, str) or not value.strip():
            return None
        return Condition(str(operator), value.strip()[:NAME_MAX_LENGTH])
    number = _finite(raw.get("filter"))
    if operator not in NUMBER_OPERATORS or number is None:
        return None
    if operator == "inRange":
        upper = _finite(raw.get("filterTo"))
        if upper is None:
            return None
        return Condition("inRange", number, upper)
    return Condition(str(operator), number)


def _finite(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


# --- helpers -------------------------------------------------------------------------------


def _kwh(value: Decimal | float | None) -> float:
    if value is None:
        return 0.0
    return float(Decimal(value).quantize(KWH))


def _utc(value: datetime) -> ColumnElement[datetime]:
    """A bound timestamp with the schema's type (naive UTC text on SQLite, like the columns)."""
    return literal(value, UTCDateTime())


def _text_condition(haystacks: Sequence[ColumnElement[str]], c: Condition) -> ColumnElement[bool]:
    """One text condition over one or more columns (the name filter also searches the id).

    Case-insensitive on both databases (``lower`` on both sides, ``LIKE`` with escaping)."""
    if c.operator == "blank":
        return false()  # names and ids are never empty
    if c.operator == "notBlank":
        return true()
    needle = str(c.value).lower()
    tests: list[ColumnElement[bool]] = []
    for column in haystacks:
        low = func.lower(column)
        if c.operator in ("contains", "notContains"):
            tests.append(low.contains(needle, autoescape=True))
        elif c.operator in ("equals", "notEqual"):
            tests.append(low == needle)
        elif c.operator == "startsWith":
            tests.append(low.startswith(needle, autoescape=True))
        else:  # endsWith
            tests.append(low.endswith(needle, autoescape=True))
    matched = or_(*tests)
    return not_(matched) if c.operator in _NEGATIVE_TEXT else matched


def _choice_values(choices: Sequence[str], c: Condition) -> list[str]:
    """The allowed values a text condition selects (evaluated here, then ``IN`` in SQL)."""
    if c.operator == "blank":
        return []
    if c.operator == "notBlank":
        return list(choices)
    needle = str(c.value).lower()
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda v: needle in v,
        "notContains": lambda v: needle not in v,
        "equals": lambda v: v == needle,
        "notEqual": lambda v: v != needle,
        "startsWith": lambda v: v.startswith(needle),
        "endsWith": lambda v: v.endswith(needle),
    }
    return [v for v in choices if tests[c.operator](v.lower())]


def _number_condition(column: ColumnElement[Any], c: Condition) -> ColumnElement[bool]:
    if c.operator == "blank":
        return column.is_(None)
    if c.operator == "notBlank":
        return column.is_not(None)
    value = literal(c.value, Float())
    if c.operator == "equals":
        return column == value
    if c.operator == "notEqual":
        return column != value
    if c.operator == "lessThan":
        return column < value
    if c.operator == "lessThanOrEqual":
        return column <= value
    if c.operator == "greaterThan":
        return column > value
    if c.operator == "greaterThanOrEqual":
        return column >= value
    # inRange: ag-grid's default is exclusive at both ends
    low, high = sorted((float(c.value or 0), float(c.value_to or 0)))
    return and_(column > literal(low, Float()), column < literal(high, Float()))


def _combine(parts: list[ColumnElement[bool]], join: str) -> ColumnElement[bool]:
    return or_(*parts) if join == "OR" else and_(*parts)


# --- the fleet overview ----------------------------------------------------------------------


def fleet_counts(
    session: Session, now: datetime, *, offline_after_s: int = OFFLINE_AFTER_SECONDS
) -> dict[ChargerStatus, int]:
    """How many chargers are in each status at ``now``: one GROUP BY over every charger, every
    status present (zero when none)."""
    statuses = select(charger_status_expression(now, offline_after_s).label("status")).subquery(
        "statuses"
    )
    rows = session.execute(
        select(statuses.c.status, func.count()).group_by(statuses.c.status)
    ).all()
    counts = dict.fromkeys(ChargerStatus, 0)
    for status, n in rows:
        counts[ChargerStatus(status)] = int(n)
    return counts


def parse_fleet_request(raw: object) -> GridRequest:
    """The fleet table's ``getRowsRequest`` with the fleet's allow-lists."""
    return parse_grid_request(
        raw,
        sortable=FLEET_SORTABLE,
        text_columns=FLEET_TEXT_COLUMNS | frozenset(FLEET_CHOICE_COLUMNS),
        number_columns=FLEET_NUMBER_COLUMNS,
    )


def fleet_page(
    session: Session,
    now: datetime,
    request: GridRequest,
    *,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> FleetPage:
    """One page of the fleet table, sorted and filtered as ``request`` says, with the total.

    Sessions and kWh "in the last 30 days" are those started in ``[now - 30 days, now]``
    (a session started exactly 30 days ago counts). They come from one grouped subquery over
    ``ix_sessions_charger_started``: for the page's chargers only, unless the request sorts or
    filters by them, in which case for every charger (one range of the last 30 days, grouped).
    """
    since = now - timedelta(days=RECENT_DAYS)
    recent_filter = (
        ChargingSession.started_at >= since,
        ChargingSession.started_at <= now,
        ChargingSession.counted(),  # disputed energy counts nowhere until resolved
    )
    needs_recent = any(k.column in _RECENT_COLUMNS for k in request.sort) or any(
        f.column in _RECENT_COLUMNS for f in request.filters
    )

    # Each charger's status once (the planners would otherwise repeat the CASE in WHERE and
    # ORDER BY); 10,000 chargers cost a few milliseconds.
    fleet = select(
        Charger.id.label("charger_id"),
        Charger.friendly_name,
        Charger.connector_type,
        Charger.max_power_kw,
        Charger.visibility,
        Charger.last_seen_at,
        charger_status_expression(now, offline_after_s).label("status"),
    ).cte("fleet")
    source: Any = fleet
    columns: dict[str, ColumnElement[Any]] = dict(fleet.c)
    if needs_recent:
        everyone = (
            select(
                ChargingSession.charger_id,
                func.count().label("n"),
                func.sum(ChargingSession.energy_kwh).label("kwh"),
            )
            .where(*recent_filter)
            .group_by(ChargingSession.charger_id)
            .subquery("recent_all")
        )
        source = fleet.outerjoin(everyone, everyone.c.charger_id == fleet.c.charger_id)
        columns["sessions_30d"] = func.coalesce(everyone.c.n, 0)
        columns["energy_kwh_30d"] = func.coalesce(everyone.c.kwh, 0)

    where = [fleet_filter_condition(columns, f) for f in request.filters]
    # Sorting by the 30-day figures needs them for every charger; counting needs them only
    # when they are filtered on.
    filters_recent = any(f.column in _RECENT_COLUMNS for f in request.filters)
    counted = source if filters_recent else fleet
    total = session.scalar(select(func.count()).select_from(counted).where(*where)) or 0
    if request.start >= total:
        return FleetPage([], int(total))

    page = (
        select(*(col.label(name) for name, col in columns.items()))
        .select_from(source)
        .where(*where)
        .order_by(*_fleet_order(columns, request.sort))
        .limit(request.limit)
        .offset(request.start)
        .cte("page")
    )
    page_ids = select(page.c.charger_id)
    grants = (
        select(ChargerAccess.charger_id, func.count().label("n"))
        .where(ChargerAccess.charger_id.in_(page_ids))
        .group_by(ChargerAccess.charger_id)
        .subquery("grants")
    )
    query_columns: list[ColumnElement[Any]] = [*page.c, func.coalesce(grants.c.n, 0).label("g")]
    joined: Any = page.outerjoin(grants, grants.c.charger_id == page.c.charger_id)
    if not needs_recent:
        recent = (
            select(
                ChargingSession.charger_id,
                func.count().label("n"),
                func.sum(ChargingSession.energy_kwh).label("kwh"),
            )
            # Index range per page charger on (charger_id, started_at).
            .where(ChargingSession.charger_id.in_(page_ids), *recent_filter)
            .group_by(ChargingSession.charger_id)
            .subquery("recent")
        )
        joined = joined.outerjoin(recent, recent.c.charger_id == page.c.charger_id)
        query_columns += [
            func.coalesce(recent.c.n, 0).label("sessions_30d"),
            func.coalesce(recent.c.kwh, 0).label("energy_kwh_30d"),
        ]
    page_columns: dict[str, ColumnElement[Any]] = dict(page.c)
    rows = session.execute(
        select(*query_columns)
        .select_from(joined)
        .order_by(*_fleet_order(page_columns, request.sort))
    ).all()
    return FleetPage(
        [
            FleetRow(
                charger_id=r.charger_id,
                friendly_name=r.friendly_name,
                connector_type=ConnectorType(r.connector_type).value,
                max_power_kw=float(r.max_power_kw),
                visibility=Visibility(r.visibility).value,
                last_seen_at=r.last_seen_at,
                status=ChargerStatus(r.status),
                sessions_30d=int(r.sessions_30d),
                energy_kwh_30d=_kwh(r.energy_kwh_30d),
                granted_accounts=int(r.g),
            )
            for r in rows
        ],
        int(total),
    )


def fleet_filter_condition(
    columns: Mapping[str, ColumnElement[Any]], f: ColumnFilter
) -> ColumnElement[bool]:
    """The WHERE condition for one column filter of the fleet table.

    ``columns`` maps the table's column names to their SQL expressions (the fleet list's or the
    fleet export's), so the page and its Export CSV filter with the same rule.
    """
    parts: list[ColumnElement[bool]] = []
    for c in f.conditions:
        if f.column == "friendly_name":
            # The name filter (and the search box) also finds a charger by its id.
            parts.append(_text_condition([columns["friendly_name"], columns["charger_id"]], c))
        elif f.column == "charger_id":
            parts.append(_text_condition([columns["charger_id"]], c))
        elif f.column in FLEET_CHOICE_COLUMNS:
            values = _choice_values(FLEET_CHOICE_COLUMNS[f.column], c)
            parts.append(columns[f.column].in_(values) if values else false())
        else:
            parts.append(_number_condition(columns[f.column], c))
    return _combine(parts, f.join)


def _fleet_order(
    columns: Mapping[str, ColumnElement[Any]], sort: Sequence[SortKey]
) -> list[ColumnElement[Any]]:
    """ORDER BY for the requested keys, then by name and id so pages never overlap."""
    order: list[ColumnElement[Any]] = []
    for key in sort:
        column = columns[key.column]
        if key.column == "friendly_name":
            keys = [Bytewise(func.lower(column)), Bytewise(column)]
        elif key.column == "charger_id":
            keys = [Bytewise(column)]
        elif key.column == "status":
            keys = [case(_STATUS_SORT, value=column, else_=len(_STATUS_SORT))]
        else:
            keys = [column]
        for k in keys:
            if key.column == "last_seen_at":
                # Never seen is the stalest heartbeat: first when oldest-first, last otherwise.
                order.append(k.desc().nulls_last() if key.descending else k.asc().nulls_first())
            else:
                order.append(k.desc() if key.descending else k.asc())
    name = columns["friendly_name"]
    order += [Bytewise(func.lower(name)), Bytewise(name), Bytewise(columns["charger_id"])]
    return order


# --- one charger -----------------------------------------------------------------------------


def charger_detail(
    session: Session,
    charger_id: str,
    now: datetime,
    *,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> ChargerDetail | None:
    """The charger and its status at ``now``; None when there is no such charger."""
    if not _plausible_id(charger_id):
        return None
    row = session.execute(
        select(
            Charger.id,
            Charger.friendly_name,
            Charger.connector_type,
            Charger.max_power_kw,
            Charger.visibility,
            Charger.last_seen_at,
            charger_status_expression(now, offline_after_s).label("status"),
        ).where(Charger.id == charger_id)
    ).first()
    if row is None:
        return None
    return ChargerDetail(
        row.id,
        row.friendly_name,
        ConnectorType(row.connector_type).value,
        float(row.max_power_kw),
        Visibility(row.visibility).value,
        row.last_seen_at,
        ChargerStatus(row.status),
    )


def _plausible_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_LENGTH


def charger_session_count(session: Session, charger_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ChargingSession)
            .where(ChargingSession.charger_id == charger_id)
        )
        or 0
    )


def charger_sessions(
    session: Session, charger_id: str, offset: int, limit: int
) -> list[ChargerSessionRow]:
    """The charger's sessions, newest first, rows ``[offset, offset + limit)``."""
    rows = session.execute(
        select(
            ChargingSession.id,
            ChargingSession.account_id,
            ChargingSession.started_at,
            ChargingSession.ended_at,
            ChargingSession.energy_kwh,
            ChargingSession.finalized,
            ChargingSession.energy_disputed_at,
        )
        # Backward scan of ix_sessions_charger_started.
        .where(ChargingSession.charger_id == charger_id)
        .order_by(ChargingSession.started_at.desc(), ChargingSession.id.desc())
        .limit(max(0, min(limit, MAX_GRID_ROWS)))
        .offset(max(0, offset))
    ).all()
    return [
        ChargerSessionRow(
            r.id,
            r.account_id,
            r.started_at,
            r.ended_at,
            _kwh(r.energy_kwh),
            bool(r.finalized),
            r.energy_disputed_at is not None,
        )  # fmt: skip
        for r in rows
    ]


def charger_reservations(
    session: Session,
    charger_id: str,
    now: datetime,
    upcoming: int = UPCOMING_RESERVATIONS,
    past: int = PAST_RESERVATIONS,
) -> list[ChargerReservationRow]:
    """Reservations not yet ended (current and upcoming, soonest first), then the latest
    ``past`` ones that have ended (most recent first). Every status is listed."""
    columns = (
        Reservation.id,
        Reservation.account_id,
        Reservation.starts_at,
        Reservation.ends_at,
        Reservation.status,
    )
    ahead = session.execute(
        select(*columns)
        .where(Reservation.charger_id == charger_id, Reservation.ends_at > now)
        .order_by(Reservation.starts_at, Reservation.id)
        .limit(upcoming)
    ).all()
    behind = session.execute(
        select(*columns)
        .where(Reservation.charger_id == charger_id, Reservation.ends_at <= now)
        .order_by(Reservation.starts_at.desc(), Reservation.id.desc())
        .limit(past)
    ).all()
    return [
        ChargerReservationRow(
            r.id, r.account_id, r.starts_at, r.ends_at, ReservationStatus(r.status).value
        )
        for r in (*ahead, *behind)
    ]


def charger_daily_usage(
    session: Session, charger_id: str, period: Period, now: datetime
) -> pd.DataFrame:
    """One row per local day of ``period``: ``day``, ``energy_kwh``, ``hours`` (the day's length
    up to ``now``: 23, 24 or 25 for a past day, the hours so far today, 0 ahead), ``in_use_hours``
    and ``utilisation`` (in-use share of ``hours``, 0..1; NaN for a day still ahead).

    Energy counts on the local day a session started (the spec's rule). Time in use is each
    session's ``[started_at, ended_at or now)`` clipped to each local day. Both come from SQL
    aggregates: energy grouped by day; time grouped by (first day, last day) of each session,
    with sums of start and end offsets, which Python spreads over the days between (a handful
    of groups, never the sessions themselves).
    """
    buckets = day_buckets(period)
    days = [d for d, _, _ in buckets]
    if not days:
        return _daily_frame([], [], [], [])
    origin = period.start_utc
    horizon = min(period.end_utc, now)

    energy = _daily_energy(session, charger_id, period)
    busy = dict.fromkeys(days, 0.0)
    if horizon > origin:
        _add_time_in_use(session, charger_id, period, now, horizon, buckets, busy)

    def offset(moment: datetime) -> float:
        return (min(moment, horizon) - origin).total_seconds()

    hours = [max(0.0, offset(end) - offset(start)) / 3600 for _, start, end in buckets]
    in_use = [min(busy[d] / 3600, h) for d, h in zip(days, hours, strict=True)]
    return _daily_frame(days, [energy.get(d, 0.0) for d in days], hours, in_use)


def _daily_energy(session: Session, charger_id: str, period: Period) -> dict[date, float]:
    in_period = (
        select(
            local_day_expression(ChargingSession.started_at, period).label("day"),
            ChargingSession.energy_kwh,
        )
        .where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.started_at >= period.start_utc,
            ChargingSession.started_at < period.end_utc,
            ChargingSession.counted(),
        )
        .subquery("in_period")
    )
    rows = session.execute(
        select(in_period.c.day, func.sum(in_period.c.energy_kwh)).group_by(in_period.c.day)
    ).all()
    return {day: _kwh(kwh) for day, kwh in rows}


def _add_time_in_use(
    session: Session,
    charger_id: str,
    period: Period,
    now: datetime,
    horizon: datetime,
    buckets: list[tuple[date, datetime, datetime]],
    busy: dict[date, float],
) -> None:
    origin = period.start_utc
    ends = func.coalesce(ChargingSession.ended_at, _utc(now))
    # Each session clipped to [origin, horizon): both ends then lie inside the period, where
    # local_day_expression is exact.
    start = case(
        (ChargingSession.started_at < _utc(origin), _utc(origin)),
        else_=ChargingSession.started_at,
    )
    end = case((ends > _utc(horizon), _utc(horizon)), else_=ends)
    clipped = (
        select(
            local_day_expression(start, period).label("first_day"),
            local_day_expression(end, period).label("last_day"),
            SecondsBetween(_utc(origin), start).label("start_offset"),
            SecondsBetween(_utc(origin), end).label("end_offset"),
        )
        .where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.started_at < horizon,
            or_(ChargingSession.ended_at.is_(None), ChargingSession.ended_at > origin),
        )
        .subquery("clipped")
    )
    groups = session.execute(
        select(
            clipped.c.first_day,
            clipped.c.last_day,
            func.count(),
            func.sum(clipped.c.start_offset),
            func.sum(clipped.c.end_offset),
        ).group_by(clipped.c.first_day, clipped.c.last_day)
    ).all()

    # Offsets (seconds from origin) where each day starts and ends, the end clipped at now.
    index = {d: i for i, (d, _, _) in enumerate(buckets)}
    day_start = [(s - origin).total_seconds() for _, s, _ in buckets]
    day_end = [(min(e, horizon) - origin).total_seconds() for _, _, e in buckets]
    for first, last, n, start_sum, end_sum in groups:
        if n == 0 or first not in index:
            continue
        i, count = index[first], int(n)
        # A clipped end exactly at the period's end can read as the day after: same thing.
        j = index.get(last, len(buckets))
        if j == i:
            busy[first] += float(end_sum) - float(start_sum)
            continue
        busy[first] += count * day_end[i] - float(start_sum)
        for k in range(i + 1, min(j, len(buckets))):
            busy[buckets[k][0]] += count * (day_end[k] - day_start[k])
        if j < len(buckets):
            busy[last] += float(end_sum) - count * day_start[j]


def _daily_frame(
    days: list[date], energy: list[float], hours: list[float], in_use: list[float]
) -> pd.DataFrame:
    utilisation = [u / h if h > 0 else math.nan for u, h in zip(in_use, hours, strict=True)]
    return pd.DataFrame(
        {
            "day": pd.Series(days, dtype=object),
            "energy_kwh": pd.Series(energy, dtype="float64"),
            "hours": pd.Series(hours, dtype="float64"),
            "in_use_hours": pd.Series(in_use, dtype="float64"),
            "utilisation": pd.Series(utilisation, dtype="float64"),
        }
    )


# --- who may see a restricted charger --------------------------------------------------------


def charger_grants(session: Session, charger_id: str) -> list[GrantRow]:
    rows = session.execute(
        select(Account.id, User.email, User.display_name, Account.label)
        .join(ChargerAccess, ChargerAccess.account_id == Account.id)
        .join(User, User.id == Account.user_id)
        .where(ChargerAccess.charger_id == charger_id)
        .order_by(Account.id)
    ).all()
    return [GrantRow(r.id, r.email, r.display_name, r.label) for r in rows]


def search_accounts(
    session: Session, text: object, limit: int = ACCOUNT_SEARCH_LIMIT
) -> list[AccountOption]:
    """Customer accounts whose id, email, label or name contains ``text`` (any case).

    Admin accounts are never offered: a charger grant is for customers."""
    if not isinstance(text, str) or not text.strip():
        return []
    needle = text.strip().lower()[:NAME_MAX_LENGTH]
    matches = or_(
        *(
            func.lower(col).contains(needle, autoescape=True)
            for col in (Account.id, User.email, Account.label, User.display_name)
        )
    )
    rows = session.execute(
        select(Account.id, User.email, User.display_name, Account.label)
        .join(User, User.id == Account.user_id)
        .where(Account.role == Role.customer, matches)
        .order_by(Bytewise(Account.id))
        .limit(max(0, limit))
    ).all()
    return [AccountOption(r.id, r.email, r.display_name, r.label) for r in rows]


def _charger_for_update(session: Session, charger_id: object) -> Charger:
    if not _plausible_id(charger_id):
        raise ChargerNotFoundError
    charger = session.get(Charger, charger_id)
    if charger is None:
        raise ChargerNotFoundError
    return charger


def validate_friendly_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FleetInputError("Give the charger a name: it can't be empty.")
    name = " ".join(value.split())  # one line, single spaces
    if len(name) > NAME_MAX_LENGTH:
        raise FleetInputError(f"Keep the name to {NAME_MAX_LENGTH} characters or fewer.")
    return name


def validate_visibility(value: object) -> Visibility:
    if value not in (Visibility.public.value, Visibility.restricted.value):
        raise FleetInputError("Choose public or restricted.")
    return Visibility(value)


def update_charger(
    session: Session, charger_id: object, friendly_name: object, visibility: object
) -> tuple[str, Visibility]:
    """Rename the charger and set its visibility; returns what was saved (the name tidied).

    Grants stay as they are: they only matter while the charger is restricted. Raises
    ``FleetInputError`` with a message to show."""
    charger = _charger_for_update(session, charger_id)
    name = validate_friendly_name(friendly_name)
    chosen = validate_visibility(visibility)
    charger.friendly_name = name
    charger.visibility = chosen
    session.flush()
    return name, chosen


def _customer_account(session: Session, account_id: object) -> Account:
    if not isinstance(account_id, str) or not account_id.strip():
        raise FleetInputError("Pick an account first.")
    shown = account_id if len(account_id) <= ID_LENGTH else account_id[:ID_LENGTH] + "…"
    account = session.get(Account, account_id) if len(account_id) <= ID_LENGTH else None
    if account is None:
        raise FleetInputError(f"There is no account “{shown}”.")
    if account.role != Role.customer:
        raise FleetInputError(
            f"“{shown}” is an admin account: only customer accounts can be granted a charger."
        )
    return account


def grant_charger(session: Session, charger_id: object, account_id: object) -> bool:
    """Let a customer account see a restricted charger. True if granted now, False if it
    already had access. Raises ``FleetInputError`` (unknown charger or account, an admin
    account, a public charger)."""
    charger = _charger_for_update(session, charger_id)
    account = _customer_account(session, account_id)
    if charger.visibility != Visibility.restricted:
        raise FleetInputError(
            "This charger is public: every customer already sees it. "
            "Make it restricted to choose who sees it."
        )
    return add_grant(session, account.id, charger.id)


def revoke_charger(session: Session, charger_id: object, account_id: object) -> bool:
    """Take the grant away. True if it was there, False if the account had no grant."""
    charger = _charger_for_update(session, charger_id)
    if not isinstance(account_id, str) or len(account_id) > ID_LENGTH:
        raise FleetInputError("Pick an account first.")
    return remove_grant(session, account_id, charger.id)
