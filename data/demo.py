"""The demo operator: a year of believable history so a newcomer signs in to a living dashboard.

``load_demo`` fills an empty database once (the app calls it on first start in demo mode);
``tick_demo`` keeps the showcase true while the app runs (chargers heartbeat, the live sessions
charge, one charger stays reserved). Everything is generated from ``random.Random(seed)`` and
``now``, so the same seed and ``now`` give the same rows.

Ids that ``tick_demo`` maintains are fixed constants below, so it can never touch rows that were
not made here: chargers ``PX-001``..``PX-060``, live sessions ``S9xxxxx`` and showcase
reservations ``R9xxxxx`` (history is numbered from ``S000001``/``R000001`` and stays far below).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from data.accounts.passwords import hash_password
from data.core.models import (
    Account,
    Base,
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

DEMO_OPERATOR_NAME = "Polaris Express Demo Energy"
DEMO_SUPPORT_EMAIL = "support@polaris.example"
DEMO_TIMEZONE = "Europe/Berlin"
DEMO_CURRENCY = "EUR"
# Documented in the README: the demo is public by design, so this is not a secret.
DEMO_PASSWORD = "demo-password"  # noqa: S105

DRIVER_EMAIL = "driver@polaris.example"
NEWCOMER_EMAIL = "newcomer@polaris.example"
OPERATOR_EMAIL = "operator@polaris.example"
DRIVER_ACCOUNT_ID = "ACC-DRIVER"
# Dana's phone-app token, a fixed id tag for OCPP demos (`flask ocpp-simulate` uses it).
DRIVER_ID_TAG = "DANA-APP-0001"
NEWCOMER_ACCOUNT_ID = "ACC-NEWCOMER"
OPS_ACCOUNT_ID = "ACC-OPS"
OLGA_ACCOUNT_ID = "ACC-OLGA"

PLANS = (
    ("PLAN-BASIC-100", "Basic 100", Decimal("100")),
    ("PLAN-COMMUTER-250", "Commuter 250", Decimal("250")),
    ("PLAN-FLEET-1000", "Fleet 1000", Decimal("1000")),
)

_T2, _J, _CCS, _NACS, _CHA = (
    ConnectorType.type2,
    ConnectorType.j1772,
    ConnectorType.ccs,
    ConnectorType.nacs,
    ConnectorType.chademo,
)
AC_TYPES = frozenset({_T2, _J})

# (friendly name, connector, max kW, restricted). Ids are PX-001.. in this order; the roles
# below refer to them by id, so append new chargers at the end.
CATALOGUE: tuple[tuple[str, ConnectorType, str, bool], ...] = (
    ("Marktplatz 1", _T2, "22", False),
    ("Marktplatz 2", _T2, "22", False),
    ("Hauptbahnhof P2 — Bay 1", _CCS, "150", False),
    ("Hauptbahnhof P2 — Bay 2", _CCS, "150", False),
    ("Hauptbahnhof P2 — Bay 3", _NACS, "250", False),
    ("Hauptbahnhof P2 — Bay 4", _CHA, "50", False),
    ("Rathaus Tiefgarage — Bay 1", _T2, "11", False),
    ("Rathaus Tiefgarage — Bay 2", _T2, "11", True),
    ("Rathaus Tiefgarage — Bay 3", _J, "7.4", True),
    ("A9 Rastplatz Nord — HPC 1", _CCS, "350", False),
    ("A9 Rastplatz Nord — HPC 2", _CCS, "350", False),
    ("A9 Rastplatz Nord — HPC 3", _NACS, "250", False),
    ("A9 Rastplatz Nord — HPC 4", _NACS, "150", False),
    ("Westpark Einkaufszentrum — Level -1 Bay 1", _T2, "11", False),
    ("Westpark Einkaufszentrum — Level -1 Bay 2", _T2, "11", False),
    ("Westpark Einkaufszentrum — Level -1 Bay 3", _J, "7.4", False),
    ("Westpark Einkaufszentrum — Level -1 Bay 4", _CCS, "50", False),
    ("Technologiepark Ost — Bay 1", _T2, "22", False),
    ("Technologiepark Ost — Bay 2", _T2, "22", False),
    ("Technologiepark Ost — Bay 3", _T2, "22", False),
    ("Technologiepark Ost — Bay 4", _J, "7.4", False),
    ("Universität Campus Süd — Bay 1", _T2, "11", True),
    ("Universität Campus Süd — Bay 2", _T2, "11", True),
    ("Universität Campus Süd — Bay 3", _J, "7.4", True),
    ("Klinikum Parkhaus — Bay 1", _T2, "22", True),
    ("Klinikum Parkhaus — Bay 2", _T2, "22", True),
    ("Messe Parkplatz P5 — Bay 1", _CCS, "150", False),
    ("Messe Parkplatz P5 — Bay 2", _T2, "22", False),
    ("Messe Parkplatz P5 — Bay 3", _T2, "22", False),
    ("Flughafen P7 — Bay 1", _CCS, "150", False),
    ("Flughafen P7 — Bay 2", _NACS, "150", False),
    ("Flughafen P7 — Bay 3", _T2, "11", False),
    ("Flughafen P7 — Bay 4", _J, "7.4", False),
    ("Hotel Kaiserhof", _T2, "11", False),
    ("Baumarkt Nordring — Bay 1", _CCS, "50", False),
    ("Baumarkt Nordring — Bay 2", _CHA, "50", False),
    ("Supermarkt Lindenstraße 1", _CCS, "50", False),
    ("Supermarkt Lindenstraße 2", _T2, "22", False),
    ("Bahnhof Süd P+R — Bay 1", _T2, "11", False),
    ("Bahnhof Süd P+R — Bay 2", _T2, "11", False),
    ("Bahnhof Süd P+R — Bay 3", _J, "7.4", False),
    ("Sportpark Eichwald", _T2, "22", False),
    ("Altstadt Parkhaus — Bay 1", _T2, "11", False),
    ("Altstadt Parkhaus — Bay 2", _CHA, "50", False),
    ("Freibad Am See", _T2, "22", False),
    ("Stadtbibliothek", _J, "7.4", False),
    ("Zoo Haupteingang", _CCS, "50", False),
    ("Autohof Südkreuz — HPC 1", _CCS, "300", False),
    ("Autohof Südkreuz — HPC 2", _NACS, "250", False),
    ("Autohof Südkreuz — HPC 3", _CHA, "50", False),
    ("Neubaugebiet Sonnenhang", _T2, "22", False),
    ("Stadtwerke Depot — Bay 1", _CCS, "50", True),
    ("Stadtwerke Depot — Bay 2", _T2, "22", True),
    ("Stadtwerke Depot — Bay 3", _T2, "22", True),
    ("Stadtwerke Depot — Bay 4", _T2, "22", True),
    ("Logistikhof Hafen — Depot 1", _CCS, "150", True),
    ("Logistikhof Hafen — Depot 2", _CCS, "150", True),
    ("Logistikhof Hafen — Depot 3", _NACS, "150", True),
    ("Hafen Promenade", _T2, "22", False),
    ("Kino am Ring", _T2, "11", False),
)
CHARGER_IDS = tuple(f"PX-{i:03d}" for i in range(1, len(CATALOGUE) + 1))
_BY_ID = dict(zip(CHARGER_IDS, CATALOGUE, strict=True))

# Offline showcase: a faulty one (3 days silent), a flaky one (2 h) and a new one never seen.
# The faulty one is a restricted depot charger granted to no demo sign-in: the admin tour
# grants it to the newcomer, who then finds it on their dashboard.
NEVER_SEEN_CHARGER_ID = "PX-051"
FAULTY_DEPOT_CHARGER_ID = "PX-026"  # Klinikum Parkhaus — Bay 2
OFFLINE_SINCE: dict[str, timedelta | None] = {
    FAULTY_DEPOT_CHARGER_ID: timedelta(days=3, hours=2),
    "PX-029": timedelta(hours=2, minutes=10),
    NEVER_SEEN_CHARGER_ID: None,
}
UP_CHARGER_IDS = tuple(c for c in CHARGER_IDS if c not in OFFLINE_SINCE)
# Out-of-order showcase: heartbeating, but the charger itself reports a fault (OCPP connector 0).
FAULTED_CHARGER_ID = "PX-014"  # Westpark Einkaufszentrum — Level -1 Bay 1
FAULTED_ERROR_CODE = "GroundFailure"

DRIVER_OFFICE_CHARGER_ID = "PX-019"  # Technologiepark Ost — Bay 2: Dana's weekday charger
DRIVER_FAST_CHARGER_ID = "PX-003"  # Hauptbahnhof P2 — Bay 1: her weekend top-ups
OLGA_CHARGER_IDS = ("PX-002", "PX-043")
# Fleet label -> its restricted depot chargers (every restricted charger is in one). Few enough
# chargers stay public (at most 46) that every driver's dashboard, which shows 50 cards, has
# room for all of them plus a few granted ones.
DEPOT_GRANTS = {
    "Stadtwerke fleet": ("PX-052", "PX-053", "PX-054", "PX-055", "PX-008", "PX-009"),
    "Hafenlogistik fleet": ("PX-056", "PX-057", "PX-058"),
    "Klinikum fleet": ("PX-025", FAULTY_DEPOT_CHARGER_ID),
    "Campus fleet": ("PX-022", "PX-023", "PX-024"),
}
MAX_PUBLIC_CHARGERS = 46

# Live sessions (In use). Ids fixed so tick_demo finds exactly these; minutes = how long before
# `now` each started (a range, drawn from the seed). Dana's is the first.
DRIVER_LIVE_SESSION_ID = "S900001"
LIVE_SESSIONS: tuple[tuple[str, str, tuple[int, int]], ...] = (
    (DRIVER_LIVE_SESSION_ID, DRIVER_OFFICE_CHARGER_ID, (40, 40)),
    ("S900002", "PX-010", (6, 18)),
    ("S900003", "PX-005", (4, 12)),
    ("S900004", "PX-001", (70, 120)),
    ("S900005", "PX-016", (90, 180)),
    ("S900006", "PX-056", (10, 25)),
)
LIVE_SESSION_IDS = tuple(s[0] for s in LIVE_SESSIONS)
LIVE_CAP_KWH = 60.0  # the car is "full": a live session stops growing here
_DC_CAR_LIMIT_KW = 120.0  # a typical car's average DC rate, whatever the charger could give

# Reserved showcase: a confirmed reservation that tick_demo keeps covering `now`.
SHOWCASE_RESERVATION_ID = "R900001"
SHOWCASE_CHARGER_ID = "PX-007"  # Rathaus Tiefgarage — Bay 1
DRIVER_RESERVATION_ID = "R900002"  # Dana's next reservation, kept ~2 days ahead
ACTIVE_RESERVATION_ID = "R900003"  # an active one at load time that simply runs out
ACTIVE_RESERVATION_CHARGER_ID = "PX-028"
PENDING_NOW_RESERVATION_ID = "R900004"  # pending covering now: must NOT show as Reserved
PENDING_NOW_CHARGER_ID = "PX-040"

CUSTOMER_COUNT = 150

# Arrivals per local hour (relative weights): commute peaks on weekdays, a midday hump at
# weekends, few at night. Depots fill when the fleet returns in the afternoon.
_HOURS_WEEKDAY = (
    *(0.3, 0.2, 0.15, 0.15, 0.2, 0.5, 1.5, 3.5, 4.0, 2.5, 1.6, 1.5),
    *(1.7, 1.5, 1.4, 1.8, 2.6, 3.6, 3.8, 2.6, 1.6, 1.1, 0.7, 0.4),
)
_HOURS_WEEKEND = (
    *(0.4, 0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 0.8, 1.4, 2.2, 2.8, 3.0),
    *(2.9, 2.7, 2.6, 2.6, 2.5, 2.3, 2.0, 1.6, 1.2, 0.9, 0.6, 0.4),
)
_HOURS_DEPOT = (
    *(0.2, 0.1, 0.1, 0.1, 0.3, 1.5, 2.0, 1.0, 0.6, 0.6, 0.8, 1.0),
    *(1.2, 1.2, 1.5, 2.5, 3.5, 3.5, 2.5, 1.5, 0.8, 0.5, 0.3, 0.2),
)
_CUM = {k: list(accumulate(v)) for k, v in (("wd", _HOURS_WEEKDAY), ("we", _HOURS_WEEKEND))}
_CUM["depot"] = list(accumulate(_HOURS_DEPOT))
# Mean sessions per charger per day (weekday, weekend) at scale 1.
_RATE_AC = (2.2, 1.5)
_RATE_DC = (3.6, 4.2)
_RATE_DEPOT = (3.0, 1.0)

_FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannah", "Ilias", "Jonas",
    "Katrin", "Lukas", "Mara", "Nils", "Olivia", "Paul", "Quentin", "Rosa", "Sven", "Tara",
    "Uwe", "Vera", "Wim", "Xenia", "Yusuf", "Zoe", "Emil", "Lea", "Moritz", "Sofia",
)  # fmt: skip
_LAST_NAMES = (
    "Albrecht", "Becker", "Costa", "Demir", "Engel", "Fischer", "Graf", "Hoffmann", "Jansen",
    "Keller", "Lang", "Meyer", "Novak", "Otto", "Peters", "Richter", "Schulz", "Tamm",
    "Vogel", "Weber", "Yilmaz", "Zimmermann", "Kowalski", "Lindqvist", "Moreau",
)  # fmt: skip


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    description: str


DEMO_LOGINS = (
    DemoLogin(
        DRIVER_EMAIL,
        DEMO_PASSWORD,
        "Dana Driver: a driver with a plan, a year of sessions, one charging right now "
        "and a confirmed reservation in two days.",
    ),
    DemoLogin(
        NEWCOMER_EMAIL,
        DEMO_PASSWORD,
        "Nico Newcomer: a brand-new driver with no sessions, reservations or plan.",
    ),
    DemoLogin(
        OPERATOR_EMAIL,
        DEMO_PASSWORD,
        "Olga Operator: the operator's admin (Operations) who also drives (Personal car); "
        "switch between the two at /switch.",
    ),
)


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

    session.execute(
        insert(Operator),
        [
            {
                "id": 1,
                "name": DEMO_OPERATOR_NAME,
                "support_email": DEMO_SUPPORT_EMAIL,
                "timezone": DEMO_TIMEZONE,
                "currency": DEMO_CURRENCY,
            }
        ],
    )
    session.execute(
        insert(Plan),
        [
            {"id": pid, "name": name, "allowance_kwh": kwh, "currency": DEMO_CURRENCY}
            for pid, name, kwh in PLANS
        ],
    )

    people = _people(rng)
    _insert_users_and_accounts(session, people)

    chargers = _charger_rows(rng, now)
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
                "reported_at": now - timedelta(minutes=25),
            }
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
    session.execute(insert(IdTag), _id_tags(rng, people))

    public_drivers = [p for p in people if p.kind == "driver"]
    live = _live_sessions(rng, now, public_drivers, fleets)
    cutoff = _history_cutoffs(now, chargers, live)
    fixed = _driver_history(rng, now, tz, cutoff) + _olga_history(rng, now, tz, cutoff)
    history = fixed + _bulk_history(rng, now, tz, scale, cutoff, fixed, public_drivers, fleets)
    history.sort(key=lambda r: (r["started_at"], r["charger_id"]))
    if len(history) >= 900_000:
        raise ValueError("scale too large: history ids would reach the live S9xxxxx range")
    for i, row in enumerate(history, start=1):
        row["id"] = f"S{i:06d}"
    _insert_sessions(session, history + live)

    session.execute(insert(Reservation), _reservations(rng, now, tz, scale, history, people))
    return list(DEMO_LOGINS)


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
                {"sid": sid, "energy": _live_energy(connector, float(max_kw), started, now)}
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
    starts = _driver_reservation_start(now)
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


# --- building blocks -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    email: str
    display_name: str
    account_id: str
    plan_id: str | None
    kind: str  # "driver" (bulk), "demo" (a sign-in), "admin"
    weight: float = 0.0  # share of public charging among drivers
    fleet: str | None = None
    label: str | None = None
    user_key: str = ""  # accounts of the same person share it (Olga)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _aware_utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _people(rng: random.Random) -> list[_Person]:
    people: list[_Person] = []
    fleet_names = list(DEPOT_GRANTS)
    for i in range(1, CUSTOMER_COUNT + 1):
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        email = f"driver{i:03d}@demo.polaris.example"
        # Accounts 10, 20, ..., 80 are fleets' company accounts, two per fleet.
        fleet = fleet_names[(i // 10) % len(fleet_names)] if i % 10 == 0 and i <= 80 else None
        if fleet:
            plan: str | None = "PLAN-FLEET-1000"
        else:
            plan = rng.choices(
                [None, "PLAN-BASIC-100", "PLAN-COMMUTER-250"], weights=[5, 3, 2], k=1
            )[0]
        # Heavy-tailed: a few regulars do much of the charging, most drivers charge now and then.
        weight = (6.0 if fleet else 1.0) * rng.lognormvariate(0.0, 0.7)
        people.append(
            _Person(email, name, f"ACC-{i:04d}", plan, "driver", weight, fleet, fleet, email)
        )
    people += [
        _Person(
            DRIVER_EMAIL, "Dana Driver", DRIVER_ACCOUNT_ID, "PLAN-COMMUTER-250", "demo",
            user_key=DRIVER_EMAIL,
        ),
        _Person(
            NEWCOMER_EMAIL, "Nico Newcomer", NEWCOMER_ACCOUNT_ID, None, "demo",
            user_key=NEWCOMER_EMAIL,
        ),
        _Person(
            OPERATOR_EMAIL, "Olga Operator", OPS_ACCOUNT_ID, None, "admin",
            label="Operations", user_key=OPERATOR_EMAIL,
        ),
        _Person(
            OPERATOR_EMAIL, "Olga Operator", OLGA_ACCOUNT_ID, "PLAN-BASIC-100", "demo",
            label="Personal car", user_key=OPERATOR_EMAIL,
        ),
    ]  # fmt: skip
    return people


def _insert_users_and_accounts(session: Session, people: list[_Person]) -> None:
    # One argon2 hash shared by the three sign-ins: the password is public anyway, and each
    # hash costs ~50 ms. Bulk drivers get none, so nobody can sign in as them.
    demo_hash = hash_password(DEMO_PASSWORD)
    users: dict[str, dict[str, Any]] = {}
    for p in people:
        if p.user_key not in users:  # the first account listed is the person's default
            users[p.user_key] = {
                "email": p.email,
                "display_name": p.display_name,
                "password_hash": None if p.kind == "driver" else demo_hash,
                "default_account_id": p.account_id,
            }
    session.execute(insert(User), list(users.values()))
    found = session.execute(select(User.email, User.id).where(User.email.in_(list(users))))
    user_ids = {email: uid for email, uid in found}
    session.execute(
        insert(Account),
        [
            {
                "id": p.account_id,
                "user_id": user_ids[p.email],
                "role": Role.admin if p.kind == "admin" else Role.customer,
                "plan_id": p.plan_id,
                "label": p.label,
            }
            for p in people
        ],
    )


def _id_tags(rng: random.Random, people: list[_Person]) -> list[dict[str, Any]]:
    """One RFID card (a 7-byte UID, as NFC cards have) per customer account."""
    seen: set[str] = set()
    rows = []
    for p in people:
        if p.kind == "admin":
            continue
        tag = f"04{rng.getrandbits(48):012X}"
        while tag in seen:
            tag = f"04{rng.getrandbits(48):012X}"
        seen.add(tag)
        rows.append({"id_tag": tag, "account_id": p.account_id})
    rows.append({"id_tag": DRIVER_ID_TAG, "account_id": DRIVER_ACCOUNT_ID})
    return rows


def _charger_rows(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for cid, (name, connector, kw, restricted) in _BY_ID.items():
        if cid in OFFLINE_SINCE:
            silent = OFFLINE_SINCE[cid]
            last_seen = None if silent is None else now - silent
        else:
            last_seen = now - timedelta(seconds=rng.randint(3, 90))  # a recent heartbeat
        rows.append(
            {
                "id": cid,
                "friendly_name": name,
                "connector_type": connector,
                "max_power_kw": Decimal(kw),
                "visibility": Visibility.restricted if restricted else Visibility.public,
                "last_seen_at": last_seen,
            }
        )
    return rows


def _live_power_kw(connector: ConnectorType | str, max_kw: float) -> float:
    """Average power of a live session: AC near the charger's limit, DC limited by the car."""
    if ConnectorType(connector) in AC_TYPES:
        return 0.82 * max_kw
    return min(0.5 * max_kw, _DC_CAR_LIMIT_KW)


