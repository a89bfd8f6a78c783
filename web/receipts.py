"""Receipts and monthly statements over HTTP: the pages' statuses, the PDFs and the CSV.

- ``/receipts/<session_id>``: the Dash shell (the page is ``pages/receipts.py``), with 200 for
  a finalized session of the active account (any account's for an admin account) and 404
  otherwise, so another account's session looks exactly like a missing one.
- ``/receipts/<session_id>.pdf``: that receipt as a PDF.
- ``/statements``: a redirect to this month's statement (operator's time zone).
- ``/statements/<YYYY-MM>``: the Dash shell (``pages/statements.py``); 404 for a month that is
  not one ("2026-13"), 403 for an admin account (statements are a customer account's).
- ``/statements/<YYYY-MM>.csv``: the statement's sessions, streamed, every text cell
  spreadsheet-safe; ``.pdf``: the statement as a PDF.

Anonymous people were sent to sign in (pages, PDFs) or answered 401 (the CSV) by the request
gate. PDFs are rendered in the request (``web.pdf``) from the same component trees the pages
show; a PDF costs CPU, so each account gets ``PDF_LIMIT`` of them (receipts and statements
together), then 429 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, abort, current_app, redirect
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response as BaseResponse

from auth.accounts import AccountInfo, current_account
from components.documents import document_html
from components.receipts import receipt_document, statement_document
from data.charging.dashboard import operator_settings
from data.core.db import Database
from data.core.models import ID_LENGTH
from data.core.periods import Period
from data.exchange.csv_safety import neutralise_cell
from data.exchange.export_stream import CURSOR_BATCH_ROWS, csv_chunks
from data.exchange.format import format_value
from data.pricing.cost import round_money
from data.pricing.receipts import Receipt, receipt
from data.pricing.statements import (
    MonthError,
    StatementLine,
    iter_statement_lines,
    month_key,
    month_of,
    month_period,
    month_statement,
    parse_month,
)
from web.db import get_db, read_scope
from web.downloads import content_disposition, plain_text, streamed_download
from web.pdf import PDF_MIMETYPE, render_pdf

# Measured on the demo: a receipt renders in 0.1 s, a statement in about 15 ms per session
# listed (0.2 s for 13, 1.6 s for 100). Ten a minute per account leave the workers to others.
PDF_LIMIT = "10 per minute"
# Past this many sessions a statement's PDF sums them per day (at most 31 rows a currency: 0.2 s
# for 1,000 sessions), so no month renders for more than about 2 s; its page and CSV still
# list each session.
PDF_MAX_LINES = 100
NO_RECEIPT = "There is no receipt at this address for your active account."
ADMIN_STATEMENT = "Statements are for customer accounts: switch to one to see its statements."

STATEMENT_COLUMNS = (
    "session_id",
    "day",  # the local day it started: the statement's month is the month of this day
    "started_at",
    "ended_at",
    "charger_id",
    "charger_name",
    "energy_kwh",
    "tariff_id",
    "tariff_valid_from",
    "currency",
    "cost_energy",
    "cost_time",
    "cost_fee",
    "cost_total",
    "vat_amount",
)
LINE_END = "\r\n"  # RFC 4180, like the other CSV files made for spreadsheets
HEADER_LINE = (",".join(STATEMENT_COLUMNS) + LINE_END).encode("ascii")


def _account() -> AccountInfo:
    account = current_account()
    if account is None:  # the gate answered anonymous requests already
        raise PermissionError("no active account")
    return account


def _limit_key() -> str:
    account = current_account()
    return f"account:{account.id}" if account is not None else get_remote_address()


def _too_many(_limit: RequestLimit) -> Response:
    # Flask-Limiter adds Retry-After (RATELIMIT_HEADERS_ENABLED, app.py).
    return plain_text("That was many PDFs in a short time; try again in a minute.", 429)


def _shell(status: int) -> Response:
    """The Dash shell (its router shows the page) with the status the page stands for."""
    return Response(current_app.extensions["polaris_dash"].index(), status, mimetype="text/html")


def _pdf(content: bytes, filename: str) -> Response:
    response = Response(content, mimetype=PDF_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _find_receipt(session_id: str) -> Receipt | None:
    account = _account()
    if len(session_id) > ID_LENGTH:
        return None
    with read_scope() as s:
        return receipt(s, session_id, account.id, any_account=account.is_admin)


def statement_cells(line: StatementLine, period: Period) -> list[str]:
    """One session of the statement as CSV cells, text made spreadsheet-safe."""
    cost = line.cost
    money: list[str] = [""] * 5
    tariff = ["", "", ""]
    if cost is not None:
        parts = (cost.energy, cost.time, cost.fee, cost.total, cost.vat)
        money = [str(round_money(p, cost.currency)) for p in parts]
        tariff = [cost.tariff_id, format_value(cost.tariff_valid_from), cost.currency]
    cells = [
        line.session_id,
        line.started_at.astimezone(period.tz).date().isoformat(),
        format_value(line.started_at),
        format_value(line.ended_at),
        line.charger_id,
        line.charger_name,
        format_value(line.energy_kwh),
        *tariff,
        *money,
    ]
    return [neutralise_cell(cell) for cell in cells]


def statement_chunks(db: Database, account_id: str, period: Period) -> Iterator[bytes]:
    """The statement's CSV in pieces; its database session lives as long as the iteration."""
    # A transaction: PostgreSQL streams the rows through a server-side cursor, which needs one.
    with db.sessions() as s, s.begin():
        lines = iter_statement_lines(s, account_id, period, batch_rows=CURSOR_BATCH_ROWS)
        cells = (statement_cells(line, period) for line in lines)
        yield from csv_chunks(HEADER_LINE, cells, lineterminator=LINE_END)


