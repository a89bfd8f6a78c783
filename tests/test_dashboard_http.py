"""The dashboard's callbacks as an attacker would call them: whatever the browser sends, a
customer gets only the signed-in account's data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from components.dashboard import (
    PERIOD_STORE_ID,
    STATUS_DATA_ID,
    STATUS_SHOWN_ID,
)
from components.shell import MENU_LOAD_ID
from data.core.models import Role, Visibility
from tests.support.callbacks import RENDER_OUTPUTS
from tests.support.factories import grant_access, make_charger, make_operator, make_session
from tests.support.web import AppFactory, add_person, call_callback, found_secrets, sign_in

NOW = datetime.now(UTC)


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    app = app_factory()
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        street = make_charger(s, charger_id="c-street", friendly_name="Street", last_seen_at=NOW)
        alice_depot = make_charger(
            s,
            charger_id="c-alice-depot",
            friendly_name="Alice Depot",
            visibility=Visibility.restricted,
            last_seen_at=NOW,
        )
        bob_depot = make_charger(
            s,
            charger_id="c-bob-depot",
            friendly_name="Bob Depot",
            visibility=Visibility.restricted,
            last_seen_at=NOW,
        )
        grant_access(s, "acc-alice", alice_depot)
        grant_access(s, "acc-bob", bob_depot)
        start = NOW - timedelta(minutes=30)
        make_session(
            s,
            "acc-alice",
            street,
            started_at=start - timedelta(days=1),
            ended_at=start - timedelta(hours=23),
            energy_kwh="11.1",
        )
        make_session(s, "acc-bob", bob_depot, started_at=start, energy_kwh="77.7")
    return app


@pytest.fixture
def alice(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for("alice@example.com")


def render(client, store_value):
    output = "...".join(f"{i}.{p}" for i, p in RENDER_OUTPUTS)
    return call_callback(
        client,
        f"..{output}..",
        [{"id": PERIOD_STORE_ID, "property": "data", "value": store_value}],
        outputs=[{"id": i, "property": p} for i, p in RENDER_OUTPUTS],
    )


@pytest.mark.parametrize(
    "forged",
    [
        "current",
        "acc-bob",
        {"account_id": "acc-bob"},
        ["year", "acc-bob"],
        None,
        "year'; DROP TABLE sessions; --",
    ],
)
def test_dashboard_render_shows_only_the_session_account(alice, forged):
    response = render(alice, forged)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "11.1 kWh" in body  # Alice's own session
    assert "Alice Depot" in body
    assert not found_secrets(body, ("77.7", "Bob Depot", "c-bob-depot"))


def _poll(client, app, digest):
    callbacks = app.extensions["polaris_dash"].callback_map
    output = next(key for key in callbacks if key.startswith(f"..{STATUS_DATA_ID}.data"))
    return call_callback(
        client,
        output,
        [{"id": "refresh-interval", "property": "n_intervals", "value": 3}],
        state=[{"id": STATUS_SHOWN_ID, "property": "data", "value": digest}],
        outputs=[
            {"id": STATUS_DATA_ID, "property": "data"},
            {"id": STATUS_SHOWN_ID, "property": "data"},
        ],
    )


def test_status_poll_names_only_the_accounts_chargers_and_is_small(app, alice):
    response = _poll(alice, app, "c-bob-depot")  # a forged digest: the whole payload comes back
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()["response"]
    pills = answer[STATUS_DATA_ID]["data"]["pills"]
    assert "c-bob-depot" not in pills
    assert pills["c-alice-depot"][0] == "Online"
    assert not found_secrets(response.get_data(as_text=True), ("77.7",))
    # The poll's request and answer stay small: no list of pills either way.
    assert len(response.get_data()) < 5_000
    # Nothing changed since: nothing is sent.
    again = _poll(alice, app, answer[STATUS_SHOWN_ID]["data"])
    assert again.status_code == 204


def test_charger_ids_from_the_browser_get_a_status_only_when_the_account_sees_them(app, alice):
    shown = {"digest": "?", "ids": ["c-alice-depot", "c-bob-depot", "no-such-charger"]}
    response = _poll(alice, app, shown)
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["response"][STATUS_DATA_ID]["data"]
    assert data["pills"]["c-alice-depot"][0] == "Online"
    assert data["pills"]["c-bob-depot"] == data["pills"]["no-such-charger"] == data["unknown"]
    assert not found_secrets(response.get_data(as_text=True), ("77.7",))
    too_many = {"digest": "?", "ids": [f"c-{n}" for n in range(51)]}  # more than a page shows
    pills = _poll(alice, app, too_many).get_json()["response"][STATUS_DATA_ID]["data"]["pills"]
    assert "c-0" not in pills and "c-alice-depot" in pills  # the server's own list instead


def test_what_the_render_shows_matches_the_first_poll(app, alice):
    shown = render(alice, "current").get_json()["response"][STATUS_SHOWN_ID]["data"]
    assert shown["ids"] == ["c-alice-depot", "c-street"] and shown["digest"]
    assert _poll(alice, app, shown).status_code == 204


SHELL_OUTPUTS = [
    "active-session-banner.hidden",
    "banner-kwh.children",
    "banner-started.children",
    "banner-charger.children",
]


def _shell(client, *, path: str = "/"):
    """One call of the banner's callback, as the browser sends it after a page view or a tick."""
    inputs = [
        {"id": "refresh-interval", "property": "n_intervals", "value": 1},
        {"id": "url", "property": "pathname", "value": path},
    ]
    state = [
        {"id": "active-session-banner", "property": "hidden", "value": True},
        {"id": "banner-kwh", "property": "children", "value": ""},
        {"id": "banner-started", "property": "children", "value": ""},
        {"id": "banner-charger", "property": "children", "value": ""},
    ]
    spec = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in SHELL_OUTPUTS]
    output = ".." + "...".join(SHELL_OUTPUTS) + ".."
    return call_callback(client, output, inputs, state=state, outputs=spec)


def test_banner_shows_only_the_session_accounts_charging(app, alice):
    bob = app.test_client()
    sign_in(bob, "bob@example.com")
    for_alice = _shell(alice)
    for_bob = _shell(bob)
    assert not found_secrets(for_alice.get_data(as_text=True), ("77.7",))
    assert "77.7 kWh" in for_bob.get_data(as_text=True)


def test_the_account_menu_is_drawn_once_a_page_load(app, alice):
    """The menu's callback listens to one store that no callback writes: Dash calls it once, at
    page load, and nothing a tick or in-app navigation does can redraw (and so close) it."""
    callbacks = app.extensions["polaris_dash"].callback_map
    writers = [k for k in callbacks if "account-menu.children" in k]
    assert writers == ["account-menu.children"], writers  # no other output beside it
    menu = callbacks["account-menu.children"]
    assert [(i["id"], i["property"]) for i in menu["inputs"]] == [(MENU_LOAD_ID, "data")]
    assert menu["state"] == []
    assert not [k for k in callbacks if MENU_LOAD_ID in k]  # written by nobody
    inputs = [{"id": MENU_LOAD_ID, "property": "data", "value": True}]
    drawn = call_callback(alice, "account-menu.children", inputs).get_json()["response"]
    assert "Alice" in str(drawn["account-menu"]["children"])
    assert "account-menu" not in str(_shell(alice, path="/?period=year").get_data(as_text=True))
