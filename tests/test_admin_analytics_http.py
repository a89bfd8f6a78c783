"""/admin/analytics over HTTP: its callbacks and CSV downloads are for admins only, and each CSV
carries exactly the figures its chart draws."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.exceptions import Unauthorized

from components.analytics import DATE_FROM_ID, DATE_TO_ID, GRAPH_IDS, RANGE_NOTE_ID, SUMMARY_ID
from components.format import format_kwh, format_money
from data.charging.analytics import CHARTS, WEEKDAYS
from data.core.models import ChargingSession, ConnectorType, Role
from data.pricing.tariffs import create_tariff_version, price_unpriced_sessions, set_default_tariff
from tests.support.audit import AT, CLI
from tests.support.factories import make_charger, make_operator, make_session
from tests.support.web import AppFactory, add_person, call_callback, client_for
from web.analytics_csv import csv_cell

ADMIN = "ops@example.com"
CUSTOMER = "driver@example.com"
# A fixed past range around Berlin's 2025 spring DST day (Sunday 30 March).
RANGE = {"from": "2025-03-27", "to": "2025-04-02"}
RANGE_QUERY = "from=2025-03-27&to=2025-04-02"
HOSTILE_NAMES = ('=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "+49 30 1234", "-12")
RENDER_OUTPUTS = [
    (SUMMARY_ID, "children"),
    *((GRAPH_IDS[chart], "figure") for chart in CHARTS),
]


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory()
    add_person(app, ADMIN, ("acc-ops", Role.admin, None))
    add_person(app, CUSTOMER, ("acc-driver", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        kinds = [ConnectorType.ccs, ConnectorType.type2, ConnectorType.nacs, ConnectorType.j1772]
        chargers = [
            make_charger(s, friendly_name=name, connector_type=kinds[i % len(kinds)])
            for i, name in enumerate(("Marktplatz 1", "Depot — Bay 2", *HOSTILE_NAMES))
        ]
        # The default tariff prices every finished session (0.39/kWh + 0.50 a session).
        create_tariff_version(s, tariff_id="STD", valid_from=datetime(2025, 1, 1, tzinfo=UTC),
                              name="Standard", energy_price_per_kwh="0.39", session_fee="0.50",
                              vat_percent="19")  # fmt: skip
        set_default_tariff(s, "STD", actor=CLI, now=AT)
        start = datetime(2025, 3, 26, 21, 0, tzinfo=UTC)  # the evening before the range
        for i in range(60):
            started = start + timedelta(hours=3 * i, minutes=7 * i)
            make_session(
                s,
                "acc-driver",
                chargers[i % len(chargers)],
                started_at=started,
                ended_at=started + timedelta(minutes=40 + 5 * (i % 9)),
                energy_kwh=f"{(i * 3.141) % 40:.3f}",
            )
        assert price_unpriced_sessions(s) == 60
    return app


@pytest.fixture(scope="module")
def admin(app: Flask) -> FlaskClient:
    return client_for(app, ADMIN)


@pytest.fixture(scope="module")
def customer(app: Flask) -> FlaskClient:
    return client_for(app, CUSTOMER)


# --- callbacks ---------------------------------------------------------------------------------


def page_callbacks(app: Flask) -> dict[str, dict[str, Any]]:
    """The callbacks of this page: those writing to an ``admin-analytics-...`` component."""
    callbacks = app.extensions["polaris_dash"].callback_map
    return {key: cb for key, cb in callbacks.items() if "admin-analytics-" in key}


def request_for(app: Flask, key: str, values: dict[str, Any]) -> dict[str, Any]:
    """The renderer's body for callback ``key``, every input/state given from ``values`` (by
    component id, else by property)."""
    cb = page_callbacks(app)[key]
    declared = cb["output"]
    outputs = declared if isinstance(declared, list | tuple) else [declared]
    return {
        "output": key,
        "outputs": [
            {"id": o.component_id_str(), "property": o.component_property} for o in outputs
        ],
        "inputs": [{**i, "value": _value(values, i)} for i in cb["inputs"]],
        "state": [{**st, "value": _value(values, st)} for st in cb["state"]],
    }


def _value(values: dict[str, Any], dependency: dict[str, Any]) -> Any:
    return values.get(dependency["id"], values.get(dependency["property"]))


def post(client: FlaskClient, body: dict[str, Any]):
    return call_callback(
        client, body["output"], body["inputs"], state=body["state"], outputs=body["outputs"]
    )


NEUTRAL = {"data": {"period": "current"}, "n_clicks": 1, DATE_FROM_ID: None, DATE_TO_ID: None}


def test_the_page_has_its_two_callbacks_and_both_write_admin_components(app: Flask) -> None:
    keys = page_callbacks(app)
    assert len(keys) == 2, list(keys)
    for cb in keys.values():
        declared = cb["output"]
        ids = [o.component_id for o in (declared if isinstance(declared, list) else [declared])]
        # The central gate refuses customers for any callback with an admin-... output.
        assert any(str(i).startswith("admin-") for i in ids)


def test_every_callback_refuses_customers_with_403(app: Flask, customer: FlaskClient) -> None:
    for key in page_callbacks(app):
        response = post(customer, request_for(app, key, NEUTRAL))
        assert response.status_code == 403, key
        assert "kWh" not in response.get_data(as_text=True)


def test_every_callback_refuses_anonymous_with_401(app: Flask) -> None:
    anonymous = app.test_client()
    for key in page_callbacks(app):
        response = post(anonymous, request_for(app, key, NEUTRAL))
        assert response.status_code == 401, key


def test_callbacks_check_the_role_themselves_too(app: Flask) -> None:
    """Defence in depth: called without the gates, the functions still want an admin."""
    from pages.admin_analytics import apply_range, render_analytics

    with app.test_request_context("/"):
        with pytest.raises(Unauthorized):
            render_analytics({"period": "current"})
        with pytest.raises(Unauthorized):
            apply_range(1, "2025-03-01", "2025-03-02")


def render(app: Flask, client: FlaskClient, store: object) -> dict[str, Any]:
    key = next(k for k in page_callbacks(app) if SUMMARY_ID in k)
    response = post(client, request_for(app, key, {"data": store}))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def test_admin_gets_every_chart(app: Flask, admin: FlaskClient) -> None:
    out = render(app, admin, RANGE)
    assert set(out) == {i for i, _ in RENDER_OUTPUTS}
    text = json.dumps(out[SUMMARY_ID], ensure_ascii=False)
    assert "27 Mar 2025 – 2 Apr 2025" in text and "Europe/Berlin" in text


@pytest.mark.parametrize("forged", ["year'; DROP TABLE sessions; --", ["x"], 7, None, {"a": 1}])
def test_a_forged_range_store_shows_this_month(
    app: Flask, admin: FlaskClient, forged: object
) -> None:
    out = render(app, admin, forged)
    assert f"{datetime.now(UTC):%Y}" in json.dumps(out[SUMMARY_ID])


def apply(app: Flask, client: FlaskClient, clicks: int, start: object, end: object):
    key = next(k for k in page_callbacks(app) if RANGE_NOTE_ID in k)
    values = {"n_clicks": clicks, DATE_FROM_ID: start, DATE_TO_ID: end}
    return post(client, request_for(app, key, values))


def test_show_range_navigates_to_the_range(app: Flask, admin: FlaskClient) -> None:
    response = apply(app, admin, 1, "2025-03-27T00:00:00", "2025-04-02")
    assert response.status_code == 200
    out = response.get_json()["response"]
    assert out["url"]["search"] == "?" + RANGE_QUERY
    assert out[RANGE_NOTE_ID]["children"] is None


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (None, None, "Pick the first and the last day of the range."),
        ("2025-04-02", "2025-03-27", "ends before it starts"),
        ("2025-03-27", None, "needs a last day"),
        # Emptied date fields send "".
        ("", "", "Pick the first and the last day of the range."),
        ("2025-03-27", "", "needs a last day"),
        ("2020-01-01", "2025-01-01", "at most 366 days"),
    ],
)
def test_show_range_explains_a_range_it_cannot_show(
    app: Flask, admin: FlaskClient, start: object, end: object, message: str
) -> None:
    response = apply(app, admin, 1, start, end)
    assert response.status_code == 200
    out = response.get_json()["response"]
    assert "url" not in out  # stays where it is
    assert message in json.dumps(out[RANGE_NOTE_ID], ensure_ascii=False)


def test_mounting_the_button_is_not_a_click(app: Flask, admin: FlaskClient) -> None:
    assert apply(app, admin, 0, "2025-03-27", "2025-04-02").status_code == 204


# --- the page ----------------------------------------------------------------------------------


def test_page_is_for_admins(app: Flask, admin: FlaskClient, customer: FlaskClient) -> None:
    assert admin.get("/admin/analytics?period=year").status_code == 200
    assert customer.get("/admin/analytics").status_code == 403
    anonymous = app.test_client().get("/admin/analytics")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def _texts(component: Any) -> list[str]:
    """Every string and every href in a component tree."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)
        elif hasattr(node, "to_plotly_json"):
            props = node.to_plotly_json()["props"]
            if isinstance(props.get("href"), str):
                found.append(props["href"])
            walk(props.get("children"))

    walk(component)
    return found


