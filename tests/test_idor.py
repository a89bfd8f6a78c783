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
from typing import Any

import dash
import pytest
from dash import ALL, Input, Output
from flask import Flask
from flask.testing import FlaskClient

from tests.support.callbacks import (
    BANNER,
    RENDER,
    ROUTER,
    TICK,
    callback_body,
    callback_key,
    callback_map,
    callback_name,
    output_ids,
    post,
)
from tests.support.two_customers import (
    A_SECRETS,
    ADMIN_EMAIL,
    ALICE_EMAIL,
    B_IDS,
    B_SECRETS,
    build_app,
    leaks,
)
from tests.support.web import AppFactory, client_for, found_secrets

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

MENU = "account-menu.children"
RECENT = "recent-sessions-data.data"
ASK = "..driver-command.data...driver-command-poll.disabled.."
FOLLOW = "..driver-command.data...driver-command-poll.disabled...refresh-interval.n_intervals.."
REPORT_OPEN = (
    "..report-problem-dialog.is_open...report-problem-charger.data...report-problem-title.children"
    "...report-problem-kind.value...report-problem-text.value...report-problem-outcome.children"
    "...report-problem-send.disabled.."
)
REPORT_SEND = "..report-problem-outcome.children...report-problem-send.disabled.."
# My account (/account): the person's own profile, cards and tokens; its writes act only when a
# button names them (tests/test_account_http.py forges card and token ids one by one).
ACCOUNT_PROFILE = (
    "..account-email.children...account-display-name.value...account-notifications-box.children.."
)
ACCOUNT_WRITES = (
    "..account-display-name-feedback.children...account-display-name.value"
    "...account-display-name.invalid..",
    "account-notifications-feedback.children",
    "..account-password-feedback.children...account-password-current.value"
    "...account-password-new.value...account-password-current-error.children"
    "...account-password-new-error.children...account-password-current.invalid"
    "...account-password-new.invalid..",
    "..account-cards-feedback.children...account-cards-version.data..",
    "..account-token-created.children...account-token-name.value...account-tokens-version.data..",
    "account-token-created.children",
    "..account-tokens-feedback.children...account-tokens-version.data..",
)
# All my sessions (/sessions): the account's own sessions only; the view and the rows read the
# account from the session (tests/test_my_sessions_http.py forges the filters one by one).
HISTORY_VIEW = (
    "..history-from.value...history-to.value...history-charger.options...history-charger.value"
    "...history-note.children...history-results.children.."
)
HISTORY_ROWS = (
    '..{"n":["MATCH"],"type":"history-grid","view":["MATCH"]}.getRowsResponse'
    '...{"n":["MATCH"],"type":"history-totals","view":["MATCH"]}.children'
    '...{"n":["MATCH"],"type":"history-count","view":["MATCH"]}.data..'
)
HISTORY_APPLY = "..history-location.search...history-query.data.."
BOOK_OPEN = (
    "..book-dialog.is_open...book-dialog-charger.data...book-dialog-title.children"
    "...book-date.value...book-date.min...book-date.max...book-time.value...book-length.options"
    "...book-length.value...book-rules.children...book-outcome.children...book-submit.disabled.."
)
BOOK_SEND = (
    "..book-outcome.children...book-dialog.is_open...next-reservation-body.children"
    "...next-reservation-watch.data...booking-notice.children.."
)
BOOK_CANCEL = (
    "..next-reservation-body.children...next-reservation-watch.data...booking-notice.children.."
)
FAVOURITE = "..charger-grid-data.data...available-count.children...charger-status-shown.data.."

