"""API tokens and "Export CSV" in headless Chromium on the demo: a token is shown once and works
as a bearer token until revoked; the form's labels sit above their own controls; the explorer's
link downloads the view on screen."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from data.accounts.tokens import TOKEN_PATTERN
from data.demo.showcase import OPERATOR_EMAIL
from tests.support.axe import axe_violations, describe
from tests.support.browser import (
    DEMO_PASSWORD,
    GRID_ROWS,
    screenshot,
    sign_in_page,
    wait_for_grid_rows,
)

pytestmark = pytest.mark.browser

SESSION_ROWS = ".admin-sessions-grid" + GRID_ROWS


def test_operator_creates_a_token_sees_it_once_and_revokes_it(page, base_url, demo_app):
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    page.click("#admin-nav a[href='/admin/tokens']")
    page.wait_for_selector(".admin-tokens-table, #admin-tokens-list:has-text('No API tokens')")
    page.fill("#admin-token-name", "warehouse sync")
    page.click("#admin-token-create")
    field = page.locator("#admin-token-value")
    field.wait_for(timeout=10_000)
    secret = field.input_value()
    assert TOKEN_PATTERN.fullmatch(secret)
    assert field.get_attribute("readonly") is not None
    assert 'curl -H "Authorization: Bearer $T"' in page.inner_text(".admin-token-curl")
    page.wait_for_selector(".admin-tokens-table:has-text('warehouse sync')", timeout=10_000)
    assert secret not in page.inner_text(".admin-tokens-table")
    assert secret[:8] in page.inner_text(".admin-tokens-table")
    screenshot(page, "admin-tokens-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    screenshot(page, "admin-tokens-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The secret is a bearer token on the exports.
    client = demo_app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/export/chargers.csv", headers=auth).status_code == 200

    # Copied: it leaves the page; loaded again, the page never shows it.
    page.click("#admin-token-hide")
    field.wait_for(state="detached", timeout=10_000)
    page.reload()
    page.wait_for_selector(".admin-tokens-table:has-text('warehouse sync')", timeout=15_000)
    assert secret not in page.content()
    stored = page.evaluate("() => JSON.stringify(Object.assign({}, localStorage, sessionStorage))")
    assert secret not in stored

    # Revoke, after a question; the token then gets 401.
    row = page.locator(".admin-tokens-table tr", has_text="warehouse sync")
    row.get_by_role("button", name=re.compile("Revoke token")).click()
    page.wait_for_selector("#admin-token-revoke-modal:has-text('warehouse sync')")
    page.click("#admin-token-revoke-confirm")
    page.wait_for_selector("#admin-tokens-feedback:has-text('revoked')", timeout=10_000)
    row.get_by_role("button").wait_for(state="detached", timeout=10_000)
    assert "Today" in row.locator("td").last.inner_text()  # when it was revoked
    assert client.get("/export/chargers.csv", headers=auth).status_code == 401


@pytest.mark.parametrize("width", [1280, 390])
def test_each_label_of_the_form_sits_above_its_own_control(browser, base_url, axe_source, width):
    # axe is injected into the page, which the Content-Security-Policy refuses: bypassed here.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
        page.goto(f"{base_url}/admin/tokens")
        name = page.get_by_label("What it is for", exact=True)
        name.wait_for(timeout=15_000)
        assert name.get_attribute("id") == "admin-token-name"
        scopes = page.get_by_role("group", name="What it may do")
        assert scopes.get_by_role("checkbox").count() == 2
        label = page.locator("label[for='admin-token-name']").bounding_box()
        field, group = name.bounding_box(), scopes.bounding_box()
        create = page.locator("#admin-token-create").bounding_box()
        # The label right above its input, then the scopes, then the button: reading order.
        assert 0 <= field["y"] - (label["y"] + label["height"]) < 12
        assert abs(field["x"] - label["x"]) < 2
        assert group["y"] >= field["y"] + field["height"]
        assert create["y"] >= group["y"] + group["height"]
        found = axe_violations(page, axe_source, "#admin-tokens-new")
        assert found == [], "\n".join(describe(f"/admin/tokens at {width} px", found))
        screenshot(page, f"admin-tokens-form-{width}")
    finally:
        context.close()


def test_export_csv_on_the_explorer_downloads_the_view(page, base_url):
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    page.goto(f"{base_url}/admin/sessions")
    wait_for_grid_rows(page, ".admin-sessions-grid", 15_000)
    page.select_option("#admin-sessions-state", "finalized")
    page.click("#admin-sessions-apply")
    link = page.locator("#admin-sessions-export[href*='state=finalized']")
    link.wait_for(timeout=15_000)
    page.wait_for_selector(".admin-sessions-totals:has-text('kWh')", timeout=10_000)
    count = int(
        re.match(r"([\d,]+) sessions?", page.inner_text(".admin-sessions-totals"))
        .group(1)
        .replace(",", "")
    )
    href = link.get_attribute("href")
    assert href.startswith("/export/sessions.csv?from=") and "&to=" in href
    screenshot(page, "admin-sessions-export-1280")

    with page.expect_download() as info:
        link.click()
    download = info.value
    assert re.fullmatch(
        r"sessions-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv", download.suggested_filename
    )
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8"))))
    assert len(rows) == count > 0
    assert {r["finalized"] for r in rows} == {"true"}

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    screenshot(page, "admin-sessions-export-390")
