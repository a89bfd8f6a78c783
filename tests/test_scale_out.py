"""Scale-out, tested (issue 19): the stack of deploy/ (HAProxy in front of two app instances and
two OCPP servers, one PostgreSQL database, Redis for rate limits, one upload folder) started on
loopback by ``deploy.local.Stack``, as an operator would run it on several machines.

* A sign-in through the balancer is valid on both app instances (one secret key).
* Sign-in attempts count across both instances (Redis): the limit is the configured count
  summed over them, not per instance.
* A browser import checked by one instance is applied by the other (one upload folder).
* A driver's Start charging, through the balancer, reaches a simulated charger on either OCPP
  server (chargers connect through the balancer; ``leastconn`` puts one on each).
* Stopping one OCPP server: its charger reconnects through the balancer to the other, its
  session in progress goes on and ends once (one session row, one transaction).
* Stopping one app instance during a load run (threads on ``/healthz`` and a signed-in page,
  through the balancer) loses no request once HAProxy has noticed; the time to notice and the
  errors are printed.

The tests share one stack and run in this order. PostgreSQL, HAProxy and Redis are required:
without them the tests skip saying why, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from central.simulator import SimulatedCharger, connect_charger
from components.dashboard import START_TYPE
from components.shell import COMMAND_STORE_ID, STOP_CONFIRM_ID
from data.accounts.passwords import hash_password
from data.core.db import Database
from data.core.models import Charger, ChargingSession, OcppTransaction, Role
from deploy.local import Stack, StackError, haproxy_binary
from tests.support.callbacks import CALLBACK_URL, callback_body, callback_key
from tests.support.databases import migrated_postgres_database, skip_or_fail
from tests.support.exchange import SAMPLE
from tests.support.factories import (
    make_account,
    make_charger,
    make_id_tag,
    make_operator,
    make_user,
)
from tests.support.import_page import answer, button_body, check_body, folder_upload
from tests.support.web import PASSWORD, make_app

pytestmark = pytest.mark.postgres

T = TypeVar("T")
ADMIN, ADMIN_ACCOUNT = "ops@scale.example", "acc-scale-ops"
DRIVERS = {"SO-1": "one@scale.example", "SO-2": "two@scale.example"}  # charger -> its driver
GUESSED = "guessed@scale.example"  # the rate limit's target
ASK = "..driver-command.data...driver-command-poll.disabled.."
LIMIT_PER_ADDRESS = 5  # auth.attempts.SIGN_IN_PER_ADDRESS
WAIT_S = 30.0


def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_base_port() -> int:
    """A base port whose block (base .. base+60) has nothing listening on the ports the stack
    uses."""
    for base in range(21000, 40000, 100):
        wanted = [base, base + 1, base + 10, base + 11, base + 50, base + 51]
        try:
            for port in wanted:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free block of ports")


def wait_until(what: str, check: Any, within_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within_s:g} s")
        time.sleep(0.1)


class Loop:
    """An asyncio loop in a thread of its own, where the simulated chargers live."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = WAIT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Site:
    stack: Stack
    db: Database
    app: Flask  # a local app on the same database: its callback map builds the requests
    loop: Loop
    chargers: dict[str, SimulatedCharger]
    contexts: list[Any]  # the chargers' connect_charger contexts and stay tasks

    def holder(self, charger_id: str) -> int | None:
        """The running OCPP server holding ``charger_id`` now, by their logs (connected minus
        disconnected), or None."""
        holding = []
        for i in range(len(self.stack.ocpp_urls)):
            if not self.stack.alive(f"ocpp{i}"):
                continue
            log = (self.stack.workdir / f"ocpp{i}.log").read_text(errors="replace")
            opened = len(re.findall(rf"charger {charger_id} connected$", log, re.M))
            closed = len(re.findall(rf"charger {charger_id} disconnected$", log, re.M))
            if opened > closed:
                holding.append(i)
        return holding[0] if len(holding) == 1 else None


