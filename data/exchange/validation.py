"""Reading a data-exchange folder and validating all of it before anything is written: every
cell, the rules within a file, the references between files; every error found, by file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from data.core.models import Account, Operator, Plan, TariffVersion, User
from data.core.models import Charger as ChargerModel
from data.exchange.csv_safety import restore_cell
from data.exchange.format import (
    COST_COLUMNS,
    FIELDS,
    FILES,
    KEYS,
    BadCell,
    Field,
    email_key,
    format_decimal,
    format_timestamp,
)
from data.pricing.rows import prices_of
from data.pricing.tariffs import Versions, repricing_conflict

# --- Errors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in the folder. ``line`` is the 1-based physical line (the header is line 1);
    0 means the file as a whole. ``column`` is empty when the problem is not in one cell."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return f"{self.file}:{self.line}: {self.column}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ExchangeError(Exception):
    """The folder cannot be imported; ``errors`` lists every problem found, nothing was written."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        first = f"; first: {self.errors[0]}" if self.errors else ""
        super().__init__(f"{len(self.errors)} error(s) in the import folder{first}")


# Which file's ids a column must name: (file column, target). ``tariff_ids`` are the tariffs of
# tariffs.csv (whose rows are versions, keyed by tariff and valid_from).
_REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "operator": (("default_tariff_id", "tariff_ids"),),
    "plans": (("tariff_id", "tariff_ids"),),
    "accounts": (("email", "users"), ("plan_id", "plans")),
    "access": (("account_id", "accounts"), ("charger_id", "chargers")),
    "sessions": (
        ("account_id", "accounts"),
        ("charger_id", "chargers"),
        ("tariff_id", "tariff_ids"),
    ),
    "id_tags": (("account_id", "accounts"),),
    "reservations": (("account_id", "accounts"), ("charger_id", "chargers")),
    "outages": (("charger_id", "chargers"),),
}
_NOUN = {
    "users": "user",
    "plans": "plan",
    "accounts": "account",
    "chargers": "charger",
    "tariff_ids": "tariff",
}
_FILE_OF = {"tariff_ids": "tariffs"}
# A session's cost, when given, is all of these (tariff_id may stay empty: a tariff of the
# system the session comes from).
_COST_REQUIRED = tuple(c for c in COST_COLUMNS if c != "tariff_id")
_COST_PARTS = ("cost_energy", "cost_time", "cost_fee")


# --- Reading and validating ---------------------------------------------------------------------


@dataclass
class ParsedRow:
    """One row of a file: its line, its parsed cells and its key."""

    line: int
    values: dict[str, Any]  # a cell that failed to parse holds None
    key: Any  # None when a key cell is empty or invalid


@dataclass
class ParsedFile:
    """One file of the folder as read: its known columns and rows."""

    name: str
    columns: frozenset[str]  # the known columns present in the header
    rows: list[ParsedRow]
    key_complete: bool  # every key column is in the header, so its ids can be trusted


def _key(name: str, values: dict[str, Any]) -> Any:
    cols = KEYS[name]
    if any(values.get(c) is None for c in cols):
        return None
    if name == "users":
        return email_key(values["email"])
    return values[cols[0]] if len(cols) == 1 else tuple(values[c] for c in cols)


def _read_file(path: Path, name: str, errors: list[RowError]) -> ParsedFile:
    fname = path.name
    fields = FIELDS[name]
    by_name = {f.name: f for f in fields}
    parsed = ParsedFile(name, frozenset(), [], key_complete=False)

    def err(line: int, column: str, message: str) -> None:
        errors.append(RowError(fname, line, column, message))

    # utf-8-sig: a byte-order mark from a spreadsheet is not part of the first column's name.
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        line_end = 0
        try:
            header = next(reader, None)
            if header is None:
                err(1, "", "the file is empty; it needs at least the header row")
                return parsed
            header = [h.strip() for h in header]
            line_end = reader.line_num
            known: list[tuple[int, Field]] = []
            seen: set[str] = set()
            for idx, col in enumerate(header):
                if col in seen:
                    err(1, col, "the column appears twice in the header")
                elif col not in by_name:
                    err(1, col, f"unknown column; {fname} has: {', '.join(by_name)}")
                else:
                    known.append((idx, by_name[col]))
                seen.add(col)
            for f in fields:
                if f.required and f.name not in seen:
                    err(1, f.name, "required column is missing from the header")
            parsed.columns = frozenset(f.name for _, f in known)
            parsed.key_complete = key_complete = all(c in parsed.columns for c in KEYS[name])
            width = len(header)
            rows = parsed.rows
            for cells in reader:
                line = line_end + 1  # where this record starts; quoted newlines span lines
                line_end = reader.line_num
                if not cells:
                    continue  # a blank line
                if len(cells) != width:
                    err(line, "", f"has {len(cells)} cells but the header has {width}")
                    continue
                values: dict[str, Any] = {}
                for idx, f in known:
                    raw = restore_cell(cells[idx])
                    if raw == "":
                        if not f.nullable:
                            err(line, f.name, "a value is required")
                        values[f.name] = None
                        continue
                    try:
                        values[f.name] = f.parse(raw)
                    except BadCell as exc:
                        err(line, f.name, str(exc))
                        values[f.name] = None
                rows.append(ParsedRow(line, values, _key(name, values) if key_complete else None))
        except csv.Error as exc:
            err(reader.line_num, "", f"not valid CSV: {exc}")
        except UnicodeDecodeError:
            err(_undecodable_line(path), "", "not UTF-8 text (save the file as CSV UTF-8)")
    return parsed


