"""Markers select what they say: ``-m postgres`` is every test that runs on PostgreSQL (the
PostgreSQL half of every two-database test among them), ``-m browser`` every Chromium test."""

from __future__ import annotations

import subprocess
import sys

from config import ROOT


def collected(marker: str) -> set[str]:
    """The test ids ``pytest -m marker`` selects (collection only, in a subprocess)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + ["-m", marker],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_postgres_selects_every_postgresql_run_and_no_sqlite_one() -> None:
    chosen = collected("postgres")
    assert len(chosen) > 300  # 10 carried the decorator before; 375 run on PostgreSQL now
    assert "tests/test_rollup.py::test_orm_inserts_updates_and_deletes[postgresql]" in chosen
    assert not any(t.endswith("[sqlite]") for t in chosen)
    assert any(t.startswith("tests/test_reliability.py::") for t in chosen)  # decorated ones
    e2e = {t for t in chosen if t.startswith("tests/test_e2e_commands.py::")}
    assert len(e2e) == 4  # its module's marker: real processes on PostgreSQL


def test_browser_selects_every_chromium_test() -> None:
    chosen = collected("browser")
    # The OCPP end-to-end test takes the browser fixture but its module has no marker.
    assert "tests/test_browser_ocpp.py::test_a_live_ocpp_session_on_the_drivers_dashboard" in chosen
    assert not any(t.startswith("tests/test_markers.py::") for t in chosen)
    # Of the end-to-end processes' tests, only the driver's needs Chromium.
    assert {t for t in chosen if t.startswith("tests/test_e2e_commands.py::")} == {
        "tests/test_e2e_commands.py::test_a_driver_starts_and_stops_charging_in_the_browser"
    }
    assert chosen & collected("not postgres")  # the two markers are independent