def _live_energy(
    connector: ConnectorType | str, max_kw: float, started_at: datetime, now: datetime
) -> Decimal:
    hours = max(0.0, (now - started_at).total_seconds() / 3600)
    return _kwh(min(LIVE_CAP_KWH, _live_power_kw(connector, max_kw) * hours))


def _kwh(value: float) -> Decimal:
    return Decimal(f"{value:.3f}")


def _live_sessions(
    rng: random.Random,
    now: datetime,
    drivers: list[_Person],
    fleets: dict[str, list[str]],
) -> list[dict[str, Any]]:
    rows = []
    # Distinct public drivers: nobody charges at two places at once.
    public = iter(rng.sample([p.account_id for p in drivers if not p.fleet], len(LIVE_SESSIONS)))
    for sid, cid, (lo, hi) in LIVE_SESSIONS:
        _, connector, kw, restricted = _BY_ID[cid]
        if sid == DRIVER_LIVE_SESSION_ID:
            account = DRIVER_ACCOUNT_ID
        elif restricted:
            fleet = next(f for f, cids in DEPOT_GRANTS.items() if cid in cids)
            account = rng.choice(fleets[fleet])
        else:
            account = next(public)
        started = now - timedelta(minutes=rng.randint(lo, hi), seconds=rng.randint(0, 59))
        if sid == DRIVER_LIVE_SESSION_ID:
            started = now - timedelta(minutes=40)  # the tour's "started 40 minutes ago"
        rows.append(
            {
                "id": sid,
                "account_id": account,
                "charger_id": cid,
                "started_at": started,
                "ended_at": None,
                "energy_kwh": _live_energy(connector, float(kw), started, now),
                "finalized": False,
            }
        )
    return rows


