"""The analytics page's pieces: the period picker, chart cards and their figures.

No database access here: ``pages/admin_analytics.py`` queries ``data.charging.analytics`` and hands
the rows to these functions. Figures are ``plotly.graph_objects`` with fixed axes (no zoom: a phone
scrolls the page instead); every chart has a caption that says what it counts, and an "Export
CSV" link carrying the range on screen, so the figures are available as data too. Money stays
Decimal until ``format_money`` writes it in the operator's currency (bars are drawn from numbers,
every amount shown is that text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import admin_page
from components.charts import (
    GRID_COLOUR,
    captioned_chart,
    chart_layout,
    day_axis,
    empty_figure,
    empty_note,
    month_axis,
    plotly_text,
    value_axis,
)
from components.format import format_kwh, format_money
from components.landmarks import aria, loading_placeholder, section
from data.charging.analytics import (
    TOP_CHARGERS,
    WEEKDAYS,
    AnalyticsRange,
    ChargerRevenue,
    ChargerUtilisation,
    ConnectorEnergy,
    DayEnergy,
    MonthEnergy,
    range_label,
    total_energy,
    total_revenue,
)
from data.core.periods import PERIOD_LABELS, PERIODS, Period

PATH = "/admin/analytics"
# Stable ids (tests, automation). Every id on an admin page starts with "admin-".
RANGE_STORE_ID = "admin-analytics-range"
SUMMARY_ID = "admin-analytics-summary"
DATE_FROM_ID = "admin-analytics-from"
DATE_TO_ID = "admin-analytics-to"
APPLY_ID = "admin-analytics-apply"
RANGE_NOTE_ID = "admin-analytics-range-note"
GRAPH_IDS = {
    "energy-daily": "admin-analytics-energy-daily",
    "energy-monthly": "admin-analytics-energy-monthly",
    "hour-of-week": "admin-analytics-hour-of-week",
    "utilisation": "admin-analytics-utilisation",
    "connectors": "admin-analytics-connectors",
    "revenue-daily": "admin-analytics-revenue-daily",
    "revenue-monthly": "admin-analytics-revenue-monthly",
    "revenue-connectors": "admin-analytics-revenue-connectors",
    "revenue-chargers": "admin-analytics-revenue-chargers",
}

_COLOUR = "#0b5394"
_MARGIN = {"l": 48, "r": 12, "t": 8, "b": 36}
# Okabe–Ito, led by the brand blue: told apart with colour-blindness, and every slice is
# labelled with its name as well.
_CONNECTOR_COLOURS = ("#0b5394", "#e69f00", "#009e73", "#cc79a7", "#56b4e9")
_HEAT_SCALE = [[0.0, "#f4f8fc"], [0.35, "#9ec3e6"], [0.7, "#3d85c6"], [1.0, "#073763"]]
_NAME_CHARS = 42  # fits a 390 px phone with the connector type; the hover has it all
_SHORT_DAYS = tuple(day[:3] for day in WEEKDAYS)
DAILY_HEIGHT = 280
MONTHLY_HEIGHT = 260
CONNECTOR_HEIGHT = 260
HEAT_HEIGHT = 340
UTILISATION_HEIGHT = 60 + 34 * TOP_CHARGERS
REVENUE_CONNECTOR_HEIGHT = 260
# Revenue bars in a colour of their own (Okabe–Ito bluish green), so a money chart is not read
# as the energy chart beside it.
_REVENUE_COLOUR = "#00795c"


# --- links ------------------------------------------------------------------------------------


def page_href(choice: AnalyticsRange) -> str:
    return f"{PATH}?{urlencode(choice.query())}"


def export_href(chart: str, choice: AnalyticsRange) -> str:
    """``/admin/analytics/<chart>.csv?period=...`` (or ``?from=...&to=...``)."""
    return f"{PATH}/{chart}.csv?{urlencode(choice.query())}"


def range_search(choice: AnalyticsRange) -> str:
    """The ``?...`` part of the page URL for ``choice`` (what the range picker navigates to)."""
    return "?" + urlencode(choice.query())


# --- the period picker ------------------------------------------------------------------------


def period_choices(choice: AnalyticsRange) -> html.Nav:
    """This month / Last month / This year as links; a custom range shows as a fourth pill."""
    items = []
    for name in PERIODS:
        active = choice.period == name
        label: list[Component | str] = [PERIOD_LABELS[name]]
        if active:
            label.append(html.Span(" (selected)", className="visually-hidden"))
        items.append(
            dbc.NavItem(
                dbc.NavLink(
                    label,
                    href=page_href(AnalyticsRange(name)),
                    active=active,
                    id=f"admin-analytics-period-{name}",
                )
            )
        )
    if choice.is_custom:
        items.append(
            dbc.NavItem(
                dbc.NavLink(
                    ["Custom range", html.Span(" (selected)", className="visually-hidden")],
                    href=page_href(choice),
                    active=True,
                    id="admin-analytics-period-custom",
                )
            )
        )
    return html.Nav(
        dbc.Nav(items, pills=True, class_name="period-selector flex-wrap"),
        **aria(label="Analytics period"),
    )


def range_picker(choice: AnalyticsRange) -> html.Div:
    """Two local dates (both included) and a button; the page callback validates and navigates.

    The browser's own date fields, not dcc.DatePickerRange: its box carries ARIA its role does
    not allow, and its calendar has an unnamed year field and 20 px wide buttons."""
    start = choice.first_day.isoformat() if choice.first_day else None
    end = choice.last_day.isoformat() if choice.last_day else None
    return html.Div(
        className="d-flex flex-wrap align-items-end gap-2 mt-2",
        children=[
            html.Fieldset(
                [
                    html.Legend(
                        "Custom range (first and last day)",
                        className="form-label small text-body-secondary mb-1",
                    ),
                    html.Div(
                        [
                            dbc.Label(
                                "First day", html_for=DATE_FROM_ID, class_name="visually-hidden"
                            ),
                            dbc.Input(
                                id=DATE_FROM_ID, type="date", value=start, class_name="range-day"
                            ),
                            html.Span("–", **aria(hidden="true")),
                            dbc.Label(
                                "Last day", html_for=DATE_TO_ID, class_name="visually-hidden"
                            ),
                            dbc.Input(
                                id=DATE_TO_ID, type="date", value=end, class_name="range-day"
                            ),
                        ],
                        className="d-flex flex-wrap align-items-center gap-1",
                    ),
                ],
                className="mb-0 range-fields",
            ),
            dbc.Button("Show range", id=APPLY_ID, color="primary", outline=True, n_clicks=0),
        ],
    )


def note_alert(text: str, note_id: str = "admin-analytics-note") -> dbc.Alert:
    return dbc.Alert(text, id=note_id, color="warning", class_name="py-2 mb-2")


# --- the skeleton -----------------------------------------------------------------------------


def placeholder_figure(height: int) -> dict[str, Any]:
    """No axes, no data: what a chart holds until the first render."""
    figure = empty_figure()
    figure["layout"]["height"] = height
    return figure


def chart_card(
    chart: str, choice: AnalyticsRange, title: str, caption: str, height: int
) -> html.Section:
    """A titled card: heading, "Export CSV" link, the graph and a caption."""
    section_id = f"{GRAPH_IDS[chart]}-section"
    heading_id = f"{section_id}-heading"
    return html.Section(
        id=section_id,
        className="card card-body h-100 analytics-card",
        **aria(labelledby=heading_id),
        children=[
            html.Div(
                className="d-flex justify-content-between align-items-start gap-2 mb-2",
                children=[
                    html.H2(title, id=heading_id, className="h6 fw-semibold mb-0"),
                    html.A(
                        "Export CSV",
                        href=export_href(chart, choice),
                        id=f"{GRAPH_IDS[chart]}-csv",
                        className="btn btn-sm btn-outline-secondary text-nowrap analytics-csv",
                        title=f"Download the figures of “{title}” as CSV",
                    ),
                ],
            ),
            captioned_chart(GRAPH_IDS[chart], placeholder_figure(height), height, caption),
        ],
    )


def analytics_skeleton(choice: AnalyticsRange, note: str | None = None) -> html.Div:
    """The static page: the picker, every chart id with an empty figure, no data."""
    return admin_page(
        "Analytics",
        PATH,
        dcc.Store(id=RANGE_STORE_ID, data=choice.query()),
        section(
            "admin-analytics-period",
            "Period",
            [
                *([note_alert(note)] if note else []),
                period_choices(choice),
                range_picker(choice),
                html.Div(id=RANGE_NOTE_ID, className="mt-2"),
            ],
            class_name="card card-body mb-3",
        ),
        html.Div(
            loading_placeholder("Loading the figures…", 1),
            id=SUMMARY_ID,
            className="mb-3",
            role="status",
        ),
        dbc.Row(
            className="g-3",
            children=[
                dbc.Col(
                    chart_card(
                        "energy-daily",
                        choice,
                        "Fleet energy per day",
                        "kWh per local day, one bar per day of the period (days without "
                        "sessions included); a session counts on the day it started, one in "
                        "progress with its energy so far.",
                        DAILY_HEIGHT,
                    ),
                    width=12,
                ),
                dbc.Col(
                    chart_card(
                        "revenue-daily",
                        choice,
                        "Revenue per day",
                        "The stored costs of the sessions that started on each local day (what "
                        "their receipts say); a session in progress counts once it is finalized.",
                        DAILY_HEIGHT,
                    ),
                    width=12,
                ),
                dbc.Col(
                    chart_card(
                        "energy-monthly",
                        choice,
                        "Fleet energy per month",
                        "kWh per calendar month: the sum of that month’s days in the period.",
                        MONTHLY_HEIGHT,
                    ),
                    lg=6,
                ),
                dbc.Col(
                    chart_card(
                        "revenue-monthly",
                        choice,
                        "Revenue per month",
                        "Stored costs per calendar month: the sum of that month’s days in the "
                        "period.",
                        MONTHLY_HEIGHT,
                    ),
                    lg=6,
                ),
                dbc.Col(
                    chart_card(
                        "connectors",
                        choice,
                        "Energy by connector type",
                        "Share of the period’s kWh delivered by chargers of each connector type.",
                        CONNECTOR_HEIGHT,
                    ),
                    lg=6,
                ),
                dbc.Col(
                    chart_card(
                        "revenue-connectors",
                        choice,
                        "Revenue by connector type",
                        "The period’s stored costs by the connector type of the charger, and "
                        "each type’s share.",
                        REVENUE_CONNECTOR_HEIGHT,
                    ),
                    lg=6,
                ),
                dbc.Col(
                    chart_card(
                        "hour-of-week",
                        choice,
                        "When people charge",
                        "Sessions started in the period, by weekday and hour of the start "
                        "in the operator’s time zone.",
                        HEAT_HEIGHT,
                    ),
                    width=12,
                ),
                dbc.Col(
                    chart_card(
                        "utilisation",
                        choice,
                        f"Top {TOP_CHARGERS} chargers by utilisation",
                        "Share of the period’s hours so far in which the charger had a session "
                        "(sessions clipped to the period; one in progress counts until now).",
                        UTILISATION_HEIGHT,
                    ),
                    width=12,
                ),
                dbc.Col(
                    chart_card(
                        "revenue-chargers",
                        choice,
                        f"Top {TOP_CHARGERS} chargers by revenue",
                        "The stored costs of the sessions that started on the charger in the "
                        "period; the CSV lists every charger with revenue.",
                        UTILISATION_HEIGHT,
                    ),
                    width=12,
                ),
            ],
        ),
    )


# --- the summary ------------------------------------------------------------------------------


def summary(period: Period, days: Sequence[DayEnergy], tz_name: str, currency: str) -> html.Div:
    """Range, total energy, sessions and revenue: the figures every chart adds up to."""
    sessions = sum(d.sessions for d in days)
    total = float(total_energy(list(days)))
    revenue = total_revenue(list(days))
    label = range_label(period)
    return html.Div(
        className="d-flex flex-wrap gap-3 align-items-baseline analytics-summary",
        children=[
            html.Div(
                [
                    html.Span("Showing ", className="text-body-secondary"),
                    html.Strong(label, id="admin-analytics-label"),
                    html.Span(f" · {len(days)} days · {tz_name}", className="text-body-secondary"),
                ]
            ),
            html.Div(
                [
                    html.Span("Total energy ", className="text-body-secondary"),
                    html.Strong(format_kwh(total), id="admin-analytics-total"),
                ]
            ),
            html.Div(
                [
                    html.Span("Sessions ", className="text-body-secondary"),
                    html.Strong(f"{sessions:,}", id="admin-analytics-sessions"),
                ]
            ),
            html.Div(
                [
                    html.Span("Revenue ", className="text-body-secondary"),
                    html.Strong(format_money(revenue, currency), id="admin-analytics-revenue"),
                ]
            ),
        ],
    )


# --- figures ----------------------------------------------------------------------------------


def daily_energy_figure(days: Sequence[DayEnergy]) -> dict[str, Any]:
    """One bar per local day (zeros included)."""
    long = len(days) > 62
    empty = all(d.energy_kwh == 0 for d in days)
    return {
        "data": [
            {
                "type": "bar",
                "x": [d.day.isoformat() for d in days],
                "y": [float(d.energy_kwh) for d in days],
                "customdata": [d.sessions for d in days],
                "marker": {"color": _COLOUR},
                "hovertemplate": (
                    "%{x|%a %-d %b %Y}<br>%{y:,.1f} kWh<br>%{customdata} sessions<extra></extra>"
                ),
                "name": "kWh",
            }
        ],
        "layout": chart_layout(
            DAILY_HEIGHT,
            _MARGIN,
            bargap=0.1 if long else 0.2,
            annotations=empty_note("No sessions in this period") if empty else [],
            xaxis=day_axis(long),
            yaxis=value_axis("kWh"),
        ),
    }


def _month_label(month: date, with_year: bool) -> str:
    return f"{month:%b %Y}" if with_year else f"{month:%b}"


def monthly_energy_figure(months: Sequence[MonthEnergy]) -> dict[str, Any]:
    """One bar per calendar month; the hover says how many of its days are in the period."""
    empty = all(m.energy_kwh == 0 for m in months)
    # Short labels stay level on a phone; the year is named when the months span two.
    with_year = len({m.month.year for m in months}) > 1
    return {
        "data": [
            {
                "type": "bar",
                "x": [_month_label(m.month, with_year) for m in months],
                "y": [float(m.energy_kwh) for m in months],
                "customdata": [[m.sessions, m.days, f"{m.month:%B %Y}"] for m in months],
                "marker": {"color": _COLOUR},
                "hovertemplate": (
                    "%{customdata[2]}<br>%{y:,.1f} kWh<br>%{customdata[0]} sessions"
                    " in %{customdata[1]} days<extra></extra>"
                ),
                "name": "kWh",
            }
        ],
        "layout": chart_layout(
            MONTHLY_HEIGHT,
            _MARGIN,
            bargap=0.3 if len(months) > 3 else 0.6,
            annotations=empty_note("No sessions in this period") if empty else [],
            xaxis=month_axis(),
            yaxis=value_axis("kWh"),
        ),
    }


def hour_of_week_figure(grid: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Weekday rows (Monday on top) × 24 local hours, coloured by the number of sessions."""
    hours = [f"{h:02d}:00" for h in range(24)]
    hover = [
        [f"{WEEKDAYS[w]} {h:02d}:00–{(h + 1) % 24:02d}:00" for h in range(24)]
        for w in range(len(WEEKDAYS))
    ]
    empty = all(v == 0 for row in grid for v in row)
    return {
        "data": [
            {
                "type": "heatmap",
                "z": [list(row) for row in grid],
                "x": hours,
                "y": list(_SHORT_DAYS),
                "customdata": hover,
                "colorscale": _HEAT_SCALE,
                "zmin": 0,
                "xgap": 1,
                "ygap": 1,
                "hovertemplate": "%{customdata}<br>%{z:,} sessions<extra></extra>",
                # Under the grid: on a phone every pixel of width goes to the 24 hours.
                "colorbar": {
                    "title": {"text": "Sessions", "side": "right"},
                    "orientation": "h",
                    "thickness": 10,
                    "lenmode": "pixels",
                    "len": 200,
                    "x": 1,
                    "xanchor": "right",
                    "y": -0.3,
                    "yanchor": "top",
                    "outlinewidth": 0,
                },
            }
        ],
        "layout": chart_layout(
            HEAT_HEIGHT,
            {"l": 40, "r": 8, "t": 8, "b": 96},
            annotations=empty_note("No sessions in this period") if empty else [],
            xaxis={
                "type": "category",
                "tickvals": hours[::3],
                "ticktext": [h[:2] for h in hours[::3]],
                "title": {"text": "Hour of the start (local time)"},
                "showgrid": False,
                "fixedrange": True,
            },
            yaxis={
                "type": "category",
                "autorange": "reversed",
                # Room between the names and the grid, without plotly.js's tick marks.
                "ticks": "outside",
                "ticklen": 6,
                "tickcolor": "rgba(0,0,0,0)",
                "showgrid": False,
                "fixedrange": True,
            },
        ),
    }


