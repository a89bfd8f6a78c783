"""/admin: the operator's home. The portal itself is its own issue; this is its front door."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html
from dash.development.base_component import Component
from flask import has_request_context

from auth.accounts import current_account
from components.notices import admin_only_notice

dash.register_page(__name__, path="/admin", title="Admin · Polaris Express", name="Admin")


def layout(**_: object) -> Component:
    # The request guard already answered 403 for a customer; this says why on the page itself.
    account = current_account() if has_request_context() else None
    if account is not None and not account.is_admin:
        return admin_only_notice()
    return html.Div(
        [
            html.H1("Operations", className="h3"),
            dbc.Alert(
                "The admin portal (fleet, sessions, accounts, plans, reservations) is on its way.",
                color="info",
            ),
        ]
    )
