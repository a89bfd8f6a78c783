"""Dash callbacks over HTTP: find a callback in the app's map and build its request the way the
renderer does (``POST /_dash-update-component``), and read the answer."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from components.dashboard import (
    AVAILABLE_COUNT_ID,
    CHARGER_DATA_ID,
    NEXT_RESERVATION_BODY_ID,
    OPERATOR_CONTACT_ID,
    PLAN_GAUGE_ID,
    RECENT_DATA_ID,
    STATUS_SHOWN_ID,
    USAGE_CHART_ID,
    USAGE_TOTAL_ID,
)
from tests.support.two_customers import PATTERN_IDS
from tests.support.web import dash_csrf

CALLBACK_URL = "/_dash-update-component"

# Callbacks by their key (``@hash`` dropped): the driver's banner, the dashboard's render, the
# page router.
BANNER = (
    "..active-session-banner.hidden...banner-kwh.children"
    "...banner-started.children...banner-charger.children.."
)

RENDER = (
    "..recent-sessions-data.data...next-reservation-body.children...usage-total.children"
    "...usage-chart.figure...plan-gauge.children...charger-grid-data.data"
    "...available-count.children...operator-contact.children...charger-status-shown.data.."
)

ROUTER = ".._pages_content.children..._pages_store.data.."

NEUTRAL_INPUTS = {"pathname": "/", "search": "", "n_intervals": 1, "data": "current"}

SHOWN = "?"  # a State value no output ever equals, so every output is sent back


# --- Finding callbacks ------------------------------------------------------------------------


def callback_name(key: str) -> str:
    """The callback map key without ``allow_duplicate`` hashes."""
    return re.sub(r"@[0-9a-f]{16,}", "", key)


def callback_key(app: Flask, name: str) -> str:
    """The one callback whose key, ``allow_duplicate`` hashes dropped, is ``name``."""
    keys = [k for k in callback_map(app) if callback_name(k) == name]
    assert len(keys) == 1, f"{name!r} is not one callback of the map"
    return keys[0]


def callback_map(app: Flask) -> dict[str, Any]:
    return app.extensions["polaris_dash"].callback_map


def output_ids(callback: dict[str, Any]) -> list[Any]:
    declared = callback["output"]
    outputs = declared if isinstance(declared, list | tuple) else [declared]
    return [o.component_id for o in outputs]


# --- Building requests the way the renderer does -----------------------------------------------


def _is_wildcard(value: Any) -> bool:
    return (
        isinstance(value, list) and len(value) == 1 and value[0] in ("ALL", "MATCH", "ALLSMALLER")
    )


def dependency(spec_id: str, prop: str, value: Any, *, with_value: bool = True) -> Any:
    """One Input/State/Output entry; a list of entries for a pattern-matching ``ALL`` id."""

    def entry(ident: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"id": ident, "property": prop}
        if with_value:
            item["value"] = value
        return item

    if not spec_id.startswith("{"):
        return entry(spec_id)
    pattern = json.loads(spec_id)
    concrete = [
        {k: (pid if _is_wildcard(v) else v) for k, v in pattern.items()} for pid in PATTERN_IDS
    ]
    if any(v == ["MATCH"] for v in pattern.values()):
        return entry(concrete[0])
    return [entry(ident) for ident in concrete]


def callback_body(app: Flask, key: str) -> dict[str, Any]:
    """A well-formed request for callback ``key`` with neutral values."""
    cb = callback_map(app)[key]
    inputs = [
        dependency(i["id"], i["property"], NEUTRAL_INPUTS.get(i["property"])) for i in cb["inputs"]
    ]
    state = [dependency(s["id"], s["property"], SHOWN) for s in cb["state"]]
    declared = cb["output"]
    outputs = [
        dependency(o.component_id_str(), o.component_property, None, with_value=False)
        for o in (declared if isinstance(declared, list | tuple) else [declared])
    ]
    first = cb["inputs"][0] if cb["inputs"] else None
    changed = (
        []
        if first is None or first["id"].startswith("{")
        else [f"{first['id']}.{first['property']}"]
    )
    return {
        "output": key,
        "outputs": outputs if isinstance(declared, list | tuple) else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": changed,
    }


def post(client: FlaskClient, body: Any, *, csrf: bool = True) -> TestResponse:
    headers = {"X-CSRFToken": dash_csrf(client)} if csrf else {}
    return client.post(
        CALLBACK_URL, data=json.dumps(body), content_type="application/json", headers=headers
    )


# The dashboard's render callback, output by output.
RENDER_OUTPUTS = [
    (RECENT_DATA_ID, "data"),
    (NEXT_RESERVATION_BODY_ID, "children"),
    (USAGE_TOTAL_ID, "children"),
    (USAGE_CHART_ID, "figure"),
    (PLAN_GAUGE_ID, "children"),
    (CHARGER_DATA_ID, "data"),
    (AVAILABLE_COUNT_ID, "children"),
    (OPERATOR_CONTACT_ID, "children"),
    (STATUS_SHOWN_ID, "data"),
]


def callback_containing(app: Flask, marker: str) -> str:
    """The callback whose key is ``marker``, or the only one whose outputs include it."""
    if marker in app.extensions["polaris_dash"].callback_map:
        return marker
    keys = [k for k in app.extensions["polaris_dash"].callback_map if marker in k]
    assert len(keys) == 1, (marker, keys)
    return keys[0]


def outputs_of(key: str) -> list[dict[str, Any]]:
    specs = []
    for part in key.strip(".").split("..."):
        ident, _, prop = part.rpartition(".")
        specs.append(
            {"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop}
        )
    return specs


def call(
    client: FlaskClient,
    key: str,
    inputs: list[dict[str, Any]],
    state: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
) -> Any:
    specs = outputs or outputs_of(key)
    body = {
        "output": key,
        "outputs": specs if len(specs) > 1 else specs[0],
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": [f"{json.dumps(inputs[0]['id'])}.{inputs[0]['property']}"]
        if isinstance(inputs[0]["id"], dict)
        else [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }
    headers = {"X-CSRFToken": dash_csrf(client)} if client.get_cookie("session") else {}
    return client.post(
        CALLBACK_URL, data=json.dumps(body), content_type="application/json", headers=headers
    )


def find(tree: Any, ident: str) -> dict[str, Any] | None:
    """The props of the component with id ``ident`` anywhere in a callback's answer."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("id") == ident:
            return props
        for value in tree.values():
            if (found := find(value, ident)) is not None:
                return found
    elif isinstance(tree, list):
        for value in tree:
            if (found := find(value, ident)) is not None:
                return found
    return None
