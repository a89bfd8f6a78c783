"""``/admin/tokens`` over HTTP: admin only (401 anonymous, 403 customer), a token made for the
signed-in admin's own account and shown once, working as ``Authorization: Bearer`` on
``/export/`` until revoked, then 401. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from data.accounts.tokens import TOKEN_PATTERN, create_token, list_tokens
from data.core.models import Role
from tests.support.audit import CLI
from tests.support.callbacks import call, callback_containing, find
from tests.support.factories import make_charger, make_operator, make_session
from tests.support.web import AppFactory, add_person, client_for, dash_csrf

OLGA, ALICE = "olga@example.com", "alice@example.com"
TOKEN_PREFIX = "admin-token"  # admin-token-... and admin-tokens-...


@pytest.fixture
def app(app_factory: AppFactory, database_url: str) -> Flask:
    app = app_factory(database_url, PROPAGATE_EXCEPTIONS=False)
    add_person(app, OLGA, ("acc-ops", Role.admin, "Operations"), ("acc-olga", Role.customer, None))
    add_person(app, ALICE, ("acc-alice", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Pacific/Auckland")
        make_charger(s, charger_id="PX-1", friendly_name="Marktplatz 1")
        make_session(
            s,
            "acc-alice",
            "PX-1",
            started_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
            ended_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
            energy_kwh="12.5",
        )
    return app


@pytest.fixture
def olga(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for(OLGA)


def token_keys(app: Flask) -> list[str]:
    keys = [k for k in app.extensions["polaris_dash"].callback_map if TOKEN_PREFIX in k]
    assert len(keys) == 4, keys  # list, create, hide, revoke flow
    return keys


def create(client: FlaskClient, app: Flask, name: str | None, scopes: Any = ("export",)) -> Any:
    key = callback_containing(app, "admin-token-created.children...admin-token-name.value")
    return call(
        client,
        key,
        [{"id": "admin-token-create", "property": "n_clicks", "value": 1}],
        [
            {"id": "admin-token-name", "property": "value", "value": name},
            {"id": "admin-tokens-version", "property": "data", "value": 0},
            {"id": "admin-token-scopes", "property": "value", "value": list(scopes)},
        ],
    )


def show(client: FlaskClient, app: Flask) -> Any:
    key = callback_containing(app, "admin-tokens-list.children")
    return call(client, key, [{"id": "admin-tokens-version", "property": "data", "value": 1}])


REVOKE_OUTPUTS = [
    {"id": "admin-token-revoke-modal", "property": "is_open"},
    {"id": "admin-token-revoke-body", "property": "children"},
    {"id": "admin-token-revoke-target", "property": "data"},
    {"id": "admin-tokens-feedback", "property": "children"},
    {"id": "admin-tokens-version", "property": "data"},
]


def revoke(
    client: FlaskClient, app: Flask, trigger: str, token_id: Any, shown: list[int]
) -> dict[str, Any]:
    """The revoke flow: ``trigger`` "open" (the row's button), "keep" or "confirm"."""
    key = callback_containing(app, "admin-token-revoke-modal.is_open")
    buttons = [
        {
            "id": {"type": "admin-token-revoke", "token": t},
            "property": "n_clicks",
            "value": 1 if trigger == "open" and t == token_id else None,
        }
        for t in shown
    ]
    inputs: list[Any] = [
        buttons,
        {
            "id": "admin-token-revoke-keep",
            "property": "n_clicks",
            "value": 1 if trigger == "keep" else None,
        },
        {
            "id": "admin-token-revoke-confirm",
            "property": "n_clicks",
            "value": 1 if trigger == "confirm" else None,
        },
    ]
    changed = {
        "open": json.dumps({"token": token_id, "type": "admin-token-revoke"}, separators=(",", ":"))
        + ".n_clicks",
        "keep": "admin-token-revoke-keep.n_clicks",
        "confirm": "admin-token-revoke-confirm.n_clicks",
    }[trigger]
    body = {
        "output": key,
        "outputs": REVOKE_OUTPUTS,
        "inputs": inputs,
        "state": [
            {"id": "admin-token-revoke-target", "property": "data", "value": token_id},
            {"id": "admin-tokens-version", "property": "data", "value": 3},
        ],
        "changedPropIds": [changed],
    }
    response = client.post(
        "/_dash-update-component",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-CSRFToken": dash_csrf(client)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# --- who may call -------------------------------------------------------------------------------


def test_every_token_callback_is_admin_only(app: Flask) -> None:
    anonymous = client_for(app, None)
    alice = client_for(app, ALICE)
    olga = client_for(app, OLGA)
    for key in token_keys(app):
        body: dict[str, Any] = {
            "output": key,
            "outputs": [],
            "inputs": [],
            "state": [],
            "changedPropIds": [],
        }
        assert anonymous.post("/_dash-update-component", json=body).status_code == 401, key
    assert create(alice, app, "mine").status_code == 403
    assert show(alice, app).status_code == 403
    assert show(olga, app).status_code == 200
    with app.extensions["polaris_db"].session() as s:
        assert list_tokens(s) == []  # the customer's "create" made nothing
    assert alice.get("/admin/tokens").status_code == 403
    assert anonymous.get("/admin/tokens").status_code in (302, 401)


# --- the life of a token ------------------------------------------------------------------------


def test_create_use_revoke(app: Flask, olga: FlaskClient) -> None:
    response = create(olga, app, "  nightly sync  ")
    assert response.status_code == 200
    answer = response.get_json()["response"]
    field = find(answer, "admin-token-value")
    assert field is not None and field["readonly"] is True
    secret = field["value"]
    assert TOKEN_PATTERN.fullmatch(secret)
    text = json.dumps(answer)
    assert text.count(secret) == 1  # once, in the field to copy
    assert (
        'curl -H \\"Authorization: Bearer $T\\" \\"http://localhost/export/sessions.csv?from='
        in text
    )
    assert answer["admin-token-name"]["value"] == ""  # the form is cleared
    with app.extensions["polaris_db"].session() as s:
        (row,) = list_tokens(s)
    # For the signed-in person's active admin account, with the name given.
    assert (row.account_id, row.email, row.name) == ("acc-ops", OLGA, "nightly sync")
    assert secret.startswith(row.prefix)

    # The token works on the exports, as that admin account, with no cookie.
    anonymous = client_for(app, None)
    export = anonymous.get("/export/sessions.csv?from=2026-11-01", headers=bearer(secret))
    assert export.status_code == 200
    assert "acc-alice" in export.get_data(as_text=True)
    assert anonymous.get("/export/accounts.csv", headers=bearer(secret)).status_code == 200

    # The list shows it, with its last use, and never the secret again.
    listing = show(olga, app)
    listed = listing.get_data(as_text=True)
    assert secret not in listed
    assert f"Revoke token {row.token_id}" in listed
    assert row.prefix in listed and "nightly sync" in listed and "acc-ops" in listed
    with app.extensions["polaris_db"].session() as s:
        assert list_tokens(s)[0].last_used_at is not None
    for path in ("/admin/tokens", "/_dash-layout", "/_dash-dependencies"):
        assert secret not in olga.get(path).get_data(as_text=True)

    # Revoke: the question names the token; "Keep it" changes nothing; confirm revokes.
    opened = revoke(olga, app, "open", row.token_id, [row.token_id])
    assert opened["admin-token-revoke-modal"]["is_open"] is True
    assert opened["admin-token-revoke-target"]["data"] == row.token_id
    question = json.dumps(opened["admin-token-revoke-body"])
    assert f"Token {row.token_id}" in question and "nightly sync" in question
    assert secret not in json.dumps(opened)
    kept = revoke(olga, app, "keep", row.token_id, [row.token_id])
    assert kept["admin-token-revoke-modal"]["is_open"] is False
    assert anonymous.get("/export/plans.csv", headers=bearer(secret)).status_code == 200
    done = revoke(olga, app, "confirm", row.token_id, [row.token_id])
    assert "revoked" in json.dumps(done["admin-tokens-feedback"])
    assert done["admin-tokens-version"]["data"] == 4  # the list is read again

    refused = anonymous.get("/export/sessions.csv", headers=bearer(secret))
    assert refused.status_code == 401
    assert "acc-alice" not in refused.get_data(as_text=True)
    again = revoke(olga, app, "confirm", row.token_id, [row.token_id])
    assert "already revoked" in json.dumps(again["admin-tokens-feedback"])
    listed = show(olga, app).get_data(as_text=True)
    assert '"token":' not in listed and "Revoke token" not in listed  # no button any more


def test_the_list_shows_times_in_the_operators_time_zone(app: Flask, olga: FlaskClient) -> None:
    with app.extensions["polaris_db"].session() as s:
        create_token(s, OLGA, datetime(2024, 1, 15, 23, 30, tzinfo=UTC), name="old", actor=CLI)
    listed = show(olga, app).get_data(as_text=True)
    assert "16 Jan 2024, 12:30" in listed  # Auckland is UTC+13 in January
    assert "15 Jan 2024, 23:30" not in listed


def test_bad_input_gets_a_message(app: Flask, olga: FlaskClient) -> None:
    long_name = create(olga, app, "x" * 201).get_json()["response"]
    assert "longer than 200 characters" in json.dumps(long_name)
    assert find(long_name, "admin-token-value") is None
    with app.extensions["polaris_db"].session() as s:
        assert list_tokens(s) == []
    missing = revoke(olga, app, "open", 999, [999])
    assert "does not exist" in json.dumps(missing["admin-tokens-feedback"])
    assert missing["admin-token-revoke-modal"]["is_open"] is False
    forged = revoke(olga, app, "confirm", "1; DROP TABLE api_tokens", [])
    assert "Choose a token first" in json.dumps(forged["admin-tokens-feedback"])
    nobody = create(olga, app, None).get_json()["response"]  # a name is optional
    assert find(nobody, "admin-token-value") is not None


def test_the_admin_chooses_the_scopes(app: Flask, olga: FlaskClient) -> None:
    answer = create(olga, app, "robot", ["commands"]).get_json()["response"]
    field = find(answer, "admin-token-value")
    assert field is not None
    text = json.dumps(answer)
    assert "/api/v1/chargers/" in text and "/export/sessions.csv" not in text
    with app.extensions["polaris_db"].session() as s:
        (row,) = list_tokens(s)
    assert row.scopes == ("commands",) and row.account_id == "acc-ops"
    listed = show(olga, app).get_data(as_text=True)
    assert "Scopes" in listed and "commands" in listed
    anonymous = client_for(app, None)
    refused = anonymous.get("/export/sessions.csv", headers=bearer(field["value"]))
    assert refused.status_code == 401  # a commands-only token does not export
    for scopes in ([], ["admin"], "export"):
        nothing = create(olga, app, "x", scopes).get_json()["response"]
        assert "Tick what the token may do" in json.dumps(nothing)
        assert find(nothing, "admin-token-value") is None
    with app.extensions["polaris_db"].session() as s:
        assert len(list_tokens(s)) == 1
