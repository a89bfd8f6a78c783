"""The fleet's command log as CSV: ``/admin/ocpp/commands.csv?charger=&action=&status=&from=&to=``.

A Flask blueprint, registered by ``app.py`` with ``register_command_log_routes(server)``. Admins
only (401 signed out, 403 for a customer, checked here as well as by the request gate); the
filters mean what they mean on ``/admin/ocpp`` (``data.ocpp.command_log.parse_log_filter``, days
in the operator's time zone; a wrong one gets 400 with a plain-text message), and the file holds
exactly the matching commands, latest first. Every text cell goes through the exports'
spreadsheet-safety rule.

The file is streamed like the data exports (``web.exports``): rows are read in batches
(``iter_command_log_rows``) and written by the exports' chunked CSV writer
(``data.exchange.export_stream.csv_chunks``), so a long log is never held in memory. The first
piece is read before the response starts, so a database error still gets the app's error status.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, request

from auth.roles import require_admin
from data.charging.dashboard import operator_settings
from data.core.db import Database
from data.exchange.csv_safety import neutralise_cell
from data.exchange.export_stream import CURSOR_BATCH_ROWS, csv_chunks
from data.ocpp.command_log import (
    CommandLogFilter,
    CommandLogRow,
    iter_command_log_rows,
    parse_log_filter,
)
from data.ocpp.commands import CommandError
from web.db import get_db
from web.downloads import plain_text, streamed_download

command_log_blueprint = Blueprint("command_log_csv", __name__)

HEADER = (
    "command_id",
    "charger_id",
    "action",
    "params",
    "status",
    "response",
    "requested_at",
    "answered_at",
    "user_email",
    "account_id",
    "reservation_id",  # ReserveNow / CancelReservation: made by Polaris for this reservation
)
LINE_END = "\r\n"  # RFC 4180, like the analytics CSV files
HEADER_LINE = (",".join(HEADER) + LINE_END).encode("ascii")  # plain names: nothing to quote


@command_log_blueprint.before_request
def admins_only() -> None:
    require_admin()


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def command_cells(row: CommandLogRow) -> list[str]:
    c = row.command
    cells = [
        str(c.id),
        c.charger_id,
        c.action,
        json.dumps(c.params, sort_keys=True),
        c.status.value,
        "" if c.response is None else json.dumps(c.response, sort_keys=True),
        _iso(c.requested_at),
        _iso(c.answered_at),
        row.user_email or "",
        c.account_id or "",
        row.reservation_id or "",
    ]
    return [neutralise_cell(cell) for cell in cells]


def command_log_chunks(db: Database, flt: CommandLogFilter) -> Iterator[bytes]:
    """The CSV file, header first, in pieces of about ``CHUNK_BYTES``. The database session (and
    its cursor) lives exactly as long as the iteration: closing the generator early (a client
    that went away) ends both."""
    with db.session() as s:
        tz = operator_settings(s).tz
        with closing(iter_command_log_rows(s, flt, tz, batch_rows=CURSOR_BATCH_ROWS)) as rows:
            cells = (command_cells(r) for r in rows)
            yield from csv_chunks(HEADER_LINE, cells, lineterminator=LINE_END)


def _one(name: str) -> object:
    values = request.args.getlist(name)
    return values[0] if len(values) == 1 else (values or None)


@command_log_blueprint.get("/admin/ocpp/commands.csv")
def commands_csv() -> Response:
    try:
        flt = parse_log_filter(
            _one("charger"), _one("action"), _one("status"), _one("from"), _one("to")
        )
    except CommandError as exc:
        return plain_text(str(exc), 400)
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    chunks = command_log_chunks(get_db(), flt)
    return streamed_download(chunks, "text/csv", f"polaris-commands-{stamp}.csv")


def register_command_log_routes(server: Flask) -> None:
    """Serve the command log's CSV from ``server`` (called once by ``create_app``)."""
    server.register_blueprint(command_log_blueprint)
