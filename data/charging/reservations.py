"""Reservations as the operator runs them: the upcoming and current ones, cancel, create.

Two reservations that hold a charger (``active`` or ``confirmed``) may not overlap on it. A
reservation covers ``[starts_at, ends_at)``: one may start exactly when another ends. PostgreSQL
enforces the rule itself (exclusion constraint ``reservations_no_overlap``, migration 0003);
SQLite has no such constraint, so ``create_reservation`` first takes the database's write lock,
then checks, then inserts: two creations on SQLite run one after the other.

Every refusal is a ``ReservationError`` (a ``ValueError``) whose message can be shown as is.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.audit.entries import Action, Actor, record
from data.chargers.status import HOLDING_STATUSES
from data.charging.dashboard import UPCOMING_STATUSES
from data.core.db import rows_changed
from data.core.grid import GridRequest, parse_grid_request
from data.core.models import (
    Account,
    Charger,
    ChargerAccess,
    Reservation,
    ReservationStatus,
    Role,
    User,
    Visibility,
)
from data.notifications import notify_reservation

PAGE_SIZE_MAX = 100
SEARCH_LIMIT = 20
EXCLUSION_CONSTRAINT = "reservations_no_overlap"
_EXCLUSION_VIOLATION = "23P01"  # PostgreSQL's SQLSTATE for a violated exclusion constraint
_FOREIGN_KEY_VIOLATION = "23503"
_LOCAL_INPUT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")

STATUS_LABELS = {
    ReservationStatus.pending.value: "Pending",
    ReservationStatus.confirmed.value: "Confirmed",
    ReservationStatus.active.value: "Active",
    ReservationStatus.cancelled.value: "Cancelled",
    ReservationStatus.completed.value: "Completed",
}


class ReservationError(ValueError):
    """A reservation the operator cannot make or change; the message says why."""


class ReservationOverlap(ReservationError):
    """The charger is already held (active or confirmed) for part of that time."""

    def __init__(self, message: str, conflict: ReservationRow | None) -> None:
        super().__init__(message)
        self.conflict = conflict


@dataclass(frozen=True)
class ReservationRow:
    reservation_id: str
    account_id: str
    charger_id: str
    charger_name: str
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    status: str  # a ReservationStatus value

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.capitalize())


def reservation_rows(session: Session, query: Any) -> list[ReservationRow]:
    """Reservation rows of ``query`` (a subquery with Reservation's columns), names joined."""
    rows = session.execute(
        select(query, Charger.friendly_name)
        .join(Charger, Charger.id == query.c.charger_id)
        .order_by(query.c.starts_at, query.c.id)
    ).all()
    return [
        ReservationRow(
            r.id,
            r.account_id,
            r.charger_id,
            r.friendly_name,
            r.starts_at,
            r.ends_at,
            ReservationStatus(r.status).value,
        )
        for r in rows
    ]


def reservation_columns() -> list[Any]:
    return [
        Reservation.id,
        Reservation.account_id,
        Reservation.charger_id,
        Reservation.starts_at,
        Reservation.ends_at,
        Reservation.status,
    ]


def upcoming_conditions(now: datetime, search: str | None = None) -> list[ColumnElement[bool]]:
    """The WHERE conditions for reservations not ended at ``now``, matching ``search`` if any.

    ``search`` finds a reservation by its id, its account's id or its charger's id or name.
    Shared by the reservations page and its Export CSV.
    """
    # Range on ix_reservations_ends: only reservations that have not ended yet.
    conditions = [Reservation.ends_at > now, Reservation.status.in_(UPCOMING_STATUSES)]
    needle = _needle(search)
    if needle:
        # Within the upcoming range only; the chargers' ids come from the small chargers table.
        chargers = select(Charger.id).where(
            func.lower(Charger.id).contains(needle, autoescape=True)
            | func.lower(Charger.friendly_name).contains(needle, autoescape=True)
        )
        conditions.append(
            func.lower(Reservation.id).contains(needle, autoescape=True)
            | func.lower(Reservation.account_id).contains(needle, autoescape=True)
            | Reservation.charger_id.in_(chargers)
        )
    return conditions


# --- the list ---------------------------------------------------------------------------------


def parse_reservations_request(raw: object) -> GridRequest:
    """The reservations grid's ``getRowsRequest``: its rows (at most ``PAGE_SIZE_MAX``), read by
    ``data.core.grid.parse_grid_request``; the list has one order and no column filters."""
    return parse_grid_request(raw, max_rows=PAGE_SIZE_MAX)


def upcoming_reservations(
    session: Session,
    now: datetime,
    start_row: int = 0,
    end_row: int = PAGE_SIZE_MAX,
    search: str | None = None,
) -> list[ReservationRow]:
    """Pending, confirmed and active reservations that have not ended at ``now`` (current ones
    included), earliest start first; rows ``start_row``..``end_row``, at most 100. ``search``
    keeps those whose id, account id, charger id or charger name contains it (any case)."""
    start = max(0, int(start_row))
    limit = min(max(0, int(end_row) - start), PAGE_SIZE_MAX)
    if limit == 0:
        return []
    page = (
        select(*reservation_columns())
        .where(*upcoming_conditions(now, search))
        .order_by(Reservation.starts_at, Reservation.id)
        .offset(start)
        .limit(limit)
        .subquery("page")
    )
    return reservation_rows(session, page)


def count_upcoming_reservations(session: Session, now: datetime, search: str | None = None) -> int:
    return int(session.scalar(select(func.count()).where(*upcoming_conditions(now, search))) or 0)


def get_reservation(session: Session, reservation_id: str) -> ReservationRow | None:
    one = select(*reservation_columns()).where(Reservation.id == reservation_id).subquery("one")
    rows = reservation_rows(session, one)
    return rows[0] if rows else None


# --- cancel -----------------------------------------------------------------------------------


def _is_operator(session: Session, actor: Actor) -> bool:
    """An admin account, or the command line (run by the operator's staff)."""
    if actor.account_id is None:
        return actor.user_id is None
    role = session.scalar(select(Account.role).where(Account.id == actor.account_id))
    return role is not None and Role(role) is Role.admin


def cancel_reservation(
    session: Session, reservation_id: str, now: datetime, *, actor: Actor
) -> ReservationRow:
    """Set an upcoming or current reservation to ``cancelled``; refuse anything else."""
    row = get_reservation(session, reservation_id) if reservation_id else None
    if row is None:
        raise ReservationError("That reservation no longer exists.")
    if row.status not in {s.value for s in UPCOMING_STATUSES}:
        raise ReservationError(
            f"Reservation {row.reservation_id} is already {row.status}; nothing to cancel."
        )
    if row.ends_at <= now:
        raise ReservationError(f"Reservation {row.reservation_id} has already ended.")
    # Conditional on the status still being cancellable: two operators cancelling at once, or
    # the charger completing it meanwhile, leave one clear answer.
    changed = rows_changed(
        session,
        update(Reservation)
        .where(Reservation.id == row.reservation_id, Reservation.status.in_(UPCOMING_STATUSES))
        .values(status=ReservationStatus.cancelled)
        .execution_options(synchronize_session=False),
    )
    if changed != 1:
        raise ReservationError(f"Reservation {row.reservation_id} changed meanwhile; reload.")
    record(
        session, actor, now, Action.reservation_cancelled, "reservation", row.reservation_id,
        before={"status": row.status}, after={"status": ReservationStatus.cancelled},
    )  # fmt: skip
    if _is_operator(session, actor):
        notify_reservation(session, row.reservation_id, "cancelled_by_operator", now)
    return ReservationRow(
        row.reservation_id,
        row.account_id,
        row.charger_id,
        row.charger_name,
        row.starts_at,
        row.ends_at,
        ReservationStatus.cancelled.value,
    )


# --- create -----------------------------------------------------------------------------------


def parse_local_time(value: object, tz: ZoneInfo, what: str) -> datetime:
    """``2026-11-24T14:00`` (a ``datetime-local`` input) in ``tz`` -> an aware UTC datetime.

    A time that does not exist (the hour skipped when clocks go forward) is refused; a time
    that happens twice (clocks go back) means the first one.
    """
    if not isinstance(value, str) or not value.strip():
        raise ReservationError(f"Enter the {what} date and time.")
    value = value.strip()
    if not _LOCAL_INPUT.fullmatch(value):
        raise ReservationError(f"The {what} “{value[:40]}” is not a date and time.")
    try:
        naive = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        raise ReservationError(f"The {what} “{value}” is not a date and time.") from None
    local = naive.replace(tzinfo=tz)
    try:
        utc = local.astimezone(UTC)
    except OverflowError:
        raise ReservationError(f"The {what} “{value}” is out of range.") from None
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        raise ReservationError(
            f"{naive:%d %b %Y %H:%M} does not exist in {tz.key} (the clocks go forward then)."
        )
    return utc


def _format(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M")


def _window(row: ReservationRow, tz: ZoneInfo) -> str:
    start, end = row.starts_at.astimezone(tz), row.ends_at.astimezone(tz)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else _format(end, tz)
    return f"{_format(start, tz)} – {end_text}"


def _first_overlap(
    session: Session, charger_id: str, starts_at: datetime, ends_at: datetime
) -> ReservationRow | None:
    """The earliest holding reservation on the charger that shares part of the interval."""
    # Range on ix_reservations_charger_starts: (charger_id, starts_at < ends_at).
    clash = (
        select(*reservation_columns())
        .where(
            Reservation.charger_id == charger_id,
            Reservation.starts_at < ends_at,
            Reservation.ends_at > starts_at,
            Reservation.status.in_(HOLDING_STATUSES),
        )
        .order_by(Reservation.starts_at, Reservation.id)
        .limit(1)
        .subquery("clash")
    )
    rows = reservation_rows(session, clash)
    return rows[0] if rows else None


def _overlap(conflict: ReservationRow | None, charger: str, tz: ZoneInfo) -> ReservationOverlap:
    if conflict is None:
        message = (
            f"{charger} is already reserved for part of that time. Choose another time or charger."
        )
    else:
        message = (
            f"{charger} is already reserved {_window(conflict, tz)} "
            f"(reservation {conflict.reservation_id}, {conflict.status}). "
            "Choose another time or charger."
        )
    return ReservationOverlap(message, conflict)


def _lock_for_writing(session: Session) -> None:
    """SQLite: take the database's write lock now, before the overlap check (the no-op UPDATE
    starts the write transaction, like BEGIN IMMEDIATE). Another creation waits here until this
    one commits, then sees its row. PostgreSQL needs no lock: its exclusion constraint decides."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE reservations SET id = id WHERE 0"))


def new_reservation_id() -> str:
    return "R-" + uuid.uuid4().hex[:12].upper()


def create_reservation(
    session: Session,
    *,
    account_id: str,
    charger_id: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    tz: ZoneInfo,
    reservation_id: str | None = None,
    actor: Actor,
) -> ReservationRow:
    """A ``confirmed`` reservation of ``charger_id`` for ``account_id`` over
    ``[starts_at, ends_at)``. ``tz`` is only for the times in messages.

    Refused (``ReservationError``) when the end is not after the start, the start is in the past
    (earlier than the current minute), the account or charger is unknown, the account is an
    admin one, the charger is restricted and not granted to the account, or it overlaps an
    active or confirmed reservation on that charger (``ReservationOverlap``).
    """
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ReservationError("Times need a time zone.")
    if ends_at <= starts_at:
        raise ReservationError("The end must be after the start.")
    if starts_at < now.replace(second=0, microsecond=0):
        raise ReservationError("The start is in the past; choose a time from now on.")

    _lock_for_writing(session)
    account = session.execute(
        select(Account.id, Account.role).where(Account.id == account_id)
    ).one_or_none()
    if account is None:
        raise ReservationError(f"There is no account “{account_id}”; it may have been removed.")
    if Role(account.role) is not Role.customer:
        raise ReservationError(
            f"{account_id} is an admin account; reservations are for customer accounts."
        )
    charger = session.execute(
        select(Charger.id, Charger.friendly_name, Charger.visibility).where(
            Charger.id == charger_id
        )
    ).one_or_none()
    if charger is None:
        raise ReservationError(f"There is no charger “{charger_id}”; it may have been removed.")
    if Visibility(charger.visibility) is Visibility.restricted:
        granted = session.scalar(
            select(ChargerAccess.charger_id).where(
                ChargerAccess.account_id == account_id, ChargerAccess.charger_id == charger_id
            )
        )
        if granted is None:
            raise ReservationError(
                f"{charger.friendly_name} is restricted and account {account_id} may not use it. "
                "Grant it to the account first."
            )

    conflict = _first_overlap(session, charger_id, starts_at, ends_at)
    if conflict is not None:
        raise _overlap(conflict, charger.friendly_name, tz)

    rid = reservation_id or new_reservation_id()
    values = {
        "id": rid,
        "account_id": account_id,
        "charger_id": charger_id,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "status": ReservationStatus.confirmed,
    }
    try:
        # A savepoint: when PostgreSQL refuses the row (another creation committed an overlapping
        # one since the check), the caller's transaction stays usable for the message's query.
        with session.begin_nested():
            session.execute(insert(Reservation).values(**values))
    except IntegrityError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state == _EXCLUSION_VIOLATION:
            later = _first_overlap(session, charger_id, starts_at, ends_at)
            raise _overlap(later, charger.friendly_name, tz) from None
        if state == _FOREIGN_KEY_VIOLATION:
            raise ReservationError("The account or charger was removed meanwhile.") from None
        raise
    after = {k: v for k, v in values.items() if k != "id"}
    record(session, actor, now, Action.reservation_created, "reservation", rid, after=after)
    return ReservationRow(
        rid,
        account_id,
        charger_id,
        charger.friendly_name,
        starts_at.astimezone(UTC),
        ends_at.astimezone(UTC),
        ReservationStatus.confirmed.value,
    )


# --- choosing an account and a charger --------------------------------------------------------


@dataclass(frozen=True)
class AccountChoice:
    account_id: str
    display_name: str
    email: str
    label: str | None


@dataclass(frozen=True)
class ChargerChoice:
    charger_id: str
    friendly_name: str
    restricted: bool


def _needle(search: str | None) -> str | None:
    if not search or not search.strip():
        return None
    return search.strip().lower()[:200]


def search_customer_accounts(
    session: Session, search: str | None, limit: int = SEARCH_LIMIT
) -> list[AccountChoice]:
    """Customer accounts whose id, label, holder's name or email contains ``search``
    (case-insensitive), by id; the first ``limit`` when ``search`` is empty."""
    query = (
        select(Account.id, Account.label, User.display_name, User.email)
        .join(User, User.id == Account.user_id)
        .where(Account.role == Role.customer)
    )
    needle = _needle(search)
    if needle:
        query = query.where(
            func.lower(Account.id).contains(needle, autoescape=True)
            | func.lower(func.coalesce(Account.label, "")).contains(needle, autoescape=True)
            | func.lower(User.display_name).contains(needle, autoescape=True)
            | func.lower(User.email).contains(needle, autoescape=True)
        )
    rows = session.execute(query.order_by(Account.id).limit(max(0, min(limit, 100)))).all()
    return [AccountChoice(r.id, r.display_name, r.email, r.label) for r in rows]


def search_chargers(
    session: Session, search: str | None, limit: int = SEARCH_LIMIT
) -> list[ChargerChoice]:
    """Chargers whose id or name contains ``search`` (case-insensitive), by id."""
    query = select(Charger.id, Charger.friendly_name, Charger.visibility)
    needle = _needle(search)
    if needle:
        query = query.where(
            func.lower(Charger.id).contains(needle, autoescape=True)
            | func.lower(Charger.friendly_name).contains(needle, autoescape=True)
        )
    rows = session.execute(query.order_by(Charger.id).limit(max(0, min(limit, 100)))).all()
    return [
        ChargerChoice(r.id, r.friendly_name, Visibility(r.visibility) is Visibility.restricted)
        for r in rows
    ]


def account_choice(session: Session, account_id: str) -> AccountChoice | None:
    row = session.execute(
        select(Account.id, Account.label, User.display_name, User.email)
        .join(User, User.id == Account.user_id)
        .where(Account.id == account_id, Account.role == Role.customer)
    ).one_or_none()
    return None if row is None else AccountChoice(row.id, row.display_name, row.email, row.label)


def charger_choice(session: Session, charger_id: str) -> ChargerChoice | None:
    row = session.execute(
        select(Charger.id, Charger.friendly_name, Charger.visibility).where(
            Charger.id == charger_id
        )
    ).one_or_none()
    if row is None:
        return None
    return ChargerChoice(
        row.id, row.friendly_name, Visibility(row.visibility) is Visibility.restricted
    )


def reservation_window_text(row: ReservationRow, tz: ZoneInfo) -> str:
    """``Tue 24 Nov 2026 14:00 – 15:00`` in ``tz`` (for confirmations and messages)."""
    return _window(row, tz)
