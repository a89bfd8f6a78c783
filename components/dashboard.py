"""The customer dashboard's pieces: small typed functions over ``data.charging.dashboard`` rows.

No database access here: the page's callbacks query, these functions only build trees and figures.
Every status carries text (and, for charger pills, an icon drawn by ``assets/polaris.css``), never
colour alone. Times are shown in the operator's time zone, energy with ``format_kwh``, money with
``format_money`` and prices with ``format_price``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

from components.booking import (
    BOOK_LABEL,
    BOOK_TYPE,
    BOOKING_NOTICE_ID,
    NEXT_WATCH_ID,
    booking_modal,
    cancel_booking_button,
    ended_notice,
)
from components.charger_status import status_class, status_text
from components.charts import (
    captioned_chart,
    chart_layout,
    day_axis,
    empty_figure,
    empty_note,
    value_axis,
)
from components.format import (
    format_datetime,
    format_duration,
    format_kw,
    format_kwh,
    format_money,
    format_number,
    format_time,
)
from components.landmarks import aria as _aria
from components.landmarks import data_attributes, loading_placeholder, section
from components.receipts import receipt_href
from components.shell import cost_so_far_text
from components.tariffs import charger_price_parts, prices_parts
from data.chargers.incidents import KIND_LABELS, TEXT_MAX_LENGTH, ProblemReport
from data.chargers.status import ChargerStatus
from data.charging.dashboard import (
    ChargerList,
    ChargerRow,
    ConnectorReport,
    OperatorSettings,
    PlanRow,
    ReservationRow,
    SessionRow,
    usage_total_kwh,
)
from data.core.periods import PERIOD_LABELS, PERIODS, Period
from data.pricing.cost import TariffPrices

# Stable ids (for tests and for people who automate).
RECENT_SESSIONS_ID = "recent-sessions"
RECENT_DATA_ID = "recent-sessions-data"  # the sessions as data; dashboard.js renders them
NEXT_RESERVATION_ID = "next-reservation"
NEXT_RESERVATION_BODY_ID = "next-reservation-body"
USAGE_TOTAL_ID = "usage-total"
USAGE_CHART_ID = "usage-chart"
PLAN_GAUGE_ID = "plan-gauge"
CHARGER_GRID_ID = "charger-grid"
AVAILABLE_COUNT_ID = "available-count"
OPERATOR_CONTACT_ID = "operator-contact"
PERIOD_STORE_ID = "dashboard-period"
EXPORT_LINKS_ID = "usage-export"
STATUS_TYPE = "charger-status"
# The live statuses: the browser keeps which chargers it shows and a digest of their pills
# (STATUS_SHOWN_ID); the poll answers 204 while nothing changed, else a small payload that a
# clientside function paints, so neither way lists 50 pills' props.
STATUS_DATA_ID = "charger-status-data"
STATUS_SHOWN_ID = "charger-status-shown"
# The dashboard's refresh tick (assets/dashboard.js dashboardTick): one request answers it.
DASHBOARD_TICK_ID = "dashboard-tick"
CHARGER_DATA_ID = "charger-grid-data"  # the cards as data; dashboard.js renders them
# The Active session banner as Recent activity last showed it, and a counter bumped when it
# changes after that (assets/dashboard.js recentGate: shown or hidden, its charger, its kWh so
# far): Recent activity is asked for again only then, so the session in progress shows the
# banner's kWh, and never on the page's first view (render_dashboard has just sent it).
RECENT_SEEN_ID = "recent-banner-seen"
RECENT_REFRESH_ID = "recent-refresh"
# A driver's Start charging: one button and one live note per card (pattern-matching ids; the
# charger id in the button's id is checked again on the server). Connectors are not modelled
# per charger: a card whose charger reported several over OCPP also has a choice of connector
# (CONNECTOR_TYPE, its value sent with the press and checked on the server; off, like every
# Start, while a command is open); otherwise the charger chooses.
START_TYPE = "start-charging"
START_NOTE_TYPE = "start-charging-note"
START_LABEL = "Start charging"
CONNECTOR_TYPE = "start-connector"
CONNECTOR_LABEL = "Connector to charge on"
# A driver's "Report a problem": one button per card (pattern-matching ids, the charger id
# checked again on the server) opens the one dialog below; its store holds the charger the
# dialog is about, a key only: the server looks it up again when the report is sent.
REPORT_TYPE = "report-problem"
REPORT_LABEL = "Report a problem"
REPORT_MODAL_ID = "report-problem-dialog"
REPORT_TITLE_ID = "report-problem-title"
REPORT_CHARGER_STORE = "report-problem-charger"
REPORT_KIND_ID = "report-problem-kind"
REPORT_TEXT_ID = "report-problem-text"
REPORT_SEND_ID = "report-problem-send"
REPORT_CLOSE_ID = "report-problem-close"
REPORT_OUTCOME_ID = "report-problem-outcome"
# A driver's favourites: a star on every card (pattern-matching ids, the charger id checked
# again on the server, which toggles the account's row and sends the list again, favourites
# first). On a phone the charger section shows the favourites and a search box; the full list
# opens with one tap (CHARGER_TOGGLE_ID); each card's classes say whether it matches the search
# (CHARGER_ITEM_TYPE, set in the browser by dashboard.js filterChargers).
FAVOURITE_TYPE = "favourite-charger"
FAVOURITE_LABEL = "Favourite"
CHARGER_ITEM_TYPE = "charger-item"
CHARGER_SEARCH_ID = "charger-search"
CHARGER_SEARCH_LABEL = "Find a charger by name or place"
CHARGER_LIST_ID = "charger-list"
CHARGER_TOGGLE_ID = "charger-list-toggle"
CHARGER_NO_MATCH_ID = "charger-no-match"
SHOW_ALL_TEXT = "Show all chargers"
SHOW_FEWER_TEXT = "Show favourites only"
NO_FAVOURITES_TEXT = "Star a charger (☆) to keep it here, first in the list."
NO_MATCH_TEXT = "No charger matches that search."

FIRST_RUN_TITLE = "No charging sessions yet."
FIRST_RUN_TEXT = (
    "Start a session at any charger with your card or app; "
    "it appears here once the system records it."
)
NO_RESERVATION_TEXT = "No upcoming reservation."
NO_CHARGERS_TEXT = (
    "No chargers are visible to your account right now. "
    "Ask your operator which chargers your account is meant to see."
)
NO_PLAN_TEXT = "No plan on this account."
# No tariff prices the account's charging: said once here, not on every charger card.
NO_TARIFF_TEXT = "Your operator has not set a price for charging yet."
COST_LABEL = "Cost"
UNDER_REVIEW_COST_TEXT = "Under review"  # disputed energy: no cost until an admin settles it
RECEIPT_TEXT = "Receipt"
MISSING_CHARGER_ANSWER = (
    "The dashboard shows up to 50 chargers. If your operator has more, ask them which chargers "
    "your account is meant to see."
)
PLAN_WRONG_ANSWER = (
    "Plan information comes from your operator’s billing system. If it’s missing or stale, "
    "contact your operator — the email is on this page if they’ve set one."
)
EMPTY_SESSIONS_ANSWER = (
    "If you’ve never charged with this account, the dashboard treats you as a first-run user. "
    "Start a session and it’ll appear here once the system records it."
)

_RESERVATION_STATUS = {"pending": "Pending", "confirmed": "Confirmed", "active": "Active now"}
_CANCELLABLE = ("pending", "confirmed")  # by the driver, until it starts

_CHART_COLOUR = "#0b5394"


# --- recent sessions ----------------------------------------------------------------------------


def _session_mark(row: SessionRow) -> tuple[str, str, str]:
    """``(icon, text, classes)`` of the session's mark: the text says it, the icon repeats it."""
    if row.ended_at is None:
        return "●", "In progress", "text-bg-primary"
    if row.finalized:
        return "✓", "Finalized", "text-bg-success"
    return "…", "Not finalized yet", "text-bg-light border"


