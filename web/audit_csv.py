"""The audit log as CSV: ``/export/audit.csv?user=&action=&subject=&from=&to=`` (admins only).

Served by the exports blueprint (``web.exports``: signed in, or an ``export`` token of an admin
account; 403 for a customer). The filters mean what they mean on ``/admin/audit``
(``data.audit.log.parse_audit_filter``, days in the operator's time zone; a wrong one gets 400
with the reason), and the file holds exactly the matching entries, newest first: id, when (UTC),
who, account, action, subject and the changed fields before and after as JSON. Streamed like
the command log's CSV (``web.commands_csv``): read in batches, written by the exports' chunked
writer, every cell spreadsheet-safe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from flask import Response

from data.audit.log import AuditFilter, AuditRow, iter_audit_rows
from data.charging.dashboard import operator_settings
from data.core.db import Database
from data.exchange.csv_safety import neutralise_cell
from data.exchange.export_stream import CURSOR_BATCH_ROWS, csv_chunks
from web.downloads import streamed_download

HEADER = (
    "entry_id",
    "at",
    "user",
    "account_id",
    "action",
    "subject_type",
    "subject_id",
    "before",
    "after",
    "detail",
)
LINE_END = "\r\n"  # RFC 4180, like the command log's CSV
HEADER_LINE = (",".join(HEADER) + LINE_END).encode("ascii")  # plain names: nothing to quote


def _json(fields: Mapping[str, Any] | None) -> str:
    return "" if fields is None else json.dumps(fields, sort_keys=True, ensure_ascii=False)


def audit_cells(row: AuditRow) -> list[str]:
    cells = [
        str(row.entry_id),
        row.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        row.user,
        row.account_id or "",
        row.action,
        row.subject_type,
        row.subject_id,
        _json(row.before),
        _json(row.after),
        row.detail or "",
    ]
    return [neutralise_cell(cell) for cell in cells]


def audit_chunks(db: Database, flt: AuditFilter) -> Iterator[bytes]:
    """The CSV file, header first, in pieces; the database session lives exactly as long as the
    iteration (closing the generator early ends it)."""
    with db.session() as s:
        tz = operator_settings(s).tz
        with closing(iter_audit_rows(s, flt, tz, batch_rows=CURSOR_BATCH_ROWS)) as rows:
            cells = (audit_cells(r) for r in rows)
            yield from csv_chunks(HEADER_LINE, cells, lineterminator=LINE_END)


def audit_csv(db: Database, flt: AuditFilter) -> Response:
    """The download; the first piece is read before the response starts, so a database error
    still gets the app's error status."""
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return streamed_download(audit_chunks(db, flt), "text/csv", f"polaris-audit-{stamp}.csv")
