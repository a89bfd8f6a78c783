"""End to end: a driver in headless Chromium presses Start charging on a charger served by the
real OCPP server (central.server.CentralSystem) and answered by the simulator, sees "Waiting
for the charger…", then the Active session banner; presses Stop charging (confirmed), sees
"Stopping…", and the banner goes away; the session is finalized. Then the charger refuses a
Start and the card says so in words. On a charger that reported two connectors the card offers
a choice of connector, kept current by the status poll, and Start asks for the one chosen.

Everything on loopback: the web app (a thread), the OCPP server and the simulated charger (one
asyncio loop in another thread), one SQLite database, as in ``tests/test_browser_ocpp.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from sqlalchemy import select

from central.server import CentralSystem, bound_port
from central.simulator import CommandBehaviour, SimulatedCharger, connect_charger
from data.chargers.snapshots import FLEET
from data.core.models import (
    Charger,
    ChargerCommand,
    ChargingSession,
    CommandStatus,
    ConnectorStatus,
    Role,
)
from data.demo.showcase import NEVER_SEEN_CHARGER_ID, TWO_CONNECTOR_CHARGER_ID
from tests.support.axe import axe_violations, describe
from tests.support.browser import (
    SCREENSHOTS,
    banner_hidden,
    by_id,
    card_id,
    live_server,
    screenshot,
    show_all_chargers,
    sign_in_page,
    wait_text,
)
from tests.support.factories import make_charger, make_id_tag, report_connector
from tests.support.web import PASSWORD, AppFactory, add_person

pytestmark = pytest.mark.browser

T = TypeVar("T")
CHARGER_ID = NEVER_SEEN_CHARGER_ID  # public, never heard from: Online once it boots here
DRIVER = "erin@example.com"
ACCOUNT = "acc-erin"
TAG = "ERIN-TAG"
WAIT_MS = 20_000


@dataclass
class Loop:
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@pytest.fixture(scope="module")
def driver_app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(demo=True, REFRESH_INTERVAL_MS=2000)
    # A driver with a tag and no session of their own: the banner is hidden until they start.
    add_person(app, DRIVER, (ACCOUNT, Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_id_tag(s, ACCOUNT, id_tag=TAG)
        charger = s.get(Charger, CHARGER_ID)
        assert charger is not None
        charger.max_power_kw = Decimal("22")
    return app


@pytest.fixture(scope="module")
def central(driver_app: Flask) -> Iterator[tuple[Loop, str]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    system = CentralSystem(
        driver_app.extensions["polaris_db"],
        heartbeat_interval_s=10,
        command_poll_s=0.2,
        command_expire_every_s=0.5,
    )
    runner = Loop(loop)
    context = system.running("127.0.0.1", 0, reservations=False)
    server = runner.run(context.__aenter__())
    try:
        yield runner, f"ws://127.0.0.1:{bound_port(server)}/ocpp"
    finally:
        runner.run(context.__aexit__(None, None, None))
        system.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def dash_id(kind: str, charger_id: str = CHARGER_ID) -> str:
    return card_id(charger_id, kind)


def screen_shot(page: Any, name: str) -> None:
    """What is on screen (a full page of 50 cards is too tall to read)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_driver_starts_and_stops_charging_from_the_dashboard(
    browser: Any, driver_app: Flask, central: tuple[Loop, str]
) -> None:
    runner, url = central
    db = driver_app.extensions["polaris_db"]
    charger_cm = connect_charger(url, CHARGER_ID)
    charger: SimulatedCharger = runner.run(charger_cm.__aenter__())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        charger.meter_interval_s, charger.power_kw = 0.5, Decimal("11")
        charger.answer_delay_s = 1.5  # long enough to see the card wait
        runner.run(charger.boot())
        runner.run(charger.status("Available"))
        runner.loop.call_soon_threadsafe(charger.start_heartbeats, 1.0)
        with live_server(driver_app) as base_url:
            sign_in_page(page, base_url, DRIVER, PASSWORD, wait_for_idle=False)
            start = page.locator(by_id(dash_id("start-charging")))
            start.wait_for(state="visible", timeout=WAIT_MS)
            banner_hidden(page, True)
            # Offline and restricted cards offer no Start (the server checks again anyway).
            offline_cards = page.locator(".charger-card:has(.status-offline)")
            assert offline_cards.count() > 0
            assert offline_cards.locator("button.start-charging:visible").count() == 0
            screenshot(page, "driver-start-card-1280")
            # Idle, the page never asks about commands: the poll runs only while one is open.
            # Nor, with nothing in progress, does it ask for Recent activity again.
            polls: list[str] = []
            recent_asks: list[str] = []

            def watch(request: Any) -> None:
                body = request.post_data or ""
                if "driver-command-poll.n_intervals" in body:
                    polls.append(request.url)
                elif "recent-refresh" in body:
                    recent_asks.append(request.url)

            page.on("request", watch)
            page.wait_for_timeout(2500)  # more than one refresh tick
            assert polls == [] and recent_asks == []
            mobile = phone.new_page()
            sign_in_page(mobile, base_url, DRIVER, PASSWORD, wait_for_idle=False)
            show_all_chargers(mobile, WAIT_MS)  # a phone lists the favourites until then
            mobile.locator(by_id(dash_id("start-charging"))).wait_for(timeout=WAIT_MS)
            screen_shot(mobile, "driver-start-card-390")

            start.click()
            wait_text(page, dash_id("start-charging-note"), "Waiting for the charger…")
            assert start.is_disabled()
            screenshot(page, "driver-waiting-1280")

            banner_hidden(page, False)
            page.wait_for_function(
                "() => document.getElementById('banner-charger').innerText.trim().length > 3",
                timeout=WAIT_MS,
            )
            assert charger.transaction_id is not None
            wait_text(page, dash_id("start-charging-note"), "")
            page.locator(".charger-card:has(.status-in-use)").first.wait_for(timeout=WAIT_MS)
            assert not start.is_visible()  # In use now: no Start on this card
            screenshot(page, "driver-banner-stop-1280")
            mobile.reload()
            mobile.locator("#stop-charging").wait_for(state="visible", timeout=WAIT_MS)
            screen_shot(mobile, "driver-banner-stop-390")

            page.locator("#stop-charging").click()  # the confirmation is accepted
            wait_text(page, "stop-charging-note", "Stopping…")
            screenshot(page, "driver-stopping-1280")
            banner_hidden(page, True)
            with db.session() as s:
                session = s.scalars(
                    select(ChargingSession).where(ChargingSession.account_id == ACCOUNT)
                ).one()
                commands = s.scalars(select(ChargerCommand).order_by(ChargerCommand.id)).all()
                assert session.ended_at is not None
                assert [(c.action, c.status, c.account_id) for c in commands] == [
                    ("RemoteStartTransaction", CommandStatus.accepted, ACCOUNT),
                    ("RemoteStopTransaction", CommandStatus.accepted, ACCOUNT),
                ]
            page.wait_for_function(
                "() => { const li = document.querySelector('#recent-sessions li');"
                " return !!li && li.innerText.includes('Finalized'); }",
                timeout=WAIT_MS,
            )
            assert polls  # it followed the two commands
            # A poll already on its way when the session ended may still land; after that the
            # 1 s poll must be silent (it would ask about twice in 2.5 s).
            page.wait_for_timeout(2500)
            settled = len(polls)
            page.wait_for_timeout(2500)
            assert len(polls) == settled  # and stopped once they were done

            # The charger refuses the next Start, slowly: on the phone the card waits, then says
            # so in words.
            charger.commands = CommandBehaviour.reject
            mobile.reload()
            show_all_chargers(mobile, WAIT_MS)
            phone_start = mobile.locator(by_id(dash_id("start-charging")))
            phone_start.click()
            wait_text(mobile, dash_id("start-charging-note"), "Waiting for the charger…")
            screen_shot(mobile, "driver-waiting-390")
            wait_text(mobile, dash_id("start-charging-note"), "The charger refused to start.")
            screen_shot(mobile, "driver-refused-390")
            charger.answer_delay_s = 0.0
            start.wait_for(state="visible", timeout=WAIT_MS)
            start.click()
            wait_text(page, dash_id("start-charging-note"), "The charger refused to start.")
            assert start.is_enabled()
            screenshot(page, "driver-refused-1280")
        with db.session() as s:
            finalized = s.scalars(
                select(ChargingSession.finalized).where(ChargingSession.account_id == ACCOUNT)
            ).one()
            assert finalized is True
    finally:
        runner.loop.call_soon_threadsafe(charger.stop_heartbeats)
        runner.run(charger_cm.__aexit__(None, None, None))
        context.close()
        phone.close()


