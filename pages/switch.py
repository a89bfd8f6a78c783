"""/switch: the account picker for a person who holds several accounts."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, html
from dash.development.base_component import Component
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from auth.accounts import current_account
from components.accounts import account_picker
from components.landmarks import aria

dash.register_page(
    __name__, path="/switch", title="Switch account · Polaris Express", name="Switch"
)


def layout(**_: object) -> Component:
    return html.Section(
        [
            html.H1("Switch account", className="h3"),
            html.P("Pick the account you want to use.", className="text-body-secondary"),
            html.Div(dbc.Spinner(size="sm"), id="switch-accounts"),
        ],
        **aria(label="Your accounts"),
        className="mx-auto",
        style={"maxWidth": "36rem"},
    )


@callback(Output("switch-accounts", "children"), Input("url", "pathname"))
def show_accounts(_path: str | None) -> Component:
    active = current_account()
    accounts = list(current_user.accounts.values())
    return account_picker(accounts, active.id if active else None, generate_csrf())
