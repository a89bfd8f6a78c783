"""End to end: a simulated charger talks OCPP 1.6J to the central system and Dana's dashboard
(headless Chromium) follows it live: Offline -> Online -> In use with the kWh rising in the
Active session banner -> the session finalized in Recent activity, the charger Online again ->
Offline once its heartbeats stop.

Everything runs on loopback on free ports: the web app (a thread), the central system and the
simulator (one asyncio loop in another thread), one SQLite database shared by both, as in
production where both processes use the same database.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from flask import Flask

from central.server import CentralSystem, bound_port
from central.simulator import SimulatedCharger, connect_charger, ocpp_time
from data.core.models import Charger, ChargingSession
from data.demo.showcase import DRIVER_EMAIL, DRIVER_ID_TAG, NEVER_SEEN_CHARGER_ID
from tests.support.browser import DEMO_PASSWORD, live_server, screenshot, sign_in_page
from tests.support.web import AppFactory

T = TypeVar("T")
OFFLINE_AFTER_S = 4  # short, so the test sees a silent charger turn Offline
HEARTBEAT_S = 1.0
# The demo charger nobody has heard from: it starts Offline, so Online proves the boot worked.
CHARGER_ID = NEVER_SEEN_CHARGER_ID
WAIT_MS = 20_000


@dataclass
class Loop:
    """An asyncio loop in a thread: the central system and the simulated charger live there."""

    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@pytest.fixture(scope="module")
def ocpp_app(module_app_factory: AppFactory) -> Flask:
    return module_app_factory(demo=True, REFRESH_INTERVAL_MS=500, OFFLINE_AFTER_S=OFFLINE_AFTER_S)


@pytest.fixture(scope="module")
def central_url(ocpp_app: Flask) -> Iterator[tuple[Loop, str]]:
    """The central system on a free port, over the web app's database."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    central = CentralSystem(ocpp_app.extensions["polaris_db"], heartbeat_interval_s=10)
    runner = Loop(loop)
    context = central.running("127.0.0.1", 0, reservations=False)
    server = runner.run(context.__aenter__())
    try:
        yield runner, f"ws://127.0.0.1:{bound_port(server)}/ocpp"
    finally:
        runner.run(context.__aexit__(None, None, None))
        central.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def _pill_is(page: Any, text: str) -> None:
    # Dash serialises a dict id as JSON with sorted keys.
    pill_id = json.dumps({"charger": CHARGER_ID, "type": "charger-status"}, separators=(",", ":"))
    page.wait_for_function(
        "([id, text]) => { const el = document.getElementById(id);"
        " return el !== null && el.innerText.trim() === text; }",
        arg=[pill_id, text],
        timeout=WAIT_MS,
    )


def _banner_shows(page: Any, kwh: str, charger: str) -> None:
    page.wait_for_function(
        "([kwh, charger]) => { const k = document.getElementById('banner-kwh');"
        " const c = document.getElementById('banner-charger');"
        " return k !== null && c !== null && k.innerText.trim() === kwh"
        " && c.innerText.trim() === 'on ' + charger; }",
        arg=[kwh, charger],
        timeout=WAIT_MS,
    )


def test_a_live_ocpp_session_on_the_drivers_dashboard(
    browser: Any, ocpp_app: Flask, central_url: tuple[Loop, str]
):
    runner, url = central_url
    db = ocpp_app.extensions["polaris_db"]
    with db.session() as s:
        charger_row = s.get(Charger, CHARGER_ID)
        charger_name = charger_row.friendly_name
        # 6.4 kWh in 20 minutes is plausible at 22 kW (data/ocpp/energy.py takes no reading a
        # charger could not have delivered since the session's start).
        charger_row.max_power_kw = Decimal("22")
    started = datetime.now(UTC) - timedelta(minutes=20)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    charger_cm = connect_charger(url, CHARGER_ID)
    try:
        with live_server(ocpp_app) as base_url:
            sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
            page.wait_for_selector("#charger-grid .card", timeout=WAIT_MS)
            _pill_is(page, "Offline")  # never heard from

            charger: SimulatedCharger = runner.run(charger_cm.__aenter__())
            runner.run(charger.boot())
            runner.run(charger.status("Available"))
            runner.loop.call_soon_threadsafe(charger.start_heartbeats, HEARTBEAT_S)
            _pill_is(page, "Online")

            assert runner.run(charger.authorize(DRIVER_ID_TAG)) == "Accepted"
            runner.run(charger.status("Preparing"))
            tx, status = runner.run(
                charger.start_transaction(
                    DRIVER_ID_TAG, meter_start_wh=120_000, timestamp=ocpp_time(started)
                )
            )
            assert status == "Accepted"
            runner.run(charger.status("Charging"))
            # Dana's demo session elsewhere started earlier: the banner shows the newest one.
            _banner_shows(page, "0.0 kWh", charger_name)
            _pill_is(page, "In use")
            runner.run(charger.meter(tx, 122_500))
            _banner_shows(page, "2.5 kWh", charger_name)
            runner.run(charger.meter(tx, "125.4", unit="kWh"))
            # Late: sampled before the last one, and lower: ignored (not disputed).
            late = ocpp_time(started + timedelta(minutes=5))
            runner.run(charger.meter(tx, 124_000, timestamp=late))
            _banner_shows(page, "5.4 kWh", charger_name)
            screenshot(page, "ocpp-e2e-during-1280")

            runner.run(charger.stop_transaction(tx, 126_400))
            runner.run(charger.status("Finishing"))
            runner.run(charger.status("Available"))
            with db.session() as s:
                row = s.get(ChargingSession, f"ocpp-{tx}")
                assert (row.finalized, str(row.energy_kwh)) == (True, "6.400")
            # The banner goes back to Dana's other session in progress.
            page.wait_for_function(
                "(name) => !document.getElementById('banner-charger').innerText.includes(name)",
                arg=charger_name,
                timeout=WAIT_MS,
            )
            _pill_is(page, "Online")

            # Recent activity follows the banner, without a reload: the newest session is the
            # one just done, finalized.
            page.wait_for_function(
                "(name) => { const li = document.querySelector('#recent-sessions li');"
                " return !!li && li.innerText.includes(name)"
                " && li.innerText.includes('Finalized'); }",
                arg=charger_name,
                timeout=WAIT_MS,
            )
            newest = page.locator("#recent-sessions li").first.inner_text()
            assert charger_name in newest
            assert "6.4 kWh" in newest and "Finalized" in newest
            _pill_is(page, "Online")
            screenshot(page, "ocpp-e2e-after-1280")

            runner.loop.call_soon_threadsafe(charger.stop_heartbeats)
            _pill_is(page, "Offline")
            screenshot(page, "ocpp-e2e-offline-1280")
    finally:
        runner.run(charger_cm.__aexit__(None, None, None))
        context.close()
