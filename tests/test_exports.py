"""The CSV exports over HTTP (``/export/<name>.csv``), on SQLite and PostgreSQL.

One populated database per dialect (module scope, read-only for the tests that share it): an
operator in Europe/Berlin, customers Alice and Zeb, admin Olga, sessions and reservations on the
local-day edges around both 2026 DST changes, and ids and names that a spreadsheet would run as
formulas. Shown: the round trip export -> import -> export is byte-identical; the COPY and the
cursor paths write the same bytes; a customer never gets another account's row; formulas are
neutralised and plain numbers kept; the day filters and the usage sums follow the spec; the
stream stays flat in memory and gives its database connection back when the client goes away.
"""

from __future__ import annotations

import csv
import gzip
import io
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import auth.hardening as hardening
import data.exchange.export_stream as export_stream
import data.exchange.exports as exports
from data.accounts.passwords import hash_password
from data.charging.dashboard import account_usage
from data.core.db import Database
from data.core.models import Role
from data.core.periods import Period, local_midnight_utc
from data.exchange.csv_safety import FORMULA_STARTS, PLAIN_NUMBER, neutralise_cell, restore_cell
from data.exchange.export_stream import export_chunks
from data.exchange.exporter import export_folder
from data.exchange.exports import EXPORTS, ExportFilter
from data.exchange.format import FILES
from data.exchange.importer import import_folder
from tests.support.audit import AT, CLI
from tests.support.databases import fresh_database
from tests.support.export_scenario import (
    ADMIN_ONLY,
    BERLIN,
    EDGE_SESSIONS,
    FORMULA_TEXTS,
    OLGA,
    PLAIN_TEXTS,
    Scenario,
    app_db,
    get_csv,
    utc,
)
from tests.support.factories import (
    make_charger,
    make_operator,
)
from tests.support.web import PASSWORD, add_person, client_for, found_secrets, make_app, rows_of


