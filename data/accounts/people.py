"""People and their accounts: what ``/admin/accounts`` lists, shows and changes (the searchable
list, one person, new people and accounts, passwords, the default account, an account's plan,
removing an account).

Every query takes a SQLAlchemy session and explicit arguments; every write validates its values and
raises ``InvalidInput`` (``data.accounts.validation``) with a message an operator can act on, keyed
by the form field it belongs next to. The account list is searched, sorted and paged in SQL, so the
admin grid costs the same with 100,000 accounts as with ten. Changes are plain rows: the customer's
next request reads them (sign-in loads accounts per request; the dashboard reads plans and the
operator row on every render).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    String,
    cast,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.accounts.passwords import set_password
from data.accounts.signin import landing_account_id
from data.accounts.validation import (
    SEARCH_MAX_LENGTH,
    FieldChecks,
    InvalidInput,
    NotFound,
    Refused,
    text_value,
    validate_email,
    validate_id,
    validate_label,
    validate_name,
    validate_password,
)
from data.audit.entries import Action, Actor, record
from data.core.grid import (
    MATCH_OPERATORS,
    MAX_GRID_ROWS,
    ColumnFilter,
    SortKey,
    combine,
    parse_grid_request,
    text_condition,
    text_matches,
)
from data.core.models import (
    Account,
    ChargerAccess,
    ChargingSession,
    IdTag,
    Plan,
    Reservation,
    Role,
    User,
)

# --- the account list (server-side paging for the admin grid) -----------------------------------


@dataclass(frozen=True)
class AccountListRow:
    """One account with its person; a person without any account has one row with None."""

    user_id: int
    email: str
    display_name: str
    account_id: str | None
    role: Role | None
    plan_name: str | None
    label: str | None
    is_default: bool


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountListRow]
    total: int | None  # rows matching the search and filters, all pages (None: not counted)


@dataclass(frozen=True)
class AccountQuery:
    search: str = ""  # matches email, name, account id or label (contains, any case)
    filters: tuple[ColumnFilter, ...] = ()
    sort: tuple[SortKey, ...] = ()
    offset: int = 0
    limit: int = 100


# Grid column -> SQL. Nothing else from a browser's request ever reaches a query.
def _list_columns() -> dict[str, SQLColumnExpression[Any]]:
    return {
        "email": User.email,
        "display_name": User.display_name,
        "account_id": Account.id,
        "role": cast(Account.role, String),
        "plan": Plan.name,
        "label": Account.label,
    }


LIST_COLUMNS = ("email", "display_name", "account_id", "role", "plan", "label")
SEARCH_FILTER = "search"  # the grid's hidden column that carries the search box
# A hidden column whose filter value changes after each write: the grid sees a new filter model
# and fetches its rows again. It filters nothing (not in the allow-list).
REFRESH_FILTER = "refresh"


def parse_accounts_request(request: object) -> AccountQuery:
    """The accounts table's ``getRowsRequest`` (``data.core.grid.parse_grid_request`` with its
    allow-lists) as an ``AccountQuery``: at most ``MAX_GRID_ROWS`` rows per block, text filters
    with ``MATCH_OPERATORS`` on the listed columns; the hidden search column is the search box.
    """
    grid = parse_grid_request(
        request,
        sortable=frozenset(LIST_COLUMNS),
        text_columns=frozenset({*LIST_COLUMNS, SEARCH_FILTER}),
        text_operators=MATCH_OPERATORS,
        max_sort_keys=len(LIST_COLUMNS),
    )
    search = ""
    filters: list[ColumnFilter] = []
    for f in grid.filters:
        if f.column == SEARCH_FILTER:
            search = str(f.conditions[0].value)
        else:
            filters.append(f)
    return AccountQuery(search, tuple(filters), grid.sort, grid.start, grid.limit)


def account_query_conditions(query: AccountQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions for the accounts table's search box and column filters.

    Shared by the accounts page and its Export CSV, so the file lists the people on screen.
    """
    columns = _list_columns()
    conditions: list[ColumnElement[bool]] = []
    search = query.search.strip()[:SEARCH_MAX_LENGTH]
    if search:
        # The search finds people: by their email or name, or by any of their accounts' ids or
        # labels; the page then lists all of their accounts. The account half is one set,
        # computed once (not a test per joined row); the person half is tested while reading
        # users in page order, so a common word stops at the first page.
        by_account = select(Account.user_id).where(
            or_(
                text_matches(Account.id, "contains", search),
                text_matches(Account.label, "contains", search),
            )
        )
        conditions.append(
            or_(
                text_matches(User.email, "contains", search),
                text_matches(User.display_name, "contains", search),
                User.id.in_(by_account),
            )
        )
    for f in query.filters:
        if f.column not in columns:
            continue
        parts = [text_condition([columns[f.column]], c) for c in f.conditions]
        if parts:
            conditions.append(combine(parts, f.join))
    return conditions


