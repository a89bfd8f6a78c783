"""Trees that every page view sends unchanged, encoded to JSON once instead of each time."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from dash._utils import to_json
from dash.development.base_component import Component

C = TypeVar("C", bound=Component)


def encoded_once(tree: C) -> C:
    """``tree``, whose JSON form is computed now and reused by every response that sends it.

    Dash encodes a layout component by component on each request (0.75 ms for the dashboard's
    11 KB skeleton, the same bytes every time); the plain dicts kept here are encoded by the
    JSON module's C code. The tree stays a normal component for code and tests that walk it,
    and must not be changed afterwards.
    """
    plain: dict[str, Any] = json.loads(to_json(tree))
    # An instance attribute shadows the method the encoder calls (Component.to_plotly_json).
    tree.to_plotly_json = lambda: plain  # type: ignore[method-assign]
    return tree
