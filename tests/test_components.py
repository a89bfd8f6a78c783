"""The dashboard's components, on constructed rows: no database, no browser."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import pytest
from dash.development.base_component import Component

from components import dashboard as c
from components.charger_status import status_class, status_text
from components.format import format_kw
from components.shell import BANNER_COST_ID, BANNER_KWH_ID, active_session_banner, cost_so_far_text
from data.chargers.status import ChargerStatus
from data.charging.dashboard import (
    CHARGER_LIMIT,
    ChargerList,
    ChargerRow,
    OperatorSettings,
    PlanRow,
    ReservationRow,
    SessionRow,
)
from data.core.periods import period_bounds
from data.pricing.cost import SessionCost, TariffPrices

TZ = ZoneInfo("Europe/Amsterdam")
# Tuesday 24 November 2026, 10:00 in Amsterdam.
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

STABLE_IDS = {
    "recent-sessions",
    "recent-sessions-data",
    "next-reservation",
    "usage-total",
    "usage-chart",
    "plan-gauge",
    "charger-grid",
    "charger-grid-data",
    "available-count",
    "dashboard-period",
}


# --- tree helpers -------------------------------------------------------------------------------


def figure(spec: dict[str, Any]) -> go.Figure:
    """The dashboard's figure dict, validated by plotly (an unknown or misspelt key fails)."""
    return go.Figure(spec)


def walk(node: Any) -> Iterator[Any]:
    """Every component in the tree, depth first (children may be one node, a list or text)."""
    if isinstance(node, list | tuple):
        for child in node:
            yield from walk(child)
    elif isinstance(node, Component):
        yield node
        yield from walk(getattr(node, "children", None))


def with_ids(node: Any) -> Iterator[Component]:
    for component in walk(node):
        if getattr(component, "id", None) is not None:
            yield component


def by_id(node: Any, component_id: Any) -> Component:
    found = [x for x in with_ids(node) if x.id == component_id]
    assert len(found) == 1, f"{component_id!r}: {len(found)} matches"
    return found[0]


def text(node: Any) -> str:
    """All visible text of a tree, joined by single spaces."""
    parts: list[str] = []

    def collect(n: Any) -> None:
        if isinstance(n, str | int | float) and not isinstance(n, bool):
            parts.append(str(n))
        elif isinstance(n, list | tuple):
            for child in n:
                collect(child)
        elif isinstance(n, Component):
            collect(getattr(n, "children", None))

    collect(node)
    return " ".join(" ".join(parts).split())


def class_names(node: Any) -> list[str]:
    return [
        getattr(x, "className", None) or getattr(x, "class_name", None) or "" for x in walk(node)
    ]


# --- rows ---------------------------------------------------------------------------------------


def session_row(
    i: int,
    *,
    hours_ago: float,
    minutes: int | None,
    kwh: float,
    finalized: bool,
    cost: SessionCost | None = None,
    disputed: bool = False,
) -> SessionRow:
    started = NOW - timedelta(hours=hours_ago)
    ended = None if minutes is None else started + timedelta(minutes=minutes)
    return SessionRow(f"s{i}", f"Charger {i}", started, ended, kwh, finalized, disputed, cost)


def charger(i: int, status: ChargerStatus = ChargerStatus.online, kw: float = 150.0) -> ChargerRow:
    return ChargerRow(f"ch-{i}", f"Depot bay {i}", "CCS", kw, status)


def days_frame(period: Any, values: dict[date, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"day": period.days, "energy_kwh": [values.get(d, 0.0) for d in period.days]}
    )


# --- recent sessions ----------------------------------------------------------------------------


def test_first_run_account_sees_how_a_session_gets_here_not_an_empty_list() -> None:
    data = c.recent_sessions_data([], TZ, NOW)
    assert data["items"] == []
    assert data["empty"]["title"] == "No charging sessions yet."
    assert "Start a session at any charger with your card or app" in data["empty"]["text"]
    assert "appears here once the system records it" in data["empty"]["text"]


