"""The pieces of ``/admin/uptime``: the fleet's headline figures, the chargers' standing against
97%, a charger's months and outage timeline, the outage list with its filters and edit form, and
the links to the CSV exports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import admin_page
from components.charts import GRAPH_CONFIG, chart_layout, empty_note
from components.format import format_datetime, format_duration, format_number
from components.landmarks import aria, data_attributes, scroll_box, section
from data.charging.reservations import ChargerChoice
from data.exchange.nevi import Quarter
from data.uptime.alerts import AlertScope, OpenAlert
from data.uptime.monthly import UptimeMonth
from data.uptime.outage_log import NOTE_MAX_LENGTH, OutageFilter, OutageRow, OutageState
from data.uptime.outages import OutageCause
from data.uptime.standings import NEVI_PERCENT, ChargerStanding, FleetHeadline

PATH = "/admin/uptime"
HEADLINE_ID = "admin-uptime-headline"
STANDINGS_ID = "admin-uptime-standings"
STANDINGS_GRID_ID = "admin-uptime-standings-grid"
CHARGER_ID = "admin-uptime-charger"
MONTHS_ID = "admin-uptime-months"
TIMELINE_ID = "admin-uptime-timeline"
FILTER_CHARGER_ID = "admin-uptime-filter-charger"
FILTER_CAUSE_ID = "admin-uptime-filter-cause"
FILTER_STATE_ID = "admin-uptime-filter-state"
FILTER_FROM_ID = "admin-uptime-filter-from"
FILTER_TO_ID = "admin-uptime-filter-to"
FILTER_NOTE_ID = "admin-uptime-filter-note"
OUTAGES_ID = "admin-uptime-outages"
OUTAGES_CSV_ID = "admin-uptime-outages-csv"
EDIT_OUTAGE_ID = "admin-uptime-edit-outage"
EDIT_CAUSE_ID = "admin-uptime-edit-cause"
EDIT_EXCLUDED_ID = "admin-uptime-edit-excluded"
EDIT_NOTE_ID = "admin-uptime-edit-note"
EDIT_SAVE_ID = "admin-uptime-edit-save"
EDIT_RESULT_ID = "admin-uptime-edit-result"
ALERTS_ID = "admin-uptime-alerts"
VERSION_ID = "admin-uptime-version"  # bumped by an edit: the figures and the list read again
UPTIME_CSV = "/export/uptime-monthly.csv"
OUTAGES_CSV = "/export/outages.csv"
NEVI_YEAR_ID = "admin-uptime-nevi-year"
NEVI_QUARTER_ID = "admin-uptime-nevi-quarter"
NEVI_DOWNLOAD_ID = "admin-uptime-nevi-download"
NEVI_NOTE_ID = "admin-uptime-nevi-note"
NEVI_REPORT = "/export/nevi-report.zip"
NEVI_YEARS = 6  # this year and the five before
_NEVI_BUTTON = "btn btn-primary btn-sm text-nowrap"
ANY = "*"  # a filter's "any" option (not "": dbc.Select keeps "" for its placeholder)

EVERY_CHARGER = {"label": "Every charger", "value": ANY}  # the outage list's charger filter
STANDINGS_BLOCK = 100  # rows of the fleet's grid per request
BUDGET_RULE = (
    "Can still lose: the minutes of the twelve months × 3% − their counted outage minutes "
    "(excluded outages do not count), never below 0: how much more counted outage the "
    "charger can have before its twelve-month uptime falls below 97%."
)


def _percent(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:.3f} %"


def _minutes(value: Decimal) -> str:
    return f"{format_number(float(value))} min"


def _name(charger_id: str, friendly_name: str | None) -> str:
    return f"{friendly_name} ({charger_id})" if friendly_name else charger_id


def cause_label(cause: OutageCause) -> str:
    return cause.value.replace("_", " ").capitalize()


def _month_label(first_day: date) -> str:
    return f"{first_day:%b %Y}"


def headline(fleet: FleetHeadline, open_incidents: int | None = None) -> html.Div:
    """The fleet's last full month and twelve months, how many chargers are below 97%, and
    (when given) how many problems drivers reported that are not resolved yet."""
    month = _month_label(fleet.month)
    cards = [
        (f"Fleet uptime, {month}", _percent(fleet.month_percent), "admin-uptime-month"),
        (
            f"Fleet uptime, 12 months to {month}",
            _percent(fleet.twelve_month_percent),
            "admin-uptime-12m",
        ),
        (
            f"Chargers below {NEVI_PERCENT}% (12 months)",
            f"{fleet.below_target} of {fleet.chargers}",
            "admin-uptime-below",
        ),
    ]
    if open_incidents is not None:
        cards.append(
            ("Driver reports not resolved", str(open_incidents),
             "admin-uptime-incidents")
        )  # fmt: skip
    return html.Div(
        [
            html.Div(
                [
                    html.P(label, className="small text-body-secondary mb-1"),
                    html.P(value, id=ident, className="h4 mb-0"),
                ],  # fmt: skip
                className="uptime-figure border rounded p-3",
            )
            for label, value, ident in cards
        ],
        className="d-flex flex-wrap gap-3",
    )


def standings_rows(rows: Sequence[ChargerStanding]) -> list[dict[str, Any]]:
    """A block of the fleet's grid: each charger's figures as text, and whether it is below."""
    return [
        {
            "charger": _name(r.charger_id, r.friendly_name),
            "charger_id": r.charger_id,
            "month": _percent(r.month_percent),
            "twelve": _percent(r.twelve_month_percent),
            "counted": _minutes(r.counted_outage_minutes),
            "can_lose": _minutes(r.can_still_lose_minutes),
            "below": r.below_target,
        }
        for r in rows
    ]


def standings_grid(month: date, total: int) -> dag.AgGrid:
    """Every charger, below 97% first (lowest first), a block of ``STANDINGS_BLOCK`` rows at a
    time from the server (ag-grid's infinite row model): a fleet of 5,000 is never sent or
    drawn at once."""
    right = {"type": "rightAligned"}
    columns = [
        {"field": "charger", "headerName": "Charger", "minWidth": 180, "flex": 2,
         "tooltipField": "charger"},
        {"field": "month", "headerName": _month_label(month), "minWidth": 110, **right},
        {"field": "twelve", "headerName": "12 months", "minWidth": 110, **right,
         "cellClassRules": {"text-danger": "params.data && params.data.below"}},
        {"field": "counted", "headerName": "Counted outage, 12 months", "minWidth": 150, **right},
        {"field": "can_lose", "headerName": "Can still lose", "minWidth": 130, **right},
    ]  # fmt: skip
    return dag.AgGrid(
        id=STANDINGS_GRID_ID,
        rowModelType="infinite",
        columnDefs=columns,
        defaultColDef={"sortable": False, "resizable": True, "suppressHeaderMenuButton": True,
                       "flex": 1},
        dashGridOptions={
            "cacheBlockSize": STANDINGS_BLOCK,
            "maxBlocksInCache": 10,
            "infiniteInitialRowCount": 1,
            "maxConcurrentDatasourceRequests": 1,
            "blockLoadDebounceMillis": 100,
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
        },
        rowClassRules={"uptime-below": "params.data && params.data.below"},
        getRowId="params.data.charger_id",
        style={"height": f"{min(440, 42 + max(total, 2) * 42 + 2)}px", "width": "100%"},
        className="uptime-standings",
    )  # fmt: skip


def standings_table(fleet: FleetHeadline) -> Component:
    """The fleet's chargers in a grid that reads them a block at a time, with the rule of
    "can still lose"."""
    if not fleet.chargers:
        return html.P("No chargers yet.", className="text-body-secondary")
    return html.Div(
        [
            html.Div(standings_grid(fleet.month, fleet.chargers), className="mb-1"),
            html.P(
                f"{fleet.chargers} chargers; the monthly export has every month of each.",
                className="small mb-1",
                id="admin-uptime-count",
            ),
            html.P(BUDGET_RULE, className="small text-body-secondary", id="admin-uptime-rule"),
        ]
    )


def charger_options(choices: Sequence[ChargerChoice]) -> list[dict[str, str]]:
    return [{"label": _name(c.charger_id, c.friendly_name), "value": c.charger_id} for c in choices]


def months_table(months: Sequence[UptimeMonth]) -> Component:
    """A charger's months: minutes, outage, excluded, uptime (a month not over: so far)."""
    if not months:
        return html.P("Choose a charger.", className="text-body-secondary")
    head = html.Thead(
        html.Tr(
            [
                html.Th("Month", scope="col"),
                *(
                    html.Th(label, scope="col", className="text-end")
                    for label in ("Minutes", "Outage", "Excluded", "Uptime", "12 months")
                ),
            ]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Th(_month_label(m.month), scope="row", className="fw-normal"),
                    html.Td(format_number(float(m.minutes)), className="text-end"),
                    html.Td(format_number(float(m.outage_minutes)), className="text-end"),
                    html.Td(format_number(float(m.excluded_minutes)), className="text-end"),
                    html.Td(_percent(m.uptime_percent), className="text-end"),
                    html.Td(_percent(m.uptime_12m_percent), className="text-end"),
                ],
                **data_attributes(month=f"{m.month:%Y-%m}"),
            )
            for m in months
        ]
    )
    return scroll_box(
        dbc.Table([head, body], size="sm", className="mb-0"), "Uptime per month", "uptime-months"
    )


