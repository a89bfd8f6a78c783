"""The people and accounts list of /admin/accounts (search, grid, export link), and its skeleton."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.history import export_link
from components.landmarks import aria as _aria
from components.new_person import NEW_OPEN_ID, new_person_modal
from components.person import ROLE_TEXT, person_panel, remove_modal
from data.accounts.people import REFRESH_FILTER, SEARCH_FILTER, AccountListRow
from data.core.models import Role

# Every id starts with ``admin-``: the callback gate refuses customers for those.
ACCOUNTS_SEARCH_ID = "admin-accounts-search"
ACCOUNTS_EXPORT_ID = "admin-accounts-export"
ACCOUNTS_GRID_ID = "admin-accounts-grid"
ACCOUNTS_COUNT_ID = "admin-accounts-count"
ACCOUNTS_ALERT_ID = "admin-accounts-alert"
SELECTED_ID = "admin-accounts-selected"  # {"user_id": int, "account_id": str | None, "rev": n}

NO_PLAN = "—"


def accounts_grid() -> dag.AgGrid:
    """People and their accounts, one row per account, paged by the server (infinite model).

    The search box rides in the filter model of a hidden column, so a new search restarts the
    grid's paging like any column filter does; after a write, another hidden column's filter
    changes so the rows are fetched again. No JavaScript functions (the CSP forbids eval).
    """
    text_filter = {
        "filter": "agTextColumnFilter",
        "filterParams": {
            "filterOptions": ["contains", "startsWith", "equals"],
            "maxNumConditions": 1,
            "debounceMs": 400,
            "buttons": ["reset"],
        },
    }
    return dag.AgGrid(
        id=ACCOUNTS_GRID_ID,
        rowModelType="infinite",
        columnDefs=[
            {"field": SEARCH_FILTER, "hide": True, "filter": "agTextColumnFilter"},
            {"field": REFRESH_FILTER, "hide": True, "filter": "agTextColumnFilter"},
            {"field": "email", "headerName": "Email", "minWidth": 220, "flex": 2},
            {"field": "display_name", "headerName": "Name", "minWidth": 150, "flex": 1.5},
            {"field": "account_id", "headerName": "Account", "minWidth": 130, "flex": 1},
            {"field": "role", "headerName": "Role", "minWidth": 110, "flex": 0.8},
            {"field": "plan", "headerName": "Plan", "minWidth": 130, "flex": 1},
            {"field": "label", "headerName": "Label", "minWidth": 120, "flex": 1},
            {
                "field": "default",
                "headerName": "Signs in to",
                "minWidth": 120,
                "flex": 0.8,
                "sortable": False,
                "filter": False,
            },
        ],
        defaultColDef={"sortable": True, "resizable": True, **text_filter},
        dashGridOptions={
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            "cacheBlockSize": 100,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "rowBuffer": 10,
            "animateRows": False,
            "suppressMultiSort": True,
        },
        className="ag-theme-quartz admin-accounts-grid",
        style=grid_style(_GRID_VISIBLE_ROWS),
    )


_GRID_HEADER_PX = 50
_GRID_ROW_PX = 42  # the quartz theme's row height
_GRID_VISIBLE_ROWS = 9


def grid_style(total: int) -> dict[str, str]:
    """As tall as the rows found, up to nine; a long list scrolls inside the grid."""
    rows = min(max(total, 1), _GRID_VISIBLE_ROWS)
    return {"height": f"{_GRID_HEADER_PX + rows * _GRID_ROW_PX + 4}px", "width": "100%"}


def grid_rows(rows: Sequence[AccountListRow]) -> list[dict[str, Any]]:
    """Rows as the grid shows them: words, not codes; the ids the detail panel needs."""
    return [
        {
            "user_id": r.user_id,
            "email": r.email,
            "display_name": r.display_name,
            "account_id": r.account_id or "",
            "role": ROLE_TEXT[r.role] if r.role else "No account",
            "plan": r.plan_name or (NO_PLAN if r.role == Role.customer else ""),
            "label": r.label or "",
            "default": "✓ Default" if r.is_default else "",
        }
        for r in rows
    ]


def count_text(total: int, search: str, *, filtered: bool = False) -> str:
    """``3 accounts match “anna”``; people without an account count as a row too."""
    noun = "row" if total == 1 else "rows"
    if search:
        return f"{total:,} {noun} match “{search}”" + (
            " and the column filters" if filtered else ""
        )
    if filtered:
        return f"{total:,} {noun} match the column filters"
    return f"{total:,} {noun}: every account, and people who have none yet"


def accounts_toolbar() -> html.Div:
    return html.Div(
        className="d-flex flex-wrap align-items-end gap-2 mb-2",
        children=[
            html.Div(
                [
                    dbc.Label("Search people and accounts", html_for=ACCOUNTS_SEARCH_ID),
                    dbc.Input(
                        id=ACCOUNTS_SEARCH_ID,
                        type="search",
                        placeholder="Email, name, account id or label",
                        debounce=400,  # ms: search once typing pauses
                        autocomplete="off",
                        maxlength=200,
                    ),
                ],
                className="flex-grow-1 admin-search",
            ),
            dbc.Button("New person", id=NEW_OPEN_ID, color="primary", n_clicks=0),
            html.Div(
                export_link(ACCOUNTS_EXPORT_ID, accounts_export_href({}), "these accounts"),
                className="pb-1",  # btn-sm beside a full-size input: sit on the same line
            ),
        ],
    )


def accounts_export_href(filter_model: object) -> str:
    """The accounts table's filters as ``/export/accounts.csv``: the search box as ``search``
    (every account of the people it finds), column filters in ``filter`` (the grid's model as
    JSON, which the export reads with the table's own parser)."""
    model = filter_model if isinstance(filter_model, Mapping) else {}
    params: dict[str, str] = {}
    others: dict[str, Any] = {}
    for column, entry in model.items():
        if column == REFRESH_FILTER:
            continue  # filters nothing: it only makes the grid fetch again
        value = entry.get("filter") if isinstance(entry, Mapping) else None
        if column == SEARCH_FILTER and isinstance(value, str):
            if value.strip():
                params["search"] = value.strip()
        else:
            others[str(column)] = entry
    if others:
        params["filter"] = json.dumps(others, separators=(",", ":"), sort_keys=True)
    return "/export/accounts.csv" + ("?" + urlencode(params) if params else "")


def accounts_skeleton() -> list[Component]:
    """Everything the page shows, empty: callbacks fill it (the layout runs no SQL)."""
    return [
        html.P(
            "Find a person to set their password, plan and restricted chargers. "
            "Changes reach customers the next time their dashboard refreshes.",
            className="text-body-secondary",
        ),
        accounts_toolbar(),
        html.P(
            id=ACCOUNTS_COUNT_ID,
            className="small text-body-secondary mb-2",
            role="status",
            **_aria(live="polite"),
        ),
        accounts_grid(),
        html.Div(id=ACCOUNTS_ALERT_ID, role="status", className="mt-3", **_aria(live="polite")),
        dcc.Store(id=SELECTED_ID, data=None),
        person_panel(),
        new_person_modal(),
        remove_modal(),
    ]
