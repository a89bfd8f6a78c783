"""One charger's page at /admin/chargers/<id>: summary, settings, access, usage, sessions."""

from __future__ import annotations

import math
from collections.abc import Sequence
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

from components.admin import action_row, admin_section
from components.charger_status import status_class
from components.charts import captioned_chart, chart_layout, day_axis, empty_figure, value_axis
from components.format import (
    format_ago,
    format_datetime,
    format_duration,
    format_kw,
    format_kwh,
    format_number,
    format_time,
)
from components.history import export_link
from components.landmarks import aria as _aria
from components.landmarks import loading_placeholder, scroll_box
from data.chargers.charger import ChargerDetail, ChargerReservationRow, ChargerSessionRow
from data.chargers.grants import AccountOption, GrantRow
from data.chargers.incidents import KIND_LABELS, IncidentRow, IncidentStatus, next_statuses
from data.core.periods import PERIOD_LABELS, PERIODS, Period

# Stable ids (for tests and for people who automate); each starts with ``admin-`` so the
# central gate refuses customers for any callback that writes to it.
CHARGER_SESSIONS_EXPORT_ID = "admin-charger-sessions-export"
CHARGER_RESERVATIONS_EXPORT_ID = "admin-charger-reservations-export"
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
# Problems drivers reported: the list, its outcome line, a version bumped after a change, and
# one Acknowledge / Resolve button per incident (pattern ids: the incident's reference and the
# status it moves to; the server checks both again).
CHARGER_INCIDENTS_ID = "admin-charger-incidents"
CHARGER_INCIDENTS_FEEDBACK_ID = "admin-charger-incidents-feedback"
CHARGER_INCIDENTS_STORE = "admin-charger-incidents-changed"
CHARGER_INCIDENT_TYPE = "admin-charger-incident"

MISSING_CHARGER_TEXT = "That charger doesn't exist"

_RESERVATION_STATUS = {
    "pending": "Pending",
    "confirmed": "Confirmed",
    "active": "Active",
    "cancelled": "Cancelled",
    "completed": "Completed",
}
_CHART_COLOUR = "#0b5394"
_UTILISATION_COLOUR = "#2f7d4f"


def charger_href(charger_id: str) -> str:
    """The detail page of a charger; the id is a path segment, so it is percent-encoded."""
    return "/admin/chargers/" + quote(charger_id, safe="")


def heartbeat_text(last_seen_at: datetime | None, now: datetime) -> str:
    """``12 min ago``, ``just now`` or ``never``."""
    return "never" if last_seen_at is None else format_ago(last_seen_at, now)


def visibility_text(visibility: str, granted: int | None = None) -> str:
    if visibility != "restricted":
        return "Public"
    if granted is None:
        return "Restricted"
    return f"Restricted · {granted} account{'' if granted == 1 else 's'}"


def charger_export_href(name: str, charger_id: str) -> str:
    """Every session (or reservation) of one charger as CSV. Only a URL built from the id in
    the address: the export checks the id and the role itself."""
    return f"/export/{name}.csv?" + urlencode({"charger": charger_id})


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
    extra: dict[str, Any] = {"id": item_id} if item_id else {}
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
            f": {format_kwh(round(energy, 3))} delivered, in use {format_number(busy)} h of "
            f"{format_number(hours)} h ({share}).",
        ],
        className="mb-2",
    )


def _day_chart_layout(period: Period, y_title: str, y_range: list[float] | None) -> dict[str, Any]:
    year = period.name == "year"
    yaxis = value_axis(y_title)
    if y_range is not None:
        yaxis["range"] = y_range
        yaxis["tickformat"] = ".0%"
    return chart_layout(
        220,
        {"l": 48, "r": 8, "t": 8, "b": 32},
        template=None,
        bargap=0.1 if year else 0.2,
        xaxis=day_axis(year),
        yaxis=yaxis,
    )


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
            # Seven columns: render them all. Virtualised, a phone-width grid measured while the
            # page's charts arrived could keep a header row and rows without cells (axe, CI).
            "suppressColumnVirtualisation": True,
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


