"""The Flask CLI as a newcomer runs it: demo data never mixes with imported data."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "fixtures" / "exchange_sample"


def flask(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        SECRET_KEY="cli-test-secret-key-long-enough-0123456789",
        POLARIS_DEMO="1",  # on: the import must still load only its own rows
    )
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "cli.db") as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def test_import_into_empty_database_loads_only_the_imported_rows(tmp_path):
    result = flask(tmp_path, "import-data", str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert "44 added" in result.stdout
    assert "outages.csv: 5 added, 0 updated, 0 unchanged" in result.stdout
    assert count(tmp_path, "chargers") == 5
    assert count(tmp_path, "sessions") == 12
    assert count(tmp_path, "outages") == 5
    with sqlite3.connect(tmp_path / "cli.db") as c:
        audit = c.execute(
            "SELECT user, account_id, action, subject_id, detail FROM audit_entries"
        ).fetchall()
    assert audit == [
        ("cli", None, "import.loaded", str(SAMPLE), "44 added, 0 updated, 0 unchanged.")
    ]
    # and demo data is refused on top of real data
    refused = flask(tmp_path, "demo-data")
    assert refused.returncode == 1
    assert "real data" in refused.stderr
    assert count(tmp_path, "chargers") == 5


def test_demo_data_command_loads_and_reloads(tmp_path):
    first = flask(tmp_path, "demo-data")
    assert first.returncode == 0, first.stderr
    assert "driver@polaris.example" in first.stdout
    chargers = count(tmp_path, "chargers")
    assert 50 <= chargers <= 70
    again = flask(tmp_path, "demo-data")
    assert again.returncode == 1 and "--reset" in again.stderr
    with sqlite3.connect(tmp_path / "cli.db") as c:
        c.execute(
            "INSERT INTO audit_entries (at, user, action, subject_type, subject_id) "
            "VALUES ('2026-11-20 09:30:00.000000', 'cli', 'plan.created', 'plan', 'PLAN-X')"
        )
    demo_entries = count(tmp_path, "audit_entries") - 1  # Olga's outage reviews
    assert demo_entries > 0
    reset = flask(tmp_path, "demo-data", "--reset")
    assert reset.returncode == 0, reset.stderr
    assert count(tmp_path, "chargers") == chargers
    # The audit log is never emptied: the reset leaves it (its triggers would refuse), and the
    # reloaded demo adds its own reviews again.
    assert count(tmp_path, "audit_entries") == 2 * demo_entries + 1


def test_bad_import_exits_1_and_names_the_row(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "chargers.csv").write_text(
        "charger_id,friendly_name,connector_type,max_power_kw,visibility,last_seen_at\n"
        "c1,Bay 1,CCS,50,public,\n"
        "c2,Bay 2,Tesla,50,public,\n"
    )
    result = flask(tmp_path, "import-data", str(bad))
    assert result.returncode == 1
    assert "chargers.csv:3" in result.stderr and "connector_type" in result.stderr
    assert count(tmp_path, "chargers") == 0


def test_overlapping_reservations_are_refused_plainly_on_postgresql(
    tmp_path, postgres_database_url
):
    import shutil

    from sqlalchemy import text

    from data.core.db import Database

    folder = tmp_path / "overlap"
    shutil.copytree(SAMPLE, folder)
    with (folder / "reservations.csv").open("a") as fh:
        # Overlaps r-0004 on the same charger, both holding it.
        fh.write(
            "r-0006,acc-ben,ch-ccs-1,2026-11-26T08:00:00+01:00,2026-11-26T09:00:00+01:00,confirmed\n"
        )
    db = Database(postgres_database_url)
    with db.engine.begin() as c:
        c.execute(text("TRUNCATE operator, plans, users, chargers CASCADE"))
    env = dict(os.environ)
    env.update(DATABASE_URL=postgres_database_url, SECRET_KEY="x" * 40, POLARIS_DEMO="0")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "import-data", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    # The same sentence as the import page (test_admin_import.py), from one place.
    assert "break the database rule reservations_no_overlap: Key (charger_id" in result.stderr
    assert "Traceback" not in result.stderr
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM reservations")).scalar() == 0
    db.engine.dispose()


def test_dry_run_counts_and_writes_nothing(tmp_path):
    check = flask(tmp_path, "import-data", "--dry-run", str(SAMPLE))
    assert check.returncode == 0, check.stderr
    assert "44 to add, 0 to update, 0 unchanged; nothing was written" in check.stdout
    assert "sessions.csv: 12 to add" in check.stdout
    assert count(tmp_path, "sessions") == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "plans.csv").write_text("plan_id,name,allowance_kwh,currency\np1,Basic,ten,EUR\n")
    refused = flask(tmp_path, "import-data", "--dry-run", str(bad))
    assert refused.returncode == 1
    assert "plans.csv:2: allowance_kwh" in refused.stderr
    assert "nothing was written (dry run)" in refused.stderr


def test_the_served_app_freezes_its_start_up_heap_and_create_app_does_not(tmp_path):
    """``app:server`` (what gunicorn serves) moves start-up objects out of the collector's
    sight; a bare ``create_app`` (tests, CLI) leaves collection as it is."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'served.db'}",
        SECRET_KEY="cli-test-secret-key-long-enough-0123456789",
        POLARIS_DEMO="0",
    )
    probe = (
        "import gc, app\n"
        "app.create_app()\n"
        "print(gc.get_freeze_count())\n"
        "app.server\n"
        "print(gc.get_freeze_count())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    before, after = (int(n) for n in result.stdout.split())
    assert before == 0
    assert after > 50_000  # Dash, plotly, pandas and the app's own registries
