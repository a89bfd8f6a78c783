"""No IDOR: every Dash callback, table-driven, as customer A forging customer B's ids.

The callbacks are an HTTP API that takes whatever JSON the browser sends. Customer A's session
sends B's account, session, reservation and charger ids in every Input, State and Store value
(strings, dicts, lists), in every callback of the app's callback map, and gets only A's data or
an error, never B's. The table below classifies every callback; one added to the app without
being classified here fails ``test_every_callback_is_classified``. Callbacks whose outputs are
admin components (id ``admin-...``) need no entry: a customer gets 403 from all of them.

B's data is recognisable: unique kWh figures, restricted chargers granted only to B, B's
reservation on a named charger, B's charging session in progress, B's plan and name.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dash
import pytest
from dash import ALL, Input, Output
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from data.core.models import Account, Role, Visibility
from tests.factories import (
    grant_access,
    make_charger,
    make_operator,
    make_plan,
    make_reservation,
    make_session,
)
from tests.web import add_person, dash_csrf, found_secrets, make_app, sign_in

NOW = datetime.now(UTC)
CALLBACK_URL = "/_dash-update-component"

ALICE_EMAIL = "alice@example.com"
ZEB_EMAIL = "zebulon@example.com"
ADMIN_EMAIL = "olga@example.com"

# What A may see of A's own data (and what the anonymous and layout tests look for).
A_SECRETS = ("11.1", "22.2", "Alice Depot", "Alice Commuter", ALICE_EMAIL, "acc-alice")
# B's data that A's requests never name: none of it may appear in any answer to A.
B_SECRETS = (
    "58.3",  # B's session in progress
    "49.6",  # B's finished session
    "Zeb Private Bay",  # a restricted charger granted only to B
    "Zeb Reserved Bay",  # the charger of B's reservation (restricted, B only)
    "Fleet Platinum",  # B's plan
    "4,321",  # B's allowance
    "Zebulon",  # B's display name
    ZEB_EMAIL,
)
# B's ids, which A forges into requests (they may be echoed back as A's own input, no more).
B_IDS = ("acc-zeb", "s-zeb-live", "s-zeb-1", "r-zeb-1", "c-zeb-private", "c-zeb-reserved")
B_CHARGERS = ("c-zeb-private", "c-zeb-reserved")
# Concrete values for pattern-matching ids (``{"charger": ALL}``): A's, public and B's.
PATTERN_IDS = ("c-street", "c-alice-depot", *B_IDS)

PAYLOADS: tuple[Any, ...] = (
    *B_IDS,
    {
        "account_id": "acc-zeb",
        "session_id": "s-zeb-live",
        "reservation_id": "r-zeb-1",
        "charger_id": "c-zeb-private",
    },
    {"account": "acc-zeb", "id": "acc-zeb", "user_id": 2, "period": "year"},
    list(B_IDS),
    [{"account_id": "acc-zeb"}, "year"],
    "/?account_id=acc-zeb&charger=c-zeb-private",
)

# --- The classification: every callback of the app, by its output (``@hash`` dropped) ----------

BANNER = (
    "..active-session-banner.hidden...banner-kwh.children"
    "...banner-started.children...banner-charger.children.."
)
MENU = "account-menu.children"
RENDER = (
    "..recent-sessions-data.data...next-reservation-body.children...usage-total.children"
    "...usage-chart.figure...plan-gauge.children...charger-grid-data.data"
    "...available-count.children...operator-contact.children...charger-status-shown.data.."
)
STATUSES = "..charger-status-data.data...charger-status-shown.data.."
ROUTER = ".._pages_content.children..._pages_store.data.."
RECENT = "recent-sessions-data.data"

# Callbacks a customer reaches, with A's own data that a plain request must show (so that a
# probe answering with nothing at all cannot pass for "no leak").
CUSTOMER_CALLBACKS: dict[str, tuple[str, ...]] = {
    BANNER: ("22.2 kWh", "Alice Depot"),
    MENU: ("Alice",),
    "switch-accounts.children": ("acc-alice",),
    RENDER: ("11.1 kWh", "Alice Depot", "Alice Commuter", "Street Charger"),
    STATUSES: ("In use",),
    RECENT: ("11.1 kWh", "Alice Depot"),
    ROUTER: (),  # page layouts are static skeletons: no data to own
}
# Clientside callbacks: no server function, so the endpoint must refuse them (400).
CLIENTSIDE_CALLBACKS = frozenset(
    {
        "_pages_dummy.children",
        '..{"charger":["ALL"],"type":"charger-status"}.children'
        '...{"charger":["ALL"],"type":"charger-status"}.className'
        "...available-count.children..",
        "..recent-banner-seen.data...recent-refresh.data..",
        "charger-grid.children",
        "recent-sessions.children",
        "admin-charger-sessions-note.title",  # the charger's grid asks again after a resolve
    }
)

LABELS = {
    BANNER: "banner",
    MENU: "menu",
    RENDER: "dashboard",
    STATUSES: "statuses",
    ROUTER: "router",
    RECENT: "recent",
}
CUSTOMER_NAMES = sorted(CUSTOMER_CALLBACKS)
ADMIN_PREFIX = "admin-"
NEUTRAL_INPUTS = {"pathname": "/", "search": "", "n_intervals": 1, "data": "current"}
SHOWN = "?"  # a State value no output ever equals, so every output is sent back


def label(name: str) -> str:
    return LABELS.get(name, name)


def callback_name(key: str) -> str:
    """The callback map key without ``allow_duplicate`` hashes."""
    return re.sub(r"@[0-9a-f]{16,}", "", key)


def callback_key(app: Flask, name: str) -> str:
    keys = [k for k in callback_map(app) if callback_name(k) == name]
    assert len(keys) == 1, f"{name!r} is not one callback of the map"
    return keys[0]


def callback_map(app: Flask) -> dict[str, Any]:
    return app.extensions["polaris_dash"].callback_map


def output_ids(callback: dict[str, Any]) -> list[Any]:
    declared = callback["output"]
    outputs = declared if isinstance(declared, list | tuple) else [declared]
    return [o.component_id for o in outputs]


def is_admin_callback(callback: dict[str, Any]) -> bool:
    """An admin callback: any output id (or pattern-id value) starts with ``admin-``."""
    for ident in output_ids(callback):
        names = ident.values() if isinstance(ident, dict) else [ident]
        if any(isinstance(n, str) and n.startswith(ADMIN_PREFIX) for n in names):
            return True
    return False


# --- Building requests the way the renderer does -----------------------------------------------


def _is_wildcard(value: Any) -> bool:
    return (
        isinstance(value, list) and len(value) == 1 and value[0] in ("ALL", "MATCH", "ALLSMALLER")
    )


def dependency(spec_id: str, prop: str, value: Any, *, with_value: bool = True) -> Any:
    """One Input/State/Output entry; a list of entries for a pattern-matching ``ALL`` id."""

    def entry(ident: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"id": ident, "property": prop}
        if with_value:
            item["value"] = value
        return item

    if not spec_id.startswith("{"):
        return entry(spec_id)
    pattern = json.loads(spec_id)
    concrete = [
        {k: (pid if _is_wildcard(v) else v) for k, v in pattern.items()} for pid in PATTERN_IDS
    ]
    if any(v == ["MATCH"] for v in pattern.values()):
        return entry(concrete[0])
    return [entry(ident) for ident in concrete]


def callback_body(app: Flask, key: str) -> dict[str, Any]:
    """A well-formed request for callback ``key`` with neutral values."""
    cb = callback_map(app)[key]
    inputs = [
        dependency(i["id"], i["property"], NEUTRAL_INPUTS.get(i["property"])) for i in cb["inputs"]
    ]
    state = [dependency(s["id"], s["property"], SHOWN) for s in cb["state"]]
    declared = cb["output"]
    outputs = [
        dependency(o.component_id_str(), o.component_property, None, with_value=False)
        for o in (declared if isinstance(declared, list | tuple) else [declared])
    ]
    first = cb["inputs"][0] if cb["inputs"] else None
    changed = (
        []
        if first is None or first["id"].startswith("{")
        else [f"{first['id']}.{first['property']}"]
    )
    return {
        "output": key,
        "outputs": outputs if isinstance(declared, list | tuple) else outputs[0],
        "inputs": inputs,
        "state": state,
        "changedPropIds": changed,
    }


def positions(body: dict[str, Any]) -> list[tuple[str, int]]:
    return [("inputs", i) for i in range(len(body["inputs"]))] + [
        ("state", i) for i in range(len(body["state"]))
    ]


def forged(body: dict[str, Any], where: list[tuple[str, int]], payload: Any) -> dict[str, Any]:
    """``body`` with ``payload`` as the value of every entry at ``where``."""
    out = copy.deepcopy(body)
    for key, index in where:
        entries = out[key][index]
        for item in entries if isinstance(entries, list) else [entries]:
            item["value"] = copy.deepcopy(payload)
    return out


def post(client: FlaskClient, body: Any, *, csrf: bool = True) -> TestResponse:
    headers = {"X-CSRFToken": dash_csrf(client)} if csrf else {}
    return client.post(
        CALLBACK_URL, data=json.dumps(body), content_type="application/json", headers=headers
    )


def leaks(text: str, secrets: tuple[str, ...] = B_SECRETS) -> list[str]:
    return found_secrets(text, secrets)


# --- Two customers with recognisable data -------------------------------------------------------


def seed_two_customers(app: Flask) -> None:
    """A (Alice) and B (Zebulon), each with chargers, sessions, a reservation and a plan; and an
    operator (Olga) with an admin account."""
    add_person(app, ALICE_EMAIL, ("acc-alice", Role.customer, None))
    add_person(app, ZEB_EMAIL, ("acc-zeb", Role.customer, None))
    add_person(app, ADMIN_EMAIL, ("acc-olga-admin", Role.admin, "Operations"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        alice_plan = make_plan(s, plan_id="plan-alice", name="Alice Commuter", allowance_kwh="150")
        zeb_plan = make_plan(s, plan_id="plan-zeb", name="Fleet Platinum", allowance_kwh="4321")
        s.get(Account, "acc-alice").plan_id = alice_plan.id  # type: ignore[union-attr]
        s.get(Account, "acc-zeb").plan_id = zeb_plan.id  # type: ignore[union-attr]
        street = make_charger(
            s, charger_id="c-street", friendly_name="Street Charger", last_seen_at=NOW
        )
        restricted = {"visibility": Visibility.restricted, "last_seen_at": NOW}
        alice_depot = make_charger(
            s, charger_id="c-alice-depot", friendly_name="Alice Depot", **restricted
        )
        zeb_private = make_charger(
            s, charger_id="c-zeb-private", friendly_name="Zeb Private Bay", **restricted
        )
        zeb_reserved = make_charger(
            s, charger_id="c-zeb-reserved", friendly_name="Zeb Reserved Bay", **restricted
        )
        grant_access(s, "acc-alice", alice_depot)
        grant_access(s, "acc-zeb", zeb_private)
        grant_access(s, "acc-zeb", zeb_reserved)
        make_session(
            s,
            "acc-alice",
            street,
            session_id="s-alice-1",
            started_at=NOW - timedelta(hours=3),
            ended_at=NOW - timedelta(hours=2),
            energy_kwh="11.1",
        )
        make_session(
            s,
            "acc-alice",
            alice_depot,
            session_id="s-alice-live",
            started_at=NOW - timedelta(minutes=20),
            energy_kwh="22.2",
        )
        make_reservation(
            s,
            "acc-alice",
            street,
            reservation_id="r-alice-1",
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=1),
        )
        make_session(
            s,
            "acc-zeb",
            zeb_private,
            session_id="s-zeb-1",
            started_at=NOW - timedelta(hours=5),
            ended_at=NOW - timedelta(hours=4),
            energy_kwh="49.6",
        )
        make_session(
            s,
            "acc-zeb",
            zeb_private,
            session_id="s-zeb-live",
            started_at=NOW - timedelta(minutes=10),
            energy_kwh="58.3",
        )
        make_reservation(
            s,
            "acc-zeb",
            zeb_reserved,
            reservation_id="r-zeb-1",
            starts_at=NOW + timedelta(hours=2),
            ends_at=NOW + timedelta(hours=3),
        )


def build_app(
    directory: Path,
    template: Path,
    setup: Callable[[Flask], None] | None = None,
    **overrides: Any,
) -> Flask:
    """A seeded app whose callback map holds every page callback; ``setup`` runs first (Flask
    takes new routes only until the first request)."""
    path = directory / "idor.db"
    shutil.copy(template, path)
    app = make_app(f"sqlite:///{path}", **overrides)
    if setup is not None:
        setup(app)
    # Dash copies the page callbacks into the app on its first request (create_app runs that
    # setup itself; a request makes sure of it whatever create_app does).
    app.test_client().get("/healthz")
    seed_two_customers(app)
    return app


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Flask:
    return build_app(tmp_path_factory.mktemp("idor"), sqlite_template, PROPAGATE_EXCEPTIONS=False)


@pytest.fixture(scope="module")
def alice(app: Flask) -> FlaskClient:
    return signed_in(app, ALICE_EMAIL)


@pytest.fixture(scope="module")
def anonymous(app: Flask) -> FlaskClient:
    return app.test_client()


# --- The table covers the map -------------------------------------------------------------------


def test_every_callback_is_classified(app: Flask) -> None:
    names = {callback_name(k): cb for k, cb in callback_map(app).items()}
    unclassified = sorted(
        name
        for name, cb in names.items()
        if name not in CUSTOMER_CALLBACKS
        and name not in CLIENTSIDE_CALLBACKS
        and not is_admin_callback(cb)
    )
    assert not unclassified, (
        "new callbacks: classify them in tests/test_idor.py (CUSTOMER_CALLBACKS with the data "
        f"a customer must see, or name their outputs admin-...): {unclassified}"
    )
    stale = sorted(set(CUSTOMER_CALLBACKS) - set(names))
    assert not stale, f"callbacks in the table but not in the app: {stale}"
    for name in CLIENTSIDE_CALLBACKS:
        assert "callback" not in names[name], f"{name} runs on the server: classify it"


@pytest.mark.parametrize("name", CUSTOMER_NAMES, ids=label)
def test_plain_request_shows_own_data_only(app: Flask, alice: FlaskClient, name: str) -> None:
    response = post(alice, callback_body(app, callback_key(app, name)))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = response.get_data(as_text=True)
    assert not leaks(text)
    missing = [m for m in CUSTOMER_CALLBACKS[name] if m not in text]
    assert not missing, f"{name}: A's own data missing: {missing}"


@pytest.mark.parametrize("name", CUSTOMER_NAMES, ids=label)
def test_b_ids_in_every_value_get_only_a_data_or_an_error(
    app: Flask, alice: FlaskClient, name: str
) -> None:
    body = callback_body(app, callback_key(app, name))
    where_all = positions(body)
    probes = [[p] for p in where_all] + [where_all]  # each value alone, then all at once
    failures = []
    for where in probes:
        for payload in PAYLOADS:
            response = post(alice, forged(body, where, payload))
            text = response.get_data(as_text=True)
            label = f"{where} = {payload!r}: {response.status_code}"
            if response.status_code not in (200, 204, 400, 403):
                failures.append(f"{label} (unexpected status)")
            if leaked := leaks(text):
                failures.append(f"{label} leaked {leaked}")
            if response.status_code == 200:
                missing = [m for m in CUSTOMER_CALLBACKS[name] if m not in text]
                if missing:
                    failures.append(f"{label} lost A's own data {missing}")
    assert not failures, "\n".join(failures)


def test_status_refresh_says_nothing_about_b_chargers(app: Flask, alice: FlaskClient) -> None:
    render = post(alice, callback_body(app, callback_key(app, RENDER))).get_json()
    own_count = render["response"]["available-count"]["children"]
    body = callback_body(app, callback_key(app, STATUSES))
    for payload in PAYLOADS:  # in the only value the request carries: the digest
        response = post(alice, forged(body, positions(body), payload))
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        data = response.get_json()["response"]["charger-status-data"]["data"]
        assert not set(data["pills"]) & set(B_IDS), payload  # B's chargers: never named
        assert data["pills"]["c-alice-depot"][0] == "In use"  # A's own session
        assert data["pills"]["c-street"][0] == "Online"
        assert data["available"] == own_count  # B's chargers are not counted either


def test_clientside_callbacks_cannot_be_called(app: Flask, alice: FlaskClient) -> None:
    for name in CLIENTSIDE_CALLBACKS:
        response = post(alice, callback_body(app, callback_key(app, name)))
        assert response.status_code == 400, name
        assert "Traceback" not in response.get_data(as_text=True)


# --- Admin callbacks: 403 for a customer, whichever they are -------------------------------------


def admin_callback_keys(app: Flask) -> list[str]:
    """The admin callbacks that run on the server (a browser-only one answers 400 to anybody:
    ``test_clientside_callbacks_cannot_be_called``)."""
    return [k for k, cb in callback_map(app).items() if is_admin_callback(cb) and "callback" in cb]


def assert_admin_callbacks_refuse(app: Flask, customer: FlaskClient) -> int:
    """Every admin callback of the map answers 403 and no data to ``customer``; returns how
    many there are."""
    keys = admin_callback_keys(app)
    for key in keys:
        body = callback_body(app, key)
        for request_body in (body, forged(body, positions(body), "acc-olga-admin")):
            response = post(customer, request_body)
            assert response.status_code == 403, (key, response.status_code)
            assert "ADMIN-SECRET" not in response.get_data(as_text=True)
    return len(keys)


def test_customer_gets_403_from_every_admin_callback(app: Flask, alice: FlaskClient) -> None:
    # None exist yet; as admin pages land, every one of their callbacks is checked here.
    assert_admin_callbacks_refuse(app, alice)


def test_admin_rule_covers_callbacks_added_later(tmp_path: Path, sqlite_template: Path) -> None:
    """A new admin callback (plain or pattern-matching id) is refused to customers with no
    further code: the rule is the ``admin-`` output id, enforced on the server."""
    app = build_app(tmp_path, sqlite_template, PROPAGATE_EXCEPTIONS=False)
    dash_app = app.extensions["polaris_dash"]
    existing = set(admin_callback_keys(app))

    @dash_app.callback(Output("admin-probe", "children"), Input("admin-probe-go", "n_clicks"))
    def _probe(_n: Any) -> str:
        return "ADMIN-SECRET"

    @dash_app.callback(
        Output({"type": "admin-row", "index": ALL}, "children"),
        Input("admin-rows-go", "n_clicks"),
    )
    def _rows(_n: Any) -> list[str]:
        return ["ADMIN-SECRET" for _ in dash.ctx.outputs_list]

    alice = signed_in(app, ALICE_EMAIL)
    assert assert_admin_callbacks_refuse(app, alice) == len(existing) + 2
    olga = signed_in(app, ADMIN_EMAIL)
    for key in set(admin_callback_keys(app)) - existing:
        response = post(olga, callback_body(app, key))
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert "ADMIN-SECRET" in response.get_data(as_text=True)
    # The anonymous and the relabelled requests get nothing either.
    key = callback_key(app, "admin-probe.children")
    assert post(app.test_client(), callback_body(app, key), csrf=False).status_code == 401
    relabelled = callback_body(app, key)
    relabelled["inputs"][0] = {"id": "url", "property": "pathname", "value": "/admin"}
    assert post(alice, relabelled).status_code in (400, 403)


def test_customer_asking_the_router_for_admin_pages_gets_the_notice(
    app: Flask, alice: FlaskClient
) -> None:
    """The page router renders a layout for whatever pathname it is sent; for a customer every
    ``/admin`` page must come out as the "for operators" notice (the page guard is not asked)."""
    admin_paths = [p["path"] for p in dash.page_registry.values() if p["path"].startswith("/admin")]
    assert admin_paths
    olga = signed_in(app, ADMIN_EMAIL)
    key = callback_key(app, ROUTER)
    for path in admin_paths:
        body = callback_body(app, key)
        body["inputs"][0]["value"] = path
        as_customer = post(alice, body)
        assert as_customer.status_code == 200
        assert "This page is for operators" in as_customer.get_data(as_text=True), path
        as_admin = post(olga, body)
        assert "This page is for operators" not in as_admin.get_data(as_text=True), path


# --- Relabelled as ``pathname``: the dash-auth bypass -------------------------------------------


def relabelled_variants(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``body`` with an input posing as the URL pathname, as dash-auth was once fooled."""
    variants: dict[str, dict[str, Any]] = {}
    for ident in ("url", "_pages_location"):
        for path in ("/login", "/healthz", "/assets/x.css"):
            pathname = {"id": ident, "property": "pathname", "value": path}
            first = copy.deepcopy(body)
            first["inputs"][0] = pathname
            first["changedPropIds"] = [f"{ident}.pathname"]
            variants[f"inputs[0] is {ident}.pathname={path}"] = first
            extra = copy.deepcopy(body)
            extra["inputs"].append(pathname)
            variants[f"{ident}.pathname={path} appended"] = extra
        changed = copy.deepcopy(body)
        changed["changedPropIds"] = [f"{ident}.pathname"]
        variants[f"changedPropIds names {ident}.pathname"] = changed
    return variants


