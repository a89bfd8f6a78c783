"""The outage list of ``/admin/uptime`` (filtered in SQL, newest first) and the one way the app
changes an outage's cause, exclusion and note (``edit_outage``; the audit log records it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from data.audit.entries import Action, Actor, record
from data.core.db import core_rows
from data.core.models import Charger
from data.core.periods import local_midnight_utc
from data.core.sql import AnySelect
from data.uptime.outages import Outage, OutageCause, OutageKind
from data.uptime.stored import refresh_stored_months

LIST_LIMIT = 200  # the newest of a filter's outages; the CSV export has them all
NOTE_MAX_LENGTH = 2000


class OutageState(StrEnum):
    all = "all"
    open = "open"  # still going on
    closed = "closed"


class OutageEditError(ValueError):
    """An edit the app refuses; the message says why, for the admin."""


@dataclass(frozen=True)
class OutageFilter:
    charger_id: str | None = None
    cause: OutageCause | None = None
    state: OutageState = OutageState.all
    first_day: date | None = None  # local days in the operator's time zone, inclusive
    last_day: date | None = None


@dataclass(frozen=True)
class OutageRow:
    outage_id: str
    charger_id: str
    friendly_name: str | None
    started_at: datetime
    ended_at: datetime | None
    cause: OutageCause
    excluded: bool
    note: str | None
    kind: OutageKind

    def duration(self, now: datetime) -> timedelta:
        return (self.ended_at or now) - self.started_at


def _listed() -> AnySelect:
    """The columns of an ``OutageRow``, with the charger's name."""
    o = Outage
    return select(
        o.id, o.charger_id, Charger.friendly_name, o.started_at, o.ended_at, o.cause,
        o.excluded, o.note, o.kind,
    ).join(Charger, Charger.id == o.charger_id)  # fmt: skip


def list_outages(
    session: Session, flt: OutageFilter, tz: ZoneInfo, limit: int = LIST_LIMIT
) -> list[OutageRow]:
    """The outages that match ``flt`` (started within its days), newest start first."""
    o = Outage
    conditions = []
    if flt.charger_id is not None:
        conditions.append(o.charger_id == flt.charger_id)
    if flt.cause is not None:
        conditions.append(o.cause == flt.cause)
    if flt.state is OutageState.open:
        conditions.append(o.ended_at.is_(None))
    elif flt.state is OutageState.closed:
        conditions.append(o.ended_at.is_not(None))
    if flt.first_day is not None:
        conditions.append(o.started_at >= local_midnight_utc(flt.first_day, tz))
    if flt.last_day is not None:
        next_day = flt.last_day + timedelta(days=1)
        conditions.append(o.started_at < local_midnight_utc(next_day, tz))
    statement = _listed().where(*conditions).order_by(o.started_at.desc(), o.id).limit(limit)
    return [OutageRow(*row) for row in core_rows(session, statement, {})]


def parse_cause(value: object) -> OutageCause:
    try:
        return OutageCause(value) if isinstance(value, str) else OutageCause("")
    except ValueError:
        known = ", ".join(c.value for c in OutageCause)
        raise OutageEditError(f"Unknown cause {str(value)[:40]!r}: one of {known}.") from None


def _audited(outage: Outage) -> dict[str, object]:
    return {"cause": outage.cause.value, "excluded": outage.excluded, "note": outage.note}


def edit_outage(
    session: Session,
    outage_id: object,
    cause: object,
    excluded: object,
    note: object,
    *,
    actor: Actor,
    now: datetime,
) -> Outage:
    """Set an outage's cause, exclusion and note (an empty note clears it); ``OutageEditError``
    for an unknown outage or a value that is not valid. Every change of an outage by a person
    goes through here, and is kept in the audit log (what changed, by ``actor``)."""
    new_cause = parse_cause(cause)
    if not isinstance(excluded, bool):
        raise OutageEditError("Excluded is yes or no.")
    if note is not None and not isinstance(note, str):
        raise OutageEditError("The note is text.")
    text = (note or "").strip()
    if len(text) > NOTE_MAX_LENGTH:
        raise OutageEditError(f"The note is at most {NOTE_MAX_LENGTH} characters.")
    outage = session.get(Outage, outage_id) if isinstance(outage_id, str) else None
    if outage is None:
        raise OutageEditError("There is no such outage (deleted, or a wrong link).")
    before = _audited(outage)
    counted_before = outage.excluded
    outage.cause, outage.excluded, outage.note = new_cause, excluded, text or None
    record(session, actor, now, Action.outage_updated, "outage", outage.id,
           before=before, after=_audited(outage))  # fmt: skip
    session.flush()
    if excluded != counted_before:
        refresh_stored_months(session, [outage.charger_id], outage.started_at)
    return outage


def find_outage(session: Session, outage_id: object) -> OutageRow | None:
    """One outage as the list shows it; None for an unknown id."""
    if not isinstance(outage_id, str):
        return None
    statement = _listed().where(Outage.id == outage_id)
    row = core_rows(session, statement, {}).first()
    return None if row is None else OutageRow(*row)


def charger_outages(
    session: Session, charger_id: str, start: datetime, end: datetime
) -> list[OutageRow]:
    """A charger's outages that overlap ``[start, end)`` (an ongoing one does while it lasts),
    in start order: the timeline's bars."""
    o = Outage
    statement = (
        _listed()
        .where(
            o.charger_id == charger_id,
            o.started_at < end,
            or_(o.ended_at.is_(None), o.ended_at > start),
        )
        .order_by(o.started_at, o.id)
    )
    return [OutageRow(*row) for row in core_rows(session, statement, {})]
