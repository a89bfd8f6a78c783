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
from data.charging.analytics import ChargerUtilisation, ConnectorEnergy, DayEnergy, energy_per_month

DAYS = [
    DayEnergy(date(2026, 3, 1) + timedelta(days=n), n % 3, Decimal(n % 3) * 7) for n in range(40)
]
NO_DAYS = [DayEnergy(d.day, 0, Decimal(0)) for d in DAYS]
GRID = [[(w * 24 + h) % 5 for h in range(24)] for w in range(7)]
TOP = [
    ChargerUtilisation(f"ch-{n}", f"Bay {n}", "CCS", 10.0 - n, 100.0, (10.0 - n) / 100)
    for n in range(3)
]
CONNECTORS = [
    ConnectorEnergy("CCS", 4, Decimal("40.5"), 0.75),
    ConnectorEnergy("Type 2", 2, Decimal("13.5"), 0.25),
    ConnectorEnergy("CHAdeMO", 0, Decimal(0), 0.0),
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
        lambda: a.connector_figure([ConnectorEnergy("CCS", 0, Decimal(0), 0.0)]),
        "No energy",
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
