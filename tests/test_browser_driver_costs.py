"""What the demo driver pays, in headless Chromium: each charger card's price (the DC price on
a charger above 22 kW), the Active session banner's cost so far, the same figure on Recent
activity's session in progress, the finished sessions' costs with their receipts (whose total
is the one the row shows) and the plan's tariff; at 1280 and 390 px, without sideways scroll.
Screenshots land in ``screenshots/`` (dashboard-costs-*)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from data.demo.showcase import DRIVER_EMAIL
from tests.support.browser import DEMO_PASSWORD, screenshot, show_all_chargers, sign_in_page

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
MONEY = r"€\d+\.\d\d"
# The demo driver pays Commuter: 0.39 a kWh, 0.52 on DC, 1.20 an hour after 4 h, 0.50 a session.
AC_PRICE = "€0.39/kWh · €1.20/h after 4 h · €0.50 per session"
DC_PRICE = "€0.52/kWh · €1.20/h after 4 h · €0.50 per session"

# The banner's cost and the one of Recent activity's session in progress, read at once.
BOTH_COSTS = """() => {
  const row = [...document.querySelectorAll('#recent-sessions li.session-item')]
    .find((li) => li.innerText.includes('In progress'));
  const cost = row ? row.querySelector('.session-cost dd') : null;
  return [document.getElementById('banner-cost').innerText.trim(),
          cost ? cost.innerText.trim() : null];
}"""

# Each card: its name, its power and its price line (innerText: no-break spaces as spaces).
CARDS = """() => [...document.querySelectorAll('#charger-grid .charger-card')].map((card) => [
  card.querySelector('.charger-name').innerText,
  card.querySelector('.charger-specs').innerText,
  card.querySelector('.charger-price') ? card.querySelector('.charger-price').innerText : null,
])"""


def _spaces(text: str) -> str:
    return " ".join(text.split())


def _dashboard(browser: Any, base_url: str, width: int) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
    show_all_chargers(page, TIMEOUT)  # a phone lists the favourites until then
    page.wait_for_selector("#charger-grid .charger-price", timeout=TIMEOUT)
    page.wait_for_selector("#recent-sessions .session-cost", timeout=TIMEOUT)
    page.locator("#active-session-banner").wait_for(state="visible", timeout=TIMEOUT)
    page.wait_for_function(f"() => ({BOTH_COSTS})().every((cost) => cost)", timeout=TIMEOUT)
    return page


@pytest.mark.parametrize("width", [1280, 390])
def test_the_driver_sees_prices_and_costs(browser: Any, base_url: str, width: int) -> None:
    page = _dashboard(browser, base_url, width)
    # Every card has its price; above 22 kW the DC price.
    cards = page.evaluate(CARDS)
    assert len(cards) > 10
    for name, specs, price in cards:
        kw = float(re.search(r"([\d.]+) kW", specs).group(1))  # type: ignore[union-attr]
        assert _spaces(price) == (DC_PRICE if kw > 22 else AC_PRICE), name
    # The banner says the cost so far beside the kWh; the row in progress says the same.
    banner, row = page.evaluate(BOTH_COSTS)
    assert re.fullmatch(rf"{MONEY} so far", banner)
    assert row == banner
    words = _spaces(page.inner_text("#active-session-banner"))
    assert re.search(rf"kWh delivered · {MONEY} so far · started", words)
    # Finished sessions: their cost and a link to their receipt, named for its session.
    finished = page.locator("#recent-sessions li.session-item", has_text="Finalized").first
    assert re.fullmatch(rf"{MONEY} · Receipt", finished.locator(".session-cost dd").inner_text())
    link = finished.locator("a.session-receipt")
    assert re.fullmatch(r"/receipts/S\w+", link.get_attribute("href") or "")
    assert (link.get_attribute("aria-label") or "").startswith("Receipt of ")
    # The plan's tariff.
    plan = _spaces(page.inner_text("#plan-gauge"))
    assert "Tariff Commuter €0.39/kWh · DC €0.52/kWh · €0.50 per session" in plan
    # Nothing squeezed: no sideways scroll, card names on whole lines (a phone's card is a grid).
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    title = page.locator("#charger-grid .charger-name").first.bounding_box()
    assert title is not None and title["width"] > 150
    screenshot(page, f"dashboard-costs-{width}")
    page.context.close()


def test_a_receipt_from_recent_activity_has_the_rows_total(browser: Any, base_url: str) -> None:
    page = _dashboard(browser, base_url, 1280)
    finished = page.locator("#recent-sessions li.session-item", has_text="Finalized").first
    cost = finished.locator(".session-cost-value").inner_text().strip()
    finished.locator("a.session-receipt").click()
    page.wait_for_url(re.compile(r"/receipts/"), timeout=TIMEOUT)
    total = page.locator(".doc-costs .doc-total .doc-amount")
    total.wait_for(timeout=TIMEOUT)
    assert total.inner_text().strip() == cost
    page.context.close()
