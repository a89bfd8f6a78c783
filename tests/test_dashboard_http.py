"""The dashboard's callbacks as an attacker would call them: whatever the browser sends, a
customer gets only the signed-in account's data."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from components.dashboard import (
    CHARGER_DATA_ID,
    PERIOD_STORE_ID,
    RECENT_DATA_ID,
    RECENT_REFRESH_ID,
    STATUS_DATA_ID,
    STATUS_SHOWN_ID,
    USAGE_TOTAL_ID,
)
from components.shell import BANNER_TICK_ID, MENU_LOAD_ID
from data.core.models import ChargingSession, ConnectorStatus, Role, Visibility
from data.core.periods import period_bounds
from data.pricing.tariffs import create_tariff_version, price_session, set_default_tariff
from tests.support.audit import AT, CLI
from tests.support.callbacks import (
    BANNER_HIDDEN,
    RENDER_OUTPUTS,
    call,
    callback_key,
    dashboard_tick,
)
from tests.support.factories import (
    grant_access,
    make_charger,
    make_operator,
    make_session,
    report_connector,
)
from tests.support.web import AppFactory, add_person, call_callback, found_secrets, sign_in
from tests.support.web import client_for as client_for_app

NOW = datetime.now(UTC)
NO_BOOKING = {"watch": False, "digest": "|"}  # what the render keeps when nothing is booked


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
        # Two connectors each: Alice's card offers a choice; Bob's stays his.
        for charger, statuses in (
            (alice_depot, ("Available", "Preparing")),
            (bob_depot, ("Charging", "Finishing")),
        ):
            for connector, status in enumerate(statuses, start=1):
                report_connector(s, charger, connector, status, reported_at=NOW)
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
    """The dashboard's tick with ``digest`` as what the browser keeps of its pills."""
    return dashboard_tick(client, app, banner=BANNER_HIDDEN, shown=digest, watch=NO_BOOKING)


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
    assert again.status_code == 204, again.get_data(as_text=True)


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


def test_the_render_offers_a_choice_of_connector_where_the_charger_reported_several(app, alice):
    answer = render(alice, "current").get_json()["response"]
    cards = {card["id"]: card for card in answer[CHARGER_DATA_ID]["data"]["cards"]}
    assert set(cards) == {"c-alice-depot", "c-street"}
    assert cards["c-alice-depot"]["connectors"] == {
        "options": [
            {"label": "Connector 1 · Available", "value": "1", "disabled": False},
            {"label": "Connector 2 · Preparing", "value": "2", "disabled": False},
        ],
        "value": "2",
    }
    assert cards["c-street"]["connectors"] is None  # reported none: the charger chooses
    assert answer[STATUS_SHOWN_ID]["data"]["choices"] == ["c-alice-depot"]


def test_the_poll_keeps_the_connectors_current_for_the_accounts_chargers_only(app, alice):
    shown = {
        "digest": "?",
        "ids": ["c-alice-depot", "c-bob-depot", "c-street"],
        "choices": ["c-alice-depot", "c-bob-depot", "c-nowhere", 7, {"a": 1}],  # forged
    }
    first = _poll(alice, app, shown).get_json()["response"]
    assert list(first[STATUS_DATA_ID]["data"]["connectors"]) == ["c-alice-depot"]
    assert first[STATUS_SHOWN_ID]["data"]["choices"] == ["c-alice-depot"]
    with app.extensions["polaris_db"].session() as s:
        reported = s.get(ConnectorStatus, ("c-alice-depot", 1))
        assert reported is not None
        reported.status = "Faulted"
    again = _poll(alice, app, first[STATUS_SHOWN_ID]["data"])
    assert again.status_code == 200  # it changed: the poll says so
    options = again.get_json()["response"][STATUS_DATA_ID]["data"]["connectors"]["c-alice-depot"]
    assert options[0] == {"label": "Connector 1 · Faulted", "value": "1", "disabled": True}


def test_what_the_render_shows_matches_the_first_poll(app, alice):
    shown = render(alice, "current").get_json()["response"][STATUS_SHOWN_ID]["data"]
    assert shown["ids"] == ["c-alice-depot", "c-street"] and shown["digest"]
    assert _poll(alice, app, shown).status_code == 204


SHELL_OUTPUTS = [
    "active-session-banner.hidden",
    "banner-kwh.children",
    "banner-cost.children",
    "banner-started.children",
    "banner-charger.children",
]


