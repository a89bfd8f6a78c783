"""Any path no page claims."""

from __future__ import annotations

import dash
from dash.development.base_component import Component

from components.notices import notice

dash.register_page(__name__, path="/404", title="Not found · Polaris Express")


def layout(**_: object) -> Component:
    return notice(
        "We couldn't find that page",
        "The address may be mistyped, or the page has moved.",
        "Back to your home page",
        "/",
    )
