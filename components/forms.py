"""The forms' shared pieces: the POST form with its CSRF token; for the admin forms, labelled
fields, error lines, ✓/✕ outcomes, card sections."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.landmarks import aria as _aria
from data.accounts.validation import ISO_4217_CODES

REFRESH_NOTE = "Customers see it the next time their dashboard refreshes."


def post_form(
    action: str, csrf_token: str, children: list[Component], class_name: str
) -> html.Form:
    """A plain HTML form that POSTs to ``action`` (a Flask route, not a callback), the CSRF
    token first among its fields."""
    return html.Form(
        action=action,
        method="POST",
        className=class_name,
        children=[dcc.Input(type="hidden", name="csrf_token", value=csrf_token), *children],
    )


def error_id(input_id: str) -> str:
    return f"{input_id}-error"


def success(message: str) -> html.Div:
    """A confirmation: a tick and words, announced to screen readers by the live region."""
    return html.Div(
        [html.Span("✓ ", **_aria(hidden="true")), message],
        className="admin-feedback text-success-emphasis small mt-2",
    )


def failure(message: str) -> html.Div:
    return html.Div(
        [html.Span("✕ ", **_aria(hidden="true")), message],
        className="admin-feedback text-danger small mt-2",
    )


def live_region(region_id: str) -> html.Div:
    """Where a form's outcome appears; polite, so typing is not interrupted."""
    return html.Div(id=region_id, role="status", **_aria(live="polite"))


def field_error(input_id: str) -> html.Div:
    """The message next to one field (empty when the field is fine)."""
    return html.Div(
        id=error_id(input_id), className="invalid-feedback d-block field-error", role="alert"
    )


def form_field(
    label: str,
    control: dbc.Input | dbc.Select | dbc.Checklist | dcc.Dropdown,
    help_text: str | None = None,
    class_name: str = "mb-3",
) -> html.Div:
    """``control`` under its label, then the help text and the line for its error, all three
    naming the control's own id."""
    # Dash sets every prop as an attribute; its typed dcc classes just do not declare them.
    input_id: str = control.id  # type: ignore[union-attr]
    children: list[Component] = [dbc.Label(label, html_for=input_id)]
    children.append(control)
    if help_text:
        children.append(dbc.FormText(help_text))
    children.append(field_error(input_id))
    return html.Div(children, className=class_name)


def text_input(input_id: str, **kwargs: Any) -> dbc.Input:
    return dbc.Input(id=input_id, type=kwargs.pop("type", "text"), **kwargs)


def currency_options() -> list[dict[str, str]]:
    return [{"label": code, "value": code} for code in ISO_4217_CODES]


def currency_dropdown(dropdown_id: str) -> dcc.Dropdown:
    """The ISO 4217 picker of the plan and operator forms (type to search)."""
    return dcc.Dropdown(
        id=dropdown_id,
        options=currency_options(),
        searchable=True,
        clearable=False,
        placeholder="ISO 4217, e.g. EUR",
    )


def card_section(section_id: str, title: str, children: list[Component]) -> html.Section:
    heading = f"{section_id}-heading"
    return html.Section(
        id=section_id,
        className="card h-100",
        **_aria(labelledby=heading),
        children=html.Div(
            [html.H2(title, id=heading, className="h5 mb-3"), *children], className="card-body"
        ),
    )
