"""CSV downloads of the analytics charts: ``/admin/analytics/<chart>.csv?period=...``.

A Flask blueprint, registered by ``app.py`` with ``register_analytics_routes(server)``. Every
request is checked for an admin account first (401 signed out, 403 for a customer). The figures
are the ones the page draws (``data.charging.analytics.chart_table``), for the same query, money
in the operator's currency with its minor unit's digits (``revenue`` beside a ``currency``
column); cells a spreadsheet would run as a formula are neutralised (a charger name is
operator-typed text).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, request

from auth.roles import require_admin
from data.charging.analytics import CHARTS, ChartTable, RangeError, chart_table, parse_range
from data.charging.dashboard import operator_settings
from data.exchange.csv_safety import neutralise_cell
from web.db import session_scope
from web.downloads import plain_text

analytics_blueprint = Blueprint("analytics_csv", __name__)


@analytics_blueprint.before_request
def admins_only() -> None:
    require_admin()


def csv_cell(value: Any) -> str:
    """One cell as text; ``'`` in front of text a spreadsheet would evaluate, numbers kept."""
    if isinstance(value, Decimal):
        return format(value, "f")
    # The exports' rule (data.exchange.csv_safety): one way to make a cell safe for a spreadsheet.
    return neutralise_cell("" if value is None else str(value))


def table_csv(table: ChartTable) -> str:
    """RFC 4180 text (CRLF line ends, quotes where needed), header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows([csv_cell(v) for v in row] for row in table.rows)
    return out.getvalue()


def _filename(chart: str, first: str, last: str) -> str:
    return f"polaris-{chart}-{first}_{last}.csv"


@analytics_blueprint.get("/admin/analytics/<chart>.csv")
def chart_csv(chart: str) -> Response:
    if chart not in CHARTS:
        return plain_text(f"There is no such chart; the charts are: {', '.join(CHARTS)}.", 404)
    try:
        choice = parse_range(_query(request.args))
    except RangeError as exc:
        return plain_text(str(exc), 400)
    now = datetime.now(UTC)
    with session_scope() as s:
        settings = operator_settings(s)
        period = choice.bounds(now, settings.tz)
        table = chart_table(s, chart, period, now, settings.currency)
    last_day = period.days[-1] if period.days else period.first_day
    filename = _filename(chart, period.first_day.isoformat(), last_day.isoformat())
    response = Response(table_csv(table), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _query(args: Any) -> dict[str, object]:
    """Query values that occur once as plain strings; repeated ones stay lists (refused)."""
    return {key: values[0] if len(values) == 1 else values for key, values in args.lists()}


def register_analytics_routes(server: Flask) -> None:
    """Serve the analytics CSV downloads from ``server`` (called once by ``create_app``)."""
    server.register_blueprint(analytics_blueprint)
