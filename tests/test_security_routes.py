"""Deny by default, proven over the whole URL map and callback map; and the callback endpoint as
an attacker calls it (wrong content types, no CSRF token, malformed bodies).

The inventory walks ``app.url_map`` and the Dash callback map as they are, so a route or a
callback added later is checked without anyone listing it here. Only ``PUBLIC_RULES`` may
answer an anonymous request with anything but a redirect to sign in (pages) or 401 (Dash's API,
exports): a new public route fails ``test_anonymous_inventory`` until it is added there.

The apps run with ``PROPAGATE_EXCEPTIONS=False``, as in production, so a crash shows up as the
500 a browser would get rather than being masked by the test client's re-raise.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import sys
import uuid
from typing import Any

import dash
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

import auth.guard as guard
import auth.hardening as hardening
from tests.support.callbacks import BANNER, callback_body, callback_map
from tests.support.two_customers import (
    A_SECRETS,
    ADMIN_EMAIL,
    ALICE_EMAIL,
    B_SECRETS,
    ZEB_EMAIL,
    build_app,
    leaks,
)
from tests.support.web import AppFactory, client_for, dash_csrf

CALLBACK_URL = "/_dash-update-component"
# The explicit allow-list, by URL rule. Everything else turns anonymous people away.
PUBLIC_RULES = frozenset(
    {
        "/login",
        "/healthz",
        "/_favicon.ico",
        "/favicon.ico",
        "/assets/<path:filename>",
        "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
        "/api/v1/openapi.json",  # the JSON API's description (web.api), no data in it
    }
)
API_PREFIXES = ("/_dash-", "/export/", "/api/")
API_SUFFIXES = (".csv",)  # downloads such as /admin/analytics/<chart>.csv
EVERYONE_SECRETS = A_SECRETS + B_SECRETS + ("Olga", ADMIN_EMAIL, "acc-olga-admin")
TRACEBACK_SIGNS = ("Traceback", 'File "', "KeyError", "TypeError", "AttributeError")


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    return build_app(module_app_factory, PROPAGATE_EXCEPTIONS=False)


@pytest.fixture(scope="module")
def alice(app: Flask) -> FlaskClient:
    return client_for(app, ALICE_EMAIL)


# --- The inventory ------------------------------------------------------------------------------


def sample_value(converter: Any) -> Any:
    kind = type(converter).__name__
    if kind == "IntegerConverter":
        return 1
    if kind == "FloatConverter":
        return 1.5
    if kind == "UUIDConverter":
        return uuid.UUID(int=1)
    if kind == "AnyConverter":
        return sorted(converter.items)[0]
    if kind == "PathConverter":
        return "sample/file.csv"
    return "sample"


def sample_url(rule: Rule) -> str:
    values = {name: sample_value(conv) for name, conv in rule._converters.items()}
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build a URL for {rule.rule}"
    return built[1]


def turned_away(url: str, method: str, response: TestResponse) -> bool:
    """401 for Dash's API, exports and non-GET requests; a redirect to sign in for a page."""
    if url.startswith(API_PREFIXES) or url.endswith(API_SUFFIXES) or method != "GET":
        return response.status_code == 401
    location = response.headers.get("Location", "")
    return response.status_code == 302 and location.startswith("/login?next=")


def anonymous_violations(app: Flask) -> list[str]:
    """Every rule of the URL map, with every method it accepts, asked by an anonymous client:
    what answered with data, or with anything but the refusal its kind calls for."""
    client = app.test_client()
    problems = []
    for rule in app.url_map.iter_rules():
        url = sample_url(rule)
        for method in sorted(rule.methods or ()):
            response = client.open(url, method=method)
            where = f"{method} {url} (rule {rule.rule}) -> {response.status_code}"
            text = response.get_data().decode("utf-8", "replace")  # the favicon is binary
            if leaked := leaks(text, EVERYONE_SECRETS):
                problems.append(f"{where} leaked {leaked}")
            if rule.rule in PUBLIC_RULES:
                if response.status_code >= 500:
                    problems.append(f"{where}: a public route failed")
            elif not turned_away(url, method, response):
                problems.append(f"{where}: served to an anonymous request, and not allow-listed")
    return problems


