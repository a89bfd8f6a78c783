"""/admin: the operator's home. The fleet overview lands here."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash.development.base_component import Component

from components.admin import admin_page
from pages._admin import admin_layout

dash.register_page(__name__, path="/admin", title="Admin · Polaris Express", name="Admin")


@admin_layout
def layout(**_: object) -> Component:
    return admin_page(
        "Fleet",
        "/admin",
        dbc.Alert("The fleet overview is on its way.", color="info"),
    )