def test_sessions_show_kwh_times_duration_and_text_marks_in_given_order() -> None:
    rows = [
        session_row(1, hours_ago=0.5, minutes=None, kwh=4.25, finalized=False),
        session_row(2, hours_ago=26, minutes=80, kwh=31.04, finalized=True),
        session_row(3, hours_ago=50, minutes=45, kwh=12.0, finalized=False),
    ]
    in_progress, finished, not_final = c.recent_sessions_data(rows, TZ, NOW)["items"]

    assert in_progress["kwh"] in ("4.2 kWh", "4.3 kWh")
    assert in_progress["end"] == "In progress"
    assert in_progress["mark"] == "In progress"
    assert "text-bg-primary" in in_progress["mark_class"]
    assert in_progress["duration"] == "30 min so far"
    assert in_progress["start"] == "Today 09:30"  # 08:30 UTC is 09:30 in Amsterdam

    assert finished["kwh"] == "31.0 kWh"
    assert (finished["icon"], finished["mark"]) == ("✓", "Finalized")
    assert finished["start"] == "Yesterday 08:00"
    assert finished["end"] == "09:20"  # same local day: the end shows the time only
    assert finished["duration"] == "1 h 20 min"

    assert not_final["mark"] == "Not finalized yet"
    assert [i["charger"] for i in (in_progress, finished, not_final)] == [
        r.charger_name for r in rows
    ]


def test_session_ending_on_another_local_day_names_that_day() -> None:
    started = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # 23:30 local, Sunday
    row = SessionRow(
        "s", "Night bay", started, started + timedelta(hours=1), 20.0, True, False, None
    )
    item = c.session_item_data(row, TZ, NOW)
    assert item["start"] == "Sun 22 Nov, 23:30"
    assert item["end"] == "Yesterday 00:30"


# --- next reservation ---------------------------------------------------------------------------


def test_next_reservation_shows_charger_and_readable_window() -> None:
    starts = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # tomorrow 08:00 local
    row = ReservationRow("r1", "Harbour CCS 2", starts, starts + timedelta(minutes=90), "confirmed")
    words = text(c.next_reservation_card_body(row, TZ, NOW))
    assert "Harbour CCS 2" in words
    assert "Tomorrow 08:00 – 09:30" in words
    assert c.NO_RESERVATION_TEXT not in words


def test_no_reservation_says_so() -> None:
    assert text(c.next_reservation_card_body(None, TZ, NOW)) == "No upcoming reservation."


# --- usage --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["current", "previous", "year"])
def test_chart_has_one_bar_per_day_zeros_included_and_total_is_their_sum(name: str) -> None:
    period = period_bounds(name, NOW, TZ)
    first, last = period.days[0], period.days[-1]
    # Only two days have data; the frame from the data layer may also omit zero days.
    df = pd.DataFrame({"day": [first, last], "energy_kwh": [12.34, 7.05]})
    frame = c.usage_frame(df, period)
    fig = figure(c.daily_usage_figure(frame, period))

    assert len(fig.data) == 1
    bar = fig.data[0]
    assert bar.type == "bar"
    assert len(bar.x) == len(period.days)
    assert list(bar.x) == [d.isoformat() for d in period.days]
    assert sum(1 for y in bar.y if y == 0) == len(period.days) - 2
    assert sum(bar.y) == pytest.approx(19.39)

    total = c.usage_total(frame, period, None, "EUR")
    value = next(x for x in walk(total) if getattr(x, "className", "") == "usage-total-value")
    assert float(getattr(value, "data-kwh")) == sum(bar.y)
    assert value.children == "19.4 kWh"
    assert period.label in text(total)


def test_year_chart_spans_january_first_to_today() -> None:
    period = period_bounds("year", NOW, TZ)
    frame = c.usage_frame(pd.DataFrame({"day": [], "energy_kwh": []}), period)
    fig = figure(c.daily_usage_figure(frame, period))
    assert fig.data[0].x[0] == "2026-01-01"
    assert fig.data[0].x[-1] == "2026-11-24"
    assert len(fig.data[0].x) == 328
    assert "0.0 kWh" in text(c.usage_total(frame, period, None, "EUR"))


def test_usage_frame_sums_duplicate_days_and_drops_days_outside_the_period() -> None:
    period = period_bounds("current", NOW, TZ)
    df = pd.DataFrame(
        {
            "day": [date(2026, 11, 3), date(2026, 11, 3), date(2026, 10, 31)],
            "energy_kwh": [1.5, 2.0, 99.0],
        }
    )
    frame = c.usage_frame(df, period)
    assert len(frame) == 30
    assert frame.loc[frame["day"] == date(2026, 11, 3), "energy_kwh"].item() == 3.5
    assert c.usage_sum(frame) == 3.5


