"""``/export/<name>.parquet``: every CSV export as a typed Parquet file, streamed row group by row
group (constant memory whatever the row count).

The rows and columns are the CSV's (``data.exchange.exports.export_statement``), typed by the
statement's column types (``arrow_type``):

* timestamps: ``timestamp[us, tz=UTC]`` (the CSV's ``...Z``; microseconds as stored);
* numbers with a fixed scale (energy kWh, money, minutes): ``decimal128(precision, scale)`` of
  the schema's column, so energy (3 decimals) and money (stored with 3 decimals, enough for every
  ISO 4217 minor unit) are exact: a decimal, never a float;
* integers: ``int64``; booleans: ``bool``; dates: ``date32``; enums and text: ``string``.

Text is as stored: the CSV's spreadsheet-safety quote (``csv_safety``) is for spreadsheets
reading CSV and is not written here. An empty cell of the CSV is NULL here ('' and NULL are one
thing in the exchange format).

How: the database formats the rows as CSV text, as for the CSV export (PostgreSQL: ``COPY`` in
large blocks, ``export_stream.copy_blocks``; SQLite: the chunked cursor), and Arrow's streaming
CSV reader parses them with the schema into record batches; ``ROW_GROUP_ROWS`` rows make one row
group, written by ``pyarrow.parquet.ParquetWriter`` to a sink whose bytes are handed on as soon
as the row group is written. At most one row group and one CSV block are held at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, Numeric, Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from data.core.db import Database
from data.exchange.export_stream import (
    EXPORT_STATEMENT_TIMEOUT_MS,
    bound_export_statement,
    copy_blocks,
    copy_sql,
    csv_chunks,
)
from data.exchange.exports import EXPORT_COLUMNS, ExportFilter, export_statement
from data.exchange.format import format_value

ROW_GROUP_ROWS = 65_536  # one row group: ~10 MB of Arrow memory for the sessions file
CSV_BLOCK_BYTES = 1 << 20  # what Arrow's CSV reader parses at a time


def arrow_type(sql_type: Any) -> pa.DataType:
    """The Parquet (Arrow) type of a selected column, from its SQLAlchemy type."""
    kind = sql_type
    if isinstance(kind, TypeDecorator):  # UTCDateTime stores a DateTime
        kind = kind.impl_instance
    if isinstance(kind, Enum):
        return pa.string()
    if isinstance(kind, DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, Boolean):
        return pa.bool_()
    if isinstance(kind, Integer):
        return pa.int64()
    if isinstance(kind, Numeric):
        scale = kind.scale if kind.scale is not None else 3
        return pa.decimal128(kind.precision or 38, scale)
    if isinstance(kind, Date):
        return pa.date32()
    return pa.string()  # String, Text, and NULL (the users file's password)


def export_schema(name: str, stmt: Select[Any] | None) -> pa.Schema:
    """The file's schema: the export's column names, typed by its SELECT (all text when the
    export is empty without asking)."""
    columns = EXPORT_COLUMNS[name]
    if stmt is None:
        return pa.schema([(c, pa.string()) for c in columns])
    types = [arrow_type(c.type) for c in stmt.selected_columns]
    return pa.schema(list(zip(columns, types, strict=True)))


class _ChunkReader(io.RawIOBase):
    """An iterator of byte blocks as a readable file (for Arrow's CSV reader)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _Sink(io.RawIOBase):
    """Where ParquetWriter writes: collects the bytes until ``take`` hands them on."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        block = bytes(data)
        self._parts.append(block)
        self._position += len(block)
        return len(block)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def parquet_from_csv(
    csv_blocks: Iterable[bytes], schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS
) -> Iterator[bytes]:
    """Headerless CSV text (the exports' formatting) as a Parquet file of ``schema``, in pieces:
    the file's first bytes, then one piece per row group as it is written, then the footer."""
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="snappy")
    chunks = iter(csv_blocks)
    try:
        first = next(chunks, b"")
        if first:
            reader = pa_csv.open_csv(
                _ChunkReader(_prepend(first, chunks)),
                read_options=pa_csv.ReadOptions(
                    column_names=schema.names, block_size=CSV_BLOCK_BYTES, use_threads=False
                ),
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    column_types=schema,
                    strings_can_be_null=True,
                    true_values=["true"],
                    false_values=["false"],
                ),
            )
            batches: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                while rows >= row_group_rows:
                    table = pa.Table.from_batches(batches, schema)
                    writer.write_table(table.slice(0, row_group_rows))
                    rest = table.slice(row_group_rows)
                    batches = rest.to_batches()
                    rows = rest.num_rows
                    yield sink.take()
            if rows:
                writer.write_table(pa.Table.from_batches(batches, schema))
        writer.close()
        yield sink.take()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _csv_rows(session: Session, stmt: Select[Any]) -> Iterator[bytes]:
    # SQLite: the cursor path's formatting without the spreadsheet-safety quote.
    rows = session.execute(stmt.execution_options(yield_per=5_000))
    yield from csv_chunks(b"", ([format_value(v) for v in row] for row in rows))


def parquet_chunks(
    db: Database,
    name: str,
    flt: ExportFilter,
    tz: ZoneInfo,
    *,
    timeout_ms: int = EXPORT_STATEMENT_TIMEOUT_MS,
) -> Iterator[bytes]:
    """``/export/<name>.parquet``: the rows of ``<name>.csv``, typed, in pieces (the first once
    the database has answered); the database session lives as long as the iteration."""
    with db.sessions() as session, session.begin():
        stmt = export_statement(session, name, flt, tz)
        schema = export_schema(name, stmt)
        if stmt is None:
            yield from parquet_from_csv((), schema)
            return
        if db.dialect == "postgresql":
            sql, params = copy_sql(session, stmt, safe=False)
            bound_export_statement(session, timeout_ms)
            session.execute(select(func.set_config("datestyle", "ISO, YMD", True)))
            blocks: Iterator[bytes] = copy_blocks(session, sql, params)
        else:
            blocks = _csv_rows(session, stmt)
        yield from parquet_from_csv(blocks, schema)
