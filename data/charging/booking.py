"""Drivers book chargers themselves, inside the operator's booking rules (issue 18).

``book_charger`` checks the rules (not in the past, not longer than the longest booking, not
further ahead than allowed, fewer open bookings than the account's limit, a charger the account
may see), then leaves the overlap to ``create_reservation`` (PostgreSQL's exclusion constraint,
SQLite's serialised check); a refusal on overlap names the charger's next free time of the same
length, found in SQL. ``cancel_own_booking`` cancels the account's own booking that has not
started. ``release_no_shows`` (run by the OCPP server's reservation pass) cancels bookings
nobody started charging on within the grace, with the reason ``no-show``, so the charger is
Online again. A charger refusing the ReserveNow cancels the booking too
(``data.ocpp.reservations.command_ended``). Every refusal is a ``BookingRefused`` whose message
can be shown to the driver as is; nothing is written then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, literal, select, union, update
from sqlalchemy.orm import Session

from data.accounts.validation import FieldChecks, InvalidInput, text_value
from data.audit.entries import Action, Actor, record
from data.chargers.status import HOLDING_STATUSES
from data.charging.dashboard import (
    UPCOMING_STATUSES,
    operator_settings,
    visible_charger_condition,
)
from data.charging.reservations import (
    ReservationError,
    ReservationOverlap,
    ReservationRow,
    cancel_reservation,
    create_reservation,
    get_reservation,
    parse_local_time,
    reservation_window_text,
)
from data.core.models import (
    Account,
    BookingRules,
    Charger,
    ChargingSession,
    Reservation,
    ReservationStatus,
    Role,
)
from data.core.models import UTCDateTime as _UTC
from data.core.sql import EpochSeconds
from data.notifications import notify_reservation

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}")
NO_SHOW = "no-show"
CANCELLED_BY_DRIVER = "cancelled by the driver"
# A session started this long before the booking's start still counts as the driver arriving
# (the charger holds the booking from the ReserveNow, sent shortly before the start).
EARLY_START = timedelta(minutes=15)


@dataclass(frozen=True)
class BookingRulesValues:
    ahead_days: int
    longest_minutes: int
    open_per_account: int
    grace_minutes: int


DEFAULT_RULES = BookingRulesValues(ahead_days=14, longest_minutes=240, open_per_account=2,
                                   grace_minutes=15)  # fmt: skip
# (lowest, highest) of each rule, as /admin/settings accepts them.
RULE_BOUNDS = {
    "ahead_days": (1, 365),
    "longest_minutes": (15, 24 * 60),
    "open_per_account": (1, 20),
    "grace_minutes": (0, 120),
}
RULE_UNITS = {
    "ahead_days": "days",
    "longest_minutes": "minutes",
    "open_per_account": "bookings",
    "grace_minutes": "minutes",
}


class BookingRefused(ReservationError):
    """A booking the driver cannot make or cancel; the message says why in plain words."""


# --- the rules ----------------------------------------------------------------------------------


def booking_rules(session: Session) -> BookingRulesValues:
    row = session.get(BookingRules, 1)
    if row is None:
        return DEFAULT_RULES
    return BookingRulesValues(
        row.ahead_days, row.longest_minutes, row.open_per_account, row.grace_minutes
    )


def _whole_number(field: str) -> Callable[[object], int]:
    low, high = RULE_BOUNDS[field]

    def check(raw: object) -> int:
        value = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else text_value(raw)
        if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            raise InvalidInput(f"A whole number from {low} to {high} ({RULE_UNITS[field]}).")
        return int(value)

    return check


def save_booking_rules(
    session: Session,
    *,
    ahead_days: object,
    longest_minutes: object,
    open_per_account: object,
    grace_minutes: object,
    actor: Actor,
    now: datetime,
) -> BookingRulesValues:
    """Validate every rule (errors keyed by field) and save them all, or nothing; audited."""
    checks = FieldChecks()
    raw = {
        "ahead_days": ahead_days,
        "longest_minutes": longest_minutes,
        "open_per_account": open_per_account,
        "grace_minutes": grace_minutes,
    }
    clean = {field: checks.run(field, _whole_number(field), value) for field, value in raw.items()}
    checks.raise_if_any()
    saved = BookingRulesValues(**{k: int(v) for k, v in clean.items() if v is not None})
    before = booking_rules(session)
    row = session.get(BookingRules, 1)
    if row is None:
        row = BookingRules(id=1)
        session.add(row)
    row.ahead_days, row.longest_minutes = saved.ahead_days, saved.longest_minutes
    row.open_per_account, row.grace_minutes = saved.open_per_account, saved.grace_minutes
    session.flush()
    record(
        session, actor, now, Action.booking_rules_updated, "booking_rules", 1,
        before=asdict(before), after=asdict(saved),
    )  # fmt: skip
    return saved


def length_text(minutes: int) -> str:
    """``4 h``, ``1 h 30 min``, ``45 min``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


# --- booking ------------------------------------------------------------------------------------


def _moment(value: datetime, tz: ZoneInfo) -> str:
    return f"{value.astimezone(tz):%a %d %b %H:%M}"


