"""The JSON API (``web.api``) over HTTP, on SQLite and PostgreSQL: bearer tokens with the
``commands`` scope only (never a cookie), the pages' rules for drivers, JSON errors with their
status, the rate limit, and the OpenAPI document checked by a spec validator. No OCPP server
runs: commands stay pending unless a test plays the server's part through the data layer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import select

from data.accounts.tokens import create_token
from data.core.db import Database
from data.core.models import ChargerCommand, CommandStatus, OcppTransaction, Role, Visibility
from data.ocpp.command_limits import COMMANDS_PER_MINUTE
from data.ocpp.commands import claim_commands, record_answer
from data.ocpp.driver_commands import NO_SESSION_HERE, NOT_AVAILABLE, NOT_VISIBLE, NOT_YOURS
from data.ocpp.messages import start_transaction
from tests.support.audit import CLI
from tests.support.databases import fresh_database
from tests.support.factories import (
    grant_access,
    make_charger,
    make_id_tag,
    make_session,
    report_connector,
)
from tests.support.web import AppFactory, add_person, client_for, dash_csrf

OLGA, ALICE, BOB, CAROL = (f"{n}@example.com" for n in ("olga", "alice", "bob", "carol"))
STARTED = datetime(2026, 12, 5, 8, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    module_app_factory: AppFactory,
) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp(f"api-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        application = module_app_factory(url, PROPAGATE_EXCEPTIONS=False)
        add_person(application, OLGA, ("acc-ops", Role.admin, None))
        add_person(application, ALICE, ("acc-alice", Role.customer, None))
        add_person(application, BOB, ("acc-bob", Role.customer, None))
        add_person(application, CAROL, ("acc-carol", Role.customer, None))
        db: Database = application.extensions["polaris_db"]
        seen = datetime.now(UTC)  # heard from: Online (for an hour), but for a session
        with db.session() as s:
            for charger_id in ("PUB-1", "PUB-2", "PUB-3", "PUB-4"):
                make_charger(s, charger_id=charger_id, last_seen_at=seen)
            make_charger(s, charger_id="OFF-1")  # never heard from: Offline
            make_charger(s, charger_id="RES-1", visibility=Visibility.restricted, last_seen_at=seen)
            make_charger(s, charger_id="RES-2", visibility=Visibility.restricted, last_seen_at=seen)
            grant_access(s, "acc-alice", "RES-2")
            # The connectors the chargers reported (a driver may name one of those only).
            for charger_id, connector in (("RES-2", 1), ("PUB-4", 1), ("PUB-4", 2)):
                report_connector(s, charger_id, connector, "Available", reported_at=seen)
            for account, tag in (("acc-alice", "TAG-ALICE"), ("acc-bob", "TAG-BOB")):
                make_id_tag(s, account, id_tag=tag)
            make_id_tag(s, "acc-carol", id_tag="TAG-CAROL")
            # Sessions in progress, each with the OCPP transaction that opened it.
            for n, (account, tag, charger, sid) in enumerate(
                [
                    ("acc-bob", "TAG-BOB", "PUB-1", "sess-bob"),
                    ("acc-alice", "TAG-ALICE", "PUB-2", "sess-alice"),
                ]
            ):
                make_session(s, account, charger, started_at=STARTED, session_id=sid)
                s.flush()
                s.add(
                    OcppTransaction(
                        session_id=sid,
                        charger_id=charger,
                        connector_id=1,
                        id_tag=tag,
                        meter_start_wh=Decimal(0),
                        meter_last_wh=Decimal(0),
                        started_at=STARTED + timedelta(seconds=n),
                    )
                )
        yield application
        db.engine.dispose()


def token(app: Flask, email: str, *scopes: str, account_id: str | None = None) -> str:
    with app.extensions["polaris_db"].session() as s:
        return create_token(
            s,
            email,
            datetime.now(UTC),
            account_id=account_id,
            scopes=scopes or ("commands",),
            actor=CLI,
        ).secret


def script(app: Flask) -> FlaskClient:
    """What curl is: no cookies kept."""
    return app.test_client(use_cookies=False)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def ask(
    app: Flask, secret: str, charger_id: str, action: str, params: dict[str, Any] | None = None
) -> Any:
    return script(app).post(
        f"/api/v1/chargers/{charger_id}/commands",
        json={"action": action, "params": params or {}},
        headers=bearer(secret),
    )


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]
    return str(body["error"])


def stored(app: Flask, command_id: int) -> ChargerCommand:
    with app.extensions["polaris_db"].session() as s:
        row = s.get(ChargerCommand, command_id)
        assert row is not None
        s.expunge(row)
        return row


# --- admins --------------------------------------------------------------------------------------


def test_an_admin_sends_a_reset_and_polls_it(app: Flask) -> None:
    secret = token(app, OLGA)
    response = ask(app, secret, "RES-1", "Reset", {"type": "Soft"})
    assert response.status_code == 202
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/commands/{body['id']}"
    assert set(body) == {
        "id",
        "charger_id",
        "action",
        "params",
        "status",
        "response",
        "requested_at",
        "answered_at",
        "session_id",
    }
    assert (body["charger_id"], body["action"], body["params"]) == (
        "RES-1",
        "Reset",
        {"type": "Soft"},
    )
    assert body["status"] == "pending" and body["response"] is None
    assert "Set-Cookie" not in response.headers
    row = stored(app, body["id"])
    assert (row.account_id, row.status) == ("acc-ops", CommandStatus.pending)

    polled = script(app).get(response.headers["Location"], headers=bearer(secret))
    assert polled.status_code == 200 and polled.get_json() == body

    # The OCPP server's part: claimed, sent, answered; the poll shows the answer.
    with app.extensions["polaris_db"].session() as s:
        (sent,) = claim_commands(s, ["RES-1"], "test", datetime.now(UTC))
        record_answer(s, sent.id, CommandStatus.accepted, {"status": "Accepted"}, datetime.now(UTC))
    answered = script(app).get(response.headers["Location"], headers=bearer(secret)).get_json()
    assert answered["status"] == "accepted" and answered["response"] == {"status": "Accepted"}
    assert answered["answered_at"] is not None


def test_bad_requests_get_json_errors_with_their_status(app: Flask) -> None:
    secret = token(app, OLGA)
    client = script(app)
    url = "/api/v1/chargers/PUB-3/commands"
    not_json = client.post(url, data="action=Reset", headers=bearer(secret))
    assert "JSON" in error_of(not_json, 415)
    broken = client.post(
        url, data="{not json", content_type="application/json", headers=bearer(secret)
    )
    assert "not valid JSON" in error_of(broken, 400)
    listed = client.post(url, json=["Reset"], headers=bearer(secret))
    assert "valid dictionary" in error_of(listed, 400)  # pydantic's words
    extra = client.post(url, json={"action": "Reset", "nonsense": 1}, headers=bearer(secret))
    assert "nonsense" in error_of(extra, 400)
    assert "type is required" in error_of(ask(app, secret, "PUB-3", "Reset"), 400)
    assert "'Soft' or 'Hard'" in error_of(
        ask(app, secret, "PUB-3", "Reset", {"type": "Sideways"}), 400
    )
    assert "Unknown action 'Reboot'" in error_of(ask(app, secret, "PUB-3", "Reboot"), 400)
    assert "no charger 'NOPE'" in error_of(ask(app, secret, "NOPE", "ClearCache"), 404)
    assert "no command 999999" in error_of(
        client.get("/api/v1/commands/999999", headers=bearer(secret)), 404
    )
    assert error_of(client.get("/api/v1/commands/abc", headers=bearer(secret)), 404)
    assert error_of(client.get("/api/v1/nothing-here", headers=bearer(secret)), 404)
    wrong_method = client.get(url, headers=bearer(secret))
    assert "use POST" in error_of(wrong_method, 405)
    assert wrong_method.headers["Allow"] == "POST"
    delete = client.delete("/api/v1/commands/1", headers=bearer(secret))
    assert error_of(delete, 405) and delete.headers["Allow"] == "GET"
    with app.extensions["polaris_db"].session() as s:
        # None of these wrote a command.
        assert (
            s.scalars(select(ChargerCommand).where(ChargerCommand.charger_id == "PUB-3")).all()
            == []
        )


# --- tokens --------------------------------------------------------------------------------------


def test_no_token_or_a_bad_one_gets_401_with_a_challenge(app: Flask) -> None:
    client = script(app)
    for headers, invalid in (
        ({}, False),
        ({"Authorization": "Basic b2xnYTpwYXNzd29yZA=="}, False),
        (bearer("not-a-token"), True),
        (bearer("pex_" + "x" * 43), True),
    ):
        for response in (
            client.post(
                "/api/v1/chargers/PUB-3/commands", json={"action": "ClearCache"}, headers=headers
            ),
            client.get("/api/v1/commands/1", headers=headers),
            client.get("/api/v1/nothing-here", headers=headers),  # no route, but no token
        ):
            error_of(response, 401)
            challenge = response.headers["WWW-Authenticate"]
            assert challenge.startswith("Bearer ")
            assert ('error="invalid_token"' in challenge) is invalid


def test_a_revoked_token_gets_401(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["create-token", OLGA, "--scope", "commands"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert ask(app, secret, "PUB-3", "ClearCache").status_code == 202
    token_id = created.stderr.split()[1]
    assert runner.invoke(args=["revoke-token", token_id]).exit_code == 0
    error_of(ask(app, secret, "PUB-3", "ClearCache"), 401)


def test_an_export_only_token_may_not_command(app: Flask) -> None:
    secret = token(app, OLGA, "export")
    refused = ask(app, secret, "PUB-3", "ClearCache")
    assert "commands scope" in error_of(refused, 403)
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    error_of(script(app).get("/api/v1/commands/1", headers=bearer(secret)), 403)
    both = token(app, OLGA, "export", "commands")
    assert ask(app, both, "PUB-3", "ClearCache").status_code == 202
    assert script(app).get("/export/plans.csv", headers=bearer(both)).status_code == 200


def test_a_session_cookie_is_never_enough(app: Flask) -> None:
    olga = client_for(app, OLGA)
    assert olga.get("/admin").status_code == 200  # signed in, with a cookie
    url = "/api/v1/chargers/PUB-3/commands"
    for headers in ({}, {"X-CSRFToken": dash_csrf(olga)}):
        response = olga.post(url, json={"action": "ClearCache"}, headers=headers)
        error_of(response, 401)
    error_of(olga.get("/api/v1/commands/1"), 401)
    # A form post from another site (the cookie rides along): no command either.
    form = olga.post(url, data={"action": "ClearCache"})
    assert form.status_code == 401


# --- drivers -------------------------------------------------------------------------------------


def test_a_driver_starts_charging_as_themselves(app: Flask) -> None:
    secret = token(app, ALICE)
    started = ask(app, secret, "RES-2", "RemoteStartTransaction", {"connector_id": 1})
    assert started.status_code == 202, started.get_data(as_text=True)
    body = started.get_json()
    assert body["params"] == {"account_id": "acc-alice", "connector_id": 1, "id_tag": "TAG-ALICE"}
    row = stored(app, body["id"])
    assert row.account_id == "acc-alice" and row.user_id is not None
    # Another account, a tag of her choosing: refused, whatever the tag.
    for params in ({"account_id": "acc-bob"}, {"id_tag": "TAG-BOB"}, {"id_tag": "TAG-ALICE"}):
        error_of(ask(app, secret, "PUB-3", "RemoteStartTransaction", params), 403)


def test_a_driver_may_not_use_a_charger_they_cannot_see(app: Flask) -> None:
    secret = token(app, ALICE)
    for charger in ("RES-1", "NO-SUCH-CHARGER"):
        message = error_of(ask(app, secret, charger, "RemoteStartTransaction"), 403)
        assert message == NOT_VISIBLE  # the dashboard's words; unknown and unseen alike


def test_a_driver_starts_only_an_online_charger_on_a_reported_connector(app: Flask) -> None:
    secret = token(app, BOB)
    offline = ask(app, secret, "OFF-1", "RemoteStartTransaction")
    assert error_of(offline, 409) == NOT_AVAILABLE  # the dashboard's words
    in_use = ask(app, secret, "PUB-2", "RemoteStartTransaction")  # Alice is charging there
    assert error_of(in_use, 409) == NOT_AVAILABLE
    for charger, connector in (("PUB-4", 3), ("PUB-3", 1)):
        unknown = ask(app, secret, charger, "RemoteStartTransaction", {"connector_id": connector})
        assert error_of(unknown, 409) == f"This charger has no connector {connector}."
    assert "connector_id" in error_of(
        ask(app, secret, "PUB-4", "RemoteStartTransaction", {"connector_id": "one"}), 400
    )
    with app.extensions["polaris_db"].session() as s:
        asked = s.scalars(select(ChargerCommand).where(ChargerCommand.account_id == "acc-bob"))
        assert asked.all() == []  # none written, none counted against Bob's few a minute
    # An admin's token is no driver: it may start charging on an Offline charger for an
    # account (the command ends offline if no server holds the charger).
    admin = ask(app, token(app, OLGA), "OFF-1", "RemoteStartTransaction", {"account_id": "acc-bob"})
    assert admin.status_code == 202 and admin.get_json()["params"]["id_tag"] == "TAG-BOB"


def test_a_driver_sends_no_operator_commands(app: Flask) -> None:
    secret = token(app, ALICE)
    for action, params in (
        ("Reset", {"type": "Hard"}),
        ("UnlockConnector", {"connector_id": 1}),
        ("ChangeConfiguration", {"key": "k", "value": "v"}),
    ):
        assert action in error_of(ask(app, secret, "PUB-2", action, params), 403)


def test_reservation_commands_are_refused_to_admins_and_drivers_alike(app: Flask) -> None:
    reserve_now = {"connector_id": 1, "expiry_date": "2026-12-05T10:00:00Z", "id_tag": "TAG-ALICE",
                   "reservation_id": 1}  # fmt: skip
    for secret in (token(app, OLGA), token(app, ALICE)):
        for action, params in (
            ("ReserveNow", reserve_now),
            ("CancelReservation", {"reservation_id": 1}),
        ):
            message = error_of(ask(app, secret, "PUB-2", action, params), 400)
            assert f"{action} is sent by Polaris for reservations only" in message
    with app.extensions["polaris_db"].session() as s:
        assert (
            s.scalars(
                select(ChargerCommand).where(
                    ChargerCommand.action.in_(["ReserveNow", "CancelReservation"])
                )
            ).all()
            == []
        )


def test_a_driver_stops_only_their_own_session(app: Flask) -> None:
    secret = token(app, ALICE)
    for charger, params in (
        ("PUB-1", {"session_id": "sess-bob"}),  # Bob's, on its charger
        ("PUB-2", {"session_id": "sess-bob"}),  # Bob's, named on Alice's charger
        ("PUB-1", {"session_id": "sess-alice"}),  # hers, named on another charger
        ("PUB-2", {"session_id": "no-such-session"}),
    ):
        assert error_of(ask(app, secret, charger, "RemoteStopTransaction", params), 403) == (
            NOT_YOURS
        )
    by_transaction = ask(app, secret, "PUB-1", "RemoteStopTransaction", {"transaction_id": 1})
    assert "session_id" in error_of(by_transaction, 403)  # an OCPP transaction: whose?
    assert error_of(ask(app, secret, "PUB-1", "RemoteStopTransaction"), 409) == NO_SESSION_HERE
    stopped = ask(app, secret, "PUB-2", "RemoteStopTransaction", {"session_id": "sess-alice"})
    assert stopped.status_code == 202, stopped.get_data(as_text=True)
    assert stored(app, stopped.get_json()["id"]).account_id == "acc-alice"
    # No session named: her own in progress on that charger.
    unnamed = ask(app, secret, "PUB-2", "RemoteStopTransaction")
    assert unnamed.status_code == 202, unnamed.get_data(as_text=True)
    assert unnamed.get_json()["params"]["session_id"] == "sess-alice"


def test_a_driver_reads_only_their_own_commands(app: Flask) -> None:
    admin = token(app, OLGA)
    alice, bob = token(app, ALICE), token(app, BOB)
    others = ask(app, admin, "PUB-3", "ClearCache").get_json()["id"]
    bobs = ask(app, bob, "PUB-1", "RemoteStopTransaction", {"session_id": "sess-bob"})
    assert bobs.status_code == 202
    client = script(app)
    for command_id in (others, bobs.get_json()["id"]):
        missing = client.get(f"/api/v1/commands/{command_id}", headers=bearer(alice))
        assert error_of(missing, 404) == f"There is no command {command_id}."
    own = client.get(bobs.headers["Location"], headers=bearer(bob))
    assert own.status_code == 200 and own.get_json()["params"]["session_id"] == "sess-bob"
    # The admin reads everyone's.
    assert client.get(bobs.headers["Location"], headers=bearer(admin)).status_code == 200


def test_a_started_session_shows_in_the_command(app: Flask) -> None:
    secret = token(app, ALICE)
    started = ask(app, secret, "PUB-4", "RemoteStartTransaction", {"connector_id": 2})
    assert started.status_code == 202
    location = started.headers["Location"]
    client = script(app)
    db: Database = app.extensions["polaris_db"]
    with db.session() as s:
        (sent,) = claim_commands(s, ["PUB-4"], "test", datetime.now(UTC))
        assert sent.payload == {"connector_id": 2, "id_tag": "TAG-ALICE"}
        record_answer(s, sent.id, CommandStatus.accepted, {"status": "Accepted"}, datetime.now(UTC))
    accepted = client.get(location, headers=bearer(secret)).get_json()
    assert accepted["status"] == "accepted" and accepted["session_id"] is None  # not yet
    with db.session() as s:
        result = start_transaction(
            s, "PUB-4", 2, "TAG-ALICE", 1000, datetime.now(UTC).isoformat(), datetime.now(UTC)
        )
    assert result.session_id is not None
    shown = client.get(location, headers=bearer(secret)).get_json()
    assert shown["session_id"] == result.session_id


def test_a_driver_gets_a_few_commands_a_minute(app: Flask) -> None:
    secret = token(app, CAROL)
    for _ in range(COMMANDS_PER_MINUTE):
        assert ask(app, secret, "PUB-3", "RemoteStartTransaction").status_code == 202
    refused = ask(app, secret, "PUB-3", "RemoteStartTransaction")
    assert "Too many commands" in error_of(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # An admin is not limited.
    admin = token(app, OLGA)
    for _ in range(COMMANDS_PER_MINUTE + 1):
        assert ask(app, admin, "PUB-3", "ClearCache").status_code == 202


# --- OpenAPI -------------------------------------------------------------------------------------


def test_the_openapi_document_is_valid_and_covers_every_route(app: Flask) -> None:
    response = script(app).get("/api/v1/openapi.json")  # no token needed
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    validate(document)  # raises on an invalid OpenAPI document
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    routes = {
        (
            rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}"),
            method.lower(),
        )
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.not_found"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    schemas = document["components"]["schemas"]
    assert {"CommandOut", "ErrorOut", "ResetCommand", "ResetParams"} <= set(schemas)
    # Reservations make these; the API offers neither.
    assert not {"ReserveNowCommand", "CancelReservationCommand"} & set(schemas)
    offered = document["paths"]["/api/v1/chargers/{charger_id}/commands"]["post"]["requestBody"]
    assert "ReserveNowCommand" not in json.dumps(offered)
    assert set(schemas["CommandOut"]["properties"]) >= {"id", "status", "session_id"}
    ask_command = document["paths"]["/api/v1/chargers/{charger_id}/commands"]["post"]
    assert {"202", "403", "409", "429"} <= set(ask_command["responses"])
    assert "Online" in ask_command["description"]  # the driver's rules, documented


def test_a_broken_document_would_fail_the_check() -> None:
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    from web.api import openapi_document

    document = openapi_document()
    validate(document)
    del document["info"]["title"]
    with pytest.raises(OpenAPIValidationError):
        validate(document)
