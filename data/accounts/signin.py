"""What every signed-in request needs to know about its person: one query, one round trip."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from data.core.db import core_rows
from data.core.models import Account, Role, User


@dataclass(frozen=True)
class PersonAccount:
    account_id: str
    role: Role
    label: str | None


@dataclass(frozen=True)
class SignedInPerson:
    user_id: int
    email: str
    display_name: str
    session_version: int
    default_account_id: str | None
    accounts: tuple[PersonAccount, ...]


def landing_account_id(accounts: Iterable[tuple[str, Role]], default_id: str | None) -> str | None:
    """The account a sign-in starts in: the one rule every creation path and sign-in shares.

    A person who holds an admin account starts in one (the stored default when it is an admin
    account, else their first admin account by id), so an operator lands on ``/admin``; anyone
    else starts in the stored default, or their first account when it is missing or not theirs.
    A choice made at ``/switch`` lasts for that signed-in session only."""
    owned = sorted(accounts)
    admins = [acc_id for acc_id, role in owned if role == Role.admin]
    candidates = admins or [acc_id for acc_id, _ in owned]
    if default_id in candidates:
        return default_id
    return candidates[0] if candidates else None


# Built once: it runs on every signed-in request.
_PERSON = (
    select(
        User.id,
        User.email,
        User.display_name,
        User.session_version,
        User.default_account_id,
        Account.id,
        Account.role,
        Account.label,
    )
    .outerjoin(Account, Account.user_id == User.id)
    .where(User.id == bindparam("user_id"))
    .order_by(Account.id)
)


def signed_in_person(session: Session, user_id: int) -> SignedInPerson | None:
    """The person and their accounts (ordered by id), or None when there is no such person.

    Runs on every signed-in request (the session version is checked against it), so it is one
    outer join rather than the ORM's user-then-accounts pair of queries."""
    rows = core_rows(session, _PERSON, {"user_id": user_id}).all()
    if not rows:
        return None
    first = rows[0]
    return SignedInPerson(
        user_id=first[0],
        email=first[1],
        display_name=first[2],
        session_version=first[3],
        default_account_id=first[4],
        accounts=tuple(PersonAccount(r[5], r[6], r[7]) for r in rows if r[5] is not None),
    )
