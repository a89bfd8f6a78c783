"""/admin/audit in headless Chromium on the demo: a charger renamed on its page shows at the top
of the log with the operator's email, account and the name before and after; the filters narrow
the grid and the Export CSV link follows them; a chosen entry shows every field it changed; axe
finds nothing serious at 1280 and 390 px (screenshots of both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.audit.entries import COMMAND_LINE, Action, Actor, record
from data.core.models import AuditEntry
from data.demo.showcase import FAULTED_CHARGER_ID, OPERATOR_EMAIL, OPS_ACCOUNT_ID
from tests.support.axe import axe_violations, describe
from tests.support.browser import (
    DEMO_PASSWORD,
    GRID_ROWS,
    screenshot,
    sign_in_page,
    wait_for_grid_rows,
)

pytestmark = pytest.mark.browser

AUDIT_ROWS = ".admin-audit-grid" + GRID_ROWS


def _earlier_entries(demo_app) -> None:
    """A few older entries (a tariff, a plan's tariff, an import from the command line), so the
    log reads like an operator's week."""
    olga = Actor(OPERATOR_EMAIL, None, OPS_ACCOUNT_ID)
    now = datetime.now(UTC)
    with demo_app.extensions["polaris_db"].session() as s:
        record(
            s, COMMAND_LINE, now - timedelta(days=6), Action.import_loaded, "import",
            "/srv/exchange/2026-11", after={"chargers.csv": {"added": 2, "updated": 1}},
            detail="2 added, 1 updated, 58 unchanged.",
        )  # fmt: skip
        record(
            s, olga, now - timedelta(days=2), Action.tariff_version_scheduled, "tariff",
            "TARIFF-STANDARD", after={"valid_from": "2026-12-01T00:00:00Z",
                                      "energy_price_per_kwh": "0.4500", "session_fee": "0.50"},
        )  # fmt: skip
        record(
            s, olga, now - timedelta(hours=5), Action.account_plan_set, "account", "ACC-DRIVER",
            before={"plan_id": "PLAN-BASIC"}, after={"plan_id": "PLAN-PLUS"},
        )  # fmt: skip


def _entry_count(demo_app) -> int:
    with demo_app.extensions["polaris_db"].session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_an_operators_change_is_in_the_log_with_who_and_what(
    browser, base_url, demo_app, axe_source
):
    _earlier_entries(demo_app)
    # axe is injected into the page, which the Content-Security-Policy refuses: bypassed here.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
        page.goto(f"{base_url}/admin/chargers/{FAULTED_CHARGER_ID}")
        name = page.locator("#admin-charger-name")
        name.wait_for(timeout=15_000)
        page.wait_for_function(
            "() => document.getElementById('admin-charger-name').value !== ''", timeout=15_000
        )
        old = name.input_value()
        name.fill("Westpark — Bay 1 (new sign)")
        page.click("#admin-charger-save")
        page.wait_for_selector("#admin-charger-save-feedback:has-text('Saved')", timeout=10_000)

        page.click("#admin-nav a[href='/admin/audit']")
        wait_for_grid_rows(page, ".admin-audit-grid", 15_000)
        first = page.locator(AUDIT_ROWS).first
        text = first.inner_text()
        assert "charger.updated" in text and OPERATOR_EMAIL in text and OPS_ACCOUNT_ID in text
        assert f"friendly_name: {old} → Westpark — Bay 1 (new sign)" in text
        # The demo's own entries (Olga's outage reviews), the three above and this change.
        entries = f"{_entry_count(demo_app):,} entries"
        assert f"{entries}, newest first." in page.inner_text("#admin-audit-note")

        # Choosing the row shows the change field by field.
        first.locator(".ag-cell").first.click()
        table = page.locator(".admin-audit-change")
        table.wait_for(timeout=10_000)
        assert old in table.inner_text() and "Westpark — Bay 1 (new sign)" in table.inner_text()
        found = axe_violations(page, axe_source)
        assert found == [], "\n".join(describe("/admin/audit at 1280 px", found))
        screenshot(page, "admin-audit-1280")

        # A filter narrows the grid, and Export CSV follows it.
        page.select_option("#admin-audit-action", "import.loaded")
        page.wait_for_selector("#admin-audit-note:has-text('1 entry')", timeout=10_000)
        wait_for_grid_rows(page, ".admin-audit-grid", 15_000)
        assert page.locator(AUDIT_ROWS).count() == 1
        assert "cli" in page.locator(AUDIT_ROWS).first.inner_text()
        href = page.get_attribute("#admin-audit-export", "href")
        assert href == "/export/audit.csv?action=import.loaded"
        page.select_option("#admin-audit-action", label="Any action")
        page.wait_for_selector(f"#admin-audit-note:has-text('{entries}')", timeout=10_000)
        wait_for_grid_rows(page, ".admin-audit-grid", 15_000)

        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(400)
        page.locator(AUDIT_ROWS).first.locator(".ag-cell").first.click()
        page.locator(".admin-audit-change").wait_for(timeout=10_000)
        found = axe_violations(page, axe_source)
        assert found == [], "\n".join(describe("/admin/audit at 390 px", found))
        screenshot(page, "admin-audit-390")
    finally:
        context.close()
