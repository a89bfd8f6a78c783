"""The operator reads the fleet's analytics in headless Chromium, against the demo data."""

from __future__ import annotations

import calendar
import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from components.analytics import GRAPH_IDS
from components.format import format_money
from data.core.models import ChargingSession
from data.demo.showcase import DEMO_TIMEZONE, OPERATOR_EMAIL
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser
TIMEOUT = 15_000


@pytest.fixture(scope="module")
def operator_state(browser: Any, base_url: str) -> dict[str, Any]:
    """The operator signs in once; each test opens a fresh context with that cookie."""
    context = browser.new_context()
    page = context.new_page()
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    assert page.url == f"{base_url}/admin"
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def operator_page(browser: Any, operator_state: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, storage_state=operator_state
    )
    yield context.new_page()
    context.close()


def bars(page: Any, chart: str) -> Any:
    return page.locator(f"#{GRAPH_IDS[chart]} .bars .point")


def expect_bars(page: Any, chart: str, count: int) -> None:
    """Plotly draws after the data arrives (and the graph's element is replaced as it loads),
    so wait for the count rather than reading it once."""
    expect(bars(page, chart)).to_have_count(count, timeout=TIMEOUT)


def local_today() -> date:
    return datetime.now(ZoneInfo(DEMO_TIMEZONE)).date()


def open_analytics(page: Any, base_url: str) -> None:
    """From the admin landing page, through the admin navigation."""
    page.goto(f"{base_url}/admin")
    page.get_by_role("link", name="Analytics").click()
    page.wait_for_url(f"{base_url}/admin/analytics", timeout=TIMEOUT)
    expect(page.locator("#admin-analytics-total")).to_contain_text("kWh", timeout=TIMEOUT)


def test_operator_switches_the_period_and_the_charts_follow(
    operator_page: Any, base_url: str
) -> None:
    page = operator_page
    open_analytics(page, base_url)
    month_label = page.inner_text("#admin-analytics-label")
    assert re.fullmatch(r"[A-Z][a-z]+ \d{4}", month_label)
    month_total = page.inner_text("#admin-analytics-total")
    today = local_today()
    # One bar per day of the month, the days to come included.
    expect_bars(page, "energy-daily", calendar.monthrange(today.year, today.month)[1])
    expect(page.locator(f"#{GRAPH_IDS['hour-of-week']} .hm")).to_have_count(1)
    expect(page.locator(f"#{GRAPH_IDS['connectors']} .slice").first).to_be_attached()
    expect_bars(page, "utilisation", 10)

    page.click("#admin-analytics-period-year")
    page.wait_for_url("**/admin/analytics?period=year", timeout=TIMEOUT)
    expect(page.locator("#admin-analytics-label")).to_have_text(
        re.compile(r"^\d{4}$"), timeout=TIMEOUT
    )
    expect(page.locator("#admin-analytics-total")).not_to_have_text(month_total)
    year_days = today.timetuple().tm_yday  # 1 January up to today
    expect_bars(page, "energy-daily", year_days)
    csv_link = page.locator(f"#{GRAPH_IDS['energy-daily']}-csv")
    assert csv_link.get_attribute("href") == "/admin/analytics/energy-daily.csv?period=year"

    # The figures behind the chart, as a download.
    with page.expect_download() as download_info:
        csv_link.click()
    rows = list(csv.reader(io.StringIO(download_info.value.path().read_text("utf-8"))))
    assert rows[0] == ["day", "sessions", "energy_kwh"]
    assert len(rows) - 1 == year_days

    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "admin-analytics-1280")


def test_operator_picks_a_custom_range(operator_page: Any, base_url: str) -> None:
    page = operator_page
    open_analytics(page, base_url)
    page.click("#admin-analytics-apply")
    expect(page.locator("#admin-analytics-range-note")).to_contain_text("Pick the first")

    # The browser's own date fields.
    for field, day in (("#admin-analytics-from", "2026-03-27"),
                       ("#admin-analytics-to", "2026-04-02")):  # fmt: skip
        page.fill(field, day)
        page.keyboard.press("Tab")
        expect(page.locator(field)).to_have_value(day)
    page.click("#admin-analytics-apply")
    page.wait_for_url("**/admin/analytics?from=2026-03-27&to=2026-04-02", timeout=TIMEOUT)
    expect(page.locator("#admin-analytics-label")).to_have_text(
        "27 Mar 2026 – 2 Apr 2026", timeout=TIMEOUT
    )
    expect(page.locator("#admin-analytics-period-custom")).to_be_visible()
    expect_bars(page, "energy-daily", 7)
    expect_bars(page, "energy-monthly", 2)
    href = page.get_attribute(f"#{GRAPH_IDS['connectors']}-csv", "href")
    assert href == "/admin/analytics/connectors.csv?from=2026-03-27&to=2026-04-02"


def test_phone_width(browser: Any, base_url: str, operator_state: dict[str, Any]) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=operator_state
    )
    page = context.new_page()
    try:
        open_analytics(page, base_url)
        expect_bars(page, "utilisation", 10)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways ({width} px)"
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, "admin-analytics-390")
    finally:
        context.close()


def test_operator_reads_the_revenue(operator_page: Any, base_url: str, demo_app: Any) -> None:
    """The summary's revenue is the stored costs of the month's sessions; the revenue charts
    draw a bar per day, per month, per connector type and for the top chargers."""
    page = operator_page
    open_analytics(page, base_url)
    today = local_today()
    expect_bars(page, "revenue-daily", calendar.monthrange(today.year, today.month)[1])
    expect_bars(page, "revenue-monthly", 1)
    expect_bars(page, "revenue-connectors", 5)
    expect_bars(page, "revenue-chargers", 10)
    tz = ZoneInfo(DEMO_TIMEZONE)
    with demo_app.extensions["polaris_db"].session() as s:
        rows = s.execute(
            select(ChargingSession.started_at, ChargingSession.cost_total).where(
                ChargingSession.cost_total.is_not(None),
                ChargingSession.energy_disputed_at.is_(None),
            )
        ).all()
    month = today.replace(day=1)
    stored = sum(
        (Decimal(str(c)) for t, c in rows if t.astimezone(tz).date().replace(day=1) == month),
        Decimal(0),
    )
    assert stored > 0
    expect(page.locator("#admin-analytics-revenue")).to_have_text(
        format_money(stored, "EUR"), timeout=TIMEOUT
    )
    # The top earner's amount is written beside its bar, as format_money writes it.
    notes = page.locator(f"#{GRAPH_IDS['revenue-chargers']} .annotation-text")
    amounts = [t.strip() for t in notes.all_text_contents() if t.startswith("€")]
    assert len(amounts) == 10
    assert all(re.fullmatch(r"€[\d,]+\.\d\d", t) for t in amounts), amounts
    page.locator(f"#{GRAPH_IDS['revenue-daily']}-section").scroll_into_view_if_needed()
    screenshot(page, "admin-analytics-revenue-1280")
