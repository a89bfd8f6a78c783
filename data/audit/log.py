"""The audit log as ``/admin/audit`` and ``/export/audit.csv`` read it: newest first, filtered in
SQL by who (part of the email, or ``cli``), action, subject (its kind, or part of its id) and a
range of the operator's local days (``AuditFilter``, from what a page or a query string sent by
``parse_audit_filter``, which says what is wrong in words)."""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from data.audit.entries import SUBJECT_ID_LENGTH, Action
from data.core.grid import text_matches
from data.core.models import AuditEntry
from data.core.periods import FilterValueError, filter_day, filter_text, local_midnight_utc
from data.core.sql import AnySelect

TEXT_MAX_LENGTH = 200  # the who and subject boxes, as the other admin search boxes


class AuditFilterError(ValueError):
    """A filter that means nothing (an unknown action, a date that is not one, from after to)."""


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None  # part of the email, any case ("cli": the command line)
    action: Action | None = None
    subject: str | None = None  # a kind ("charger") or part of an id ("PX-0"), any case
    first_day: date | None = None  # local days, both included
    last_day: date | None = None

    def query(self) -> dict[str, str]:
        """The filter as a query string's values (the Export CSV link)."""
        values = {
            "user": self.user,
            "action": None if self.action is None else self.action.value,
            "subject": self.subject,
            "from": None if self.first_day is None else self.first_day.isoformat(),
            "to": None if self.last_day is None else self.last_day.isoformat(),
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class AuditRow:
    entry_id: int
    at: datetime
    user: str
    account_id: str | None
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str | None


def _bounded(value: object, name: str) -> str | None:
    text = filter_text(value, name)
    if text is not None and len(text) > TEXT_MAX_LENGTH:
        raise AuditFilterError(f"{name}: at most {TEXT_MAX_LENGTH} characters")
    return text


def parse_audit_filter(
    user: object = None,
    action: object = None,
    subject: object = None,
    first_day: object = None,
    last_day: object = None,
) -> AuditFilter:
    """The filter from what a page or a query string sent; ``AuditFilterError`` says what is
    wrong."""
    try:
        who, what = _bounded(user, "user"), filter_text(action, "action")
        about = _bounded(subject, "subject")
        first, last = filter_day(first_day, "from"), filter_day(last_day, "to")
    except FilterValueError as exc:
        raise AuditFilterError(str(exc)) from None
    if what is not None and what not in {a.value for a in Action}:
        raise AuditFilterError(f"action: one of {', '.join(a.value for a in Action)}")
    if first is not None and last is not None and first > last:
        raise AuditFilterError("from: the first day comes after the last one")
    return AuditFilter(who, None if what is None else Action(what), about, first, last)


def _conditions(flt: AuditFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if flt.user is not None:
        where.append(text_matches(AuditEntry.user, "contains", flt.user))
    if flt.action is not None:
        where.append(AuditEntry.action == flt.action.value)
    if flt.subject is not None:
        where.append(
            or_(
                func.lower(AuditEntry.subject_type) == flt.subject.lower(),
                text_matches(AuditEntry.subject_id, "contains", flt.subject[:SUBJECT_ID_LENGTH]),
            )
        )
    if flt.first_day is not None:
        where.append(AuditEntry.at >= local_midnight_utc(flt.first_day, tz))
    if flt.last_day is not None:
        where.append(AuditEntry.at < local_midnight_utc(flt.last_day + timedelta(days=1), tz))
    return where


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.user,
    AuditEntry.account_id,
    AuditEntry.action,
    AuditEntry.subject_type,
    AuditEntry.subject_id,
    AuditEntry.before,
    AuditEntry.after,
    AuditEntry.detail,
)


def _newest_first(flt: AuditFilter, tz: ZoneInfo) -> AnySelect:
    # Columns, not entities: a long CSV export is read without the ORM's per-row bookkeeping.
    return (
        select(*_COLUMNS)
        .where(*_conditions(flt, tz))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )


def _fields(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


def _row(r: Any) -> AuditRow:
    return AuditRow(
        r.id,
        r.at,
        r.user,
        r.account_id,
        r.action,
        r.subject_type,
        r.subject_id,
        _fields(r.before),
        _fields(r.after),
        r.detail,
    )


def audit_page(
    session: Session, flt: AuditFilter, tz: ZoneInfo, start: int, end: int
) -> list[AuditRow]:
    """Rows ``start`` to ``end`` (exclusive) of the entries matching ``flt``, newest first."""
    statement = _newest_first(flt, tz).offset(max(0, start)).limit(max(0, end - start))
    return [_row(r) for r in session.execute(statement)]


def audit_entry(session: Session, entry_id: object) -> AuditRow | None:
    """One entry by its id (a page's key: anything else is no entry)."""
    if not isinstance(entry_id, int) or isinstance(entry_id, bool) or not 0 < entry_id < 2**31:
        return None
    found = session.execute(select(*_COLUMNS).where(AuditEntry.id == entry_id)).first()
    return None if found is None else _row(found)


def audit_count(session: Session, flt: AuditFilter, tz: ZoneInfo) -> int:
    """How many entries match ``flt``."""
    statement = select(func.count()).select_from(AuditEntry).where(*_conditions(flt, tz))
    return int(session.scalar(statement) or 0)


def iter_audit_rows(
    session: Session, flt: AuditFilter, tz: ZoneInfo, *, batch_rows: int
) -> Generator[AuditRow]:
    """Every entry matching ``flt``, newest first, for the CSV: ``batch_rows`` at a time (a
    server-side cursor on PostgreSQL), never the whole log in memory. Read it to the end or
    close it while ``session``'s transaction is open."""
    statement = _newest_first(flt, tz).execution_options(yield_per=batch_rows)
    with session.execute(statement) as result:
        for r in result:
            yield _row(r)
