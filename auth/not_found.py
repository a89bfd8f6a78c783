"""404 for a path no page claims.

Dash's catch-all route answers every GET with the app shell (200), and its router then shows
the not-found page in the browser: a mistyped or probed URL looked like a real page to anything
reading the status (monitors, crawlers, scanners). This check, run after the request guard
(anonymous people are still sent to sign in, whatever the path: the guard's allow-list decides
what they learn, and an unknown path tells them nothing more than a known one), answers such a
path with the same shell and status 404. Whether a page claims a path is decided by Dash's own
router (``dash._pages._path_to_page`` over ``dash.page_registry``: paths and path templates
like ``/admin/chargers/<charger_id>``), so the two cannot disagree.
"""

from __future__ import annotations

from dash import Dash
from dash._pages import _path_to_page
from flask import Flask, Response, request

NOT_FOUND_PAGE = "not_found_404"  # the module Dash's router shows for unknown paths


def install_not_found(server: Flask, dash_app: Dash) -> None:
    prefix = dash_app.config.routes_pathname_prefix
    shell_rules = {prefix, prefix + "<path:path>"}  # Dash's index and catch-all

    @server.before_request
    def unknown_page() -> Response | None:
        rule = request.url_rule
        if request.method not in ("GET", "HEAD") or rule is None or rule.rule not in shell_rules:
            return None
        if is_page(dash_app, request.path):
            return None
        return Response(dash_app.index(), status=404, mimetype="text/html")


def is_page(dash_app: Dash, path: str) -> bool:
    """True when a registered page (not the not-found page itself) claims ``path``."""
    page, _ = _path_to_page(dash_app.strip_relative_path(path) or "")
    return bool(page) and page["module"].rsplit(".", 1)[-1] != NOT_FOUND_PAGE