def test_usage_figure_is_light_and_without_modebar() -> None:
    skeleton = c.dashboard_skeleton("current")
    graph = by_id(skeleton, "usage-chart")
    assert graph.config["displayModeBar"] is False


# --- plan gauge ---------------------------------------------------------------------------------

PLAN = PlanRow("p1", "Commuter 250", 250.0, "EUR")


def test_plan_gauge_under_allowance() -> None:
    tree = c.plan_gauge(PLAN, 182.4)
    words = text(tree)
    assert "Commuter 250" in words
    assert "182.4 of 250 kWh (73%)" in words
    assert "Billed in EUR" in words
    assert "over" not in words
    bar = next(x for x in walk(tree) if "progress-bar" in (getattr(x, "className", "") or ""))
    assert bar.style["width"] == f"{182.4 / 250 * 100}%"
    assert "bg-danger" not in bar.className


def test_plan_gauge_over_allowance_is_shown_as_over() -> None:
    tree = c.plan_gauge(PLAN, 312.0)
    words = text(tree)
    assert "312 of 250 kWh — 62 kWh over your allowance (125%)" in words
    bar = next(x for x in walk(tree) if "progress-bar" in (getattr(x, "className", "") or ""))
    assert bar.style["width"] == "100.0%"
    assert "bg-danger" in bar.className
    progress = next(x for x in walk(tree) if getattr(x, "role", None) == "progressbar")
    assert "over your allowance" in getattr(progress, "aria-valuetext")


def test_plan_gauge_exactly_at_allowance_is_not_over() -> None:
    words = text(c.plan_gauge(PLAN, 250.0))
    assert "250 of 250 kWh (100%)" in words
    assert "over" not in words


def test_plan_gauge_names_the_billing_month_when_given() -> None:
    assert "November 2026: 10 of 250 kWh (4%)" in text(c.plan_gauge(PLAN, 10.0, "November 2026"))


def test_no_plan_no_gauge() -> None:
    tree = c.plan_gauge(None, 500.0)
    # No tariff either: said once here, not on every charger card.
    assert text(tree) == f"No plan on this account. {c.NO_TARIFF_TEXT}"
    assert not any("progress" in name for name in class_names(tree))
    assert not any(getattr(x, "role", None) == "progressbar" for x in walk(tree))


# --- chargers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "css"),
    [
        (ChargerStatus.online, "status-online"),
        (ChargerStatus.in_use, "status-in-use"),
        (ChargerStatus.reserved, "status-reserved"),
        (ChargerStatus.offline, "status-offline"),
    ],
)
def test_charger_card_shows_name_connector_power_and_status_text(
    status: ChargerStatus, css: str
) -> None:
    row = ChargerRow("ch-9", "Station Plaza 3", "Type 2", 22.0, status)
    card = c.charger_card_data(row)
    assert card["id"] == "ch-9"
    assert card["name"] == "Station Plaza 3"
    assert card["specs"] == "Type 2 · 22 kW"
    assert card["status"] == str(status)
    assert css in card["pill"].split()


def test_power_keeps_a_decimal_only_when_it_has_one() -> None:
    assert format_kw(150.0) == "150 kW"
    assert format_kw(7.4) == "7.4 kW"


def test_unknown_status_is_neutral() -> None:
    assert status_text(None) == "—"
    assert "status-unknown" in status_class(None)
    for status in ChargerStatus:
        assert "status-unknown" not in status_class(status)


def test_available_pill_text() -> None:
    assert c.available_text(3) == "3 available"
    assert c.available_text(0) == "0 available"
    pill = c.available_pill(7)
    assert pill.id == "available-count"
    assert pill.children == "7 available"


def test_grid_keeps_the_given_order_and_one_pill_per_charger() -> None:
    rows = [charger(2, ChargerStatus.offline), charger(1), charger(3, ChargerStatus.in_use)]
    grid = c.charger_grid_data(ChargerList(rows, visible=3, available=1))
    assert [card["id"] for card in grid["cards"]] == ["ch-2", "ch-1", "ch-3"]
    assert [card["status"] for card in grid["cards"]] == ["Offline", "Online", "In use"]
    assert grid["pill_type"] == c.STATUS_TYPE  # the pills' pattern-matching ids
    assert grid["note"] is None