def next_free_start(
    session: Session, charger_id: str, starts_at: datetime, length: timedelta
) -> datetime | None:
    """The earliest moment from ``starts_at`` on when ``charger_id`` is free for ``length``: the
    asked start or the end of a booking that holds it, whichever is first with no holding
    booking over the following ``length``. One statement on both databases."""
    holding = (Reservation.charger_id == charger_id, Reservation.status.in_(HOLDING_STATUSES))
    candidates = union(
        select(literal(starts_at, _UTC()).label("t")),
        select(Reservation.ends_at.label("t")).where(*holding, Reservation.ends_at > starts_at),
    ).subquery("candidates")
    blocker = Reservation.__table__.alias("blocker")
    at = EpochSeconds(candidates.c.t)
    clash = exists().where(
        blocker.c.charger_id == charger_id,
        blocker.c.status.in_([s.value for s in HOLDING_STATUSES]),
        EpochSeconds(blocker.c.starts_at) < at + length.total_seconds(),
        EpochSeconds(blocker.c.ends_at) > at,
    )
    first = session.scalar(select(func.min(at)).where(~clash))
    return None if first is None else datetime.fromtimestamp(float(first), UTC)


def _lock_account(session: Session, account_id: str) -> None:
    """One booking of an account at a time, so two at once cannot both pass the limit: on
    PostgreSQL a row lock on the account; on SQLite the database's write lock (a no-op UPDATE,
    as ``create_reservation`` takes it)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Account).where(Account.id == account_id).values(id=Account.id))
    else:
        session.execute(select(Account.id).where(Account.id == account_id).with_for_update())


def open_bookings(session: Session, account_id: str, now: datetime) -> int:
    """The account's bookings that have not ended and are not cancelled or completed."""
    return int(
        session.scalar(
            select(func.count()).where(
                Reservation.account_id == account_id,
                Reservation.ends_at > now,
                Reservation.status.in_(UPCOMING_STATUSES),
            )
        )
        or 0
    )


def book_charger(
    session: Session,
    account_id: str,
    charger_id: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    *,
    actor: Actor,
) -> ReservationRow:
    """Book ``charger_id`` for ``account_id`` over ``[starts_at, ends_at)`` (a ``confirmed``
    reservation, audited as ``actor``'s), or refuse with ``BookingRefused``."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise BookingRefused("Times need a time zone.")
    rules = booking_rules(session)
    tz = operator_settings(session).tz
    if ends_at <= starts_at:
        raise BookingRefused("The end must be after the start.")
    if starts_at < now.replace(second=0, microsecond=0):
        raise BookingRefused("That start is in the past; choose a time from now on.")
    if ends_at - starts_at > timedelta(minutes=rules.longest_minutes):
        longest = length_text(rules.longest_minutes)
        raise BookingRefused(f"A booking can last at most {longest}; choose a shorter one.")
    if starts_at > now + timedelta(days=rules.ahead_days):
        raise BookingRefused(
            f"Bookings open at most {rules.ahead_days} days ahead; choose an earlier day."
        )
    charger = session.execute(
        select(Charger.id, Charger.friendly_name)
        .join(Account, Account.id == account_id)
        .where(
            Charger.id == charger_id,
            Account.role == Role.customer,
            visible_charger_condition(account_id),
        )
    ).one_or_none()
    if charger is None:
        # Unknown and not visible read the same: an id is not a way to learn of a charger.
        raise BookingRefused("There is no charger by that name that you can book.")
    _lock_account(session, account_id)
    if open_bookings(session, account_id, now) >= rules.open_per_account:
        limit = rules.open_per_account
        plural = "booking" if limit == 1 else "bookings"
        raise BookingRefused(
            f"You already have {limit} open {plural}, the most allowed; cancel one first."
        )
    try:
        return create_reservation(
            session,
            account_id=account_id,
            charger_id=charger_id,
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
            tz=tz,
            actor=actor,
        )
    except ReservationOverlap:
        free = next_free_start(session, charger_id, starts_at, ends_at - starts_at)
        length = length_text(int((ends_at - starts_at).total_seconds() // 60))
        if free is None:
            raise BookingRefused(
                f"{charger.friendly_name} is already booked for part of that time."
            ) from None
        raise BookingRefused(
            f"{charger.friendly_name} is already booked for part of that time; "
            f"it is free next from {_moment(free, tz)} for {length}."
        ) from None
    except ReservationError as exc:
        raise BookingRefused(str(exc)) from None


def cancel_own_booking(
    session: Session, account_id: str, reservation_id: str, now: datetime, *, actor: Actor
) -> ReservationRow:
    """Cancel the account's own booking that has not started yet (audited as ``actor``'s);
    another account's booking reads as one that does not exist."""
    row = get_reservation(session, reservation_id) if reservation_id else None
    if row is None or row.account_id != account_id:
        raise BookingRefused("That booking no longer exists.")
    if row.status not in {s.value for s in UPCOMING_STATUSES}:
        raise BookingRefused(f"That booking is already {row.status}; nothing to cancel.")
    if row.starts_at <= now:
        raise BookingRefused("That booking has started; it can no longer be cancelled.")
    try:
        cancelled = cancel_reservation(session, row.reservation_id, now, actor=actor)
    except ReservationError as exc:
        raise BookingRefused(str(exc)) from None
    session.execute(
        update(Reservation)
        .where(Reservation.id == row.reservation_id)
        .values(end_reason=CANCELLED_BY_DRIVER)
        .execution_options(synchronize_session=False)
    )
    return cancelled


