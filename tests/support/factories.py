"""Row builders for tests: each inserts one row with sensible defaults and flushes it.

Pass only what the test is about; everything else gets a default. Ids are generated unless
given (zero-padded, so they sort in creation order). Relations accept the ORM object or its id.
Timestamps have no default on purpose: a test pins its own ``now`` and says when things happen.

    with db.session() as s:
        account = make_account(s, plan=make_plan(s))
        charger = make_charger(s, last_seen_at=NOW)
        make_session(s, account, charger, started_at=NOW - timedelta(hours=1), energy_kwh="7.5")
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from data.chargers.snapshots import account_grants, fleet_snapshot, shown_statuses
from data.chargers.status import OFFLINE_AFTER_SECONDS, ChargerStatus
from data.charging.account_days import refill_account_days
from data.core.models import (
    Account,
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorStatus,
    ConnectorType,
    IdTag,
    Operator,
    Plan,
    Reservation,
    ReservationStatus,
    Role,
    User,
    Visibility,
)
from data.uptime.outages import Outage, OutageCause, OutageKind

_counter = itertools.count(1)
T = TypeVar("T")

Kwh = Decimal | str | int | float


def new_id(prefix: str) -> str:
    """A unique id such as ``charger-000042`` (unique for the whole test run)."""
    return f"{prefix}-{next(_counter):06d}"


def _decimal(value: Kwh) -> Decimal:
    # Through str so that 7.1 means 7.1, not the nearest binary float.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _ref(value: Account | Charger | Plan | str) -> str:
    return value if isinstance(value, str) else value.id


def _add(session: Session, row: T) -> T:
    session.add(row)
    session.flush()
    return row


def make_operator(
    session: Session,
    *,
    name: str = "Polaris Express",
    support_email: str | None = "support@polaris.example",
    timezone: str = "UTC",
    currency: str = "EUR",
) -> Operator:
    operator = _add(
        session,
        Operator(
            id=1, name=name, support_email=support_email, timezone=timezone, currency=currency
        ),
    )
    # As saving the settings does: local days per account counted in the operator's zone
    # (from migration 0031 on; migration tests stop before it).
    if inspect(session.connection()).has_table("account_days"):
        refill_account_days(session, ZoneInfo(timezone))
    return operator


def make_plan(
    session: Session,
    *,
    plan_id: str | None = None,
    name: str = "Standard",
    allowance_kwh: Kwh = "200",
    currency: str = "EUR",
) -> Plan:
    return _add(
        session,
        Plan(
            id=plan_id or new_id("plan"),
            name=name,
            allowance_kwh=_decimal(allowance_kwh),
            currency=currency,
        ),
    )


def make_user(
    session: Session,
    *,
    email: str | None = None,
    display_name: str = "Test Driver",
    password_hash: str | None = None,
) -> User:
    return _add(
        session,
        User(
            email=email or f"{new_id('user')}@example.com",
            display_name=display_name,
            password_hash=password_hash,
        ),
    )


def make_account(
    session: Session,
    *,
    account_id: str | None = None,
    user: User | None = None,
    role: Role = Role.customer,
    plan: Plan | str | None = None,
    label: str | None = None,
) -> Account:
    """An account; a new user is created for it unless ``user`` is given."""
    owner = user or make_user(session)
    return _add(
        session,
        Account(
            id=account_id or new_id("account"),
            user_id=owner.id,
            role=role,
            plan_id=None if plan is None else _ref(plan),
            label=label,
        ),
    )


def make_charger(
    session: Session,
    *,
    charger_id: str | None = None,
    friendly_name: str | None = None,
    connector_type: ConnectorType = ConnectorType.ccs,
    max_power_kw: Kwh = "50",
    visibility: Visibility = Visibility.public,
    last_seen_at: datetime | None = None,
) -> Charger:
    """A charger; with the default ``last_seen_at=None`` it is Offline."""
    cid = charger_id or new_id("charger")
    return _add(
        session,
        Charger(
            id=cid,
            friendly_name=friendly_name or f"Charger {cid}",
            connector_type=connector_type,
            max_power_kw=_decimal(max_power_kw),
            visibility=visibility,
            last_seen_at=last_seen_at,
        ),
    )


def make_outage(
    session: Session,
    charger: Charger | str,
    *,
    started_at: datetime,
    ended_at: datetime | None = None,
    cause: OutageCause = OutageCause.unknown,
    excluded: bool = False,
    note: str | None = None,
    kind: OutageKind = OutageKind.imported,
    outage_id: str | None = None,
) -> Outage:
    """An outage of ``charger``; with the default ``ended_at=None`` it is still going on."""
    return _add(
        session,
        Outage(
            id=outage_id or new_id("outage"),
            charger_id=_ref(charger),
            started_at=started_at,
            ended_at=ended_at,
            cause=cause,
            excluded=excluded,
            note=note,
            kind=kind,
        ),
    )


def grant_access(session: Session, account: Account | str, charger: Charger | str) -> ChargerAccess:
    return _add(session, ChargerAccess(account_id=_ref(account), charger_id=_ref(charger)))


def report_connector(
    session: Session,
    charger: Charger | str,
    connector_id: int,
    status: str,
    *,
    reported_at: datetime,
    error_code: str = "NoError",
) -> ConnectorStatus:
    """A connector's latest OCPP StatusNotification (connector 0: the whole charger)."""
    return _add(
        session,
        ConnectorStatus(
            charger_id=_ref(charger),
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            reported_at=reported_at,
        ),
    )


def make_id_tag(session: Session, account: Account | str, *, id_tag: str | None = None) -> IdTag:
    return _add(session, IdTag(id_tag=id_tag or new_id("tag"), account_id=_ref(account)))


def make_session(
    session: Session,
    account: Account | str,
    charger: Charger | str,
    *,
    started_at: datetime,
    ended_at: datetime | None = None,
    energy_kwh: Kwh = "0",
    finalized: bool | None = None,
    session_id: str | None = None,
) -> ChargingSession:
    """A charging session; in progress unless ``ended_at`` is given. ``finalized`` defaults to
    "has ended"."""
    return _add(
        session,
        ChargingSession(
            id=session_id or new_id("session"),
            account_id=_ref(account),
            charger_id=_ref(charger),
            started_at=started_at,
            ended_at=ended_at,
            energy_kwh=_decimal(energy_kwh),
            finalized=ended_at is not None if finalized is None else finalized,
        ),
    )


def make_reservation(
    session: Session,
    account: Account | str,
    charger: Charger | str,
    *,
    starts_at: datetime,
    ends_at: datetime,
    status: ReservationStatus = ReservationStatus.confirmed,
    reservation_id: str | None = None,
) -> Reservation:
    return _add(
        session,
        Reservation(
            id=reservation_id or new_id("reservation"),
            account_id=_ref(account),
            charger_id=_ref(charger),
            starts_at=starts_at,
            ends_at=ends_at,
            status=status,
        ),
    )


def poll_statuses(
    session: Session,
    account_id: str,
    charger_ids: list[str],
    now: datetime,
    *,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> dict[str, ChargerStatus]:
    """What the dashboard's status poll answers for these chargers: the status of each one the
    account may see (from a fresh fleet snapshot and the account's grants); others are absent."""
    fleet = fleet_snapshot(session, now, offline_after_s=offline_after_s)
    statuses, _available = shown_statuses(fleet, account_grants(session, account_id), charger_ids)
    return {cid: status for cid, status in statuses.items() if status is not None}