def _undecodable_line(path: Path) -> int:
    # Text is decoded in chunks ahead of the CSV reader, so find the line from the bytes.
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return 1  # pragma: no cover - only called after a decoding error


def _check_rules(parsed: ParsedFile, errors: list[RowError]) -> None:
    """Rules within one file: one operator row, unique keys, time ranges that end after start."""
    fname = f"{parsed.name}.csv"
    if parsed.name == "operator" and len(parsed.rows) > 1:
        for row in parsed.rows[1:]:
            errors.append(RowError(fname, row.line, "", "operator.csv holds exactly one row"))
    key_cols = KEYS[parsed.name]
    first_line: dict[Any, int] = {}
    bad_lines = {e.line for e in errors if e.file == fname}  # cells that did not parse
    for row in parsed.rows:
        v = row.values
        if key_cols:
            key = row.key
            if key is not None:
                if key in first_line:
                    errors.append(
                        RowError(
                            fname, row.line, key_cols[-1], f"duplicate of line {first_line[key]}"
                        )
                    )
                else:
                    first_line[key] = row.line
        if parsed.name in ("sessions", "outages"):
            started, ended = v.get("started_at"), v.get("ended_at")
            if started is not None and ended is not None and ended < started:
                errors.append(
                    RowError(
                        fname,
                        row.line,
                        "ended_at",
                        f"ends before it starts ({format_timestamp(ended)} < "
                        f"{format_timestamp(started)})",
                    )
                )
            if parsed.name == "sessions":
                _check_session_cost(parsed, row, bad_lines, errors)
        elif parsed.name == "reservations":
            starts, ends = v.get("starts_at"), v.get("ends_at")
            if starts is not None and ends is not None and ends <= starts:
                errors.append(
                    RowError(
                        fname,
                        row.line,
                        "ends_at",
                        f"must be after starts_at ({format_timestamp(ends)} <= "
                        f"{format_timestamp(starts)})",
                    )
                )


def _check_session_cost(
    parsed: ParsedFile, row: ParsedRow, bad_lines: set[int], errors: list[RowError]
) -> None:
    """A cost given in sessions.csv is complete, adds up, and belongs to a finished,
    finalized session; an empty one is computed on import."""
    present = [c for c in COST_COLUMNS if c in parsed.columns]
    v = row.values
    if not any(v.get(c) is not None for c in present):
        return
    fname = f"{parsed.name}.csv"
    if row.line in bad_lines:
        return  # a cell that did not parse reads as empty: its own error says enough
    missing = [c for c in _COST_REQUIRED if v.get(c) is None]
    for column in missing:
        errors.append(
            RowError(
                fname, row.line, column, "a value is required when the session's cost is given"
            )
        )
    if missing:
        return
    if v.get("finalized") is False or ("ended_at" in parsed.columns and v.get("ended_at") is None):
        errors.append(
            RowError(
                fname,
                row.line,
                "cost_total",
                "only a finished, finalized session has a stored cost; leave the cost empty",
            )
        )
    parts = sum(v[c] for c in _COST_PARTS)
    if v["cost_total"] != parts:
        errors.append(
            RowError(
                fname,
                row.line,
                "cost_total",
                f"{format_decimal(v['cost_total'])} is not cost_energy + cost_time + cost_fee "
                f"({format_decimal(parts)})",
            )
        )
    elif v["vat_amount"] > v["cost_total"]:
        errors.append(
            RowError(fname, row.line, "vat_amount", "the VAT is more than the cost_total")
        )


class _Known:
    """The keys a reference may name: rows already in the database plus rows of this import.

    Database keys are loaded once per table, only when some file refers to that table."""

    _QUERIES: dict[str, Callable[[], Select[Any]]] = {
        "users": lambda: select(User.email),
        "plans": lambda: select(Plan.id),
        "accounts": lambda: select(Account.id),
        "chargers": lambda: select(ChargerModel.id),
        "tariff_ids": lambda: select(TariffVersion.tariff_id).distinct(),
    }

    def __init__(self, session: Session) -> None:
        self.session = session
        self.imported: dict[str, set[Any]] = {}
        self.untrusted: set[str] = set()  # files whose key column is missing: do not check
        self._db: dict[str, set[Any]] = {}

    def add_file(self, parsed: ParsedFile) -> None:
        if not parsed.key_complete:
            self.untrusted.add(parsed.name)
            if parsed.name == "tariffs":
                self.untrusted.add("tariff_ids")
            return
        keys = {r.key for r in parsed.rows}
        keys.discard(None)
        self.imported[parsed.name] = keys
        if parsed.name == "tariffs":
            self.imported["tariff_ids"] = {key[0] for key in keys}

    def has(self, target: str, key: Any) -> bool | None:
        """Whether ``key`` exists; None when it cannot be told."""
        if target in self.untrusted:
            return None
        if key in self.imported.get(target, ()):
            return True
        if target not in self._db:
            values = self.session.scalars(self._QUERIES[target]()).all()
            if target == "users":
                values = [email_key(v) for v in values]
            self._db[target] = set(values)
        return key in self._db[target]


