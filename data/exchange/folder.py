"""Import and export of the data-exchange folder format (``shared/spec/data-exchange.md``).

A folder of CSV files, one per table, loaded in ``FILES`` order so that references resolve.
The import is all-or-nothing: every row of every file is validated first, and only a folder
without a single error is written. Rows are upserted by their key, and only rows that differ are
written, so importing the same folder twice changes nothing. Nothing is ever deleted; an optional
column left out of a header (``password``, ``label``, ...) keeps what the database holds.
A dry run (``import_folder(..., dry_run=True)``) is the same import, every statement included,
in a transaction that is then rolled back: its counts are exactly what the import would do, and
a rule only the database checks (``broken_rule``) shows up in it too.
The export writes every file, ordered by id (byte order on both databases) with deterministic
formatting, so export -> import -> export gives the same bytes.

Spreadsheet safety: a text cell that a spreadsheet would run as a formula (it starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return and is not a plain number) is exported with a
leading ``'``, and the import takes exactly that one ``'`` off again (``neutralise_cell`` and
``restore_cell``). Text that already starts with ``'`` before such a character gets one more, so
every text survives the round trip; ``-12.5`` stays a number.
"""

from __future__ import annotations

import csv
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import psycopg
from sqlalchemy import Boolean, Select, Table, and_, bindparam, null, select, text, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.accounts.passwords import hash_password, verify_password
from data.accounts.signin import landing_account_id
from data.core.models import (
    ID_LENGTH,
    Account,
    ChargerAccess,
    ChargingSession,
    ConnectorType,
    IdTag,
    Operator,
    Plan,
    ReservationStatus,
    Role,
    User,
    Visibility,
)
from data.core.models import Charger as ChargerModel
from data.core.models import Reservation as ReservationModel
from data.core.sql import Bytewise

# Rows per INSERT/UPDATE executemany and per fetched chunk when streaming.
BATCH_SIZE = 5000
# Up to this many keys, existing rows are fetched with ``IN (...)`` lookups; above it, one
# streamed scan of the table is cheaper than many lookups.
IN_LOOKUP_LIMIT = 5000
_IN_CHUNK = 500
# The PostgreSQL advisory lock key every import takes before it writes ("PLRS").
_IMPORT_LOCK_KEY = 0x504C5253

_TEXT_LENGTH = 200
_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Plain decimal notation only: what a person or a spreadsheet writes for kWh and kW.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# Cells starting with one of these run as a formula in a spreadsheet (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number (ASCII digits only: the same test runs in SQL) is left alone, sign and all.
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


# --- Spreadsheet safety --------------------------------------------------------------------------


def _formula_like(text: str) -> bool:
    """True for text that gets a ``'`` on export: after any ``'`` it already starts with, it
    starts like a formula and is not a plain number."""
    rest = text.lstrip("'")
    return rest.startswith(FORMULA_STARTS) and PLAIN_NUMBER.fullmatch(rest) is None


def neutralise_cell(text: str) -> str:
    """``=1+2`` -> ``'=1+2`` (a spreadsheet shows it as text); ``-12.5`` stays a number."""
    return "'" + text if _formula_like(text) else text


def restore_cell(text: str) -> str:
    """The inverse of ``neutralise_cell``: takes off exactly the ``'`` the export put there."""
    return text[1:] if text.startswith("'") and _formula_like(text[1:]) else text


# --- Errors and the report -------------------------------------------------------------------


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


@dataclass
class FileCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged"


@dataclass
class ImportReport:
    """Per file name (``"sessions.csv"``), in import order: what the import did to its rows
    (for a dry run: what it would do; nothing was written)."""

    files: dict[str, FileCounts] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def added(self) -> int:
        return sum(c.added for c in self.files.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.files.values())

    @property
    def unchanged(self) -> int:
        return sum(c.unchanged for c in self.files.values())

    def lines(self) -> list[str]:
        if self.dry_run:
            return [
                f"{name}: {c.added} to add, {c.updated} to update, {c.unchanged} unchanged"
                for name, c in self.files.items()
            ]
        return [f"{name}: {counts}" for name, counts in self.files.items()]


# --- Cell parsers: each returns the typed value or raises _Bad with a message for the person ---


class _Bad(ValueError):
    pass


