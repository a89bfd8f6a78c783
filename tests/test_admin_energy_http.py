"""The "Disputed energy" section over HTTP: a customer gets 403 (and the callbacks check the role
themselves), the operator sees the disputed session and confirms or corrects it."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import Forbidden, Unauthorized

import data.ocpp.messages as ocpp
from data.core.models import ChargingSession, Role
from tests.support.factories import make_charger, make_id_tag, make_operator
from tests.support.web import AppFactory, add_person, client_for, dash_csrf

OPERATOR = "olga@example.com"
CUSTOMER = "carl@example.com"
NOW = datetime.now(UTC).replace(microsecond=0)
CONFIRM = "admin-energy-confirm"
CORRECT = "admin-energy-correct"
VALUE = "admin-energy-value"


def _dispute(app: Flask, minute_offset: int) -> str:
    """A session on PX-9 whose charger reported 500 million kWh a second after the start."""
    started_at = NOW - timedelta(minutes=minute_offset)
    with app.extensions["polaris_db"].session() as s:
        start = ocpp.start_transaction(s, "PX-9", 1, "CARL-CARD", 0, started_at.isoformat(), NOW)
        ocpp.stop_transaction(
            s, "PX-9", start.transaction_id, 500_000_000_000,
            (started_at + timedelta(seconds=1)).isoformat(), None, None, None, NOW,
        )  # fmt: skip
    assert start.session_id is not None
    return start.session_id


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(PROPAGATE_EXCEPTIONS=False)
    add_person(app, OPERATOR, ("acc-ops", Role.admin, "Operations"))
    add_person(app, CUSTOMER, ("acc-carl", Role.customer, "Van"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_charger(s, charger_id="PX-9", friendly_name="Carl's Street", max_power_kw="22")
        make_id_tag(s, "acc-carl", id_tag="CARL-CARD")
    return app


def keys(app: Flask) -> dict[str, str]:
    found = {}
    for key in app.extensions["polaris_dash"].callback_map:
        if "admin-energy-disputes.children" in key:
            found["render"] = key
        elif "admin-energy-feedback.children" in key:
            found["resolve"] = key
    return found


def post(client: FlaskClient, payload: dict[str, Any], *, csrf: bool = True):
    headers = {"X-CSRFToken": dash_csrf(client)} if csrf else {}
    return client.post(
        "/_dash-update-component",
        data=json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def render_body(app: Flask, scope: str = "") -> dict[str, Any]:
    return {
        "output": keys(app)["render"],
        "outputs": [
            {"id": "admin-energy-disputes", "property": "children"},
            {"id": "admin-energy-section", "property": "hidden"},
        ],
        "inputs": [{"id": "admin-energy-store", "property": "data", "value": 0}],
        "state": [{"id": "admin-energy-scope", "property": "data", "value": scope}],
        "changedPropIds": [],
    }


def resolve_body(app: Flask, sid: str, button: str, typed: str | None = None) -> dict[str, Any]:
    def ids(kind: str, prop: str, value: Any) -> list[dict[str, Any]]:
        return [{"id": {"type": kind, "session": sid}, "property": prop, "value": value}]

    pressed = {"type": button, "session": sid}
    return {
        "output": keys(app)["resolve"],
        "outputs": [
            {"id": "admin-energy-feedback", "property": "children"},
            {"id": "admin-energy-store", "property": "data"},
        ],
        "inputs": [
            ids(CONFIRM, "n_clicks", 1 if button == CONFIRM else None),
            ids(CORRECT, "n_clicks", 1 if button == CORRECT else None),
        ],
        "state": [
            ids(VALUE, "value", typed),
            {"id": "admin-energy-store", "property": "data", "value": 0},
        ],
        "changedPropIds": [
            json.dumps(pressed, sort_keys=True, separators=(",", ":")) + ".n_clicks"
        ],
    }


def answer(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _session(app: Flask, sid: str) -> ChargingSession:
    with app.extensions["polaris_db"].session() as s:
        row = s.get(ChargingSession, sid)
        s.expunge(row)
        return row


def test_the_section_has_two_callbacks_both_admin(app: Flask) -> None:
    assert set(keys(app)) == {"render", "resolve"}


def test_a_customer_cannot_confirm_or_correct(app: Flask) -> None:
    sid = _dispute(app, 30)
    customer, anonymous = client_for(app, CUSTOMER), client_for(app, None)
    for payload in (
        resolve_body(app, sid, CONFIRM),
        resolve_body(app, sid, CORRECT, "1"),
        render_body(app),
    ):
        refused = post(customer, payload)
        assert refused.status_code == 403
        assert sid not in refused.get_data(as_text=True)
        assert post(anonymous, payload, csrf=False).status_code == 401
    row = _session(app, sid)
    assert row.energy_disputed_at is not None and Decimal(row.energy_kwh) == 0


@pytest.mark.parametrize(("email", "error"), [(CUSTOMER, Forbidden), (None, Unauthorized)])
def test_each_function_checks_the_role_itself(app: Flask, email: str | None, error: type) -> None:
    module = importlib.import_module("pages._energy")
    client = client_for(app, email)
    with client:
        client.get("/login")
        with pytest.raises(error):
            module.resolve_energy(None, None, None, None)
        with pytest.raises(error):
            module.render_energy_disputes(None, None)


def test_the_operator_sees_confirms_and_corrects(app: Flask) -> None:
    first, second = _dispute(app, 50), _dispute(app, 40)
    olga = client_for(app, OPERATOR)
    listed = answer(post(olga, render_body(app)))
    assert first in listed and second in listed
    assert "500,000,000.000 kWh" in listed and "Carl's Street" in listed
    assert "disputed energy" in listed
    assert first in answer(post(olga, render_body(app, "PX-9")))
    assert "No session has disputed energy" in answer(post(olga, render_body(app, "PX-404")))

    confirmed = answer(post(olga, resolve_body(app, first, CONFIRM)))
    assert "confirmed at 500,000,000.000 kWh" in confirmed
    row = _session(app, first)
    assert row.energy_disputed_at is None and row.energy_resolved_by == "acc-ops"
    assert Decimal(row.energy_kwh) == Decimal("500000000")

    missing = answer(post(olga, resolve_body(app, second, CORRECT, "  ")))
    assert "Enter the session's energy" in missing
    bad = answer(post(olga, resolve_body(app, second, CORRECT, "lots")))
    assert "not a number" in bad and "Traceback" not in bad
    corrected = answer(post(olga, resolve_body(app, second, CORRECT, "0.02")))
    assert "corrected to 0.020 kWh" in corrected
    assert Decimal(_session(app, second).energy_kwh) == Decimal("0.020")
    again = answer(post(olga, resolve_body(app, second, CONFIRM)))
    assert "has no disputed energy" in again
