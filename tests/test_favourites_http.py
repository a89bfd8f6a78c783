"""The star on a charger card over HTTP, as an attacker would call it: anonymous gets nothing;
a driver stars and unstars only for the session's account, only a charger the account may see
(the id in the pressed star's id is only a key), and gets the cards back with the favourite
first."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from components.dashboard import FAVOURITE_TYPE
from data.chargers.favourites import NOT_VISIBLE, FavouriteCharger
from data.core.models import Role, Visibility
from tests.support.callbacks import callback_key, post
from tests.support.factories import grant_access, make_charger, make_operator
from tests.support.web import AppFactory, add_person, client_for

STAR = "..charger-grid-data.data...available-count.children...charger-status-shown.data.."
KEYS: dict[str, str] = {}


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    app = app_factory()
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_charger(s, charger_id="c-alpha", friendly_name="Alpha")
        make_charger(s, charger_id="c-street", friendly_name="Street")
        make_charger(s, charger_id="c-bob-depot", friendly_name="Bob Depot",
                     visibility=Visibility.restricted)  # fmt: skip
        grant_access(s, "acc-bob", "c-bob-depot")
    KEYS[STAR] = callback_key(app, STAR)
    return app


def star_body(charger: Any, clicks: Any = 1) -> dict[str, Any]:
    ident = {"type": FAVOURITE_TYPE, "charger": charger}
    return {
        "output": KEYS[STAR],
        "outputs": [
            {"id": "charger-grid-data", "property": "data"},
            {"id": "available-count", "property": "children"},
            {"id": "charger-status-shown", "property": "data"},
        ],
        "inputs": [[{"id": ident, "property": "n_clicks", "value": clicks}]],
        "state": [],
        "changedPropIds": [f"{json.dumps(ident, separators=(',', ':'), sort_keys=True)}.n_clicks"],
    }


def favourites(app: Flask) -> list[tuple[str, str]]:
    with app.extensions["polaris_db"].session() as s:
        rows = s.execute(select(FavouriteCharger.account_id, FavouriteCharger.charger_id))
        return sorted((a, c) for a, c in rows)


def cards(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    cards: list[dict[str, Any]] = response.get_json()["response"]["charger-grid-data"]["data"][
        "cards"
    ]
    return cards


def test_anonymous_gets_nothing_and_no_row(app: Flask) -> None:
    anonymous = client_for(app, None)
    assert post(anonymous, star_body("c-street"), csrf=False).status_code in (401, 403)
    assert favourites(app) == []


def test_a_star_is_the_sessions_account_and_lists_the_charger_first(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    shown = cards(post(alice, star_body("c-street")))
    assert favourites(app) == [("acc-alice", "c-street")]
    assert [c["id"] for c in shown][:2] == ["c-street", "c-alpha"]
    assert [c["favourite"] for c in shown][:2] == [True, False]
    # Pressed again: unstarred, the list as before (by name).
    shown = cards(post(alice, star_body("c-street")))
    assert favourites(app) == []
    assert [c["id"] for c in shown][:2] == ["c-alpha", "c-street"]
    assert not any(c["favourite"] for c in shown)


def test_another_accounts_star_is_its_own(app: Flask) -> None:
    bob = client_for(app, "bob@example.com")
    cards(post(bob, star_body("c-bob-depot")))
    alice = client_for(app, "alice@example.com")
    shown = cards(post(alice, star_body("c-alpha")))
    assert favourites(app) == [("acc-alice", "c-alpha"), ("acc-bob", "c-bob-depot")]
    assert "c-bob-depot" not in {c["id"] for c in shown}


@pytest.mark.parametrize(
    "charger", ["c-bob-depot", "c-nowhere", {"charger_id": "c-street", "account_id": "acc-bob"}]
)
def test_a_charger_the_account_may_not_see_or_none_is_refused(app: Flask, charger: Any) -> None:
    alice = client_for(app, "alice@example.com")
    response = post(alice, star_body(charger))
    text = response.get_data(as_text=True)
    assert "Bob Depot" not in text
    assert favourites(app) == []
    if response.status_code == 200:  # said on the page, nothing else sent
        assert NOT_VISIBLE in text
        assert "charger-grid-data" not in response.get_json()["response"]
    else:  # an id no charger can have: nothing asked (Dash refuses a dict in a pattern id)
        assert response.status_code in (204, 400)


def test_nothing_pressed_asks_nothing(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    assert post(alice, star_body("c-street", clicks=None)).status_code == 204
    assert favourites(app) == []