def session_cost_text(row: SessionRow) -> str:
    """``€12.40`` once finalized (the stored cost, the receipt's total), ``€4.83 so far`` before
    (the banner's words for the session in progress), ``Under review`` while its energy is
    disputed, empty when no tariff prices it."""
    if row.energy_disputed:
        return UNDER_REVIEW_COST_TEXT
    if row.cost is None:
        return ""
    if not row.finalized:
        return cost_so_far_text(row.cost)
    return format_money(row.cost.total, row.cost.currency)


def session_receipt_href(row: SessionRow) -> str | None:
    """The receipt of a finalized session that has a cost (the receipt page shows no other)."""
    if row.finalized and row.ended_at is not None and row.cost is not None:
        return receipt_href(row.session_id)
    return None


def session_item_data(row: SessionRow, tz: ZoneInfo, now: datetime) -> dict[str, str | None]:
    """One session: kWh, charger, start, end (or "In progress"), duration, its mark, its cost
    and its receipt's address (None: no receipt)."""
    start = format_datetime(row.started_at, tz, now)
    if row.ended_at is None:
        end = "In progress"
        duration = f"{format_duration(now - row.started_at)} so far"
    else:
        same_day = row.ended_at.astimezone(tz).date() == row.started_at.astimezone(tz).date()
        end = format_time(row.ended_at, tz) if same_day else format_datetime(row.ended_at, tz, now)
        duration = format_duration(row.ended_at - row.started_at)
    icon, mark, mark_classes = _session_mark(row)
    receipt = session_receipt_href(row)
    return {
        "kwh": format_kwh(row.energy_kwh),
        "charger": row.charger_name,
        "start": start,
        "end": end,
        "duration": duration,
        "icon": icon,
        "mark": mark,
        "mark_class": f"badge rounded-pill session-mark {mark_classes}",
        "cost": session_cost_text(row),
        "receipt": receipt,
        # Five links read "Receipt": each names its session for a screen reader's link list.
        "receipt_label": None
        if receipt is None
        else f"{RECEIPT_TEXT} of {start}, {row.charger_name}",
    }


