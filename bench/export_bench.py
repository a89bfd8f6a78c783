"""Benchmark: export N sessions from PostgreSQL through the real ``/export/sessions.csv`` and
``/export/sessions.parquet`` routes, against a bare ``COPY`` of the same rows by psql.

    .venv/bin/python bench/export_bench.py --database-url postgresql://root@127.0.0.1/bench \\
        --rows 1000000 [--server gunicorn|werkzeug] [--gzip] [--repeat 3] [--existing]

``--existing``: use the database as it is (any sessions table, e.g. run.py's shared bench
database; read only but for the API token, deleted afterwards); ``--rows`` is then not checked.
Each run: the bare COPY (``BARE_COPY``: the table's columns as PostgreSQL writes them, no
formatting, ``ORDER BY id``) read from psql's stdout, then the export's own COPY by psql (the
statement the route sends, from ``copy_sql``, values formatted: ``own_copy_sql``), then the CSV
route, then the Parquet route; the CSV's rows/s as a share of each COPY's in the same run. Bare
over own = what formatting in SQL costs; own over the CSV = what the Python path costs.

Builds the data if needed (in a database of its own: it refuses one that holds anything but
its own bench data), starts the app in a separate server process (gunicorn with one gthread
worker, as in production, or Werkzeug's threaded server), creates an API token for the bench
admin and downloads the export with ``Authorization: Bearer``, like ``curl`` would. Prints the
rows/s and the server process's memory: its RSS before the download and the peak (VmHWM, reset
just before via ``/proc/<pid>/clear_refs``) while it streamed. Targets (issue 6): over 500,000
rows/s with COPY, peak growth under 50 MB whatever the row count.

Not a test: timings depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from data.accounts.tokens import create_token  # noqa: E402
from data.audit.entries import COMMAND_LINE  # noqa: E402
from data.charging.dashboard import operator_settings  # noqa: E402
from data.core.db import Database, normalise_url, upgrade  # noqa: E402
from data.core.models import ApiToken, ChargingSession, Operator  # noqa: E402
from data.exchange.export_stream import copy_sql  # noqa: E402
from data.exchange.exports import export_statement, parse_filter  # noqa: E402

BENCH_OPERATOR = "Polaris export bench"
BENCH_ADMIN = "bench-admin@bench.example"
ACCOUNTS, CHARGERS = 1000, 200
TARGET_ROWS_PER_S = 1_000_000
TARGET_RATIO_TO_COPY = 0.9
TARGET_GROWTH_MB = 50
TARGET_PARQUET_PEAK_MB = 150
# The export's rows as they are stored: what PostgreSQL can send at best.
BARE_COPY = (
    "COPY (SELECT id, account_id, charger_id, started_at, ended_at, energy_kwh, finalized,"
    " tariff_id, currency, cost_energy, cost_time, cost_fee, cost_total, vat_amount"
    " FROM sessions ORDER BY id) TO STDOUT WITH (FORMAT csv)"
)


# --- Data ----------------------------------------------------------------------------------------


def build(db: Database, rows: int) -> None:
    """The bench operator, 1,000 customer accounts, 200 chargers and exactly ``rows`` sessions
    (generated in SQL: a million rows take a few seconds)."""
    if db.dialect != "postgresql":
        raise SystemExit("The benchmark is for PostgreSQL (COPY); give a postgresql:// URL.")
    upgrade(db.engine)
    with db.session() as s:
        operator = s.scalar(select(Operator.name))
        if operator is None:
            if s.scalar(select(func.count()).select_from(ChargingSession)):
                raise SystemExit("This database holds sessions but no operator: not a bench one.")
            _seed(s)
        elif operator != BENCH_OPERATOR:
            raise SystemExit(f"This database belongs to {operator!r}; use a database of its own.")
        have = s.scalar(select(func.count()).select_from(ChargingSession)) or 0
    if have == rows:
        print(f"data: {rows:,} sessions already there", flush=True)
        return
    started = time.perf_counter()
    with db.session() as s:
        s.execute(text("DELETE FROM sessions"))
        s.execute(
            text(
                """
                INSERT INTO sessions (id, account_id, charger_id, started_at, ended_at,
                                      energy_kwh, finalized)
                SELECT 'S' || lpad(i::text, 9, '0'),
                       'acc-' || lpad((1 + i % :accounts)::text, 5, '0'),
                       'ch-' || lpad((1 + i % :chargers)::text, 4, '0'),
                       ts, CASE WHEN i % 997 = 0 THEN NULL ELSE ts + interval '47 minutes' END,
                       round(((i::bigint * 7919) % 80000) / 1000.0, 3), i % 997 <> 0 AND i % 13 <> 0
                FROM (SELECT i, timestamptz '2024-01-01 00:00:00+00'
                                + i * interval '53 seconds'
                                + (i % 1000) * interval '1 microsecond' AS ts
                      FROM generate_series(1, :rows) AS i) AS g
                """
            ),
            {"rows": rows, "accounts": ACCOUNTS, "chargers": CHARGERS},
        )
    with db.engine.connect() as c:
        c.execute(text("ANALYZE sessions"))
        c.commit()
    print(f"data: {rows:,} sessions built in {time.perf_counter() - started:.1f} s", flush=True)


def _seed(session: Session) -> None:
    session.execute(
        text(
            "INSERT INTO operator (id, name, support_email, timezone, currency)"
            " VALUES (1, :name, NULL, 'Europe/Berlin', 'EUR')"
        ),
        {"name": BENCH_OPERATOR},
    )
    session.execute(
        text(
            """
            INSERT INTO users (email, display_name)
            SELECT 'driver' || i || '@bench.example', 'Driver ' || i
            FROM generate_series(1, :n) AS i
            """
        ),
        {"n": ACCOUNTS},
    )
    session.execute(
        text(
            "INSERT INTO accounts (id, user_id, role)"
            " SELECT 'acc-' || lpad(id::text, 5, '0'), id, 'customer' FROM users"
        )
    )
    session.execute(
        text("INSERT INTO users (email, display_name) VALUES (:e, 'Bench Admin')"),
        {"e": BENCH_ADMIN},
    )
    session.execute(
        text(
            "INSERT INTO accounts (id, user_id, role)"
            " SELECT 'acc-bench-admin', id, 'admin' FROM users WHERE email = :e"
        ),
        {"e": BENCH_ADMIN},
    )
    session.execute(
        text(
            """
            INSERT INTO chargers (id, friendly_name, connector_type, max_power_kw, visibility,
                                  last_seen_at)
            SELECT 'ch-' || lpad(i::text, 4, '0'), 'Bay ' || i, 'CCS', 150, 'public', now()
            FROM generate_series(1, :n) AS i
            """
        ),
        {"n": CHARGERS},
    )


# --- The server process --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_urlsafe(48),
        POLARIS_DEMO="0",
        POLARIS_INSTANCE=tempfile.mkdtemp(prefix="polaris-bench-"),
    )
    if kind == "gunicorn":
        gunicorn = Path(sys.executable).with_name("gunicorn")
        command = [
            str(gunicorn),
            "--workers=1",
            "--worker-class=gthread",
            "--threads=4",
            "--timeout=600",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
            "app:server",
        ]
    else:
        command = [sys.executable, __file__, "--serve", str(port)]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def serve(port: int) -> None:
    """``--serve PORT``: Werkzeug's threaded server around ``create_app()`` (from env)."""
    from werkzeug.serving import make_server

    from app import create_app

    make_server("127.0.0.1", port, create_app(), threaded=True).serve_forever()


