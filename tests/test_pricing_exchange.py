"""Prices and costs in the data-exchange format, on SQLite and PostgreSQL: tariff versions that
would re-price sessions are refused on import, the usage exports' cost_total, and a JPY operator
whose costs have no minor digits, exported, imported into an empty database and exported again."""

from __future__ import annotations

import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from data.core.db import Database
from data.core.models import ChargingSession, TariffVersion
from data.exchange.export_stream import export_chunks
from data.exchange.exports import ExportFilter
from data.exchange.validation import ExchangeError
from tests.support.exchange import (
    SAMPLE,
    read_rows,
    run_export,
    run_import,
    write_rows,
)

BERLIN = ZoneInfo("Europe/Berlin")
TARIFF_HEADER = (
    "tariff_id,valid_from,name,currency,energy_price_per_kwh,dc_energy_price_per_kwh,"
    "session_fee,time_price_per_hour,time_free_minutes,vat_percent\n"
)


def _tariffs(tmp_path: Path, *rows: str) -> Path:
    folder = tmp_path / "tariffs"
    folder.mkdir(exist_ok=True)
    (folder / "tariffs.csv").write_text(TARIFF_HEADER + "".join(f"{r}\n" for r in rows))
    return folder


def _costs(db: Database) -> dict[str, Decimal | None]:
    with db.session() as s:
        return dict(s.execute(select(ChargingSession.id, ChargingSession.cost_total)).all())


@pytest.mark.usefixtures("fast_hashing")
def test_versions_that_would_re_price_sessions_are_refused(db: Database, tmp_path: Path):
    run_import(db, SAMPLE)
    before = _costs(db)
    folder = _tariffs(
        tmp_path,
        # Ad hoc from 15 October: in force for s-0002 and later, priced by the 1 October one.
        "tariff-adhoc,2026-10-15T00:00:00+02:00,Ad hoc autumn,EUR,0.49,,,,,19",
        # Plus's first version with another price: it priced s-0003 and s-0006.
        "tariff-plus,2026-09-01T00:00:00+02:00,Plus,EUR,0.36,,,,,19",
        # Ad hoc from 25 November 08:00 (Berlin): s-0012 of acc-ben is in progress since 08:15.
        "tariff-adhoc,2026-11-25T08:00:00+01:00,Ad hoc winter,EUR,0.49,,,,,19",
        # From December: re-prices nothing.
        "tariff-plus,2026-12-01T00:00:00+01:00,Plus December,EUR,0.31,,,,,19",
    )
    with pytest.raises(ExchangeError) as excinfo:
        run_import(db, folder)
    errors = excinfo.value.errors
    assert [(e.file, e.line, e.column) for e in errors] == [
        ("tariffs.csv", 2, "valid_from"),
        ("tariffs.csv", 3, "valid_from"),
        ("tariffs.csv", 4, "valid_from"),
    ]
    assert "would re-price session s-0011" in errors[0].message  # the latest one it would
    assert "session s-0006" in errors[1].message
    assert "session s-0012 in progress" in errors[2].message
    assert _costs(db) == before

    future = _tariffs(
        tmp_path, "tariff-plus,2026-12-01T00:00:00+01:00,Plus December,EUR,0.31,,,,,19"
    )
    report = run_import(db, future)
    assert report.files["tariffs.csv"].added == 1
    assert _costs(db) == before
    # The sample's own versions again: unchanged, so not a re-pricing.
    assert run_import(db, SAMPLE).updated == 0


