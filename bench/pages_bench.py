"""Heavy against light for whole page views, called by ``bench run`` (bench/run.py).

Each figure is server time of the real app (``bench.run.Driver``: Flask's test client, the
callbacks a first view fires, timed at the WSGI boundary), heavy and light taking turns:

* ``/`` for each period (current, previous, year): layout, router, banner, menu and the
  render of that period (``Driver.load``);
* ``/sessions``: router, the view (filter, charger choices) and the grid's first block of 100
  with the totals;
* a receipt: ``GET /receipts/<id>`` (the route finds the receipt for its status), the router
  and the receipt's body, for the account's latest finalized session;
* ``/admin/uptime`` as the bench admin: the fleet, one charger's months, the outage list and
  the fleet grid's first block, with the charger most (heavy) and least (light) used.

``ratios`` is heavy p50 / light p50 per view: the goal is that history does not show (<= 1.1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from flask import Flask

from bench.build import ADMIN_EMAIL, libpq_url
from bench.run import WARM_UP_LOADS, Call, Driver, _in, output_key, percentiles
from components import uptime as uptime_ids
from components.my_sessions import (
    HISTORY_COUNT_TYPE,
    HISTORY_GRID_TYPE,
    HISTORY_QUERY_ID,
    HISTORY_RESULTS_ID,
)
from components.receipts import RECEIPT_BODY_ID, RECEIPT_SESSION_STORE
from data.core.periods import PERIODS

TARGET = "<= 1.1"


def _route(driver: Driver, path: str) -> Call:
    return driver.callback(
        "pages",
        [
            _in("_pages_location", "pathname", path),
            _in("_pages_location", "search", ""),
        ],
    )


def _grid_of(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The grid's and the count store's ids in the view the server mounted."""
    found: dict[str, dict[str, Any]] = {}

    def walk(tree: Any) -> None:
        if isinstance(tree, dict):
            ident = tree.get("props", {}).get("id") if "props" in tree else None
            if isinstance(ident, dict) and ident.get("type") in (
                HISTORY_GRID_TYPE,
                HISTORY_COUNT_TYPE,
            ):
                found[ident["type"]] = ident
            for value in tree.values():
                walk(value)
        elif isinstance(tree, list):
            for value in tree:
                walk(value)

    walk(body)
    return found[HISTORY_GRID_TYPE], found[HISTORY_COUNT_TYPE]


def sessions_view(driver: Driver) -> list[Call]:
    """``/sessions`` as a first view mounts it: router, the view, the first block of rows."""
    calls = [_route(driver, "/sessions")]
    view = driver.callback("sessions_view", [_in(HISTORY_QUERY_ID, "data", {})])
    calls.append(view)
    grid, count = _grid_of(view.body)
    calls.append(
        driver.callback(
            "sessions_rows",
            [_in(grid, "getRowsRequest", {"startRow": 0, "endRow": 100})],  # type: ignore[arg-type]
            [_in(count, "data", None)],  # type: ignore[arg-type]
            outputs=[
                {"id": grid, "property": "getRowsResponse"},
                {"id": {**grid, "type": "history-totals"}, "property": "children"},
                {"id": count, "property": "data"},
            ],
        )
    )
    return calls


def receipt_view(driver: Driver, session_id: str) -> list[Call]:
    path = f"/receipts/{session_id}"
    calls = [driver.get("receipt_shell", path), _route(driver, path)]
    calls.append(driver.callback("receipt", [_in(RECEIPT_SESSION_STORE, "data", session_id)]))
    if calls[0].status != 200 or not calls[-1].body:
        raise SystemExit(f"no receipt for {session_id}")
    return calls


def uptime_view(driver: Driver, charger: str) -> list[Call]:
    ids = uptime_ids
    filters = [
        _in(ids.FILTER_CHARGER_ID, "value", ids.ANY),
        _in(ids.FILTER_CAUSE_ID, "value", ids.ANY),
        _in(ids.FILTER_STATE_ID, "value", "all"),
        _in(ids.FILTER_FROM_ID, "value", None),
        _in(ids.FILTER_TO_ID, "value", None),
        _in(ids.VERSION_ID, "data", 0),
    ]
    return [
        _route(driver, "/admin/uptime"),
        driver.callback(
            "uptime_fleet", [_in(ids.VERSION_ID, "data", 0)], [_in(ids.CHARGER_ID, "value", None)]
        ),
        driver.callback(
            "uptime_charger",
            [_in(ids.CHARGER_ID, "value", charger), _in(ids.VERSION_ID, "data", 0)],
        ),
        driver.callback("uptime_outages", filters),
        driver.callback(
            "uptime_standings",
            [_in(ids.STANDINGS_GRID_ID, "getRowsRequest", {"startRow": 0, "endRow": 100})],
        ),
    ]


