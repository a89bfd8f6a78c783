"""A driver's receipt and monthly statement in headless Chromium, on the demo: drawn at 1280 and
390 px without the page scrolling sideways, no serious accessibility violation on the receipt,
printed as the document alone (no navbar, no buttons, black on white), and the PDF download
carrying the total the page shows. Screenshots land in ``screenshots/`` (receipt-*, statement-*).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from data.core.models import ChargingSession
from data.demo.showcase import DRIVER_ACCOUNT_ID, DRIVER_EMAIL
from tests.support.axe import axe_violations, describe
from tests.support.browser import DEMO_PASSWORD, SCREENSHOTS, screenshot, sign_in_page

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
TOTAL = ".doc-costs .doc-total .doc-amount"


@pytest.fixture(scope="module")
def session_id(demo_app: Flask) -> str:
    """Dana's latest finished session that a tariff priced."""
    s_ = ChargingSession
    with demo_app.extensions["polaris_db"].session() as s:
        found = s.scalars(
            select(s_.id)
            .where(s_.account_id == DRIVER_ACCOUNT_ID, s_.cost_total.is_not(None))
            .order_by(s_.started_at.desc())
            .limit(1)
        ).one()
    return found


def _driver_page(browser: Any, base_url: str, width: int) -> Any:
    # axe is injected, which the Content-Security-Policy refuses: this context alone bypasses it.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD, wait_for_idle=False)
    return page


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


def _printed_alone(page: Any, document: str) -> None:
    page.emulate_media(media="print")
    assert not page.locator(".navbar").is_visible()
    assert not page.locator(".document-actions").is_visible()
    assert page.locator(document).is_visible()
    colours = page.evaluate(
        """(selector) => {
          const doc = document.querySelector(selector);
          const body = getComputedStyle(document.body).backgroundColor;
          const texts = [...doc.querySelectorAll('*')].map((e) => getComputedStyle(e).color);
          return {body, texts: [...new Set(texts)]};
        }""",
        document,
    )
    assert colours["body"] in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), colours
    assert colours["texts"] == ["rgb(0, 0, 0)"], colours
    # No frame around the document on paper: the page's own edge is enough.
    frame = page.evaluate(
        "(s) => getComputedStyle(document.querySelector(s)).borderTopWidth", document
    )
    assert frame == "0px"


@pytest.mark.parametrize("width", [1280, 390])
def test_the_receipt_on_screen_on_paper_and_as_pdf(
    browser: Any, base_url: str, session_id: str, axe_source: Path, width: int
) -> None:
    page = _driver_page(browser, base_url, width)
    page.goto(f"{base_url}/receipts/{session_id}")
    page.wait_for_selector(TOTAL, timeout=TIMEOUT)
    total = page.inner_text(TOTAL).strip()
    assert total.startswith("€")
    assert page.inner_text(".receipt-doc h1") == "Receipt"
    _no_sideways_scroll(page)
    screenshot(page, f"receipt-{width}")
    assert not (found := axe_violations(page, axe_source)), "\n".join(describe("receipt", found))

    _printed_alone(page, ".receipt-doc")
    screenshot(page, f"receipt-{width}-print")
    page.emulate_media(media="screen")

    href = page.get_attribute(".document-actions a[href$='.pdf']", "href")
    assert href == f"/receipts/{session_id}.pdf"
    response = page.request.get(base_url + href)  # the page's cookies: the signed-in driver
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    assert pdf.startswith(b"%PDF-")
    (SCREENSHOTS / f"receipt-{width}.pdf").write_bytes(pdf)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert total in text and session_id in text
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_statement_from_the_account_menu(
    browser: Any, base_url: str, axe_source: Path, width: int
) -> None:
    page = _driver_page(browser, base_url, width)
    page.wait_for_selector("#account-menu .dropdown-toggle", timeout=TIMEOUT)
    page.click("#account-menu .dropdown-toggle")
    page.click("#account-menu a:has-text('Statements')")
    page.wait_for_url(lambda url: "/statements/" in url, timeout=TIMEOUT)
    page.wait_for_selector(".statement-doc .doc-summary", timeout=TIMEOUT)
    # The driver charged last month: its statement has sessions and a total.
    page.click(".document-actions a:has-text('‹')")
    page.wait_for_selector(".statement-doc .doc-lines tbody tr", timeout=TIMEOUT)
    assert page.locator(".doc-lines .doc-total").first.inner_text().startswith("Total")
    _no_sideways_scroll(page)
    screenshot(page, f"statement-{width}")
    assert not (found := axe_violations(page, axe_source)), "\n".join(describe("statement", found))
    _printed_alone(page, ".statement-doc")
    screenshot(page, f"statement-{width}-print")
    page.context.close()
