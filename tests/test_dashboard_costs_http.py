"""What a driver pays, on the dashboard, over HTTP (the Flask test client; SQLite and
PostgreSQL): each charger card's price, the Active session banner's cost so far, Recent
activity's costs with their receipts and the plan's tariff, for the signed-in account only
(anonymous: nothing; another account's prices and costs: never), the banner agreeing with
``live_cost`` and Recent activity with the receipt, and no SQL statement added for them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bench.run import counting_statements
from components.dashboard import (
    CHARGER_DATA_ID,
    NO_TARIFF_TEXT,
    PERIOD_STORE_ID,
    PLAN_GAUGE_ID,
    RECENT_DATA_ID,
    RECENT_REFRESH_ID,
    USAGE_TOTAL_ID,
)
from components.format import format_money
from components.shell import BANNER_COST_ID, cost_so_far_text
from data.core.models import Account, ChargingSession, Role, Visibility
from data.pricing.receipts import receipt
from data.pricing.tariffs import (
    create_tariff_version,
    live_cost,
    price_session,
    set_default_tariff,
    set_plan_tariff,
)
from tests.support.audit import AT, CLI
from tests.support.callbacks import BANNER, RENDER, RENDER_OUTPUTS, call, callback_key, outputs_of
from tests.support.factories import (
    grant_access,
    make_charger,
    make_operator,
    make_plan,
    make_session,
)
from tests.support.web import AppFactory, add_person, client_for, found_secrets

NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
# Alice's (Commuter): 12.4 kWh x 0.39 + 0.50 so far (40 min: inside the 4 free hours); her
# finished DC session 10 kWh x 0.52 + 0.50.
ALICE_SO_FAR, ALICE_FINISHED = "€5.34 so far", "€5.70"
ALICE_PRICES = ("€0.39/kWh", "€0.52/kWh", "Commuter")
# Bob's (Fleet Gold, 0.77 a kWh and 0.66 a session), which Alice's answers never show.
BOB_SECRETS = ("0.77", "0.88", "0.66", "38.85", "45.55", "Fleet Gold", "s-bob", "Bob Depot")


def _tariff(s: Any, tariff_id: str, name: str, energy: str, dc: str, fee: str) -> None:
    create_tariff_version(
        s,
        tariff_id=tariff_id,
        valid_from=NOW - timedelta(days=30),
        name=name,
        energy_price_per_kwh=energy,
        dc_energy_price_per_kwh=dc,
        session_fee=fee,
        time_price_per_hour="1.20",
        time_free_minutes="240",
        vat_percent="19",
    )


@pytest.fixture
def app(app_factory: AppFactory, database_url: str) -> Flask:
    """Alice (plan Commuter 250, tariff Commuter), Bob (plan Fleet, tariff Fleet Gold) and
    Carol (no plan: the default tariff Ad hoc), each charging now; a kerb charger (22 kW) and a
    hub (150 kW) for everyone, Bob's depot for Bob."""
    app = app_factory(database_url)
    add_person(app, ALICE, ("acc-alice", Role.customer, None))
    add_person(app, BOB, ("acc-bob", Role.customer, None))
    add_person(app, CAROL, ("acc-carol", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        _tariff(s, "COMMUTER", "Commuter", "0.39", "0.52", "0.50")
        _tariff(s, "GOLD", "Fleet Gold", "0.77", "0.88", "0.66")
        _tariff(s, "ADHOC", "Ad hoc", "0.59", "0.69", "0.50")
        make_plan(s, plan_id="plan-commuter", name="Commuter 250")
        make_plan(s, plan_id="plan-fleet", name="Fleet")
        set_plan_tariff(s, "plan-commuter", "COMMUTER", actor=CLI, now=AT)
        set_plan_tariff(s, "plan-fleet", "GOLD", actor=CLI, now=AT)
        set_default_tariff(s, "ADHOC", actor=CLI, now=AT)
        for account_id, plan_id in (("acc-alice", "plan-commuter"), ("acc-bob", "plan-fleet")):
            account = s.get(Account, account_id)
            assert account is not None
            account.plan_id = plan_id
        kerb = make_charger(s, charger_id="c-kerb", friendly_name="Kerb", max_power_kw="22",
                            last_seen_at=NOW)  # fmt: skip
        hub = make_charger(s, charger_id="c-hub", friendly_name="Hub", max_power_kw="150",
                           last_seen_at=NOW)  # fmt: skip
        depot = make_charger(s, charger_id="c-bob-depot", friendly_name="Bob Depot",
                             visibility=Visibility.restricted, max_power_kw="22",
                             last_seen_at=NOW)  # fmt: skip
        grant_access(s, "acc-bob", depot)
        yesterday = NOW - 24 * HOUR
        make_session(s, "acc-alice", hub, session_id="s-alice-done", started_at=yesterday,
                     ended_at=yesterday + HOUR, energy_kwh="10")  # fmt: skip
        make_session(s, "acc-alice", kerb, session_id="s-alice-live",
                     started_at=NOW - 40 * timedelta(minutes=1), energy_kwh="12.4")  # fmt: skip
        make_session(s, "acc-bob", depot, session_id="s-bob-done", started_at=yesterday,
                     ended_at=yesterday + HOUR, energy_kwh="49.6")  # fmt: skip
        make_session(s, "acc-bob", depot, session_id="s-bob-live",
                     started_at=NOW - 10 * timedelta(minutes=1), energy_kwh="58.3")  # fmt: skip
        make_session(s, "acc-carol", hub, session_id="s-carol-live",
                     started_at=NOW - 20 * timedelta(minutes=1), energy_kwh="3")  # fmt: skip
        for sid in ("s-alice-done", "s-bob-done"):
            assert price_session(s, sid) is not None  # as StopTransaction prices them
    return app


@pytest.fixture
def alice(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for(ALICE)


def _text(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)  # "€", not "\\u20ac"


def _render(client: FlaskClient, period: object = "current") -> Any:
    return call(
        client,
        RENDER,
        [{"id": PERIOD_STORE_ID, "property": "data", "value": period}],
        outputs=[{"id": i, "property": p} for i, p in RENDER_OUTPUTS],
    )


def _banner(client: FlaskClient) -> Any:
    inputs = [{"id": "banner-tick", "property": "data", "value": 1}]
    shown = [{**o, "value": "?"} for o in outputs_of(BANNER)]  # nothing equal: all sent
    return call(client, BANNER, inputs, state=shown)


def _recent(client: FlaskClient, app: Flask) -> Any:
    """Recent activity asked again, as recentGate does when the banner changes."""
    return call(
        client,
        callback_key(app, f"{RECENT_DATA_ID}.data"),
        [{"id": RECENT_REFRESH_ID, "property": "data", "value": 1}],
        outputs=[{"id": RECENT_DATA_ID, "property": "data"}],
    )


def _items(response: Any) -> dict[str, dict[str, Any]]:
    """Recent activity's rows by the charger and the end they show."""
    answer = response.get_json()["response"][RECENT_DATA_ID]["data"]
    return {f"{i['charger']} {i['end']}": i for i in answer["items"]}


def _banner_cost(client: FlaskClient) -> str:
    return str(_banner(client).get_json()["response"][BANNER_COST_ID]["children"])


@pytest.mark.parametrize("period", ["current", "acc-bob", {"account_id": "acc-bob"}, None])
def test_the_render_shows_the_accounts_prices_and_costs_only(alice, period):
    response = _render(alice, period)
    body = _text(response)
    answer = response.get_json()["response"]
    grid = answer[CHARGER_DATA_ID]["data"]
    prices = {
        card["name"]: grid["price_separator"].join(grid["prices"][card["price"]])
        for card in grid["cards"]
    }
    assert prices == {
        "Hub": "€0.52/kWh\u00a0· €1.20/h after 4 h\u00a0· €0.50 per session",  # 150 kW: DC
        "Kerb": "€0.39/kWh\u00a0· €1.20/h after 4 h\u00a0· €0.50 per session",
    }
    items = _items(response)
    assert items["Kerb In progress"]["cost"] == ALICE_SO_FAR
    done = next(i for i in items.values() if i["charger"] == "Hub")
    assert (done["cost"], done["receipt"]) == (ALICE_FINISHED, "/receipts/s-alice-done")
    plan = json.dumps(answer[PLAN_GAUGE_ID]["children"], ensure_ascii=False)
    assert "Commuter" in plan and "VAT 19 %" in plan
    assert not found_secrets(body, BOB_SECRETS)


def test_an_account_without_a_plan_is_shown_the_default_tariff(client_for):
    response = _render(client_for(CAROL))
    answer = response.get_json()["response"]
    plan = json.dumps(answer[PLAN_GAUGE_ID]["children"], ensure_ascii=False)
    assert "No plan on this account." in plan and "Ad hoc" in plan
    grid = answer[CHARGER_DATA_ID]["data"]
    assert [p[0] for p in grid["prices"]] == ["€0.69/kWh", "€0.59/kWh"]  # Hub, then Kerb
    assert not found_secrets(_text(response), BOB_SECRETS)


def test_the_banner_and_recent_activity_are_the_accounts_own(app, alice):
    assert _banner_cost(alice) == ALICE_SO_FAR
    assert not found_secrets(_text(_banner(alice)), BOB_SECRETS)
    recent = _recent(alice, app)
    assert _items(recent)["Kerb In progress"]["cost"] == ALICE_SO_FAR
    assert not found_secrets(_text(recent), BOB_SECRETS)
    assert _banner_cost(client_for(app, BOB)) == "€45.55 so far"  # 58.3 x 0.77 + 0.66


def test_anonymous_people_get_nothing(app, client):
    for response in (_render(client), _banner(client), _recent(client, app)):
        assert response.status_code == 401
        assert "€" not in response.get_data(as_text=True)


def test_banner_is_live_cost_and_recent_activity_the_receipt_of_the_same_session(app, alice):
    """While it charges, the banner's cost is ``live_cost``'s and Recent activity's row says
    the same; once finalized (priced as StopTransaction prices it) the row shows the stored
    cost, the receipt's total, and links to that receipt."""
    db = app.extensions["polaris_db"]
    with db.session() as s:
        so_far = live_cost(s, "s-alice-live", datetime.now(UTC))
    assert _banner_cost(alice) == cost_so_far_text(so_far) == ALICE_SO_FAR
    assert _items(_recent(alice, app))["Kerb In progress"]["cost"] == cost_so_far_text(so_far)

    with db.session() as s:
        row = s.get(ChargingSession, "s-alice-live")
        assert row is not None
        row.ended_at, row.energy_kwh, row.finalized = NOW, Decimal("13.1"), True
        s.flush()
        assert price_session(s, "s-alice-live") is not None
    with db.session() as s:
        found = receipt(s, "s-alice-live", "acc-alice")
    assert found is not None and found.cost is not None
    (item,) = [i for i in _items(_recent(alice, app)).values() if i["charger"] == "Kerb"]
    assert item["cost"] == format_money(found.cost.total, found.cost.currency) == "€5.61"
    assert item["receipt"] == "/receipts/s-alice-live"
    # The receipt page shows that total for that session.
    store = [{"id": "receipt-session", "property": "data", "value": "s-alice-live"}]
    page = call(alice, "receipt-body.children", store)
    assert "€5.61" in _text(page)
    assert _banner_cost(alice) == ""  # nothing in progress: the banner hides, no cost


def test_the_banners_cost_adds_no_sql_statement(app, alice):
    """A tick of the banner with a priced session in progress asks what it asks without one:
    the cost comes in the statement that finds the session."""
    carol_without_session = client_for(app, CAROL)
    with app.extensions["polaris_db"].session() as s:
        row = s.get(ChargingSession, "s-carol-live")
        assert row is not None
        row.ended_at = NOW
    statements = {}
    for name, client in (("charging", alice), ("idle", carol_without_session)):
        _banner(client)  # the first: nothing cached yet
        with counting_statements(app) as seen:
            cost = _banner_cost(client)
        statements[name] = (len(seen), cost)
    assert statements["charging"][1] == ALICE_SO_FAR and statements["idle"][1] == ""
    assert statements["charging"][0] == statements["idle"][0]


def test_without_a_tariff_the_cards_have_no_price(app, alice):
    with app.extensions["polaris_db"].session() as s:
        set_plan_tariff(s, "plan-commuter", None, actor=CLI, now=AT)
        set_default_tariff(s, None, actor=CLI, now=AT)
    response = _render(alice)
    answer = response.get_json()["response"]
    assert answer[CHARGER_DATA_ID]["data"]["prices"] == []
    assert {card["price"] for card in answer[CHARGER_DATA_ID]["data"]["cards"]} == {None}
    plan = json.dumps(answer[PLAN_GAUGE_ID]["children"], ensure_ascii=False)
    assert NO_TARIFF_TEXT in plan
    # Stored costs stay (the finished session's); the one in progress has none so far.
    items = _items(response)
    assert items["Kerb In progress"]["cost"] == "" and ALICE_FINISHED in _text(response)
    assert _banner_cost(alice) == ""


def _usage_cost(client: FlaskClient) -> str:
    """The usage section's ``· €x`` (the period's cost) from a render."""
    total = _render(client).get_json()["response"][USAGE_TOTAL_ID]["children"]
    (cost,) = [c for c in total["props"]["children"] if "usage-total-cost" in str(c)]
    return str(cost["props"]["children"]).removeprefix(" · ")


def test_the_period_cost_counts_the_session_in_progress_as_the_banner_does(app, alice):
    """The usage section's cost is the stored costs plus the banner's cost so far, which the
    render takes from Recent activity's row: a session in progress costs no statement more."""
    db = app.extensions["polaris_db"]
    with db.session() as s:
        done = s.get(ChargingSession, "s-alice-done")
        assert done is not None and done.cost_total is not None
        so_far = live_cost(s, "s-alice-live", datetime.now(UTC))
        assert so_far is not None
        stored = done.cost_total
    _render(alice)  # the first: nothing cached yet
    with counting_statements(app) as charging:
        shown = _usage_cost(alice)
    assert shown == format_money(stored + so_far.total, "EUR")
    assert _banner_cost(alice) == cost_so_far_text(so_far)

    with db.session() as s:  # it ended and was priced: its stored cost, no cost so far
        row = s.get(ChargingSession, "s-alice-live")
        assert row is not None
        row.ended_at, row.finalized = NOW, True
        s.flush()
        priced = price_session(s, "s-alice-live")
        assert priced is not None
    with counting_statements(app) as idle:
        assert _usage_cost(alice) == format_money(stored + priced.total, "EUR")
    assert len(charging) == len(idle)
