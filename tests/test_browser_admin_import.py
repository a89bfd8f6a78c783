"""The operator imports a folder from the browser: upload, read the check, apply, see the result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from data.core.models import Account, Charger, Plan, Role
from data.demo.showcase import OPERATOR_EMAIL
from tests.support.browser import DEMO_PASSWORD, live_server, screenshot, sign_in_page
from tests.support.web import AppFactory

pytestmark = pytest.mark.browser
TIMEOUT = 20_000
UPLOAD_INPUT = "#admin-import-upload input[type=file]"


@pytest.fixture(scope="module")
def import_app(tmp_path_factory: pytest.TempPathFactory, module_app_factory: AppFactory) -> Flask:
    """The demo on its own SQLite copy, with uploads kept in a temporary folder."""
    uploads = tmp_path_factory.mktemp("browser-import") / "imports"
    return module_app_factory(demo=True, IMPORT_UPLOAD_FOLDER=str(uploads))


@pytest.fixture(scope="module")
def import_url(import_app: Flask) -> Iterator[str]:
    with live_server(import_app) as url:
        yield url


def first_charger(app: Flask) -> tuple[str, str]:
    with app.extensions["polaris_db"].session() as s:
        row = s.execute(select(Charger.id, Charger.friendly_name).order_by(Charger.id)).first()
    assert row is not None
    return row[0], row[1]


def write_folder(folder: Path, charger_id: str, *, bad: bool) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plans.csv").write_text(
        "plan_id,name,allowance_kwh,currency\nplan-imported,Imported plan,250,EUR\n"
    )
    connector = "Tesla" if bad else "CCS"
    (folder / "chargers.csv").write_text(
        "charger_id,friendly_name,connector_type,max_power_kw,visibility,last_seen_at\n"
        f"ch-imported-1,Imported Bay,{connector},150,public,\n"
        f"{charger_id},Renamed by import,CCS,50,public,\n"
    )
    return [str(folder / "plans.csv"), str(folder / "chargers.csv")]


def shoot(page: Any, name: str) -> None:
    """The page at 1280 px and at 390 px (a phone), then back to 1280."""
    screenshot(page, f"admin-import-{name}-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    screenshot(page, f"admin-import-{name}-390")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_operator_uploads_checks_and_applies(
    browser: Any, import_app: Flask, import_url: str, tmp_path: Path
) -> None:
    charger_id, _ = first_charger(import_app)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in_page(page, import_url, OPERATOR_EMAIL, DEMO_PASSWORD)
        page.goto(f"{import_url}/admin")
        page.get_by_role("link", name="Import").click()
        page.wait_for_url(f"{import_url}/admin/import", timeout=TIMEOUT)
        expect(page.locator("#admin-import-empty")).to_be_visible(timeout=TIMEOUT)
        expect(page.locator("#admin-import-limits")).to_contain_text("16 MB")
        expect(page.locator("#admin-import-apply")).to_be_disabled()
        shoot(page, "empty")

        # A folder with a mistake: the error names file, line and column; Apply stays off.
        page.set_input_files(UPLOAD_INPUT, write_folder(tmp_path / "bad", charger_id, bad=True))
        errors = page.locator("#admin-import-errors")
        expect(errors).to_contain_text("chargers.csv:2: connector_type", timeout=TIMEOUT)
        expect(errors).to_contain_text("'Tesla' is not one of")
        expect(page.locator("#admin-import-apply")).to_be_disabled()
        shoot(page, "errors")

        page.get_by_role("button", name="Start over").click()
        expect(page.locator("#admin-import-empty")).to_be_visible(timeout=TIMEOUT)

        # The fixed folder: two rows to add, one to update, and Apply.
        page.set_input_files(UPLOAD_INPUT, write_folder(tmp_path / "good", charger_id, bad=False))
        line = page.locator("#admin-import-summary-line")
        expect(line).to_contain_text(
            "Checked 2 CSV files: 2 rows to add, 1 to update, 0 unchanged", timeout=TIMEOUT
        )
        apply = page.locator("#admin-import-apply")
        expect(apply).to_be_enabled()
        shoot(page, "ready")
        with import_app.extensions["polaris_db"].session() as s:
            assert s.get(Charger, "ch-imported-1") is None  # the check wrote nothing

        apply.click()
        done = page.locator("#admin-import-applied-line")
        expect(done).to_contain_text("2 rows added, 1 updated, 0 unchanged", timeout=TIMEOUT)
        expect(done).to_contain_text("Exactly what the check said")
        expect(apply).to_be_disabled()
        shoot(page, "applied")
        with import_app.extensions["polaris_db"].session() as s:
            assert s.get(Charger, "ch-imported-1") is not None
            assert s.get(Charger, charger_id).friendly_name == "Renamed by import"  # type: ignore[union-attr]
            assert s.get(Plan, "plan-imported") is not None
    finally:
        context.close()


def test_several_megabytes_work_and_too_many_are_refused_plainly(
    browser: Any, import_app: Flask, import_url: str, tmp_path: Path
) -> None:
    """Through the real renderer and HTTP server: a 17 MB file is refused with the limit named,
    a folder holding a 6 MB sessions.csv is checked, and nothing is kept."""
    charger_id, _ = first_charger(import_app)
    with import_app.extensions["polaris_db"].session() as s:
        account_id = s.scalars(
            select(Account.id).where(Account.role == Role.customer).order_by(Account.id)
        ).first()
    big = tmp_path / "ok" / "sessions.csv"
    big.parent.mkdir()
    header = "session_id,account_id,charger_id,started_at,ended_at,energy_kwh,finalized\n"
    row = f"{account_id},{charger_id},2026-01-02T03:04:05Z,2026-01-02T04:04:05Z,12.5,true\n"
    count = 6 * 1024 * 1024 // (len(row) + 12)
    with big.open("w") as fh:
        fh.write(header)
        fh.writelines(f"s-bulk-{i:07d},{row}" for i in range(count))
    too_big = tmp_path / "big" / "sessions.csv"
    too_big.parent.mkdir()
    too_big.write_bytes(header.encode() + b"x" * (17 * 1024 * 1024))

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in_page(page, import_url, OPERATOR_EMAIL, DEMO_PASSWORD)
        page.goto(f"{import_url}/admin/import")
        page.set_input_files(UPLOAD_INPUT, [str(too_big)])
        message = page.locator("#admin-import-refused")
        expect(message).to_contain_text("the limit is 16.0 MB", timeout=60_000)
        expect(page.locator("#admin-import-apply")).to_be_disabled()
        # "Choose a folder": the browser sends the folder's files (webkitdirectory).
        page.set_input_files("#admin-import-folder input[type=file]", str(big.parent))
        expect(page.locator("#admin-import-summary-line")).to_contain_text(
            f"Checked 1 CSV file: {count:,} rows to add", timeout=120_000
        )
        expect(page.locator("#admin-import-apply")).to_be_enabled()
        page.get_by_role("button", name="Start over").click()
        expect(page.locator("#admin-import-empty")).to_be_visible(timeout=TIMEOUT)
    finally:
        context.close()
    uploads = Path(import_app.config["IMPORT_UPLOAD_FOLDER"])
    assert not any(uploads.iterdir())  # the refused file never landed; start over deleted the other
