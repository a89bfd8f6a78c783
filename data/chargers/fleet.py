"""The operator's fleet: status counts and the table of every charger, paged, sorted and filtered
in SQL (and the same filters for its Export CSV).

Every figure is computed in SQL. The status is ``data.chargers.status.charger_status_expression``
(the one rule the customer view uses too). The table reads its ag-grid request through
``data.core.grid`` with an allow-list of columns and operators; anything else in the request is
ignored, never pasted into SQL. Rules: ``shared/spec/data-exchange.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, case, false, func, select
from sqlalchemy.orm import Session

from data.chargers.status import (
    OFFLINE_AFTER_SECONDS,
    ChargerStatus,
    charger_status_expression,
    chargers_with_status,
)
from data.charging.dashboard import kwh_figure
from data.core.grid import (
    ColumnFilter,
    GridRequest,
    SortKey,
    choice_values,
    combine,
    number_condition,
    parse_grid_request,
    text_condition,
)
from data.core.models import Charger, ChargerAccess, ChargingSession, ConnectorType, Visibility
from data.core.sql import Bytewise

RECENT_DAYS = 30  # "sessions and kWh in the last 30 days" on the fleet table
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
    fleet = chargers_with_status(now, offline_after_s).cte("fleet")
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
                energy_kwh_30d=kwh_figure(r.energy_kwh_30d),
                granted_accounts=int(r.g),
            )
            for r in rows
        ],
        int(total),
    )


def fleet_filter_condition(
    columns: Mapping[str, SQLColumnExpression[Any]], f: ColumnFilter
) -> ColumnElement[bool]:
    """The WHERE condition for one column filter of the fleet table.

    ``columns`` maps the table's column names to their SQL expressions (the fleet list's or the
    fleet export's), so the page and its Export CSV filter with the same rule.
    """
    parts: list[ColumnElement[bool]] = []
    for c in f.conditions:
        if f.column == "friendly_name":
            # The name filter (and the search box) also finds a charger by its id.
            parts.append(text_condition([columns["friendly_name"], columns["charger_id"]], c))
        elif f.column == "charger_id":
            parts.append(text_condition([columns["charger_id"]], c))
        elif f.column in FLEET_CHOICE_COLUMNS:
            values = choice_values(FLEET_CHOICE_COLUMNS[f.column], c)
            parts.append(columns[f.column].in_(values) if values else false())
        else:
            parts.append(number_condition(columns[f.column], c))
    return combine(parts, f.join)


def fleet_conditions(
    now: datetime,
    *,
    status: str | None = None,
    search: str | None = None,
    filters: Sequence[ColumnFilter] = (),
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> list[ColumnElement[bool]]:
    """The fleet table's filters as WHERE conditions on ``Charger`` rows, for its Export CSV:
    the status pill (``status``), the search box (``search``: name or id) and the column menus
    (``filters``, from ``parse_fleet_request``), read by the table's own parser and SQL."""
    model: dict[str, Any] = {}
    if status is not None:
        model["status"] = {"filterType": "text", "type": "equals", "filter": status}
    if search is not None:
        model["friendly_name"] = {"filterType": "text", "type": "contains", "filter": search}
    every = (*parse_fleet_request({"filterModel": model}).filters, *filters)
    if not every:
        return []
    columns: dict[str, SQLColumnExpression[Any]] = {
        "charger_id": Charger.id,
        "friendly_name": Charger.friendly_name,
        "connector_type": Charger.connector_type,
        "max_power_kw": Charger.max_power_kw,
        "visibility": Charger.visibility,
        "status": charger_status_expression(now, offline_after_s),
        "sessions_30d": _recent(now, func.count()),
        "energy_kwh_30d": func.coalesce(_recent(now, func.sum(ChargingSession.energy_kwh)), 0),
    }
    return [fleet_filter_condition(columns, f) for f in every]


def _recent(now: datetime, value: Any) -> ColumnElement[Any]:
    """A charger's "in the last 30 days" figure (sessions started in ``[now - 30 days, now]``,
    as on the table), as a subquery per ``Charger`` row."""
    s = ChargingSession
    return (
        select(value)
        .where(
            s.charger_id == Charger.id,
            s.started_at >= now - timedelta(days=RECENT_DAYS),
            s.started_at <= now,
            s.counted(),
        )
        .correlate(Charger)
        .scalar_subquery()
    )


def _fleet_order(
    columns: Mapping[str, ColumnElement[Any]], sort: Sequence[SortKey]
) -> list[ColumnElement[Any]]:
    """ORDER BY for the requested keys, then by name and id so pages never overlap."""
    order: list[ColumnElement[Any]] = []
    for key in sort:
        column = columns[key.column]
        keys: list[ColumnElement[Any]]
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
