"""Sign-in, the active account, the request guard and role checks."""

from __future__ import annotations

import logging

from dash import Dash
from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from auth.accounts import current_account, current_account_id, login_manager
from auth.guard import install_guard
from auth.routes import bp, limiter

__all__ = ["current_account", "current_account_id", "install_auth"]

log = logging.getLogger("polaris.auth")
csrf = CSRFProtect()


def install_auth(server: Flask, dash_app: Dash) -> None:
    login_manager.init_app(server)
    install_guard(server, dash_app.index)  # first: anonymous requests stop here, before CSRF
    csrf.init_app(server)
    limiter.init_app(server)
    server.register_blueprint(bp)

    @server.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if server.config["HTTPS"]:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response

    @server.errorhandler(OperationalError)
    @server.errorhandler(PoolTimeoutError)
    def database_unavailable(error: Exception) -> tuple[str | dict[str, str], int]:
        log.warning("database unavailable: %s", error.__class__.__name__)
        if request.path.startswith("/_dash-") or request.path.startswith("/export/"):
            return {"error": "The database is not answering. Try again in a minute."}, 503
        return render_template(
            "error.html",
            title="We'll be right back",
            message="Polaris Express can't reach its database right now. "
            "Nothing you did caused this; try again in a minute.",
            link_href=request.full_path.rstrip("?") or "/",
            link_text="Try again",
        ), 503
