"""The frame of every admin page: heading, navigation, sections, dialogs and outcome alerts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html
from dash.development.base_component import Component

from components.landmarks import named_section

ADMIN_SECTIONS = (
    ("/admin", "Fleet"),
    ("/admin/sessions", "Sessions"),
    ("/admin/reservations", "Reservations"),
    ("/admin/accounts", "Accounts"),
    ("/admin/settings", "Plans & settings"),
    ("/admin/tariffs", "Tariffs"),
    ("/admin/analytics", "Analytics"),
    ("/admin/uptime", "Uptime"),
    ("/admin/ocpp", "OCPP"),
    ("/admin/tokens", "API tokens"),
    ("/admin/import", "Import"),
    ("/admin/audit", "Audit log"),
)


# The open alerts' count beside "Uptime", filled by a callback (``pages/admin_uptime.py``).
ALERTS_BADGE_ID = "admin-nav-alerts"
ALERTS_PAGE = "/admin/uptime"


def _nav_label(href: str, label: str) -> Any:
    if href != ALERTS_PAGE:
        return label
    return [
        label,
        " ",
        dbc.Badge(id=ALERTS_BADGE_ID, color="danger", pill=True, class_name="d-none"),
    ]


def alerts_badge(count: int) -> tuple[list[Any], str]:
    """The badge's text and class: hidden without open alerts; read aloud as "N open alerts"."""
    words = "open alert" if count == 1 else "open alerts"
    return [str(count), html.Span(f" {words}", className="visually-hidden")], (
        "" if count else "d-none"
    )


def admin_nav(active_href: str) -> dbc.Nav:
    return dbc.Nav(
        [
            dbc.NavItem(dbc.NavLink(_nav_label(href, label), href=href, active=href == active_href))
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


def confirm_modal(
    modal_id: str, title: str, body_id: str, keep_id: str, confirm_id: str, confirm_label: str
) -> dbc.Modal:
    """A closed "are you sure?" dialog: the question (filled in by a callback in ``body_id``),
    "Keep it" and a red button that does the irreversible thing."""
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(title)),
            dbc.ModalBody(id=body_id),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep it", id=keep_id, color="secondary", outline=True),
                    dbc.Button(confirm_label, id=confirm_id, color="danger"),
                ]
            ),
        ],
        id=modal_id,
        is_open=False,
        centered=True,
    )


def action_row(
    title: Component, detail: str, action: Component, *, text_class_name: str = ""
) -> html.Div:
    """One line of a list: a bold ``title`` over a small grey ``detail`` (wrapping, never
    pushing the button off a phone's screen), and ``action`` (a button) on the right.
    ``text_class_name`` marks the block holding title and detail (tests look for it)."""
    marker: dict[str, Any] = {"className": text_class_name} if text_class_name else {}
    text = html.Div(
        [title, html.Div(detail, className="small text-body-secondary text-break")],
        style={"minWidth": 0},
        **marker,
    )
    return html.Div(
        [text, action], className="d-flex justify-content-between align-items-center gap-2"
    )


def admin_section(
    section_id: str,
    title: str,
    children: Sequence[Component | str],
    *,
    class_name: str = "",
    hidden: bool = False,
) -> html.Section:
    class_names = f"admin-section card card-body mb-3 {class_name}".strip()
    return named_section(section_id, title, children, class_names, hidden=hidden)


def feedback(message: str, ok: bool) -> dbc.Alert:
    """What happened after a save, grant or revoke: green when done, red with the reason."""
    return dbc.Alert(
        message,
        color="success" if ok else "danger",
        class_name="py-2 mb-0 mt-2",
        dismissable=ok,
    )
