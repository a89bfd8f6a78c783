"""An account's monthly statement (``/statements/<YYYY-MM>``, its CSV and PDF): the sessions of
one calendar month in the operator's time zone, each with its stored cost, and the totals.

- Which sessions: the account's finalized ones that started from the month's first local
  midnight up to the next month's (the spec's usage rule: a session counts on the local day on
  which it started, DST changes included). A session whose energy is under review (disputed)
  counts in no usage figure: it is left out and counted in ``under_review``; a session in
  progress appears once it is finalized.
- Costs: the stored ones (``stored_cost``), never recomputed; a session no tariff priced has
  none. Totals per currency are the sums of the stored parts, so the statement's total is the
  sum of the sessions' ``cost_total`` and agrees to the cent with the sessions export.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from data.charging.dashboard import OperatorSettings, operator_settings
from data.core.models import Charger, ChargingSession
from data.core.periods import Period, local_midnight_utc
from data.core.sql import AnySelect, kwh_decimal
from data.pricing.cost import SessionCost
from data.pricing.receipts import AccountHolder, account_holder
from data.pricing.rows import stored_cost

MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
FIRST_YEAR = 1970
LAST_YEAR = 9998  # the next month's local midnight must still be a datetime
BATCH_ROWS = 500  # sessions per fetch when streaming (the CSV)


class MonthError(ValueError):
    """The month in the address is not one; the message says what to write instead."""


def parse_month(text: object) -> date:
    """``2026-11`` -> 1 November 2026. Anything else raises ``MonthError`` saying what is
    wrong: not YYYY-MM, a month outside 01-12 ("2026-13"), a year outside 1970-9998."""
    found = MONTH.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        shown = text[:40] if isinstance(text, str) else ""
        raise MonthError(f"“{shown}” is not a month. Write it as YYYY-MM, like 2026-11.")
    year, month = int(found[1]), int(found[2])
    if not 1 <= month <= 12:
        raise MonthError(f"There is no month {found[2]} in {text}: months run from 01 to 12.")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise MonthError(f"Statements cover the years {FIRST_YEAR} to {LAST_YEAR}.")
    return date(year, month, 1)


def month_key(first_day: date) -> str:
    """1 November 2026 -> ``2026-11`` (the address of its statement)."""
    return f"{first_day.year:04d}-{first_day.month:02d}"


def month_of(moment: datetime, tz: ZoneInfo) -> date:
    """The first day of the month that contains ``moment`` in ``tz``."""
    return moment.astimezone(tz).date().replace(day=1)


def shift_month(first_day: date, months: int) -> date | None:
    """The first day of the month ``months`` after (or before) ``first_day``'s; None outside
    the years a statement covers."""
    index = first_day.year * 12 + first_day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, 1) if FIRST_YEAR <= year <= LAST_YEAR else None


def month_period(first_day: date, tz: ZoneInfo) -> Period:
    """The calendar month of ``first_day`` in ``tz``: local days and the UTC instants bounding
    them (a month with a DST change is an hour shorter or longer)."""
    end = (first_day + timedelta(days=32)).replace(day=1)
    start_utc, end_utc = local_midnight_utc(first_day, tz), local_midnight_utc(end, tz)
    return Period("month", first_day, end, start_utc, end_utc, tz)


@dataclass(frozen=True)
class StatementLine:
    session_id: str
    started_at: datetime  # aware, UTC
    ended_at: datetime
    charger_id: str
    charger_name: str
    energy_kwh: Decimal
    cost: SessionCost | None  # None: no tariff priced it


@dataclass(frozen=True)
class CurrencyTotals:
    """The month's stored costs in one currency, part by part (``total`` includes ``vat``)."""

    currency: str
    sessions: int
    energy: Decimal
    time: Decimal
    fee: Decimal
    total: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Statement:
    holder: AccountHolder
    operator: OperatorSettings
    period: Period
    lines: list[StatementLine]
    totals: list[CurrencyTotals]  # one per currency, by currency code
    energy_kwh: Decimal  # every line's energy, priced or not
    unpriced: int  # lines that no tariff priced (no cost)
    under_review: int  # finalized sessions of the month left out: energy under review

    @property
    def key(self) -> str:
        return month_key(self.period.first_day)


