"""/admin/ocpp and the Out-of-order status in headless Chromium against the live demo app.

The operator opens the OCPP page from the admin navigation, finds the demo's Faulted charger with
its error code, assigns an id tag to the first-run driver and sets the charger's OCPP password
(shown afterwards only as "set"), and reaches the page from the charger's own page. The driver
then sees that charger as "Out of order", not counted as available. Screenshots at 1280 and
390 px; no sideways scrolling on a phone; no Content-Security-Policy violation.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from data.accounts.passwords import verify_password
from data.core.models import Charger, IdTag
from data.demo.showcase import (
    DRIVER_EMAIL,
    FAULTED_CHARGER_ID,
    FAULTED_ERROR_CODE,
    NEWCOMER_ACCOUNT_ID,
    NEWCOMER_EMAIL,
    OPERATOR_EMAIL,
)
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHARGER_PASSWORD = "Westpark-bay1-2026!"
CSP_RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s);"
        " return !!e && e.innerText.includes(t); }",
        arg=[selector, text],
        timeout=TIMEOUT,
    )


def look_at(page: Any, name: str) -> None:
    """Screenshots at both widths; a phone must not scroll sideways (tables scroll inside)."""
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name}: scrolls sideways at {size['width']} px"
        screenshot(page, f"{name}-{size['width']}")
    page.set_viewport_size(DESKTOP)
    assert page.evaluate("() => window.__csp") == []


def test_operator_manages_ocpp_and_driver_sees_out_of_order(
    demo_app: Flask, base_url: str, page: Any
) -> None:
    page.add_init_script(CSP_RECORDER)
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    page.click("#admin-nav >> text=OCPP")
    page.wait_for_url(re.compile(r"/admin/ocpp$"), timeout=TIMEOUT)

    # The Faulted demo charger comes first, with its error code, as Out of order.
    row = f"tr[data-charger='{FAULTED_CHARGER_ID}']"
    wait_for_text(page, row, FAULTED_ERROR_CODE)
    first = page.locator("#admin-ocpp-chargers tbody tr").first
    assert first.get_attribute("data-charger") == FAULTED_CHARGER_ID
    assert "Out of order" in first.inner_text() and "not set" in first.inner_text()

    # An id tag for the first-run driver, named by email.
    page.fill("#admin-ocpp-tag", "NICO-CARD-01")
    page.fill("#admin-ocpp-tag-account", NEWCOMER_EMAIL)
    page.click("#admin-ocpp-tag-assign")
    wait_for_text(page, "#admin-ocpp-tag-feedback", f"now belongs to {NEWCOMER_ACCOUNT_ID}")
    page.fill("#admin-ocpp-tag-search", "NICO-CARD")
    page.press("#admin-ocpp-tag-search", "Enter")
    wait_for_text(page, "#admin-ocpp-tags", NEWCOMER_ACCOUNT_ID)
    assert "NICO-CARD-01" in page.inner_text("#admin-ocpp-tags")
    # A second assignment of the same tag is refused with the owner named.
    page.fill("#admin-ocpp-tag", "NICO-CARD-01")
    page.fill("#admin-ocpp-tag-account", DRIVER_EMAIL)
    page.click("#admin-ocpp-tag-assign")
    wait_for_text(page, "#admin-ocpp-tag-feedback", "already belongs to")

    # The charger's OCPP password: too short first, then a good one; shown only as "set".
    page.fill("#admin-ocpp-password-charger", FAULTED_CHARGER_ID)
    page.fill("#admin-ocpp-password", "short")
    page.click("#admin-ocpp-password-set")
    wait_for_text(page, "#admin-ocpp-password-feedback", "16 to 40 characters")
    page.fill("#admin-ocpp-password", CHARGER_PASSWORD)
    page.click("#admin-ocpp-password-set")
    wait_for_text(page, "#admin-ocpp-password-feedback", f"Password set for {FAULTED_CHARGER_ID}")
    assert page.input_value("#admin-ocpp-password") == ""
    page.wait_for_function(
        "(s) => { const r = document.querySelector(s);"
        " return !!r && r.lastElementChild.innerText.trim() === 'set'; }",
        arg=row,
        timeout=TIMEOUT,
    )
    assert CHARGER_PASSWORD not in page.content()
    with demo_app.extensions["polaris_db"].session() as s:
        stored = s.scalar(
            select(Charger.ocpp_password_hash).where(Charger.id == FAULTED_CHARGER_ID)
        )
        owner = s.scalar(select(IdTag.account_id).where(IdTag.id_tag == "NICO-CARD-01"))
    assert verify_password(stored, CHARGER_PASSWORD)
    assert owner == NEWCOMER_ACCOUNT_ID
    look_at(page, "admin-ocpp")

    # The charger's own page links here, opened on that charger.
    page.goto(f"{base_url}/admin/chargers/{FAULTED_CHARGER_ID}")
    page.click("#admin-charger-ocpp-link")
    page.wait_for_url(re.compile(rf"/admin/ocpp\?charger={FAULTED_CHARGER_ID}$"), timeout=TIMEOUT)
    assert page.input_value("#admin-ocpp-search") == FAULTED_CHARGER_ID
    wait_for_text(page, "#admin-ocpp-chargers-total", "1 charger")

    # The fleet counts the Out-of-order charger under its own pill.
    page.goto(f"{base_url}/admin")
    wait_for_text(page, "[id*='Out of order']", "Out of order 1")
    look_at(page, "admin-fleet-out-of-order")
    page.context.clear_cookies()  # signed out

    # The driver: the charger is Out of order and not counted as available.
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    page.wait_for_selector(".status-out-of-order", timeout=TIMEOUT)
    card = page.locator(".charger-card", has=page.locator(".status-out-of-order"))
    assert card.count() == 1
    assert "Westpark Einkaufszentrum — Level -1 Bay 1" in card.inner_text()
    online = page.locator(".charger-card .status-online").count()
    assert page.inner_text("#available-count").strip() == f"{online} available"
    card.scroll_into_view_if_needed()
    look_at(page, "dashboard-out-of-order")
