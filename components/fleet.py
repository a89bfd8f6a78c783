"""The admin fleet pages' pieces: the overview (status pills, the chargers table) and one
charger's detail (summary, settings, access, usage charts, sessions, reservations).

No database access: the pages' callbacks query ``data.chargers.fleet``; these functions build trees,
grid rows and figures. Every status is text (pills add an icon via ``assets/polaris.css``), times
are in the operator's time zone, energy via ``format_kwh``. Every component id starts with
``admin-`` so the central gate refuses customers for any callback that writes to it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import action_row
from components.charts import captioned_chart
from components.dashboard import empty_figure, format_kw, loading_placeholder, status_class
from components.format import format_ago, format_datetime, format_duration, format_kwh, format_time
from components.history import export_link
from components.landmarks import aria as _aria
from components.landmarks import named_section, scroll_box
from data.chargers.charger import ChargerDetail, ChargerReservationRow, ChargerSessionRow
from data.chargers.fleet import FleetRow
from data.chargers.grants import AccountOption, GrantRow
from data.charging.dashboard import ChargerStatus
from data.core.periods import PERIOD_LABELS, PERIODS, Period

# --- ids (stable, for tests and for people who automate) ---------------------------------------

FLEET_PILL_TYPE = "admin-fleet-pill"
FLEET_GRID_ID = "admin-fleet-grid"
FLEET_SEARCH_ID = "admin-fleet-search"
FLEET_TOTAL_ID = "admin-fleet-total"
FLEET_EXPORT_ID = "admin-fleet-export"
CHARGER_SESSIONS_EXPORT_ID = "admin-charger-sessions-export"
CHARGER_RESERVATIONS_EXPORT_ID = "admin-charger-reservations-export"
FLEET_COUNTS_NOTE_ID = "admin-fleet-counts-note"
ALL_STATUSES = "All"

CHARGER_ID_STORE = "admin-charger-id"
CHARGER_CONTENT_ID = "admin-charger-content"
CHARGER_MISSING_ID = "admin-charger-missing"
CHARGER_HEADING_ID = "admin-charger-heading"
CHARGER_SUMMARY_ID = "admin-charger-summary"
CHARGER_NAME_ID = "admin-charger-name"
CHARGER_VISIBILITY_ID = "admin-charger-visibility"
CHARGER_SAVE_ID = "admin-charger-save"
CHARGER_SAVE_FEEDBACK_ID = "admin-charger-save-feedback"
CHARGER_SAVED_STORE = "admin-charger-saved"
CHARGER_ACCESS_ID = "admin-charger-access"
CHARGER_ACCESS_NOTE_ID = "admin-charger-access-note"
CHARGER_ACCOUNT_PICK_ID = "admin-charger-account"
CHARGER_GRANT_ID = "admin-charger-grant"
CHARGER_ACCESS_FEEDBACK_ID = "admin-charger-access-feedback"
CHARGER_ACCESS_STORE = "admin-charger-access-changed"
CHARGER_REVOKE_TYPE = "admin-charger-revoke"
CHARGER_PERIOD_ID = "admin-charger-period"
CHARGER_USAGE_TOTALS_ID = "admin-charger-usage-totals"
CHARGER_UTILISATION_CHART_ID = "admin-charger-utilisation-chart"
CHARGER_ENERGY_CHART_ID = "admin-charger-energy-chart"
CHARGER_SESSIONS_GRID_ID = "admin-charger-sessions-grid"
CHARGER_SESSIONS_NOTE_ID = "admin-charger-sessions-note"
CHARGER_RESERVATIONS_ID = "admin-charger-reservations"

MISSING_CHARGER_TEXT = "That charger doesn't exist"

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
_RESERVATION_STATUS = {
    "pending": "Pending",
    "confirmed": "Confirmed",
    "active": "Active",
    "cancelled": "Cancelled",
    "completed": "Completed",
}
# The same icons as the dashboard's status pills (assets/polaris.css), as text in a grid cell.
_STATUS_ICON = {
    ChargerStatus.online: "\u2713",
    ChargerStatus.in_use: "\u21af",
    ChargerStatus.reserved: "\u25f7",
    ChargerStatus.out_of_order: "\u26a0\ufe0e",
    ChargerStatus.offline: "\u2715",
}
_CHART_COLOUR = "#0b5394"
_UTILISATION_COLOUR = "#2f7d4f"
_GRID_COLOUR = "#e9ecef"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


# --- small helpers -----------------------------------------------------------------------------


def charger_href(charger_id: str) -> str:
    """The detail page of a charger; the id is a path segment, so it is percent-encoded."""
    return "/admin/chargers/" + quote(charger_id, safe="")


def markdown_link(text: str, href: str) -> str:
    """A markdown link whose text shows exactly ``text`` (markdown characters escaped)."""
    shown = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return f"[{shown}]({href})"


def admin_section(
    section_id: str, title: str, children: Sequence[Component | str], *, class_name: str = ""
) -> html.Section:
    class_names = f"admin-section card card-body mb-3 {class_name}".strip()
    return named_section(section_id, title, children, class_names)


def feedback(message: str, ok: bool) -> dbc.Alert:
    """What happened after a save, grant or revoke: green when done, red with the reason."""
    return dbc.Alert(
        message,
        color="success" if ok else "danger",
        class_name="py-2 mb-0 mt-2",
        dismissable=ok,
    )


def heartbeat_text(last_seen_at: datetime | None, now: datetime) -> str:
    """``12 min ago``, ``just now`` or ``never``."""
    return "never" if last_seen_at is None else format_ago(last_seen_at, now)


def _number(value: float) -> str:
    return f"{value:,.1f}".removesuffix(".0")


def visibility_text(visibility: str, granted: int | None = None) -> str:
    if visibility != "restricted":
        return "Public"
    if granted is None:
        return "Restricted"
    return f"Restricted · {granted} account{'' if granted == 1 else 's'}"


# --- fleet overview ----------------------------------------------------------------------------


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


def charger_export_href(name: str, charger_id: str) -> str:
    """Every session (or reservation) of one charger as CSV. Only a URL built from the id in
    the address: the export checks the id and the role itself."""
    return f"/export/{name}.csv?" + urlencode({"charger": charger_id})


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
        "energy_kwh_30d": _number(row.energy_kwh_30d),
        "connector_type": row.connector_type,
        "max_power_kw": _number(row.max_power_kw),
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


# --- one charger -------------------------------------------------------------------------------


def charger_missing_notice() -> html.Div:
    return html.Div(
        dbc.Card(
            dbc.CardBody(
                [
                    html.H2(MISSING_CHARGER_TEXT, className="h4"),
                    html.P(
                        "It may have been removed, or the address is mistyped. The fleet "
                        "overview lists every charger."
                    ),
                    dbc.Button("Back to the fleet", href="/admin", color="primary", outline=True),
                ]
            ),
            class_name="my-4 notice-card",
        ),
    )


def _fact(label: str, value: Component | str, item_id: str | None = None) -> html.Div:
    extra = {"id": item_id} if item_id else {}
    return html.Div(
        [html.Dt(label, className="text-body-secondary fw-normal small"), html.Dd(value, **extra)],
        className="charger-fact",
    )


def charger_summary(detail: ChargerDetail, tz: ZoneInfo, now: datetime) -> html.Div:
    """Status, last heartbeat and the fixed facts of the charger."""
    if detail.last_seen_at is None:
        heartbeat: Component | str = "never"
    else:
        heartbeat = html.Span(
            [
                heartbeat_text(detail.last_seen_at, now),
                html.Span(
                    f" ({format_datetime(detail.last_seen_at, tz, now)})",
                    className="text-body-secondary",
                ),
            ]
        )
    return html.Div(
        [
            html.Dl(
                [
                    _fact(
                        "Status",
                        html.Span(detail.status.value, className=status_class(detail.status)),
                        "admin-charger-status",
                    ),
                    _fact("Last heartbeat", heartbeat, "admin-charger-heartbeat"),
                    _fact("Charger id", html.Code(detail.charger_id)),
                    _fact("Connector", detail.connector_type),
                    _fact("Max power", format_kw(detail.max_power_kw)),
                    _fact("Visibility", visibility_text(detail.visibility)),
                ],
                className="charger-facts d-flex flex-wrap gap-4 mb-0",
            ),
        ]
    )


def settings_form() -> html.Div:
    return html.Div(
        [
            dbc.Label("Friendly name", html_for=CHARGER_NAME_ID),
            dbc.Input(id=CHARGER_NAME_ID, type="text", maxlength=200, autocomplete="off"),
            dbc.FormText("What customers see on their dashboard."),
            html.Fieldset(
                [
                    html.Legend("Who sees it", className="form-label fs-6 mt-3 mb-1"),
                    dbc.RadioItems(
                        id=CHARGER_VISIBILITY_ID,
                        options=[
                            {"label": "Public: every customer", "value": "public"},
                            {
                                "label": "Restricted: only the accounts granted below",
                                "value": "restricted",
                            },
                        ],
                    ),
                ]
            ),
            dbc.Button("Save", id=CHARGER_SAVE_ID, color="primary", class_name="mt-3", n_clicks=0),
            html.Div(id=CHARGER_SAVE_FEEDBACK_ID, role="status", **_aria(live="polite")),
        ]
    )


def account_option_label(option: AccountOption | GrantRow) -> str:
    parts = [option.account_id, option.email]
    if option.label:
        parts.append(option.label)
    return " · ".join(parts)


def account_options(options: Sequence[AccountOption]) -> list[dict[str, str]]:
    return [{"label": account_option_label(o), "value": o.account_id} for o in options]


def revoke_id(account_id: str) -> dict[str, str]:
    return {"type": CHARGER_REVOKE_TYPE, "account": account_id}


def access_note(visibility: str) -> str:
    if visibility == "restricted":
        return (
            "Restricted: only these customer accounts see this charger. Changes show on the "
            "customer's next refresh."
        )
    return (
        "Public: every customer sees this charger. Grants below apply only while it is "
        "restricted; make it restricted above to choose who sees it."
    )


def grants_list(grants: Sequence[GrantRow]) -> Component:
    """Accounts that may see the charger, each with a Revoke button."""
    if not grants:
        return html.P("No account has been granted this charger.", className="text-body-secondary")
    return dbc.ListGroup(
        [
            dbc.ListGroupItem(
                action_row(
                    html.Div(g.account_id, className="fw-semibold"),
                    " · ".join(p for p in (g.email, g.label) if p),
                    html.Button(
                        "Revoke",
                        id=revoke_id(g.account_id),
                        className="btn btn-outline-danger btn-sm",
                        type="button",
                        n_clicks=0,
                        **_aria(label=f"Revoke access for {g.account_id}"),
                    ),
                    text_class_name="grant-account",
                ),
                class_name="px-0",
            )
            for g in grants
        ],
        flush=True,
        class_name="grants-list",
    )


def access_section_body() -> list[Component]:
    return [
        html.P(id=CHARGER_ACCESS_NOTE_ID, className="small text-body-secondary"),
        html.Div(loading_placeholder("Loading the accounts…", 2), id=CHARGER_ACCESS_ID),
        dbc.Label(
            "Grant to a customer account", html_for=CHARGER_ACCOUNT_PICK_ID, class_name="mt-3"
        ),
        html.Div(
            [
                html.Div(
                    dcc.Dropdown(
                        id=CHARGER_ACCOUNT_PICK_ID,
                        options=[],
                        placeholder="Search by account id, email or label",
                        searchable=True,
                        clearable=True,
                    ),
                    className="flex-grow-1 account-pick",
                ),
                dbc.Button("Grant", id=CHARGER_GRANT_ID, color="primary", n_clicks=0),
            ],
            className="d-flex flex-wrap gap-2 align-items-start",
        ),
        html.Div(id=CHARGER_ACCESS_FEEDBACK_ID, role="status", **_aria(live="polite")),
    ]


def period_picker(active: str = "current") -> html.Div:
    """This month / Last month / This year, drawn as tabs. Radio buttons underneath, not
    dbc.Tabs: those render every tab with ``tabindex=-1`` (no keyboard user reaches them) and an
    ``aria-controls`` naming a panel that does not exist."""
    return html.Div(
        dbc.RadioItems(
            id=CHARGER_PERIOD_ID,
            options=[{"label": PERIOD_LABELS[p], "value": p} for p in PERIODS],
            value=active,
            inline=True,
            class_name="nav nav-tabs period-picker",
            input_class_name="btn-check",
            label_class_name="nav-link",
            label_checked_class_name="active",
        ),
        role="radiogroup",
        **_aria(label="Period"),
    )


def usage_totals(frame: pd.DataFrame, period: Period) -> html.P:
    energy = float(sum(frame["energy_kwh"])) if not frame.empty else 0.0
    hours = float(frame["hours"].sum()) if not frame.empty else 0.0
    busy = float(frame["in_use_hours"].sum()) if not frame.empty else 0.0
    share = f"{busy / hours:.0%}" if hours > 0 else "—"
    return html.P(
        [
            html.Strong(period.label),
            f": {format_kwh(round(energy, 3))} delivered, in use {_number(busy)} h of "
            f"{_number(hours)} h ({share}).",
        ],
        className="mb-2",
    )


def _day_chart_layout(period: Period, y_title: str, y_range: list[float] | None) -> dict[str, Any]:
    year = period.name == "year"
    yaxis: dict[str, Any] = {
        "title": {"text": y_title},
        "gridcolor": _GRID_COLOUR,
        "zeroline": False,
        "fixedrange": True,
        "rangemode": "tozero",
    }
    if y_range is not None:
        yaxis["range"] = y_range
        yaxis["tickformat"] = ".0%"
    return {
        "template": None,
        "margin": {"l": 48, "r": 8, "t": 8, "b": 32},
        "height": 220,
        "bargap": 0.1 if year else 0.2,
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
        "hoverlabel": {"bgcolor": "white"},
        "xaxis": {
            "type": "date",
            "tickformat": "%b" if year else "%-d %b",
            "showgrid": False,
            "linecolor": "#adb5bd",
            "fixedrange": True,
        },
        "yaxis": yaxis,
    }


def utilisation_figure(frame: pd.DataFrame, period: Period) -> go.Figure:
    """Share of each local day's hours the charger was in use (0–100 %)."""
    days = [d.isoformat() for d in frame["day"]]
    shares = [None if math.isnan(v) else float(v) for v in frame["utilisation"]]
    hours = [float(h) for h in frame["in_use_hours"]]
    return go.Figure(
        data=[
            go.Bar(
                x=days,
                y=shares,
                customdata=hours,
                marker={"color": _UTILISATION_COLOUR},
                hovertemplate="%{x|%a %-d %b %Y}<br>%{y:.0%} in use (%{customdata:.1f} h)"
                "<extra></extra>",
                name="In use",
            )
        ],
        layout=_day_chart_layout(period, "In use", [0, 1]),
    )