def outage_timeline_figure(
    outages: Sequence[OutageRow], start: datetime, now: datetime, tz: ZoneInfo
) -> go.Figure:
    """A charger's outages from ``start`` to ``now`` as bars on a time axis, counted ones on one
    line and excluded ones on another; an ongoing outage runs to now."""
    layout = chart_layout(
        220,
        {"l": 80, "r": 10, "t": 10, "b": 40},
        xaxis={
            "type": "date",
            "range": [start.astimezone(tz).isoformat(), now.astimezone(tz).isoformat()],
        },  # fmt: skip
        yaxis={"categoryorder": "array", "categoryarray": ["Excluded", "Counted"]},
        bargap=0.4,
    )
    if not outages:
        layout["annotations"] = empty_note("No outages in these twelve months.")
    bars = []
    for excluded, label, colour in ((False, "Counted", "#dc3545"), (True, "Excluded", "#6c757d")):
        rows = [o for o in outages if o.excluded is excluded]
        if not rows:
            continue
        bars.append(
            go.Bar(
                orientation="h",
                y=[label] * len(rows),
                base=[o.started_at.astimezone(tz).isoformat() for o in rows],
                x=[o.duration(now).total_seconds() * 1000 for o in rows],
                marker={"color": colour},
                customdata=[
                    [
                        cause_label(o.cause),
                        format_duration(o.duration(now)),
                        format_datetime(o.started_at, tz),
                    ]  # fmt: skip
                    for o in rows
                ],
                hovertemplate="%{customdata[2]}: %{customdata[1]}, %{customdata[0]}<extra></extra>",
                name=label,
            )
        )
    return go.Figure(data=bars, layout=layout)


