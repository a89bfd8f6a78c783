"""A driver's favourite chargers (issue 18): a star on a charger card, and the dashboard lists
the account's favourites first.

Favourites belong to the customer account (the dashboard is the account's), and only chargers
the account may see can be starred; a charger that stops being visible (a grant revoked) keeps
its row but is never listed. Deleting the account or the charger deletes its rows.

The table is on ``data.core.models.Base``; ``data/migrations/env.py`` imports this module so the
migrations compare against it too (migration 0028). A star is a driver's own view of their
dashboard, not a change to the operator's data: it is not written to the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.charging.dashboard import visible_charger_condition
from data.core.models import ID_LENGTH, Base, Charger, UTCDateTime

# More than the dashboard lists (50): a limit so a scripted browser cannot grow the table.
FAVOURITE_LIMIT = 50
NOT_VISIBLE = "That charger doesn’t exist or is not available to your account."
TOO_MANY = f"You can star up to {FAVOURITE_LIMIT} chargers; unstar one first."


class FavouriteCharger(Base):
    """A charger the account starred, and when."""

    __tablename__ = "favourite_chargers"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    charger_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FavouriteRefused(ValueError):
    """A star that is not written; the message is for the driver."""


def favourite_ids(session: Session, account_id: str) -> list[str]:
    """The account's favourites that it may see now, the earliest starred first (the order
    they lead the dashboard's list in)."""
    return list(
        session.scalars(
            select(FavouriteCharger.charger_id)
            .join(Charger, Charger.id == FavouriteCharger.charger_id)
            .where(FavouriteCharger.account_id == account_id, visible_charger_condition(account_id))
            .order_by(FavouriteCharger.created_at, FavouriteCharger.charger_id)
        )
    )


def add_favourite(session: Session, account_id: str, charger_id: object, now: datetime) -> bool:
    """Star ``charger_id`` for the account; True if it was not starred yet. ``FavouriteRefused``
    for a charger the account may not see (or none: the id came from a browser)."""
    if not isinstance(charger_id, str) or not 0 < len(charger_id) <= ID_LENGTH:
        raise FavouriteRefused(NOT_VISIBLE)
    visible = session.scalar(
        select(Charger.id).where(Charger.id == charger_id, visible_charger_condition(account_id))
    )
    if visible is None:
        raise FavouriteRefused(NOT_VISIBLE)
    if session.get(FavouriteCharger, (account_id, charger_id)) is not None:
        return False
    if len(favourite_ids(session, account_id)) >= FAVOURITE_LIMIT:
        raise FavouriteRefused(TOO_MANY)
    session.add(FavouriteCharger(account_id=account_id, charger_id=charger_id, created_at=now))
    session.flush()
    return True


def remove_favourite(session: Session, account_id: str, charger_id: object) -> bool:
    """Unstar ``charger_id``; True if it was starred. Only the account's own row is touched,
    whatever id the browser sent."""
    if not isinstance(charger_id, str) or not 0 < len(charger_id) <= ID_LENGTH:
        return False
    result = session.execute(
        delete(FavouriteCharger).where(
            FavouriteCharger.account_id == account_id, FavouriteCharger.charger_id == charger_id
        )
    )
    return bool(getattr(result, "rowcount", 0))
