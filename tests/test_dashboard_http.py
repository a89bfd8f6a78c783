"""The dashboard's callbacks as an attacker would call them: whatever the browser sends, a
customer gets only the signed-in account's data."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.dashboard import (
    AVAILABLE_COUNT_ID,
    CHARGER_GRID_ID,
    NEXT_RESERVATION_BODY_ID,
    OPERATOR_CONTACT_ID,
    PERIOD_STORE_ID,
    PLAN_GAUGE_ID,
    RECENT_SESSIONS_ID,
    STATUS_TYPE,
    USAGE_CHART_ID,
    USAGE_TOTAL_ID,
)
from data.models import Role, Visibility
from tests.factories import grant_access, make_charger, make_operator, make_session
from tests.web import add_person, call_callback, make_app, sign_in

NOW = datetime.now(UTC)

RENDER_OUTPUTS = [
    (RECENT_SESSIONS_ID, "children"),
    (NEXT_RESERVATION_BODY_ID, "children"),
    (USAGE_TOTAL_ID, "children"),
    (USAGE_CHART_ID, "figure"),
    (PLAN_GAUGE_ID, "children"),
    (CHARGER_GRID_ID, "children"),
    (AVAILABLE_COUNT_ID, "children"),
    (OPERATOR_CONTACT_ID, "children"),
]


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path):
    path = tmp_path / "idor.db"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}")
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
def alice(app):
    client = app.test_client()
    assert sign_in(client, "alice@example.com").status_code == 302
    return client


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
    assert "77.7" not in body and "Bob Depot" not in body and "c-bob-depot" not in body


def test_status_refresh_reveals_nothing_for_a_forged_charger_id(app, alice):
    ids = ["c-street", "c-bob-depot", "c-alice-depot"]
    outputs = [
        [{"id": {"type": STATUS_TYPE, "charger": c}, "property": prop} for c in ids]
        for prop in ("children", "className")
    ] + [{"id": AVAILABLE_COUNT_ID, "property": "children"}]
    callbacks = app.extensions["polaris_dash"].callback_map
    output = next(key for key in callbacks if STATUS_TYPE in key)
    state = [
        [
            {"id": {"type": STATUS_TYPE, "charger": c}, "property": "children", "value": "?"}
            for c in ids
        ],
        [
            {"id": {"type": STATUS_TYPE, "charger": c}, "property": "className", "value": "?"}
            for c in ids
        ],
        {"id": AVAILABLE_COUNT_ID, "property": "children", "value": "?"},
    ]
    response = call_callback(
        alice,
        output,
        [{"id": "refresh-interval", "property": "n_intervals", "value": 3}],
        state=state,
        outputs=outputs,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    pills = response.get_json()["response"]
    texts = next(v["children"] for k, v in pills.items() if "c-bob-depot" in k)
    assert texts == "—"
    assert pills[next(k for k in pills if "c-alice-depot" in k)]["children"] == "Online"


def test_banner_shows_only_the_session_accounts_charging(app, alice):
    bob = app.test_client()
    sign_in(bob, "bob@example.com")
    outputs = [
        "active-session-banner.hidden",
        "banner-kwh.children",
        "banner-started.children",
        "banner-charger.children",
    ]
    inputs = [
        {"id": "refresh-interval", "property": "n_intervals", "value": 1},
        {"id": "url", "property": "pathname", "value": "/"},
    ]
    state = [
        {"id": "active-session-banner", "property": "hidden", "value": True},
        {"id": "banner-kwh", "property": "children", "value": ""},
        {"id": "banner-started", "property": "children", "value": ""},
        {"id": "banner-charger", "property": "children", "value": ""},
    ]
    spec = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outputs]
    output = ".." + "...".join(outputs) + ".."
    for_alice = call_callback(alice, output, inputs, state=state, outputs=spec)
    for_bob = call_callback(bob, output, inputs, state=state, outputs=spec)
    assert "77.7" not in for_alice.get_data(as_text=True)
    assert "77.7 kWh" in for_bob.get_data(as_text=True)
