"""Command latency: from the API request to the charger receiving the call (issue 15).

    python -m bench commands [--chargers 1000] [--commands 2000] [--threads 8] [--sqlite]

Builds a throwaway database (PostgreSQL ``polaris_bench_commands`` on the
``POLARIS_TEST_POSTGRES_URL`` server unless ``--database-url`` says otherwise; ``--sqlite``: a
temporary file) with N chargers and an admin, makes a ``commands``-scoped API token, and starts,
each as a process of its own: two OCPP servers (``flask --app app ocpp-server``, as in
production) and the app under gunicorn (the JSON API). N simulated chargers connect from this
process (``central.simulator``, half to each server) and boot. Then commands go through the real
API (``POST /api/v1/chargers/<id>/commands``, TriggerMessage Heartbeat, spread over every
charger, so over both servers): a warm-up, a burst (``--threads`` threads posting at once) and
the same number posted one after another by one thread.

Latency is from just before the POST to the moment the charger's ``route_message`` gets the
call, both on ``time.perf_counter`` in this process. Each command's ``connector_id`` is a
per-charger sequence number, so every arrival is matched to its POST. Prints p50/p95/p99/max,
commands/s (posted; and delivered: the last arrival), a breakdown by the database's timestamps,
and the checks: every command reached its charger exactly once (through the server that holds
it) and ended ``accepted`` in the database. Exits non-zero when a check fails; the database is
dropped at the end (``--keep`` keeps it).

Not a test: timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench import export_bench
from bench.ocpp_load import build_database, charger_ids, drop_database
from bench.run import ROOT, percentiles, print_rows, server_env, start_gunicorn
from central.simulator import SimulatedCharger, open_connection
from data.accounts.tokens import COMMANDS_SCOPE, create_token
from data.audit.entries import COMMAND_LINE
from data.core.db import Database, normalise_url
from data.core.models import Account, ChargerCommand, CommandStatus, Role, User
from data.ocpp.commands import OPEN

BENCH_DB = "polaris_bench_commands"
ADMIN_EMAIL = "commands-admin@bench.example"
ADMIN_ACCOUNT = "ACC-COMMANDS-ADMIN"
INSTANCES = 2
TARGETS = {"postgresql": "p95 <= 50 ms", "sqlite": "SQLite: the servers look every second"}
WARM_UP = 200  # commands before the measured ones (at most one per charger)
DEADLINE_S = 120.0  # for a phase's commands to arrive and end


def default_url() -> str:
    server = os.environ.get("POLARIS_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
    return server.rsplit("/", 1)[0] + "/" + BENCH_DB


# --- the chargers: record when each call arrives --------------------------------------------


@dataclass(frozen=True)
class Arrival:
    charger_id: str
    action: str
    tag: int | None  # the command's connector_id: its number among this charger's commands
    at: float  # time.perf_counter()
    wall: float  # time.time(), to compare with the database's timestamps


class TimedCharger(SimulatedCharger):
    """A simulated charger that notes every call from the central system as it arrives."""

    arrivals: list[Arrival]

    async def route_message(self, raw_msg: str | bytes) -> None:
        at, wall = time.perf_counter(), time.time()
        message = json.loads(raw_msg)
        if isinstance(message, list) and len(message) == 4 and message[0] == 2:
            tag = message[3].get("connectorId") if isinstance(message[3], dict) else None
            self.arrivals.append(Arrival(self.id, str(message[2]), tag, at, wall))
        await super().route_message(raw_msg)


async def connect_fleet(
    urls: list[str], ids: list[str], arrivals: list[Arrival]
) -> list[TimedCharger]:
    """Charger ``i`` connects to ``urls[i % len(urls)]`` and boots; 50 handshakes at a time."""
    slots = asyncio.Semaphore(50)

    async def one(i: int, charger_id: str) -> TimedCharger:
        url = urls[i % len(urls)]
        async with slots:
            connection = await open_connection(url, charger_id, None)
            charger = TimedCharger(charger_id, connection, urls=[url], response_timeout=60)
            charger.arrivals = arrivals
            charger.skip_validation = True  # this process's CPU goes to the measurement
            charger.listen()
            await charger.boot()
        return charger

    return list(await asyncio.gather(*(one(i, cid) for i, cid in enumerate(ids))))


# --- the API: POSTs from threads -----------------------------------------------------------------


@dataclass
class Posted:
    charger_id: str
    tag: int
    started: float  # time.perf_counter() just before the request
    started_wall: float
    ended: float  # the 202 read
    command_id: int | None = None
    error: str | None = None


def _post(conn: http.client.HTTPConnection, token: str, charger_id: str, tag: int) -> Posted:
    body = json.dumps(
        {
            "action": "TriggerMessage",
            "params": {"requested_message": "Heartbeat", "connector_id": tag},
        }
    ).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started_wall, started = time.time(), time.perf_counter()
    conn.request("POST", f"/api/v1/chargers/{charger_id}/commands", body, headers)
    response = conn.getresponse()
    data = response.read()
    posted = Posted(charger_id, tag, started, started_wall, time.perf_counter())
    if response.status == 202:
        posted.command_id = int(json.loads(data)["id"])
    else:
        posted.error = f"{response.status} {data[:200]!r}"
    return posted


def post_commands(port: int, token: str, jobs: list[tuple[str, int]], threads: int) -> list[Posted]:
    """POST every job, ``threads`` threads at once (each its own keep-alive connection, opened
    before they all start together); each thread waits for an answer before its next POST."""
    barrier = threading.Barrier(threads)
    done: list[list[Posted]] = [[] for _ in range(threads)]

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()  # http.client sets TCP_NODELAY
        barrier.wait()
        for charger_id, tag in jobs[k::threads]:
            try:
                done[k].append(_post(conn, token, charger_id, tag))
            except (OSError, http.client.HTTPException) as exc:
                now = time.perf_counter()
                error = f"{exc.__class__.__name__}: {exc}"
                done[k].append(Posted(charger_id, tag, now, time.time(), now, error=error))
                conn.close()  # not retried: a retry could ask twice
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return [p for per_thread in done for p in per_thread]


# --- where the CPU goes ------------------------------------------------------------------------

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux ``/proc``), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Usage:
    """CPU seconds per part: the API (gunicorn and its workers), the OCPP servers, PostgreSQL's
    backends on the bench database (when the server runs on this machine) and this process (the
    chargers and the posting threads). Per process id, so a backend that starts meanwhile counts
    from zero."""

    def __init__(self, db: Database, api: int, servers: list[int]) -> None:
        self.db, self.api, self.servers = db, api, servers

    def pids(self) -> dict[str, list[int]]:
        parts = {"api": [self.api, *_children(self.api)], "ocpp": list(self.servers)}
        if self.db.dialect == "postgresql":
            with self.db.session() as s:
                parts["postgresql"] = list(
                    s.scalars(
                        text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                    )
                )
        return parts

    def sample(self) -> dict[str, dict[int, float]]:
        out = {
            part: {pid: cpu for pid in pids if (cpu := _cpu_s(pid)) is not None}
            for part, pids in self.pids().items()
        }
        own = resource.getrusage(resource.RUSAGE_SELF)
        out["bench"] = {0: own.ru_utime + own.ru_stime}
        return out

    @staticmethod
    def spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        return {
            part: sum(cpu - before.get(part, {}).get(pid, 0.0) for pid, cpu in now.items())
            for part, now in after.items()
        }


# --- one run -------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    threads: int
    posted: list[Posted] = field(default_factory=list)
    arrived: dict[tuple[str, int], Arrival] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # per part, while it ran


class Bench:
    def __init__(
        self, db: Database, api_port: int, token: str, ocpp_urls: list[str], usage: Usage
    ) -> None:
        self.db, self.api_port, self.token, self.ocpp_urls = db, api_port, token, ocpp_urls
        self.usage = usage
        self.arrivals: list[Arrival] = []
        self.tags: Counter[str] = Counter()
        self.next_charger = 0

    def jobs(self, ids: list[str], count: int) -> list[tuple[str, int]]:
        """``count`` commands over the chargers in turn (so over both servers); each one's tag
        is its number among the commands of its charger."""
        out = []
        for _ in range(count):
            charger_id = ids[self.next_charger % len(ids)]
            self.next_charger += 1
            self.tags[charger_id] += 1
            out.append((charger_id, self.tags[charger_id]))
        return out

    async def phase(self, phase: Phase, jobs: list[tuple[str, int]]) -> Phase:
        loop = asyncio.get_running_loop()
        before = await loop.run_in_executor(None, self.usage.sample)
        phase.posted = await loop.run_in_executor(
            None, post_commands, self.api_port, self.token, jobs, phase.threads
        )
        wanted = {(p.charger_id, p.tag) for p in phase.posted if p.command_id is not None}
        deadline = time.monotonic() + DEADLINE_S
        seen = 0
        by_key: dict[tuple[str, int], Arrival] = {}
        while time.monotonic() < deadline:
            upto = len(self.arrivals)
            for a in self.arrivals[seen:upto]:
                if a.tag is not None:
                    by_key.setdefault((a.charger_id, a.tag), a)
            seen = upto
            if wanted <= by_key.keys():
                break
            await asyncio.sleep(0.01)
        phase.arrived = {k: by_key[k] for k in wanted if k in by_key}
        ids = [p.command_id for p in phase.posted if p.command_id is not None]
        await loop.run_in_executor(None, self._wait_until_finished, ids, deadline)
        after = await loop.run_in_executor(None, self.usage.sample)
        phase.cpu_s = Usage.spent(before, after)
        await asyncio.sleep(1.0)  # the heartbeats the triggers asked for, before the next phase
        return phase

    def _wait_until_finished(self, ids: list[int], deadline: float) -> None:
        while time.monotonic() < deadline:
            with self.db.session() as s:
                open_ = s.scalar(
                    select(func.count()).where(
                        ChargerCommand.id.in_(ids), ChargerCommand.status.in_(OPEN)
                    )
                )
            if not open_:
                return
            time.sleep(0.05)


def _ms(seconds: float) -> float:
    return seconds * 1000


def _wall(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def phase_figures(phase: Phase, rows: dict[int, Any]) -> dict[str, Any]:
    """Latency and rates of a phase; the breakdown from the database's timestamps."""
    ok = [p for p in phase.posted if p.command_id is not None]
    matched = [
        (p, phase.arrived[(p.charger_id, p.tag)])
        for p in ok
        if (p.charger_id, p.tag) in phase.arrived
    ]
    latency = [_ms(a.at - p.started) for p, a in matched]
    first = min((p.started for p in phase.posted), default=0.0)
    posted_s = max((p.ended for p in phase.posted), default=first) - first
    delivered_s = max((a.at for _, a in matched), default=first) - first
    to_row, to_claim, claim_to_call, call_to_answer = [], [], [], []
    for p, a in matched:
        row = rows[p.command_id]  # type: ignore[index]
        requested, sent, answered = (
            _wall(row.requested_at),
            _wall(row.sent_at),
            _wall(row.answered_at),
        )
        if requested is None or sent is None:
            continue
        to_row.append(_ms(requested - p.started_wall))
        to_claim.append(_ms(sent - requested))
        claim_to_call.append(_ms(a.wall - sent))
        if answered is not None:
            call_to_answer.append(_ms(answered - a.wall))
    points = (50, 95, 99)
    done = len(matched) or 1
    return {
        "commands": len(phase.posted),
        "threads": phase.threads,
        "latency_ms": {**percentiles(latency, points), "max": round(max(latency, default=0.0), 2)},
        "post_ms": percentiles([_ms(p.ended - p.started) for p in ok], points),
        "posted_per_s": round(len(phase.posted) / posted_s, 1) if posted_s > 0 else 0.0,
        "delivered_per_s": round(len(matched) / delivered_s, 1) if delivered_s > 0 else 0.0,
        "cpu_ms_per_command": {k: round(v * 1000 / done, 2) for k, v in phase.cpu_s.items()},
        "breakdown_ms": {
            "post_to_requested_at": percentiles(to_row),
            "requested_at_to_sent_at": percentiles(to_claim),
            "sent_at_to_received": percentiles(claim_to_call),
            "received_to_answered_at": percentiles(call_to_answer),
        },
    }


