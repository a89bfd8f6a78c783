"""The sessions explorer: every charging session, filtered, paged and totalled in SQL.

A filter is a run of local days in the operator's time zone (turned into UTC bounds with
``local_midnight_utc``), optionally a charger (its id, or a piece of its id or name), an account
id and a state. Every query is bounded by ``started_at`` and answered from the
``(started_at)``, ``(charger_id, started_at)`` or ``(account_id, started_at)`` index, so the cost
follows the sessions in the filter, never the whole table.

Pages are at most ``PAGE_SIZE_MAX`` rows, in a total order (the sort column, then ``started_at``
and ``id``). A page that follows one already served continues from that page's last row (keyset:
``WHERE (started_at, id) < (...)``) instead of counting an OFFSET past every earlier row; a page
in the far half of a known total is read from the other end.

Each row carries its stored cost (``data.pricing.tariffs.stored_cost``); ``session_detail`` reads
one session with its cost parts, tariff version and who settled its disputed energy, and when.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from data.charging.rollup import usage_between
from data.core.grid import GridRequest, parse_grid_request
from data.core.models import ID_LENGTH, Account, Charger, ChargingSession, User
from data.core.periods import local_midnight_utc
from data.core.sql import from_thousandths, kwh_decimal, thousandths
from data.pricing.cost import SessionCost, TariffPrices
from data.pricing.rows import COST_COLUMNS, stored_cost
from data.pricing.tariffs import live_cost, tariff_version_for_session

PAGE_SIZE_MAX = 100
DEFAULT_DAYS = 7
MAX_DAYS = 366  # a year at most per view: the totals scan every session in the range
SEARCH_MAX_LENGTH = 200

STATES = ("all", "in_progress", "finalized")
STATE_LABELS = {"all": "All", "in_progress": "In progress", "finalized": "Finalized"}
SORT_COLUMNS = ("started", "kwh")  # the allow-list; anything else keeps the default order

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_FIRST_DAY = date(1970, 1, 1)
_LAST_DAY = date(9998, 12, 31)  # local_midnight_utc of the next day must not overflow


@dataclass(frozen=True)
class SessionFilter:
    """What the explorer shows: local days ``first_day``..``last_day`` (inclusive) and more."""

    first_day: date
    last_day: date
    charger: str | None = None  # a charger id, or part of an id or name
    account_id: str | None = None
    state: str = "all"

    def start_utc(self, tz: ZoneInfo) -> datetime:
        return local_midnight_utc(self.first_day, tz)

    def end_utc(self, tz: ZoneInfo) -> datetime:
        """Exclusive: the local midnight that ends ``last_day`` (23 h or 25 h days included)."""
        return local_midnight_utc(self.last_day + timedelta(days=1), tz)

    def query_string(self) -> str:
        """The canonical ``?from=...&to=...`` that reproduces this filter (for the URL)."""
        params = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        if self.charger:
            params["charger"] = self.charger
        if self.account_id:
            params["account"] = self.account_id
        if self.state != "all":
            params["state"] = self.state
        return "?" + urlencode(params)


def default_filter(today: date) -> SessionFilter:
    """The last ``DEFAULT_DAYS`` local days, today included."""
    return SessionFilter(today - timedelta(days=DEFAULT_DAYS - 1), today)


def _one(params: Mapping[str, Any], key: str) -> tuple[str | None, bool]:
    """``(value, valid)`` of one query parameter: absent or blank is ``(None, True)``."""
    value = params.get(key)
    if value is None:
        return None, True
    if not isinstance(value, str):  # a repeated parameter arrives as a list
        return None, False
    value = value.strip()
    return (value or None), True


def _day(text: str | None) -> date | None:
    if text is None or not _DAY.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if _FIRST_DAY <= day <= _LAST_DAY else None


def parse_session_filter(params: Mapping[str, Any], today: date) -> tuple[SessionFilter, list[str]]:
    """The filter a query string asks for, and a note for each value that could not be used.

    Never raises: an invalid value is replaced by its default (the last 7 days, no charger or
    account, all states) and explained. ``from`` alone runs to today; ``to`` alone shows the 7
    days ending then.
    """
    notes: list[str] = []
    fallback = default_filter(today)

    days: dict[str, date | None] = {}
    for key, label in (("from", "start"), ("to", "end")):
        text, ok = _one(params, key)
        day = _day(text)
        if not ok or (text is not None and day is None):
            shown = text if ok else "several values"
            notes.append(f"The {label} date “{shown}” is not a date like 2026-11-24; ignored.")
        days[key] = day
    first, last = days["from"], days["to"]
    if first is None and last is None:
        first, last = fallback.first_day, fallback.last_day
    elif first is None:
        assert last is not None
        first = max(_FIRST_DAY, last - timedelta(days=DEFAULT_DAYS - 1))
    elif last is None:
        last = max(first, today)
    if first > last:
        notes.append("The start date is after the end date; showing the last 7 days instead.")
        first, last = fallback.first_day, fallback.last_day
    elif (last - first).days + 1 > MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
        notes.append(
            f"A view covers at most {MAX_DAYS} days; showing {first.isoformat()} to "
            f"{last.isoformat()}."
        )

    charger, ok = _one(params, "charger")
    if not ok or (charger is not None and len(charger) > SEARCH_MAX_LENGTH):
        notes.append("The charger search is not valid; showing every charger.")
        charger = None

    account, ok = _one(params, "account")
    if not ok or (account is not None and len(account) > 64):
        notes.append("The account id is not valid; showing every account.")
        account = None

    state, ok = _one(params, "state")
    if not ok or (state is not None and state not in STATES):
        notes.append("The state must be in_progress, finalized or all; showing all sessions.")
        state = None

    return SessionFilter(first, last, charger, account, state or "all"), notes


# --- the WHERE clause -------------------------------------------------------------------------


def _charger_condition(session: Session, search: str) -> ColumnElement[bool]:
    """An exact charger id selects that charger; any other text matches part of an id or a
    name (case-insensitive). The chargers table is small next to sessions: the matching ids are
    found first, then each is an index range of ``(charger_id, started_at)``."""
    if session.get(Charger, search) is not None:
        return ChargingSession.charger_id == search
    needle = search.lower()
    matching = select(Charger.id).where(
        func.lower(Charger.id).contains(needle, autoescape=True)
        | func.lower(Charger.friendly_name).contains(needle, autoescape=True)
    )
    return ChargingSession.charger_id.in_(matching)


def session_conditions(
    session: Session,
    start: datetime | None,
    end: datetime | None,
    *,
    charger: str | None = None,
    account_id: str | None = None,
    state: str = "all",
) -> list[ColumnElement[bool]]:
    """The explorer's WHERE clause: sessions started in ``[start, end)`` (UTC; None is
    unbounded), the charger search, the account id and the state. The explorer's pages and
    totals and ``/export/sessions.csv`` all use it, so a view and its export hold the same
    rows."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(ChargingSession.started_at >= start)
    if end is not None:
        conditions.append(ChargingSession.started_at < end)
    if account_id:
        conditions.append(ChargingSession.account_id == account_id)
    if charger:
        conditions.append(_charger_condition(session, charger))
    if state == "in_progress":
        conditions.append(ChargingSession.ended_at.is_(None))
    elif state == "finalized":
        conditions.append(ChargingSession.finalized.is_(True))
    return conditions


