"""End to end in headless Chromium, on the demo: Dana opens "Report a problem" on a charger
card, the dialog takes focus and is labelled (axe finds nothing serious), she reports "Cable
damaged" and sees the confirmation with its reference; on a phone the card and the dialog fit.
The operator then finds the report, Open, on the charger's page and acknowledges it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from components.dashboard import REPORT_OUTCOME_ID, REPORT_TYPE
from data.demo.showcase import DRIVER_EMAIL, DRIVER_OFFICE_CHARGER_ID, OPERATOR_EMAIL
from tests.support.axe import axe_violations, describe
from tests.support.browser import (
    DEMO_PASSWORD,
    SCREENSHOTS,
    by_id,
    card_id,
    screenshot,
    show_all_chargers,
    sign_in_page,
)

pytestmark = pytest.mark.browser
TIMEOUT = 15_000
CHARGER = DRIVER_OFFICE_CHARGER_ID


def signed_in(browser: Any, base_url: str, email: str, width: int) -> Iterator[Any]:
    # bypass_csp: axe is added as a script tag (the app's CSP rightly refuses it).
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in_page(page, base_url, email, DEMO_PASSWORD, wait_for_idle=False)
    yield page
    context.close()


@pytest.fixture
def dana(browser: Any, base_url: str) -> Iterator[Any]:
    yield from signed_in(browser, base_url, DRIVER_EMAIL, 1280)


@pytest.fixture
def dana_phone(browser: Any, base_url: str) -> Iterator[Any]:
    yield from signed_in(browser, base_url, DRIVER_EMAIL, 390)


@pytest.fixture
def operator(browser: Any, base_url: str) -> Iterator[Any]:
    yield from signed_in(browser, base_url, OPERATOR_EMAIL, 1280)


def open_dialog(page: Any, base_url: str) -> Any:
    page.goto(f"{base_url}/")
    show_all_chargers(page, TIMEOUT)  # a phone lists the favourites until then
    button = page.locator(by_id(card_id(CHARGER, REPORT_TYPE)))
    expect(button).to_be_visible(timeout=TIMEOUT)
    expect(button).to_have_accessible_name(re.compile(r"^Report a problem: "))
    button.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=TIMEOUT)
    expect(dialog.get_by_role("heading", level=2)).to_contain_text("Report a problem with")
    # Bootstrap fades the dialog in: screenshots wait for its end (transitionend on .modal).
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.modal')).opacity === '1'"
        " && getComputedStyle(document.querySelector('.modal-dialog')).transform === 'none'"
    )
    return dialog


def test_a_driver_reports_a_damaged_cable_and_the_operator_sees_it(
    dana: Any, dana_phone: Any, operator: Any, base_url: str, axe_source: Path
) -> None:
    page = dana
    dialog = open_dialog(page, base_url)
    # Focus moved into the dialog; every control has its label.
    assert page.evaluate("() => document.querySelector('.modal').contains(document.activeElement)")
    expect(dialog.get_by_role("group", name="What is wrong?")).to_be_visible()
    expect(dialog.get_by_label(re.compile("^Tell us more"))).to_be_visible()
    problems = describe("report dialog", axe_violations(page, axe_source, ".modal"))
    assert not problems, "\n".join(problems)
    dialog.get_by_label("Cable damaged").check()
    dialog.get_by_role("button", name="Send report").click()
    outcome = page.locator(f"#{REPORT_OUTCOME_ID}")
    expect(outcome).to_contain_text("Thanks — report I-", timeout=TIMEOUT)
    expect(outcome).to_contain_text("our team will look at ")
    expect(outcome).to_contain_text(f"({CHARGER})")
    expect(dialog.get_by_role("button", name="Send report")).to_be_disabled()
    reference = re.search(r"I-\d{4}", outcome.inner_text())
    assert reference is not None
    screenshot(page, "report-problem-dialog-1280")
    page.locator("#report-problem-close").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT)
    # Focus goes back to the card's button it came from.
    expect(page.locator(by_id(card_id(CHARGER, REPORT_TYPE)))).to_be_focused()
    screenshot(page, "report-problem-dashboard-1280")

    # On a phone: the card's button and the dialog fit the screen.
    phone_dialog = open_dialog(dana_phone, base_url)
    box = phone_dialog.locator(".modal-content").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    # The dialog is fixed in the viewport: a full-page shot would show it far down a long page.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    dana_phone.screenshot(path=str(SCREENSHOTS / "report-problem-dialog-390.png"))

    # The operator: the report on the charger's page, Open, then acknowledged.
    operator.goto(f"{base_url}/admin/chargers/{CHARGER}")
    listed = operator.locator("#admin-charger-incidents")
    row = listed.locator("tr", has_text=reference.group(0))
    expect(row).to_contain_text("Cable damaged", timeout=TIMEOUT)
    expect(row).to_contain_text("Open")
    screenshot(operator, "report-problem-admin-charger-1280")
    row.get_by_role("button", name=f"Acknowledge {reference.group(0)}").click()
    expect(listed.locator("tr", has_text=reference.group(0))).to_contain_text(
        "Acknowledged", timeout=TIMEOUT
    )
    expect(operator.locator("#admin-charger-incidents-feedback")).to_contain_text(
        f"{reference.group(0)} is now acknowledged"
    )
    operator.set_viewport_size({"width": 390, "height": 900})
    screenshot(operator, "report-problem-admin-charger-390")
