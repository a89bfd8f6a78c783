"""``python -m bench.uptime --database-url URL``: uptime at fleet scale (issue 17).

On a database built by ``python -m bench build`` (5,000 chargers at the default scale), writes
a year of outages up to now for every charger, generated in SQL (the bench's previous outages
are replaced), then times what reads them, each ``--repeat`` times after one warm-up:

* ``data.uptime.monthly.monthly_uptime`` for every charger and the last twelve full months
  (typed rows);
* ``/export/uptime-monthly.csv`` for every charger and those months, as the route streams it
  (``export_chunks``: COPY on PostgreSQL), every byte read;
* one charger's twelve months (what a charger's page will ask);
* ``/export/outages.csv``, every outage (COPY);
* ``/admin/uptime``'s callbacks over HTTP (the app on the bench database), and the page.

The months that are over are stored first (``data.uptime.stored.fill_stored_months``, as the
OCPP server's sweep does), and the time that takes is printed.

Each figure is the wall time and, since this machine is often shared, the CPU time the database
backend (one connection: the pool holds one) and this process spent on it.

The outages, per charger (``--per-charger``, 100 by default): spread over the year, 80 % short
(1-20 min), 17 % hours (20 min-4 h), 3 % long (4 h-3 days), so long ones overlap later ones;
60 % ``offline``, the others ``out_of_order``; 8 % excluded (utility, natural disaster, vehicle,
vandalism). The first 100 chargers also go down together three times (a site-wide utility
outage, excluded), and every 50th charger is down now (an open ``offline`` outage).
Randomness is a hash of the row number, so every run writes the same outages for the same now.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import func, select

from bench.build import ADMIN_EMAIL, BENCH_OPERATOR, libpq_url, u
from data.charging.dashboard import operator_settings
from data.core.db import Database
from data.core.models import Charger, Operator
from data.exchange.export_stream import export_chunks
from data.exchange.exports import UPTIME_MONTHLY, ExportFilter, uptime_months
from data.uptime.monthly import monthly_uptime
from data.uptime.stored import fill_stored_months

TARGET_EXPORT_S = 2.0
TARGET_PAGE_MS = 300
SITE_CHARGERS = 100
SITE_OUTAGES = 3

_OUTAGES = f"""
WITH chargers AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM chargers
), generated AS (
    SELECT c.id AS charger_id, i,
           %(now)s - interval '365 days'
               + ((i / %(c)s::int) + {u("i", 1)}) * (interval '365 days' / %(per)s::int)
               AS started_at,
           CASE WHEN {u("i", 2)} < 0.80 THEN 60 + {u("i", 3)} * 1140
                WHEN {u("i", 2)} < 0.97 THEN 1200 + {u("i", 3)} * 13200
                ELSE 14400 + {u("i", 3)} * 244800 END * interval '1 second' AS lasted,
           {u("i", 4)} < 0.08 AS excluded,
           {u("i", 5)} AS pick
    FROM generate_series(0, %(c)s::int * %(per)s::int - 1) AS i
    JOIN chargers c ON c.n = i %% %(c)s::int
)
INSERT INTO outages (id, charger_id, started_at, ended_at, cause, excluded, note, kind)
SELECT 'out-' || lpad(i::text, 9, '0'), charger_id, started_at,
       LEAST(started_at + lasted, %(now)s - interval '1 second'),
       CASE WHEN excluded THEN (ARRAY['utility', 'natural_disaster', 'vehicle', 'vandalism'])
                               [1 + floor(pick * 4)::int]
            ELSE (ARRAY['unknown', 'unknown', 'maintenance', 'other'])[1 + floor(pick * 4)::int]
       END,
       excluded, NULL,
       CASE WHEN {u("i", 6)} < 0.6 THEN 'offline' ELSE 'out_of_order' END
FROM generated
WHERE started_at < %(now)s - interval '1 second'
"""

_SITE_OUTAGES = """
INSERT INTO outages (id, charger_id, started_at, ended_at, cause, excluded, note, kind)
SELECT 'site-' || k || '-' || c.id, c.id,
       %(now)s - (k * interval '97 days'), %(now)s - (k * interval '97 days') + interval '3 hours',
       'utility', true, 'Site-wide power cut (grid operator)', 'imported'
