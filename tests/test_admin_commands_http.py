"""Commands to chargers from the operator's pages over HTTP (the charger page's Commands and its
log, /admin/ocpp's fleet log, the CSV export): anonymous 401, customer 403; the command row
records who asked from the server session; a command that may interrupt a driver asks first
(naming a session in progress); wrong parameters get a clear message and no row; the state in
words until it ends; the export holds exactly the filtered rows, spreadsheet-safe, streamed in
pieces from a cursor (SQLite and PostgreSQL), with a plain-text 400 for a wrong filter."""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import Forbidden, Unauthorized

import web.commands_csv
from components.commands import NO_SESSION, commands_form, session_options
from data.core.db import Database
from data.core.models import ChargerCommand, CommandStatus, IdTag, Reservation, Role
from data.exchange.export_stream import CHUNK_BYTES
from data.ocpp.command_log import InProgress
from data.ocpp.commands import ASKABLE_ACTIONS, expire_commands, request_command
from data.ocpp.reservations import schedule_reservations
from tests.support.databases import fresh_database
from tests.support.factories import (
    make_charger,
    make_operator,
    make_reservation,
    make_session,
)
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
        # A pattern-matched input (the command's poll, ALL) matches nothing here: an empty list.
        "inputs": [
            [] if i["id"].startswith("{") else dep(i["id"], i["property"]) for i in cb["inputs"]
        ],
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
    assert done[f"{PREFIX}-poll-box"]["children"]["props"]["id"] == {
        "type": f"{PREFIX}-poll",
        "command": "open",
    }
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
        ("RemoteStopTransaction", {"session": ""}, "No session in progress on this charger: "),
        ("Explode", {}, "Unknown action 'Explode'"),
        ("ReserveNow", {"connector": 1}, "ReserveNow is sent by Polaris for reservations only"),
        ("CancelReservation", {}, "make or cancel the reservation instead"),
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


def test_reservations_show_in_the_logs_as_polaris_and_are_not_in_the_form(app: Flask) -> None:
    form = json.dumps(commands_form(), cls=PlotlyJSONEncoder)
    for action in ASKABLE_ACTIONS:
        assert f'"value": "{action}"' in form
    assert '"value": "ReserveNow"' not in form and '"value": "CancelReservation"' not in form
    db = app.extensions["polaris_db"]
    with db.session() as s:
        reservation = make_reservation(
            s, "acc-carl", CHARGER, starts_at=NOW + timedelta(minutes=5),
            ends_at=NOW + timedelta(hours=1),
        )  # fmt: skip
        s.flush()
        (asked,) = schedule_reservations(s, NOW, timedelta(minutes=10), [CHARGER])
    try:
        olga = client_for(app, OPERATOR)
        log = json.dumps(answer(post(olga, body(app, key_for(app, f"{PREFIX}-log.children")))))
        assert "ReserveNow" in log and f"Polaris (reservation {reservation.id})" in log
        fleet_key = key_for(app, f"{PREFIX}-fleet-log.children")
        fleet = answer(
            post(olga, body(app, fleet_key, {f"{PREFIX}-filter-action.value": "ReserveNow"}))
        )
        assert f"Polaris (reservation {reservation.id})" in json.dumps(fleet)
        assert fleet[f"{PREFIX}-fleet-note"]["children"] == "1 command, latest first."
        exported = olga.get("/admin/ocpp/commands.csv?action=ReserveNow")
        (line,) = csv.DictReader(io.StringIO(exported.get_data(as_text=True)))
        assert (line["user_email"], line["account_id"], line["reservation_id"]) == (
            "", "", reservation.id,
        )  # fmt: skip
    finally:
        with db.session() as s:
            s.execute(delete(Reservation).where(Reservation.id == reservation.id))


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


# --- the CSV export, streamed: the same rows on SQLite and PostgreSQL ---------------------------

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
BULK = 2_000  # older commands on one charger: the file is several pieces long
HEADER_LINE = (
    "command_id,charger_id,action,params,status,response,requested_at,answered_at,user_email,"
    "account_id,reservation_id\r\n"
)


@dataclass(frozen=True)
class Stored:
    name: str
    charger_id: str
    action: str
    params: dict[str, Any]
    status: CommandStatus
    response: dict[str, Any] | None
    requested_at: datetime
    answered_at: datetime | None
    by_olga: bool
    id: int = 0