def _shell(client):
    """One call of the banner's callback, as the browser sends it after a page view or a tick
    (of any page but the dashboard)."""
    inputs = [{"id": BANNER_TICK_ID, "property": "data", "value": 1}]
    state = [
        {"id": "active-session-banner", "property": "hidden", "value": True},
        {"id": "banner-kwh", "property": "children", "value": ""},
        {"id": "banner-cost", "property": "children", "value": ""},
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
    assert "account-menu" not in str(_shell(alice).get_data(as_text=True))


def _recent(client, app, refreshes: int):
    """Recent activity asked again, as recentGate does when the banner changes."""
    return call(
        client,
        callback_key(app, f"{RECENT_DATA_ID}.data"),
        [{"id": RECENT_REFRESH_ID, "property": "data", "value": refreshes}],
        outputs=[{"id": RECENT_DATA_ID, "property": "data"}],
    )


def test_recent_activity_asked_again_shows_the_banners_kwh_so_far(
    app_factory: AppFactory, database_url: str
) -> None:
    """The session in progress in Recent activity says what the banner says, after the energy
    rises too (recentGate asks again when the banner's kWh changes); SQLite and PostgreSQL."""
    app = app_factory(database_url)
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        depot = make_charger(s, charger_id="c-bob-depot", friendly_name="Bob Depot")
        started = NOW - timedelta(minutes=30)
        make_session(
            s,
            "acc-bob",
            depot,
            started_at=started - timedelta(days=1),
            ended_at=started - timedelta(hours=23),
            energy_kwh="11.1",
        )
        live = make_session(s, "acc-bob", depot, started_at=started, energy_kwh="77.7")
        live_id = live.id
    bob = app.test_client()
    sign_in(bob, "bob@example.com")

    def banner_kwh() -> str:
        return str(_shell(bob).get_json()["response"]["banner-kwh"]["children"])

    def in_progress() -> dict[str, str]:
        response = _recent(bob, app, 1)
        assert response.status_code == 200, response.get_data(as_text=True)
        items = response.get_json()["response"][RECENT_DATA_ID]["data"]["items"]
        (item,) = [i for i in items if i["end"] == "In progress"]
        return dict(item)

    assert banner_kwh() == in_progress()["kwh"] == "77.7 kWh"
    with app.extensions["polaris_db"].session() as s:
        row = s.get(ChargingSession, live_id)
        assert row is not None
        row.energy_kwh = Decimal("79.41")
    assert banner_kwh() == in_progress()["kwh"] == "79.4 kWh"
    assert in_progress()["duration"].endswith(" so far")


@pytest.fixture
def priced_app(app_factory: AppFactory) -> Flask:
    """A site whose default tariff (0.40/kWh + 0.50 a session) prices everyone: Alice has a
    finished session (10 kWh: €4.50 stored) and one in progress (5 kWh so far: €2.50), Bob a
    finished one of 77.7 kWh (€31.58)."""
    app = app_factory()
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        create_tariff_version(
            s,
            tariff_id="STD",
            valid_from=NOW - timedelta(days=400),
            name="Standard",
            energy_price_per_kwh="0.40",
            session_fee="0.50",
        )
        set_default_tariff(s, "STD", actor=CLI, now=AT)
        street = make_charger(s, charger_id="c-street", friendly_name="Street", last_seen_at=NOW)
        # In this month (and year) whatever the day: never before its first local midnight.
        month = period_bounds("current", NOW, ZoneInfo("Europe/Berlin"))
        start = max(NOW - timedelta(hours=2), month.start_utc)
        for sid, account, kwh in (("a-done", "acc-alice", "10"), ("b-done", "acc-bob", "77.7")):
            make_session(s, account, street, session_id=sid, started_at=start,
                         ended_at=start + timedelta(minutes=1), energy_kwh=kwh)  # fmt: skip
            price_session(s, sid)
        make_session(
            s, "acc-alice", street, started_at=start + timedelta(minutes=2), energy_kwh="5"
        )
    return app


@pytest.mark.parametrize("forged", ["current", "year", "acc-bob", {"account_id": "acc-bob"}])
def test_the_usage_section_shows_the_accounts_own_cost_beside_its_kwh(priced_app, forged):
    alice = client_for_app(priced_app, "alice@example.com")
    response = render(alice, forged)
    assert response.status_code == 200
    usage = response.get_json()["response"][USAGE_TOTAL_ID]["children"]
    shown = json.dumps(usage, ensure_ascii=False)
    # 15 kWh; €4.50 stored plus €2.50 so far (the session in progress started this month).
    assert "15.0 kWh" in shown and " · €7.00" in shown
    assert not found_secrets(response.get_data(as_text=True), ("77.7", "31.58"))


def test_the_usage_section_of_a_driver_without_priced_sessions_shows_no_cost(alice):
    response = render(alice, "current")
    usage = response.get_json()["response"][USAGE_TOTAL_ID]["children"]
    assert "€" not in json.dumps(usage, ensure_ascii=False)
