"""Commands to chargers from the operator's pages over HTTP (the charger page's Commands and its
log, /admin/ocpp's fleet log, the CSV export): anonymous 401, customer 403; the command row
records who asked from the server session; a command that may interrupt a driver asks first
(naming a session in progress); wrong parameters get a clear message and no row; the state in
words until it ends; the export holds exactly the filtered rows, spreadsheet-safe."""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from werkzeug.exceptions import Forbidden, Unauthorized

from data.core.models import ChargerCommand, CommandStatus, IdTag, Role
from data.ocpp.commands import expire_commands, request_command
from tests.support.factories import make_charger, make_operator, make_session
from tests.support.web import AppFactory, add_person, client_for, dash_csrf

NOW = datetime.now(UTC)
OPERATOR = "olga@example.com"
CUSTOMER = "carl@example.com"
PREFIX = "admin-commands"
CHARGER = "PX-9"
FORMULA_CHARGER = "=SUM(A1)"
CALLBACKS = {
    "pages.admin_charger": (
        "show_command_fields",
        "find_command_accounts",
        "command_sessions",
        "send_command",
        "render_command_state",
        "render_command_log",
    ),
    "pages.admin_ocpp": ("render_command_log",),
}


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory(PROPAGATE_EXCEPTIONS=False)
    app.config["OPERATOR_ID"] = add_person(app, OPERATOR, ("acc-ops", Role.admin, "Operations"))
    add_person(app, CUSTOMER, ("acc-carl", Role.customer, "Van"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_charger(s, charger_id=CHARGER, friendly_name="Carl's Street", last_seen_at=NOW)
        make_charger(s, charger_id="PX-BUSY", friendly_name="Busy", last_seen_at=NOW)
        make_charger(s, charger_id=FORMULA_CHARGER, friendly_name="Formula")
        s.flush()
        make_session(s, "acc-carl", "PX-BUSY", started_at=NOW - timedelta(minutes=20),
                     session_id="s-busy")  # fmt: skip
        s.add(IdTag(id_tag="CARL-CARD", account_id="acc-carl"))
    return app


@pytest.fixture(autouse=True)
def no_commands(app: Flask) -> None:
    with app.extensions["polaris_db"].session() as s:
        s.execute(delete(ChargerCommand))


def callbacks(app: Flask) -> dict[str, Any]:
    return app.extensions["polaris_dash"].callback_map


def our_keys(app: Flask) -> list[str]:
    return sorted(k for k in callbacks(app) if PREFIX in k)


def key_for(app: Flask, output: str) -> str:
    (key,) = [k for k in our_keys(app) if k.lstrip(".").startswith(output)]
    return key


NEUTRAL: dict[str, Any] = {
    "n_intervals": 1,
    "n_clicks": 1,
    "value": None,
    "data": CHARGER,
    "search_value": "carl",
    "options": [],
    "children": None,
}


def body(app: Flask, key: str, values: dict[str, Any] | None = None, trigger: str = "") -> dict:
    values = values or {}
    cb = callbacks(app)[key]

    def dep(spec_id: str, prop: str, with_value: bool = True) -> dict[str, Any]:
        item: dict[str, Any] = {"id": spec_id, "property": prop}
        if with_value:
            item["value"] = values.get(f"{spec_id}.{prop}", NEUTRAL.get(prop))
        return item

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


def answer(response) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["response"]


def send(app: Flask, client: FlaskClient, action: str, trigger: str = "send", **fields: Any):
    """Press Send (or the dialog's "Send it") with the form holding ``fields``."""
    values = {f"{PREFIX}-action.value": action, "admin-charger-id.data": CHARGER}
    values |= {f"{PREFIX}-{name.replace('_', '-')}.value": v for name, v in fields.items()}
    if "charger" in fields:
        values["admin-charger-id.data"] = fields["charger"]
    button = {"send": f"{PREFIX}-send", "confirm": f"{PREFIX}-confirm-send"}[trigger]
    key = key_for(app, f"{PREFIX}-confirm.is_open")
    return answer(post(client, body(app, key, values, trigger=f"{button}.n_clicks")))


def rows(app: Flask) -> list[ChargerCommand]:
    with app.extensions["polaris_db"].session() as s:
        found = list(s.scalars(select(ChargerCommand).order_by(ChargerCommand.id)))
        s.expunge_all()
    return found


# --- who may call -----------------------------------------------------------------------------


def test_the_pages_have_the_callbacks_we_test(app: Flask) -> None:
    assert len(our_keys(app)) == sum(len(names) for names in CALLBACKS.values()) == 7


def test_every_callback_refuses_a_customer_and_an_anonymous_request(app: Flask) -> None:
    with app.extensions["polaris_db"].session() as s:
        request_command(s, CHARGER, "ClearCache", {}, NOW, account_id="acc-ops")
    customer, anonymous = client_for(app, CUSTOMER), client_for(app, None)
    for key in our_keys(app):
        refused = post(customer, body(app, key, trigger=f"{PREFIX}-send.n_clicks"))
        assert refused.status_code == 403, key
        assert "ClearCache" not in refused.get_data(as_text=True)
        assert post(anonymous, body(app, key), csrf=False).status_code == 401, key
    assert [r.action for r in rows(app)] == ["ClearCache"]  # nothing sent by them


@pytest.mark.parametrize(("email", "error"), [(CUSTOMER, Forbidden), (None, Unauthorized)])
def test_each_function_checks_the_role_itself(app: Flask, email: str | None, error: type) -> None:
    client = client_for(app, email)
    with client:
        client.get("/login")
        for module, names in CALLBACKS.items():
            for name in names:
                function = getattr(importlib.import_module(module), name)
                with pytest.raises(error):
                    function(*([None] * len(inspect.signature(function).parameters)))
    assert rows(app) == []


# --- sending ----------------------------------------------------------------------------------


def test_a_reset_asks_first_and_records_who_asked_from_the_session(app: Flask) -> None:
    olga = client_for(app, OPERATOR)
    asked = send(app, olga, "Reset", reset_type="Soft")
    assert asked[f"{PREFIX}-confirm"]["is_open"] is True
    assert "Soft reset of PX-9" in json.dumps(asked[f"{PREFIX}-confirm-body"])
    assert "in progress" not in json.dumps(asked)
    assert rows(app) == []  # nothing written before the confirmation

    done = send(app, olga, "Reset", "confirm", reset_type="Soft")
    assert done[f"{PREFIX}-confirm"]["is_open"] is False
    assert "Reset sent to PX-9" in json.dumps(done[f"{PREFIX}-feedback"])
    (row,) = rows(app)
    assert done[f"{PREFIX}-sent"]["data"] == row.id
    assert done[f"{PREFIX}-poll-box"]["children"]["props"]["id"] == f"{PREFIX}-poll"
    assert (row.charger_id, row.action, json.loads(row.params)) == (CHARGER, "Reset",
                                                                    {"type": "Soft"})  # fmt: skip
    assert (row.user_id, row.account_id) == (app.config["OPERATOR_ID"], "acc-ops")
    assert row.status == CommandStatus.pending

    kept = answer(
        post(olga, body(app, key_for(app, f"{PREFIX}-confirm.is_open"),
                        trigger=f"{PREFIX}-confirm-keep.n_clicks"))
    )  # fmt: skip
    assert kept[f"{PREFIX}-confirm"]["is_open"] is False
    assert len(rows(app)) == 1


def test_a_destructive_command_names_the_session_in_progress(app: Flask) -> None:
    olga = client_for(app, OPERATOR)
    asked = send(app, olga, "UnlockConnector", connector=1, charger="PX-BUSY")
    text = json.dumps(asked[f"{PREFIX}-confirm-body"])
    assert "A session is in progress" in text and "s-busy (acc-carl)" in text
    inoperative = send(app, olga, "ChangeAvailability", availability="Inoperative", connector=0,
                       charger="PX-BUSY")  # fmt: skip
    assert "the whole charger" in json.dumps(inoperative[f"{PREFIX}-confirm-body"])
    assert rows(app) == []


def test_commands_that_interrupt_nobody_go_at_once(app: Flask) -> None:
    olga = client_for(app, OPERATOR)
    for action, fields in (
        ("ClearCache", {}),
        ("TriggerMessage", {"message": "Heartbeat", "connector": None}),
        ("GetConfiguration", {"keys": "HeartbeatInterval, NumberOfConnectors"}),
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
        ("ChangeAvailability", {"availability": "Operative", "connector": 0}),
        ("RemoteStartTransaction", {"account": "acc-carl", "connector": 1}),
    ):
        done = send(app, olga, action, **fields)
        assert f"{action} sent to PX-9" in json.dumps(done[f"{PREFIX}-feedback"]), action
    params = {r.action: json.loads(r.params) for r in rows(app)}
    assert params["GetConfiguration"] == {"key": ["HeartbeatInterval", "NumberOfConnectors"]}
    assert params["TriggerMessage"] == {"requested_message": "Heartbeat"}
    # The account picked in the form is the driver; who asked is still the operator.
    assert params["RemoteStartTransaction"] == {
        "account_id": "acc-carl", "connector_id": 1, "id_tag": "CARL-CARD"
    }  # fmt: skip
    assert {r.account_id for r in rows(app)} == {"acc-ops"}


@pytest.mark.parametrize(
    ("action", "fields", "words"),
    [
        ("ChangeConfiguration", {"key": "", "value": "60"}, "key: String should have at least 1"),
        ("GetConfiguration", {"keys": "K" * 51}, "each key has 1 to 50 characters"),
        ("UnlockConnector", {"connector": 0}, "connector_id: Input should be greater than"),
        ("RemoteStartTransaction", {"account": None}, "give id_tag or account_id"),
        ("RemoteStartTransaction", {"account": "acc-ops"}, "has no id tag"),
        ("RemoteStopTransaction", {"session": "s-nope"}, "is not in progress on PX-9"),
        ("Explode", {}, "Unknown action 'Explode'"),
        ("Reset", {"reset_type": "Gentle"}, "type: Input should be 'Soft' or 'Hard'"),
        ("ClearCache", {"charger": "NO-SUCH"}, "That charger no longer exists"),
        ("ClearCache", {"charger": {"id": CHARGER}}, "That charger no longer exists"),
    ],
)
def test_wrong_parameters_get_a_clear_message_and_no_row(
    app: Flask, action: str, fields: dict[str, Any], words: str
) -> None:
    olga = client_for(app, OPERATOR)
    for trigger in ("send", "confirm"):
        done = send(app, olga, action, trigger, **fields)
        assert words in json.dumps(done[f"{PREFIX}-feedback"]), (trigger, done)
        assert "Traceback" not in json.dumps(done)
    assert rows(app) == []


# --- the state and the logs -------------------------------------------------------------------


def test_the_state_in_words_until_it_ends_and_the_logs(app: Flask) -> None:
    olga = client_for(app, OPERATOR)
    command_id = send(app, olga, "UnlockConnector", "confirm", connector=1)[f"{PREFIX}-sent"][
        "data"
    ]
    state_key = key_for(app, f"{PREFIX}-state.children")
    state = {f"{PREFIX}-sent.data": command_id}
    waiting = answer(post(olga, body(app, state_key, state)))
    assert "Waiting for the charger" in json.dumps(waiting)
    assert f"{PREFIX}-poll-box" not in waiting  # the poll goes on
    with app.extensions["polaris_db"].session() as s:
        assert expire_commands(s, datetime.now(UTC) + timedelta(seconds=11)).offline == 1
    ended = answer(post(olga, body(app, state_key, state)))
    assert "The charger is not connected (offline)" in json.dumps(ended)
    assert ended[f"{PREFIX}-poll-box"]["children"] == []  # and ends with the command
    # Another charger's command is not shown on this page.
    elsewhere = {**state, "admin-charger-id.data": "PX-BUSY"}
    assert answer(post(olga, body(app, state_key, elsewhere)))[f"{PREFIX}-state"]["children"] == ""

    log = json.dumps(answer(post(olga, body(app, key_for(app, f"{PREFIX}-log.children")))))
    assert "UnlockConnector" in log and OPERATOR in log and "acc-ops" in log
    assert "connector_id=1" in log and "(offline)" in log

    fleet_key = key_for(app, f"{PREFIX}-fleet-log.children")
    fleet = answer(post(olga, body(app, fleet_key, {f"{PREFIX}-filter-status.value": "offline"})))
    assert "UnlockConnector" in json.dumps(fleet[f"{PREFIX}-fleet-log"])
    assert fleet[f"{PREFIX}-export"]["href"] == "/admin/ocpp/commands.csv?status=offline"
    assert fleet[f"{PREFIX}-fleet-note"]["children"] == "1 command, latest first."
    none = answer(post(olga, body(app, fleet_key, {f"{PREFIX}-filter-action.value": "Reset"})))
    assert "No commands yet" in json.dumps(none)
    bad = answer(post(olga, body(app, fleet_key, {f"{PREFIX}-filter-from.value": "soon"})))
    assert "from: a date like" in json.dumps(bad)


# --- the CSV export ---------------------------------------------------------------------------


def test_the_export_holds_exactly_the_filtered_rows(app: Flask) -> None:
    with app.extensions["polaris_db"].session() as s:
        for charger, action, params in (
            (CHARGER, "Reset", {"type": "Soft"}),
            (CHARGER, "ClearCache", {}),
            (FORMULA_CHARGER, "Reset", {"type": "Hard"}),
            ("PX-BUSY", "Reset", {"type": "Soft"}),
        ):
            request_command(s, charger, action, params, NOW, user_id=app.config["OPERATOR_ID"],
                            account_id="acc-ops")  # fmt: skip
        expire_commands(s, NOW + timedelta(seconds=11))
        request_command(s, CHARGER, "Reset", {"type": "Hard"}, NOW + timedelta(seconds=20))
    olga = client_for(app, OPERATOR)
    response = olga.get("/admin/ocpp/commands.csv?action=Reset&status=offline")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(r["charger_id"] for r in table) == ["'=SUM(A1)", "PX-9", "PX-BUSY"]
    assert {(r["action"], r["status"], r["user_email"], r["account_id"]) for r in table} == {
        ("Reset", "offline", OPERATOR, "acc-ops")
    }
    one = olga.get(f"/admin/ocpp/commands.csv?charger={CHARGER}&from=2000-01-01")
    assert [r["action"] for r in csv.DictReader(io.StringIO(one.get_data(as_text=True)))] == [
        "Reset", "ClearCache", "Reset"
    ]  # fmt: skip
    with app.extensions["polaris_db"].session() as s:
        assert s.scalar(select(func.count()).select_from(ChargerCommand)) == 5
    assert olga.get("/admin/ocpp/commands.csv?status=lost").status_code == 400


def test_the_export_refuses_customers_and_strangers(app: Flask) -> None:
    with app.extensions["polaris_db"].session() as s:
        request_command(s, CHARGER, "ClearCache", {}, NOW)
    refused = client_for(app, CUSTOMER).get("/admin/ocpp/commands.csv")
    assert refused.status_code == 403 and "ClearCache" not in refused.get_data(as_text=True)
    anonymous = client_for(app, None).get("/admin/ocpp/commands.csv")
    assert anonymous.status_code == 401 and "ClearCache" not in anonymous.get_data(as_text=True)
