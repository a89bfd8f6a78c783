"""/admin/analytics: fleet energy and revenue per day and month, when people charge, the busiest
chargers, the chargers with the most revenue, and energy and revenue by connector type, for a
period or a custom range of local days.

The layout is a static skeleton built from the URL query alone (no SQL); ``render_analytics``
fills every chart once per range. The range comes back from the browser's store, so it is read
again with ``read_range`` before any query. The CSV downloads are Flask routes
(``web/analytics_csv.py``), linked from each chart with the same query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, callback, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

from auth.roles import admin_only
from components.analytics import (
    APPLY_ID,
    DATE_FROM_ID,
    DATE_TO_ID,
    GRAPH_IDS,
    RANGE_NOTE_ID,
    RANGE_STORE_ID,
    SUMMARY_ID,
    analytics_skeleton,
    connector_figure,
    daily_energy_figure,
    daily_revenue_figure,
    hour_of_week_figure,
    monthly_energy_figure,
    monthly_revenue_figure,
    range_error,
    range_search,
    revenue_chargers_figure,
    revenue_connector_figure,
    summary,
    utilisation_figure,
)
from data.charging.analytics import (
    RangeError,
    custom_range,
    energy_by_connector,
    energy_per_day,
    energy_per_month,
    read_range,
    revenue_per_charger,
    sessions_by_hour_of_week,
    top_chargers_by_utilisation,
)
from data.charging.dashboard import operator_settings
from pages._admin import admin_layout
from web.db import session_scope

dash.register_page(
    __name__, path="/admin/analytics", title="Analytics · Polaris Express", name="Analytics"
)


@admin_layout
def layout(**query: object) -> Component:
    """Static skeleton; a range that is not valid shows this month with a note that says why."""
    choice, note = read_range(query)
    return analytics_skeleton(choice, note)


@callback(
    Output(SUMMARY_ID, "children"),
    Output(GRAPH_IDS["energy-daily"], "figure"),
    Output(GRAPH_IDS["energy-monthly"], "figure"),
    Output(GRAPH_IDS["hour-of-week"], "figure"),
    Output(GRAPH_IDS["utilisation"], "figure"),
    Output(GRAPH_IDS["connectors"], "figure"),
    Output(GRAPH_IDS["revenue-daily"], "figure"),
    Output(GRAPH_IDS["revenue-monthly"], "figure"),
    Output(GRAPH_IDS["revenue-connectors"], "figure"),
    Output(GRAPH_IDS["revenue-chargers"], "figure"),
    Input(RANGE_STORE_ID, "data"),
)
@admin_only
def render_analytics(range_query: object) -> tuple[Any, ...]:
    """Every chart of the range; five aggregate queries, none of them per day or per charger
    (revenue comes with the energy per day and per connector type)."""
    choice, _note = read_range(range_query if isinstance(range_query, dict) else {})
    now = datetime.now(UTC)
    with session_scope() as s:
        settings = operator_settings(s)
        period = choice.bounds(now, settings.tz)
        days = energy_per_day(s, period)
        grid = sessions_by_hour_of_week(s, period)
        top = top_chargers_by_utilisation(s, period, now)
        connectors = energy_by_connector(s, period)
        earners = revenue_per_charger(s, period)
    months = energy_per_month(days)
    currency = settings.currency
    return (
        summary(period, days, settings.tz.key, currency),
        daily_energy_figure(days),
        monthly_energy_figure(months),
        hour_of_week_figure(grid),
        utilisation_figure(top),
        connector_figure(connectors),
        daily_revenue_figure(days, currency),
        monthly_revenue_figure(months, currency),
        revenue_connector_figure(connectors, currency),
        revenue_chargers_figure(earners, currency),
    )


@callback(
    Output("url", "search", allow_duplicate=True),
    Output(RANGE_NOTE_ID, "children"),
    Input(APPLY_ID, "n_clicks"),
    State(DATE_FROM_ID, "value"),
    State(DATE_TO_ID, "value"),
    prevent_initial_call=True,
)
@admin_only
def apply_range(_clicks: int | None, start: object, end: object) -> tuple[Any, Any]:
    """Go to ``?from=...&to=...`` (the page re-renders with it), or say what is wrong."""
    if not _clicks:
        raise PreventUpdate  # the button mounting is not a click
    # An emptied field sends ""; a forged one may send "2026-03-29T00:00:00": only the day counts.
    first = start[:10] or None if isinstance(start, str) else None
    last = end[:10] or None if isinstance(end, str) else None
    try:
        choice = custom_range(first, last)
    except RangeError as exc:
        return no_update, range_error(str(exc))
    return range_search(choice), None
