"""The all-or-nothing import of a data-exchange folder (``import_folder``) and its report.

Every row of every file is validated first (``data.exchange.validation``), and only a folder
without a single error is written. Rows are upserted by their key, and only rows that differ are
written, so importing the same folder twice changes nothing. Nothing is ever deleted; an optional
column left out of a header (``password``, ``label``, ...) keeps what the database holds.
A dry run (``import_folder(..., dry_run=True)``) is the same import, every statement included,
in a transaction that is then rolled back: its counts are exactly what the import would do, and
a rule only the database checks (``broken_rule``) shows up in it too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.accounts.passwords import hash_password, verify_password
from data.accounts.signin import landing_account_id
from data.audit.entries import Action, Actor, record
from data.core.models import (
    Account,
    Operator,
    Role,
    User,
)
from data.exchange.format import BATCH_SIZE, COST_COLUMNS, KEYS, TABLE_COLUMNS, email_key
from data.exchange.validation import ParsedFile, ParsedRow, read_folder
from data.pricing.tariffs import Versions, price_sessions, price_unpriced_sessions
from data.uptime.outages import OutageKind
from data.uptime.stored import refresh_stored_months

# Up to this many keys, existing rows are fetched with ``IN (...)`` lookups; above it, one
# streamed scan of the table is cheaper than many lookups.
IN_LOOKUP_LIMIT = 5000
_IN_CHUNK = 500
# The PostgreSQL advisory lock key every import takes before it writes ("PLRS").
_IMPORT_LOCK_KEY = 0x504C5253


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
    adjust: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Insert new rows and update the ones that differ; rows are database-column dicts.
    ``adjust(row, old)`` may change a row that exists before it is compared."""
    composite = len(key_cols) > 1

    def key_of(row: dict[str, Any]) -> Any:
        return tuple(row[c] for c in key_cols) if composite else row[key_cols[0]]

    existing = _existing_rows(session, table, key_cols, (key_of(r) for r in rows))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    all_cols = [c.name for c in table.columns]
    for row in rows:
        old = existing.get(key_of(row))
        if old is not None and adjust is not None:
            row = adjust(row, old)
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


def _db_row(parsed: ParsedFile, mapping: dict[str, str], row: ParsedRow) -> dict[str, Any]:
    # Only the columns in the header: an absent optional column keeps what the database has.
    return {mapping[c]: row.values[c] for c in parsed.columns}


def _import_operator(session: Session, parsed: ParsedFile, counts: FileCounts) -> None:
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
    # A new zone's local days per account are recounted by the worker (0031,
    # data/charging/account_days.py), not inside the import.


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
        email_key(r["email"]): dict(r)
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


def _import_users(session: Session, parsed: ParsedFile, counts: FileCounts) -> None:
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
                        (existing.get(email_key(r.values["email"])) or {}).get("password_hash"),
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
        old = existing.get(email_key(v["email"]))
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
    session: Session, parsed: ParsedFile, counts: FileCounts, touched_users: set[int]
) -> None:
    table: Table = Account.__table__  # type: ignore[assignment]
    user_ids = {key: u["id"] for key, u in _load_users(session).items()}
    mapping = {"account_id": "id", "role": "role", "plan_id": "plan_id", "label": "label"}
    rows = []
    for row in parsed.rows:
        db_row = {mapping[c]: row.values[c] for c in parsed.columns if c != "email"}
        db_row["user_id"] = user_ids[email_key(row.values["email"])]
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


# What a session's cost depends on: when one of these changes, a computed cost is stale.
_PRICED_FACTS = ("account_id", "charger_id", "started_at", "ended_at", "energy_kwh", "finalized")


def _session_costs(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row whose cost is given keeps it, with the version that priced it: the one of its
    tariff in force at its start (None when that tariff had none then: a cost from elsewhere).
    A row without a cost leaves the stored one alone (``_clear_stale_cost`` decides)."""
    versions = Versions.load(session)
    out = []
    for row in rows:
        if all(row.get(c) is None for c in COST_COLUMNS):
            row = {c: v for c, v in row.items() if c not in COST_COLUMNS}
        else:
            version = versions.in_force(row.get("tariff_id"), row["started_at"])
            row["tariff_valid_from"] = None if version is None else version.valid_from
        out.append(row)
    return out


def _clear_stale_cost(row: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A session imported without a cost whose facts changed loses its stored cost, so that it
    is computed anew (``_price``); unchanged, it keeps it and the import changes nothing."""
    if "cost_total" in row or all(old[c] == row[c] for c in _PRICED_FACTS if c in row):
        return row
    return {**row, **dict.fromkeys((*COST_COLUMNS, "tariff_valid_from"))}


def _keep_kind(row: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """An outage already in the database keeps its kind (the file has none): one the OCPP feed
    opened stays the feed's, for its bookkeeping to close."""
    return {c: v for c, v in row.items() if c != "kind"}


def _price(session: Session, files: dict[str, ParsedFile], report: ImportReport) -> None:
    """Sessions with an empty cost are priced by the rule; when tariffs, the default, plans or
    accounts changed, so is every finalized session a tariff now covers without a cost yet."""
    changed = {
        name
        for name in ("tariffs", "operator", "plans", "accounts")
        if name in files
        and (report.files[f"{name}.csv"].added or report.files[f"{name}.csv"].updated)
    }
    if changed:
        price_unpriced_sessions(session)
    elif "sessions" in files:
        price_sessions(session, (r.values["session_id"] for r in files["sessions"].rows))


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


def import_folder(
    session: Session,
    folder: Path,
    *,
    actor: Actor,
    now: datetime,
    source: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Validate every file of ``folder`` and, only if all of it is valid, upsert it; recorded in
    the audit log as ``actor``'s, with ``source`` (what was imported: the folder, by default).

    Raises ``ExchangeError`` listing every problem; then nothing has been written (and the
    caller's transaction should be rolled back as usual). A rule only the database checks
    raises the database's ``IntegrityError`` (see ``broken_rule``).

    ``dry_run``: run every statement of the import, then roll the session's transaction back,
    so the report says exactly what the import would do and nothing is written (the rollback
    also ends the session's transaction: a caller starts a new one for anything else)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(str(folder))
    files = read_folder(session, folder)
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
            table, mapping = TABLE_COLUMNS[name]
            key_cols = [mapping[c] for c in KEYS[name]]
            rows = [_db_row(parsed, mapping, r) for r in parsed.rows]
            adjust = None
            if name == "sessions":
                rows = _session_costs(session, rows)
                adjust = _clear_stale_cost
            elif name == "outages":
                rows = [{**row, "kind": OutageKind.imported} for row in rows]
                adjust = _keep_kind
            _upsert(session, table, key_cols, rows, counts, adjust)
            if name == "outages" and (counts.added or counts.updated):
                # Rows may move in time or between chargers: every stored month again.
                session.flush()
                refresh_stored_months(session, None, datetime.min.replace(tzinfo=UTC))
    _price(session, files, report)
    if "users" in files:
        # New users have no default yet; their ids exist only now.
        emails = {email_key(r.values["email"]) for r in files["users"].rows}
        touched_users |= {u["id"] for k, u in _load_users(session).items() if k in emails}
    _set_default_accounts(session, touched_users)
    session.flush()
    file_counts = {
        name: {"added": c.added, "updated": c.updated, "unchanged": c.unchanged}
        for name, c in report.files.items()
    }
    detail = f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged."
    imported = source or str(folder)
    record(
        session, actor, now, Action.import_loaded, "import", imported,
        after=file_counts, detail=detail,
    )  # fmt: skip
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