def listed_accounts(query: AccountQuery) -> Select[Any]:
    """The ids of the accounts the table lists for ``query`` (its search, every account of a
    matching person, and its column filters), uncorrelated, for its Export CSV."""
    return (
        select(Account.id)
        .join(User, User.id == Account.user_id)
        .outerjoin(Plan, Plan.id == Account.plan_id)
        .where(*account_query_conditions(query))
        .correlate(None)
    )


def search_accounts(
    session: Session, query: AccountQuery, *, with_total: bool = True
) -> AccountPage:
    """One page of people and their accounts matching ``query``, with the total count.

    People without any account are listed too (one row), so an imported person whose accounts
    were never created can still be found and given one. The count is a second scan, so it is
    skipped when the page itself tells it (a short page ends the list) and, with
    ``with_total=False``, for later blocks of a grid that already knows it (``total`` None).
    """
    columns = _list_columns()
    conditions = account_query_conditions(query)

    def base(*selected: Any) -> Any:
        return (
            select(*selected)
            .select_from(User)
            .outerjoin(Account, Account.user_id == User.id)
            .outerjoin(Plan, Plan.id == Account.plan_id)
            .where(*conditions)
        )

    order: list[Any] = []
    for key in query.sort:
        expr, descending = columns[key.column], key.descending
        # NULLs (no plan, no label) last on both databases. The plain column, not lower(): a
        # sort key function makes PostgreSQL sort every row instead of reading an index.
        order.append(expr.desc().nulls_last() if descending else expr.asc().nulls_last())
    # A total order, so pages never overlap or skip: email is unique, then the account id.
    order += [User.email.asc(), User.id.asc(), Account.id.asc().nulls_first()]
    limit = min(MAX_GRID_ROWS, max(1, query.limit))
    rows = session.execute(
        base(
            User.id,
            User.email,
            User.display_name,
            User.default_account_id,
            Account.id.label("account_id"),
            Account.role,
            Account.label,
            Plan.name.label("plan_name"),
        )
        .order_by(*order)
        .offset(max(0, query.offset))
        .limit(limit)
    ).all()
    total: int | None = None
    if len(rows) < limit and (rows or query.offset == 0):
        total = query.offset + len(rows)
    elif with_total:
        total = int(session.scalar(base(func.count())) or 0)
    return AccountPage(
        [
            AccountListRow(
                user_id=r.id,
                email=r.email,
                display_name=r.display_name,
                account_id=r.account_id,
                role=None if r.role is None else Role(r.role),
                plan_name=r.plan_name,
                label=r.label,
                is_default=r.account_id is not None and r.account_id == r.default_account_id,
            )
            for r in rows
        ],
        total,
    )


# --- one person ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonAccount:
    account_id: str
    role: Role
    plan_id: str | None
    plan_name: str | None
    label: str | None
    is_default: bool
    grants: int  # restricted chargers granted to it

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


@dataclass(frozen=True)
class Person:
    user_id: int
    email: str
    display_name: str
    has_password: bool
    default_account_id: str | None  # the account sign-in opens (None: the first one)
    accounts: tuple[PersonAccount, ...]

    def account(self, account_id: str | None) -> PersonAccount | None:
        return next((a for a in self.accounts if a.account_id == account_id), None)


def person(session: Session, user_id: int) -> Person | None:
    """A person with their accounts (plan, label, grant count): two small queries."""
    user = session.execute(
        select(User.id, User.email, User.display_name, User.password_hash, User.default_account_id)
        .where(User.id == user_id)
    ).first()  # fmt: skip
    if user is None:
        return None
    grants = (
        select(ChargerAccess.account_id, func.count().label("n"))
        .join(Account, Account.id == ChargerAccess.account_id)
        .where(Account.user_id == user_id)
        .group_by(ChargerAccess.account_id)
        .subquery("grants")
    )
    rows = session.execute(
        select(
            Account.id,
            Account.role,
            Account.plan_id,
            Plan.name.label("plan_name"),
            Account.label,
            func.coalesce(grants.c.n, 0).label("grants"),
        )
        .outerjoin(Plan, Plan.id == Account.plan_id)
        .outerjoin(grants, grants.c.account_id == Account.id)
        .where(Account.user_id == user_id)
        .order_by(Account.id)
    ).all()
    # The account sign-in opens: an admin one for anyone who holds one (data.accounts.signin).
    default = landing_account_id(((r.id, Role(r.role)) for r in rows), user.default_account_id)
    accounts = tuple(
        PersonAccount(
            r.id, Role(r.role), r.plan_id, r.plan_name, r.label, r.id == default, int(r.grants)
        )
        for r in rows
    )
    return Person(
        user.id, user.email, user.display_name, bool(user.password_hash), default, accounts
    )


