"""Accessible building blocks shared by every page: aria, named sections, scroll boxes, loading."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html
from dash.development.base_component import Component


def aria(**attrs: str) -> dict[str, Any]:
    """``aria_label="x"`` → ``{"aria-label": "x"}`` for html components' wildcard props."""
    return {"aria-" + key.replace("_", "-"): value for key, value in attrs.items()}


def data_attributes(**attrs: str) -> dict[str, Any]:
    """``charger="PX-1"`` → ``{"data-charger": "PX-1"}``: data attributes for tests and scripts."""
    return {"data-" + key.replace("_", "-"): value for key, value in attrs.items()}


def named_section(
    section_id: str,
    title: str,
    children: Sequence[Component | str],
    class_name: str,
    *,
    hidden: bool = False,
) -> html.Section:
    """A landmark with an h2 that names it (``aria-labelledby``); ``hidden`` until a callback
    shows it."""
    heading_id = f"{section_id}-heading"
    shown: dict[str, Any] = {"hidden": True} if hidden else {}
    return html.Section(
        id=section_id,
        className=class_name,
        **shown,
        **aria(labelledby=heading_id),
        children=[html.H2(title, id=heading_id, className="h5 mb-3"), *children],
    )


def scroll_box(table: Component, label: str, class_name: str = "") -> html.Div:
    """A table that may scroll sideways on a phone, reachable by keyboard.

    A scrolling box without anything focusable in it cannot be scrolled from the keyboard
    (axe: scrollable-region-focusable), so the box itself takes focus and is a named region.
    """
    return html.Div(
        table,
        className=f"table-responsive {class_name}".strip(),
        tabIndex="0",
        role="region",
        **aria(label=label),
    )


def section(
    section_id: str, title: str, children: Sequence[Component | str], *, class_name: str = ""
) -> html.Section:
    """A card of the dashboard and analytics pages: a landmark with an h2 that names it."""
    return named_section(section_id, title, children, f"dashboard-section {class_name}".strip())


def loading_placeholder(label: str, lines: int = 3) -> html.Div:
    """Grey bars while the first render is on its way; screen readers hear ``label``."""
    widths = ("col-7", "col-5", "col-9", "col-4", "col-6")
    return html.Div(
        className="dashboard-loading",
        children=[
            html.Span(label, className="visually-hidden"),
            html.Div(
                className="placeholder-glow",
                **aria(hidden="true"),
                children=[
                    html.Span(className=f"placeholder {widths[i % len(widths)]} d-block mb-2")
                    for i in range(lines)
                ],
            ),
        ],
    )