def energy_figure(frame: pd.DataFrame, period: Period) -> go.Figure:
    """kWh per local day, by the day each session started."""
    return go.Figure(
        data=[
            go.Bar(
                x=[d.isoformat() for d in frame["day"]],
                y=[float(v) for v in frame["energy_kwh"]],
                marker={"color": _CHART_COLOUR},
                hovertemplate="%{x|%a %-d %b %Y}<br>%{y:,.1f} kWh<extra></extra>",
                name="kWh",
            )
        ],
        layout=_day_chart_layout(period, "kWh", None),
    )


def session_column_defs() -> list[dict[str, Any]]:
    right = {"type": "rightAligned"}
    return [
        {"field": "started", "headerName": "Started", "minWidth": 175, "flex": 1},
        {"field": "ended", "headerName": "Ended", "minWidth": 165, "flex": 1},
        {"field": "duration", "headerName": "Duration", "minWidth": 110},
        {"field": "account_id", "headerName": "Account", "minWidth": 130, "flex": 1},
        {"field": "energy", "headerName": "kWh", "minWidth": 90, **right},
        {"field": "state", "headerName": "State", "minWidth": 140},
        {"field": "session_id", "headerName": "Session id", "minWidth": 120},
    ]


def sessions_grid() -> dag.AgGrid:
    """The charger's sessions, newest first, fetched page by page."""
    return dag.AgGrid(
        id=CHARGER_SESSIONS_GRID_ID,
        rowModelType="infinite",
        columnDefs=session_column_defs(),
        defaultColDef={"sortable": False, "resizable": True, "suppressMovable": True},
        dashGridOptions={
            "cacheBlockSize": 50,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
        },
        style={"height": "420px", "width": "100%"},
        className="charger-sessions-grid",
    )


