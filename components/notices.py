"""Full-page notices: not allowed, not found."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def notice(
    title: str, message: str, link_text: str, link_href: str, *, external: bool = False
) -> dbc.Card:
    """``external``: the link leaves the Dash router (a Flask route, such as a redirect)."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.H1(title, className="h4"),
                html.P(message),
                dbc.Button(
                    link_text, href=link_href, color="primary", outline=True, external_link=external
                ),
            ]
        ),
        className="mx-auto my-5 shadow-sm notice-card",
        style={"maxWidth": "32rem"},
    )


def admin_only_notice() -> dbc.Card:
    return notice(
        "This page is for operators",
        "Your active account is a customer account. If you also hold an admin account, "
        "switch to it from the account picker.",
        "Switch account",
        "/switch",
    )