# Callbacks a customer reaches, with A's own data that a plain request must show (so that a
# probe answering with nothing at all cannot pass for "no leak").
CUSTOMER_CALLBACKS: dict[str, tuple[str, ...]] = {
    BANNER: ("22.2 kWh", "Alice Depot"),
    MENU: ("Alice",),
    "switch-accounts.children": ("acc-alice",),
    RENDER: ("11.1 kWh", "Alice Depot", "Alice Commuter", "Street Charger"),
    # The dashboard's refresh tick: the banner, the pills and Next reservation at once.
    TICK: ("22.2 kWh", "Alice Depot", "In use"),
    RECENT: ("11.1 kWh", "Alice Depot"),
    ROUTER: (),  # page layouts are static skeletons: no data to own
    # A driver's Start / Stop and its poll: they answer about A's own command only
    # (tests/test_driver_commands_http.py forges their inputs one by one).
    ASK: (),
    FOLLOW: (),
    # Report a problem: the dialog and the report, for the session's account only
    # (tests/test_incidents_http.py forges their inputs one by one).
    REPORT_OPEN: (),
    REPORT_SEND: (),
    # Book a charger: the dialog, the booking and Cancel booking (Next reservation's refresh is
    # the dashboard's tick), for the session's account only (tests/test_booking_http.py forges
    # their inputs).
    BOOK_OPEN: (),
    BOOK_SEND: (),
    BOOK_CANCEL: (),
    # A star on a charger card: the session's account's favourites only
    # (tests/test_favourites_http.py forges the pressed star).
    FAVOURITE: (),
    # A receipt or a statement of the store's session or month, for the active account only
    # (tests/test_receipts_http.py): the neutral value names neither, so no data to show.
    "receipt-body.children": (),
    "statement-body.children": (),
    ACCOUNT_PROFILE: ("Alice", ALICE_EMAIL),
    "..account-cards.children...account-cards-intro.hidden..": (),
    "..account-tokens.children...account-token-form.hidden..": (),
    **dict.fromkeys(ACCOUNT_WRITES, ()),
    HISTORY_VIEW: (),
    # The charger filter's search: only chargers the session's account used (what is typed may
    # match none, so no data it must show; tests/test_my_sessions_http.py forges it).
    "history-charger.options": (),
    HISTORY_ROWS: (),
    HISTORY_APPLY: (),
}
# Clientside callbacks: no server function, so the endpoint must refuse them (400).
CLIENTSIDE_CALLBACKS = frozenset(
    {
        "_pages_dummy.children",
        '..{"charger":["ALL"],"type":"charger-status"}.children'
        '...{"charger":["ALL"],"type":"charger-status"}.className'
        '...available-count.children...{"charger":["ALL"],"type":"start-charging"}.hidden'
        '...{"charger":["ALL"],"type":"start-connector"}.options..',
        '..{"charger":["ALL"],"type":"start-charging-note"}.children'
        '...{"charger":["ALL"],"type":"start-charging"}.disabled'
        '...{"charger":["ALL"],"type":"start-connector"}.disabled..',
        "..stop-charging-note.children...stop-charging.disabled..",
        "..recent-banner-seen.data...recent-refresh.data..",
        "charger-grid.children",
        "recent-sessions.children",
        "admin-charger-sessions-note.title",  # the charger's grid asks again after a resolve
        "document-print.title",  # Print on a receipt or a statement
        # The charger search and Show all chargers; the navigation's dark mode toggle.
        '..{"charger":["ALL"],"type":"charger-item"}.className...charger-list.className'
        "...charger-list-toggle.children...charger-list-toggle.aria-expanded"
        "...charger-no-match.hidden..",
        "..theme-toggle.aria-pressed...theme-toggle.children..",
        # Who answers a refresh tick: the shell's banner, or on "/" the dashboard's own tick.
        "banner-tick.data",
        "dashboard-tick.data",
    }
)

LABELS = {
    BANNER: "banner",
    MENU: "menu",
    RENDER: "dashboard",
    TICK: "dashboard-tick",
    ROUTER: "router",
    RECENT: "recent",
    ASK: "ask-command",
    FOLLOW: "follow-command",
    REPORT_OPEN: "report-dialog",
    REPORT_SEND: "report-send",
    BOOK_OPEN: "book-dialog",
    BOOK_SEND: "book-send",
    BOOK_CANCEL: "book-cancel",
    FAVOURITE: "favourite",
}
CUSTOMER_NAMES = sorted(CUSTOMER_CALLBACKS)
ADMIN_PREFIX = "admin-"


def label(name: str) -> str:
    return LABELS.get(name, name)


def is_admin_callback(callback: dict[str, Any]) -> bool:
    """An admin callback: any output id (or pattern-id value) starts with ``admin-``."""
    for ident in output_ids(callback):
        names = ident.values() if isinstance(ident, dict) else [ident]
        if any(isinstance(n, str) and n.startswith(ADMIN_PREFIX) for n in names):
            return True
    return False


# --- Building requests the way the renderer does -----------------------------------------------


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


# --- Two customers with recognisable data -------------------------------------------------------


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    return build_app(module_app_factory, PROPAGATE_EXCEPTIONS=False)


@pytest.fixture(scope="module")
def alice(app: Flask) -> FlaskClient:
    return client_for(app, ALICE_EMAIL)


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
    # The driver's Start / Stop with no button named as pressed: nothing asked, nothing said.
    # Report a problem, nothing pressed: nothing opened, nothing sent. The sessions grid, no
    # rows asked for: nothing to answer. Booking or a star, nothing pressed: nothing done.
    quiet = (ASK, REPORT_OPEN, REPORT_SEND, HISTORY_ROWS, BOOK_OPEN, BOOK_SEND, BOOK_CANCEL,
             FAVOURITE, *ACCOUNT_WRITES)  # fmt: skip
    expected = 204 if name in quiet else 200
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
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
    body = callback_body(app, callback_key(app, TICK))
    for payload in PAYLOADS:  # in every value the request carries (the banner, the digest)
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


def test_admin_rule_covers_callbacks_added_later(app_factory: AppFactory) -> None:
    """A new admin callback (plain or pattern-matching id) is refused to customers with no
    further code: the rule is the ``admin-`` output id, enforced on the server."""
    app = build_app(app_factory, PROPAGATE_EXCEPTIONS=False)
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

    alice = client_for(app, ALICE_EMAIL)
    assert assert_admin_callbacks_refuse(app, alice) == len(existing) + 2
    olga = client_for(app, ADMIN_EMAIL)
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
    olga = client_for(app, ADMIN_EMAIL)
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
