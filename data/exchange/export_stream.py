"""Streaming an export's CSV (``export_chunks``), never holding the file.

On PostgreSQL the export's SELECT (``data.exchange.exports.export_statement``) formats every
value in SQL and runs as ``COPY (...) TO STDOUT WITH (FORMAT csv)``, read by libpq in large
blocks (``copy_blocks``), so CSV text goes to the socket as PostgreSQL wrote it; on SQLite (or
with ``method="cursor"``) a chunked cursor formats with the CLI export's
``data.exchange.format.format_value``. Both write the same bytes: values as the CLI export writes
them (ISO 8601 UTC with ``Z``, numbers without trailing zeros, ``true``/``false``),
spreadsheet-safe (``csv_safety.neutralise_cell``), quoted where PostgreSQL quotes (a field
holding ``,``, ``"``, a line feed or a carriage return),
``\\n`` line ends. The CLI export differs only for a row with a carriage return in a cell, which
it quotes whole; both read back to the same rows. ``csv_chunks`` is the chunked row writer, for
other streamed CSV files too (the fleet's command log, ``web.commands_csv``).
"""

from __future__ import annotations

import csv
import io
import logging
import typing
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    Integer,
    Numeric,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from data.core.db import Database
from data.exchange.csv_safety import FORMULA_STARTS, PLAIN_NUMBER, neutralise_cell
from data.exchange.exports import EXPORT_COLUMNS, ExportFilter, export_statement
from data.exchange.format import format_value

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024  # what one streamed piece holds (a few hundred rows)
# COPY's blocks: fewer, larger writes to the socket (about 4,800 sessions rows each).
COPY_BLOCK_BYTES = 512 * 1024
CURSOR_BATCH_ROWS = 500  # rows per fetch on the cursor path (SQLite): about one chunk
GZIP_LEVEL = 5
# PostgreSQL: an export may run longer than a page's query, but not for ever (a stalled client
# holds the connection). The app's setting EXPORT_STATEMENT_TIMEOUT_MS overrides it.
EXPORT_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000

# --- PostgreSQL: every value formatted in SQL, for COPY -------------------------------------------

_FORMULA_CODES = [ord(ch) for ch in (*FORMULA_STARTS, "'")]
# The same tests as data.exchange.csv_safety._formula_like, as PostgreSQL regular expressions.
_FORMULA_RE = "^[-" + "".join(ch for ch in FORMULA_STARTS if ch != "-") + "]"  # "-" first
_NUMBER_RE = "^" + PLAIN_NUMBER.pattern + "$"


def _pg_text(column: Any, *, safe: bool = True) -> ColumnElement[str]:
    if not safe:
        return func.nullif(column, "")  # Parquet: the text as stored; '' is NULL as in the CSV
    # First one byte-wise comparison: text from "A" on (ids, names, currencies) cannot start
    # like a formula nor be empty, and skips the rest; ascii() and the regular expressions run
    # only on the rare cell that starts with one of the characters (all below "A").
    rest = func.ltrim(column, "'")
    return case(
        (column.collate("C") >= literal("A"), column),
        (
            and_(
                func.ascii(column).in_(_FORMULA_CODES),
                rest.op("~")(_FORMULA_RE),
                rest.op("!~")(_NUMBER_RE),
            ),
            literal("'") + column,
        ),
        else_=func.nullif(column, ""),  # '' and NULL are both an empty cell, as in the CLI
    )


def _pg_formatted(column: Any, *, safe: bool = True) -> ColumnElement[Any]:
    """One selected column as the text the CLI export writes for it (``safe=False``: text
    without the spreadsheet-safety quote, for the Parquet file)."""
    kind = column.type
    if isinstance(kind, TypeDecorator):  # UTCDateTime: what it stores is a DateTime
        kind = kind.impl_instance
    if isinstance(kind, Enum):
        return cast(column, Text)
    if isinstance(kind, DateTime):
        # With DateStyle ISO (set for the COPY), a timestamp's text is format_timestamp's shape
        # (seconds always, microseconds without trailing zeros) with a space for the "T":
        # twice as fast as to_json or to_char, which dominated the export's time.
        utc = cast(func.timezone("UTC", column), Text)
        return func.replace(utc, " ", "T").op("||")("Z")
    if isinstance(kind, Boolean):
        return cast(column, Text)  # 'true' / 'false' / NULL: one cast, not two tests
    if isinstance(kind, Integer):
        return cast(column, Text)
    if isinstance(kind, Numeric):
        return cast(func.trim_scale(column), Text)  # 12.500 -> 12.5, 7.000 -> 7
    if isinstance(kind, Date):
        return func.to_char(column, "YYYY-MM-DD")
    if isinstance(kind, String):
        return _pg_text(column, safe=safe)
    return column  # NULL (the users file's password)


