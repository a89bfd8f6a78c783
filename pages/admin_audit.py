"""``/admin/audit``: the audit log, newest first, filtered by who, action, subject and local days.

The layout is a skeleton (the address may pre-fill the filters: ``?subject=PX-001``). When a
filter changes, ``show_view`` validates all of them, counts the matching entries and mounts a
grid whose id carries the filter as a canonical query; ``audit_rows`` answers its block requests,
parsing that query again (it came back from the browser). Choosing a row shows the entry read
again by its id. Export CSV downloads ``/export/audit.csv`` with the same filter. Every callback
checks the admin role on the server; the log is only ever read here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import dash
from dash import ALL, MATCH, Input, Output, callback, ctx
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.roles import admin_only
from components import audit as view
from components.admin import admin_page
from data.audit.log import (
    AuditFilter,
    AuditFilterError,
    audit_count,
    audit_entry,
    audit_page,
    parse_audit_filter,
)
from data.charging.dashboard import operator_settings
from data.core.grid import parse_grid_request
from pages._admin import admin_layout
from web.db import session_scope

dash.register_page(__name__, path="/admin/audit", title="Audit log · Polaris Express", name="Audit")


@admin_layout
def layout(**query: object) -> Component:
    return admin_page("Audit log", "/admin/audit", *view.audit_skeleton(query))


@callback(
    Output(view.RESULTS_ID, "children"),
    Input(view.USER_ID, "value"),
    Input(view.ACTION_ID, "value"),
    Input(view.SUBJECT_ID, "value"),
    Input(view.FROM_ID, "value"),
    Input(view.TO_ID, "value"),
)
@admin_only
def show_view(
    user: object, action: object, subject: object, first: object, last: object
) -> Component:
    """The entries matching the filters: their count, Export CSV and a grid."""
    chosen = None if action == view.ANY_ACTION else action
    try:
        flt = parse_audit_filter(user, chosen, subject, first, last)
    except AuditFilterError as error:
        return view.audit_problem(str(error))
    with session_scope() as s:
        total = audit_count(s, flt, operator_settings(s).tz)
    return view.audit_results(flt, total, view.audit_view(flt))


def _view_filter(grid_id: object) -> AuditFilter:
    """The filter a grid was mounted for, from its id's query (validated again)."""
    query = grid_id.get("view") if isinstance(grid_id, dict) else None
    raw = parse_qs(query.removeprefix("?")) if isinstance(query, str) else {}
    one = {k: v[0] for k, v in raw.items() if len(v) == 1}
    try:
        return parse_audit_filter(
            one.get("user"), one.get("action"), one.get("subject"), one.get("from"), one.get("to")
        )
    except AuditFilterError:
        raise PreventUpdate from None


@callback(
    Output({"type": view.GRID_TYPE, "view": MATCH, "n": MATCH}, "getRowsResponse"),
    Input({"type": view.GRID_TYPE, "view": MATCH, "n": MATCH}, "getRowsRequest"),
)
@admin_only
def audit_rows(request: object) -> dict[str, Any]:
    """One block of entries for the grid, newest first. The grid learns where the log ends
    from the first block that comes back short (no count per block)."""
    if not isinstance(request, dict):
        raise PreventUpdate
    flt = _view_filter(ctx.triggered_id)
    grid = parse_grid_request(request, max_rows=view.PAGE_ROWS)
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        rows = audit_page(s, flt, tz, grid.start, grid.end)
    last = grid.start + len(rows) if len(rows) < grid.limit else -1
    return {"rowData": view.audit_grid_rows(rows, tz, now), "rowCount": last}


@callback(
    Output(view.DETAIL_ID, "children"),
    Input({"type": view.GRID_TYPE, "view": ALL, "n": ALL}, "selectedRows"),
)
@admin_only
def show_entry(selected: object) -> Component:
    """The chosen entry in full, read again by its id: the row the browser sent only names it."""
    chosen = None
    for rows in selected if isinstance(selected, list) else []:
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            chosen = rows[0].get("entry")
    now = datetime.now(UTC)
    with session_scope() as s:
        tz = operator_settings(s).tz
        row = audit_entry(s, chosen)
    return view.entry_detail(row, tz, now)