def _history_cutoffs(
    now: datetime, chargers: list[dict[str, Any]], live: list[dict[str, Any]]
) -> dict[str, datetime]:
    """Per charger, the instant its history must end by: now, its last heartbeat, the start of
    its live session, or the start of a reservation covering now."""
    gap = timedelta(minutes=5)
    cutoff = {c["id"]: c["last_seen_at"] or now - timedelta(days=400) for c in chargers}
    cutoff[NEVER_SEEN_CHARGER_ID] = now - timedelta(days=400)  # brand new: no history at all
    for cid in cutoff:
        cutoff[cid] = min(cutoff[cid], now) - gap
    for row in live:
        cutoff[row["charger_id"]] = min(cutoff[row["charger_id"]], row["started_at"] - gap)
    for cid in (SHOWCASE_CHARGER_ID, ACTIVE_RESERVATION_CHARGER_ID):
        cutoff[cid] = min(cutoff[cid], now - timedelta(minutes=30))
    return cutoff


def _local(day: date, hour: int, minute: int, second: int, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz).astimezone(UTC)


def _days(now: datetime, tz: ZoneInfo) -> list[date]:
    """The local days of the past year, oldest first, ending today."""
    today = now.astimezone(tz).date()
    return [today - timedelta(days=i) for i in range(365, -1, -1)]


