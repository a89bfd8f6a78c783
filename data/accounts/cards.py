"""An account's cards (id tags): the names its driver gives them, and blocking a lost one.

A driver names and blocks the cards of their active account only: a card of any other account
reads exactly like one that does not exist. A blocked card stays on the account (its sessions
keep their history); chargers answer its Authorize and StartTransaction with Blocked
(``data.ocpp.messages``). Only an operator unblocks a card or adds one (``assign_id_tag`` in
``data.ocpp.admin``), on /admin/accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data.accounts.validation import InvalidInput, NotFound, text_value
from data.audit.entries import Action, Actor, record
from data.core.db import rows_changed
from data.core.models import ID_LENGTH, IdTag

CARD_NAME_LENGTH = 60
NO_SUCH_CARD = "There is no such card on this account."


@dataclass(frozen=True)
class Card:
    id_tag: str
    name: str | None
    blocked_at: datetime | None
    blocked_by: str | None

    @property
    def blocked(self) -> bool:
        return self.blocked_at is not None

    @property
    def title(self) -> str:
        return self.name or f"Card {self.id_tag}"


_COLUMNS = (IdTag.id_tag, IdTag.name, IdTag.blocked_at, IdTag.blocked_by)


def account_cards(session: Session, account_id: str) -> list[Card]:
    """The account's cards, by number (a handful per account: no paging)."""
    rows = session.execute(
        select(*_COLUMNS).where(IdTag.account_id == account_id).order_by(IdTag.id_tag)
    ).all()
    return [Card(*row) for row in rows]


def _card(session: Session, account_id: str, id_tag: object) -> IdTag:
    """The account's own card ``id_tag``; ``NotFound`` for any other (another account's too)."""
    if not isinstance(id_tag, str) or not 0 < len(id_tag) <= ID_LENGTH:
        raise NotFound(NO_SUCH_CARD)
    tag = session.get(IdTag, id_tag)
    if tag is None or tag.account_id != account_id:
        raise NotFound(NO_SUCH_CARD)
    return tag


def validate_card_name(raw: object) -> str | None:
    name = text_value(raw)
    if len(name) > CARD_NAME_LENGTH:
        raise InvalidInput(f"Keep a card's name under {CARD_NAME_LENGTH} characters.")
    if not name.isprintable():
        raise InvalidInput("A card's name is plain text on one line.")
    return name or None


def name_card(
    session: Session, account_id: str, id_tag: object, name: object, *, actor: Actor, now: datetime
) -> Card:
    """Give the account's card ``id_tag`` a name (empty: none)."""
    clean = validate_card_name(name)
    tag = _card(session, account_id, id_tag)
    before = {"name": tag.name}
    tag.name = clean
    session.flush()
    record(session, actor, now, Action.id_tag_updated, "id_tag", tag.id_tag,
           before=before, after={"name": clean})  # fmt: skip
    return Card(tag.id_tag, tag.name, tag.blocked_at, tag.blocked_by)


def block_card(
    session: Session, account_id: str, id_tag: object, *, actor: Actor, now: datetime
) -> bool:
    """Block the account's card ``id_tag`` (a lost card); False when it already was. One
    conditional UPDATE on (tag, account): a forged id of another account's card changes
    nothing and reads as no such card."""
    tag = _card(session, account_id, id_tag)
    blocked = rows_changed(
        session,
        update(IdTag)
        .where(
            IdTag.id_tag == tag.id_tag,
            IdTag.account_id == account_id,
            IdTag.blocked_at.is_(None),
        )
        .values(blocked_at=now, blocked_by=actor.user)
        .execution_options(synchronize_session="fetch"),
    )
    if not blocked:
        return False
    after = {"blocked_at": now, "account_id": account_id}
    record(session, actor, now, Action.id_tag_blocked, "id_tag", tag.id_tag,
           before={"blocked_at": None}, after=after)  # fmt: skip
    return True


def unblock_card(
    session: Session, account_id: str, id_tag: object, *, actor: Actor, now: datetime
) -> bool:
    """An operator unblocks the card ``id_tag`` of ``account_id``; False when it was not
    blocked. (Operators only: the caller checks the role.)"""
    tag = _card(session, account_id, id_tag)
    if tag.blocked_at is None:
        return False
    before = {"blocked_at": tag.blocked_at, "blocked_by": tag.blocked_by}
    tag.blocked_at = None
    tag.blocked_by = None
    session.flush()
    record(session, actor, now, Action.id_tag_unblocked, "id_tag", tag.id_tag,
           before=before, after={"blocked_at": None, "blocked_by": None})  # fmt: skip
    return True
