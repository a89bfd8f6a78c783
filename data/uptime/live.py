"""The outage log kept live by the OCPP feed: ``out_of_order`` and ``offline`` outages opened and
closed as they happen (spec "Outages and uptime": the same Offline and Out of order drivers see).

Every write is idempotent against the partial unique index ``ux_outages_open_live`` (at most one
open outage per charger and live kind): a replayed message, a restarted server or two server
instances sweeping at once never open a second one.

- Out of order: ``follow_reports`` in the StatusNotification's own transaction opens one from
  the report that makes the charger Out of order and closes it at the report that ends that
  (one statement: the rule is evaluated in it).
- Offline: ``open_offline_outages`` (a periodic sweep, never in a message's path) opens one from
  the last message of every charger silent past the threshold; ``close_offline`` (in every
  message's transaction, via ``data.ocpp.messages.touch``) closes it at the next message.
- ``backfill_outages``: both, from what the database knows now (``flask backfill-outages``).
"""

from __future__ import annotations

import typing
import uuid
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data.chargers.status import OUT_OF_ORDER_REPORTS, reports_out_of_order
from data.core.models import Charger, ConnectorStatus, UTCDateTime
from data.uptime.outages import _OPEN_LIVE, Outage, OutageKind, UptimeMonthFilled
from data.uptime.stored import refresh_stored_months

_outages = typing.cast(Table, Outage.__table__)
_chargers = typing.cast(Table, Charger.__table__)
_at = bindparam("at", type_=UTCDateTime())
_COLUMNS = ["id", "charger_id", "started_at", "kind"]


def _open(kind: OutageKind) -> ColumnElement[bool]:
    return and_(
        _outages.c.charger_id == bindparam("for_charger"),
        _outages.c.kind == kind.value,
        _outages.c.ended_at.is_(None),
    )


def _close(kind: OutageKind) -> typing.Any:
    # Never before its start (a late report of another connector may be older than the
    # report that opened it): the check constraint wants ended_at >= started_at.
    ended = case((_outages.c.started_at > _at, _outages.c.started_at), else_=_at)
    return _outages.update().where(_open(kind)).values(ended_at=ended)


# Built once: these run in the message path (the partial unique index finds the open row).
_CLOSE_OFFLINE = _close(OutageKind.offline)
_STILL_OUT_OF_ORDER = exists().where(Charger.id == _outages.c.charger_id, reports_out_of_order())
_CLOSE_OUT_OF_ORDER = _close(OutageKind.out_of_order).where(~_STILL_OUT_OF_ORDER)
_OUT_OF_ORDER_FROM_REPORT: typing.Any = select(
    bindparam("new_outage_id"), Charger.id, _at, literal(OutageKind.out_of_order.value)
).where(Charger.id == bindparam("for_charger"), reports_out_of_order())


