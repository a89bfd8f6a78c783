"""The export tests' shared scenario: one populated database per dialect (module scope,
read-only for the tests that share it): an operator in Europe/Berlin, customers Alice and Zeb,
admin Olga, sessions and reservations on the local-day edges around both 2026 DST changes, and
ids and names that a spreadsheet would run as formulas (tests/test_exports.py,
tests/test_export_parquet.py)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

import data.exchange.exports as exports
from data.core.db import Database
from data.core.models import ReservationStatus, Role, Visibility
from data.exchange.exports import EXPORTS
from data.uptime.outages import OutageCause, OutageKind
from tests.support.databases import fresh_database
from tests.support.factories import (
    grant_access,
    make_charger,
    make_id_tag,
    make_operator,
    make_outage,
    make_plan,
    make_reservation,
    make_session,
)
from tests.support.web import add_person, client_for, make_app

BERLIN = ZoneInfo("Europe/Berlin")
OLGA, ALICE, ZEB = "olga@example.com", "alice@example.com", "zebulon@example.com"
ADMIN_ONLY = [name for name in EXPORTS if name not in exports.CUSTOMER_EXPORTS]

# Text a spreadsheet would run, and text that must stay exactly as it is.
FORMULA_TEXTS = ["=1+2", "+SUM(A1)", "-x", "@cmd", "\tTab", "\rCR", "'=quoted", "''-twice"]
PLAIN_TEXTS = ["-12.5", "+7", "-.5", "'plain", "'", "a,b", 'say "hi"', "two\nlines", "ünï-cödé"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Local-day edges in Europe/Berlin (UTC+1 in winter, +2 in summer; 2026-03-29 has 23 hours,
# 2026-10-25 has 25).
EDGE_SESSIONS = {
    "e-mar28-last": utc(2026, 3, 28, 22, 59, 59, 999999),  # 23:59:59.999999 on the 28th
    "e-mar29-first": utc(2026, 3, 28, 23),  # 00:00 on the 29th (the short day)
    "e-mar29-last": utc(2026, 3, 29, 21, 59, 59),  # 23:59:59 CEST on the 29th
    "e-mar30-first": utc(2026, 3, 29, 22),  # 00:00 CEST on the 30th
    "e-oct25-first": utc(2026, 10, 24, 22),  # 00:00 CEST on the 25th (the long day)
    "e-oct25-last": utc(2026, 10, 25, 22, 59, 59),  # 23:59:59 CET on the 25th
    "e-oct26-first": utc(2026, 10, 25, 23),  # 00:00 CET on the 26th
}


# --- Databases and apps --------------------------------------------------------------------------


def app_db(app: Flask) -> Database:
    return app.extensions["polaris_db"]


def seed(app: Flask) -> None:
    """The shared scenario (see the module docstring)."""
    add_person(app, OLGA, ("acc-olga-admin", Role.admin, "Operations"))
    add_person(app, ALICE, ("acc-alice", Role.customer, "=Alice's car"))
    add_person(app, ZEB, ("acc-zeb", Role.customer, "Zeb"))
    with app_db(app).session() as s:
        make_operator(s, timezone="Europe/Berlin", name="@Polaris, Berlin")
        plan = make_plan(s, plan_id="plan-platinum", name="Fleet Platinum", allowance_kwh="4321")
        s.execute(text("UPDATE accounts SET plan_id = :p WHERE id = 'acc-zeb'"), {"p": plan.id})
        seen = utc(2026, 11, 24, 9)
        street = make_charger(s, charger_id="c-street", friendly_name="Street", last_seen_at=seen)
        depot = make_charger(
            s,
            charger_id="c-alice-depot",
            friendly_name="Alice Depot",
            visibility=Visibility.restricted,
        )
        zeb_private = make_charger(
            s,
            charger_id="c-zeb-private",
            friendly_name="Zeb Private Bay",
            visibility=Visibility.restricted,
            max_power_kw="7.4",
        )
        grant_access(s, "acc-alice", depot)
        grant_access(s, "acc-zeb", zeb_private)
        # Charger ids and names a spreadsheet would run, and plain ones that only look odd.
        odd = [
            make_charger(s, charger_id=f"odd-{i:02d}", friendly_name=name)
            for i, name in enumerate(FORMULA_TEXTS + PLAIN_TEXTS)
        ]
        formula_id = make_charger(s, charger_id="=HYPERLINK(1)", friendly_name="Formula id")
        number_id = make_charger(s, charger_id="-12.5", friendly_name="Number id")
        make_id_tag(s, "acc-alice", id_tag="@tag-alice")
        make_id_tag(s, "acc-zeb", id_tag="tag-zeb")

        for sid, started in EDGE_SESSIONS.items():
            make_session(
                s,
                "acc-alice",
                street,
                started_at=started,
                ended_at=started + timedelta(minutes=40),
                energy_kwh="1.25",
                session_id=sid,
            )
        make_session(
            s,
            "acc-alice",
            depot,
            started_at=utc(2026, 11, 20, 8, 0, 0, 120),
            ended_at=utc(2026, 11, 20, 9, 30),
            energy_kwh="11.100",
            session_id="-s-alice-1",
        )
        make_session(
            s,
            "acc-alice",
            formula_id,
            started_at=utc(2026, 11, 21, 8),
            ended_at=utc(2026, 11, 21, 9),
            energy_kwh="22.2",
            finalized=False,
            session_id="=s-alice-2",
        )
        make_session(s, "acc-alice", number_id, started_at=utc(2026, 11, 24, 7), energy_kwh="3.333")
        make_session(
            s,
            "acc-zeb",
            zeb_private,
            started_at=utc(2026, 11, 24, 6),
            energy_kwh="58.3",
            session_id="s-zeb-live",
        )
        make_session(
            s,
            "acc-zeb",
            zeb_private,
            started_at=utc(2026, 11, 2, 6),
            ended_at=utc(2026, 11, 2, 8),
            energy_kwh="49.6",
            session_id="s-zeb-1",
        )
        make_session(
            s,
            "acc-zeb",
            street,
            started_at=EDGE_SESSIONS["e-mar29-first"],
            ended_at=EDGE_SESSIONS["e-mar29-first"] + timedelta(hours=1),
            energy_kwh="0.001",
            session_id="s-zeb-dst",
        )
        for i, charger in enumerate(odd):
            make_session(
                s,
                "acc-olga-admin",
                charger,
                started_at=utc(2026, 11, 1 + i, 12),
                ended_at=utc(2026, 11, 1 + i, 13),
                energy_kwh=str(Decimal(i) / 8),
            )
        make_reservation(
            s,
            "acc-alice",
            street,
            starts_at=EDGE_SESSIONS["e-mar29-first"],
            ends_at=EDGE_SESSIONS["e-mar29-first"] + timedelta(hours=1),
            status=ReservationStatus.completed,
            reservation_id="r-alice-dst",
        )
        make_reservation(
            s,
            "acc-zeb",
            zeb_private,
            starts_at=utc(2026, 11, 25, 8),
            ends_at=utc(2026, 11, 25, 9),
            reservation_id="r-zeb-1",
        )
        make_reservation(
            s,
            "acc-alice",
            depot,
            starts_at=utc(2026, 11, 26, 8),
            ends_at=utc(2026, 11, 26, 9),
            status=ReservationStatus.cancelled,
            reservation_id="+r-alice-2",
        )
        # Outages: two overlapping ones over the March DST change (one excluded), one still
        # going on, and a note a spreadsheet would run.
        make_outage(
            s,
            street,
            started_at=utc(2026, 3, 29, 0, 30),
            ended_at=utc(2026, 3, 29, 2, 30),
            cause=OutageCause.utility,
            excluded=True,
            note="Grid operator's work, notice of 1 March",
            outage_id="o-street-1",
        )
        make_outage(
            s,
            street,
            started_at=utc(2026, 3, 29, 2),
            ended_at=utc(2026, 3, 29, 3),
            outage_id="o-street-2",
        )
        make_outage(
            s,
            zeb_private,
            started_at=utc(2026, 11, 30, 12),
            kind=OutageKind.offline,
            outage_id="o-zeb-now",
        )
        make_outage(
            s,
            formula_id,
            started_at=utc(2026, 10, 25, 0, 30),
            ended_at=utc(2026, 10, 25, 1, 15, 0, 250000),
            cause=OutageCause.vandalism,
            note="=HYPERLINK(1)",
            outage_id="=o-formula",
        )


@dataclass
class Scenario:
    dialect: str
    app: Flask
    olga: FlaskClient
    alice: FlaskClient
    directory: Path
    template: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scenario(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Scenario]:
    directory = tmp_path_factory.mktemp(f"exports-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        app = make_app(url, PROPAGATE_EXCEPTIONS=False)
        seed(app)
        yield Scenario(
            request.param,
            app,
            client_for(app, OLGA),
            client_for(app, ALICE),
            directory,
            sqlite_template,
        )
        app_db(app).engine.dispose()


def get_csv(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.get_data(as_text=True))
    return response.get_data(as_text=True)
