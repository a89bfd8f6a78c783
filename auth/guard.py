"""The one request gate: deny by default, with an explicit allow-list.

Pages redirect anonymous people to sign in; Dash's API endpoints and exports answer 401 with no
data. Role checks for ``/`` and ``/admin`` live here too, so no page can forget them.

The JSON API's blueprint (``BEARER_ONLY_BLUEPRINT``, ``web.api``) is the one exception: it signs
every request to its own routes in itself, by bearer token only, never by the session cookie, so
the gate does not look at the cookie there (a browser's cookie must not sign anybody in to it).
Any other route, under ``/api/`` or not, still passes the gate.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, abort, jsonify, redirect, render_template, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response as BaseResponse

from auth.accounts import current_account

PUBLIC_PATHS = frozenset({"/login", "/healthz", "/_favicon.ico", "/favicon.ico"})
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
API_PREFIXES = ("/_dash-", "/export/", "/api/")
BEARER_ONLY_BLUEPRINT = "api"  # web.api: it checks the bearer token of every request itself
# Downloads answer with a status, never the sign-in page: a script or a spreadsheet is asking.
API_SUFFIXES = (".csv",)
CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads and echoes as X-CSRFToken


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path.endswith(API_SUFFIXES)


def install_guard(server: Flask, dash_index: Callable[[], str]) -> None:
    @server.before_request
    def gate() -> BaseResponse | tuple[Response, int] | None:
        path = request.path
        if is_public(path) or request.blueprint == BEARER_ONLY_BLUEPRINT:
            return None
        if not current_user.is_authenticated:
            if is_api(path) or request.method != "GET":
                return jsonify(error="Sign in first."), 401
            return redirect("/login?next=" + _quote_next(request.full_path))
        account = current_account()
        if account is None:
            abort(403)
        if path == "/" and account.is_admin:
            return redirect("/admin")
        if (path == "/admin" or path.startswith("/admin/")) and not account.is_admin:
            # The Dash shell renders the "admin only" notice for this path; the status says 403.
            return Response(dash_index(), status=403, mimetype="text/html")
        return None

    @server.after_request
    def csrf_cookie(response: Response) -> Response:
        # Dash's renderer sends this cookie back as the X-CSRFToken header on every callback.
        # Set by the pages that start a renderer (a GET of HTML), not on a callback's answer
        # (an unchanged poll answers 204 as text/html: a token and a cookie per tick, unused).
        if (
            request.method == "GET"
            and response.mimetype == "text/html"
            and current_user.is_authenticated
        ):
            response.set_cookie(
                CSRF_COOKIE,
                generate_csrf(),
                samesite="Lax",
                secure=server.config["SESSION_COOKIE_SECURE"],
                httponly=False,
            )
        return response

    @server.errorhandler(403)
    def forbidden(_error: Exception) -> tuple[str | Response, int]:
        if is_api(request.path):
            return jsonify(error="Not allowed for this account."), 403
        return render_template(
            "error.html",
            title="Not allowed",
            message="Your active account cannot open this page.",
            link_href="/switch",
            link_text="Switch account",
        ), 403


def _quote_next(full_path: str) -> str:
    from urllib.parse import quote

    return quote(full_path.rstrip("?"), safe="/")
