"""``/export/cdrs.json``: the finalized sessions as OCPI 2.2.1 CDRs, on SQLite and PostgreSQL.

One populated database per dialect (module scope, read-only for the tests that share it): an
operator in Europe/Berlin (EUR) with an ad hoc tariff (AC and DC energy prices, a session fee, a
time price after 60 free minutes, 19% VAT) and a plan tariff with two versions; chargers of every
connector type; sessions priced when finalized, one across the October 2026 DST change, one from
the OCPP feed (an RFID tag on connector 2), one with an id too long for OCPI, and the sessions that
get no CDR (in progress, ended but not finalized, disputed, priced by no tariff). Shown: every
object validates against a JSON Schema of the OCPI 2.2.1 CDR written from the spec
(tests/fixtures/ocpi/cdr-2.2.1.schema.json); the amounts are the stored costs, digit for digit
those of sessions.csv; the CDRs hold exactly the sessions.csv rows of the same query string that
are finalized and priced, with its access rules (admins all, customers their own, export tokens);
the answer streams. A JPY operator (no minor unit) on both databases.
"""

from __future__ import annotations

import gzip
import json
import re
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

import auth.hardening as hardening
import data.exchange.export_stream as export_stream
from config import ConfigError, load_config
from data.accounts.tokens import create_token
from data.core.db import Database
from data.core.models import ChargingSession, ConnectorType, OcppTransaction, Role
from data.exchange.cdrs import (
    CONNECTOR_STANDARDS,
    CdrParty,
    alpha3,
    cdr_party,
    country_of_time_zone,
    evse_id,
    json_text,
    ocpi_id,
    split_vat,
)
from data.exchange.csv_safety import restore_cell
from data.pricing.tariffs import (
    create_tariff_version,
    price_unpriced_sessions,
    set_default_tariff,
    set_plan_tariff,
)
from tests.support.audit import AT, CLI
from tests.support.databases import fresh_database
from tests.support.factories import make_charger, make_operator, make_plan, make_session
from tests.support.web import add_person, client_for, found_secrets, make_app, rows_of

SCHEMA_PATH = Path(__file__).parent / "fixtures" / "ocpi" / "cdr-2.2.1.schema.json"
OLGA, ALICE, ZEB = "olga@example.com", "alice@example.com", "zebulon@example.com"
T0 = datetime(2026, 1, 1, tzinfo=UTC)  # the first tariff versions
PLUS_CHANGE = datetime(2026, 11, 1, tzinfo=UTC)  # PLUS costs 0.30 from here
LONG_CHARGER = "charger-" + "x" * 56  # 64 characters: too long for an OCPI id
LONG_SESSION = "session-" + "y" * 56


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# 01:30 CEST on 25 October 2026 to 03:30 CET: two hours on the wall clock, three in fact.
DST_START, DST_END = utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 2, 30)

# session id -> (account, charger, start, end, kWh): finalized and priced, so each has a CDR.
NOV = (2026, 11)
BILLED = {
    "s-dst": ("acc-zeb", "c-dc", DST_START, DST_END, "40.5"),
    "s-zeb-ac": ("acc-zeb", "c-ac", utc(*NOV, 20, 8, 0, 0, 120), utc(*NOV, 20, 9, 30), "11.1"),
    "s-zeb-j1772": ("acc-zeb", "c-j1772", utc(*NOV, 21, 7), utc(*NOV, 21, 9), "9.999"),
    "s-alice-nacs": ("acc-alice", "c-nacs", utc(2026, 10, 31, 22, 30), utc(*NOV, 1, 0, 30), "30"),
    "s-alice-chademo": ("acc-alice", "c-chademo", utc(*NOV, 2, 6), utc(*NOV, 2, 6, 45), "20.25"),
    "s-alice-ocpp": ("acc-alice", "c-ac", utc(*NOV, 3, 17), utc(*NOV, 3, 18), "7.5"),
    "s-alice-free": ("acc-alice", "c-ac", utc(*NOV, 4, 17), utc(*NOV, 4, 17, 5), "0"),
    LONG_SESSION: ("acc-olga-admin", LONG_CHARGER, utc(*NOV, 5, 12), utc(*NOV, 5, 13), "5.5"),
}  # fmt: skip
NO_CDR = ("s-before-tariffs", "s-not-finalized", "s-live", "s-disputed")
ALICE_SECRETS = ("acc-zeb", "s-dst", "s-zeb", "c-dc", "40.5", "11.1")


