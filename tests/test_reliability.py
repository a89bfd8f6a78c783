"""Database faults and crashes (issue 4: items 7, 8 and 9), on the real PostgreSQL.

* The database goes away (a TCP proxy in front of the shared server is stopped, cutting every
  connection) or stops answering: pages answer a friendly 503 and callbacks a friendly error,
  within seconds, with no traceback or SQL; when it returns, the same app serves again.
* A query held by a lock is cancelled by ``statement_timeout`` and reported, not a 500/502.
* With every pooled connection held, a request fails within the pool timeout.
* An import killed (SIGKILL) in the middle of writing leaves the old data, on PostgreSQL and
  SQLite; two imports of the same folder at once do not collide on duplicate keys.

Timings are printed (``pytest -s``) so the report can quote them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from components.dashboard import PERIOD_STORE_ID
from config import ROOT
from data.core.db import Database, normalise_url
from data.core.models import Role
from data.exchange.importer import import_folder
from tests.support.audit import AT, CLI
from tests.support.callbacks import RENDER_OUTPUTS
from tests.support.databases import (
    postgres_admin,
    scratch_postgres_name,
    skip_or_fail,
    truncate_postgres,
)
from tests.support.factories import make_charger, make_operator, make_session
from tests.support.processes import flask_command
from tests.support.tcp_proxy import TcpProxy
from tests.support.web import add_person, call_callback, make_app, sign_in

NOW = datetime.now(UTC)
CLI_SECRET = "reliability-test-secret-key-0123456789abcdef"
HANG = 15  # seconds after which a request counts as hanging

# Whatever the failure, none of this may reach a browser.
LEAKS = (
    "Traceback",
    'File "',
    "psycopg",
    "sqlalchemy",
    "sqlalche.me",
    "OperationalError",
    "TimeoutError",
    "QueuePool",
    "SELECT ",
    "connection to server",
    "Connection refused",
    "canceling statement",
    "statement timeout",
)


# --- helpers ----------------------------------------------------------------------------------


def timed(call: Callable[[], Any], unblock: Callable[[], Any]) -> tuple[Any, float]:
    """``call()`` and how long it took. Should it hang (the very fault under test), ``unblock()``
    ends the wait after a while so the test fails instead of hanging the suite."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc

    start = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG)
    if worker.is_alive():
        unblock()
        worker.join(30)
        pytest.fail(f"no answer after {HANG} s: the request hung")
    seconds = time.monotonic() - start
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], seconds


def report(what: str, seconds: float) -> None:
    print(f"\n[timing] {what}: {seconds:.2f} s")


def assert_no_leak(body: str, *extra: str) -> None:
    for leak in (*LEAKS, *extra):
        assert leak not in body, f"{leak!r} leaked into the response: {body[:600]}"


def assert_friendly_page(response: Any, *extra: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, (response.status_code, body[:600])
    assert response.mimetype == "text/html"
    assert "database" in body.lower() and "try again" in body.lower(), body[:600]
    assert_no_leak(body, *extra)


def friendly_callback_error(response: Any, *extra: str) -> str:
    """The message a person sees for a failed callback: the ``on_error`` alert in a 200 answer,
    or the JSON error of a 503. Anything else (500, 502, a traceback) fails."""
    body = response.get_data(as_text=True)
    assert_no_leak(body, *extra)
    payload = response.get_json(silent=True)
    assert isinstance(payload, dict), (response.status_code, body[:600])
    if response.status_code == 503:
        return payload["error"]
    assert response.status_code == 200, (response.status_code, body[:600])
    alert = payload.get("sideUpdate", {}).get("page-alert")
    assert alert and alert.get("is_open") is True, body[:600]
    return alert["children"]


def render_dashboard(client: FlaskClient) -> Any:
    output = "...".join(f"{i}.{p}" for i, p in RENDER_OUTPUTS)
    return call_callback(
        client,
        f"..{output}..",
        [{"id": PERIOD_STORE_ID, "property": "data", "value": "current"}],
        outputs=[{"id": i, "property": p} for i, p in RENDER_OUTPUTS],
    )


def seed_customer(app: Flask) -> None:
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        street = make_charger(s, charger_id="c-street", friendly_name="Street", last_seen_at=NOW)
        make_session(
            s,
            "acc-alice",
            street,
            started_at=NOW - timedelta(days=1),
            ended_at=NOW - timedelta(hours=23),
            energy_kwh="11.1",
        )


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, "alice@example.com").status_code == 302
    assert client.get("/switch").status_code == 200  # also sets the CSRF cookie callbacks echo
    return client


