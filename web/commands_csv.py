"""The fleet's command log as CSV: ``/admin/ocpp/commands.csv?charger=&action=&status=&from=&to=``.

A Flask blueprint, registered by ``app.py`` with ``register_command_log_routes(server)``. Admins
only (401 signed out, 403 for a customer, checked here as well as by the request gate); the
filters mean what they mean on ``/admin/ocpp`` (``data.ocpp.command_log.parse_log_filter``, days
in the operator's time zone), and the file holds exactly the matching commands, latest first.
Every text cell goes through the exports' spreadsheet-safety rule.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, request

from auth.roles import require_admin
from data.charging.dashboard import operator_settings
from data.exchange.csv_safety import neutralise_cell
from data.ocpp.command_log import CommandLogRow, command_log_rows, parse_log_filter
from data.ocpp.commands import CommandError
from web.db import session_scope

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
)


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
    ]
    return [neutralise_cell(cell) for cell in cells]


def _plain(message: str, status: int) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


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
        return _plain(str(exc), 400)
    with session_scope() as s:
        tz = operator_settings(s).tz
        rows = command_log_rows(s, flt, tz, limit=None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(command_cells(r) for r in rows)
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    response.headers["Content-Disposition"] = f'attachment; filename="polaris-commands-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def register_command_log_routes(server: Flask) -> None:
    """Serve the command log's CSV from ``server`` (called once by ``create_app``)."""
    server.register_blueprint(command_log_blueprint)
