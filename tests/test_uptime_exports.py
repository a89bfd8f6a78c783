"""``/export/outages.csv`` and ``/export/uptime-monthly.csv`` over HTTP, the outage log's round
trip through the exchange format, on SQLite and PostgreSQL.

One populated database per dialect (module scope, read-only for the tests that share it): an
operator in Europe/Berlin, admin Olga and customer Alice, and outages on the March and October
2026 DST changes (overlapping, one excluded), one still going on, one with a note a
spreadsheet would run. The figures are those of months that are over (they count up to now).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from data.core.db import Database
from data.core.models import Role
from data.exchange.exporter import export_folder
from data.exchange.importer import import_folder
from data.pricing.statements import month_key, month_of, shift_month
from data.uptime.outages import Outage, OutageCause, OutageKind
from tests.support.audit import AT, CLI
from tests.support.databases import fresh_database
from tests.support.factories import make_charger, make_operator, make_outage
from tests.support.web import add_person, client_for, make_app, rows_of

BERLIN = ZoneInfo("Europe/Berlin")
OLGA, ALICE = "olga@example.com", "alice@example.com"
UPTIME_HEADER = (
    "charger_id,month,minutes,outage_minutes,excluded_minutes,uptime_percent,uptime_12m_percent"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def app_db(app: Flask) -> Database:
    return app.extensions["polaris_db"]


def seed(app: Flask) -> None:
    add_person(app, OLGA, ("acc-olga", Role.admin, None))
    add_person(app, ALICE, ("acc-alice", Role.customer, None))
    with app_db(app).session() as s:
        make_operator(s, timezone="Europe/Berlin")
        for charger_id in ("c-quiet", "c-street", "c-yard"):
            make_charger(s, charger_id=charger_id)
        # 00:30-02:30 UTC over the clocks' jump (excluded), 02:00-03:00 UTC counted: 150
        # minutes down, 90 of them only excluded.
        make_outage(
            s,
            "c-street",
            started_at=utc(2026, 3, 29, 0, 30),
            ended_at=utc(2026, 3, 29, 2, 30),
            cause=OutageCause.utility,
            excluded=True,
            note="Grid operator's planned work, notice of 1 March",
            outage_id="o-1",
        )
        make_outage(
            s,
            "c-street",
            started_at=utc(2026, 3, 29, 2),
            ended_at=utc(2026, 3, 29, 3),
            outage_id="o-2",
        )
        # The long night of October (25 hours): 00:30 to 01:15:00.25 UTC.
        make_outage(
            s,
            "c-yard",
            started_at=utc(2026, 10, 25, 0, 30),
            ended_at=utc(2026, 10, 25, 1, 15, 0, 250000),
            cause=OutageCause.vandalism,
            note="=cable cut",
            outage_id="o-3",
        )
        # Still down: from 13:00 in Berlin on 30 November.
        make_outage(
            s, "c-yard", started_at=utc(2026, 11, 30, 12), kind=OutageKind.offline, outage_id="o-4"
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
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Scenario]:
    directory = tmp_path_factory.mktemp(f"uptime-{request.param}")
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


def get_text(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.get_data(as_text=True))
    return response.get_data(as_text=True)


# --- uptime-monthly ------------------------------------------------------------------------------


def test_uptime_monthly_by_the_spec_rule_with_three_decimals(scenario: Scenario) -> None:
    body = get_text(scenario.olga, "/export/uptime-monthly.csv?from=2026-03&to=2026-04")
    # March has 743 hours in Berlin; the twelve months to March or April, 365 days (the hour
    # March loses, October 2025 gave back); 60 minutes counted against the street's uptime.
    assert body.split("\n") == [
        UPTIME_HEADER,
        "c-quiet,2026-03,44580,0,0,100.000,100.000",
        "c-quiet,2026-04,43200,0,0,100.000,100.000",
        "c-street,2026-03,44580,150,90,99.865,99.989",
        "c-street,2026-04,43200,0,0,100.000,99.989",
        "c-yard,2026-03,44580,0,0,100.000,100.000",
        "c-yard,2026-04,43200,0,0,100.000,100.000",
        "",
    ]
    yard = rows_of(get_text(scenario.olga, "/export/uptime-monthly.csv?from=2026-10&to=2026-11"))
    october, november = (r for r in yard if r["charger_id"] == "c-yard")
    assert (october["minutes"], october["outage_minutes"]) == ("44700", "45.004")  # 45 min 0.25 s
    assert october["uptime_percent"] == "99.899"  # (44700 - 45.004166...) / 44700
    assert (november["outage_minutes"], november["uptime_percent"]) == ("660", "98.472")


def test_uptime_monthly_months_filename_and_charger(scenario: Scenario) -> None:
    response = scenario.olga.get(
        "/export/uptime-monthly.csv?from=2026-03&to=2026-05&charger=c-yard"
    )
    assert response.status_code == 200
    assert (
        'filename="uptime-monthly-2026-03-2026-05.csv"' in response.headers["Content-Disposition"]
    )
    rows = rows_of(response.get_data(as_text=True))
    assert [(r["charger_id"], r["month"]) for r in rows] == [
        ("c-yard", "2026-03"),
        ("c-yard", "2026-04"),
        ("c-yard", "2026-05"),
    ]
    # Without months: the twelve full months before this one, every charger.
    current = month_of(datetime.now(UTC), BERLIN)
    last = shift_month(current, -1)
    assert last is not None
    every = rows_of(get_text(scenario.olga, "/export/uptime-monthly.csv"))
    months = sorted({r["month"] for r in every})
    assert months[-1] == month_key(last) and len(months) == 12 and len(every) == 36
    # From a month on: up to this one, which counts up to now (no twelve-month gap).
    since = rows_of(get_text(scenario.olga, f"/export/uptime-monthly.csv?from={month_key(last)}"))
    assert {r["month"] for r in since} == {month_key(last), month_key(current)}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "?from=2026-13",
            "“from” must be a month like 2026-11 (1970-01 to 9998-12), not “2026-13”",
        ),
        ("?to=2026-03-01", "“to” must be a month like 2026-11"),
        ("?from=1969-12", "“from” must be a month"),
        ("?from=2026-05&to=2026-03", "“from” is after “to”"),
        ("?from=2000-01&to=2026-01", "Ask for at most 120 months at a time"),
        ("?period=year", "Unknown parameter “period”: uptime-monthly.csv takes from, to, charger"),
        ("?charger=nope", "There is no charger “nope”"),
    ],
)
def test_uptime_monthly_bad_query_strings_get_400(
    scenario: Scenario, query: str, message: str
) -> None:
    assert message in get_text(scenario.olga, f"/export/uptime-monthly.csv{query}", 400)


def test_outage_exports_are_for_admins_only(scenario: Scenario) -> None:
    anonymous = scenario.app.test_client()
    for path in ("/export/outages.csv", "/export/uptime-monthly.csv?from=2026-03&to=2026-03"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert "c-street" not in response.get_data(as_text=True)
        response = scenario.alice.get(path)
        assert response.status_code == 403, path
        assert "c-street" not in response.get_data(as_text=True)


# --- outages.csv ---------------------------------------------------------------------------------


def test_outages_csv_rows_and_filters(scenario: Scenario) -> None:
    body = get_text(scenario.olga, "/export/outages.csv")
    assert body.split("\n") == [
        "outage_id,charger_id,started_at,ended_at,cause,excluded,note",
        "o-1,c-street,2026-03-29T00:30:00Z,2026-03-29T02:30:00Z,utility,true,"
        '"Grid operator\'s planned work, notice of 1 March"',
        "o-2,c-street,2026-03-29T02:00:00Z,2026-03-29T03:00:00Z,unknown,false,",
        "o-3,c-yard,2026-10-25T00:30:00Z,2026-10-25T01:15:00.25Z,vandalism,false,'=cable cut",
        "o-4,c-yard,2026-11-30T12:00:00Z,,unknown,false,",
        "",
    ]

    def ids(query: str) -> list[str]:
        return [
            r["outage_id"] for r in rows_of(get_text(scenario.olga, f"/export/outages.csv{query}"))
        ]

    assert ids("?from=2026-03-29&to=2026-03-29") == ["o-1", "o-2"]  # the 23-hour day
    assert ids("?from=2026-10-25&to=2026-10-25&charger=c-yard") == ["o-3"]  # the 25-hour one
    assert ids("?charger=c-yard") == ["o-3", "o-4"]
    # The filters of /admin/uptime's list: cause, and open (still going on) or closed.
    assert ids("?cause=utility") == ["o-1"]
    assert ids("?status=open") == ["o-4"]
    assert ids("?status=closed&cause=unknown") == ["o-2"]
    assert "outages.csv takes from, to, period, charger, cause, status" in get_text(
        scenario.olga, "/export/outages.csv?account=x", 400
    )
    assert "“cause” must be one of: unknown, utility" in get_text(
        scenario.olga, "/export/outages.csv?cause=aliens", 400
    )
    assert "“status” must be one of: open, closed" in get_text(
        scenario.olga, "/export/outages.csv?status=all", 400
    )


def test_outages_round_trip_into_an_empty_database(scenario: Scenario, tmp_path: Path) -> None:
    """Export, import into an empty database: the same outages, field for field; imported ones
    are ``imported``, and a re-import keeps the kind of an outage already there."""
    with app_db(scenario.app).session() as s:
        export_folder(s, tmp_path)
        before = s.scalars(select(Outage).order_by(Outage.id)).all()
        facts = [
            (o.id, o.charger_id, o.started_at, o.ended_at, o.cause, o.excluded, o.note)
            for o in before
        ]
    with fresh_database(scenario.dialect, scenario.directory, scenario.template) as url:
        target = Database(url)
        try:
            with target.session() as s:
                report = import_folder(s, tmp_path, actor=CLI, now=AT)
            assert (report.files["outages.csv"].added, report.files["outages.csv"].updated) == (
                4,
                0,
            )
            with target.session() as s:
                after = s.scalars(select(Outage).order_by(Outage.id)).all()
                assert [
                    (o.id, o.charger_id, o.started_at, o.ended_at, o.cause, o.excluded, o.note)
                    for o in after
                ] == facts
                assert {o.kind for o in after} == {OutageKind.imported}
                s.get(Outage, "o-4").kind = OutageKind.offline  # as the OCPP feed would own it
            with target.session() as s:
                again = import_folder(s, tmp_path, actor=CLI, now=AT)
            assert again.files["outages.csv"].unchanged == 4
            with target.session() as s:
                assert s.get(Outage, "o-4").kind == OutageKind.offline
        finally:
            target.engine.dispose()
