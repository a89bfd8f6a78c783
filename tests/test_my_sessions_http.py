"""``/sessions`` over HTTP, on SQLite and PostgreSQL: anonymous people get nothing, a driver
gets their own rows only (whatever the browser sends as the view), totals with the first block,
bad dates explained in plain words, a charger they never used left out, an admin account sent
to switch, receipt links on finalized rows, and Export CSV of the same filter limited to them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from data.core.models import Role
from tests.support.databases import fresh_database
from tests.support.factories import make_charger, make_session
from tests.support.receipts import finished, priced_site
from tests.support.web import AppFactory, add_person, client_for, dash_csrf

DANA, ZOE, OLGA = "dana@example.com", "zoe@example.com", "olga@example.com"
FERN = "fern@example.com"
FERN_CHARGERS = 25
CALLBACK_URL = "/_dash-update-component"
LAST_YEAR = datetime(2025, 11, 14, 7, tzinfo=UTC)
THIS_YEAR = datetime(2026, 11, 3, 7, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    module_app_factory: AppFactory,
) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp(f"history-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        application = module_app_factory(url, PROPAGATE_EXCEPTIONS=False)
        add_person(application, DANA, ("a-dana", Role.customer, None))
        add_person(application, ZOE, ("a-zoe", Role.customer, None))
        add_person(application, FERN, ("a-fern", Role.customer, None))
        add_person(application, OLGA, ("a-olga-admin", Role.admin, "Ops"))
        with application.extensions["polaris_db"].session() as s:
            priced_site(s)
            # Unpriced before the tariff (2026): no cost, no receipt; still listed and counted.
            finished(s, "s-dana-old", "a-dana", "AC", LAST_YEAR, HOUR, "12")
            for n in range(3):
                finished(s, f"s-dana-{n}", "a-dana", "DC", THIS_YEAR + n * 24 * HOUR, HOUR, "20")
            make_session(s, "a-dana", "AC", session_id="s-dana-live", started_at=THIS_YEAR
                         + 10 * 24 * HOUR, energy_kwh="4")  # fmt: skip
            finished(s, "s-zoe-secret", "a-zoe", "AC", THIS_YEAR + HOUR, HOUR, "77.7")
            # Fern used more chargers than the filter first offers; F00 the longest ago. Zoe
            # alone used ZONLY.
            for n in range(FERN_CHARGERS):
                make_charger(s, charger_id=f"F{n:02d}", friendly_name=f"Fern stop {n:02d}")
                finished(s, f"s-fern-{n}", "a-fern", f"F{n:02d}", LAST_YEAR + n * HOUR, HOUR, "5")
            make_charger(s, charger_id="ZONLY", friendly_name="Fern stop secret")
            finished(s, "s-zoe-only", "a-zoe", "ZONLY", THIS_YEAR, HOUR, "1")
        yield application
        application.extensions["polaris_db"].engine.dispose()


def _key(app: Flask, fragment: str) -> str:
    keys = [k for k in app.extensions["polaris_dash"].callback_map if fragment in k]
    assert len(keys) == 1, (fragment, keys)
    return keys[0]


def _post(client: FlaskClient, body: dict[str, Any]) -> Any:
    headers = {"X-CSRFToken": dash_csrf(client)} if client.get_cookie("session") else {}
    return client.post(
        CALLBACK_URL, data=json.dumps(body), content_type="application/json", headers=headers
    )


def show_view(app: Flask, client: FlaskClient, query: Any) -> Any:
    """The page's first callback, given the address's query (as the layout stores it)."""
    key = _key(app, "history-note.children")
    outputs = [
        {"id": "history-from", "property": "value"},
        {"id": "history-to", "property": "value"},
        {"id": "history-charger", "property": "options"},
        {"id": "history-charger", "property": "value"},
        {"id": "history-note", "property": "children"},
        {"id": "history-results", "property": "children"},
    ]
    return _post(
        client,
        {
            "output": key,
            "outputs": outputs,
            "inputs": [{"id": "history-query", "property": "data", "value": query}],
            "state": [],
            "changedPropIds": ["history-query.data"],
        },
    )


def find_chargers(app: Flask, client: FlaskClient, typed: Any, value: Any = "all") -> Any:
    """The charger filter's search as the dropdown sends it (both values forgeable)."""
    key = _key(app, "history-charger.options@")
    return _post(
        client,
        {
            "output": key,
            "outputs": {"id": "history-charger", "property": "options"},
            "inputs": [{"id": "history-charger", "property": "search_value", "value": typed}],
            "state": [{"id": "history-charger", "property": "value", "value": value}],
            "changedPropIds": ["history-charger.search_value"],
        },
    )


