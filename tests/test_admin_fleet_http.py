"""The fleet pages' callbacks as the browser (or an attacker) calls them over HTTP.

Every callback of /admin and /admin/chargers/<id> refuses a customer (403) and an anonymous
request (401). For the operator: charger ids sent by the browser are only keys (a forged or
missing one gets "That charger no longer exists", never an error or another charger's data),
edits are validated with clear messages, and the fleet table's request is allow-listed.
"""

from __future__ import annotations

import importlib
import inspect
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden, Unauthorized

from data.core.models import Charger, ChargerAccess, Role, Visibility
from tests.support.factories import (
    grant_access,
    make_charger,
    make_operator,
    make_reservation,
    make_session,
)
from tests.support.web import AppFactory, add_person, client_for, dash_csrf, found_secrets, sign_in

NOW = datetime.now(UTC)
OPERATOR = "olga@example.com"
CUSTOMER = "carl@example.com"
OUR_PREFIXES = ("admin-fleet", "admin-charger")
GONE = "That charger no longer exists"
FORGED_IDS: tuple[Any, ...] = (
    "NO-SUCH",
    "",
    None,
    42,
    ["c-depot"],
    {"id": "c-depot"},
    "x" * 5000,
    "c-depot'; DROP TABLE chargers; --",
)


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(PROPAGATE_EXCEPTIONS=False)
    add_person(app, OPERATOR, ("acc-ops", Role.admin, "Operations"))
    add_person(app, CUSTOMER, ("acc-carl", Role.customer, "Van"))
    add_person(app, "nico@example.com", ("acc-nico", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        street = make_charger(
            # Heard from now, not at import: the table says "just now" under a minute.
            s,
            charger_id="c-street",
            friendly_name="Street [A] *1*",
            last_seen_at=datetime.now(UTC),
        )
        depot = make_charger(
            s,
            charger_id="c-depot",
            friendly_name="Carl's Depot",
            visibility=Visibility.restricted,
            last_seen_at=None,
        )
        grant_access(s, "acc-carl", depot)
        make_session(
            s, "acc-carl", depot, started_at=NOW - timedelta(days=2), ended_at=NOW - timedelta(
                days=2, hours=-3), energy_kwh="31.4", session_id="s-depot",
        )  # fmt: skip
        make_session(s, "acc-nico", street, started_at=NOW - timedelta(hours=1), energy_kwh="5")
        make_reservation(
            s, "acc-carl", depot, starts_at=NOW + timedelta(hours=2),
            ends_at=NOW + timedelta(hours=3), reservation_id="r-depot",
        )  # fmt: skip
    return app


@pytest.fixture(scope="module")
def operator(app: Flask) -> FlaskClient:
    return client_for(app, OPERATOR)


@pytest.fixture(scope="module")
def customer(app: Flask) -> FlaskClient:
    return client_for(app, CUSTOMER)


# --- building requests the way the renderer does ----------------------------------------------


def callbacks(app: Flask) -> dict[str, Any]:
    return app.extensions["polaris_dash"].callback_map


def is_ours(callback: dict[str, Any]) -> bool:
    declared = callback["output"]
    for output in declared if isinstance(declared, list | tuple) else [declared]:
        ident = output.component_id
        names = ident.values() if isinstance(ident, dict) else [ident]
        if any(isinstance(n, str) and n.startswith(OUR_PREFIXES) for n in names):
            return True
    return False


def our_keys(app: Flask) -> list[str]:
    """The server callbacks of /admin and the charger page (the browser-only ones hold no data:
    ``test_the_pages_have_the_callbacks_we_test`` names them)."""
    return sorted(k for k, cb in callbacks(app).items() if is_ours(cb) and "callback" in cb)


def key_for(app: Flask, output: str) -> str:
    """The callback writing ``output`` ("id.prop") first."""
    (key,) = [k for k in our_keys(app) if k.lstrip(".").startswith(output)]
    return key


PATTERN_VALUES = {
    "admin-fleet-pill": "Offline",
    "admin-charger-revoke": "acc-carl",
    "admin-charger-incident": "I-0001",
}


def dependency(spec_id: str, prop: str, value: Any, *, with_value: bool = True) -> Any:
    def entry(ident: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"id": ident, "property": prop}
        if with_value:
            item["value"] = value
        return item

    if not spec_id.startswith("{"):
        return entry(spec_id)
    pattern = json.loads(spec_id)
    concrete = {
        k: (PATTERN_VALUES[pattern["type"]] if v == ["ALL"] else v) for k, v in pattern.items()
    }
    return [entry(concrete)]


def body(app: Flask, key: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A well-formed request for ``key``; ``values`` by "id.prop" (others: neutral values)."""
    values = values or {}
    cb = callbacks(app)[key]

    def value(spec: dict[str, str]) -> Any:
        return values.get(f"{spec['id']}.{spec['property']}", NEUTRAL.get(spec["property"]))

    declared = cb["output"]
    outputs = [
        dependency(o.component_id_str(), o.component_property, None, with_value=False)
        for o in (declared if isinstance(declared, list | tuple) else [declared])
    ]
    first = cb["inputs"][0]
    return {
        "output": key,
        "outputs": outputs if isinstance(declared, list | tuple) else outputs[0],
        "inputs": [dependency(i["id"], i["property"], value(i)) for i in cb["inputs"]],
        "state": [dependency(s["id"], s["property"], value(s)) for s in cb["state"]],
        "changedPropIds": []
        if first["id"].startswith("{")
        else [f"{first['id']}.{first['property']}"],
    }


NEUTRAL: dict[str, Any] = {
    "data": "c-depot",
    "n_intervals": 1,
    "n_clicks": 1,
    "n_submit": None,
    "value": None,
    "search_value": "carl",
    "options": [],
    "active_tab": "current",
    "filterModel": {},
    "getRowsRequest": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}},
}


def post(client: FlaskClient, payload: dict[str, Any], *, csrf: bool = True):
    headers = {"X-CSRFToken": dash_csrf(client)} if csrf else {}
    return client.post(
        "/_dash-update-component",
        data=json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def answer(response) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["response"]


# --- who may call ---------------------------------------------------------------------------


def test_the_pages_have_the_callbacks_we_test(app: Flask) -> None:
    keys = our_keys(app)
    assert len(keys) == 15, keys  # 4 on /admin, 11 on a charger's page
    # In the browser only: the sessions grid asks for its rows again after a resolve.
    in_browser = sorted(k for k, cb in callbacks(app).items() if is_ours(cb) and k not in keys)
    assert in_browser == ["admin-charger-sessions-note.title"], in_browser


def test_every_callback_refuses_a_customer_and_an_anonymous_request(
    app: Flask, customer: FlaskClient
) -> None:
    anonymous = app.test_client()
    for key in our_keys(app):
        request = body(app, key)
        refused = post(customer, request)
        assert refused.status_code == 403, (key, refused.status_code)
        text = refused.get_data(as_text=True)
        assert not found_secrets(text, ("Carl's Depot", "31.4")), key
        assert post(anonymous, request, csrf=False).status_code == 401, key


CALLBACK_FUNCTIONS = {
    "pages.admin": ("refresh_counts", "filter_table", "highlight_pill", "fleet_rows"),
    "pages.admin_charger": (
        "render_summary",
        "load_settings",
        "save_settings",
        "render_access",
        "find_accounts",
        "change_access",
        "render_usage",
        "session_rows",
        "render_reservations",
        "render_incidents",
        "change_incident",
    ),
}


@pytest.mark.parametrize(("email", "error"), [(CUSTOMER, Forbidden), (None, Unauthorized)])
def test_each_function_checks_the_role_itself(app: Flask, email: str | None, error: type) -> None:
    """``@admin_only`` on every callback, behind the central gate: called directly, a customer
    (or nobody) is refused before any query runs."""
    client = app.test_client()
    if email:
        assert sign_in(client, email).status_code == 302
    functions = [
        getattr(importlib.import_module(module), name)
        for module, names in CALLBACK_FUNCTIONS.items()
        for name in names
    ]
    assert len(functions) == len(our_keys(app))
    with client:
        client.get("/login")  # a request context holding this client's session
        for function in functions:
            arguments = [None] * len(inspect.signature(function).parameters)
            with pytest.raises(error):
                function(*arguments)


def test_every_callback_answers_the_operator(app: Flask, operator: FlaskClient) -> None:
    """Each callback, called as in the first render, answers 200 with its outputs; the one
    exception is the table's filter, which only a pill or the search box may change: a call
    that names neither (``changedPropIds`` empty, as for a pattern-matching input here) is no
    update, 204. So is an incident's Acknowledge / Resolve, whose only inputs are its buttons."""
    filter_key = key_for(app, "admin-fleet-grid.filterModel")
    incident_key = key_for(app, "admin-charger-incidents-feedback.children")
    for key in our_keys(app):
        response = post(operator, body(app, key))
        expected = 204 if key in (filter_key, incident_key) else 200
        assert response.status_code == expected, (key, response.get_data(as_text=True)[:300])
    # Named as the trigger, the search box sets the Charger filter (and keeps the others).
    shown = {"status": {"filterType": "text", "type": "equals", "filter": "Offline"}}
    request = body(
        app,
        filter_key,
        {"admin-fleet-search.value": " depot ", "admin-fleet-grid.filterModel": shown},
    )
    request["changedPropIds"] = ["admin-fleet-search.value"]
    model = answer(post(operator, request))["admin-fleet-grid"]["filterModel"]
    assert model == {
        **shown,
        "friendly_name": {"filterType": "text", "type": "contains", "filter": "depot"},
    }


# --- the fleet table ------------------------------------------------------------------------


def rows_request(app: Flask, request: Any) -> dict[str, Any]:
    key = key_for(app, "admin-fleet-grid.getRowsResponse")
    return body(app, key, {"admin-fleet-grid.getRowsRequest": request})


def test_fleet_rows_and_their_format(app: Flask, operator: FlaskClient) -> None:
    result = answer(post(operator, rows_request(app, NEUTRAL["getRowsRequest"])))
    grid = result["admin-fleet-grid"]["getRowsResponse"]
    assert grid["rowCount"] == 2
    depot, street = grid["rowData"]  # by name: C before S
    assert depot["friendly_name"] == "[Carl's Depot](/admin/chargers/c-depot)"
    assert depot["status"].endswith("Offline") and depot["last_seen_at"] == "never"
    assert depot["visibility"] == "Restricted · 1 account"
    assert (depot["sessions_30d"], depot["energy_kwh_30d"]) == ("1", "31.4")
    assert street["friendly_name"] == r"[Street \[A\] \*1\*](/admin/chargers/c-street)"
    assert street["status"].endswith("In use") and street["last_seen_at"] in ("just now",)
    assert result["admin-fleet-total"]["children"] == "2 chargers in all"


@pytest.mark.parametrize(
    "request_",
    [
        "all of them",
        [1, 2],
        {"startRow": -1, "endRow": 10**9},
        {
            "startRow": 0,
            "endRow": 10,
            "sortModel": [{"colId": "1; DROP TABLE chargers", "sort": "asc"}],
        },
        {"startRow": 0, "endRow": 10, "sortModel": [{"colId": ["status"], "sort": "asc"}]},
        {"startRow": 0, "endRow": 10, "filterModel": {"password_hash": {"type": "contains"}}},
        {"startRow": 0, "endRow": 10, "filterModel": {"status": {"type": {"$ne": 1}, "filter": 1}}},
        {"startRow": 0, "endRow": 10, "filterModel": "status=Offline"},
    ],
)
def test_fleet_rows_survive_any_request(app: Flask, operator: FlaskClient, request_: Any) -> None:
    """A request the grid would never send is read as the first page, default order, no filter."""
    response = post(operator, rows_request(app, request_))
    assert response.status_code == 200
    assert response.get_json()["response"]["admin-fleet-grid"]["getRowsResponse"]["rowCount"] == 2
    with app.extensions["polaris_db"].session() as s:
        assert s.scalar(select(func.count()).select_from(Charger)) == 2


def test_no_rows_request_answers_nothing_to_update(app: Flask, operator: FlaskClient) -> None:
    """The grid's first call without a request (no rows asked yet): 204, nothing written."""
    response = post(operator, rows_request(app, None))
    assert response.status_code == 204
    assert response.get_data() == b""


def test_pill_and_search_build_the_filter(app: Flask, operator: FlaskClient) -> None:
    key = key_for(app, "admin-fleet-grid.filterModel")
    shown = {"max_power_kw": {"filterType": "number", "type": "greaterThan", "filter": 100}}
    request = body(app, key, {"admin-fleet-grid.filterModel": shown})
    request["changedPropIds"] = ['{"status":"Offline","type":"admin-fleet-pill"}.n_clicks']
    model = answer(post(operator, request))["admin-fleet-grid"]["filterModel"]
    assert model == {
        **shown,
        "status": {"filterType": "text", "type": "equals", "filter": "Offline"},
    }

    request = body(
        app, key, {"admin-fleet-search.value": "  depot ", "admin-fleet-grid.filterModel": model}
    )
    request["changedPropIds"] = ["admin-fleet-search.value"]
    model = answer(post(operator, request))["admin-fleet-grid"]["filterModel"]
    assert model["friendly_name"] == {"filterType": "text", "type": "contains", "filter": "depot"}
    rows = answer(
        post(operator, rows_request(app, {"startRow": 0, "endRow": 10, "filterModel": model}))
    )
    assert [r["charger_id"] for r in rows["admin-fleet-grid"]["getRowsResponse"]["rowData"]] == []
    model.pop("max_power_kw")
    rows = answer(
        post(operator, rows_request(app, {"startRow": 0, "endRow": 10, "filterModel": model}))
    )
    grid = rows["admin-fleet-grid"]["getRowsResponse"]
    assert [r["charger_id"] for r in grid["rowData"]] == ["c-depot"]
    assert rows["admin-fleet-total"]["children"] == "1 charger matches these filters"


def test_counts(app: Flask, operator: FlaskClient) -> None:
    key = key_for(app, '{"status":["ALL"],"type":"admin-fleet-pill"}.children')
    request = body(app, key)
    request["outputs"] = [
        {"id": {"type": "admin-fleet-pill", "status": s}, "property": "children"}
        for s in ("All", "Online", "In use", "Reserved", "Offline")
    ]
    pills = answer(post(operator, request))
    counts = {
        json.loads(ident)["status"]: pill["children"][2]["props"]["children"]
        for ident, pill in pills.items()
    }
    assert counts == {"All": "2", "Online": "0", "In use": "1", "Reserved": "0", "Offline": "1"}


# --- one charger: forged ids ----------------------------------------------------------------


def charger_keys(app: Flask) -> list[str]:
    return [k for k in our_keys(app) if "admin-charger" in k and "account.options" not in k]


@pytest.mark.parametrize("forged", FORGED_IDS)
def test_a_forged_charger_id_gets_a_clear_message(
    app: Flask, operator: FlaskClient, forged: Any
) -> None:
    for key in charger_keys(app):
        response = post(operator, body(app, key, {"admin-charger-id.data": forged}))
        assert response.status_code in (200, 204), (key, response.get_data(as_text=True)[:300])
        if response.status_code == 204:
            continue
        text = response.get_data(as_text=True)
        assert not found_secrets(text, ("Carl", "31.4", "acc-carl")), key
        result = response.get_json()["response"]
        if "admin-charger-missing" in result:
            assert result["admin-charger-missing"]["hidden"] is False  # the friendly notice
            assert result["admin-charger-content"]["hidden"] is True
        elif "admin-charger-name" in result:
            assert result["admin-charger-name"]["value"] == ""
        else:
            assert GONE in text, (key, text[:300])


# --- one charger: the operator's edits -------------------------------------------------------


def save(app: Flask, client: FlaskClient, name: Any, visibility: Any) -> str:
    key = key_for(app, "admin-charger-save-feedback.children")
    request = body(
        app,
        key,
        {"admin-charger-name.value": name, "admin-charger-visibility.value": visibility,
         "admin-charger-saved.data": 3},
    )  # fmt: skip
    response = post(client, request)
    return json.dumps(answer(response), ensure_ascii=False)


def access(app: Flask, client: FlaskClient, *, grant: Any = None, revoke: str | None = None):
    key = key_for(app, "admin-charger-access-feedback.children")
    request = body(app, key, {"admin-charger-account.value": grant})
    if revoke is not None:
        request["inputs"][1] = [
            {"id": {"type": "admin-charger-revoke", "account": revoke}, "property": "n_clicks",
             "value": 1}
        ]  # fmt: skip
        request["changedPropIds"] = [
            json.dumps({"account": revoke, "type": "admin-charger-revoke"}, separators=(",", ":"))
            + ".n_clicks"
        ]
    return json.dumps(answer(post(client, request)), ensure_ascii=False)


def test_save_validates_and_stores(app: Flask, operator: FlaskClient) -> None:
    assert "can't be empty" in save(app, operator, "   ", "restricted")
    assert "can't be empty" in save(app, operator, None, "restricted")
    assert "200 characters" in save(app, operator, "x" * 201, "restricted")
    assert "public or restricted" in save(app, operator, "Depot", "secret")
    saved = save(app, operator, "  Carl's   Depot ", "restricted")
    assert "Saved: “Carl's Depot”, restricted." in saved
    assert '"data": 4' in saved  # the page reloads its figures
    with app.extensions["polaris_db"].session() as s:
        assert s.get(Charger, "c-depot").friendly_name == "Carl's Depot"


def test_grant_and_revoke_with_clear_messages(app: Flask, operator: FlaskClient) -> None:
    assert "Pick an account first" in access(app, operator, grant=None)
    assert "no account “acc-ghost”" in access(app, operator, grant="acc-ghost")
    assert "admin account" in access(app, operator, grant="acc-ops")
    assert "Pick an account first" in access(app, operator, grant={"id": "acc-nico"})
    assert "acc-nico may now see this charger" in access(app, operator, grant="acc-nico")
    assert "acc-nico could already see this charger" in access(app, operator, grant="acc-nico")
    with app.extensions["polaris_db"].session() as s:
        granted = set(
            s.scalars(select(ChargerAccess.account_id).where(ChargerAccess.charger_id == "c-depot"))
        )
    assert granted == {"acc-carl", "acc-nico"}
    assert "acc-nico no longer sees this charger" in access(app, operator, revoke="acc-nico")
    assert "acc-nico had no access" in access(app, operator, revoke="acc-nico")


def test_grant_on_a_public_charger_is_refused(app: Flask, operator: FlaskClient) -> None:
    key = key_for(app, "admin-charger-access-feedback.children")
    request = body(
        app, key, {"admin-charger-account.value": "acc-nico", "admin-charger-id.data": "c-street"}
    )
    text = json.dumps(answer(post(operator, request)), ensure_ascii=False)
    assert "This charger is public" in text


def test_account_search_offers_customers_only(app: Flask, operator: FlaskClient) -> None:
    key = key_for(app, "admin-charger-account.options")
    for text, expected in (
        ("example.com", ["acc-carl", "acc-nico"]),
        ("olga", []),
        ("van", ["acc-carl"]),
    ):
        request = body(app, key, {"admin-charger-account.search_value": text})
        options = answer(post(operator, request))["admin-charger-account"]["options"]
        assert [o["value"] for o in options] == expected, text


def test_sessions_and_reservations_of_a_charger(app: Flask, operator: FlaskClient) -> None:
    key = key_for(app, "admin-charger-sessions-grid.getRowsResponse")
    result = answer(post(operator, body(app, key)))
    grid = result["admin-charger-sessions-grid"]["getRowsResponse"]
    assert grid["rowCount"] == 1
    assert [(r["session_id"], r["account_id"], r["energy"]) for r in grid["rowData"]] == [
        ("s-depot", "acc-carl", "31.4")
    ]
    assert result["admin-charger-sessions-note"]["children"] == "1 session, newest first."
    key = key_for(app, "admin-charger-reservations.children")
    text = json.dumps(answer(post(operator, body(app, key))))
    assert "r-depot" in text and "Upcoming" in text


def test_layout_is_a_static_skeleton_keyed_by_the_decoded_id(
    app: Flask, operator: FlaskClient
) -> None:
    router = next(k for k in callbacks(app) if "_pages_content" in k)

    def render(client: FlaskClient, path: str, search: str = "") -> str:
        request = {
            "output": router,
            "outputs": [
                {"id": "_pages_content", "property": "children"},
                {"id": "_pages_store", "property": "data"},
            ],
            "inputs": [
                {"id": "_pages_location", "property": "pathname", "value": path},
                {"id": "_pages_location", "property": "search", "value": search},
            ],
            "state": [],
            "changedPropIds": ["_pages_location.pathname"],
        }
        return json.dumps(answer(post(client, request)), ensure_ascii=False)

    page = render(operator, "/admin/chargers/c%2Fodd%20id")
    assert '"id": "admin-charger-id"' in page and '"data": "c/odd id"' in page
    assert "Carl" not in render(operator, "/admin/chargers/c-depot")  # no data in the layout
    fleet = render(operator, "/admin", "?status=offline")
    assert '"id": "admin-fleet-grid"' in fleet and "Carl" not in fleet
    assert '"filter": "Offline"' in fleet  # the table opens filtered to that status
    customer = app.test_client()
    assert sign_in(customer, CUSTOMER).status_code == 302
    assert "This page is for operators" in render(customer, "/admin/chargers/c-depot")
    assert customer.get("/admin/chargers/c-depot").status_code == 403
    assert app.test_client().get("/admin/chargers/c-depot").status_code == 302