def export_all(client: FlaskClient, folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in EXPORTS:
        response = client.get(f"/export/{name}.csv")
        assert response.status_code == 200, name
        files[name] = response.get_data()
        (folder / f"{name}.csv").write_bytes(files[name])
    return files


# --- The round trip ------------------------------------------------------------------------------


def test_round_trip_through_http_is_byte_identical(scenario: Scenario) -> None:
    first = export_all(scenario.olga, scenario.directory / "first")
    # Something of everything is in it, formulas neutralised.
    assert first["sessions"].count(b"\n") > 20
    assert b"'=HYPERLINK(1)" in first["chargers"] and b"'@tag-alice" in first["id_tags"]

    # Import the data-exchange files (not the derived usage) into an empty database.
    folder = scenario.directory / "import"
    folder.mkdir()
    for name in FILES:
        (folder / f"{name}.csv").write_bytes(first[name])
    with fresh_database(scenario.dialect, scenario.directory, scenario.template) as url:
        target = make_app(url)
        with app_db(target).session() as s:
            report = import_folder(s, folder, actor=CLI, now=AT)
            assert report.added > 0 and report.updated == 0
            # Passwords are never exported: give Olga hers to sign in to the copy.
            s.execute(
                text("UPDATE users SET password_hash = :h WHERE email = :e"),
                {"h": hash_password(PASSWORD), "e": OLGA},
            )
        second = export_all(client_for(target, OLGA), scenario.directory / "second")
        app_db(target).engine.dispose()
    for name in EXPORTS:
        assert second[name] == first[name], name


def test_http_export_matches_the_cli_export(scenario: Scenario, tmp_path: Path) -> None:
    """The same bytes as ``flask export-data``, but for how a row with a carriage return is
    quoted (the CLI quotes its every cell, the HTTP export only the cells that need it): such
    files read back to the same rows."""
    with app_db(scenario.app).session() as s:
        export_folder(s, tmp_path)
    for name in FILES:
        http = scenario.olga.get(f"/export/{name}.csv").get_data()
        cli = (tmp_path / f"{name}.csv").read_bytes()
        if b"\r" not in cli:
            assert http == cli, name
        else:
            parse = lambda data: list(csv.reader(io.StringIO(data.decode(), newline="")))  # noqa: E731
            assert parse(http) == parse(cli), name


@pytest.mark.parametrize("scenario", ["postgresql"], indirect=True)  # COPY is PostgreSQL's
def test_copy_and_cursor_write_the_same_bytes(scenario: Scenario) -> None:
    db = app_db(scenario.app)
    filters = [
        ExportFilter(),
        ExportFilter(first_day=date(2026, 3, 29), last_day=date(2026, 3, 29)),
        ExportFilter(first_day=date(2026, 10, 25), last_day=date(2026, 11, 30)),
        ExportFilter(account_id="acc-alice", status="finalized"),
        ExportFilter(charger_id="c-zeb-private", status="in_progress"),
        ExportFilter(account_id="acc-alice", status="cancelled"),
        ExportFilter(charger_id="c-zeb-private", status="confirmed"),
    ]
    for name in EXPORTS:
        for flt in filters:
            flt = replace(flt, as_of=utc(2026, 12, 5, 12))  # uptime counts up to now
            allowed = (
                exports.SESSION_STATUSES if name == "sessions" else exports.RESERVATION_STATUSES
            )
            if flt.status is not None and flt.status not in allowed:
                continue
            by_copy = b"".join(export_chunks(db, name, flt, BERLIN, method="copy"))
            by_cursor = b"".join(export_chunks(db, name, flt, BERLIN, method="cursor"))
            assert by_copy == by_cursor, (name, flt)


# --- Spreadsheet safety --------------------------------------------------------------------------


def test_formulas_are_neutralised_and_plain_numbers_kept(scenario: Scenario) -> None:
    body = get_csv(scenario.olga, "/export/chargers.csv")
    raw_lines = body.split("\n")
    assert raw_lines[0] == (
        "charger_id,friendly_name,connector_type,max_power_kw,visibility,last_seen_at"
    )
    names = {r["charger_id"]: r["friendly_name"] for r in rows_of(body)}
    for i, name in enumerate(FORMULA_TEXTS):
        assert names[f"odd-{i:02d}"] == "'" + name, name
    for i, name in enumerate(PLAIN_TEXTS, start=len(FORMULA_TEXTS)):
        assert names[f"odd-{i:02d}"] == name, name
    assert "'=HYPERLINK(1)" in names and "-12.5" in names  # ids too; a plain number stays
    for row in rows_of(body):
        for cell in row.values():  # nothing a spreadsheet would run
            assert not cell.startswith(FORMULA_STARTS) or PLAIN_NUMBER.fullmatch(cell), cell
    accounts = rows_of(get_csv(scenario.olga, "/export/accounts.csv"))
    assert {r["account_id"]: r["label"] for r in accounts}["acc-alice"] == "'=Alice's car"
    operator = rows_of(get_csv(scenario.olga, "/export/operator.csv"))
    assert operator[0]["name"] == "'@Polaris, Berlin"


@pytest.mark.parametrize("text_value", FORMULA_TEXTS + PLAIN_TEXTS + ["", "=", "'''", "-1e5"])
def test_neutralise_and_restore_are_inverse(text_value: str) -> None:
    exported = neutralise_cell(text_value)
    assert restore_cell(exported) == text_value
    if exported != text_value:
        assert exported == "'" + text_value


# --- Who sees what -------------------------------------------------------------------------------


ZEB_SECRETS = ("acc-zeb", "58.3", "49.6", "0.001", "s-zeb", "c-zeb-private", "Zeb")
CUSTOMER_QUERIES = [
    "",
    "?account=acc-alice",
    "?charger=c-zeb-private",
    "?charger=c-street",
    "?status=in_progress",
    "?period=year",
    "?from=2026-01-01&to=2026-12-31",
    "?charger=c-zeb-private&account=acc-alice",
    "?state=all",
]


@pytest.mark.parametrize("name", sorted(exports.CUSTOMER_EXPORTS))
def test_a_customer_gets_only_their_own_rows(scenario: Scenario, name: str) -> None:
    for query in CUSTOMER_QUERIES:
        if name != "sessions" and ("status" in query or "state" in query):
            continue
        body = get_csv(scenario.alice, f"/export/{name}.csv{query}")
        rows = rows_of(body)
        assert all(r["account_id"] == "acc-alice" for r in rows), (query, rows)
        assert not found_secrets(body, ZEB_SECRETS), query
    assert rows_of(get_csv(scenario.alice, f"/export/{name}.csv"))  # Alice has rows


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?account=acc-zeb", 403),
        ("?account=acc-olga-admin", 403),
        ("?account=acc-alice&account=acc-zeb", 400),
        ("?account=acc-zeb&account=acc-alice", 400),
        ("?charger=c-street&charger=c-zeb-private", 400),
        ("?Account=acc-zeb", 400),
        ("?account_id=acc-zeb", 400),
        ("?account[]=acc-zeb", 400),
        ("?account=acc-zeb%00", 400),
        ("?account=" + "x" * 65, 400),
    ],
)
def test_a_customer_asking_for_other_rows_gets_an_error(
    scenario: Scenario, query: str, status: int
) -> None:
    for name in sorted(exports.CUSTOMER_EXPORTS):
        response = scenario.alice.get(f"/export/{name}.csv{query}")
        assert response.status_code == status, (name, query)
        body = response.get_data(as_text=True)
        assert not found_secrets(body, ZEB_SECRETS[1:]), body