def test_anonymous_inventory(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules()}
    # The walk is over the real map: Dash's endpoints and the sign-in blueprint are in it.
    assert {CALLBACK_URL, "/_dash-layout", "/_dash-dependencies", "/login"} <= rules
    assert PUBLIC_RULES <= rules, "an allow-listed rule no longer exists: update PUBLIC_RULES"
    problems = anonymous_violations(app)
    assert not problems, "\n".join(problems)


def test_inventory_catches_a_route_made_public(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New routes are refused without anyone listing them; one put on the gate's allow-list
    without thought fails the inventory."""

    def add_routes(app: Flask) -> None:
        secret = ", ".join(A_SECRETS)
        app.add_url_rule("/reports/<int:report_id>", "report", lambda report_id: secret)
        app.add_url_rule("/export/<name>.csv", "export_probe", lambda name: secret)
        app.add_url_rule("/api/v1/sessions", "api_probe", lambda: secret, methods=["POST"])

    app = build_app(app_factory, add_routes, PROPAGATE_EXCEPTIONS=False)
    assert anonymous_violations(app) == []  # deny by default: nobody had to list them

    monkeypatch.setattr(guard, "PUBLIC_PATHS", guard.PUBLIC_PATHS | {"/reports/1"})
    problems = anonymous_violations(app)
    assert any("/reports/<int:report_id>" in p and "leaked" in p for p in problems), problems
    assert any("not allow-listed" in p for p in problems), problems


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../_dash-layout",
        "/assets/..%2f_dash-layout",
        "/assets/%2e%2e/%2e%2e/config.py",
        "/_dash-component-suites/../_dash-layout",
        "/_dash-component-suites/dash/../../app.py",
        "/login/../_dash-layout",
        "/healthz/../_dash-dependencies",
        "//_dash-layout",
        "/_dash-layout/",
        "/_DASH-LAYOUT",
        "/favicon.ico/../_dash-layout",
        "/admin",
        "/admin/fleet",
        "/export/sessions.csv",
    ],
)
def test_lookalike_paths_give_anonymous_nothing(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code in (302, 401, 404), response.status_code
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
    text = response.get_data(as_text=True)
    assert not leaks(text, EVERYONE_SECRETS)
    assert '"props"' not in text  # no Dash layout either


def test_anonymous_gets_401_from_every_callback(app: Flask) -> None:
    client = app.test_client()
    keys = list(callback_map(app))
    assert len(keys) >= 6  # the shell's, the pages', the router's: the whole map is walked
    for key in keys:
        body = callback_body(app, key)
        for headers in ({}, {"X-CSRFToken": "forged"}):
            response = client.post(
                CALLBACK_URL,
                data=json.dumps(body),
                content_type="application/json",
                headers=headers,
            )
            assert response.status_code == 401, (key, response.status_code)
            assert not leaks(response.get_data(as_text=True), EVERYONE_SECRETS), key


def test_static_layout_and_dependencies_hold_no_user_data(app: Flask, alice: FlaskClient) -> None:
    for path in ("/_dash-layout", "/_dash-dependencies", "/", "/switch"):
        response = alice.get(path)
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        assert not leaks(text, EVERYONE_SECRETS), path
        assert "Alice" not in text, path  # not even the signed-in person's name
    layout = alice.get("/_dash-layout").get_json()
    assert layout  # a real layout came back, not an empty answer


def test_customer_gets_403_on_admin_pages_and_exports(app_factory: AppFactory) -> None:
    def add_export(app: Flask) -> None:
        # A new export added beside the real ones (web.exports serves /export/<name>.csv).
        app.add_url_rule("/export/probe/<name>.csv", "export_probe", lambda name: "ADMIN-EXPORT")

    app = build_app(app_factory, add_export, PROPAGATE_EXCEPTIONS=False)
    alice = client_for(app, ALICE_EMAIL)
    olga = client_for(app, ADMIN_EMAIL)
    admin_rules = [
        sample_url(r)
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/admin", "/export/")) and "GET" in (r.methods or ())
    ]
    assert {"/export/sample.csv", "/export/probe/sample.csv"} <= set(admin_rules)
    # A customer's own exports (its rows only: test_exports.py, test_cdrs.py) are the exception.
    admin_rules = [path for path in admin_rules if path not in hardening.CUSTOMER_EXPORT_PATHS]
    for path in [*admin_rules, "/admin", "/admin/fleet", "/admin/accounts/acc-zeb", "/admin/ocpp"]:
        response = alice.get(path)
        assert response.status_code == 403, path
        assert "ADMIN-EXPORT" not in response.get_data(as_text=True)
    assert olga.get("/export/probe/sessions.csv").get_data(as_text=True) == "ADMIN-EXPORT"


# --- The callback endpoint under abuse ----------------------------------------------------------


def test_hardening_runs_after_the_guard_and_csrf(app: Flask) -> None:
    """``install_auth`` calls ``install_hardening``: anonymous -> 401 and no token -> 400 come
    first, then the body checks."""
    hooks = app.before_request_funcs[None]
    names = [f"{h.__module__}.{h.__qualname__}" for h in hooks]
    mine = [i for i, n in enumerate(names) if n.startswith("auth.hardening.")]
    gate = [i for i, n in enumerate(names) if n.startswith("auth.guard.")]
    csrf = [i for i, n in enumerate(names) if "csrf_protect" in n]
    assert mine, f"install_hardening is not installed: {names}"
    assert gate and csrf and max(gate + csrf) < min(mine), names


def menu_body() -> dict[str, Any]:
    return {
        "output": "switch-accounts.children",
        "outputs": {"id": "switch-accounts", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/"}],
        "changedPropIds": ["url.pathname"],
    }


def raw_post(
    client: FlaskClient, data: bytes | str, content_type: str | None, csrf: str | None
) -> TestResponse:
    headers = {"X-CSRFToken": csrf} if csrf is not None else {}
    kwargs: dict[str, Any] = {"data": data, "headers": headers}
    if content_type is not None:
        kwargs["content_type"] = content_type
    return client.post(CALLBACK_URL, **kwargs)


def assert_no_data_no_traceback(response: TestResponse) -> None:
    text = response.get_data(as_text=True)
    assert not leaks(text, EVERYONE_SECRETS)
    assert "acc-alice" not in text  # the account picker's content
    assert not [s for s in TRACEBACK_SIGNS if s in text], text[:300]


def test_well_formed_menu_request_answers(alice: FlaskClient) -> None:
    """The baseline the refusals below differ from."""
    response = raw_post(alice, json.dumps(menu_body()), "application/json", dash_csrf(alice))
    assert response.status_code == 200
    assert "acc-alice" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/html",
        None,
    ],
)
def test_callbacks_accept_json_only(alice: FlaskClient, content_type: str | None) -> None:
    response = raw_post(alice, json.dumps(menu_body()), content_type, dash_csrf(alice))
    assert response.status_code == 415
    assert_no_data_no_traceback(response)


def test_callback_without_a_valid_csrf_token_is_refused(app: Flask, alice: FlaskClient) -> None:
    zeb = client_for(app, ZEB_EMAIL)
    body = json.dumps(menu_body())
    for token in (None, "", "forged-token", dash_csrf(zeb)):  # the last: B's own, valid token
        response = raw_post(alice, body, "application/json", token)
        assert response.status_code in (400, 403), token
        assert_no_data_no_traceback(response)


def _without(key: str) -> dict[str, Any]:
    body = menu_body()
    del body[key]
    return body


def _with(**changes: Any) -> dict[str, Any]:
    return {**menu_body(), **changes}


PATHNAME = {"id": "url", "property": "pathname", "value": "/"}
MALFORMED: dict[str, bytes | Any] = {
    "not JSON": b"{not json",
    "empty body": b"",
    "truncated JSON": b'{"output": "switch-accounts.children", "inputs": [',
    "invalid UTF-8": b'{"output": "\xff\xfe"}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "a JSON list": [menu_body()],
    "a JSON string": "switch-accounts.children",
    "JSON null": None,
    "a JSON number": 12,
    "an empty object": {},
    "no output": _without("output"),
    "output not a string": _with(output=["switch-accounts.children"]),
    "unknown output": _with(output="nope.children"),
    "output of another callback": _with(output=BANNER),
    "clientside callback": _with(output="_pages_dummy.children"),
    "no inputs": _without("inputs"),
    "inputs an object": _with(inputs=PATHNAME),
    "inputs a string": _with(inputs="url.pathname"),
    "inputs empty": _with(inputs=[]),
    "one input too many": _with(inputs=[PATHNAME, PATHNAME]),
    "input not an object": _with(inputs=[1]),
    "input without property": _with(inputs=[{"id": "url", "value": "/"}]),
    "input without id": _with(inputs=[{"property": "pathname", "value": "/"}]),
    "input of another component": _with(
        inputs=[{"id": "dashboard-period", "property": "data", "value": "year"}]
    ),
    "input id an object": _with(inputs=[{**PATHNAME, "id": {"type": "url"}}]),
    "input id a list": _with(inputs=[{**PATHNAME, "id": ["url"]}]),
    "state not a list": _with(state="x"),
    "state for a callback without state": _with(state=[{"id": "x", "property": "y"}]),
    "no outputs": _without("outputs"),
    "outputs a string": _with(outputs="switch-accounts.children"),
    "outputs a list for one output": _with(
        outputs=[{"id": "switch-accounts", "property": "children"}]
    ),
    "outputs naming another component": _with(outputs={"id": "banner-kwh", "property": "children"}),
    "changedPropIds a string": _with(changedPropIds="url.pathname"),
    "changedPropIds numbers": _with(changedPropIds=[1]),
    "changedPropIds another component": _with(changedPropIds=["banner-kwh.children"]),
    "changedPropIds a bad pattern id": _with(changedPropIds=['{"type":.children']),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_callback_bodies_get_400_without_traceback(alice: FlaskClient, case: str) -> None:
    value = MALFORMED[case]
    data = value if isinstance(value, bytes) else json.dumps(value)
    response = raw_post(alice, data, "application/json", dash_csrf(alice))
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    assert_no_data_no_traceback(response)


def test_other_methods_on_the_callback_endpoint_are_not_500(alice: FlaskClient) -> None:
    # GET falls through to Dash's catch-all page route: no page there, so 404 and no data.
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = alice.open(CALLBACK_URL, method=method, headers={"X-CSRFToken": "x"})
        assert response.status_code in ((404,) if method == "GET" else (400, 405)), method
        assert_no_data_no_traceback(response)


def test_a_null_pathname_gets_400_and_no_traceback_in_the_log(
    app: Flask, alice: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Every server callback that takes a location's ``pathname`` (/switch's, Dash's page
    router; the shell's banner listens to its own store, written in the browser), sent ``null``
    there: the router raised TypeError (logged with its traceback by the shell's error handler)
    and answered an alert; now the body check answers 400 first."""
    caplog.set_level(logging.INFO)
    taking_pathname = [
        key
        for key, cb in callback_map(app).items()
        if any(i["property"] == "pathname" for i in cb["inputs"]) and "callback" in cb
    ]
    assert len(taking_pathname) >= 2, taking_pathname  # switch, the page router
    for key in taking_pathname:
        body = callback_body(app, key)
        for entry in body["inputs"]:
            if entry["property"] == "pathname":
                entry["value"] = None
        response = raw_post(alice, json.dumps(body), "application/json", dash_csrf(alice))
        assert response.status_code == 400, (key, response.status_code)
        assert "pathname" in response.get_json()["error"]
        assert_no_data_no_traceback(response)
    # The router's other input, a number where the browser sends a query string (or nothing).
    router = next(k for k in taking_pathname if "_pages_content" in k)
    body = callback_body(app, router)
    for entry in body["inputs"]:
        entry["value"] = {"pathname": "/switch", "search": 5}[entry["property"]]
    response = raw_post(alice, json.dumps(body), "application/json", dash_csrf(alice))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# --- Unknown paths and the favicon --------------------------------------------------------------


# What fills a path template: an id that exists for Alice (a charger for the admins' page, her
# finished session for its receipt, a month for a statement), else this sample.
TEMPLATE_SAMPLES = {"session_id": "s-alice-1", "month": "2026-11"}
# Pages an admin account may not open (403): statements are a customer account's.
CUSTOMER_ONLY_PREFIXES = ("/statements/",)


def page_paths() -> list[str]:
    """Every page Dash's registry holds, as a URL (a path template filled with a sample id); the
    not-found page is not a page anyone asks for."""
    paths = []
    for page in dash.page_registry.values():
        if page["module"].endswith("not_found_404"):
            continue
        template = page.get("path_template")
        fill = lambda m: TEMPLATE_SAMPLES.get(m[1], "c-street")  # noqa: E731
        paths.append(re.sub(r"<([^>]+)>", fill, template) if template else page["path"])
    return paths


UNKNOWN_PATHS = ("/no-such-page", "/admin/no-such", "/switchx", "/admin/chargers", "/404")


def test_every_page_answers_200_and_unknown_paths_404(app: Flask, alice: FlaskClient) -> None:
    """Dash's catch-all answered every path with its shell and 200; an unknown path now gets the
    shell (which shows the not-found page) with 404. Known pages come from Dash's registry."""
    olga = client_for(app, ADMIN_EMAIL)
    paths = page_paths()
    assert {"/", "/switch", "/admin", "/admin/chargers/c-street"} <= set(paths)
    for path in paths:
        for url in (path, f"{path}?period=current", f"{path}/" if path != "/" else "/?x=1"):
            expected = 302 if path == "/" else 200  # an admin's home is /admin
            # (With a trailing slash Dash's catch-all answers with the shell, whose page then
            # shows the admin the "customer accounts" notice.)
            if path.startswith(CUSTOMER_ONLY_PREFIXES) and not url.endswith("/"):
                expected = 403
            assert olga.get(url).status_code == expected, url
            if not path.startswith("/admin"):
                assert alice.get(url).status_code == 200, url
    for path in UNKNOWN_PATHS:
        response = olga.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html"
        assert not leaks(response.get_data(as_text=True), EVERYONE_SECRETS)
    assert olga.head("/no-such-page").status_code == 404
    assert olga.head("/admin/sessions").status_code == 200
    assert alice.get("/no-such-page").status_code == 404
    assert alice.get("/switch/no-such").status_code == 404
    # A customer under /admin hears "admin only" (403) first, whatever the path.
    assert alice.get("/admin/no-such").status_code == 403


def test_anonymous_unknown_paths_are_sent_to_sign_in_like_known_ones(app: Flask) -> None:
    """The guard's allow-list decides what an anonymous request learns: every page path, known
    or not, is a redirect to sign in (no 404 that tells which pages exist)."""
    client = app.test_client()
    for path in (*UNKNOWN_PATHS, "/switch", "/admin/sessions"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")


def test_pages_do_not_name_the_python_version(alice: FlaskClient) -> None:
    """Every page's Dash config held ``python_version`` (``sys.version``: build and compiler)."""
    for path in ("/", "/no-such-page", "/switch"):
        page = alice.get(path).get_data(as_text=True)
        assert '"dash_version"' in page  # the config is there
        assert "python_version" not in page and sys.version not in page


def test_favicon_is_an_icon_for_everyone(app: Flask, alice: FlaskClient) -> None:
    """/favicon.ico answered the app shell (with the Python version in its config) to a
    signed-in person, and a redirect to sign in to anyone else."""
    for client in (app.test_client(), alice):
        response = client.get("/favicon.ico")
        assert response.status_code == 200
        assert response.mimetype in ("image/x-icon", "image/vnd.microsoft.icon")
        icon = response.get_data()
        reserved, kind, count = struct.unpack("<HHH", icon[:6])
        assert (reserved, kind) == (0, 1) and count >= 1  # an ICO directory
        sizes = {struct.unpack("<BB", icon[6 + 16 * i : 8 + 16 * i]) for i in range(count)}
        assert (16, 16) in sizes and (32, 32) in sizes
        assert b"python_version" not in icon and b"<html" not in icon.lower()
