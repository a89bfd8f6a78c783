"""The benchmark commands run and print every figure; a dashboard's SQL does not grow.

Timings are not asserted (they depend on the machine): ``python -m bench run`` prints them. What
is asserted: on a tiny generated PostgreSQL database the build makes what it says (heavy 100,000
sessions, light 10, no overlapping reservations) and the run prints every row and writes every
JSON key; and one whole dashboard load issues the same number of SQL statements for an account
with 10 sessions and one with 1,000, and with 10 or 200 chargers, on both databases.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.build import ensure_database
from bench.run import Driver, counting_statements
from data.chargers.snapshots import (
    account_grants,
    fleet_snapshot,
    shown_statuses,
    snapshot_chargers,
)
from data.chargers.status import STATUS_RANK, ChargerStatus, charger_status_expression
from data.charging.dashboard import visible_charger_condition, visible_chargers
from data.core.db import Database, upgrade
from data.core.models import (
    Charger,
    ChargingSession,
    ConnectorStatus,
    ConnectorType,
    ReservationStatus,
    Role,
    Visibility,
)
from tests.support.databases import postgres_admin, scratch_postgres_name
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_operator,
    make_plan,
    make_reservation,
    make_session,
)
from tests.support.web import PASSWORD, add_person, make_app

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC)

JSON_KEYS = [
    "dashboard_ms.light.p50",
    "dashboard_ms.light.p95",
    "dashboard_ms.heavy.p50",
    "dashboard_ms.heavy.p95",
    "dashboard_cpu_ms.heavy.p50",
    "dashboard_client_ms.heavy.p95",
    "floor_ms.heavy.p50",
    "floor_ms.heavy.p95",
    "floor_in_turns_ms.heavy.p50",
    "naive_ms.heavy.p50",
    "naive_ms.heavy.p95",
    "poll_ms.p50",
    "poll_ms.p95",
    "poll_client_ms.p95",
    "poll_bytes.request",
    "poll_requests",
    "poll_changed_bytes",
    "poll_ms_by_callback.tick.p95",
    "throughput.loads_per_s",
    "throughput.p95_ms",
    "admin_ms.fleet_page.p95",
    "admin_ms.sessions_explorer_filtered.p95",
    "admin_ms.analytics_year.p95",
    "admin_ms.energy_per_day_year.p95",
    "export.rows_per_s",
    "export.peak_mb",
    "export.copy_rows_per_s",
    "export.ratio_to_copy",
    "export.own_copy_rows_per_s",
    "export.ratio_to_own_copy",
    "export.own_copy_to_copy",
    "export.parquet.rows_per_s",
    "export.parquet.peak_mb",
    "ratios.heavy_over_light",
    "ratios.dashboard_over_floor",
    "ratios.dashboard_over_floor_in_turns",
    "ratios.naive_over_ours",
    *(
        f"pages.{part}"
        for view in ("dashboard_current", "dashboard_previous", "dashboard_year")
        + ("sessions", "receipt", "uptime")
        for part in (f"views_ms.{view}.heavy.p50", f"views_ms.{view}.light.p95", f"ratios.{view}")
    ),
]
TABLE_ROWS = [
    "dashboard_ms.light",
    "dashboard_ms.heavy",
    "with the test client.heavy",
    "callback render.heavy",
    "render period=year.heavy",
    "floor_ms.heavy",
    "naive_ms.heavy",
    "heavy / light",
    "dashboard / floor (heavy)",
    "against the floor in turns",
    "naive / ours (heavy)",
    "view dashboard_current heavy / light",
    "view dashboard_previous heavy / light",
    "view dashboard_year heavy / light",
    "view sessions heavy / light",
    "view receipt heavy / light",
    "view uptime heavy / light",
    "poll_ms",
    "throughput",
    "admin_ms.fleet_page",
    "admin_ms.sessions_explorer",
    "admin_ms.analytics_year",
    "export",
    "export / COPY",
    "export / own COPY",
    "export parquet",
]


def _lookup(tree: dict, dotted: str) -> object:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


@pytest.fixture
def bench_database_url() -> Iterator[str]:
    """A database of its own (the build drops and recreates its schema)."""
    admin = postgres_admin()
    name, url = scratch_postgres_name("polaris_bench_test")
    yield url.replace("postgresql+psycopg://", "postgresql://")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_build_and_run_print_every_figure(bench_database_url: str, tmp_path: Path):
    built = _bench("build", "--database-url", bench_database_url, "--scale", "0.0005")
    assert built.returncode == 0, built.stderr
    assert "bench build: done in" in built.stderr
    assert "[ 1/" in built.stderr  # the progress lines

    db = Database(bench_database_url)
    with db.session() as s:
        per_account = dict(
            s.execute(
                select(ChargingSession.account_id, func.count())
                .where(ChargingSession.account_id.in_(["acc-heavy", "acc-light"]))
                .group_by(ChargingSession.account_id)
            ).all()
        )
        chargers = s.scalar(select(func.count()).select_from(Charger))
    db.engine.dispose()
    assert per_account == {"acc-heavy": 100_000, "acc-light": 10}
    assert chargers == 20

    # Uptime on the same database: 5 outages a charger-year, plus the site-wide ones.
    uptime = subprocess.run(
        [sys.executable, "-m", "bench.uptime", "--database-url", bench_database_url]
        + ["--per-charger", "5", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert uptime.returncode == 0, uptime.stderr[-3000:]
    assert "wrote 160 outages" in uptime.stdout  # 20 x 5, and 20 chargers down 3 times at once
    assert "every charger x 12 months: p50" in uptime.stdout
    assert "(240 rows" in uptime.stdout and "/export/uptime-monthly.csv" in uptime.stdout
    assert "stored 23 months' figures" in uptime.stdout
    assert "/admin/uptime callback standings: p50" in uptime.stdout
    assert "/admin/uptime callback page: p50" in uptime.stdout

    # The NEVI report of the last full quarter over those outages: 20 chargers x 3 months.
    nevi = subprocess.run(
        [sys.executable, "-m", "bench.nevi", "--database-url", bench_database_url]
        + ["--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert nevi.returncode == 0, nevi.stderr[-3000:]
    assert "NEVI report ZIP, every charger, one quarter: p50" in nevi.stdout
    assert "uptime_by_month.csv 60 rows" in nevi.stdout and "sessions.csv alone" in nevi.stdout

    out = tmp_path / "bench.json"
    ran = _bench(
        "run",
        "--database-url",
        bench_database_url,
        "--json",
        str(out),
        "--repeat",
        "2",
        "--seconds",
        "3",
        "--users",
        "3",
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    for row in TABLE_ROWS:
        assert any(line.strip().startswith(row) for line in ran.stdout.splitlines()), row
    figures = json.loads(out.read_text())
    for key in JSON_KEYS:
        value = _lookup(figures, key)
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, key
    assert figures["database"]["accounts"] == {"light": 10, "heavy": 100_000}
    assert figures["poll_requests"] == 1  # one request a tick
    # Unchanged: a 204 without a body (a minute's turn of "started ... ago" is a few bytes).
    assert 0 <= figures["poll_bytes"]["response"] <= 1024
    assert figures["throughput"]["loads"] > 0
    assert figures["export"]["rows"] > 0
    # The bare COPY, the CSV and the Parquet file: the same rows, all of them.
    export = figures["export"]
    assert export["copy"]["rows"] == export["rows"] == export["parquet"]["rows"]
    assert export["own_copy"]["rows"] == export["rows"]
    for page in figures["admin_ms"].values():
        assert isinstance(page["seq_scan_sessions"], bool)
    # A whole load issues the same statements for 10 sessions as for 100,000.
    assert figures["statements_per_load"]["light"] == figures["statements_per_load"]["heavy"]


def test_build_refuses_a_database_that_is_not_a_bench_one(bench_database_url: str):
    ensure_database(bench_database_url)
    db = Database(bench_database_url)
    upgrade(db.engine)
    with db.session() as s:
        make_operator(s, name="Real Operator")
        make_plan(s, plan_id="plan-real")
    db.engine.dispose()

    built = _bench("build", "--database-url", bench_database_url, "--scale", "0.0005")
    assert built.returncode != 0
    assert "belongs to 'Real Operator'; use a database of its own" in built.stderr
    assert "Traceback" not in built.stderr
    db = Database(bench_database_url)
    with db.session() as s:  # nothing touched
        assert s.scalar(text("SELECT name FROM operator")) == "Real Operator"
        assert s.scalar(text("SELECT id FROM plans")) == "plan-real"
    db.engine.dispose()


# --- Command latency: API -> charger over two OCPP servers ---------------------------------------

COMMAND_ROWS = [
    "setup",
    "burst: API -> charger",
    "burst: commands/s",
    "burst: POST answered",
    "burst: requested at to sent at",
    "burst: CPU per command",
    "sequential: API -> charger",
    "sequential: commands/s",
    "checks",
    "sent by instance",
]


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_command_latency_every_command_reaches_its_charger_once(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
):
    """``bench commands``, small: 20 chargers over two OCPP servers, 40 commands in a burst and
    40 one after another through the API; every one reached its charger once, through the
    server holding it, and ended accepted; the figures are printed; the database is gone."""
    if dialect == "postgresql":
        database = ["--database-url", request.getfixturevalue("bench_database_url")]
    else:
        database = ["--sqlite"]
    out = tmp_path / "commands.json"
    ran = _bench(
        "commands", *database, "--chargers", "20", "--commands", "40", "--threads", "4",
        "--json", str(out),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    lines = [line.strip() for line in ran.stdout.splitlines()]
    for row in COMMAND_ROWS:
        assert any(line.startswith(row) for line in lines), row
    figures = json.loads(out.read_text())
    assert figures["database"] == dialect
    checks = figures["checks"]
    assert checks["commands"] == 20 + 40 + 40  # the warm-up asks each charger once
    assert checks["received_once"] == checks["accepted"] == checks["commands"]
    assert checks["received_twice_or_more"] == checks["missing"] == checks["stray_calls"] == 0
    assert checks["post_errors"] == 0
    # Half the chargers on each server, and each command sent by the one holding its charger.
    assert checks["sent_by_instance"] == [50, 50]
    assert checks["sent_by_another_instance"] == 0
    for phase in ("burst", "sequential"):
        latency = figures[phase]["latency_ms"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
        assert figures[phase]["commands"] == 40
        assert figures[phase]["delivered_per_s"] > 0
    if dialect == "postgresql":
        admin = postgres_admin()
        name = make_url(database[1]).database
        with admin.connect() as c:
            gone = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            assert gone.first() is None
        admin.dispose()


# --- SQL statements per dashboard load ------------------------------------------------------------


def _add_sessions(s: Session, account_id: str, charger_ids: list[str], n: int) -> None:
    s.add_all(
        ChargingSession(
            id=f"{account_id}-s{i:05d}",
            account_id=account_id,
            charger_id=charger_ids[i % len(charger_ids)],
            started_at=NOW - timedelta(hours=6 * i + 2),
            # The latest is in progress: the page view then also refreshes Recent activity.
            ended_at=None if i == 0 else NOW - timedelta(hours=6 * i + 1),
            energy_kwh=Decimal("7.125"),
            finalized=i > 0,
        )
        for i in range(n)
    )


def _add_chargers(s: Session, first: int, last: int) -> list[str]:
    ids = [f"bench-ch-{n:04d}" for n in range(first, last + 1)]
    s.add_all(
        Charger(
            id=cid,
            friendly_name=f"Bay {cid}",
            connector_type=ConnectorType.ccs,
            max_power_kw=Decimal("50"),
            visibility=Visibility.public,
            last_seen_at=NOW,
        )
        for cid in ids
    )
    return ids


def _statements_per_load(driver: Driver) -> int:
    driver.load()  # first load: nothing cached yet
    with counting_statements(driver.app) as seen:
        driver.load()
    return len(seen)


def test_dashboard_statements_do_not_grow_with_history_or_chargers(database_url: str):
    app = make_app(database_url)
    add_person(app, "few@example.com", ("acc-few", Role.customer, None))
    add_person(app, "many@example.com", ("acc-many", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        plan = make_plan(s)
        s.execute(text("UPDATE accounts SET plan_id = :p"), {"p": plan.id})
        chargers = _add_chargers(s, 1, 10)
        make_charger(s, friendly_name="Silent", last_seen_at=NOW - timedelta(days=2))
        s.flush()
        _add_sessions(s, "acc-few", chargers, 10)
        _add_sessions(s, "acc-many", chargers, 1_000)

    few = Driver(app, "few@example.com", PASSWORD)
    many = Driver(app, "many@example.com", PASSWORD)
    with_10_sessions = _statements_per_load(few)
    with_1000_sessions = _statements_per_load(many)
    assert with_10_sessions > 0
    assert with_1000_sessions == with_10_sessions

    with app.extensions["polaris_db"].session() as s:
        _add_chargers(s, 11, 200)
        assert s.scalar(select(func.count()).select_from(Charger)) == 201
    assert _statements_per_load(few) == with_10_sessions
    assert _statements_per_load(many) == with_10_sessions
    # The page really was filled: the render answered with the account's chargers.
    assert len(many.pills) == 50
    assert many.banner[0] is False  # the banner showed the session in progress
    app.extensions["polaris_db"].engine.dispose()


# --- The charger list runs the status rule only where it can matter; same answer as everywhere ---


def _report(s: Session, charger: Charger, connector: int, status: str) -> None:
    s.add(
        ConnectorStatus(
            charger_id=charger.id,
            connector_id=connector,
            status=status,
            error_code="NoError",
            reported_at=NOW,
        )
    )


def test_charger_list_matches_the_status_rule_for_every_charger(db: Database):
    """``visible_chargers`` evaluates ``charger_status_expression`` only for the chargers
    ``maybe_not_online_ids`` names; on a fleet with every kind of status (and chargers that only
    look special) its list and counts equal the rule applied to every charger."""
    hour = timedelta(hours=1)
    with db.session() as s:
        make_operator(s)
        me, other = make_account(s), make_account(s)
        fleet: list[Charger] = []
        for n in range(72):
            kind = n % 12
            seen = {0: None, 1: NOW - 2 * hour}.get(kind, NOW - timedelta(minutes=5))
            visibility = Visibility.restricted if kind in (10, 11) else Visibility.public
            charger = make_charger(
                s, friendly_name=f"Bay {71 - n:02d}", last_seen_at=seen, visibility=visibility
            )
            fleet.append(charger)
            if kind == 11:
                grant_access(s, me, charger)
            if kind in (2, 1):  # open session (on a silent charger too: still Offline)
                make_session(s, other, charger, started_at=NOW - hour, ended_at=None)
            if kind == 3:  # a finished session only: Online
                make_session(s, other, charger, started_at=NOW - 3 * hour, ended_at=NOW - hour)
            if kind in (4, 6):  # holding now (on an out-of-order charger too: Reserved)
                make_reservation(
                    s,
                    other,
                    charger,
                    starts_at=NOW - hour,
                    ends_at=NOW + hour,
                    status=ReservationStatus.confirmed,
                )
            if kind == 5:  # pending now, and confirmed later: neither holds it now
                make_reservation(
                    s,
                    other,
                    charger,
                    starts_at=NOW - hour,
                    ends_at=NOW + hour,
                    status=ReservationStatus.pending,
                )
                make_reservation(
                    s,
                    other,
                    charger,
                    starts_at=NOW + hour,
                    ends_at=NOW + 2 * hour,
                    status=ReservationStatus.confirmed,
                )
            if kind in (6, 7):
                _report(s, charger, 0, "Faulted")
            if kind == 8:
                _report(s, charger, 1, "Charging")
            if kind == 9:
                _report(s, charger, 1, "Available")
                _report(s, charger, 2, "Unavailable")
        s.flush()

        rule = charger_status_expression(NOW)
        brute = s.execute(
            select(Charger.id, Charger.friendly_name, rule).where(visible_charger_condition(me.id))
        ).all()
        expected = sorted(brute, key=lambda r: (STATUS_RANK[r[2]], r[1], r[0]))
        online = sum(1 for r in brute if r[2] == ChargerStatus.online.value)
        assert {r[2] for r in brute} == {status.value for status in ChargerStatus}

        for limit in (5, 50, 200):
            got = visible_chargers(s, me.id, NOW, limit=limit)
            assert [(c.charger_id, c.status.value) for c in got.chargers] == [
                (r[0], r[2]) for r in expected[:limit]
            ]
            assert (got.visible, got.available) == (len(brute), online)
        counts = visible_chargers(s, me.id, NOW, limit=0)
        assert (counts.chargers, counts.visible, counts.available) == ([], len(brute), online)

        # The workers' snapshot (data/chargers/snapshots.py) answers the same, rows and counts
        # alike.
        snapshot = fleet_snapshot(s, NOW)
        granted = account_grants(s, me.id)
        for limit in (0, 5, 50, 200):
            assert snapshot_chargers(snapshot, granted, limit) == visible_chargers(
                s, me.id, NOW, limit=limit
            )
        every = [c.id for c in fleet] + ["no-such-charger"]
        statuses, available = shown_statuses(snapshot, granted, every)
        assert available == online
        by_rule = {r[0]: r[2] for r in brute}
        shown = {cid: st.value for cid, st in statuses.items() if st is not None}
        # Only the first 50 ids asked about are answered, like the poll's own limit.
        assert shown == {cid: by_rule[cid] for cid in every[:50] if cid in by_rule}
        assert all(statuses[cid] is None for cid in every[:50] if cid not in by_rule)


def test_the_server_clock_times_the_app_and_passes_its_answer_through(
    tmp_path: Path, sqlite_template: Path
) -> None:
    from bench.run import server_clock

    database = tmp_path / "clock.db"
    shutil.copy(sqlite_template, database)
    app = make_app(f"sqlite:///{database}")
    clock = server_clock(app)
    assert server_clock(app) is clock  # installed once, however many drivers
    response = app.test_client().get("/login")
    assert response.status_code == 200
    assert b'name="csrf_token"' in response.data
    assert clock.ms > 0 and clock.cpu_ms >= 0
    first = clock.ms
    app.test_client().get("/healthz")
    assert clock.ms != first  # each request is timed anew


def test_balancer_prints_every_figure(bench_database_url: str, tmp_path: Path):
    """``bench balancer``, tiny: 50 chargers over two OCPP servers for 2 s, then 4 drivers
    through HAProxy with one app instance and with two; every row is printed, the JSON says
    both servers handled messages and every stack served page loads, with no failed request;
    the OCPP part's database is gone afterwards."""
    from bench.balancer import OCPP_ROWS, WEB_ROWS

    built = _bench("build", "--database-url", bench_database_url, "--scale", "0.0005")
    assert built.returncode == 0, built.stderr
    admin = postgres_admin()
    ocpp_name, ocpp_url = scratch_postgres_name("polaris_bench_balancer_test")
    out = tmp_path / "balancer.json"
    base_port = 30_000 + (os.getpid() % 300) * 100  # the stack's ports; apart from other runs
    try:
        ran = _bench(
            "balancer", "--database-url", bench_database_url, "--ocpp-database-url", ocpp_url,
            "--chargers", "50", "--seconds", "2", "--interval", "1", "--users", "4",
            "--web-seconds", "2", "--base-port", str(base_port), "--json", str(out),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        lines = [line.strip() for line in ran.stdout.splitlines()]
        for row in OCPP_ROWS + WEB_ROWS:
            assert any(line.startswith(row) for line in lines), row
        figures = json.loads(out.read_text())
        ocpp = figures["ocpp"]
        assert ocpp["connected"] == 50 and ocpp["not_connected"] == 0
        assert ocpp["server_errors"] == ocpp["charger_errors"] == 0
        assert [p["handled"] > 0 for p in ocpp["per_instance"]] == [True, True]
        assert ocpp["handled"] == sum(p["handled"] for p in ocpp["per_instance"])
        assert [w["apps"] for w in figures["web"]] == [1, 2]
        for web in figures["web"]:
            assert web["loads"] > 0 and web["ticks"] > 0
            assert web["failed_requests"] == 0, web["failed_example"]
        with admin.connect() as c:
            gone = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": ocpp_name})
            assert gone.first() is None
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{ocpp_name}" WITH (FORCE)'))
        admin.dispose()