def checks(
    phases: list[Phase], arrivals: list[Arrival], rows: dict[int, Any], home: dict[str, int]
) -> dict[str, Any]:
    """Every posted command reached its charger once, through the server it is connected to
    (``home``: charger -> that server's process id), and ended accepted."""
    posted = [p for ph in phases for p in ph.posted]
    asked = Counter((p.charger_id, p.tag) for p in posted if p.command_id is not None)
    got = Counter((a.charger_id, a.tag) for a in arrivals if a.action == "TriggerMessage")
    statuses = Counter(str(rows[p.command_id].status.value) for p in posted if p.command_id)
    by_pid: Counter[int] = Counter()
    elsewhere = 0
    for p in posted:
        if p.command_id is None or rows[p.command_id].sent_by is None:
            continue
        pid = int(rows[p.command_id].sent_by.split(":")[-2])
        by_pid[pid] += 1
        elsewhere += pid != home[p.charger_id]
    return {
        "commands": len(posted),
        "post_errors": sum(1 for p in posted if p.command_id is None),
        "post_error_example": next((p.error for p in posted if p.error), None),
        "received_once": sum(1 for k in asked if got[k] == 1),
        "received_twice_or_more": sum(1 for k in asked if got[k] > 1),
        "missing": sum(1 for k in asked if got[k] == 0),
        "stray_calls": sum(n for k, n in got.items() if k not in asked)
        + sum(1 for a in arrivals if a.action != "TriggerMessage"),
        "statuses": dict(statuses),
        "accepted": statuses.get(CommandStatus.accepted.value, 0),
        "sent_by_instance": [by_pid[pid] for pid in sorted(set(home.values()))],
        "sent_by_another_instance": elsewhere,
    }