def _session(
    account: str, charger: str, start: datetime, minutes: float, kwh: float
) -> dict[str, Any]:
    return {
        "id": "",
        "account_id": account,
        "charger_id": charger,
        "started_at": start,
        "ended_at": start + timedelta(seconds=round(minutes * 60)),
        "energy_kwh": _kwh(kwh),
        "finalized": True,
    }


def _driver_history(
    rng: random.Random, now: datetime, tz: ZoneInfo, cutoff: dict[str, datetime]
) -> list[dict[str, Any]]:
    """Dana: most weekdays at the office charger (car takes 11 kW AC), some weekend fast
    charges. About 150 sessions a year, ~180 kWh a month: most of a Commuter 250 allowance."""
    rows = []
    since = now - timedelta(days=365)
    for day in _days(now, tz):
        if day.weekday() < 5:
            if rng.random() >= 0.5:
                continue
            start = _local(
                day, rng.choice((7, 8, 8, 9)), rng.randint(0, 59), rng.randint(0, 59), tz
            )
            hours = rng.uniform(1.5, 4.0)
            kwh = min(rng.uniform(8, 22), 11 * rng.uniform(0.85, 0.95) * hours)
            row = _session(DRIVER_ACCOUNT_ID, DRIVER_OFFICE_CHARGER_ID, start, hours * 60, kwh)
        else:
            if rng.random() >= 0.15:
                continue
            start = _local(day, rng.randint(10, 17), rng.randint(0, 59), rng.randint(0, 59), tz)
            minutes = rng.uniform(20, 35)
            kwh = rng.uniform(55, 75) * minutes / 60  # her car averages ~65 kW on DC
            row = _session(DRIVER_ACCOUNT_ID, DRIVER_FAST_CHARGER_ID, start, minutes, kwh)
        if row["started_at"] >= since and row["ended_at"] < cutoff[row["charger_id"]]:
            rows.append(row)
    return rows


