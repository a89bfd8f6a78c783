"""Who is signed in and which of their accounts is active.

The Flask-Login id is ``"<user id>:<session version>"``: bumping the version in the database
(logout, password change, account switch) makes every older cookie load no user at all.

On the export routes only, a personal API token with the ``export`` scope (``Authorization:
Bearer ...``, see ``data.accounts.tokens``) signs a request in as the token's admin account,
without a session cookie. (The JSON API, ``web.api``, checks its own tokens and never looks at
the session.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Request, g, session
from flask_login import AnonymousUserMixin, LoginManager, UserMixin, current_user, login_user
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from data.accounts.signin import landing_account_id, signed_in_person
from data.accounts.tokens import TOKEN_PATH_PREFIXES, bearer_secret, export_identity
from data.audit.entries import Actor
from data.core.models import Role
from web.db import read_scope, session_scope

ACCOUNT_KEY = "account_id"

login_manager = LoginManager()
login_manager.session_protection = "basic"


@dataclass(frozen=True)
class AccountInfo:
    id: str
    role: Role
    label: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @property
    def title(self) -> str:
        return self.label or ("Operations" if self.is_admin else "Driver")


@dataclass
class SignedInUser(UserMixin):
    user_id: int
    email: str
    display_name: str
    session_version: int
    default_account_id: str | None
    accounts: dict[str, AccountInfo] = field(default_factory=dict)

    def get_id(self) -> str:
        return f"{self.user_id}:{self.session_version}"

    @property
    def default_account(self) -> AccountInfo | None:
        """The account sign-in starts in (``data.accounts.signin.landing_account_id``): an admin
        account for anyone who holds one, whatever created the person or which default was
        stored."""
        chosen = landing_account_id(
            ((a.id, a.role) for a in self.accounts.values()), self.default_account_id
        )
        return None if chosen is None else self.accounts[chosen]


def load_signed_in_user(s: Session, user_id: int) -> SignedInUser | None:
    person = signed_in_person(s, user_id)
    if person is None:
        return None
    return SignedInUser(
        user_id=person.user_id,
        email=person.email,
        display_name=person.display_name,
        session_version=person.session_version,
        default_account_id=person.default_account_id,
        accounts={
            a.account_id: AccountInfo(a.account_id, a.role, a.label) for a in person.accounts
        },
    )


@login_manager.user_loader
def _load_user(token: str) -> SignedInUser | None:
    user_id, _, version = token.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    if "polaris_db_down" in g:
        # The database already failed in this request: its 503 page (and the after-request
        # hooks) go on as for nobody, instead of failing, or waiting, a second time.
        return None
    try:
        with read_scope() as s:  # the request's read session: its callback reuses it
            user = load_signed_in_user(s, int(user_id))
    except (OperationalError, PoolTimeoutError):
        g.polaris_db_down = True
        raise  # the app's database error handler answers 503
    if user is None or user.session_version != int(version):
        return None
    return user


@login_manager.request_loader
def _load_user_from_token(request: Request) -> SignedInUser | None:
    """A bearer token with the ``export`` scope, on ``TOKEN_PATH_PREFIXES`` only (pages and
    callbacks never take one): the token's person, holding just the token's admin account.
    Nothing goes into the session, so no cookie is set. Flask-Login asks only when no session
    cookie signed anybody in."""
    if not request.path.startswith(TOKEN_PATH_PREFIXES) or "polaris_db_down" in g:
        return None
    secret = bearer_secret(request.headers.get("Authorization"))
    if secret is None:
        return None
    try:
        with session_scope() as s:
            identity = export_identity(s, secret, datetime.now(UTC))
            user = None if identity is None else load_signed_in_user(s, identity.user_id)
    except (OperationalError, PoolTimeoutError):
        g.polaris_db_down = True
        raise  # the app's database error handler answers 503
    if identity is None or user is None or identity.account_id not in user.accounts:
        return None
    account = user.accounts[identity.account_id]
    user.accounts = {account.id: account}
    user.default_account_id = account.id
    g.polaris_account = account  # current_account(): the token's account, not the session's
    g.polaris_token_id = identity.token_id
    return user


def keep_signed_in(user_id: int) -> None:
    """After this person's own password change (its version bump ended every session): this
    session is issued again with the new version, so only their other sessions end."""
    with session_scope() as s:
        me = load_signed_in_user(s, user_id)
    if me is not None:
        login_user(me)


def current_account() -> AccountInfo | None:
    """The active account of the signed-in person, checked against their own accounts."""
    if "polaris_account" in g:
        return g.polaris_account
    account: AccountInfo | None = None
    if current_user.is_authenticated:
        account = current_user.accounts.get(session.get(ACCOUNT_KEY, ""))
        if account is None:
            account = current_user.default_account
            if account is not None:
                session[ACCOUNT_KEY] = account.id
    g.polaris_account = account
    return account


def current_account_id() -> str:
    """The active account's id, for data callbacks; the request guard has already required one."""
    account = current_account()
    if account is None:
        raise PermissionError("no active account")
    return account.id


def current_actor() -> Actor:
    """Who acts, for the audit log: the signed-in person and their active account, from the
    server session only."""
    account = current_account()
    if account is None or not current_user.is_authenticated:
        raise PermissionError("no active account")
    return Actor(current_user.email, int(current_user.user_id), account.id)


class Anonymous(AnonymousUserMixin):
    accounts: dict[str, AccountInfo] = {}  # noqa: RUF012 - never mutated


login_manager.anonymous_user = Anonymous
