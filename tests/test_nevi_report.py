"""The quarterly NEVI report (``data.exchange.nevi``, ``/export/nevi-report.zip``) on SQLite and
PostgreSQL: its three files against an independent pandas computation of the spec's rule on a
generated outage log (overlaps, exclusions, outages over month and quarter boundaries and over
the March DST change in New York, one still going on), the sessions of the quarter (with and
without an OCPP transaction, failed ones with and without error codes, one in progress), and the
download over HTTP (who may have it, its parts and headers, bad input).
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from data.core.db import Database
from data.core.models import OcppTransaction, Role
from data.exchange.exports import UPTIME_COLUMNS
from data.exchange.nevi import (
    OUTAGE_COLUMNS,
    SESSION_COLUMNS,
    Quarter,
    last_full_quarter,
    report_chunks,
)
from data.uptime.outages import OutageCause
from tests.support.databases import fresh_database
from tests.support.factories import (
    make_charger,
    make_operator,
    make_outage,
    make_session,
    report_connector,
)
from tests.support.web import add_person, client_for, make_app

NEW_YORK = ZoneInfo("America/New_York")
OLGA, ALICE = "olga@example.com", "alice@example.com"
CHARGERS = ("c-a", "c-b", "c-c", "c-quiet")
NOW = datetime(2026, 4, 15, 12, tzinfo=UTC)  # in the second quarter of 2026
Q1 = Quarter(2026, 1)  # January to March 2026: March loses an hour (8 March)
US = timedelta(microseconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- The generated data -------------------------------------------------------------------------


def seed_outages(db: Database) -> None:
    """Random outages over January 2025 to May 2026 (past ``NOW`` too: nothing after it counts),
    and the edge cases by hand."""
    rng = random.Random(17)
    first, last = utc(2025, 1, 1), utc(2026, 5, 1)
    span_s = int((last - first).total_seconds())
    with db.session() as s:
        for charger_id in CHARGERS[:3]:
            for n in range(40):
                start = first + timedelta(seconds=rng.randrange(span_s), microseconds=n * 7)
                length = timedelta(seconds=int(60 * 10 ** rng.uniform(0, 3.6)))  # 1 min-3 days
                make_outage(
                    s,
                    charger_id,
                    started_at=start,
                    ended_at=start + length,
                    excluded=rng.random() < 0.25,
                    cause=rng.choice(list(OutageCause)),
                    outage_id=f"r-{charger_id}-{n:02d}",
                )
        # Over the quarter's start (New York midnight = 05:00 UTC), over January's end, over
        # the clocks' jump (07:00 UTC on 8 March; excluded), and a counted one inside it.
        edges = [
            ("e-1", "c-a", utc(2025, 12, 31, 20), utc(2026, 1, 1, 9), False),
            ("e-2", "c-a", utc(2026, 1, 31, 23), utc(2026, 2, 1, 7, 30), True),
            ("e-3", "c-b", utc(2026, 3, 8, 6), utc(2026, 3, 8, 8), True),
            ("e-4", "c-b", utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 15), False),
        ]
        for outage_id, charger_id, start, end, excluded in edges:
            make_outage(
                s, charger_id, started_at=start, ended_at=end, excluded=excluded,
                outage_id=outage_id, note="=HYPERLINK(1)" if outage_id == "e-1" else None,
            )  # fmt: skip
        # Still going on: from 31 March, over the quarter's end.
        make_outage(s, "c-c", started_at=utc(2026, 3, 31, 18), outage_id="e-5")


@dataclass(frozen=True)
class Tx:
    connector_id: int
    stop_reason: str | None
    peak_w: int | None = None  # the highest Power.Active.Import the OCPP server kept


# session id, charger, start, end, kWh, OCPP transaction
SESSIONS: list[tuple[str, str, datetime, datetime | None, str, Tx | None]] = [
    ("s-before", "c-a", utc(2026, 1, 1, 4, 59), utc(2026, 1, 1, 6), "5", None),  # Q4 2025
    ("s-first", "c-a", utc(2026, 1, 1, 5), utc(2026, 1, 1, 6), "12.5", None),
    ("s-ok", "c-a", utc(2026, 2, 3, 10), utc(2026, 2, 3, 11), "30.25", Tx(1, "Local", 7400)),
    (
        "s-power",
        "c-a",
        utc(2026, 2, 4, 10),
        utc(2026, 2, 4, 10, 20),
        "3",
        Tx(2, "PowerLoss", 150_000),
    ),
    # Connector 1 of c-b reported GroundFailure during it.
    ("s-fault", "c-b", utc(2026, 3, 8, 9), utc(2026, 3, 8, 9, 30), "4.5", Tx(1, "Other", 11_456)),
    # c-c as a whole reported a failure 30 s after it ended: within the grace.
    ("s-late", "c-c", utc(2026, 3, 20, 9), utc(2026, 3, 20, 10), "8", Tx(1, "EVDisconnected")),
    ("s-empty", "c-quiet", utc(2026, 3, 21, 9), utc(2026, 3, 21, 9, 5), "0", Tx(1, "Local")),
    # Connector 2 of c-quiet reported 10 minutes after its end: not its error.
    ("s-after", "c-quiet", utc(2026, 3, 22, 9), utc(2026, 3, 22, 10), "9", Tx(2, "Remote")),
    ("s-going", "c-quiet", utc(2026, 3, 31, 23), None, "1.5", Tx(1, None, 999_999)),
    ("s-next", "c-a", utc(2026, 4, 1, 4), utc(2026, 4, 1, 5), "2", None),  # Q2 (midnight: 04:00)
]
REPORTS = [  # charger, connector, status, error code, reported at
    ("c-b", 1, "Faulted", "GroundFailure", utc(2026, 3, 8, 9, 10)),
    ("c-b", 0, "Available", "NoError", utc(2026, 3, 8, 9, 12)),
    ("c-c", 0, "Faulted", "PowerMeterFailure", utc(2026, 3, 20, 10, 0, 30)),
    ("c-quiet", 2, "Faulted", "HighTemperature", utc(2026, 3, 22, 10, 10)),
]


def seed_sessions(db: Database) -> None:
    with db.session() as s:
        for session_id, charger_id, start, end, kwh, _tx in SESSIONS:
            make_session(
                s, "acc-alice", charger_id, started_at=start, ended_at=end, energy_kwh=kwh,
                session_id=session_id,
            )  # fmt: skip
        s.flush()
        for n, (session_id, charger_id, start, end, kwh, tx) in enumerate(SESSIONS):
            if tx is not None:
                s.add(
                    OcppTransaction(
                        session_id=session_id, charger_id=charger_id,
                        connector_id=tx.connector_id, id_tag=f"tag-{n}", meter_start_wh=0,
                        meter_last_wh=Decimal(kwh) * 1000, started_at=start, stopped_at=end,
                        stop_reason=tx.stop_reason, peak_power_w=tx.peak_w,
                    )
                )  # fmt: skip
        for charger_id, connector_id, status, code, at in REPORTS:
            report_connector(s, charger_id, connector_id, status, reported_at=at, error_code=code)


@dataclass
class Scenario:
    dialect: str
    app: Flask
    db: Database
    olga: FlaskClient
    alice: FlaskClient


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Scenario]:
    directory = tmp_path_factory.mktemp(f"nevi-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        app = make_app(url, PROPAGATE_EXCEPTIONS=False)
        db: Database = app.extensions["polaris_db"]
        add_person(app, OLGA, ("acc-olga", Role.admin, None))
        add_person(app, ALICE, ("acc-alice", Role.customer, None))
        with db.session() as s:
            make_operator(s, timezone="America/New_York")
            for charger_id in CHARGERS:
                make_charger(s, charger_id=charger_id)
        seed_outages(db)
        seed_sessions(db)
        yield Scenario(request.param, app, db, client_for(app, OLGA), client_for(app, ALICE))
        db.engine.dispose()


# --- Reading the report back --------------------------------------------------------------------


def unzip(body: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def table(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def report(db: Database, quarter: Quarter, now: datetime, method: str = "auto") -> dict[str, str]:
    return unzip(b"".join(report_chunks(db, quarter, NEW_YORK, now, method=method)))


def outage_log(db: Database) -> pd.DataFrame:
    with db.engine.connect() as c:
        frame = pd.read_sql("SELECT id, charger_id, started_at, ended_at, excluded FROM outages", c)
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["excluded"] = frame["excluded"].astype(bool)
    return frame


# --- The independent computation (pandas, Decimal) ----------------------------------------------


def micros(delta: pd.Timedelta) -> int:
    return int(delta // pd.Timedelta(microseconds=1))


def merged_micros(spans: list[tuple[pd.Timestamp, pd.Timestamp]]) -> int:
    """The length of a union of spans: merge them in start order."""
    total, current = 0, None
    for start, end in sorted(spans):
        if current is None or start > current[1]:
            if current is not None:
                total += micros(current[1] - current[0])
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current is not None:
        total += micros(current[1] - current[0])
    return total


def minutes_text(us: int) -> Decimal:
    return (Decimal(us) / 60_000_000).quantize(Decimal("0.001"), ROUND_HALF_UP)


def percent(total: int, counted: int) -> str:
    return str(
        (Decimal(total - counted) * 100 / Decimal(total)).quantize(Decimal("0.001"), ROUND_HALF_UP)
    )


def month_bounds(first_day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    nxt = (first_day + timedelta(days=32)).replace(day=1)
    return (
        pd.Timestamp(first_day, tz=NEW_YORK).tz_convert(UTC),
        pd.Timestamp(nxt, tz=NEW_YORK).tz_convert(UTC),
    )


def expected_uptime(log: pd.DataFrame, quarter: Quarter, now: datetime) -> pd.DataFrame:
    stamp_now = pd.Timestamp(now)
    ends = log["ended_at"].fillna(stamp_now).clip(upper=stamp_now)
    log = log.assign(end=ends)
    months = [date(y, m, 1) for y in (quarter.year - 1, quarter.year) for m in range(1, 13)]
    months = [
        m for m in months if m <= quarter.first_month.replace(month=quarter.first_month.month + 2)
    ]
    rows = []
    for charger_id in sorted(CHARGERS):
        own = log[log["charger_id"] == charger_id]
        figures = []
        for month in months:
            start, end = month_bounds(month)
            end = min(end, stamp_now)
            length = max(0, micros(end - start))
            clipped = [
                (max(r.started_at, start), min(r.end, end), r.excluded)
                for r in own.itertuples()
                if r.started_at < end and r.end > start
            ]
            every = merged_micros([(a, b) for a, b, _ in clipped])
            counted = merged_micros([(a, b) for a, b, x in clipped if not x])
            figures.append((month, length, every, counted))
        for i, (month, length, every, counted) in enumerate(figures):
            if month < quarter.first_month:
                continue
            year = figures[max(0, i - 11) : i + 1]
            rows.append(
                {
                    "charger_id": charger_id,
                    "month": f"{month:%Y-%m}",
                    "minutes": minutes_text(length),
                    "outage_minutes": minutes_text(every),
                    "excluded_minutes": minutes_text(every - counted),
                    "uptime_percent": percent(length, counted) if length else "",
                    "uptime_12m_percent": percent(sum(f[1] for f in year), sum(f[3] for f in year))
                    if length
                    else "",
                }
            )
    return pd.DataFrame(rows)


def as_numbers(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame[column] = frame[column].map(Decimal)
    return frame


# --- The data: uptime_by_month.csv --------------------------------------------------------------


@pytest.mark.parametrize("quarter", [Q1, Quarter(2025, 4)], ids=["march-jump", "november-back"])
def test_uptime_by_month_matches_pandas_over_a_dst_quarter(
    scenario: Scenario, quarter: Quarter
) -> None:
    files = report(scenario.db, quarter, NOW)
    assert sorted(files) == ["README.txt", "outages.csv", "sessions.csv", "uptime_by_month.csv"]
    got = table(files["uptime_by_month.csv"])
    assert list(got.columns) == UPTIME_COLUMNS
    minutes = ["minutes", "outage_minutes", "excluded_minutes"]
    want = expected_uptime(outage_log(scenario.db), quarter, NOW)
    pd.testing.assert_frame_equal(as_numbers(got, minutes), want)
    assert len(got) == 3 * len(CHARGERS)
    # March in New York is an hour short, November an hour long.
    quiet = got[got["charger_id"] == "c-quiet"].set_index("month")
    if quarter == Q1:
        assert (quiet.loc["2026-03", "minutes"], quiet.loc["2026-03", "uptime_percent"]) == (
            "44580",
            "100.000",
        )
    else:
        assert quiet.loc["2025-11", "minutes"] == "43260"


def test_a_quarter_not_over_counts_up_to_now(scenario: Scenario) -> None:
    q2 = Quarter(2026, 2)
    files = report(scenario.db, q2, NOW)
    got = table(files["uptime_by_month.csv"])
    want = expected_uptime(outage_log(scenario.db), q2, NOW)
    pd.testing.assert_frame_equal(
        as_numbers(got, ["minutes", "outage_minutes", "excluded_minutes"]), want
    )
    june = got[got["month"] == "2026-06"]
    assert set(june["minutes"]) == {"0"} and set(june["uptime_percent"]) == {""}
    assert "not over when this report was made" in files["README.txt"]
    assert "not over when" not in report(scenario.db, Q1, NOW)["README.txt"]


# --- The data: outages.csv ----------------------------------------------------------------------


def test_outages_of_the_quarter_with_durations(scenario: Scenario) -> None:
    got = table(report(scenario.db, Q1, NOW)["outages.csv"])
    assert list(got.columns) == OUTAGE_COLUMNS
    log = outage_log(scenario.db)
    start, _ = month_bounds(Q1.first_month)
    _, end = month_bounds(date(2026, 3, 1))
    stamp_now = pd.Timestamp(NOW)
    until = min(end, stamp_now)
    ends = log["ended_at"].fillna(stamp_now)
    inside = log[(log["started_at"] < until) & (ends > start)].assign(end=ends)
    inside = inside.assign(
        duration=[minutes_text(micros(r.end - r.started_at)) for r in inside.itertuples()],
        in_quarter=[
            minutes_text(micros(min(r.end, until) - max(r.started_at, start)))
            for r in inside.itertuples()
        ],
    ).sort_values(["charger_id", "started_at", "id"])
    assert list(got["outage_id"]) == list(inside["id"])
    assert list(got["duration_minutes"].map(Decimal)) == list(inside["duration"])
    assert list(got["minutes_in_quarter"].map(Decimal)) == list(inside["in_quarter"])
    by_id = got.set_index("outage_id")
    assert by_id.loc["e-1", "minutes_in_quarter"] == "240"  # 05:00-09:00 of 13 hours
    assert by_id.loc["e-1", "duration_minutes"] == "780"
    assert by_id.loc["e-1", "note"] == "'=HYPERLINK(1)"  # spreadsheet-safe
    assert (by_id.loc["e-3", "excluded"], by_id.loc["e-4", "excluded"]) == ("true", "false")
    # Still going on: empty end, up to now in all, up to the quarter's end inside it.
    assert by_id.loc["e-5", "ended_at"] == ""
    assert by_id.loc["e-5", "minutes_in_quarter"] == str(10 * 60)  # 18:00 to 04:00 UTC
    assert (
        Decimal(by_id.loc["e-5", "duration_minutes"])
        == Decimal(micros(stamp_now - pd.Timestamp(utc(2026, 3, 31, 18)))) / 60_000_000
    )


# --- The data: sessions.csv ---------------------------------------------------------------------


def peak_kw(watts: int) -> str:
    """Whole W as kW, written like the report's other numbers (no trailing zeros)."""
    return f"{(Decimal(watts) / 1000).normalize():f}"