_INCIDENT_STATUS = {
    IncidentStatus.open: ("Open", "text-bg-danger"),
    IncidentStatus.acknowledged: ("Acknowledged", "text-bg-warning"),
    IncidentStatus.resolved: ("Resolved", "text-bg-success"),
}
_INCIDENT_VERB = {IncidentStatus.acknowledged: "Acknowledge", IncidentStatus.resolved: "Resolve"}


def incident_button_id(reference: str, status: IncidentStatus) -> dict[str, str]:
    return {"type": CHARGER_INCIDENT_TYPE, "incident": reference, "to": status.value}


def _incident_state(row: IncidentRow, tz: ZoneInfo, now: datetime) -> list[Component | str]:
    text, classes = _INCIDENT_STATUS[row.status]
    shown: list[Component | str] = [html.Span(text, className=f"badge {classes}")]
    if row.status is IncidentStatus.resolved and row.resolved_at is not None:
        shown.append(
            html.Div(
                f"{format_datetime(row.resolved_at, tz, now)} by {row.resolved_by or '—'}",
                className="small text-body-secondary",
            )
        )
    elif row.status is IncidentStatus.acknowledged and row.acknowledged_at is not None:
        shown.append(
            html.Div(
                f"{format_datetime(row.acknowledged_at, tz, now)} by {row.acknowledged_by or '—'}",
                className="small text-body-secondary",
            )
        )
    return shown


def incidents_table(rows: Sequence[IncidentRow], tz: ZoneInfo, now: datetime) -> Component:
    """The charger's reported problems, those to handle first: when, reference, what (the
    driver's words), who reported, the status (when and by whom), and the moves left."""
    if not rows:
        return html.P(
            "No problems reported on this charger.",
            className="text-body-secondary mb-0 no-incidents",
        )
    body = []
    for r in rows:
        problem: list[Component | str] = [html.Strong(KIND_LABELS[r.kind])]
        if r.text:
            problem.append(html.Div(r.text, className="small text-break incident-text"))
        buttons = [
            html.Button(
                _INCIDENT_VERB[to],
                id=incident_button_id(r.reference, to),
                type="button",
                className="btn btn-sm me-1 mb-1 "
                + (
                    "btn-outline-primary"
                    if to is IncidentStatus.resolved
                    else "btn-outline-secondary"
                ),
                **_aria(label=f"{_INCIDENT_VERB[to]} {r.reference}"),
            )
            for to in next_statuses(r.status)
        ]
        body.append(
            html.Tr(
                [
                    html.Td(format_datetime(r.created_at, tz, now)),
                    html.Td(r.reference, className="text-nowrap"),
                    html.Td(problem),
                    html.Td(r.account_id or "—", className="d-none d-md-table-cell"),
                    html.Td(_incident_state(r, tz, now)),
                    html.Td(buttons),
                ],
                className=f"incident incident-{r.status.value}",
            )
        )
    return scroll_box(
        dbc.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th("Reported", scope="col"),
                            html.Th("Reference", scope="col"),
                            html.Th("Problem", scope="col"),
                            html.Th("Account", scope="col", className="d-none d-md-table-cell"),
                            html.Th("Status", scope="col"),
                            html.Th("Actions", scope="col"),
                        ]
                    )
                ),
                html.Tbody(body),
            ],
            size="sm",
            class_name="mb-0 align-middle",
        ),
        "Problems reported by drivers",
    )


def incidents_section() -> Component:
    return admin_section(
        "admin-charger-incidents-section",
        "Problems reported by drivers",
        [
            dcc.Store(id=CHARGER_INCIDENTS_STORE, data=0),
            html.Div(loading_placeholder("Loading reports…", 1), id=CHARGER_INCIDENTS_ID),
            html.Div(id=CHARGER_INCIDENTS_FEEDBACK_ID, role="status", **_aria(live="polite")),
        ],
    )


def charger_skeleton(
    charger_id: str, after_overview: Sequence[Component] = (), at_end: Sequence[Component] = ()
) -> list[Component]:
    """The detail page body; the charger id is only a key until a callback has checked it.
    ``after_overview``: sections shown right below "Now" (the disputed energy); ``at_end``:
    sections after the reservations (the commands and their log)."""
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
                incidents_section(),
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
                *at_end,
            ],
        ),
    ]