def _short_name(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1].rstrip() + "…"


def utilisation_figure(rows: Sequence[ChargerUtilisation]) -> dict[str, Any]:
    """Horizontal bars, busiest on top, each with the charger's name written above it and its
    percentage after it (names above the bars leave phones the full width for the bars).

    Rows are placed by position (names need not be unique); the height stays the same for
    fewer rows, so bars keep their size.
    """
    positions = list(range(len(rows)))
    percents = [round(r.share * 100, 1) for r in rows]
    names = [
        {
            "text": plotly_text(f"{_short_name(r.friendly_name)} · {r.connector_type}"),
            "x": 0,
            "y": i,
            "xref": "x",
            "yref": "y",
            "xanchor": "left",
            "yanchor": "bottom",
            "yshift": 6,
            "showarrow": False,
            "font": {"size": 12, "color": "#212529"},
        }
        for i, r in enumerate(rows)
    ]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": percents,
                "y": positions,
                "width": 0.4,
                "text": [f"{p:.1f}%" for p in percents],
                "textposition": "outside",
                "cliponaxis": False,
                "customdata": [
                    [
                        plotly_text(r.friendly_name),
                        plotly_text(r.connector_type),
                        r.hours_in_use,
                        r.hours_in_period,
                    ]
                    for r in rows
                ],
                "marker": {"color": _COLOUR},
                "hovertemplate": (
                    "%{customdata[0]} (%{customdata[1]})<br>%{x:.1f}% in use: "
                    "%{customdata[2]:,.1f} of %{customdata[3]:,.0f} h<extra></extra>"
                ),
                "name": "Utilisation",
            }
        ],
        "layout": chart_layout(
            UTILISATION_HEIGHT,
            {"l": 8, "r": 48, "t": 8, "b": 32},
            annotations=names or empty_note("No charger was in use in this period"),
            xaxis={
                "range": [0, 100],
                "ticksuffix": "%",
                "gridcolor": GRID_COLOUR,
                "zeroline": False,
                "fixedrange": True,
            },
            yaxis={
                "range": [TOP_CHARGERS - 0.5, -0.75],  # top row first; room for its name
                "visible": False,
                "fixedrange": True,
            },
        ),
    }