def expected_sessions() -> list[dict[str, str]]:
    """The README's rule, written out for the sessions above."""
    start, end = (
        t.to_pydatetime()
        for t in (month_bounds(date(2026, 1, 1))[0], month_bounds(date(2026, 3, 1))[1])
    )
    reports = {(c, n): (code, at) for c, n, _status, code, at in REPORTS}
    faults = {"EmergencyStop", "HardReset", "PowerLoss", "Reboot", "SoftReset", "Other"}
    rows = []
    for session_id, charger_id, begun, ended, kwh, tx in SESSIONS:
        if not start <= begun < end:
            continue
        codes = []
        if tx is not None and tx.stop_reason in faults:
            codes.append(tx.stop_reason)
        window_end = (ended or NOW) + timedelta(minutes=1)
        for connector in ([tx.connector_id] if tx is not None else []) + [0]:
            code, at = reports.get((charger_id, connector), ("NoError", begun))
            if code != "NoError" and begun <= at <= window_end and code not in codes:
                codes.append(code)
        failed = "" if ended is None else str(bool(codes) or Decimal(kwh) == 0).lower()
        rows.append(
            {
                "session_id": session_id,
                "charger_id": charger_id,
                "connector_id": "" if tx is None else str(tx.connector_id),
                "started_at": begun.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ended_at": "" if ended is None else ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "energy_kwh": kwh,
                "peak_kw": "" if tx is None or tx.peak_w is None else peak_kw(tx.peak_w),
                "stop_reason": "" if tx is None or tx.stop_reason is None else tx.stop_reason,
                "failed": failed,
                "error_codes": ";".join(codes),
            }
        )
    return rows