def test_layout_links_carry_the_range_and_notes_explain_a_bad_one(app: Flask) -> None:
    from pages.admin_analytics import layout

    texts = _texts(layout(**RANGE))
    for chart in CHARTS:
        assert f"/admin/analytics/{chart}.csv?{RANGE_QUERY}" in texts
    assert "/admin/analytics?period=year" in texts
    bad = _texts(layout(**{"from": "2025-04-02", "to": "2025-03-27"}))
    assert any("ends before it starts. Showing this month." in t for t in bad)
    assert "/admin/analytics/energy-daily.csv?period=current" in bad
    assert "/admin/analytics/connectors.csv?period=current" in _texts(layout())


# --- CSV downloads -----------------------------------------------------------------------------


def test_create_app_serves_the_csv_downloads(app: Flask) -> None:
    """The app as built for production has the downloads: nothing here registers them."""
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules.get("/admin/analytics/<chart>.csv", "").startswith("analytics_csv.")
    assert "analytics_csv" in app.blueprints


@pytest.mark.parametrize("chart", CHARTS)
def test_csv_refuses_anonymous_401_and_customers_403(
    app: Flask, customer: FlaskClient, chart: str
) -> None:
    url = f"/admin/analytics/{chart}.csv?{RANGE_QUERY}"
    anonymous = app.test_client().get(url)
    # A download is answered with a status, not the sign-in page (auth.guard.is_api).
    assert anonymous.status_code == 401, (
        f"{anonymous.status_code} {anonymous.headers.get('Location', '')}: "
        "auth/guard.py must treat *.csv downloads as API paths"
    )
    refused = customer.get(url)
    assert refused.status_code == 403
    for response in (anonymous, refused):
        assert "Marktplatz" not in response.get_data(as_text=True)