def test_the_request_gate_lets_customers_reach_exactly_their_exports() -> None:
    # One source: the gate's paths are derived from the customer exports data/ defines.
    paths = {
        f"/export/{name}.{ext}" for name in exports.CUSTOMER_EXPORTS for ext in ("csv", "parquet")
    }
    assert hardening.CUSTOMER_EXPORT_PATHS == paths | {"/export/cdrs.json"}


def test_admin_only_exports_refuse_customers(scenario: Scenario) -> None:
    for name in [*ADMIN_ONLY, "no-such-export"]:
        response = scenario.alice.get(f"/export/{name}.csv")
        assert response.status_code == 403, name
        assert "acc-zeb" not in response.get_data(as_text=True)


def test_anonymous_gets_401_and_no_data(scenario: Scenario) -> None:
    anonymous = scenario.app.test_client()
    for name in EXPORTS:
        response = anonymous.get(f"/export/{name}.csv")
        assert response.status_code == 401, name
        assert "acc-" not in response.get_data(as_text=True)


def test_an_admin_sees_everyone_and_filters(scenario: Scenario) -> None:
    rows = rows_of(get_csv(scenario.olga, "/export/sessions.csv"))
    assert {"acc-alice", "acc-zeb", "acc-olga-admin"} <= {r["account_id"] for r in rows}
    zeb = rows_of(get_csv(scenario.olga, "/export/sessions.csv?account=acc-zeb"))
    assert sorted(r["session_id"] for r in zeb) == ["s-zeb-1", "s-zeb-dst", "s-zeb-live"]
    live = rows_of(get_csv(scenario.olga, "/export/sessions.csv?status=in_progress"))
    assert {r["session_id"] for r in live} >= {"s-zeb-live"}
    assert all(r["ended_at"] == "" for r in live)
    finalized = rows_of(get_csv(scenario.olga, "/export/sessions.csv?status=finalized"))
    assert "'=s-alice-2" not in {r["session_id"] for r in finalized}  # ended, not finalized
    assert all(r["finalized"] == "true" for r in finalized)
    by_charger = rows_of(get_csv(scenario.olga, "/export/sessions.csv?charger=c-zeb-private"))
    assert {r["charger_id"] for r in by_charger} == {"c-zeb-private"}
    cancelled = rows_of(get_csv(scenario.olga, "/export/reservations.csv?status=cancelled"))
    assert [r["reservation_id"] for r in cancelled] == ["'+r-alice-2"]
    # The sessions explorer's own spelling, so its "Export CSV" link can pass its query on.
    assert get_csv(scenario.olga, "/export/sessions.csv?state=in_progress") == get_csv(
        scenario.olga, "/export/sessions.csv?status=in_progress"
    )
    one = rows_of(get_csv(scenario.olga, "/export/chargers.csv?charger=c-street"))
    assert [r["charger_id"] for r in one] == ["c-street"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=2026-02-30", "“from” must be a date like 2026-11-24"),
        ("?from=tomorrow", "“from” must be a date"),
        ("?to=2026-1-5", "“to” must be a date"),
        ("?from=1969-12-31", "between 1970-01-01 and 9998-12-31"),
        ("?to=9999-12-31", "between 1970-01-01 and 9998-12-31"),
        ("?from=2026-11-24&to=2026-11-01", "“from” is after “to”"),
        ("?from=2026-11-01&from=2026-11-02", "Give “from” once"),
        ("?period=decade", "“period” must be one of: current, previous, year"),
        ("?period=year&from=2026-01-01", "either “period” or “from”/“to”"),
        ("?status=done", "“status” must be one of: in_progress, finalized"),
        ("?state=done", "“status” must be one of"),
        ("?state=all&status=finalized", "Give “status” once"),
        ("?limit=10", "Unknown parameter “limit”: sessions.csv takes from, to, period"),
        ("?charger=nope", "There is no charger “nope”"),
        ("?account=nope", "There is no account “nope”"),
        ("?charger=%01", "“charger” is not a valid id"),
    ],
)
def test_bad_query_strings_get_400_with_a_clear_message(
    scenario: Scenario, query: str, message: str
) -> None:
    response = scenario.olga.get(f"/export/sessions.csv{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert message in response.get_data(as_text=True)


def test_parameters_that_do_not_apply_are_refused(scenario: Scenario) -> None:
    assert "usage-daily.csv takes from, to, period, charger, account" in get_csv(
        scenario.olga, "/export/usage-daily.csv?status=finalized", 400
    )
    assert "chargers.csv takes charger" in get_csv(
        scenario.olga, "/export/chargers.csv?from=2026-01-01", 400
    )
    assert "plans.csv takes no parameters" in get_csv(scenario.olga, "/export/plans.csv?x=1", 400)
    assert "the exports are" in get_csv(scenario.olga, "/export/secrets.csv", 404)
    # Blank values are no filter (an empty form field).
    assert get_csv(scenario.olga, "/export/sessions.csv?charger=&from=") == get_csv(
        scenario.olga, "/export/sessions.csv"
    )


EXPORT_KEYS = ["from", "to", "period", "charger", "account", "status", "state", "From", ""]
EXPORT_VALUES = st.one_of(
    st.sampled_from(
        ["2026-03-29", "2026-02-30", "9999-12-31", "1970-01-01", "year", "finalized"]
        + ["acc-zeb", "acc-alice", "c-zeb-private", "=cmd", "%00", "\x00", "é", " ", ""]
    ),
    st.text(max_size=70),
)
export_queries = st.lists(st.tuples(st.sampled_from(EXPORT_KEYS), EXPORT_VALUES), max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([*EXPORTS, "nope"]), pairs=export_queries)
def test_any_query_string_gets_rows_or_a_4xx_never_a_500(
    scenario: Scenario, name: str, pairs: list[tuple[str, str]]
) -> None:
    query = urlencode(pairs)
    for client in (scenario.olga, scenario.alice):
        response = client.get(f"/export/{name}.csv?{query}")
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 400, 403, 404), (query, response.status_code)
        if response.status_code != 200:
            assert "Traceback" not in body and len(body) < 500
        elif client is scenario.alice:
            assert all(r["account_id"] == "acc-alice" for r in rows_of(body)), query


