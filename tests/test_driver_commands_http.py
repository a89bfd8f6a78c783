"""A driver's Start and Stop charging over HTTP, as an attacker would call them: anonymous gets
nothing; a driver starts only chargers the account may see (and Online), on a connector only
one the charger reported, stops only the account's own session whatever the browser sends, and
is held to a few commands a minute; the command's account and user come from the server-side
session."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from components.dashboard import CONNECTOR_TYPE, START_TYPE
from components.shell import COMMAND_STORE_ID, STOP_CONFIRM_ID, WAITING_TEXT
from data.core.models import (
    ChargerCommand,
    CommandStatus,
    OcppTransaction,
    Role,
    Visibility,
)
from data.ocpp import commands
from data.ocpp.command_limits import COMMANDS_PER_MINUTE
from data.ocpp.driver_commands import NO_ID_TAG, NOT_AVAILABLE, NOT_VISIBLE
from tests.support.callbacks import callback_body, callback_key, post
from tests.support.factories import (
    grant_access,
    make_charger,
    make_id_tag,
    make_operator,
    make_session,
    report_connector,
)
from tests.support.web import AppFactory, add_person, client_for

ASK = "..driver-command.data...driver-command-poll.disabled.."
FOLLOW = "..driver-command.data...driver-command-poll.disabled...refresh-interval.n_intervals.."
NOW = datetime.now(UTC)


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    app = app_factory()
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    add_person(app, "tagless@example.com", ("acc-tagless", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_charger(s, charger_id="c-street", friendly_name="Street", last_seen_at=NOW)
        make_charger(s, charger_id="c-dark", friendly_name="Dark")  # Offline
        make_charger(
            s,
            charger_id="c-bob-depot",
            friendly_name="Bob Depot",
            visibility=Visibility.restricted,
            last_seen_at=NOW,
        )
        make_charger(s, charger_id="c-bob-home", friendly_name="Bob Home", last_seen_at=NOW)
        grant_access(s, "acc-bob", "c-bob-depot")
        make_charger(s, charger_id="c-twin", friendly_name="Twin", last_seen_at=NOW)
        report_connector(s, "c-twin", 1, "Available", reported_at=NOW)
        report_connector(s, "c-twin", 2, "Preparing", reported_at=NOW)
        make_id_tag(s, "acc-alice", id_tag="ALICE")
        make_id_tag(s, "acc-bob", id_tag="BOB")
    return app


def bob_charging(app: Flask) -> None:
    """Bob's session in progress on c-bob-home, reported over OCPP (transaction 77)."""
    with app.extensions["polaris_db"].session() as s:
        make_session(
            s, "acc-bob", "c-bob-home", started_at=NOW - timedelta(minutes=5), session_id="s-bob"
        )
        s.add(
            OcppTransaction(
                id=77, session_id="s-bob", charger_id="c-bob-home", connector_id=1, id_tag="BOB",
                meter_start_wh=0, meter_last_wh=0, started_at=NOW - timedelta(minutes=5),
            )
        )  # fmt: skip