def assert_serves(client: FlaskClient) -> None:
    for path in ("/switch", "/"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    rendered = render_dashboard(client)
    assert rendered.status_code == 200, rendered.get_data(as_text=True)[:600]
    assert "11.1 kWh" in rendered.get_data(as_text=True)
    assert "sideUpdate" not in (rendered.get_json() or {})


@pytest.fixture
def pg_url(postgres_database_url: str) -> str:
    """The PostgreSQL test database of this process, emptied."""
    db = Database(postgres_database_url)
    truncate_postgres(db)
    db.engine.dispose()
    return postgres_database_url


@pytest.fixture
def proxy(postgres_database_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_database_url)
    with TcpProxy(url.port or 5432, url.host or "127.0.0.1") as p:
        yield p


def through(proxy: TcpProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    """Apps built by a test; their pools are closed at the end."""
    built: list[Flask] = []
    yield built
    for app in built:
        app.extensions["polaris_db"].engine.dispose()


# --- the database goes away and comes back ------------------------------------------------------


@pytest.mark.postgres
def test_database_down_pages_and_callbacks_fail_fast_then_recover(pg_url, proxy, apps):
    """Every request of a signed-in person first loads the user (Flask-Login's user loader
    queries the database), so a plain page shows that this path gives the 503 page, not a 500."""
    app = make_app(through(proxy, pg_url), TESTING=False, POOL_TIMEOUT_S=1, CONNECT_TIMEOUT_S=2)
    apps.append(app)
    seed_customer(app)
    client = signed_in(app)
    assert_serves(client)

    proxy.stop()  # the server "crashes": new connections refused, pooled ones cut
    port = f":{proxy.port}"
    for path in ("/switch", "/", "/account", "/sessions"):
        response, seconds = timed(lambda p=path: client.get(p), proxy.start)
        report(f"GET {path} with the database down", seconds)
        assert seconds < 5
        assert_friendly_page(response, port)
    for path in ("/_dash-layout", "/_dash-dependencies"):
        response, seconds = timed(lambda p=path: client.get(p), proxy.start)
        assert seconds < 5
        assert response.status_code == 503, response.status_code
        assert "database" in response.get_json()["error"]
        assert_no_leak(response.get_data(as_text=True), port)
    response, seconds = timed(lambda: render_dashboard(client), proxy.start)
    report("dashboard callback with the database down", seconds)
    assert seconds < 5
    assert "database" in friendly_callback_error(response, port).lower()

    proxy.start()  # the server is back: the same app, the same signed-in person
    _, seconds = timed(lambda: assert_serves(client), proxy.start)
    report("first requests after the database returned (page, page, callback)", seconds)


@pytest.mark.postgres
def test_unresponsive_database_fails_within_the_connect_timeout(pg_url, proxy, apps):
    """A server that accepts connections and never answers (frozen, or a firewall that drops
    packets): connecting gives up after CONNECT_TIMEOUT_S instead of hanging the worker."""
    app = make_app(through(proxy, pg_url), TESTING=False, POOL_TIMEOUT_S=1, CONNECT_TIMEOUT_S=2)
    apps.append(app)
    seed_customer(app)
    client = signed_in(app)

    proxy.hang()
    response, seconds = timed(lambda: client.get("/switch"), proxy.start)
    report("GET /switch with the database not answering (connect timeout 2 s)", seconds)
    assert seconds < 4.5
    assert_friendly_page(response, f":{proxy.port}")
    response, seconds = timed(lambda: render_dashboard(client), proxy.start)
    report("dashboard callback with the database not answering", seconds)
    assert seconds < 4.5
    assert "database" in friendly_callback_error(response).lower()

    proxy.start()
    assert_serves(client)


# --- the database down when the app starts --------------------------------------------------


@pytest.mark.postgres
def test_app_started_while_the_database_is_down_catches_up_by_itself(proxy, apps, caplog):
    """Before, the start-up migration raised OperationalError out of ``create_app`` (gunicorn's
    master exited). Now the app starts on a new, empty database it cannot reach, answers the
    friendly 503 page, and once the database is back migrates it and serves: no restart."""
    admin = postgres_admin()
    name, url = scratch_postgres_name("polaris_startup")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        proxy.stop()
        caplog.set_level(logging.INFO)
        start = time.monotonic()  # in this thread: Dash registers pages in a context variable
        app = make_app(
            through(proxy, url),
            TESTING=False,
            POOL_TIMEOUT_S=1,
            CONNECT_TIMEOUT_S=2,
            DB_RETRY_S=0,  # retry on every request: the test needs no waiting
        )
        seconds = time.monotonic() - start
        apps.append(app)
        report("create_app with the database down", seconds)
        assert seconds < 5
        ours = [r.getMessage() for r in caplog.records if r.name == "polaris"]
        assert ours[:1] == [
            "database unreachable at start-up (OperationalError); will retry every 0 s while "
            "serving the 503 page"
        ], ours
        port = f":{proxy.port}"
        client = app.test_client()
        for path in ("/", "/login", "/switch"):
            response, seconds = timed(lambda p=path: client.get(p), proxy.start)
            report(f"GET {path} before the database was ever reached", seconds)
            assert seconds < 5
            assert_friendly_page(response, port)
        response, _ = timed(lambda: render_dashboard(client), proxy.start)
        assert "database" in friendly_callback_error(response, port).lower()
        assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
        assert "Traceback" not in caplog.text

        proxy.start()  # the database is back: the same app migrates it and serves
        response, seconds = timed(lambda: client.get("/login"), proxy.start)
        report("first request after the database came back (migrations included)", seconds)
        assert response.status_code == 200
        with psycopg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(False)
        ) as c:
            assert c.execute("SELECT version_num FROM alembic_version").fetchone() is not None
            assert c.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
        seed_customer(app)
        assert_serves(signed_in(app))
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- a query held by a lock ---------------------------------------------------------------------


@pytest.mark.postgres
def test_query_held_by_a_lock_is_cancelled_and_reported(pg_url, apps):
    app = make_app(pg_url, TESTING=False, STATEMENT_TIMEOUT_MS=500)
    apps.append(app)
    seed_customer(app)
    client = signed_in(app)
    assert_serves(client)

    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo) as locker:
        try:
            locker.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
            response, seconds = timed(lambda: render_dashboard(client), locker.rollback)
            report("dashboard callback with sessions locked (statement_timeout 500 ms)", seconds)
            assert seconds < 5
            assert 0.4 < seconds, "answered before the timeout: did the query reach the lock?"
            message = friendly_callback_error(response)
            assert "took too long" in message.lower(), message
            # The page itself does not read sessions: it still works while the lock is held.
            assert client.get("/switch").status_code == 200
        finally:
            locker.rollback()
    assert_serves(client)