_INSERTS: dict[str, typing.Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def _opening(dialect: str, rows: typing.Any) -> typing.Any:
    """INSERT the outages ``rows`` selects (id, charger_id, started_at, kind) ``ON CONFLICT
    (charger_id, kind) WHERE <open live> DO NOTHING``: an outage already open stays the one."""
    statement = _INSERTS[dialect](_outages).from_select(_COLUMNS, rows)
    return statement.on_conflict_do_nothing(
        index_elements=["charger_id", "kind"], index_where=text(_OPEN_LIVE)
    )


# Per dialect, built once too (building and cache-keying it per message costs more than running it).
# Each returns the instant it changed the log from (at most one row: one open outage per kind).
_OPEN_OUT_OF_ORDER = {
    name: _opening(name, _OUT_OF_ORDER_FROM_REPORT).returning(_outages.c.started_at.label("at"))
    for name in _INSERTS
}
_ENDED_OUT_OF_ORDER = _CLOSE_OUT_OF_ORDER.returning(_outages.c.ended_at.label("at"))
_now = bindparam("now", type_=UTCDateTime())


def _with_offline_closed(changing: typing.Any) -> typing.Any:
    """PostgreSQL: one statement that closes the open offline outage at ``now`` (a CTE), runs
    ``changing`` (another CTE: they change different rows) and returns the instant ``changing``
    changed the log from when that reaches a stored month (``uptime_months_filled``), else no
    row. So a StatusNotification's bookkeeping is one round trip."""
    ended = case((_outages.c.started_at > _now, _outages.c.started_at), else_=_now)
    offline = (
        _outages.update()
        .where(
            _outages.c.charger_id == bindparam("for_charger"),
            _outages.c.kind == OutageKind.offline.value,
            _outages.c.ended_at.is_(None),
        )
        .values(ended_at=ended)
        .returning(_outages.c.id)
        .cte("offline_closed")
    )
    changed = changing.cte("changed")
    filled = UptimeMonthFilled
    reaches = exists().where(filled.end_utc > changed.c.at)
    return select(changed.c.at).where(reaches).add_cte(offline)


_FOLLOW_REPORTS_PG = {
    True: _with_offline_closed(_OPEN_OUT_OF_ORDER["postgresql"]),
    False: _with_offline_closed(_ENDED_OUT_OF_ORDER),
}


def close_offline(session: Session, charger_id: str, now: datetime) -> None:
    """The charger spoke at ``now``: its open offline outage, if any, ends there. (No stored
    month can change: one that is over counted the outage up to its end either way.)"""
    session.execute(_CLOSE_OFFLINE, {"for_charger": charger_id, "at": now})


def follow_reports(
    session: Session, charger_id: str, status: str, reported_at: datetime, now: datetime
) -> None:
    """A StatusNotification of ``status`` reported at ``reported_at`` was kept at ``now``: the
    charger's open offline outage ends at ``now`` (``close_offline``), and Faulted/Unavailable
    can only make a charger Out of order, never end it (more connectors down, fewer charging),
    and any other status only end it: so a down report opens an out_of_order outage from it
    when the rule now says Out of order, and any other report closes the open one at it unless
    the rule still says Out of order. One statement on PostgreSQL (two on SQLite, in process).
    A report old enough to reach a stored month refreshes the charger's stored months."""
    down = status in OUT_OF_ORDER_REPORTS
    key = {"for_charger": charger_id, "at": reported_at, "now": now}
    if down:
        key["new_outage_id"] = str(uuid.uuid4())
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        reached = session.execute(_FOLLOW_REPORTS_PG[down], key).scalar()
    else:
        close_offline(session, charger_id, now)
        changing = _OPEN_OUT_OF_ORDER[dialect] if down else _ENDED_OUT_OF_ORDER
        reached = session.execute(changing, key).scalar()
    if reached is not None:
        refresh_stored_months(session, [charger_id], reached)


def _new_id(session: Session) -> ColumnElement[str]:
    """A fresh random outage id computed by the database (one per inserted row)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.gen_random_uuid().cast(_outages.c.id.type)
    return func.lower(func.hex(func.randomblob(16)))


def _inserted(session: Session, rows: typing.Any) -> int:
    """INSERT the outages ``rows`` selects (id, charger_id, started_at, kind), skipping any
    already open; how many were opened (counted by RETURNING: psycopg's rowcount is -1 here).
    The chargers of those that start in a stored month (a sweep after a long stop of the
    server) get their stored months refreshed."""
    statement = _opening(session.get_bind().dialect.name, rows).returning(
        _outages.c.charger_id, _outages.c.started_at
    )
    opened = session.execute(statement).all()
    if opened:
        since = min(started_at for _, started_at in opened)
        reaching = sorted({charger for charger, started_at in opened})
        refresh_stored_months(session, reaching, since)
    return len(opened)


def open_offline_outages(session: Session, now: datetime, offline_after_s: int) -> int:
    """The sweep: one statement opens an offline outage from ``last_seen_at`` for every charger
    silent past ``offline_after_s`` at ``now`` without one open; how many it opened.

    PostgreSQL: the silent chargers' rows are locked (FOR UPDATE), so a message arriving meanwhile
    either comes first (its new ``last_seen_at`` is re-checked and the charger skipped) or waits
    and then closes the outage just opened. SQLite runs one writer at a time. Never-heard-from
    chargers have no last message to start from and are left out."""
    silent_before = now - timedelta(seconds=offline_after_s)
    already_open = exists().where(
        _outages.c.charger_id == _chargers.c.id,
        _outages.c.kind == OutageKind.offline.value,
        _outages.c.ended_at.is_(None),
    )
    silent = (
        select(
            _new_id(session),
            _chargers.c.id,
            _chargers.c.last_seen_at,
            literal(OutageKind.offline.value),
        )
        .where(_chargers.c.last_seen_at < silent_before, ~already_open)
        .with_for_update(of=_chargers)
    )
    return _inserted(session, silent)


def open_out_of_order_outages(session: Session) -> int:
    """An out_of_order outage for every charger its latest reports make Out of order, from the
    latest of those reports, unless one is open; how many were opened (the backfill)."""
    latest = (
        select(func.max(ConnectorStatus.reported_at))
        .where(ConnectorStatus.charger_id == Charger.id)
        .correlate(Charger)
        .scalar_subquery()
    )
    down = select(
        _new_id(session), Charger.id, latest, literal(OutageKind.out_of_order.value)
    ).where(reports_out_of_order())
    return _inserted(session, down)


def backfill_outages(session: Session, now: datetime, offline_after_s: int) -> tuple[int, int]:
    """What the database knows now: (out_of_order opened, offline opened). Past silences and
    past faults left no trace (``last_seen_at`` and the connector reports keep only the
    latest), so they cannot be recovered."""
    return open_out_of_order_outages(session), open_offline_outages(session, now, offline_after_s)