def _olga_history(
    rng: random.Random, now: datetime, tz: ZoneInfo, cutoff: dict[str, datetime]
) -> list[dict[str, Any]]:
    """Olga's personal car: a weekend top-up now and then (a little history)."""
    rows = []
    since = now - timedelta(days=365)
    for day in _days(now, tz):
        if day.weekday() < 5 or rng.random() >= 0.12:
            continue
        cid = rng.choice(OLGA_CHARGER_IDS)
        start = _local(day, rng.randint(11, 19), rng.randint(0, 59), rng.randint(0, 59), tz)
        hours = rng.uniform(1.5, 3.5)
        kwh = min(rng.uniform(10, 30), 11 * 0.9 * hours)
        row = _session(OLGA_ACCOUNT_ID, cid, start, hours * 60, kwh)
        if row["started_at"] >= since and row["ended_at"] < cutoff[cid]:
            rows.append(row)
    return rows


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: exact and quick for the small means used here.
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _ac_session(rng: random.Random, max_kw: float, local_hour: int) -> tuple[float, float]:
    """(minutes, kWh) of an AC session: parked for hours, limited by the car's onboard charger."""
    if 6 <= local_hour <= 9:
        hours = rng.triangular(3.0, 8.0, 7.0)  # parked at work
    elif 17 <= local_hour <= 22:
        hours = rng.triangular(1.5, 8.0, 6.0)  # evening, often until the 8 h limit
    else:
        hours = rng.triangular(1.0, 5.0, 2.0)  # shopping, errands
    car_kw = rng.choice((7.4, 11.0, 11.0, 11.0, 22.0))
    power = min(max_kw, car_kw) * rng.uniform(0.85, 0.95)
    kwh = max(5.0, min(rng.uniform(8, 75), power * hours))
    return hours * 60, kwh


