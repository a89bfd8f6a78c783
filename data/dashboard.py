"""What a driver's dashboard shows, each a query that takes a session, the account and ``now``.

Every figure is computed in SQL over indexed ranges, so a driver with 100,000 sessions costs the
same as one with 10. Rules are the ones in ``shared/spec/data-exchange.md``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from data.periods import Period

OFFLINE_AFTER_SECONDS = 3600
CHARGER_LIMIT = 50


class ChargerStatus(enum.StrEnum):
    online = "Online"
    in_use = "In use"
    reserved = "Reserved"
    offline = "Offline"


@dataclass(frozen=True)
class OperatorSettings:
    name: str
    support_email: str | None
    tz: ZoneInfo
    currency: str


@dataclass(frozen=True)
class ActiveSession:
    session_id: str
    charger_name: str
    started_at: datetime  # aware, UTC
    energy_kwh: float


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    charger_name: str
    started_at: datetime
    ended_at: datetime | None  # None: in progress
    energy_kwh: float
    finalized: bool


@dataclass(frozen=True)
class ReservationRow:
    reservation_id: str
    charger_name: str
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass(frozen=True)
class PlanRow:
    plan_id: str
    name: str
    allowance_kwh: float
    currency: str


@dataclass(frozen=True)
class ChargerRow:
    charger_id: str
    friendly_name: str
    connector_type: str
    max_power_kw: float
    status: ChargerStatus


@dataclass(frozen=True)
class ChargerList:
    chargers: list[ChargerRow]  # at most CHARGER_LIMIT, most useful first
    visible: int  # how many the account may see in all
    available: int  # how many of those are Online now


def operator_settings(session: Session) -> OperatorSettings:
    """The operator row; a sensible placeholder (UTC, EUR) on a database without one."""
    raise NotImplementedError


def active_session(session: Session, account_id: str, now: datetime) -> ActiveSession | None:
    """The account's session in progress (``ended_at`` empty), the most recently started one."""
    raise NotImplementedError


def recent_sessions(session: Session, account_id: str, limit: int = 5) -> list[SessionRow]:
    """The account's last ``limit`` sessions, newest first."""
    raise NotImplementedError


def next_reservation(session: Session, account_id: str, now: datetime) -> ReservationRow | None:
    """Pending/confirmed/active reservations ending after ``now``: the earliest-starting one."""
    raise NotImplementedError


def daily_usage(session: Session, account_id: str, period: Period) -> pd.DataFrame:
    """Columns ``day`` (date) and ``energy_kwh`` (float): one row per day of the period, zeros
    included; a session counts on the local day it started, in progress with its energy so far."""
    raise NotImplementedError


def account_plan(session: Session, account_id: str) -> PlanRow | None:
    raise NotImplementedError


def visible_chargers(
    session: Session, account_id: str, now: datetime, limit: int = CHARGER_LIMIT
) -> ChargerList:
    """Public chargers and those granted to the account, with their status at ``now``."""
    raise NotImplementedError
