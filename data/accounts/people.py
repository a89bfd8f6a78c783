"""People, their accounts, plans and the operator's settings: what ``/admin/accounts`` and
``/admin/settings`` read and write.

Every query takes a SQLAlchemy session and explicit arguments; every write validates its values and
raises ``InvalidInput`` (a ``ValueError``) with a message an operator can act on, keyed by the form
field it belongs next to. The account list is searched, sorted and paged in SQL, so the admin grid
costs the same with 100,000 accounts as with ten. Changes are plain rows: the customer's next
request reads them (sign-in loads accounts per request; the dashboard reads plans and the
operator row on every render).
"""

from __future__ import annotations

import difflib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import available_timezones

from sqlalchemy import ColumnElement, String, and_, cast, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.accounts.passwords import set_password
from data.accounts.signin import landing_account_id
from data.chargers.grants import add_grant, remove_grant
from data.charging.dashboard import operator_settings
from data.core.models import (
    ID_LENGTH,
    Account,
    Charger,
    ChargerAccess,
    ChargingSession,
    IdTag,
    Operator,
    Plan,
    Reservation,
    Role,
    User,
    Visibility,
)

T = TypeVar("T")

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps one request from costing much
EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 200
SEARCH_MAX_LENGTH = 200
PAGE_LIMIT = 500  # the most rows one grid block may ask for
PLAN_LIMIT = 500  # plans are a short price list, never a big table
MAX_ALLOWANCE = Decimal("999999999.999")  # Numeric(12, 3)
KWH = Decimal("0.001")

# Active ISO 4217 currency codes (the list as amended up to 2025: HRK, SLL, ZWL, CUC, ANG and
# BGN are withdrawn). Fund codes, precious metals and test codes are left out on purpose: a plan
# or an operator bills in money.
ISO_4217_CODES: tuple[str, ...] = (
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
)  # fmt: skip
_ISO_4217 = frozenset(ISO_4217_CODES)
# In zoneinfo's list but not places: the host's own link and tzdata's "no zone here" marker.
_NOT_TIME_ZONES = frozenset({"localtime", "Factory"})

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s.]+")
# Ids appear in the exchange format and in URLs: letters, digits and a few separators.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_LIKE_ESCAPE = "!"  # not a backslash: its meaning in string literals differs between databases


# --- errors -------------------------------------------------------------------------------------


class InvalidInput(ValueError):
    """The operator's input cannot be saved. ``errors`` maps form fields to messages."""

    def __init__(self, errors: Mapping[str, str] | str, field: str = "form") -> None:
        self.errors: dict[str, str] = {field: errors} if isinstance(errors, str) else dict(errors)
        super().__init__(" ".join(self.errors.values()))

    @property
    def message(self) -> str:
        return str(self)


class NotFound(InvalidInput):
    """A person, account, plan or charger the browser named does not exist (any more)."""


class Refused(InvalidInput):
    """Valid input that a rule refuses (the last admin account, an account with history)."""