def test_sessions_of_the_quarter_with_failures_and_error_codes(scenario: Scenario) -> None:
    text = report(scenario.db, Q1, NOW)["sessions.csv"]
    got = list(csv.DictReader(io.StringIO(text)))
    assert list(got[0]) == SESSION_COLUMNS
    assert got == expected_sessions()
    by_id = {r["session_id"]: r for r in got}
    assert [r["session_id"] for r in got][0] == "s-first"  # s-before is the quarter before
    assert "s-next" not in by_id
    assert (by_id["s-fault"]["failed"], by_id["s-fault"]["error_codes"]) == (
        "true",
        "Other;GroundFailure",
    )
    assert by_id["s-late"]["error_codes"] == "PowerMeterFailure"
    assert (by_id["s-empty"]["failed"], by_id["s-empty"]["error_codes"]) == ("true", "")
    assert (by_id["s-after"]["failed"], by_id["s-after"]["error_codes"]) == ("false", "")
    assert by_id["s-going"]["failed"] == ""
    # The OCPP transaction's peak power, in kW; empty without one (README says when).
    assert [by_id[k]["peak_kw"] for k in ("s-ok", "s-power", "s-fault", "s-going")] == [
        "7.4", "150", "11.456", "999.999",
    ]  # fmt: skip
    assert by_id["s-first"]["peak_kw"] == by_id["s-late"]["peak_kw"] == ""  # no tx / no peak
    assert "highest power (kW, to the watt)" in report(scenario.db, Q1, NOW)["README.txt"]


