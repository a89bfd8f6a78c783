"""A driver's own history: every session of one customer account (``/sessions`` and
``GET /api/v1/me/sessions``), and its upcoming reservations (``GET /api/v1/me/reservations``).

The filter is optional local days in the operator's time zone and a charger the account used.
It becomes the sessions explorer's own ``SessionFilter`` with the account fixed
(``data.charging.history``), so the rows, the paging (keyset, or OFFSET from the nearer end),
the totals (stored costs; disputed energy counts nowhere until settled; without a charger read
from ``account_days`` when that is exact, so 100,000 sessions cost what 10 do) and
``/export/sessions.csv`` for the same query string (limited to the active account by
``data.exchange.exports.scope_filter``) all hold the same sessions. The account is always an
argument the caller took from the signed-in session or the token, never from a query string.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, DateTime, String, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from data.charging.account_days import (
    MARGIN,
    SINCE_EVER,
    DayWindow,
    day_window,
    from_milli,
    stored_runs_match,
)
from data.charging.history import (
    PAGE_SIZE_MAX,
    SessionFilter,
    SessionListRow,
    SessionTotals,
    session_page,
    session_totals,
)
from data.charging.reservations import (
    UPCOMING_STATUSES,
    ReservationRow,
    reservation_columns,
    reservation_rows,
)
from data.core.models import (
    ID_LENGTH,
    AccountDay,
    AccountDayZone,
    Charger,
    ChargingSession,
    Reservation,
)
from data.core.periods import Period, local_midnight_utc

# No dates: every session. The explorer's own bounds (the local midnight after the last day
# must still be a datetime).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
API_LIMIT_MAX = 200
API_LIMIT_DEFAULT = 50
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class HistoryFilter:
    """What a driver asks for: local days ``first_day``..``last_day`` (inclusive; None: no
    bound) and one charger (its id; None: all)."""

    first_day: date | None = None
    last_day: date | None = None
    charger_id: str | None = None

    def for_account(self, account_id: str) -> SessionFilter:
        """The explorer's filter of this one account."""
        return SessionFilter(
            self.first_day or FIRST_DAY,
            self.last_day or LAST_DAY,
            self.charger_id,
            account_id,
        )

    def query_string(self) -> str:
        """``?from=...&to=...&charger=...`` (only what is set): the page's address and its
        ``/export/sessions.csv`` link, which reads the same parameters the same way."""
        params: dict[str, str] = {}
        if self.first_day is not None:
            params["from"] = self.first_day.isoformat()
        if self.last_day is not None:
            params["to"] = self.last_day.isoformat()
        if self.charger_id:
            params["charger"] = self.charger_id
        return "?" + urlencode(params) if params else ""