def copy_sql(
    session: Session, stmt: Select[Any], *, safe: bool = True
) -> tuple[str, dict[str, Any]]:
    """``COPY (<stmt with every column formatted>) TO STDOUT`` and its parameters (merged into
    the statement by psycopg on the client: COPY takes no server-side parameters)."""
    formatted = [_pg_formatted(c, safe=safe) for c in stmt.selected_columns]
    compiled = stmt.with_only_columns(*formatted, maintain_column_froms=False).compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    return f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", dict(compiled.params)


def bound_export_statement(session: Session, timeout_ms: int) -> None:
    """PostgreSQL, for the transaction of one export: a bounded statement time (a stalled
    client must not hold a connection for ever); no JIT compiling, which buys nothing for a
    streamed scan."""
    session.execute(select(func.set_config("statement_timeout", str(int(timeout_ms)), True)))
    session.execute(select(func.set_config("jit", "off", True)))


def copy_blocks(session: Session, sql: str, params: dict[str, Any]) -> Iterator[bytes]:
    """The output of ``sql`` (a ``COPY ... TO STDOUT``) in blocks of about ``COPY_BLOCK_BYTES``,
    in ``session``'s transaction.

    PostgreSQL sends one message per row; psycopg's ``Copy`` reads each through a Python
    generator, which cost more than the COPY itself (0.45-0.68 of a bare COPY's rows/s). Here
    libpq's ``PQgetCopyData`` is called in a tight loop (blocking: the app's workers are
    threads) and the rows joined into large blocks. On an early close (the client went away) the
    COPY is cancelled and drained, so the connection goes back to the pool clean."""
    # The app's PostgreSQL driver is psycopg 3.
    raw = typing.cast("psycopg.Connection[Any]", session.connection().connection.dbapi_connection)
    assert raw is not None
    import psycopg  # only on PostgreSQL
    from psycopg import pq

    query = psycopg.ClientCursor(raw).mogrify(sql, params)  # COPY takes no server parameters
    pgconn = raw.pgconn
    pgconn.send_query(query.encode(raw.info.encoding))
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        while pgconn.get_result() is not None:
            pass
        raise _copy_error(result)
    get = pgconn.get_copy_data
    parts: list[Any] = []
    size = 0
    done = False
    try:
        while True:
            nbytes, data = get(0)
            if nbytes < 0:
                break
            parts.append(data)
            size += nbytes
            if size >= COPY_BLOCK_BYTES:
                yield b"".join(parts)
                parts.clear()
                size = 0
        done = True
        if nbytes == -2:
            raise psycopg.OperationalError(pgconn.error_message.decode(errors="replace"))
        result = pgconn.get_result()
        while pgconn.get_result() is not None:
            pass
        if result is None or result.status != pq.ExecStatus.COMMAND_OK:
            raise _copy_error(result)
    finally:
        if not done:
            _cancel_copy(raw)
    if parts:
        yield b"".join(parts)


def _copy_error(result: Any) -> Exception:
    from psycopg import errors

    if result is None:
        return errors.OperationalError("COPY ended without a result")
    return errors.error_from_result(result)


def _cancel_copy(raw: psycopg.Connection[Any]) -> None:
    """Cancel a COPY still sending and read what is left of it (the cancel's error too)."""
    try:
        raw.cancel_safe()
        pgconn = raw.pgconn
        while pgconn.get_copy_data(0)[0] >= 0:
            pass
        while pgconn.get_result() is not None:
            pass
    except Exception as exc:  # noqa: BLE001 - a broken connection is dropped by the pool
        logger.info("cancelling an export's COPY: %s", exc)


def _postgres_chunks(
    session: Session, stmt: Select[Any], header: bytes, timeout_ms: int
) -> Iterator[bytes]:
    sql, params = copy_sql(session, stmt)
    bound_export_statement(session, timeout_ms)
    session.execute(select(func.set_config("datestyle", "ISO, YMD", True)))
    blocks = copy_blocks(session, sql, params)
    try:
        first = next(blocks, b"")
        yield header + first  # the header travels with the first rows
        yield from blocks
    finally:
        _close(blocks)


# --- Any database: a chunked cursor ---------------------------------------------------------------


def _needs_quotes(cell: str) -> bool:
    return any(ch in cell for ch in ',"\n\r')


