"""The fleet's standing against the NEVI 97% (``/admin/uptime``): per charger, its last full
month and the twelve months that end with it, and the outage minutes it may still lose; the
fleet's figures beside them. One statement over ``uptime_statement`` (every charger's twelve
months), aggregated in SQL: per charger by GROUP BY, the fleet by window sums over the groups.

"Minutes it can still lose" = the window's minutes x 3% - its counted (not excluded) outage
minutes, floored at 0: how much more counted outage the twelve months can take and stay at or
above 97%. Minutes are summed from the months' figures (thousandths of a minute, each rounded
half up), so they agree with ``uptime-monthly.csv`` to the thousandth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, func, literal, select
from sqlalchemy.orm import Session

from data.core.db import core_rows
from data.core.models import Charger
from data.core.sql import AnySelect, Bytewise
from data.pricing.statements import month_key, shift_month
from data.uptime.monthly import (
    TRAILING_MONTHS,
    stored_months,
    stored_twelve_months,
    uptime_statement,
)

NEVI_PERCENT = Decimal(97)
_TARGET_MILLI = 97_000  # thousandths of a percent
_ALLOWED_SHARE = Decimal(3) / 100  # what the window may lose and stay at 97%


@dataclass(frozen=True)
class ChargerStanding:
    charger_id: str
    friendly_name: str | None
    month_percent: Decimal  # the last full month
    twelve_month_percent: Decimal
    window_minutes: Decimal  # the twelve months'
    counted_outage_minutes: Decimal  # outage minutes less excluded ones, over the twelve months
    can_still_lose_minutes: Decimal  # window x 3% - counted, floored at 0

    @property
    def below_target(self) -> bool:
        return self.twelve_month_percent < NEVI_PERCENT


@dataclass(frozen=True)
class FleetUptime:
    month: date  # the last full month (its first day)
    month_percent: Decimal | None  # None for a fleet without chargers
    twelve_month_percent: Decimal | None
    chargers: list[ChargerStanding]  # below 97% first (lowest first), then the others

    @property
    def below_target(self) -> int:
        return sum(1 for c in self.chargers if c.below_target)

    @property
    def headline(self) -> FleetHeadline:
        lowest = self.chargers[0].charger_id if self.chargers else None
        return FleetHeadline(
            self.month,
            self.month_percent,
            self.twelve_month_percent,
            len(self.chargers),
            self.below_target,
            lowest,
        )


@dataclass(frozen=True)
class FleetHeadline:
    """``FleetUptime`` without its chargers: what /admin/uptime's headline needs."""

    month: date
    month_percent: Decimal | None
    twelve_month_percent: Decimal | None
    chargers: int
    below_target: int
    lowest_charger_id: str | None  # first in the standings' order


def last_full_month(now: datetime, tz: ZoneInfo) -> date:
    """The first day of the calendar month before the one that holds ``now`` in ``tz``."""
    this_month = now.astimezone(tz).date().replace(day=1)
    previous = shift_month(this_month, -1)
    if previous is None:
        raise ValueError(f"no month before {this_month}")
    return previous


def _percent(minutes_milli: int, counted_milli: int) -> Decimal | None:
    if minutes_milli <= 0:
        return None
    share = Decimal(minutes_milli - counted_milli) * 100 / Decimal(minutes_milli)
    return share.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _milli(value: int) -> Decimal:
    return Decimal(value).scaleb(-3)