def passed(c: dict[str, Any]) -> bool:
    return (
        c["post_errors"] == 0
        and c["received_once"] == c["commands"]
        and c["received_twice_or_more"] == c["missing"] == c["stray_calls"] == 0
        and c["accepted"] == c["commands"]
        and c["sent_by_another_instance"] == 0
    )


async def drive(
    bench: Bench, ids: list[str], commands: int, threads: int
) -> tuple[list[Phase], float]:
    began = time.perf_counter()
    fleet = await connect_fleet(bench.ocpp_urls, ids, bench.arrivals)
    connect_s = time.perf_counter() - began
    try:
        warm_up = Phase("warm-up", threads)
        await bench.phase(warm_up, bench.jobs(ids, min(WARM_UP, len(ids))))
        burst = await bench.phase(Phase("burst", threads), bench.jobs(ids, commands))
        sequential = await bench.phase(Phase("sequential", 1), bench.jobs(ids, commands))
    finally:
        await asyncio.gather(*(c.hang_up() for c in fleet), return_exceptions=True)
    return [warm_up, burst, sequential], connect_s


# --- the processes -------------------------------------------------------------------------------


def start_ocpp_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``flask --app app ocpp-server --port PORT`` on the bench database, logging to ``log``."""
    command = [sys.executable, "-m", "flask", "--app", "app", "ocpp-server", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_env(url),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 120
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the OCPP server exited while starting:\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the OCPP server on port {port} did not start")


def seed(url: str, chargers: int) -> str:
    """The chargers, an admin and their ``commands`` token; the token's secret."""
    build_database(url, chargers)
    db = Database(url)
    with db.session() as s:
        admin = User(email=ADMIN_EMAIL, display_name="Commands Bench Admin")
        s.add(admin)
        s.flush()
        s.add(Account(id=ADMIN_ACCOUNT, user_id=admin.id, role=Role.admin))
        s.flush()
        secret = create_token(
            s,
            ADMIN_EMAIL,
            datetime.now(UTC),
            name="command bench",
            scopes=[COMMANDS_SCOPE],
            actor=COMMAND_LINE,
        ).secret
    db.engine.dispose()
    return secret


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def run(
    url: str,
    chargers: int = 1000,
    commands: int = 2000,
    threads: int = 8,
    workers: int = 2,
    json_path: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    url = normalise_url(url)
    dialect = make_url(url).get_backend_name()
    started = time.perf_counter()

    def step(what: str) -> None:
        sys.stderr.write(f"bench commands: {what} ({time.perf_counter() - started:.1f} s)\n")
        sys.stderr.flush()

    token = seed(url, chargers)
    step(f"{chargers} chargers in a fresh {dialect} database")
    logs = Path(tempfile.mkdtemp(prefix="polaris-command-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    db = Database(url)
    try:
        ocpp_ports = [export_bench.free_port() for _ in range(INSTANCES)]
        servers = [
            start_ocpp_server(url, port, logs / f"ocpp-{k}.log")
            for k, port in enumerate(ocpp_ports)
        ]
        processes += servers
        api_port = export_bench.free_port()
        api = start_gunicorn(url, api_port, workers)
        processes.append(api)
        for k, (port, server) in enumerate(zip(ocpp_ports, servers, strict=True)):
            wait_for_port(port, server, logs / f"ocpp-{k}.log")
        export_bench.wait_until_up(api_port, api)
        step(f"{INSTANCES} OCPP servers and gunicorn ({workers} workers) up")
        ids = charger_ids(chargers)
        ocpp_urls = [f"ws://127.0.0.1:{port}/ocpp" for port in ocpp_ports]
        usage = Usage(db, api.pid, [server.pid for server in servers])
        bench = Bench(db, api_port, token, ocpp_urls, usage)
        phases, connect_s = asyncio.run(drive(bench, ids, commands, threads))
        step("commands sent")
        with db.session() as s:
            rows = {
                r.id: r
                for r in s.execute(
                    select(
                        ChargerCommand.id,
                        ChargerCommand.status,
                        ChargerCommand.requested_at,
                        ChargerCommand.sent_at,
                        ChargerCommand.answered_at,
                        ChargerCommand.sent_by,
                    )
                ).all()
            }
        home = {cid: servers[i % INSTANCES].pid for i, cid in enumerate(ids)}
        results: dict[str, Any] = {
            "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "machine": {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)},
            "database": dialect,
            "chargers": chargers,
            "instances": INSTANCES,
            "api_workers": workers,
            "connect_s": round(connect_s, 1),
            "burst": phase_figures(phases[1], rows),
            "sequential": phase_figures(phases[2], rows),
            "checks": checks(phases, bench.arrivals, rows, home),
        }
    finally:
        for process in processes:
            _stop(process)
        db.engine.dispose()
        if not keep:
            drop_database(url)
    print_figures(results)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2) + "\n")
    if not passed(results["checks"]):
        raise SystemExit(f"bench commands: a check failed (OCPP server logs in {logs})")
    shutil.rmtree(logs, ignore_errors=True)
    return results


def print_figures(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []

    def add(name: str, value: str, target: str = "") -> None:
        rows.append((name, value, target))

    m = r["machine"]
    add("date", f"{r['date']}, {m['cpus']} CPUs, load average {m['load_average']}")
    add(
        "setup",
        f"{r['database']}, {r['chargers']:,} chargers over {r['instances']} OCPP servers "
        f"(connected and booted in {r['connect_s']} s), API on gunicorn {r['api_workers']} "
        "workers",
    )
    for name in ("burst", "sequential"):
        f = r[name]
        lat, post = f["latency_ms"], f["post_ms"]
        add(
            f"{name}: API -> charger",
            f"p50 {lat['p50']} / p95 {lat['p95']} / p99 {lat['p99']} / max {lat['max']}",
            TARGETS[r["database"]],
        )
        add(
            f"  {name}: commands/s",
            f"{f['posted_per_s']:,} posted, {f['delivered_per_s']:,} delivered "
            f"({f['commands']:,} commands, {f['threads']} thread{'s' if f['threads'] > 1 else ''})",
        )
        add(f"  {name}: POST answered", f"p50 {post['p50']} / p95 {post['p95']}")
        for part, v in f["breakdown_ms"].items():
            add(f"  {name}: {part.replace('_', ' ')}", f"p50 {v['p50']} / p95 {v['p95']}")
        cpu = f["cpu_ms_per_command"]
        add(
            f"  {name}: CPU per command",
            ", ".join(f"{part} {ms}" for part, ms in cpu.items())
            + f"; {sum(cpu.values()):.2f} in all",
        )
    c = r["checks"]
    add(
        "checks",
        f"{c['commands']:,} commands (warm-up included): {c['received_once']:,} received once, "
        f"{c['received_twice_or_more']} more than once, {c['missing']} missing, "
        f"{c['stray_calls']} stray calls, {c['post_errors']} failed POSTs; "
        f"{c['accepted']:,} accepted in the database",
        "all, exactly once",
    )
    add(
        "  sent by instance",
        " / ".join(f"{n:,}" for n in c["sent_by_instance"])
        + f" ({c['sent_by_another_instance']} by a server not holding the charger)",
    )
    print_rows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench commands", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    run_from_args(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help=f"a PostgreSQL database to create and drop (default: {BENCH_DB} on the test server)",
    )
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead")
    parser.add_argument("--chargers", type=int, default=1000, help="simulated chargers (1000)")
    parser.add_argument(
        "--commands", type=int, default=2000, help="commands in the burst, and sequentially (2000)"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads posting the burst (8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--json", help="write the figures to this file as JSON")
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL database afterwards"
    )


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    options = (args.chargers, args.commands, args.threads, args.workers, args.json)
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="polaris-command-bench-") as directory:
            return run(f"sqlite:///{directory}/commands.db", *options)
    return run(args.database_url or default_url(), *options, keep=args.keep)


if __name__ == "__main__":
    main()