def _dc_session(rng: random.Random, max_kw: float) -> tuple[float, float]:
    """(minutes, kWh) of a fast charge: 15-60 min, the car tapering well below the peak."""
    need = rng.uniform(15, 70)
    power = min(max_kw, rng.choice((50.0, 100.0, 150.0, 250.0))) * rng.uniform(0.55, 0.8)
    hours = min(1.0, max(0.25, need / power))
    return hours * 60, max(5.0, min(need, power * hours, 80.0))


def _bulk_history(
    rng: random.Random,
    now: datetime,
    tz: ZoneInfo,
    scale: float,
    cutoff: dict[str, datetime],
    fixed: list[dict[str, Any]],
    drivers: list[_Person],
    fleets: dict[str, list[str]],
) -> list[dict[str, Any]]:
    """Everyone else's sessions, generated charger by charger in time order, so sessions on
    one charger never overlap each other nor Dana's and Olga's."""
    since = now - timedelta(days=365)
    days = _days(now, tz)
    driver_ids = [p.account_id for p in drivers]
    driver_cum = list(accumulate(p.weight for p in drivers))
    blocked: dict[str, list[tuple[datetime, datetime]]] = {}
    for row in fixed:
        blocked.setdefault(row["charger_id"], []).append((row["started_at"], row["ended_at"]))
    hours = list(range(24))
    hour_starts: dict[tuple[date, int], datetime] = {}  # zoneinfo is the slow part: reuse
    rows: list[dict[str, Any]] = []
    for cid, (_, connector, kw, restricted) in _BY_ID.items():
        max_kw = float(kw)
        is_ac = connector in AC_TYPES
        if restricted:
            fleet = next(f for f, cids in DEPOT_GRANTS.items() if cid in cids)
            accounts, cum = fleets[fleet], None
            rates, profile = _RATE_DEPOT, "depot"
        else:
            accounts, cum = driver_ids, driver_cum
            rates, profile = (_RATE_AC if is_ac else _RATE_DC), ""
        popularity = rng.uniform(0.6, 1.4)
        busy = sorted(blocked.get(cid, []))
        bi = 0
        prev_end = since
        stop = cutoff[cid]
        for n_day, day in enumerate(days):
            weekend = day.weekday() >= 5
            growth = 0.85 + 0.3 * n_day / len(days)  # the network grew over the year
            n = _poisson(rng, rates[int(weekend)] * popularity * growth * scale)
            if n == 0:
                continue
            cum_hours = _CUM[profile or ("we" if weekend else "wd")]
            for hour in sorted(rng.choices(hours, cum_weights=cum_hours, k=n)):
                hour_start = hour_starts.get((day, hour))
                if hour_start is None:
                    hour_start = hour_starts[day, hour] = _local(day, hour, 0, 0, tz)
                start = max(
                    hour_start + timedelta(seconds=int(rng.random() * 3600)),
                    prev_end + timedelta(seconds=120 + int(rng.random() * 780)),
                )
                if is_ac:
                    minutes, kwh = _ac_session(rng, max_kw, hour)
                else:
                    minutes, kwh = _dc_session(rng, max_kw)
                row = _session("", cid, start, minutes, kwh)
                end = row["ended_at"]
                if start < since or end >= stop:
                    continue
                while bi < len(busy) and busy[bi][1] <= start:
                    bi += 1
                if bi < len(busy) and busy[bi][0] < end + timedelta(minutes=2):
                    continue  # Dana or Olga is plugged in then
                if cum is None:
                    row["account_id"] = rng.choice(accounts)
                else:
                    row["account_id"] = rng.choices(accounts, cum_weights=cum, k=1)[0]
                rows.append(row)
                prev_end = end
    return rows