def seed(db: Database) -> None:
    people = hash_password(PASSWORD)
    with db.session() as s:
        make_operator(s)
        admin = make_user(s, email=ADMIN, display_name="Olga Ops", password_hash=people)
        make_account(s, account_id=ADMIN_ACCOUNT, user=admin, role=Role.admin)
        admin.default_account_id = ADMIN_ACCOUNT
        for n, (charger_id, email) in enumerate(DRIVERS.items(), start=1):
            driver = make_user(s, email=email, display_name=f"Driver {n}", password_hash=people)
            account = make_account(s, account_id=f"acc-scale-{n}", user=driver)
            driver.default_account_id = account.id
            make_id_tag(s, account, id_tag=f"SCALE-TAG-{n}")
            make_charger(s, charger_id=charger_id, friendly_name=f"Bay {n}", max_power_kw="22")
        guessed = make_user(s, email=GUESSED, password_hash=people)
        make_account(s, account_id="acc-scale-guessed", user=guessed)
        guessed.default_account_id = "acc-scale-guessed"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if haproxy_binary() is None:
        skip_or_fail("HAProxy not installed (apt-get install haproxy)")
    if not _redis_answers():
        skip_or_fail("Redis not reachable at 127.0.0.1:6379")
    workdir = tmp_path_factory.mktemp("scale-out")
    with migrated_postgres_database("polaris_scale_out") as url:
        db = Database(url)
        seed(db)
        app = make_app(url)
        loop = Loop()
        started = time.monotonic()
        try:
            with Stack(url, workdir=workdir, base_port=_free_base_port()) as stack:
                print(f"\n[scale-out] stack healthy in {time.monotonic() - started:.1f} s")
                site = Site(stack, db, app, loop, {}, [])
                try:
                    yield site
                except BaseException:
                    for name, path in stack.logs().items():
                        print(f"\n===== {name} =====\n{path.read_text(errors='replace')[-3000:]}")
                    raise
                finally:
                    loop.run(_hang_up(site.contexts))
        finally:
            loop.close()
            app.extensions["polaris_db"].engine.dispose()
            db.engine.dispose()


async def _hang_up(held: list[Any]) -> None:
    """Stop the chargers' stay tasks, then leave their contexts (each hangs up)."""
    for item in reversed(held):
        if isinstance(item, asyncio.Task):
            item.cancel()
            with suppress(asyncio.CancelledError):
                await item
        else:
            with suppress(Exception):
                await item.__aexit__(None, None, None)


# --- people over HTTP -------------------------------------------------------------------------


def signed_in(base: str, email: str) -> requests.Session:
    """A session signed in as ``email`` at ``base`` (the login form and its CSRF token)."""
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:300]
    answer_ = http.post(
        f"{base}/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=10,
    )
    assert answer_.status_code == 302, (answer_.status_code, answer_.text[:300])
    http.get(f"{base}/switch", timeout=10)  # a page: sets the _csrf_token cookie Dash echoes
    return http


def callback(http: requests.Session, base: str, body: dict[str, Any]) -> requests.Response:
    """A Dash callback as the renderer posts it, to ``base`` (the balancer or one instance)."""
    return http.post(
        f"{base}{CALLBACK_URL}",
        json=body,
        headers={"X-CSRFToken": http.cookies.get("_csrf_token") or ""},
        timeout=60,
    )


def drive(site: Site, base: str, http: requests.Session, *, start: str | None) -> dict[str, Any]:
    """The dashboard's Start charging on ``start`` (or the banner's confirmed Stop)."""
    body = callback_body(site.app, callback_key(site.app, ASK))
    cards = [start] if start else []
    body["inputs"] = [
        [
            {"id": {"type": START_TYPE, "charger": c}, "property": "n_clicks", "value": 1}
            for c in cards
        ],
        {"id": STOP_CONFIRM_ID, "property": "submit_n_clicks", "value": None if start else 1},
    ]
    body["state"] = [[]]
    if start:
        body["changedPropIds"] = [f'{{"charger":"{start}","type":"{START_TYPE}"}}.n_clicks']
    else:
        body["changedPropIds"] = [f"{STOP_CONFIRM_ID}.submit_n_clicks"]
    response = callback(http, base, body)
    assert response.status_code == 200, response.text[:300]
    store: dict[str, Any] = response.json()["response"][COMMAND_STORE_ID]["data"]
    return store


# --- the tests ---------------------------------------------------------------------------------


def test_a_sign_in_through_the_balancer_is_valid_on_every_instance(site: Site) -> None:
    stack = site.stack
    http = signed_in(stack.balancer_url, DRIVERS["SO-1"])
    cookie = http.cookies.get("session")
    assert cookie
    for base in stack.app_urls:
        anonymous = requests.get(f"{base}/", allow_redirects=False, timeout=10)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
        mine = requests.get(
            f"{base}/", cookies={"session": cookie}, allow_redirects=False, timeout=10
        )
        assert mine.status_code == 200, (base, mine.status_code, mine.headers.get("Location"))


