"""The operator's sessions explorer and reservations page, in headless Chromium on the demo."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from data.demo.showcase import (
    DEMO_TIMEZONE,
    DRIVER_ACCOUNT_ID,
    DRIVER_LIVE_SESSION_ID,
    OPERATOR_EMAIL,
)
from tests.support.browser import (
    DEMO_PASSWORD,
    GRID_ROWS,
    pick_dropdown,
    screenshot,
    sign_in_page,
    wait_for_grid_rows,
)

pytestmark = pytest.mark.browser

SESSION_ROWS = ".admin-sessions-grid" + GRID_ROWS
RESERVATION_ROWS = ".admin-reservations-grid" + GRID_ROWS


def _sign_in(page, base_url: str) -> None:
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    assert page.url == f"{base_url}/admin"


def _wait_for_search(page, fragment: str, timeout_s: float = 10) -> None:
    """Poll ``location.search`` (``wait_for_function`` evaluates a string: the CSP forbids it)."""
    deadline = time.monotonic() + timeout_s
    while fragment not in page.evaluate("location.search"):
        assert time.monotonic() < deadline, f"{fragment!r} never reached the URL"
        page.wait_for_timeout(100)


def test_operator_filters_sessions_to_in_progress_and_sees_the_drivers_live_session(page, base_url):
    _sign_in(page, base_url)
    page.click("#admin-nav a[href='/admin/sessions']")
    wait_for_grid_rows(page, ".admin-sessions-grid", 15_000)
    page.wait_for_selector(".admin-sessions-totals:has-text('kWh')", timeout=10_000)
    # The demo's tariffs price its sessions: the totals add their stored cost.
    totals = page.inner_text(".admin-sessions-totals")
    assert re.fullmatch(r"[\d,]+ sessions · [\d,.]+ kWh · €[\d,]+\.\d\d", totals), totals

    page.select_option("#admin-sessions-state", "in_progress")
    page.click("#admin-sessions-apply")
    # The filter goes into the URL (read from the page: Playwright's page.url can lag behind
    # history.pushState).
    _wait_for_search(page, "state=in_progress")
    # The unfiltered totals and grid (the driver's live session among them) stay on screen
    # until the new view's answer replaces them: wait for that view's own Export link.
    page.wait_for_selector("#admin-sessions-export[href*='state=in_progress']", timeout=15_000)
    live = page.locator(f"{SESSION_ROWS}:has-text('{DRIVER_ACCOUNT_ID}')")
    live.first.wait_for(timeout=15_000)
    page.wait_for_selector(".admin-sessions-totals:has-text('kWh')", timeout=10_000)
    assert "In progress" in live.first.inner_text()
    assert page.locator(
        f".admin-sessions-grid .ag-row:has-text('{DRIVER_LIVE_SESSION_ID}')"
    ).count()
    # Every row of the view is in progress, and the totals count exactly those.
    totals = page.inner_text(".admin-sessions-totals")
    count = int(re.match(r"(\d+) sessions?", totals).group(1))
    ended = page.locator(f"{SESSION_ROWS} [col-id='ended']").all_inner_texts()
    assert len(ended) == count and set(ended) == {"In progress"}
    assert page.input_value("#admin-sessions-state") == "in_progress"
    screenshot(page, "admin-sessions-1280")

    # The URL is the view: opened afresh (a shared link), it shows the same.
    shared = page.evaluate("location.href")
    assert re.search(r"\?from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d&state=in_progress$", shared)
    page.goto(shared)
    page.wait_for_selector(f"{SESSION_ROWS}:has-text('{DRIVER_ACCOUNT_ID}')", timeout=15_000)
    page.wait_for_selector(".admin-sessions-totals:has-text('kWh')", timeout=10_000)
    assert page.inner_text(".admin-sessions-totals") == totals
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    screenshot(page, "admin-sessions-390")


def test_an_invalid_url_value_shows_a_note_and_the_default_view(page, base_url):
    _sign_in(page, base_url)
    page.goto(f"{base_url}/admin/sessions?from=2026-02-30&state=charging")
    wait_for_grid_rows(page, ".admin-sessions-grid", 15_000)
    note = page.inner_text("#admin-sessions-note")
    assert "is not a date" in note and "showing all sessions" in note
    assert page.input_value("#admin-sessions-state") == "all"


def _local_input(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(DEMO_TIMEZONE)).strftime("%Y-%m-%dT%H:%M")


def test_operator_creates_a_reservation_is_refused_an_overlap_and_cancels(page, base_url):
    _sign_in(page, base_url)
    page.goto(f"{base_url}/admin/reservations")
    wait_for_grid_rows(page, ".admin-reservations-grid", 15_000)
    # The form's start and end are filled by an answer of their own (the next full hour), which
    # also names the time zone: wait for it, or it could overwrite the times typed below.
    page.wait_for_selector("#admin-reservation-tz:has-text('Times are in')", timeout=15_000)
    # Three weeks ahead: beyond the demo's upcoming reservations.
    start = (datetime.now(UTC) + timedelta(days=21)).replace(minute=0, second=0, microsecond=0)

    pick_dropdown(page, "admin-reservation-account", "ACC-NEWCOMER")
    pick_dropdown(page, "admin-reservation-charger", "PX-010")
    page.fill("#admin-reservation-start", _local_input(start))
    page.fill("#admin-reservation-end", _local_input(start + timedelta(hours=1)))
    page.click("#admin-reservation-create")
    page.wait_for_selector("#admin-reservation-message .alert-success", timeout=10_000)
    created = page.inner_text("#admin-reservation-message")
    reservation_id = re.search(r"R-[0-9A-F]{12}", created).group(0)
    assert "confirmed" in created and "ACC-NEWCOMER" in created

    # Half an hour later, same charger: refused, naming the one just made.
    page.fill("#admin-reservation-start", _local_input(start + timedelta(minutes=30)))
    page.fill("#admin-reservation-end", _local_input(start + timedelta(minutes=90)))
    page.click("#admin-reservation-create")
    page.wait_for_selector("#admin-reservation-message .alert-danger", timeout=10_000)
    refused = page.inner_text("#admin-reservation-message")
    assert "is already reserved" in refused and reservation_id in refused
    screenshot(page, "admin-reservations-1280")

    # Find it, select it, cancel it (after confirming).
    page.fill("#admin-reservations-search", reservation_id)
    page.press("#admin-reservations-search", "Enter")
    page.wait_for_selector(f"#admin-reservations-count:has-text('{reservation_id}')")
    row = page.locator(f"{RESERVATION_ROWS}:has-text('{reservation_id}')").first
    row.wait_for(timeout=10_000)
    row.click()
    page.wait_for_selector("#admin-reservations-cancel-open:not([disabled])", timeout=5_000)
    page.click("#admin-reservations-cancel-open")
    page.wait_for_selector("#admin-reservations-cancel-body", state="visible", timeout=5_000)
    assert reservation_id in page.inner_text("#admin-reservations-cancel-body")
    page.click("#admin-reservations-cancel-confirm")
    page.wait_for_selector("#admin-reservations-feedback .alert-success", timeout=10_000)
    assert f"Cancelled {reservation_id}" in page.inner_text("#admin-reservations-feedback")
    page.wait_for_selector("#admin-reservations-count:has-text('No upcoming')", timeout=10_000)

    # The slot is free again: the overlapping one can now be made.
    page.click("#admin-reservation-create")
    page.wait_for_selector("#admin-reservation-message .alert-success", timeout=10_000)
    page.fill("#admin-reservations-search", "")
    page.press("#admin-reservations-search", "Enter")
    wait_for_grid_rows(page, ".admin-reservations-grid", 10_000)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    screenshot(page, "admin-reservations-390")
