"""``/export/<name>.csv``: the CSV exports as plain Flask routes, streamed, and the same as
``/export/<name>.parquet`` (typed: ``data.exchange.export_parquet``); and
``/export/cdrs.json``, the OCPI CDRs (``data.exchange.cdrs``), with the query string, the access
rules and the streaming of ``sessions.csv``.

Registered by ``create_app`` with ``register_export_routes(server)``. The request gate has
already turned anonymous requests away (401) and ``auth.hardening`` customers away from every
export but their own sessions and usage (403); this blueprint checks both again, so no export
depends on a check made elsewhere. A customer's export is always limited to the active account
(``data.exchange.exports.scope_filter``). A request with ``Authorization: Bearer`` whose token was
not accepted gets 401, even with a session cookie.

Bad query strings get 400 with a plain-text message saying what to fix. The file is streamed
(``data.exchange.export_stream.export_chunks``); the first piece is read before the response
starts, so a database that is down or a statement that fails still gets the app's friendly error
status instead of a 200 with a broken file. Optional gzip when the client accepts it.
``/export/audit.csv`` is the audit log, for admin accounts only (``web.audit_csv``);
``/export/nevi-report.zip`` the quarterly NEVI report, for admins too (``web.nevi_report``).
The tokens a request may carry are made on the command line (``cli.tokens``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, g, request

from auth.accounts import current_account
from config import offline_after_s
from data.accounts.tokens import has_bearer_header
from data.audit.log import AuditFilterError, parse_audit_filter
from data.charging.dashboard import operator_settings
from data.exchange.cdrs import DEFAULT_PARTY_ID, cdr_chunks, cdr_party
from data.exchange.export_stream import (
    EXPORT_STATEMENT_TIMEOUT_MS,
    export_chunks,
    gzip_chunks,
)
from data.exchange.exports import (
    CDRS,
    EXPORTS,
    ExportFilter,
    ExportForbidden,
    ExportRequestError,
    check_references,
    export_filename,
    parse_filter,
    scope_filter,
)
from web.audit_csv import audit_csv
from web.db import get_db
from web.downloads import plain_text, streamed_download
from web.nevi_report import PATH as NEVI_REPORT_PATH
from web.nevi_report import nevi_report

export_blueprint_name = "exports"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def _accepts_gzip() -> bool:
    return request.accept_encodings.quality("gzip") > 0


def _export_filter(name: str) -> tuple[ExportFilter, ZoneInfo] | Response:
    """The rows the request asks for and may have, and the operator's time zone; or the 400 or
    403 answer saying why not."""
    account = current_account()
    assert account is not None  # checked in before_request
    now = datetime.now(UTC)
    try:
        with get_db().session() as s:
            tz = operator_settings(s).tz
            flt = parse_filter(
                name, dict(request.args.lists()), now, tz, offline_after_s=offline_after_s()
            )
            flt = scope_filter(name, flt, account.id, account.is_admin)
            if account.is_admin:
                check_references(s, flt)
    except ExportForbidden as exc:
        return plain_text(str(exc), 403)
    except ExportRequestError as exc:
        return plain_text(str(exc), 400)
    return flt, tz


def _timeout_ms() -> int:
    return int(current_app.config.get("EXPORT_STATEMENT_TIMEOUT_MS", EXPORT_STATEMENT_TIMEOUT_MS))


def _streamed(source: Iterator[bytes], mimetype: str, filename: str) -> Response:
    """The file as a streamed download, gzip-compressed when the client accepts it."""
    gzip = _accepts_gzip()
    return streamed_download(gzip_chunks(source) if gzip else source, mimetype, filename, gzip=gzip)


def export_blueprint() -> Blueprint:
    """The export routes (one blueprint per app, like the sign-in routes)."""
    bp = Blueprint(export_blueprint_name, __name__)

    @bp.before_request
    def signed_in_with_a_valid_token_if_any() -> Response | None:
        if has_bearer_header(request.headers.get("Authorization")) and "polaris_token_id" not in g:
            return plain_text("The API token is not valid: it is unknown or was revoked.", 401)
        if current_account() is None:
            return plain_text("Sign in first.", 401)
        return None

    def asked_export(name: str) -> tuple[ExportFilter, ZoneInfo] | Response:
        account = current_account()
        assert account is not None  # checked in before_request
        if name not in EXPORTS:
            if not account.is_admin:
                return plain_text("Only an admin account can export this.", 403)
            names = ", ".join(EXPORTS)
            return plain_text(f"There is no such export; the exports are: {names}.", 404)
        return _export_filter(name)

    @bp.get("/export/<name>.csv")
    def export_csv(name: str) -> Response:
        asked = asked_export(name)
        if isinstance(asked, Response):
            return asked
        flt, tz = asked
        source = export_chunks(get_db(), name, flt, tz, timeout_ms=_timeout_ms())
        return _streamed(source, "text/csv", export_filename(name, flt))

    @bp.get("/export/<name>.parquet")
    def export_parquet(name: str) -> Response:
        # The same rows, access rules and filters as the CSV; compressed already (no gzip).
        # pyarrow is imported on the first Parquet export: 50 MB a worker need not carry for CSV.
        from data.exchange.export_parquet import parquet_chunks

        asked = asked_export(name)
        if isinstance(asked, Response):
            return asked
        flt, tz = asked
        source = parquet_chunks(get_db(), name, flt, tz, timeout_ms=_timeout_ms())
        filename = export_filename(name, flt).removesuffix(".csv") + ".parquet"
        return streamed_download(source, PARQUET_MEDIA_TYPE, filename)

    @bp.get("/export/audit.csv")
    def export_audit() -> Response:
        account = current_account()
        assert account is not None  # checked in before_request
        if not account.is_admin:
            return plain_text("Only an admin account can export the audit log.", 403)
        args = request.args
        unknown = sorted(set(args) - {"user", "action", "subject", "from", "to"})
        if unknown:
            return plain_text(f"{unknown[0]}: not a filter of the audit log.", 400)
        if any(len(args.getlist(k)) > 1 for k in args):
            return plain_text("Give each filter once.", 400)
        try:
            flt = parse_audit_filter(
                args.get("user"), args.get("action"), args.get("subject"),
                args.get("from"), args.get("to"),
            )  # fmt: skip
        except AuditFilterError as exc:
            return plain_text(str(exc), 400)
        return audit_csv(get_db(), flt)

    @bp.get(NEVI_REPORT_PATH)
    def export_nevi_report() -> Response:
        return nevi_report(_timeout_ms())

    @bp.get(f"/export/{CDRS}.json")
    def export_cdrs() -> Response:
        asked = _export_filter(CDRS)
        if isinstance(asked, Response):
            return asked
        flt, tz = asked
        config = current_app.config
        party = cdr_party(
            config.get("OCPI_COUNTRY_CODE"), config.get("OCPI_PARTY_ID", DEFAULT_PARTY_ID), tz
        )
        source = cdr_chunks(get_db(), flt, tz, party, timeout_ms=_timeout_ms())
        return _streamed(source, "application/json", export_filename(CDRS, flt))

    return bp


def register_export_routes(server: Flask) -> None:
    """Serve ``/export/<name>.csv`` and ``.parquet``, and ``/export/cdrs.json``, from ``server``
    (the token commands: ``cli.tokens``)."""
    server.register_blueprint(export_blueprint())
