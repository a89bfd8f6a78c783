"""Sign-in, the active account, the request guard and role checks."""

from __future__ import annotations

from dash import Dash
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from auth.accounts import current_account, current_account_id, login_manager
from auth.guard import install_guard
from auth.hardening import install_hardening
from auth.headers import install_security_headers
from auth.not_found import install_not_found
from auth.routes import auth_blueprint

__all__ = ["current_account", "current_account_id", "install_auth"]


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
    server.extensions["polaris_limiter"] = limiter  # other routes' limits (web.receipts)
    server.register_blueprint(auth_blueprint(limiter))
    install_security_headers(server, dash_app)
    install_hardening(server, dash_app)  # after the guard and CSRF: they answer first
    install_not_found(server, dash_app)  # after the guard: anonymous people sign in first