def _require_user(session: Session, user_id: object) -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise NotFound("That person no longer exists. Search again.")
    return user


def _require_account(session: Session, account_id: object) -> Account:
    account = session.get(Account, account_id) if isinstance(account_id, str) else None
    if account is None:
        raise NotFound("That account no longer exists. Search again.")
    return account


def _require_customer(account: Account) -> None:
    if account.role != Role.customer:
        raise Refused(
            f"{account.id} is an admin account: plans and charger grants apply to customer "
            "accounts (admin accounts see the whole fleet)."
        )


# --- creating people and accounts ---------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    role: Role
    account_id: str = ""  # blank: one is generated (ACC-XXXXXXXX)
    label: str = ""
    plan_id: str | None = None  # customer accounts only


def email_in_use(session: Session, email: str, *, except_user_id: int | None = None) -> bool:
    """Sign-in matches emails case-insensitively, so ``Anna@x`` and ``anna@x`` are one person."""
    stmt = select(User.id).where(func.lower(User.email) == email.lower())
    if except_user_id is not None:
        stmt = stmt.where(User.id != except_user_id)
    return session.scalar(stmt.limit(1)) is not None


def _account_id_taken(session: Session, account_id: str) -> bool:
    # Ids differing only in case would confuse people and CSV round trips: one is enough.
    stmt = select(Account.id).where(func.lower(Account.id) == account_id.lower()).limit(1)
    return session.scalar(stmt) is not None


def _generated_account_id(session: Session, avoid: set[str]) -> str:
    while True:
        candidate = f"ACC-{secrets.token_hex(4).upper()}"
        if candidate not in avoid and not _account_id_taken(session, candidate):
            return candidate


def _plan_exists(session: Session, plan_id: str) -> bool:
    return session.scalar(select(Plan.id).where(Plan.id == plan_id)) is not None


def _check_new_accounts(
    session: Session,
    checks: FieldChecks,
    accounts: Sequence[NewAccount],
    *,
    prefix: Callable[[NewAccount], str],
) -> list[dict[str, Any]]:
    """Validated rows for ``accounts``; problems are recorded on ``checks`` under each field."""
    rows: list[dict[str, Any]] = []
    chosen: set[str] = set()
    for new in accounts:
        field = prefix(new)
        account_id = None
        if text_value(new.account_id):
            account_id = checks.run(f"{field}account_id", validate_id, new.account_id, "account id")
            if account_id is not None:
                if account_id.lower() in chosen:
                    checks.fail(f"{field}account_id", "Give each account its own id.")
                elif _account_id_taken(session, account_id):
                    checks.fail(f"{field}account_id", f"The account id {account_id} is taken.")
                chosen.add(account_id.lower())
        label = checks.run(f"{field}label", validate_label, new.label)
        plan_id = new.plan_id or None
        if plan_id is not None and new.role != Role.customer:
            checks.fail(f"{field}plan", "Plans apply to customer accounts only.")
        elif plan_id is not None and not _plan_exists(session, plan_id):
            checks.fail(f"{field}plan", "That plan no longer exists; pick another.")
        rows.append({"id": account_id, "role": new.role, "label": label, "plan_id": plan_id})
    for row in rows:
        if row["id"] is None:
            generated = _generated_account_id(session, chosen)
            row["id"] = generated
            chosen.add(generated.lower())
    return rows


def _role_prefix(new: NewAccount) -> str:
    return f"{new.role.value}_"