@pytest.mark.parametrize("scenario", ["postgresql"], indirect=True)  # COPY is PostgreSQL's
def test_copy_and_cursor_write_the_same_report(scenario: Scenario) -> None:
    assert report(scenario.db, Q1, NOW, "copy") == report(scenario.db, Q1, NOW, "cursor")


# --- Over HTTP ----------------------------------------------------------------------------------

PATH = "/export/nevi-report.zip"


def test_the_report_is_for_admins_only(scenario: Scenario) -> None:
    anonymous = scenario.app.test_client().get(f"{PATH}?year=2026&quarter=1")
    assert anonymous.status_code == 401
    customer = scenario.alice.get(f"{PATH}?year=2026&quarter=1")
    assert customer.status_code == 403
    assert b"PK" not in customer.data[:2]


def test_admin_downloads_the_zip_with_its_parts_and_headers(scenario: Scenario) -> None:
    response = scenario.olga.get(f"{PATH}?year=2026&quarter=Q1")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert 'filename="nevi-report-2026-Q1.zip"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    files = unzip(response.data)
    assert sorted(files) == ["README.txt", "outages.csv", "sessions.csv", "uptime_by_month.csv"]
    assert "America/New_York" in files["README.txt"]
    assert "2026-01-01T05:00:00Z to 2026-04-01T04:00:00Z" in files["README.txt"]
    assert "s-fault" in files["sessions.csv"]
    # Without a quarter: the last full one.
    default = scenario.olga.get(PATH)
    assert default.status_code == 200
    expected = last_full_quarter(datetime.now(UTC), NEW_YORK)
    assert f'filename="nevi-report-{expected.key}.zip"' in default.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?year=2026&quarter=5", "“quarter” must be 1, 2, 3 or 4 (or Q1 to Q4), not “5”"),
        ("?year=26&quarter=1", "“year” must be a year from 1970 to 9998, like 2026, not “26”"),
        ("?year=2026", "Give both “year” and “quarter”"),
        ("?quarter=2", "Give both “year” and “quarter”"),
        ("?year=9998&quarter=4", "9998-Q4 has not begun"),
        ("?year=2026&quarter=1&charger=c-a", "Unknown parameter “charger”"),
        ("?year=2026&year=2025&quarter=1", "Give “year” and “quarter” once"),
    ],
)
def test_bad_quarters_get_400_saying_why(scenario: Scenario, query: str, message: str) -> None:
    response = scenario.olga.get(PATH + query)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert message in response.get_data(as_text=True)
