"""``/export/<name>.csv``: the CSV exports as plain Flask routes, streamed.

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
The tokens a request may carry are made on the command line (``cli.tokens``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, g, request

from auth.accounts import current_account
from config import offline_after_s
from data.accounts.tokens import has_bearer_header
from data.charging.dashboard import operator_settings
from data.exchange.export_stream import (
    EXPORT_STATEMENT_TIMEOUT_MS,
    closing_chain,
    export_chunks,
    gzip_chunks,
)
from data.exchange.exports import (
    EXPORTS,
    ExportForbidden,
    ExportRequestError,
    check_references,
    export_filename,
    parse_filter,
    scope_filter,
)
from web.db import get_db

export_blueprint_name = "exports"


def _plain(message: str, status: int) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def _accepts_gzip() -> bool:
    return request.accept_encodings.quality("gzip") > 0


def export_blueprint() -> Blueprint:
    """The export routes (one blueprint per app, like the sign-in routes)."""
    bp = Blueprint(export_blueprint_name, __name__)

    @bp.before_request
    def signed_in_with_a_valid_token_if_any() -> Response | None:
        if has_bearer_header(request.headers.get("Authorization")) and "polaris_token_id" not in g:
            return _plain("The API token is not valid: it is unknown or was revoked.", 401)
        if current_account() is None:
            return _plain("Sign in first.", 401)
        return None

    @bp.get("/export/<name>.csv")
    def export_csv(name: str) -> Response:
        account = current_account()
        assert account is not None  # checked in before_request
        if name not in EXPORTS:
            if not account.is_admin:
                return _plain("Only an admin account can export this.", 403)
            return _plain(f"There is no such export; the exports are: {', '.join(EXPORTS)}.", 404)
        db = get_db()
        now = datetime.now(UTC)
        try:
            with db.session() as s:
                tz = operator_settings(s).tz
                flt = parse_filter(
                    name, dict(request.args.lists()), now, tz, offline_after_s=offline_after_s()
                )
                flt = scope_filter(name, flt, account.id, account.is_admin)
                if account.is_admin:
                    check_references(s, flt)
        except ExportForbidden as exc:
            return _plain(str(exc), 403)
        except ExportRequestError as exc:
            return _plain(str(exc), 400)

        timeout = current_app.config.get("EXPORT_STATEMENT_TIMEOUT_MS", EXPORT_STATEMENT_TIMEOUT_MS)
        gzip = _accepts_gzip()
        source = export_chunks(db, name, flt, tz, timeout_ms=timeout)
        chunks = gzip_chunks(source) if gzip else source
        # Errors before the first byte (database down, statement timeout) reach the app's
        # error handlers here, as a proper status. The generator needs nothing from the request
        # (it holds its own database session, from here until the WSGI server closes the
        # response), so it is not wrapped in stream_with_context: keeping the request context
        # pushed for the whole download would buy nothing.
        first = next(chunks)
        response = Response(closing_chain(first, chunks), mimetype="text/csv")
        headers = response.headers
        headers["Content-Type"] = "text/csv; charset=utf-8"
        headers["Content-Disposition"] = _content_disposition(export_filename(name, flt))
        headers["Cache-Control"] = "no-store"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer the stream
        response.vary.add("Accept-Encoding")
        if gzip:
            headers["Content-Encoding"] = "gzip"
        return response

    return bp


def register_export_routes(server: Flask) -> None:
    """Serve ``/export/<name>.csv`` from ``server`` (the token commands: ``cli.tokens``)."""
    server.register_blueprint(export_blueprint())
