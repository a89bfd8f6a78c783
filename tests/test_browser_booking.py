"""End to end: a driver in headless Chromium books a charger from its card (the dialog), sees it
in Next reservation at once, the real OCPP server sends ReserveNow and the simulated charger
accepts; cancels it (confirmed) and the charger is asked to CancelReservation; rebooks it on a
phone (390 px); then books a later time that the charger refuses (Occupied), and Next
reservation says why without a reload.

Everything on loopback, as in ``tests/test_browser_driver_commands.py``: the web app (a
thread), the OCPP server and the simulated charger (one asyncio loop in another thread), one
SQLite database.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from central.server import CentralSystem, bound_port
from central.simulator import SimulatedCharger, connect_charger
from components.booking import first_start
from data.core.models import OcppReservation, Reservation, ReservationStatus, Role
from tests.support.browser import (
    SCREENSHOTS,
    by_id,
    card_id,
    live_server,
    show_all_chargers,
    sign_in_page,
)
from tests.support.factories import make_charger, make_id_tag, make_operator
from tests.support.web import PASSWORD, AppFactory, add_person

pytestmark = pytest.mark.browser

T = TypeVar("T")
CHARGER_ID = "PX-BOOK"
DRIVER = "gina@example.com"
ACCOUNT = "acc-gina"
BERLIN = ZoneInfo("Europe/Berlin")
WAIT_MS = 20_000


@dataclass
class Loop:
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@pytest.fixture(scope="module")
def booking_app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(REFRESH_INTERVAL_MS=2000)
    add_person(app, DRIVER, (ACCOUNT, Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_charger(s, charger_id=CHARGER_ID, friendly_name="Hafen — Bay 1")
        make_id_tag(s, ACCOUNT, id_tag="GINA-TAG")
    return app


@pytest.fixture(scope="module")
def central(booking_app: Flask) -> Iterator[tuple[Loop, str]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    system = CentralSystem(
        booking_app.extensions["polaris_db"],
        heartbeat_interval_s=10,
        # Every booking of the next day is sent at once (the default lead is 10 minutes).
        reserve_lead=timedelta(days=1),
        reserve_poll_s=0.3,
        command_poll_s=0.2,
        command_expire_every_s=0.5,
    )
    runner = Loop(loop)
    context = system.running("127.0.0.1", 0)
    server = runner.run(context.__aenter__())
    try:
        yield runner, f"ws://127.0.0.1:{bound_port(server)}/ocpp"
    finally:
        runner.run(context.__aexit__(None, None, None))
        system.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def open_booking(page: Any) -> None:
    show_all_chargers(page)  # a phone lists the favourites only until then
    page.locator(by_id(card_id(CHARGER_ID, "book-charger"))).click()
    page.locator("#book-dialog #book-submit").wait_for(state="visible", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.getElementById('book-length').value !== ''", timeout=WAIT_MS
    )
    settled(page, "1")


def settled(page: Any, opacity: str) -> None:
    """The dialog's fade has ended (shown: opacity 1; closed: no dialog left)."""
    page.wait_for_function(
        "(o) => { const m = document.querySelector('.modal');"
        " return o === '1' ? m !== null && getComputedStyle(m).opacity === '1' : m === null; }",
        arg=opacity,
        timeout=WAIT_MS,
    )


def next_reservation_says(page: Any, words: str) -> None:
    page.wait_for_function(
        "(w) => { const el = document.getElementById('next-reservation-body');"
        " return el !== null && el.innerText.includes(w); }",
        arg=words,
        timeout=WAIT_MS,
    )


def received(charger: SimulatedCharger, action: str, count: int, page: Any) -> None:
    for _ in range(100):
        if sum(1 for name, _ in charger.received if name == action) >= count:
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"{action} x{count} never reached the charger: {charger.received}")