def test_sign_in_attempts_count_across_both_instances(site: Site) -> None:
    stack = site.stack
    statuses = []
    for attempt in range(LIMIT_PER_ADDRESS + 1):
        base = stack.app_urls[attempt % 2]
        http = requests.Session()
        page = http.get(f"{base}/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        wrong = {"email": GUESSED, "password": "not-the-password", "csrf_token": token.group(1)}
        statuses.append(http.post(f"{base}/login", data=wrong, timeout=10).status_code)
    # Per instance this would be 3 + 3 wrong passwords, all checked (401).
    assert statuses == [401] * LIMIT_PER_ADDRESS + [429], statuses


def test_an_import_checked_by_one_instance_is_applied_by_the_other(site: Site) -> None:
    stack = site.stack
    first, second = stack.app_urls
    http = signed_in(stack.balancer_url, ADMIN)
    names, contents = folder_upload(SAMPLE)
    response = callback(http, first, check_body(site.app, names, contents, folder=True))
    staged, panel, disabled = answer(_as_test_response(response))
    assert isinstance(staged, str) and disabled is False, panel[:400]
    assert [p.name for p in stack.uploads.iterdir()] == [staged]  # kept in the shared folder
    response = callback(http, second, button_body(site.app, "apply", staged))
    staged_after, panel, _ = answer(_as_test_response(response))
    assert staged_after is None and "rows added" in panel, panel[:400]
    assert list(stack.uploads.iterdir()) == []
    with site.db.session() as s:
        assert s.get(Charger, "ch-ccs-1") is not None  # from the sample


class _as_test_response:  # noqa: N801 - reads like the function it stands in for
    """A requests answer with the two things ``answer`` reads from a Flask test response."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self._response = response

    def get_json(self) -> Any:
        return self._response.json()

    def get_data(self, as_text: bool = False) -> str:
        return self._response.text


def test_start_charging_reaches_a_charger_on_either_ocpp_server(site: Site) -> None:
    stack = site.stack

    async def connect(charger_id: str) -> SimulatedCharger:
        context = connect_charger(stack.ocpp_url, charger_id)  # through the balancer
        site.contexts.append(context)  # held: collected, it would hang up
        charger = await context.__aenter__()
        charger.reconnect_s = 0.2
        charger.meter_interval_s = 1.0
        await charger.boot()
        await charger.status("Available")
        staying = asyncio.get_running_loop().create_task(charger.stay(600))  # reconnects
        site.contexts.append(staying)
        return charger

    for charger_id in DRIVERS:
        site.chargers[charger_id] = site.loop.run(connect(charger_id))
    for charger_id in DRIVERS:
        wait_until(f"{charger_id} held", lambda c=charger_id: site.holder(c) is not None)
    held = {c: site.holder(c) for c in DRIVERS}
    assert sorted(h for h in held.values() if h is not None) == [0, 1], held  # leastconn

    for charger_id, email in DRIVERS.items():
        http = signed_in(stack.balancer_url, email)
        store = drive(site, stack.balancer_url, http, start=charger_id)
        assert (store["kind"], store["state"]) == ("start", "waiting"), store
    for charger_id in DRIVERS:
        charger = site.chargers[charger_id]
        wait_until(f"{charger_id} charging", lambda ch=charger: ch.transaction_id is not None)
        assert ("RemoteStartTransaction", {"id_tag": f"SCALE-TAG-{charger_id[-1]}"}) in [
            (action, {k: v for k, v in payload.items() if k == "id_tag"})
            for action, payload in charger.received
        ]
    with site.db.session() as s:
        open_sessions = s.scalars(
            select(ChargingSession.charger_id).where(
                ChargingSession.ended_at.is_(None), ChargingSession.charger_id.in_(list(DRIVERS))
            )
        ).all()
    assert sorted(open_sessions) == sorted(DRIVERS)


def _energy(db: Database, charger_id: str) -> float:
    with db.session() as s:
        return float(
            s.scalar(
                select(ChargingSession.energy_kwh).where(ChargingSession.charger_id == charger_id)
            )
            or 0
        )


def test_a_stopped_ocpp_server_s_charger_reconnects_and_its_session_ends_once(site: Site) -> None:
    stack = site.stack
    moved = next(c for c in DRIVERS if site.holder(c) == 0)  # the charger on server 0
    stayed = next(c for c in DRIVERS if c != moved)
    charger = site.chargers[moved]
    transaction = charger.transaction_id
    wait_until(f"{moved} metering", lambda: _energy(site.db, moved) > 0)

    assert (charger.connections, charger.boots) == (1, 1)
    stopping_at = time.monotonic()
    exited_s, noticed_s = stop_and_watch(stack, "ocpp", 0)
    wait_until(f"{moved} on server 1", lambda: site.holder(moved) == 1 and charger.boots == 2)
    reconnected_s = time.monotonic() - stopping_at
    print(
        f"\n[scale-out] OCPP server 0 stopped (exited {exited_s:.2f} s after SIGTERM): "
        f"HAProxy marked it DOWN {noticed_s:.2f} s after; its charger was booted on server 1 "
        f"by {reconnected_s:.2f} s"
    )
    assert charger.connections == 2  # one reconnection, through the balancer
    assert charger.transaction_id == transaction  # still the same transaction
    energy_at_move = _energy(site.db, moved)
    wait_until(
        f"{moved} metering through server 1", lambda: _energy(site.db, moved) > energy_at_move
    )

    for charger_id in (moved, stayed):  # each driver stops through the balancer
        http = signed_in(stack.balancer_url, DRIVERS[charger_id])
        store = drive(site, stack.balancer_url, http, start=None)
        assert (store["kind"], store["state"]) == ("stop", "waiting"), store
    for charger_id in (moved, stayed):
        ch = site.chargers[charger_id]
        wait_until(f"{charger_id} stopped", lambda ch=ch: ch.transaction_id is None)

    def ended() -> bool:
        with site.db.session() as s:
            return not s.scalar(
                select(func.count()).where(
                    ChargingSession.charger_id.in_(list(DRIVERS)),
                    ChargingSession.ended_at.is_(None),
                )
            )

    wait_until("both sessions ended", ended)
    with site.db.session() as s:
        for charger_id in DRIVERS:
            sessions = s.scalars(
                select(ChargingSession).where(ChargingSession.charger_id == charger_id)
            ).all()
            transactions = s.scalar(
                select(func.count()).where(OcppTransaction.charger_id == charger_id)
            )
            assert len(sessions) == 1 and transactions == 1, (charger_id, sessions, transactions)
            assert sessions[0].ended_at is not None
    assert _energy(site.db, moved) > energy_at_move  # readings after the move counted once


def stop_and_watch(stack: Stack, backend: str, i: int) -> tuple[float, float]:
    """SIGTERM instance ``i`` of ``backend`` (app or ocpp) while watching HAProxy's view:
    (seconds until the process exited, seconds until HAProxy marked it DOWN)."""
    stop = stack.stop_app if backend == "app" else stack.stop_ocpp
    exited: list[float] = []
    started = time.monotonic()

    def stopping() -> None:
        stop(i)  # returns once the process has exited
        exited.append(time.monotonic() - started)

    stopper = threading.Thread(target=stopping)
    stopper.start()
    try:
        stack.wait_for_state(backend, f"{backend}{i}", "DOWN", within_s=20)
        noticed_s = time.monotonic() - started
    finally:
        stopper.join(60)
    assert exited, f"{backend}{i} did not exit"
    return exited[0], noticed_s


@dataclass
class Outcome:
    at: float
    ok: bool
    what: str


def test_stopping_an_app_instance_loses_no_request_once_the_balancer_noticed(site: Site) -> None:
    stack = site.stack
    driver = signed_in(stack.balancer_url, DRIVERS["SO-1"])
    cookie = driver.cookies.get("session")
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer(path: str, cookies: dict[str, str]) -> None:
        http = requests.Session()
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = http.get(
                    f"{stack.balancer_url}{path}",
                    cookies=cookies,
                    allow_redirects=False,
                    timeout=10,
                )
                ok, what = response.status_code == 200, str(response.status_code)
            except requests.RequestException as error:
                ok, what = False, error.__class__.__name__
            with lock:
                outcomes.append(Outcome(started, ok, what))

    threads = [
        threading.Thread(target=hammer, args=("/healthz", {})),
        threading.Thread(target=hammer, args=("/healthz", {})),
        threading.Thread(target=hammer, args=("/", {"session": cookie})),
        threading.Thread(target=hammer, args=("/", {"session": cookie})),
    ]
    before = stack.server_stats()["app"]["app1"]["stot"]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2.0)
        served = int(stack.server_stats()["app"]["app1"]["stot"]) - int(before)
        stopping_at = time.monotonic()
        exited_s, noticed_s = stop_and_watch(stack, "app", 1)
        noticed_at = stopping_at + noticed_s
        time.sleep(3.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    errors = [o for o in outcomes if not o.ok]
    after = [o for o in outcomes if o.at > noticed_at]
    print(
        f"\n[scale-out] app instance 1 stopped during {len(outcomes)} requests "
        f"({served} went to it in the 2 s before): exited {exited_s:.2f} s after SIGTERM, "
        f"HAProxy marked it DOWN {noticed_s:.2f} s after; "
        f"{len(errors)} errors ({sorted({o.what for o in errors})}), "
        f"{len(after)} requests after, all on instance 0"
    )
    assert served > 0  # both instances were taking requests
    assert after and all(o.ok for o in after), [o.what for o in after if not o.ok]
    # Errors, if any, only while HAProxy had not noticed yet.
    assert all(stopping_at <= o.at <= noticed_at for o in errors), [
        (round(o.at - stopping_at, 2), o.what) for o in errors
    ]
    try:
        stack.start_app(1)  # back: HAProxy sends it requests again
    except StackError as error:
        pytest.fail(f"app instance 1 did not come back: {error}")
    assert stack.stats()["app"]["app1"] == "UP"
