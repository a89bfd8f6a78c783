"""Issue 18's "done when", in headless Chromium on the demo at 1280 and 390 px: Dana opens
"All my sessions" from her dashboard, narrows it to a day of last year by the date filter,
finds that day's session (its totals line says one), and opens its receipt from the row; and
narrows it to the charger she used longest ago by typing its name (searched on the server). The
page does not scroll sideways (the grid does, inside) and has no serious accessibility
violation. Screenshots land in ``screenshots/`` (sessions-*)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from data.charging.dashboard import operator_settings
from data.core.models import Charger, ChargingSession
from data.demo.showcase import DRIVER_ACCOUNT_ID, DRIVER_EMAIL
from tests.support.axe import axe_violations, describe
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page, wait_for_grid_rows

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
GRID = ".history-grid"


@pytest.fixture(scope="module")
def last_years_session(demo_app: Flask) -> tuple[str, str]:
    """Dana's latest priced session of last year (operator's time zone): its id and local day."""
    s_ = ChargingSession
    with demo_app.extensions["polaris_db"].session() as s:
        tz: ZoneInfo = operator_settings(s).tz
        new_year = datetime(datetime.now(UTC).astimezone(tz).year, 1, 1, tzinfo=tz)
        row = s.execute(
            select(s_.id, s_.started_at)
            .where(
                s_.account_id == DRIVER_ACCOUNT_ID,
                s_.cost_total.is_not(None),
                s_.started_at < new_year,
            )
            .order_by(s_.started_at.desc())
            .limit(1)
        ).one()
    return row.id, row.started_at.astimezone(tz).date().isoformat()


def totals_match(page: Any, pattern: str) -> None:
    """Wait for the totals line to match ``pattern`` (the page renders again on "Show")."""
    page.wait_for_function(
        "(p) => { const el = document.querySelector('.history-totals');"
        " return el !== null && new RegExp(p).test(el.innerText); }",
        arg=pattern,
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_a_driver_finds_last_years_session_and_opens_its_receipt(
    browser: Any,
    base_url: str,
    axe_source: Path,
    last_years_session: tuple[str, str],
    width: int,
) -> None:
    session_id, day = last_years_session
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
    page.click("#all-sessions-link", timeout=TIMEOUT)
    page.wait_for_url(f"{base_url}/sessions", timeout=TIMEOUT)
    wait_for_grid_rows(page, GRID, TIMEOUT)
    totals_match(page, "^[0-9,]+ sessions")
    page.fill("#history-from", day)
    page.fill("#history-to", day)
    page.click("#history-apply")
    page.wait_for_url(f"{base_url}/sessions?from={day}&to={day}", timeout=TIMEOUT)
    totals_match(page, "^1 session ·")
    wait_for_grid_rows(page, GRID, TIMEOUT)
    assert page.get_attribute("#history-export", "href") == (
        f"/export/sessions.csv?from={day}&to={day}"
    )
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    screenshot(page, f"sessions-{width}")
    assert not (found := axe_violations(page, axe_source)), "\n".join(describe("sessions", found))

    link = page.locator(f"{GRID} a[href='/receipts/{session_id}']")
    assert link.count() == 1
    link.click()
    page.wait_for_url(f"{base_url}/receipts/{session_id}", timeout=TIMEOUT)
    page.wait_for_selector(".doc-costs .doc-total .doc-amount", timeout=TIMEOUT)
    assert session_id in page.inner_text(".receipt-doc")
    context.close()


@pytest.fixture(scope="module")
def first_charger(demo_app: Flask) -> tuple[str, str]:
    """The charger of Dana's oldest session: its id and name."""
    s_ = ChargingSession
    with demo_app.extensions["polaris_db"].session() as s:
        row = s.execute(
            select(Charger.id, Charger.friendly_name)
            .join(s_, s_.charger_id == Charger.id)
            .where(s_.account_id == DRIVER_ACCOUNT_ID)
            .order_by(s_.started_at)
            .limit(1)
        ).one()
    return row.id, row.friendly_name


def test_a_driver_finds_a_charger_by_typing_its_name(
    browser: Any, base_url: str, axe_source: Path, first_charger: tuple[str, str]
) -> None:
    charger_id, name = first_charger
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
    page.goto(f"{base_url}/sessions")
    wait_for_grid_rows(page, GRID, TIMEOUT)
    page.click("#history-charger")
    page.fill(".dash-dropdown-search", name)
    option = page.locator(f"[role=option]:has-text('{name}')")
    option.first.wait_for(timeout=TIMEOUT)
    screenshot(page, "sessions-charger-search")
    option.first.click()
    page.keyboard.press("Escape")
    page.click("#history-apply")
    page.wait_for_url(f"{base_url}/sessions?charger={charger_id}", timeout=TIMEOUT)
    # The address changes first; the unfiltered totals and grid stay on screen until the new
    # view's answer replaces them with its own (its Export link, totals "Counting…" and grid).
    page.wait_for_selector(
        f"#history-export[href='/export/sessions.csv?charger={charger_id}']", timeout=TIMEOUT
    )
    totals_match(page, "^[0-9,]+ sessions? ·")
    wait_for_grid_rows(page, GRID, TIMEOUT)
    assert name in page.inner_text(".history-grid")
    screenshot(page, "sessions-charger")
    assert not (found := axe_violations(page, axe_source)), "\n".join(describe("sessions", found))
    context.close()
