"""Throughput through the balancer (issue 19): the OCPP servers, and the app behind HAProxy.

    python -m bench balancer [--chargers 5000] [--seconds 30] [--interval 10]
                             [--database-url postgresql://.../polaris_bench] [--users 16]
                             [--web-seconds 20] [--skip ocpp|web] [--json FILE]

OCPP part: a throwaway PostgreSQL database (``polaris_bench_balancer`` on the
``POLARIS_TEST_POSTGRES_URL`` server unless ``--ocpp-database-url`` says otherwise; dropped at
the end) with N chargers; two OCPP servers, each a process of its own as in production
(``flask --app app ocpp-server --port P``); N simulated chargers in this process
(``central.simulator`` under asyncio, charger ``i`` on server ``i % 2``) connect, boot and start a
transaction, then for ``--seconds`` each sends MeterValues, Heartbeat and StatusNotification
every ``--interval`` seconds (spread over the interval). Figures: messages/s handled by both
servers, each server's handling latency p50/p95 (message received to answer sent, from the
server's own counters: SIGUSR1 makes an ``ocpp-server`` print them and start over), errors, CPU
seconds of each server, of PostgreSQL's backends and of this process (the chargers: on a small
machine they compete with the servers for the same cores).

Web part: the app behind HAProxy (``deploy.local.Stack``), with one app instance then two, on the
bench database (``bench build``; only read, logins heavy@/light@/driver<k>@bench.example):
``--users`` simulated drivers replay page views (layout, router, banner + menu + render) each
followed by two interval ticks, as ``bench run``'s throughput does (``bench.run._drive``), against
the balancer's URL. Figures per instance count: loads/s, ticks/s, p50/p95 of each, failed
requests, CPU seconds of each app instance and HAProxy.

Not a test: timings depend on the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import export_bench
from bench.command_latency import _cpu_s, _stop, start_ocpp_server, wait_for_port
from bench.ocpp_load import TAG, build_database, charger_ids, drop_database
from bench.run import HEAVY_EMAIL, LIGHT_EMAIL, _drive, bench_app, percentiles, print_rows
from central.server import STATS_PREFIX
from central.simulator import SimulatedCharger, connect_charger
from data.core.db import Database, normalise_url

OCPP_DB = "polaris_bench_balancer"
INSTANCES = 2
MESSAGES = ("MeterValues", "Heartbeat", "StatusNotification")  # one of each per interval
# Every row the command prints (tests/test_bench.py checks them).
OCPP_ROWS = (
    "date",
    "ocpp: setup",
    "ocpp: offered load",
    "ocpp: messages/s handled",
    "ocpp: handling latency",
    "ocpp: round trip (chargers)",
    "ocpp: errors",
    "ocpp: CPU",
)
WEB_ROWS = ("web: setup", "web: loads/s", "web: ticks/s", "web: failed requests", "web: CPU")


def default_ocpp_url() -> str:
    server = os.environ.get("POLARIS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
    return server.rsplit("/", 1)[0] + "/" + OCPP_DB


def _raise_open_files(wanted: int) -> None:
    """Every charger is a socket here and one in a server: lift the soft limit (the servers,
    started later, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def _own_cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


# --- OCPP: the chargers, in this process ----------------------------------------------------------


@dataclass
class Fleet:
    round_trips_s: list[float] = field(default_factory=list)
    sent: int = 0
    errors: list[str] = field(default_factory=list)  # failed calls, in the measured window
    failures: list[str] = field(default_factory=list)  # chargers that did not connect or start
    started: asyncio.Event = field(default_factory=asyncio.Event)
    stop_at: float = 0.0


async def _call(fleet: Fleet, name: str, call: Any) -> None:
    began = time.perf_counter()
    try:
        await call
    except Exception as exc:  # noqa: BLE001 - counted and reported, the charger goes on
        fleet.errors.append(f"{name}: {exc.__class__.__name__}: {exc}"[:200])
        return
    fleet.round_trips_s.append(time.perf_counter() - began)
    fleet.sent += 1


async def _charger(
    url: str,
    charger_id: str,
    interval_s: float,
    fleet: Fleet,
    slots: asyncio.Semaphore,
    ready: list[str],
) -> None:
    try:
        async with slots:
            cm = connect_charger(url, charger_id, response_timeout_s=60)
            charger: SimulatedCharger = await cm.__aenter__()
        try:
            charger.skip_validation = True  # this process's CPU goes to sending
            await charger.boot()
            tx, _status = await charger.start_transaction(TAG, meter_start_wh=0)
            await charger.status("Charging")
            ready.append(charger_id)
            await fleet.started.wait()
            await asyncio.sleep(random.uniform(0, interval_s))  # noqa: S311 - spread, not security
            register = 0
            while time.perf_counter() < fleet.stop_at:
                register += random.randint(5, 30)  # noqa: S311 - a few Wh per interval
                power_kw = round(random.uniform(5, 7.4), 2)  # noqa: S311
                await _call(fleet, "MeterValues", charger.meter(tx, register, power_kw=power_kw))
                await _call(fleet, "Heartbeat", charger.heartbeat())
                await _call(fleet, "StatusNotification", charger.status("Charging"))
                await asyncio.sleep(interval_s)
        finally:
            await cm.__aexit__(None, None, None)
    except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
        fleet.failures.append(f"{charger_id}: {exc.__class__.__name__}: {exc}"[:200])


class Servers:
    """The OCPP server processes: their counters (SIGUSR1, read from their logs) and CPU."""

    def __init__(self, pids: list[int], logs: list[Path]) -> None:
        self.pids, self.logs = pids, logs

    def _lines(self, k: int) -> list[str]:
        return [
            line
            for line in self.logs[k].read_text(errors="replace").splitlines()
            if line.startswith(STATS_PREFIX)
        ]

    def take(self) -> list[dict[str, Any]]:
        """Each server's figures since the last ``take`` (and they start over)."""
        seen = [len(self._lines(k)) for k in range(len(self.pids))]
        for pid in self.pids:
            os.kill(pid, signal.SIGUSR1)
        out = []
        deadline = time.monotonic() + 30
        for k in range(len(self.pids)):
            while len(lines := self._lines(k)) <= seen[k]:
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench balancer: OCPP server {k} did not print its figures")
                time.sleep(0.05)
            out.append(json.loads(lines[seen[k]].removeprefix(STATS_PREFIX)))
        return out

    def cpu_s(self) -> list[float]:
        return [_cpu_s(pid) or 0.0 for pid in self.pids]


def _postgres_cpu_s(db: Database) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend on the database (the server is local)."""
    with db.session() as s:
        pids = list(
            s.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        )
    return {pid: cpu for pid in pids if (cpu := _cpu_s(pid)) is not None}


async def _drive_chargers(
    urls: list[str],
    chargers: int,
    seconds: float,
    interval_s: float,
    servers: Servers,
    db: Database,
    haproxy_pid: int | None = None,
) -> dict[str, Any]:
    fleet = Fleet()
    ready: list[str] = []
    slots = asyncio.Semaphore(50)  # handshakes in flight
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    tasks = [
        asyncio.create_task(_charger(urls[i % len(urls)], cid, interval_s, fleet, slots, ready))
        for i, cid in enumerate(charger_ids(chargers))
    ]
    while len(ready) + len(fleet.failures) < chargers:
        await asyncio.sleep(0.2)
    connect_s = time.perf_counter() - began
    await loop.run_in_executor(None, servers.take)  # start the servers' counts over
    cpu_before = (servers.cpu_s(), await loop.run_in_executor(None, _postgres_cpu_s, db))
    own_before = _own_cpu_s()
    haproxy_before = (_cpu_s(haproxy_pid) or 0.0) if haproxy_pid else 0.0
    window_began = time.perf_counter()
    fleet.stop_at = window_began + seconds
    fleet.started.set()
    await asyncio.sleep(seconds)
    stats = await loop.run_in_executor(None, servers.take)
    window_s = time.perf_counter() - window_began
    own_s = _own_cpu_s() - own_before
    haproxy_s = (_cpu_s(haproxy_pid) or 0.0) - haproxy_before if haproxy_pid else None
    pg_after = await loop.run_in_executor(None, _postgres_cpu_s, db)
    server_cpu = [a - b for a, b in zip(servers.cpu_s(), cpu_before[0], strict=True)]
    pg_s = sum(cpu - cpu_before[1].get(pid, 0.0) for pid, cpu in pg_after.items())
    errors_in_window = len(fleet.errors)
    await asyncio.gather(*tasks)
    handled = sum(int(s["handled"]) for s in stats)
    return {
        "chargers": chargers,
        "connected": len(ready),
        "connect_s": round(connect_s, 1),
        "window_s": round(window_s, 1),
        "interval_s": interval_s,
        "offered_per_s": round(len(MESSAGES) * len(ready) / interval_s, 1),
        "handled": handled,
        "messages_per_s": round(handled / window_s, 1) if window_s else 0.0,
        "per_instance": [
            {
                "handled": int(s["handled"]),
                "messages_per_s": round(s["handled"] / window_s, 1) if window_s else 0.0,
                "errors": int(s["errors"]),
                "p50_ms": s["p50_ms"],
                "p95_ms": s["p95_ms"],
                "p99_ms": s["p99_ms"],
                "cpu_s": round(cpu, 1),
                "cpu_share": round(cpu / window_s, 2) if window_s else 0.0,
            }
            for s, cpu in zip(stats, server_cpu, strict=True)
        ],
        "round_trip_ms": percentiles([r * 1000 for r in fleet.round_trips_s], (50, 95, 99)),
        "server_errors": sum(int(s["errors"]) for s in stats),
        "charger_errors": errors_in_window,
        "charger_error_example": fleet.errors[0] if fleet.errors else None,
        "not_connected": len(fleet.failures),
        "not_connected_example": fleet.failures[0] if fleet.failures else None,
        "cpu_s": {
            "ocpp_servers": round(sum(server_cpu), 1),
            "postgresql": round(pg_s, 1),
            "bench": round(own_s, 1),
            "haproxy": None if haproxy_s is None else round(haproxy_s, 1),
        },
    }


def ocpp_part(
    url: str,
    chargers: int,
    seconds: float,
    interval_s: float,
    via_balancer: bool = False,
    base_port: int = 28000,
) -> dict[str, Any]:
    """Direct: charger ``i`` on server ``i % 2``. ``via_balancer``: the two servers and HAProxy
    of a ``deploy.local.Stack``, every charger on its one URL (HAProxy's ``leastconn`` splits)."""
    url = normalise_url(url)
    _raise_open_files(4 * chargers + 1000)
    build_database(url, chargers)
    logdir = Path(tempfile.mkdtemp(prefix="polaris-balancer-bench-"))
    db = Database(url)
    try:
        if via_balancer:
            from deploy.local import Stack

            with Stack(url, apps=0, ocpp=INSTANCES, base_port=base_port, workdir=logdir) as stack:
                _step(f"HAProxy and {INSTANCES} OCPP servers up; connecting {chargers:,} chargers")
                pids = stack.pids()
                marks_before = _ocpp_marks(stack)
                servers = Servers(
                    [pids[f"ocpp{k}"][0] for k in range(INSTANCES)],
                    [logdir / f"ocpp{k}.log" for k in range(INSTANCES)],
                )
                result = asyncio.run(
                    _drive_chargers(
                        [stack.ocpp_url],
                        chargers,
                        seconds,
                        interval_s,
                        servers,
                        db,
                        pids["haproxy"][0],
                    )
                )
                result["haproxy_ocpp"] = _ocpp_marks(stack, marks_before)
        else:
            result = _ocpp_direct(url, chargers, seconds, interval_s, logdir, db)
    finally:
        db.engine.dispose()
        drop_database(url)
    shutil.rmtree(logdir, ignore_errors=True)
    result["via"] = "HAProxy" if via_balancer else "direct"
    return result


def _ocpp_marks(
    stack: Any, before: dict[str, dict[str, str]] | None = None
) -> dict[str, dict[str, str]]:
    """HAProxy's view of each OCPP server: its state, how many checks failed (``chkfail``) and
    how often it was marked DOWN (``chkdown``), since ``before`` when given (HAProxy starts
    before the servers listen, so each begins with one failed check and one DOWN)."""
    rows = stack.server_stats().get("ocpp", {})
    marks = {}
    for name, row in sorted(rows.items()):
        mark = {k: row.get(k, "") for k in ("status", "chkfail", "chkdown", "stot")}
        was = (before or {}).get(name, {})
        for k in ("chkfail", "chkdown", "stot") if before else ():
            mark[k] = str(int(mark[k] or 0) - int(was.get(k) or 0))
        marks[name] = mark
    return marks


def _ocpp_direct(
    url: str, chargers: int, seconds: float, interval_s: float, logdir: Path, db: Database
) -> dict[str, Any]:
    logs = [logdir / f"ocpp-{k}.log" for k in range(INSTANCES)]
    ports = [export_bench.free_port() for _ in range(INSTANCES)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port, log in zip(ports, logs, strict=True):
            processes.append(start_ocpp_server(url, port, log))
        for port, process, log in zip(ports, processes, logs, strict=True):
            wait_for_port(port, process, log)
        _step(f"{INSTANCES} OCPP servers up; connecting {chargers:,} chargers")
        urls = [f"ws://127.0.0.1:{port}/ocpp" for port in ports]
        servers = Servers([p.pid for p in processes], logs)
        return asyncio.run(_drive_chargers(urls, chargers, seconds, interval_s, servers, db))
    finally:
        for process in processes:
            _stop(process)


# --- Web: the app behind HAProxy, one instance then two ------------------------------------------


def _emails(users: int) -> list[str]:
    return [HEAVY_EMAIL, LIGHT_EMAIL] + [f"driver{k}@bench.example" for k in range(1, users - 1)]


def web_part(
    url: str, instances: list[int], seconds: float, users: int, base_port: int
) -> list[dict[str, Any]]:
    from deploy.local import Stack

    app = bench_app(url)
    db = Database(url)  # only to find PostgreSQL's backends on it
    out = []
    for apps in instances:
        workdir = Path(tempfile.mkdtemp(prefix=f"polaris-balancer-web{apps}-"))
        try:
            with Stack(url, apps=apps, ocpp=0, base_port=base_port, workdir=workdir) as stack:
                _step(f"HAProxy and {apps} app instance(s) up on {stack.balancer_url}")
                pids = _stack_pids(stack)
                before = {name: sum(_tree_cpu_s(p) for p in ps) for name, ps in pids.items()}
                pg_before = _postgres_cpu_s(db)
                own_before = _own_cpu_s()
                errors: list[str] = []
                warmup = min(2.0, seconds)
                began = time.perf_counter()
                result = asyncio.run(
                    _drive(stack.balancer_url, _emails(users), seconds, warmup, app, errors)
                )
                elapsed = time.perf_counter() - began
                cpu = {
                    name: round(sum(_tree_cpu_s(p) for p in ps) - before[name], 1)
                    for name, ps in pids.items()
                }
                pg_after = _postgres_cpu_s(db)
                cpu["postgresql"] = round(
                    sum(v - pg_before.get(pid, 0.0) for pid, v in pg_after.items()), 1
                )
                cpu["bench"] = round(_own_cpu_s() - own_before, 1)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        loads, ticks = result["loads"], result["polls"]
        out.append(
            {
                "apps": apps,
                "users": users,
                "seconds": seconds,
                "loads": len(loads),
                "loads_per_s": round(len(loads) / seconds, 1),
                "load_ms": percentiles(loads),
                "ticks": len(ticks),
                "ticks_per_s": round(len(ticks) / seconds, 1),
                "tick_ms": percentiles(ticks),
                "failed_requests": len(errors),
                "failed_example": errors[0] if errors else None,
                "cpu_s": cpu,
                "run_s": round(elapsed, 1),
            }
        )
    db.engine.dispose()
    return out


def _stack_pids(stack: Any) -> dict[str, list[int]]:
    """The processes to charge CPU to: each app instance (gunicorn; its workers are added by
    ``_tree_cpu_s``) and HAProxy."""
    return {name: pids for name, pids in stack.pids().items() if not name.startswith("ocpp")}


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (gunicorn's workers)."""
    from bench.command_latency import _children

    return (_cpu_s(pid) or 0.0) + sum(_cpu_s(c) or 0.0 for c in _children(pid))


# --- the command ---------------------------------------------------------------------------------

_STARTED = time.perf_counter()


def _step(what: str) -> None:
    sys.stderr.write(f"bench balancer: {what} ({time.perf_counter() - _STARTED:.1f} s)\n")
    sys.stderr.flush()


def run(
    database_url: str | None,
    ocpp_url: str | None,
    chargers: int = 5000,
    seconds: float = 30,
    interval_s: float = 10,
    users: int = 16,
    web_seconds: float = 20,
    instances: list[int] | None = None,
    skip: set[str] | None = None,
    base_port: int = 28000,
    json_path: str | None = None,
    via_balancer: bool = False,
) -> dict[str, Any]:
    skip = skip or set()
    results: dict[str, Any] = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)},
        "ocpp": None,
        "web": None,
    }
    if "ocpp" not in skip:
        results["ocpp"] = ocpp_part(
            ocpp_url or default_ocpp_url(), chargers, seconds, interval_s, via_balancer, base_port
        )
        _step("OCPP part done")
    if "web" not in skip:
        if not database_url:
            raise SystemExit("bench balancer: the web part needs --database-url (a bench one)")
        results["web"] = web_part(
            normalise_url(database_url), instances or [1, 2], web_seconds, users, base_port
        )
        _step("web part done")
    results["machine"]["load_average_after"] = round(os.getloadavg()[0], 2)
    print_figures(results)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2) + "\n")
    return results