def _check_references(parsed: ParsedFile, known: _Known, errors: list[RowError]) -> None:
    fname = f"{parsed.name}.csv"
    for column, target in _REFERENCES.get(parsed.name, ()):
        if column not in parsed.columns:
            continue
        cache_: dict[Any, bool | None] = {}
        for row in parsed.rows:
            value = row.values.get(column)
            if value is None:
                continue
            key = email_key(value) if target == "users" else value
            found = cache_.get(key)
            if key not in cache_:
                found = cache_[key] = known.has(target, key)
            if found is False:
                errors.append(
                    RowError(
                        fname,
                        row.line,
                        column,
                        f"unknown {_NOUN[target]} {value!r}: "
                        f"not in {_FILE_OF.get(target, target)}.csv nor in the database",
                    )
                )


def read_folder(session: Session, folder: Path) -> dict[str, ParsedFile]:
    """Every file of ``folder`` read and checked; raises ``ExchangeError`` listing every problem."""
    errors: list[RowError] = []
    expected = {f"{name}.csv" for name in FILES}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() == ".csv" and path.name not in expected:
            errors.append(
                RowError(
                    path.name,
                    0,
                    "",
                    f"unknown file; expected: {', '.join(f'{n}.csv' for n in FILES)}",
                )
            )
    files: dict[str, ParsedFile] = {}
    known = _Known(session)
    for name in FILES:
        path = folder / f"{name}.csv"
        if not path.is_file():
            continue
        first_error = len(errors)
        parsed = _read_file(path, name, errors)
        _check_rules(parsed, errors)
        _check_references(parsed, known, errors)
        # Cell, rule and reference errors of one file, in the order of its lines.
        errors[first_error:] = sorted(errors[first_error:], key=lambda e: e.line)
        known.add_file(parsed)
        files[name] = parsed
    _check_prices(session, files, errors)
    if errors:
        # Folder-level errors first, then file by file in import order, line by line.
        order = {f"{name}.csv": i for i, name in enumerate(FILES)}
        errors.sort(key=lambda e: (order.get(e.file, -1), e.line))
        raise ExchangeError(errors)
    return files


def _check_prices(session: Session, files: dict[str, ParsedFile], errors: list[RowError]) -> None:
    """Rules across files and the database: one currency (the operator's) for tariffs and
    costs, and no tariff version that would re-price a session priced or in progress."""
    db_versions = Versions(prices_of(row) for row in session.scalars(select(TariffVersion)))
    operator = files.get("operator")
    currency = session.scalar(select(Operator.currency).where(Operator.id == 1))
    if operator is not None and operator.rows and "currency" in operator.columns:
        row = operator.rows[0]
        given = row.values.get("currency")
        if given is not None:
            replaced = {r.key for r in files["tariffs"].rows} if "tariffs" in files else set()
            others = sorted(
                {
                    v.currency
                    for versions in db_versions.by_tariff.values()
                    for v in versions
                    if v.currency != given and (v.tariff_id, v.valid_from) not in replaced
                }
            )
            if others:
                errors.append(
                    RowError(
                        "operator.csv",
                        row.line,
                        "currency",
                        f"{given} differs from the currency of the tariffs in the database "
                        f"({', '.join(others)})",
                    )
                )
        currency = given
    for name in ("tariffs", "sessions"):
        parsed = files.get(name)
        if parsed is None or currency is None or "currency" not in parsed.columns:
            continue
        for row in parsed.rows:
            code = row.values.get("currency")
            if code is not None and code != currency:
                errors.append(
                    RowError(
                        f"{name}.csv",
                        row.line,
                        "currency",
                        f"{code} differs from the operator's currency {currency}",
                    )
                )
    tariffs = files.get("tariffs")
    if tariffs is None or not tariffs.key_complete:
        return
    with_errors = {e.line for e in errors if e.file == "tariffs.csv"}
    for row in tariffs.rows:
        if row.key is None or row.line in with_errors:
            continue  # its cells first
        tariff_id, valid_from = row.key
        old = db_versions.get(tariff_id, valid_from)
        if old is not None and all(
            getattr(old, c) == row.values.get(c) for c in tariffs.columns if c != "tariff_id"
        ):
            continue  # unchanged
        conflict = repricing_conflict(session, tariff_id, valid_from, versions=db_versions)
        if conflict is not None:
            errors.append(
                RowError("tariffs.csv", row.line, "valid_from", f"would re-price {conflict}")
            )
