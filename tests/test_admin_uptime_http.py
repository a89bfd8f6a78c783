"""/admin/uptime over HTTP: every callback is for admins only (and checks the role itself), the
figures and the outage list arrive, a filter narrows the list and its CSV link, and an edit is
validated (unknown cause, unknown outage) before anything is saved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import Unauthorized

from components.admin import ADMIN_SECTIONS, ALERTS_BADGE_ID
from components.uptime import (
    ANY,
    CHARGER_ID,
    EDIT_CAUSE_ID,
    EDIT_EXCLUDED_ID,
    EDIT_NOTE_ID,
    EDIT_OUTAGE_ID,
    EDIT_RESULT_ID,
    FILTER_CAUSE_ID,
    FILTER_CHARGER_ID,
    FILTER_FROM_ID,
    FILTER_NOTE_ID,
    FILTER_STATE_ID,
    FILTER_TO_ID,
    HEADLINE_ID,
    MONTHS_ID,
    NEVI_DOWNLOAD_ID,
    NEVI_NOTE_ID,
    NEVI_QUARTER_ID,
    NEVI_YEAR_ID,
    OUTAGES_CSV_ID,
    OUTAGES_ID,
    STANDINGS_GRID_ID,
    STANDINGS_ID,
    TIMELINE_ID,
    VERSION_ID,
)
from data.core.models import Role
from data.exchange.nevi import last_full_quarter, quarter_of
from data.uptime.alerts import evaluate
from data.uptime.outages import Outage, OutageCause
from tests.support.factories import make_charger, make_operator, make_outage
from tests.support.web import AppFactory, add_person, call_callback, client_for

ADMIN = "ops@example.com"
CUSTOMER = "driver@example.com"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def app(module_app_factory: AppFactory) -> Flask:
    app = module_app_factory()
    add_person(app, ADMIN, ("acc-ops", Role.admin, None))
    add_person(app, CUSTOMER, ("acc-driver", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, timezone="Europe/Berlin")
        down = make_charger(s, charger_id="CP-DOWN", friendly_name="Depot <b>Bay</b>")
        make_charger(s, charger_id="CP-UP", friendly_name="Marktplatz")
        # Forty days down, ending a week ago: below 97% over twelve months.
        make_outage(s, down, started_at=NOW - timedelta(days=47), ended_at=NOW - timedelta(days=7),
                    cause=OutageCause.utility, outage_id="o-long")  # fmt: skip
        make_outage(s, down, started_at=NOW - timedelta(hours=2), outage_id="o-open")
    return app


@pytest.fixture(scope="module")
def admin(app: Flask) -> FlaskClient:
    return client_for(app, ADMIN)


@pytest.fixture(scope="module")
def customer(app: Flask) -> FlaskClient:
    return client_for(app, CUSTOMER)


def page_callbacks(app: Flask) -> dict[str, dict[str, Any]]:
    callbacks = app.extensions["polaris_dash"].callback_map
    return {key: cb for key, cb in callbacks.items() if "admin-uptime-" in key}


# The save's key: the edit result is also cleared (a duplicate output) when an outage is chosen.
SAVE_KEY = f"{EDIT_RESULT_ID}.children..."


def _value(values: dict[str, Any], dependency: dict[str, Any]) -> Any:
    exact = f"{dependency['id']}.{dependency['property']}"  # e.g. a dropdown's search_value
    return values[exact] if exact in values else values.get(dependency["id"])


def call(app: Flask, client: FlaskClient, marker: str, values: dict[str, Any]):
    """Call the page's callback whose outputs include ``marker`` (or whose key it is), inputs
    and states by id (or ``id.property``)."""
    keys = [k for k in page_callbacks(app) if k == marker] or [
        k for k in page_callbacks(app) if marker in k
    ]
    (key,) = keys
    cb = page_callbacks(app)[key]
    declared = cb["output"]
    several = isinstance(declared, list | tuple)
    outputs = declared if several else [declared]
    specs = [{"id": o.component_id_str(), "property": o.component_property} for o in outputs]
    return call_callback(
        client,
        key,
        [{**i, "value": _value(values, i)} for i in cb["inputs"]],
        state=[{**st, "value": _value(values, st)} for st in cb["state"]],
        outputs=specs if several else specs[0],
    )


def answer(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


SAVE = {
    "n_clicks": 1,
    EDIT_OUTAGE_ID: "o-long",
    EDIT_CAUSE_ID: "vandalism",
    EDIT_EXCLUDED_ID: False,
    EDIT_NOTE_ID: "Cable cut",
    VERSION_ID: 0,
}
_SAVE_VALUES = {**SAVE, "admin-uptime-edit-save": 1}


def test_the_page_is_for_admins_and_in_the_navigation(
    app: Flask, admin: FlaskClient, customer: FlaskClient
) -> None:
    assert ("/admin/uptime", "Uptime") in ADMIN_SECTIONS
    assert admin.get("/admin/uptime").status_code == 200
    assert customer.get("/admin/uptime").status_code == 403
    anonymous = app.test_client().get("/admin/uptime")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_customers_and_strangers_get_nothing_from_the_callbacks(
    app: Flask, customer: FlaskClient
) -> None:
    keys = page_callbacks(app)
    assert len(keys) == 11, list(keys)
    anonymous = app.test_client()
    for key in keys:
        for client, status in ((customer, 403), (anonymous, 401)):
            values = {**_SAVE_VALUES, CHARGER_ID: "CP-DOWN", FILTER_CHARGER_ID: "CP-DOWN"}
            response = call(app, client, key, values)
            assert response.status_code == status, key
            text = response.get_data(as_text=True)
            assert "CP-DOWN" not in text and "Depot" not in text


def test_callbacks_check_the_role_themselves_too(app: Flask) -> None:
    from pages._admin import count_alerts
    from pages.admin_uptime import (
        fill_edit,
        fill_nevi_picker,
        find_chargers,
        find_filter_chargers,
        point_nevi_download,
        render_alerts,
        render_charger,
        render_fleet,
        render_outages,
        save_outage,
        standings_block,
    )

    with app.test_request_context("/"):
        for run in (
            lambda: render_fleet(0, None),
            lambda: render_charger("CP-DOWN", 0),
            lambda: render_outages("", "", "all", None, None, 0),
            lambda: standings_block({"startRow": 0, "endRow": 100}),
            lambda: fill_edit("o-long"),
            lambda: save_outage(1, "o-long", "utility", False, "", 0),
            lambda: fill_nevi_picker(NEVI_YEAR_ID),
            lambda: point_nevi_download("2026", "1"),
            lambda: render_alerts(0),
            lambda: count_alerts("admin-nav"),
            lambda: find_chargers("CP", "CP-DOWN"),
            lambda: find_filter_chargers("CP", ANY),
        ):
            with pytest.raises(Unauthorized):
                run()


def test_the_fleet_below_97_first(app: Flask, admin: FlaskClient) -> None:
    out = answer(call(app, admin, HEADLINE_ID, {VERSION_ID: 0, CHARGER_ID: None}))
    standings = json.dumps(out[STANDINGS_ID]["children"], ensure_ascii=False)
    assert STANDINGS_GRID_ID in standings and "CP-DOWN" not in standings  # rows: by block
    assert "Can still lose" in standings and "× 3%" in standings
    request = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    block = answer(call(app, admin, STANDINGS_GRID_ID, {STANDINGS_GRID_ID: request}))
    rows = block[STANDINGS_GRID_ID]["getRowsResponse"]
    assert rows["rowCount"] == 2
    assert [(r["charger_id"], r["below"]) for r in rows["rowData"]] == [
        ("CP-DOWN", True),
        ("CP-UP", False),
    ]
    assert rows["rowData"][0]["charger"] == "Depot <b>Bay</b> (CP-DOWN)"  # text, never markup
    second = answer(
        call(app, admin, STANDINGS_GRID_ID, {STANDINGS_GRID_ID: {"startRow": 1, "endRow": 2}})
    )
    assert [r["charger_id"] for r in second[STANDINGS_GRID_ID]["getRowsResponse"]["rowData"]] == [
        "CP-UP"
    ]
    assert "1 of 2" in json.dumps(out[HEADLINE_ID]["children"])
    # Drivers' reports not resolved yet: none here.
    assert '"children": "0", "id": "admin-uptime-incidents"' in json.dumps(out[HEADLINE_ID])
    assert out[CHARGER_ID]["value"] == "CP-DOWN"  # the lowest, until someone chooses
    # The chosen charger alone is listed: the dropdowns search the server (the fleet has
    # thousands), and the outage filter's list is not the fleet callback's.
    assert out[CHARGER_ID]["options"] == [
        {"label": "Depot <b>Bay</b> (CP-DOWN)", "value": "CP-DOWN"}
    ]
    assert FILTER_CHARGER_ID not in out
    chosen = answer(call(app, admin, HEADLINE_ID, {VERSION_ID: 0, CHARGER_ID: "CP-UP"}))
    assert chosen[CHARGER_ID]["value"] == "CP-UP"
    assert [o["value"] for o in chosen[CHARGER_ID]["options"]] == ["CP-UP"]
    past = {STANDINGS_GRID_ID: {"startRow": 100, "endRow": 200}}
    last = answer(call(app, admin, STANDINGS_GRID_ID, past))[STANDINGS_GRID_ID]
    assert last["getRowsResponse"] == {"rowData": [], "rowCount": 2}


def options(out: dict[str, Any], ident: str) -> list[tuple[str, str]]:
    return [(o["value"], o["label"]) for o in out[ident]["options"]]


def test_the_charger_dropdowns_list_what_is_typed_and_the_chosen_one(
    app: Flask, admin: FlaskClient
) -> None:
    # The fleet callback sets the picker's options too: this one's output is a duplicate.
    (picker,) = [k for k in page_callbacks(app) if k.startswith(CHARGER_ID + ".options@")]
    typed = CHARGER_ID + ".search_value"

    def listed(ident: str, marker: str, values: dict[str, Any]) -> list[tuple[str, str]]:
        out = answer(call(app, admin, marker, values))
        return [(o["value"], o["label"]) for o in out[ident]["options"]]

    # Nothing typed (a choice clears what was typed): the chosen charger alone.
    assert listed(CHARGER_ID, picker, {CHARGER_ID: "CP-DOWN", typed: None}) == [
        ("CP-DOWN", "Depot <b>Bay</b> (CP-DOWN)")
    ]
    assert listed(CHARGER_ID, picker, {CHARGER_ID: "", typed: ""}) == []
    # Typed: the matches of the id or name, case-insensitive, and the chosen one first.
    assert listed(CHARGER_ID, picker, {CHARGER_ID: "CP-DOWN", typed: "MARKT"}) == [
        ("CP-DOWN", "Depot <b>Bay</b> (CP-DOWN)"),
        ("CP-UP", "Marktplatz (CP-UP)"),
    ]
    found = listed(CHARGER_ID, picker, {CHARGER_ID: "CP-NOPE", typed: "cp-"})
    assert [v for v, _ in found] == ["CP-DOWN", "CP-UP"]
    # The outage list's filter: "every charger" always first.
    flt, flt_typed = FILTER_CHARGER_ID + ".options", FILTER_CHARGER_ID + ".search_value"
    assert listed(FILTER_CHARGER_ID, flt, {FILTER_CHARGER_ID: ANY, flt_typed: None}) == [
        (ANY, "Every charger")
    ]
    found = listed(FILTER_CHARGER_ID, flt, {FILTER_CHARGER_ID: "CP-UP", flt_typed: "depot"})
    assert [v for v, _ in found] == [ANY, "CP-UP", "CP-DOWN"]


def test_a_chargers_months_and_timeline(app: Flask, admin: FlaskClient) -> None:
    out = answer(call(app, admin, MONTHS_ID, {CHARGER_ID: "CP-DOWN", VERSION_ID: 0}))
    months = json.dumps(out[MONTHS_ID]["children"])
    assert months.count('"data-month"') == 12
    bars = out[TIMELINE_ID]["figure"]["data"]
    assert [b["name"] for b in bars] == ["Counted"] and len(bars[0]["x"]) == 2
    # A charger id the fleet does not have: nothing, and no error.
    out = answer(call(app, admin, MONTHS_ID, {CHARGER_ID: "CP-NOPE", VERSION_ID: 0}))
    assert "Choose a charger" in json.dumps(out[MONTHS_ID]["children"])
    assert out[TIMELINE_ID]["figure"]["data"] == []


def filtered(app: Flask, client: FlaskClient, **values: Any):
    base = {FILTER_CHARGER_ID: ANY, FILTER_CAUSE_ID: ANY, FILTER_STATE_ID: "all", VERSION_ID: 0}
    return call(app, client, OUTAGES_ID, {**base, **values})


def test_the_outage_list_and_its_filters(app: Flask, admin: FlaskClient) -> None:
    out = answer(filtered(app, admin))
    assert [o["value"] for o in out[EDIT_OUTAGE_ID]["options"]] == ["o-open", "o-long"]
    assert out[OUTAGES_CSV_ID]["href"] == "/export/outages.csv"
    out = answer(filtered(app, admin, **{FILTER_STATE_ID: "open"}))
    assert [o["value"] for o in out[EDIT_OUTAGE_ID]["options"]] == ["o-open"]
    assert "Ongoing" in json.dumps(out[OUTAGES_ID]["children"])
    day = f"{NOW - timedelta(days=50):%Y-%m-%d}"
    out = answer(
        filtered(
            app,
            admin,
            **{FILTER_CHARGER_ID: "CP-DOWN", FILTER_FROM_ID: day, FILTER_CAUSE_ID: "utility"},
        )  # fmt: skip
    )
    assert [o["value"] for o in out[EDIT_OUTAGE_ID]["options"]] == ["o-long"]
    assert out[OUTAGES_CSV_ID]["href"] == (
        f"/export/outages.csv?charger=CP-DOWN&cause=utility&from={day}"
    )
    # The link's export holds exactly the listed outage.
    rows = admin.get(out[OUTAGES_CSV_ID]["href"]).get_data(as_text=True).splitlines()
    assert len(rows) == 2 and rows[1].startswith("o-long,CP-DOWN,")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({FILTER_CAUSE_ID: "aliens"}, "Unknown cause"),
        ({FILTER_STATE_ID: "maybe"}, "Open or closed"),
        ({FILTER_FROM_ID: "yesterday"}, "not a date"),
        ({FILTER_FROM_ID: "2026-03-02", FILTER_TO_ID: "2026-03-01"}, "before the first"),
    ],
)
def test_a_bad_filter_is_said(
    app: Flask, admin: FlaskClient, values: dict[str, Any], message: str
) -> None:
    out = answer(filtered(app, admin, **values))
    assert message in json.dumps(out[FILTER_NOTE_ID]["children"], ensure_ascii=False)
    assert OUTAGES_ID not in out


def saved(app: Flask) -> Outage:
    with app.extensions["polaris_db"].session() as s:
        outage = s.get(Outage, "o-long")
        assert outage is not None
        s.expunge(outage)
        return outage


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({EDIT_CAUSE_ID: "aliens"}, "Unknown cause"),
        ({EDIT_CAUSE_ID: None}, "Unknown cause"),
        ({EDIT_OUTAGE_ID: "o-forged"}, "no such outage"),
        ({EDIT_OUTAGE_ID: ["o-long"]}, "no such outage"),
        ({EDIT_EXCLUDED_ID: "true"}, "Excluded is yes or no"),
    ],
)
def test_an_edit_is_validated_and_saves_nothing(
    app: Flask, admin: FlaskClient, change: dict[str, Any], message: str
) -> None:
    out = answer(call(app, admin, SAVE_KEY, {**_SAVE_VALUES, **change}))
    assert message in json.dumps(out[EDIT_RESULT_ID]["children"])
    assert VERSION_ID not in out
    assert saved(app).cause is OutageCause.utility and saved(app).note is None


def test_an_edit_saves_and_the_figures_read_again(app: Flask, admin: FlaskClient) -> None:
    filled = answer(call(app, admin, EDIT_CAUSE_ID, {EDIT_OUTAGE_ID: "o-long"}))
    assert (
        filled[EDIT_CAUSE_ID]["value"] == "utility" and filled[EDIT_EXCLUDED_ID]["value"] is False
    )
    assert filled[EDIT_RESULT_ID]["children"] is None  # an earlier save's message goes
    out = answer(call(app, admin, SAVE_KEY, {**_SAVE_VALUES, EDIT_EXCLUDED_ID: True}))
    assert "Saved" in json.dumps(out[EDIT_RESULT_ID]["children"])
    assert out[VERSION_ID]["data"] == 1
    outage = saved(app)
    assert (outage.cause, outage.excluded, outage.note) == (
        OutageCause.vandalism,
        True,
        "Cable cut",
    )
    # Excluded: the charger is no longer below 97%.
    fleet = answer(call(app, admin, HEADLINE_ID, {VERSION_ID: 1, CHARGER_ID: "CP-DOWN"}))
    assert "0 of 2" in json.dumps(fleet[HEADLINE_ID]["children"])
    with app.extensions["polaris_db"].session() as s:
        outage = s.get(Outage, "o-long")
        assert outage is not None
        outage.cause, outage.excluded, outage.note = OutageCause.utility, False, None


def test_the_nevi_picker_starts_on_the_last_full_quarter(app: Flask, admin: FlaskClient) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    due = last_full_quarter(datetime.now(UTC), berlin)
    out = answer(call(app, admin, NEVI_YEAR_ID, {NEVI_YEAR_ID: NEVI_YEAR_ID}))
    years = [o["value"] for o in out[NEVI_YEAR_ID]["options"]]
    assert years[0] == str(quarter_of(datetime.now(UTC), berlin).year) and len(years) == 6
    assert (out[NEVI_YEAR_ID]["value"], out[NEVI_QUARTER_ID]["value"]) == (
        str(due.year),
        str(due.number),
    )


@pytest.mark.parametrize(
    ("year", "quarter", "href", "note"),
    [
        ("2026", "1", "/export/nevi-report.zip?year=2026&quarter=1", "nevi-report-2026-Q1.zip"),
        ("9998", "4", None, "9998-Q4 has not begun"),
        ("2026", "9", None, "“quarter” must be 1, 2, 3 or 4"),
        ("", "", None, "Choose a year and a quarter."),
    ],
)
def test_the_nevi_download_follows_the_picker(
    app: Flask, admin: FlaskClient, year: str, quarter: str, href: str | None, note: str
) -> None:
    out = answer(call(app, admin, NEVI_DOWNLOAD_ID, {NEVI_YEAR_ID: year, NEVI_QUARTER_ID: quarter}))
    assert out[NEVI_DOWNLOAD_ID].get("href") == href
    assert ("disabled" in out[NEVI_DOWNLOAD_ID]["className"]) == (href is None)
    assert note in json.dumps(out[NEVI_NOTE_ID]["children"], ensure_ascii=False)


def test_the_nav_badge_counts_open_alerts_for_admins_only(
    app: Flask, admin: FlaskClient, customer: FlaskClient
) -> None:
    key = next(k for k in app.extensions["polaris_dash"].callback_map if ALERTS_BADGE_ID in k)
    nav = [{"id": "admin-nav", "property": "id", "value": "admin-nav"}]

    declared = app.extensions["polaris_dash"].callback_map[key]["output"]
    outputs = [{"id": o.component_id_str(), "property": o.component_property} for o in declared]

    def badge(client: FlaskClient) -> Any:
        return call_callback(client, key, nav, outputs=outputs)

    assert answer(badge(admin))[ALERTS_BADGE_ID] == {"children": ["0", {
        "props": {"children": " open alerts", "className": "visually-hidden"},
        "type": "Span", "namespace": "dash_html_components"}], "class_name": "d-none"}  # fmt: skip
    with app.extensions["polaris_db"].session() as s:
        evaluate(s, NOW, ())  # o-open, two hours down: one alert (no channel: nothing to send)
    shown = answer(badge(admin))[ALERTS_BADGE_ID]
    assert shown["children"][0] == "1" and shown["class_name"] == ""
    assert badge(customer).status_code == 403
    assert badge(app.test_client()).status_code == 401
    version = [{"id": VERSION_ID, "property": "data", "value": 0}]
    out = answer(call_callback(admin, "admin-uptime-alerts.children", version))
    table = json.dumps(out["admin-uptime-alerts"]["children"], ensure_ascii=False)
    assert "Depot <b>Bay</b> (CP-DOWN)" in table and "Not sent" in table