# --- every pooled connection held ---------------------------------------------------------------


@pytest.mark.postgres
def test_exhausted_pool_fails_within_the_pool_timeout(pg_url, apps):
    app = make_app(pg_url, TESTING=False, POOL_TIMEOUT_S=1, POOL_SIZE=2, MAX_OVERFLOW=0)
    apps.append(app)
    seed_customer(app)
    client = signed_in(app)
    engine = app.extensions["polaris_db"].engine
    limit = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    assert 0 < limit <= 20, f"pool of {limit}: POOL_SIZE/MAX_OVERFLOW are not bounded"
    held = [engine.connect() for _ in range(limit)]

    def release() -> None:
        for connection in held:
            connection.close()

    try:
        assert engine.pool.checkedout() == limit
        response, seconds = timed(lambda: client.get("/switch"), release)
        report(f"GET /switch with all {limit} pooled connections held (pool timeout 1 s)", seconds)
        assert seconds < 3
        assert_friendly_page(response)
        response, seconds = timed(lambda: render_dashboard(client), release)
        report("dashboard callback with the pool exhausted", seconds)
        assert seconds < 3
        assert "database" in friendly_callback_error(response).lower()
    finally:
        release()
    assert_serves(client)


# --- imports: all or nothing under a crash, no duplicates when concurrent ---------------------


def write_folder(
    folder: Path, *, sessions: int, energy: str, name: str, people: int = 40, chargers: int = 20
) -> Path:
    """A valid data-exchange folder: ``sessions`` sessions of ``energy`` kWh each, ``people``
    customers (display names and the operator's name carry ``name``)."""
    import csv

    folder.mkdir(parents=True)

    def write(stem: str, header: list[str], rows: Any) -> None:
        with (folder / f"{stem}.csv").open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(header)
            out.writerows(rows)

    write(
        "operator",
        ["name", "support_email", "timezone", "currency"],
        [[f"Operator {name}", "help@reliability.example", "Europe/Berlin", "EUR"]],
    )
    write(
        "users",
        ["email", "display_name"],
        ([f"p{i}@reliability.example", f"Person {i} {name}"] for i in range(people)),
    )
    write(
        "accounts",
        ["account_id", "email", "role"],
        ([f"acc-{i}", f"p{i}@reliability.example", "customer"] for i in range(people)),
    )
    write(
        "chargers",
        ["charger_id", "friendly_name", "connector_type", "max_power_kw", "visibility"],
        ([f"ch-{i}", f"Bay {i}", "CCS", "50", "public"] for i in range(chargers)),
    )
    write(
        "sessions",
        [
            "session_id",
            "account_id",
            "charger_id",
            "started_at",
            "ended_at",
            "energy_kwh",
            "finalized",
        ],
        (
            [
                f"s-{i:07d}",
                f"acc-{i % people}",
                f"ch-{i % chargers}",
                f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:40Z",
                energy,
                "true",
            ]
            for i in range(sessions)
        ),
    )
    return folder