class _Checks:
    """Runs several field checks and raises once with every message, so a form shows them all."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def run(self, field: str, check: Callable[..., T], *args: Any) -> T | None:
        try:
            return check(*args)
        except InvalidInput as exc:
            self.errors[field] = exc.message
            return None

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)


# --- validators (each returns the clean value or raises InvalidInput) ---------------------------


def _text(raw: object) -> str:
    return raw.strip() if isinstance(raw, str) else ""


def validate_email(raw: object) -> str:
    email = _text(raw)
    if not email:
        raise InvalidInput("Enter an email address.")
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidInput(f"“{email[:80]}” is not an email address (like name@example.com).")
    return email


def validate_optional_email(raw: object) -> str | None:
    return validate_email(raw) if _text(raw) else None


def validate_name(raw: object, what: str = "a name") -> str:
    name = _text(raw)
    if not name:
        raise InvalidInput(f"Enter {what}.")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(f"Keep it under {NAME_MAX_LENGTH} characters.")
    return name


def validate_label(raw: object) -> str | None:
    label = _text(raw)
    if len(label) > NAME_MAX_LENGTH:
        raise InvalidInput(f"Keep the label under {NAME_MAX_LENGTH} characters.")
    return label or None


def validate_password(raw: object) -> str:
    password = raw if isinstance(raw, str) else ""
    if len(password) < PASSWORD_MIN_LENGTH:
        have = f" (this one has {len(password)})" if password else ""
        raise InvalidInput(f"A password needs at least {PASSWORD_MIN_LENGTH} characters{have}.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(f"Keep the password under {PASSWORD_MAX_LENGTH} characters.")
    if password.strip() != password:
        raise InvalidInput("A password cannot start or end with a space.")
    return password


def validate_id(raw: object, what: str = "id") -> str:
    value = _text(raw)
    if not value:
        raise InvalidInput(f"Enter an {what}.")
    if len(value) > ID_LENGTH or not _ID.fullmatch(value):
        raise InvalidInput(
            f"An {what} is up to {ID_LENGTH} letters, digits, dots, dashes, colons or "
            "underscores, starting with a letter or digit."
        )
    return value


def validate_currency(raw: object) -> str:
    code = _text(raw).upper()
    if not code:
        raise InvalidInput("Choose a currency (an ISO 4217 code such as EUR).")
    if code not in _ISO_4217:
        shown = _text(raw)[:20]
        raise InvalidInput(
            f"“{shown}” is not an ISO 4217 currency code. Use three letters such as EUR, "
            "USD or GBP."
        )
    return code


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Every IANA time zone the server knows (zoneinfo), sorted: the choices and the rule."""
    return tuple(sorted(available_timezones() - _NOT_TIME_ZONES))


def validate_timezone(raw: object) -> str:
    name = _text(raw)
    if name in timezone_names():
        return name
    if not name:
        raise InvalidInput("Choose a time zone, such as Europe/Berlin.")
    shown = name[:64]
    close = difflib.get_close_matches(name, timezone_names(), n=1, cutoff=0.8)
    hint = f" Did you mean {close[0]}?" if close else " Pick one such as Europe/Berlin."
    raise InvalidInput(f"“{shown}” is not an IANA time zone.{hint}")


def validate_allowance(raw: object) -> Decimal:
    """kWh per billing period: a number ≥ 0 with at most 3 decimals."""
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidInput("Enter the allowance in kWh (0 for none).")
    try:
        # Through str so that 7.1 means 7.1, not the nearest binary float.
        value = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except (InvalidOperation, ValueError):
        raise InvalidInput("The allowance must be a number of kWh, like 250.") from None
    if not value.is_finite():
        raise InvalidInput("The allowance must be a number of kWh, like 250.")
    if value < 0:
        raise InvalidInput("The allowance cannot be negative; use 0 for no allowance.")
    if value > MAX_ALLOWANCE:
        raise InvalidInput("That allowance is too large.")
    if value != value.quantize(KWH):
        raise InvalidInput("Use at most 3 decimals for the allowance.")
    return value.quantize(KWH)


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
class ColumnFilter:
    """A text filter on one allow-listed column: conditions joined by ``operator``."""

    column: str
    conditions: tuple[tuple[str, str], ...]  # (kind, value); kind in FILTER_KINDS
    operator: str = "AND"


@dataclass(frozen=True)
class AccountQuery:
    search: str = ""  # matches email, name, account id or label (contains, any case)
    filters: tuple[ColumnFilter, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (column, descending)
    offset: int = 0
    limit: int = 100


# Grid column -> SQL. Nothing else from a browser's request ever reaches a query.
def _list_columns() -> dict[str, ColumnElement[Any]]:
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
FILTER_KINDS = ("contains", "notContains", "equals", "notEqual", "startsWith", "endsWith")


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _filter_value(value: object) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:SEARCH_MAX_LENGTH]