def _standings(session: Session, tz: ZoneInfo, now: datetime) -> tuple[date, AnySelect]:
    """The last full month and the standings' statement: a row per charger in the standings'
    order, with the fleet's sums (window sums: over every charger, whatever LIMIT follows)."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: now needs a time zone")
    month = last_full_month(now, tz)
    first = shift_month(month, 1 - TRAILING_MONTHS) or month
    stored = stored_months(session, tz, now)
    per_charger = stored_twelve_months(tz, month, now.astimezone(UTC), stored)
    if per_charger is None:
        per_charger = _computed_twelve_months(tz, first, month, now.astimezone(UTC), stored)
    p = per_charger.subquery("per_charger").c
    twelve = p.twelve_milli
    statement = (
        select(
            p.charger_id,
            Charger.friendly_name,
            p.month_milli,
            twelve,
            p.minutes,
            p.counted,
            func.sum(p.month_minutes).over().label("fleet_month_minutes"),
            func.sum(p.month_counted).over().label("fleet_month_counted"),
            func.sum(p.minutes).over().label("fleet_minutes"),
            func.sum(p.counted).over().label("fleet_counted"),
            func.count().over().label("fleet_chargers"),
        )
        .join(Charger, Charger.id == p.charger_id)
        .order_by(
            case((twelve < _TARGET_MILLI, literal(0, Integer())), else_=1),
            twelve,
            Bytewise(p.charger_id),
        )
    )
    return month, statement


def _standing(row: Any) -> ChargerStanding:
    charger_id, name, month_milli, twelve_milli, window, lost = row[:6]
    window_minutes, counted_minutes = _milli(int(window)), _milli(int(lost))
    return ChargerStanding(
        charger_id,
        name,
        _milli(month_milli),
        _milli(twelve_milli),
        window_minutes,
        counted_minutes,
        max(Decimal(0), window_minutes * _ALLOWED_SHARE - counted_minutes),
    )


def fleet_uptime(session: Session, tz: ZoneInfo, now: datetime) -> FleetUptime:
    """Every charger's standing for the last full month before ``now``, and the fleet's."""
    month, statement = _standings(session, tz, now)
    chargers: list[ChargerStanding] = []
    fleet: tuple[int, ...] = (0, 0, 0, 0)
    for row in core_rows(session, statement, {}):
        fleet = tuple(int(t) for t in row[6:10])  # the same on every row
        chargers.append(_standing(row))
    return FleetUptime(month, _percent(fleet[0], fleet[1]), _percent(fleet[2], fleet[3]), chargers)


def fleet_headline(session: Session, tz: ZoneInfo, now: datetime) -> FleetHeadline:
    """``fleet_uptime(...).headline`` from one row: the standings' first charger, which carries
    the fleet's window sums, so the page's headline does not build every charger's standing
    (its grid reads them a block at a time)."""
    month, statement = _standings(session, tz, now)
    below = func.sum(case((statement.selected_columns[3] < _TARGET_MILLI, 1), else_=0)).over()
    row = core_rows(session, statement.add_columns(below.label("below")).limit(1), {}).first()
    if row is None:
        return FleetHeadline(month, None, None, 0, 0, None)
    fleet = [int(t) for t in row[6:10]]
    return FleetHeadline(
        month,
        _percent(fleet[0], fleet[1]),
        _percent(fleet[2], fleet[3]),
        int(row[10]),
        int(row[11]),
        str(row[0]),
    )


def fleet_standings_block(
    session: Session, tz: ZoneInfo, now: datetime, start: int, end: int
) -> tuple[list[ChargerStanding], int]:
    """Rows ``start`` to ``end`` (exclusive) of ``fleet_uptime``'s chargers, in its order, and
    how many chargers there are: the database sorts and cuts (LIMIT/OFFSET), so a grid's block
    builds 100 standings, not the fleet's."""
    _month, statement = _standings(session, tz, now)
    start = max(0, start)
    rows = list(core_rows(session, statement.limit(max(0, end - start)).offset(start), {}))
    if rows:
        return [_standing(r) for r in rows], int(rows[0][10])
    counted = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    return [], int(counted or 0)


def _computed_twelve_months(
    tz: ZoneInfo, first: date, month: date, now: datetime, stored: frozenset[str]
) -> AnySelect:
    """``stored_twelve_months``'s columns from ``uptime_statement`` (some of the twelve months
    are not stored: computed from the outage log). The twelve months alone: the last one's
    twelve-month figure needs no month before them; and no order, they are grouped."""
    months = uptime_statement(tz, first, month, now, None, stored, history=0)
    m = months.order_by(None).subquery("months").c
    last = m.month == month_key(month)
    return select(
        m.charger_id,
        func.max(case((last, m.uptime_milli))).label("month_milli"),
        func.max(case((last, m.uptime_12m_milli))).label("twelve_milli"),
        func.sum(m.minutes_milli).label("minutes"),
        func.sum(m.outage_milli - m.excluded_milli).label("counted"),
        func.sum(case((last, m.minutes_milli), else_=0)).label("month_minutes"),
        func.sum(case((last, m.outage_milli - m.excluded_milli), else_=0)).label("month_counted"),
    ).group_by(m.charger_id)
