"""The operator reads the fleet's uptime, one charger's months and outages, filters the outage
list and edits outages, in headless Chromium, against the demo's own year of outages."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from data.charging.dashboard import operator_settings
from data.demo.showcase import FAULTED_CHARGER_ID, LOW_UPTIME_CHARGER_IDS, OPERATOR_EMAIL
from data.exchange.nevi import last_full_quarter, quarter_of
from data.uptime.outages import Outage
from tests.support.browser import (
    DEMO_PASSWORD,
    pick_dropdown,
    screenshot,
    sign_in_page,
    wait_for_grid_rows,
)

pytestmark = pytest.mark.browser
TIMEOUT = 15_000
SLOW = 45_000  # callbacks in a chain, on a machine other test runs keep busy


@pytest.fixture
def operator_page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    yield page
    context.close()


def _breakdowns(app: Flask, charger_id: str) -> list[tuple[str, str]]:
    """The charger's outages of a week or more (the demo's breakdowns): id and stored note."""
    with app.extensions["polaris_db"].session() as s:
        return [
            (o.id, o.note or "")
            for o in s.scalars(select(Outage).where(Outage.charger_id == charger_id))
            if o.ended_at is not None and o.ended_at - o.started_at >= timedelta(days=7)
        ]


def test_uptime_page_figures_timeline_and_edit(
    operator_page: Any, base_url: str, demo_app: Flask
) -> None:
    page = operator_page
    page.goto(f"{base_url}/admin")
    page.get_by_role("link", name="Uptime").click()
    page.wait_for_url(f"{base_url}/admin/uptime", timeout=TIMEOUT)
    expect(page.locator("#admin-uptime-below")).to_contain_text("2 of", timeout=TIMEOUT)
    wait_for_grid_rows(page, "#admin-uptime-standings")
    rows = "#admin-uptime-standings .ag-center-cols-container .ag-row"
    expect(page.locator(f"{rows}.uptime-below")).to_have_count(2)
    lowest = page.locator(f'{rows}[row-index="0"]').get_attribute("row-id")
    assert lowest in LOW_UPTIME_CHARGER_IDS
    expect(page.locator("#admin-uptime-count")).to_contain_text("60 chargers")
    expect(page.locator("#admin-uptime-rule")).to_contain_text("× 3%")
    # The lowest charger is chosen: its months, and its breakdowns among its timeline's bars.
    expect(page.locator("#admin-uptime-months tbody tr")).to_have_count(12, timeout=TIMEOUT)
    expect(page.locator("#admin-uptime-timeline .bars .point").first).to_be_visible(timeout=TIMEOUT)
    # The charger dropdown shows the lowest, and lists nothing else until someone types.
    expect(page.locator("#admin-uptime-charger")).to_contain_text(lowest, timeout=TIMEOUT)
    screenshot(page, "admin-uptime-1280")
    # Choose another charger by typing part of its id: its months replace the lowest's.
    pick_dropdown(page, "admin-uptime-charger", FAULTED_CHARGER_ID)
    expect(page.locator("#admin-uptime-charger")).to_contain_text(FAULTED_CHARGER_ID)
    expect(page.locator("#admin-uptime-months tbody tr")).to_have_count(12, timeout=TIMEOUT)
    screenshot(page, "admin-uptime-1280-chosen")

    # Open ones: the faulted charger's and the two silent chargers'; the CSV link follows.
    page.select_option("#admin-uptime-filter-state", "open")
    expect(page.locator("#admin-uptime-outages tbody tr")).to_have_count(3, timeout=TIMEOUT)
    expect(page.locator("#admin-uptime-outages")).to_contain_text("Ongoing")
    pick_dropdown(page, "admin-uptime-filter-charger", FAULTED_CHARGER_ID)
    expect(page.locator("#admin-uptime-outages tbody tr")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("#admin-uptime-outages-csv")).to_have_attribute(
        "href", f"/export/outages.csv?charger={FAULTED_CHARGER_ID}&status=open", timeout=TIMEOUT
    )

    # Exclude the lowest charger's two breakdowns (the spare part was the maker's recall, say):
    # it is no longer below 97%.
    page.select_option("#admin-uptime-filter-state", "all")
    pick_dropdown(page, "admin-uptime-filter-charger", lowest)
    breakdowns = _breakdowns(demo_app, lowest)
    assert len(breakdowns) == 2
    for n, (outage_id, stored_note) in enumerate(breakdowns, start=1):
        note = f"Maker's recall of the power module, case {n}"
        expect(
            page.locator(f"#admin-uptime-edit-outage option[value='{outage_id}']")
        ).to_have_count(1, timeout=TIMEOUT)
        page.select_option("#admin-uptime-edit-outage", outage_id)
        # The form shows this outage's own values (not the previous one's, still on screen
        # until the server answers) before anything is changed in it.
        expect(page.locator("#admin-uptime-edit-cause")).to_have_value(
            "maintenance", timeout=TIMEOUT
        )
        expect(page.locator("#admin-uptime-edit-note")).to_have_value(stored_note, timeout=TIMEOUT)
        expect(page.locator("#admin-uptime-edit-excluded")).not_to_be_checked(timeout=TIMEOUT)
        expect(page.locator("#admin-uptime-edit-result")).to_have_text("", timeout=TIMEOUT)
        page.check("#admin-uptime-edit-excluded")
        page.fill("#admin-uptime-edit-note", note)
        page.click("#admin-uptime-edit-save")
        expect(page.locator("#admin-uptime-edit-result")).to_contain_text("Saved", timeout=TIMEOUT)
        expect(page.locator("#admin-uptime-outages")).to_contain_text(note, timeout=TIMEOUT)
    expect(page.locator("#admin-uptime-below")).to_contain_text("1 of", timeout=TIMEOUT)
    with demo_app.extensions["polaris_db"].session() as s:
        outage = s.get(Outage, breakdowns[-1][0])
        assert outage is not None and outage.excluded is True
        assert outage.note == "Maker's recall of the power module, case 2"


def test_uptime_page_on_a_phone(browser: Any, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in_page(page, base_url, OPERATOR_EMAIL, DEMO_PASSWORD)
    page.goto(f"{base_url}/admin/uptime")
    wait_for_grid_rows(page, "#admin-uptime-standings")
    pick_dropdown(page, "admin-uptime-charger", FAULTED_CHARGER_ID)
    expect(page.locator("#admin-uptime-charger")).to_contain_text(FAULTED_CHARGER_ID)
    expect(page.locator("#admin-uptime-timeline .bars .point").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#admin-uptime-filter-cause")).to_have_value("*")
    # The fleet's grid scrolls in its own box; the rule under it is not drawn over it.
    box = page.locator(".uptime-standings").bounding_box()
    rule = page.locator("#admin-uptime-rule").bounding_box()
    assert box is not None and rule is not None
    assert box["height"] <= 28 * 16 + 1 and rule["y"] >= box["y"] + box["height"]
    expect(page.locator("#admin-uptime-outages tbody tr").first).to_be_visible(timeout=TIMEOUT)
    # Nothing wider than the screen: wide tables scroll in their own boxes.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "admin-uptime-390")
    page.locator("#admin-uptime-fleet").screenshot(path="screenshots/admin-uptime-390-fleet.png")
    context.close()


def test_nevi_report_picker_and_download(
    operator_page: Any, base_url: str, demo_app: Flask, tmp_path: Path
) -> None:
    """The quarter picker starts on the last full quarter; a quarter not begun has no download
    and says why; the button downloads the chosen quarter's ZIP."""
    page = operator_page
    with demo_app.extensions["polaris_db"].session() as s:
        tz = operator_settings(s).tz
    now = datetime.now(UTC)
    due = last_full_quarter(now, tz)
    page.goto(f"{base_url}/admin/uptime")
    button = page.locator("#admin-uptime-nevi-download")
    # The first answer waits for the page and its callbacks: slow on a busy machine.
    expect(page.locator("#admin-uptime-nevi-year")).to_have_value(str(due.year), timeout=SLOW)
    expect(page.locator("#admin-uptime-nevi-quarter")).to_have_value(str(due.number), timeout=SLOW)
    due_href = f"/export/nevi-report.zip?year={due.year}&quarter={due.number}"
    expect(button).to_have_attribute("href", due_href, timeout=SLOW)
    screenshot(page, "admin-uptime-nevi-1280")

    # The quarter after this one has not begun (next year's first when this is the fourth).
    this = quarter_of(now, tz)
    if this.number == 4:
        page.select_option("#admin-uptime-nevi-year", str(this.year))
        page.select_option("#admin-uptime-nevi-quarter", "4")
        expect(button).to_have_attribute("href", re.compile(r"quarter=4$"), timeout=SLOW)
    else:
        page.select_option("#admin-uptime-nevi-year", str(this.year))
        page.select_option("#admin-uptime-nevi-quarter", str(this.number + 1))
        expect(page.locator("#admin-uptime-nevi-note")).to_contain_text(
            "has not begun", timeout=SLOW
        )
        expect(button).to_have_class(re.compile(r"\bdisabled\b"), timeout=SLOW)

    page.select_option("#admin-uptime-nevi-year", str(due.year))
    page.select_option("#admin-uptime-nevi-quarter", str(due.number))
    expect(button).to_have_attribute("href", due_href, timeout=SLOW)
    expect(button).not_to_have_class(re.compile(r"\bdisabled\b"))
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == f"nevi-report-{due.key}.zip"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "README.txt", "outages.csv", "sessions.csv", "uptime_by_month.csv",
        ]  # fmt: skip
        uptime = archive.read("uptime_by_month.csv").decode()
    assert uptime.startswith("charger_id,month,minutes,")
    assert len(uptime.splitlines()) > 3  # the demo's chargers, three months each