def _condition(raw: object) -> tuple[str, str] | None:
    if not isinstance(raw, Mapping):
        return None
    kind, value = raw.get("type"), _filter_value(raw.get("filter"))
    if kind not in FILTER_KINDS or value is None:
        return None
    return str(kind), value


def parse_grid_request(request: object) -> AccountQuery:
    """A dash-ag-grid ``getRowsRequest`` as an ``AccountQuery``.

    Whatever the browser sent: rows are clamped to ``PAGE_LIMIT`` per block, sort and filter
    columns not in the allow-list (and filter kinds not understood) are ignored.
    """
    if not isinstance(request, Mapping):
        return AccountQuery()
    start = max(0, _int(request.get("startRow"), 0))
    end = _int(request.get("endRow"), start + 100)
    limit = min(PAGE_LIMIT, max(1, end - start))

    sort: list[tuple[str, bool]] = []
    sort_model = request.get("sortModel")
    for item in sort_model if isinstance(sort_model, list) else []:
        if not isinstance(item, Mapping):
            continue
        column, direction = item.get("colId"), item.get("sort")
        if column in LIST_COLUMNS and direction in ("asc", "desc") and column not in dict(sort):
            sort.append((str(column), direction == "desc"))

    search = ""
    filters: list[ColumnFilter] = []
    filter_model = request.get("filterModel")
    for column, spec in (filter_model if isinstance(filter_model, Mapping) else {}).items():
        if not isinstance(spec, Mapping):
            continue
        if "conditions" in spec and isinstance(spec.get("conditions"), list):
            conditions = [_condition(c) for c in spec["conditions"]]
            operator = "OR" if spec.get("operator") == "OR" else "AND"
        else:
            conditions, operator = [_condition(spec)], "AND"
        kept = tuple(c for c in conditions if c is not None)
        if not kept:
            continue
        if column == SEARCH_FILTER:
            search = kept[0][1]
        elif column in LIST_COLUMNS:
            filters.append(ColumnFilter(str(column), kept, operator))
    return AccountQuery(search, tuple(filters), tuple(sort), start, limit)


def _like_pattern(kind: str, value: str) -> str:
    escaped = value.lower()
    for ch in (_LIKE_ESCAPE, "%", "_"):
        escaped = escaped.replace(ch, _LIKE_ESCAPE + ch)
    if kind in ("contains", "notContains"):
        return f"%{escaped}%"
    if kind == "startsWith":
        return f"{escaped}%"
    if kind == "endsWith":
        return f"%{escaped}"
    return escaped  # equals / notEqual: a LIKE without wildcards, case-insensitive


def _matches(column: ColumnElement[Any], kind: str, value: str) -> ColumnElement[bool]:
    """Case-insensitive on both databases: lower() on each side, LIKE with our own escape."""
    like = func.lower(column).like(_like_pattern(kind, value), escape=_LIKE_ESCAPE)
    if kind in ("notContains", "notEqual"):
        # NULL (no label, no plan) does not contain the text: keep those rows.
        return or_(column.is_(None), ~like)
    return like


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
                _matches(Account.id, "contains", search),
                _matches(Account.label, "contains", search),
            )
        )
        conditions.append(
            or_(
                _matches(User.email, "contains", search),
                _matches(User.display_name, "contains", search),
                User.id.in_(by_account),
            )
        )
    for f in query.filters:
        if f.column not in columns:
            continue
        parts = [_matches(columns[f.column], kind, value) for kind, value in f.conditions]
        if parts:
            conditions.append(or_(*parts) if f.operator == "OR" else and_(*parts))
    return conditions


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
    for column, descending in query.sort:
        expr = columns[column]
        # NULLs (no plan, no label) last on both databases. The plain column, not lower(): a
        # sort key function makes PostgreSQL sort every row instead of reading an index.
        order.append(expr.desc().nulls_last() if descending else expr.asc().nulls_last())
    # A total order, so pages never overlap or skip: email is unique, then the account id.
    order += [User.email.asc(), User.id.asc(), Account.id.asc().nulls_first()]
    limit = min(PAGE_LIMIT, max(1, query.limit))
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
    checks: _Checks,
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
        if _text(new.account_id):
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
            row["id"] = _generated_account_id(session, chosen)
            chosen.add(row["id"].lower())
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
) -> Person:
    """A new person with one customer and/or one admin account and an optional password.

    Field errors come back together, keyed ``email``, ``display_name``, ``password``,
    ``accounts``, ``customer_account_id``, ``customer_label``, ``customer_plan``,
    ``admin_account_id``, ``admin_label``. With both accounts the admin one is the default: an
    operator who also drives signs in to work (``data.accounts.signin.landing_account_id``), and
    picks the customer account at ``/switch``.
    """
    checks = _Checks()
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
    return created