def page_keys(app: Flask) -> dict[str, str]:
    """The callback keys the views here call, by the names they give them."""
    ids = uptime_ids
    return {
        "sessions_view": output_key(app, HISTORY_RESULTS_ID + ".children"),
        "sessions_rows": output_key(app, HISTORY_GRID_TYPE, "getRowsResponse"),
        "receipt": output_key(app, RECEIPT_BODY_ID + ".children"),
        "uptime_fleet": output_key(app, ids.HEADLINE_ID + ".children"),
        "uptime_charger": output_key(app, ids.MONTHS_ID + ".children"),
        "uptime_outages": output_key(app, ids.OUTAGES_ID + ".children"),
        "uptime_standings": output_key(app, ids.STANDINGS_GRID_ID + ".getRowsResponse"),
    }


def _in_turns(
    views: dict[str, Callable[[], list[Call]]], repeat: int
) -> dict[str, dict[str, float]]:
    """Each view's p50/p95 (the sum of its calls' server ms), heavy and light in turns."""
    times: dict[str, list[float]] = {who: [] for who in views}
    for n in range(WARM_UP_LOADS + repeat):
        for who, view in views.items():
            calls = view()
            if n >= WARM_UP_LOADS:
                times[who].append(sum(c.ms for c in calls))
    return {who: percentiles(v) for who, v in times.items()}


def page_figures(
    app: Flask, url: str, logins: dict[str, str], account_ids: dict[str, str], repeat: int
) -> dict[str, Any]:
    """``{"views_ms": {view: {who: {p50, p95}}}, "ratios": {view: heavy/light}}``; views are
    ``dashboard_<period>``, ``sessions``, ``receipt`` and ``uptime``."""
    drivers = {who: Driver(app, email) for who, email in logins.items()}
    for driver in drivers.values():
        driver.keys.update(page_keys(app))
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        latest = {
            who: conn.execute(
                "SELECT id FROM sessions WHERE account_id = %s AND finalized "
                "AND ended_at IS NOT NULL "
                "ORDER BY started_at DESC LIMIT 1",
                (account_ids[who],),
            ).fetchone()[0]
            for who in drivers
        }
        # Chargers by use: the heavy account's favourite, and a charger nobody used much.
        busiest = conn.execute(
            "SELECT charger_id FROM sessions WHERE account_id = %s GROUP BY 1 "
            "ORDER BY count(*) DESC LIMIT 1",
            (account_ids["heavy"],),
        ).fetchone()[0]
        quietest = conn.execute(
            "SELECT c.id FROM chargers c ORDER BY (SELECT count(*) FROM outages o "
            "WHERE o.charger_id = c.id), c.id LIMIT 1"
        ).fetchone()[0]
    views: dict[str, dict[str, Callable[[], list[Call]]]] = {}
    for period in PERIODS:
        views[f"dashboard_{period}"] = {
            who: (lambda d=d, p=period: d.load(p)) for who, d in drivers.items()
        }
    views["sessions"] = {who: (lambda d=d: sessions_view(d)) for who, d in drivers.items()}
    views["receipt"] = {
        who: (lambda d=d, s=latest[who]: receipt_view(d, s)) for who, d in drivers.items()
    }
    admin = Driver(app, ADMIN_EMAIL)
    admin.keys.update(page_keys(app))
    views["uptime"] = {
        "heavy": lambda: uptime_view(admin, busiest),
        "light": lambda: uptime_view(admin, quietest),
    }
    figures = {name: _in_turns(turns, repeat) for name, turns in views.items()}
    return {
        "views_ms": figures,
        "ratios": {
            name: round(f["heavy"]["p50"] / f["light"]["p50"], 2) if f["light"]["p50"] else None
            for name, f in figures.items()
        },
    }


def table_rows(pages: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """Rows for ``bench.run.print_table``: each view heavy and light, and their ratio."""
    if not pages:
        return []
    rows = []
    for name, f in pages["views_ms"].items():
        h, li = f["heavy"], f["light"]
        rows.append(
            (
                f"view {name} heavy / light",
                f"{pages['ratios'][name]} (heavy p50 {h['p50']} / p95 {h['p95']}; "
                f"light p50 {li['p50']} / p95 {li['p95']})",
                TARGET,
            )
        )
    return rows