def connector_figure(rows: Sequence[ConnectorEnergy]) -> dict[str, Any]:
    """A donut of kWh by connector type; types without energy are left out of the ring."""
    shown = [r for r in rows if r.energy_kwh > 0]
    colours = {r.connector_type: _CONNECTOR_COLOURS[i % 5] for i, r in enumerate(rows)}
    total = float(sum((r.energy_kwh for r in rows), start=0))
    centre = format_kwh(total) if shown else "No energy in this period"
    return {
        "data": [
            {
                "type": "pie",
                # Labels are drawn as markup (ring, hover): escaped, like every name.
                "labels": [plotly_text(r.connector_type) for r in shown],
                "values": [float(r.energy_kwh) for r in shown],
                "customdata": [r.sessions for r in shown],
                "hole": 0.55,
                "sort": False,
                "direction": "clockwise",
                "marker": {
                    "colors": [colours[r.connector_type] for r in shown],
                    "line": {"color": "white", "width": 2},
                },
                "texttemplate": "%{label}<br>%{percent:.1%}",
                "textposition": "outside",
                # Fixed margins instead: auto-margins loop (and warn) on narrow screens.
                "automargin": False,
                "hovertemplate": (
                    "%{label}<br>%{value:,.1f} kWh (%{percent})<br>%{customdata} sessions"
                    "<extra></extra>"
                ),
                "name": "Connector type",
            }
        ],
        "layout": chart_layout(
            CONNECTOR_HEIGHT,
            {"l": 64, "r": 64, "t": 28, "b": 28},
            annotations=[
                {
                    "text": centre,
                    "x": 0.5,
                    "y": 0.5,
                    "xref": "paper",
                    "yref": "paper",
                    "showarrow": False,
                    "font": {
                        "size": 14 if shown else 13,
                        "color": "#212529" if shown else "#6c757d",
                    },
                }
            ],
        ),
    }


