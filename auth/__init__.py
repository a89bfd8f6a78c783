"""Sign-in, the active account, the request guard and role checks."""

from __future__ import annotations

import logging
from typing import Any

from dash import Dash
from flask import Flask, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from auth.accounts import current_account, current_account_id, login_manager
from auth.guard import install_guard
from auth.hardening import install_hardening
from auth.headers import install_security_headers
from auth.not_found import install_not_found
from auth.routes import auth_blueprint
from data.db import DatabaseNotReady

__all__ = ["current_account", "current_account_id", "install_auth"]

log = logging.getLogger("polaris.auth")


def install_auth(server: Flask, dash_app: Dash) -> None:
    login_manager.init_app(server)
    install_guard(server, dash_app.index)  # first: anonymous requests stop here, before CSRF
    CSRFProtect(server)
    limiter = Limiter(
        get_remote_address,
        app=server,
        storage_uri=server.config["RATELIMIT_STORAGE_URI"],
        key_prefix=server.config.get("RATELIMIT_KEY_PREFIX", "polaris"),
    )
    server.register_blueprint(auth_blueprint(limiter))
    install_security_headers(server, dash_app)
    install_hardening(server, dash_app)  # after the guard and CSRF: they answer first
    install_not_found(server, dash_app)  # after the guard: anonymous people sign in first
    _install_error_pages(server)


def _install_error_pages(server: Flask) -> None:
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