def download(client: FlaskClient, chart: str, query: str = RANGE_QUERY) -> list[list[str]]:
    response = client.get(f"/admin/analytics/{chart}.csv?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"polaris-{chart}-" in disposition
    text = response.get_data().decode("utf-8")
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text)))


def test_csv_for_every_period(admin: FlaskClient) -> None:
    for query in ("period=current", "period=previous", "period=year", ""):
        for chart in CHARTS:
            assert download(admin, chart, query)[0]  # a header at least
    year = admin.get("/admin/analytics/energy-daily.csv?period=year")
    assert (
        f"polaris-energy-daily-{datetime.now(UTC):%Y}-01-01_"
        in (year.headers["Content-Disposition"])
    )


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("period=decade", 400, "is not a period we know"),
        ("from=2025-04-02&to=2025-03-27", 400, "ends before it starts"),
        ("from=2025-03-27", 400, "needs a last day"),
        ("period=year&period=current", 400, "not several"),
    ],
)
def test_csv_explains_a_bad_range(admin: FlaskClient, query: str, status: int, message: str):
    response = admin.get(f"/admin/analytics/energy-daily.csv?{query}")
    assert response.status_code == status
    assert response.mimetype == "text/plain"
    assert message in response.get_data(as_text=True)


def test_csv_of_an_unknown_chart_is_404(admin: FlaskClient) -> None:
    response = admin.get("/admin/analytics/sessions.csv?period=current")
    assert response.status_code == 404
    assert "energy-daily" in response.get_data(as_text=True)