# --- revenue ----------------------------------------------------------------------------------


def _money_bars(
    x: list[str], amounts: Sequence[Decimal], currency: str, hover_x: str
) -> dict[str, Any]:
    """Vertical bars of amounts of money: heights as numbers, every amount shown (hover) as
    ``format_money`` writes it."""
    return {
        "type": "bar",
        "x": x,
        "y": [float(v) for v in amounts],
        "customdata": [format_money(v, currency) for v in amounts],
        "marker": {"color": _REVENUE_COLOUR},
        "hovertemplate": f"{hover_x}<br>%{{customdata}}<extra></extra>",
        "name": "Revenue",
    }


def daily_revenue_figure(days: Sequence[DayEnergy], currency: str) -> dict[str, Any]:
    """One bar per local day (zeros included): the stored costs of the day's sessions."""
    long = len(days) > 62
    empty = all(d.revenue == 0 for d in days)
    return {
        "data": [
            _money_bars(
                [d.day.isoformat() for d in days],
                [d.revenue for d in days],
                currency,
                "%{x|%a %-d %b %Y}",
            )
        ],
        "layout": chart_layout(
            DAILY_HEIGHT,
            _MARGIN,
            bargap=0.1 if long else 0.2,
            annotations=empty_note("No revenue in this period") if empty else [],
            xaxis=day_axis(long),
            yaxis=value_axis(currency),
        ),
    }