def test_more_than_fifty_visible_says_so() -> None:
    rows = [charger(i) for i in range(CHARGER_LIMIT)]
    grid = c.charger_grid_data(ChargerList(rows, visible=73, available=60))
    assert grid["note"] == (
        "Showing 50 of 73 chargers you can use. "
        "Ask your operator which chargers your account is meant to see."
    )
    assert len(grid["cards"]) == 50


def test_exactly_fifty_visible_has_no_note() -> None:
    rows = [charger(i) for i in range(CHARGER_LIMIT)]
    assert c.charger_limit_note(ChargerList(rows, visible=50, available=50)) is None


def test_no_visible_chargers_explains() -> None:
    grid = c.charger_grid_data(ChargerList([], visible=0, available=0))
    assert grid["cards"] == []
    assert "No chargers are visible to your account" in grid["empty"]


# --- prices and costs ---------------------------------------------------------------------------

COMMUTER = TariffPrices(
    tariff_id="COMMUTER",
    valid_from=NOW - timedelta(days=30),
    name="Commuter",
    currency="EUR",
    energy_price_per_kwh=Decimal("0.39"),
    dc_energy_price_per_kwh=Decimal("0.52"),
    session_fee=Decimal("0.50"),
    time_price_per_hour=Decimal("1.20"),
    time_free_minutes=240,
    vat_percent=Decimal("19"),
)


def money(total: str, currency: str = "EUR") -> SessionCost:
    amount = Decimal(total)
    return SessionCost(
        "COMMUTER", NOW, currency, amount, Decimal(0), Decimal(0), amount, Decimal(0)
    )


def card_price(grid: dict[str, Any], card: dict[str, Any]) -> str | None:
    """A card's price line as the browser joins it (assets/dashboard.js renderChargers)."""
    if card["price"] is None:
        return None
    return grid["price_separator"].join(grid["prices"][card["price"]])


def test_each_card_shows_the_price_of_its_charger_dc_above_22_kw() -> None:
    rows = [charger(1, kw=150.0), charger(2, kw=22.0), charger(3, kw=22.5), charger(4, kw=7.4)]
    grid = c.charger_grid_data(ChargerList(rows, 4, 4), None, COMMUTER)
    ac = "€0.39/kWh\u00a0· €1.20/h after 4 h\u00a0· €0.50 per session"
    dc = ac.replace("€0.39", "€0.52")
    assert [card_price(grid, card) for card in grid["cards"]] == [dc, ac, dc, ac]
    assert len(grid["prices"]) == 2  # each line written once, the cards name theirs


def test_a_price_shows_only_the_parts_its_tariff_has() -> None:
    energy_only = replace(
        COMMUTER,
        dc_energy_price_per_kwh=None,
        session_fee=None,
        time_price_per_hour=None,
        energy_price_per_kwh=Decimal("0.3945"),
    )
    grid = c.charger_grid_data(
        ChargerList([charger(1), charger(2, kw=11.0)], 2, 2), None, energy_only
    )
    assert [card_price(grid, card) for card in grid["cards"]] == ["€0.3945/kWh"] * 2
    no_free_time = replace(COMMUTER, time_free_minutes=None)
    assert c.charger_grid_data(ChargerList([charger(1)], 1, 1), None, no_free_time)["prices"] == [
        ("€0.52/kWh", "€1.20/h", "€0.50 per session")
    ]


def test_without_a_tariff_no_card_has_a_price_line() -> None:
    grid = c.charger_grid_data(ChargerList([charger(1), charger(2)], 2, 2))
    assert grid["prices"] == []
    assert [card["price"] for card in grid["cards"]] == [None, None]


def test_recent_sessions_show_their_cost_and_the_receipt_of_a_finalized_one() -> None:
    rows = [
        session_row(1, hours_ago=0.5, minutes=None, kwh=12.4, finalized=False, cost=money("4.83")),
        session_row(2, hours_ago=26, minutes=80, kwh=31.0, finalized=True, cost=money("12.40")),
        session_row(3, hours_ago=30, minutes=60, kwh=8.0, finalized=False, cost=money("3.62")),
        session_row(4, hours_ago=50, minutes=45, kwh=9.0, finalized=True, disputed=True),
        session_row(5, hours_ago=70, minutes=45, kwh=5.0, finalized=True),  # no tariff
    ]
    live, finished, not_final, disputed, free = c.recent_sessions_data(rows, TZ, NOW)["items"]
    assert (live["cost"], live["receipt"]) == ("€4.83 so far", None)
    assert live["cost"] == cost_so_far_text(money("4.83"))  # the banner's words
    assert (finished["cost"], finished["receipt"]) == ("€12.40", "/receipts/s2")
    # Five links read "Receipt": each names its session (when, where) for a screen reader.
    assert finished["receipt_label"] == "Receipt of Yesterday 08:00, Charger 2"
    assert (not_final["cost"], not_final["receipt"]) == ("€3.62 so far", None)
    assert (disputed["cost"], disputed["receipt"]) == ("Under review", None)
    assert (free["cost"], free["receipt"], free["receipt_label"]) == ("", None, None)


