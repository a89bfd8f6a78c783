"""/admin/accounts and /admin/settings over HTTP: every callback refuses customers (403) and
anonymous callers (401); a customer forging the write callbacks changes nothing; an admin's
writes take effect for the customer on their next request."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from data.core.models import Account, ChargerAccess, Operator, Plan, Role, User, Visibility
from tests.support.factories import make_charger, make_operator, make_plan
from tests.support.web import (
    PASSWORD,
    AppFactory,
    _outputs_from,
    add_person,
    call_callback,
    client_for,
    dash_csrf,
    make_app,
    sign_in,
)

MODULES = ("pages.admin_accounts", "pages._new_person", "pages.admin_settings")
NEW_PASSWORD = "a brand new password"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """People, a plan and chargers once per module; each test copies the file."""
    path = tmp_path_factory.mktemp("people-http") / "people.db"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}")
    add_person(app, "ops@example.com", ("OPS-1", Role.admin, "Operations"))
    add_person(app, "alice@example.com", ("ACC-ALICE", Role.customer, None))
    add_person(app, "bob@example.com", ("ACC-BOB", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, name="Operator", timezone="Europe/Berlin", currency="EUR")
        make_plan(s, plan_id="PLAN-A", name="Plan A", allowance_kwh="100")
        make_charger(s, charger_id="DEPOT", friendly_name="Depot", visibility=Visibility.restricted)
        make_charger(s, charger_id="STREET", friendly_name="Street")
    app.extensions["polaris_db"].engine.dispose()
    return path


@pytest.fixture
def app(app_factory: AppFactory, template: Path) -> Flask:
    return app_factory(copy_of=template)


@pytest.fixture
def ops(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for("ops@example.com")


@pytest.fixture
def alice(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for("alice@example.com")


def _user_id(app, email: str) -> int:
    with app.extensions["polaris_db"].session() as s:
        return s.scalar(select(User.id).where(User.email == email))


# --- the callbacks of these two pages, called the way the renderer does -------------------------


def _callbacks(app) -> dict[str, tuple[str, dict[str, Any]]]:
    """``function name -> (callback map key, entry)`` for every server callback of our pages."""
    found = {}
    for key, entry in app.extensions["polaris_dash"].callback_map.items():
        func = entry.get("callback")
        if func is not None and func.__module__ in MODULES:
            found[func.__name__] = (key, entry)
    return found


def _is_pattern(dep: dict[str, str]) -> bool:
    return dep["id"].startswith("{")


def _deps(declared: list[dict[str, str]], values: dict[str, Any]) -> list[Any]:
    """One entry per declared dependency; a wildcard one as an empty list (nothing rendered)."""
    out: list[Any] = []
    for dep in declared:
        if _is_pattern(dep):
            out.append([])
        else:
            value = values.get(f"{dep['id']}.{dep['property']}")
            out.append({"id": dep["id"], "property": dep["property"], "value": value})
    return out


def call(client, app, name: str, values: dict[str, Any] | None = None):
    """POST the callback ``name`` as the renderer would, with ``values`` (``"id.prop" -> value``;
    every other dependency None)."""
    key, entry = _callbacks(app)[name]
    values = values or {}
    inputs = _deps(entry["inputs"], values)
    body = {
        "output": key,
        "outputs": _outputs_from(key),
        "inputs": inputs,
        "state": _deps(entry["state"], values),
        # The input that changed; a callback whose only input is a wildcard names none.
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs if isinstance(i, dict)][:1],
    }
    headers = {"X-CSRFToken": dash_csrf(client)} if client.get_cookie("session") else {}
    return client.post(
        "/_dash-update-component",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def test_every_page_callback_is_found_and_outputs_only_admin_components(app):
    callbacks = _callbacks(app)
    assert len(callbacks) == 30, sorted(callbacks)
    for name, (_key, entry) in callbacks.items():
        for output in entry["output"] if isinstance(entry["output"], list) else [entry["output"]]:
            ident = output.component_id
            names = list(ident.values()) if isinstance(ident, dict) else [ident]
            assert any(str(n).startswith("admin-") for n in names), (name, ident)


def _first_input_value(entry: dict[str, Any]) -> dict[str, Any]:
    # A click count of 1 on the first input, so "nothing clicked" guards do not hide the check.
    first = entry["inputs"][0]
    return {} if _is_pattern(first) else {f"{first['id']}.{first['property']}": 1}


def test_every_callback_refuses_anonymous_callers_with_401(app):
    client = client_for(app, None)
    for name, (_key, entry) in _callbacks(app).items():
        response = call(client, app, name, _first_input_value(entry))
        assert response.status_code == 401, (name, response.status_code)
        assert "admin" not in response.get_data(as_text=True).lower()


def test_every_callback_refuses_a_customer_with_403(app, alice):
    for name, (_key, entry) in _callbacks(app).items():
        response = call(alice, app, name, _first_input_value(entry))
        assert response.status_code == 403, (name, response.status_code, response.data[:200])


def test_the_same_requests_are_served_for_an_admin(app, ops):
    """The requests above are well formed: an admin gets answers, not 400/401/403."""
    for name, (_key, entry) in _callbacks(app).items():
        response = call(ops, app, name, _first_input_value(entry))
        assert response.status_code in (200, 204), (name, response.status_code, response.data[:300])


def _state(app) -> dict[str, Any]:
    """Everything a forged write could change."""
    with app.extensions["polaris_db"].session() as s:
        users = s.execute(
            select(User.email, User.password_hash, User.session_version, User.default_account_id)
            .order_by(User.email)
        ).all()  # fmt: skip
        accounts = s.execute(select(Account.id, Account.plan_id).order_by(Account.id)).all()
        grants = s.scalar(select(func.count()).select_from(ChargerAccess))
        plans = s.execute(select(Plan.id, Plan.name, Plan.allowance_kwh)).all()
        operator = s.execute(select(Operator.name, Operator.timezone, Operator.currency)).all()
    return {
        "users": users,
        "accounts": accounts,
        "grants": grants,
        "plans": plans,
        "operator": operator,
    }


def test_a_customer_cannot_reach_the_writes_by_forging_callbacks(app, alice):
    before = _state(app)
    ops_id = _user_id(app, "ops@example.com")
    alice_id = _user_id(app, "alice@example.com")
    mine = {"user_id": alice_id, "account_id": "ACC-ALICE", "rev": 1}
    theirs = {"user_id": ops_id, "account_id": "OPS-1", "rev": 1}
    forged = [
        (
            "save_password",
            {"admin-accounts-selected.data": theirs, "admin-password.value": "x" * 12},
        ),
        (
            "assign_plan",
            {"admin-accounts-selected.data": mine, "admin-account-plan.value": "PLAN-A"},
        ),
        ("grant", {"admin-accounts-selected.data": mine, "admin-grant-charger.value": "DEPOT"}),
        ("make_default", {"admin-accounts-selected.data": theirs}),
        ("confirm_remove", {"admin-accounts-selected.data": theirs}),
        (
            "add_account_to_person",
            {"admin-accounts-selected.data": mine, "admin-add-role.value": "admin"},
        ),
        (
            "create_new_person",
            {
                "admin-new-kinds.value": ["admin"],
                "admin-new-email.value": "mallory@example.com",
                "admin-new-name.value": "Mallory",
                "admin-new-password.value": "x" * 12,
            },
        ),
        (
            "save_operator",
            {
                "admin-operator-name.value": "Pwned",
                "admin-operator-timezone.value": "UTC",
                "admin-operator-currency.value": "USD",
            },
        ),
        (
            "save_plan",
            {"admin-plan-editing.data": "PLAN-A", "admin-plan-name.value": "Free"},
        ),
    ]
    for name, values in forged:
        _key, entry = _callbacks(app)[name]
        response = call(alice, app, name, {**values, **_first_input_value(entry)})
        assert response.status_code == 403, (name, response.status_code)
    assert _state(app) == before


# --- what an admin's writes do ------------------------------------------------------------------


def _select(app, email: str, account_id: str | None) -> dict[str, Any]:
    return {"user_id": _user_id(app, email), "account_id": account_id, "rev": 1}


def test_grid_rows_are_searched_and_paged_on_the_server(app, ops):
    response = call(
        ops,
        app,
        "load_rows",
        {
            "admin-accounts-grid.getRowsRequest": {
                "startRow": 0,
                "endRow": 100,
                "sortModel": [{"colId": "email", "sort": "desc"}],
                "filterModel": {
                    "search": {"filterType": "text", "type": "contains", "filter": "ALI"}
                },
            }
        },
    )
    assert response.status_code == 200
    body = response.get_json()["response"]
    grid = body["admin-accounts-grid"]["getRowsResponse"]
    assert grid["rowCount"] == 1
    assert [r["account_id"] for r in grid["rowData"]] == ["ACC-ALICE"]
    assert "password" not in json.dumps(grid).lower()
    assert "1 row match" in body["admin-accounts-count"]["children"]


def test_admin_resets_a_password_and_the_customers_old_session_ends(app, ops, alice):
    assert call(alice, app, "load_rows").status_code == 403  # signed in (as a customer)
    assert alice.get("/").status_code == 200
    response = call(
        ops,
        app,
        "save_password",
        {
            "admin-password-save.n_clicks": 1,
            "admin-password.value": NEW_PASSWORD,
            "admin-accounts-selected.data": _select(app, "alice@example.com", "ACC-ALICE"),
        },
    )
    assert response.status_code == 200
    assert "Password set for Alice" in response.get_data(as_text=True)
    assert alice.get("/").status_code == 302  # the old cookie no longer signs her in
    fresh = app.test_client()
    assert sign_in(fresh, "alice@example.com", PASSWORD).status_code == 401
    assert sign_in(fresh, "alice@example.com", NEW_PASSWORD).status_code == 302


def test_a_short_password_is_refused_with_a_clear_message(app, ops):
    response = call(
        ops,
        app,
        "save_password",
        {
            "admin-password-save.n_clicks": 1,
            "admin-password.value": "short",
            "admin-accounts-selected.data": _select(app, "alice@example.com", "ACC-ALICE"),
        },
    )
    assert "at least 10 characters" in response.get_data(as_text=True)
    fresh = app.test_client()
    assert sign_in(fresh, "alice@example.com", PASSWORD).status_code == 302


def test_admin_changing_their_own_password_stays_signed_in_here(app, ops):
    other = client_for(app, "ops@example.com")  # another browser of the same operator
    response = call(
        ops,
        app,
        "save_password",
        {
            "admin-password-save.n_clicks": 1,
            "admin-password.value": NEW_PASSWORD,
            "admin-accounts-selected.data": _select(app, "ops@example.com", "OPS-1"),
        },
    )
    assert "Your password is changed" in response.get_data(as_text=True)
    assert call(ops, app, "load_rows", {"admin-accounts-grid.getRowsRequest": {}}).status_code in (
        200,
        204,
    )
    assert other.get("/admin").status_code == 302  # the other session has ended


def test_admin_grants_and_the_customer_sees_the_charger_on_the_next_request(app, ops, alice):
    from components.dashboard import CHARGER_DATA_ID, PERIOD_STORE_ID

    def alice_sees_depot() -> bool:
        response = call_callback(
            alice,
            next(k for k in app.extensions["polaris_dash"].callback_map if CHARGER_DATA_ID in k),
            [{"id": PERIOD_STORE_ID, "property": "data", "value": "current"}],
        )
        return "Depot" in response.get_data(as_text=True)

    assert not alice_sees_depot()
    selected = _select(app, "alice@example.com", "ACC-ALICE")
    response = call(
        ops,
        app,
        "grant",
        {
            "admin-grant-save.n_clicks": 1,
            "admin-grant-charger.value": "DEPOT",
            "admin-accounts-selected.data": selected,
        },
    )
    assert "ACC-ALICE may now use Depot (DEPOT)" in response.get_data(as_text=True)
    assert alice_sees_depot()

    for charger, message in [("GONE", "That charger no longer exists"), ("STREET", "is public")]:
        response = call(
            ops,
            app,
            "grant",
            {
                "admin-grant-save.n_clicks": 1,
                "admin-grant-charger.value": charger,
                "admin-accounts-selected.data": selected,
            },
        )
        assert message in response.get_data(as_text=True)


def test_admin_cannot_remove_the_account_they_are_using(app, ops):
    response = call(
        ops,
        app,
        "ask_remove",
        {
            "admin-remove-open.n_clicks": 1,
            "admin-accounts-selected.data": _select(app, "ops@example.com", "OPS-1"),
        },
    )
    assert "signed in with this account right now" in response.get_data(as_text=True)
    with app.extensions["polaris_db"].session() as s:
        assert s.get(Account, "OPS-1") is not None


def test_operator_settings_with_a_bad_zone_show_the_message_and_save_nothing(app, ops):
    response = call(
        ops,
        app,
        "save_operator",
        {
            "admin-operator-save.n_clicks": 1,
            "admin-operator-name.value": "Renamed",
            "admin-operator-timezone.value": "Europe/Berlinn",
            "admin-operator-currency.value": "EURO",
        },
    )
    body = response.get_json()["response"]
    assert "Did you mean Europe/Berlin?" in json.dumps(body["admin-operator-timezone-error"])
    assert "ISO 4217" in json.dumps(body["admin-operator-currency-error"])
    with app.extensions["polaris_db"].session() as s:
        assert s.scalar(select(Operator.name)) == "Operator"
