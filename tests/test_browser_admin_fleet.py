"""The operator's fleet pages in headless Chromium against the live demo app (issue 5's scenario).

The operator signs in and lands on /admin, finds an offline charger through the Offline pill,
opens it and grants it to the first-run driver, signs out; the driver signs in and finds that
charger's card, Offline, on their dashboard. On the way: screenshots of both pages at 1280 and
390 px, no sideways scrolling on a phone, no Content-Security-Policy violation, and a friendly
notice for a charger id that doesn't exist. One test, so the demo app signs in only twice.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from data.demo.showcase import NEWCOMER_ACCOUNT_ID, NEWCOMER_EMAIL, OPERATOR_EMAIL
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CSP_RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def grid_rows(page: Any) -> list[str]:
    """The rendered rows of the fleet table, as text (cells separated by newlines)."""
    return page.locator("#admin-fleet-grid .ag-center-cols-container .ag-row").all_inner_texts()


def wait_for_total(page: Any, pattern: str) -> str:
    page.wait_for_function(
        "(p) => new RegExp(p).test(document.getElementById('admin-fleet-total').innerText)",
        arg=pattern,
        timeout=TIMEOUT,
    )
    return page.inner_text("#admin-fleet-total")


def look_at(page: Any, name: str) -> None:
    """A full-page screenshot; the page must not scroll sideways nor break the CSP.

    The viewport is stretched to the page's height first: Chromium does not paint a grid far
    below the viewport (ag-grid's rows are skipped while off screen), so a plain full-page
    capture would show it empty."""
    viewport = page.viewport_size
    try:  # the grids take a frame or two to fit a new viewport
        page.wait_for_function(
            "(w) => document.documentElement.scrollWidth <= w", arg=viewport["width"], timeout=5000
        )
    except PlaywrightTimeout:
        width = page.evaluate("document.documentElement.scrollWidth")
        pytest.fail(f"{name}: the page scrolls sideways ({width} > {viewport['width']} px)")
    assert page.evaluate("() => window.__csp") == [], f"{name}: Content-Security-Policy"
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": height})
    page.wait_for_timeout(700)
    screenshot(page, name)
    page.set_viewport_size(viewport)


def sign_out(page: Any) -> None:
    page.click("#account-menu .dropdown-toggle")
    page.click("#sign-out", timeout=5_000)
    page.wait_for_url(re.compile(r"/login"), timeout=TIMEOUT)


def test_operator_grants_an_offline_charger_and_the_driver_sees_it(browser, base_url):
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    try:
        # The operator lands on the fleet overview, counts filled in.
        sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
        assert page.url == f"{base_url}/admin"
        total = wait_for_total(page, r"^\d+ chargers in all$")
        page.wait_for_selector("#admin-fleet-grid .ag-row a", timeout=TIMEOUT)
        offline_pill = page.locator("button.fleet-pill", has_text="Offline")
        offline_count = int(offline_pill.locator(".fleet-pill-count").inner_text())
        assert 1 <= offline_count < int(total.split()[0])
        look_at(page, "admin-fleet-1280")
        page.set_viewport_size(PHONE)
        look_at(page, "admin-fleet-390")
        page.set_viewport_size(DESKTOP)

        # The Offline pill filters the table to the offline chargers.
        offline_pill.click()
        wait_for_total(page, rf"^{offline_count} chargers? match")
        assert offline_pill.get_attribute("aria-pressed") == "true"
        page.wait_for_function(
            "(n) => document.querySelectorAll("
            "'#admin-fleet-grid .ag-center-cols-container .ag-row').length === n",
            arg=offline_count,
            timeout=TIMEOUT,
        )
        rows = grid_rows(page)
        assert all("Offline" in row for row in rows), rows
        # A restricted one: customers see it only once it is granted to them.
        depot = next(row for row in rows if "Restricted" in row)
        name = depot.split("\n")[0]
        page.click(f"#admin-fleet-grid a:text-is('{name}')")

        # Its page: offline, restricted, granted to fleet accounts but not to the newcomer.
        page.wait_for_url(re.compile(r"/admin/chargers/"), timeout=TIMEOUT)
        page.wait_for_selector("#admin-charger-status", timeout=TIMEOUT)
        assert page.inner_text("#admin-charger-heading") == name
        assert page.inner_text("#admin-charger-status") == "Offline"
        assert page.is_checked("#admin-charger-visibility input[value=restricted]")
        page.wait_for_selector("#admin-charger-access .grants-list", timeout=TIMEOUT)
        assert NEWCOMER_ACCOUNT_ID not in page.inner_text("#admin-charger-access")

        # Grant it to the first-run driver, found by their email.
        page.click("#admin-charger-account")
        page.fill(".dash-dropdown-search", "newcomer@polaris")
        page.click(f"[role=option]:has-text('{NEWCOMER_ACCOUNT_ID}')", timeout=TIMEOUT)
        page.wait_for_selector(
            f"#admin-charger-account-value:has-text('{NEWCOMER_ACCOUNT_ID}')", timeout=TIMEOUT
        )
        page.keyboard.press("Escape")
        page.click("#admin-charger-grant")
        page.wait_for_selector(
            f"#admin-charger-access-feedback:has-text('{NEWCOMER_ACCOUNT_ID} may now see')",
            timeout=TIMEOUT,
        )
        page.wait_for_selector(
            f"#admin-charger-access .grant-account:has-text('{NEWCOMER_ACCOUNT_ID}')",
            timeout=TIMEOUT,
        )
        page.wait_for_selector("#admin-charger-sessions-grid .ag-row", timeout=TIMEOUT)
        page.wait_for_selector("#admin-charger-utilisation-chart .js-plotly-plot", timeout=TIMEOUT)
        look_at(page, "admin-charger-1280")
        page.set_viewport_size(PHONE)
        look_at(page, "admin-charger-390")
        page.set_viewport_size(DESKTOP)

        # An id that names no charger: a friendly notice with a way back, never an error.
        page.goto(f"{base_url}/admin/chargers/NO-SUCH-CHARGER")
        notice = page.locator("#admin-charger-missing")
        notice.wait_for(state="visible", timeout=TIMEOUT)
        assert "That charger doesn't exist" in notice.inner_text()
        assert not page.locator("#admin-charger-content").is_visible()
        assert not page.locator("#page-alert").is_visible()  # no "something went wrong"
        assert page.evaluate("() => window.__csp") == []
        notice.locator("a", has_text="Back to the fleet").click()
        page.wait_for_url(f"{base_url}/admin", timeout=TIMEOUT)
        sign_out(page)

        # The newcomer signs in: the charger's card is there, Offline.
        sign_in_page(page, base_url, NEWCOMER_EMAIL, DEMO_PASSWORD)
        assert page.url.rstrip("/") == base_url
        card = page.locator("#charger-grid .charger-card", has_text=name)
        card.wait_for(timeout=TIMEOUT)
        assert card.locator(".charger-status").inner_text() == "Offline"
        assert "Showing" not in page.inner_text("#charger-grid")  # nothing beyond the cap
    finally:
        context.close()