def _in_month(account_id: str, period: Period) -> list[ColumnElement[bool]]:
    s = ChargingSession
    return [
        s.account_id == account_id,
        s.started_at >= period.start_utc,
        s.started_at < period.end_utc,
        s.finalized.is_(True),
        s.ended_at.is_not(None),
    ]


def _lines_statement(account_id: str, period: Period) -> AnySelect:
    s = ChargingSession
    return (
        select(s, Charger.friendly_name)
        .join(Charger, Charger.id == s.charger_id)
        .where(*_in_month(account_id, period), s.counted())
        .order_by(s.started_at, s.id)
    )


def _line(row: ChargingSession, charger_name: str) -> StatementLine:
    assert row.ended_at is not None  # selected so
    return StatementLine(
        session_id=row.id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        charger_id=row.charger_id,
        charger_name=charger_name,
        energy_kwh=kwh_decimal(row.energy_kwh),
        cost=stored_cost(row),
    )


def iter_statement_lines(
    session: Session, account_id: str, period: Period, *, batch_rows: int = BATCH_ROWS
) -> Iterator[StatementLine]:
    """The statement's lines, oldest first, read ``batch_rows`` at a time (for a streamed
    file: never all held at once)."""
    stmt = _lines_statement(account_id, period).execution_options(yield_per=batch_rows)
    for row, charger_name in session.execute(stmt):
        yield _line(row, charger_name)


def currency_totals(lines: Iterable[StatementLine]) -> list[CurrencyTotals]:
    """Per currency, the sums of the lines' stored cost parts (unpriced lines add nothing)."""
    sums: dict[str, list[Decimal]] = {}
    counts: dict[str, int] = {}
    for line in lines:
        cost = line.cost
        if cost is None:
            continue
        parts = (cost.energy, cost.time, cost.fee, cost.total, cost.vat)
        current = sums.setdefault(cost.currency, [Decimal(0)] * len(parts))
        sums[cost.currency] = [a + b for a, b in zip(current, parts, strict=True)]
        counts[cost.currency] = counts.get(cost.currency, 0) + 1
    return [
        CurrencyTotals(currency, counts[currency], *sums[currency]) for currency in sorted(sums)
    ]


@dataclass(frozen=True)
class StatementDay:
    """One local day of a statement, in one currency (``totals`` None: its sessions that no
    tariff priced): for a month too long to print session by session."""

    day: date
    sessions: int
    energy_kwh: Decimal
    totals: CurrencyTotals | None


def statement_days(statement: Statement) -> list[StatementDay]:
    """The statement's lines summed per local day (of their start) and currency, in order."""
    groups: dict[tuple[date, str], list[StatementLine]] = {}
    for line in statement.lines:
        day = line.started_at.astimezone(statement.period.tz).date()
        currency = "" if line.cost is None else line.cost.currency
        groups.setdefault((day, currency), []).append(line)
    days = []
    for (day, currency), lines in sorted(groups.items()):
        totals = currency_totals(lines)
        days.append(
            StatementDay(
                day=day,
                sessions=len(lines),
                energy_kwh=sum((line.energy_kwh for line in lines), Decimal("0.000")),
                totals=totals[0] if currency else None,
            )
        )
    return days


def month_statement(session: Session, account_id: str, first_day: date) -> Statement | None:
    """The statement of ``account_id`` for the month of ``first_day`` in the operator's time
    zone; None when there is no such account."""
    holder = account_holder(session, account_id)
    if holder is None:
        return None
    operator = operator_settings(session)
    period = month_period(first_day, operator.tz)
    rows = session.execute(_lines_statement(account_id, period))
    lines = [_line(row, charger_name) for row, charger_name in rows]
    s = ChargingSession
    under_review = session.scalar(
        select(func.count())
        .select_from(s)
        .where(*_in_month(account_id, period), s.energy_disputed_at.is_not(None))
    )
    return Statement(
        holder=holder,
        operator=operator,
        period=period,
        lines=lines,
        totals=currency_totals(lines),
        energy_kwh=sum((line.energy_kwh for line in lines), Decimal("0.000")),
        unpriced=sum(1 for line in lines if line.cost is None),
        under_review=under_review or 0,
    )