def _check_text(raw: str, limit: int) -> str:
    if len(raw) > limit:
        raise _Bad(f"longer than {limit} characters")
    if "\x00" in raw:
        raise _Bad("contains a NUL character")
    return raw


def _text(raw: str) -> str:
    return _check_text(raw, _TEXT_LENGTH)


def _id(raw: str) -> str:
    # Surrounding spaces would make "c1" and "c1 " two ids that look the same in a report.
    if raw[0].isspace() or raw[-1].isspace():
        raise _Bad(f"{raw!r} has leading or trailing spaces")
    if len(raw) > ID_LENGTH or "\x00" in raw:
        return _check_text(raw, ID_LENGTH)  # raises with the reason
    return raw


def _email(raw: str) -> str:
    if len(raw) > _EMAIL_LENGTH or not _EMAIL.fullmatch(raw):
        raise _Bad(f"{raw!r} is not an email address")
    return raw


def _password(raw: str) -> str:
    return raw


def _currency(raw: str) -> str:
    if not _CURRENCY.fullmatch(raw):
        raise _Bad(f"{raw!r} is not an ISO 4217 currency code (three capital letters, like EUR)")
    return raw


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(raw: str) -> str:
    if raw not in _iana_zones():
        raise _Bad(f"{raw!r} is not an IANA time zone name (like Europe/Berlin)")
    return raw