TWIN_ID = "PX-TWIN"  # two connectors, named to come first among Online cards
TWIN_DRIVER = "finn@example.com"
TWIN_ACCOUNT = "acc-finn"


def option_texts(page: Any, ident: str) -> list[str]:
    # dbc.Select's first option is its hidden placeholder.
    return page.locator(by_id(ident) + " option:not([value=''])").all_inner_texts()


def test_a_driver_chooses_the_connector_on_a_charger_with_two(
    browser: Any, driver_app: Flask, central: tuple[Loop, str], axe_source: Path
) -> None:
    db = driver_app.extensions["polaris_db"]
    add_person(driver_app, TWIN_DRIVER, (TWIN_ACCOUNT, Role.customer, None))
    now = datetime.now(UTC)
    with db.session() as s:
        make_id_tag(s, TWIN_ACCOUNT, id_tag="FINN-TAG")
        make_charger(
            s,
            charger_id=TWIN_ID,
            friendly_name="A1 Ringstraße — Twin bay",
            max_power_kw="22",
            last_seen_at=now,
        )
        for connector in (1, 2):
            report_connector(s, TWIN_ID, connector, "Available", reported_at=now)
    FLEET.clear()  # the new charger on the very first render
    choice, start, note = (
        dash_id(k, TWIN_ID) for k in ("start-connector", "start-charging", "start-charging-note")
    )
    # CSP bypassed: axe is injected.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    try:
        page = context.new_page()
        mobile = phone.new_page()
        with live_server(driver_app) as base_url:
            for shown in (page, mobile):
                sign_in_page(shown, base_url, TWIN_DRIVER, PASSWORD, wait_for_idle=False)
                show_all_chargers(shown, WAIT_MS)
                shown.locator(by_id(choice)).wait_for(state="visible", timeout=WAIT_MS)
                shown.evaluate("document.getElementById('chargers').scrollIntoView()")
            assert option_texts(page, choice) == [
                "Connector 1 · Available",
                "Connector 2 · Available",
            ]
            # Only the chargers that reported several connectors (this one and the demo's) offer
            # a choice; every other Online card has Start alone (the charger chooses).
            chosen = page.locator(".charger-card select").evaluate_all(
                "(selects) => selects.map((s) => JSON.parse(s.id).charger)"
            )
            assert sorted(chosen) == sorted([TWIN_ID, TWO_CONNECTOR_CHARGER_ID])
            startable = page.locator(".charger-card:has(button.start-charging:visible)")
            assert startable.count() > len(chosen)
            screen_shot(page, "driver-connector-choice-1280")
            screen_shot(mobile, "driver-connector-choice-390")
            card = ".charger-card:has(select)"
            problems = [
                line
                for where, shown in (("1280", page), ("390", mobile))
                for line in describe(where, axe_violations(shown, axe_source, card))
            ]
            assert problems == []

            # A car plugged in at connector 2: the card says so at the next status poll.
            with db.session() as s:
                reported = s.get(ConnectorStatus, (TWIN_ID, 2))
                assert reported is not None
                reported.status = "Preparing"
            page.wait_for_function(
                "(id) => [...document.getElementById(id).options].some("
                "(o) => o.text === 'Connector 2 · Preparing')",
                arg=choice,
                timeout=WAIT_MS,
            )
            page.locator(by_id(choice)).select_option("2")
            assert page.locator(by_id(choice)).is_enabled()
            page.locator(by_id(start)).click()
            wait_text(page, note, "Waiting for the charger…")
            # While the Start waits, its choice of connector is off too (so is every Start).
            assert page.locator(by_id(choice)).is_disabled()
            assert page.locator(by_id(start)).is_disabled()
            with db.session() as s:
                (asked,) = s.scalars(
                    select(ChargerCommand).where(ChargerCommand.account_id == TWIN_ACCOUNT)
                ).all()
                assert json.loads(asked.params) == {
                    "account_id": TWIN_ACCOUNT,
                    "connector_id": 2,
                    "id_tag": "FINN-TAG",
                }
            # No OCPP server holds this charger: the command ends offline, said in words.
            wait_text(page, note, "The charger is not connected.")
            assert page.locator(by_id(choice)).is_enabled()
            assert page.locator(by_id(choice)).input_value() == "2"
            page.mouse.move(0, 0)  # the picture without the button's hover transition
            page.wait_for_timeout(300)
            screen_shot(page, "driver-connector-refused-1280")
    finally:
        context.close()
        phone.close()
