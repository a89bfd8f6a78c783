"""The demo's fixed names and ids: the operator, the three sign-ins, plans, the charger
catalogue and the showcase rows (offline, faulted, two connectors, live, reserved) that
``tick_demo`` keeps true."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from data.core.models import ConnectorType

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

# Tariffs (prices include VAT): the ad hoc one is the operator's default (accounts without a
# plan), one per plan; Commuter gets a new version from next month (``COMMUTER_NEXT``).
# (tariff id, name, energy, DC energy, session fee, per hour, free minutes, VAT %)
ADHOC_TARIFF_ID = "TARIFF-ADHOC"
TARIFFS = (
    (ADHOC_TARIFF_ID, "Ad hoc", "0.59", "0.69", "0.50", "1.20", 240, "19"),
    ("TARIFF-BASIC", "Basic", "0.45", "0.59", None, "1.20", 240, "19"),
    ("TARIFF-COMMUTER", "Commuter", "0.39", "0.52", "0.50", "1.20", 240, "19"),
    ("TARIFF-FLEET", "Fleet", "0.32", "0.45", None, None, None, "19"),
)
COMMUTER_NEXT = (
    "TARIFF-COMMUTER",
    "Commuter from next month",
    "0.42",
    "0.55",
    "0.50",
    "1.20",
    240,
    "19",
)
PLAN_TARIFFS = {
    "PLAN-BASIC-100": "TARIFF-BASIC",
    "PLAN-COMMUTER-250": "TARIFF-COMMUTER",
    "PLAN-FLEET-1000": "TARIFF-FLEET",
}

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
BY_ID = dict(zip(CHARGER_IDS, CATALOGUE, strict=True))

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
FAULTED_SINCE = timedelta(minutes=25)  # its fault report: and its ongoing outage's start

# Uptime showcase (/admin/uptime): a year of outages, mostly minutes, a few hours to days. These
# two had long breakdowns and fall below the 97% over twelve months; every other charger stays
# above. One site lost its grid connection, all chargers at once (excluded: the utility's).
LOW_UPTIME_CHARGER_IDS = ("PX-036", "PX-047")  # Baumarkt Nordring — Bay 2, Zoo Haupteingang
SITE_OUTAGE_CHARGER_IDS = ("PX-048", "PX-049", "PX-050")  # Autohof Südkreuz — HPC 1-3

# Connector showcase: a public charger that reported two connectors over OCPP, so every
# driver's card of it offers a choice of connector. One is free, the other has a car plugged in
# that is not charging yet (Preparing: a Charging report would make the charger In use, whose
# card offers no Start and so no choice). Its name comes first among the Online cards.
TWO_CONNECTOR_CHARGER_ID = "PX-011"  # A9 Rastplatz Nord — HPC 2
TWO_CONNECTOR_REPORTS = (
    (1, "Available", timedelta(hours=2, minutes=5)),  # connector, status, how long ago
    (2, "Preparing", timedelta(minutes=3)),
)

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

# Reserved showcase: a confirmed reservation that tick_demo keeps covering `now`.
SHOWCASE_RESERVATION_ID = "R900001"
SHOWCASE_CHARGER_ID = "PX-007"  # Rathaus Tiefgarage — Bay 1
DRIVER_RESERVATION_ID = "R900002"  # Dana's next reservation, kept ~2 days ahead
ACTIVE_RESERVATION_ID = "R900003"  # an active one at load time that simply runs out
ACTIVE_RESERVATION_CHARGER_ID = "PX-028"
PENDING_NOW_RESERVATION_ID = "R900004"  # pending covering now: must NOT show as Reserved
PENDING_NOW_CHARGER_ID = "PX-040"


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