def monthly_revenue_figure(months: Sequence[MonthEnergy], currency: str) -> dict[str, Any]:
    """One bar per calendar month: the sum of its days' revenue in the period."""
    empty = all(m.revenue == 0 for m in months)
    with_year = len({m.month.year for m in months}) > 1
    bars = _money_bars(
        [_month_label(m.month, with_year) for m in months],
        [m.revenue for m in months],
        currency,
        "%{x}",
    )
    bars["customdata"] = [
        [format_money(m.revenue, currency), f"{m.month:%B %Y}", m.days] for m in months
    ]
    bars["hovertemplate"] = (
        "%{customdata[1]}<br>%{customdata[0]} in %{customdata[2]} days<extra></extra>"
    )
    return {
        "data": [bars],
        "layout": chart_layout(
            MONTHLY_HEIGHT,
            _MARGIN,
            bargap=0.3 if len(months) > 3 else 0.6,
            annotations=empty_note("No revenue in this period") if empty else [],
            xaxis=month_axis(),
            yaxis=value_axis(currency),
        ),
    }


# Amounts are written in a column right of the bars: this many pixels a character (12 px font).
_AMOUNT_CHAR_PX = 7


def _money_hbars(
    labels: Sequence[str],
    hovers: Sequence[str],
    amounts: Sequence[Decimal],
    texts: Sequence[str],
    *,
    height: int,
    rows: int,
    empty: list[dict[str, Any]],
) -> dict[str, Any]:
    """Horizontal bars of money, first on top: ``labels[i]`` above its bar (a phone keeps the
    width for the bars), ``texts[i]`` in a column at the right, level with it (never cut off,
    never shrunk into the bar), ``hovers[i]`` on hover. Names go through ``plotly_text``.
    ``empty``: the annotations when there is no bar."""

    def note(i: int, text: str, **place: Any) -> dict[str, Any]:
        return {
            "text": plotly_text(text),
            "y": i,
            "yref": "y",
            "showarrow": False,
            "font": {"size": 12, "color": "#212529"},
            **place,
        }

    names = [
        note(i, label, x=0, xref="x", xanchor="left", yanchor="bottom", yshift=6)
        for i, label in enumerate(labels)
    ]
    figures = [
        note(i, text, x=1, xref="paper", xanchor="left", xshift=6, yanchor="middle")
        for i, text in enumerate(texts)
    ]
    largest = max((float(v) for v in amounts), default=0.0)
    column = 12 + _AMOUNT_CHAR_PX * max((len(t) for t in texts), default=0)
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [float(v) for v in amounts],
                "y": list(range(len(amounts))),
                "width": 0.4,
                "customdata": [
                    [plotly_text(h), text] for h, text in zip(hovers, texts, strict=True)
                ],
                "marker": {"color": _REVENUE_COLOUR},
                "hovertemplate": "%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
                "name": "Revenue",
            }
        ],
        "layout": chart_layout(
            height,
            {"l": 8, "r": column, "t": 8, "b": 32},
            annotations=names + figures if labels else empty,
            xaxis={
                "range": [0, largest if largest > 0 else 1],
                "showticklabels": False,
                "gridcolor": GRID_COLOUR,
                "zeroline": False,
                "fixedrange": True,
            },
            yaxis={"range": [rows - 0.5, -0.75], "visible": False, "fixedrange": True},
        ),
    }