# --- Days in the operator's time zone ------------------------------------------------------------


def session_ids(client: FlaskClient, query: str) -> set[str]:
    return {r["session_id"] for r in rows_of(get_csv(client, f"/export/sessions.csv{query}"))}


def test_day_filters_follow_the_local_days_across_dst(scenario: Scenario) -> None:
    olga = scenario.olga
    edges = {sid for sid in EDGE_SESSIONS}
    day = session_ids(olga, "?from=2026-03-29&to=2026-03-29&account=acc-alice") & edges
    assert day == {"e-mar29-first", "e-mar29-last"}  # the 23-hour day, to the microsecond
    assert session_ids(olga, "?to=2026-03-28&account=acc-alice") & edges == {"e-mar28-last"}
    later = session_ids(olga, "?from=2026-03-30&to=2026-03-30") & edges
    assert later == {"e-mar30-first"}
    long_day = session_ids(olga, "?from=2026-10-25&to=2026-10-25") & edges
    assert long_day == {"e-oct25-first", "e-oct25-last"}  # the 25-hour day
    assert session_ids(olga, "?from=2026-10-26&to=2026-10-26") & edges == {"e-oct26-first"}
    reservations = rows_of(get_csv(olga, "/export/reservations.csv?from=2026-03-29&to=2026-03-29"))
    assert [r["reservation_id"] for r in reservations] == ["r-alice-dst"]
    assert rows_of(get_csv(olga, "/export/reservations.csv?from=2026-03-30&to=2026-03-30")) == []