def recent_sessions_data(rows: Sequence[SessionRow], tz: ZoneInfo, now: datetime) -> dict[str, Any]:
    """The last sessions, in the order given (newest first), and the first-run message shown
    when there are none. ``assets/dashboard.js`` (renderSessions) draws the list: a render
    sends 1 KB of text instead of 9 KB of components, and the server builds no tree."""
    return {
        "items": [session_item_data(row, tz, now) for row in rows],
        "empty": {"title": FIRST_RUN_TITLE, "text": FIRST_RUN_TEXT},
        "cost_label": COST_LABEL,
        "receipt_text": RECEIPT_TEXT,
    }


# --- next reservation ---------------------------------------------------------------------------


def reservation_window(row: ReservationRow, tz: ZoneInfo, now: datetime) -> str:
    """``Tomorrow 08:00 – 09:30``; the end's day is named only when it differs from the start's."""
    start = format_datetime(row.starts_at, tz, now)
    same_day = row.ends_at.astimezone(tz).date() == row.starts_at.astimezone(tz).date()
    end = format_time(row.ends_at, tz) if same_day else format_datetime(row.ends_at, tz, now)
    return f"{start} – {end}"


def next_reservation_card_body(
    row: ReservationRow | None, tz: ZoneInfo, now: datetime, ended: str | None = None
) -> Component:
    """The account's next reservation, with Cancel booking until it starts; ``ended``: why a
    booking of the account ended early (the charger refused it, or it was released)."""
    notice = [ended_notice(ended)] if ended else []
    if row is None:
        empty = html.P(NO_RESERVATION_TEXT, className="text-body-secondary mb-0 no-reservation")
        return html.Div([*notice, empty]) if notice else empty
    status = _RESERVATION_STATUS.get(row.status, row.status.capitalize())
    cancellable = row.status in _CANCELLABLE and row.starts_at > now
    return html.Div(
        className="reservation",
        children=[
            *notice,
            html.P(row.charger_name, className="reservation-charger fs-5 fw-semibold mb-1"),
            html.P(reservation_window(row, tz, now), className="reservation-window mb-1"),
            html.P(
                [html.Span("Status: ", className="visually-hidden"), status],
                className="reservation-status small text-body-secondary mb-0",
            ),
            *([cancel_booking_button(row.reservation_id)] if cancellable else []),
        ],
    )


# --- usage --------------------------------------------------------------------------------------