def ask_body(
    app: Flask,
    *,
    start: str | None = None,
    stop: bool = False,
    connectors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The renderer's request when a card's Start (on ``start``) or the banner's confirmed Stop
    was pressed; ``connectors``: the value of each card's choice of connector on the page."""
    body = callback_body(app, callback_key(app, ASK))
    cards = [start] if start else []
    body["inputs"] = [
        [
            {"id": {"type": START_TYPE, "charger": c}, "property": "n_clicks", "value": 1}
            for c in cards
        ],
        {"id": STOP_CONFIRM_ID, "property": "submit_n_clicks", "value": 1 if stop else None},
    ]
    body["state"] = [
        [
            {"id": {"type": CONNECTOR_TYPE, "charger": c}, "property": "value", "value": v}
            for c, v in (connectors or {}).items()
        ]
    ]
    if start:
        pressed = json.dumps({"charger": start, "type": START_TYPE}, separators=(",", ":"))
        body["changedPropIds"] = [f"{pressed}.n_clicks"]
    else:
        body["changedPropIds"] = [f"{STOP_CONFIRM_ID}.submit_n_clicks"]
    return body


def store_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"][COMMAND_STORE_ID]["data"]


def command_rows(app: Flask) -> list[ChargerCommand]:
    with app.extensions["polaris_db"].session() as s:
        rows = list(s.scalars(select(ChargerCommand).order_by(ChargerCommand.id)))
        s.expunge_all()
        return rows


def user_id_of(app: Flask, email: str) -> int:
    from data.core.models import User

    with app.extensions["polaris_db"].session() as s:
        user_id = s.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        return user_id


def test_anonymous_gets_nothing_and_no_row(app: Flask) -> None:
    anonymous = client_for(app, None)
    for body in (ask_body(app, start="c-street"), ask_body(app, stop=True)):
        response = post(anonymous, body, csrf=False)
        assert response.status_code in (401, 403), response.status_code
    assert command_rows(app) == []


def test_start_sends_the_drivers_own_tag_with_who_asked_from_the_session(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    body = ask_body(app, start="c-street")
    # Forged: who asks, in the only values the request carries (Dash refuses any other entry).
    body["inputs"][0][0]["value"] = {"account_id": "acc-bob", "id_tag": "BOB", "user_id": 2}
    store = store_of(post(alice, body))
    assert (store["kind"], store["state"], store["message"]) == ("start", "waiting", WAITING_TEXT)
    (row,) = command_rows(app)
    assert (row.charger_id, row.action, row.account_id) == (
        "c-street",
        "RemoteStartTransaction",
        "acc-alice",
    )
    assert row.user_id == user_id_of(app, "alice@example.com")
    assert json.loads(row.params)["id_tag"] == "ALICE"
    assert store["id"] == row.id


@pytest.mark.parametrize(
    ("charger_id", "message"),
    [
        ("c-bob-depot", NOT_VISIBLE),
        ("c-nowhere", NOT_VISIBLE),  # unknown: the same words
        ("c-dark", NOT_AVAILABLE),  # Offline
        ("x" * 500, None),
    ],
)
def test_a_driver_cannot_start_a_charger_it_may_not_see_or_that_is_not_online(
    app: Flask, charger_id: str, message: str | None
) -> None:
    alice = client_for(app, "alice@example.com")
    response = post(alice, ask_body(app, start=charger_id))
    if message is not None:
        store = store_of(response)
        assert (store["state"], store["message"]) == ("refused", message)
        assert "Bob" not in response.get_data(as_text=True)
    else:
        assert response.status_code == 204  # an id no charger can have: nothing asked
    assert command_rows(app) == []


def test_start_on_the_connector_chosen_on_the_pressed_card(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    on_two = ask_body(app, start="c-twin", connectors={"c-twin": "2"})
    assert store_of(post(alice, on_two))["state"] == "waiting"
    # Another card's choice is not this card's: c-street has none, its charger chooses.
    other = ask_body(app, start="c-street", connectors={"c-twin": "1"})
    assert store_of(post(alice, other))["state"] == "waiting"
    first, second = command_rows(app)
    assert (first.charger_id, json.loads(first.params)) == (
        "c-twin",
        {"account_id": "acc-alice", "connector_id": 2, "id_tag": "ALICE"},
    )
    assert (second.charger_id, json.loads(second.params)) == (
        "c-street",
        {"account_id": "acc-alice", "id_tag": "ALICE"},
    )


@pytest.mark.parametrize(
    ("charger_id", "value", "message"),
    [
        ("c-twin", "7", "This charger has no connector 7."),  # never reported
        ("c-twin", "0", "This charger has no connector 0."),
        ("c-street", "1", "This charger has no connector 1."),  # reported none
        ("c-twin", "1; DROP TABLE", None),  # no select holds that: nothing asked
        ("c-twin", 2, None),
        ("c-twin", "-1", None),
    ],
)
def test_a_forged_connector_is_refused(
    app: Flask, charger_id: str, value: Any, message: str | None
) -> None:
    alice = client_for(app, "alice@example.com")
    response = post(alice, ask_body(app, start=charger_id, connectors={charger_id: value}))
    if message is None:
        assert response.status_code == 204
    else:
        assert (store_of(response)["state"], store_of(response)["message"]) == ("refused", message)
    assert command_rows(app) == []


def test_an_account_without_an_id_tag_is_told_so(app: Flask) -> None:
    tagless = client_for(app, "tagless@example.com")
    store = store_of(post(tagless, ask_body(app, start="c-street")))
    assert (store["state"], store["message"]) == ("refused", NO_ID_TAG)
    assert command_rows(app) == []


def test_stop_never_stops_another_accounts_session(app: Flask) -> None:
    bob_charging(app)
    alice = client_for(app, "alice@example.com")
    # Forged: Bob's charger as the pressed card and Bob's session everywhere a value goes.
    body = ask_body(app, stop=True)
    body["inputs"][0] = [
        {"id": {"type": START_TYPE, "charger": "c-bob-home"}, "property": "n_clicks", "value": None}
    ]
    body["inputs"][1]["value"] = {"session_id": "s-bob", "charger_id": "c-bob-home"}
    store = store_of(post(alice, body))
    assert (store["kind"], store["state"]) == ("stop", "refused")
    assert store["message"] == "You have no charging session in progress."
    assert command_rows(app) == []
    # Bob himself stops his own session: the session is read on the server.
    bob = client_for(app, "bob@example.com")
    store = store_of(post(bob, ask_body(app, stop=True)))
    assert (store["kind"], store["state"], store["message"]) == ("stop", "waiting", "Stopping…")
    (row,) = command_rows(app)
    assert (row.action, row.charger_id, row.account_id) == (
        "RemoteStopTransaction",
        "c-bob-home",
        "acc-bob",
    )
    assert json.loads(row.params) == {"session_id": "s-bob", "transaction_id": 77}
    assert row.user_id == user_id_of(app, "bob@example.com")


def test_the_rate_limit_says_when_and_writes_no_row(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    for _ in range(COMMANDS_PER_MINUTE):
        assert store_of(post(alice, ask_body(app, start="c-street")))["state"] == "waiting"
    store = store_of(post(alice, ask_body(app, start="c-street")))
    assert store["state"] == "refused"
    assert store["message"].startswith("Too many requests — try again in ")
    assert store["message"].endswith(" s")
    assert len(command_rows(app)) == COMMANDS_PER_MINUTE
    # Bob is not held up by Alice's presses.
    bob = client_for(app, "bob@example.com")
    assert store_of(post(bob, ask_body(app, start="c-street")))["state"] == "waiting"


def follow_body(app: Flask, command: Any, ticks: int = 4) -> dict[str, Any]:
    body = callback_body(app, callback_key(app, FOLLOW))
    body["inputs"] = [{"id": "driver-command-poll", "property": "n_intervals", "value": 3}]
    body["state"] = [
        {"id": COMMAND_STORE_ID, "property": "data", "value": command},
        {"id": "refresh-interval", "property": "n_intervals", "value": ticks},
    ]
    body["changedPropIds"] = ["driver-command-poll.n_intervals"]
    return body


def test_following_a_command_waits_then_says_the_refusal_in_words(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    waiting = store_of(post(alice, ask_body(app, start="c-street")))
    assert post(alice, follow_body(app, waiting)).status_code == 204  # open: nothing changed
    with app.extensions["polaris_db"].session() as s:
        commands.claim_commands(s, ["c-street"], "test", NOW)
        commands.record_answer(
            s, waiting["id"], CommandStatus.rejected, {"status": "Rejected"}, NOW
        )
    response = post(alice, follow_body(app, waiting))
    answer = response.get_json()["response"]
    assert answer[COMMAND_STORE_ID]["data"]["message"] == "The charger refused to start."
    assert answer["driver-command-poll"]["disabled"] is True
    assert answer["refresh-interval"]["n_intervals"] == 5  # the banner and pills at once


def test_following_another_accounts_command_says_nothing_about_it(app: Flask) -> None:
    bob = client_for(app, "bob@example.com")
    bobs = store_of(post(bob, ask_body(app, start="c-bob-depot")))
    alice = client_for(app, "alice@example.com")
    forged = dict(bobs, charger="c-street")
    response = post(alice, follow_body(app, forged))
    text = response.get_data(as_text=True)
    assert "c-bob-depot" not in text and "Bob" not in text
    assert response.get_json()["response"][COMMAND_STORE_ID]["data"]["state"] == "refused"
    with app.extensions["polaris_db"].session() as s:
        count = s.scalar(select(func.count()).select_from(ChargerCommand))
    assert count == 1
