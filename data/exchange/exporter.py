"""The export of the data-exchange folder (``export_folder``) and the query behind each file.

The export writes every file, ordered by id (byte order on both databases) with deterministic
formatting, so export -> import -> export gives the same bytes; every text cell is
spreadsheet-safe (``data.exchange.csv_safety``).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, String, and_, null, select, type_coerce
from sqlalchemy.orm import Session

from data.core.models import Account, ChargingSession, Operator, User
from data.core.sql import AnySelect, Bytewise
from data.exchange.csv_safety import neutralise_cell
from data.exchange.format import BATCH_SIZE, COLUMNS, FILES, KEYS, TABLE_COLUMNS, format_value


def export_query(name: str, dialect: str) -> AnySelect:
    """The rows of one file as a SELECT whose columns are ``COLUMNS[name]``, ordered by id.

    Callers may add ``.where(...)`` filters (the HTTP export does)."""
    if name == "operator":
        return select(
            Operator.name,
            Operator.support_email,
            Operator.timezone,
            Operator.currency,
            Operator.default_tariff_id,
        ).order_by(Operator.id)
    if name == "users":
        # Password hashes never leave the database: the column is always empty.
        return select(User.email, User.display_name, null().label("password")).order_by(User.id)
    if name == "accounts":
        return (
            select(
                Account.id.label("account_id"),
                User.email,
                Account.role,
                Account.plan_id,
                Account.label,
            )
            .join(User, Account.user_id == User.id)
            .order_by(Bytewise(Account.id))
        )
    if name == "sessions":
        s = ChargingSession
        # A session whose energy is disputed (data/ocpp/energy.py) is written as not finalized:
        # its energy_kwh is the last plausible figure, not a final one. The spec's columns stay
        # as they are; the dispute itself is not part of the exchange format.
        finalized = type_coerce(and_(s.finalized, s.energy_disputed_at.is_(None)), Boolean)
        return _table_query(name, {"finalized": finalized})
    if name in TABLE_COLUMNS:
        return _table_query(name, {})
    raise KeyError(name)


def _table_query(name: str, computed: dict[str, ColumnElement[Any]]) -> AnySelect:
    """A file of ``TABLE_COLUMNS`` as a SELECT of its table, each column labelled with its file
    column (``computed`` in place of the stored ones it names), ordered by the file's key."""
    table, mapping = TABLE_COLUMNS[name]
    return select(
        *((computed[f] if f in computed else table.c[c]).label(f) for f, c in mapping.items())
    ).order_by(*(_key_order(table.c[mapping[k]]) for k in KEYS[name]))


def _key_order(column: ColumnElement[Any]) -> ColumnElement[Any]:
    # Text keys in byte order on both databases; timestamps (tariffs' valid_from) as they are.
    return Bytewise(column) if isinstance(column.type, String) else column


def iter_rows(session: Session, stmt: Select[Any]) -> Iterator[list[str]]:
    """Formatted, spreadsheet-safe cells of every row of ``stmt``, streamed in chunks so memory
    stays flat."""
    for row in session.execute(stmt.execution_options(yield_per=BATCH_SIZE)):
        yield [neutralise_cell(format_value(v)) for v in row]


def export_folder(session: Session, folder: Path) -> dict[str, int]:
    """Write every file of the format into ``folder``; returns the rows written per file name.

    Each file is written beside its final name and then renamed, so a failed export never
    leaves a half-written file under a real name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dialect = session.get_bind().dialect.name
    written: dict[str, int] = {}
    for name in FILES:
        target = folder / f"{name}.csv"
        tmp = folder / f".{name}.csv.tmp"
        count = 0
        try:
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                # csv leaves a lone \r unquoted when lines end in \n; quote such rows fully.
                quoted = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)
                writer.writerow(COLUMNS[name])
                for cells in iter_rows(session, export_query(name, dialect)):
                    (quoted if any("\r" in c for c in cells) else writer).writerow(cells)
                    count += 1
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        written[target.name] = count
    return written
