"""End to end (issue 18): a driver in headless Chromium opens My account from the menu, names a
card, blocks another (confirming the dialog), and the simulated charger's Authorize for it is
then answered Blocked by the real OCPP server; they change their password, stay signed in here
while their session on a phone is signed out. Axe finds no serious violation on /account at
1280 and 390 px; screenshots of both widths."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from central.server import CentralSystem
from central.simulator import connect_charger
from data.accounts.passwords import verify_password
from data.core.models import IdTag, Role, User
from tests.support.axe import axe_violations, describe
from tests.support.browser import by_id, live_server, screenshot, sign_in_page
from tests.support.central import run_central
from tests.support.factories import make_charger, make_id_tag, make_operator
from tests.support.web import PASSWORD, AppFactory, add_person

pytestmark = pytest.mark.browser

DRIVER = "erin@example.com"
ACCOUNT = "acc-erin"
KEPT, LOST = "ERIN-KEYRING", "ERIN-WALLET"
NEW_PASSWORD = "an entirely new password"
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def account_app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(REFRESH_INTERVAL_MS=60_000)
    add_person(app, DRIVER, (ACCOUNT, Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_charger(s, charger_id="C1", friendly_name="Marktplatz 1")
        make_id_tag(s, ACCOUNT, id_tag=KEPT)
        make_id_tag(s, ACCOUNT, id_tag=LOST)
    return app


@pytest.fixture(scope="module")
def url(account_app: Flask) -> Iterator[str]:
    with live_server(account_app) as base:
        yield base


def card_input(tag: str) -> str:
    return by_id('{"card":"' + tag + '","type":"account-card-name"}')


def card_item(tag: str) -> str:
    return f"li.account-card[data-card='{tag}']"


def authorize(app: Flask, tag: str) -> str:
    """What the OCPP server answers a simulated charger's Authorize for ``tag``."""
    answered: list[str] = []

    async def scenario(_central: CentralSystem, ws_url: str) -> None:
        async with connect_charger(ws_url, "C1") as charger:
            await charger.boot()
            answered.append(await charger.authorize(tag))

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run_central, app.extensions["polaris_db"], scenario).result(timeout=60)
    return answered[0]


def test_a_driver_names_and_blocks_a_card_and_changes_the_password(
    browser: Any, account_app: Flask, url: str, axe_source: Path
) -> None:
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    try:
        page, mobile = desk.new_page(), phone.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # Block's confirmation
        sign_in_page(page, url, DRIVER, PASSWORD, wait_for_idle=False)
        sign_in_page(mobile, url, DRIVER, PASSWORD, wait_for_idle=False)

        # My account, from the account menu.
        page.click("#account-menu .dropdown-toggle")
        page.click("#account-menu a[href='/account']")
        page.wait_for_url(f"{url}/account")
        page.locator(card_item(LOST)).wait_for(timeout=WAIT_MS)
        # The name comes in an answer of its own (the profile's), not with the cards.
        expect(page.locator("#account-display-name")).to_have_value("Erin", timeout=WAIT_MS)
        problems = describe("/account at 1280 px", axe_violations(page, axe_source))

        page.fill(card_input(KEPT), "Blue keyring")
        page.locator(card_item(KEPT)).get_by_role("button", name="Save name").click()
        page.locator("#account-cards-feedback", has_text="Blue keyring").wait_for(timeout=WAIT_MS)

        assert authorize(account_app, LOST) == "Accepted"
        page.locator(card_item(LOST)).get_by_role("button", name="Block").click()
        page.locator(f"{card_item(LOST)} .account-card-blocked").wait_for(timeout=WAIT_MS)
        blocked_text = page.locator(f"{card_item(LOST)} .account-card-blocked").inner_text()
        assert blocked_text.startswith("Blocked since ")
        assert blocked_text.endswith("ask the operator to unblock.")
        assert page.locator(f"{card_item(LOST)} button").count() == 1  # Save name; no Block
        assert authorize(account_app, LOST) == "Blocked"
        assert authorize(account_app, KEPT) == "Accepted"
        with account_app.extensions["polaris_db"].session() as s:
            kept = s.get(IdTag, KEPT)
            assert kept is not None and kept.name == "Blue keyring"
        screenshot(page, "account-1280")

        mobile.goto(f"{url}/account")
        mobile.locator(f"{card_item(LOST)} .account-card-blocked").wait_for(timeout=WAIT_MS)
        problems += describe("/account at 390 px", axe_violations(mobile, axe_source))
        screenshot(mobile, "account-390")
        assert not problems, "\n".join(problems)

        # A wrong current password: nothing changes.
        page.fill("#account-password-current", "not my password")
        page.fill("#account-password-new", NEW_PASSWORD)
        page.click("#account-password-save")
        page.locator("#account-password-current-error", has_text="not your current").wait_for(
            timeout=WAIT_MS
        )
        page.fill("#account-password-current", PASSWORD)
        page.fill("#account-password-new", NEW_PASSWORD)
        page.click("#account-password-save")
        page.locator("#account-password-feedback", has_text="this one stays").wait_for(
            timeout=WAIT_MS
        )
        with account_app.extensions["polaris_db"].session() as s:
            user = s.query(User).filter_by(email=DRIVER).one()
            assert verify_password(user.password_hash, NEW_PASSWORD)
        # This session stays; the phone's is signed out.
        page.reload()
        page.locator(card_item(KEPT)).wait_for(timeout=WAIT_MS)
        assert page.url == f"{url}/account"
        mobile.goto(f"{url}/account")
        mobile.wait_for_url(lambda u: "/login" in u, timeout=WAIT_MS)
    finally:
        desk.close()
        phone.close()