def _timestamp(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _Bad(
            f"{raw!r} is not an ISO 8601 timestamp (like 2026-11-24T09:30:00+01:00)"
        ) from None
    if value.tzinfo is None:
        # The spec: a timestamp without an offset is an error, not a guess.
        raise _Bad(f"{raw!r} has no UTC offset; add one (+01:00) or Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it: no UTC instant
        raise _Bad(f"{raw!r} is outside the years 1 to 9999 in UTC") from None


def _bool(raw: str) -> bool:
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise _Bad(f"{raw!r} is not a boolean; write true or false")


def _decimal(precision: int, scale: int, *, positive: bool = False) -> Callable[[str], Decimal]:
    limit = Decimal(10) ** (precision - scale)
    step = Decimal(1).scaleb(-scale)

    def parse(raw: str) -> Decimal:
        if not _NUMBER.fullmatch(raw):
            raise _Bad(f"{raw!r} is not a number (write it like 12.5)")
        if raw.startswith("-"):
            raise _Bad(f"{raw} is negative; it must be 0 or more")
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            raise _Bad(f"{raw!r} is not a number") from None
        if positive and value == 0:
            raise _Bad("must be greater than 0")
        if value >= limit:
            raise _Bad(f"{raw} is too large (at most {limit - step})")
        # More decimals than the column keeps would be rounded away silently: refuse instead.
        if value != value.quantize(step):
            raise _Bad(f"{raw} has more than {scale} decimal places")
        return value

    return parse


def _enum(cls: type[Enum]) -> Callable[[str], Enum]:
    members = {m.value: m for m in cls}
    allowed = ", ".join(members)

    def parse(raw: str) -> Enum:
        member = members.get(raw)
        if member is None:
            hint = next((v for v in members if v.lower() == raw.strip().lower()), None)
            extra = f" (did you mean {hint!r}?)" if hint else ""
            raise _Bad(f"{raw!r} is not one of: {allowed}{extra}")
        return member

    return parse


# --- The files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    parse: Callable[[str], Any]
    nullable: bool = False  # an empty cell means NULL
    required: bool = True  # the header must have the column; an absent optional one is kept


def _f(name: str, parse: Callable[[str], Any], *, optional: bool = False) -> _Field:
    return _Field(name, parse, nullable=optional, required=not optional)


# Spec order. A column is optional in the header only where the spec calls the value optional or
# where a NULL has a meaning of its own; cells of required nullable columns may still be empty.
_FIELDS: dict[str, tuple[_Field, ...]] = {
    "operator": (
        _f("name", _text),
        _f("support_email", _email, optional=True),
        _f("timezone", _timezone),
        _f("currency", _currency),
    ),
    "plans": (
        _f("plan_id", _id),
        _f("name", _text),
        _f("allowance_kwh", _decimal(12, 3)),
        _f("currency", _currency),
    ),
    "users": (
        _f("email", _email),
        _f("display_name", _text),
        _f("password", _password, optional=True),
    ),
    "accounts": (
        _f("account_id", _id),
        _f("email", _email),
        _f("role", _enum(Role)),
        _f("plan_id", _id, optional=True),
        _f("label", _text, optional=True),
    ),
    "chargers": (
        _f("charger_id", _id),
        _f("friendly_name", _text),
        _f("connector_type", _enum(ConnectorType)),
        _f("max_power_kw", _decimal(8, 2, positive=True)),
        _f("visibility", _enum(Visibility)),
        _f("last_seen_at", _timestamp, optional=True),
    ),
    "access": (_f("account_id", _id), _f("charger_id", _id)),
    "sessions": (
        _f("session_id", _id),
        _f("account_id", _id),
        _f("charger_id", _id),
        _f("started_at", _timestamp),
        _Field("ended_at", _timestamp, nullable=True),  # empty: the session is in progress
        _f("energy_kwh", _decimal(12, 3)),
        _f("finalized", _bool),
    ),
    "id_tags": (_f("id_tag", _id), _f("account_id", _id)),
    "reservations": (
        _f("reservation_id", _id),
        _f("account_id", _id),
        _f("charger_id", _id),
        _f("starts_at", _timestamp),
        _f("ends_at", _timestamp),
        _f("status", _enum(ReservationStatus)),
    ),
}

FILES: tuple[str, ...] = tuple(_FIELDS)
"""File stems in import order: ``<stem>.csv`` on disk, ``/export/<stem>.csv`` over HTTP."""

COLUMNS: dict[str, list[str]] = {name: [f.name for f in fields] for name, fields in _FIELDS.items()}
"""The columns of each file, in the order the export writes them."""

# The columns that identify a row of each file (users: the email, compared case-insensitively).
_KEYS: dict[str, tuple[str, ...]] = {
    "operator": (),
    "plans": ("plan_id",),
    "users": ("email",),
    "accounts": ("account_id",),
    "chargers": ("charger_id",),
    "access": ("account_id", "charger_id"),
    "sessions": ("session_id",),
    "id_tags": ("id_tag",),
    "reservations": ("reservation_id",),
}

# File column -> database column, for the tables whose rows map one to one.
_TABLE_COLUMNS: dict[str, tuple[Table, dict[str, str]]] = {
    "plans": (
        Plan.__table__,  # type: ignore[dict-item]
        {"plan_id": "id", "name": "name", "allowance_kwh": "allowance_kwh", "currency": "currency"},
    ),
    "chargers": (
        ChargerModel.__table__,  # type: ignore[dict-item]
        {
            "charger_id": "id",
            "friendly_name": "friendly_name",
            "connector_type": "connector_type",
            "max_power_kw": "max_power_kw",
            "visibility": "visibility",
            "last_seen_at": "last_seen_at",
        },
    ),
    "access": (
        ChargerAccess.__table__,  # type: ignore[dict-item]
        {"account_id": "account_id", "charger_id": "charger_id"},
    ),
    "sessions": (
        ChargingSession.__table__,  # type: ignore[dict-item]
        {
            "session_id": "id",
            "account_id": "account_id",
            "charger_id": "charger_id",
            "started_at": "started_at",
            "ended_at": "ended_at",
            "energy_kwh": "energy_kwh",
            "finalized": "finalized",
        },
    ),
    "id_tags": (
        IdTag.__table__,  # type: ignore[dict-item]
        {"id_tag": "id_tag", "account_id": "account_id"},
    ),
    "reservations": (
        ReservationModel.__table__,  # type: ignore[dict-item]
        {
            "reservation_id": "id",
            "account_id": "account_id",
            "charger_id": "charger_id",
            "starts_at": "starts_at",
            "ends_at": "ends_at",
            "status": "status",
        },
    ),
}

# Which file's ids a column must name: (file column, target file).
_REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "accounts": (("email", "users"), ("plan_id", "plans")),
    "access": (("account_id", "accounts"), ("charger_id", "chargers")),
    "sessions": (("account_id", "accounts"), ("charger_id", "chargers")),
    "id_tags": (("account_id", "accounts"),),
    "reservations": (("account_id", "accounts"), ("charger_id", "chargers")),
}
_NOUN = {"users": "user", "plans": "plan", "accounts": "account", "chargers": "charger"}


# --- Reading and validating ---------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    values: dict[str, Any]  # a cell that failed to parse holds None
    key: Any  # None when a key cell is empty or invalid


@dataclass
class _ParsedFile:
    name: str
    columns: frozenset[str]  # the known columns present in the header
    rows: list[_Row]
    key_complete: bool  # every key column is in the header, so its ids can be trusted


def _email_key(email: str) -> str:
    # Sign-in matches emails case-insensitively, so two spellings must be one person.
    return email.lower()


def _key(name: str, values: dict[str, Any]) -> Any:
    cols = _KEYS[name]
    if any(values.get(c) is None for c in cols):
        return None
    if name == "users":
        return _email_key(values["email"])
    return values[cols[0]] if len(cols) == 1 else tuple(values[c] for c in cols)


def _read_file(path: Path, name: str, errors: list[RowError]) -> _ParsedFile:
    fname = path.name
    fields = _FIELDS[name]
    by_name = {f.name: f for f in fields}
    parsed = _ParsedFile(name, frozenset(), [], key_complete=False)

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
            known: list[tuple[int, _Field]] = []
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
            parsed.key_complete = key_complete = all(c in parsed.columns for c in _KEYS[name])
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
                    except _Bad as exc:
                        err(line, f.name, str(exc))
                        values[f.name] = None
                rows.append(_Row(line, values, _key(name, values) if key_complete else None))
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


def _check_rules(parsed: _ParsedFile, errors: list[RowError]) -> None:
    """Rules within one file: one operator row, unique keys, time ranges that end after start."""
    fname = f"{parsed.name}.csv"
    if parsed.name == "operator" and len(parsed.rows) > 1:
        for row in parsed.rows[1:]:
            errors.append(RowError(fname, row.line, "", "operator.csv holds exactly one row"))
    key_cols = _KEYS[parsed.name]
    first_line: dict[Any, int] = {}
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
        if parsed.name == "sessions":
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


class _Known:
    """The keys a reference may name: rows already in the database plus rows of this import.

    Database keys are loaded once per table, only when some file refers to that table."""

    _QUERIES: dict[str, Callable[[], Select[Any]]] = {
        "users": lambda: select(User.email),
        "plans": lambda: select(Plan.id),
        "accounts": lambda: select(Account.id),
        "chargers": lambda: select(ChargerModel.id),
    }

    def __init__(self, session: Session) -> None:
        self.session = session
        self.imported: dict[str, set[Any]] = {}
        self.untrusted: set[str] = set()  # files whose key column is missing: do not check
        self._db: dict[str, set[Any]] = {}

    def add_file(self, parsed: _ParsedFile) -> None:
        if not parsed.key_complete:
            self.untrusted.add(parsed.name)
            return
        keys = {r.key for r in parsed.rows}
        keys.discard(None)
        self.imported[parsed.name] = keys

    def has(self, target: str, key: Any) -> bool | None:
        """Whether ``key`` exists; None when it cannot be told."""
        if target in self.untrusted:
            return None
        if key in self.imported.get(target, ()):
            return True
        if target not in self._db:
            values = self.session.scalars(self._QUERIES[target]()).all()
            if target == "users":
                values = [_email_key(v) for v in values]
            self._db[target] = set(values)
        return key in self._db[target]


def _check_references(parsed: _ParsedFile, known: _Known, errors: list[RowError]) -> None:
    fname = f"{parsed.name}.csv"
    for column, target in _REFERENCES.get(parsed.name, ()):
        if column not in parsed.columns:
            continue
        cache_: dict[Any, bool | None] = {}
        for row in parsed.rows:
            value = row.values.get(column)
            if value is None:
                continue
            key = _email_key(value) if target == "users" else value
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
                        f"not in {target}.csv nor in the database",
                    )
                )


