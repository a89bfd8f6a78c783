"""The data-exchange folder format: import, export, round trip and rejected folders.

Every test runs on SQLite and on PostgreSQL through the ``db`` fixture.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

import data.exchange.importer as importer
from data.accounts.passwords import needs_rehash, verify_password
from data.core.db import Database
from data.core.models import (
    Account,
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorType,
    IdTag,
    Operator,
    Plan,
    Reservation,
    ReservationStatus,
    Role,
    User,
    Visibility,
)
from data.exchange.format import (
    COLUMNS,
    format_bool,
    format_decimal,
    format_timestamp,
    format_value,
)
from data.exchange.validation import ExchangeError, RowError
from tests.support.databases import truncate_postgres
from tests.support.exchange import (
    EXPECTED,
    SAMPLE,
    SAMPLE_ROWS,
    copy_sample,
    read_rows,
    run_export,
    run_import,
    set_cell,
    table_counts,
    write_rows,
)


def errors_of(excinfo: pytest.ExceptionInfo[ExchangeError]) -> list[tuple[str, int, str]]:
    return [(e.file, e.line, e.column) for e in excinfo.value.errors]


# --- Import ------------------------------------------------------------------------------------


def test_import_sample_counts_and_values(db: Database) -> None:
    report = run_import(db, SAMPLE)

    assert {name: c.added for name, c in report.files.items()} == SAMPLE_ROWS
    assert report.updated == 0 and report.unchanged == 0
    assert table_counts(db) == {
        "tariffs": 3,
        "operator": 1,
        "plans": 2,
        "users": 3,
        "accounts": 4,
        "chargers": 5,
        "charger_access": 1,
        "sessions": 12,
        "id_tags": 3,
        "reservations": 5,
        "outages": 5,
    }
    with db.session() as s:
        op = s.get(Operator, 1)
        assert op is not None
        assert (op.timezone, op.currency, op.support_email) == (
            "Europe/Berlin",
            "EUR",
            "help@sample.example",
        )

        # 2026-11-20T23:10:00+01:00 is 22:10 UTC; the session spans local midnight.
        s7 = s.get(ChargingSession, "s-0007")
        assert s7 is not None
        assert s7.started_at == datetime(2026, 11, 20, 22, 10, tzinfo=UTC)
        assert s7.started_at.utcoffset() is not None and s7.started_at.utcoffset().seconds == 0
        assert s7.ended_at == datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
        assert s7.energy_kwh == Decimal("12.5") and s7.finalized is True
        # +02:00 (summer time) and fractional seconds.
        s1 = s.get(ChargingSession, "s-0001")
        assert s1 is not None and s1.started_at == datetime(2026, 10, 2, 5, 15, tzinfo=UTC)
        assert s1.energy_kwh == Decimal("32.125")
        s9 = s.get(ChargingSession, "s-0009")
        assert s9 is not None
        assert s9.started_at == datetime(2026, 11, 23, 18, 0, 0, 250000, tzinfo=UTC)
        # In progress: empty ended_at is NULL.
        s12 = s.get(ChargingSession, "s-0012")
        assert s12 is not None and s12.ended_at is None and s12.energy_kwh == Decimal("3.4")

        type2 = s.get(Charger, "ch-type2-1")
        assert type2 is not None
        assert type2.connector_type == ConnectorType.type2
        assert type2.visibility == Visibility.restricted
        assert type2.max_power_kw == Decimal("22")
        nacs = s.get(Charger, "ch-nacs-1")
        assert nacs is not None and nacs.last_seen_at is None
        assert {c for (c,) in s.execute(select(Charger.connector_type))} == set(ConnectorType)
        assert s.get(ChargerAccess, ("acc-ben", "ch-type2-1")) is not None
        assert s.get(Reservation, "r-0003").status == ReservationStatus.active  # type: ignore[union-attr]
        assert s.get(IdTag, "RFID-0002").account_id == "acc-carla"  # type: ignore[union-attr]
        assert s.get(Plan, "plan-plus").allowance_kwh == Decimal("400.5")  # type: ignore[union-attr]

        users = {u.email: u for u in s.scalars(select(User))}
        olivia = users["olivia@polaris.example"]
        assert olivia.password_hash is not None and olivia.password_hash.startswith("$argon2id$")
        assert verify_password(olivia.password_hash, "correct horse battery")
        assert not needs_rehash(olivia.password_hash)  # the app's own argon2 parameters
        assert not verify_password(olivia.password_hash, "correct horse battery ")
        assert verify_password(users["ben@example.com"].password_hash, "ben-secret-42")
        carla = users["carla@example.com"]
        assert carla.password_hash is None and carla.display_name == "Carla Nopass, Jr."
        # Olivia holds acc-hq (admin) and acc-olivia: sign-in starts in the admin account
        # (data.accounts.signin.landing_account_id; tests/test_landing.py tries both row orders).
        assert {a.id: a.role for a in olivia.accounts} == {
            "acc-hq": Role.admin,
            "acc-olivia": Role.customer,
        }
        assert olivia.default_account_id == "acc-hq"
        assert users["ben@example.com"].default_account_id == "acc-ben"
        assert s.get(Account, "acc-hq").plan_id is None  # type: ignore[union-attr]
        assert s.get(Account, "acc-ben").label is None  # type: ignore[union-attr]


@pytest.mark.usefixtures("fast_hashing")
def test_import_twice_changes_nothing(db: Database) -> None:
    run_import(db, SAMPLE)
    with db.session() as s:
        hashes = dict(s.execute(select(User.email, User.password_hash)).all())
    counts = table_counts(db)

    again = run_import(db, SAMPLE)

    assert again.added == 0 and again.updated == 0
    assert {name: c.unchanged for name, c in again.files.items()} == SAMPLE_ROWS
    assert table_counts(db) == counts
    with db.session() as s:
        # Not even re-hashed: the stored hash verified against the file's password.
        assert dict(s.execute(select(User.email, User.password_hash)).all()) == hashes


@pytest.mark.usefixtures("fast_hashing")
def test_updates_in_place_and_passwords(db: Database, tmp_path: Path) -> None:
    run_import(db, SAMPLE)
    with db.session() as s:
        olivia_id, olivia_hash = s.execute(
            select(User.id, User.password_hash).where(User.email == "olivia@polaris.example")
        ).one()
    folder = copy_sample(tmp_path)
    set_cell(folder, "sessions.csv", "s-0012", "ended_at", "2026-11-25T09:00:00+01:00")
    set_cell(folder, "sessions.csv", "s-0012", "energy_kwh", "11.75")
    set_cell(folder, "chargers.csv", "ch-nacs-1", "visibility", "restricted")
    set_cell(folder, "id_tags.csv", "RFID-0002", "account_id", "acc-ben")
    set_cell(folder, "users.csv", "ben@example.com", "password", "new-secret-99")
    # Quotes, a line break, a tab, a backslash and non-ASCII survive both databases' loaders.
    odd_label = 'Ben\'s "van"\n\\ tab\t€ Zürich'
    set_cell(folder, "accounts.csv", "acc-ben", "label", odd_label)
    # Sign-in compares emails case-insensitively, so this is Olivia, without a password.
    set_cell(folder, "users.csv", "olivia@polaris.example", "email", "Olivia@Polaris.example")
    set_cell(folder, "users.csv", "Olivia@Polaris.example", "password", "")

    report = run_import(db, folder)

    changed = {name: (c.added, c.updated) for name, c in report.files.items()}
    assert changed["sessions.csv"] == (0, 1)
    assert changed["chargers.csv"] == (0, 1)
    assert changed["id_tags.csv"] == (0, 1)
    assert changed["users.csv"] == (0, 2)
    assert changed["accounts.csv"] == (0, 1)
    assert changed["plans.csv"] == (0, 0)
    assert table_counts(db)["users"] == 3
    with db.session() as s:
        s12 = s.get(ChargingSession, "s-0012")
        assert s12 is not None
        assert s12.ended_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
        assert s12.energy_kwh == Decimal("11.75")
        assert s.get(IdTag, "RFID-0002").account_id == "acc-ben"  # type: ignore[union-attr]
        assert s.get(Account, "acc-ben").label == odd_label  # type: ignore[union-attr]
        ben = s.scalars(select(User).where(User.email == "ben@example.com")).one()
        assert verify_password(ben.password_hash, "new-secret-99")
        assert not verify_password(ben.password_hash, "ben-secret-42")
        olivia = s.get(User, olivia_id)
        assert olivia is not None and olivia.email == "Olivia@Polaris.example"
        assert olivia.password_hash == olivia_hash  # an empty password never clears a hash


@pytest.mark.usefixtures("fast_hashing")
def test_users_without_password_column_keep_their_hash(db: Database, tmp_path: Path) -> None:
    run_import(db, SAMPLE)
    folder = tmp_path / "users_only"
    folder.mkdir()
    (folder / "users.csv").write_text("display_name,email\nBen D.,ben@example.com\n")

    report = run_import(db, folder)

    assert (report.files["users.csv"].updated, report.files["users.csv"].added) == (1, 0)
    with db.session() as s:
        ben = s.scalars(select(User).where(User.email == "ben@example.com")).one()
        assert ben.display_name == "Ben D."
        assert verify_password(ben.password_hash, "ben-secret-42")


@pytest.mark.usefixtures("fast_hashing")
def test_references_resolve_to_rows_already_in_the_database(db: Database, tmp_path: Path) -> None:
    run_import(db, SAMPLE)
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "sessions.csv").write_text(
        "finalized,energy_kwh,ended_at,started_at,charger_id,account_id,session_id\n"
        "false,1.5,,2026-11-25T10:00:00Z,ch-nacs-1,acc-carla,s-0100\n"
    )
    (folder / "accounts.csv").write_text(
        "account_id,email,role\nacc-ben-2,BEN@example.com,customer\n"
    )

    report = run_import(db, folder)

    assert report.files["sessions.csv"].added == 1
    assert report.files["accounts.csv"].added == 1
    with db.session() as s:
        ben = s.scalars(select(User).where(User.email == "ben@example.com")).one()
        assert sorted(a.id for a in ben.accounts) == ["acc-ben", "acc-ben-2"]
        assert ben.default_account_id == "acc-ben"  # already set: kept
        assert s.get(ChargingSession, "s-0100").ended_at is None  # type: ignore[union-attr]


@pytest.mark.usefixtures("fast_hashing")
def test_batched_writes_and_table_scans(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny batches and lookup limits: the paths that 100k-row imports take, on the sample.
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    monkeypatch.setattr(importer, "IN_LOOKUP_LIMIT", 3)
    run_import(db, SAMPLE)
    folder = copy_sample(tmp_path)
    for sid, kwh in (("s-0001", "1"), ("s-0002", "2"), ("s-0003", "3.001")):
        set_cell(folder, "sessions.csv", sid, "energy_kwh", kwh)

    report = run_import(db, folder)

    assert report.files["sessions.csv"].updated == 3
    assert report.files["sessions.csv"].unchanged == 9
    assert table_counts(db)["sessions"] == 12
    with db.session() as s:
        energy = dict(s.execute(select(ChargingSession.id, ChargingSession.energy_kwh)).all())
    assert energy["s-0003"] == Decimal("3.001") and energy["s-0002"] == Decimal("2")
    assert energy["s-0004"] == Decimal("30")


# --- Export and round trip --------------------------------------------------------------------


@pytest.mark.usefixtures("fast_hashing")
def test_export_matches_expected_files(db: Database, tmp_path: Path) -> None:
    run_import(db, SAMPLE)

    written = run_export(db, tmp_path / "out")

    assert written == SAMPLE_ROWS
    for name in SAMPLE_ROWS:
        assert (tmp_path / "out" / name).read_text() == (EXPECTED / name).read_text(), name
    sessions = (tmp_path / "out" / "sessions.csv").read_text()
    assert (
        "s-0007,acc-ben,ch-type2-1,2026-11-20T22:10:00Z,2026-11-21T00:05:00Z,12.5,true" in sessions
    )
    assert "2026-11-23T18:00:00.25Z" in sessions and ",0.125,true,tariff-adhoc," in sessions
    assert ",,3.4,false,,,,,,,\n" in sessions  # in progress: empty ended_at, no cost
    # The helpers the HTTP export reuses.
    assert format_decimal(Decimal("1000.000")) == "1000"
    assert format_decimal(0.1 + 0.2, places=3) == "0.3"
    assert format_timestamp(datetime.fromisoformat("2026-11-24T09:30:00+01:00")) == (
        "2026-11-24T08:30:00Z"
    )
    assert format_bool(False) == "false" and format_value(None) == ""
    assert COLUMNS["sessions"] == read_rows(EXPECTED / "sessions.csv")[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(SAMPLE_ROWS)


@pytest.mark.usefixtures("fast_hashing")
def test_export_of_an_empty_database_writes_headers(db: Database, tmp_path: Path) -> None:
    written = run_export(db, tmp_path / "empty")

    assert set(written.values()) == {0}
    assert (tmp_path / "empty" / "access.csv").read_text() == "account_id,charger_id\n"
    # ...and importing that folder is a no-op, not an error.
    report = run_import(db, tmp_path / "empty")
    assert report.added == report.updated == report.unchanged == 0


@pytest.mark.usefixtures("fast_hashing")
def test_round_trip_is_byte_identical(
    db: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    run_import(db, SAMPLE)
    first = tmp_path / "first"
    run_export(db, first)

    if db.dialect == "sqlite":
        second_path = tmp_path / "second.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), second_path)
        target = Database(f"sqlite:///{second_path}")
    else:
        truncate_postgres(db)
        assert sum(table_counts(db).values()) == 0
        target = db
    try:
        report = run_import(target, first)
        assert report.added == sum(SAMPLE_ROWS.values()) and report.updated == 0
        second = tmp_path / "second"
        run_export(target, second)
    finally:
        if target is not db:
            target.engine.dispose()

    for name in SAMPLE_ROWS:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


# --- Rejected folders ----------------------------------------------------------------------------

BAD_CELLS = [
    # (file, row key, column, bad value, expected line, words in the message)
    ("chargers.csv", "ch-nacs-1", "connector_type", "Type2", 5, "not one of"),
    ("chargers.csv", "ch-type2-1", "connector_type", "type 2", 6, "did you mean 'Type 2'"),
    ("sessions.csv", "s-0004", "started_at", "2026-11-05T12:00:00", 5, "no UTC offset"),
    ("sessions.csv", "s-0005", "ended_at", "2026-11-10T17:00:00+01:00", 6, "ends before it starts"),
    ("reservations.csv", "r-0002", "account_id", "acc-nobody", 3, "unknown account"),
    ("reservations.csv", "r-0004", "ends_at", "2026-11-26T07:30:00+01:00", 5, "after starts_at"),
    ("sessions.csv", "s-0009", "finalized", "yes", 10, "true or false"),
    ("sessions.csv", "s-0010", "energy_kwh", "-3.5", 11, "negative"),
    ("sessions.csv", "s-0011", "energy_kwh", "1.2345", 12, "decimal places"),
    ("sessions.csv", "s-0012", "charger_id", "ch-gone", 13, "unknown charger"),
    ("chargers.csv", "ch-ccs-1", "max_power_kw", "0", 2, "greater than 0"),
    ("operator.csv", "Polaris Express Demo", "timezone", "Europe/Berlinn", 2, "IANA"),
    ("operator.csv", "Polaris Express Demo", "currency", "eur", 2, "ISO 4217"),
    ("users.csv", "carla@example.com", "email", "carla.example.com", 4, "not an email"),
    ("accounts.csv", "acc-carla", "plan_id", "plan-gold", 4, "unknown plan"),
    ("accounts.csv", "acc-ben", "role", "", 3, "a value is required"),
    ("id_tags.csv", "RFID-0001", "account_id", "acc-nobody", 3, "unknown account"),
    # Prices and costs.
    ("tariffs.csv", "tariff-adhoc", "energy_price_per_kwh", "-0.59", 3, "negative"),
    ("tariffs.csv", "tariff-adhoc", "currency", "USD", 3, "differs from the operator's curr"),
    ("tariffs.csv", "tariff-adhoc", "vat_percent", "119", 3, "percentage from 0 to 100"),
    ("tariffs.csv", "tariff-adhoc", "time_free_minutes", "1.5", 3, "whole number"),
    ("plans.csv", "plan-plus", "tariff_id", "tariff-gold", 3, "unknown tariff 'tariff-gold'"),
    ("operator.csv", "Polaris Express Demo", "default_tariff_id", "t-x", 2, "unknown tariff"),
    ("sessions.csv", "s-0004", "tariff_id", "tariff-x", 5, "not in tariffs.csv"),
    ("sessions.csv", "s-0004", "currency", "USD", 5, "differs from the operator's currency"),
    ("sessions.csv", "s-0004", "cost_total", "20.49", 5, "is not cost_energy + cost_time"),
    ("sessions.csv", "s-0004", "vat_amount", "", 5, "required when the session's cost is"),
    ("sessions.csv", "s-0004", "cost_fee", "-0.5", 5, "negative"),
    ("sessions.csv", "s-0004", "finalized", "false", 5, "only a finished, finalized"),
    # Outages.
    ("outages.csv", "out-0002", "charger_id", "ch-gone", 3, "unknown charger 'ch-gone'"),
    ("outages.csv", "out-0002", "cause", "power cut", 3, "is not one of: unknown, utility"),
    ("outages.csv", "out-0003", "cause", "Vandalism", 4, "did you mean 'vandalism'"),
    ("outages.csv", "out-0002", "ended_at", "2026-03-29T02:00:00Z", 3, "ends before it starts"),
    ("outages.csv", "out-0002", "started_at", "2026-03-29T02:30:00", 3, "no UTC offset"),
    ("outages.csv", "out-0005", "excluded", "yes", 6, "true or false"),
    ("outages.csv", "out-0005", "excluded", "", 6, "a value is required"),
    ("outages.csv", "out-0001", "note", "x" * 2001, 2, "longer than 2000 characters"),
]


@pytest.mark.parametrize(
    ("file", "key", "column", "value", "line", "words"),
    BAD_CELLS,
    ids=[f"{c[0]}-{c[2]}-{c[3][:20] or 'empty'}" for c in BAD_CELLS],
)
@pytest.mark.usefixtures("fast_hashing")
def test_bad_cell_is_reported_and_nothing_is_written(
    db: Database,
    tmp_path: Path,
    file: str,
    key: str,
    column: str,
    value: str,
    line: int,
    words: str,
) -> None:
    run_import(db, SAMPLE)
    before = table_counts(db)
    folder = copy_sample(tmp_path)
    # Valid changes that an import which is not all-or-nothing would write anyway.
    set_cell(folder, "plans.csv", "plan-basic", "name", "Basic 2027")
    set_cell(folder, "id_tags.csv", "APP-olivia", "account_id", "acc-hq")
    with (folder / "plans.csv").open("a") as fh:
        fh.write("plan-new,New,10,EUR,\n")
    set_cell(folder, file, key, column, value)
    if (file, column, value) == ("sessions.csv", "finalized", "false"):
        column = "cost_total"  # the cost is refused, not the flag

    with pytest.raises(ExchangeError) as excinfo:
        run_import(db, folder)

    assert errors_of(excinfo) == [(file, line, column)]
    assert words in excinfo.value.errors[0].message
    assert table_counts(db) == before
    with db.session() as s:
        assert s.get(Plan, "plan-basic").name == "Basic"  # type: ignore[union-attr]
        assert s.get(IdTag, "APP-olivia").account_id == "acc-olivia"  # type: ignore[union-attr]


@pytest.mark.usefixtures("fast_hashing")
def test_unknown_and_missing_columns(db: Database, tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    rows = read_rows(folder / "chargers.csv")
    write_rows(
        folder / "chargers.csv", [[*r, "blue" if i else "colour"] for i, r in enumerate(rows)]
    )
    rows = read_rows(folder / "sessions.csv")
    drop = rows[0].index("finalized")
    write_rows(folder / "sessions.csv", [r[:drop] + r[drop + 1 :] for r in rows])

    with pytest.raises(ExchangeError) as excinfo:
        run_import(db, folder)

    assert errors_of(excinfo) == [
        ("chargers.csv", 1, "colour"),
        ("sessions.csv", 1, "finalized"),
    ]
    assert "unknown column" in excinfo.value.errors[0].message
    assert "missing" in excinfo.value.errors[1].message
    assert str(excinfo.value.errors[0]).startswith("chargers.csv:1: colour: unknown column")
    assert sum(table_counts(db).values()) == 0


@pytest.mark.usefixtures("fast_hashing")
def test_line_numbers_are_physical_lines(db: Database, tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    # A quoted label over two lines: the row after it starts on line 5, not 4.
    set_cell(folder, "accounts.csv", "acc-ben", "label", "Ben's\nvan")
    set_cell(folder, "accounts.csv", "acc-carla", "role", "driver")
    # Blank lines are skipped but still counted.
    text = (folder / "id_tags.csv").read_text()
    (folder / "id_tags.csv").write_text(text.replace("\n", "\n\n", 1) + "RFID-0009,\n")

    with pytest.raises(ExchangeError) as excinfo:
        run_import(db, folder)

    assert errors_of(excinfo) == [("accounts.csv", 5, "role"), ("id_tags.csv", 6, "account_id")]


@pytest.mark.usefixtures("fast_hashing")
def test_text_that_is_not_utf8(db: Database, tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    data = (folder / "chargers.csv").read_bytes()
    (folder / "chargers.csv").write_bytes(
        data.replace(b"Visitor Lot", "Zürich Lot".encode("latin-1"))
    )

    with pytest.raises(ExchangeError) as excinfo:
        run_import(db, folder)

    assert errors_of(excinfo) == [("chargers.csv", 4, "")]
    assert "UTF-8" in excinfo.value.errors[0].message


@pytest.mark.usefixtures("fast_hashing")
def test_folder_level_errors(db: Database, tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    shutil.copy(folder / "sessions.csv", folder / "session.csv")  # a typo must not be ignored
    with (folder / "operator.csv").open("a") as fh:
        fh.write("Second Operator,,UTC,USD,\n")
    with (folder / "sessions.csv").open("a") as fh:
        fh.write("s-0003,acc-ben,ch-ccs-1,2026-11-25T10:00:00Z,,1,false,,,,,,,\n")
        fh.write("s-0013,acc-ben,ch-ccs-1\n")
    (folder / "README.txt").write_text("not a CSV: ignored")

    with pytest.raises(ExchangeError) as excinfo:
        run_import(db, folder)

    assert errors_of(excinfo) == [
        ("session.csv", 0, ""),
        ("operator.csv", 3, ""),
        ("sessions.csv", 14, "session_id"),
        ("sessions.csv", 15, ""),
    ]
    messages = [e.message for e in excinfo.value.errors]
    assert "unknown file" in messages[0]
    assert "exactly one row" in messages[1]
    assert messages[2] == "duplicate of line 4"
    assert "3 cells" in messages[3]
    assert sum(table_counts(db).values()) == 0


@pytest.mark.usefixtures("fast_hashing")
def test_duplicate_emails_differing_in_case(db: Database, tmp_path: Path) -> None:
    folder = copy_sample(tmp_path)
    with (folder / "users.csv").open("a") as fh:
        fh.write("BEN@example.com,Ben Again,\n")

    with pytest.raises(ExchangeError) as excinfo:
        run_import(db, folder)

    assert errors_of(excinfo) == [("users.csv", 5, "email")]
    assert excinfo.value.errors[0] == RowError("users.csv", 5, "email", "duplicate of line 3")


# --- CLI ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fast_hashing")
def test_cli_import_and_export(db: Database, database_url: str, tmp_path: Path) -> None:
    from app import create_app

    app = create_app(
        {"DATABASE_URL": database_url, "SECRET_KEY": "t" * 40, "DEMO": False, "TESTING": True}
    )
    runner = app.test_cli_runner()

    bad = copy_sample(tmp_path, "bad")
    set_cell(bad, "sessions.csv", "s-0008", "ended_at", "2026-11-22 10:20")
    result = runner.invoke(args=["import-data", str(bad)])
    assert result.exit_code == 1
    assert "sessions.csv:9: ended_at: '2026-11-22 10:20' has no UTC offset" in result.stderr
    assert "nothing was imported" in result.stderr
    assert sum(table_counts(db).values()) == 0

    result = runner.invoke(args=["import-data", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "sessions.csv: 12 added, 0 updated, 0 unchanged" in result.stdout
    assert "outages.csv: 5 added, 0 updated, 0 unchanged" in result.stdout
    assert table_counts(db)["sessions"] == 12

    result = runner.invoke(args=["export-data", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "sessions.csv: 12 rows" in result.stdout
    assert "outages.csv: 5 rows" in result.stdout
    assert (tmp_path / "out" / "sessions.csv").read_bytes() == (
        EXPECTED / "sessions.csv"
    ).read_bytes()
