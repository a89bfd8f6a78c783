"""One charger as its admin page shows it: its detail and status, its sessions and reservations,
and the operator's edits to it (name, visibility)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.audit.entries import Action, Actor, record
from data.chargers.status import OFFLINE_AFTER_SECONDS, ChargerStatus, chargers_with_status
from data.charging.dashboard import kwh_figure
from data.core.grid import MAX_GRID_ROWS
from data.core.models import (
    ID_LENGTH,
    Charger,
    ChargingSession,
    ConnectorType,
    Reservation,
    ReservationStatus,
    Visibility,
)

NAME_MAX_LENGTH = 200  # chargers.friendly_name is String(200)
UPCOMING_RESERVATIONS = 20
PAST_RESERVATIONS = 10


# --- errors ----------------------------------------------------------------------------------


class FleetInputError(ValueError):
    """Bad input for a fleet edit; the message is meant for the operator, as is."""


class ChargerNotFoundError(FleetInputError):
    def __init__(self) -> None:
        super().__init__("That charger no longer exists.")


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


def charger_detail(
    session: Session,
    charger_id: str,
    now: datetime,
    *,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> ChargerDetail | None:
    """The charger and its status at ``now``; None when there is no such charger."""
    if not plausible_charger_id(charger_id):
        return None
    row = session.execute(
        chargers_with_status(now, offline_after_s).where(Charger.id == charger_id)
    ).first()
    if row is None:
        return None
    return ChargerDetail(
        row.charger_id,
        row.friendly_name,
        ConnectorType(row.connector_type).value,
        float(row.max_power_kw),
        Visibility(row.visibility).value,
        row.last_seen_at,
        ChargerStatus(row.status),
    )


def plausible_charger_id(value: object) -> bool:
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
            kwh_figure(r.energy_kwh),
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


def charger_for_update(session: Session, charger_id: object) -> Charger:
    if not plausible_charger_id(charger_id):
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
    session: Session,
    charger_id: object,
    friendly_name: object,
    visibility: object,
    *,
    actor: Actor,
    now: datetime,
) -> tuple[str, Visibility]:
    """Rename the charger and set its visibility; returns what was saved (the name tidied).

    Grants stay as they are: they only matter while the charger is restricted. Raises
    ``FleetInputError`` with a message to show."""
    charger = charger_for_update(session, charger_id)
    name = validate_friendly_name(friendly_name)
    chosen = validate_visibility(visibility)
    before = {"friendly_name": charger.friendly_name, "visibility": charger.visibility}
    charger.friendly_name = name
    charger.visibility = chosen
    session.flush()
    after = {"friendly_name": name, "visibility": chosen}
    record(
        session, actor, now, Action.charger_updated, "charger", charger.id,
        before=before, after=after,
    )  # fmt: skip
    return name, chosen
