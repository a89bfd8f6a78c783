"""PDFs of the printable documents (receipts, statements), rendered by WeasyPrint from HTML
built on the server (``components.documents.document_html``), never by fetching a page.

The stylesheets are the pages' own (``assets/receipts.css``, ``assets/print.css``), parsed once
per process. Nothing is fetched while rendering: the fetcher allows no protocol at all, so no
text in a document can make the server open a URL or read a file. WeasyPrint is imported on
first use (a heavy import that the app's start and most tests never need).
"""

from __future__ import annotations

import functools
from typing import Any

from config import ROOT

STYLESHEETS = (ROOT / "assets" / "receipts.css", ROOT / "assets" / "print.css")
PDF_MIMETYPE = "application/pdf"


@functools.cache
def _renderer() -> tuple[Any, tuple[Any, ...]]:
    from weasyprint import CSS
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=())
    sheets = tuple(CSS(filename=str(path), url_fetcher=fetcher) for path in STYLESHEETS)
    return fetcher, sheets


def render_pdf(document: str) -> bytes:
    """``document`` (a complete HTML page) as an A4 PDF, styled as the page prints."""
    from weasyprint import HTML

    fetcher, sheets = _renderer()
    pdf: bytes = HTML(string=document, url_fetcher=fetcher, media_type="print").write_pdf(
        stylesheets=list(sheets)
    )
    return pdf
