"""Disputed energy in headless Chromium against the live demo app (issue 13).

A charger reports 500 million kWh for Dana's session and stops a second later. The operator
sees the session flagged on /admin/sessions (section and grid) and on the charger's page,
corrects it there to the figure she enters, and the section empties. The driver's usage never
showed the 500 million kWh. Screenshots at 1280 px.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

import data.ocpp.messages as ocpp
from data.core.models import ChargingSession
from data.demo.showcase import DRIVER_FAST_CHARGER_ID, DRIVER_ID_TAG, OPERATOR_EMAIL
from tests.support.axe import axe_violations, describe
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser

TIMEOUT = 15_000


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s);"
        " return !!e && e.innerText.includes(t); }",
        arg=[selector, text],
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def disputed(demo_app: Flask) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    started = now - timedelta(minutes=3)
    with demo_app.extensions["polaris_db"].session() as s:
        start = ocpp.start_transaction(
            s, DRIVER_FAST_CHARGER_ID, 2, DRIVER_ID_TAG, 0, started.isoformat(), now
        )
        ocpp.stop_transaction(
            s, DRIVER_FAST_CHARGER_ID, start.transaction_id, 500_000_000_000,
            (started + timedelta(seconds=1)).isoformat(), None, None, None, now,
        )  # fmt: skip
    assert start.session_id is not None
    return start.session_id


def test_the_disputed_energy_section_passes_axe_on_a_phone(
    browser: Any,
    base_url: str,
    disputed: str,
    axe_source: Any,  # noqa: F811 - the fixture imported above
) -> None:
    """At 390 px the table squeezed the kWh field to 18 px wide (axe target-size, serious)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    phone = context.new_page()
    try:
        sign_in_page(phone, base_url, OPERATOR_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
        for path in ("/admin/sessions", f"/admin/chargers/{DRIVER_FAST_CHARGER_ID}"):
            phone.goto(base_url + path)
            wait_for_text(phone, "#admin-energy-disputes", disputed)
            found = axe_violations(phone, axe_source, "#admin-energy-section")
            assert not found, describe(path, found)
        screenshot(phone, "energy-sessions-charger-390")
    finally:
        context.close()


def test_the_operator_sees_and_corrects_a_disputed_session(
    demo_app: Flask, base_url: str, page: Any, disputed: str
) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD, wait_for_idle=False)

    page.goto(f"{base_url}/admin/sessions")
    wait_for_text(page, "#admin-energy-disputes", disputed)
    section = page.inner_text("#admin-energy-section")
    assert "1 session has disputed energy" in section
    assert "500,000,000.000 kWh" in section and "0.000 kWh" in section
    wait_for_text(page, ".ag-root", "Disputed")
    totals = page.inner_text("#admin-sessions-results")
    assert "(1 with disputed energy not counted)" in totals
    screenshot(page, "energy-sessions-1280")

    page.goto(f"{base_url}/admin/chargers/{DRIVER_FAST_CHARGER_ID}")
    wait_for_text(page, "#admin-energy-disputes", disputed)
    wait_for_text(page, ".ag-root", "Energy disputed")
    page.locator("#admin-energy-section").scroll_into_view_if_needed()
    screenshot(page, "energy-charger-1280")

    field = page.get_by_label(f"Energy of {disputed} in kWh")
    field.fill("12.5")
    page.get_by_role("button", name="Correct", exact=True).click()
    wait_for_text(page, "#admin-energy-feedback", "corrected to 12.500 kWh")
    wait_for_text(page, "#admin-energy-disputes", "No session has disputed energy")
    # The charger's sessions grid shows the corrected session without a reload.
    newest = "#admin-charger-sessions-grid .ag-center-cols-container .ag-row[row-index='0']"
    page.wait_for_function(
        "(s) => { const r = document.querySelector(s);"
        " return !!r && r.innerText.includes('12.5') && r.innerText.includes('Finalized'); }",
        arg=newest,
        timeout=TIMEOUT,
    )
    assert "Energy disputed" not in page.inner_text("#admin-charger-sessions-grid")
    screenshot(page, "energy-corrected-1280")
    # Another charger's page has nothing disputed: no section at all.
    page.goto(f"{base_url}/admin/chargers/PX-001")
    page.wait_for_function(
        "() => (document.querySelector('#admin-energy-disputes') || {}).textContent"
        "?.includes('No session has disputed energy')",
        timeout=TIMEOUT,
    )
    assert not page.is_visible("#admin-energy-section")
    with demo_app.extensions["polaris_db"].session() as s:
        row = s.get(ChargingSession, disputed)
        assert Decimal(row.energy_kwh) == Decimal("12.5") and row.energy_disputed_at is None
