"""What a driver sees, in headless Chromium against a live app with the demo data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from data.demo import load_demo
from tests.browser import CHROMIUM, CHROMIUM_ARGS, live_server, sign_in_page
from tests.conftest import skip_or_fail
from tests.web import make_app

pytestmark = pytest.mark.browser
DEMO_PASSWORD = "demo-password"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path):
    path = tmp_path_factory.mktemp("browser") / "demo.db"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}", REFRESH_INTERVAL_MS=1000)
    with app.extensions["polaris_db"].session() as s:
        load_demo(s, datetime.now(UTC))
    return app


@pytest.fixture(scope="module")
def base_url(demo_app) -> Iterator[str]:
    with live_server(demo_app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def test_demo_driver_signs_in_and_lands_on_the_dashboard(page, base_url):
    sign_in_page(page, base_url, "driver@polaris.example", DEMO_PASSWORD)
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