def documents_blueprint(limiter: Limiter) -> Blueprint:
    bp = Blueprint("documents", __name__)
    pdf_limit = limiter.shared_limit(
        PDF_LIMIT, scope="pdf", key_func=_limit_key, on_breach=_too_many
    )

    @bp.get("/receipts/<session_id>")
    def receipt_page(session_id: str) -> Response:
        return _shell(200 if _find_receipt(session_id) is not None else 404)

    @bp.get("/receipts/<session_id>.pdf")
    @pdf_limit
    def receipt_pdf(session_id: str) -> Response:
        found = _find_receipt(session_id)
        if found is None:
            return plain_text(NO_RECEIPT, 404)
        title = f"Receipt {found.session_id} · {found.operator.name}"
        document = document_html(title, receipt_document(found))
        return _pdf(render_pdf(document), f"receipt-{found.session_id}.pdf")

    @bp.get("/statements")
    def this_month() -> BaseResponse:
        if _account().is_admin:
            abort(403)  # the app's "not allowed" page, with a way to switch accounts
        with read_scope() as s:
            tz = operator_settings(s).tz
        return redirect(f"/statements/{month_key(month_of(datetime.now(UTC), tz))}")

    @bp.get("/statements/<month>")
    def statement_page(month: str) -> Response:
        if _account().is_admin:
            return _shell(403)
        try:
            parse_month(month)
        except MonthError:
            return _shell(404)
        return _shell(200)

    @bp.get("/statements/<month>.csv")
    def statement_csv(month: str) -> Response:
        account = _account()
        if account.is_admin:
            return plain_text(ADMIN_STATEMENT, 403)
        try:
            first_day = parse_month(month)
        except MonthError as error:
            return plain_text(str(error), 404)
        db = get_db()
        with read_scope() as s:
            period = month_period(first_day, operator_settings(s).tz)
        chunks = statement_chunks(db, account.id, period)
        filename = f"statement-{month_key(first_day)}-{account.id}.csv"
        return streamed_download(chunks, "text/csv", filename)

    @bp.get("/statements/<month>.pdf")
    @pdf_limit
    def statement_pdf(month: str) -> Response:
        account = _account()
        if account.is_admin:
            return plain_text(ADMIN_STATEMENT, 403)
        try:
            first_day = parse_month(month)
        except MonthError as error:
            return plain_text(str(error), 404)
        with read_scope() as s:
            statement = month_statement(s, account.id, first_day)
        if statement is None:
            return plain_text(NO_RECEIPT, 404)
        title = f"Statement {statement.key} · {statement.operator.name}"
        by_day = len(statement.lines) > PDF_MAX_LINES
        document = document_html(title, statement_document(statement, by_day=by_day))
        return _pdf(render_pdf(document), f"statement-{statement.key}-{account.id}.pdf")

    return bp


def register_document_routes(server: Flask) -> None:
    """Serve receipts and statements from ``server``, after ``install_auth`` (its limiter)."""
    server.register_blueprint(documents_blueprint(server.extensions["polaris_limiter"]))