def _state_label(state: OutageState) -> str:
    return {"all": "Open and closed", "open": "Open", "closed": "Closed"}[state.value]


def _select(
    ident: str, label: str, options: list[dict[str, str]], value: str, placeholder: str = ""
) -> html.Div:
    return html.Div(
        [
            dbc.Label(label, html_for=ident, class_name="small mb-0"),
            dbc.Select(id=ident, options=options, value=value, size="sm", placeholder=placeholder),
        ]
    )


def _charger_picker(
    ident: str, options: list[dict[str, str]], value: str, placeholder: str
) -> html.Div:
    """A charger dropdown searched on the server (the fleet has thousands): it lists what
    matches the typed text, and the chosen one."""
    return html.Div(
        [
            dbc.Label("Charger", html_for=ident, class_name="small mb-0"),
            dcc.Dropdown(
                id=ident,
                options=options,
                value=value,
                placeholder=placeholder,
                clearable=False,
                className="uptime-charger-picker",
            ),
        ]
    )


def _day(ident: str, label: str) -> html.Div:
    return html.Div(
        [
            dbc.Label(label, html_for=ident, class_name="small mb-0"),
            dbc.Input(id=ident, type="date", size="sm"),
        ]
    )


def cause_options() -> list[dict[str, str]]:
    return [{"label": cause_label(c), "value": c.value} for c in OutageCause]


def outage_filters() -> html.Div:
    """Charger (searched on the server), cause, open/closed and the days the outages started."""
    return html.Div(
        [
            _charger_picker(FILTER_CHARGER_ID, [EVERY_CHARGER], ANY, "Type a charger id or name"),
            _select(
                FILTER_CAUSE_ID,
                "Cause",
                [{"label": "Any cause", "value": ANY}, *cause_options()],
                ANY,
            ),
            _select(
                FILTER_STATE_ID,
                "Open or closed",
                [{"label": _state_label(s), "value": s.value} for s in OutageState],
                OutageState.all.value,
            ),
            _day(FILTER_FROM_ID, "Started from"),
            _day(FILTER_TO_ID, "to"),
        ],
        className="d-flex flex-wrap gap-2 align-items-end mb-2 uptime-filters",
    )