def create_person(
    session: Session,
    *,
    email: object,
    display_name: object,
    accounts: Sequence[NewAccount],
    password: object = None,
    actor: Actor,
    now: datetime,
) -> Person:
    """A new person with one customer and/or one admin account and an optional password.

    Field errors come back together, keyed ``email``, ``display_name``, ``password``,
    ``accounts``, ``customer_account_id``, ``customer_label``, ``customer_plan``,
    ``admin_account_id``, ``admin_label``. With both accounts the admin one is the default: an
    operator who also drives signs in to work (``data.accounts.signin.landing_account_id``), and
    picks the customer account at ``/switch``.
    """
    checks = FieldChecks()
    clean_email = checks.run("email", validate_email, email)
    if clean_email is not None and email_in_use(session, clean_email):
        checks.fail("email", f"{clean_email} already belongs to someone (emails ignore case).")
    name = checks.run("display_name", validate_name, display_name, "the person's name")
    clean_password = None
    if isinstance(password, str) and password != "":
        clean_password = checks.run("password", validate_password, password)
    roles = [a.role for a in accounts]
    if not accounts:
        checks.fail("accounts", "Choose a customer account, an admin account or both.")
    elif len(set(roles)) != len(roles):
        checks.fail("accounts", "A new person gets at most one account of each kind.")
    rows = _check_new_accounts(session, checks, accounts, prefix=_role_prefix)
    checks.raise_if_any()
    assert clean_email is not None and name is not None  # checked above

    user = User(email=clean_email, display_name=name, password_hash=None)
    if clean_password is not None:
        user.session_version = 1
        set_password(user, clean_password)
    try:
        # Checked above; the unique keys still decide when another admin saves the same
        # email or account id at the same moment.
        with session.begin_nested():
            session.add(user)
            session.flush()
            session.add_all(Account(user_id=user.id, **row) for row in rows)
            default = next((r["id"] for r in rows if r["role"] == Role.admin), rows[0]["id"])
            user.default_account_id = default
            session.flush()
    except IntegrityError:
        raise InvalidInput(
            "Someone saved this email or account id a moment ago. Check the list and try again."
        ) from None
    created = person(session, user.id)
    assert created is not None
    after = {
        "email": created.email,
        "display_name": created.display_name,
        "has_password": created.has_password,
        "accounts": [_account_fields(a) for a in created.accounts],
    }
    record(session, actor, now, Action.person_created, "person", user.id, after=after)
    return created


def _account_fields(account: PersonAccount) -> dict[str, Any]:
    """An account as the audit log keeps it."""
    return {
        "account_id": account.account_id,
        "role": account.role,
        "label": account.label,
        "plan_id": account.plan_id,
    }


def add_account(
    session: Session, user_id: object, new: NewAccount, *, actor: Actor, now: datetime
) -> PersonAccount:
    """Another account for an existing person (fields ``account_id``, ``label``, ``plan``)."""
    user = _require_user(session, user_id)
    checks = FieldChecks()
    rows = _check_new_accounts(session, checks, [new], prefix=lambda _n: "")
    checks.raise_if_any()
    try:
        with session.begin_nested():
            session.add(Account(user_id=user.id, **rows[0]))
            session.flush()
            _store_landing_account(session, user)
    except IntegrityError:
        raise InvalidInput(
            "That account id was taken a moment ago; choose another.", "account_id"
        ) from None
    added = person(session, user.id)
    assert added is not None
    found = added.account(rows[0]["id"])
    assert found is not None
    after = {"person": added.email, **_account_fields(found)}
    record(session, actor, now, Action.account_created, "account", found.account_id, after=after)
    return found


def set_person_password(
    session: Session, user_id: object, password: object, *, actor: Actor, now: datetime
) -> None:
    """Set or reset a password; every session signed in with the old one ends. The audit log
    says that it was set (and whether there was one), never what it is."""
    clean = validate_password(password)
    user = _require_user(session, user_id)
    had = "replaced" if user.password_hash is not None else "set (there was none)"
    set_password(user, clean)  # also bumps session_version
    session.flush()
    detail = f"Password of {user.email} {had}."
    record(session, actor, now, Action.person_password_set, "person", user.id, detail=detail)


def _store_landing_account(session: Session, user: User) -> None:
    """Keep the stored default equal to the account sign-in opens (``landing_account_id``)."""
    owned = session.execute(select(Account.id, Account.role).where(Account.user_id == user.id))
    user.default_account_id = landing_account_id(
        ((acc_id, Role(role)) for acc_id, role in owned), user.default_account_id
    )
    session.flush()


