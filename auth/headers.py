"""Security headers on every response, with a Content-Security-Policy that allows no eval.

Dash's one inline script (the renderer start-up) is allowed by its hash from
``Dash.csp_hashes()``; styles keep 'unsafe-inline' because Dash and plotly.js set inline styles.
"""

from __future__ import annotations

import sys

from dash import Dash
from flask import Flask, Response
from werkzeug.serving import WSGIRequestHandler

# What the Server header says instead of "Werkzeug/3.1.9 Python/3.11.7" or "gunicorn": the
# software and its versions are a scanner's shortcut to known vulnerabilities.
SERVER_NAME = "Polaris Express"


def content_security_policy(script_hashes: list[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def hide_server_software() -> None:
    """Both servers write their Server header themselves, after the app has answered (a header
    set by the app would only be sent twice), so the name they write is replaced: Werkzeug's
    request handler (``flask run``, the tests' live server) and, when it runs the app,
    gunicorn's (its worker imported ``gunicorn.http.wsgi`` before loading the app)."""
    WSGIRequestHandler.version_string = _server_name  # type: ignore[method-assign,assignment]
    gunicorn_wsgi = sys.modules.get("gunicorn.http.wsgi")
    if gunicorn_wsgi is not None:
        gunicorn_wsgi.SERVER = SERVER_NAME  # type: ignore[attr-defined]


def _server_name(_handler: object) -> str:
    return SERVER_NAME


def hide_python_version(dash_app: Dash) -> None:
    """Dash writes ``sys.version`` into every page's config (``python_version``: the exact build
    and compiler); its renderer never reads it, and a scanner would. The rest stays as Dash
    makes it. ``_config`` is Dash's own hook for that script (Dash 4.4)."""
    dash_config = dash_app._config

    def config_without_python() -> dict[str, object]:
        config = dash_config()
        config.pop("python_version", None)
        return config

    dash_app._config = config_without_python  # type: ignore[method-assign]


def install_security_headers(server: Flask, dash_app: Dash) -> None:
    hide_server_software()
    hide_python_version(dash_app)
    policy: list[str] = []  # computed on first response: every inline script exists by then

    @server.after_request
    def security_headers(response: Response) -> Response:
        if not policy:
            policy.append(content_security_policy(list(dash_app.csp_hashes())))
        response.headers.setdefault("Content-Security-Policy", policy[0])
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if server.config["HTTPS"]:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response