def test_the_receipt_address_is_quoted() -> None:
    row = SessionRow(
        "S 9/1", "Bay", NOW - timedelta(hours=2), NOW - timedelta(hours=1), 3.0, True, False,
        money("1.00"),
    )  # fmt: skip
    assert c.session_item_data(row, TZ, NOW)["receipt"] == "/receipts/S%209%2F1"


def test_a_cost_in_yen_has_no_decimals() -> None:
    row = session_row(1, hours_ago=2, minutes=60, kwh=3.0, finalized=True, cost=money("556", "JPY"))
    assert c.session_item_data(row, TZ, NOW)["cost"] == "¥556"


def test_the_plan_card_names_the_tariff_and_its_prices() -> None:
    words = text(c.plan_gauge(PLAN, 182.4, None, COMMUTER))
    assert "Billed in EUR Tariff Commuter" in words
    assert words.endswith(  # text() reads the no-break spaces as spaces
        "€0.39/kWh · DC €0.52/kWh · €0.50 per session · €1.20/h after 4 h · VAT 19 %"
    )
    # Ad hoc charging: no plan, and the default tariff that prices it.
    words = text(c.plan_gauge(None, 0.0, None, replace(COMMUTER, name="Ad hoc")))
    assert words.startswith("No plan on this account. Tariff Ad hoc €0.39/kWh")
    assert c.NO_TARIFF_TEXT not in words
    assert c.NO_TARIFF_TEXT in text(c.plan_gauge(PLAN, 10.0))


def test_each_part_of_a_price_stays_on_one_line() -> None:
    line = c.price_line(["€0.39/kWh", "€1.20/h after 4 h"])
    assert [getattr(x, "className", x) for x in line] == [
        "text-nowrap",
        c.PRICE_SEPARATOR,
        "text-nowrap",
    ]


def test_the_banner_says_the_cost_so_far_beside_the_kwh() -> None:
    assert cost_so_far_text(money("4.83")) == "€4.83 so far"
    assert cost_so_far_text(None) == ""  # no tariff: the span stays empty (and hidden)
    banner = active_session_banner()
    ids = [x.id for x in with_ids(banner)]
    assert ids.index(BANNER_KWH_ID) < ids.index(BANNER_COST_ID)
    separator = next(
        x for x in walk(banner) if "banner-cost-sep" in (getattr(x, "className", "") or "")
    )
    assert getattr(separator, "aria-hidden") == "true"


# --- operator contact ---------------------------------------------------------------------------


def test_support_email_is_a_mailto_link() -> None:
    tree = c.operator_contact(OperatorSettings("Northwind", "help@northwind.example", TZ, "EUR"))
    link = next(x for x in walk(tree) if getattr(x, "href", None))
    assert link.href == "mailto:help@northwind.example"
    assert link.children == "help@northwind.example"


def test_without_support_email_no_link() -> None:
    tree = c.operator_contact(OperatorSettings("Northwind", None, TZ, "EUR"))
    assert not any(getattr(x, "href", None) for x in walk(tree))
    assert "Northwind" in text(tree)


# --- the page layout ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page() -> Any:
    """pages.dashboard, imported without an app: register_page is stubbed, and the callbacks its
    import adds to Dash's global list are taken back so no app built later in this process
    inherits a second copy of them."""
    import sys

    import dash
    from dash import _callback

    original = dash.register_page
    known_keys = set(_callback.GLOBAL_CALLBACK_MAP)
    known_count = len(_callback.GLOBAL_CALLBACK_LIST)
    dash.register_page = lambda *a, **k: None
    try:
        sys.modules.pop("pages.dashboard", None)
        return importlib.import_module("pages.dashboard")
    finally:
        dash.register_page = original
        for key in set(_callback.GLOBAL_CALLBACK_MAP) - known_keys:
            del _callback.GLOBAL_CALLBACK_MAP[key]
        del _callback.GLOBAL_CALLBACK_LIST[known_count:]
        sys.modules.pop("pages.dashboard", None)