OLD_SESSIONS = 1000
BIG_SESSIONS = 80_000


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``old``: what the database holds first. ``big``: a newer version of all of it (every old
    row changes) plus many new sessions, so its import writes for a while."""
    root = tmp_path_factory.mktemp("imports")
    return {
        "old": write_folder(root / "old", sessions=OLD_SESSIONS, energy="1.5", name="v1"),
        "big": write_folder(root / "big", sessions=BIG_SESSIONS, energy="42.25", name="v2"),
        "small": write_folder(root / "small", sessions=2000, energy="7", name="v1"),
    }


def start_import(database_url: str, folder: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=CLI_SECRET,
        POLARIS_DEMO="0",
        POLARIS_ENV="development",
    )
    return subprocess.Popen(
        flask_command("import-data", str(folder)),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


SNAPSHOT_QUERIES = {
    "counts": "SELECT (SELECT count(*) FROM operator), (SELECT count(*) FROM users), "
    "(SELECT count(*) FROM accounts), (SELECT count(*) FROM chargers), "
    "(SELECT count(*) FROM sessions)",
    "operator": "SELECT name FROM operator",
    "people": "SELECT email, display_name FROM users ORDER BY email",
    "energy": "SELECT count(*), min(energy_kwh), max(energy_kwh) FROM sessions",
    "sample": "SELECT id, account_id, charger_id, energy_kwh, finalized FROM sessions "
    "WHERE id IN ('s-0000000', 's-0000500', 's-0000999', 's-0001000', 's-0079999') ORDER BY id",
}


def snapshot(run: Callable[[str], list[Any]]) -> dict[str, list[Any]]:
    return {name: [tuple(r) for r in run(sql)] for name, sql in SNAPSHOT_QUERIES.items()}


def import_old(database_url: str, folder: Path) -> None:
    db = Database(database_url)
    with db.session() as s:
        import_folder(s, folder, actor=CLI, now=AT)
    db.engine.dispose()


def kill_when(process: subprocess.Popen[str], ready: Callable[[], bool], what: str) -> float:
    """SIGKILL ``process`` as soon as ``ready()``; returns seconds since the start."""
    start = time.monotonic()
    while not ready():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the import ended before {what} (exit {process.returncode}):\n{err}")
        if time.monotonic() - start > 60:
            process.kill()
            pytest.fail(f"never saw {what}")
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    return time.monotonic() - start


@pytest.mark.postgres
def test_import_killed_mid_write_leaves_the_old_data_on_postgresql(pg_url, folders):
    import_old(pg_url, folders["old"])
    app_name = "polaris-import-killed"
    watcher = create_engine(normalise_url(pg_url), isolation_level="AUTOCOMMIT")
    try:
        with watcher.connect() as c:

            def run(sql: str) -> list[Any]:
                return list(c.execute(text(sql)))

            before = snapshot(run)
            assert before["counts"] == [(1, 40, 40, 20, OLD_SESSIONS)]
            base_size = c.scalar(text("SELECT pg_relation_size('sessions')"))
            url = f"{pg_url}?application_name={app_name}"
            process = start_import(url, folders["big"])

            def writing() -> bool:
                # Uncommitted new session rows are on disk (the table grew by more than a MB)
                # and the import's transaction has written (it holds a transaction id).
                size = c.scalar(text("SELECT pg_relation_size('sessions')"))
                writer = c.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n "
                        "AND backend_xid IS NOT NULL"
                    ),
                    {"n": app_name},
                )
                return size > base_size + 1_000_000 and writer == 1

            seconds = kill_when(process, writing, "the import writing sessions")
            report("PostgreSQL import killed mid-write after", seconds)
            # The server notices the dead client and rolls its transaction back.
            deadline = time.monotonic() + 15
            while c.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                {"n": app_name},
            ):
                assert time.monotonic() < deadline, "the killed import's backend lingers"
                time.sleep(0.05)
            assert snapshot(run) == before
    finally:
        watcher.dispose()


def test_import_killed_mid_write_leaves_the_old_data_on_sqlite(tmp_path, sqlite_template, folders):
    path = tmp_path / "killed.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    import_old(url, folders["old"])

    def run(sql: str) -> list[Any]:
        with contextlib.closing(sqlite3.connect(path)) as c:
            return c.execute(sql).fetchall()

    before = snapshot(run)
    assert before["counts"] == [(1, 40, 40, 20, OLD_SESSIONS)]
    wal = path.with_name(path.name + "-wal")
    process = start_import(url, folders["big"])

    def writing() -> bool:
        # The transaction's pages spill into the write-ahead log long before its commit.
        return wal.exists() and wal.stat().st_size > 4_000_000

    seconds = kill_when(process, writing, "the import writing into the WAL")
    report("SQLite import killed mid-write after", seconds)
    assert wal.stat().st_size > 4_000_000  # uncommitted frames left behind by the dead writer
    assert snapshot(run) == before


@pytest.mark.postgres
def test_concurrent_imports_of_the_same_rows_do_not_duplicate_on_postgresql(pg_url, folders):
    """Both imports read the (empty) tables, then both want to write. A lock held by the test
    on the first table they write makes them meet there every time, not only by chance."""
    names = ("polaris-import-a", "polaris-import-b")
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as watch, psycopg.connect(conninfo) as gate:
        gate.execute("LOCK TABLE operator IN SHARE MODE")  # reads pass, writes wait
        processes = [
            start_import(f"{pg_url}?application_name={n}", folders["small"]) for n in names
        ]
        try:
            start = time.monotonic()
            while True:
                rows = watch.execute(
                    "SELECT application_name, wait_event_type, query FROM pg_stat_activity "
                    "WHERE application_name = ANY(%s)",
                    [list(names)],
                ).fetchall()
                # At the write phase: waiting for a lock (the gate, or the other import), or
                # polling for the other import to finish.
                at_write = {n for n, wait, q in rows if wait == "Lock" or "advisory" in q}
                if at_write == set(names):
                    break
                for p in processes:
                    assert p.poll() is None, finish(p)
                assert time.monotonic() - start < 30, rows
                time.sleep(0.05)
        finally:
            gate.rollback()
        outcomes = [(p, *finish(p)) for p in processes]
    report("two concurrent imports, from start to both done", time.monotonic() - start)
    for process, _out, err in outcomes:
        assert process.returncode == 0, err
        assert "Traceback" not in err and "Error" not in err, err
    stdout = "".join(out for _, out, _ in outcomes)
    assert stdout.count("sessions.csv: 2000 added") == 1, stdout
    assert stdout.count("sessions.csv: 0 added, 0 updated, 2000 unchanged") == 1, stdout
    with psycopg.connect(conninfo) as c:
        counts = c.execute(SNAPSHOT_QUERIES["counts"]).fetchone()
    assert counts == (1, 40, 40, 20, 2000)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_concurrent_imports_of_the_same_rows_do_not_duplicate_on_sqlite(
    tmp_path, sqlite_template, folders
):
    """As on PostgreSQL: the test holds SQLite's write lock until both imports wait for it
    (neither uses CPU any more), so both have read the empty tables before either writes."""
    if not Path("/proc/self/stat").exists():
        skip_or_fail("needs /proc to see that both imports wait")
    path = tmp_path / "concurrent.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as gate:
        gate.execute("BEGIN IMMEDIATE")
        processes = [start_import(url, folders["small"]) for _ in range(2)]
        try:
            start = time.monotonic()
            last: list[int] = []
            still = 0
            while still < 10:  # one second without CPU: both sleep in SQLite's busy handler
                ticks = [cpu_ticks(p.pid) for p in processes]
                still = still + 1 if ticks == last else 0
                last = ticks
                for p in processes:
                    assert p.poll() is None, finish(p)
                assert time.monotonic() - start < 12, "the imports never waited for the lock"
                time.sleep(0.1)
        finally:
            gate.execute("ROLLBACK")
        outcomes = [(p, *finish(p)) for p in processes]
    for process, _out, err in outcomes:
        assert process.returncode == 0, err
        assert "Traceback" not in err and "Error" not in err, err
    stdout = "".join(out for _, out, _ in outcomes)
    assert stdout.count("sessions.csv: 2000 added") == 1, stdout
    with contextlib.closing(sqlite3.connect(path)) as c:
        counts = c.execute(SNAPSHOT_QUERIES["counts"]).fetchone()
    assert counts == (1, 40, 40, 20, 2000)