def _read_folder(session: Session, folder: Path) -> dict[str, _ParsedFile]:
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
    files: dict[str, _ParsedFile] = {}
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
    if errors:
        raise ExchangeError(errors)
    return files


# --- Writing ---------------------------------------------------------------------------------


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH_SIZE):
        yield rows[start : start + BATCH_SIZE]


def _insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if _is_postgres(session):
        cols = list(rows[0])
        _copy(session, table.name, cols, ([row[c] for c in cols] for row in rows))
        return
    for batch in _batches(rows):
        session.execute(table.insert(), batch)


def _update(
    session: Session, table: Table, key_cols: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """UPDATE ... WHERE key = :k_key; each row holds the ``k_`` keys and the columns to SET."""
    # Rows may set different columns (users keep their hash when no password is given).
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for names, group in groups.items():
        set_cols = [c for c in names if not c.startswith("k_")]
        if _is_postgres(session):
            _update_postgres(session, table, key_cols, set_cols, group)
            continue
        stmt = table.update()
        for col in key_cols:
            stmt = stmt.where(table.c[col] == bindparam(f"k_{col}"))
        for batch in _batches(group):
            session.execute(stmt, batch)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _copy(
    session: Session, table_name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL COPY in batches, on the session's own connection and transaction.

    psycopg's executemany costs a round trip per row and SQLAlchemy's multi-row INSERT is slow
    to build for psycopg; COPY loads 100k rows in well under a second."""
    from psycopg import sql

    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table_name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    # Enums go in by value, as the ORM stores them, whatever psycopg would make of a member.
    # Timestamps are aware UTC already, which is what UTCDateTime would bind.
    batch: list[list[Any]] = []
    dbapi = session.connection().connection.driver_connection
    with dbapi.cursor() as cur:  # type: ignore[union-attr]

        def flush() -> None:
            # One COPY per batch keeps each statement far below the statement timeout.
            with cur.copy(stmt) as copy:
                for values in batch:
                    copy.write_row(values)
            batch.clear()

        for row in rows:
            batch.append([v.value if isinstance(v, Enum) else v for v in row])
            if len(batch) >= BATCH_SIZE:
                flush()
        if batch:
            flush()


def _update_postgres(
    session: Session,
    table: Table,
    key_cols: Sequence[str],
    set_cols: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    """COPY the new values into a temporary table, then one UPDATE ... FROM it."""
    q = session.get_bind().dialect.identifier_preparer.quote
    tmp = f"_import_{table.name}"
    cols = [*key_cols, *set_cols]
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {q(tmp)} ON COMMIT DROP AS "
            f"SELECT {', '.join(map(q, cols))} FROM {q(table.name)} WITH NO DATA"
        )
    )
    _copy(
        session,
        tmp,
        cols,
        ([*(r[f"k_{c}"] for c in key_cols), *(r[c] for c in set_cols)] for r in rows),
    )
    assignments = ", ".join(f"{q(c)} = s.{q(c)}" for c in set_cols)
    match = " AND ".join(f"t.{q(c)} = s.{q(c)}" for c in key_cols)
    session.execute(
        text(f"UPDATE {q(table.name)} AS t SET {assignments} FROM {q(tmp)} AS s WHERE {match}")
    )
    session.execute(text(f"DROP TABLE {q(tmp)}"))


def _existing_rows(
    session: Session, table: Table, key_cols: Sequence[str], keys: Iterable[Any]
) -> dict[Any, dict[str, Any]]:
    """The current database rows for ``keys`` (a value, or a tuple for composite keys)."""
    wanted = set(keys)
    found: dict[Any, dict[str, Any]] = {}
    if not wanted:
        return found
    composite = len(key_cols) > 1

    names = [c.name for c in table.columns]  # the column order of select(table)
    positions = [names.index(c) for c in key_cols]

    def keep(rows: Iterable[Any]) -> None:
        for row in rows:
            key = tuple(row[i] for i in positions) if composite else row[positions[0]]
            if key in wanted:
                found[key] = dict(zip(names, row, strict=True))

    if not composite and len(wanted) <= IN_LOOKUP_LIMIT:
        col = table.c[key_cols[0]]
        ordered = list(wanted)
        for start in range(0, len(ordered), _IN_CHUNK):
            keep(session.execute(select(table).where(col.in_(ordered[start : start + _IN_CHUNK]))))
    else:
        keep(session.execute(select(table).execution_options(yield_per=BATCH_SIZE)))
    return found


def _upsert(
    session: Session,
    table: Table,
    key_cols: Sequence[str],
    rows: Sequence[dict[str, Any]],
    counts: FileCounts,
) -> None:
    """Insert new rows and update the ones that differ; rows are database-column dicts."""
    composite = len(key_cols) > 1

    def key_of(row: dict[str, Any]) -> Any:
        return tuple(row[c] for c in key_cols) if composite else row[key_cols[0]]

    existing = _existing_rows(session, table, key_cols, (key_of(r) for r in rows))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    all_cols = [c.name for c in table.columns]
    for row in rows:
        old = existing.get(key_of(row))
        if old is None:
            # Absent optional columns are NULL; uniform keys keep executemany in one batch.
            inserts.append({c: row.get(c) for c in all_cols})
            counts.added += 1
            continue
        # SET only what changed: fewer index entries to rewrite (rows group by changed columns).
        update = {c: v for c, v in row.items() if old[c] != v}
        if update:
            update.update({f"k_{c}": row[c] for c in key_cols})
            updates.append(update)
            counts.updated += 1
        else:
            counts.unchanged += 1
    _insert(session, table, inserts)
    _update(session, table, key_cols, updates)


def _db_row(parsed: _ParsedFile, mapping: dict[str, str], row: _Row) -> dict[str, Any]:
    # Only the columns in the header: an absent optional column keeps what the database has.
    return {mapping[c]: row.values[c] for c in parsed.columns}


def _import_operator(session: Session, parsed: _ParsedFile, counts: FileCounts) -> None:
    if not parsed.rows:
        return
    values = dict(parsed.rows[0].values)
    table: Table = Operator.__table__  # type: ignore[assignment]
    old = session.execute(select(table).where(table.c.id == 1)).mappings().one_or_none()
    if old is None:
        session.execute(table.insert(), [{"id": 1, "support_email": None, **values}])
        counts.added += 1
    elif any(old[c] != v for c, v in values.items()):
        session.execute(table.update().where(table.c.id == 1).values(values))
        counts.updated += 1
    else:
        counts.unchanged += 1


def _password_hashes(jobs: list[tuple[str | None, str]]) -> list[str | None]:
    """For (current hash, password) pairs: the hash to store, or None when the current one
    already matches. Argon2 is slow on purpose and releases the GIL, so run it in threads."""

    def one(job: tuple[str | None, str]) -> str | None:
        current, password = job
        if current is not None and verify_password(current, password):
            return None
        return hash_password(password)

    if len(jobs) <= 1:
        return [one(j) for j in jobs]
    # Each hash takes the hasher's memory cost (64 MiB by default): a few at a time.
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 2, 4)) as pool:
        return list(pool.map(one, jobs))


def _load_users(session: Session) -> dict[str, dict[str, Any]]:
    table: Table = User.__table__  # type: ignore[assignment]
    return {
        _email_key(r["email"]): dict(r)
        for r in session.execute(
            select(
                table.c.id,
                table.c.email,
                table.c.display_name,
                table.c.password_hash,
                table.c.session_version,
            )
        ).mappings()
    }


def _import_users(session: Session, parsed: _ParsedFile, counts: FileCounts) -> None:
    """Upsert users by email (case-insensitively, like sign-in)."""
    table: Table = User.__table__  # type: ignore[assignment]
    existing = _load_users(session)
    with_password = [r for r in parsed.rows if r.values.get("password")]
    hashes = dict(
        zip(
            (id(r) for r in with_password),
            _password_hashes(
                [
                    (
                        (existing.get(_email_key(r.values["email"])) or {}).get("password_hash"),
                        r.values["password"],
                    )
                    for r in with_password
                ]
            ),
            strict=True,
        )
    )
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in parsed.rows:
        v = row.values
        new_hash = hashes.get(id(row))
        old = existing.get(_email_key(v["email"]))
        if old is None:
            inserts.append(
                {"email": v["email"], "display_name": v["display_name"], "password_hash": new_hash}
            )
            counts.added += 1
            continue
        change = {c: v[c] for c in ("email", "display_name") if old[c] != v[c]}
        if new_hash is not None:  # never cleared: no password keeps the current hash
            change["password_hash"] = new_hash
            # A new password ends the sessions signed in with the old one.
            change["session_version"] = old["session_version"] + 1
        if change:
            change["k_id"] = old["id"]
            updates.append(change)
            counts.updated += 1
        else:
            counts.unchanged += 1
    # File order becomes id order, which is the order the export writes users in.
    _insert(session, table, inserts)
    _update(session, table, ["id"], updates)


def _import_accounts(
    session: Session, parsed: _ParsedFile, counts: FileCounts, touched_users: set[int]
) -> None:
    table: Table = Account.__table__  # type: ignore[assignment]
    user_ids = {key: u["id"] for key, u in _load_users(session).items()}
    mapping = {"account_id": "id", "role": "role", "plan_id": "plan_id", "label": "label"}
    rows = []
    for row in parsed.rows:
        db_row = {mapping[c]: row.values[c] for c in parsed.columns if c != "email"}
        db_row["user_id"] = user_ids[_email_key(row.values["email"])]
        touched_users.add(db_row["user_id"])
        rows.append(db_row)
    # An account moving to another person changes the old owner's default too.
    before = _existing_rows(session, table, ["id"], (r["id"] for r in rows))
    touched_users.update(r["user_id"] for r in before.values())
    _upsert(session, table, ["id"], rows, counts)


def _set_default_accounts(session: Session, user_ids: set[int]) -> None:
    """Store the account sign-in starts in (``data.accounts.signin.landing_account_id``: an admin
    account for anyone who holds one, whatever order accounts.csv listed them in), where the stored
    one is empty, no longer theirs, or a customer account of a person who holds an admin account."""
    if not user_ids:
        return
    users: Table = User.__table__  # type: ignore[assignment]
    accounts: Table = Account.__table__  # type: ignore[assignment]
    owned: dict[int, list[tuple[str, Role]]] = {}
    current: dict[int, str | None] = {}
    ids = sorted(user_ids)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        for uid, acc_id, role in session.execute(
            select(accounts.c.user_id, accounts.c.id, accounts.c.role).where(
                accounts.c.user_id.in_(chunk)
            )
        ):
            owned.setdefault(uid, []).append((acc_id, Role(role)))
        current.update(
            session.execute(
                select(users.c.id, users.c.default_account_id).where(users.c.id.in_(chunk))
            ).all()
        )
    updates = []
    for uid in ids:
        default = current.get(uid)
        landing = landing_account_id(owned.get(uid, []), default)
        if landing != default:
            updates.append({"k_id": uid, "default_account_id": landing})
    _update(session, users, ["id"], updates)


def _one_writer_at_a_time(session: Session) -> None:
    """Serialise the writing phase of imports into one database, up to their commit.

    Each import decides insert or update from the rows it reads, so two imports of the same new
    rows at once would both insert them and one would fail on the unique key. From here on, a
    second import waits for the first to commit, then reads what it wrote (and updates or leaves
    it). PostgreSQL: a transaction-level advisory lock, released by commit, rollback or a dropped
    connection; polled, so the wait is not cut short by ``statement_timeout``. SQLite: its one
    write lock, taken now by a write that changes nothing (the wait is bounded by busy_timeout).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        lock = text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=_IMPORT_LOCK_KEY)
        while not session.scalar(lock):
            time.sleep(0.1)
    elif dialect == "sqlite":
        session.execute(text("UPDATE operator SET id = id WHERE 0"))


def import_folder(session: Session, folder: Path, *, dry_run: bool = False) -> ImportReport:
    """Validate every file of ``folder`` and, only if all of it is valid, upsert it.

    Raises ``ExchangeError`` listing every problem; then nothing has been written (and the
    caller's transaction should be rolled back as usual). A rule only the database checks
    raises the database's ``IntegrityError`` (see ``broken_rule``).

    ``dry_run``: run every statement of the import, then roll the session's transaction back,
    so the report says exactly what the import would do and nothing is written (the rollback
    also ends the session's transaction: a caller starts a new one for anything else)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(str(folder))
    files = _read_folder(session, folder)
    _one_writer_at_a_time(session)
    report = ImportReport(dry_run=dry_run)
    touched_users: set[int] = set()
    for name, parsed in files.items():
        counts = report.files[f"{name}.csv"] = FileCounts()
        if name == "operator":
            _import_operator(session, parsed, counts)
        elif name == "users":
            _import_users(session, parsed, counts)
        elif name == "accounts":
            _import_accounts(session, parsed, counts, touched_users)
        else:
            table, mapping = _TABLE_COLUMNS[name]
            key_cols = [mapping[c] for c in _KEYS[name]]
            rows = [_db_row(parsed, mapping, r) for r in parsed.rows]
            _upsert(session, table, key_cols, rows, counts)
    if "users" in files:
        # New users have no default yet; their ids exist only now.
        emails = {_email_key(r.values["email"]) for r in files["users"].rows}
        touched_users |= {u["id"] for k, u in _load_users(session).items() if k in emails}
    _set_default_accounts(session, touched_users)
    session.flush()
    if dry_run:
        # Undoes every write, drops PostgreSQL's temporary tables and releases the import lock.
        session.rollback()
    return report


# What the database raises when rows break a rule only it checks (e.g. PostgreSQL's exclusion
# constraint on overlapping holding reservations): SQLAlchemy's error, or psycopg's own from COPY.
DATABASE_RULE_ERRORS: tuple[type[Exception], ...] = (IntegrityError, psycopg.IntegrityError)


def broken_rule_message(exc: BaseException) -> str:
    """The one sentence the import page and ``flask import-data`` both say for such an error."""
    rule, detail = broken_rule(exc)
    return f"The files break the database rule {rule}" + (f": {detail}" if detail else ".")


def broken_rule(exc: BaseException) -> tuple[str, str]:
    """For an ``IntegrityError`` from an import (SQLAlchemy's, or psycopg's own from COPY): the
    name of the database rule the rows break ("a constraint" when the database does not say)
    and the database's detail (which rows), for a message that names what to fix."""
    raw = getattr(exc, "orig", None) or exc
    diag = getattr(raw, "diag", None)
    rule = getattr(diag, "constraint_name", None) or "a constraint"
    detail = getattr(diag, "message_detail", None) or ("" if diag is not None else str(raw))
    return rule, detail


# --- Export ------------------------------------------------------------------------------------


def format_timestamp(value: datetime | None) -> str:
    """``2026-11-24T08:30:00Z``: UTC, seconds always, microseconds only when there are any."""
    if value is None:
        return ""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every timestamp needs a time zone")
    value = value.astimezone(UTC)
    text = value.replace(tzinfo=None, microsecond=0).isoformat()
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_decimal(value: Decimal | float | int | None, places: int | None = None) -> str:
    """``12.5``, ``7``, ``0.125``: no trailing zeros, no exponent, no float noise.

    ``places`` rounds first (for sums that SQLite computes as floats)."""
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    text = format(number.normalize(), "f")
    return "0" if text == "-0" else text


def format_bool(value: bool | None) -> str:
    if value is None:
        return ""
    return "true" if value else "false"


def format_value(value: Any) -> str:
    """Any exported cell: NULL is empty, enums by value, the rest by the helpers above."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal | float | int):
        return format_decimal(value)
    return str(value)


def export_query(name: str, dialect: str) -> Select[Any]:
    """The rows of one file as a SELECT whose columns are ``COLUMNS[name]``, ordered by id.

    Callers may add ``.where(...)`` filters (the HTTP export does)."""
    if name == "operator":
        return select(
            Operator.name, Operator.support_email, Operator.timezone, Operator.currency
        ).order_by(Operator.id)
    if name == "plans":
        return select(
            Plan.id.label("plan_id"), Plan.name, Plan.allowance_kwh, Plan.currency
        ).order_by(Bytewise(Plan.id))
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
    if name == "chargers":
        c = ChargerModel
        return select(
            c.id.label("charger_id"),
            c.friendly_name,
            c.connector_type,
            c.max_power_kw,
            c.visibility,
            c.last_seen_at,
        ).order_by(Bytewise(c.id))
    if name == "access":
        a = ChargerAccess
        return select(a.account_id, a.charger_id).order_by(
            Bytewise(a.account_id), Bytewise(a.charger_id)
        )
    if name == "sessions":
        s = ChargingSession
        return select(
            s.id.label("session_id"),
            s.account_id,
            s.charger_id,
            s.started_at,
            s.ended_at,
            s.energy_kwh,
            # A session whose energy is disputed (data/ocpp/messages.py) is written as not
            # finalized: its energy_kwh is the last plausible figure, not a final one. The spec's
            # columns stay as they are; the dispute itself is not part of the exchange format.
            type_coerce(and_(s.finalized, s.energy_disputed_at.is_(None)), Boolean).label(
                "finalized"
            ),
        ).order_by(Bytewise(s.id))
    if name == "id_tags":
        return select(IdTag.id_tag, IdTag.account_id).order_by(Bytewise(IdTag.id_tag))
    if name == "reservations":
        r = ReservationModel
        return select(
            r.id.label("reservation_id"),
            r.account_id,
            r.charger_id,
            r.starts_at,
            r.ends_at,
            r.status,
        ).order_by(Bytewise(r.id))
    raise KeyError(name)


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
