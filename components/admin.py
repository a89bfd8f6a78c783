"""The frame of every admin page: a heading and the admin navigation."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html
from dash.development.base_component import Component

ADMIN_SECTIONS = (
    ("/admin", "Fleet"),
    ("/admin/sessions", "Sessions"),
    ("/admin/reservations", "Reservations"),
    ("/admin/accounts", "Accounts"),
    ("/admin/settings", "Plans & settings"),
    ("/admin/analytics", "Analytics"),
    ("/admin/ocpp", "OCPP"),
    ("/admin/tokens", "API tokens"),
    ("/admin/import", "Import"),
)


def admin_nav(active_href: str) -> dbc.Nav:
    return dbc.Nav(
        [
            dbc.NavItem(dbc.NavLink(label, href=href, active=href == active_href))
            for href, label in ADMIN_SECTIONS
        ],
        pills=True,
        className="mb-3 flex-wrap admin-nav",
        id="admin-nav",
    )


def admin_page(title: str, active_href: str, *children: Component) -> html.Div:
    """An admin page: h1, navigation, then the page's own sections."""
    return html.Div(
        [html.H1(title, className="h3 mb-3"), admin_nav(active_href), *children],
        className="admin-page",
    )
