"""Personal API tokens: scripted access (``curl -H "Authorization: Bearer $T"``).

An admin creates a token for a person's account and sees it once; the database keeps only
its SHA-256 (a token is 256 random bits, so a slow password hash would add nothing: there is no
dictionary to guess from). A token has scopes (``SCOPES``): ``export`` lets it download the
CSV exports (``TOKEN_PATH_PREFIXES``, as its admin account: an export token is for an admin
account only), ``commands`` lets it send commands to chargers through the JSON API
(``web.api``, for an admin account or a driver's customer account, under the pages' rules),
``me`` lets a driver's script read their own data and manage their bookings (a customer
account's only; drivers create these themselves at /account).
Tokens made before scopes existed keep ``export``. A token is never accepted on pages or
callbacks (see ``auth.accounts``). Revoking keeps the row with ``revoked_at``; a revoked or
unknown token signs nobody in (401). ``last_used_at`` is written at most once a minute per
token, so a script's loop does not turn every export into a write.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from data.audit.entries import Action, Actor, record
from data.core.models import Account, ApiToken, Role, User

TOKEN_PREFIX = "pex_"  # noqa: S105 - a marker that says what the secret is, not a secret
TOKEN_PATTERN = re.compile(r"pex_[A-Za-z0-9_-]{43}")  # the prefix and 32 random bytes
TOKEN_PATH_PREFIXES = ("/export/",)  # where ``export`` tokens sign in (``auth.accounts``)
EXPORT_SCOPE = "export"
COMMANDS_SCOPE = "commands"
ME_SCOPE = "me"  # a driver's own chargers, sessions and reservations (``/api/v1/me``)
SCOPES = (EXPORT_SCOPE, COMMANDS_SCOPE, ME_SCOPE)
DEFAULT_SCOPES = (EXPORT_SCOPE,)
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_LENGTH = 200
_SHOWN_PREFIX = 8  # "pex_AbCd": enough to tell tokens apart in a list, useless to an attacker


class TokenError(ValueError):
    """The token cannot be created or revoked; the message says why."""


@dataclass(frozen=True)
class CreatedToken:
    token_id: int
    account_id: str
    email: str
    secret: str  # shown once, never stored
    scopes: tuple[str, ...] = DEFAULT_SCOPES


@dataclass(frozen=True)
class TokenIdentity:
    token_id: int
    account_id: str
    user_id: int
    email: str  # the person's, who acts through the token (the audit log names them)
    role: Role
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


@dataclass(frozen=True)
class TokenRow:
    token_id: int
    account_id: str
    email: str
    name: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    scopes: tuple[str, ...] = DEFAULT_SCOPES


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes in ``SCOPES`` order, each once; ``TokenError`` for none or an unknown one."""
    given = set(scopes)
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise TokenError(f"Unknown scope {unknown[0]!r}; the scopes are: {', '.join(SCOPES)}.")
    if not given:
        raise TokenError(f"Choose at least one scope: {', '.join(SCOPES)}.")
    return tuple(scope for scope in SCOPES if scope in given)


