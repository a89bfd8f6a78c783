"""Import from the admin UI: the dry run is the real import rolled back (its counts are what the
import does), and the page's callbacks check, apply and start over; SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import data.exchange.importer as importer
from data.core.db import Database
from data.core.models import Charger, Role, User
from data.exchange.importer import broken_rule, import_folder
from data.exchange.validation import ExchangeError
from tests.support.audit import AT, CLI
from tests.support.callbacks import post
from tests.support.databases import truncate_postgres
from tests.support.exchange import (
    SAMPLE,
    SAMPLE_ROWS,
    copy_sample,
    run_export,
    run_import,
    set_cell,
    table_counts,
)
from tests.support.import_page import answer, button_body, check_body, data_url, folder_upload
from tests.support.web import AppFactory, add_person, client_for, make_app

EMPTY = dict.fromkeys(
    (
        "tariffs",
        "operator",
        "plans",
        "users",
        "accounts",
        "chargers",
        "charger_access",
        "sessions",
        "id_tags",
        "reservations",
        "outages",
    ),
    0,
)
SAMPLE_TOTAL = sum(SAMPLE_ROWS.values())  # 44

# Still argon2id and verifiable, but cheap: these tests are not about hashing cost.
pytestmark = pytest.mark.usefixtures("fast_hashing")


def dry_run(db: Database, folder: Path) -> importer.ImportReport:
    with db.session() as s:
        return import_folder(s, folder, dry_run=True, actor=CLI, now=AT)


def counts(report: importer.ImportReport) -> dict[str, tuple[int, int, int]]:
    return {n: (c.added, c.updated, c.unchanged) for n, c in report.files.items()}


def exported(db: Database, folder: Path) -> dict[str, bytes]:
    run_export(db, folder)
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


# --- The dry run in data.exchange.importer --------------------------------------------------------


def test_dry_run_counts_what_the_import_then_does(db: Database) -> None:
    check = dry_run(db, SAMPLE)
    assert check.dry_run
    assert {n: c.added for n, c in check.files.items()} == SAMPLE_ROWS
    assert check.updated == 0 and check.unchanged == 0
    assert table_counts(db) == EMPTY  # nothing written
    assert check.lines()[0] == "tariffs.csv: 3 to add, 0 to update, 0 unchanged"

    applied = run_import(db, SAMPLE)
    assert not applied.dry_run
    assert counts(applied) == counts(check)

    again = dry_run(db, SAMPLE)  # a re-import of the same data: all unchanged
    assert again.added == 0 and again.updated == 0 and again.unchanged == SAMPLE_TOTAL


def test_dry_run_of_changes_matches_the_import_and_writes_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny batches: PostgreSQL's COPY into a temporary table and UPDATE ... FROM, several times.
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    monkeypatch.setattr(importer, "IN_LOOKUP_LIMIT", 3)
    run_import(db, SAMPLE)
    before = exported(db, tmp_path / "before")
    with db.session() as s:
        hashes = dict(s.execute(select(User.email, User.password_hash)).all())
    folder = copy_sample(tmp_path)
    for sid, kwh in (("s-0001", "1"), ("s-0002", "2"), ("s-0003", "3.001")):
        set_cell(folder, "sessions.csv", sid, "energy_kwh", kwh)
    set_cell(folder, "chargers.csv", "ch-nacs-1", "visibility", "restricted")
    set_cell(folder, "users.csv", "ben@example.com", "password", "new-secret-99")
    with (folder / "plans.csv").open("a") as fh:
        fh.write("plan-new,New plan,10,EUR,\n")

    check = dry_run(db, folder)

    assert check.files["sessions.csv"].updated == 3 and check.files["sessions.csv"].unchanged == 9
    assert (check.files["chargers.csv"].updated, check.files["users.csv"].updated) == (1, 1)
    assert check.files["plans.csv"].added == 1
    assert exported(db, tmp_path / "after-check") == before  # not one byte written
    with db.session() as s:  # not even the new password's hash
        assert dict(s.execute(select(User.email, User.password_hash)).all()) == hashes

    applied = run_import(db, folder)
    assert counts(applied) == counts(check)
    assert exported(db, tmp_path / "after-import") != before


def test_dry_run_errors_name_file_line_and_column(db: Database, tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    set_cell(folder, "chargers.csv", "ch-ccs-1", "connector_type", "Tesla")
    set_cell(folder, "sessions.csv", "s-0004", "energy_kwh", "-3")
    with pytest.raises(ExchangeError) as excinfo:
        dry_run(db, folder)
    found = {(e.file, e.column) for e in excinfo.value.errors}
    assert {("chargers.csv", "connector_type"), ("sessions.csv", "energy_kwh")} <= found
    assert all(e.line > 1 for e in excinfo.value.errors)
    assert table_counts(db) == EMPTY


def test_a_database_rule_shows_in_the_dry_run(postgres_database_url: str, tmp_path: Path) -> None:
    """Only PostgreSQL checks that two holding reservations do not overlap: the dry run writes,
    so it meets the rule, and still nothing stays written."""
    db = Database(postgres_database_url)
    try:
        truncate_postgres(db)
        folder = copy_sample(tmp_path)
        with (folder / "reservations.csv").open("a") as fh:
            fh.write(
                "r-0006,acc-ben,ch-ccs-1,2026-11-26T08:00:00+01:00,"
                "2026-11-26T09:00:00+01:00,confirmed\n"
            )
        with pytest.raises((IntegrityError, psycopg.IntegrityError)) as excinfo:
            dry_run(db, folder)
        rule, detail = broken_rule(excinfo.value)
        assert rule == "reservations_no_overlap"
        assert "ch-ccs-1" in detail
        assert table_counts(db) == EMPTY
    finally:
        truncate_postgres(db)
        db.engine.dispose()


# --- The page's callbacks -----------------------------------------------------------------------

ADMIN = "olga@example.com"
OTHER_ADMIN = "oscar@example.com"
CUSTOMER = "cleo@example.com"


@pytest.fixture
def app(app_factory: AppFactory, database_url: str, tmp_path: Path) -> Flask:
    app = app_factory(database_url, IMPORT_UPLOAD_FOLDER=str(tmp_path / "imports"))
    add_person(app, ADMIN, ("acc-olga-admin", Role.admin, "Operations"))
    add_person(app, OTHER_ADMIN, ("acc-oscar-admin", Role.admin, "Operations"))
    add_person(app, CUSTOMER, ("acc-cleo", Role.customer, None))
    return app


def staged_folders(tmp_path: Path) -> list[Path]:
    root = tmp_path / "imports"
    return sorted(root.iterdir()) if root.exists() else []


def test_check_then_apply_then_reimport(app: Flask, tmp_path: Path) -> None:
    db = app.extensions["polaris_db"]
    olga = client_for(app, ADMIN)
    names, contents = folder_upload(SAMPLE)

    staged, panel, disabled = answer(post(olga, check_body(app, names, contents, folder=True)))
    assert isinstance(staged, str) and len(staged) == 32 and disabled is False
    assert f"{SAMPLE_TOTAL} rows to add, 0 to update, 0 unchanged" in panel
    assert "Nothing has been written yet" in panel
    assert table_counts(db)["chargers"] == 0
    assert [p.name for p in staged_folders(tmp_path)] == [staged]

    staged2, panel, disabled = answer(post(olga, button_body(app, "apply", staged)))
    assert staged2 is None and disabled is True
    assert f"{SAMPLE_TOTAL} rows added, 0 updated, 0 unchanged" in panel
    assert "Exactly what the check said" in panel
    assert table_counts(db)["sessions"] == 12 and table_counts(db)["chargers"] == 5
    assert staged_folders(tmp_path) == []  # the files (passwords included) are gone

    # Applying the same id again: it is gone.
    _, panel, disabled = answer(post(olga, button_body(app, "apply", staged)))
    assert "expired, was already imported" in panel and disabled is True

    # The same files again: every row unchanged.
    _, panel, _ = answer(post(olga, check_body(app, names, contents)))
    assert f"0 rows to add, 0 to update, {SAMPLE_TOTAL} unchanged" in panel


def test_a_zip_upload(app: Flask) -> None:
    olga = client_for(app, ADMIN)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(SAMPLE.glob("*.csv")):
            z.write(p, f"export/{p.name}")
    blob = "data:application/zip;base64," + base64.b64encode(out.getvalue()).decode()
    staged, panel, disabled = answer(post(olga, check_body(app, ["export.zip"], [blob])))
    assert staged and disabled is False
    assert "Checked export.zip" in panel and f"{SAMPLE_TOTAL} rows to add" in panel


def test_errors_are_listed_and_apply_stays_off(app: Flask, tmp_path: Path) -> None:
    db = app.extensions["polaris_db"]
    before = table_counts(db)
    olga = client_for(app, ADMIN)
    folder = copy_sample(tmp_path, "bad")
    set_cell(folder, "chargers.csv", "ch-ccs-1", "connector_type", "Tesla")
    names, contents = folder_upload(folder)
    staged, panel, disabled = answer(post(olga, check_body(app, names, contents)))
    assert staged is None and disabled is True
    assert "chargers.csv:2: connector_type" in panel
    assert "'Tesla' is not one of" in panel  # the CLI's own message
    assert "Cannot import these files" in panel
    assert staged_folders(tmp_path) == []
    assert table_counts(db) == before


def test_refused_uploads_store_nothing(app: Flask, tmp_path: Path) -> None:
    olga = client_for(app, ADMIN)
    cases = {
        "Unknown file name": (["patients.csv"], [data_url(b"a,b\n")]),
        "not a valid zip": (["x.zip"], ["data:application/zip;base64,UEsDBA=="]),
        "the limit is 16.0 MB": (["sessions.csv"], [data_url(b"x" * (17 * 1024 * 1024))]),
    }
    for message, (names, contents) in cases.items():
        staged, panel, disabled = answer(post(olga, check_body(app, names, contents)))
        assert message in panel and "Upload refused" in panel
        assert staged is None and disabled is True
    assert staged_folders(tmp_path) == []


def test_data_changed_since_the_check(app: Flask, tmp_path: Path) -> None:
    """Apply validates again: a charger deleted after the check makes the import fail cleanly."""
    db = app.extensions["polaris_db"]
    olga = client_for(app, ADMIN)
    run_import(db, SAMPLE)
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "access.csv").write_text("account_id,charger_id\nacc-ben,ch-nacs-1\n")
    staged, panel, _ = answer(post(olga, check_body(app, *folder_upload(folder))))
    assert "1 row to add" in panel
    with db.session() as s:
        s.delete(s.get(Charger, "ch-nacs-1"))
    staged2, panel, disabled = answer(post(olga, button_body(app, "apply", staged)))
    assert "the data changed since the check" in panel
    assert "access.csv:2: charger_id" in panel and disabled is True and staged2 is None
    assert staged_folders(tmp_path) == []


def test_an_upload_is_its_admins_only_and_start_over_deletes_it(app: Flask, tmp_path: Path) -> None:
    db = app.extensions["polaris_db"]
    before = table_counts(db)
    olga = client_for(app, ADMIN)
    oscar = client_for(app, OTHER_ADMIN)
    staged, _, _ = answer(post(olga, check_body(app, *folder_upload(SAMPLE))))
    # Another admin who learns the id gets nothing, and neither a forged path.
    for forged in (staged, f"../{staged}", str(tmp_path / "imports" / staged)):
        _, panel, _ = answer(post(oscar, button_body(app, "apply", forged)))
        assert "expired" in panel
    assert table_counts(db) == before
    response = post(olga, button_body(app, "reset", staged))
    assert response.status_code == 200
    out = response.get_json()["response"]
    assert out["admin-import-staged"]["data"] is None
    assert out["admin-import-upload"]["contents"] is None
    assert staged_folders(tmp_path) == []


def test_customers_get_403_and_anonymous_401(app: Flask, tmp_path: Path) -> None:
    cleo = client_for(app, CUSTOMER)
    bodies = [
        check_body(app, *folder_upload(SAMPLE)),
        button_body(app, "apply", "x" * 32),
        button_body(app, "reset", "x" * 32),
    ]
    for body in bodies:
        assert post(cleo, body).status_code == 403
        anonymous = app.test_client().post(
            "/_dash-update-component", data=json.dumps(body), content_type="application/json"
        )
        assert anonymous.status_code == 401
    assert staged_folders(tmp_path) == []
    assert cleo.get("/admin/import").status_code == 403
    assert client_for(app, ADMIN).get("/admin/import").status_code == 200


def test_a_database_rule_is_reported_on_the_page(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL refuses overlapping holding reservations: the check says which rule and rows."""
    app = make_app(postgres_database_url, IMPORT_UPLOAD_FOLDER=str(tmp_path / "imports"))
    db = app.extensions["polaris_db"]
    truncate_postgres(db)
    try:
        add_person(app, ADMIN, ("acc-olga-admin", Role.admin, "Operations"))
        folder = copy_sample(tmp_path)
        with (folder / "reservations.csv").open("a") as fh:
            fh.write(
                "r-0006,acc-ben,ch-ccs-1,2026-11-26T08:00:00+01:00,"
                "2026-11-26T09:00:00+01:00,confirmed\n"
            )
        olga = client_for(app, ADMIN)
        staged, panel, disabled = answer(post(olga, check_body(app, *folder_upload(folder))))
        assert "break the database rule reservations_no_overlap: Key (charger_id" in panel
        assert "Cannot import these files" in panel and "1 error" in panel
        assert staged is None and disabled is True
        assert table_counts(db)["reservations"] == 0
    finally:
        truncate_postgres(db)
        db.engine.dispose()


def test_a_server_that_cannot_keep_uploads_says_so(database_url: str, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "imports"
    not_a_folder.write_text("a file where the upload folder should be")
    app = make_app(database_url, IMPORT_UPLOAD_FOLDER=str(not_a_folder))
    add_person(app, ADMIN, ("acc-olga-admin", Role.admin, "Operations"))
    olga = client_for(app, ADMIN)
    staged, panel, disabled = answer(post(olga, check_body(app, *folder_upload(SAMPLE))))
    assert "cannot keep uploads" in panel and staged is None and disabled is True


def test_a_failure_during_the_check_leaves_no_files(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pages.admin_import as page

    def unreachable(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("database went away")

    monkeypatch.setattr(page, "import_folder", unreachable)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    olga = client_for(app, ADMIN)
    response = post(olga, check_body(app, *folder_upload(SAMPLE)))
    assert response.status_code in (200, 204)
    assert "Something went wrong" in response.get_data(as_text=True)  # the page's alert
    assert "Traceback" not in response.get_data(as_text=True)
    assert staged_folders(tmp_path) == []