def test_usage_buckets_are_local_days_and_months(scenario: Scenario) -> None:
    rows = rows_of(get_csv(scenario.olga, "/export/usage-daily.csv?account=acc-alice"))
    street = {
        r["day"]: (r["sessions"], r["energy_kwh"]) for r in rows if r["charger_id"] == "c-street"
    }
    assert street == {
        "2026-03-28": ("1", "1.25"),
        "2026-03-29": ("2", "2.5"),
        "2026-03-30": ("1", "1.25"),
        "2026-10-25": ("2", "2.5"),
        "2026-10-26": ("1", "1.25"),
    }
    monthly = rows_of(get_csv(scenario.olga, "/export/usage-monthly.csv?charger=c-street"))
    by_month = {(r["account_id"], r["month"]): (r["sessions"], r["energy_kwh"]) for r in monthly}
    assert by_month[("acc-alice", "2026-03")] == ("4", "5")
    assert by_month[("acc-alice", "2026-10")] == ("3", "3.75")
    assert by_month[("acc-zeb", "2026-03")] == ("1", "0.001")


def test_usage_daily_equals_the_dashboard_per_account(scenario: Scenario) -> None:
    first, end = date(2026, 1, 1), date(2027, 1, 1)
    period = Period(
        "year",
        first,
        end,
        local_midnight_utc(first, BERLIN),
        local_midnight_utc(end, BERLIN),
        BERLIN,
    )
    rows = rows_of(get_csv(scenario.olga, "/export/usage-daily.csv?from=2026-01-01&to=2026-12-31"))
    exported: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in rows:
        exported[r["account_id"]][r["day"]] += Decimal(r["energy_kwh"])
    assert set(exported) == {"acc-alice", "acc-zeb", "acc-olga-admin"}
    with app_db(scenario.app).session() as s:
        for account_id, days in exported.items():
            frame = account_usage(s, account_id, period).days
            dashboard = {
                d.isoformat(): Decimal(str(kwh))
                for d, kwh in zip(frame["day"], frame["energy_kwh"], strict=True)
            }
            assert {d: v for d, v in dashboard.items() if v} == {
                d: v for d, v in days.items() if v
            }, account_id


