"""``/export/<name>.parquet`` on SQLite and PostgreSQL (the scenario of ``test_exports``): the same
rows as the CSV, typed; the CSV's filters, access rules and API tokens; written row group by row
group as the rows stream (constant memory)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flask.testing import FlaskClient

import data.exchange.export_parquet as export_parquet
from data.accounts.tokens import create_token
from data.exchange.csv_safety import restore_cell
from data.exchange.export_parquet import parquet_from_csv
from data.exchange.exports import EXPORT_COLUMNS, EXPORTS
from data.exchange.format import format_value
from tests.support.audit import CLI
from tests.support.export_scenario import (
    ADMIN_ONLY,
    OLGA,
    Scenario,
    app_db,
    get_csv,
)

SESSION_TYPES = {
    "session_id": pa.string(),
    "account_id": pa.string(),
    "started_at": pa.timestamp("us", tz="UTC"),
    "ended_at": pa.timestamp("us", tz="UTC"),
    "energy_kwh": pa.decimal128(12, 3),
    "finalized": pa.bool_(),
    "cost_total": pa.decimal128(14, 3),
}


def get_parquet(client: FlaskClient, path: str, **kw: Any) -> pa.Table:
    response = client.get(path, **kw)
    assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/vnd.apache.parquet"
    return pq.read_table(io.BytesIO(response.get_data()))


def csv_cells(body: str) -> tuple[list[str], list[list[str]]]:
    """The CSV's header and rows, each cell as the import reads it (without the safety ``'``)."""
    header, *rows = list(csv.reader(io.StringIO(body, newline="")))
    return header, [[restore_cell(c) for c in row] for row in rows]


def as_csv_text(value: Any) -> str:
    return value.isoformat() if type(value) is date else format_value(value)


def test_every_export_has_the_csv_rows_typed(scenario: Scenario) -> None:  # noqa: F811
    for name in EXPORTS:
        header, rows = csv_cells(get_csv(scenario.olga, f"/export/{name}.csv"))
        table = get_parquet(scenario.olga, f"/export/{name}.parquet")
        assert table.column_names == header == EXPORT_COLUMNS[name], name
        parquet_rows = [[as_csv_text(v) for v in row.values()] for row in table.to_pylist()]
        assert parquet_rows == rows, name
    # Something of everything was compared: formulas as stored, times, numbers, booleans.
    sessions = get_parquet(scenario.olga, "/export/sessions.parquet").to_pylist()
    assert any(r["session_id"] == "=s-alice-2" and r["finalized"] is False for r in sessions)


def test_columns_are_typed(scenario: Scenario) -> None:  # noqa: F811
    schema = get_parquet(scenario.olga, "/export/sessions.parquet").schema
    for column, kind in SESSION_TYPES.items():
        assert schema.field(column).type == kind, column
    rows = get_parquet(scenario.olga, "/export/sessions.parquet?account=acc-zeb").to_pylist()
    live = next(r for r in rows if r["session_id"] == "s-zeb-live")
    assert live["energy_kwh"] == Decimal("58.300") and live["ended_at"] is None
    assert isinstance(live["started_at"], datetime) and live["started_at"].utcoffset() is not None
    daily = get_parquet(scenario.olga, "/export/usage-daily.parquet").schema
    assert daily.field("day").type == pa.date32() and daily.field("sessions").type == pa.int64()


def test_filters_are_the_csvs(scenario: Scenario) -> None:  # noqa: F811
    for query in ("account=acc-zeb", "from=2026-03-29&to=2026-03-29", "status=in_progress"):
        _, rows = csv_cells(get_csv(scenario.olga, f"/export/sessions.csv?{query}"))
        table = get_parquet(scenario.olga, f"/export/sessions.parquet?{query}")
        assert table.column("session_id").to_pylist() == [r[0] for r in rows], query
    zeb = get_parquet(scenario.olga, "/export/sessions.parquet?account=acc-zeb")
    assert sorted(zeb.column("session_id").to_pylist()) == ["s-zeb-1", "s-zeb-dst", "s-zeb-live"]
    bad = scenario.olga.get("/export/sessions.parquet?status=nonsense")
    assert bad.status_code == 400


def test_customers_get_their_own_rows_and_nothing_else(scenario: Scenario) -> None:  # noqa: F811
    own = get_parquet(scenario.alice, "/export/sessions.parquet")
    assert own.num_rows > 0 and set(own.column("account_id").to_pylist()) == {"acc-alice"}
    assert scenario.alice.get("/export/sessions.parquet?account=acc-zeb").status_code == 403
    for name in [*ADMIN_ONLY, "no-such-export"]:
        response = scenario.alice.get(f"/export/{name}.parquet")
        assert response.status_code == 403, name
        assert b"acc-zeb" not in response.get_data()
    anonymous = scenario.app.test_client()
    for name in EXPORTS:
        response = anonymous.get(f"/export/{name}.parquet")
        assert response.status_code == 401, name
        assert b"acc-" not in response.get_data()


def test_an_api_token_gets_the_file_and_a_bad_one_does_not(scenario: Scenario) -> None:  # noqa: F811
    with app_db(scenario.app).session() as s:
        token = create_token(s, OLGA, datetime.now().astimezone(), name="parquet", actor=CLI)
    anonymous = scenario.app.test_client()
    headers = {"Authorization": f"Bearer {token.secret}"}
    table = get_parquet(anonymous, "/export/chargers.parquet", headers=headers)
    assert "=HYPERLINK(1)" in table.column("charger_id").to_pylist()  # as stored, no "'"
    bad = {"Authorization": "Bearer pex_" + "x" * 43}
    assert anonymous.get("/export/chargers.parquet", headers=bad).status_code == 401


def test_the_writer_hands_on_each_row_group_as_the_rows_come(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Data level, no timing: each row group's bytes leave while the rows are still being read,
    # so what is held is a row group and the reader's read-ahead, whatever the row count.
    monkeypatch.setattr(export_parquet, "CSV_BLOCK_BYTES", 8 * 1024)  # about one source block
    # Arrow's CSV reader reads ahead a fixed number of reads (32 measured): a lag in blocks that
    # does not grow with the row count.
    lag = 40
    schema = pa.schema([("n", pa.int64()), ("label", pa.string())])
    rows_per_block, blocks, group = 500, 400, 2_000
    read = 0

    def source() -> Any:
        nonlocal read
        for b in range(blocks):
            read += 1
            start = b * rows_per_block
            yield "".join(f"{i},row {i}\n" for i in range(start, start + rows_per_block)).encode()

    pieces: list[tuple[int, bytes]] = []
    for piece in parquet_from_csv(source(), schema, row_group_rows=group):
        pieces.append((read, piece))  # how many CSV blocks had been read when it came
    total = blocks * rows_per_block
    groups = total // group
    file = pq.ParquetFile(io.BytesIO(b"".join(p for _, p in pieces)))
    assert file.metadata.num_rows == total and file.metadata.num_row_groups == groups
    assert file.read().column("label").to_pylist()[-1] == f"row {total - 1}"
    # One piece per row group, each out once its own rows were read, a bounded lag ahead;
    # then the footer.
    assert len(pieces) == groups + 1
    for index, (read_then, _) in enumerate(pieces[:-1]):
        assert read_then <= (index + 1) * group // rows_per_block + lag, index
    largest = max(len(p) for _, p in pieces)
    assert largest < sum(len(p) for _, p in pieces) / 5  # never the whole file at once