def test_layout_with_no_arguments_is_a_static_skeleton_with_every_stable_id(page: Any) -> None:
    tree = page.layout()
    ids = {x.id for x in with_ids(tree) if isinstance(x.id, str)}
    assert STABLE_IDS <= ids
    assert by_id(tree, "dashboard-period").data == "current"
    assert "is not a period we know" not in text(tree)
    headings = [x for x in walk(tree) if type(x).__name__ == "H1"]
    assert len(headings) == 1
    sections = [x for x in walk(tree) if type(x).__name__ == "Section"]
    assert len(sections) >= 4
    for sec in sections:
        heading_id = getattr(sec, "aria-labelledby")
        assert type(by_id(sec, heading_id)).__name__ == "H2"


@pytest.mark.parametrize("name", ["current", "previous", "year"])
def test_layout_keeps_a_known_period_and_highlights_its_link(page: Any, name: str) -> None:
    tree = page.layout(period=name)
    assert by_id(tree, "dashboard-period").data == name
    active = [x for x in walk(tree) if getattr(x, "active", False) is True]
    assert [x.href for x in active] == [f"/?period={name}"]


def test_unknown_period_shows_this_month_with_a_note(page: Any) -> None:
    tree = page.layout(period="bogus")
    assert by_id(tree, "dashboard-period").data == "current"
    assert "“bogus” is not a period we know; showing this month." in text(tree)
    assert STABLE_IDS <= {x.id for x in with_ids(tree) if isinstance(x.id, str)}


def test_repeated_period_parameter_is_unknown_too(page: Any) -> None:
    tree = page.layout(period=["year", "current"])
    assert by_id(tree, "dashboard-period").data == "current"
    assert "is not a period we know" in text(tree)


def test_empty_period_is_the_default_without_a_note(page: Any) -> None:
    tree = page.layout(period="")
    assert by_id(tree, "dashboard-period").data == "current"
    assert "is not a period we know" not in text(tree)


def test_help_lines_of_the_tour_are_on_the_page(page: Any) -> None:
    words = text(page.layout())
    assert "A charger I expected to see is missing" in words
    assert "My plan or currency looks wrong" in words
    assert "ask them which chargers your account is meant to see" in words


def test_a_period_without_charging_says_so_on_the_chart_and_has_no_note_otherwise() -> None:
    period = period_bounds("previous", NOW, TZ)
    empty = figure(c.daily_usage_figure(c.usage_frame(pd.DataFrame(), period), period))
    assert [a.text for a in empty.layout.annotations] == ["No charging in October 2026"]
    some = days_frame(period, {period.days[3]: 5.0})
    assert not figure(c.daily_usage_figure(c.usage_frame(some, period), period)).layout.annotations


def test_a_tree_encoded_once_sends_the_same_json_and_is_still_a_tree() -> None:
    from dash._utils import to_json

    from components.static import encoded_once

    expected = to_json({"children": c.dashboard_skeleton("year")})
    tree = encoded_once(c.dashboard_skeleton("year"))
    assert to_json({"children": tree}) == expected
    assert to_json({"children": tree}) == expected  # and again, from what it kept
    assert by_id(tree, "dashboard-period").data == "year"  # code and tests can still walk it


def test_a_scrolling_table_box_takes_keyboard_focus_and_is_named() -> None:
    from dash import html

    from components.landmarks import scroll_box

    box = scroll_box(html.Table([]), "Reservations", class_name="position-relative")
    props = box.to_plotly_json()["props"]
    assert props["tabIndex"] == "0"
    assert props["role"] == "region"
    assert props["aria-label"] == "Reservations"
    assert props["className"] == "table-responsive position-relative"


def test_every_scrolling_table_uses_the_focusable_box() -> None:
    """A phone-width table that scrolls must be reachable by keyboard (axe:
    scrollable-region-focusable); whether it scrolls depends on the data, so the rule is
    checked in the source rather than left to the day's demo data."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("components", "pages")
        for path in sorted((root / folder).glob("*.py"))
        if path.name != "landmarks.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if '"table-responsive' in line or "responsive=True" in line
    ]
    assert not offenders, offenders