def set_default_account(
    session: Session, user_id: object, account_id: object, *, actor: Actor, now: datetime
) -> None:
    """Choose the account sign-in opens; for a person who holds an admin account it is always
    one of their admin accounts (they switch to a customer account at ``/switch``)."""
    user = _require_user(session, user_id)
    account = _require_account(session, account_id)
    if account.user_id != user.id:
        raise NotFound("That account belongs to someone else. Search again.")
    if account.role != Role.admin:
        holds_admin = session.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.user_id == user.id, Account.role == Role.admin)
        )
        if holds_admin:
            raise InvalidInput(
                "Someone who holds an admin account always signs in to it, so they land on "
                "the admin portal; they switch to this account at /switch."
            )
    before = {"default_account_id": user.default_account_id}
    user.default_account_id = account.id
    session.flush()
    record(
        session, actor, now, Action.person_default_account_set, "person", user.id,
        before=before, after={"default_account_id": account.id},
    )  # fmt: skip


def set_account_plan(
    session: Session, account_id: object, plan_id: object, *, actor: Actor, now: datetime
) -> str | None:
    """Put a customer account on a plan (``plan_id`` None or "": no plan); the plan's name."""
    account = _require_account(session, account_id)
    _require_customer(account)
    plan = None
    if plan_id is not None and plan_id != "":
        plan = session.get(Plan, plan_id) if isinstance(plan_id, str) else None
        if plan is None:
            raise NotFound("That plan no longer exists; pick another.", "plan")
    before = {"plan_id": account.plan_id}
    account.plan_id = None if plan is None else plan.id
    session.flush()
    record(
        session, actor, now, Action.account_plan_set, "account", account.id,
        before=before, after={"plan_id": account.plan_id},
    )  # fmt: skip
    return None if plan is None else plan.name


# --- removing an account ------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovedAccount:
    account_id: str
    grants: int
    id_tags: int


def check_account_removal(session: Session, account_id: object, *, actor: Actor) -> Account:
    """The account if ``remove_account`` would remove it; ``Refused`` with the reason if not.

    Refused for the account the acting admin is using, for their own last admin account, and
    for an account with sessions or reservations (the usage history and billing depend on it).
    """
    account = _require_account(session, account_id)
    acting_user_id = actor.user_id
    if account.id == actor.account_id:
        raise Refused(
            "You are signed in with this account right now. Switch to another account first."
        )
    if account.role == Role.admin and account.user_id == acting_user_id:
        other_admins = session.scalar(
            select(func.count())
            .select_from(Account)
            .where(
                Account.user_id == acting_user_id,
                Account.role == Role.admin,
                Account.id != account.id,
            )
        )
        if not other_admins:
            raise Refused(
                "This is your last admin account: removing it would lock you out of the admin "
                "portal. Give yourself another admin account first."
            )
    sessions = session.scalar(
        select(func.count())
        .select_from(ChargingSession)
        .where(ChargingSession.account_id == account.id)
    )
    reservations = session.scalar(
        select(func.count()).select_from(Reservation).where(Reservation.account_id == account.id)
    )
    if sessions or reservations:
        held = " and ".join(
            _plural(n, noun)
            for n, noun in (
                (int(sessions or 0), "charging session"),
                (int(reservations or 0), "reservation"),
            )
            if n
        )
        raise Refused(
            f"{account.id} has {held}. They are its usage history and billing, so the account "
            "stays; take its plan and charger grants away instead."
        )
    return account


def remove_account(
    session: Session, account_id: object, *, actor: Actor, now: datetime
) -> RemovedAccount:
    """Delete an account with its charger grants and cards, if ``check_account_removal``
    allows it (``actor``: the admin removing it); when it was the person's default, their first
    other account becomes it."""
    account = check_account_removal(session, account_id, actor=actor)
    grants = session.execute(delete(ChargerAccess).where(ChargerAccess.account_id == account.id))
    tags = session.execute(delete(IdTag).where(IdTag.account_id == account.id))
    user = session.get(User, account.user_id)
    removed_id = account.id
    before = {
        "person": None if user is None else user.email,
        "role": account.role,
        "label": account.label,
        "plan_id": account.plan_id,
    }
    session.delete(account)
    session.flush()
    if user is not None and user.default_account_id == removed_id:
        user.default_account_id = None
        _store_landing_account(session, user)
    removed = RemovedAccount(removed_id, int(grants.rowcount or 0), int(tags.rowcount or 0))  # type: ignore[attr-defined]
    detail = (
        f"With {_plural(removed.grants, 'charger grant')} and {_plural(removed.id_tags, 'id tag')}."
    )
    record(
        session, actor, now, Action.account_removed, "account", removed_id,
        before=before, detail=detail,
    )  # fmt: skip
    return removed


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
