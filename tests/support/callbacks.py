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
    DASHBOARD_TICK_ID,
    NEXT_RESERVATION_BODY_ID,
    NEXT_WATCH_ID,
    OPERATOR_CONTACT_ID,
    PLAN_GAUGE_ID,
    RECENT_DATA_ID,
    STATUS_SHOWN_ID,
    USAGE_CHART_ID,
    USAGE_TOTAL_ID,
)
from components.shell import BANNER_PROPS
from tests.support.two_customers import PATTERN_IDS
from tests.support.web import _outputs_from, dash_csrf

CALLBACK_URL = "/_dash-update-component"

# Callbacks by their key (``@hash`` dropped): the driver's banner, the dashboard's render, the
# page router.
BANNER = (
    "..active-session-banner.hidden...banner-kwh.children...banner-cost.children"
    "...banner-started.children...banner-charger.children.."
)

RENDER = (
    "..recent-sessions-data.data...next-reservation-body.children...usage-total.children"
    "...usage-chart.figure...plan-gauge.children...charger-grid-data.data"
    "...available-count.children...operator-contact.children...charger-status-shown.data"
    "...next-reservation-watch.data.."
)

# The dashboard's refresh tick: the banner, the pills and Next reservation in one request.
TICK = (
    "..active-session-banner.hidden...banner-kwh.children...banner-cost.children"
    "...banner-started.children...banner-charger.children...charger-status-data.data"
    "...charger-status-shown.data...next-reservation-body.children...next-reservation-watch.data.."
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
    (NEXT_WATCH_ID, "data"),
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


# --- Calling a page's callbacks by their function's name ---------------------------------------


def page_callbacks(app: Flask, modules: tuple[str, ...]) -> dict[str, tuple[str, Any]]:
    """``function name -> (callback map key, entry)`` for the callbacks of ``modules``."""
    found = {}
    for key, entry in callback_map(app).items():
        func_ = entry.get("callback")
        if func_ is not None and func_.__module__ in modules:
            found[func_.__name__] = (key, entry)
    return found


def _id_text(ident: Any) -> str:
    if isinstance(ident, str):
        return ident
    return json.dumps(ident, sort_keys=True, separators=(",", ":"))


def each(kind: str, key: str, values: dict[str, Any]) -> list[tuple[dict[str, str], Any]]:
    """Pattern-matched components of one ``type`` and their values: ``{key value: value}``."""
    return [({"type": kind, key: k}, v) for k, v in values.items()]


def _dep(dep: dict[str, str], values: dict[str, Any]) -> Any:
    """One declared dependency with its value from ``values``: ``"id.prop"`` for a plain id;
    for a pattern id ``"type.prop"`` holding ``[(concrete id, value), ...]`` (ALL: every such
    component; MATCH: the one)."""
    prop = dep["property"]
    if not dep["id"].startswith("{"):
        return {"id": dep["id"], "property": prop, "value": values.get(f"{dep['id']}.{prop}")}
    pattern = json.loads(dep["id"])
    given = values.get(f"{pattern['type']}.{prop}", [])
    entries = [{"id": ident, "property": prop, "value": value} for ident, value in given]
    return entries[0] if ["MATCH"] in pattern.values() else entries


def call_page(
    client: FlaskClient,
    app: Flask,
    name: str,
    values: dict[str, Any] | None = None,
    changed: tuple[Any, str] | None = None,
    *,
    modules: tuple[str, ...],
    match: dict[str, str] | None = None,
) -> TestResponse:
    """POST callback ``name`` of ``modules`` with ``values``; ``changed``: the (id, property)
    that fired (by default the first plain input); ``match``: the MATCH wildcards' values."""
    key, entry = page_callbacks(app, modules)[name]
    values = values or {}
    inputs = [_dep(d, values) for d in entry["inputs"]]
    if changed is None:
        first = next(i if isinstance(i, dict) else i[0] for i in inputs if i)
        changed = (first["id"], first["property"])
    declared = entry["output"] if isinstance(entry["output"], list) else [entry["output"]]
    outputs = [
        {
            "id": {**o.component_id, **(match or {})}
            if isinstance(o.component_id, dict)
            else o.component_id,
            "property": o.component_property,
        }
        for o in declared
    ]
    if match is None:
        sent = _outputs_from(key)
    else:  # a list for several outputs, one entry for one, as the renderer sends them
        sent = outputs if isinstance(entry["output"], list) else outputs[0]
    body = {
        "output": key,
        "outputs": sent,
        "inputs": inputs,
        "state": [_dep(d, values) for d in entry["state"]],
        "changedPropIds": [f"{_id_text(changed[0])}.{changed[1]}"],
    }
    headers = {"X-CSRFToken": dash_csrf(client)} if client.get_cookie("session") else {}
    return client.post(
        CALLBACK_URL, data=json.dumps(body), content_type="application/json", headers=headers
    )


def answer(response: TestResponse) -> dict[str, Any]:
    """The callback's outputs as ``{"id": {"prop": value}}`` (``allow_duplicate`` marks and
    pattern ids as the renderer names them)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    out: dict[str, Any] = {}
    for ident, props in response.get_json()["response"].items():
        out[ident] = {p.split("@")[0]: v for p, v in props.items()}
    return out


def first_click(entry: dict[str, Any]) -> dict[str, Any]:
    """A click count of 1 on a callback's first input (of a pattern: on one such button), so
    "nothing clicked" guards do not hide the role check."""
    first = entry["inputs"][0]
    if not first["id"].startswith("{"):
        return {f"{first['id']}.{first['property']}": 1}
    pattern = json.loads(first["id"])
    ident = {k: "x" if isinstance(v, list) else v for k, v in pattern.items()}
    return {f"{pattern['type']}.{first['property']}": [(ident, 1)]}


# --- The dashboard's refresh tick ---------------------------------------------------------------

BANNER_HIDDEN = (True, "", "", "", "")  # the banner as a page without a session shows it


def dashboard_tick(
    client: FlaskClient,
    app: Flask,
    *,
    banner: tuple[Any, ...] = (SHOWN,) * 5,
    shown: Any = None,
    watch: Any = None,
) -> TestResponse:
    """One refresh tick of ``/`` as the browser sends it: the banner's texts on screen
    (``BANNER_PROPS`` order), what it keeps of the pills and of Next reservation."""
    state = [
        {"id": i, "property": p, "value": v} for (i, p), v in zip(BANNER_PROPS, banner, strict=True)
    ]
    state += [
        {"id": STATUS_SHOWN_ID, "property": "data", "value": shown},
        {"id": NEXT_WATCH_ID, "property": "data", "value": watch},
    ]
    inputs = [{"id": DASHBOARD_TICK_ID, "property": "data", "value": 1}]
    return call(client, callback_key(app, TICK), inputs, state=state)


def banner_of(answer: dict[str, Any], banner: tuple[Any, ...]) -> tuple[Any, ...]:
    """The banner on screen after ``answer`` (a tick's or the shell's response) was applied."""
    return tuple(
        answer.get(i, {}).get(p, old) for (i, p), old in zip(BANNER_PROPS, banner, strict=True)
    )