NAMED = [
    Stored("soft", CHARGER, "Reset", {"type": "Soft"}, CommandStatus.accepted,
           {"status": "Accepted"}, T0 - timedelta(days=2), T0 - timedelta(days=2, seconds=-2),
           True),
    Stored("clear", CHARGER, "ClearCache", {}, CommandStatus.offline, None,
           T0 - timedelta(days=1), T0 - timedelta(days=1, seconds=-10), False),
    Stored("formula", FORMULA_CHARGER, "Reset", {"type": "Hard"}, CommandStatus.offline, None,
           T0, T0 + timedelta(seconds=11), True),
    Stored("busy", "PX-BUSY", "Reset", {"type": "Soft"}, CommandStatus.rejected,
           {"status": "Rejected"}, T0 + timedelta(hours=1), T0 + timedelta(hours=1, seconds=1),
           True),
    # 22:30 UTC: still the 5th in Berlin. The value starts like a formula; the JSON does not.
    Stored("config", CHARGER, "ChangeConfiguration", {"key": "=cmd", "value": "60"},
           CommandStatus.pending, None, T0 + timedelta(hours=13, minutes=30), None, True),
    # 00:00 UTC on the 6th: 01:00 in Berlin.
    Stored("unlock", CHARGER, "UnlockConnector", {"connector_id": 1}, CommandStatus.sent, None,
           T0 + timedelta(hours=15), None, False),
    # The same instant as "formula", stored after it: a higher id comes first.
    Stored("hard", CHARGER, "Reset", {"type": "Hard"}, CommandStatus.pending, None, T0, None,
           True),
]  # fmt: skip


@dataclass(frozen=True)
class ExportSite:
    db: Database
    olga: Any  # FlaskClient
    app: Flask
    stored: list[Stored]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def export_site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    module_app_factory: AppFactory,
) -> Iterator[ExportSite]:
    directory = tmp_path_factory.mktemp(f"commands-csv-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        app = module_app_factory(url, PROPAGATE_EXCEPTIONS=False)
        olga_id = add_person(app, OPERATOR, ("acc-ops", Role.admin, "Operations"))
        add_person(app, CUSTOMER, ("acc-carl", Role.customer, "Van"))
        db: Database = app.extensions["polaris_db"]
        bulk = [
            Stored(f"bulk-{i}", "PX-BULK", "ClearCache", {}, CommandStatus.timeout, None,
                   datetime(2025, 6, 1, tzinfo=UTC) + timedelta(minutes=i),
                   datetime(2025, 6, 1, 0, 0, 30, tzinfo=UTC) + timedelta(minutes=i), False)
            for i in range(BULK)
        ]  # fmt: skip
        stored = []
        with db.session() as s:
            make_operator(s, timezone="Europe/Berlin")
            for charger in (CHARGER, FORMULA_CHARGER, "PX-BUSY", "PX-BULK"):
                make_charger(s, charger_id=charger)
            s.flush()
            for row in [*bulk, *NAMED]:
                command_id = s.scalar(
                    insert(ChargerCommand)
                    .values(
                        charger_id=row.charger_id,
                        action=row.action,
                        params=json.dumps(row.params, sort_keys=True),
                        status=row.status,
                        response=None if row.response is None else json.dumps(row.response),
                        requested_at=row.requested_at,
                        answered_at=row.answered_at,
                        user_id=olga_id if row.by_olga else None,
                        account_id="acc-ops" if row.by_olga else None,
                    )
                    .returning(ChargerCommand.id)
                )
                stored.append(Stored(**{**row.__dict__, "id": command_id}))
        yield ExportSite(db, client_for(app, OPERATOR), app, stored)


def expected_row(row: Stored) -> dict[str, str]:
    def iso(value: datetime | None) -> str:
        return "" if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "command_id": str(row.id),
        "charger_id": "'=SUM(A1)" if row.charger_id == FORMULA_CHARGER else row.charger_id,
        "action": row.action,
        "params": json.dumps(row.params, sort_keys=True),
        "status": row.status.value,
        "response": "" if row.response is None else json.dumps(row.response, sort_keys=True),
        "requested_at": iso(row.requested_at),
        "answered_at": iso(row.answered_at),
        "user_email": OPERATOR if row.by_olga else "",
        "account_id": "acc-ops" if row.by_olga else "",
        "reservation_id": "",
    }


def berlin_day(row: Stored) -> str:
    return row.requested_at.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()


FILTERS: list[tuple[str, Callable[[Stored], bool]]] = [
    ("", lambda r: True),
    (f"charger={CHARGER}", lambda r: r.charger_id == CHARGER),
    ("charger=%3DSUM(A1)", lambda r: r.charger_id == FORMULA_CHARGER),
    ("action=Reset&status=offline", lambda r: r.action == "Reset" and r.status == "offline"),
    ("status=pending", lambda r: r.status == "pending"),
    ("from=2026-12-05&to=2026-12-05", lambda r: berlin_day(r) == "2026-12-05"),
    ("to=2026-12-04", lambda r: berlin_day(r) <= "2026-12-04"),
    ("from=2026-01-01&charger=PX-9&action=Reset", lambda r: r.charger_id == CHARGER
     and r.action == "Reset" and r.requested_at.year == 2026),
    ("charger=PX-BULK&to=2025-06-01", lambda r: r.charger_id == "PX-BULK"
     and berlin_day(r) <= "2025-06-01"),
    ("charger=NOPE", lambda r: False),
]  # fmt: skip