def _kwh(text: str) -> float:
    return float(Decimal(text))


def test_csv_figures_are_the_chart_figures(app: Flask, admin: FlaskClient) -> None:
    out = render(app, admin, RANGE)
    figure = {chart: out[GRAPH_IDS[chart]]["figure"] for chart in CHARTS}

    daily = download(admin, "energy-daily")
    assert daily[0] == ["day", "sessions", "energy_kwh"]
    bars = figure["energy-daily"]["data"][0]
    assert [r[0] for r in daily[1:]] == bars["x"]
    assert len(bars["x"]) == 7  # every day of the range, the 23-hour day included
    assert [_kwh(r[2]) for r in daily[1:]] == bars["y"]
    assert [int(r[1]) for r in daily[1:]] == bars["customdata"]
    total = sum(Decimal(r[2]) for r in daily[1:])
    assert total > 0
    summary = json.dumps(out[SUMMARY_ID])
    assert format_kwh(float(total)) in summary

    monthly = download(admin, "energy-monthly")
    assert monthly[1:] == [
        ["2025-03", "5", monthly[1][2], monthly[1][3]],
        ["2025-04", "2", monthly[2][2], monthly[2][3]],
    ]
    assert [_kwh(r[3]) for r in monthly[1:]] == figure["energy-monthly"]["data"][0]["y"]
    assert sum(Decimal(r[3]) for r in monthly[1:]) == total

    heat = download(admin, "hour-of-week")
    assert heat[0] == ["weekday", "hour", "sessions"] and len(heat) == 1 + 7 * 24
    z = figure["hour-of-week"]["data"][0]["z"]
    for weekday, hour, sessions in heat[1:]:
        assert z[WEEKDAYS.index(weekday)][int(hour)] == int(sessions)
    assert sum(int(r[2]) for r in heat[1:]) == sum(int(r[1]) for r in daily[1:])

    top = download(admin, "utilisation")
    bars = figure["utilisation"]["data"][0]
    assert len(top) - 1 == len(bars["x"]) == 6
    assert [int(r[0]) for r in top[1:]] == list(range(1, 7))
    assert [round(float(r[6]), 1) for r in top[1:]] == bars["x"]
    # Names as typed, except that a spreadsheet must not run them as formulas.
    assert [csv_cell(c[0]) for c in bars["customdata"]] == [r[2] for r in top[1:]]

    kinds = download(admin, "connectors")
    assert [r[0] for r in kinds[1:]] == [t.value for t in ConnectorType]
    ring = figure["connectors"]["data"][0]
    shown = [r for r in kinds[1:] if Decimal(r[2]) > 0]
    assert [r[0] for r in shown] == ring["labels"]
    assert [_kwh(r[2]) for r in shown] == ring["values"]
    assert sum(Decimal(r[2]) for r in kinds[1:]) == total
    assert sum(Decimal(r[3]) for r in kinds[1:]) == pytest.approx(Decimal(100), abs=Decimal("0.05"))


def _stored_costs_in_range(app: Flask) -> Decimal:
    """The stored costs of the sessions that started in RANGE (Berlin days), read from rows."""
    berlin = ZoneInfo("Europe/Berlin")
    first, last = (date.fromisoformat(RANGE[k]) for k in ("from", "to"))
    with app.extensions["polaris_db"].session() as s:
        rows = s.execute(select(ChargingSession.started_at, ChargingSession.cost_total)).all()
    return sum(
        (Decimal(str(c)) for t, c in rows if first <= t.astimezone(berlin).date() <= last),
        Decimal(0),
    )


