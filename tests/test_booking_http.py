"""Booking a charger over HTTP, as an attacker would call it: anonymous gets nothing; a driver
books only as the session's account, only a charger the account may see (a forged one is
refused, nothing written), and cancels only the account's own booking; the booking rules are
saved by an admin only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from components.booking import (
    BOOK_CHARGER_STORE,
    BOOK_CLOSE_ID,
    BOOK_DATE_ID,
    BOOK_LENGTH_ID,
    BOOK_SUBMIT_ID,
    BOOK_TIME_ID,
    BOOK_TYPE,
    CANCEL_TYPE,
)
from components.operator_settings import BOOKING_FIELDS, BOOKING_SAVE_ID
from data.audit.entries import Action
from data.charging.booking import DEFAULT_RULES, booking_rules
from data.core.models import AuditEntry, Reservation, ReservationStatus, Role, Visibility
from tests.support.callbacks import callback_key, post
from tests.support.factories import grant_access, make_charger, make_operator, make_reservation
from tests.support.web import AppFactory, add_person, client_for

BOOK = (
    "..book-outcome.children...book-dialog.is_open...next-reservation-body.children"
    "...next-reservation-watch.data...booking-notice.children.."
)
CANCEL = (
    "..next-reservation-body.children...next-reservation-watch.data...booking-notice.children.."
)
OPEN = (
    "..book-dialog.is_open...book-dialog-charger.data...book-dialog-title.children"
    "...book-date.value...book-date.min...book-date.max...book-time.value...book-length.options"
    "...book-length.value...book-rules.children...book-outcome.children...book-submit.disabled.."
)
RULES = (
    "..admin-booking-ahead-error.children...admin-booking-longest-error.children"
    "...admin-booking-open-error.children...admin-booking-grace-error.children"
    "...admin-booking-ahead.invalid...admin-booking-longest.invalid...admin-booking-open.invalid"
    "...admin-booking-grace.invalid...admin-booking-feedback.children...admin-booking-version.data.."
)
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
KEYS: dict[str, str] = {}


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    app = app_factory()
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    add_person(app, "olga@example.com", ("acc-olga", Role.admin, "Operations"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_charger(s, charger_id="c-street", friendly_name="Street")
        make_charger(s, charger_id="c-bob-depot", friendly_name="Bob Depot",
                     visibility=Visibility.restricted)  # fmt: skip
        grant_access(s, "acc-bob", "c-bob-depot")
        start = datetime.now(UTC) + timedelta(days=2)
        make_reservation(s, "acc-bob", "c-street", starts_at=start,
                         ends_at=start + timedelta(hours=1), reservation_id="r-bob")  # fmt: skip
    KEYS.update({name: callback_key(app, name) for name in (BOOK, CANCEL, OPEN, RULES)})
    return app


def _outputs(key: str) -> list[dict[str, str]]:
    return [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
        for part in key.strip(".").split("...")
    ]


def _body(key: str, inputs: list[Any], state: list[Any], changed: str) -> dict[str, Any]:
    return {"output": KEYS.get(key, key), "outputs": _outputs(key), "inputs": inputs,
            "state": state, "changedPropIds": [changed]}  # fmt: skip


def book_body(charger: Any, day: Any = TOMORROW, start: Any = "10:00", length: Any = "60"):
    return _body(
        BOOK,
        [{"id": BOOK_SUBMIT_ID, "property": "n_clicks", "value": 1}],
        [
            {"id": BOOK_CHARGER_STORE, "property": "data", "value": charger},
            {"id": BOOK_DATE_ID, "property": "value", "value": day},
            {"id": BOOK_TIME_ID, "property": "value", "value": start},
            {"id": BOOK_LENGTH_ID, "property": "value", "value": length},
        ],
        f"{BOOK_SUBMIT_ID}.n_clicks",
    )


def _key(ident: dict[str, str], prop: str) -> str:
    return f"{json.dumps(ident, separators=(',', ':'), sort_keys=True)}.{prop}"


def cancel_body(reservation_id: str) -> dict[str, Any]:
    ident = {"type": CANCEL_TYPE, "reservation": reservation_id}
    return _body(
        CANCEL,
        [[{"id": ident, "property": "submit_n_clicks", "value": 1}]],
        [],
        _key(ident, "submit_n_clicks"),
    )


def open_body(charger: str) -> dict[str, Any]:
    ident = {"type": BOOK_TYPE, "charger": charger}
    return _body(
        OPEN,
        [
            [{"id": ident, "property": "n_clicks", "value": 1}],
            {"id": BOOK_CLOSE_ID, "property": "n_clicks", "value": None},
        ],
        [],
        _key(ident, "n_clicks"),
    )


def rules_body(ahead: Any = "7", longest: Any = "120", per_account: Any = "3", grace: Any = "10"):
    values = {"ahead_days": ahead, "longest_minutes": longest, "open_per_account": per_account,
              "grace_minutes": grace}  # fmt: skip
    return _body(
        RULES,
        [{"id": BOOKING_SAVE_ID, "property": "n_clicks", "value": 1}],
        [{"id": BOOKING_FIELDS[f], "property": "value", "value": v} for f, v in values.items()]
        + [{"id": "admin-booking-version", "property": "data", "value": 0}],
        f"{BOOKING_SAVE_ID}.n_clicks",
    )


def reservations(app: Flask) -> list[tuple[str, str, str]]:
    with app.extensions["polaris_db"].session() as s:
        rows = s.execute(
            select(Reservation.account_id, Reservation.charger_id, Reservation.status).order_by(
                Reservation.starts_at
            )
        ).all()
        return [(a, c, ReservationStatus(st).value) for a, c, st in rows]


def text_of(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_anonymous_gets_nothing_and_nothing_is_written(app: Flask) -> None:
    anonymous = client_for(app, None)
    for body in (book_body("c-street"), cancel_body("r-bob"), open_body("c-street"), rules_body()):
        assert post(anonymous, body, csrf=False).status_code in (401, 403)
    assert reservations(app) == [("acc-bob", "c-street", "confirmed")]


def test_a_booking_is_the_sessions_account_and_shows_in_next_reservation(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    text = text_of(post(alice, book_body("c-street")))
    response = json.loads(text)["response"]
    assert response["book-dialog"]["is_open"] is False
    assert "Street" in json.dumps(response["next-reservation-body"])
    assert "Cancel booking" in json.dumps(response["next-reservation-body"])
    assert response["next-reservation-watch"]["data"]["watch"] is True
    assert ("acc-alice", "c-street", "confirmed") in reservations(app)
    with app.extensions["polaris_db"].session() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == Action.reservation_created.value)
        ).one()
        assert (entry.user, entry.account_id) == ("alice@example.com", "acc-alice")


@pytest.mark.parametrize(
    "charger", ["c-bob-depot", "c-nowhere", None, {"charger_id": "c-street", "account": "acc-bob"}]
)
def test_a_forged_charger_is_refused_and_nothing_written(app: Flask, charger: Any) -> None:
    alice = client_for(app, "alice@example.com")
    text = text_of(post(alice, book_body(charger)))
    assert "booking-refused" in text
    assert "Bob Depot" not in text
    assert len(reservations(app)) == 1


@pytest.mark.parametrize(
    ("day", "start", "length", "words"),
    [
        ("2020-01-01", "10:00", "60", "in the past"),
        (TOMORROW, "10:00", "600", "at most 4 h"),
        ("2099-01-01", "10:00", "60", "days ahead"),
        (TOMORROW, "25:99", "60", "not a date and time"),
        (TOMORROW, "10:00", "-5", "Choose a length"),
        ({"x": 1}, "10:00", "60", "Choose a date"),
    ],
)
def test_bad_input_is_a_plain_message_and_nothing_written(
    app: Flask, day: Any, start: Any, length: Any, words: str
) -> None:
    alice = client_for(app, "alice@example.com")
    text = text_of(post(alice, book_body("c-street", day, start, length)))
    assert words in text
    assert len(reservations(app)) == 1


def test_an_overlap_names_the_next_free_time(app: Flask) -> None:
    with app.extensions["polaris_db"].session() as s:
        bob = s.get(Reservation, "r-bob")
        assert bob is not None
        day, start = bob.starts_at.date().isoformat(), f"{bob.starts_at:%H:%M}"
        free = bob.ends_at
    alice = client_for(app, "alice@example.com")
    text = text_of(post(alice, book_body("c-street", day, start, "60")))
    assert f"free next from {free:%a %d %b %H:%M} for 1 h" in text
    assert len(reservations(app)) == 1


def test_only_the_accounts_own_booking_is_cancelled(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    text = text_of(post(alice, cancel_body("r-bob")))
    assert "no longer exists" in text
    assert reservations(app) == [("acc-bob", "c-street", "confirmed")]
    bob = client_for(app, "bob@example.com")
    assert "Booking cancelled" in text_of(post(bob, cancel_body("r-bob")))
    assert reservations(app) == [("acc-bob", "c-street", "cancelled")]


def test_the_dialog_opens_only_for_a_charger_the_account_may_see(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    shown = json.loads(text_of(post(alice, open_body("c-street"))))["response"]
    assert shown["book-dialog-title"]["children"] == "Book Street"
    assert shown["book-dialog-charger"]["data"] == "c-street"
    assert shown["book-length"]["options"][-1] == {"label": "4 h", "value": "240"}
    hidden_text = text_of(post(alice, open_body("c-bob-depot")))
    hidden = json.loads(hidden_text)["response"]
    assert "Bob Depot" not in hidden_text
    assert hidden["book-dialog-charger"]["data"] is None
    assert hidden["book-submit"]["disabled"] is True


def test_only_an_admin_saves_the_booking_rules(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    assert post(alice, rules_body()).status_code in (401, 403)
    olga = client_for(app, "olga@example.com")
    refused = text_of(post(olga, rules_body(ahead="0")))
    assert "A whole number from 1 to 365" in refused
    with app.extensions["polaris_db"].session() as s:
        assert booking_rules(s) == DEFAULT_RULES
    assert "Booking rules saved" in text_of(post(olga, rules_body()))
    with app.extensions["polaris_db"].session() as s:
        rules = booking_rules(s)
        assert (rules.ahead_days, rules.longest_minutes, rules.open_per_account) == (7, 120, 3)
        count = s.scalar(
            select(func.count()).where(AuditEntry.action == Action.booking_rules_updated.value)
        )
        assert count == 1