def print_figures(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []

    def add(name: str, value: str) -> None:
        rows.append((name, value, ""))

    m = r["machine"]
    add(
        "date",
        f"{r['date']}, {m['cpus']} CPUs, load average {m['load_average']} before, "
        f"{m.get('load_average_after', '?')} after",
    )
    o = r["ocpp"]
    if o is not None:
        add(
            "ocpp: setup",
            f"{o['connected']:,} of {o['chargers']:,} chargers over {INSTANCES} OCPP servers "
            f"({o['via']}) "
            f"(connected, booted, transaction started in {o['connect_s']} s), "
            f"{o['window_s']} s measured",
        )
        add(
            "ocpp: offered load",
            f"{o['offered_per_s']:,} messages/s ({' + '.join(MESSAGES)} every "
            f"{o['interval_s']:g} s per charger)",
        )
        per = o["per_instance"]
        split = " + ".join(f"{p['messages_per_s']:,}" for p in per)
        add(
            "ocpp: messages/s handled",
            f"{o['messages_per_s']:,} ({split}; {o['handled']:,} messages)",
        )
        add(
            "ocpp: handling latency",
            " | ".join(
                f"server {k}: p50 {p['p50_ms']} / p95 {p['p95_ms']} / p99 {p['p99_ms']} ms"
                for k, p in enumerate(per)
            ),
        )
        rt = o["round_trip_ms"]
        add(
            "ocpp: round trip (chargers)", f"p50 {rt['p50']} / p95 {rt['p95']} / p99 {rt['p99']} ms"
        )
        example = o["charger_error_example"] or o["not_connected_example"]
        add(
            "ocpp: errors",
            f"{o['server_errors']} in the servers, {o['charger_errors']} failed calls at the "
            f"chargers, {o['not_connected']} chargers not started"
            + (f" (e.g. {example})" if example else ""),
        )
        marks = o.get("haproxy_ocpp")
        if marks is not None:
            add(
                "ocpp: HAProxy's view (the run)",
                "; ".join(
                    f"{name} {m['status']}, marked DOWN {m['chkdown']} times, "
                    f"{m['chkfail']} failed checks, {m['stot']} connections"
                    for name, m in marks.items()
                ),
            )
        cpu = o["cpu_s"]
        add(
            "ocpp: CPU",
            " / ".join(
                f"server {k} {p['cpu_s']} s ({p['cpu_share']:.0%})" for k, p in enumerate(per)
            )
            + f"; PostgreSQL {cpu['postgresql']} s; the bench (chargers) {cpu['bench']} s; "
            + (f"HAProxy {cpu['haproxy']} s " if cpu.get("haproxy") is not None else "")
            + f"over {o['window_s']} s",
        )
    for w in r["web"] or []:
        n = w["apps"]
        add(
            "web: setup",
            f"{n} app instance{'s' if n > 1 else ''} behind HAProxy, {w['users']} drivers, "
            f"{w['seconds']:g} s",
        )
        lm, tm = w["load_ms"], w["tick_ms"]
        add("web: loads/s", f"{w['loads_per_s']} (p50 {lm['p50']} / p95 {lm['p95']} ms)")
        add("web: ticks/s", f"{w['ticks_per_s']} (p50 {tm['p50']} / p95 {tm['p95']} ms)")
        add(
            "web: failed requests",
            f"{w['failed_requests']}"
            + (f" (e.g. {w['failed_example']})" if w["failed_requests"] else ""),
        )
        add(
            "web: CPU",
            ", ".join(f"{k} {v} s" for k, v in w["cpu_s"].items())
            + f" over {w['run_s']} s (sign-in and warm-up included)",
        )
    print_rows(rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", help="the bench database for the web part (bench build; only read)"
    )
    parser.add_argument(
        "--ocpp-database-url",
        help=f"a PostgreSQL database to create and drop for the OCPP part (default: {OCPP_DB})",
    )
    parser.add_argument("--chargers", type=int, default=5000, help="simulated chargers (5000)")
    parser.add_argument("--seconds", type=float, default=30, help="OCPP measured window (30)")
    parser.add_argument(
        "--interval", type=float, default=10, help="seconds between a charger's messages (10)"
    )
    parser.add_argument(
        "--ocpp-via-balancer",
        action="store_true",
        help="chargers connect through HAProxy (deploy.local.Stack) instead of to each server",
    )
    parser.add_argument("--users", type=int, default=16, help="simulated drivers, web part (16)")
    parser.add_argument("--web-seconds", type=float, default=20, help="web window, each (20)")
    parser.add_argument(
        "--apps", type=int, action="append", help="app instance counts to measure (1 and 2)"
    )
    parser.add_argument("--base-port", type=int, default=28000, help="the stack's ports (28000)")
    parser.add_argument("--skip", action="append", default=[], choices=("ocpp", "web"))
    parser.add_argument("--json", help="write the figures to this file as JSON")


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return run(
        args.database_url,
        args.ocpp_database_url,
        args.chargers,
        args.seconds,
        args.interval,
        args.users,
        args.web_seconds,
        args.apps,
        set(args.skip),
        args.base_port,
        args.json,
        args.ocpp_via_balancer,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench balancer", description=__doc__)
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    main()
