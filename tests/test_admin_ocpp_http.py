"""/admin/ocpp over HTTP: anonymous 401, customer 403, the operator's edits as the browser sends
them (the password never comes back), and bad input answered with a message."""

from __future__ import annotations

import importlib
import inspect
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, Unauthorized

from data.accounts.passwords import verify_password
from data.core.models import Charger, ConnectorStatus, IdTag, Role
from tests.support.factories import make_charger, make_operator
from tests.support.web import AppFactory, add_person, client_for, dash_csrf

NOW = datetime.now(UTC)
OPERATOR = "olga@example.com"
CUSTOMER = "carl@example.com"
PREFIX = "admin-ocpp"
NEW_PASSWORD = "sixteen-chars-ok!"
CALLBACKS = (
    "render_chargers",
    "change_password",
    "render_tags",
    "change_tags",
    "render_reservations",
)


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(PROPAGATE_EXCEPTIONS=False)
    add_person(app, OPERATOR, ("acc-ops", Role.admin, "Operations"))
    add_person(app, CUSTOMER, ("acc-carl", Role.customer, "Van"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_charger(s, charger_id="PX-9", friendly_name="Carl's Street", last_seen_at=NOW)
        s.flush()
        s.add(
            ConnectorStatus(
                charger_id="PX-9",
                connector_id=0,
                status="Faulted",
                error_code="GroundFailure",
                reported_at=NOW,
            )
        )
        s.add(IdTag(id_tag="CARL-CARD", account_id="acc-carl"))
    return app


def callbacks(app: Flask) -> dict[str, Any]:
    return app.extensions["polaris_dash"].callback_map


def our_keys(app: Flask) -> list[str]:
    return sorted(k for k in callbacks(app) if PREFIX in k)


def key_for(app: Flask, output: str) -> str:
    (key,) = [k for k in our_keys(app) if k.lstrip(".").startswith(output)]
    return key


NEUTRAL: dict[str, Any] = {"n_intervals": 1, "n_clicks": 1, "n_submit": None, "value": None}


def body(app: Flask, key: str, values: dict[str, Any] | None = None, trigger: str = "") -> dict:
    """A request for ``key`` like the renderer's; ``values`` by "id.prop"; ``trigger`` the
    changed input (a pattern id's JSON, or "id.prop")."""
    values = values or {}
    cb = callbacks(app)[key]

    def dep(spec_id: str, prop: str, with_value: bool = True) -> Any:
        def entry(ident: Any) -> dict[str, Any]:
            item: dict[str, Any] = {"id": ident, "property": prop}
            if with_value:
                item["value"] = values.get(f"{spec_id}.{prop}", NEUTRAL.get(prop))
            return item

        if not spec_id.startswith("{"):
            return entry(spec_id)
        pattern = json.loads(spec_id)
        tag = values.get("tag", "CARL-CARD")
        return [entry({k: (tag if v == ["ALL"] else v) for k, v in pattern.items()})]

    declared = cb["output"]
    outputs = [
        dep(o.component_id_str(), o.component_property, with_value=False)
        for o in (declared if isinstance(declared, list | tuple) else [declared])
    ]
    return {
        "output": key,
        "outputs": outputs if isinstance(declared, list | tuple) else outputs[0],
        "inputs": [dep(i["id"], i["property"]) for i in cb["inputs"]],
        "state": [dep(s["id"], s["property"]) for s in cb["state"]],
        "changedPropIds": [trigger] if trigger else [],
    }


def post(client: FlaskClient, payload: dict[str, Any], *, csrf: bool = True):
    headers = {"X-CSRFToken": dash_csrf(client)} if csrf else {}
    return client.post(
        "/_dash-update-component",
        data=json.dumps(payload),
        content_type="application/json",
        headers=headers,
    )


def answer(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_the_page_has_the_callbacks_we_test(app: Flask) -> None:
    assert len(our_keys(app)) == len(CALLBACKS) == 5


def test_the_page_refuses_customers_and_strangers(app: Flask) -> None:
    assert client_for(app, None).get("/admin/ocpp").status_code in (302, 401)
    assert client_for(app, CUSTOMER).get("/admin/ocpp").status_code == 403
    assert client_for(app, OPERATOR).get("/admin/ocpp?charger=PX-9").status_code == 200


def test_every_callback_refuses_a_customer_and_an_anonymous_request(app: Flask) -> None:
    customer, anonymous = client_for(app, CUSTOMER), client_for(app, None)
    for key in our_keys(app):
        refused = post(customer, body(app, key))
        assert refused.status_code == 403, key
        assert "CARL-CARD" not in refused.get_data(as_text=True)
        assert post(anonymous, body(app, key), csrf=False).status_code == 401, key


@pytest.mark.parametrize(("email", "error"), [(CUSTOMER, Forbidden), (None, Unauthorized)])
def test_each_function_checks_the_role_itself(app: Flask, email: str | None, error: type) -> None:
    module = importlib.import_module("pages.admin_ocpp")
    client = client_for(app, email)
    with client:
        client.get("/login")
        for name in CALLBACKS:
            function = getattr(module, name)
            with pytest.raises(error):
                function(*([None] * len(inspect.signature(function).parameters)))


def test_operator_sees_reports_tags_and_reservations(app: Flask) -> None:
    olga = client_for(app, OPERATOR)
    chargers = answer(
        post(
            olga, body(app, key_for(app, f"{PREFIX}-chargers."), {f"{PREFIX}-search.value": "px-9"})
        )
    )
    assert "Carl's Street" in chargers and "Out of order" in chargers
    assert "GroundFailure" in chargers and "not set" in chargers
    tags = answer(post(olga, body(app, key_for(app, f"{PREFIX}-tags."))))
    assert "CARL-CARD" in tags and "acc-carl" in tags
    sent = answer(post(olga, body(app, key_for(app, f"{PREFIX}-reservations."))))
    assert "No reservation has been sent" in sent


def test_set_password_never_echoes_it_and_bad_input_gets_a_message(app: Flask) -> None:
    olga = client_for(app, OPERATOR)
    key = key_for(app, f"{PREFIX}-password-feedback.")
    values = {f"{PREFIX}-password-charger.value": "PX-9", f"{PREFIX}-password.value": NEW_PASSWORD}
    done = answer(post(olga, body(app, key, values, trigger=f"{PREFIX}-password-set.n_clicks")))
    assert "Password set for PX-9" in done and NEW_PASSWORD not in done
    assert json.loads(done)["response"][f"{PREFIX}-password"]["value"] == ""
    with app.extensions["polaris_db"].session() as s:
        stored = s.scalar(select(Charger.ocpp_password_hash).where(Charger.id == "PX-9"))
    assert verify_password(stored, NEW_PASSWORD)

    short = {**values, f"{PREFIX}-password.value": "short"}
    refused = answer(post(olga, body(app, key, short, trigger=f"{PREFIX}-password-set.n_clicks")))
    assert "16 to 40 characters" in refused and "Traceback" not in refused
    forged = {**values, f"{PREFIX}-password-charger.value": {"id": "PX-9"}}
    refused = answer(post(olga, body(app, key, forged, trigger=f"{PREFIX}-password-set.n_clicks")))
    assert "no charger with that id" in refused

    cleared = answer(
        post(olga, body(app, key, values, trigger=f"{PREFIX}-password-clear.n_clicks"))
    )
    assert "without a password" in cleared
    with app.extensions["polaris_db"].session() as s:
        assert s.scalar(select(Charger.ocpp_password_hash).where(Charger.id == "PX-9")) is None


def test_assign_and_remove_tags_over_http(app: Flask) -> None:
    olga = client_for(app, OPERATOR)
    key = key_for(app, f"{PREFIX}-tag-feedback.")
    assign = f"{PREFIX}-tag-assign.n_clicks"
    values = {f"{PREFIX}-tag.value": "CARL-APP", f"{PREFIX}-tag-account.value": CUSTOMER}
    done = answer(post(olga, body(app, key, values, trigger=assign)))
    assert "CARL-APP now belongs to acc-carl" in done
    again = answer(post(olga, body(app, key, values, trigger=assign)))
    assert "already belongs to acc-carl" in again
    admin = {**values, f"{PREFIX}-tag.value": "OPS-1", f"{PREFIX}-tag-account.value": "acc-ops"}
    assert "admin account" in answer(post(olga, body(app, key, admin, trigger=assign)))
    long = {**values, f"{PREFIX}-tag.value": "T" * 21}
    assert "at most 20 characters" in answer(post(olga, body(app, key, long, trigger=assign)))

    remove = json.dumps({"tag": "CARL-APP", "type": f"{PREFIX}-tag-remove"}, separators=(",", ":"))
    removed = answer(post(olga, body(app, key, {"tag": "CARL-APP"}, trigger=f"{remove}.n_clicks")))
    assert "CARL-APP removed" in removed
    with app.extensions["polaris_db"].session() as s:
        assert sorted(s.scalars(select(IdTag.id_tag))) == ["CARL-CARD"]
