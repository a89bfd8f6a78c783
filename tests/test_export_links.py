""" "Export CSV" on the admin screens: each link carries the screen's current filters, and the
export reads them with the screen's meaning, so the file holds exactly the rows on screen.

The callbacks are called over HTTP as the renderer calls them; the links they return are then
fetched from ``/export/``. SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from components.charger import charger_skeleton
from data.accounts.people import parse_accounts_request, search_accounts
from data.chargers.fleet import fleet_page, parse_fleet_request
from data.chargers.status import ChargerStatus
from data.charging.history import parse_session_filter, session_totals
from data.charging.reservations import count_upcoming_reservations, upcoming_reservations
from data.core.models import ConnectorType, ReservationStatus, Role, Visibility
from tests.support.callbacks import call, callback_containing, find
from tests.support.factories import (
    make_account,
    make_charger,
    make_operator,
    make_reservation,
    make_session,
    make_user,
)
from tests.support.web import AppFactory, add_person, client_for

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC)


def today() -> date:
    """Berlin's date when asked, as the app reads it per request: a run that crosses midnight
    in Berlin (23:00 UTC) must not compare a date taken at collection with one taken later."""
    return datetime.now(UTC).astimezone(BERLIN).date()


OLGA, ALICE = "olga@example.com", "alice@example.com"
CALLBACK_URL = "/_dash-update-component"


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


@pytest.fixture
def app(app_factory: AppFactory, database_url: str) -> Flask:
    app = app_factory(database_url, PROPAGATE_EXCEPTIONS=False)
    add_person(app, OLGA, ("acc-ops", Role.admin, "Operations"))
    add_person(app, ALICE, ("acc-alice", Role.customer, None))
    # Heard from when the test runs (not at import): a long run must not age them past the
    # short offline threshold one test sets.
    seen = datetime.now(UTC)
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_charger(s, charger_id="PX-1", friendly_name="Marktplatz 1", last_seen_at=seen)
        make_charger(s, charger_id="PX-2", friendly_name="Marktplatz 2", last_seen_at=seen)
        make_charger(  # Offline
            s,
            charger_id="HB-7",
            friendly_name="Hauptbahnhof Süd",
            connector_type=ConnectorType.type2,
            max_power_kw="150",
        )
        make_charger(
            s,
            charger_id="GR-1",
            friendly_name="100% green",
            last_seen_at=seen,
            max_power_kw="22",
            visibility=Visibility.restricted,
        )
        make_charger(s, charger_id="px", friendly_name="Exactly px", last_seen_at=seen)
        quiet = seen - timedelta(minutes=5)  # Online, unless the app's threshold is shorter
        make_charger(s, charger_id="QX-9", friendly_name="Quiet 9", last_seen_at=quiet)
        bob = make_user(s, email="bob@example.com", display_name="Bob Marktplatz")
        make_account(s, account_id="acc-bob", user=bob)
        make_account(s, account_id="acc-bob-fleet", user=bob, label="Vans")
        chargers = ["PX-1", "PX-2", "HB-7", "GR-1", "px"]
        accounts = ["acc-alice", "acc-bob", "acc-bob-fleet"]
        for i in range(40):
            started = NOW - timedelta(hours=7 * i + 1)
            ended = None if i % 9 == 0 else started + timedelta(minutes=40)
            make_session(
                s,
                accounts[i % 3],
                chargers[i % 5],
                started_at=started,
                ended_at=ended,
                energy_kwh=f"{i * 1.337:.3f}",
                finalized=None if i % 4 else False,
            )
        soon = (NOW + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        for i, (status, charger) in enumerate(
            [
                (ReservationStatus.confirmed, "PX-1"),
                (ReservationStatus.confirmed, "PX-2"),
                (ReservationStatus.cancelled, "PX-2"),
                (ReservationStatus.pending, "HB-7"),
                (ReservationStatus.active, "GR-1"),
            ]
        ):
            make_reservation(
                s,
                accounts[i % 3],
                charger,
                starts_at=soon + timedelta(hours=2 * i),
                ends_at=soon + timedelta(hours=2 * i + 1),
                status=status,
                reservation_id=f"r-{i}",
            )
        make_reservation(  # over: on the charger's export, never on the upcoming list
            s,
            "acc-alice",
            "PX-1",
            starts_at=NOW - timedelta(days=2),
            ends_at=NOW - timedelta(days=2) + timedelta(hours=1),
            status=ReservationStatus.completed,
            reservation_id="r-past",
        )
    return app


@pytest.fixture
def olga(app: Flask) -> FlaskClient:
    return client_for(app, OLGA)


# --- calling callbacks and reading answers ------------------------------------------------------


def csv_rows(client: FlaskClient, href: str) -> list[dict[str, str]]:
    response = client.get(href)
    assert response.status_code == 200, (href, response.get_data(as_text=True))
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# --- the sessions explorer ----------------------------------------------------------------------

EXPLORER_QUERIES = [
    {"from": day(-13), "to": day(0)},
    {"from": day(-3), "to": day(-1)},
    {"from": day(-13), "to": day(0), "charger": "PX-1"},  # an exact id
    {"from": day(-13), "to": day(0), "charger": "markt"},  # part of a name, any case
    {"from": day(-13), "to": day(0), "charger": "px"},  # an exact id wins over the search
    {"from": day(-13), "to": day(0), "charger": "PX-"},  # part of ids
    {"from": day(-13), "to": day(0), "charger": "100%"},  # a LIKE character, taken literally
    {"from": day(-13), "to": day(0), "account": "acc-bob", "state": "finalized"},
    {"from": day(-13), "to": day(0), "state": "in_progress"},
    {"from": day(-13), "to": day(0), "charger": "ü", "state": "all"},
]


def show_view(client: FlaskClient, app: Flask, query: dict[str, str]) -> dict[str, Any]:
    key = callback_containing(app, "admin-sessions-results.children")
    inputs = [
        {"id": "admin-sessions-query", "property": "data", "value": query},
        {"id": "admin-energy-store", "property": "data", "value": 0},
    ]
    response = call(client, key, inputs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def explorer_count(client: FlaskClient, app: Flask, view: str) -> int:
    """The count the explorer's grid callback sends with its first block."""
    key = callback_containing(app, "admin-sessions-count")
    grid = {"type": "admin-sessions-grid", "view": view, "n": "k1"}
    totals = {"type": "admin-sessions-totals", "view": view, "n": "k1"}
    count = {"type": "admin-sessions-count", "view": view, "n": "k1"}
    response = call(
        client,
        key,
        [{"id": grid, "property": "getRowsRequest", "value": {"startRow": 0, "endRow": 100}}],
        [{"id": count, "property": "data", "value": None}],
        [
            {"id": grid, "property": "getRowsResponse"},
            {"id": totals, "property": "children"},
            {"id": count, "property": "data"},
        ],
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_json()["response"]
    return int(body[json.dumps(count, separators=(",", ":"), sort_keys=True)]["data"]["sessions"])


def test_the_explorer_link_exports_exactly_the_rows_on_screen(
    app: Flask, olga: FlaskClient
) -> None:
    seen_counts = set()
    for query in EXPLORER_QUERIES:
        answer = show_view(olga, app, query)
        link = find(answer, "admin-sessions-export")
        assert link is not None and link["download"] == ""
        href = link["href"]
        path, _, link_query = href.partition("?")
        assert path == "/export/sessions.csv"
        expected = {k: [v] for k, v in query.items() if not (k == "state" and v == "all")}
        assert parse_qs(link_query) == expected, (query, href)

        # The explorer's totals, by its own callback (count) and query (energy) ...
        with app.extensions["polaris_db"].session() as s:
            flt, notes = parse_session_filter(query, today())
            assert notes == []
            totals = session_totals(s, flt, BERLIN)
        assert explorer_count(olga, app, "?" + link_query) == totals.sessions
        # ... are the export's rows and energy.
        rows = csv_rows(olga, href)
        assert len(rows) == totals.sessions, query
        energy = sum((Decimal(r["energy_kwh"]) for r in rows), Decimal("0.000"))
        assert energy == totals.energy_kwh, query
        seen_counts.add(totals.sessions)
    assert len(seen_counts) >= 5  # the queries select different sets, not all or nothing


def test_the_explorer_and_its_export_agree_on_the_charger_search(
    app: Flask, olga: FlaskClient
) -> None:
    def chargers(query: str) -> set[str]:
        return {r["charger_id"] for r in csv_rows(olga, f"/export/sessions.csv?{query}")}

    everything = f"from={day(-13)}&to={day(0)}"
    assert chargers(everything + "&charger=markt") == {"PX-1", "PX-2"}
    assert chargers(everything + "&charger=px") == {"px"}  # the exact id, not PX-1/PX-2
    assert chargers(everything + "&charger=PX-") == {"PX-1", "PX-2"}
    assert chargers(everything + "&charger=100%25") == {"GR-1"}
    assert chargers(everything + "&charger=S%C3%BCD") == {"HB-7"}
    missing = olga.get("/export/sessions.csv?charger=nowhere")
    assert missing.status_code == 400
    assert "no charger has it in its id or name" in missing.get_data(as_text=True)


def test_a_filtered_view_changes_the_link(app: Flask, olga: FlaskClient) -> None:
    narrow = find(show_view(olga, app, {"from": day(-1), "to": day(-1)}), "admin-sessions-export")
    wide = find(show_view(olga, app, {"from": day(-9), "to": day(0)}), "admin-sessions-export")
    assert narrow is not None and wide is not None
    assert narrow["href"] == "/export/sessions.csv?" + urlencode({"from": day(-1), "to": day(-1)})
    assert wide["href"] == "/export/sessions.csv?" + urlencode({"from": day(-9), "to": day(0)})
    # An invalid URL shows (and links) the canonical fallback, never the raw text.
    bad = find(show_view(olga, app, {"from": "soon", "state": "x"}), "admin-sessions-export")
    assert bad is not None
    assert bad["href"] == "/export/sessions.csv?" + urlencode({"from": day(-6), "to": day(0)})


def test_the_parquet_link_is_the_csv_link_as_parquet(app: Flask, olga: FlaskClient) -> None:
    answer = show_view(olga, app, {"from": day(-9), "to": day(0)})
    csv_link = find(answer, "admin-sessions-export")
    parquet = find(answer, "admin-sessions-parquet")
    assert csv_link is not None and parquet is not None and parquet["download"] == ""
    assert parquet["href"] == csv_link["href"].replace(
        "/export/sessions.csv", "/export/sessions.parquet"
    )
    assert olga.get(parquet["href"]).status_code == 200


# --- reservations, fleet, accounts, one charger -------------------------------------------------


def test_the_reservations_link_exports_the_upcoming_list_with_its_search(
    app: Flask, olga: FlaskClient
) -> None:
    key = callback_containing(app, "admin-reservations-export.href")
    for search in ["", "px-2", "MARKTPLATZ", "acc-bob", "r-4", "nothing-like-it"]:
        inputs = [
            {"id": "admin-reservations-version", "property": "data", "value": "initial"},
            {"id": "admin-reservations-search", "property": "value", "value": search},
        ]
        response = call(olga, key, inputs)
        assert response.status_code == 200
        href = response.get_json()["response"]["admin-reservations-export"]["href"]
        expected = {"upcoming": ["1"], **({"search": [search]} if search else {})}
        assert parse_qs(urlsplit(href).query) == expected
        with app.extensions["polaris_db"].session() as s:
            count = count_upcoming_reservations(s, NOW, search)
            shown = {r.reservation_id for r in upcoming_reservations(s, NOW, 0, 100, search)}
        exported = {r["reservation_id"] for r in csv_rows(olga, href)}
        assert exported == shown and len(exported) == count, search
    # The list leaves out what is over or cancelled; the charger's export keeps them.
    upcoming = {r["reservation_id"] for r in csv_rows(olga, "/export/reservations.csv?upcoming=1")}
    assert upcoming == {"r-0", "r-1", "r-3", "r-4"}


def fleet_ids(app: Flask, model: dict[str, Any], offline_after_s: int = 3600) -> set[str]:
    request = parse_fleet_request({"filterModel": model, "endRow": 500})
    with app.extensions["polaris_db"].session() as s:
        page = fleet_page(s, datetime.now(UTC), request, offline_after_s=offline_after_s)
    return {row.charger_id for row in page.rows}


def fleet_filtered(client: FlaskClient, key: str, model: dict[str, Any]) -> dict[str, Any]:
    """The fleet's answer to a new filter model (the pills are pattern outputs: one each)."""
    pills = [
        {"type": "admin-fleet-pill", "status": name}
        for name in ["All", *(status.value for status in ChargerStatus)]
    ]
    outputs: list[Any] = [
        [{"id": pill, "property": prop} for pill in pills] for prop in ("className", "aria-pressed")
    ]
    outputs.append({"id": "admin-fleet-export", "property": "href"})
    response = call(
        client,
        key,
        [{"id": "admin-fleet-grid", "property": "filterModel", "value": model}],
        outputs=outputs,
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def text_filter(kind: str, value: str) -> dict[str, str]:
    return {"filterType": "text", "type": kind, "filter": value}


def number_filter(kind: str, value: float) -> dict[str, Any]:
    return {"filterType": "number", "type": kind, "filter": value}


def test_the_fleet_link_carries_the_status_pill_and_the_search(
    app: Flask, olga: FlaskClient
) -> None:
    key = callback_containing(app, "admin-fleet-export.href")
    models: list[dict[str, Any]] = [
        {},
        {"status": text_filter("equals", "Offline")},
        {"status": text_filter("equals", "In use")},
        {"friendly_name": text_filter("contains", "PX")},
        {
            "status": text_filter("equals", "Online"),
            "friendly_name": text_filter("contains", "markt"),
        },
        # Column menus: any column, operator and pair of conditions the grid offers.
        {"max_power_kw": number_filter("greaterThan", 40)},
        {"max_power_kw": {**number_filter("inRange", 20), "filterTo": 100}},
        {"connector_type": text_filter("equals", "type 2")},
        {"visibility": text_filter("notEqual", "public")},
        {
            "status": text_filter("notEqual", "Offline"),
            "charger_id": text_filter("startsWith", "p"),
        },
        {"sessions_30d": number_filter("greaterThanOrEqual", 8)},
        {
            "energy_kwh_30d": number_filter("lessThan", 200),
            "friendly_name": text_filter("contains", "a"),
        },
        {
            "friendly_name": {
                "filterType": "text",
                "operator": "OR",
                "conditions": [text_filter("startsWith", "markt"), text_filter("endsWith", "süd")],
            }
        },
    ]
    results = []
    for model in models:
        href = fleet_filtered(olga, key, model)["admin-fleet-export"]["href"]
        assert href.startswith("/export/chargers.csv")
        exported = {r["charger_id"] for r in csv_rows(olga, href)}
        assert exported == fleet_ids(app, model), (model, href)
        results.append(exported)
    assert results[1] == {"HB-7"}  # the data really filters
    assert len({frozenset(r) for r in results}) >= 8  # and the filters select different sets
    simple = fleet_filtered(olga, key, models[4])["admin-fleet-export"]["href"]
    assert parse_qs(urlsplit(simple).query) == {"status": ["Online"], "search": ["markt"]}
    # The app's offline threshold (POLARIS_OFFLINE_AFTER_S) counts in the export as on screen.
    app.config["OFFLINE_AFTER_S"] = 60
    try:
        offline = {"status": {"filterType": "text", "type": "equals", "filter": "Offline"}}
        href = fleet_filtered(olga, key, offline)["admin-fleet-export"]["href"]
        exported = {r["charger_id"] for r in csv_rows(olga, href)}
        assert exported == fleet_ids(app, offline, offline_after_s=60) == {"HB-7", "QX-9"}
    finally:
        app.config.pop("OFFLINE_AFTER_S")


def accounts_link(client: FlaskClient, key: str, model: dict[str, Any]) -> str:
    inputs = [{"id": "admin-accounts-grid", "property": "filterModel", "value": model}]
    response = call(client, key, inputs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]["admin-accounts-export"]["href"]


def listed_accounts(app: Flask, model: dict[str, Any]) -> set[str]:
    """The account ids the accounts table lists for a filter model (its own query)."""
    query = parse_accounts_request({"filterModel": model, "startRow": 0, "endRow": 100})
    with app.extensions["polaris_db"].session() as s:
        page = search_accounts(s, query)
    return {row.account_id for row in page.rows if row.account_id}


def test_the_accounts_link_carries_the_search_and_column_filters(
    app: Flask, olga: FlaskClient
) -> None:
    search_key = callback_containing(app, "admin-accounts-grid.filterModel")
    link_key = callback_containing(app, "admin-accounts-export.href")
    for search in ["", "bob", "VANS", "alice@", "nobody-at-all"]:
        # The search box writes the grid's filter model; the link follows the model.
        response = call(
            olga,
            search_key,
            [{"id": "admin-accounts-search", "property": "value", "value": search}],
            [{"id": "admin-accounts-grid", "property": "filterModel", "value": {}}],
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        model = response.get_json()["response"]["admin-accounts-grid"]["filterModel"]
        href = accounts_link(olga, link_key, model)
        assert parse_qs(urlsplit(href).query) == ({"search": [search]} if search else {})
        assert {r["account_id"] for r in csv_rows(olga, href)} == listed_accounts(app, model)
    bob = {r["account_id"] for r in csv_rows(olga, "/export/accounts.csv?search=vans")}
    assert bob == {"acc-bob", "acc-bob-fleet"}  # a label finds the person: all their accounts

    search = {"search": text_filter("contains", "bob")}
    models: list[dict[str, Any]] = [
        {"refresh": text_filter("contains", "3")},  # filters nothing
        {"role": text_filter("equals", "admin")},
        {"role": text_filter("notEqual", "admin"), "label": text_filter("contains", "van")},
        {**search, "label": text_filter("notContains", "van")},
        {
            "email": text_filter("endsWith", "@example.com"),
            "account_id": text_filter("startsWith", "acc-b"),
        },
        {
            "account_id": {
                "filterType": "text",
                "operator": "OR",
                "conditions": [
                    text_filter("equals", "acc-ops"),
                    text_filter("equals", "acc-alice"),
                ],
            }
        },
    ]
    results = []
    for model in models:
        href = accounts_link(olga, link_key, model)
        exported = {r["account_id"] for r in csv_rows(olga, href)}
        assert exported == listed_accounts(app, model), (model, href)
        results.append(exported)
    assert results[1] == {"acc-ops"} and results[3] == {"acc-bob"}
    assert len({frozenset(r) for r in results}) == len(models)


def test_the_charger_page_links_its_sessions_and_reservations(
    app: Flask, olga: FlaskClient
) -> None:
    tree = json.loads(json.dumps(charger_skeleton("PX-1"), cls=_PlotlyJSON))
    sessions = find(tree, "admin-charger-sessions-export")
    reservations = find(tree, "admin-charger-reservations-export")
    assert sessions is not None and reservations is not None
    assert sessions["href"] == "/export/sessions.csv?charger=PX-1"
    assert reservations["href"] == "/export/reservations.csv?charger=PX-1"
    rows = csv_rows(olga, sessions["href"])
    assert len(rows) == 8 and {r["charger_id"] for r in rows} == {"PX-1"}
    booked = csv_rows(olga, reservations["href"])
    assert {r["reservation_id"] for r in booked} == {"r-0", "r-past"}
    odd_tree = json.loads(json.dumps(charger_skeleton("a b&c"), cls=_PlotlyJSON))
    odd = find(odd_tree, "admin-charger-sessions-export")
    assert odd is not None and odd["href"] == "/export/sessions.csv?charger=a+b%26c"


class _PlotlyJSON(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        from plotly.utils import PlotlyJSONEncoder  # noqa: PLC0415

        return PlotlyJSONEncoder().default(o)


# --- who may follow the links -------------------------------------------------------------------


def test_the_new_filters_are_for_admins_and_explain_bad_values(
    app: Flask, olga: FlaskClient
) -> None:
    alice = client_for(app, ALICE)
    for href in [
        "/export/reservations.csv?upcoming=1",
        "/export/chargers.csv?status=Offline",
        "/export/accounts.csv?search=bob",
    ]:
        assert alice.get(href).status_code == 403
        assert client_for(app, None).get(href).status_code == 401
    bad = {
        "/export/reservations.csv?search=px": "“search” goes with “upcoming=1”",
        "/export/reservations.csv?upcoming=yes": "“upcoming” takes 1",
        "/export/chargers.csv?status=Broken": "“status” must be one of: Online, In use",
        "/export/chargers.csv?filter=%5B1%5D": "“filter” must be the table's filter model",
        "/export/chargers.csv?filter=%7Bnope": "“filter” must be the table's filter model",
        "/export/accounts.csv?search=" + "x" * 201: "“search” must be at most 200",
        "/export/sessions.csv?charger=" + "x" * 201: "“charger” is not a valid id",
    }
    for href, message in bad.items():
        response = olga.get(href)
        assert response.status_code == 400, href
        assert message in response.get_data(as_text=True), href
    # The fleet's ?status= reads any case, like the page's address.
    assert {r["charger_id"] for r in csv_rows(olga, "/export/chargers.csv?status=offline")} == {
        "HB-7"
    }