def revenue_connector_figure(rows: Sequence[ConnectorEnergy], currency: str) -> dict[str, Any]:
    """A bar per connector type (every type, zeros included), its revenue and share beside it."""
    kinds = [r.connector_type for r in rows]
    figure = _money_hbars(
        kinds,
        kinds,
        [r.revenue for r in rows],
        [f"{format_money(r.revenue, currency)} · {r.revenue_share * 100:.1f}%" for r in rows],
        height=REVENUE_CONNECTOR_HEIGHT,
        rows=len(rows),
        empty=[],
    )
    if all(r.revenue == 0 for r in rows):
        figure["layout"]["annotations"] += empty_note("No revenue in this period")
    return figure


def revenue_chargers_figure(rows: Sequence[ChargerRevenue], currency: str) -> dict[str, Any]:
    """The chargers with the most revenue, largest on top: name and connector type above the
    bar, the amount beside it; the height stays the same for fewer rows."""
    return _money_hbars(
        [f"{_short_name(r.friendly_name)} · {r.connector_type}" for r in rows],
        [f"{r.friendly_name} ({r.connector_type})" for r in rows],
        [r.revenue for r in rows],
        [format_money(r.revenue, currency) for r in rows],
        height=UTILISATION_HEIGHT,
        rows=TOP_CHARGERS,
        empty=empty_note("No charger earned revenue in this period"),
    )


def range_error(text: str) -> dbc.Alert:
    """Said under the picker when the custom range cannot be shown."""
    return note_alert(text, note_id="admin-analytics-range-error")
