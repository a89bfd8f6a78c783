"""Loading the demo into an empty database (``load_demo``), recognising it (``has_demo``,
``demo_people``) and keeping its showcase true while the app runs (``tick_demo``)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from data.chargers.incidents import Incident
from data.charging.account_days import recount_in_operator_zone
from data.core.models import (
    Account,
    Base,
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorStatus,
    IdTag,
    Operator,
    Plan,
    Reservation,
    ReservationStatus,
    TariffVersion,
    User,
)
from data.core.periods import local_midnight_utc
from data.demo.audit import record_outage_reviews
from data.demo.history import (
    bulk_history,
    driver_history,
    driver_reservation_start,
    history_cutoffs,
    live_energy,
    live_sessions,
    olga_history,
    reservation_rows,
)
from data.demo.incidents import incident_rows
from data.demo.outages import outage_rows
from data.demo.people import charger_rows, generate_people, id_tag_rows, insert_users_and_accounts
from data.demo.showcase import (
    ADHOC_TARIFF_ID,
    COMMUTER_NEXT,
    DEMO_CURRENCY,
    DEMO_LOGINS,
    DEMO_OPERATOR_NAME,
    DEMO_SUPPORT_EMAIL,
    DEMO_TIMEZONE,
    DEPOT_GRANTS,
    DRIVER_ACCOUNT_ID,
    DRIVER_RESERVATION_ID,
    FAULTED_CHARGER_ID,
    FAULTED_ERROR_CODE,
    FAULTED_SINCE,
    LIVE_SESSION_IDS,
    PLAN_TARIFFS,
    PLANS,
    SHOWCASE_RESERVATION_ID,
    TARIFFS,
    TWO_CONNECTOR_CHARGER_ID,
    TWO_CONNECTOR_REPORTS,
    UP_CHARGER_IDS,
    DemoLogin,
)
from data.pricing.tariffs import price_unpriced_sessions
from data.uptime.alerts import evaluate
from data.uptime.outages import Outage


def has_demo(session: Session) -> bool:
    """True when the operator row is the demo operator (its name and support email)."""
    row = session.execute(
        select(Operator.name, Operator.support_email).where(Operator.id == 1)
    ).one_or_none()
    return row is not None and tuple(row) == (DEMO_OPERATOR_NAME, DEMO_SUPPORT_EMAIL)


def demo_people(session: Session) -> list[str]:
    """The demo sign-ins (``DEMO_LOGINS``) present in the database, by email: whoever knows the
    README knows their password, so a production start refuses a database that has them."""
    emails = [login.email for login in DEMO_LOGINS]
    found = set(session.scalars(select(User.email).where(User.email.in_(emails))))
    return [email for email in emails if email in found]


def load_demo(
    session: Session, now: datetime, *, seed: int = 7, scale: float = 1.0
) -> list[DemoLogin]:
    """Insert the demo operator into an empty database; return the three sign-ins.

    ``scale`` shrinks the bulk history (sessions, past reservations) for quick tests; the
    chargers, accounts and showcase rows are the same at every scale. The caller commits.
    """
    now = _aware_utc(now)
    if scale <= 0:
        raise ValueError("scale must be positive")
    if session.scalar(select(Operator.id)) is not None:
        raise ValueError("load_demo needs an empty database (an operator already exists)")
    rng = random.Random(seed)
    tz = ZoneInfo(DEMO_TIMEZONE)

    session.execute(insert(TariffVersion), tariff_rows(now, tz))
    session.execute(
        insert(Operator),
        [
            {
                "id": 1,
                "name": DEMO_OPERATOR_NAME,
                "support_email": DEMO_SUPPORT_EMAIL,
                "timezone": DEMO_TIMEZONE,
                "currency": DEMO_CURRENCY,
                "default_tariff_id": ADHOC_TARIFF_ID,
            }
        ],
    )
    session.execute(
        insert(Plan),
        [
            {
                "id": pid,
                "name": name,
                "allowance_kwh": kwh,
                "currency": DEMO_CURRENCY,
                "tariff_id": PLAN_TARIFFS[pid],
            }
            for pid, name, kwh in PLANS
        ],
    )

    people = generate_people(rng)
    insert_users_and_accounts(session, people)

    chargers = charger_rows(rng, now)
    session.execute(insert(Charger), chargers)
    session.execute(
        insert(ConnectorStatus),
        [
            {
                "charger_id": FAULTED_CHARGER_ID,
                "connector_id": 0,
                "status": "Faulted",
                "error_code": FAULTED_ERROR_CODE,
                "info": "Residual current detected; technician booked",
                "reported_at": now - FAULTED_SINCE,
            },
            *(
                {
                    "charger_id": TWO_CONNECTOR_CHARGER_ID,
                    "connector_id": connector,
                    "status": status,
                    "error_code": "NoError",
                    "info": None,
                    "reported_at": now - ago,
                }
                for connector, status, ago in TWO_CONNECTOR_REPORTS
            ),
        ],
    )
    fleets: dict[str, list[str]] = {}
    for p in people:
        if p.fleet:
            fleets.setdefault(p.fleet, []).append(p.account_id)
    session.execute(
        insert(ChargerAccess),
        [
            {"account_id": acc, "charger_id": cid}
            for fleet, cids in DEPOT_GRANTS.items()
            for cid in cids
            for acc in fleets[fleet]
        ],
    )
    session.execute(insert(IdTag), id_tag_rows(rng, people))

    public_drivers = [p for p in people if p.kind == "driver"]
    live = live_sessions(rng, now, public_drivers, fleets)
    cutoff = history_cutoffs(now, chargers, live)
    fixed = driver_history(rng, now, tz, cutoff) + olga_history(rng, now, tz, cutoff)
    history = fixed + bulk_history(rng, now, tz, scale, cutoff, fixed, public_drivers, fleets)
    history.sort(key=lambda r: (r["started_at"], r["charger_id"]))
    if len(history) >= 900_000:
        raise ValueError("scale too large: history ids would reach the live S9xxxxx range")
    for i, row in enumerate(history, start=1):
        row["id"] = f"S{i:06d}"
    _insert_sessions(session, history + live)

    session.execute(insert(Reservation), reservation_rows(rng, now, tz, scale, history, people))
    # Every finalized session gets its cost, as StopTransaction would have stored it.
    price_unpriced_sessions(session)
    # Last, so the outages' draws leave every other row as it was.
    outages = outage_rows(rng, now, chargers)
    session.execute(insert(Outage), outages)
    record_outage_reviews(session, outages, now)
    # The alerts the worker would have opened for what is down now (sent nowhere: no channels),
    # so the admin navigation counts them on first start.
    evaluate(session, now, channels=())
    # Drivers' problem reports: fixed rows, no draws.
    reporters = (public_drivers[0].account_id, fleets["Klinikum fleet"][0], DRIVER_ACCOUNT_ID)
    user_ids: dict[str, int] = {
        account: user
        for account, user in session.execute(
            select(Account.id, Account.user_id).where(Account.id.in_(reporters))
        )
    }
    session.execute(insert(Incident), incident_rows(now, reporters[0], reporters[1], user_ids))
    # The triggers counted the drivers' days in the zone stored before the demo had an
    # operator: recounted in the demo's, so its dashboards read them from the start.
    recount_in_operator_zone(session)
    return list(DEMO_LOGINS)


def tariff_rows(now: datetime, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The demo tariffs: each in force from two years back (before any demo session), and
    Commuter's next version from the first of next month (local midnight)."""
    local = now.astimezone(tz)
    since = local_midnight_utc(date(local.year - 2, 1, 1), tz)
    first_of_next = date(local.year + local.month // 12, local.month % 12 + 1, 1)
    starts = [(row, since) for row in TARIFFS]
    starts.append((COMMUTER_NEXT, local_midnight_utc(first_of_next, tz)))
    return [
        {
            "tariff_id": tariff_id,
            "valid_from": valid_from,
            "name": name,
            "currency": DEMO_CURRENCY,
            "energy_price_per_kwh": Decimal(energy),
            "dc_energy_price_per_kwh": Decimal(dc),
            "session_fee": None if fee is None else Decimal(fee),
            "time_price_per_hour": None if hourly is None else Decimal(hourly),
            "time_free_minutes": free,
            "vat_percent": Decimal(vat),
        }
        for (tariff_id, name, energy, dc, fee, hourly, free, vat), valid_from in starts
    ]


def _insert_sessions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Core executemany, not the ORM bulk path: a third cheaper for tens of thousands of rows.
    On PostgreSQL the rollup triggers (migrations 0008-0010) run once per statement: with
    RETURNING, SQLAlchemy sends the rows as multi-row INSERTs of 1,000 ("insertmanyvalues")
    instead of one statement a row (demo load 17 -> 11 s); SQLite's triggers run per row."""
    table = _table(ChargingSession)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(table.insert().returning(table.c.id), rows)
    else:
        session.execute(table.insert(), rows)


def _free(reservation_id: str, starts: datetime, ends: datetime) -> ColumnElement[bool]:
    """No other holding reservation on the same charger overlaps [starts, ends): the demo never
    moves its showcase onto an operator's real reservation."""
    other = aliased(Reservation)
    return ~exists().where(
        other.charger_id == Reservation.charger_id,
        other.id != reservation_id,
        other.status.in_([ReservationStatus.confirmed, ReservationStatus.active]),
        other.starts_at < ends,
        other.ends_at > starts,
    )


def tick_demo(session: Session, now: datetime) -> None:
    """Keep the showcase true at ``now``: a handful of UPDATEs on demo ids, nothing else.

    Safe to run concurrently from several workers: every value written is a function of
    ``now`` (energy of a live session from its start time), never an increment.
    """
    now = _aware_utc(now)
    if not has_demo(session):
        return
    sync: dict[str, Any] = {"synchronize_session": False}
    session.execute(
        update(Charger)
        .where(
            Charger.id.in_(UP_CHARGER_IDS),
            or_(Charger.last_seen_at.is_(None), Charger.last_seen_at < now),
        )
        .values(last_seen_at=now),
        execution_options=sync,
    )

    live = session.execute(
        select(
            ChargingSession.id,
            ChargingSession.started_at,
            Charger.connector_type,
            Charger.max_power_kw,
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
        .where(ChargingSession.id.in_(LIVE_SESSION_IDS), ChargingSession.ended_at.is_(None))
    ).all()
    if live:
        # One executemany; only ever upwards, so a worker with a slightly older clock never
        # undoes another worker's tick.
        sessions = _table(ChargingSession)
        session.execute(
            sessions.update()
            .where(
                sessions.c.id == bindparam("sid"),
                sessions.c.ended_at.is_(None),
                sessions.c.energy_kwh < bindparam("energy"),
            )
            .values(energy_kwh=bindparam("energy")),
            [
                {"sid": sid, "energy": live_energy(connector, float(max_kw), started, now)}
                for sid, started, connector, max_kw in live
            ],
        )

    showcase_starts = now - timedelta(minutes=10)
    session.execute(
        update(Reservation)
        .where(
            Reservation.id == SHOWCASE_RESERVATION_ID,
            or_(
                Reservation.ends_at <= now,
                Reservation.starts_at > now,
                # "active" also reads as Reserved: leave a reservation the app activated.
                Reservation.status.not_in([ReservationStatus.confirmed, ReservationStatus.active]),
            ),
            _free(SHOWCASE_RESERVATION_ID, showcase_starts, showcase_starts + timedelta(hours=1)),
        )
        .values(
            starts_at=showcase_starts,
            ends_at=showcase_starts + timedelta(hours=1),
            status=ReservationStatus.confirmed,
        ),
        execution_options=sync,
    )
    # Dana's "next reservation" stays in the future; one she cancelled stays cancelled.
    starts = driver_reservation_start(now)
    session.execute(
        update(Reservation)
        .where(
            Reservation.id == DRIVER_RESERVATION_ID,
            Reservation.starts_at < now + timedelta(hours=12),
            Reservation.status.in_([ReservationStatus.confirmed, ReservationStatus.pending]),
            _free(DRIVER_RESERVATION_ID, starts, starts + timedelta(minutes=45)),
        )
        .values(starts_at=starts, ends_at=starts + timedelta(minutes=45)),
        execution_options=sync,
    )


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _aware_utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)