FROM (SELECT id FROM chargers ORDER BY id LIMIT %(site)s::int) AS c,
     generate_series(1, %(times)s::int) AS k
"""

_DOWN_NOW = f"""
INSERT INTO outages (id, charger_id, started_at, ended_at, cause, excluded, note, kind)
SELECT 'now-' || c.id, c.id, %(now)s - {u("c.n", 7)} * interval '2 days', NULL,
       'unknown', false, NULL, 'offline'
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM chargers) AS c
WHERE c.n %% 50 = 0
"""


def write_outages(url: str, per_charger: int, now: datetime) -> int:
    """Replace the bench's outages by a year of them up to ``now``; returns how many."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        chargers = conn.execute("SELECT count(*) FROM chargers").fetchone()[0]  # type: ignore[index]
        with conn.transaction():
            conn.execute("DELETE FROM outages")
            # Written behind the app's back: its stored figures are filled anew below.
            conn.execute("DELETE FROM charger_uptime_months")
            conn.execute("DELETE FROM uptime_months_filled")
            params = {"now": now, "c": chargers, "per": per_charger}
            conn.execute(_OUTAGES, params)
            conn.execute(_SITE_OUTAGES, {"now": now, "site": SITE_CHARGERS, "times": SITE_OUTAGES})
            conn.execute(_DOWN_NOW, {"now": now})
        conn.execute("VACUUM (ANALYZE) outages")  # index-only scans need the visibility map
        return conn.execute("SELECT count(*) FROM outages").fetchone()[0]  # type: ignore[index]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process on this machine (the database server's backend)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(what: str, repeat: int, run: Callable[[], str], backend: int) -> None:
    """One warm-up, then ``repeat`` timed runs: wall time p50 / p95 / max, and the CPU time
    p50 of the database backend and of this process (on a busy machine the wall time waits for
    a core; the CPU time is what the work costs), and what the run said."""
    said = run()
    wall, database, client = [], [], []
    for _ in range(repeat):
        started, db_cpu, own_cpu = time.perf_counter(), cpu_seconds(backend), time.process_time()
        said = run()
        wall.append(time.perf_counter() - started)
        database.append(cpu_seconds(backend) - db_cpu)
        client.append(time.process_time() - own_cpu)
    wall.sort()
    p95 = wall[min(len(wall) - 1, round(0.95 * (len(wall) - 1)))]
    db_ms, own_ms = statistics.median(database) * 1000, statistics.median(client) * 1000
    print(
        f"{what}: p50 {statistics.median(wall) * 1000:,.0f} ms, p95 {p95 * 1000:,.0f} ms, "
        f"max {wall[-1] * 1000:,.0f} ms; CPU p50: database {db_ms:,.0f} ms, this process "
        f"{own_ms:,.0f} ms ({said}; load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def open_bench(url: str) -> tuple[Database, int, ZoneInfo]:
    """A bench database (``python -m bench build``) on one connection, so its backend's CPU is
    the work measured; that backend's pid and the operator's time zone."""
    db = Database(url, statement_timeout_ms=0, pool_size=1, max_overflow=0)
    with db.session() as s:
        backend = s.scalar(select(func.pg_backend_pid()))
        assert backend is not None
        if s.scalar(select(Operator.name)) != BENCH_OPERATOR:
            raise SystemExit("Not a bench database (python -m bench build makes one).")
        return db, backend, operator_settings(s).tz


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.uptime", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--per-charger", type=int, default=100, help="outages a charger-year")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--keep", action="store_true", help="time the outages already there, write none"
    )
    args = parser.parse_args(argv)
    db, backend, tz = open_bench(args.database_url)
    with db.session() as s:
        some_charger = s.scalar(select(Charger.id).order_by(Charger.id).limit(1))
        assert some_charger is not None
    now = datetime.now(UTC).replace(microsecond=0)
    if not args.keep:
        started = time.perf_counter()
        count = write_outages(args.database_url, args.per_charger, now)
        print(f"wrote {count:,} outages in {time.perf_counter() - started:.1f} s", flush=True)
    with db.session() as s:  # what the OCPP server's sweep does once a month is over
        started = time.perf_counter()
        filled = fill_stored_months(s, tz, now)
    print(f"stored {filled} months' figures in {time.perf_counter() - started:.1f} s", flush=True)
    first, last = uptime_months(None, None, now, tz)
    print(f"months {first:%Y-%m} to {last:%Y-%m}, {tz.key}", flush=True)

    def typed(chargers: list[str] | None) -> Callable[[], str]:
        def run() -> str:
            with db.session() as s:
                rows = monthly_uptime(s, tz, first, last, now, chargers)
            below = sum(
                1 for r in rows if r.uptime_12m_percent is not None and r.uptime_12m_percent < 97
            )
            return f"{len(rows):,} rows, {below:,} below 97 % over twelve months"

        return run

    def exported(name: str, flt: ExportFilter) -> Callable[[], str]:
        def run() -> str:
            size = lines = 0
            for chunk in export_chunks(db, name, flt, tz):
                size += len(chunk)
                lines += chunk.count(b"\n")
            return f"{lines - 1:,} rows, {size / 1e6:.1f} MB"

        return run

    month_days = ExportFilter(first_day=first, last_day=last, as_of=now)
    runs = [
        ("monthly_uptime, every charger x 12 months", typed(None)),
        (
            f"/export/{UPTIME_MONTHLY}.csv, every charger x 12 months",
            exported(UPTIME_MONTHLY, month_days),
        ),
        ("monthly_uptime, one charger x 12 months", typed([some_charger])),
        ("/export/outages.csv, every outage", exported("outages", ExportFilter())),
    ]
    for what, run in runs:
        timed(what, args.repeat, run, backend)
    print(f"target: the uptime export <= {TARGET_EXPORT_S:.0f} s", flush=True)
    db.engine.dispose()
    page_figures(args.database_url, args.repeat, some_charger)


