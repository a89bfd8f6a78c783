"""The app-wide error pages, installed by ``create_app`` with ``install_error_pages(server)``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from data.core.db import DatabaseNotReady

log = logging.getLogger("polaris.auth")


def install_error_pages(server: Flask) -> None:
    """503 while the database is unreachable, 413 for a body too large, 500: a page for a
    browser, the page's alert for a Dash callback, JSON for the other endpoints."""

    def friendly(title: str, message: str, status: int) -> tuple[str | dict[str, Any], int]:
        if request.path == "/_dash-update-component":
            # An open page shows the message in its alert (the renderer applies only a 200).
            alert = {"page-alert": {"children": message, "is_open": True}}
            return {"multi": True, "sideUpdate": alert, "response": {}}, 200
        if request.path.startswith(("/_dash-", "/export/", "/api/")):
            return {"error": message}, status
        page = render_template(
            "error.html",
            title=title,
            message=message,
            link_href=request.full_path.rstrip("?") or "/",
            link_text="Try again",
        )
        return page, status

    @server.errorhandler(OperationalError)
    @server.errorhandler(PoolTimeoutError)
    @server.errorhandler(DatabaseNotReady)
    def database_unavailable(error: Exception) -> tuple[str | dict[str, Any], int]:
        log.warning("database unavailable: %s", error.__class__.__name__)
        return friendly(
            "We'll be right back",
            "Polaris Express can't reach its database right now. Nothing you did caused this; "
            "try again in a minute.",
            503,
        )

    @server.errorhandler(413)
    def too_large(_error: Exception) -> tuple[str | dict[str, Any], int]:
        return friendly(
            "Too large",
            "That was more than Polaris Express accepts in one request (24 MB); nothing was "
            "saved. For an import, upload fewer files at a time or use flask import-data.",
            413,
        )

    @server.errorhandler(500)
    def internal_error(_error: Exception) -> tuple[str | dict[str, Any], int]:
        return friendly(
            "Something went wrong",
            "Something went wrong on our side. It has been logged; try again in a minute.",
            500,
        )