def _usage(db: Database, name: str) -> list[dict[str, str]]:
    data = b"".join(export_chunks(db, name, ExportFilter(), BERLIN)).decode()
    header, *rows = [line.split(",") for line in data.splitlines()]
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.usefixtures("fast_hashing")
def test_usage_exports_carry_the_stored_cost_like_the_energy(db: Database, tmp_path: Path):
    run_import(db, SAMPLE)
    daily = _usage(db, "usage-daily")
    assert list(daily[0]) == [
        "account_id", "charger_id", "day", "sessions", "energy_kwh", "cost_total",
    ]  # fmt: skip
    by_day = {(r["account_id"], r["charger_id"], r["day"]): r["cost_total"] for r in daily}
    assert by_day[("acc-ben", "ch-ccs-1", "2026-10-02")] == "22.67"
    # s-0007 started at 23:10 Berlin time on 20 November (22:10 UTC): counted that day.
    assert by_day[("acc-ben", "ch-type2-1", "2026-11-20")] == "7.88"
    assert by_day[("acc-ben", "ch-ccs-1", "2026-11-24")] == ""  # not finalized: no cost yet
    assert by_day[("acc-ben", "ch-type2-1", "2026-11-25")] == ""  # in progress
    monthly = _usage(db, "usage-monthly")
    by_month = {(r["account_id"], r["charger_id"], r["month"]): r for r in monthly}
    olivia = by_month[("acc-olivia", "ch-chademo-1", "2026-11")]
    assert (olivia["sessions"], olivia["cost_total"]) == ("2", "21")  # 20.50 given + 0.50
    ben = by_month[("acc-ben", "ch-ccs-1", "2026-11")]
    assert (ben["sessions"], ben["cost_total"]) == ("2", "20.17")
    # Every period total is the sum of its sessions' stored costs, to the cent.
    run_export(db, tmp_path / "out")
    sessions = read_rows(tmp_path / "out" / "sessions.csv")
    col = sessions[0].index("cost_total")
    stored = sum(Decimal(r[col]) for r in sessions[1:] if r[col])
    per_month: dict[str, Decimal] = defaultdict(Decimal)
    for r in monthly:
        per_month[r["month"]] += Decimal(r["cost_total"] or 0)
    assert sum(per_month.values()) == stored == Decimal("126.64")
    assert sum(Decimal(r["cost_total"] or 0) for r in daily) == stored


JPY_FILES = {
    "operator.csv": [
        ["name", "timezone", "currency", "default_tariff_id"],
        ["Tokyo Charge", "Asia/Tokyo", "JPY", "yen-std"],
    ],
    "tariffs.csv": [
        TARIFF_HEADER.strip().split(","),
        [
            "yen-std",
            "2026-01-01T00:00:00+09:00",
            "Standard",
            "JPY",
            "55",
            "66",
            "100",
            "600",
            "60",
            "10",
        ],
    ],  # fmt: skip
    "users.csv": [["email", "display_name"], ["kenji@example.jp", "Kenji"]],
    "accounts.csv": [
        ["account_id", "email", "role"],
        ["acc-kenji", "kenji@example.jp", "customer"],
    ],
    "chargers.csv": [
        ["charger_id", "friendly_name", "connector_type", "max_power_kw", "visibility"],
        ["ch-chademo", "Shibuya CHAdeMO", "CHAdeMO", "50", "public"],
    ],
    "sessions.csv": [
        [
            "session_id",
            "account_id",
            "charger_id",
            "started_at",
            "ended_at",
            "energy_kwh",
            "finalized",
        ],
        [
            "s-1",
            "acc-kenji",
            "ch-chademo",
            "2026-11-24T09:00:00+09:00",
            "2026-11-24T10:35:00+09:00",
            "12.345",
            "true",
        ],
    ],  # fmt: skip
}


@pytest.mark.usefixtures("fast_hashing")
def test_a_jpy_operator_costs_whole_yen_and_round_trips(
    db: Database, tmp_path: Path, request: pytest.FixtureRequest
):
    folder = tmp_path / "jpy"
    folder.mkdir()
    for name, rows in JPY_FILES.items():
        write_rows(folder / name, rows)
    run_import(db, folder)
    with db.session() as s:
        row = s.get(ChargingSession, "s-1")
        assert row is not None
        # DC (50 kW): 12.345 x 66 = 814.77 -> 815; 35 min after 60 free x 600/h = 350; 100.
        assert (row.cost_energy, row.cost_time, row.cost_fee) == (815, 350, 100)
        assert (row.cost_total, row.vat_amount, row.currency) == (1265, 115, "JPY")
        assert s.scalar(select(TariffVersion.currency)) == "JPY"
    first = tmp_path / "first"
    run_export(db, first)
    line = read_rows(first / "sessions.csv")[1]
    assert line[-7:] == ["yen-std", "JPY", "815", "350", "100", "1265", "115"]

    if db.dialect == "sqlite":
        path = tmp_path / "second.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        target = Database(f"sqlite:///{path}")
    else:
        from tests.support.databases import truncate_postgres

        truncate_postgres(db)
        target = db
    try:
        run_import(target, first)
        second = tmp_path / "second"
        run_export(target, second)
    finally:
        if target is not db:
            target.engine.dispose()
    for name in ("tariffs.csv", "operator.csv", "sessions.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
