"""The dashboard's refresh tick over HTTP: one request per tick on ``/`` answers the Active
session banner, the status pills and Next reservation together, nothing (a 204, no bytes) when
nothing changed, and only the signed-in account's data (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from components.dashboard import (
    DASHBOARD_TICK_ID,
    NEXT_RESERVATION_BODY_ID,
    NEXT_WATCH_ID,
    PERIOD_STORE_ID,
    STATUS_DATA_ID,
    STATUS_SHOWN_ID,
)
from components.shell import BANNER_ID, BANNER_KWH_ID, BANNER_PROPS, BANNER_TICK_ID
from data.chargers.snapshots import FLEET, account_grants
from data.charging.booking import ended_booking
from data.charging.dashboard import active_session, next_reservation
from data.charging.tick import tick_reads
from data.core.models import ReservationStatus, Role, Visibility
from tests.support.callbacks import (
    BANNER,
    RENDER,
    RENDER_OUTPUTS,
    SHOWN,
    TICK,
    banner_of,
    call,
    callback_key,
    callback_map,
    callback_name,
    dashboard_tick,
)
from tests.support.factories import (
    grant_access,
    make_charger,
    make_operator,
    make_reservation,
    make_session,
)
from tests.support.web import AppFactory, add_person, found_secrets

NOW = datetime.now(UTC)
BOB_SECRETS = ("77.7", "Bob Depot", "c-bob-depot")
LAYOUT_BANNER = (True, None, None, None, None)  # as the shell's layout draws it
ONE_KB = 1024


@pytest.fixture
def app(app_factory: AppFactory, database_url: str) -> Flask:
    app = app_factory(database_url)
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_charger(s, charger_id="c-street", friendly_name="Street", last_seen_at=NOW)
        for owner, name in (("acc-alice", "Alice Depot"), ("acc-bob", "Bob Depot")):
            depot = make_charger(
                s,
                charger_id=f"c-{owner[4:]}-depot",
                friendly_name=name,
                visibility=Visibility.restricted,
                last_seen_at=NOW,
            )
            grant_access(s, owner, depot)
        bob_depot = "c-bob-depot"
        make_session(
            s, "acc-bob", bob_depot, started_at=NOW - timedelta(minutes=30), energy_kwh="77.7"
        )
    FLEET.clear()  # statuses as this test's database has them
    return app


@pytest.fixture
def alice(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for("alice@example.com")


@pytest.fixture
def bob(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for("bob@example.com")


class Screen:
    """What one browser's dashboard shows, as the first view of ``/`` left it: the render's
    pills and watch, and the banner the shell drew."""

    def __init__(self, client: FlaskClient, app: Flask) -> None:
        self.client, self.app = client, app
        render = call(
            client,
            callback_key(app, RENDER),
            [{"id": PERIOD_STORE_ID, "property": "data", "value": "current"}],
            outputs=[{"id": i, "property": p} for i, p in RENDER_OUTPUTS],
        )
        assert render.status_code == 200, render.get_data(as_text=True)[:300]
        answer = render.get_json()["response"]
        self.shown = answer[STATUS_SHOWN_ID]["data"]
        self.watch = answer[NEXT_WATCH_ID]["data"]
        shell = call(
            client,
            callback_key(app, BANNER),
            [{"id": BANNER_TICK_ID, "property": "data", "value": 1}],
            state=[
                {"id": i, "property": p, "value": v}
                for (i, p), v in zip(BANNER_PROPS, LAYOUT_BANNER, strict=True)
            ],
        )
        self.banner = banner_of(shell.get_json()["response"], LAYOUT_BANNER)

    def tick(self) -> Any:
        """One tick; what changed is applied, as the browser does."""
        response = dashboard_tick(
            self.client, self.app, banner=self.banner, shown=self.shown, watch=self.watch
        )
        assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
        if response.status_code == 200:
            answer = response.get_json()["response"]
            self.banner = banner_of(answer, self.banner)
            self.shown = answer.get(STATUS_SHOWN_ID, {}).get("data", self.shown)
            self.watch = answer.get(NEXT_WATCH_ID, {}).get("data", self.watch)
        return response


def _inputs(callback: dict[str, Any]) -> list[str]:
    return [i["id"] if isinstance(i, dict) else str(i) for i in callback["inputs"]]


def test_one_server_callback_answers_the_dashboards_tick(app: Flask) -> None:
    """The tick on ``/`` reaches the server once: the dashboard's store (written in the browser
    from the refresh interval) is the input of one server callback, which writes the banner,
    the pills and Next reservation; the shell's banner listens to its own store only, and no
    customer callback listens to the interval itself."""
    callbacks = {callback_name(k): cb for k, cb in callback_map(app).items()}
    on_tick = [
        n for n, cb in callbacks.items() if DASHBOARD_TICK_ID in _inputs(cb) and "callback" in cb
    ]
    assert on_tick == [TICK]
    outputs = TICK.strip(".").split("...")
    assert {f"{i}.{p}" for i, p in BANNER_PROPS} <= set(outputs)
    assert {f"{STATUS_DATA_ID}.data", f"{NEXT_RESERVATION_BODY_ID}.children"} <= set(outputs)
    assert _inputs(callbacks[BANNER]) == [BANNER_TICK_ID]
    for store in (DASHBOARD_TICK_ID, BANNER_TICK_ID):  # written in the browser only
        writers = [cb for n, cb in callbacks.items() if f"{store}.data" in n]
        assert writers and all("callback" not in cb for cb in writers), store
    on_interval = [  # admin pages keep their own refresh (their outputs are admin-...)
        n
        for n, cb in callbacks.items()
        if "refresh-interval" in _inputs(cb) and "callback" in cb and "admin-" not in n
    ]
    assert on_interval == [], on_interval


def test_a_stale_screen_gets_the_banner_and_the_pills_in_one_answer(
    app: Flask, bob: FlaskClient
) -> None:
    response = dashboard_tick(bob, app, banner=(SHOWN,) * 5, shown=SHOWN, watch=None)
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer[BANNER_ID]["hidden"] is False
    assert answer[BANNER_KWH_ID]["children"] == "77.7 kWh"
    assert answer[STATUS_DATA_ID]["data"]["pills"]["c-bob-depot"][0] == "In use"


def test_an_unchanged_tick_is_a_204_under_a_kilobyte(
    app: Flask, alice: FlaskClient, bob: FlaskClient
) -> None:
    for client in (alice, bob):  # without and with a session in progress
        screen = Screen(client, app)
        response = screen.tick()
        assert response.status_code == 204  # nothing changed
        assert len(response.get_data()) <= ONE_KB
        assert response.get_data() == b""


def test_a_changed_pill_shows_in_the_one_answer(app: Flask, alice: FlaskClient) -> None:
    screen = Screen(alice, app)
    assert screen.tick().status_code == 204
    with app.extensions["polaris_db"].session() as s:
        s.execute(
            text("UPDATE chargers SET last_seen_at = :t WHERE id = 'c-street'"),
            {"t": NOW - timedelta(days=1)},
        )
    FLEET.clear()  # the next snapshot, as the worker builds it every 2 s
    response = screen.tick()
    assert response.status_code == 200
    assert len(response.get_data()) <= ONE_KB
    answer = response.get_json()["response"]
    assert answer[STATUS_DATA_ID]["data"]["pills"]["c-street"][0] == "Offline"
    assert BANNER_ID not in answer  # the banner did not change: not sent
    assert screen.tick().status_code == 204


def test_a_started_session_shows_in_the_one_answer(app: Flask, alice: FlaskClient) -> None:
    screen = Screen(alice, app)
    assert screen.banner[0] is True
    with app.extensions["polaris_db"].session() as s:
        make_session(s, "acc-alice", "c-alice-depot", started_at=NOW, energy_kwh="3.2")
    FLEET.clear()
    response = screen.tick()
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer[BANNER_ID]["hidden"] is False
    assert answer[BANNER_KWH_ID]["children"] == "3.2 kWh"
    assert answer["banner-charger"]["children"] == "on Alice Depot"
    assert answer[STATUS_DATA_ID]["data"]["pills"]["c-alice-depot"][0] == "In use"
    assert not found_secrets(response.get_data(as_text=True), BOB_SECRETS)
    assert screen.tick().status_code == 204


def test_next_reservation_is_watched_in_the_same_tick(app: Flask, alice: FlaskClient) -> None:
    with app.extensions["polaris_db"].session() as s:
        make_reservation(
            s,
            "acc-alice",
            "c-alice-depot",
            starts_at=NOW + timedelta(hours=2),
            ends_at=NOW + timedelta(hours=3),
            reservation_id="r-alice",
        )
    screen = Screen(alice, app)
    assert screen.watch["watch"] is True  # the render says a booking is open
    assert screen.tick().status_code == 204
    with app.extensions["polaris_db"].session() as s:
        s.execute(
            text("UPDATE reservations SET status = :st WHERE id = 'r-alice'"),
            {"st": ReservationStatus.cancelled.value},
        )
    response = screen.tick()
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert NEXT_RESERVATION_BODY_ID in answer and STATUS_DATA_ID not in answer
    assert screen.watch["watch"] is False  # nothing booked: later ticks do not look


def test_anonymous_gets_nothing(app: Flask) -> None:
    response = dashboard_tick(app.test_client(), app, shown=SHOWN)
    assert response.status_code == 401
    assert not found_secrets(response.get_data(as_text=True), (*BOB_SECRETS, "Alice Depot"))


@pytest.mark.parametrize(
    "forged",
    [
        {"digest": "?", "ids": ["c-bob-depot", "c-alice-depot"], "choices": ["c-bob-depot"]},
        "acc-bob",
        {"account_id": "acc-bob"},
        None,
    ],
)
def test_another_accounts_data_never_appears(
    app: Flask, alice: FlaskClient, forged: object
) -> None:
    watch = {"watch": True, "digest": "x", "account_id": "acc-bob"}
    banner = ("acc-bob", "77.7 kWh", "?", "?", "on Bob Depot")
    response = dashboard_tick(alice, app, banner=banner, shown=forged, watch=watch)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data(as_text=True)
    assert not found_secrets(body, ("77.7", "Bob Depot"))
    answer = response.get_json()["response"]
    assert answer[BANNER_ID]["hidden"] is True  # Alice charges nowhere
    data = answer[STATUS_DATA_ID]["data"]
    assert data["pills"]["c-alice-depot"][0] == "Online"
    # An id the browser named itself comes back with the neutral pill, never Bob's status.
    assert data["pills"].get("c-bob-depot", data["unknown"]) == data["unknown"]


def test_the_ticks_reads_are_one_statement(app: Flask) -> None:
    """The account's session in progress and its grants: what ``active_session`` and
    ``account_grants`` say, in one round trip."""
    db = app.extensions["polaris_db"]
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with db.session() as s:
        make_reservation(
            s,
            "acc-alice",
            "c-street",
            starts_at=NOW + timedelta(hours=1),
            ends_at=NOW + timedelta(hours=2),
        )
        refused = make_reservation(
            s,
            "acc-alice",
            "c-alice-depot",
            starts_at=NOW + timedelta(hours=3),
            ends_at=NOW + timedelta(hours=4),
            status=ReservationStatus.cancelled,
        )
        refused.end_reason = "the charger answered Occupied"
        s.flush()
        for account in ("acc-alice", "acc-bob", "acc-nobody"):
            for watching in (False, True):
                event.listen(db.engine, "before_cursor_execute", count)
                try:
                    reads = tick_reads(s, account, NOW, watching=watching)
                finally:
                    event.remove(db.engine, "before_cursor_execute", count)
                assert len(seen) == 1
                seen.clear()
                assert reads.grants == account_grants(s, account)
                assert reads.active == active_session(s, account, NOW)
                if watching:
                    assert reads.next_reservation == next_reservation(s, account, NOW)
                    assert reads.ended_booking == ended_booking(s, account, NOW)
        watched = tick_reads(s, "acc-alice", NOW, watching=True)
        assert watched.next_reservation is not None and watched.ended_booking is not None
        assert tick_reads(s, "acc-bob", NOW).active is not None
        assert tick_reads(s, "acc-alice", NOW).grants == frozenset({"c-alice-depot"})