def outages_csv_href(flt: OutageFilter) -> str:
    """``outages.csv`` with the list's filters (the export takes them all)."""
    query = {
        key: value
        for key, value in (
            ("charger", flt.charger_id),
            ("cause", flt.cause.value if flt.cause else None),
            ("status", None if flt.state is OutageState.all else flt.state.value),
            ("from", flt.first_day.isoformat() if flt.first_day else None),
            ("to", flt.last_day.isoformat() if flt.last_day else None),
        )
        if value
    }
    return f"{OUTAGES_CSV}?{urlencode(query)}" if query else OUTAGES_CSV


def nevi_year_options(current_year: int) -> list[dict[str, str]]:
    """This year first, then the ones before."""
    return [
        {"label": str(y), "value": str(y)}
        for y in range(current_year, current_year - NEVI_YEARS, -1)
    ]


def nevi_quarter_options() -> list[dict[str, str]]:
    months = ("Jan–Mar", "Apr–Jun", "Jul–Sep", "Oct–Dec")
    return [{"label": f"Q{n} ({m})", "value": str(n)} for n, m in enumerate(months, 1)]


def nevi_download(quarter: Quarter | None, problem: str | None = None) -> tuple[Any, str, Any]:
    """The download button's ``href`` and ``className`` and the note beside it: a link to the
    quarter's report, or a disabled button saying why there is none."""
    if quarter is None:
        return None, f"{_NEVI_BUTTON} disabled", html.Span(problem, className="text-danger")
    href = f"{NEVI_REPORT}?{urlencode({'year': quarter.year, 'quarter': quarter.number})}"
    return href, _NEVI_BUTTON, f"nevi-report-{quarter.key}.zip"


def nevi_report_section() -> html.Section:
    """The quarter picker (filled by the page: the last full quarter) and the download."""
    return section(
        "admin-uptime-nevi",
        "NEVI quarterly report",
        [
            html.P(
                "Per charger and month: uptime, outage and excluded minutes; every outage with "
                "its duration; the quarter's sessions with start, end, kWh, peak kW where known "
                "and the error codes of failed ones. A ZIP of three CSV files and a README of "
                "their definitions (23 CFR 680.116(b), 680.112(a)).",
                className="small text-body-secondary",
            ),
            html.Div(
                [
                    _select(NEVI_YEAR_ID, "Year", [], ""),
                    _select(NEVI_QUARTER_ID, "Quarter", nevi_quarter_options(), ""),
                    html.A(
                        "Download NEVI report",
                        id=NEVI_DOWNLOAD_ID,
                        href=None,
                        download="",
                        className=f"{_NEVI_BUTTON} disabled",
                    ),
                    html.Span(
                        id=NEVI_NOTE_ID,
                        className="small text-body-secondary",
                        **aria(live="polite"),
                    ),
                ],
                className="d-flex flex-wrap gap-2 align-items-end mb-3",
            ),
        ],
    )


def outage_table(rows: Sequence[OutageRow], tz: ZoneInfo, now: datetime, limit: int) -> Component:
    if not rows:
        return html.P("No outages match.", className="text-body-secondary")
    head = html.Thead(
        html.Tr(
            [
                html.Th(label, scope="col")
                for label in (
                    "Charger",
                    "Started",
                    "Ended",
                    "Duration",
                    "Cause",
                    "Excluded",
                    "Note",
                )
            ]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(_name(o.charger_id, o.friendly_name)),
                    html.Td(format_datetime(o.started_at, tz, now)),
                    html.Td(
                        format_datetime(o.ended_at, tz, now)
                        if o.ended_at
                        else dbc.Badge("Ongoing", color="danger")
                    ),
                    html.Td(format_duration(o.duration(now))),
                    html.Td(cause_label(o.cause)),
                    html.Td("Yes" if o.excluded else "No"),
                    html.Td(o.note or "", className="uptime-note"),
                ],
                **data_attributes(outage=o.outage_id),
            )
            for o in rows
        ]
    )
    more = (
        [html.P(f"The newest {limit}; the CSV has them all.", className="small mb-0")]
        if len(rows) >= limit
        else []
    )
    return html.Div(
        [
            scroll_box(
                dbc.Table([head, body], size="sm", hover=True, className="mb-1"),
                "Outages",
                "uptime-outages",
            ),  # fmt: skip
            *more,
        ]
    )


