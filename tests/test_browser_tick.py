"""The refresh tick in headless Chromium: on the dashboard one request a tick (the banner, the
pills and Next reservation together), on any other page the banner's alone; what changes in
the database shows on screen without a reload."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from data.chargers.snapshots import FLEET
from data.core.models import Charger
from data.demo.showcase import DRIVER_EMAIL
from tests.support.browser import DEMO_PASSWORD, screenshot, sign_in_page

pytestmark = pytest.mark.browser
TIMEOUT = 15_000
TICK_OUTPUT = "charger-status-data.data"  # only the dashboard's tick writes the pills' data
BANNER_OUTPUT = (  # the shell's banner callback (the tick's outputs carry allow_duplicate hashes)
    "..active-session-banner.hidden...banner-kwh.children...banner-cost.children"
    "...banner-started.children...banner-charger.children.."
)


def _outputs(page: Any, seconds: float) -> list[str]:
    """The output keys of the server callbacks the page asks for during ``seconds``."""
    asked: list[str] = []

    def record(request: Any) -> None:
        if "/_dash-update-component" in request.url and request.post_data:
            asked.append(json.loads(request.post_data)["output"])

    page.on("request", record)
    page.wait_for_timeout(seconds * 1000)
    page.remove_listener("request", record)
    return asked


def test_one_request_a_tick_on_the_dashboard_and_the_banner_elsewhere(
    page: Any, base_url: str, demo_app: Any
) -> None:
    sign_in_page(page, base_url, DRIVER_EMAIL, DEMO_PASSWORD)
    page.wait_for_selector("#charger-grid .card", timeout=TIMEOUT)
    page.locator("#active-session-banner").wait_for(state="visible", timeout=TIMEOUT)
    page.wait_for_timeout(1500)  # the first view's requests are done
    asked = _outputs(page, 4.5)  # the demo app ticks every second
    ticks = [o for o in asked if TICK_OUTPUT in o]
    assert len(ticks) >= 3, asked
    assert BANNER_OUTPUT not in asked, asked  # the tick drew the banner: no second request
    assert [o for o in asked if "next-reservation" in o and TICK_OUTPUT not in o] == []

    # A pill changes in the database: the tick paints it, no reload.
    page.evaluate("() => { window.__sameDocument = true; }")
    target = _online_charger_on_screen(page)
    with demo_app.extensions["polaris_db"].session() as s:
        s.execute(
            update(Charger)
            .where(Charger.id == target)
            .values(last_seen_at=datetime.now(UTC) - timedelta(days=2))
        )
    FLEET.clear()
    page.wait_for_function(
        """(id) => {
            const key = JSON.stringify({charger: id, type: "charger-status"});
            const el = document.getElementById(key);
            return el && el.innerText.trim() === "Offline";
        }""",
        arg=target,
        timeout=TIMEOUT,
    )
    assert page.evaluate("() => window.__sameDocument") is True
    screenshot(page, "dashboard-tick-charging")

    # Any other page: the banner's own request on each tick, never the dashboard's.
    page.goto(f"{base_url}/sessions")
    page.locator("#active-session-banner").wait_for(state="visible", timeout=TIMEOUT)
    page.wait_for_timeout(1500)
    asked = _outputs(page, 3.5)
    assert asked.count(BANNER_OUTPUT) >= 2, asked
    assert not [o for o in asked if TICK_OUTPUT in o], asked
    assert re.search(r"\d+\.\d kWh", page.inner_text("#banner-kwh"))


def _online_charger_on_screen(page: Any) -> str:
    """The first charger on screen whose pill says Online (the driver's own says In use)."""
    return str(
        page.evaluate(
            """() => {
                for (const el of document.querySelectorAll("[id*='charger-status']")) {
                    if (el.innerText.trim() === "Online") return JSON.parse(el.id).charger;
                }
                return null;
            }"""
        )
    )