def _text(params: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    """``(value, problem)``: absent or blank is ``(None, None)``; a repeated one is a problem."""
    value = params.get(key)
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, f"Give “{key}” once."
    value = value.strip()
    return (value or None), None


def _day(text: str) -> date | None:
    if not _DAY.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def parse_history_filter(params: Mapping[str, Any]) -> tuple[HistoryFilter, list[str]]:
    """The filter of ``from``, ``to`` (``2026-11-24``) and ``charger`` (an id), and a plain
    message for each value that could not be used (that value is then left out). Never raises."""
    problems: list[str] = []
    days: dict[str, date | None] = {}
    for key, label in (("from", "start"), ("to", "end")):
        text, problem = _text(params, key)
        day = None if text is None else _day(text)
        if problem is not None:
            problems.append(problem)
        elif text is not None and day is None:
            problems.append(f"The {label} date “{text[:40]}” is not a date like 2026-11-24.")
        days[key] = day
    first, last = days["from"], days["to"]
    if first is not None and last is not None and first > last:
        problems.append("The start date is after the end date; showing every date.")
        first = last = None
    charger, problem = _text(params, "charger")
    if problem is not None:
        problems.append(problem)
    elif charger is not None and len(charger) > ID_LENGTH:
        problems.append("That is not a charger id; showing every charger.")
        charger = None
    return HistoryFilter(first, last, charger), problems


@dataclass(frozen=True)
class UsedCharger:
    charger_id: str
    friendly_name: str


def used_chargers(session: Session, account_id: str) -> list[UsedCharger]:
    """The chargers the account has a session on, by name (the API's charger check). A skip scan of
    ``ix_sessions_account_charger_started``: one index probe per charger used (the next charger
    id after the last one found), whatever the number of sessions or of chargers in the fleet."""
    s = ChargingSession
    mine = s.account_id == account_id
    used = select(func.min(s.charger_id).label("id")).where(mine).cte("used", recursive=True)
    following = select(
        select(func.min(s.charger_id)).where(mine, s.charger_id > used.c.id).scalar_subquery()
    ).where(used.c.id.is_not(None))
    used = used.union_all(following)
    rows = session.execute(
        select(Charger.id, Charger.friendly_name)
        .where(Charger.id.in_(select(used.c.id)))
        .order_by(Charger.friendly_name, Charger.id)
    ).all()
    return [UsedCharger(r.id, r.friendly_name) for r in rows]


# The filter's choices: a page opens with the chargers of the account's newest sessions, typing
# searches the rest. Both bounded, whatever the number of sessions or of chargers used.
CHOICES_LIMIT = 20
RECENT_SESSIONS = 500


def recent_chargers(
    session: Session, account_id: str, limit: int = CHOICES_LIMIT
) -> list[UsedCharger]:
    """Up to ``limit`` chargers of the account's newest ``RECENT_SESSIONS`` sessions, the most
    recently used first: one bounded range of ``ix_sessions_account_started_id``."""
    s = ChargingSession
    newest = (
        select(s.charger_id, s.started_at)
        .where(s.account_id == account_id)
        .order_by(s.started_at.desc(), s.id.desc())
        .limit(RECENT_SESSIONS)
        .subquery("newest")
    )
    last = (
        select(newest.c.charger_id, func.max(newest.c.started_at).label("last_at"))
        .group_by(newest.c.charger_id)
        .subquery("last")
    )
    rows = session.execute(
        select(Charger.id, Charger.friendly_name)
        .join(last, last.c.charger_id == Charger.id)
        .order_by(last.c.last_at.desc(), Charger.id)
        .limit(max(0, min(limit, 100)))
    ).all()
    return [UsedCharger(r.id, r.friendly_name) for r in rows]


def _used_by(account_id: str) -> Any:
    """The charger has a session of the account: one probe of
    ``ix_sessions_account_charger_started``."""
    s = ChargingSession
    return (
        select(s.id).where(s.account_id == account_id, s.charger_id == Charger.id).limit(1).exists()
    )


def search_used_chargers(
    session: Session, account_id: str, typed: str, limit: int = CHOICES_LIMIT
) -> list[UsedCharger]:
    """Up to ``limit`` chargers the account has a session on whose name or id contains
    ``typed`` (case-insensitive), by name."""
    query = select(Charger.id, Charger.friendly_name).where(_used_by(account_id))
    needle = typed.strip().lower()[:ID_LENGTH]
    if needle:
        query = query.where(
            func.lower(Charger.id).contains(needle, autoescape=True)
            | func.lower(Charger.friendly_name).contains(needle, autoescape=True)
        )
    rows = session.execute(
        query.order_by(Charger.friendly_name, Charger.id).limit(max(0, min(limit, 100)))
    ).all()
    return [UsedCharger(r.id, r.friendly_name) for r in rows]


def used_charger(session: Session, account_id: str, charger_id: str) -> UsedCharger | None:
    """The charger when the account has a session on it (the filter's chosen one), else None."""
    row = session.execute(
        select(Charger.id, Charger.friendly_name).where(
            Charger.id == charger_id, _used_by(account_id)
        )
    ).one_or_none()
    return None if row is None else UsedCharger(row.id, row.friendly_name)


def history_totals(
    session: Session, account_id: str, flt: HistoryFilter, tz: ZoneInfo
) -> SessionTotals:
    """How many sessions, kWh and stored cost the account's filter holds: without a charger
    from ``account_days`` (a row per local day) when that is exact, else one aggregate of the
    filter's sessions (``history_totals_from_sessions``)."""
    if flt.charger_id is None:
        found = _totals_from_days(session, account_id, flt, tz)
        if found is not None:
            return found
    return history_totals_from_sessions(session, account_id, flt, tz)


def history_totals_from_sessions(
    session: Session, account_id: str, flt: HistoryFilter, tz: ZoneInfo
) -> SessionTotals:
    """``history_totals`` as one aggregate of the filter's sessions (an index range of the
    account's): a charger filter, or when ``account_days`` cannot answer exactly."""
    return session_totals(session, flt.for_account(account_id), tz)


def _edge_window(day: date, tz: ZoneInfo) -> DayWindow | None:
    """``day`` alone as ``account_days`` keys, when its local midnights split the instants
    exactly under the zone's runs (``day_window``'s check for a one-day period)."""
    following = day + timedelta(days=1)
    period = Period(
        "edge", day, following, local_midnight_utc(day, tz), local_midnight_utc(following, tz), tz
    )
    return day_window(period)


_DAYS, _DISPUTED, _RUN = 0, 1, 2


def _totals_from_days(
    session: Session, account_id: str, flt: HistoryFilter, tz: ZoneInfo
) -> SessionTotals | None:
    """``history_totals`` of a filter of days only from ``account_days``, or None (the caller
    aggregates sessions then).

    Only the bounds given need checking: a session far from both (more than ``MARGIN``) has its
    local day inside or outside the range whatever run counted it, and one near a bound was
    counted with the runs ``zoneinfo`` gives now (``stored_runs_match`` for each bound's day).
    A missing bound is the explorer's 1970-01-01 / 9998-12-31: exact when the account has no
    session within ``MARGIN`` of it (its first and last start ride in the same statement).
    Disputed sessions are not in ``account_days`` but are rows of the grid: counted apart (the
    partial index ``ix_sessions_energy_disputed`` holds them). In-progress sessions count with
    their energy so far and no cost, as the sessions aggregate has them."""
    explorer = flt.for_account(account_id)
    start, end = explorer.start_utc(tz), explorer.end_utc(tz)
    windows: list[DayWindow] = []
    for day in (flt.first_day, flt.last_day):
        if day is not None:
            window = _edge_window(day, tz)
            if window is None:
                return None
            windows.append(window)
    a, s, z = AccountDay, ChargingSession, AccountDayZone
    nothing = literal(None, BigInteger())
    no_time = literal(None, DateTime(timezone=True))
    no_zone = literal(None, String())
    mine = s.account_id == account_id
    in_range = [a.account_id == account_id]
    if flt.first_day is not None:
        in_range.append(a.day >= windows[0].first)
    if flt.last_day is not None:
        in_range.append(a.day < windows[-1].end)
    # Each is one index probe of (account_id, started_at).
    first_at = select(func.min(s.started_at)).where(mine).scalar_subquery()
    last_at = select(func.max(s.started_at)).where(mine).scalar_subquery()
    days = select(
        literal(_DAYS).label("kind"),
        cast(func.coalesce(func.sum(a.sessions), 0), BigInteger).label("a"),
        cast(func.coalesce(func.sum(a.energy_wh), 0), BigInteger).label("b"),
        cast(func.coalesce(func.sum(a.cost_milli), 0), BigInteger).label("c"),
        no_zone.label("zone"),
        first_at.label("first_at"),
        last_at.label("last_at"),
    ).where(*in_range)
    is_disputed = s.energy_disputed_at.is_not(None)
    disputed = select(
        literal(_DISPUTED), cast(func.count(), BigInteger), nothing, nothing, no_zone, no_time,
        no_time,
    ).where(mine, s.started_at >= start, s.started_at < end, is_disputed)  # fmt: skip
    # The first run (every session finds a run) and the runs covering each bound's window.
    covering = [z.start_s == SINCE_EVER]
    for w in windows:
        first_run = select(func.max(z.start_s)).where(z.start_s <= w.lo).scalar_subquery()
        covering.append((z.start_s >= first_run) & (z.start_s < w.hi))
    runs = select(
        literal(_RUN), z.start_s, cast(z.offset_s, BigInteger), nothing, z.zone, no_time, no_time
    ).where(or_(*covering))
    rows = session.execute(union_all(days, disputed, runs)).all()
    stored = [(int(r.a), int(r.b), str(r.zone)) for r in rows if r.kind == _RUN]
    if not any(start_s == SINCE_EVER and zone == tz.key for start_s, _o, zone in stored):
        return None
    for w in windows:
        first = max((st for st, _o, _z in stored if st <= w.lo), default=None)
        if first is None:
            return None
        if not stored_runs_match(w, [r for r in stored if first <= r[0] < w.hi]):
            return None
    total = next(r for r in rows if r.kind == _DAYS)
    if flt.first_day is None and total.first_at is not None and total.first_at < start + MARGIN:
        return None
    if flt.last_day is None and total.last_at is not None and total.last_at >= end - MARGIN:
        return None
    disputed_count = int(next(r.a for r in rows if r.kind == _DISPUTED))
    return SessionTotals(
        int(total.a) + disputed_count,
        from_milli(total.b),
        from_milli(total.c),
        disputed_count,
    )


def history_page(
    session: Session,
    account_id: str,
    flt: HistoryFilter,
    tz: ZoneInfo,
    start_row: int,
    end_row: int,
    *,
    after: tuple[Any, ...] | None = None,
    total: int | None = None,
) -> list[SessionListRow]:
    """Rows ``start_row``..``end_row`` of the account's filter, newest first (the explorer's
    paging: ``after`` is the ``(started_at, id)`` of row ``start_row - 1`` when known)."""
    return session_page(
        session, flt.for_account(account_id), tz, start_row, end_row, after=after, total=total
    )


# --- the API's pages: an opaque cursor instead of row numbers ---------------------------


class CursorError(ValueError):
    """The cursor is not one this API gave out."""


def encode_cursor(row: SessionListRow) -> str:
    """The position after ``row`` (its start and id), opaque to the client."""
    raw = json.dumps([row.started_at.isoformat(), row.session_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, session_id = json.loads(raw)
        moment = datetime.fromisoformat(started)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise CursorError("The cursor is not valid; use next_cursor as it was given.") from None
    if moment.tzinfo is None or not isinstance(session_id, str) or len(session_id) > ID_LENGTH:
        raise CursorError("The cursor is not valid; use next_cursor as it was given.")
    return moment, session_id


def sessions_after(
    session: Session,
    account_id: str,
    flt: HistoryFilter,
    tz: ZoneInfo,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[SessionListRow], str | None]:
    """Up to ``limit`` (at most ``API_LIMIT_MAX``) sessions newest first, after ``cursor``; and
    the cursor of the following page (None: this was the last). Each piece is one keyset range
    of the explorer's page size, whatever the depth."""
    limit = max(1, min(int(limit), API_LIMIT_MAX))
    after: tuple[Any, ...] | None = None if cursor is None else decode_cursor(cursor)
    rows: list[SessionListRow] = []
    while len(rows) <= limit:
        # One more than asked (is there a next page?), in pieces the explorer serves.
        wanted = min(limit + 1 - len(rows), PAGE_SIZE_MAX)
        # Row 1 with the key of row 0: session_page continues from the key, not an OFFSET.
        start = 0 if after is None else 1
        piece = history_page(session, account_id, flt, tz, start, start + wanted, after=after)
        rows += piece
        if len(piece) < wanted:
            break
        after = (piece[-1].started_at, piece[-1].session_id)
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1])
    return rows, None


# --- reservations ---------------------------------------------------------------------------


def account_reservations(session: Session, account_id: str, now: datetime) -> list[ReservationRow]:
    """The account's reservations not ended at ``now`` (pending, confirmed, active), earliest
    first (a range of ``ix_reservations_account_ends``)."""
    rows = (
        select(*reservation_columns())
        .where(
            Reservation.account_id == account_id,
            Reservation.ends_at > now,
            Reservation.status.in_(UPCOMING_STATUSES),
        )
        .subquery("mine")
    )
    return reservation_rows(session, rows)