# --- The response --------------------------------------------------------------------------------


def test_headers_say_csv_download_never_cached(scenario: Scenario) -> None:
    response = scenario.olga.get("/export/sessions.csv?from=2026-11-01&to=2026-11-24")
    response.close()
    headers = response.headers
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == (
        'attachment; filename="sessions-2026-11-01-2026-11-24.csv"; '
        "filename*=UTF-8''sessions-2026-11-01-2026-11-24.csv"
    )
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in headers
    assert response.is_streamed
    period = scenario.alice.get("/export/usage-daily.csv?period=year")
    period.close()
    year = datetime.now(BERLIN).year
    assert f'filename="usage-daily-{year}-01-01-' in period.headers["Content-Disposition"]


def test_gzip_when_the_client_accepts_it(scenario: Scenario) -> None:
    plain = scenario.olga.get("/export/sessions.csv").get_data()
    response = scenario.olga.get("/export/sessions.csv", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.get_data()) == plain
    refused = scenario.olga.get("/export/sessions.csv", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_a_database_error_before_the_first_byte_is_a_proper_error(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(export_stream, "export_statement", broken)
    response = scenario.olga.get("/export/sessions.csv")
    assert response.status_code == 503
    assert "session_id" not in response.get_data(as_text=True)


# --- Streaming: flat memory, and the connection back when the client leaves ----------------------


BULK_SMALL, BULK_LARGE = 5_000, 40_000


def bulk_sessions(db: Database, account_id: str, charger_id: str, count: int) -> None:
    """``count`` finished sessions in one INSERT ... SELECT (no Python loop)."""
    with db.session() as s:
        if db.dialect == "postgresql":
            s.execute(
                text(
                    "INSERT INTO sessions (id, account_id, charger_id, started_at, ended_at,"
                    " energy_kwh, finalized)"
                    " SELECT :acc || '-' || lpad(i::text, 8, '0'), :acc, :ch,"
                    " timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute',"
                    " timestamptz '2026-01-01 00:30:00+00' + i * interval '1 minute',"
                    " (i % 1000) / 8.0, true FROM generate_series(1, :n) i"
                ),
                {"acc": account_id, "ch": charger_id, "n": count},
            )
        else:
            s.execute(
                text(
                    "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq"
                    " WHERE i < :n)"
                    " INSERT INTO sessions (id, account_id, charger_id, started_at, ended_at,"
                    " energy_kwh, finalized)"
                    " SELECT :acc || '-' || printf('%08d', i), :acc, :ch,"
                    " datetime('2026-01-01', '+' || i || ' minutes'),"
                    " datetime('2026-01-01 00:30:00', '+' || i || ' minutes'),"
                    " (i % 1000) / 8.0, 1 FROM seq"
                ),
                {"acc": account_id, "ch": charger_id, "n": count},
            )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bulk_app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp(f"exports-bulk-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        app = make_app(url)
        add_person(app, OLGA, ("acc-olga-admin", Role.admin, None))
        add_person(app, "small@example.com", ("acc-small", Role.customer, None))
        add_person(app, "large@example.com", ("acc-large", Role.customer, None))
        with app_db(app).session() as s:
            make_operator(s, timezone="Europe/Berlin")
            make_charger(s, charger_id="c-bulk")
        bulk_sessions(app_db(app), "acc-small", "c-bulk", BULK_SMALL)
        bulk_sessions(app_db(app), "acc-large", "c-bulk", BULK_LARGE)
        yield app
        app_db(app).engine.dispose()


def streamed_peak(client: FlaskClient, path: str) -> tuple[int, int, int, int]:
    """(peak traced bytes while the export streams, bytes and lines received, largest piece)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        response = client.get(path, buffered=False)
        assert response.status_code == 200
        size = lines = largest = 0
        for piece in response.response:
            size += len(piece)
            lines += piece.count(b"\n")
            largest = max(largest, len(piece))
        response.close()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    return peak, size, lines, largest


def test_memory_stays_flat_whatever_the_row_count(
    bulk_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # COPY's blocks (512 KiB) would hold the small export whole: pieces of CHUNK_BYTES here.
    monkeypatch.setattr(export_stream, "COPY_BLOCK_BYTES", export_stream.CHUNK_BYTES)
    olga = client_for(bulk_app, OLGA)
    olga.get("/export/sessions.csv?account=acc-small").close()  # warm the statement caches
    small_peak, small_size, _, _ = streamed_peak(olga, "/export/sessions.csv?account=acc-small")
    large_peak, large_size, lines, largest = streamed_peak(
        olga, "/export/sessions.csv?account=acc-large"
    )
    assert lines == BULK_LARGE + 1  # every row, and the header
    assert large_size > 7 * small_size  # eight times the rows...
    assert large_peak < 1.5 * small_peak + 256 * 1024  # ...about the same memory
    assert large_peak < large_size / 2  # and never the whole file
    assert largest < 2 * export_stream.CHUNK_BYTES  # pieces of about CHUNK_BYTES


def test_a_client_that_goes_away_gives_the_connection_back(bulk_app: Flask) -> None:
    db = app_db(bulk_app)
    olga = client_for(bulk_app, OLGA)
    for path in ("/export/sessions.csv", "/export/usage-daily.csv"):
        response = olga.get(path, headers={"Accept-Encoding": "gzip"}, buffered=False)
        pieces = iter(response.response)
        next(pieces)
        assert db.engine.pool.checkedout() == 1 or db.dialect == "sqlite"
        response.close()  # what the WSGI server does when the client disconnects
        assert db.engine.pool.checkedout() == 0, path
    if db.dialect == "postgresql":
        with db.engine.connect() as c:
            running = c.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'active' AND query LIKE 'COPY%'"
                )
            ).scalar_one()
        assert running == 0
    # The pool is healthy afterwards: the next export runs normally.
    assert olga.get("/export/sessions.csv?account=acc-small").status_code == 200


def test_a_copy_cut_by_the_statement_timeout_fails_and_leaves_the_pool_clean(
    bulk_app: Flask,
) -> None:
    db = app_db(bulk_app)
    flt = ExportFilter(account_id="acc-large")
    if db.dialect == "postgresql":
        # PostgreSQL cancels the COPY (psycopg's QueryCanceled; SQLAlchemy's wrapper if it
        # came before): an error, never a file cut short that looks whole.
        with pytest.raises((OperationalError, psycopg.OperationalError)):
            b"".join(export_chunks(db, "sessions", flt, BERLIN, timeout_ms=1))
    else:  # SQLite has no statement timeout: the whole file
        whole = b"".join(export_chunks(db, "sessions", flt, BERLIN, timeout_ms=1))
        assert whole.count(b"\n") == BULK_LARGE + 1
    assert db.engine.pool.checkedout() == 0
    body = b"".join(export_chunks(db, "sessions", flt, BERLIN))
    assert body.count(b"\n") == BULK_LARGE + 1  # the next export runs normally


def test_the_customer_dashboard_links_the_period_on_screen() -> None:
    from components.dashboard import EXPORT_LINKS_ID, dashboard_skeleton

    def walk(node: object) -> Iterator[object]:
        yield node
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and not isinstance(child, str):
                yield from walk(child)

    for period in ("current", "previous", "year"):
        nodes = list(walk(dashboard_skeleton(period)))
        (links,) = [n for n in nodes if getattr(n, "id", None) == EXPORT_LINKS_ID]
        hrefs = [getattr(n, "href", None) for n in walk(links) if getattr(n, "href", None)]
        assert hrefs == [
            f"/export/sessions.csv?period={period}",
            f"/export/usage-daily.csv?period={period}",
        ]
