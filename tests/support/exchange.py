"""The exchange sample folder (tests/fixtures/exchange_sample) and running the folder import
and export on a database, for the exchange, import-page and landing tests."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from sqlalchemy import func, select

from data.core.db import Database
from data.core.models import (
    Account,
    Charger,
    ChargerAccess,
    ChargingSession,
    IdTag,
    Operator,
    Plan,
    Reservation,
    TariffVersion,
    User,
)
from data.exchange.exporter import export_folder
from data.exchange.importer import ImportReport, import_folder
from data.uptime.outages import Outage
from tests.support.audit import AT, CLI

FIXTURES = Path(__file__).parents[1] / "fixtures"

SAMPLE = FIXTURES / "exchange_sample"

# The sample as the export writes it: UTC with Z, ids in byte order, no passwords.
EXPECTED = FIXTURES / "exchange_sample_expected"

MODELS = (
    TariffVersion,
    Operator,
    Plan,
    User,
    Account,
    Charger,
    ChargerAccess,
    ChargingSession,
    IdTag,
    Reservation,
    Outage,
)

SAMPLE_ROWS = {
    "tariffs.csv": 3,
    "operator.csv": 1,
    "plans.csv": 2,
    "users.csv": 3,
    "accounts.csv": 4,
    "chargers.csv": 5,
    "access.csv": 1,
    "sessions.csv": 12,
    "id_tags.csv": 3,
    "reservations.csv": 5,
    "outages.csv": 5,
}


def run_import(db: Database, folder: Path) -> ImportReport:
    with db.session() as s:
        return import_folder(s, folder, actor=CLI, now=AT)


def run_export(db: Database, folder: Path) -> dict[str, int]:
    with db.session() as s:
        return export_folder(s, folder)


def table_counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0 for m in MODELS}


def copy_sample(tmp_path: Path, name: str = "folder") -> Path:
    folder = tmp_path / name
    shutil.copytree(SAMPLE, folder)
    return folder


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def set_cell(folder: Path, file: str, key: str, column: str, value: str) -> None:
    """Set one cell of the row whose first cell is ``key``."""
    rows = read_rows(folder / file)
    col = rows[0].index(column)
    matches = [r for r in rows[1:] if r[0] == key]
    assert len(matches) == 1, f"{key} not in {file}"
    matches[0][col] = value
    write_rows(folder / file, rows)
