"""The operator's tariffs page in headless Chromium on the demo: create a tariff (a negative fee
refused beside its field first), schedule a new version of it, see a past version of a tariff
that priced sessions refused beside its date, and give a plan the new tariff. Screenshots at
1280 and 390 px; the sessions explorer's cost column and a session's detail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from data.demo.showcase import DEMO_TIMEZONE, DRIVER_LIVE_SESSION_ID, OPERATOR_EMAIL
from tests.support.browser import (
    DEMO_PASSWORD,
    GRID_ROWS,
    screenshot,
    sign_in_page,
    wait_for_grid_rows,
)

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
NIGHT = ".admin-tariff[data-tariff='TARIFF-NIGHT-OWL']"
MODAL = "#admin-tariff-modal"
SESSION_ROWS = ".admin-sessions-grid" + GRID_ROWS


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(DEMO_TIMEZONE)).strftime("%Y-%m-%dT%H:%M")


def _open_tariffs(page, base_url: str) -> None:
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    page.click("#admin-nav a[href='/admin/tariffs']")
    page.wait_for_selector(".admin-tariff[data-tariff='TARIFF-COMMUTER']", timeout=TIMEOUT)
    page.wait_for_selector("#admin-tariff-plans .admin-plan-tariff", timeout=TIMEOUT)


def _save_and_wait(page) -> None:
    page.click("#admin-tariff-save")
    page.wait_for_selector("#admin-tariff-form-feedback .admin-feedback, "
                           "#admin-tariffs-feedback .admin-feedback", timeout=TIMEOUT)  # fmt: skip


def test_operator_creates_a_tariff_and_schedules_a_version(page, base_url):
    _open_tariffs(page, base_url)
    commuter = page.locator(".admin-tariff[data-tariff='TARIFF-COMMUTER']")
    # The demo's Commuter: in force since before any session (locked), and next month's.
    assert commuter.locator("tr[data-state='in force'][data-priced='yes']").count() == 1
    assert commuter.locator("tr[data-state='scheduled'][data-priced='no']").count() == 1
    screenshot(page, "admin-tariffs-1280")

    # New tariff: a negative session fee is refused beside its field, nothing is created.
    page.click("#admin-tariff-new")
    page.wait_for_selector(f"{MODAL} #admin-tariff-name", state="visible", timeout=TIMEOUT)
    page.fill("#admin-tariff-name", "Night owl")
    page.fill("#admin-tariff-energy", "0.25")
    page.fill("#admin-tariff-fee", "-1")
    page.fill("#admin-tariff-vat", "19")
    _save_and_wait(page)
    assert page.inner_text("#admin-tariff-fee-error") == "The session fee cannot be negative."
    assert "Nothing was saved" in page.inner_text("#admin-tariff-form-feedback")
    assert page.locator(NIGHT).count() == 0
    page.fill("#admin-tariff-fee", "0.50")
    page.click("#admin-tariff-save")
    page.wait_for_selector(NIGHT, timeout=TIMEOUT)
    page.wait_for_selector(f"{MODAL}", state="hidden", timeout=TIMEOUT)
    assert "Tariff Night owl (TARIFF-NIGHT-OWL) created" in page.inner_text(
        "#admin-tariffs-feedback"
    )
    assert "No plan uses it now" in page.inner_text(NIGHT)

    # A version of Commuter from yesterday would re-price sessions it priced: refused there.
    commuter.locator("button", has_text="Schedule a new version").click()
    page.wait_for_selector(f"{MODAL} #admin-tariff-name", state="visible", timeout=TIMEOUT)
    assert page.inner_text("#admin-tariff-form-title") == "New version of Commuter"
    assert page.input_value("#admin-tariff-energy") == "0.39"
    page.fill("#admin-tariff-valid-from", _local(datetime.now(UTC) - timedelta(days=1)))
    _save_and_wait(page)
    assert "This version would re-price session" in page.inner_text(
        "#admin-tariff-valid-from-error"
    )
    page.click("#admin-tariff-cancel")
    page.wait_for_selector(MODAL, state="hidden", timeout=TIMEOUT)

    # A new version of Night owl two months ahead.
    page.locator(NIGHT).locator("button", has_text="Schedule a new version").click()
    page.wait_for_selector(f"{MODAL} #admin-tariff-name", state="visible", timeout=TIMEOUT)
    assert page.inner_text("#admin-tariff-form-title") == "New version of Night owl"
    assert page.input_value("#admin-tariff-energy") == "0.25"
    assert page.is_disabled("#admin-tariff-id")
    later = (datetime.now(UTC) + timedelta(days=62)).replace(hour=12, minute=0)
    page.fill("#admin-tariff-valid-from", _local(later))
    page.fill("#admin-tariff-energy", "0.29")
    page.click("#admin-tariff-save")
    page.wait_for_selector(f"{NIGHT} tr[data-state='scheduled']", timeout=TIMEOUT)
    versions = page.locator(f"{NIGHT} tr.admin-tariff-version")
    assert versions.count() == 2
    assert "€0.29" in versions.nth(0).inner_text() and "€0.25" in versions.nth(1).inner_text()
    assert "scheduled from" in page.inner_text("#admin-tariffs-feedback")

    # Plan Basic 100 pays Night owl from now on.
    basic = page.locator(".admin-plan-tariff[data-plan='PLAN-BASIC-100']")
    basic.locator("select").select_option("TARIFF-NIGHT-OWL")
    basic.locator("button").click()
    page.wait_for_selector(
        f"{NIGHT} .admin-tariff-uses:has-text('Prices plan Basic 100')", timeout=TIMEOUT
    )
    assert page.inner_text("#admin-tariff-assign-feedback").endswith(
        "Plan Basic 100 is now priced by Night owl (TARIFF-NIGHT-OWL)."
    )
    screenshot(page, "admin-tariffs-after-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    # On a phone each version is a line of prices, not a table to scroll.
    assert page.locator(f"{NIGHT} table").is_hidden()
    assert "€0.29/kWh" in page.locator(f"{NIGHT} li").first.inner_text()
    screenshot(page, "admin-tariffs-390")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, scroll_width


def test_the_explorer_shows_costs_and_a_sessions_detail(page, base_url):
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    page.goto(f"{base_url}/admin/sessions")
    wait_for_grid_rows(page, ".admin-sessions-grid", TIMEOUT)
    costs = page.locator(f"{SESSION_ROWS} [col-id='cost']").all_inner_texts()
    assert costs and all(re.fullmatch(r"€[\d,]+\.\d\d( so far)?|—", c) for c in costs), costs
    assert any(c.endswith("so far") for c in costs) and any(re.fullmatch(r"€[\d,.]+", c)
                                                           for c in costs)  # fmt: skip
    live = page.locator(f"{SESSION_ROWS}:has-text('{DRIVER_LIVE_SESSION_ID}')").first
    shown = live.locator("[col-id='cost']").inner_text()
    live.locator("[col-id='account']").click()
    page.wait_for_selector(".admin-session-detail", timeout=TIMEOUT)
    detail = page.inner_text("#admin-sessions-detail")
    assert f"Session {DRIVER_LIVE_SESSION_ID}" in detail and "Cost so far" in detail
    total = re.search(r"Total\s+(€[\d,.]+)", detail)
    assert total is not None
    # The row and its detail were read a moment apart: a live cost only grows.
    assert float(total.group(1)[1:].replace(",", "")) >= float(
        shown.removesuffix(" so far")[1:].replace(",", "")
    )
    assert "Tariff Commuter (TARIFF-COMMUTER)" in detail
    screenshot(page, "admin-sessions-detail-1280")
