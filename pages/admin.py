"""/admin: the operator's home, the fleet overview.

Counts by status (one GROUP BY, the customer view's rule), pills that filter the table by
status, a search box, and a table of every charger that the server pages, sorts and filters
(ag-grid's infinite row model). The layout is a static skeleton; callbacks fill it, each one
checking the admin role first. ``?status=Offline`` opens the table filtered to that status.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.roles import admin_only
from components.admin import admin_page
from components.fleet import (
    ALL_STATUSES,
    FLEET_EXPORT_ID,
    FLEET_GRID_ID,
    FLEET_PILL_TYPE,
    FLEET_SEARCH_ID,
    FLEET_TOTAL_ID,
    STATUS_ORDER,
    active_status,
    fleet_export_href,
    fleet_row,
    fleet_skeleton,
    fleet_total_text,
    pill_class,
    pill_label,
)
from config import offline_after_s
from data.chargers.fleet import fleet_counts, fleet_page, parse_fleet_request
from pages._admin import admin_layout, register_alert_count
from web.db import session_scope

register_alert_count()  # the admin navigation's alert badge, on every admin page

dash.register_page(__name__, path="/admin", title="Fleet · Polaris Express", name="Admin")

_PILL_NAMES = (ALL_STATUSES, *(s.value for s in STATUS_ORDER))
SEARCH_COLUMN = "friendly_name"  # its filter matches the name or the id


def _status_param(value: object) -> str:
    """``?status=`` from the address bar, if it names a status; otherwise All."""
    if isinstance(value, str):
        for name in _PILL_NAMES:
            if name.lower() == value.strip().lower():
                return name
    return ALL_STATUSES


@admin_layout
def layout(status: object = None, **_: object) -> Component:
    return admin_page("Fleet", "/admin", *fleet_skeleton(_status_param(status), offline_after_s()))


def _pill_statuses() -> list[str]:
    """The status each pill on screen stands for, in the order Dash lists them."""
    return [str(out["id"].get("status", "")) for out in ctx.outputs_list]


@callback(
    Output({"type": FLEET_PILL_TYPE, "status": ALL}, "children"),
    Input("refresh-interval", "n_intervals"),
)
@admin_only
def refresh_counts(_n: int | None) -> list[Any]:
    """The count on each pill, now and on every tick of the shell's refresh timer."""
    with session_scope() as s:
        counts = fleet_counts(s, datetime.now(UTC), offline_after_s=offline_after_s())
    by_name: dict[str, int] = {status.value: n for status, n in counts.items()}
    by_name[ALL_STATUSES] = sum(counts.values())
    return [pill_label(name, by_name.get(name)) for name in _pill_statuses()]


@callback(
    Output(FLEET_GRID_ID, "filterModel"),
    Input({"type": FLEET_PILL_TYPE, "status": ALL}, "n_clicks"),
    Input(FLEET_SEARCH_ID, "value"),
    State(FLEET_GRID_ID, "filterModel"),
    prevent_initial_call=True,
)
@admin_only
def filter_table(_clicks: list[Any], search: object, shown: object) -> dict[str, Any]:
    """A pill sets the Status column's filter; the search box sets the Charger column's (name
    or id). Other column filters stay. The server validates the model again on every fetch."""
    model: dict[str, Any] = dict(shown) if isinstance(shown, dict) else {}
    trigger = ctx.triggered_id
    if isinstance(trigger, dict):
        status = trigger.get("status")
        if status not in _PILL_NAMES or not ctx.triggered[0].get("value"):
            raise PreventUpdate
        model.pop("status", None)
        if status != ALL_STATUSES:
            model["status"] = {"filterType": "text", "type": "equals", "filter": status}
    elif trigger == FLEET_SEARCH_ID:
        text = search.strip()[:200] if isinstance(search, str) else ""
        model.pop(SEARCH_COLUMN, None)
        if text:
            model[SEARCH_COLUMN] = {"filterType": "text", "type": "contains", "filter": text}
    else:
        raise PreventUpdate
    return model


@callback(
    Output({"type": FLEET_PILL_TYPE, "status": ALL}, "className"),
    Output({"type": FLEET_PILL_TYPE, "status": ALL}, "aria-pressed"),
    Output(FLEET_EXPORT_ID, "href"),
    Input(FLEET_GRID_ID, "filterModel"),
)
@admin_only
def highlight_pill(filter_model: object) -> tuple[list[str], list[str], str]:
    """The pill matching the Status filter (set by a pill or from the column menu) is on, and
    "Export CSV" carries the table's filters: this runs on every change of the filter model,
    whoever applied it (pill, search box, column menu, the address)."""
    active = active_status(filter_model)
    names = [str(out["id"].get("status", "")) for out in ctx.outputs_list[0]]
    return (
        [pill_class(name, name == active) for name in names],
        ["true" if name == active else "false" for name in names],
        fleet_export_href(filter_model),
    )


@callback(
    Output(FLEET_GRID_ID, "getRowsResponse"),
    Output(FLEET_TOTAL_ID, "children"),
    Input(FLEET_GRID_ID, "getRowsRequest"),
    prevent_initial_call=True,
)
@admin_only
def fleet_rows(request: object) -> tuple[dict[str, Any], str]:
    """One block of rows for the grid, and how many chargers match in all."""
    if request is None:
        raise PreventUpdate
    grid = parse_fleet_request(request)
    now = datetime.now(UTC)
    with session_scope() as s:
        result = fleet_page(s, now, grid, offline_after_s=offline_after_s())
    rows = [fleet_row(row, now) for row in result.rows]
    total = fleet_total_text(result.total, filtered=bool(grid.filters))
    return {"rowData": rows, "rowCount": result.total}, total
