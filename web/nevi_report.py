"""``/export/nevi-report.zip?year=2026&quarter=3``: the quarterly NEVI report (admins only), a ZIP
of three CSV files and their README (``data.exchange.nevi``); without ``year`` and ``quarter``,
the last full quarter in the operator's time zone.

Served by the exports blueprint (``web.exports``: signed in, or an ``export`` token; 403 for a
customer, checked here too). A wrong year or quarter, an unknown or repeated parameter, or a
quarter not begun gets 400 with a plain-text message saying what to fix. Streamed like the CSV
exports: the first piece is read before the response starts, so a database error still gets the
app's error status.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, request

from auth.accounts import current_account
from data.charging.dashboard import operator_settings
from data.exchange.nevi import NeviRequestError, parse_quarter, report_chunks, report_filename
from web.db import get_db
from web.downloads import plain_text, streamed_download

PATH = "/export/nevi-report.zip"
PARAMETERS = ("year", "quarter")


def nevi_report(timeout_ms: int) -> Response:
    """The download for the current request."""
    account = current_account()
    if account is None or not account.is_admin:
        return plain_text("Only an admin account can download the NEVI report.", 403)
    args = request.args
    unknown = sorted(set(args) - set(PARAMETERS))
    if unknown:
        return plain_text(
            f"Unknown parameter “{unknown[0]}”: the NEVI report takes year and quarter.", 400
        )
    if any(len(args.getlist(k)) > 1 for k in args):
        return plain_text("Give “year” and “quarter” once.", 400)
    now = datetime.now(UTC)
    db = get_db()
    try:
        with db.session() as s:
            tz = operator_settings(s).tz
        quarter = parse_quarter(args.get("year"), args.get("quarter"), now, tz)
    except NeviRequestError as exc:
        return plain_text(str(exc), 400)
    chunks = report_chunks(db, quarter, tz, now, timeout_ms=timeout_ms)
    return streamed_download(chunks, "application/zip", report_filename(quarter))
