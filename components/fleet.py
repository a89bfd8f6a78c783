"""The fleet overview at /admin: chargers by status (pills) and the table of every charger."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import html
from dash.development.base_component import Component

from components.admin import admin_section
from components.charger import charger_href, heartbeat_text, visibility_text
from components.format import format_number
from components.history import export_link
from components.landmarks import aria as _aria
from data.chargers.fleet import FleetRow
from data.chargers.status import ChargerStatus

# Stable ids (for tests and for people who automate); each starts with ``admin-`` so the
# central gate refuses customers for any callback that writes to it.
FLEET_PILL_TYPE = "admin-fleet-pill"
FLEET_GRID_ID = "admin-fleet-grid"
FLEET_SEARCH_ID = "admin-fleet-search"
FLEET_TOTAL_ID = "admin-fleet-total"
FLEET_EXPORT_ID = "admin-fleet-export"
FLEET_COUNTS_NOTE_ID = "admin-fleet-counts-note"
ALL_STATUSES = "All"

STATUS_ORDER = (
    ChargerStatus.online,
    ChargerStatus.in_use,
    ChargerStatus.reserved,
    ChargerStatus.out_of_order,
    ChargerStatus.offline,
)
# Inactive pills are outlined; yellow text on white is unreadable, so Reserved gets dark text.
_PILL_TEXT = {ChargerStatus.reserved.value: " text-warning-emphasis"}
_PILL_COLOUR = {
    ALL_STATUSES: "dark",
    ChargerStatus.online.value: "success",
    ChargerStatus.in_use.value: "primary",
    ChargerStatus.reserved.value: "warning",
    ChargerStatus.out_of_order.value: "danger",
    ChargerStatus.offline.value: "secondary",
}
# The same icons as the dashboard's status pills (assets/polaris.css), as text in a grid cell.
_STATUS_ICON = {
    ChargerStatus.online: "\u2713",
    ChargerStatus.in_use: "\u21af",
    ChargerStatus.reserved: "\u25f7",
    ChargerStatus.out_of_order: "\u26a0\ufe0e",
    ChargerStatus.offline: "\u2715",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def markdown_link(text: str, href: str) -> str:
    """A markdown link whose text shows exactly ``text`` (markdown characters escaped)."""
    shown = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return f"[{shown}]({href})"


def pill_id(status: str) -> dict[str, str]:
    return {"type": FLEET_PILL_TYPE, "status": status}


def pill_class(status: str, active: bool) -> str:
    colour = _PILL_COLOUR.get(status, "secondary")
    style = f"btn-{colour}" if active else f"btn-outline-{colour}{_PILL_TEXT.get(status, '')}"
    return f"btn btn-sm rounded-pill fleet-pill {style}"


def pill_label(status: str, count: int | None) -> list[Component | str]:
    shown = "…" if count is None else f"{count:,}"
    return [status, " ", html.Span(shown, className="fleet-pill-count fw-semibold")]


def status_pills(active: str) -> html.Div:
    """All / Online / In use / Reserved / Out of order / Offline: counts filled by a callback; a
    click filters the table by that status (the same filter as the Status column's)."""
    names = [ALL_STATUSES, *(s.value for s in STATUS_ORDER)]
    return html.Div(
        [
            html.Button(
                pill_label(name, None),
                id=pill_id(name),
                className=pill_class(name, name == active),
                type="button",
                n_clicks=0,
                **_aria(pressed="true" if name == active else "false"),
            )
            for name in names
        ],
        className="d-flex flex-wrap gap-2 fleet-pills",
        role="group",
        **_aria(label="Filter chargers by status"),
    )


def status_filter_model(status: str | None) -> dict[str, Any]:
    """The grid's filter entry for one status (what a pill sets)."""
    if status is None or status == ALL_STATUSES:
        return {}
    return {"status": {"filterType": "text", "type": "equals", "filter": status}}


def fleet_export_href(filter_model: object) -> str:
    """The fleet table's filters as ``/export/chargers.csv``: the status pill as ``status``, the
    search box as ``search``, any other column filter in ``filter`` (the grid's model as JSON,
    which the export reads with the fleet's own parser)."""
    model = filter_model if isinstance(filter_model, Mapping) else {}
    params: dict[str, str] = {}
    others: dict[str, Any] = {}
    for column, entry in model.items():
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        value = entry.get("filter") if isinstance(entry, Mapping) else None
        text = value.strip() if isinstance(value, str) else ""
        if column == "status" and kind == "equals" and text:
            params["status"] = text
        elif column == "friendly_name" and kind == "contains" and text:
            params["search"] = text
        else:
            others[str(column)] = entry
    if others:
        params["filter"] = json.dumps(others, separators=(",", ":"), sort_keys=True)
    return "/export/chargers.csv" + ("?" + urlencode(params) if params else "")


def active_status(filter_model: object) -> str:
    """Which pill the grid's current filter corresponds to (``All`` when none or several)."""
    if not isinstance(filter_model, Mapping):
        return ALL_STATUSES
    model = filter_model.get("status")
    if not isinstance(model, Mapping) or model.get("type") != "equals":
        return ALL_STATUSES
    value = str(model.get("filter", "")).strip().lower()
    for status in STATUS_ORDER:
        if status.value.lower() == value:
            return status.value
    return ALL_STATUSES


def _text_filter(options: Sequence[str] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"buttons": ["reset"], "debounceMs": 300, "maxNumConditions": 2}
    if options is not None:
        params["filterOptions"] = list(options)
    return {"filter": "agTextColumnFilter", "filterParams": params}


def _number_filter() -> dict[str, Any]:
    return {
        "filter": "agNumberColumnFilter",
        "filterParams": {"buttons": ["reset"], "debounceMs": 300, "maxNumConditions": 2},
    }


def fleet_column_defs() -> list[dict[str, Any]]:
    """Columns of the fleet table. ``field`` is the colId the server's allow-list knows."""
    right = {"type": "rightAligned"}
    return [
        {
            "field": "friendly_name",
            "headerName": "Charger",
            "headerTooltip": "Name (the filter also matches the charger id)",
            "cellRenderer": "markdown",
            "minWidth": 200,
            "flex": 2,
            **_text_filter(),
        },
        {
            "field": "status",
            "headerName": "Status",
            "minWidth": 140,
            **_text_filter(["equals", "notEqual"]),
        },
        {
            "field": "last_seen_at",
            "headerName": "Last heartbeat",
            "headerTooltip": "The charger's last heartbeat; Offline after too long a silence",
            "minWidth": 130,
        },
        {
            "field": "sessions_30d",
            "headerName": "Sessions 30 d",
            "headerTooltip": "Sessions started in the last 30 days",
            "minWidth": 120,
            **right,
            **_number_filter(),
        },
        {
            "field": "energy_kwh_30d",
            "headerName": "kWh 30 d",
            "headerTooltip": "Energy of the sessions started in the last 30 days",
            "minWidth": 110,
            **right,
            **_number_filter(),
        },
        {"field": "connector_type", "headerName": "Connector", "minWidth": 115, **_text_filter()},
        {
            "field": "max_power_kw",
            "headerName": "Max kW",
            "minWidth": 95,
            **right,
            **_number_filter(),
        },
        {"field": "visibility", "headerName": "Visibility", "minWidth": 150, **_text_filter()},
        {"field": "charger_id", "headerName": "Id", "minWidth": 100, **_text_filter()},
    ]


def fleet_grid(initial_status: str) -> dag.AgGrid:
    """Every charger, fetched page by page from the server (infinite row model)."""
    return dag.AgGrid(
        id=FLEET_GRID_ID,
        rowModelType="infinite",
        columnDefs=fleet_column_defs(),
        defaultColDef={"sortable": True, "resizable": True, "suppressMovable": True},
        filterModel=status_filter_model(initial_status),
        dashGridOptions={
            "cacheBlockSize": 100,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "rowBuffer": 10,
            "suppressColumnVirtualisation": True,  # nine columns: render them all
            "tooltipShowDelay": 300,
        },
        style={"height": "600px", "width": "100%"},
        className="fleet-grid",
    )


def fleet_row(row: FleetRow, now: datetime) -> dict[str, Any]:
    """One row of the table, every value formatted here (the grid only shows text)."""
    return {
        "charger_id": row.charger_id,
        "friendly_name": markdown_link(row.friendly_name, charger_href(row.charger_id)),
        "status": status_cell(row.status),
        "last_seen_at": heartbeat_text(row.last_seen_at, now),
        "sessions_30d": f"{row.sessions_30d:,}",
        "energy_kwh_30d": format_number(row.energy_kwh_30d),
        "connector_type": row.connector_type,
        "max_power_kw": format_number(row.max_power_kw),
        "visibility": visibility_text(row.visibility, row.granted_accounts),
    }


def status_cell(status: ChargerStatus) -> str:
    """The status as the table shows it: the dashboard pill's icon, then the word."""
    return f"{_STATUS_ICON[status]} {status.value}"


def fleet_total_text(total: int, filtered: bool) -> str:
    noun = "charger" if total == 1 else "chargers"
    if filtered:
        return f"{total:,} {noun} {'matches' if total == 1 else 'match'} these filters"
    return f"{total:,} {noun} in all"


def silence_text(seconds: int) -> str:
    """The offline threshold in words: ``an hour``, ``2 hours``, ``5 minutes``, ``90 seconds``."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"an {unit}" if (n, unit) == (1, "hour") else f"{n} {unit}{'s' * (n != 1)}"
    return f"{seconds} second{'s' * (seconds != 1)}"


def status_rule_text(offline_after_s: int) -> str:
    """The fleet note: the same rule customers see, with the configured offline threshold."""
    return (
        f"Counted now, by the same rules customers see. Offline: no heartbeat for over "
        f"{silence_text(offline_after_s)}. Out of order: the charger reports Faulted or "
        "Unavailable (as a whole or on every connector)."
    )


def fleet_skeleton(initial_status: str, offline_after_s: int = 3600) -> list[Component]:
    """The /admin page body: pills, search, the table. Static: callbacks fill every figure."""
    return [
        admin_section(
            "admin-fleet-status",
            "Chargers by status",
            [
                status_pills(initial_status),
                html.P(
                    status_rule_text(offline_after_s),
                    id=FLEET_COUNTS_NOTE_ID,
                    className="small text-body-secondary mb-0 mt-2",
                ),
            ],
        ),
        admin_section(
            "admin-fleet-chargers",
            "All chargers",
            [
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label(
                                    "Search by name or id",
                                    html_for=FLEET_SEARCH_ID,
                                    class_name="visually-hidden",
                                ),
                                dbc.Input(
                                    id=FLEET_SEARCH_ID,
                                    type="search",
                                    placeholder="Search by name or id",
                                    debounce=True,
                                    autocomplete="off",
                                    maxlength=200,
                                ),
                            ],
                            md=6,
                        ),
                        dbc.Col(
                            [
                                html.P(
                                    "…",
                                    id=FLEET_TOTAL_ID,
                                    className="small text-body-secondary mb-0",
                                    role="status",
                                    **_aria(live="polite"),
                                ),
                                export_link(
                                    FLEET_EXPORT_ID,
                                    fleet_export_href(status_filter_model(initial_status)),
                                    "these chargers",
                                ),
                            ],
                            md=6,
                            class_name="d-flex align-items-center justify-content-md-end gap-2",
                        ),
                    ],
                    class_name="g-2 mb-2",
                ),
                fleet_grid(initial_status),
                html.P(
                    "Sort by any column; filter from a column's menu. Sessions and kWh count "
                    "sessions started in the last 30 days.",
                    className="small text-body-secondary mb-0 mt-2",
                ),
            ],
        ),
    ]
