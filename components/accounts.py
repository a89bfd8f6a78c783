"""The account picker: one POST form per account, with the CSRF token."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from auth.accounts import AccountInfo
from components.forms import post_form


def account_picker(accounts: list[AccountInfo], active_id: str | None, csrf_token: str) -> html.Div:
    items = []
    for account in accounts:
        is_active = account.id == active_id
        items.append(
            dbc.ListGroupItem(
                post_form(
                    "/account/switch",
                    csrf_token,
                    [
                        dcc.Input(type="hidden", name="account_id", value=account.id),
                        html.Div(
                            [
                                html.Div(account.title, className="fw-semibold"),
                                html.Small(
                                    "Admin account" if account.is_admin else "Customer account",
                                    className="text-body-secondary",
                                ),
                            ]
                        ),
                        dbc.Badge("Active", color="success", className="ms-auto")
                        if is_active
                        else html.Button(
                            "Use this account",
                            type="submit",
                            className="btn btn-outline-primary btn-sm",
                        ),
                    ],
                    "d-flex align-items-center justify-content-between gap-3",
                ),
                className="switch-account",
            )
        )
    return html.Div(dbc.ListGroup(items), id="account-list")
