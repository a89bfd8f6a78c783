"""``python -m bench run``: what one dashboard costs on a bench database, against its floor.

Every figure is server time of the real app (``create_app`` on the bench database), driven the
way the browser drives it: Flask's test client signed in as a bench login, the layout and every
callback a first page view fires, with the JSON bodies Dash's renderer sends. The same run also
times the floor (the dashboard's data by minimal SQL over psycopg, pipeline mode: one round
trip), a naive build (pandas over all of the account's sessions, a query per charger, plotly
express), the interval poll, throughput under gunicorn, admin pages (with EXPLAIN: no
sequential scan of ``sessions``) and the CSV export (``bench/export_bench.py``).

Not a test: timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.express as px
import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from app import create_app, freeze_start_up_heap
from bench import export_bench
from bench import tick as bench_tick
from bench.build import (
    ADMIN_EMAIL,
    HEAVY_EMAIL,
    LIGHT_EMAIL,
    PASSWORD,
    libpq_url,
)
from data.accounts.tokens import create_token
from data.audit.entries import COMMAND_LINE
from data.core.db import Database, normalise_url, upgrade
from data.core.periods import PERIODS, period_bounds

ROOT = Path(__file__).resolve().parents[1]
LOGINS = {"light": LIGHT_EMAIL, "heavy": HEAVY_EMAIL}
# Page views before the timed ones: psycopg prepares a statement on its 5th run on a connection,
# and a worker serving drivers is long past that.
WARM_UP_LOADS = 5
TARGETS = {
    "heavy / light": "<= 1.2",
    "dashboard p95": "<= 20 ms",
    "dashboard / floor": "<= 3",
    "naive / ours": ">= 30",
    "poll p95": "1 request, <= 2 ms, <= 1 KB unchanged",
    "admin p95": "<= 150 ms, no seq scan of sessions",
    "export": ">= 1,000,000 rows/s, < 100 MiB",
    "export / COPY": ">= 0.9",
    "export parquet": "peak <= 150 MiB",
}


def percentiles(values: list[float], points: tuple[int, ...] = (50, 95)) -> dict[str, float]:
    """``p50`` and ``p95`` (or the ``points`` asked for) in ms, to 0.01 ms (nearest-rank, so a
    value that was really measured)."""
    ordered = sorted(values)
    if not ordered:
        return {f"p{p}": float("nan") for p in points}

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered) + 0.5) - 1))]

    return {f"p{p}": round(rank(p / 100), 2) for p in points}


# --- Driving the real app ------------------------------------------------------------------------


def bench_app(url: str) -> Flask:
    """The app as a gunicorn worker runs it (``app.server``), on the bench database."""
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEMO": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "STATEMENT_TIMEOUT_MS": 120_000,
        }
    )
    freeze_start_up_heap()
    return app


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if match is None:
        raise SystemExit("no CSRF token on /login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": match.group(1)}
    )
    if response.status_code != 302:
        raise SystemExit(f"cannot sign in as {email}: HTTP {response.status_code}")
    client.get("/switch")  # sets Dash's _csrf_token cookie, as the first page view does


def output_key(app: Flask, *parts: str) -> str:
    """The callback's output key (as the renderer sends it) whose text holds every part."""
    keys = [k for k in app.extensions["polaris_dash"].callback_map if all(p in k for p in parts)]
    if len(keys) != 1:
        raise SystemExit(f"expected one callback with {parts}, found {keys}")
    return keys[0]


def dashboard_keys(app: Flask) -> dict[str, str]:
    """The output keys of the callbacks a dashboard page view and its polls fire, by name."""
    keys = {
        "pages": output_key(app, "_pages_content.children"),
        "banner": output_key(app, *bench_tick.BANNER_KEY_PARTS),
        "menu": output_key(app, "account-menu.children"),
        "render": output_key(app, "recent-sessions-data.data", "usage-chart.figure"),
        "tick": output_key(app, *bench_tick.TICK_KEY_PARTS),
    }
    recent = recent_key(app)
    if recent:
        keys["recent"] = recent
    return keys


# The account menu's one call per page load (its input is a store nothing writes).
MENU_INPUTS = [{"id": "account-menu-load", "property": "data", "value": True}]


