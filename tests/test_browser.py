"""What a driver sees, in headless Chromium against a live app with the demo data."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from data.core.models import ChargingSession
from data.core.periods import period_bounds
from data.demo.showcase import (
    DEMO_TIMEZONE,
    DRIVER_ACCOUNT_ID,
    DRIVER_EMAIL,
    DRIVER_LIVE_SESSION_ID,
    NEWCOMER_EMAIL,
)
from data.pricing.tariffs import live_costs
from tests.support.browser import DEMO_PASSWORD, screenshot, show_all_chargers, sign_in_page

pytestmark = pytest.mark.browser


def test_demo_driver_signs_in_and_lands_on_the_dashboard(page, base_url):
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    assert page.url.rstrip("/") == base_url
    page.wait_for_selector("#charger-grid .card", timeout=15_000)
    assert page.locator("h1").first.inner_text().strip() != ""


def test_operator_lands_on_admin_and_can_switch_to_customer(page, base_url):
    sign_in_page(page, base_url, "operator@polaris.example", DEMO_PASSWORD)
    assert page.url == f"{base_url}/admin"
    page.goto(f"{base_url}/switch")
    page.wait_for_selector("#account-list button", timeout=15_000)
    page.click("#account-list button")
    page.wait_for_load_state("networkidle")
    assert page.url.rstrip("/") == base_url
    page.wait_for_selector("#charger-grid .card", timeout=15_000)


def _set_live_session(demo_app, **values) -> None:
    with demo_app.extensions["polaris_db"].session() as s:
        s.execute(
            update(ChargingSession)
            .where(ChargingSession.id == DRIVER_LIVE_SESSION_ID)
            .values(**values)
        )


def test_driver_answers_the_three_questions(page, base_url):
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    page.wait_for_selector("#charger-grid .card", timeout=15_000)
    # 1. Am I charging right now?
    banner = page.locator("#active-session-banner")
    banner.wait_for(state="visible", timeout=10_000)
    assert re.search(r"\d+\.\d kWh", page.inner_text("#banner-kwh"))
    assert re.search(r"started \d\d:\d\d", page.inner_text("#banner-started"))
    # 2. When is my next reservation, and which charger is it on?
    reservation = page.inner_text("#next-reservation")
    # "23:00 – 23:45", or across midnight "23:15 – Fri 4 Dec, 00:00".
    assert re.search(r"\d\d:\d\d\s*[–-]\s*(?:\w{3} \d{1,2} \w{3}, )?\d\d:\d\d", reservation)
    assert "—" in reservation or "Bay" in reservation or "P2" in reservation
    # 3. How many chargers are available to me right now?
    available = page.inner_text("#available-count")
    assert re.fullmatch(r"\d+ available", available.strip())
    online_pills = page.locator("#charger-grid >> text=Online").count()
    assert int(available.split()[0]) >= online_pills > 0
    # Recent activity: five sessions, one still in progress (drawn in the browser from data).
    assert "In progress" in page.inner_text("#recent-sessions")
    items = page.locator("#recent-sessions ul.list-group > li.session-item")
    assert items.count() == 5
    assert re.search(r"\d+\.\d kWh", items.first.locator(".session-kwh").inner_text())
    assert items.first.locator("dl.session-times dt").all_inner_texts() == [
        "Start",
        "End",
        "Duration",
        "Cost",
    ]
    # The mark's icon is decoration: screen readers hear the word only.
    assert items.first.locator(".session-mark [aria-hidden=true]").count() == 1
    screenshot(page, "dashboard-driver-1280")


# The banner's kWh and the one of Recent activity's session in progress, read at once.
BOTH_KWH = """() => {
  const row = [...document.querySelectorAll('#recent-sessions li.session-item')]
    .find((li) => li.innerText.includes('In progress'));
  return [document.getElementById('banner-kwh').innerText.trim(),
          row ? row.querySelector('.session-kwh').innerText.trim() : null];
}"""


def test_banner_follows_the_data_without_a_reload(page, base_url, demo_app):
    asks: list[str] = []  # Recent activity asked again (pages/dashboard.py recentGate)
    page.on(
        "request",
        lambda r: asks.append(r.url) if "recent-refresh" in (r.post_data or "") else None,
    )
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    page.locator("#active-session-banner").wait_for(state="visible", timeout=10_000)
    page.wait_for_selector("#recent-sessions li.session-item", timeout=10_000)
    page.evaluate("() => { window.__sameDocument = true; }")
    try:
        _set_live_session(demo_app, energy_kwh=Decimal("42.7"))
        page.wait_for_function(
            "() => document.getElementById('banner-kwh').innerText.includes('42.7 kWh')",
            timeout=10_000,
        )
        # Recent activity's session in progress says what the banner says, asked again once
        # the banner's kWh changed; then, the energy flat, nothing more is asked on the ticks.
        page.wait_for_function(f"() => ({BOTH_KWH})()[1] === '42.7 kWh'", timeout=10_000)
        assert page.evaluate(BOTH_KWH) == ["42.7 kWh", "42.7 kWh"]
        assert asks
        asked = len(asks)
        page.wait_for_timeout(2500)  # more than two ticks of the 1 s refresh
        assert len(asks) == asked
        _set_live_session(demo_app, ended_at=datetime.now(UTC), finalized=True)
        page.locator("#active-session-banner").wait_for(state="hidden", timeout=10_000)
        assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
    finally:
        _set_live_session(demo_app, ended_at=None, finalized=False)


def test_period_selector_changes_the_chart(page, base_url):
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    page.wait_for_selector("#usage-chart .js-plotly-plot", timeout=15_000)
    # Functions, not expression strings: Playwright evals strings, which our CSP forbids.
    bars = (
        "(n) => { const g = document.querySelector('#usage-chart .js-plotly-plot');"
        " return !!(g && g._fullData && g._fullData[0]) && g._fullData[0].x.length === n; }"
    )
    # The operator's calendar, not UTC's: from 23:00 UTC Berlin is already on the next day.
    now = datetime.now(ZoneInfo(DEMO_TIMEZONE))
    page.wait_for_function(bars, arg=_days_in_month(now.year, now.month), timeout=10_000)
    page.click("#period-link-previous")
    page.wait_for_url(re.compile(r"period=previous"))
    previous = (now.replace(day=1) - timedelta(days=1)).date()
    # The total and the chart come in one answer; the total names the month. Two months of
    # the same length draw as many bars: a count alone would pass on the chart still shown.
    page.wait_for_selector(f"#usage-total:has-text('{previous:%B %Y}')", timeout=10_000)
    page.wait_for_function(bars, arg=_days_in_month(previous.year, previous.month))
    assert previous.strftime("%B") in page.inner_text("#usage-total")
    page.click("#period-link-year")
    page.wait_for_url(re.compile(r"period=year"))
    page.wait_for_selector(f"#usage-total:has-text('in {now.year} so far')", timeout=10_000)
    page.wait_for_function(bars, arg=now.timetuple().tm_yday, timeout=10_000)


def _driver_cost(demo_app, name: str) -> tuple[Decimal, Decimal]:
    """The driver's stored costs in period ``name`` counted from the rows, and the cost so far
    of her sessions in progress that started in it, now."""
    now = datetime.now(UTC)
    tz = ZoneInfo(DEMO_TIMEZONE)
    period = period_bounds(name, now, tz)
    with demo_app.extensions["polaris_db"].session() as s:
        rows = s.execute(
            select(ChargingSession.id, ChargingSession.started_at, ChargingSession.cost_total)
            .where(ChargingSession.account_id == DRIVER_ACCOUNT_ID)
            .where(ChargingSession.energy_disputed_at.is_(None))
        ).all()
        inside = [
            r for r in rows if period.first_day <= r[1].astimezone(tz).date() < period.end_day
        ]
        running = [r[0] for r in inside if r[2] is None]
        live = sum((c.total for c in live_costs(s, running, now).values()), Decimal(0))
    return sum((Decimal(str(r[2])) for r in inside if r[2] is not None), Decimal(0)), live


def test_the_usage_section_shows_what_the_period_cost(page, base_url, demo_app):
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    for name in ("current", "previous"):
        page.goto(f"{base_url}/?period={name}")
        stored, live_before = _driver_cost(demo_app, name)
        cost = page.locator("#usage-total .usage-total-cost")
        cost.wait_for(timeout=15_000)
        _stored, live_after = _driver_cost(demo_app, name)
        text = page.inner_text("#usage-total")
        # "312.4 kWh · €118.20 used in November 2026": the cost beside the kWh, in euros.
        assert re.fullmatch(r"[\d,]+\.\d kWh · €[\d,]+\.\d\d used in \w+ \d{4}", text.strip()), text
        shown = Decimal(cost.get_attribute("data-cost") or "")
        assert cost.inner_text().strip() == f"· €{shown:,.2f}"
        # The stored costs, plus the one in progress so far (it grows while the page loads).
        assert stored > 0
        assert stored + live_before <= shown <= stored + live_after
        if name == "current":
            assert live_before > 0, "the demo driver is charging: her cost so far counts"
            page.locator("#usage-total").scroll_into_view_if_needed()
            screenshot(page, "dashboard-usage-cost-1280")
        else:
            assert live_before == 0


def test_unknown_period_shows_current_with_a_note(page, base_url):
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    page.goto(f"{base_url}/?period=lastweek")
    page.wait_for_selector("#period-note", timeout=10_000)
    assert "lastweek" in page.inner_text("#period-note")
    page.wait_for_selector("#usage-chart .js-plotly-plot", timeout=15_000)


def test_first_run_driver_sees_guidance_not_empty_tables(page, base_url):
    sign_in_page(page, base_url, NEWCOMER_EMAIL, DEMO_PASSWORD)
    page.wait_for_selector("#charger-grid .card", timeout=15_000)
    assert "appears here once the system records it" in page.inner_text("#recent-sessions")
    assert "No upcoming reservation" in page.inner_text("#next-reservation")
    assert not page.locator("#active-session-banner").is_visible()
    assert "No plan" in page.inner_text("#plan-gauge") or page.inner_text("#plan-gauge") == ""
    screenshot(page, "dashboard-newcomer-1280")


def test_phone_width_is_usable(browser, base_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
        show_all_chargers(page)  # the favourites only until one tap opens the full list
        page.wait_for_selector("#charger-grid .card", timeout=15_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"page scrolls sideways on a phone ({width} px)"
        assert page.locator("#active-session-banner").is_visible()
        screenshot(page, "dashboard-driver-390")
    finally:
        context.close()


def test_customer_on_admin_sees_why_and_a_way_out(page, base_url):
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    page.goto(f"{base_url}/admin")
    page.wait_for_selector("text=This page is for operators", timeout=10_000)
    assert page.locator("a[href='/switch']").count() >= 1


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


CSP_RECORDER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.mark.parametrize(
    ("email", "paths"),
    [
        (DRIVER_EMAIL, ["/", "/?period=year", "/switch", "/admin", "/no-such-page"]),
        ("operator@polaris.example", ["/admin", "/switch", "/admin/tariffs", "/admin/sessions"]),
    ],
)
def test_no_page_violates_the_content_security_policy(browser, base_url, email, paths):
    context = browser.new_context()
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{base_url}/login")
        assert page.evaluate("() => window.__csp") == []
        sign_in_page(page, base_url, email, DEMO_PASSWORD)
        for path in paths:
            page.goto(base_url + path)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("() => window.__csp") == [], path
        assert not [m for m in console if "Content Security Policy" in m]
    finally:
        context.close()