def add_account(session: Session, user_id: object, new: NewAccount) -> PersonAccount:
    """Another account for an existing person (fields ``account_id``, ``label``, ``plan``)."""
    user = _require_user(session, user_id)
    checks = _Checks()
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
    return found


def set_person_password(session: Session, user_id: object, password: object) -> None:
    """Set or reset a password; every session signed in with the old one ends."""
    clean = validate_password(password)
    user = _require_user(session, user_id)
    set_password(user, clean)  # also bumps session_version
    session.flush()


def _store_landing_account(session: Session, user: User) -> None:
    """Keep the stored default equal to the account sign-in opens (``landing_account_id``)."""
    owned = session.execute(select(Account.id, Account.role).where(Account.user_id == user.id))
    user.default_account_id = landing_account_id(
        ((acc_id, Role(role)) for acc_id, role in owned), user.default_account_id
    )
    session.flush()


def set_default_account(session: Session, user_id: object, account_id: object) -> None:
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
    user.default_account_id = account.id
    session.flush()


def set_account_plan(session: Session, account_id: object, plan_id: object) -> str | None:
    """Put a customer account on a plan (``plan_id`` None or "": no plan); the plan's name."""
    account = _require_account(session, account_id)
    _require_customer(account)
    if plan_id is None or plan_id == "":
        account.plan_id = None
        session.flush()
        return None
    plan = session.get(Plan, plan_id) if isinstance(plan_id, str) else None
    if plan is None:
        raise NotFound("That plan no longer exists; pick another.", "plan")
    account.plan_id = plan.id
    session.flush()
    return plan.name


# --- charger grants -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantedCharger:
    charger_id: str
    friendly_name: str
    connector_type: str


@dataclass(frozen=True)
class ChargerChoice:
    charger_id: str
    friendly_name: str


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
    term = _text(text)[:SEARCH_MAX_LENGTH]
    granted = select(ChargerAccess.charger_id).where(ChargerAccess.account_id == account_id)
    stmt = select(Charger.id, Charger.friendly_name).where(
        Charger.visibility == Visibility.restricted, Charger.id.not_in(granted)
    )
    if term:
        stmt = stmt.where(
            or_(
                _matches(Charger.id, "contains", term),
                _matches(Charger.friendly_name, "contains", term),
            )
        )
        exact = func.lower(Charger.id) == term.lower()
        stmt = stmt.order_by(exact.desc())
    rows = session.execute(
        stmt.order_by(func.lower(Charger.friendly_name), Charger.id).limit(max(0, limit))
    ).all()
    return [ChargerChoice(r.id, r.friendly_name) for r in rows]


@dataclass(frozen=True)
class GrantChange:
    charger_id: str
    friendly_name: str
    changed: bool  # False: it was already so (granted twice, revoked twice)