def release_no_shows(session: Session, now: datetime) -> list[str]:
    """Cancel (reason ``no-show``) the confirmed bookings still running at ``now`` whose start
    plus the operator's grace has passed with no session of their account on their charger
    started since shortly before the start; their ids. The scheduler then asks the charger to
    cancel what it holds, and the charger shows Online again."""
    grace = timedelta(minutes=booking_rules(session).grace_minutes)
    started = exists().where(
        ChargingSession.account_id == Reservation.account_id,
        ChargingSession.charger_id == Reservation.charger_id,
        ChargingSession.started_at < Reservation.ends_at,
        EpochSeconds(ChargingSession.started_at)
        >= EpochSeconds(Reservation.starts_at) - EARLY_START.total_seconds(),
    )
    released = session.scalars(
        update(Reservation)
        .where(
            Reservation.status == ReservationStatus.confirmed,
            Reservation.ends_at > now,
            Reservation.starts_at <= now - grace,
            ~started,
        )
        .values(status=ReservationStatus.cancelled, end_reason=NO_SHOW)
        .returning(Reservation.id)
        .execution_options(synchronize_session=False)
    ).all()
    for reservation_id in sorted(released):  # the driver hears of it, if they opted in
        notify_reservation(session, reservation_id, "no_show", now)
    return sorted(released)


# --- what the driver is told ---------------------------------------------------------------------


@dataclass(frozen=True)
class EndedBooking:
    """A booking of the account that Polaris or the charger ended before its time."""

    reservation_id: str
    charger_name: str
    starts_at: datetime
    ends_at: datetime
    reason: str


# The account's latest-starting booking that has not ended and that Polaris or the charger
# cancelled (not the driver): bound ``account_id`` and ``now``, for ``ended_booking`` and the
# dashboard's tick (data.charging.tick), which reads it with the rest in one statement.
ENDED_BOOKING_QUERY = (
    select(
        Reservation.id,
        Charger.friendly_name,
        Reservation.starts_at,
        Reservation.ends_at,
        Reservation.end_reason,
    )
    .join(Charger, Charger.id == Reservation.charger_id)
    .where(
        Reservation.account_id == bindparam("account_id"),
        Reservation.ends_at > bindparam("now", type_=Reservation.ends_at.type),
        Reservation.status == ReservationStatus.cancelled,
        Reservation.end_reason.is_not(None),
        Reservation.end_reason != CANCELLED_BY_DRIVER,
    )
    .order_by(Reservation.starts_at.desc(), Reservation.id)
    .limit(1)
)


def ended_booking(session: Session, account_id: str, now: datetime) -> EndedBooking | None:
    """The account's latest-starting booking whose time has not passed that was released as a
    no-show or refused by the charger (not one the driver cancelled): what Next reservation
    tells the driver."""
    row = session.execute(ENDED_BOOKING_QUERY, {"account_id": account_id, "now": now}).first()
    if row is None:
        return None
    return EndedBooking(row.id, row.friendly_name, row.starts_at, row.ends_at, row.end_reason)


def ended_booking_text(booking: EndedBooking, tz: ZoneInfo) -> str:
    """``Your booking of PX-001 for Sat 05 Dec 2026 14:00 – 15:00 was cancelled: the charger
    answered Occupied.``"""
    window = reservation_window_text(
        ReservationRow(booking.reservation_id, "", "", booking.charger_name, booking.starts_at,
                       booking.ends_at, ReservationStatus.cancelled.value),
        tz,
    )  # fmt: skip
    if booking.reason == NO_SHOW:
        start = _moment(booking.starts_at, tz)
        why = f"released: charging did not start within the grace after {start}"
    else:
        why = f"cancelled: {booking.reason}"
    return f"Your booking of {booking.charger_name} for {window} was {why}."


def booking_times(
    day: object, start: object, minutes: object, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """The dialog's date (``2026-12-06``), start (``14:30``, in ``tz``) and length in minutes
    -> ``(starts_at, ends_at)`` in UTC; a plain ``BookingRefused`` for anything else."""
    if not isinstance(day, str) or not _DAY.fullmatch(day.strip()):
        raise BookingRefused("Choose a date.")
    if not isinstance(start, str) or not _TIME.fullmatch(start.strip()):
        raise BookingRefused("Choose a start time.")
    length = minutes if isinstance(minutes, str) else ""
    if not length.isascii() or not length.isdigit() or not 0 < int(length) <= 24 * 60:
        raise BookingRefused("Choose a length.")
    try:
        starts_at = parse_local_time(f"{day.strip()}T{start.strip()}", tz, "start")
    except ReservationError as exc:
        raise BookingRefused(str(exc)) from None
    return starts_at, starts_at + timedelta(minutes=int(length))