def test_a_driver_books_sees_cancels_and_rebooks_a_charger(
    browser: Any, booking_app: Flask, central: tuple[Loop, str]
) -> None:
    runner, url = central
    db = booking_app.extensions["polaris_db"]
    charger_cm = connect_charger(url, CHARGER_ID)
    charger: SimulatedCharger = runner.run(charger_cm.__aenter__())
    desktop = browser.new_context(viewport={"width": 1280, "height": 900})
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        runner.run(charger.boot())
        runner.run(charger.status("Available"))
        with live_server(booking_app) as base_url:
            page = desktop.new_page()
            page.on("dialog", lambda dialog: dialog.accept())  # Cancel booking's confirmation
            sign_in_page(page, base_url, DRIVER, PASSWORD, wait_for_idle=False)
            next_reservation_says(page, "No upcoming reservation.")

            # Book: the dialog, then Next reservation at once.
            open_booking(page)
            assert page.locator("#book-dialog-title").inner_text() == "Book Hafen — Bay 1"
            shot(page, "booking-dialog-1280")
            page.locator("#book-submit").click()
            next_reservation_says(page, "Hafen — Bay 1")
            next_reservation_says(page, "Cancel booking")
            assert "Booked: Hafen — Bay 1" in page.locator("#booking-notice").inner_text()
            settled(page, "0")
            page.locator("#reservation").scroll_into_view_if_needed()
            shot(page, "booking-next-reservation-1280")
            received(charger, "ReserveNow", 1, page)
            with db.session() as s:
                first = s.scalars(select(Reservation)).one()
                assert first.account_id == ACCOUNT
                states = [r.state for r in s.scalars(select(OcppReservation))]
            assert states in (["Accepted"], ["sending"])

            # Cancel (confirmed): gone from Next reservation; the charger is asked to cancel.
            page.locator("#next-reservation-body .cancel-booking").click()
            next_reservation_says(page, "No upcoming reservation.")
            assert "Booking cancelled" in page.locator("#booking-notice").inner_text()
            received(charger, "CancelReservation", 1, page)

            # Rebook on a phone.
            mobile = phone.new_page()
            mobile.on("dialog", lambda dialog: dialog.accept())
            sign_in_page(mobile, base_url, DRIVER, PASSWORD, wait_for_idle=False)
            next_reservation_says(mobile, "No upcoming reservation.")
            open_booking(mobile)
            shot(mobile, "booking-dialog-390")
            mobile.locator("#book-submit").click()
            next_reservation_says(mobile, "Cancel booking")
            settled(mobile, "0")
            mobile.locator("#reservation").scroll_into_view_if_needed()
            shot(mobile, "booking-next-reservation-390")
            received(charger, "ReserveNow", 2, mobile)

            # Two hours later, the charger refuses: cancelled, and the driver is told why.
            charger.reserve_answer = "Occupied"
            later = first_start(datetime.now(UTC), BERLIN) + timedelta(hours=2)
            open_booking(mobile)
            mobile.locator("#book-date").fill(later.date().isoformat())
            mobile.locator("#book-time").select_option(f"{later:%H:%M}")
            mobile.locator("#book-submit").click()
            received(charger, "ReserveNow", 3, mobile)
            next_reservation_says(mobile, "the charger answered Occupied")
            next_reservation_says(mobile, "Cancel booking")  # the rebooked one stays
            mobile.locator("#reservation").scroll_into_view_if_needed()
            shot(mobile, "booking-refused-by-charger-390")

        with db.session() as s:
            rows = s.scalars(select(Reservation)).all()
            assert sorted((r.status.value, r.end_reason or "") for r in rows) == [
                (ReservationStatus.cancelled.value, "cancelled by the driver"),
                (ReservationStatus.cancelled.value, "the charger answered Occupied"),
                (ReservationStatus.confirmed.value, ""),
            ]
    finally:
        runner.run(charger_cm.__aexit__(None, None, None))
        desktop.close()
        phone.close()
