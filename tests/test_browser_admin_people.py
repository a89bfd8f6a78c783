"""The operator's accounts and plans pages in headless Chromium against the demo app: create a
person who can then sign in, change a plan and see it on that person's dashboard."""

from __future__ import annotations

import re

import pytest

from data.demo.showcase import OPERATOR_EMAIL
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser

ERIN_EMAIL = "erin.example@polaris.example"
ERIN_PASSWORD = "erin-secret-password"
TIMEOUT = 15_000


def _new_context_page(browser, width: int = 1280, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height})
    return context, context.new_page()


def _create_erin(page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/accounts")
    page.wait_for_selector("#admin-accounts-grid .ag-row", timeout=TIMEOUT)
    page.click("#admin-new-person-open")
    page.wait_for_selector("#admin-new-email", state="visible", timeout=TIMEOUT)
    # First a password that is too short: a clear message next to the field, nothing saved.
    page.fill("#admin-new-email", ERIN_EMAIL)
    page.fill("#admin-new-name", "Erin Example")
    page.fill("#admin-new-password", "short")
    page.click("#admin-new-person-save")
    page.wait_for_selector("#admin-new-password-error:has-text('at least 10 characters')")
    page.fill("#admin-new-password", ERIN_PASSWORD)
    page.fill("#admin-new-customer-id", "ACC-ERIN")
    page.fill("#admin-new-customer-label", "Company car")
    page.select_option("#admin-new-customer-plan", "PLAN-BASIC-100")
    page.click("#admin-new-person-save")
    page.wait_for_selector(
        "#admin-accounts-alert:has-text('created with ACC-ERIN')", timeout=TIMEOUT
    )
    # The list now shows the new person, and the panel opened on them.
    page.wait_for_selector("#admin-person-panel:has-text('Erin Example')", timeout=TIMEOUT)
    page.wait_for_selector("#admin-accounts-grid .ag-row:has-text('ACC-ERIN')", timeout=TIMEOUT)
    assert "1 row match" in page.inner_text("#admin-accounts-count")
    assert "Basic 100" in page.inner_text("#admin-person-accounts")


def test_operator_creates_a_person_who_signs_in_and_sees_plan_changes(page, browser, base_url):
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    assert page.url == f"{base_url}/admin"
    _create_erin(page, base_url)
    screenshot(page, "admin-accounts-1280")

    # Erin, in a browser of her own, signs in and lands on her dashboard with the plan.
    erin_context, erin = _new_context_page(browser)
    try:
        sign_in_page(erin, base_url, ERIN_EMAIL, ERIN_PASSWORD)
        assert erin.url.rstrip("/") == base_url
        erin.wait_for_selector("#plan-gauge:has-text('Basic 100')", timeout=TIMEOUT)
        assert re.search(r"0 of 100 kWh", erin.inner_text("#plan-gauge"))

        # The operator raises the plan's allowance...
        page.goto(f"{base_url}/admin/settings")
        page.wait_for_selector("tr[data-plan='PLAN-BASIC-100']", timeout=TIMEOUT)
        page.click("tr[data-plan='PLAN-BASIC-100'] button")
        page.wait_for_selector("#admin-plan-form-title:has-text('Edit Basic 100')")
        assert page.input_value("#admin-plan-allowance") == "100"
        page.fill("#admin-plan-allowance", "-5")
        page.click("#admin-plan-form-save")
        page.wait_for_selector("#admin-plan-allowance-error:has-text('cannot be negative')")
        page.fill("#admin-plan-allowance", "120")
        page.click("#admin-plan-form-save")
        page.wait_for_selector("#admin-plan-form-feedback:has-text('Plan Basic 100 saved')")
        page.wait_for_selector("tr[data-plan='PLAN-BASIC-100']:has-text('120 kWh')")
        screenshot(page, "admin-settings-1280")

        # ...and Erin sees it after a reload.
        erin.reload()
        erin.wait_for_selector("#plan-gauge:has-text('of 120 kWh')", timeout=TIMEOUT)
    finally:
        erin_context.close()


def test_operator_settings_refuse_a_bad_zone_and_save_a_good_one(page, base_url):
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    page.goto(f"{base_url}/admin/settings")
    page.wait_for_function(
        "() => { const name = document.getElementById('admin-operator-name');"
        " return !!name && name.value !== ''; }",
        timeout=TIMEOUT,
    )
    page.fill("#admin-operator-email", "help@")
    page.click("#admin-operator-save")
    page.wait_for_selector("#admin-operator-email-error:has-text('not an email address')")
    assert "Nothing was saved" in page.inner_text("#admin-operator-feedback")
    page.fill("#admin-operator-email", "help@polaris.example")
    page.click("#admin-operator-save")
    page.wait_for_selector("#admin-operator-feedback:has-text('Settings saved')")
    assert page.inner_text("#admin-operator-email-error") == ""


def test_phone_width_is_usable(browser, base_url):
    context, page = _new_context_page(browser, 390, 844)
    try:
        sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
        page.goto(f"{base_url}/admin/accounts")
        page.wait_for_selector("#admin-accounts-grid .ag-row", timeout=TIMEOUT)
        page.fill("#admin-accounts-search", "newcomer")
        page.wait_for_selector("#admin-accounts-count:has-text('1 row match')", timeout=TIMEOUT)
        page.click("#admin-accounts-grid .ag-row >> nth=0")
        page.wait_for_selector("#admin-person-panel:has-text('Nico Newcomer')", timeout=TIMEOUT)
        _no_sideways_scroll(page, "/admin/accounts")
        screenshot(page, "admin-accounts-390")

        page.goto(f"{base_url}/admin/settings")
        page.wait_for_selector("tr[data-plan]", timeout=TIMEOUT)
        _no_sideways_scroll(page, "/admin/settings")
        screenshot(page, "admin-settings-390")
    finally:
        context.close()


def _no_sideways_scroll(page, path: str) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"{path} scrolls sideways on a phone ({width} px)"
