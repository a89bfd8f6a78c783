"""Alerts in headless Chromium on the demo: the admin nav's count of open alerts, the Open
alerts section of /admin/uptime, and the alert settings of /admin/settings (validated, saved)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from data.demo.showcase import FAULTED_CHARGER_ID, OPERATOR_EMAIL
from data.uptime.alerts import alert_settings, count_open_alerts, evaluate
from data.uptime.deliveries import Channel
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser
TIMEOUT = 15_000


@pytest.fixture
def operator_page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    yield page
    context.close()


def test_nav_badge_open_alerts_and_settings(
    operator_page: Any, base_url: str, demo_app: Flask
) -> None:
    page = operator_page
    db = demo_app.extensions["polaris_db"]
    page.goto(f"{base_url}/admin")
    badge = page.locator("#admin-nav-alerts")
    # The demo opens the alerts of what is down on first start (the faulted charger, the silent
    # ones), with no channel set; a worker's pass with e-mail set adds nothing for them.
    with db.session() as s:
        evaluate(s, datetime.now(UTC), {Channel.email})
    with db.session() as s:
        count = count_open_alerts(s)
    assert count >= 2
    expect(badge).to_be_visible(timeout=TIMEOUT)
    expect(badge).to_have_text(f"{count} open alerts")
    screenshot(page, "admin-nav-alerts-badge")

    page.get_by_role("link", name="Uptime").click()
    page.wait_for_url(f"{base_url}/admin/uptime", timeout=TIMEOUT)
    rows = page.locator("#admin-uptime-alerts tbody tr")
    expect(rows).to_have_count(count, timeout=TIMEOUT)
    expect(page.locator("#admin-uptime-alerts")).to_contain_text(FAULTED_CHARGER_ID)
    expect(rows.first).to_contain_text("Not sent (no channel configured")
    screenshot(page, "admin-uptime-open-alerts")

    page.goto(f"{base_url}/admin/settings")
    delay = page.locator("#admin-alerts-delay")
    expect(delay).to_have_value("5", timeout=TIMEOUT)
    delay.fill("0")
    page.click("#admin-alerts-save")
    expect(page.locator("#admin-alerts-feedback")).to_contain_text("Nothing was saved")
    expect(page.locator("#admin-alerts-delay-error")).to_contain_text("from 1 to 1440")
    delay.fill("15")
    page.select_option("#admin-alerts-digest", "also")
    page.click("#admin-alerts-save")
    expect(page.locator("#admin-alerts-feedback")).to_contain_text(
        "alerts after 15 min", timeout=TIMEOUT
    )
    screenshot(page, "admin-settings-alerts")
    with db.session() as s:
        saved = alert_settings(s)
    assert (saved.delay_s, saved.digest.value) == (15 * 60, "also")