def _quoted_line(cells: Iterable[str]) -> str:
    # PostgreSQL's CSV quoting, for the rows Python's csv module would leave a "\r" bare in.
    return (
        ",".join('"' + c.replace('"', '""') + '"' if _needs_quotes(c) else c for c in cells) + "\n"
    )


def csv_chunks(
    header: bytes, rows: Iterable[Sequence[str]], *, lineterminator: str = "\n"
) -> Iterator[bytes]:
    """``header``, then ``rows`` (cells already text, already spreadsheet-safe) written by the
    csv module, in pieces of about ``CHUNK_BYTES``: a CSV streamed row by row, never held whole.
    With ``"\n"`` line ends a cell holding a ``"\r"`` is quoted as PostgreSQL's COPY quotes it
    (the csv module would leave it bare); with ``"\r\n"`` the csv module quotes it itself."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)  # quotes , " and the line end
    bare_cr = "\r" not in lineterminator
    yield_size = CHUNK_BYTES  # characters; close enough to bytes for chunking
    pending = header
    for cells in rows:
        if bare_cr and any("\r" in c for c in cells):
            out.write(_quoted_line(cells))
        else:
            writer.writerow(cells)
        if out.tell() >= yield_size:
            yield pending + out.getvalue().encode("utf-8")
            pending = b""
            out.seek(0)
            out.truncate()
    yield pending + out.getvalue().encode("utf-8")


def _cursor_chunks(session: Session, stmt: Select[Any], header: bytes) -> Iterator[bytes]:
    # exporter.iter_rows, with fetches of a few chunks' worth of rows rather than 5000.
    rows = session.execute(stmt.execution_options(yield_per=CURSOR_BATCH_ROWS))
    yield from csv_chunks(header, ([neutralise_cell(format_value(v)) for v in row] for row in rows))


def header_line(name: str) -> bytes:
    return columns_line(EXPORT_COLUMNS[name])


def columns_line(columns: Iterable[str]) -> bytes:
    """A CSV header of these column names, as every export writes it."""
    return _quoted_line(neutralise_cell(c) for c in columns).encode("utf-8")


def export_chunks(
    db: Database,
    name: str,
    flt: ExportFilter,
    tz: ZoneInfo,
    *,
    method: str = "auto",
    timeout_ms: int = EXPORT_STATEMENT_TIMEOUT_MS,
) -> Iterator[bytes]:
    """The CSV file, header first, in pieces of about ``CHUNK_BYTES``; the first piece comes
    once the database has started answering. The database session lives exactly as long as
    the iteration: closing the generator early (a client that went away) ends it.

    ``method``: ``"copy"`` (PostgreSQL only), ``"cursor"``, or ``"auto"`` (COPY on PostgreSQL).
    """
    if method not in ("auto", "copy", "cursor"):
        raise ValueError(f"unknown method {method!r}")
    use_copy = method == "copy" or (method == "auto" and db.dialect == "postgresql")
    if use_copy and db.dialect != "postgresql":
        raise ValueError("COPY needs PostgreSQL")
    header = header_line(name)
    with db.sessions() as session, session.begin():
        stmt = export_statement(session, name, flt, tz)
        if stmt is None:
            yield header
            return
        yield from statement_chunks(session, stmt, header, use_copy=use_copy, timeout_ms=timeout_ms)


def statement_chunks(
    session: Session,
    stmt: Select[Any],
    header: bytes,
    *,
    use_copy: bool,
    timeout_ms: int = EXPORT_STATEMENT_TIMEOUT_MS,
) -> Iterator[bytes]:
    """One SELECT's CSV, ``header`` first, in ``session``'s transaction: by COPY (PostgreSQL) or
    a chunked cursor, the same bytes either way (for files made of several statements, like
    the NEVI report's)."""
    if use_copy:
        yield from _postgres_chunks(session, stmt, header, timeout_ms)
    else:
        yield from _cursor_chunks(session, stmt, header)


def _close(source: Iterable[bytes]) -> None:
    close: Callable[[], None] | None = getattr(source, "close", None)
    if close is not None:
        close()


def gzip_chunks(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """``chunks`` gzip-compressed on the fly (one member, as ``Content-Encoding: gzip`` wants);
    closing this closes ``chunks``."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    try:
        for chunk in chunks:
            if out := compressor.compress(chunk):
                yield out
        yield compressor.flush()
    finally:
        _close(chunks)


def closing_chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """``first``, then ``rest``; closing this closes ``rest`` (``itertools.chain`` would not, and
    the database session inside ``rest`` would wait for the garbage collector)."""
    try:
        yield first
        yield from rest
    finally:
        _close(rest)