@cache
def cdr_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(cdr: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(cdr_schema()).validate(cdr)


def app_db(app: Flask) -> Database:
    return app.extensions["polaris_db"]


def seed(app: Flask) -> None:
    add_person(app, OLGA, ("acc-olga-admin", Role.admin, "Operations"))
    add_person(app, ALICE, ("acc-alice", Role.customer, None))
    add_person(app, ZEB, ("acc-zeb", Role.customer, None))
    with app_db(app).session() as s:
        make_operator(s, timezone="Europe/Berlin", currency="EUR")
        create_tariff_version(
            s,
            tariff_id="ADHOC",
            valid_from=T0,
            name="Ad hoc\tcharging",
            energy_price_per_kwh="0.59",
            dc_energy_price_per_kwh="0.69",
            session_fee="0.50",
            time_price_per_hour="1.20",
            time_free_minutes="60",
            vat_percent="19",
        )
        for start, price in ((T0, "0.35"), (PLUS_CHANGE, "0.30")):
            create_tariff_version(
                s,
                tariff_id="PLUS",
                valid_from=start,
                name="Plus",
                energy_price_per_kwh=price,
                vat_percent="19",
            )
        make_plan(s, plan_id="plan-plus")
        set_plan_tariff(s, "plan-plus", "PLUS", actor=CLI, now=AT)
        set_default_tariff(s, "ADHOC", actor=CLI, now=AT)
        s.execute(text("UPDATE accounts SET plan_id = 'plan-plus' WHERE id = 'acc-alice'"))
        chargers = [
            ("c-ac", ConnectorType.type2, "22", "Street AC"),
            ("c-dc", ConnectorType.ccs, "150", 'Depot\t"fast"\nDC'),
            ("c-nacs", ConnectorType.nacs, "250", "Supercharger row"),
            ("c-chademo", ConnectorType.chademo, "50", "CHAdeMO bay"),
            ("c-j1772", ConnectorType.j1772, "7.4", "Garage ünï-cödé"),
            (LONG_CHARGER, ConnectorType.type2, "11", "Long id"),
        ]
        for cid, kind, kw, name in chargers:
            make_charger(
                s, charger_id=cid, connector_type=kind, max_power_kw=kw, friendly_name=name
            )
        for sid, (account, charger, start, end, kwh) in BILLED.items():
            make_session(
                s, account, charger, started_at=start, ended_at=end, energy_kwh=kwh, session_id=sid
            )
        s.add(
            OcppTransaction(
                session_id="s-alice-ocpp",
                charger_id="c-ac",
                connector_id=2,
                id_tag="TAG-ALICE",
                meter_start_wh=Decimal("1000"),
                meter_last_wh=Decimal("8500"),
                started_at=BILLED["s-alice-ocpp"][2],
                stopped_at=BILLED["s-alice-ocpp"][3],
            )
        )
        before = utc(2025, 12, 31, 12)  # no tariff version yet: no cost
        make_session(s, "acc-zeb", "c-ac", started_at=before, ended_at=before + timedelta(hours=1),
                     energy_kwh="3", session_id="s-before-tariffs")  # fmt: skip
        make_session(s, "acc-zeb", "c-ac", started_at=utc(2026, 11, 6, 8),
                     ended_at=utc(2026, 11, 6, 9), energy_kwh="4", finalized=False,
                     session_id="s-not-finalized")  # fmt: skip
        make_session(s, "acc-alice", "c-dc", started_at=utc(2026, 11, 24, 6), energy_kwh="12",
                     session_id="s-live")  # fmt: skip
        disputed = make_session(s, "acc-zeb", "c-dc", started_at=utc(2026, 11, 7, 8),
                                ended_at=utc(2026, 11, 7, 9), energy_kwh="5",
                                session_id="s-disputed")  # fmt: skip
        disputed.energy_disputed_at = utc(2026, 11, 7, 9)
        disputed.energy_disputed_kwh = Decimal("900000")
        s.flush()
        price_unpriced_sessions(s)
        assert s.get(ChargingSession, "s-dst").cost_total is not None  # the seed priced them


@dataclass
class Site:
    dialect: str
    app: Flask
    olga: FlaskClient
    alice: FlaskClient


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp(f"cdrs-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        app = make_app(url, PROPAGATE_EXCEPTIONS=False)
        seed(app)
        yield Site(request.param, app, client_for(app, OLGA), client_for(app, ALICE))
        app_db(app).engine.dispose()


def get_cdrs(client: FlaskClient, query: str = "", status: int = 200) -> list[dict[str, Any]]:
    response = client.get(f"/export/cdrs.json{query}")
    body = response.get_data(as_text=True)
    assert response.status_code == status, (query, body)
    return json.loads(body, parse_float=Decimal, parse_int=Decimal) if status == 200 else []


def by_session(cdrs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ids = {ocpi_id(sid): sid for sid in [*BILLED, *NO_CDR]}
    return {ids[cdr["id"]]: cdr for cdr in cdrs}


def plain(value: Any) -> Any:
    """The JSON as the schema sees it (Decimals as numbers jsonschema knows)."""
    return json.loads(json_text(value))


# --- The objects ---------------------------------------------------------------------------------


def test_every_cdr_validates_against_the_ocpi_schema(site: Site) -> None:
    cdrs = get_cdrs(site.olga)
    assert sorted(by_session(cdrs)) == sorted(BILLED)  # no CDR for the sessions in NO_CDR
    for cdr in cdrs:
        validate(plain(cdr))
    # The schema is not a rubber stamp: what it must refuse, it refuses.
    broken = plain(cdrs[0])
    for change in (
        lambda c: c.pop("total_cost"),
        lambda c: c.update(charging_periods=[]),
        lambda c: c["cdr_token"].update(type="CARD"),
        lambda c: c["cdr_location"].update(address="x" * 46),
        lambda c: c.update(end_date_time="2026-11-20T09:30:00.123456Z"),  # 27 characters
        lambda c: c.update(id="é"),
    ):
        candidate = json.loads(json.dumps(broken))
        change(candidate)
        with pytest.raises(jsonschema.ValidationError):
            validate(candidate)


def test_the_amounts_are_the_stored_costs_as_in_sessions_csv(site: Site) -> None:
    response = site.olga.get("/export/cdrs.json")
    raw = response.get_data(as_text=True)
    cdrs = by_session(json.loads(raw, parse_float=Decimal, parse_int=Decimal))
    csv_rows = {
        restore_cell(r["session_id"]): r
        for r in rows_of(site.olga.get("/export/sessions.csv").get_data(as_text=True))
    }
    for sid, cdr in cdrs.items():
        row = csv_rows[sid]
        total, vat = Decimal(row["cost_total"]), Decimal(row["vat_amount"])
        assert cdr["currency"] == row["currency"] == "EUR"
        assert cdr["total_cost"] == {"excl_vat": total - vat, "incl_vat": total}, sid
        assert cdr["total_energy_cost"]["incl_vat"] == Decimal(row["cost_energy"]), sid
        assert cdr["total_time_cost"]["incl_vat"] == Decimal(row["cost_time"]), sid
        assert cdr["total_fixed_cost"]["incl_vat"] == Decimal(row["cost_fee"]), sid
        parts = ("total_energy_cost", "total_time_cost", "total_fixed_cost")
        assert sum(cdr[p]["excl_vat"] for p in parts) == total - vat, sid  # the parts add up
        assert cdr["total_energy"] == Decimal(row["energy_kwh"]), sid
        assert cdr["charging_periods"][0]["dimensions"][0] == {
            "type": "ENERGY",
            "volume": Decimal(row["energy_kwh"]),
        }
    # Money exactly as the currency writes it: two decimals, never a float's noise.
    amounts = re.findall(r'"(?:excl|incl)_vat":(-?[0-9.eE+-]+)', raw)
    assert len(amounts) == 8 * len(cdrs)
    assert all(re.fullmatch(r"-?[0-9]+\.[0-9]{2}", a) for a in amounts), set(amounts)
    assert '"total_cost":{"excl_vat":25.92,"incl_vat":30.85}' in raw  # s-dst, computed below


def test_a_session_across_the_dst_change_counts_its_real_duration(site: Site) -> None:
    cdr = by_session(get_cdrs(site.olga))["s-dst"]
    assert (cdr["start_date_time"], cdr["end_date_time"]) == (
        "2026-10-24T23:30:00Z",
        "2026-10-25T02:30:00Z",
    )
    assert cdr["total_time"] == 3  # three hours, though the wall clock shows two
    # DC energy 40.5 x 0.69 = 27.945 -> 27.95; time (3 h - 60 free minutes) x 1.20 = 2.40; fee
    # 0.50. Total 30.85, of which 19% VAT 4.93.
    assert cdr["total_energy_cost"]["incl_vat"] == Decimal("27.95")
    assert cdr["total_time_cost"]["incl_vat"] == Decimal("2.40")
    assert cdr["total_fixed_cost"]["incl_vat"] == Decimal("0.50")
    assert cdr["total_cost"] == {"excl_vat": Decimal("25.92"), "incl_vat": Decimal("30.85")}
    (tariff,) = cdr["tariffs"]
    assert tariff["id"] == "ADHOC~DC" == cdr["charging_periods"][0]["tariff_id"]
    assert tariff["start_date_time"] == "2026-01-01T00:00:00Z" and "end_date_time" not in tariff
    assert tariff["tariff_alt_text"] == [{"language": "en", "text": "Ad hoc charging"}]
    always, timed = tariff["elements"]
    assert [(c["type"], c["price"], c["vat"]) for c in always["price_components"]] == [
        ("ENERGY", Decimal("0.5798"), 19),  # 0.69 incl. 19% VAT
        ("FLAT", Decimal("0.4202"), 19),
    ]
    assert timed["restrictions"] == {"min_duration": 3600}
    assert [c["type"] for c in timed["price_components"]] == ["TIME", "PARKING_TIME"]
    assert all(c["price"] == Decimal("1.0084") for c in timed["price_components"])


def test_each_cdr_carries_its_tariff_version_and_charger(site: Site) -> None:
    cdrs = by_session(get_cdrs(site.olga))
    ac = cdrs["s-zeb-ac"]
    assert ac["tariffs"][0]["id"] == "ADHOC"  # an AC charger: the AC energy price
    assert ac["tariffs"][0]["elements"][0]["price_components"][0]["price"] == Decimal("0.4958")
    assert ac["start_date_time"] == "2026-11-20T08:00:00Z"  # to the millisecond
    nacs = cdrs["s-alice-nacs"]  # PLUS, started before its 1 November version
    assert nacs["tariffs"][0]["id"] == "PLUS"
    assert nacs["tariffs"][0]["end_date_time"] == "2026-11-01T00:00:00Z"
    assert cdrs["s-alice-chademo"]["tariffs"][0]["start_date_time"] == "2026-11-01T00:00:00Z"
    expected = {
        "s-zeb-ac": ("IEC_62196_T2", "SOCKET", "AC_3_PHASE"),
        "s-dst": ("IEC_62196_T2_COMBO", "CABLE", "DC"),
        "s-alice-nacs": ("TESLA_S", "CABLE", "DC"),
        "s-alice-chademo": ("CHADEMO", "CABLE", "DC"),
        "s-zeb-j1772": ("IEC_62196_T1", "CABLE", "AC_1_PHASE"),
        LONG_SESSION: ("IEC_62196_T2", "SOCKET", "AC_3_PHASE"),
    }
    for sid, kinds in expected.items():
        loc = cdrs[sid]["cdr_location"]
        got = (loc["connector_standard"], loc["connector_format"], loc["connector_power_type"])
        assert got == kinds, sid
    dc = cdrs["s-dst"]["cdr_location"]
    assert dc["id"] == dc["evse_uid"] == "c-dc" and dc["evse_id"] == "DE*PLX*EC*DC"
    assert dc["name"] == 'Depot "fast" DC'  # no tab or line break in an OCPI string
    assert (dc["country"], cdrs["s-dst"]["country_code"], cdrs["s-dst"]["party_id"]) == (
        "DEU",
        "DE",
        "PLX",
    )
    assert cdrs["s-zeb-j1772"]["cdr_location"]["name"] == "Garage ünï-cödé"


def test_tokens_come_from_the_ocpp_feed_else_the_account(site: Site) -> None:
    cdrs = by_session(get_cdrs(site.olga))
    ocpp = cdrs["s-alice-ocpp"]
    assert ocpp["cdr_token"] == {
        "country_code": "DE",
        "party_id": "PLX",
        "uid": "TAG-ALICE",
        "type": "RFID",
        "contract_id": "acc-alice",
    }
    assert ocpp["cdr_location"]["connector_id"] == "2"
    app_user = cdrs["s-zeb-ac"]
    assert (app_user["cdr_token"]["uid"], app_user["cdr_token"]["type"]) == ("acc-zeb", "APP_USER")
    assert app_user["cdr_location"]["connector_id"] == "1"
    assert {c["auth_method"] for c in cdrs.values()} == {"WHITELIST"}
    assert cdrs["s-dst"]["last_updated"] == "2026-10-25T02:30:00Z"


def test_ids_too_long_for_ocpi_are_hashed_the_same_way_each_time(site: Site) -> None:
    cdr = by_session(get_cdrs(site.olga))[LONG_SESSION]
    assert cdr["id"] == ocpi_id(LONG_SESSION) and cdr["id"].startswith("~")
    assert len(cdr["id"]) == 36 and len(cdr["cdr_location"]["id"]) == 36
    assert cdr["cdr_location"]["id"] == ocpi_id(LONG_CHARGER) != cdr["id"]
    assert cdr["cdr_location"]["evse_id"] == evse_id(CdrParty("DE", "PLX"), LONG_CHARGER)
    assert ocpi_id("s-1") == "s-1" and ocpi_id("ünï") != ocpi_id("üni") != "üni"


# --- Which CDRs: the sessions.csv filters and access rules ---------------------------------------


QUERIES = [
    "",
    "?account=acc-zeb",
    "?charger=c-dc",
    "?charger=Street",  # the explorer's search: part of a name
    "?from=2026-10-25&to=2026-10-25",  # the 25-hour day s-dst started on (local time)
    "?to=2026-10-24",
    "?from=2026-11-01&to=2026-11-03",
    "?status=finalized",
    "?state=in_progress",
    "?period=year",
]


def billed_ids_of_sessions_csv(client: FlaskClient, query: str) -> set[str]:
    rows = rows_of(client.get(f"/export/sessions.csv{query}").get_data(as_text=True))
    return {
        restore_cell(r["session_id"])
        for r in rows
        if r["finalized"] == "true" and r["cost_total"] and r["ended_at"]
    }


@pytest.mark.parametrize("query", QUERIES)
def test_cdrs_hold_the_billed_rows_of_sessions_csv_for_the_same_query(
    site: Site, query: str
) -> None:
    for client in (site.olga, site.alice):
        if client is site.alice and "account=" in query:  # another account's rows: 403
            assert client.get(f"/export/cdrs.json{query}").status_code == 403
            assert client.get(f"/export/sessions.csv{query}").status_code == 403
            continue
        cdrs = set(by_session(get_cdrs(client, query)))
        assert cdrs == billed_ids_of_sessions_csv(client, query), (query, cdrs)
    assert set(by_session(get_cdrs(site.olga, "?from=2026-10-25&to=2026-10-25"))) == {"s-dst"}
    assert "s-dst" not in by_session(get_cdrs(site.olga, "?to=2026-10-24"))


def test_a_customer_gets_only_their_own_cdrs(site: Site) -> None:
    for query in QUERIES:
        if "account=" in query:
            continue
        response = site.alice.get(f"/export/cdrs.json{query}")
        body = response.get_data(as_text=True)
        assert response.status_code == 200, query
        cdrs = json.loads(body)
        assert all(c["cdr_token"]["contract_id"] == "acc-alice" for c in cdrs), query
        assert not found_secrets(body, ALICE_SECRETS), query
    assert len(get_cdrs(site.alice)) == 4  # Alice has her own
    for query, status in (("?account=acc-zeb", 403), ("?account=acc-alice&account=acc-zeb", 400)):
        response = site.alice.get(f"/export/cdrs.json{query}")
        assert response.status_code == status, query
        assert not found_secrets(response.get_data(as_text=True), ALICE_SECRETS)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=10", "Unknown parameter “limit”: cdrs.json takes from, to, period"),
        ("?status=done", "“status” must be one of: in_progress, finalized"),
        ("?from=2026-02-30", "“from” must be a date"),
        ("?account=nope", "There is no account “nope”"),
    ],
)
def test_bad_query_strings_get_400_as_for_sessions_csv(
    site: Site, query: str, message: str
) -> None:
    response = site.olga.get(f"/export/cdrs.json{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_anonymous_and_bad_tokens_get_401_and_export_tokens_get_the_cdrs(site: Site) -> None:
    anonymous = site.app.test_client()
    assert anonymous.get("/export/cdrs.json").status_code == 401
    with app_db(site.app).session() as s:
        export = create_token(s, OLGA, datetime.now(UTC), actor=CLI).secret
        commands = create_token(s, OLGA, datetime.now(UTC), scopes=["commands"], actor=CLI).secret
    answer = anonymous.get("/export/cdrs.json", headers={"Authorization": f"Bearer {export}"})
    assert answer.status_code == 200 and len(json.loads(answer.get_data())) == len(BILLED)
    for secret in (commands, export[:-1] + ("A" if export.endswith("B") else "B")):
        refused = anonymous.get("/export/cdrs.json", headers={"Authorization": f"Bearer {secret}"})
        assert refused.status_code == 401
        assert "acc-" not in refused.get_data(as_text=True)


def test_the_request_gate_lets_customers_reach_their_cdrs() -> None:
    assert "/export/cdrs.json" in hardening.CUSTOMER_EXPORT_PATHS


# --- The response ------------------------------------------------------------------------------


def test_headers_say_json_download_never_cached_and_gzip_works(site: Site) -> None:
    response = site.olga.get("/export/cdrs.json?from=2026-11-01&to=2026-11-24")
    response.close()
    headers = response.headers
    assert response.is_streamed
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Content-Disposition"] == (
        'attachment; filename="cdrs-2026-11-01-2026-11-24.json"; '
        "filename*=UTF-8''cdrs-2026-11-01-2026-11-24.json"
    )
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] == "nosniff"
    plain_body = site.olga.get("/export/cdrs.json").get_data()
    zipped = site.olga.get("/export/cdrs.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain_body
    assert get_cdrs(site.olga, "?status=in_progress") == []
    assert site.olga.get("/export/cdrs.json?state=in_progress").get_data() == b"[\n]\n"


def test_a_database_error_before_the_first_byte_is_a_proper_error(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    import data.exchange.cdrs as cdrs

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(cdrs, "cdr_statement", broken)
    response = site.olga.get("/export/cdrs.json")
    assert response.status_code == 503
    assert "country_code" not in response.get_data(as_text=True)


# --- Streaming ---------------------------------------------------------------------------------


BULK = 4_000


def bulk_sessions(db: Database, count: int) -> None:
    """``count`` finished sessions of acc-bulk on c-bulk in one INSERT ... SELECT."""
    with db.session() as s:
        if db.dialect == "postgresql":
            sql = (
                "INSERT INTO sessions (id, account_id, charger_id, started_at, ended_at,"
                " energy_kwh, finalized) SELECT 'b-' || lpad(i::text, 8, '0'), 'acc-bulk',"
                " 'c-bulk', timestamptz '2026-03-01 00:00:00+00' + i * interval '1 minute',"
                " timestamptz '2026-03-01 01:30:00+00' + i * interval '1 minute',"
                " (i % 1000) / 8.0, true FROM generate_series(1, :n) i"
            )
        else:
            sql = (
                "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n)"
                " INSERT INTO sessions (id, account_id, charger_id, started_at, ended_at,"
                " energy_kwh, finalized) SELECT 'b-' || printf('%08d', i), 'acc-bulk', 'c-bulk',"
                " datetime('2026-03-01', '+' || i || ' minutes'),"
                " datetime('2026-03-01 01:30:00', '+' || i || ' minutes'), (i % 1000) / 8.0, 1"
                " FROM seq"
            )
        s.execute(text(sql), {"n": count})
        price_unpriced_sessions(s)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bulk_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp(f"cdrs-bulk-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        app = make_app(url)
        add_person(app, OLGA, ("acc-olga-admin", Role.admin, None))
        add_person(app, "bulk@example.com", ("acc-bulk", Role.customer, None))
        with app_db(app).session() as s:
            make_operator(s, timezone="Europe/Berlin")
            make_charger(s, charger_id="c-bulk")
            create_tariff_version(s, tariff_id="T", valid_from=T0, name="T",
                                  energy_price_per_kwh="0.4321", vat_percent="19")  # fmt: skip
            set_default_tariff(s, "T", actor=CLI, now=AT)
        bulk_sessions(app_db(app), BULK)
        yield app
        app_db(app).engine.dispose()


def streamed(client: FlaskClient, path: str, db: Database) -> tuple[int, int, int, int]:
    """(peak traced bytes while the answer streams, bytes and CDRs received, largest piece),
    read piece by piece as a WSGI server does."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        response = client.get(path, buffered=False)
        assert response.status_code == 200 and response.is_streamed
        pieces = iter(response.response)
        first = next(pieces)  # read lazily: the connection is busy with the rest
        assert first.startswith(b"[\n{")
        assert db.engine.pool.checkedout() == 1 or db.dialect == "sqlite"
        # A piece ends after a whole CDR: each line "\n{" is one, never cut in two.
        size, count, largest = len(first), first.count(b"\n{"), len(first)
        for piece in pieces:
            size += len(piece)
            count += piece.count(b"\n{")
            largest = max(largest, len(piece))
        response.close()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert db.engine.pool.checkedout() == 0
    return peak, size, count, largest


def test_the_cdrs_stream_lazily_in_flat_memory(bulk_app: Flask) -> None:
    db = app_db(bulk_app)
    olga = client_for(bulk_app, OLGA)
    olga.get("/export/cdrs.json?to=2026-03-01").close()  # warm the statement caches
    day_peak, day_size, day_count, _ = streamed(olga, "/export/cdrs.json?to=2026-03-01", db)
    peak, size, count, largest = streamed(olga, "/export/cdrs.json", db)
    assert count == BULK and 1000 < day_count < BULK / 2  # every CDR
    assert size > 2.5 * day_size  # more than twice the CDRs...
    assert peak < 1.5 * day_peak + 256 * 1024  # ...about the same memory
    assert peak < size / 2  # never the whole answer
    assert largest < 2 * export_stream.CHUNK_BYTES  # pieces of about CHUNK_BYTES


def test_a_client_that_goes_away_gives_the_connection_back(bulk_app: Flask) -> None:
    db = app_db(bulk_app)
    olga = client_for(bulk_app, OLGA)
    response = olga.get("/export/cdrs.json", headers={"Accept-Encoding": "gzip"}, buffered=False)
    next(iter(response.response))
    assert db.engine.pool.checkedout() == 1 or db.dialect == "sqlite"
    if db.dialect == "postgresql":
        # A server-side cursor: the export's connection last asked for the next rows of it.
        with db.engine.connect() as c:
            last = (
                c.execute(
                    text(
                        "SELECT query FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND query LIKE '%FETCH FORWARD%'"
                    )
                )
                .scalars()
                .all()
            )
        assert len(last) == 1, last
    response.close()  # what the WSGI server does when the client disconnects
    assert db.engine.pool.checkedout() == 0
    assert olga.get("/export/cdrs.json?to=2026-03-01").status_code == 200


# --- A currency without a minor unit -------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_jpy_operator_writes_whole_yen(
    dialect: str, tmp_path: Path, sqlite_template: Path
) -> None:
    with fresh_database(dialect, tmp_path, sqlite_template) as url:
        app = make_app(url)
        try:
            add_person(app, OLGA, ("acc-olga-admin", Role.admin, None))
            with app_db(app).session() as s:
                make_operator(s, timezone="Asia/Tokyo", currency="JPY")
                create_tariff_version(s, tariff_id="YEN", valid_from=T0, name="Yen",
                                      energy_price_per_kwh="45", session_fee="100",
                                      time_price_per_hour="120", vat_percent="10")  # fmt: skip
                set_default_tariff(s, "YEN", actor=CLI, now=AT)
                make_charger(s, charger_id="c-tokyo", max_power_kw="90")
                start = utc(2026, 11, 20, 1)
                make_session(s, "acc-olga-admin", "c-tokyo", started_at=start,
                             ended_at=start + timedelta(minutes=95), energy_kwh="12.345",
                             session_id="s-yen")  # fmt: skip
                price_unpriced_sessions(s)
            olga = client_for(app, OLGA)
            raw = olga.get("/export/cdrs.json").get_data(as_text=True)
            (cdr,) = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
            validate(json.loads(raw)[0])
            (row,) = rows_of(olga.get("/export/sessions.csv").get_data(as_text=True))
        finally:
            app_db(app).engine.dispose()
    # 12.345 kWh x 45 = 555.525 -> 556; 95 min x 120/h = 190; fee 100: 846, of which 10% VAT 77.
    assert (row["cost_energy"], row["cost_time"], row["cost_fee"]) == ("556", "190", "100")
    assert (row["cost_total"], row["vat_amount"], row["currency"]) == ("846", "77", "JPY")
    assert cdr["currency"] == "JPY"
    assert cdr["total_cost"] == {"excl_vat": 769, "incl_vat": 846}
    assert '"total_cost":{"excl_vat":769,"incl_vat":846}' in raw  # no decimals at all
    amounts = re.findall(r'"(?:excl|incl)_vat":([^,}]+)', raw)
    assert len(amounts) == 8 and all(a.isdigit() for a in amounts), amounts
    parts = [
        cdr[p]["excl_vat"] for p in ("total_energy_cost", "total_time_cost", "total_fixed_cost")
    ]
    assert sum(parts) == 769
    assert (cdr["country_code"], cdr["cdr_location"]["country"]) == ("JP", "JPN")
    assert cdr["cdr_location"]["connector_power_type"] == "DC"
    assert cdr["total_time"] == Decimal("1.5833")


# --- The pieces ----------------------------------------------------------------------------------


def test_the_party_comes_from_the_settings_else_the_time_zone() -> None:
    from zoneinfo import ZoneInfo

    assert country_of_time_zone("Europe/Berlin") == "DE"
    assert country_of_time_zone(ZoneInfo("Asia/Tokyo")) == "JP"
    assert country_of_time_zone("UTC") is None
    assert cdr_party(None, "plx", ZoneInfo("America/New_York")) == CdrParty("US", "PLX")
    assert cdr_party("nl", "TNM", ZoneInfo("Europe/Berlin")) == CdrParty("NL", "TNM")
    assert cdr_party(None, "PLX", ZoneInfo("UTC")) == CdrParty("ZZ", "PLX")
    assert load_config({"OCPI_COUNTRY_CODE": "fr", "OCPI_PARTY_ID": "abc"})["OCPI_PARTY_ID"] == (
        "ABC"
    )
    for bad in ({"OCPI_COUNTRY_CODE": "FRA"}, {"OCPI_PARTY_ID": "PL"}, {"OCPI_PARTY_ID": "P-X"}):
        with pytest.raises(ConfigError, match="POLARIS_OCPI"):
            load_config(bad)


def test_every_country_has_one_current_alpha3_code() -> None:
    from importlib.resources import files

    table = files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text(encoding="utf-8")
    codes = [line.split("\t")[0] for line in table.splitlines() if line and line[0] != "#"]
    assert len(codes) > 240
    threes = {code: alpha3(code) for code in codes}
    assert all(re.fullmatch(r"[A-Z]{3}", t) and t != "ZZZ" for t in threes.values()), threes
    assert len(set(threes.values())) == len(codes)  # no two countries share one
    assert [threes[c] for c in ("DE", "FR", "JP", "US", "MM", "CD", "TL", "YE")] == [
        "DEU", "FRA", "JPN", "USA", "MMR", "COD", "TLS", "YEM"
    ]  # fmt: skip
    assert alpha3("ZZ") == "ZZZ"


def test_the_vat_split_adds_up_and_json_keeps_every_digit() -> None:
    for parts, vat in (
        ([Decimal("27.95"), Decimal("2.40"), Decimal("0.50")], Decimal("4.93")),
        ([Decimal("0.01"), Decimal("0.01"), Decimal("0.01")], Decimal("0.01")),
        ([Decimal(0), Decimal(0), Decimal(0)], Decimal(0)),
    ):
        shares = split_vat(parts, vat, "EUR")
        assert sum(shares) == vat and all(0 <= s <= p for s, p in zip(shares, parts, strict=True))
    assert json_text({"a": [Decimal("0.10"), Decimal("640"), 1, "6.40", None, True]}) == (
        '{"a":[0.10,640,1,"6.40",null,true]}'
    )
    assert json_text({"sum": Decimal("0.1") + Decimal("0.2")}) == '{"sum":0.3}'
    with pytest.raises(TypeError):
        json_text({"float": Decimal("NaN")})
    assert set(CONNECTOR_STANDARDS) == set(ConnectorType)  # every type maps
