"""The analytics charts are figure dicts (no go.Figure on the request path): each one, with data
and without, is a figure plotly accepts, carries no template and says so when it is empty."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
import pytest

from components import analytics as a
from data.charging.analytics import (
    ChargerRevenue,
    ChargerUtilisation,
    ConnectorEnergy,
    DayEnergy,
    energy_per_month,
)

DAYS = [
    DayEnergy(date(2026, 3, 1) + timedelta(days=n), n % 3, Decimal(n % 3) * 7, Decimal(n % 3) * 3)
    for n in range(40)
]
NO_DAYS = [DayEnergy(d.day, 0, Decimal(0), Decimal(0)) for d in DAYS]
GRID = [[(w * 24 + h) % 5 for h in range(24)] for w in range(7)]
TOP = [
    ChargerUtilisation(f"ch-{n}", f"Bay {n}", "CCS", 10.0 - n, 100.0, (10.0 - n) / 100)
    for n in range(3)
]
EARNERS = [
    ChargerRevenue("ch-1", "Bay 1", "CCS", Decimal("1234.50")),
    ChargerRevenue("ch-2", "Bay 2", "Type 2", Decimal("99.95")),
]
CONNECTORS = [
    ConnectorEnergy("CCS", 4, Decimal("40.5"), 0.75, Decimal("18.20"), 0.8),
    ConnectorEnergy("Type 2", 2, Decimal("13.5"), 0.25, Decimal("4.55"), 0.2),
    ConnectorEnergy("CHAdeMO", 0, Decimal(0), 0.0, Decimal(0), 0.0),
]

CASES: list[tuple[str, Callable[[], dict[str, Any]], Callable[[], dict[str, Any]], str]] = [
    ("bar", lambda: a.daily_energy_figure(DAYS), lambda: a.daily_energy_figure(NO_DAYS), "No"),
    (
        "bar",
        lambda: a.monthly_energy_figure(energy_per_month(DAYS)),
        lambda: a.monthly_energy_figure(energy_per_month(NO_DAYS)),
        "No",
    ),
    (
        "heatmap",
        lambda: a.hour_of_week_figure(GRID),
        lambda: a.hour_of_week_figure([[0] * 24] * 7),
        "No",
    ),
    ("bar", lambda: a.utilisation_figure(TOP), lambda: a.utilisation_figure([]), "No charger"),
    (
        "pie",
        lambda: a.connector_figure(CONNECTORS),
        lambda: a.connector_figure([ConnectorEnergy("CCS", 0, Decimal(0), 0.0, Decimal(0), 0.0)]),
        "No energy",
    ),
    (
        "bar",
        lambda: a.daily_revenue_figure(DAYS, "EUR"),
        lambda: a.daily_revenue_figure(NO_DAYS, "EUR"),
        "No revenue",
    ),
    (
        "bar",
        lambda: a.monthly_revenue_figure(energy_per_month(DAYS), "JPY"),
        lambda: a.monthly_revenue_figure(energy_per_month(NO_DAYS), "JPY"),
        "No revenue",
    ),
    (
        "bar",
        lambda: a.revenue_connector_figure(CONNECTORS, "EUR"),
        lambda: a.revenue_connector_figure(
            [ConnectorEnergy("CCS", 0, Decimal(0), 0.0, Decimal(0), 0.0)], "EUR"
        ),
        "No revenue",
    ),
    (
        "bar",
        lambda: a.revenue_chargers_figure(EARNERS, "EUR"),
        lambda: a.revenue_chargers_figure([], "EUR"),
        "No charger",
    ),
]


@pytest.mark.parametrize(("trace", "full", "empty", "note"), CASES)
def test_figures_are_valid_plotly_dicts_without_a_template(
    trace: str,
    full: Callable[[], dict[str, Any]],
    empty: Callable[[], dict[str, Any]],
    note: str,
) -> None:
    for spec in (full(), empty()):
        assert isinstance(spec, dict)
        assert "template" not in spec["layout"]
        figure = go.Figure(spec)  # raises on any key plotly does not know
        assert [t.type for t in figure.data] == [trace]
    notes = [x.get("text", "") for x in empty()["layout"].get("annotations", [])]
    assert any(text.startswith(note) for text in notes), notes
    full_notes = [x.get("text", "") for x in full()["layout"].get("annotations", [])]
    assert not any(text.startswith("No ") for text in full_notes)


def test_daily_figure_has_one_bar_per_day_with_its_energy_and_sessions() -> None:
    bar = a.daily_energy_figure(DAYS)["data"][0]
    assert bar["x"] == [d.day.isoformat() for d in DAYS]
    assert bar["y"] == [float(d.energy_kwh) for d in DAYS]
    assert bar["customdata"] == [d.sessions for d in DAYS]


def test_connector_ring_leaves_out_types_without_energy() -> None:
    pie = a.connector_figure(CONNECTORS)["data"][0]
    assert pie["labels"] == ["CCS", "Type 2"]
    assert pie["values"] == [40.5, 13.5]


def test_revenue_figures_write_every_amount_with_format_money() -> None:
    """Heights are numbers; every amount a person reads (hover, labels) is ``format_money``."""
    daily = a.daily_revenue_figure(DAYS, "EUR")["data"][0]
    assert daily["y"] == [float(d.revenue) for d in DAYS]
    assert daily["customdata"][:3] == ["€0.00", "€3.00", "€6.00"]
    monthly = a.monthly_revenue_figure(energy_per_month(DAYS), "JPY")["data"][0]
    assert [c[0] for c in monthly["customdata"]] == ["¥90", "¥27"]  # March, 9 days of April
    kinds = a.revenue_connector_figure(CONNECTORS, "EUR")["layout"]["annotations"]
    # Names above the bars (axis x), amounts in a column at the right (paper x).
    assert [n["text"] for n in kinds if n["xref"] == "x"] == ["CCS", "Type 2", "CHAdeMO"]
    beside = [n["text"] for n in kinds if n["xref"] == "paper"]
    assert beside == ["€18.20 · 80.0%", "€4.55 · 20.0%", "€0.00 · 0.0%"]
    top = a.revenue_chargers_figure(EARNERS, "EUR")
    notes = top["layout"]["annotations"]
    assert [n["text"] for n in notes if n["xref"] == "x"] == ["Bay 1 · CCS", "Bay 2 · Type 2"]
    assert [n["text"] for n in notes if n["xref"] == "paper"] == ["€1,234.50", "€99.95"]
    # The column is wide enough for the longest amount, whatever the screen's width.
    assert top["layout"]["margin"]["r"] >= 7 * len("€1,234.50")