def outputs_of(key: str) -> Any:
    specs = []
    for part in key.strip(".").split("..."):
        ident, _, prop = part.rpartition(".")
        prop = prop.split("@", 1)[0]  # allow_duplicate outputs carry "@<hash>" in the key
        specs.append(
            {"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop}
        )
    return specs if len(specs) > 1 else specs[0]


@dataclass
class Call:
    """One request: what it is, its body, and what came back."""

    name: str
    ms: float  # server time: the app at the WSGI boundary (``ServerClock``)
    status: int
    request_bytes: int
    response_bytes: int
    body: Any = None
    cpu_ms: float = 0.0  # CPU time of this thread (the app's Python side) during the request
    client_ms: float = 0.0  # the same request around the test client (its own work included)


class ServerClock:
    """Times the app where a WSGI server hands it a request: from the call into ``wsgi_app`` to
    its last byte, teardown included. The test client's own work around it (building the
    environ, wrapping the response: ~0.3 ms a request here) is not server time; ``client_ms``
    keeps the figure with it."""

    def __init__(self, app: Flask) -> None:
        self.inner = app.wsgi_app
        self.ms = self.cpu_ms = 0.0
        app.wsgi_app = self  # type: ignore[method-assign]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        cpu, started = time.thread_time(), time.perf_counter()
        result = self.inner(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.ms = (time.perf_counter() - started) * 1000
        self.cpu_ms = (time.thread_time() - cpu) * 1000
        return [body]


def server_clock(app: Flask) -> ServerClock:
    """The app's clock, installed on first use."""
    clock = app.wsgi_app
    return clock if isinstance(clock, ServerClock) else ServerClock(app)


class Driver:
    """One signed-in browser, as far as the server can tell."""

    def __init__(self, app: Flask, email: str, password: str = PASSWORD) -> None:
        self.app = app
        self.client = app.test_client()
        self.clock = server_clock(app)
        sign_in(self.client, email, password)
        cookie = self.client.get_cookie("_csrf_token")
        if cookie is None:
            raise SystemExit("no _csrf_token cookie after a page view")
        self.csrf = cookie.value
        self.keys = dashboard_keys(app)
        # What the browser shows, updated from each response (for the polls' State).
        self.banner: list[Any] = [True, None, None, None, None]  # the banner's texts
        self.status_shown: Any = None  # what the browser keeps of the pills it shows
        self.watch: Any = None  # what the browser keeps of Next reservation (the render's)
        self.pills: list[str] = []  # the chargers the last render put on screen
        self.n_intervals = 0

    def get(self, name: str, path: str) -> Call:
        started = time.perf_counter()
        response = self.client.get(path)
        client_ms = (time.perf_counter() - started) * 1000
        data = response.get_data()
        clock = self.clock
        return Call(
            name, clock.ms, response.status_code, 0, len(data), data, clock.cpu_ms, client_ms
        )

    def callback(
        self,
        name: str,
        inputs: list[dict[str, Any]],
        state: list[Any] | None = None,
        outputs: Any = None,
        changed: str | None = None,
    ) -> Call:
        key = self.keys[name]
        payload = json.dumps(
            {
                "output": key,
                "outputs": outputs if outputs is not None else outputs_of(key),
                "inputs": inputs,
                "state": state or [],
                "changedPropIds": [changed]
                if changed
                else [f"{_id_text(i['id'])}.{i['property']}" for i in inputs[:1]],
            }
        )
        started = time.perf_counter()
        response = self.client.post(
            "/_dash-update-component",
            data=payload,
            content_type="application/json",
            headers={"X-CSRFToken": self.csrf},
        )
        client_ms = (time.perf_counter() - started) * 1000
        data = response.get_data()
        if response.status_code not in (200, 204):
            raise SystemExit(f"{name}: HTTP {response.status_code}: {data[:300]!r}")
        body = json.loads(data) if response.status_code == 200 and data else None
        clock = self.clock
        return Call(
            name,
            clock.ms,
            response.status_code,
            len(payload),
            len(data),
            body,
            clock.cpu_ms,
            client_ms,
        )

    # The first page view of "/": layout, the pages router, then what the page mounts.
    def load(self, period: str = "current") -> list[Call]:
        self.banner = [True, None, None, None, None]  # a new page: as the layout has it
        calls = [self.get("layout", "/_dash-layout")]
        calls.append(
            self.callback(
                "pages",
                [
                    {"id": "_pages_location", "property": "pathname", "value": "/"},
                    {"id": "_pages_location", "property": "search", "value": ""},
                ],
            )
        )
        calls.append(self.banner_call())
        calls.append(self.callback("menu", MENU_INPUTS))
        calls.append(self.render(period))
        # Recent activity is asked again only when the banner changes after this first view
        # (pages/dashboard.py recentGate): not part of a page view; ``recent`` times it alone.
        return calls

    def recent(self) -> Call:
        """Recent activity alone, as when a session starts or ends under the open page."""
        self.n_intervals += 1
        return self.callback("recent", recent_inputs(self.n_intervals))

    def render(self, period: str) -> Call:
        call = self.callback(
            "render", [{"id": "dashboard-period", "property": "data", "value": period}]
        )
        self._remember_render(call.body)
        return call

    def banner_call(self) -> Call:
        inputs = bench_tick.banner_inputs(self.n_intervals + 1)
        ids = (
            "active-session-banner",
            "banner-kwh",
            "banner-cost",
            "banner-started",
            "banner-charger",
        )
        props = ("hidden", "children", "children", "children", "children")
        state = [
            {"id": i, "property": p, "value": v}
            for i, p, v in zip(ids, props, self.banner, strict=True)
        ]
        call = self.callback("banner", inputs, state)
        if call.body:
            for n, (i, p) in enumerate(zip(ids, props, strict=True)):
                if p in call.body["response"].get(i, {}):
                    self.banner[n] = call.body["response"][i][p]
        return call

    def poll(self) -> list[Call]:
        """One tick of the refresh interval: one request (bench/tick.py)."""
        return bench_tick.poll(self)

    def _remember_render(self, body: Any) -> None:
        if not body:
            return
        self.status_shown = body["response"].get("charger-status-shown", {}).get("data")
        self.watch = body["response"].get("next-reservation-watch", {}).get("data")
        # The cards come as data (the browser builds them): their chargers, in screen order.
        grid = body["response"].get("charger-grid-data", {}).get("data") or {}
        self.pills = [card["id"] for card in grid.get("cards", [])]


def recent_key(app: Flask) -> str | None:
    """The callback that refreshes Recent activity alone when the banner changes, if any."""
    keys = app.extensions["polaris_dash"].callback_map
    return next((k for k in keys if k.startswith("recent-sessions-data.data@")), None)


def recent_inputs(refreshes: int) -> list[dict[str, Any]]:
    return [{"id": "recent-refresh", "property": "data", "value": refreshes}]


def _id_text(ident: Any) -> str:
    if isinstance(ident, dict):
        return json.dumps(ident, separators=(",", ":"), sort_keys=True)
    return str(ident)


def _walk(tree: Any) -> Iterator[dict[str, Any]]:
    """Every component's props in a callback response."""
    if isinstance(tree, dict):
        if "props" in tree and "type" in tree:
            yield tree["props"]
        for value in tree.values():
            yield from _walk(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _walk(value)


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement (and its parameters) the app's engine runs inside the block."""
    statements: list[tuple[str, Any]] = []
    engine = app.extensions["polaris_db"].engine

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- The floor: the dashboard's data by minimal SQL, one round trip ------------------------------

FLOOR_QUERIES = {
    "operator": "SELECT name, support_email, timezone, currency FROM operator LIMIT 1",
    "active": """
        SELECT s.id, c.friendly_name, s.started_at, s.energy_kwh
        FROM (SELECT id, charger_id, started_at, energy_kwh FROM sessions
              WHERE account_id = %(a)s::text AND ended_at IS NULL
              ORDER BY started_at DESC, id DESC LIMIT 1) s
        JOIN chargers c ON c.id = s.charger_id""",
    "recent": """
        SELECT s.*, c.friendly_name
        FROM (SELECT id, charger_id, started_at, ended_at, energy_kwh, finalized FROM sessions
              WHERE account_id = %(a)s::text ORDER BY started_at DESC, id DESC LIMIT 5) s
        JOIN chargers c ON c.id = s.charger_id ORDER BY s.started_at DESC""",
    "reservation": """
        SELECT r.*, c.friendly_name
        FROM (SELECT id, charger_id, starts_at, ends_at, status FROM reservations
              WHERE account_id = %(a)s::text AND ends_at > %(now)s::timestamptz
                AND status IN ('pending', 'confirmed', 'active')
              ORDER BY starts_at, id LIMIT 1) r
        JOIN chargers c ON c.id = r.charger_id""",
    "usage": """
        SELECT date_trunc('day', started_at, %(tz)s::text) AS day, sum(energy_kwh)
        FROM sessions WHERE account_id = %(a)s::text
          AND started_at >= %(start)s::timestamptz AND started_at < %(end)s::timestamptz
          AND energy_disputed_at IS NULL
        GROUP BY 1""",
    "plan": """
        SELECT p.id, p.name, p.allowance_kwh, p.currency
        FROM accounts a JOIN plans p ON p.id = a.plan_id WHERE a.id = %(a)s::text""",
    "chargers": """
        WITH busy AS (SELECT DISTINCT charger_id FROM sessions WHERE ended_at IS NULL),
             held AS (SELECT DISTINCT charger_id FROM reservations
                      WHERE starts_at <= %(now)s::timestamptz AND ends_at > %(now)s::timestamptz
                        AND status IN ('active', 'confirmed')),
             visible AS MATERIALIZED (
                SELECT c.id, c.friendly_name, c.connector_type, c.max_power_kw,
                       CASE WHEN c.last_seen_at IS NULL
                                 OR c.last_seen_at < %(offline)s::timestamptz THEN 3
                            WHEN c.id IN (SELECT charger_id FROM busy) THEN 2
                            WHEN c.id IN (SELECT charger_id FROM held) THEN 1 ELSE 0 END AS rank
                FROM chargers c
                WHERE c.visibility = 'public' OR c.id IN (
                    SELECT charger_id FROM charger_access WHERE account_id = %(a)s::text))
        SELECT *, count(*) OVER (), count(*) FILTER (WHERE rank = 0) OVER ()
        FROM visible ORDER BY rank, friendly_name, id LIMIT 50""",
}


def floor_load(conn: psycopg.Connection, account_id: str, period_name: str, tz: ZoneInfo) -> None:
    now = datetime.now(UTC)
    period = period_bounds(period_name, now, tz)
    params = {
        "a": account_id,
        "now": now,
        "tz": tz.key,
        "start": period.start_utc,
        "end": period.end_utc,
        "offline": now - timedelta(hours=1),
    }
    with conn.pipeline():
        cursors = [conn.execute(sql, params) for sql in FLOOR_QUERIES.values()]
    for cursor in cursors:
        cursor.fetchall()


# --- The naive build: everything in pandas, a query per charger, plotly express ------------------


def naive_load(conn: psycopg.Connection, account_id: str, period_name: str, tz: ZoneInfo) -> Any:
    now = datetime.now(UTC)
    period = period_bounds(period_name, now, tz)
    sessions = pd.DataFrame(
        conn.execute(
            # The columns by name: later migrations add more to sessions (0012).
            "SELECT s.id, s.account_id, s.charger_id, s.started_at, s.ended_at, s.energy_kwh, "
            "s.finalized, c.friendly_name FROM sessions s JOIN chargers c ON c.id = s.charger_id "
            "WHERE s.account_id = %s",
            (account_id,),
        ).fetchall(),
        columns=[
            "id",
            "account_id",
            "charger_id",
            "started_at",
            "ended_at",
            "energy_kwh",
            "finalized",
            "friendly_name",
        ],
    )
    sessions["energy_kwh"] = sessions["energy_kwh"].astype(float)
    sessions["day"] = pd.to_datetime(sessions["started_at"], utc=True).dt.tz_convert(tz).dt.date
    recent = sessions.sort_values("started_at", ascending=False).head(5)
    active = sessions[sessions["ended_at"].isna()]
    in_period = sessions[(sessions["day"] >= period.first_day) & (sessions["day"] < period.end_day)]
    daily = in_period.groupby("day")["energy_kwh"].sum().reindex(period.days, fill_value=0.0)
    figure = px.bar(x=list(daily.index), y=daily.values, labels={"x": "day", "y": "kWh"})
    plan = conn.execute(
        "SELECT p.* FROM accounts a JOIN plans p ON p.id = a.plan_id WHERE a.id = %s",
        (account_id,),
    ).fetchall()
    chargers = conn.execute(
        "SELECT id, friendly_name, last_seen_at FROM chargers WHERE visibility = 'public' "
        "OR id IN (SELECT charger_id FROM charger_access WHERE account_id = %s) "
        "ORDER BY friendly_name LIMIT 50",
        (account_id,),
    ).fetchall()
    statuses = {}
    for charger_id, _name, _seen in chargers:  # a query per charger
        statuses[charger_id] = conn.execute(
            "SELECT (SELECT count(*) FROM sessions WHERE charger_id = %s::text "
            "AND ended_at IS NULL), (SELECT count(*) FROM reservations WHERE charger_id = "
            "%s::text AND starts_at <= now() AND ends_at > now())",
            (charger_id, charger_id),
        ).fetchone()
    return recent, active, figure.to_plotly_json(), plan, statuses


# --- Throughput: gunicorn, 2 workers, an async client --------------------------------------------


def server_env(url: str) -> dict[str, str]:
    """The environment of an app process (gunicorn, the OCPP server) on the bench database."""
    return dict(
        os.environ,
        DATABASE_URL=normalise_url(url),
        SECRET_KEY=secrets.token_urlsafe(48),
        POLARIS_DEMO="0",
        POLARIS_STATEMENT_TIMEOUT_MS="120000",
    )


def start_gunicorn(url: str, port: int, workers: int) -> Any:
    import subprocess

    env = server_env(url)
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        f"--workers={workers}",
        "--worker-class=gthread",
        "--threads=4",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "app:server",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


async def _drive(
    base: str,
    emails: list[str],
    seconds: float,
    warmup: float,
    app: Flask,
    errors: list[str] | None = None,
) -> dict[str, list[float]]:
    """Every user signs in, then replays page views (layout, router, the page's three first
    callbacks together, as the renderer sends them) each followed by two interval ticks (the
    banner and the status pills together), back to back. Only what starts after ``warmup`` and
    ends within ``seconds`` counts. Failed requests end the run, unless ``errors`` is given: then
    they are added to it (bench/balancer.py counts them)."""
    import aiohttp

    keys = dashboard_keys(app)
    loads: list[float] = []
    polls: list[float] = []
    raise_errors = errors is None
    errors = [] if errors is None else errors
    window: list[float] = []
    signed_in = asyncio.Event()
    ready: list[str] = []

    # Two sign-ins at a time: a burst of argon2 checks can hold every thread of an instance
    # longer than a balancer's health check waits (bench/balancer.py).
    sign_ins = asyncio.Semaphore(2)

    async def user(email: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
            await sign_ins.acquire()  # released once signed in
            page = await (await http.get("/login")).text()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            if token is None:
                raise SystemExit("throughput: no CSRF token on /login")
            await http.post(
                "/login",
                data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
                allow_redirects=False,
            )
            await (await http.get("/switch")).read()
            csrf = next(c.value for c in jar if c.key == "_csrf_token")
            sign_ins.release()
            headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
            ready.append(email)
            if len(ready) == len(emails):
                now = time.perf_counter()
                window[:] = [now + warmup, now + warmup + seconds]
                signed_in.set()
            await signed_in.wait()

            async def post(
                name: str,
                inputs: list[dict[str, Any]],
                state: Any = None,
                changed: int = 0,
                outputs: Any = None,
            ) -> Any:
                body = {
                    "output": keys[name],
                    "outputs": outputs if outputs is not None else outputs_of(keys[name]),
                    "inputs": inputs,
                    "state": state or [],
                    "changedPropIds": [f"{inputs[changed]['id']}.{inputs[changed]['property']}"],
                }
                async with http.post(
                    "/_dash-update-component", data=json.dumps(body), headers=headers
                ) as r:
                    data = await r.read()
                    if r.status not in (200, 204):
                        errors.append(f"{name}: {r.status}")
                    return json.loads(data) if r.status == 200 else None

            banner_state = [
                {"id": "active-session-banner", "property": "hidden", "value": True},
                {"id": "banner-kwh", "property": "children", "value": None},
                {"id": "banner-cost", "property": "children", "value": None},
                {"id": "banner-started", "property": "children", "value": None},
                {"id": "banner-charger", "property": "children", "value": None},
            ]
            tick = 0
            while time.perf_counter() < window[1]:
                started = time.perf_counter()
                await (await http.get("/_dash-layout")).read()
                pathname = [
                    {"id": "_pages_location", "property": "pathname", "value": "/"},
                    {"id": "_pages_location", "property": "search", "value": ""},
                ]
                await post("pages", pathname)
                _banner, _menu, render = await asyncio.gather(
                    post("banner", bench_tick.banner_inputs(1), banner_state),
                    post("menu", MENU_INPUTS),
                    post(
                        "render",
                        [{"id": "dashboard-period", "property": "data", "value": "current"}],
                    ),
                )
                ended = time.perf_counter()
                if window[0] <= started and ended <= window[1]:
                    loads.append((ended - started) * 1000)
                shown_pills, watch = _status_shown(render), _watch(render)
                for _ in range(2):  # two interval ticks per page view: one request each
                    tick += 1
                    started = time.perf_counter()
                    state = bench_tick.tick_state(
                        [s["value"] for s in banner_state], shown_pills[0]["value"], watch
                    )
                    await post("tick", bench_tick.tick_inputs(tick), state)
                    ended = time.perf_counter()
                    if window[0] <= started and ended <= window[1]:
                        polls.append((ended - started) * 1000)

    await asyncio.gather(*(user(e) for e in emails))
    if errors and raise_errors:
        raise SystemExit(f"throughput: {len(errors)} failed requests, e.g. {errors[:3]}")
    return {"loads": loads, "polls": polls}


def _status_shown(render: Any) -> list[dict[str, Any]]:
    """The status poll's State: the digest of the pills a render put on screen."""
    digest = None
    if render:
        digest = render["response"].get("charger-status-shown", {}).get("data")
    return [{"id": "charger-status-shown", "property": "data", "value": digest}]


def _watch(render: Any) -> Any:
    return render["response"].get("next-reservation-watch", {}).get("data") if render else None


def throughput(url: str, app: Flask, seconds: float, users: int = 8) -> dict[str, Any]:
    port = export_bench.free_port()
    workers = os.cpu_count() or 2
    process = start_gunicorn(url, port, workers)
    try:
        export_bench.wait_until_up(port, process)
        emails = [HEAVY_EMAIL, LIGHT_EMAIL] + [
            f"driver{k}@bench.example" for k in range(1, users - 1)
        ]
        base = f"http://127.0.0.1:{port}"
        result = asyncio.run(_drive(base, emails, seconds, min(2.0, seconds), app))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    loads = result["loads"]
    return {
        "workers": workers,
        "users": users,
        "seconds": seconds,
        "loads": len(loads),
        "loads_per_s": round(len(loads) / seconds, 1),
        "p50_ms": percentiles(loads)["p50"],
        "p95_ms": percentiles(loads)["p95"],
        "polls_per_s": round(len(result["polls"]) / seconds, 1),
        "poll_p95_ms": percentiles(result["polls"])["p95"],
    }


# --- Admin pages ---------------------------------------------------------------------------------


def admin_figures(app: Flask, repeat: int) -> dict[str, Any]:
    driver = Driver(app, ADMIN_EMAIL)
    driver.keys.update(
        fleet_rows=output_key(app, "admin-fleet-grid.getRowsResponse"),
        fleet_counts='{"status":["ALL"],"type":"admin-fleet-pill"}.children',
        sessions_view=output_key(app, "admin-sessions-from.value"),
        sessions_page=output_key(app, "admin-sessions-grid", "getRowsResponse"),
        analytics=output_key(app, "admin-analytics-summary.children"),
    )
    today = datetime.now(UTC).date()
    year_ago = (today - timedelta(days=364)).isoformat()
    grid_request = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}

    def fleet() -> None:
        driver.callback("fleet_rows", [_in("admin-fleet-grid", "getRowsRequest", grid_request)])

    def fleet_counts() -> None:
        pills = [{"type": "admin-fleet-pill", "status": s} for s in _fleet_pills()]
        driver.callback(
            "fleet_counts",
            [_in("refresh-interval", "n_intervals", 1)],
            outputs=[{"id": p, "property": "children"} for p in pills],
        )

    def explorer(query: dict[str, str]) -> Callable[[], None]:
        def run() -> None:
            view = driver.callback(
                "sessions_view",
                [_in("admin-sessions-query", "data", query), _in("admin-energy-store", "data", 0)],
            )
            grid = next(
                n["id"]
                for n in _walk(view.body["response"])
                if isinstance(n.get("id"), dict) and n["id"].get("type") == "admin-sessions-grid"
            )
            count = {**grid, "type": "admin-sessions-count"}
            totals = {**grid, "type": "admin-sessions-totals"}
            driver.callback(
                "sessions_page",
                [{"id": grid, "property": "getRowsRequest", "value": grid_request}],
                [{"id": count, "property": "data", "value": None}],
                [
                    {"id": grid, "property": "getRowsResponse"},
                    {"id": totals, "property": "children"},
                    {"id": count, "property": "data"},
                ],
            )

        return run

    def analytics() -> None:
        driver.callback(
            "analytics",
            [_in("admin-analytics-range", "data", {"from": year_ago, "to": today.isoformat()})],
        )

    def energy_chart() -> None:
        """The fleet energy-per-day chart for a year alone: its query and its figure's JSON."""
        from dash._utils import to_json

        from components.analytics import daily_energy_figure
        from data.charging.analytics import custom_range, energy_per_day
        from data.charging.dashboard import operator_settings

        with app.extensions["polaris_db"].session() as s:
            tz = operator_settings(s).tz
            period = custom_range(year_ago, today.isoformat()).bounds(datetime.now(UTC), tz)
            to_json(daily_energy_figure(energy_per_day(s, period)))

    pages = {
        "fleet_page": fleet,
        "fleet_counts": fleet_counts,
        "sessions_explorer": explorer({"from": year_ago, "to": today.isoformat()}),
        "sessions_explorer_filtered": explorer(
            {"from": year_ago, "to": today.isoformat(), "charger": "ch-00042", "state": "finalized"}
        ),
        "analytics_year": analytics,
        "energy_per_day_year": energy_chart,
    }
    out: dict[str, Any] = {}
    engine = app.extensions["polaris_db"].engine
    for name, page in pages.items():
        warm = time.perf_counter()
        with counting_statements(app) as captured:
            page()  # warm-up, and the statements to EXPLAIN
        slow = time.perf_counter() - warm > 2  # a page of seconds: a few timings tell enough
        timings = []
        for _ in range(min(3, repeat) if slow else max(1, repeat // 3)):
            started = time.perf_counter()
            page()
            timings.append((time.perf_counter() - started) * 1000)
        seq = explain_seq_scans(engine, captured)
        out[name] = {**percentiles(timings), "statements": len(captured), "seq_scan_sessions": seq}
    return out


def _fleet_pills() -> list[str]:
    from pages.admin import _PILL_NAMES

    return list(_PILL_NAMES)


def _in(ident: str, prop: str, value: Any) -> dict[str, Any]:
    return {"id": ident, "property": prop, "value": value}


def explain_seq_scans(engine: Any, statements: list[tuple[str, Any]]) -> bool:
    """True when any statement's plan reads ``sessions`` with a sequential scan."""
    found = False
    with engine.connect() as conn:
        for statement, params in statements:
            if "sessions" not in statement or not statement.lstrip().upper().startswith(
                ("SELECT", "WITH")
            ):
                continue
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()
            if _has_seq_scan(plan, "sessions"):
                found = True
        conn.rollback()
    return found


def _has_seq_scan(plan: Any, table: str) -> bool:
    if isinstance(plan, dict):
        if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") == table:
            return True
        return any(_has_seq_scan(v, table) for v in plan.values())
    if isinstance(plan, list):
        return any(_has_seq_scan(v, table) for v in plan)
    return False


# --- Export (bench/export_bench.py does the serving and measuring) ------------------------------


def export_figures(url: str) -> dict[str, Any]:
    """``/export/sessions.csv`` and ``.parquet``, all rows, through one gunicorn worker, and the
    bare COPY of the same rows by psql in the same run (``export_bench.compare``)."""
    db = Database(url, statement_timeout_ms=600_000)
    with db.session() as s:
        token = create_token(
            s, ADMIN_EMAIL, datetime.now(UTC), name="bench run", actor=COMMAND_LINE
        )
    db.engine.dispose()
    port = export_bench.free_port()
    process = export_bench.start_server("gunicorn", normalise_url(url), port)
    try:
        export_bench.wait_until_up(port, process)
        pid = export_bench.worker_pid(process, "gunicorn")
        export_bench.download(port, "/export/sessions.csv?to=1970-01-01", token.secret, False)
        export_bench.download_parquet(port, "/export/sessions.parquet?to=1970-01-01", token.secret)
        return export_bench.compare(url, port, pid, token.secret)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        db = Database(url)
        with db.session() as s:
            s.execute(text("DELETE FROM api_tokens WHERE id = :id"), {"id": token.token_id})
        db.engine.dispose()


# --- The run -------------------------------------------------------------------------------------


def refresh_heartbeats(url: str) -> None:
    """Chargers heard from as recently as when the database was built (Offline ones stay so)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "UPDATE chargers SET last_seen_at = last_seen_at + "
            "(now() - (SELECT max(last_seen_at) FROM chargers)) WHERE last_seen_at IS NOT NULL"
        )
        # Every run rewrites all 5,000 rows: without a vacuum (autovacuum may be off, as on the
        # machine these figures come from) the table grows dead rows run after run and every
        # status query scans them (measured: the charger list 10.5 ms -> 5.2 ms of SQL).
        conn.execute("VACUUM (ANALYZE) chargers")


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    fn()  # warm-up: compiled statements, caches
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def run(
    url: str,
    json_path: str | None,
    repeat: int = 30,
    seconds: float = 10,
    skip: set[str] = frozenset(),
    users: int = 8,
) -> dict[str, Any]:
    if not normalise_url(url).startswith("postgresql"):
        raise SystemExit("The benchmark is for PostgreSQL; give a postgresql:// URL.")
    started = time.perf_counter()

    def step(what: str) -> None:
        sys.stderr.write(f"bench run: {what} ({time.perf_counter() - started:.1f} s)\n")
        sys.stderr.flush()

    # Migrate first, without the app's statement timeout: a new migration may rebuild an index
    # of 10 million rows, which takes longer than any request may.
    migrating = Database(url, statement_timeout_ms=0)
    upgrade(migrating.engine)
    migrating.engine.dispose()
    step("schema up to date")
    refresh_heartbeats(url)
    app = bench_app(url)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)},
        "repeat": repeat,
    }
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        tz = ZoneInfo(conn.execute("SELECT timezone FROM operator").fetchone()[0])
        ids = dict(
            conn.execute(
                "SELECT u.email, u.default_account_id FROM users u WHERE email = ANY(%s)",
                (list(LOGINS.values()),),
            ).fetchall()
        )
        counts = dict(
            conn.execute(
                "SELECT account_id, count(*) FROM sessions WHERE account_id = ANY(%s) "
                "GROUP BY account_id",
                (list(ids.values()),),
            ).fetchall()
        )
        results["database"] = {
            "sessions": conn.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = 'sessions'"
            ).fetchone()[0],
            "chargers": conn.execute("SELECT count(*) FROM chargers").fetchone()[0],
            "accounts": {who: counts.get(ids[email], 0) for who, email in LOGINS.items()},
        }

        dashboard: dict[str, Any] = {}
        dashboard_cpu: dict[str, Any] = {}
        dashboard_client: dict[str, Any] = {}
        callbacks: dict[str, Any] = {}
        render: dict[str, Any] = {}
        statements: dict[str, int] = {}
        drivers = {who: Driver(app, email) for who, email in LOGINS.items()}
        step("signed in")
        # Round-robin: the light and the heavy page view and their floors take turns, so a
        # machine that speeds up or slows down (this one varies by 30 % within a minute) does
        # not favour whichever is measured first, and the ratios compare like with like.
        floors = {who: ids[email] for who, email in LOGINS.items()}
        per_call: dict[str, dict[str, list[float]]] = {who: {} for who in drivers}
        loads: dict[str, list[float]] = {who: [] for who in drivers}
        cpu: dict[str, list[float]] = {who: [] for who in drivers}
        client: dict[str, list[float]] = {who: [] for who in drivers}
        floor_ms: dict[str, list[float]] = {who: [] for who in drivers}
        for n in range(WARM_UP_LOADS + repeat):
            for who, driver in drivers.items():
                calls = driver.load()
                started = time.perf_counter()
                floor_load(conn, floors[who], "current", tz)
                if n < WARM_UP_LOADS:
                    continue
                floor_ms[who].append((time.perf_counter() - started) * 1000)
                loads[who].append(sum(c.ms for c in calls))
                cpu[who].append(sum(c.cpu_ms for c in calls))
                client[who].append(sum(c.client_ms for c in calls))
                for c in calls:
                    per_call[who].setdefault(c.name, []).append(c.ms)
        renders: dict[str, dict[str, list[float]]] = {
            who: {p: [] for p in PERIODS} for who in drivers
        }
        for _ in range(repeat):
            for who, driver in drivers.items():
                per_call[who].setdefault("recent", []).append(driver.recent().ms)
                for p in PERIODS:
                    renders[who][p].append(driver.render(p).ms)
        for who, driver in drivers.items():
            dashboard[who] = percentiles(loads[who])
            dashboard_cpu[who] = percentiles(cpu[who])
            dashboard_client[who] = percentiles(client[who])
            callbacks[who] = {name: percentiles(v) for name, v in per_call[who].items()}
            render[who] = {p: percentiles(v) for p, v in renders[who].items()}
            with counting_statements(app) as seen:
                driver.load()
            statements[who] = len(seen)
        step("dashboards of light@ and heavy@, and their floors")
        results["dashboard_ms"] = dashboard
        results["dashboard_cpu_ms"] = dashboard_cpu
        results["dashboard_client_ms"] = dashboard_client
        results["callbacks_ms"] = callbacks
        results["render_ms"] = render
        results["statements_per_load"] = statements
        results["floor_in_turns_ms"] = {who: percentiles(v) for who, v in floor_ms.items()}
        # The floor again, back to back on its own warm connection (as it was measured before
        # the turns): faster than in turns in every run here, so its ratio is the stricter one.
        floor = {
            who: percentiles(timed(lambda a=ids[email]: floor_load(conn, a, "current", tz), repeat))
            for who, email in LOGINS.items()
        }
        results["floor_ms"] = floor
        naive_repeat = max(1, repeat // 5)
        results["naive_ms"] = {
            who: percentiles(
                timed(lambda a=ids[email]: naive_load(conn, a, "current", tz), naive_repeat)
            )
            for who, email in LOGINS.items()
        }

    step("naive")
    from bench import pages_bench  # it imports this module

    results["pages"] = (
        None
        if "pages" in skip
        else pages_bench.page_figures(
            app, url, LOGINS, {who: ids[email] for who, email in LOGINS.items()}, repeat
        )
    )
    step("pages heavy and light")
    heavy = drivers["heavy"]
    poll_calls: list[list[Call]] = []
    for _ in range(WARM_UP_LOADS):
        heavy.load()
    for _ in range(repeat):
        poll_calls.append(heavy.poll())
    results["poll_ms"] = percentiles([sum(c.ms for c in calls) for calls in poll_calls])
    results["poll_client_ms"] = percentiles(
        [sum(c.client_ms for c in calls) for calls in poll_calls]
    )
    results["poll_bytes"] = {
        "response": max(sum(c.response_bytes for c in calls) for calls in poll_calls),
        "request": max(sum(c.request_bytes for c in calls) for calls in poll_calls),
    }
    results["poll_ms_by_callback"] = {
        name: percentiles([c.ms for calls in poll_calls for c in calls if c.name == name])
        for name in ("tick",)
    }
    results["poll_requests"] = max(len(calls) for calls in poll_calls)
    results["poll_changed_bytes"] = bench_tick.changed_tick(heavy).response_bytes

    step("poll")
    results["throughput"] = None if "throughput" in skip else throughput(url, app, seconds, users)
    step("throughput")
    results["admin_ms"] = None if "admin" in skip else admin_figures(app, repeat)
    step("admin pages")
    results["export"] = None if "export" in skip else export_figures(url)
    step("export")
    app.extensions["polaris_db"].engine.dispose()

    results["ratios"] = {
        "heavy_over_light": _ratio(dashboard["heavy"]["p50"], dashboard["light"]["p50"]),
        "dashboard_over_floor": _ratio(dashboard["heavy"]["p50"], floor["heavy"]["p50"]),
        "dashboard_over_floor_in_turns": _ratio(
            dashboard["heavy"]["p50"], results["floor_in_turns_ms"]["heavy"]["p50"]
        ),
        "naive_over_ours": _ratio(results["naive_ms"]["heavy"]["p50"], dashboard["heavy"]["p50"]),
    }
    print_table(results)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return results


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("nan")


def print_table(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []

    def add(name: str, value: Any, target: str = "") -> None:
        rows.append((name, str(value), target))

    db = r["database"]
    add("database", f"{db['sessions']:,} sessions, {db['chargers']:,} chargers")
    for who in ("light", "heavy"):
        d = r["dashboard_ms"][who]
        add(
            f"dashboard_ms.{who}",
            f"p50 {d['p50']} / p95 {d['p95']} ({db['accounts'][who]:,} sessions, "
            f"{r['statements_per_load'][who]} SQL statements)",
            TARGETS["dashboard p95"] if who == "heavy" else "",
        )
        c = r["dashboard_cpu_ms"][who]
        add(f"  app CPU of the load.{who}", f"p50 {c['p50']} / p95 {c['p95']}")
        c = r["dashboard_client_ms"][who]
        add(f"  with the test client.{who}", f"p50 {c['p50']} / p95 {c['p95']}")
        for name, v in r["callbacks_ms"][who].items():
            add(f"  callback {name}.{who}", f"p50 {v['p50']} / p95 {v['p95']}")
        for period, v in r["render_ms"][who].items():
            add(f"  render period={period}.{who}", f"p50 {v['p50']} / p95 {v['p95']}")
    for key in ("floor_ms", "floor_in_turns_ms", "naive_ms"):
        for who in ("light", "heavy"):
            v = r[key][who]
            add(f"{key}.{who}", f"p50 {v['p50']} / p95 {v['p95']}")
    ratios = r["ratios"]
    add("heavy / light", ratios["heavy_over_light"], TARGETS["heavy / light"])
    add("dashboard / floor (heavy)", ratios["dashboard_over_floor"], TARGETS["dashboard / floor"])
    add("  against the floor in turns", ratios["dashboard_over_floor_in_turns"])
    add("naive / ours (heavy)", ratios["naive_over_ours"], TARGETS["naive / ours"])
    from bench.pages_bench import table_rows

    rows.extend(table_rows(r.get("pages")))
    p = r["poll_ms"]
    add(
        "poll_ms",
        f"p50 {p['p50']} / p95 {p['p95']}, {r['poll_requests']} request(s), "
        f"{r['poll_bytes']['response']:,} B back, {r['poll_bytes']['request']:,} B sent; "
        f"{r['poll_changed_bytes']:,} B back when all changed",
        TARGETS["poll p95"],
    )
    p = r["poll_client_ms"]
    add("  poll with the test client", f"p50 {p['p50']} / p95 {p['p95']}")
    t = r["throughput"]
    if t:
        add(
            "throughput",
            f"{t['loads_per_s']} loads/s, p95 {t['p95_ms']} ms ({t['workers']} workers, "
            f"{t['users']} users, {t['seconds']} s; polls {t['polls_per_s']}/s p95 "
            f"{t['poll_p95_ms']} ms)",
        )
    for name, v in (r["admin_ms"] or {}).items():
        verdict = "SEQ SCAN of sessions" if v["seq_scan_sessions"] else "no seq scan of sessions"
        add(f"admin_ms.{name}", f"p50 {v['p50']} / p95 {v['p95']}; {verdict}", TARGETS["admin p95"])
    e = r["export"]
    if e:
        add(
            "export",
            f"{e['rows_per_s']:,} rows/s ({e['rows']:,} rows), peak {e['peak_mb']} MB "
            f"(growth {e['growth_mb']} MB)",
            TARGETS["export"],
        )
        add(
            "export / COPY",
            f"{e['ratio_to_copy']} (bare COPY by psql: {e['copy_rows_per_s']:,} rows/s)",
            TARGETS["export / COPY"],
        )
        add(
            "export / own COPY",
            f"{e['ratio_to_own_copy']} (the route's own COPY by psql: "
            f"{e['own_copy_rows_per_s']:,} rows/s = {e['own_copy_to_copy']} of the bare COPY)",
        )
        p = e["parquet"]
        add(
            "export parquet",
            f"{p['rows_per_s']:,} rows/s, {p['megabytes']} MB, peak {p['peak_mb']} MB "
            f"(growth {p['growth_mb']} MB)",
            TARGETS["export parquet"],
        )
    print_rows(rows)


def print_rows(rows: list[tuple[str, str, str]]) -> None:
    """The figures table: name, value, target (if any), names aligned."""
    width = max(len(n) for n, _v, _t in rows)
    print(f"{'figure':<{width}}  value (ms unless said)  [target]")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value}" + (f"  [{target}]" if target else ""))
    sys.stdout.flush()
