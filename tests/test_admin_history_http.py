"""The sessions explorer's and the reservations page's callbacks as an HTTP API: every one
refuses a customer (403) and an anonymous caller (401), answers an admin, and treats the ids and
views the browser sends as keys to check, never as facts."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import Forbidden, Unauthorized

from data.core.models import Reservation, ReservationStatus, Role
from tests.support.factories import make_charger, make_operator, make_reservation, make_session
from tests.support.web import AppFactory, add_person, client_for, dash_csrf

CALLBACK_URL = "/_dash-update-component"
OUR_PREFIXES = ("admin-sessions", "admin-reservation")  # admin-reservation(s)-...
NOW = datetime.now(UTC)
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
SOON = (NOW + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
VIEW = f"?from={(NOW - timedelta(days=3)).date()}&to={(NOW + timedelta(days=1)).date()}"
# A concrete value for each pattern-matching key of our ids.
PATTERN_VALUES = {"view": VIEW, "n": "k1"}
NEUTRAL: dict[str, Any] = {
    "getRowsRequest": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}},
    "n_clicks": 1,
    "n_submit": 1,
    "data": None,
    "value": None,
    "search_value": "",
    "selectedRows": [],
}
# The functions each page registers; each must be wrapped by ``admin_only``.
PAGE_FUNCTIONS = [
    ("pages.admin_sessions", "show_view", ({}, 0)),
    ("pages.admin_sessions", "sessions_page", ({"startRow": 0, "endRow": 100}, None)),
    ("pages.admin_sessions", "show_session", ([[{"session": "s-any"}]],)),
    (
        "pages.admin_sessions",
        "apply_filters",
        (1, None, None, "2026-11-01", None, None, None, "all"),
    ),
    ("pages.admin_reservations", "prefill_form", (True,)),
    ("pages.admin_reservations", "show_list", ("initial", "")),
    ("pages.admin_reservations", "reservations_page", ([{"startRow": 0, "endRow": 100}], "")),
    ("pages.admin_reservations", "selection", ([[]],)),
    ("pages.admin_reservations", "cancel_flow", (1, None, None, [[]], None)),
    ("pages.admin_reservations", "create", (1, "acc-alice", "PX-1", "2030-01-01T10:00", "")),
    ("pages.admin_reservations", "find_accounts", ("a", None)),
    ("pages.admin_reservations", "find_chargers", ("p", None)),
]


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(PROPAGATE_EXCEPTIONS=False)
    add_person(app, "olga@example.com", ("acc-ops", Role.admin, "Operations"))
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_charger(s, charger_id="PX-1", friendly_name="Marktplatz 1", last_seen_at=NOW)
        make_charger(s, charger_id="PX-2", friendly_name="Marktplatz 2", last_seen_at=NOW)
        make_session(
            s, "acc-alice", "PX-1", started_at=NOW - timedelta(hours=2), energy_kwh="31.415"
        )
        make_session(
            s,
            "acc-alice",
            "PX-2",
            started_at=NOW - timedelta(days=1),
            ended_at=NOW - timedelta(days=1) + timedelta(hours=1),
            energy_kwh="27.182",
        )
        make_reservation(
            s,
            "acc-alice",
            "PX-2",
            starts_at=SOON,
            ends_at=SOON + timedelta(hours=1),
            reservation_id="r-alice",
        )
    return app


@pytest.fixture
def olga(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for("olga@example.com")


@pytest.fixture
def alice(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for("alice@example.com")


# --- requests the way the renderer builds them -------------------------------------------------


def _ids(callback: dict[str, Any]) -> list[Any]:
    declared = callback["output"]
    outputs = declared if isinstance(declared, list | tuple) else [declared]
    return [o.component_id for o in outputs]


def ours(app: Flask) -> dict[str, dict[str, Any]]:
    """Our pages' callbacks: those with an output id (or pattern value) of our prefixes."""
    found = {}
    for key, callback in app.extensions["polaris_dash"].callback_map.items():
        for ident in _ids(callback):
            names = ident.values() if isinstance(ident, dict) else [ident]
            if any(isinstance(n, str) and n.startswith(OUR_PREFIXES) for n in names):
                found[key] = callback
                break
    return found


