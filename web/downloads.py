"""What every file the app serves says in its headers, in one place: plain-text refusals, and
downloads streamed from a generator (the CSV exports, the audit log, the command log, statements,
the NEVI report).

A streamed download reads its first piece before the response starts, so an error before the
first byte (database down, statement timeout) reaches the app's error handlers as a proper
status. The generators need nothing from the request (each holds its own database session until
the WSGI server closes the response), so they are not wrapped in ``stream_with_context``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flask import Response

from data.exchange.export_stream import closing_chain


def plain_text(message: str, status: int) -> Response:
    """A refusal or error as one line of text, never cached, never sniffed as HTML (messages
    may quote the query)."""
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def content_disposition(filename: str) -> str:
    """An attachment named ``filename``: ASCII for old clients, UTF-8 (RFC 6266) for the rest."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def streamed_download(
    chunks: Iterator[bytes], mimetype: str, filename: str, *, gzip: bool = False
) -> Response:
    """``chunks`` as a download named ``filename``; ``gzip``: they are gzip-compressed already.
    Text and JSON say their charset (UTF-8)."""
    first = next(chunks)
    response = Response(closing_chain(first, chunks), mimetype=mimetype)
    headers = response.headers
    if mimetype.startswith("text/") or mimetype.endswith("json"):
        headers["Content-Type"] = f"{mimetype}; charset=utf-8"
    headers["Content-Disposition"] = content_disposition(filename)
    headers["Cache-Control"] = "no-store"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer the stream
    if gzip:
        headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
    return response