def session_state(row: ChargerSessionRow) -> str:
    if row.energy_disputed:
        return "Energy disputed"
    if row.ended_at is None:
        return "In progress"
    return "Finalized" if row.finalized else "Not finalized yet"


def session_row(row: ChargerSessionRow, tz: ZoneInfo, now: datetime) -> dict[str, str]:
    if row.ended_at is None:
        ended = "In progress"
        duration = f"{format_duration(now - row.started_at)} so far"
    else:
        same_day = row.ended_at.astimezone(tz).date() == row.started_at.astimezone(tz).date()
        ended = (
            format_time(row.ended_at, tz) if same_day else format_datetime(row.ended_at, tz, now)
        )
        duration = format_duration(row.ended_at - row.started_at)
    return {
        "session_id": row.session_id,
        "started": format_datetime(row.started_at, tz, now),
        "ended": ended,
        "duration": duration,
        "account_id": row.account_id,
        "energy": f"{row.energy_kwh:,.1f}",
        "state": session_state(row),
    }


def reservations_table(
    rows: Sequence[ChargerReservationRow], tz: ZoneInfo, now: datetime
) -> Component:
    """Current and upcoming reservations first (soonest first), then the latest past ones."""
    if not rows:
        return html.P("No reservations on this charger.", className="text-body-secondary mb-0")
    body = []
    for r in rows:
        when = (
            "Now"
            if r.starts_at <= now < r.ends_at
            else ("Upcoming" if r.starts_at > now else "Past")
        )
        same_day = r.ends_at.astimezone(tz).date() == r.starts_at.astimezone(tz).date()
        end = format_time(r.ends_at, tz) if same_day else format_datetime(r.ends_at, tz, now)
        body.append(
            html.Tr(
                [
                    html.Td(when),
                    html.Td(f"{format_datetime(r.starts_at, tz, now)} – {end}"),
                    html.Td(r.account_id),
                    html.Td(_RESERVATION_STATUS.get(r.status, r.status.capitalize())),
                    html.Td(
                        r.reservation_id, className="text-body-secondary d-none d-md-table-cell"
                    ),
                ],
                className="table-light" if when == "Past" else None,
            )
        )
    return scroll_box(
        dbc.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th("When", scope="col"),
                            html.Th("Time", scope="col"),
                            html.Th("Account", scope="col"),
                            html.Th("Status", scope="col"),
                            html.Th(
                                "Reservation id", scope="col", className="d-none d-md-table-cell"
                            ),
                        ]
                    )
                ),
                html.Tbody(body),
            ],
            size="sm",
            hover=True,
            class_name="mb-0 reservations-table",
        ),
        "Reservations",
    )


