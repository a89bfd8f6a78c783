"""What the dashboard's refresh tick reads of the account, in one statement.

Every 15 s the open dashboard asks for the account's session in progress (the banner), its
charger grants (which pills it may see; the statuses themselves come from the worker's fleet
snapshot) and, only while a booking is open, its next reservation and a booking Polaris or the
charger ended: the same queries as ``active_session``, ``account_grants``, ``next_reservation``
and ``ended_booking``, joined on one row so a tick is one round trip to the database.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, func, select, true
from sqlalchemy.orm import Session

from data.charging.booking import ENDED_BOOKING_QUERY, EndedBooking
from data.charging.dashboard import (
    ACTIVE_SESSION_QUERY,
    NEXT_RESERVATION_QUERY,
    ActiveSession,
    ReservationRow,
    active_session_from,
)
from data.core.db import core_rows
from data.core.models import ChargerAccess, ReservationStatus

# A charger id never holds a control character (they come from chargers' OCPP identities and
# the admin's forms, both printable): the grants travel as one string.
_GRANT_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class TickReads:
    """The account's session in progress, its grants, and (when asked) its next reservation
    and the booking Polaris or the charger ended."""

    active: ActiveSession | None
    grants: frozenset[str]
    next_reservation: ReservationRow | None = None
    ended_booking: EndedBooking | None = None


@functools.cache
def _tick_query(watching: bool) -> Select[tuple[object, ...]]:
    """Built once each: an aggregate without GROUP BY answers one row, with or without grants,
    and each other part (at most one row each) joins it on ``true``."""
    grants = (
        select(func.aggregate_strings(ChargerAccess.charger_id, _GRANT_SEPARATOR).label("grants"))
        .where(ChargerAccess.account_id == bindparam("account_id"))
        .subquery("grants")
    )
    active = ACTIVE_SESSION_QUERY.subquery("active")
    query = select(grants.c.grants, active).select_from(grants).outerjoin(active, true())
    if not watching:
        return query
    upcoming = NEXT_RESERVATION_QUERY.subquery("next")
    ended = ENDED_BOOKING_QUERY.subquery("ended")
    return (
        query.add_columns(
            *(c.label(f"next_{c.key}") for c in upcoming.c),
            *(c.label(f"ended_{c.key}") for c in ended.c),
        )
        .outerjoin(upcoming, true())
        .outerjoin(ended, true())
    )


def tick_reads(
    session: Session, account_id: str, now: datetime, *, watching: bool = False
) -> TickReads:
    """One statement: what ``active_session`` and ``account_grants`` say, and with
    ``watching`` what ``next_reservation`` and ``ended_booking`` say too."""
    params = {"account_id": account_id, "now": now}
    row = core_rows(session, _tick_query(watching), params).one()
    grants = frozenset(row.grants.split(_GRANT_SEPARATOR)) if row.grants else frozenset()
    active = None if row.id is None else active_session_from(row, now)
    if not watching:
        return TickReads(active, grants)
    upcoming = None
    if row.next_id is not None:
        status = ReservationStatus(row.next_status).value
        upcoming = ReservationRow(
            row.next_id, row.next_friendly_name, row.next_starts_at, row.next_ends_at, status
        )
    ended = None
    if row.ended_id is not None:
        ended = EndedBooking(
            row.ended_id,
            row.ended_friendly_name,
            row.ended_starts_at,
            row.ended_ends_at,
            row.ended_end_reason,
        )
    return TickReads(active, grants, upcoming, ended)
