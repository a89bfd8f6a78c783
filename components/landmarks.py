"""Accessible building blocks shared by every page: aria attributes and named sections."""

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
    section_id: str, title: str, children: Sequence[Component | str], class_name: str
) -> html.Section:
    """A landmark with an h2 that names it (``aria-labelledby``)."""
    heading_id = f"{section_id}-heading"
    return html.Section(
        id=section_id,
        className=class_name,
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