def alerts_table(rows: Sequence[OpenAlert], tz: ZoneInfo, now: datetime) -> Component:
    """The open alerts: what is down (a charger or the site), since when, and whether the
    alert went out."""
    if not rows:
        return html.P("No open alerts: every charger is up.", className="text-body-secondary")
    head = html.Thead(
        html.Tr([html.Th(label, scope="col") for label in ("Down", "Since", "For", "Sent")])
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(
                        [dbc.Badge("Site", color="warning", text_color="dark"), " ", r.alert.label]
                        if r.alert.scope is AlertScope.site
                        else r.alert.label
                    ),
                    html.Td(format_datetime(r.alert.started_at, tz, now)),
                    html.Td(format_duration(now - r.alert.started_at)),
                    html.Td(r.sent),
                ],
                **data_attributes(alert=str(r.alert.id)),
            )
            for r in rows
        ]
    )
    return scroll_box(
        dbc.Table([head, body], size="sm", hover=True, className="mb-1"),
        "Open alerts",
        "uptime-alerts",
    )


def outage_choices(rows: Sequence[OutageRow], tz: ZoneInfo) -> list[dict[str, str]]:
    return [
        {
            "label": f"{_name(o.charger_id, o.friendly_name)}"
            f" · {format_datetime(o.started_at, tz)}",
            "value": o.outage_id,
        }
        for o in rows
    ]


def edit_form() -> html.Div:
    """Cause, excluded and note of one outage of the list."""
    return html.Div(
        [
            html.H3("Edit an outage", className="h6"),
            html.Div(
                [
                    _select(EDIT_OUTAGE_ID, "Outage", [], "", "Choose an outage of the list"),
                    _select(EDIT_CAUSE_ID, "Cause", cause_options(), OutageCause.unknown.value),
                    dbc.Checkbox(
                        id=EDIT_EXCLUDED_ID,
                        label="Excluded (outside the operator's control)",
                        value=False,
                        class_name="mb-1",
                    ),
                ],
                className="d-flex flex-wrap gap-2 align-items-end mb-2",
            ),
            dbc.Label("Note", html_for=EDIT_NOTE_ID, class_name="small mb-0"),
            dbc.Textarea(id=EDIT_NOTE_ID, maxLength=NOTE_MAX_LENGTH, rows=2, class_name="mb-2"),
            dbc.Button("Save outage", id=EDIT_SAVE_ID, color="primary", size="sm"),
            html.Div(id=EDIT_RESULT_ID, className="mt-2", **aria(live="polite")),
        ],
        className="border rounded p-3 uptime-edit",
    )


def edit_result(message: str, ok: bool) -> dbc.Alert:
    return dbc.Alert(message, color="success" if ok else "danger", class_name="py-2 mb-0")


def uptime_skeleton() -> html.Div:
    """The page before its callbacks fill it (no SQL here)."""
    graph: Any = dcc.Graph(id=TIMELINE_ID, config=GRAPH_CONFIG, style={"height": "220px"})
    return admin_page(
        "Uptime",
        PATH,
        dcc.Store(id=VERSION_ID, data=0),
        section(
            "admin-uptime-alerts-section",
            "Open alerts",
            [
                html.P(
                    "Chargers down longer than the alert delay (Plans & settings); the "
                    "alerts worker sends them by email or webhook.",
                    className="small text-body-secondary",
                ),
                html.Div(id=ALERTS_ID, className="mb-3"),
            ],
        ),
        section(
            "admin-uptime-fleet",
            "Fleet uptime",
            [
                html.Div(id=HEADLINE_ID, className="mb-3"),
                html.Div(id=STANDINGS_ID),
                html.A(
                    "Export uptime per month (CSV)",
                    href=UPTIME_CSV,
                    id="admin-uptime-monthly-csv",
                    className="small",
                ),  # fmt: skip
            ],
        ),
        nevi_report_section(),
        section(
            "admin-uptime-charger-section",
            "One charger",
            [
                _charger_picker(CHARGER_ID, [], "", "Type a charger id or name"),
                html.Div(id=MONTHS_ID, className="my-2"),
                html.Figure(
                    [
                        graph,
                        html.Figcaption(
                            "Outages of the last twelve months: counted (red) and excluded "
                            "(grey); an ongoing one runs to now.",
                            className="small text-body-secondary mt-1",
                        ),
                    ]
                ),
            ],
        ),
        section(
            "admin-uptime-outages-section",
            "Outages",
            [
                outage_filters(),
                html.Div(id=FILTER_NOTE_ID),
                html.Div(id=OUTAGES_ID, className="mb-2"),
                html.A(
                    "Export these outages (CSV)",
                    href=OUTAGES_CSV,
                    id=OUTAGES_CSV_ID,
                    className="small d-block mb-3",
                ),  # fmt: skip
                edit_form(),
            ],
        ),
    )