def _stored_scopes(value: str) -> tuple[str, ...]:
    return tuple(scope for scope in SCOPES if scope in value.split())


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def bearer_secret(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None for anything else."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value if TOKEN_PATTERN.fullmatch(value) else None


def has_bearer_header(header: str | None) -> bool:
    """Whether the request says it carries a bearer token, valid or not."""
    return header is not None and header.partition(" ")[0].lower() == "bearer"


def create_token(
    session: Session,
    email: str,
    now: datetime,
    *,
    account_id: str | None = None,
    name: str | None = None,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    actor: Actor,
) -> CreatedToken:
    """A new token with ``scopes`` for an account of the person signing in as ``email``: their
    only admin account, or ``account_id`` when they hold several. A token with the ``export``
    scope is for an admin account only; a ``commands``-only token may also be for one of the
    person's customer accounts (a driver's script starting and stopping their charging), and a
    token with the ``me`` scope is for a customer account only."""
    if name is not None and len(name) > NAME_LENGTH:
        raise TokenError(f"The name is longer than {NAME_LENGTH} characters.")
    chosen_scopes = check_scopes(scopes)
    user = session.execute(
        select(User.id, User.email).where(func.lower(User.email) == email.strip().lower())
    ).first()
    if user is None:
        raise TokenError(f"Nobody signs in as {email}.")
    admin_ids = list(
        session.scalars(
            select(Account.id)
            .where(Account.user_id == user.id, Account.role == Role.admin)
            .order_by(Account.id)
        )
    )
    if account_id is None:
        if not admin_ids and EXPORT_SCOPE not in chosen_scopes:
            own = list(session.scalars(select(Account.id).where(Account.user_id == user.id)))
            if len(own) == 1:  # a driver with one account: their commands token
                admin_ids = own
        if not admin_ids:
            raise TokenError(
                f"{user.email} holds no admin account; export tokens act as an admin "
                "(a commands token for a customer account: choose it with --account)."
            )
        if len(admin_ids) > 1:
            raise TokenError(
                f"{user.email} holds several admin accounts ({', '.join(admin_ids)}); "
                "choose one with --account."
            )
        account_id = admin_ids[0]
    elif account_id not in admin_ids:
        customer = session.scalar(
            select(Account.id).where(
                Account.id == account_id, Account.user_id == user.id, Account.role != Role.admin
            )
        )
        if customer is None or EXPORT_SCOPE in chosen_scopes:
            raise TokenError(
                f"{account_id} is not an admin account of {user.email}"
                + (
                    "; a customer account's token may only have the commands scope or the me scope."
                    if customer is not None
                    else "."
                )
            )
    role = session.scalar(select(Account.role).where(Account.id == account_id))
    if ME_SCOPE in chosen_scopes and role == Role.admin:
        raise TokenError(
            f"{account_id} is an admin account; a token with the me scope is for a customer "
            "account only."
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        account_id=account_id,
        name=name or None,
        prefix=secret[:_SHOWN_PREFIX],
        token_hash=hash_token(secret),
        created_at=now,
        scopes=" ".join(chosen_scopes),
    )
    session.add(token)
    session.flush()
    after = {
        "account_id": account_id,
        "person": user.email,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": list(chosen_scopes),
    }
    record(session, actor, now, Action.token_created, "token", token.id, after=after)
    return CreatedToken(token.id, account_id, user.email, secret, chosen_scopes)


def revoke_token(
    session: Session,
    token_id: int,
    now: datetime,
    *,
    actor: Actor,
    account_id: str | None = None,
) -> bool:
    """Revoke a token; False when it was already revoked. ``TokenError`` when there is none;
    with ``account_id`` (a driver revoking their own), a token of any other account is none."""
    token = session.get(ApiToken, token_id)
    if token is None or (account_id is not None and token.account_id != account_id):
        raise TokenError(f"There is no token {token_id}.")
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    session.flush()
    record(
        session, actor, now, Action.token_revoked, "token", token.id,
        before={"revoked_at": None}, after={"revoked_at": now},
        detail=f"{token.prefix}… of account {token.account_id}",
    )  # fmt: skip
    return True


def list_tokens(session: Session, account_id: str | None = None) -> list[TokenRow]:
    """Every token (with ``account_id``: that account's), newest first (a handful per admin:
    no paging needed)."""
    query = (
        select(
            ApiToken.id,
            ApiToken.account_id,
            User.email,
            ApiToken.name,
            ApiToken.prefix,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
            ApiToken.scopes,
        )
        .join(Account, Account.id == ApiToken.account_id)
        .join(User, User.id == Account.user_id)
        .order_by(ApiToken.id.desc())
    )
    if account_id is not None:
        query = query.where(ApiToken.account_id == account_id)
    rows = session.execute(query).all()
    return [TokenRow(*row[:-1], scopes=_stored_scopes(row.scopes)) for row in rows]


def authenticate_token(session: Session, secret: str, now: datetime) -> TokenIdentity | None:
    """Who ``secret`` acts as: its account (with the account's role now and the token's scopes),
    while the token is not revoked. Records the use (at most once per ``LAST_USED_RESOLUTION``).
    What a scope allows is the caller's to check (``export_identity`` for the exports)."""
    if not TOKEN_PATTERN.fullmatch(secret):
        return None
    # One indexed lookup by the hash: comparing hashes of a 256-bit secret leaks nothing useful.
    row = session.execute(
        select(
            ApiToken.id,
            ApiToken.account_id,
            ApiToken.last_used_at,
            ApiToken.scopes,
            Account.user_id,
            User.email,
            Account.role,
        )
        .join(Account, Account.id == ApiToken.account_id)
        .join(User, User.id == Account.user_id)
        .where(ApiToken.token_hash == hash_token(secret), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return TokenIdentity(
        row.id,
        row.account_id,
        row.user_id,
        row.email,
        Role(row.role),
        frozenset(_stored_scopes(row.scopes)),
    )


def export_identity(session: Session, secret: str, now: datetime) -> TokenIdentity | None:
    """``authenticate_token`` for the exports: only a token with the ``export`` scope whose
    account is still an admin one; any other is refused like an unknown token."""
    identity = authenticate_token(session, secret, now)
    if identity is None or EXPORT_SCOPE not in identity.scopes or not identity.is_admin:
        return None
    return identity
