"""A charger named like a link shows its name as text, on every page with a chart, in
headless Chromium against the demo (every charger renamed as an import could)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from components.analytics import GRAPH_IDS
from data.core.models import Charger
from data.demo.showcase import DRIVER_EMAIL, OPERATOR_EMAIL
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser
TIMEOUT = 15_000
HOSTILE = '<a href="https://evil.example/">Click here</a>'
# Every link to evil.example, HTML or SVG (plotly.js draws links as SVG <a xlink:href>, which
# the CSS selector a[href*=...] does not see).
LINKS = """() => Array.from(document.querySelectorAll('a')).filter((a) =>
  ((a.getAttribute('href') || '') + ' '
   + (a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '')).includes('evil.example')
).length"""


@pytest.fixture(scope="module")
def demo_app(demo_app: Flask) -> Flask:
    """The demo with every charger renamed, before the app serves its first page."""
    with demo_app.extensions["polaris_db"].session() as s:
        for n, charger in enumerate(s.scalars(select(Charger).order_by(Charger.id))):
            charger.friendly_name = f"{HOSTILE} {n}"
    return demo_app


def no_links(page: Any) -> None:
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.evaluate(LINKS) == 0


def test_the_charts_show_a_link_like_name_as_text(browser: Any, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
        page.goto(f"{base_url}/admin/analytics")
        chart = f"#{GRAPH_IDS['utilisation']}"
        expect(page.locator(f"{chart} .bars .point")).to_have_count(10, timeout=TIMEOUT)
        names = page.locator(f"{chart} .annotation-text")
        expect(names.first).to_contain_text('<a href="https://evil.example/">', timeout=TIMEOUT)
        expect(page.locator(f"#{GRAPH_IDS['connectors']} .slice").first).to_be_attached()
        no_links(page)
        # The hover label: the whole name, substituted into the template.
        bar = page.locator(f"{chart} .bars .point path").first
        bar.scroll_into_view_if_needed()
        box = bar.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        hover = page.locator(".hoverlayer .hovertext").first
        expect(hover).to_contain_text(HOSTILE, timeout=TIMEOUT)
        no_links(page)
        screenshot(page, "escape-analytics")

        # The fleet table links each name to its page; the name is the link's text.
        page.goto(f"{base_url}/admin")
        row_link = page.locator("#admin-fleet-grid .ag-row a").first
        expect(row_link).to_contain_text(HOSTILE, timeout=TIMEOUT)
        no_links(page)
        row_link.click()
        page.wait_for_selector("#admin-charger-utilisation-chart .js-plotly-plot", timeout=TIMEOUT)
        page.wait_for_selector("#admin-charger-energy-chart .js-plotly-plot", timeout=TIMEOUT)
        expect(page.locator("#admin-charger-heading")).to_contain_text(HOSTILE)
        no_links(page)
        screenshot(page, "escape-charger")
    finally:
        context.close()


def test_the_drivers_dashboard_shows_a_link_like_name_as_text(browser: Any, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
        card = page.locator("#charger-grid .charger-card").first
        expect(card).to_contain_text(HOSTILE, timeout=TIMEOUT)
        page.wait_for_selector("#usage-chart .js-plotly-plot", timeout=TIMEOUT)
        expect(page.locator("#recent-sessions")).to_contain_text("Click here", timeout=TIMEOUT)
        no_links(page)
        screenshot(page, "escape-dashboard")
    finally:
        context.close()