def test_revenue_csvs_are_the_revenue_charts_and_the_stored_costs(
    app: Flask, admin: FlaskClient
) -> None:
    out = render(app, admin, RANGE)
    figure = {chart: out[GRAPH_IDS[chart]]["figure"] for chart in CHARTS}
    stored = _stored_costs_in_range(app)
    assert stored > 0
    assert format_money(stored, "EUR") in json.dumps(out[SUMMARY_ID], ensure_ascii=False)

    daily = download(admin, "revenue-daily")
    assert daily[0] == ["day", "revenue", "currency"]
    bars = figure["revenue-daily"]["data"][0]
    assert [r[0] for r in daily[1:]] == bars["x"] and len(bars["x"]) == 7
    assert [float(r[1]) for r in daily[1:]] == bars["y"]
    assert [format_money(Decimal(r[1]), r[2]) for r in daily[1:]] == bars["customdata"]
    assert all(r[2] == "EUR" and len(r[1].split(".")[1]) == 2 for r in daily[1:])
    assert sum(Decimal(r[1]) for r in daily[1:]) == stored

    monthly = download(admin, "revenue-monthly")
    assert [r[:2] for r in monthly[1:]] == [["2025-03", "5"], ["2025-04", "2"]]
    assert [float(r[2]) for r in monthly[1:]] == figure["revenue-monthly"]["data"][0]["y"]
    assert sum(Decimal(r[2]) for r in monthly[1:]) == stored

    kinds = download(admin, "revenue-connectors")
    assert [r[0] for r in kinds[1:]] == [t.value for t in ConnectorType]
    assert [float(r[1]) for r in kinds[1:]] == figure["revenue-connectors"]["data"][0]["x"]
    assert sum(Decimal(r[1]) for r in kinds[1:]) == stored

    top = download(admin, "revenue-chargers")
    assert top[0] == [
        "rank",
        "charger_id",
        "friendly_name",
        "connector_type",
        "revenue",
        "currency",
    ]
    bars = figure["revenue-chargers"]["data"][0]
    assert len(top) - 1 == len(bars["x"]) == 6  # every charger earned; the chart shows ten at most
    assert [float(r[4]) for r in top[1:]] == bars["x"] == sorted(bars["x"], reverse=True)
    assert [c[1] for c in bars["customdata"]] == [
        format_money(Decimal(r[4]), "EUR") for r in top[1:]
    ]
    assert sum(Decimal(r[4]) for r in top[1:]) == stored
    assert "'" + HOSTILE_NAMES[0] in {r[2] for r in top[1:]}  # a name is never a formula


def test_csv_neutralises_formulas_but_keeps_numbers(admin: FlaskClient) -> None:
    names = {r[2] for r in download(admin, "utilisation")[1:]}
    assert "'" + HOSTILE_NAMES[0] in names  # =HYPERLINK(...)
    assert "'@SUM(A1)" in names
    assert "'+49 30 1234" in names
    assert "-12" in names  # a plain number is left alone
    assert not any(n.startswith(("=", "@", "+")) for n in names)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-A1", "'-A1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-", "'-"),
        ("-12.5", "-12.5"),
        ("+7", "+7"),
        ("1e3", "1e3"),
        # The exports' rule: a sign before an exponent is not a plain number, and a cell that
        # already starts with ' gets one more (an import takes exactly one off).
        ("-1e3", "'-1e3"),
        ("'=1+1", "''=1+1"),
        ("Bay = 1", "Bay = 1"),
        (Decimal("12.300"), "12.300"),
        (Decimal("0E-3"), "0.000"),
        (42, "42"),
        (None, ""),
    ],
)
def test_csv_cell(value: object, cell: str) -> None:
    assert csv_cell(value) == cell