def _offered(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    answer = response.get_json()["response"]
    return [o["value"] for o in answer["history-charger"]["options"]]


def rows(app: Flask, client: FlaskClient, view: str, start: int = 0, end: int = 100) -> Any:
    """One block of the grid whose id carries ``view`` (the browser sends it: forgeable)."""
    key = _key(app, '"history-grid"')
    grid = {"n": "k1", "type": "history-grid", "view": view}
    totals = {"n": "k1", "type": "history-totals", "view": view}
    count = {"n": "k1", "type": "history-count", "view": view}
    return _post(
        client,
        {
            "output": key,
            "outputs": [
                {"id": grid, "property": "getRowsResponse"},
                {"id": totals, "property": "children"},
                {"id": count, "property": "data"},
            ],
            "inputs": [
                {
                    "id": grid,
                    "property": "getRowsRequest",
                    "value": {"startRow": start, "endRow": end, "sortModel": [], "filterModel": {}},
                }
            ],
            "state": [{"id": count, "property": "data", "value": None}],
            "changedPropIds": [json.dumps(grid, sort_keys=True) + ".getRowsRequest"],
        },
    )


def _grid(response: Any) -> tuple[list[dict[str, str]], int, str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    answer = response.get_json()["response"]
    grid_id = next(k for k in answer if "history-grid" in k)
    totals_id = next(k for k in answer if "history-totals" in k)
    got = answer[grid_id]["getRowsResponse"]
    return got["rowData"], got["rowCount"], answer[totals_id]["children"]


def test_anonymous_people_get_nothing(app: Flask) -> None:
    anonymous = client_for(app, None)
    response = anonymous.get("/sessions")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/sessions"
    for answer in (show_view(app, anonymous, {}), rows(app, anonymous, "")):
        assert answer.status_code in (401, 403)
        assert "s-dana" not in answer.get_data(as_text=True)
    assert anonymous.get("/export/sessions.csv").status_code == 401


def test_a_driver_sees_their_own_sessions_newest_first_with_totals(app: Flask) -> None:
    dana = client_for(app, DANA)
    assert dana.get("/sessions").status_code == 200
    shown = show_view(app, dana, {})
    assert shown.status_code == 200
    text = json.dumps(shown.get_json(), ensure_ascii=False)
    assert "All your sessions" in text and "Export CSV" in text
    assert '"href": "/export/sessions.csv"' in text
    answer = shown.get_json()["response"]
    assert [o["value"] for o in answer["history-charger"]["options"]] == ["all", "AC", "DC"]
    data, count, totals = _grid(rows(app, dana, ""))
    assert count == 5
    assert totals.startswith("5 sessions · ")
    assert [r["session"] for r in data] == [
        "s-dana-live", "s-dana-2", "s-dana-1", "s-dana-0", "s-dana-old",
    ]  # fmt: skip
    receipts = {r["session"]: r["receipt"] for r in data}
    assert receipts["s-dana-2"] == "[Receipt](/receipts/s-dana-2)"
    assert receipts["s-dana-live"] == "" and receipts["s-dana-old"] == ""
    assert "77.7" not in json.dumps(data)


def test_a_forged_view_never_shows_another_accounts_rows(app: Flask) -> None:
    dana = client_for(app, DANA)
    for view in ("?account=a-zoe", "?charger=AC&account=a-zoe", "?charger=a-zoe", "?from=x"):
        data, _count, _totals = _grid(rows(app, dana, view))
        assert all(r["session"].startswith("s-dana") for r in data), view
        assert "s-zoe-secret" not in json.dumps(data)
    # The address's own filter: Zoe's charger is one Dana used too, yet only hers show.
    shown = show_view(app, dana, {"charger": "AC", "account": "a-zoe"})
    assert "s-zoe" not in shown.get_data(as_text=True)
    data, count, _ = _grid(rows(app, dana, "?charger=AC"))
    assert count == 2 and {r["session"] for r in data} == {"s-dana-live", "s-dana-old"}


def test_bad_dates_and_unknown_chargers_are_explained_in_plain_words(app: Flask) -> None:
    dana = client_for(app, DANA)
    shown = show_view(app, dana, {"from": "2025-02-30", "to": "tomorrow", "charger": "FAR"})
    assert shown.status_code == 200
    text = json.dumps(shown.get_json(), ensure_ascii=False)
    assert "The start date “2025-02-30” is not a date like 2026-11-24." in text
    assert "The end date “tomorrow” is not a date like 2026-11-24." in text
    assert "You have no session on that charger; showing every charger." in text
    assert "Traceback" not in text
    backwards = show_view(app, dana, {"from": "2026-02-01", "to": "2026-01-01"})
    assert "The start date is after the end date" in backwards.get_data(as_text=True)


def test_last_years_session_is_found_by_its_dates(app: Flask) -> None:
    dana = client_for(app, DANA)
    shown = show_view(app, dana, {"from": "2025-11-01", "to": "2025-11-30"})
    text = json.dumps(shown.get_json(), ensure_ascii=False)
    assert "Your sessions from 1 Nov 2025 to 30 Nov 2025" in text
    view = "?from=2025-11-01&to=2025-11-30"
    assert f'"href": "/export/sessions.csv{view}"' in text
    data, count, totals = _grid(rows(app, dana, view))
    assert count == 1 and [r["session"] for r in data] == ["s-dana-old"]
    assert totals == "1 session · 12.0 kWh"  # unpriced: no cost in the line


def test_export_csv_of_the_filter_holds_only_the_drivers_rows(app: Flask) -> None:
    dana = client_for(app, DANA)
    view = "?from=2026-01-01&to=2026-12-31&charger=DC"
    response = dana.get(f"/export/sessions.csv{view}")
    assert response.status_code == 200
    exported = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    data, _count, _ = _grid(rows(app, dana, view))
    assert sorted(r["session_id"] for r in exported) == sorted(r["session"] for r in data)
    assert len(exported) == 3 and all(r["cost_total"] for r in exported)
    # Another account's rows cannot be asked for.
    assert dana.get("/export/sessions.csv?account=a-zoe").status_code == 403


def test_an_admin_account_is_sent_to_switch(app: Flask) -> None:
    olga = client_for(app, OLGA)
    shown = show_view(app, olga, {})
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    assert "Switch to a customer account" in text and "s-dana" not in text
    assert rows(app, olga, "").status_code == 204  # PreventUpdate: nothing sent


def test_the_charger_filter_offers_a_bounded_few_and_searches_the_rest(app: Flask) -> None:
    fern = client_for(app, FERN)
    # The first view: the 20 most recently used, newest first; not F00..F04 (the oldest).
    offered = _offered(show_view(app, fern, {}))
    assert offered == ["all"] + [f"F{n:02d}" for n in reversed(range(5, FERN_CHARGERS))]
    # Typing searches all of Fern's chargers on the server, by name or id.
    assert _offered(find_chargers(app, fern, "stop 00")) == ["all", "F00"]
    assert _offered(find_chargers(app, fern, "f0")) == ["all"] + [f"F{n:02d}" for n in range(10)]
    assert len(_offered(find_chargers(app, fern, "fern"))) == 1 + 20  # bounded
    # Nothing typed: the recent ones again, and the chosen one stays listed.
    again = _offered(find_chargers(app, fern, "", "F00"))
    assert again[:2] == ["all", "F00"] and len(again) == 22
    assert _offered(find_chargers(app, fern, "stop 1", "F00"))[:2] == ["all", "F00"]
    # An old charger chosen in the address is offered and filters the rows.
    assert "F00" in _offered(show_view(app, fern, {"charger": "F00"}))
    data, count, _ = _grid(rows(app, fern, "?charger=F00"))
    assert count == 1 and [r["session"] for r in data] == ["s-fern-0"]


def test_the_charger_search_never_offers_another_accounts_charger(app: Flask) -> None:
    fern = client_for(app, FERN)
    for typed, value in (("secret", "all"), ("ZONLY", "ZONLY"), ("", "ZONLY"), ("AC", "AC")):
        answer = find_chargers(app, fern, typed, value)
        text = answer.get_data(as_text=True)
        assert "ZONLY" not in text and "secret" not in text and '"AC"' not in text, typed
        assert _offered(answer)[0] == "all"
    shown = show_view(app, fern, {"charger": "ZONLY"})
    assert "ZONLY" not in json.dumps(shown.get_json()["response"]["history-charger"])
    assert "You have no session on that charger" in shown.get_data(as_text=True)
    # Anonymous people and admin accounts get nothing.
    assert find_chargers(app, client_for(app, None), "fern").status_code in (401, 403)
    assert find_chargers(app, client_for(app, OLGA), "fern").status_code == 204