LABELS = {"pages": "router"}  # Dash pages' own callback


def page_figures(url: str, repeat: int, charger: str) -> None:
    """``/admin/uptime`` as the browser loads it (``bench.pages_bench.uptime_view``): its
    callbacks POSTed to the app (Flask's test client, signed in as the bench admin), each timed
    at the WSGI boundary, and the page (all of them in turn: a browser runs them at once, so
    this is the slowest case); apart, the charger dropdown's search as someone types part of a
    charger id."""
    from bench.pages_bench import page_keys, uptime_view
    from bench.run import Driver, bench_app, output_key, percentiles
    from bench.run import _in as given
    from components import uptime as ids

    app = bench_app(url)
    driver = Driver(app, ADMIN_EMAIL)
    driver.keys.update(page_keys(app))
    # The charger dropdown's search (the fleet callback sets its options too: a duplicate).
    driver.keys["search"] = output_key(app, ids.CHARGER_ID + ".options@")
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for n in range(repeat + 1):  # the first: a warm-up
        made = uptime_view(driver, charger)
        typed = driver.callback(  # what matches as someone types (not part of the page)
            "search",
            [given(ids.CHARGER_ID, "search_value", charger[:-2])],
            [given(ids.CHARGER_ID, "value", charger)],
        )
        if n:
            for call in (*made, typed):
                times.setdefault(call.name, []).append(call.ms)
                sizes[call.name] = call.response_bytes
            times.setdefault("page", []).append(sum(c.ms for c in made))
    for name, values in times.items():
        p = percentiles(values)
        size = f", {sizes[name] / 1000:,.0f} kB" if name in sizes else ""
        label = LABELS.get(name, name.removeprefix("uptime_"))
        print(
            f"/admin/uptime callback {label}: p50 {p['p50']:,.0f} ms, "
            f"p95 {p['p95']:,.0f} ms{size} (HTTP POST /_dash-update-component; "
            f"load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    print(f"target: /admin/uptime <= {TARGET_PAGE_MS} ms p95", flush=True)


if __name__ == "__main__":
    main()
