"""Charger grants: the customer accounts that may see a restricted charger (``ChargerAccess``).

One API for both admin pages that change them, the charger page (who may see this charger) and the
accounts page (which restricted chargers this account may use): ``grant_charger`` and
``revoke_charger`` take ``(account, charger)`` and say what changed (``GrantChange``), or raise
``GrantRefused`` whose ``problem`` says why (the accounts page shows its message, the charger page
words each problem its own way). Also what the two pages list and offer to pick from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data.accounts.validation import SEARCH_MAX_LENGTH, InvalidInput, text_value
from data.audit.entries import Action, Actor, record
from data.chargers.charger import plausible_charger_id
from data.core.grid import text_matches
from data.core.models import ID_LENGTH, Account, Charger, ChargerAccess, Role, User, Visibility
from data.core.sql import Bytewise

ACCOUNT_SEARCH_LIMIT = 20


# --- what the pages list ----------------------------------------------------------------------


@dataclass(frozen=True)
class GrantRow:
    """An account that may see the charger (the charger page's list)."""

    account_id: str
    email: str
    display_name: str
    label: str | None


@dataclass(frozen=True)
class AccountOption:
    """A customer account the charger page offers to grant."""

    account_id: str
    email: str
    display_name: str
    label: str | None


@dataclass(frozen=True)
class GrantedCharger:
    """A restricted charger the account may use (the accounts page's list)."""

    charger_id: str
    friendly_name: str
    connector_type: str


@dataclass(frozen=True)
class ChargerChoice:
    """A restricted charger the accounts page offers to grant."""

    charger_id: str
    friendly_name: str


def charger_grants(session: Session, charger_id: str) -> list[GrantRow]:
    rows = session.execute(
        select(Account.id, User.email, User.display_name, Account.label)
        .join(ChargerAccess, ChargerAccess.account_id == Account.id)
        .join(User, User.id == Account.user_id)
        .where(ChargerAccess.charger_id == charger_id)
        .order_by(Account.id)
    ).all()
    return [GrantRow(r.id, r.email, r.display_name, r.label) for r in rows]


def customer_account_choices(
    session: Session, text: object, limit: int = ACCOUNT_SEARCH_LIMIT
) -> list[AccountOption]:
    """Customer accounts whose id, email, label or name contains ``text`` (any case).

    Admin accounts are never offered: a charger grant is for customers."""
    if not isinstance(text, str) or not text.strip():
        return []
    needle = text.strip()[:SEARCH_MAX_LENGTH]
    matches = or_(
        *(
            text_matches(col, "contains", needle)
            for col in (Account.id, User.email, Account.label, User.display_name)
        )
    )
    rows = session.execute(
        select(Account.id, User.email, User.display_name, Account.label)
        .join(User, User.id == Account.user_id)
        .where(Account.role == Role.customer, matches)
        .order_by(Bytewise(Account.id))
        .limit(max(0, limit))
    ).all()
    return [AccountOption(r.id, r.email, r.display_name, r.label) for r in rows]


def account_grants(
    session: Session, account_id: str, *, limit: int = 50
) -> tuple[list[GrantedCharger], int]:
    """The restricted chargers granted to the account (first ``limit`` by name) and how many."""
    total = int(
        session.scalar(
            select(func.count())
            .select_from(ChargerAccess)
            .where(ChargerAccess.account_id == account_id)
        )
        or 0
    )
    rows = session.execute(
        select(Charger.id, Charger.friendly_name, Charger.connector_type)
        .join(ChargerAccess, ChargerAccess.charger_id == Charger.id)
        .where(ChargerAccess.account_id == account_id)
        .order_by(func.lower(Charger.friendly_name), Charger.id)
        .limit(max(0, limit))
    ).all()
    return [GrantedCharger(r.id, r.friendly_name, str(r.connector_type)) for r in rows], total


def restricted_charger_choices(
    session: Session, account_id: str, text: str, *, limit: int = 20
) -> list[ChargerChoice]:
    """Restricted chargers not yet granted to ``account_id`` whose id or name contains
    ``text`` (any case); exact id matches first, then by name."""
    term = text_value(text)[:SEARCH_MAX_LENGTH]
    granted = select(ChargerAccess.charger_id).where(ChargerAccess.account_id == account_id)
    stmt = select(Charger.id, Charger.friendly_name).where(
        Charger.visibility == Visibility.restricted, Charger.id.not_in(granted)
    )
    if term:
        stmt = stmt.where(
            or_(
                text_matches(Charger.id, "contains", term),
                text_matches(Charger.friendly_name, "contains", term),
            )
        )
        exact = func.lower(Charger.id) == term.lower()
        stmt = stmt.order_by(exact.desc())
    rows = session.execute(
        stmt.order_by(func.lower(Charger.friendly_name), Charger.id).limit(max(0, limit))
    ).all()
    return [ChargerChoice(r.id, r.friendly_name) for r in rows]


# --- granting and revoking --------------------------------------------------------------------


class GrantProblem(StrEnum):
    no_account = "no account"  # none picked (blank, or not an id at all)
    unknown_account = "unknown account"
    admin_account = "admin account"  # admin accounts see the whole fleet
    unknown_charger = "unknown charger"
    public_charger = "public charger"  # every customer already sees it


class GrantRefused(InvalidInput):
    """A grant or revoke that cannot be done. ``problem`` says why; the message (keyed
    ``charger`` for the charger's problems) is the accounts page's."""

    def __init__(self, problem: GrantProblem, message: str, field: str = "form") -> None:
        super().__init__(message, field)
        self.problem = problem


@dataclass(frozen=True)
class GrantChange:
    charger_id: str
    friendly_name: str
    changed: bool  # False: it was already so (granted twice, revoked twice)


def grant_charger(
    session: Session, account_id: object, charger_id: object, *, actor: Actor, now: datetime
) -> GrantChange:
    """Let a customer account see a restricted charger (``changed`` False: it already could).
    ``GrantRefused``: an unknown charger or account, an admin account, a public charger."""
    charger = _charger(session, charger_id)
    account = _account(session, account_id)
    if account.role != Role.customer:
        raise GrantRefused(
            GrantProblem.admin_account,
            f"{account.id} is an admin account: plans and charger grants apply to customer "
            "accounts (admin accounts see the whole fleet).",
        )
    if charger.visibility != Visibility.restricted:
        raise GrantRefused(
            GrantProblem.public_charger,
            f"{charger.friendly_name} is public: every customer already sees it. Grants are for "
            "restricted chargers.",
            "charger",
        )
    added = _add_grant(session, account.id, charger.id)
    if added:
        after = {"account_id": account.id}
        record(session, actor, now, Action.charger_granted, "charger", charger.id, after=after)
    return GrantChange(charger.id, charger.friendly_name, added)


def revoke_charger(
    session: Session, account_id: object, charger_id: object, *, actor: Actor, now: datetime
) -> GrantChange:
    """Take a grant back (``changed`` False: there was none, e.g. revoked elsewhere).
    ``GrantRefused``: an unknown charger or account."""
    charger = _charger(session, charger_id)
    account = _account(session, account_id)
    removed = _remove_grant(session, account.id, charger.id)
    if removed:
        before = {"account_id": account.id}
        record(session, actor, now, Action.charger_revoked, "charger", charger.id, before=before)
    return GrantChange(charger.id, charger.friendly_name, removed)


def _charger(session: Session, charger_id: object) -> Charger:
    charger = session.get(Charger, charger_id) if plausible_charger_id(charger_id) else None
    if charger is None:
        raise GrantRefused(
            GrantProblem.unknown_charger, "That charger no longer exists.", "charger"
        )
    return charger


def _account(session: Session, account_id: object) -> Account:
    if not isinstance(account_id, str) or not account_id.strip():
        raise GrantRefused(GrantProblem.no_account, "That account no longer exists. Search again.")
    account = session.get(Account, account_id) if len(account_id) <= ID_LENGTH else None
    if account is None:
        raise GrantRefused(
            GrantProblem.unknown_account, "That account no longer exists. Search again."
        )
    return account


def _add_grant(session: Session, account_id: str, charger_id: str) -> bool:
    """Let the account see the charger. True if granted now, False if it already could."""
    # ON CONFLICT DO NOTHING: a grant that is already there (or made at the same moment by
    # another admin) is not an error, and the transaction stays usable on PostgreSQL.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = session.execute(
        insert(ChargerAccess)
        .values(account_id=account_id, charger_id=charger_id)
        .on_conflict_do_nothing(index_elements=["account_id", "charger_id"])
        .returning(ChargerAccess.account_id)
    )
    return result.first() is not None


def _remove_grant(session: Session, account_id: str, charger_id: str) -> bool:
    """Take the grant away. True if it was there, False if there was none (e.g. taken elsewhere)."""
    result = session.execute(
        delete(ChargerAccess).where(
            ChargerAccess.account_id == account_id, ChargerAccess.charger_id == charger_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
