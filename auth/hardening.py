"""Dash's callback endpoint as an API that checks what it is sent.

``/_dash-update-component`` trusts whatever JSON arrives: a body of the wrong shape, an output
that names no callback or a ``text/plain`` POST made Dash raise (``KeyError: Callback function
not found``, ``TypeError``, ``CallbackException``) and answer 500. This gate runs after the
request guard (anonymous: 401) and CSRF (no token: 400) and answers, with a JSON error and no
traceback:

* 415 to anything but JSON (callbacks are never a form or a ``text/plain`` "simple request");
* 400 to a body that is not the object the renderer sends: an ``output`` that names a server
  callback, ``inputs``/``state``/``outputs`` that are lists of ``{"id", "property"}`` entries
  matching that callback's own dependencies, one for one (an input relabelled as
  ``url.pathname`` is refused), ``changedPropIds`` that name only those inputs, and a
  ``pathname`` input that is a string (``null`` crashed Dash's page router);
* 403 to a non-admin account calling a callback whose outputs are admin components (an id, or a
  pattern-matching id's value, starting with ``admin-``), whichever page the request says it
  comes from; and 403 to a non-admin account on any export (``/export/...``) but its own
  sessions and usage (``data.exchange.exports.CUSTOMER_EXPORT_PATHS``, whose rows ``web.exports``
  always limits to the account).

It also answers 404, not 500, to a component-bundle URL that names no registered file
(``/_dash-component-suites/...`` is public: Dash raised ``DependencyException`` for anyone).

``install_hardening(server, dash_app)`` is called by ``install_auth`` after the guard and CSRF.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from dash import Dash
from dash.exceptions import DependencyException
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from auth.accounts import current_account
from data.exchange.exports import CUSTOMER_EXPORT_PATHS

log = logging.getLogger("polaris.auth")

ADMIN_ID_PREFIX = "admin-"
ADMIN_ONLY_PREFIXES = ("/export/",)
WILDCARDS = frozenset({"ALL", "MATCH", "ALLSMALLER"})


class BadCallbackRequest(ValueError):
    """The body is not a callback request this app can answer; the message says why."""


def install_hardening(server: Flask, dash_app: Dash) -> None:
    callback_path = dash_app.config.routes_pathname_prefix + "_dash-update-component"

    @server.before_request
    def check_request() -> tuple[Response, int] | None:
        if (
            request.path.startswith(ADMIN_ONLY_PREFIXES)
            and request.path not in CUSTOMER_EXPORT_PATHS
            and not _is_admin()
        ):
            return _error(403, "Not allowed for this account.")
        if request.path != callback_path or request.method != "POST":
            return None
        if not request.is_json:
            return _error(415, "Callbacks accept JSON only (Content-Type: application/json).")
        try:
            body = request.get_json()  # parsed once; Dash's dispatch reads the cached value
        except (BadRequest, RecursionError):
            return _error(400, "The request body is not valid JSON.")
        try:
            callback = find_callback(body, dash_app.callback_map)
            if is_admin_callback(callback) and not _is_admin():
                return _error(403, "Not allowed for this account.")
            check_body(body, callback)
        except BadCallbackRequest as exc:
            log.info("refused callback request: %s", exc)
            return _error(400, str(exc))
        return None

    @server.errorhandler(DependencyException)
    def unknown_bundle(_error: DependencyException) -> tuple[Response, int]:
        # Dash's message lists every registered file: say less.
        return Response("Not found.\n", mimetype="text/plain"), 404


def _is_admin() -> bool:
    # The guard has already turned anonymous people away; the account is the session's own.
    account = current_account()
    return account is not None and account.is_admin


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


# --- The body ------------------------------------------------------------------------------------


def find_callback(body: Any, callback_map: Mapping[str, Any]) -> Mapping[str, Any]:
    """The server callback ``body`` names; ``BadCallbackRequest`` when there is none."""
    if not isinstance(body, dict):
        raise BadCallbackRequest("The body must be a JSON object.")
    output = body.get("output")
    if not isinstance(output, str):
        raise BadCallbackRequest("'output' must name a callback.")
    callback = callback_map.get(output)
    if callback is None or "callback" not in callback:
        # Unknown, or a clientside callback: nothing on the server to run.
        raise BadCallbackRequest("No such callback.")
    return callback


def check_body(body: dict[str, Any], callback: Mapping[str, Any]) -> None:
    """Raise ``BadCallbackRequest`` unless ``body`` has the shape the renderer sends for
    ``callback``: its own dependencies, one for one, in order."""
    inputs = _deps(body, "inputs", callback["inputs"], required=True)
    _check_pathnames(inputs)
    _deps(body, "state", callback["state"], required=False)
    _check_outputs(body.get("outputs"), callback)
    _check_changed(body.get("changedPropIds", []), inputs)


def _deps(
    body: Mapping[str, Any], key: str, declared: list[dict[str, str]], *, required: bool
) -> list[Any]:
    sent = body.get(key)
    if sent is None and not required and not declared:
        return []  # the renderer leaves 'state' out when a callback has none
    if not isinstance(sent, list):
        raise BadCallbackRequest(f"'{key}' must be a list.")
    if len(sent) != len(declared):
        raise BadCallbackRequest(f"'{key}' must have {len(declared)} entries.")
    for entry, spec in zip(sent, declared, strict=True):
        _check_dep(entry, spec["id"], spec["property"], key)
    return sent


def _check_pathnames(inputs: list[Any]) -> None:
    """A location's ``pathname`` is always a string in the browser, its ``search`` a string or
    absent; ``null`` (or a number) made Dash's page router raise ``TypeError`` or
    ``AttributeError`` (a traceback in the log for one request)."""
    for item in _flat(inputs):
        prop, value = item.get("property"), item.get("value")
        if prop == "pathname" and not isinstance(value, str):
            raise BadCallbackRequest("'pathname' must be a string.")
        if prop == "search" and not isinstance(value, str | None):
            raise BadCallbackRequest("'search' must be a string.")


def _check_outputs(sent: Any, callback: Mapping[str, Any]) -> None:
    if callback.get("no_output"):
        return
    declared = callback["output"]
    if isinstance(declared, list | tuple):
        if not isinstance(sent, list) or len(sent) != len(declared):
            raise BadCallbackRequest(f"'outputs' must be a list of {len(declared)} entries.")
        pairs = list(zip(sent, declared, strict=True))
    else:
        pairs = [(sent, declared)]
    for entry, spec in pairs:
        _check_dep(entry, spec.component_id_str(), spec.component_property, "outputs")


def _check_dep(entry: Any, declared_id: str, declared_prop: str, key: str) -> None:
    """One dependency: a single ``{"id", "property"}``, or a list of them for a wildcard."""
    pattern = _pattern(declared_id)
    if pattern is not None and isinstance(entry, list):
        items: list[Any] = entry
    else:
        items = [entry]
    for item in items:
        if not isinstance(item, dict):
            raise BadCallbackRequest(f"each entry of '{key}' must be an object.")
        prop = item.get("property")
        ident = item.get("id")
        if not isinstance(prop, str) or prop.split("@", 1)[0] != declared_prop.split("@", 1)[0]:
            raise BadCallbackRequest(f"'{key}' does not match the callback.")
        if pattern is None:
            if ident != declared_id:
                raise BadCallbackRequest(f"'{key}' does not match the callback.")
        elif not _matches(ident, pattern):
            raise BadCallbackRequest(f"'{key}' does not match the callback.")


def _pattern(declared_id: str) -> dict[str, Any] | None:
    """A pattern-matching id (``{"type": "x", "index": ["ALL"]}``) as a dict; None otherwise."""
    if not declared_id.startswith("{"):
        return None
    try:
        value = json.loads(declared_id)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _is_wildcard(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 1 and value[0] in WILDCARDS


def _matches(ident: Any, pattern: dict[str, Any]) -> bool:
    if not isinstance(ident, dict) or set(ident) != set(pattern):
        return False
    for name, expected in pattern.items():
        value = ident[name]
        if _is_wildcard(expected):
            # Dash's wildcard values are strings, numbers or booleans, never containers.
            if isinstance(value, dict | list) or value is None:
                return False
        elif value != expected:
            return False
    return True


def _check_changed(changed: Any, inputs: list[Any]) -> None:
    """``changedPropIds`` may name only this request's own inputs (a prop id relabelled as
    ``url.pathname`` or any other component's is refused)."""
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise BadCallbackRequest("'changedPropIds' must be a list of strings.")
    own = list(_flat(inputs))
    for prop_id in changed:
        ident_text, _, prop = prop_id.rpartition(".")
        ident: Any = ident_text
        if ident_text.startswith("{"):
            try:
                ident = json.loads(ident_text)
            except ValueError:
                raise BadCallbackRequest("'changedPropIds' names no input.") from None
        if not any(item["id"] == ident and item["property"] == prop for item in own):
            raise BadCallbackRequest("'changedPropIds' names no input of this callback.")


def _flat(entries: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for entry in entries:
        if isinstance(entry, list):
            yield from entry
        else:
            yield entry


# --- Admin callbacks -----------------------------------------------------------------------------


def is_admin_callback(callback: Mapping[str, Any]) -> bool:
    """True when any output of ``callback`` is an admin component (id ``admin-...``)."""
    declared = callback.get("output")
    outputs = declared if isinstance(declared, list | tuple) else [declared]
    for output in outputs:
        if output is None:
            continue
        ident = output.component_id
        names = ident.values() if isinstance(ident, dict) else [ident]
        if any(isinstance(n, str) and n.startswith(ADMIN_ID_PREFIX) for n in names):
            return True
    return False
