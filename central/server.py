"""The OCPP 1.6J central system: chargers connect to ``ws://HOST:PORT/ocpp/<charger_id>``.

One ``ChargerConnection`` (the ``ocpp`` library's ChargePoint) per connected charger; every
message it receives is handled by one function of ``data.ocpp.messages`` in one database
transaction, run in a worker thread so the event loop never waits for the database. The handshake
refuses unknown charger ids (404), a missing ``ocpp1.6`` subprotocol (400) and, for a charger with
an OCPP password (security profile 1), missing or wrong HTTP Basic credentials (401); with
``allow_no_password=False`` (production) also a charger that has no OCPP password (401).

A command loop delivers commands to chargers (``data.ocpp.commands``: rows in
``charger_commands``, asked for by the command line, the pages, the API and the reservations;
the one way anything is sent to a charger): each server
instance (``instance_id``: host, process, random) claims the pending commands of the chargers
connected to it, sends each with the ``ocpp`` library's ``call`` in a task of its own and records
the answer (``accepted``/``rejected`` from the charger's status, ``failed`` on a CallError,
``timeout`` without an answer). On PostgreSQL it LISTENs on ``polaris_commands`` (reconnecting
when the connection drops), so a new command is sent at once, and looks anyway every few
seconds; on SQLite it looks every second. Every few seconds it also expires what nobody
finished (pending too long -> ``offline``, sent too long -> ``timeout``), so a command whose
instance died still ends.

A reservation loop (``data.ocpp.reservations.schedule_reservations``) asks, for the chargers
connected to this instance, for a ReserveNow command shortly before a confirmed reservation
starts and a CancelReservation command when a reservation a charger holds is cancelled; the
command loop sends them like any other, and their answers (or ``no answer`` when they expire)
are recorded in ``ocpp_reservations`` as the command ends. Only for chargers connected here:
a reservation gets one ReserveNow, so it is asked for when an instance can deliver it at once
rather than left to expire ``offline`` while the charger is away.

An outage sweep (``data.uptime.live.open_offline_outages``) runs at start and every
``outage_sweep_s``, beside the message handling, never in it: it opens an offline outage from
the last message of every charger silent past ``offline_after_s``. The messages themselves close
it and open and close out_of_order outages, in their own transactions (``data.ocpp.messages``).
The sweep also stores the uptime figures of the months just over (``data.uptime.stored``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import json
import logging
import math
import os
import secrets
import signal
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import unquote

import psycopg
from ocpp.exceptions import OCPPError, PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import (
    Action,
    DataTransferStatus,
    RegistrationStatus,
)
from sqlalchemy.orm import Session
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response

import data.ocpp.commands as ocpp_commands
import data.ocpp.messages as ocpp_data
import data.ocpp.reservations as ocpp_reservations
from data.accounts.passwords import verify_password
from data.chargers.status import OFFLINE_AFTER_SECONDS
from data.charging.booking import release_no_shows
from data.core.db import Database, database_problem
from data.core.models import CommandStatus
from data.uptime.live import open_offline_outages
from data.uptime.stored import fill_operator_months

log = logging.getLogger("polaris.ocpp")

SUBPROTOCOL = "ocpp1.6"
PATH_PREFIX = "/ocpp/"
# Plain HTTP on the same port: the load balancer's health check (``_health``).
HEALTH_PATH = "/healthz"
# Under HAProxy's `timeout check 3s` (deploy/haproxy.cfg): a slow database gets a 503 with a reason
# in its log rather than a bare timeout.
HEALTH_TIMEOUT_S = 2.5
REALM = "Polaris Express OCPP"
DEFAULT_HEARTBEAT_INTERVAL_S = 300
DEFAULT_RESERVE_LEAD = timedelta(minutes=10)
# How often silent chargers are looked for: an outage opens at most this late (from the charger's
# last message all the same), and a silence ending sooner than threshold + this may go unlogged.
DEFAULT_OUTAGE_SWEEP_S = 30.0
# Wrong OCPP passwords from one address within a minute before it is refused without checking
# (each check is an argon2 hash: a flood of guesses must not become a CPU flood).
AUTH_FAILURES_PER_MINUTE = 10
# Commands claimed per database round trip; a full batch is followed by another at once.
CLAIM_BATCH = 200
STATS_PREFIX = "handling stats: "  # SIGUSR1 prints this, then the figures as JSON
T = TypeVar("T")


def charger_id_from_path(path: str) -> str | None:
    """``/ocpp/<charger_id>`` -> the charger id (URL-decoded); None for any other path."""
    path = path.split("?", 1)[0]
    if not path.startswith(PATH_PREFIX):
        return None
    charger_id = unquote(path.removeprefix(PATH_PREFIX))
    if not charger_id or "/" in charger_id or len(charger_id) > 64:
        return None
    return charger_id


@dataclass
class HandlingStats:
    """Messages handled and how long each took (receipt to answer sent), for the benchmark."""

    handled: int = 0
    errors: int = 0
    latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=500_000))

    def record(self, seconds: float) -> None:
        self.handled += 1
        self.latencies_s.append(seconds)

    def percentile_ms(self, q: float) -> float:
        values = sorted(self.latencies_s)
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    def take(self) -> dict[str, float]:
        """The figures since the last ``take`` (messages, errors, latency p50/p95/p99 in ms),
        and start over: a running ``ocpp-server`` logs them on SIGUSR1 (bench/balancer.py)."""
        figures = {
            "handled": self.handled,
            "errors": self.errors,
            "p50_ms": round(self.percentile_ms(0.50), 2),
            "p95_ms": round(self.percentile_ms(0.95), 2),
            "p99_ms": round(self.percentile_ms(0.99), 2),
        }
        self.handled = self.errors = 0
        self.latencies_s.clear()
        return figures


class CentralSystem:
    """The central system over one ``Database``; ``clock`` gives ``now`` (tests pin it)."""

    def __init__(
        self,
        db: Database,
        *,
        heartbeat_interval_s: int = DEFAULT_HEARTBEAT_INTERVAL_S,
        reserve_lead: timedelta = DEFAULT_RESERVE_LEAD,
        reserve_poll_s: float = 5.0,
        response_timeout_s: float = 30.0,
        db_threads: int | None = None,
        clock: Callable[[], datetime] | None = None,
        allow_no_password: bool = True,
        command_timeout_s: float = ocpp_commands.DEFAULT_TIMEOUT_S,
        command_offline_after_s: float = ocpp_commands.DEFAULT_OFFLINE_AFTER_S,
        command_poll_s: float = 1.0,
        command_listen_poll_s: float = 5.0,
        command_expire_every_s: float = 2.0,
        instance_id: str | None = None,
        offline_after_s: int = OFFLINE_AFTER_SECONDS,
        outage_sweep_s: float = DEFAULT_OUTAGE_SWEEP_S,
    ) -> None:
        self.db = db
        self.heartbeat_interval_s = heartbeat_interval_s
        self.reserve_lead = reserve_lead
        self.reserve_poll_s = reserve_poll_s
        self.response_timeout_s = response_timeout_s
        self.clock = clock or (lambda: datetime.now(UTC))
        # False in production (unless POLARIS_OCPP_ALLOW_NO_PASSWORD=1): anyone who knows a
        # charger id could otherwise speak for that charger.
        self.allow_no_password = allow_no_password
        self.connected: dict[str, ChargerConnection] = {}
        self.stats = HandlingStats()
        # One thread per pooled connection: more would only queue for the pool.
        pool = getattr(db.engine.pool, "size", lambda: 5)()
        self._executor = ThreadPoolExecutor(
            max_workers=db_threads or max(2, pool), thread_name_prefix="ocpp-db"
        )
        # The health check has its own thread and connection: on the executor above it queued
        # behind every message waiting for a database thread, so a busy server missed HAProxy's
        # check timeout, was marked DOWN and had all its chargers cut (bench/README.md). Here
        # it answers within a query of a busy server and still fails when the database is gone.
        self._health_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocpp-health")
        self._health_db = db.single_connection_copy()
        self._sending: set[asyncio.Task[None]] = set()
        # Commands: how long a charger may take to answer, how long a command may wait for an
        # instance holding its charger, how often to look (SQLite; PostgreSQL with LISTEN)
        # and to expire. The instance id is recorded as the sender of each command.
        self.command_timeout_s = command_timeout_s
        self.command_offline_after_s = command_offline_after_s
        self.command_poll_s = command_poll_s
        self.command_listen_poll_s = command_listen_poll_s
        self.command_expire_every_s = command_expire_every_s
        self.instance_id = (
            instance_id or (f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[:128]
        )
        self.listening = False  # PostgreSQL: LISTEN is in place (tests wait for it)
        self._wake = asyncio.Event()
        self.auth_failures_per_minute = AUTH_FAILURES_PER_MINUTE
        self._auth_failures: dict[str, deque[float]] = {}
        self.offline_after_s = (
            offline_after_s  # the status rule's threshold (POLARIS_OFFLINE_AFTER_S)
        )
        self.outage_sweep_s = outage_sweep_s

    # --- database work, off the event loop ---------------------------------------------------

    async def db_call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in one transaction in a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_transaction, fn, args)

    def _in_transaction(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.db.session() as s:
            return fn(s, *args)

    # --- the handshake -----------------------------------------------------------------------

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if request.path.split("?", 1)[0] == HEALTH_PATH:
            return await self._health(connection)
        charger_id = charger_id_from_path(request.path)
        if charger_id is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Connect to /ocpp/<charger id>\n")
        login = await self.db_call(ocpp_data.charger_login, charger_id)
        if login is None:
            log.warning("refused unknown charger id %r", charger_id)
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Unknown charger\n")
        if login.password_hash is None:
            return None if self.allow_no_password else self._no_password(connection, charger_id)
        address = str(connection.remote_address[0]) if connection.remote_address else "?"
        attempt = self._count_attempt(address)
        if attempt is None:
            log.warning("refused charger %s from %s: too many wrong passwords", charger_id, address)
            response = connection.respond(
                http.HTTPStatus.TOO_MANY_REQUESTS, "Too many failed attempts; retry later\n"
            )
            response.headers["Retry-After"] = str(self._retry_after(address))
            return response
        if not await self._password_ok(request.headers, login):
            log.warning("refused charger %s: missing or wrong OCPP password", charger_id)
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Invalid credentials\n")
            response.headers["WWW-Authenticate"] = build_www_authenticate_basic(REALM)
            return response
        with suppress(KeyError, ValueError):  # already forgotten after a minute: nothing to do
            self._auth_failures[address].remove(attempt)  # the right password is no guess
        return None

    async def _health(self, connection: ServerConnection) -> Response:
        """``GET /healthz`` over plain HTTP (a load balancer's check): 200 when this process
        can use its database, else 503 with a plain reason; JSON both ways."""
        loop = asyncio.get_running_loop()
        try:
            problem = await asyncio.wait_for(
                loop.run_in_executor(self._health_executor, database_problem, self._health_db),
                HEALTH_TIMEOUT_S,
            )
        except TimeoutError:
            problem = "database did not answer in time"
        except RuntimeError:  # the executor is shutting down: this process is stopping
            problem = "stopping"
        status = http.HTTPStatus.OK if problem is None else http.HTTPStatus.SERVICE_UNAVAILABLE
        body = {"status": "ok"} if problem is None else {"status": "unavailable", "reason": problem}
        response = connection.respond(status, json.dumps(body) + "\n")
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    def _count_attempt(self, address: str) -> float | None:
        """Count a password attempt from ``address`` before it is checked, or None when the
        address is at its limit. Nothing awaits between the test and the count, so parallel
        handshakes on the event loop cannot all pass the test before any is counted."""
        if self._recent_failures(address) >= self.auth_failures_per_minute:
            return None
        stamp = time.monotonic()
        self._auth_failures.setdefault(address, deque()).append(stamp)
        return stamp

    def _retry_after(self, address: str) -> int:
        """Whole seconds until the oldest counted attempt from ``address`` is a minute old."""
        failures = self._auth_failures.get(address)
        oldest = failures[0] if failures else time.monotonic() - 60
        return max(1, math.ceil(oldest + 60 - time.monotonic()))

    def _recent_failures(self, address: str) -> int:
        """Wrong passwords from ``address`` in the last minute (older ones are forgotten)."""
        horizon = time.monotonic() - 60
        for key in [address, *list(self._auth_failures)[:8]]:  # prune a few others as we go
            failures = self._auth_failures.get(key)
            while failures and failures[0] < horizon:
                failures.popleft()
            if failures is not None and not failures:
                del self._auth_failures[key]
        return len(self._auth_failures.get(address, ()))

    async def _password_ok(self, headers: Headers, login: ocpp_data.ChargerLogin) -> bool:
        try:
            username, password = parse_authorization_basic(headers["Authorization"])
        except (KeyError, InvalidHeader):
            return False
        # Security profile 1: the user name is the charger's identity.
        ok = await asyncio.to_thread(verify_password, login.password_hash, password)
        return ok and username == login.charger_id

    def _no_password(self, connection: ServerConnection, charger_id: str) -> Response:
        log.warning("refused charger %s: it has no OCPP password (required here)", charger_id)
        return connection.respond(
            http.HTTPStatus.UNAUTHORIZED,
            "This charger has no OCPP password yet; an admin sets one at /admin/ocpp\n",
        )

    # --- a connected charger -----------------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # the handshake has happened
        charger_id = charger_id_from_path(connection.request.path)
        assert charger_id is not None  # process_request refused any other path
        charger = ChargerConnection(charger_id, connection, self)
        previous = self.connected.get(charger_id)
        self.connected[charger_id] = charger
        if previous is not None:
            # The charger reconnected; the old socket is dead or a duplicate.
            await previous.close()
        log.info("charger %s connected", charger_id)
        self._wake.set()  # commands may be waiting for it
        try:
            await charger.start()
        except ConnectionClosed:
            pass
        finally:
            if self.connected.get(charger_id) is charger:
                del self.connected[charger_id]
            log.info("charger %s disconnected", charger_id)

    # --- reservations ------------------------------------------------------------------------

    async def reservation_pass(self) -> int:
        """Release the bookings nobody came for (every instance; each booking once: the
        conditional UPDATE), then ask for the ReserveNow / CancelReservation commands due on the
        chargers connected here (the command loop sends them, woken at once); how many were
        asked for."""
        released = await self.db_call(release_no_shows, self.clock())
        if released:
            log.info("bookings released as no-shows: %s", ", ".join(released))
        if not self.connected:
            return 0
        asked = await self.db_call(
            ocpp_reservations.schedule_reservations,
            self.clock(),
            self.reserve_lead,
            sorted(self.connected),
        )
        if asked:
            self._wake.set()
        return len(asked)

    # --- commands ----------------------------------------------------------------------------

    async def command_pass(self) -> int:
        """Claim the pending commands of the chargers connected here and send each in a task of
        its own (``wait_for_sends`` waits for them); how many were claimed."""
        if not self.connected:
            return 0
        claim = asyncio.ensure_future(
            self.db_call(
                ocpp_commands.claim_commands,
                sorted(self.connected),
                self.instance_id,
                self.clock(),
                CLAIM_BATCH,
            )
        )
        try:
            claimed = await asyncio.shield(claim)
        except asyncio.CancelledError:
            # Stopping: the claim runs on in its thread (a busy SQLite may let it take a command
            # asked after the stop); what it took goes back to pending for another instance.
            with suppress(Exception):
                taken = await claim
                ids = [command.id for command in taken]
                await self.db_call(ocpp_commands.release_commands, ids, self.instance_id)
            raise
        for command in claimed:
            self._spawn(self._deliver(command))
        return len(claimed)

    async def wait_for_sends(self) -> None:
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def expire_pass(self) -> ocpp_commands.Expired:
        return await self.db_call(
            ocpp_commands.expire_commands,
            self.clock(),
            self.command_offline_after_s,
            self.command_timeout_s,
        )

    async def _deliver(self, command: ocpp_commands.CommandToSend) -> None:
        status, response, heard = await self._command_answer(command)
        await self.db_call(
            answer_recorded,
            command.charger_id if heard else None,
            self.clock(),
            ocpp_commands.record_answer,
            command.id,
            status,
            response,
        )
        log.info("command %s %s to %s: %s", command.id, command.action, command.charger_id, status)

    async def _command_answer(
        self, command: ocpp_commands.CommandToSend
    ) -> tuple[CommandStatus, dict[str, Any] | None, bool]:
        """How the command ended, the answer (or the error) to keep, and whether the charger
        answered at all (a CallError is an answer too)."""
        charger = self.connected.get(command.charger_id)
        if charger is None:  # gone between the claim and now
            gone = {"error": "the charger disconnected before it was sent"}
            return CommandStatus.offline, gone, False
        try:
            request = getattr(call, command.action)(**command.payload)
            result = await asyncio.wait_for(
                charger.call(request, suppress=False), self.command_timeout_s
            )
        except TimeoutError:
            return CommandStatus.timeout, None, False
        except ConnectionClosed:
            closed = {"error": "the connection closed before an answer"}
            return CommandStatus.timeout, closed, False
        except OCPPError as exc:
            log.warning("charger %s answered %s with an error: %s", charger.id, command, exc)
            error = {"error": exc.code, "description": exc.description}
            return CommandStatus.failed, error, True
        except Exception as exc:  # noqa: BLE001 - the command ends, whatever went wrong
            log.exception("command %s to %s could not be sent", command.id, charger.id)
            error = {"error": exc.__class__.__name__, "description": str(exc)}
            return CommandStatus.failed, error, False
        answer = {k: v for k, v in dataclasses.asdict(result).items() if v is not None}
        return ocpp_commands.answer_status(answer), answer, True

    async def command_loop(self) -> None:
        """Deliver commands until cancelled: at once when woken (a NOTIFY on PostgreSQL, a
        charger connecting), else every ``command_poll_s`` (``command_listen_poll_s`` while
        listening); beside it, expire every ``command_expire_every_s``."""
        listener = asyncio.create_task(self._listen()) if self.db.dialect == "postgresql" else None
        expiry = asyncio.create_task(self._expire_loop())
        try:
            while True:
                self._wake.clear()
                try:
                    while await self.command_pass() >= CLAIM_BATCH:
                        pass
                except Exception:  # noqa: BLE001 - keep the loop alive (database restarting, ...)
                    log.exception("command pass failed; trying again")
                poll = self.command_listen_poll_s if self.listening else self.command_poll_s
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)
        finally:
            for task in (listener, expiry):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task

    async def _expire_loop(self) -> None:
        while True:
            try:
                expired = await self.expire_pass()
                if expired.offline or expired.timeout:
                    offline, timeout = expired.offline, expired.timeout
                    log.info("commands ended by expiry: %s offline, %s timeout", offline, timeout)
            except Exception:  # noqa: BLE001 - keep the loop alive
                log.exception("command expiry failed; trying again")
            await asyncio.sleep(self.command_expire_every_s)

    async def _listen(self) -> None:
        """LISTEN on ``polaris_commands`` and wake the command loop for chargers held here;
        reconnect (and catch up) when the connection fails."""
        url = self.db.engine.url.set(drivername="postgresql").render_as_string(False)
        try:
            await self._listen_on(url)
        finally:
            self.listening = False

    async def _listen_on(self, url: str) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    url, autocommit=True, connect_timeout=5
                ) as connection:
                    await connection.execute(f"LISTEN {ocpp_commands.COMMANDS_CHANNEL}")
                    self.listening = True
                    self._wake.set()  # what was asked while nobody listened
                    async for notify in connection.notifies():
                        if notify.payload in self.connected:
                            self._wake.set()
            except Exception as exc:  # noqa: BLE001 - the database restarting, a network blip
                log.warning("LISTEN %s failed (%s); retrying", ocpp_commands.COMMANDS_CHANNEL, exc)
            self.listening = False
            await asyncio.sleep(1.0)

    # --- the reservation loop ------------------------------------------------------------------

    async def reservation_loop(self) -> None:
        while True:
            try:
                await self.reservation_pass()
            except Exception:  # noqa: BLE001 - keep the loop alive (database restarting, ...)
                log.exception("reservation pass failed; trying again")
            await asyncio.sleep(self.reserve_poll_s)

    # --- the outage sweep ----------------------------------------------------------------------

    async def outage_sweep_pass(self) -> int:
        """Open an offline outage for every charger silent past the threshold; how many. Then
        store the figures of the months just over, if any (once a month)."""
        opened = await self.db_call(open_offline_outages, self.clock(), self.offline_after_s)
        # Also here: a server run without the reservation loop still releases no-shows.
        await self.db_call(release_no_shows, self.clock())
        filled = await self.db_call(fill_operator_months, self.clock())
        if filled:
            log.info("uptime figures stored for %s month(s)", filled)
        return opened

    async def outage_loop(self) -> None:
        """Sweep at once (after a restart, the silences meanwhile) and every ``outage_sweep_s``."""
        while True:
            try:
                opened = await self.outage_sweep_pass()
                if opened:
                    log.info("offline outages opened: %s", opened)
            except Exception:  # noqa: BLE001 - keep the loop alive (database restarting, ...)
                log.exception("outage sweep failed; trying again")
            await asyncio.sleep(self.outage_sweep_s)

    # --- running -----------------------------------------------------------------------------

    @asynccontextmanager
    async def running(
        self,
        host: str,
        port: int,
        *,
        reservations: bool = True,
        commands: bool = True,
        outages: bool = True,
    ) -> AsyncIterator[Server]:
        """Serve until the block ends; ``port`` 0 picks a free port (see ``bound_port``)."""
        loop_task = asyncio.create_task(self.reservation_loop()) if reservations else None
        command_task = asyncio.create_task(self.command_loop()) if commands else None
        outage_task = asyncio.create_task(self.outage_loop()) if outages else None
        try:
            async with serve(
                self.handle,
                host,
                port,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                process_request=self.process_request,
                ping_interval=60,
                max_size=256 * 1024,
            ) as server:
                yield server
        finally:
            for task in (loop_task, command_task, outage_task):
                if task is not None:
                    task.cancel()
                    with suppress(asyncio.CancelledError):
                        await task
            for task in list(self._sending):
                task.cancel()

    async def serve_forever(self, host: str, port: int) -> None:
        async with self.running(host, port) as server:
            with suppress(NotImplementedError, RuntimeError):  # no signals: not the main thread
                asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self._log_stats)
            await server.serve_forever()

    def _log_stats(self) -> None:
        # One line a benchmark (or an operator) can read from the log, then the counts restart.
        print(f"{STATS_PREFIX}{json.dumps(self.stats.take())}", flush=True)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._health_executor.shutdown(wait=False, cancel_futures=True)
        self._health_db.engine.dispose()


def bound_port(server: Server) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


def answer_recorded(
    session: Session,
    heard_from: str | None,
    now: datetime,
    record: Callable[..., T],
    *args: Any,
) -> T:
    """``record(session, *args, now)`` (a command's or a reservation's answer) and, when the
    charger answered (``heard_from``), its ``last_seen_at``: an answer is a sign of life. One
    transaction, not one for each: every commit waits for the WAL to reach the disk."""
    result = record(session, *args, now)
    if heard_from is not None:
        ocpp_data.touch(session, heard_from, now)
    return result


class ChargerConnection(ChargePoint):
    """One connected charger: routes its OCPP messages to ``data.ocpp.messages``."""

    def __init__(self, charger_id: str, connection: ServerConnection, central: CentralSystem):
        # Long enough for a command's answer too (its own deadline is command_timeout_s).
        timeout = max(central.response_timeout_s, central.command_timeout_s)
        super().__init__(charger_id, connection, response_timeout=timeout)
        self.central = central
        self.connection = connection

    async def close(self) -> None:
        await self.connection.close(code=1000, reason="replaced by a newer connection")

    async def route_message(self, raw_msg: str | bytes) -> None:
        started = time.perf_counter()
        await super().route_message(raw_msg)
        text = raw_msg if isinstance(raw_msg, str) else raw_msg.decode(errors="replace")
        if text.lstrip("[ \t\r\n").startswith("2"):  # a CALL from the charger
            self.central.stats.record(time.perf_counter() - started)
        # An answer to our call also says the charger is alive: ``answer_recorded`` notes it
        # with the answer.

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self.central.db_call(fn, self.id, *args, self.central.clock())
        except ocpp_data.OcppDataError as exc:
            self.central.stats.errors += 1
            raise PropertyConstraintViolationError(description=str(exc)) from exc
        except Exception:
            self.central.stats.errors += 1
            raise

    @on(Action.boot_notification)
    async def on_boot_notification(self, **_: Any) -> call_result.BootNotification:
        await self._db(ocpp_data.boot_notification)
        return call_result.BootNotification(
            current_time=ocpp_data.ocpp_time(self.central.clock()),
            interval=self.central.heartbeat_interval_s,
            status=RegistrationStatus.accepted,
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        await self._db(ocpp_data.heartbeat)
        return call_result.Heartbeat(current_time=ocpp_data.ocpp_time(self.central.clock()))

    @on(Action.status_notification)
    async def on_status_notification(
        self,
        connector_id: int,
        error_code: str,
        status: str,
        timestamp: str | None = None,
        info: str | None = None,
        **_: Any,
    ) -> call_result.StatusNotification:
        await self._db(
            ocpp_data.status_notification, connector_id, status, error_code, info, timestamp
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **_: Any) -> call_result.Authorize:
        status = await self._db(ocpp_data.authorize, id_tag)
        return call_result.Authorize(id_tag_info=IdTagInfo(status=status))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        **_: Any,
    ) -> call_result.StartTransaction:
        result = await self._db(
            ocpp_data.start_transaction, connector_id, id_tag, meter_start, timestamp
        )
        return call_result.StartTransaction(
            transaction_id=result.transaction_id, id_tag_info=IdTagInfo(status=result.status)
        )

    @on(Action.meter_values)
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
        **_: Any,
    ) -> call_result.MeterValues:
        await self._db(ocpp_data.meter_values, connector_id, transaction_id, meter_value)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        id_tag: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> call_result.StopTransaction:
        status = await self._db(
            ocpp_data.stop_transaction,
            transaction_id,
            meter_stop,
            timestamp,
            reason,
            id_tag,
            transaction_data,
        )
        info = IdTagInfo(status=status) if status is not None else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.data_transfer)
    async def on_data_transfer(self, **_: Any) -> call_result.DataTransfer:
        await self._db(ocpp_data.heartbeat)
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, **_: Any) -> call_result.FirmwareStatusNotification:
        await self._db(ocpp_data.heartbeat)
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        await self._db(ocpp_data.heartbeat)
        return call_result.DiagnosticsStatusNotification()