def _concrete(spec: str) -> tuple[Any, bool]:
    """``(id, is_all)`` for a dependency id as the callback map spells it."""
    if not spec.startswith("{"):
        return spec, False
    pattern = json.loads(spec)
    is_all = any(v == ["ALL"] for v in pattern.values())
    ident = {k: PATTERN_VALUES[k] if isinstance(v, list) else v for k, v in pattern.items()}
    return ident, is_all


def _entry(spec: str, prop: str, value: Any = None, with_value: bool = True) -> Any:
    """One dependency; for an ``ALL`` id, a list with the one component our pages show."""
    ident, is_all = _concrete(spec)
    item: dict[str, Any] = {"id": ident, "property": prop}
    if with_value:
        item["value"] = value
    return [item] if is_all else item


def _name(spec: str) -> str:
    """``admin-sessions-from`` or, for a pattern id, its ``type``."""
    return json.loads(spec)["type"] if spec.startswith("{") else spec


def body(app: Flask, key: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A well-formed request for callback ``key``; ``values`` by ``"id.property"`` (a pattern
    id by its ``type``), the first input as the one that changed."""
    callback = app.extensions["polaris_dash"].callback_map[key]
    values = values or {}

    def value(spec: str, prop: str) -> Any:
        return values.get(f"{_name(spec)}.{prop}", NEUTRAL.get(prop))

    inputs = [
        _entry(i["id"], i["property"], value(i["id"], i["property"])) for i in callback["inputs"]
    ]
    state = [
        _entry(s["id"], s["property"], value(s["id"], s["property"])) for s in callback["state"]
    ]
    declared = callback["output"]
    outputs = [
        _entry(o.component_id_str(), o.component_property, with_value=False)
        for o in (declared if isinstance(declared, list | tuple) else [declared])
    ]
    first = callback["inputs"][0]
    ident, _ = _concrete(first["id"])
    ident_text = ident if isinstance(ident, str) else json.dumps(ident, sort_keys=True)
    return {
        "output": key,
        "outputs": outputs if isinstance(declared, list | tuple) else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": [f"{ident_text}.{first['property']}"],
    }


def post(client: FlaskClient, payload: dict[str, Any]):
    headers = {"X-CSRFToken": dash_csrf(client)} if client.get_cookie("session") else {}
    return client.post(
        CALLBACK_URL, data=json.dumps(payload), content_type="application/json", headers=headers
    )


def call(
    client: FlaskClient,
    app: Flask,
    fragment: str,
    values: dict[str, Any],
    changed: str | None = None,
) -> dict:
    """Call the one callback of ours whose key contains ``fragment`` (``changed``: the input
    that fired, ``"id.property"``, the first one by default); its JSON response."""
    keys = [k for k in ours(app) if fragment in k]
    assert len(keys) == 1, (fragment, keys)
    payload = body(app, keys[0], values)
    if changed:
        payload["changedPropIds"] = [changed]
    response = post(client, payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]


# --- who may call --------------------------------------------------------------------------------


def test_our_callbacks_are_the_expected_ones(app: Flask):
    assert len(ours(app)) == len(PAGE_FUNCTIONS) == 12


def test_customer_gets_403_from_every_callback(app: Flask, alice: FlaskClient):
    answers = {key: post(alice, body(app, key)) for key in ours(app)}
    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 403)
    for response in answers.values():
        assert "Marktplatz" not in response.get_data(as_text=True)


def test_anonymous_gets_401_from_every_callback(app: Flask):
    anonymous = client_for(app, None)
    answers = {key: post(anonymous, body(app, key)).status_code for key in ours(app)}
    assert answers == dict.fromkeys(answers, 401)


def test_admin_gets_an_answer_from_every_callback(app: Flask, olga: FlaskClient):
    """The same bodies an admin sends are answered: the 403s above are the role, not the shape."""
    answers = {key: post(olga, body(app, key)).status_code for key in ours(app)}
    assert set(answers.values()) <= {200, 204}, answers


@pytest.mark.parametrize("path", ["/admin/sessions", "/admin/reservations"])
def test_the_pages_themselves_are_for_admins(app: Flask, alice: FlaskClient, olga, path: str):
    assert olga.get(path).status_code == 200
    assert alice.get(path).status_code == 403
    anonymous = client_for(app, None).get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.parametrize(("module", "name", "args"), PAGE_FUNCTIONS)
def test_each_function_checks_the_role_itself(app, alice, module, name, args):
    """Without the central gate, ``admin_only`` still refuses (defence in depth)."""
    module = importlib.import_module(module)  # loaded by Dash when the app was built
    anonymous = app.test_client()
    with anonymous:
        anonymous.get("/login")
        with pytest.raises(Unauthorized):
            getattr(module, name)(*args)
    with alice:
        alice.get("/switch")
        with pytest.raises(Forbidden):
            getattr(module, name)(*args)


# --- what the browser sends is checked -----------------------------------------------------------


def _response_for(answer: dict, type_name: str) -> dict:
    key = next(k for k in answer if type_name in k)
    return answer[key]


def test_sessions_page_answers_rows_and_totals_for_the_view(app: Flask, olga: FlaskClient):
    answer = call(olga, app, "admin-sessions-grid", {})
    rows = _response_for(answer, "admin-sessions-grid")["getRowsResponse"]
    assert rows["rowCount"] == 2
    assert [r["kwh"] for r in rows["rowData"]] == ["31.415", "27.182"]
    assert rows["rowData"][0]["ended"] == "In progress"
    totals = _response_for(answer, "admin-sessions-totals")["children"]
    assert totals == "2 sessions · 58.6 kWh"


@pytest.mark.parametrize(
    "view",
    ["?from=nonsense&state=%27%3B%20DROP%20TABLE%20sessions", "not even a query", "?to=1&to=2"],
)
def test_a_forged_view_falls_back_to_the_default(app: Flask, olga: FlaskClient, view: str):
    PATTERN_VALUES["view"] = view
    try:
        answer = call(olga, app, "admin-sessions-grid", {})
    finally:
        PATTERN_VALUES["view"] = VIEW
    rows = _response_for(answer, "admin-sessions-grid")["getRowsResponse"]
    assert rows["rowCount"] == 2  # the last 7 days: both sessions


def test_show_view_notes_what_it_ignored(app: Flask, olga: FlaskClient):
    query = {"from": "2026-02-30", "state": ["a", "b"], "account": "acc-ghost"}
    answer = call(olga, app, "admin-sessions-results", {"admin-sessions-query.data": query})
    text = json.dumps(answer)
    assert "is not a date" in text and "showing all sessions" in text
    assert "There is no account" in text and "acc-ghost" in text


def test_apply_puts_the_form_into_the_url(app: Flask, olga: FlaskClient):
    values = {
        "admin-sessions-from.value": "2026-11-01",
        "admin-sessions-to.value": "2026-11-24",
        "admin-sessions-charger.value": " PX-003 ",
        "admin-sessions-state.value": "in_progress",
    }
    answer = call(olga, app, "admin-sessions-location", values)
    search = answer["admin-sessions-location"]["search"]
    assert search == "?from=2026-11-01&to=2026-11-24&charger=PX-003&state=in_progress"


def _create(olga: FlaskClient, app: Flask, **values: Any) -> str:
    fields = {
        "admin-reservation-account.value": "acc-alice",
        "admin-reservation-charger.value": "PX-1",
        "admin-reservation-start.value": f"{SOON.astimezone(BERLIN):%Y-%m-%dT%H:%M}",
        "admin-reservation-end.value": f"{SOON.astimezone(BERLIN) + HOUR:%Y-%m-%dT%H:%M}",
    }
    fields.update({f"admin-reservation-{k}.value": v for k, v in values.items()})
    answer = call(olga, app, "admin-reservation-message", fields)
    return json.dumps(answer["admin-reservation-message"]["children"], ensure_ascii=False)


def test_create_checks_every_id_it_is_sent(app: Flask, olga: FlaskClient):
    assert "no account “acc-ghost”" in _create(olga, app, account="acc-ghost")
    assert "acc-ops is an admin account" in _create(olga, app, account="acc-ops")
    assert "no charger “PX-404”" in _create(olga, app, charger="PX-404")
    assert "Choose a customer account" in _create(olga, app, account={"id": "acc-alice"})
    assert "not a date and time" in _create(olga, app, start="soon")


def test_cancel_confirms_only_a_reservation_that_exists(app: Flask, olga: FlaskClient):
    answer = call(
        olga,
        app,
        "admin-reservations-cancel-modal",
        {"admin-reservations-cancel-target.data": "r-does-not-exist"},
        changed="admin-reservations-cancel-confirm.n_clicks",
    )
    assert "That reservation no longer exists" in json.dumps(answer)


@pytest.fixture
def fresh_reservation(app: Flask) -> Iterator[str]:
    with app.extensions["polaris_db"].session() as s:
        make_reservation(
            s,
            "acc-alice",
            "PX-1",
            starts_at=SOON + timedelta(days=1),
            ends_at=SOON + timedelta(days=1, hours=1),
            reservation_id="r-to-cancel",
        )
    yield "r-to-cancel"
    with app.extensions["polaris_db"].session() as s:
        s.query(Reservation).filter(Reservation.id == "r-to-cancel").delete()


def test_cancel_flow_names_the_reservation_then_cancels_it(app, olga, fresh_reservation):
    asked = call(olga, app, "admin-reservations-cancel-modal", {})  # nothing selected
    assert "Select a reservation" in json.dumps(asked)
    # The open button's click with the row selected: the modal names it from the database.
    selected = [{"reservation": fresh_reservation, "charger": "whatever the browser says"}]
    opened = call(
        olga,
        app,
        "admin-reservations-cancel-modal",
        {"admin-reservations-grid.selectedRows": selected},
    )
    assert opened["admin-reservations-cancel-modal"]["is_open"] is True
    assert "Marktplatz 1" in opened["admin-reservations-cancel-body"]["children"]
    assert opened["admin-reservations-cancel-target"]["data"] == fresh_reservation
    # Confirm.
    done = call(
        olga,
        app,
        "admin-reservations-cancel-modal",
        {"admin-reservations-cancel-target.data": fresh_reservation},
        changed="admin-reservations-cancel-confirm.n_clicks",
    )
    done = json.dumps(done, ensure_ascii=False)
    assert f"Cancelled {fresh_reservation}" in done
    with app.extensions["polaris_db"].session() as s:
        assert s.get(Reservation, fresh_reservation).status == ReservationStatus.cancelled


ODD_VALUES: list[Any] = [
    None,
    True,
    -1,
    10**30,
    1e308,
    float("nan"),
    "x" * 5_000,
    "2026-03-29T02:30",
    "?from=0000-00-00",
    [],
    [[{"reservation": None}]],
    {"startRow": "0", "endRow": float("inf"), "sortModel": [{"colId": {}, "sort": 1}]},
    {"startRow": 10**12, "endRow": 10**12 + 100, "sortModel": "kwh"},
    {"from": {"nested": ["x"]}, "state": 7},
]


def test_admin_callbacks_never_fail_on_odd_values(app: Flask, olga: FlaskClient):
    """Any JSON in any input or state of our callbacks: an answer or a 4xx, never a 500."""
    failures = []
    for key, callback in ours(app).items():
        deps = [("inputs", i) for i in range(len(callback["inputs"]))]
        deps += [("state", i) for i in range(len(callback["state"]))]
        for where, index in deps:
            for odd in ODD_VALUES:
                payload = body(app, key)
                entries = payload[where][index]
                for entry in entries if isinstance(entries, list) else [entries]:
                    entry["value"] = odd
                response = olga.post(
                    CALLBACK_URL,
                    data=json.dumps(payload),  # NaN and Infinity go out as JSON's extensions
                    content_type="application/json",
                    headers={"X-CSRFToken": dash_csrf(olga)},
                )
                if response.status_code >= 500:
                    failures.append((key[:60], where, index, repr(odd)[:40]))
    assert failures == []