def _conditions(session: Session, flt: SessionFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """The one WHERE clause shared by the pages and the totals."""
    return session_conditions(
        session,
        flt.start_utc(tz),
        flt.end_utc(tz),
        charger=flt.charger,
        account_id=flt.account_id,
        state=flt.state,
    )


# --- totals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionTotals:
    sessions: int  # every session of the filter (the grid's rows)
    energy_kwh: Decimal  # 3 decimals, in-progress sessions with their energy so far
    cost: Decimal  # the stored costs of the counted ones (3 decimals; none while in progress)
    disputed: int = 0  # of ``sessions``, those whose energy is disputed: not in ``energy_kwh``

    @property
    def counted(self) -> int:
        """The sessions that count in usage (disputed energy counts nowhere until resolved)."""
        return self.sessions - self.disputed


def session_totals(session: Session, flt: SessionFilter, tz: ZoneInfo) -> SessionTotals:
    """How many sessions the filter holds, their energy and stored cost: one aggregate over
    the filter. Disputed energy counts nowhere until resolved, its cost neither.

    A filter of days only (all or finalized sessions) is summed from ``usage_quarters`` (a year
    is ~35,000 quarters instead of millions of sessions); a charger, an account or "in
    progress" (``ended_at``, which the rollup does not keep) aggregate the filter's sessions."""
    conditions = _conditions(session, flt, tz)
    if not flt.charger and not flt.account_id and flt.state in ("all", "finalized"):
        usage = usage_between(
            session, flt.start_utc(tz), flt.end_utc(tz), finalized_only=flt.state == "finalized"
        )
        if usage is not None:
            # The rollup leaves disputed sessions out; the grid still lists them (few: a
            # partial index holds them).
            disputed = session.scalar(
                select(func.count())
                .select_from(ChargingSession)
                .where(*conditions, ChargingSession.energy_disputed_at.is_not(None))
            )
            return SessionTotals(
                usage.sessions + int(disputed or 0),
                usage.energy_kwh,
                usage.cost,
                int(disputed or 0),
            )
    counted = ChargingSession.counted()
    row = session.execute(
        select(
            func.count(),
            func.sum(case((counted, ChargingSession.energy_kwh))),
            func.sum(case((counted, thousandths(ChargingSession.cost_total)))),
            func.count(ChargingSession.energy_disputed_at),
        ).where(*conditions)
    ).one()
    return SessionTotals(
        int(row[0] or 0), kwh_decimal(row[1]), from_thousandths(row[2]), int(row[3] or 0)
    )


# --- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionListRow:
    session_id: str
    account_id: str
    charger_id: str
    charger_name: str
    started_at: datetime  # aware, UTC
    ended_at: datetime | None  # None: in progress
    energy_kwh: Decimal
    finalized: bool
    energy_disputed: bool = False  # a charger reported implausible energy; not resolved yet
    cost: SessionCost | None = None  # the stored cost (finalized and priced), else None


@dataclass(frozen=True)
class SessionSort:
    """An allow-listed order: ``column`` (``started`` or ``kwh``), then ``started_at`` and
    ``id`` in the same direction, so every row has one place."""

    column: str = "started"
    descending: bool = True

    def key_of(self, row: SessionListRow) -> tuple[Any, ...]:
        """The row's position in this order (what a following page continues after)."""
        if self.column == "kwh":
            return (row.energy_kwh, row.started_at, row.session_id)
        return (row.started_at, row.session_id)


DEFAULT_SORT = SessionSort()


def parse_sessions_request(raw: object) -> GridRequest:
    """The explorer grid's ``getRowsRequest``: rows (at most ``PAGE_SIZE_MAX``) and sort keys
    on ``SORT_COLUMNS``, read by ``data.core.grid.parse_grid_request``."""
    return parse_grid_request(raw, sortable=frozenset(SORT_COLUMNS), max_rows=PAGE_SIZE_MAX)


def session_sort(request: GridRequest) -> SessionSort:
    """The request's first sort key (``[{"colId": "kwh", "sort": "asc"}]``) as the order; none
    (unknown columns, directions and shapes are dropped) gives the default, newest first."""
    for key in request.sort:
        return SessionSort(key.column, key.descending)
    return DEFAULT_SORT


def _order_columns(sort: SessionSort) -> list[Any]:
    columns: list[Any] = [ChargingSession.started_at, ChargingSession.id]
    if sort.column == "kwh":
        columns.insert(0, ChargingSession.energy_kwh)
    return columns


def session_page(
    session: Session,
    flt: SessionFilter,
    tz: ZoneInfo,
    start_row: int,
    end_row: int,
    sort: SessionSort = DEFAULT_SORT,
    *,
    after: tuple[Any, ...] | None = None,
    total: int | None = None,
) -> list[SessionListRow]:
    """Rows ``start_row``..``end_row`` (exclusive, at most ``PAGE_SIZE_MAX``) of the filter.

    ``after``: the sort key of row ``start_row - 1`` when the caller knows it (the last row of the
    page it served before): the page then continues from it by index instead of OFFSET.
    ``total``: the filter's session count when known: a page in the far half is then read from
    the other end, so no request walks more than half the rows.
    """
    start = max(0, int(start_row))
    limit = min(max(0, int(end_row) - start), PAGE_SIZE_MAX)
    if limit == 0:
        return []
    columns = _order_columns(sort)
    descending = sort.descending
    offset = start
    reverse = False
    keyset: list[ColumnElement[bool]] = []
    if after is not None and start > 0 and len(after) == len(columns):
        row_key = tuple_(*columns)
        keyset.append(row_key < tuple(after) if descending else row_key > tuple(after))
        if sort.column == "started":
            # The same bound on started_at alone: an index range (account_id, started_at) can
            # take it, where the row comparison is only a filter over the whole account.
            started = ChargingSession.started_at
            keyset.append(started <= after[0] if descending else started >= after[0])
        offset = 0
    elif total is not None and start > total // 2:
        if start >= total:
            return []
        # The same order backwards: the page's rows are the ones just before ``total - start``.
        reverse = True
        descending = not descending
        stop = min(start + limit, total)
        offset, limit = total - stop, stop - start

    order = [c.desc() if descending else c.asc() for c in columns]
    # Pick the page's sessions first, from the index, and only then join their chargers' names:
    # the join costs ``limit`` primary-key lookups whatever the offset.
    page = (
        select(
            ChargingSession.id,
            ChargingSession.account_id,
            ChargingSession.charger_id,
            ChargingSession.started_at,
            ChargingSession.ended_at,
            ChargingSession.energy_kwh,
            ChargingSession.finalized,
            ChargingSession.energy_disputed_at,
            *COST_COLUMNS,
        )
        .where(*_conditions(session, flt, tz), *keyset)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
        .subquery("page")
    )
    outer_columns = [page.c.started_at, page.c.id]
    if sort.column == "kwh":
        outer_columns.insert(0, page.c.energy_kwh)
    rows = session.execute(
        select(page, Charger.friendly_name)
        .join(Charger, Charger.id == page.c.charger_id)
        .order_by(*(c.desc() if descending else c.asc() for c in outer_columns))
    ).all()
    result = [
        SessionListRow(
            r.id,
            r.account_id,
            r.charger_id,
            r.friendly_name,
            r.started_at,
            r.ended_at,
            kwh_decimal(r.energy_kwh),
            bool(r.finalized),
            r.energy_disputed_at is not None,
            stored_cost(r),
        )
        for r in rows
    ]
    if reverse:
        result.reverse()
    return result


# --- one session, in detail ------------------------------------------------------------------


@dataclass(frozen=True)
class SessionDetail:
    """A session as the explorer's detail shows it: its cost parts and the tariff version
    that priced it, and who settled its disputed energy, when."""

    row: SessionListRow
    cost: SessionCost | None  # stored; or so far, for a session not finalized yet
    cost_so_far: bool  # ``cost`` is a session in progress's, by ``live_cost``
    tariff: TariffPrices | None  # the version of ``cost``
    reported_kwh: Decimal | None  # what the charger reported when its energy was disputed
    resolved_at: datetime | None  # when an admin confirmed or corrected that energy
    resolved_by: str | None  # the admin account
    resolved_by_name: str | None  # its person's name (None once the account is gone)


def session_detail(session: Session, session_id: object, now: datetime) -> SessionDetail | None:
    """The session ``session_id`` (a key the browser sent: None when it names none). A
    finalized session's cost is the stored one, never computed again; one in progress costs
    what ``live_cost`` says at ``now``; a disputed one has none until an admin settles it."""
    if not isinstance(session_id, str) or not 0 < len(session_id) <= ID_LENGTH:
        return None
    s = ChargingSession
    resolver = aliased(Account)
    found = session.execute(
        select(s, Charger.friendly_name, User.display_name)
        .join(Charger, Charger.id == s.charger_id)
        .outerjoin(resolver, resolver.id == s.energy_resolved_by)
        .outerjoin(User, User.id == resolver.user_id)
        .where(s.id == session_id)
    ).first()
    if found is None:
        return None
    row, charger_name, resolver_name = found
    disputed = row.energy_disputed_at is not None
    cost, so_far = stored_cost(row), False
    if cost is None and not row.finalized and not disputed:
        cost, so_far = live_cost(session, row.id, now), True
    listed = SessionListRow(
        row.id,
        row.account_id,
        row.charger_id,
        charger_name,
        row.started_at,
        row.ended_at,
        kwh_decimal(row.energy_kwh),
        bool(row.finalized),
        disputed,
        cost if not so_far else None,
    )
    return SessionDetail(
        listed,
        cost,
        so_far and cost is not None,
        tariff_version_for_session(session, row.id) if cost is not None else None,
        None if row.energy_disputed_kwh is None else kwh_decimal(row.energy_disputed_kwh),
        row.energy_resolved_at,
        row.energy_resolved_by,
        resolver_name,
    )


# --- notes about the filter's ids -------------------------------------------------------------


@dataclass(frozen=True)
class FilterMatches:
    """Whether the filter's charger and account name anything (for a note on screen)."""

    chargers: int | None  # chargers matching the search; None without a charger filter
    account_exists: bool | None  # None without an account filter


def chargers_matching(session: Session, search: str) -> int:
    """How many chargers the explorer's charger search selects (1 for an exact id)."""
    if session.get(Charger, search) is not None:
        return 1
    needle = search.lower()
    return int(
        session.scalar(
            select(func.count()).where(
                func.lower(Charger.id).contains(needle, autoescape=True)
                | func.lower(Charger.friendly_name).contains(needle, autoescape=True)
            )
        )
        or 0
    )


def filter_matches(session: Session, flt: SessionFilter) -> FilterMatches:
    chargers = chargers_matching(session, flt.charger) if flt.charger else None
    account: bool | None = None
    if flt.account_id:
        account = session.get(Account, flt.account_id) is not None
    return FilterMatches(chargers, account)


# --- keyset memory ----------------------------------------------------------------------------


@dataclass
class PageKeys:
    """The last row's sort key of recently served pages, so the next page can continue from it.

    Per process and bounded (least recently used go first): with several workers a page simply
    falls back to OFFSET when another worker served the previous one. The keys are sort values
    and session ids of pages already shown to an admin; nothing else is kept.
    """

    capacity: int = 2048
    _keys: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, flt: SessionFilter, tz: ZoneInfo, sort: SessionSort, row: int) -> Any:
        """The sort key of row ``row`` (0-based) of this view, if a page ending there was served."""
        entry = (flt, tz.key, sort, row)
        with self._lock:
            key = self._keys.get(entry)
            if key is not None:
                self._keys.move_to_end(entry)
            return key

    def remember(
        self, flt: SessionFilter, tz: ZoneInfo, sort: SessionSort, row: int, key: tuple[Any, ...]
    ) -> None:
        """``key`` is the sort key of row ``row`` (0-based) of this view."""
        entry = (flt, tz.key, sort, row)
        with self._lock:
            self._keys[entry] = key
            self._keys.move_to_end(entry)
            while len(self._keys) > self.capacity:
                self._keys.popitem(last=False)