def charger_skeleton(charger_id: str, after_overview: Sequence[Component] = ()) -> list[Component]:
    """The detail page body; the charger id is only a key until a callback has checked it.
    ``after_overview``: sections shown right below "Now" (the disputed energy)."""
    return [
        dcc.Store(id=CHARGER_ID_STORE, data=charger_id),
        dcc.Store(id=CHARGER_SAVED_STORE, data=0),
        dcc.Store(id=CHARGER_ACCESS_STORE, data=0),
        html.Div(id=CHARGER_MISSING_ID, hidden=True, children=charger_missing_notice()),
        html.Div(
            id=CHARGER_CONTENT_ID,
            children=[
                html.Nav(
                    dcc.Link("← All chargers", href="/admin", className="small"),
                    className="mb-2",
                    **_aria(label="Breadcrumb"),
                ),
                html.H2(
                    html.Span(charger_id or "Charger", className="text-break"),
                    id=CHARGER_HEADING_ID,
                    className="h4 mb-3",
                ),
                admin_section(
                    "admin-charger-overview",
                    "Now",
                    [
                        html.Div(
                            loading_placeholder("Loading the charger…", 2), id=CHARGER_SUMMARY_ID
                        )
                    ],
                ),
                *after_overview,
                dbc.Row(
                    [
                        dbc.Col(
                            admin_section(
                                "admin-charger-settings",
                                "Name and visibility",
                                [settings_form()],
                                class_name="h-100",
                            ),
                            lg=5,
                        ),
                        dbc.Col(
                            admin_section(
                                "admin-charger-access-section",
                                "Accounts that may see it",
                                access_section_body(),
                                class_name="h-100",
                            ),
                            lg=7,
                        ),
                    ],
                    class_name="g-3 mb-3",
                ),
                admin_section(
                    "admin-charger-usage",
                    "Utilisation and energy per day",
                    [
                        period_picker(),
                        html.Div(
                            loading_placeholder("Loading usage…", 1),
                            id=CHARGER_USAGE_TOTALS_ID,
                            className="mt-2",
                        ),
                        captioned_chart(
                            CHARGER_UTILISATION_CHART_ID,
                            empty_figure(),
                            220,
                            "Share of each day's hours with a session on the charger "
                            "(sessions split at local midnight; today: the hours so far).",
                            class_name="mb-3",
                        ),
                        captioned_chart(
                            CHARGER_ENERGY_CHART_ID,
                            empty_figure(),
                            220,
                            "Energy in kWh per day, by the day each session started.",
                        ),
                    ],
                ),
                admin_section(
                    "admin-charger-sessions",
                    "Sessions",
                    [
                        html.Div(
                            [
                                html.P(
                                    "Newest first.",
                                    id=CHARGER_SESSIONS_NOTE_ID,
                                    className="small text-body-secondary mb-0",
                                ),
                                export_link(
                                    CHARGER_SESSIONS_EXPORT_ID,
                                    charger_export_href("sessions", charger_id),
                                    "this charger's sessions",
                                ),
                            ],
                            className="d-flex flex-wrap justify-content-between "
                            "align-items-center gap-2 mb-2",
                        ),
                        sessions_grid(),
                    ],
                ),
                admin_section(
                    "admin-charger-reservations-section",
                    "Reservations",
                    [
                        html.Div(
                            export_link(
                                CHARGER_RESERVATIONS_EXPORT_ID,
                                charger_export_href("reservations", charger_id),
                                "this charger's reservations",
                            ),
                            className="d-flex justify-content-end mb-2",
                        ),
                        html.Div(
                            loading_placeholder("Loading reservations…", 2),
                            id=CHARGER_RESERVATIONS_ID,
                        ),
                    ],
                ),
            ],
        ),
    ]
