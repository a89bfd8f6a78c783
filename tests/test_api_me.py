"""``/api/v1/me`` over HTTP, on SQLite and PostgreSQL: a customer account's token with the ``me``
scope reads its chargers (status and its price), its sessions (cursor pages, filters) and its
reservations, books (201, 409 with the reason, 422 for a body that is not a request) and
cancels its own (204; another's is 404). 401 without a valid token, 403 without the scope or
for an admin account's token; every error JSON; the OpenAPI document describes it all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import select, update

from data.accounts.tokens import ME_SCOPE, TokenError, create_token
from data.audit.entries import Action
from data.core.models import ApiToken, AuditEntry, Reservation, Role, Visibility
from tests.support.audit import CLI
from tests.support.databases import fresh_database
from tests.support.factories import grant_access, make_charger, make_reservation, make_session
from tests.support.receipts import finished, priced_site
from tests.support.web import AppFactory, add_person
from web.api import openapi_document

ALICE, BOB, OLGA = "alice@example.com", "bob@example.com", "olga@example.com"
STARTED = datetime(2026, 3, 2, 8, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    module_app_factory: AppFactory,
) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp(f"api-me-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        application = module_app_factory(url, PROPAGATE_EXCEPTIONS=False)
        add_person(application, ALICE, ("acc-alice", Role.customer, None))
        add_person(application, BOB, ("acc-bob", Role.customer, None))
        add_person(application, OLGA, ("acc-ops", Role.admin, None))
        with application.extensions["polaris_db"].session() as s:
            priced_site(s)  # AC (22 kW) and DC (150 kW), public
            seen = datetime.now(UTC)
            make_charger(s, charger_id="RES-1", visibility=Visibility.restricted,
                         last_seen_at=seen)  # fmt: skip
            make_charger(s, charger_id="RES-2", visibility=Visibility.restricted,
                         last_seen_at=seen)  # fmt: skip
            grant_access(s, "acc-alice", "RES-2")
            for n in range(5):
                finished(s, f"s-alice-{n}", "acc-alice", "AC" if n % 2 else "DC",
                         STARTED + n * 24 * HOUR, HOUR, "10")  # fmt: skip
            make_session(s, "acc-alice", "AC", session_id="s-alice-live",
                         started_at=STARTED + 10 * 24 * HOUR)  # fmt: skip
            finished(s, "s-bob", "acc-bob", "AC", STARTED + HOUR, HOUR, "66")
            soon = datetime.now(UTC) + timedelta(days=2)
            make_reservation(s, "acc-bob", "DC", starts_at=soon, ends_at=soon + HOUR,
                             reservation_id="R-BOB")  # fmt: skip
        yield application
        application.extensions["polaris_db"].engine.dispose()


def token(app: Flask, email: str, *scopes: str) -> str:
    with app.extensions["polaris_db"].session() as s:
        return create_token(s, email, datetime.now(UTC), scopes=scopes, actor=CLI).secret


@pytest.fixture(scope="module")
def alice(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(app, ALICE, ME_SCOPE)}"}


def script(app: Flask) -> FlaskClient:
    return app.test_client(use_cookies=False)


def error_of(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]
    return str(body["error"])


def book(app: Flask, headers: dict[str, str], body: Any) -> Any:
    return script(app).post("/api/v1/me/reservations", json=body, headers=headers)


def test_the_openapi_document_describes_the_me_routes() -> None:
    document = openapi_document()
    validate(document)
    paths = document["paths"]
    assert set(paths["/api/v1/me/reservations"]) == {"get", "post"}
    assert "delete" in paths["/api/v1/me/reservations/{reservation_id}"]
    assert "409" in paths["/api/v1/me/reservations"]["post"]["responses"]
    assert "422" in paths["/api/v1/me/reservations"]["post"]["responses"]
    schemas = document["components"]["schemas"]
    assert {"ReservationRequest", "MeSessionsOut", "MeChargersOut"} <= set(schemas)


def test_tokens_without_the_scope_or_for_an_admin_get_401_or_403(app: Flask) -> None:
    client = script(app)
    for path in ("/api/v1/me/chargers", "/api/v1/me/sessions", "/api/v1/me/reservations"):
        error_of(client.get(path), 401)
        bad = client.get(path, headers={"Authorization": "Bearer pex_" + "x" * 43})
        error_of(bad, 401)
    commands_only = {"Authorization": f"Bearer {token(app, ALICE, 'commands')}"}
    message = error_of(client.get("/api/v1/me/sessions", headers=commands_only), 403)
    assert "me scope" in message
    # An admin account gets no me token (create_token refuses it); one with the scope stored
    # anyway (by hand in the database) still gets 403.
    with pytest.raises(TokenError, match="customer account only"):
        token(app, OLGA, ME_SCOPE)
    admin_token = token(app, OLGA, "commands")
    with app.extensions["polaris_db"].session() as s:
        s.execute(
            update(ApiToken).values(scopes="commands me").where(ApiToken.account_id == "acc-ops")
        )
    admin = {"Authorization": f"Bearer {admin_token}"}
    assert "customer account" in error_of(client.get("/api/v1/me/chargers", headers=admin), 403)
    # A me token does not send commands.
    me_only = {"Authorization": f"Bearer {token(app, BOB, ME_SCOPE)}"}
    refused = client.post("/api/v1/chargers/AC/commands", json={"action": "Reset"},
                          headers=me_only)  # fmt: skip
    assert "commands scope" in error_of(refused, 403)


def test_chargers_the_account_may_see_with_status_and_its_price(
    app: Flask, alice: dict[str, str]
) -> None:
    response = script(app).get("/api/v1/me/chargers", headers=alice)
    assert response.status_code == 200
    body = response.get_json()
    chargers = {c["id"]: c for c in body["chargers"]}
    assert set(chargers) == {"AC", "DC", "RES-2"}  # RES-1 is not granted to Alice
    assert body["visible"] == 3
    assert chargers["RES-2"]["status"] == "Online"
    assert chargers["AC"]["status"] == "Offline"  # never heard from (the rule's first test)
    assert chargers["AC"]["price"]["text"].startswith("€0.39/kWh")
    # Above 22 kW the tariff's DC price; the amount a string, as Decimals are in JSON.
    assert chargers["DC"]["price"]["text"].startswith("€0.59/kWh")
    assert float(chargers["DC"]["price"]["energy_per_kwh"]) == 0.59


def test_sessions_page_by_cursor_newest_first_and_only_her_own(
    app: Flask, alice: dict[str, str]
) -> None:
    client = script(app)
    seen: list[str] = []
    url = "/api/v1/me/sessions?limit=4"
    first = client.get(url, headers=alice).get_json()
    seen += [s["id"] for s in first["sessions"]]
    assert first["next_cursor"]
    second = client.get(f"{url}&cursor={first['next_cursor']}", headers=alice).get_json()
    seen += [s["id"] for s in second["sessions"]]
    assert second["next_cursor"] is None
    assert seen == ["s-alice-live", *(f"s-alice-{n}" for n in (4, 3, 2, 1, 0))]
    live, newest = first["sessions"][0], first["sessions"][1]
    assert live["ended_at"] is None and live["receipt_url"] is None
    assert newest["receipt_url"] == "/receipts/s-alice-4" and newest["currency"] == "EUR"
    assert newest["cost_total"] is not None
    on_ac = client.get("/api/v1/me/sessions?charger_id=AC", headers=alice).get_json()
    assert {s["id"] for s in on_ac["sessions"]} == {"s-alice-live", "s-alice-1", "s-alice-3"}
    march = client.get("/api/v1/me/sessions?from=2026-03-03&to=2026-03-04", headers=alice)
    assert [s["id"] for s in march.get_json()["sessions"]] == ["s-alice-2", "s-alice-1"]
    # Bob's charger filter or anything else never shows his session.
    for query in ("", "?charger_id=AC", "?limit=200"):
        text = client.get(f"/api/v1/me/sessions{query}", headers=alice).get_data(as_text=True)
        assert "s-bob" not in text


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("from=2026-02-30", "from"),
        ("from=2026-03-05&to=2026-03-01", "after"),
        ("cursor=nonsense", "cursor"),
        ("account=acc-bob", "account"),
        ("limit=1&limit=2", "once"),
    ],
)
def test_bad_query_parameters_get_400_saying_what(
    app: Flask, alice: dict[str, str], query: str, words: str
) -> None:
    response = script(app).get(f"/api/v1/me/sessions?{query}", headers=alice)
    assert words in error_of(response, 400)


def test_book_list_and_cancel_a_reservation(app: Flask, alice: dict[str, str]) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    body = {"charger_id": "DC", "starts_at": start.isoformat(),
            "ends_at": (start + HOUR).isoformat()}  # fmt: skip
    created = book(app, alice, body)
    assert created.status_code == 201, created.get_data(as_text=True)
    reservation = created.get_json()
    assert reservation["charger_id"] == "DC" and reservation["status"] == "confirmed"
    rid = reservation["id"]
    # The same hour again overlaps: 409 with the reason and the next free time.
    again = error_of(book(app, alice, body), 409)
    assert "already booked" in again and "free next from" in again
    listed = script(app).get("/api/v1/me/reservations", headers=alice).get_json()
    assert [r["id"] for r in listed["reservations"]] == [rid]  # not Bob's
    with app.extensions["polaris_db"].session() as s:
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == Action.reservation_created, AuditEntry.subject_id == rid
            )
        ).one()
        assert entry.user == ALICE
    # Bob's reservation reads like none at all; overlapping it names neither him nor it.
    with app.extensions["polaris_db"].session() as s:
        bobs = s.get(Reservation, "R-BOB")
        assert bobs is not None
        overlap = {"charger_id": "DC", "starts_at": bobs.starts_at.isoformat(),
                   "ends_at": bobs.ends_at.isoformat()}  # fmt: skip
    refused = error_of(book(app, alice, overlap), 409)
    assert "already booked" in refused and "R-BOB" not in refused
    assert "R-BOB" in error_of(
        script(app).delete("/api/v1/me/reservations/R-BOB", headers=alice), 404
    )
    gone = script(app).delete(f"/api/v1/me/reservations/{rid}", headers=alice)
    assert gone.status_code == 204 and gone.get_data() == b""
    assert script(app).get("/api/v1/me/reservations", headers=alice).get_json() == {
        "reservations": []
    }
    again = script(app).delete(f"/api/v1/me/reservations/{rid}", headers=alice)
    assert "cancelled" in error_of(again, 409)
    error_of(script(app).delete("/api/v1/me/reservations/R-NONE", headers=alice), 404)


def test_refusals_are_409_with_the_reason_and_bad_bodies_422(
    app: Flask, alice: dict[str, str]
) -> None:
    later = datetime.now(UTC) + timedelta(days=5)
    window = {"starts_at": later.isoformat(), "ends_at": (later + HOUR).isoformat()}
    # A charger Alice may not see reads as one that does not exist: the booking rules'
    # words, the same for both.
    hidden = error_of(book(app, alice, {"charger_id": "RES-1", **window}), 409)
    assert hidden == error_of(book(app, alice, {"charger_id": "NOPE", **window}), 409)
    assert "no charger by that name" in hidden
    # The operator's rules (defaults: 4 h at most, 14 days ahead).
    too_long = {"charger_id": "AC", "starts_at": later.isoformat(),
                "ends_at": (later + 5 * HOUR).isoformat()}  # fmt: skip
    assert "at most 4 h" in error_of(book(app, alice, too_long), 409)
    far = later + timedelta(days=30)
    too_far = {"charger_id": "AC", "starts_at": far.isoformat(),
               "ends_at": (far + HOUR).isoformat()}  # fmt: skip
    assert "14 days ahead" in error_of(book(app, alice, too_far), 409)
    past = datetime.now(UTC) - timedelta(hours=2)
    in_the_past = {"charger_id": "AC", "starts_at": past.isoformat(),
                   "ends_at": (past + 3 * HOUR).isoformat()}  # fmt: skip
    assert "past" in error_of(book(app, alice, in_the_past), 409)
    for bad in (
        {"charger_id": "AC", "starts_at": window["starts_at"]},  # no end
        {"charger_id": "AC", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T11:00"},
        {"charger_id": "AC", **window, "account_id": "acc-bob"},
        {"charger_id": "", **window},
        [],
    ):
        error_of(book(app, alice, bad), 422)
    not_json = script(app).post("/api/v1/me/reservations", data="x", headers=alice)
    error_of(not_json, 415)
    with app.extensions["polaris_db"].session() as s:
        mine = s.scalars(
            select(AuditEntry).where(AuditEntry.action == Action.reservation_created)
        ).all()
        assert all(e.subject_id != "NOPE" for e in mine)
