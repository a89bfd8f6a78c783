"""The account menu opens and stays open while the page around it refreshes, in headless
Chromium against the demo, with a server that answers the banner slower than the refresh
interval (as a busy machine does).

The menu used to share the banner's callback, which every tick and in-app navigation calls:
a redraw replaced an open dropdown with a closed one, and, once a store said "drawn", a tick
that superseded the first draw still in flight meant the menu never appeared at all.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask, request
from playwright.sync_api import expect

from data.demo.showcase import DRIVER_EMAIL
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser
TIMEOUT = 10_000
SLOW_S = 1.5  # the demo app ticks every second (tests/conftest.py)


@pytest.fixture(scope="module")
def demo_app(demo_app: Flask) -> Flask:
    """Every call of the banner's callback takes longer than the refresh interval."""

    @demo_app.before_request
    def slow_banner() -> None:
        if request.path == "/_dash-update-component" and b"banner-kwh" in request.get_data():
            time.sleep(SLOW_S)

    return demo_app


def stays_open(page: Any, seconds: float) -> None:
    """The Sign out button stays visible for ``seconds`` (ticks and banner answers land)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert page.locator("#sign-out").is_visible(), "the account menu closed by itself"
        page.wait_for_timeout(100)


def test_the_account_menu_stays_open_through_ticks_and_navigation(
    browser: Any, base_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
        page.click("#account-menu .dropdown-toggle", timeout=TIMEOUT)
        expect(page.locator("#sign-out")).to_be_visible(timeout=TIMEOUT)
        stays_open(page, 3 * SLOW_S)
        screenshot(page, "account-menu-open")

        # In-app navigation (the period tabs): the banner is asked again, the menu is not.
        page.keyboard.press("Escape")
        page.click("#period-link-previous")
        page.wait_for_url(re.compile(r"period=previous"), timeout=TIMEOUT)
        page.click("#account-menu .dropdown-toggle")
        expect(page.locator("#sign-out")).to_be_visible(timeout=TIMEOUT)
        stays_open(page, 3 * SLOW_S)

        page.click("#sign-out")
        page.wait_for_url(re.compile(r"/login"), timeout=TIMEOUT)
    finally:
        context.close()