def usage_frame(df: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Exactly one row per day of ``period`` (zeros filled), columns ``day`` and ``energy_kwh``.

    The total, the chart and the plan gauge are all read from this one frame, so they agree.
    """
    days_of_period = period.days
    if "energy_kwh" in df and "day" in df and df["day"].tolist() == days_of_period:
        return df  # already one row per day, as ``account_usage`` (data/charging) returns it
    # At most 366 rows: a plain loop is a tenth of what a pandas groupby costs here.
    values: dict[date, float] = {}
    for day, kwh in zip(df.get("day", ()), df.get("energy_kwh", ()), strict=True):
        key = _as_day(day)
        values[key] = values.get(key, 0.0) + float(kwh)
    return pd.DataFrame(
        {
            "day": days_of_period,
            "energy_kwh": [values.get(day, 0.0) for day in days_of_period],
        }
    )


def _as_day(value: object) -> date:
    """A day from the data layer: a ``date``, a ``datetime`` or ISO text (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def usage_sum(frame: pd.DataFrame, since: date | None = None) -> float:
    """The frame's total (optionally from ``since`` on), the same number the bars add up to."""
    if since is not None:
        frame = frame[frame["day"] >= since]
    return usage_total_kwh(frame)


def period_phrase(period: Period) -> str:
    if period.name == "year":
        return f"in {period.label} so far"
    return f"in {period.label}"


def usage_total(
    frame: pd.DataFrame, period: Period, cost: Decimal | None, currency: str
) -> Component:
    """The period's total kWh, from the same frame as the chart, and beside it what it cost
    (``312.4 kWh · €118.20``: stored costs and the cost so far of a session in progress; left
    out when nothing prices the period's sessions)."""
    total = usage_sum(frame)
    shown: list[Component] = [
        html.Span(
            format_kwh(total), className="usage-total-value", **data_attributes(kwh=repr(total))
        )
    ]
    if cost is not None:
        shown.append(
            html.Span(
                f" · {format_money(cost, currency)}",
                className="usage-total-cost",
                **data_attributes(cost=str(cost), currency=currency),
            )
        )
    return html.P(
        className="mb-1",
        children=[
            *shown,
            html.Span(f" used {period_phrase(period)}", className="text-body-secondary"),
        ],
    )


def daily_usage_figure(frame: pd.DataFrame, period: Period) -> dict[str, Any]:
    """One bar per day of the period (zero days included); x dates, y kWh; light styling.

    The figure's JSON as a dict: a ``go.Figure`` validates and deep-copies it again on the way
    out (1.7 ms against 0.2 ms a render); ``tests/test_components.py`` validates it instead."""
    year = period.name == "year"
    empty = not any(float(v) for v in frame["energy_kwh"])
    annotations = empty_note(f"No charging {period_phrase(period)}") if empty else []
    return {
        "data": [
            {
                "type": "bar",
                "x": [day.isoformat() for day in frame["day"]],
                "y": [float(v) for v in frame["energy_kwh"]],
                "marker": {"color": _CHART_COLOUR},
                "hovertemplate": "%{x|%a %-d %b %Y}<br>%{y:,.1f} kWh<extra></extra>",
                "name": "kWh",
            }
        ],
        "layout": chart_layout(
            260,
            {"l": 44, "r": 8, "t": 8, "b": 32},
            bargap=0.1 if year else 0.2,
            annotations=annotations,
            xaxis=day_axis(year),
            yaxis=value_axis("kWh"),
        ),
    }


# A no-break space before the dot: a wrapped line ends with it, never starts with it.
PRICE_SEPARATOR = "\u00a0· "


def price_line(parts: Sequence[str]) -> list[Component | str]:
    """Parts of a price joined by `` · ``, each kept on one line (a line wraps between them)."""
    line: list[Component | str] = []
    for part in parts:
        if line:
            line.append(PRICE_SEPARATOR)
        line.append(html.Span(part, className="text-nowrap"))
    return line


def tariff_lines(tariff: TariffPrices | None) -> list[Component]:
    """The tariff that prices the account's charging now, by name, and its prices in a line;
    without one, that no price is set."""
    if tariff is None:
        return [html.P(NO_TARIFF_TEXT, className="small text-body-secondary mb-1 no-tariff")]
    return [
        html.P(
            [html.Span("Tariff ", className="text-body-secondary"), html.Strong(tariff.name)],
            className="mb-0 plan-tariff",
        ),
        html.P(price_line(prices_parts(tariff)), className="small mb-1 plan-prices"),
    ]


def plan_gauge(
    plan: PlanRow | None,
    used_kwh: float,
    billing_label: str | None = None,
    tariff: TariffPrices | None = None,
) -> Component:
    """Plan name, usage against the allowance (over 100% shown as over), the currency, and the
    tariff in force now (``tariff``: the plan's, else the operator's default).

    ``billing_label`` names the billing month the usage belongs to when it differs from the
    period on screen (the allowance is per calendar month). Without a plan: a short muted line,
    then the tariff that prices ad hoc charging.
    """
    if plan is None:
        return html.Div(
            [
                html.P(NO_PLAN_TEXT, className="small text-body-secondary mb-1 no-plan"),
                *tariff_lines(tariff),
            ],
            className="plan-gauge-body",
        )
    children: list[Component] = [
        html.P(
            [html.Span("Plan ", className="text-body-secondary"), html.Strong(plan.name)],
            className="mb-1 plan-name",
        )
    ]
    used, allowance = used_kwh, plan.allowance_kwh
    if allowance > 0:
        ratio = used / allowance
        percent = round(ratio * 100)
        over = used > allowance
        if over:
            text = (
                f"{format_number(used)} of {format_number(allowance)} kWh — "
                f"{format_number(used - allowance)} kWh over your allowance ({percent}%)"
            )
            colour = "bg-danger"
        else:
            text = f"{format_number(used)} of {format_number(allowance)} kWh ({percent}%)"
            colour = "bg-warning" if ratio >= 0.9 else "bg-success"
        width = min(100.0, max(0.0, ratio * 100))
        if billing_label:
            text = f"{billing_label}: {text}"
        children += [
            html.Div(
                className="progress plan-progress" + (" plan-over" if over else ""),
                role="progressbar",
                **_aria(
                    label=f"Usage against the {plan.name} allowance",
                    valuenow=str(round(width)),
                    valuemin="0",
                    valuemax="100",
                    valuetext=text,
                ),
                children=html.Div(className=f"progress-bar {colour}", style={"width": f"{width}%"}),
            ),
            html.P(
                text,
                className="plan-usage mt-1 mb-1" + (" text-danger fw-semibold" if over else ""),
            ),
        ]
    else:
        children.append(
            html.P(
                f"{format_number(used)} kWh used; this plan has no kWh allowance.", className="mb-1"
            )
        )
    children.append(html.P(f"Billed in {plan.currency}", className="small text-body-secondary"))
    children += tariff_lines(tariff)
    return html.Div(children, className="plan-gauge-body")


def period_selector(active: str) -> html.Nav:
    """Three links that set ``?period=``; the active one is highlighted and announced."""
    links = []
    for name in PERIODS:
        label: list[Component | str] = [PERIOD_LABELS[name]]
        if name == active:
            label.append(html.Span(" (selected)", className="visually-hidden"))
        links.append(
            dbc.NavItem(
                dbc.NavLink(
                    label,
                    href=f"/?period={name}",
                    active=name == active,
                    id=f"period-link-{name}",
                )
            )
        )
    return html.Nav(
        dbc.Nav(links, pills=True, class_name="period-selector"),
        **_aria(label="Usage period"),
    )


def export_links(period: str) -> html.P:
    """CSV downloads of the period on screen (for an expense report). The export routes limit a
    customer's file to the active account, whatever the link says."""
    query = f"?period={period}"
    return html.P(
        [
            html.Span("Download this period as CSV: ", className="text-body-secondary"),
            html.A(
                "sessions",
                href=f"/export/sessions.csv{query}",
                download="",
                id="export-sessions",
                className="text-nowrap",
            ),
            html.Span(" · ", **_aria(hidden="true")),
            html.A(
                "daily usage",
                href=f"/export/usage-daily.csv{query}",
                download="",
                id="export-usage-daily",
                className="text-nowrap",
            ),
        ],
        id=EXPORT_LINKS_ID,
        className="small mt-2 mb-0",
    )


# --- chargers -----------------------------------------------------------------------------------


def status_id(charger_id: str) -> dict[str, str]:
    """The pattern-matching id of a charger's status pill (refreshed on the interval)."""
    return {"type": STATUS_TYPE, "charger": charger_id}


def status_pill(charger_id: str, status: ChargerStatus | None) -> html.Span:
    return html.Span(status_text(status), id=status_id(charger_id), className=status_class(status))


def status_payload(
    statuses: Mapping[str, ChargerStatus | None],
    available: int,
    connectors: Mapping[str, Sequence[ConnectorReport]] | None = None,
) -> tuple[dict[str, Any], str]:
    """What the poll sends when something changed, and its digest (what the browser keeps).

    ``pills`` maps each charger id to its pill's text and classes; a pill whose charger is not
    in it shows the neutral ``unknown`` pill. ``connectors`` maps the chargers of ``connectors``
    that offer a choice to its options, so a connector's status on the card stays current."""
    choices = {cid: connector_choice(reports) for cid, reports in (connectors or {}).items()}
    payload = {
        "pills": {cid: [status_text(st), status_class(st)] for cid, st in statuses.items()},
        # The chargers whose card offers Start charging (Online now); the server checks again.
        "startable": sorted(cid for cid, st in statuses.items() if st is ChargerStatus.online),
        "connectors": {cid: c["options"] for cid, c in sorted(choices.items()) if c is not None},
        "unknown": [status_text(None), status_class(None)],
        "available": available_text(available),
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return payload, hashlib.blake2b(encoded, digest_size=12).hexdigest()


def connector_label(connector: ConnectorReport) -> str:
    """``Connector 2 · Available``: its number and what the charger last said of it."""
    return f"Connector {connector.connector_id} · {connector.status}"


# The connector chosen at first: one out of order never; a car plugged in and waiting
# (Preparing) before a free one (Available), then the lowest number.
_FIRST_CHOICE = {"Preparing": 0, "Available": 1}


def connector_choice(connectors: Sequence[ConnectorReport]) -> dict[str, Any] | None:
    """The card's choice of connector when its charger reported more than one: the options of
    a select (values are the connector numbers as text; one out of order is shown, disabled)
    and the one chosen at first. None with one or none: the charger chooses."""
    if len(connectors) < 2:
        return None
    first = min(
        connectors,
        key=lambda c: (c.out_of_order, _FIRST_CHOICE.get(c.status, 2), c.connector_id),
    )
    return {
        "options": [
            {"label": connector_label(c), "value": str(c.connector_id), "disabled": c.out_of_order}
            for c in connectors
        ],
        "value": str(first.connector_id),
    }


def charger_card_data(
    row: ChargerRow,
    connectors: Sequence[ConnectorReport] = (),
    price: int | None = None,
    favourite: bool = False,
) -> dict[str, Any]:
    """One card of the grid as data: name, connector and power, status pill text and classes,
    the choice of connector (None: the charger chooses) and its price (an index into the
    grid's ``prices``; None: no tariff). ``assets/dashboard.js`` (renderChargers) turns these
    into the cards, so a render sends 50 small dicts (5 KB) instead of 250 components (34 KB,
    and 3 ms to build and encode)."""
    return {
        "id": row.charger_id,
        "name": row.friendly_name,
        "specs": f"{row.connector_type} · {format_kw(row.max_power_kw)}",
        "status": status_text(row.status),
        "pill": status_class(row.status),
        "startable": row.status is ChargerStatus.online,
        "connectors": connector_choice(connectors),
        "price": price,
        "favourite": favourite,
    }


def start_id(charger_id: str) -> dict[str, str]:
    """The pattern-matching id of a card's Start charging button."""
    return {"type": START_TYPE, "charger": charger_id}


def start_note_id(charger_id: str) -> dict[str, str]:
    """The pattern-matching id of a card's live note (waiting, or the charger's refusal)."""
    return {"type": START_NOTE_TYPE, "charger": charger_id}


def too_many_requests_text(retry_after_s: int) -> str:
    return f"Too many requests — try again in {retry_after_s} s"


def charger_limit_note(chargers: ChargerList) -> str | None:
    if chargers.visible <= len(chargers.chargers):
        return None
    return (
        f"Showing {len(chargers.chargers)} of {chargers.visible} chargers you can use. "
        "Ask your operator which chargers your account is meant to see."
    )


def charger_grid_data(
    chargers: ChargerList,
    connectors: Mapping[str, Sequence[ConnectorReport]] | None = None,
    tariff: TariffPrices | None = None,
    favourites: Collection[str] = (),
) -> dict[str, Any]:
    """The cards in the order given (most useful first, the account's ``favourites`` leading;
    the order stays put on refresh), each with its charger's reported ``connectors``, its price
    by ``tariff`` (the account's, in force now) and its star, the note when more are visible
    than shown, and what to say when none is.

    A tariff has one price line for AC chargers and one for DC: each is written once
    (``prices``, its parts joined by ``price_separator``) and the cards name theirs by index."""
    reported = connectors or {}
    starred = set(favourites)
    prices: list[tuple[str, ...]] = []
    by_parts: dict[tuple[str, ...], int] = {}
    by_power: dict[float, int] = {}  # a few powers among 50 cards

    def price(row: ChargerRow) -> int | None:
        if tariff is None:
            return None
        if row.max_power_kw not in by_power:
            parts = charger_price_parts(tariff, row.max_power_kw)
            if parts not in by_parts:
                by_parts[parts] = len(prices)
                prices.append(parts)
            by_power[row.max_power_kw] = by_parts[parts]
        return by_power[row.max_power_kw]

    return {
        "cards": [
            charger_card_data(
                row, reported.get(row.charger_id, ()), price(row), row.charger_id in starred
            )
            for row in chargers.chargers
        ],
        "prices": prices,
        "price_separator": PRICE_SEPARATOR,
        "note": charger_limit_note(chargers),
        "empty": NO_CHARGERS_TEXT,
        "pill_type": STATUS_TYPE,
        "start": {
            "type": START_TYPE,
            "note_type": START_NOTE_TYPE,
            "label": START_LABEL,
            "connector_type": CONNECTOR_TYPE,
            "connector_label": CONNECTOR_LABEL,
        },
        "report": {"type": REPORT_TYPE, "label": REPORT_LABEL},
        "book": {"type": BOOK_TYPE, "label": BOOK_LABEL},
        "favourite": {"type": FAVOURITE_TYPE, "label": FAVOURITE_LABEL},
        "item_type": CHARGER_ITEM_TYPE,
        "no_favourites": NO_FAVOURITES_TEXT,
    }


def report_id(charger_id: str) -> dict[str, str]:
    """The pattern-matching id of a card's Report a problem button."""
    return {"type": REPORT_TYPE, "charger": charger_id}


def report_title(friendly_name: str | None = None) -> str:
    return f"{REPORT_LABEL} with {friendly_name}" if friendly_name else REPORT_LABEL


def report_received(report: ProblemReport) -> dbc.Alert:
    """The driver's confirmation, naming the reference and the charger; for a report sent a
    moment ago already, that it was received then (nothing new was written)."""
    charger = f"{report.friendly_name} ({report.charger_id})"
    if report.duplicate:
        text = (
            f"Already received: report {report.reference} on {charger}. "
            "Our team will look at it; there is no need to send it again."
        )
    else:
        text = f"Thanks — report {report.reference} received; our team will look at {charger}."
    return dbc.Alert(text, color="success", class_name="py-2 mb-0 report-received")


def report_refused(message: str) -> dbc.Alert:
    return dbc.Alert(message, color="danger", class_name="py-2 mb-0 report-refused")


def report_modal() -> dbc.Modal:
    """The dialog a card's Report a problem opens: what is wrong (a choice of three), a few
    words (required for Other), Send; the outcome is announced in a live region."""
    return dbc.Modal(
        id=REPORT_MODAL_ID,
        is_open=False,
        labelledby=REPORT_TITLE_ID,
        children=[
            dbc.ModalHeader(
                dbc.ModalTitle(REPORT_LABEL, id=REPORT_TITLE_ID, tag="h2", class_name="h5")
            ),
            dbc.ModalBody(
                [
                    html.Fieldset(
                        [
                            html.Legend("What is wrong?", className="form-label fs-6"),
                            dbc.RadioItems(
                                id=REPORT_KIND_ID,
                                options=[
                                    {"label": label, "value": kind.value}
                                    for kind, label in KIND_LABELS.items()
                                ],
                                value=None,
                            ),
                        ],
                        className="mb-3",
                    ),
                    # The limits are in the label: dbc's Textarea takes no aria-describedby.
                    dbc.Label(
                        f"Tell us more (required for Other; up to {TEXT_MAX_LENGTH} characters)",
                        html_for=REPORT_TEXT_ID,
                    ),
                    dbc.Textarea(id=REPORT_TEXT_ID, maxLength=TEXT_MAX_LENGTH, rows=3, value=""),
                    html.Div(
                        id=REPORT_OUTCOME_ID,
                        role="status",
                        className="mt-3",
                        **_aria(live="polite"),
                    ),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Close", id=REPORT_CLOSE_ID, color="secondary", outline=True),
                    dbc.Button("Send report", id=REPORT_SEND_ID, color="primary"),
                ]
            ),
        ],
    )


def available_text(n: int) -> str:
    return f"{n} available"


def available_pill(n: int | None = None) -> html.Span:
    """The "N available" counts pill; ``None`` while loading. Its children stay a plain string."""
    return html.Span(
        available_text(n) if n is not None else "… available",
        id=AVAILABLE_COUNT_ID,
        className="badge rounded-pill available-pill",
        role="status",
        **_aria(live="polite"),
    )


# --- operator contact and help ------------------------------------------------------------------


def operator_contact(settings: OperatorSettings) -> Component:
    """The support email as a ``mailto:`` link, or a plain note when the operator set none."""
    if not settings.support_email:
        return html.P(
            f"{settings.name} hasn’t published a support email on this site.",
            className="mb-2",
        )
    return html.P(
        [
            f"Questions about your account, plan or billing? Email {settings.name} at ",
            html.A(
                settings.support_email,
                href=f"mailto:{settings.support_email}",
                className="operator-email",
            ),
            ".",
        ],
        className="mb-2",
    )


def _help_item(question: str, answer: str) -> html.Details:
    return html.Details(
        [
            html.Summary(html.H3(question, className="h6 d-inline mb-0")),
            html.P(answer, className="mt-2 mb-0"),
        ],
        className="help-item",
    )


def help_items() -> list[html.Details]:
    return [
        _help_item("A charger I expected to see is missing", MISSING_CHARGER_ANSWER),
        _help_item("My plan or currency looks wrong", PLAN_WRONG_ANSWER),
        _help_item("My recent sessions list is empty", EMPTY_SESSIONS_ANSWER),
    ]


def unknown_period_note(value: object) -> dbc.Alert:
    """Said when ``?period=`` holds something we don't know; the page shows this month."""
    if isinstance(value, str):
        shown = value
    elif isinstance(value, list | tuple):
        shown = ", ".join(str(v) for v in value)
    else:
        shown = str(value)
    if len(shown) > 40:
        shown = shown[:39] + "…"
    return dbc.Alert(
        f"“{shown}” is not a period we know; showing this month.",
        id="period-note",
        color="warning",
        class_name="py-2",
    )


def dashboard_skeleton(period: str, note: Component | None = None) -> html.Div:
    """The static page: every stable id, loading placeholders, no user data."""
    return html.Div(
        className="dashboard",
        children=[
            dcc.Store(id=PERIOD_STORE_ID, data=period),
            dcc.Store(id=STATUS_DATA_ID),
            dcc.Store(id=STATUS_SHOWN_ID),
            dcc.Store(id=DASHBOARD_TICK_ID),
            dcc.Store(id=CHARGER_DATA_ID),
            dcc.Store(id=RECENT_DATA_ID),
            dcc.Store(id=RECENT_SEEN_ID),
            dcc.Store(id=RECENT_REFRESH_ID),
            dcc.Store(id=REPORT_CHARGER_STORE),
            dcc.Store(id=NEXT_WATCH_ID),
            report_modal(),
            booking_modal(),
            html.H1("Your dashboard", className="h3 mb-3"),
            *([note] if note is not None else []),
            # Phones first: the sections in the order a phone shows them (polaris.css lays
            # them out as before from 992 px: Recent activity beside Next reservation, then
            # the chargers, usage and help across).
            html.Div(
                className="dashboard-sections mb-3",
                children=[
                    section(
                        "reservation",
                        "Next reservation",
                        [
                            html.Div(
                                id=BOOKING_NOTICE_ID,
                                role="status",
                                **_aria(live="polite"),
                            ),
                            dbc.Card(
                                id=NEXT_RESERVATION_ID,
                                class_name="border-0",
                                children=html.Div(
                                    loading_placeholder("Loading your reservation…", 2),
                                    id=NEXT_RESERVATION_BODY_ID,
                                ),
                            ),
                        ],
                        class_name="card card-body",
                    ),
                    charger_section(),
                    section(
                        "recent-activity",
                        "Recent activity",
                        [
                            html.Div(
                                loading_placeholder("Loading your sessions…", 4),
                                id=RECENT_SESSIONS_ID,
                            ),
                            html.P(
                                dcc.Link(
                                    "All my sessions", href="/sessions", id="all-sessions-link"
                                ),
                                className="mt-2 mb-0",
                            ),
                        ],
                        class_name="card card-body",
                    ),
                    section(
                        "usage",
                        "Usage",
                        [
                            period_selector(period),
                            dbc.Row(
                                className="g-3 mt-1",
                                children=[
                                    dbc.Col(
                                        html.Div(
                                            loading_placeholder("Loading your usage…", 1),
                                            id=USAGE_TOTAL_ID,
                                        ),
                                        md=6,
                                    ),
                                    dbc.Col(html.Div(id=PLAN_GAUGE_ID), md=6),
                                ],
                            ),
                            captioned_chart(
                                USAGE_CHART_ID,
                                empty_figure(),
                                260,
                                "Daily energy in kWh, one bar per day of the period "
                                "(by the day each session started).",
                                class_name="mb-0 mt-2",
                            ),
                            export_links(period),
                        ],
                        class_name="card card-body",
                    ),
                    section(
                        "dashboard-help",
                        "Help and contact",
                        [
                            html.Div(
                                html.P("Loading your operator’s contact…", className="mb-2"),
                                id=OPERATOR_CONTACT_ID,
                            ),
                            *help_items(),
                        ],
                        class_name="card card-body",
                    ),
                ],
            ),
        ],
    )


def charger_section() -> html.Section:
    """The chargers: the counts pill, a search box and, on a phone, the favourites only until
    Show all chargers is tapped (polaris.css; the search finds among all of them)."""
    return section(
        "chargers",
        "Chargers you can use",
        [
            html.Div(
                className="d-flex flex-wrap align-items-center gap-2 mb-3 charger-tools",
                children=[
                    available_pill(),
                    html.Div(
                        className="charger-search flex-grow-1",
                        children=[
                            dbc.Label(
                                CHARGER_SEARCH_LABEL,
                                html_for=CHARGER_SEARCH_ID,
                                class_name="visually-hidden",
                            ),
                            dbc.Input(
                                id=CHARGER_SEARCH_ID,
                                type="search",
                                placeholder="Search chargers",
                                debounce=False,
                                autocomplete="off",
                                size="sm",
                                maxLength=100,
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(
                id=CHARGER_LIST_ID,
                className="charger-list",
                children=html.Div(loading_placeholder("Loading chargers…", 3), id=CHARGER_GRID_ID),
            ),
            html.P(
                NO_MATCH_TEXT,
                id=CHARGER_NO_MATCH_ID,
                hidden=True,
                className="text-body-secondary mb-0 charger-no-match",
            ),
            html.Button(
                SHOW_ALL_TEXT,
                id=CHARGER_TOGGLE_ID,
                type="button",
                className="btn btn-outline-primary btn-sm w-100 mt-2 charger-list-toggle",
                **_aria(expanded="false", controls=CHARGER_LIST_ID),
                # Its two texts, for dashboard.js: it may be pressed before the cards arrive.
                **data_attributes(all=SHOW_ALL_TEXT, fewer=SHOW_FEWER_TEXT),
            ),
        ],
        class_name="card card-body",
    )