@pytest.mark.parametrize("name", CUSTOMER_NAMES + sorted(CLIENTSIDE_CALLBACKS), ids=label)
def test_pathname_relabel_gets_anonymous_nothing(
    app: Flask, anonymous: FlaskClient, name: str
) -> None:
    body = callback_body(app, callback_key(app, name))
    for label, variant in relabelled_variants(body).items():
        response = post(anonymous, variant, csrf=False)
        assert response.status_code == 401, label
        text = response.get_data(as_text=True)
        assert not leaks(text, A_SECRETS + B_SECRETS), label


@pytest.mark.parametrize("name", CUSTOMER_NAMES, ids=label)
def test_pathname_relabel_gets_a_only_own_data(app: Flask, alice: FlaskClient, name: str) -> None:
    body = callback_body(app, callback_key(app, name))
    for label, variant in relabelled_variants(body).items():
        response = post(alice, variant)
        text = response.get_data(as_text=True)
        assert response.status_code in (200, 204, 400), (label, response.status_code)
        assert not leaks(text), label
        if response.status_code == 200:
            assert all(m in text for m in CUSTOMER_CALLBACKS[name]), label


def test_a_number_secret_counts_only_as_a_whole_number() -> None:
    """CI once failed because an asset's cache-busting mtime held "11.1"."""
    assert found_secrets('"11.1 kWh"', ("11.1",)) == ["11.1"]
    assert found_secrets('{"y":[11.1,22.2]}', ("11.1", "22.2")) == ["11.1", "22.2"]
    assert found_secrets("11.10 kWh", ("11.1",)) == ["11.1"]  # the same value, padded
    assert found_secrets("4,321 kWh", ("4,321",)) == ["4,321"]
    assert not found_secrets("/assets/app.js?m=1764611111.123", ("11.1",))
    assert not found_secrets("10:58:31.412 and 111.1 and 11.12", ("11.1", "58.3", "31.4"))