def grant_charger(session: Session, account_id: object, charger_id: object) -> GrantChange:
    """Let a customer account see a restricted charger (``changed`` False: it already could)."""
    account = _require_account(session, account_id)
    _require_customer(account)
    charger = session.get(Charger, charger_id) if isinstance(charger_id, str) else None
    if charger is None:
        raise NotFound("That charger no longer exists.", "charger")
    if charger.visibility != Visibility.restricted:
        raise Refused(
            f"{charger.friendly_name} is public: every customer already sees it. Grants are for "
            "restricted chargers.",
            "charger",
        )
    added = add_grant(session, account.id, charger.id)
    return GrantChange(charger.id, charger.friendly_name, added)


def revoke_charger(session: Session, account_id: object, charger_id: object) -> GrantChange:
    """Take a grant back (``changed`` False: there was none, e.g. revoked elsewhere)."""
    account = _require_account(session, account_id)
    charger = session.get(Charger, charger_id) if isinstance(charger_id, str) else None
    if charger is None:
        raise NotFound("That charger no longer exists.", "charger")
    removed = remove_grant(session, account.id, charger.id)
    return GrantChange(charger.id, charger.friendly_name, removed)


# --- removing an account ------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovedAccount:
    account_id: str
    grants: int
    id_tags: int


def check_account_removal(
    session: Session, account_id: object, *, acting_user_id: int, acting_account_id: str
) -> Account:
    """The account if ``remove_account`` would remove it; ``Refused`` with the reason if not.

    Refused for the account the acting admin is using, for their own last admin account, and
    for an account with sessions or reservations (the usage history and billing depend on it).
    """
    account = _require_account(session, account_id)
    if account.id == acting_account_id:
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
    session: Session, account_id: object, *, acting_user_id: int, acting_account_id: str
) -> RemovedAccount:
    """Delete an account with its charger grants and cards, if ``check_account_removal``
    allows it; when it was the person's default, their first other account becomes it."""
    account = check_account_removal(
        session, account_id, acting_user_id=acting_user_id, acting_account_id=acting_account_id
    )
    grants = session.execute(delete(ChargerAccess).where(ChargerAccess.account_id == account.id))
    tags = session.execute(delete(IdTag).where(IdTag.account_id == account.id))
    user = session.get(User, account.user_id)
    removed_id = account.id
    session.delete(account)
    session.flush()
    if user is not None and user.default_account_id == removed_id:
        user.default_account_id = None
        _store_landing_account(session, user)
    return RemovedAccount(removed_id, int(grants.rowcount or 0), int(tags.rowcount or 0))  # type: ignore[attr-defined]


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


# --- plans --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSummary:
    plan_id: str
    name: str
    allowance_kwh: Decimal
    currency: str
    accounts: int  # customer accounts on the plan


def list_plans(session: Session) -> list[PlanSummary]:
    """Every plan (a short price list; capped at ``PLAN_LIMIT``) with how many accounts use it."""
    on_plan = (
        select(Account.plan_id, func.count().label("n"))
        .where(Account.plan_id.is_not(None))
        .group_by(Account.plan_id)
        .subquery("on_plan")
    )
    rows = session.execute(
        select(
            Plan.id,
            Plan.name,
            Plan.allowance_kwh,
            Plan.currency,
            func.coalesce(on_plan.c.n, 0).label("accounts"),
        )
        .outerjoin(on_plan, on_plan.c.plan_id == Plan.id)
        .order_by(func.lower(Plan.name), Plan.id)
        .limit(PLAN_LIMIT)
    ).all()
    return [
        PlanSummary(
            r.id, r.name, Decimal(r.allowance_kwh).quantize(KWH), r.currency, int(r.accounts)
        )
        for r in rows
    ]


