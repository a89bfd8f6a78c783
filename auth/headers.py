"""Security headers on every response, with a Content-Security-Policy that allows no eval.

Dash's one inline script (the renderer start-up) is allowed by its hash from
``Dash.csp_hashes()``; styles keep 'unsafe-inline' because Dash and plotly.js set inline styles.
"""

from __future__ import annotations

from dash import Dash
from flask import Flask, Response


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


def install_security_headers(server: Flask, dash_app: Dash) -> None:
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
