"""Load on the OCPP 1.6J central system: N simulated chargers sending heartbeats and meter values.

    python -m bench.ocpp_load --chargers 1000 --seconds 30

Builds a fresh PostgreSQL database (``--database-url``, default: a database ``polaris_bench_ocpp``
on the ``POLARIS_TEST_POSTGRES_URL`` server) with N chargers and one id tag, starts the central
system in a child process (its own CPU and event loop, as in production), connects N chargers
from this process through the ``ocpp`` client classes, starts one transaction on each, then for
``--seconds`` every charger sends a MeterValues and a Heartbeat every ``--interval`` seconds.

Prints: messages/s handled by the central system during the measured window, its handling
latency (message received to answer sent, including the database transaction) p50/p95/p99,
and the chargers' round-trip latency p95 as they saw it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from central.server import CentralSystem, bound_port
from central.simulator import SimulatedCharger, connect_charger
from data.core.db import Database, normalise_url, upgrade
from data.core.models import (
    Account,
    Charger,
    ChargingSession,
    ConnectorType,
    IdTag,
    Role,
    User,
    Visibility,
)

BENCH_DB = "polaris_bench_ocpp"
TAG = "LOAD-TAG-1"
ACCOUNT = "ACC-LOAD"


def _default_url() -> str:
    server = os.environ.get("POLARIS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
    return server.rsplit("/", 1)[0] + "/" + BENCH_DB


def charger_ids(count: int) -> list[str]:
    return [f"LOAD-{i:05d}" for i in range(1, count + 1)]


def fresh_database(url: str) -> None:
    """An empty database at ``url``: a PostgreSQL one dropped (whoever is connected) and created
    again, a SQLite file removed."""
    drop_database(url)
    if make_url(normalise_url(url)).get_backend_name() == "postgresql":
        with _maintenance(url) as (c, name):
            c.execute(text(f'CREATE DATABASE "{name}"'))


def drop_database(url: str) -> None:
    """Drop the database at ``url`` (PostgreSQL, whoever is connected) or its SQLite files."""
    target = make_url(normalise_url(url))
    if target.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.database}{suffix}").unlink(missing_ok=True)
        return
    with _maintenance(url) as (c, name):
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _maintenance(url: str) -> Iterator[tuple[Any, str]]:
    """An autocommit connection to the server's ``postgres`` database, and the name of ours."""
    target = make_url(normalise_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            yield c, str(target.database)
    finally:
        admin.dispose()


def build_database(url: str, chargers: int) -> None:
    """A fresh database with ``chargers`` public chargers and one driver with tag ``TAG``."""
    url = normalise_url(url)
    fresh_database(url)
    db = Database(url)
    upgrade(db.engine)
    with db.session() as s:
        user = User(email="load@polaris.example", display_name="Load Driver")
        s.add(user)
        s.flush()
        s.add(Account(id=ACCOUNT, user_id=user.id, role=Role.customer))
        s.flush()
        s.add(IdTag(id_tag=TAG, account_id=ACCOUNT))
        s.execute(
            insert(Charger),
            [
                {
                    "id": cid,
                    "friendly_name": f"Load {cid}",
                    "connector_type": ConnectorType.type2,
                    "max_power_kw": Decimal("22"),
                    "visibility": Visibility.public,
                }
                for cid in charger_ids(chargers)
            ],
        )
    db.engine.dispose()


# --- the central system, in a child process ------------------------------------------------


def _serve(url: str, db_threads: int, conn: Connection) -> None:
    asyncio.run(_serve_async(url, db_threads, conn))


async def _serve_async(url: str, db_threads: int, conn: Connection) -> None:
    db = Database(url, pool_size=db_threads, max_overflow=0)
    central = CentralSystem(db, heartbeat_interval_s=300, db_threads=db_threads)
    loop = asyncio.get_running_loop()
    cpu_at_reset = time.process_time()
    async with central.running("127.0.0.1", 0, reservations=False) as server:
        conn.send(bound_port(server))
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "reset":
                central.stats.handled = central.stats.errors = 0
                central.stats.latencies_s.clear()
                cpu_at_reset = time.process_time()
                conn.send("ok")
            elif command == "report":
                stats = central.stats
                conn.send(
                    {
                        "handled": stats.handled,
                        "errors": stats.errors,
                        "p50_ms": stats.percentile_ms(0.50),
                        "p95_ms": stats.percentile_ms(0.95),
                        "p99_ms": stats.percentile_ms(0.99),
                        "connected": len(central.connected),
                        "cpu_s": time.process_time() - cpu_at_reset,
                    }
                )
            else:
                break
    central.close()
    db.engine.dispose()


# --- the chargers, in this process ---------------------------------------------------------


@dataclass
class Load:
    round_trips_s: list[float] = field(default_factory=list)
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    stop_at: float = 0.0


async def _timed(load: Load, call: Any) -> Any:
    began = time.perf_counter()
    result = await call
    load.round_trips_s.append(time.perf_counter() - began)
    load.sent += 1
    return result


async def _charger(
    url: str,
    charger_id: str,
    interval_s: float,
    load: Load,
    connect_slots: asyncio.Semaphore,
    ready: list[int],
) -> None:
    try:
        async with connect_slots:
            cm = connect_charger(url, charger_id, response_timeout_s=60)
            charger: SimulatedCharger = await cm.__aenter__()
        try:
            charger.skip_validation = True  # the load generator's CPU goes to sending
            await charger.boot()
            tx, _status = await charger.start_transaction(TAG, meter_start_wh=0)
            ready.append(1)
            await load.started.wait()
            # Spread the chargers over the interval, as real ones are.
            await asyncio.sleep(random.uniform(0, interval_s))  # noqa: S311 - not security
            register = 0
            while time.perf_counter() < load.stop_at:
                register += random.randint(5, 30)  # noqa: S311 - a few Wh per interval
                # With its power, as real chargers sample it (the peak rides the same UPDATE).
                power_kw = round(random.uniform(5, 7.4), 2)  # noqa: S311
                await _timed(load, charger.meter(tx, register, power_kw=power_kw))
                await _timed(load, charger.heartbeat())
                await asyncio.sleep(interval_s)
        finally:
            await cm.__aexit__(None, None, None)
    except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
        load.failures.append(f"{charger_id}: {exc.__class__.__name__}: {exc}"[:200])


async def _drive(
    url: str, chargers: int, seconds: float, interval_s: float, conn: Connection | None
):
    load = Load()
    ready: list[int] = []
    slots = asyncio.Semaphore(50)  # handshakes in flight
    began = time.perf_counter()
    tasks = [
        asyncio.create_task(_charger(url, cid, interval_s, load, slots, ready))
        for cid in charger_ids(chargers)
    ]
    while len(ready) + len(load.failures) < chargers:
        await asyncio.sleep(0.2)
    connect_s = time.perf_counter() - began
    if conn is not None:
        await asyncio.get_running_loop().run_in_executor(None, _ask, conn, "reset")
    window_began = time.perf_counter()
    load.stop_at = window_began + seconds
    load.round_trips_s.clear()
    load.sent = 0
    load.started.set()
    await asyncio.sleep(seconds)
    server = None
    if conn is not None:
        server = await asyncio.get_running_loop().run_in_executor(None, _ask, conn, "report")
    window_s = time.perf_counter() - window_began
    await asyncio.gather(*tasks)
    return load, server, window_s, connect_s, len(ready)


def _ask(conn: Connection, command: str) -> Any:
    conn.send(command)
    return conn.recv()


def _p(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ocpp_load", description=__doc__)
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--interval", type=float, default=5, help="seconds between a charger's message pairs (5)"
    )
    parser.add_argument("--database-url", default=_default_url())
    parser.add_argument("--db-threads", type=int, default=8, help="central system DB threads")
    parser.add_argument(
        "--url",
        help="use this running central system (ws://HOST:PORT/ocpp) on --database-url instead "
        "of starting one; only the chargers' figures are measured then",
    )
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgresql", "postgres:")):
        parser.error("the load benchmark runs on PostgreSQL (--database-url postgresql://...)")

    print(f"Building {args.database_url} with {args.chargers} chargers...", flush=True)
    build_database(args.database_url, args.chargers)
    if args.url:
        print(f"Using the central system at {args.url}; connecting chargers...", flush=True)
        load, stats, window_s, connect_s, connected = asyncio.run(
            _drive(args.url, args.chargers, args.seconds, args.interval, None)
        )
    else:
        parent, child = mp.get_context("spawn").Pipe()
        server = mp.get_context("spawn").Process(
            target=_serve, args=(args.database_url, args.db_threads, child), daemon=True
        )
        server.start()
        url = f"ws://127.0.0.1:{parent.recv()}/ocpp"
        print(f"Central system on {url} (pid {server.pid}); connecting chargers...", flush=True)
        try:
            load, stats, window_s, connect_s, connected = asyncio.run(
                _drive(url, args.chargers, args.seconds, args.interval, parent)
            )
        finally:
            parent.send("stop")
            server.join(timeout=30)

    db = Database(args.database_url)
    with db.session() as s:
        open_sessions = len(
            s.scalars(select(ChargingSession.id).where(ChargingSession.ended_at.is_(None))).all()
        )
    db.engine.dispose()
    offered = 2 * connected / args.interval
    print()
    print(
        f"date                      {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs"
    )
    print(f"chargers connected        {connected} of {args.chargers} in {connect_s:.1f} s")
    print(f"open sessions in the DB   {open_sessions}")
    print(f"measured window           {window_s:.1f} s")
    print(f"offered load              {offered:.0f} messages/s (MeterValues + Heartbeat)")
    if stats is None:
        answered = load.sent / window_s if window_s else 0.0
        print(f"messages answered         {load.sent} ({answered:.0f}/s; server figures: n/a)")
    else:
        rate = stats["handled"] / window_s if window_s else 0.0
        print(f"messages handled          {stats['handled']} ({stats['errors']} errors)")
        print(f"messages/s handled        {rate:.0f}")
        print(
            f"handling latency (server) p50 {stats['p50_ms']:.1f} ms, "
            f"p95 {stats['p95_ms']:.1f} ms, p99 {stats['p99_ms']:.1f} ms"
        )
        if stats["handled"]:
            cpu_ms = stats["cpu_s"] * 1000 / stats["handled"]
            print(f"central system CPU        {stats['cpu_s']:.1f} s, {cpu_ms:.2f} ms per message")
    if load.round_trips_s:
        print(
            f"round trip (chargers)     p50 {_p(load.round_trips_s, 0.5):.1f} ms, "
            f"p95 {_p(load.round_trips_s, 0.95):.1f} ms, "
            f"mean {statistics.fmean(load.round_trips_s) * 1000:.1f} ms"
        )
    if load.failures:
        print(f"charger failures          {len(load.failures)}, e.g. {load.failures[0]}")


if __name__ == "__main__":
    main()