def _driver_reservation_start(now: datetime) -> datetime:
    """Two days ahead, on the next quarter hour (reads like something a person booked)."""
    t = now + timedelta(days=2)
    return t.replace(second=0, microsecond=0) + timedelta(minutes=15 - t.minute % 15)


def _reservations(
    rng: random.Random,
    now: datetime,
    tz: ZoneInfo,
    scale: float,
    history: list[dict[str, Any]],
    people: list[_Person],
) -> list[dict[str, Any]]:
    def row(
        rid: str, account: str, cid: str, start: datetime, minutes: int, status: str
    ) -> dict[str, Any]:
        return {
            "id": rid,
            "account_id": account,
            "charger_id": cid,
            "starts_at": start,
            "ends_at": start + timedelta(minutes=minutes),
            "status": ReservationStatus(status),
        }

    drivers = [p.account_id for p in people if p.kind == "driver" and not p.fleet]
    public_up = [
        c
        for c in UP_CHARGER_IDS
        if not _BY_ID[c][3]
        and c not in (SHOWCASE_CHARGER_ID, ACTIVE_RESERVATION_CHARGER_ID, DRIVER_FAST_CHARGER_ID)
    ]
    bulk: list[dict[str, Any]] = []

    # Past: most reservations were honoured (the driver then charged), some were cancelled.
    recent = [
        s
        for s in history
        if now - timedelta(days=120) < s["started_at"] < now - timedelta(hours=3)
        and s["account_id"] not in (DRIVER_ACCOUNT_ID, OLGA_ACCOUNT_ID)
    ]
    honoured = rng.sample(recent, min(len(recent), round(300 * scale)))
    dana = [s for s in history if s["account_id"] == DRIVER_ACCOUNT_ID][-8:-2]
    for s in honoured + dana:
        start = s["started_at"] - timedelta(minutes=rng.randint(5, 20))
        bulk.append(row("", s["account_id"], s["charger_id"], start, 60, "completed"))
    for _ in range(round(100 * scale)):
        day = (now - timedelta(days=rng.randint(1, 120))).astimezone(tz).date()
        start = _local(day, rng.randint(7, 20), rng.choice((0, 15, 30, 45)), 0, tz)
        bulk.append(row("", rng.choice(drivers), rng.choice(public_up), start, 60, "cancelled"))

    # Upcoming: the next week, daytime, no two overlapping on one charger.
    taken: dict[str, list[datetime]] = {}
    today = now.astimezone(tz).date()
    while sum(1 for r in bulk if r["starts_at"] > now) < 30:
        day = today + timedelta(days=rng.randint(0, 7))
        start = _local(day, rng.randint(7, 20), rng.choice((0, 15, 30, 45)), 0, tz)
        cid = rng.choice(public_up)
        if start <= now + timedelta(minutes=30) or any(
            abs(start - t) < timedelta(hours=2) for t in taken.get(cid, [])
        ):
            continue
        taken.setdefault(cid, []).append(start)
        status = "confirmed" if rng.random() < 0.7 else "pending"
        bulk.append(row("", rng.choice(drivers), cid, start, rng.choice((30, 45, 60, 90)), status))

    bulk.sort(key=lambda r: (r["starts_at"], r["charger_id"]))
    for i, r in enumerate(bulk, start=1):
        r["id"] = f"R{i:06d}"

    others = rng.sample(drivers, 3)
    showcase = [
        row(
            SHOWCASE_RESERVATION_ID,
            others[0],
            SHOWCASE_CHARGER_ID,
            now - timedelta(minutes=10),
            60,
            "confirmed",
        ),
        row(
            DRIVER_RESERVATION_ID,
            DRIVER_ACCOUNT_ID,
            DRIVER_FAST_CHARGER_ID,
            _driver_reservation_start(now),
            45,
            "confirmed",
        ),
        row(
            ACTIVE_RESERVATION_ID,
            others[1],
            ACTIVE_RESERVATION_CHARGER_ID,
            now - timedelta(minutes=25),
            45,
            "active",
        ),
        row(
            PENDING_NOW_RESERVATION_ID,
            others[2],
            PENDING_NOW_CHARGER_ID,
            now - timedelta(minutes=5),
            60,
            "pending",
        ),
    ]
    return bulk + showcase