def _plan_name_taken(session: Session, name: str, except_id: str | None) -> bool:
    stmt = select(Plan.id).where(func.lower(Plan.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Plan.id != except_id)
    return session.scalar(stmt.limit(1)) is not None


def _check_plan(
    session: Session, name: object, allowance_kwh: object, currency: object, plan_id: str | None
) -> tuple[str, Decimal, str]:
    checks = _Checks()
    clean_name = checks.run("name", validate_name, name, "a plan name")
    if clean_name is not None and _plan_name_taken(session, clean_name, plan_id):
        checks.fail("name", f"A plan called {clean_name} already exists.")
    allowance = checks.run("allowance_kwh", validate_allowance, allowance_kwh)
    code = checks.run("currency", validate_currency, currency)
    checks.raise_if_any()
    assert clean_name is not None and allowance is not None and code is not None
    return clean_name, allowance, code


def _summary(session: Session, plan_id: str) -> PlanSummary:
    found = next((p for p in list_plans(session) if p.plan_id == plan_id), None)
    assert found is not None
    return found


def create_plan(
    session: Session,
    *,
    name: object,
    allowance_kwh: object,
    currency: object,
    plan_id: object = "",
) -> PlanSummary:
    """A new plan; fields ``plan_id`` (blank: made from the name), ``name``, ``allowance_kwh``,
    ``currency``."""
    checks = _Checks()
    clean_id = None
    if _text(plan_id):
        clean_id = checks.run("plan_id", validate_id, plan_id, "plan id")
        if clean_id is not None and session.get(Plan, clean_id) is not None:
            checks.fail("plan_id", f"The plan id {clean_id} is taken.")
    try:
        clean_name, allowance, code = _check_plan(session, name, allowance_kwh, currency, None)
    except InvalidInput as exc:
        checks.errors.update(exc.errors)
    checks.raise_if_any()
    clean_id = clean_id or _plan_id_from(session, clean_name)
    session.add(Plan(id=clean_id, name=clean_name, allowance_kwh=allowance, currency=code))
    session.flush()
    return _summary(session, clean_id)


def _plan_id_from(session: Session, name: str) -> str:
    slug = re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")[: ID_LENGTH - 10] or "PLAN"
    base = f"PLAN-{slug}"
    candidate, n = base, 1
    while session.get(Plan, candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def update_plan(
    session: Session, plan_id: object, *, name: object, allowance_kwh: object, currency: object
) -> PlanSummary:
    """Change a plan's name, allowance or currency; its customers see it on their next refresh."""
    plan = session.get(Plan, plan_id) if isinstance(plan_id, str) else None
    if plan is None:
        raise NotFound("That plan no longer exists. Reload the page.")
    clean_name, allowance, code = _check_plan(session, name, allowance_kwh, currency, plan.id)
    plan.name, plan.allowance_kwh, plan.currency = clean_name, allowance, code
    session.flush()
    return _summary(session, plan.id)


# --- operator settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorValues:
    name: str
    support_email: str | None
    timezone: str  # IANA name
    currency: str  # ISO 4217


def operator_values(session: Session) -> OperatorValues:
    """What the settings form shows: the same row (or placeholder) the customer dashboard reads
    through ``data.charging.dashboard.operator_settings``."""
    settings = operator_settings(session)
    return OperatorValues(settings.name, settings.support_email, settings.tz.key, settings.currency)


def save_operator_settings(
    session: Session, *, name: object, support_email: object, timezone: object, currency: object
) -> OperatorValues:
    """Validate every field (errors keyed ``name``, ``support_email``, ``timezone``,
    ``currency``) and save them all, or nothing."""
    checks = _Checks()
    clean_name = checks.run("name", validate_name, name, "the operator's name")
    email = checks.run("support_email", validate_optional_email, support_email)
    zone = checks.run("timezone", validate_timezone, timezone)
    code = checks.run("currency", validate_currency, currency)
    checks.raise_if_any()
    assert clean_name is not None and zone is not None and code is not None
    row = session.get(Operator, 1)
    if row is None:
        row = Operator(id=1, name=clean_name)
        session.add(row)
    row.name, row.support_email, row.timezone, row.currency = clean_name, email, zone, code
    session.flush()
    return OperatorValues(clean_name, email, zone, code)