@pytest.mark.parametrize(("query", "keep"), FILTERS, ids=[q or "all" for q, _ in FILTERS])
def test_the_streamed_export_holds_exactly_the_filtered_rows_newest_first(
    export_site: ExportSite, query: str, keep: Callable[[Stored], bool]
) -> None:
    response = export_site.olga.get(f"/admin/ocpp/commands.csv?{query}")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="polaris-commands-'
    )
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.startswith(HEADER_LINE)
    wanted = sorted(
        (r for r in export_site.stored if keep(r)),
        key=lambda r: (r.requested_at, r.id),
        reverse=True,
    )
    assert list(csv.DictReader(io.StringIO(text))) == [expected_row(r) for r in wanted]
    assert text.count("\r\n") == len(wanted) + 1  # CRLF line ends, one line a command


def test_the_export_s_text_cell_by_cell(export_site: ExportSite) -> None:
    by_name = {r.name: r for r in export_site.stored}
    text = export_site.olga.get("/admin/ocpp/commands.csv?charger=PX-BUSY").get_data(as_text=True)
    assert text == HEADER_LINE + (
        f'{by_name["busy"].id},PX-BUSY,Reset,"{{""type"": ""Soft""}}",rejected,'
        '"{""status"": ""Rejected""}",2026-12-05T10:00:00Z,2026-12-05T10:00:01Z,'
        f"{OPERATOR},acc-ops,\r\n"
    )
    lines = export_site.olga.get("/admin/ocpp/commands.csv?status=pending").get_data(as_text=True)
    # A formula in the JSON is inside it, so the cell starts with "{" and needs no quote mark.
    assert '"{""key"": ""=cmd"", ""value"": ""60""}"' in lines


def test_the_export_is_read_lazily_in_pieces_and_gives_its_connection_back(
    export_site: ExportSite,
) -> None:
    db = export_site.db
    response = export_site.olga.get("/admin/ocpp/commands.csv", buffered=False)
    assert response.status_code == 200 and response.is_streamed
    pieces = iter(response.response)
    first = next(pieces)
    assert first.startswith(HEADER_LINE.encode()) and len(first) < 2 * CHUNK_BYTES
    if db.dialect == "postgresql":  # the cursor is still open: the rest is not read yet
        assert db.engine.pool.checkedout() == 1
    rest = list(pieces)
    assert len(rest) >= 2 and max(len(p) for p in rest) < 2 * CHUNK_BYTES
    assert b"".join([first, *rest]).count(b"\r\n") == len(export_site.stored) + 1
    response.close()
    assert db.engine.pool.checkedout() == 0

    early = export_site.olga.get("/admin/ocpp/commands.csv", buffered=False)
    next(iter(early.response))
    early.close()  # what the WSGI server does when the client goes away mid-file
    assert db.engine.pool.checkedout() == 0
    assert export_site.olga.get("/admin/ocpp/commands.csv?charger=NOPE").status_code == 200


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status=lost", "status: one of pending, sent, accepted, rejected, failed, timeout, "
                        "offline"),
        ("action=Explode", "action: one of "),
        ("from=soon", "from: a date like 2026-12-05, not 'soon'"),
        ("from=2026-12-06&to=2026-12-05", "from: the first day comes after the last one"),
        ("status=offline&status=pending", "status: give one value as text"),
        ("charger=" + "X" * 65, "charger: at most 64 characters"),
    ],
)  # fmt: skip
def test_a_wrong_filter_gets_a_plain_400_saying_what_is_wrong(
    export_site: ExportSite, query: str, words: str
) -> None:
    response = export_site.olga.get(f"/admin/ocpp/commands.csv?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response.headers
    text = response.get_data(as_text=True)
    assert text.startswith(words) and "command_id" not in text


def test_a_database_error_before_the_first_byte_is_a_proper_error(
    export_site: ExportSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> Iterator[object]:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        yield  # a generator, like the real one

    monkeypatch.setattr(web.commands_csv, "iter_command_log_rows", broken)
    response = export_site.olga.get("/admin/ocpp/commands.csv")
    assert response.status_code == 503
    assert "command_id" not in response.get_data(as_text=True)
    assert export_site.db.engine.pool.checkedout() == 0


def test_the_streamed_export_refuses_customers_and_strangers(export_site: ExportSite) -> None:
    refused = client_for(export_site.app, CUSTOMER).get("/admin/ocpp/commands.csv")
    assert refused.status_code == 403 and "ClearCache" not in refused.get_data(as_text=True)
    anonymous = client_for(export_site.app, None).get("/admin/ocpp/commands.csv")
    assert anonymous.status_code == 401 and "ClearCache" not in anonymous.get_data(as_text=True)


def test_the_session_choice_lists_only_sessions_remote_stop_can_end() -> None:
    open_here = InProgress("S-1", "acc-1", 2, remote_stoppable=True)
    imported = InProgress("S-2", "acc-2", None, remote_stoppable=False)  # no OCPP transaction
    assert session_options([open_here, imported]) == [
        {"label": "S-1 · acc-1 · connector 2", "value": "S-1"}
    ]
    # None to stop: no option at all, so the select shows its placeholder in words.
    assert session_options([imported]) == []
    assert NO_SESSION in json.dumps(commands_form(), cls=PlotlyJSONEncoder)
