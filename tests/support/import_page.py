"""The import page's callbacks (check, apply, start over) as the renderer calls them, for the
import-page and landing tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.callbacks import callback_body, callback_map


def callback_keys(app: Flask) -> dict[str, str]:
    """check, apply and reset by their first input."""
    found = {}
    for k, cb in callback_map(app).items():
        first = cb["inputs"][0]["id"] if cb["inputs"] else ""
        if first.startswith("admin-import-"):
            found[first] = k
    return {
        "check": found["admin-import-upload"],
        "apply": found["admin-import-apply"],
        "reset": found["admin-import-reset"],
    }


def data_url(blob: bytes) -> str:
    return "data:text/csv;base64," + base64.b64encode(blob).decode()


def check_body(
    app: Flask, names: list[str], contents: list[str], *, folder: bool = False, staged: Any = None
) -> dict[str, Any]:
    body = callback_body(app, callback_keys(app)["check"])
    which = 1 if folder else 0
    body["inputs"][0]["value"] = None
    body["inputs"][1]["value"] = None
    body["inputs"][which]["value"] = contents
    body["state"][0]["value"] = None if folder else names
    body["state"][1]["value"] = names if folder else None
    body["state"][2]["value"] = staged
    body["changedPropIds"] = [f"{body['inputs'][which]['id']}.{body['inputs'][which]['property']}"]
    return body


def button_body(app: Flask, which: str, staged: Any) -> dict[str, Any]:
    body = callback_body(app, callback_keys(app)[which])
    body["inputs"][0]["value"] = 1
    body["state"][0]["value"] = staged
    return body


def folder_upload(folder: Path) -> tuple[list[str], list[str]]:
    files = sorted(folder.glob("*.csv"))
    return [f"{folder.name}/{p.name}" for p in files], [data_url(p.read_bytes()) for p in files]


def answer(response: Any) -> tuple[Any, str, Any]:
    """(staged id, panel text, apply disabled) from a check/apply answer."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    out = response.get_json()["response"]
    return (
        out["admin-import-staged"]["data"],
        json.dumps(out["admin-import-panel"]["children"]),
        out["admin-import-apply"]["disabled"],
    )