def wait_until_up(port: int, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server process exited while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def worker_pid(process: subprocess.Popen[bytes], kind: str) -> int:
    """The process that serves requests: gunicorn's one worker, or the Werkzeug process."""
    if kind != "gunicorn":
        return process.pid
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    if len(children) != 1:
        raise SystemExit(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class RssSampler(threading.Thread):
    """The highest VmRSS seen every few milliseconds (in case clear_refs is not allowed)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))
            time.sleep(0.005)


# --- One download --------------------------------------------------------------------------------


def download(port: int, path: str, token: str, use_gzip: bool) -> tuple[int, int, float, float]:
    """(rows, bytes received, seconds to the first byte, seconds in all)."""
    headers = {"Authorization": f"Bearer {token}"}
    if use_gzip:
        headers["Accept-Encoding"] = "gzip"
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"{path}: {response.status} {response.read()[:300]!r}")
    first_byte = 0.0
    lines = size = 0
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if use_gzip else None
    while block := response.read1(1 << 20):
        if not first_byte:
            first_byte = time.perf_counter() - started
        size += len(block)
        if inflate is not None:
            block = inflate.decompress(block)
        lines += block.count(b"\n")
    elapsed = time.perf_counter() - started
    conn.close()
    return lines - 1, size, first_byte, elapsed


def download_parquet(port: int, path: str, token: str) -> tuple[int, int, float, float]:
    """(rows, bytes received, seconds to the first byte, seconds in all); rows from the file's
    footer once it is whole (the client keeps the file on disk, not in memory)."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"{path}: {response.status} {response.read()[:300]!r}")
    first_byte = 0.0
    size = 0
    with tempfile.TemporaryFile() as file:
        while block := response.read1(1 << 20):
            if not first_byte:
                first_byte = time.perf_counter() - started
            size += len(block)
            file.write(block)
        elapsed = time.perf_counter() - started
        conn.close()
        file.seek(0)
        rows = pq.ParquetFile(file).metadata.num_rows
    return rows, size, first_byte, elapsed


def own_copy_sql(url: str) -> str:
    """The COPY statement ``/export/sessions.csv`` sends for all rows (``copy_sql``), its
    parameters merged in as the route merges them."""
    import psycopg

    db = Database(normalise_url(url))
    try:
        with db.session() as s:
            tz = operator_settings(s).tz
            flt = parse_filter("sessions", {}, datetime.now(UTC), tz)
            stmt = export_statement(s, "sessions", flt, tz)
            assert stmt is not None
            sql, params = copy_sql(s, stmt)
            raw = s.connection().connection.dbapi_connection
            assert isinstance(raw, psycopg.Connection)
            query = psycopg.ClientCursor(raw).mogrify(sql, params)
    finally:
        db.engine.dispose()
    return query


# The session settings the export sets for its own COPY (export_stream._postgres_chunks).
OWN_COPY_OPTIONS = "-c datestyle=ISO,YMD -c jit=off"


def bare_copy(url: str, sql: str = BARE_COPY, options: str | None = None) -> dict[str, Any]:
    """``sql`` (a ``COPY ... TO STDOUT``; ``BARE_COPY`` by default) by psql, its stdout read and
    its lines counted here (as the HTTP client counts the CSV's); ``options``: PGOPTIONS."""
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    started = time.perf_counter()
    env = dict(os.environ, PGOPTIONS=options) if options else None
    process = subprocess.Popen(
        ["psql", libpq, "-X", "-q", "-c", sql], stdout=subprocess.PIPE, bufsize=0, env=env
    )
    assert process.stdout is not None
    lines = size = 0
    while block := process.stdout.read(1 << 20):
        size += len(block)
        lines += block.count(b"\n")
    if process.wait() != 0:
        raise SystemExit("psql's COPY failed")
    elapsed = time.perf_counter() - started
    return {"rows": lines, "seconds": round(elapsed, 2), "rows_per_s": round(lines / elapsed)}


def measured(port: int, pid: int, path: str, token: str, use_gzip: bool = False) -> dict[str, Any]:
    """One download of ``path`` (``.csv`` or ``.parquet``) with the worker's memory: its RSS
    before and the peak (VmHWM, reset just before via ``/proc/<pid>/clear_refs``, and sampled)."""
    before_kb = status_kb(pid, "VmRSS")
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to VmRSS
        hwm_reset = True
    except OSError:
        hwm_reset = False
    sampler = RssSampler(pid)
    sampler.start()
    if path.split("?")[0].endswith(".parquet"):
        rows, size, first, elapsed = download_parquet(port, path, token)
    else:
        rows, size, first, elapsed = download(port, path, token, use_gzip)
    sampler.running = False
    sampler.join()
    peak_kb = max(sampler.peak_kb, status_kb(pid, "VmHWM") if hwm_reset else 0)
    return {
        "rows": rows,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(elapsed, 2),
        "first_byte_ms": round(first * 1000),
        "rows_per_s": round(rows / elapsed),
        "rss_before_mb": round(before_kb / 1024, 1),
        "peak_mb": round(peak_kb / 1024, 1),
        "growth_mb": round((peak_kb - before_kb) / 1024, 1),
    }


def compare(
    url: str, port: int, pid: int, token: str, use_gzip: bool = False, parquet: bool = True
) -> dict[str, Any]:
    """One round: the bare COPY, the export's own COPY, ``/export/sessions.csv`` and
    ``/export/sessions.parquet``, all rows; the CSV's figures at the top level (as before), the
    others under ``copy``, ``own_copy`` and ``parquet``; ``ratio_to_copy`` (CSV rows/s over the
    bare COPY's) and ``ratio_to_own_copy`` (over the own COPY's)."""
    copy = bare_copy(url)
    own = bare_copy(url, own_copy_sql(url), OWN_COPY_OPTIONS)
    csv = measured(port, pid, "/export/sessions.csv", token, use_gzip)
    file = measured(port, pid, "/export/sessions.parquet", token) if parquet else None
    if not copy["rows"] == own["rows"] == csv["rows"] == (file or csv)["rows"]:
        raise SystemExit(
            f"rows differ: COPY {copy['rows']}, own COPY {own['rows']}, CSV {csv['rows']}, {file}"
        )
    return {
        **csv,
        "copy_rows_per_s": copy["rows_per_s"],
        "ratio_to_copy": round(csv["rows_per_s"] / copy["rows_per_s"], 2),
        "own_copy_rows_per_s": own["rows_per_s"],
        "ratio_to_own_copy": round(csv["rows_per_s"] / own["rows_per_s"], 2),
        "own_copy_to_copy": round(own["rows_per_s"] / copy["rows_per_s"], 2),
        "copy": copy,
        "own_copy": own,
        "parquet": file,
    }


def describe(r: dict[str, Any]) -> str:
    """One round's figures on a few lines."""
    p = r["parquet"]
    text = (
        f"  bare COPY (psql): {r['copy']['rows']:,} rows in {r['copy']['seconds']} s: "
        f"{r['copy_rows_per_s']:,} rows/s\n"
        f"  own COPY (psql, the route's SQL): {r['own_copy']['seconds']} s: "
        f"{r['own_copy_rows_per_s']:,} rows/s = {r['own_copy_to_copy']} of the bare COPY\n"
        f"  sessions.csv: {r['megabytes']:,} MB in {r['seconds']} s (first byte "
        f"{r['first_byte_ms']} ms): {r['rows_per_s']:,} rows/s = {r['ratio_to_copy']} of the "
        f"bare COPY, {r['ratio_to_own_copy']} of the own COPY; worker RSS {r['rss_before_mb']} "
        f"MB before, peak {r['peak_mb']} MB "
        f"(growth {r['growth_mb']} MB)"
    )
    if p is None:
        return text
    return text + (
        f"\n  sessions.parquet: {p['megabytes']:,} MB in {p['seconds']} s (first byte "
        f"{p['first_byte_ms']} ms): {p['rows_per_s']:,} rows/s; worker RSS {p['rss_before_mb']} "
        f"MB before, peak {p['peak_mb']} MB (growth {p['growth_mb']} MB)"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--gzip", action="store_true", help="ask for Content-Encoding: gzip")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument("--existing", action="store_true", help="do not build: use the data")
    parser.add_argument("--admin", default=BENCH_ADMIN, help="the admin whose token downloads")
    parser.add_argument("--no-parquet", action="store_true", help="the COPY and the CSV only")
    args = parser.parse_args()

    url = normalise_url(args.database_url)
    db = Database(url, statement_timeout_ms=600_000)
    if not args.existing:
        build(db, args.rows)
    with db.session() as s:
        token = create_token(
            s, args.admin, datetime.now(UTC), name="export bench", actor=COMMAND_LINE
        )
    db.engine.dispose()

    port = free_port()
    process = start_server(args.server, url, port)
    try:
        wait_until_up(port, process)
        pid = worker_pid(process, args.server)
        # Warm up: imports, the pool's first connection, the statement compilation.
        download(port, "/export/sessions.csv?to=1970-01-01", token.secret, args.gzip)
        if not args.no_parquet:
            download_parquet(port, "/export/sessions.parquet?to=1970-01-01", token.secret)
        print(
            f"server: {args.server} (pid {pid}), CPUs: {os.cpu_count()}, "
            f"load average: {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        results = []
        for attempt in range(1, args.repeat + 1):
            r = compare(url, port, pid, token.secret, args.gzip, parquet=not args.no_parquet)
            if not args.existing and r["rows"] != args.rows:
                raise SystemExit(f"expected {args.rows:,} rows, got {r['rows']:,}")
            results.append(r)
            print(f"run {attempt} (load average {os.getloadavg()[0]:.1f}):", flush=True)
            print(describe(r), flush=True)
        best = max(r["rows_per_s"] for r in results)
        ratio = max(r["ratio_to_copy"] for r in results)
        own_ratio = max(r["ratio_to_own_copy"] for r in results)
        growth = max(r["growth_mb"] for r in results)
        files = [r["parquet"] for r in results if r["parquet"]]
        parquet_peak = max((p["peak_mb"] for p in files), default=0)
        parquet_best = max((p["rows_per_s"] for p in files), default=0)
        print(
            f"best: CSV {best:,} rows/s (target >= {TARGET_ROWS_PER_S:,}: "
            f"{'met' if best >= TARGET_ROWS_PER_S else 'NOT met'}), "
            f"{ratio} of the bare COPY (target >= {TARGET_RATIO_TO_COPY}: "
            f"{'met' if ratio >= TARGET_RATIO_TO_COPY else 'NOT met'}), "
            f"{own_ratio} of its own COPY; "
            f"largest CSV memory growth {growth:,.1f} MB (target < {TARGET_GROWTH_MB} MB); "
            f"Parquet: {parquet_best:,} rows/s, "
            f"largest peak RSS {parquet_peak} MB (target <= {TARGET_PARQUET_PEAK_MB} MB: "
            f"{'met' if parquet_peak <= TARGET_PARQUET_PEAK_MB else 'NOT met'})"
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        db = Database(url)
        with db.session() as s:  # the bench's token is of no use to anybody afterwards
            s.execute(delete(ApiToken).where(ApiToken.id == token.token_id))
        db.engine.dispose()


if __name__ == "__main__":
    main()
