"""Names reach the charts as text, never as markup.

plotly.js renders a subset of HTML (``<a href>``, ``<b>``, ``<span style>``...) in every text
it draws: annotations, hover text and what ``%{...}`` puts into a template, tick labels and
category values, pie labels, legends, titles. A charger imported as
``<a href="https://evil.example/">Click here</a>`` must show as those characters, not as a
link. Every figure builder in ``components/`` is listed here with inputs whose every string
field holds that name; a builder added later and not listed fails
``test_every_figure_builder_is_listed``.
"""

from __future__ import annotations

import dataclasses
import html
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import pytest

import components
from components import analytics, charger, charts, dashboard, uptime
from components.charts import plotly_text
from data.charging.analytics import (
    ChargerRevenue,
    ChargerUtilisation,
    ConnectorEnergy,
    DayEnergy,
    energy_per_month,
)
from data.core.periods import Period, period_bounds
from data.uptime.outage_log import OutageRow
from data.uptime.outages import OutageCause, OutageKind

HOSTILE = '<a href="https://evil.example/">Click here</a>'
SHOWN = plotly_text(HOSTILE)
# The only tags our own templates use; anything else in a figure's text came from data.
OUR_TAGS = {"<br>", "<extra>", "</extra>"}


def poisoned(value: Any) -> Any:
    """``value`` with every ``str`` field of its dataclasses (in lists too) set to HOSTILE."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: HOSTILE if isinstance(getattr(value, f.name), str) else None
            for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **{k: v for k, v in changes.items() if v is not None})
    if isinstance(value, list | tuple):
        return [poisoned(item) for item in value]
    return value


def _period() -> Period:
    return poisoned(
        period_bounds("current", datetime(2026, 3, 15, 12, tzinfo=UTC), ZoneInfo("Europe/Berlin"))
    )


def _days() -> list[DayEnergy]:
    return [
        DayEnergy(date(2026, 3, 1) + timedelta(days=n), n, Decimal(n), Decimal(n) / 2)
        for n in range(31)
    ]


def _usage_frame() -> pd.DataFrame:
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(31)]
    return pd.DataFrame({"day": days, "energy_kwh": [float(n % 4) for n in range(31)]})


def _charger_frame() -> pd.DataFrame:
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(31)]
    return pd.DataFrame(
        {
            "day": days,
            "energy_kwh": [float(n % 4) for n in range(31)],
            "utilisation": [n / 31 for n in range(31)],
            "in_use_hours": [n * 0.7 for n in range(31)],
            "hours": [24.0] * 31,
        }
    )


def _outages() -> list[OutageRow]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        OutageRow("o-1", "c-1", "Bay", start, start + timedelta(hours=2), OutageCause.other,
                  False, "note", OutageKind.manual),
        OutageRow("o-2", "c-1", "Bay", start + timedelta(days=3), None, OutageCause.utility,
                  True, "note", OutageKind.offline),
    ]  # fmt: skip
    # The causes and kinds are the app's own words; every other string is hostile.
    return [dataclasses.replace(poisoned(r), cause=r.cause, kind=r.kind) for r in rows]


# builder name -> (a figure made from hostile inputs, whether the figure shows a name)
BUILDERS: dict[str, tuple[Callable[[], Any], bool]] = {
    "components.analytics.placeholder_figure": (lambda: analytics.placeholder_figure(300), False),
    "components.analytics.daily_energy_figure": (
        lambda: analytics.daily_energy_figure(poisoned(_days())),
        False,
    ),
    "components.analytics.monthly_energy_figure": (
        lambda: analytics.monthly_energy_figure(poisoned(energy_per_month(_days()))),
        False,
    ),
    "components.analytics.hour_of_week_figure": (
        lambda: analytics.hour_of_week_figure([[w + h for h in range(24)] for w in range(7)]),
        False,
    ),
    "components.analytics.utilisation_figure": (
        lambda: analytics.utilisation_figure(
            poisoned([ChargerUtilisation("c-1", "Bay", "CCS", 5.0, 100.0, 0.05)] * 3)
        ),
        True,
    ),
    "components.analytics.connector_figure": (
        lambda: analytics.connector_figure(
            poisoned([ConnectorEnergy("CCS", 3, Decimal("12.5"), 1.0, Decimal("4.50"), 1.0)])
        ),
        True,
    ),
    "components.analytics.daily_revenue_figure": (
        lambda: analytics.daily_revenue_figure(poisoned(_days()), "EUR"),
        False,
    ),
    "components.analytics.monthly_revenue_figure": (
        lambda: analytics.monthly_revenue_figure(poisoned(energy_per_month(_days())), "EUR"),
        False,
    ),
    "components.analytics.revenue_connector_figure": (
        lambda: analytics.revenue_connector_figure(
            poisoned([ConnectorEnergy("CCS", 3, Decimal("12.5"), 1.0, Decimal("4.50"), 1.0)]),
            "EUR",
        ),
        True,
    ),
    "components.analytics.revenue_chargers_figure": (
        lambda: analytics.revenue_chargers_figure(
            poisoned([ChargerRevenue("c-1", "Bay", "CCS", Decimal("41.20"))] * 3), "EUR"
        ),
        True,
    ),
    "components.dashboard.daily_usage_figure": (
        lambda: dashboard.daily_usage_figure(_usage_frame(), _period()),
        False,
    ),
    "components.charts.empty_figure": (charts.empty_figure, False),
    "components.charger.utilisation_figure": (
        lambda: charger.utilisation_figure(_charger_frame(), _period()),
        False,
    ),
    "components.charger.energy_figure": (
        lambda: charger.energy_figure(_charger_frame(), _period()),
        False,
    ),
    "components.uptime.outage_timeline_figure": (
        lambda: uptime.outage_timeline_figure(
            _outages(),
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 3, 10, tzinfo=UTC),
            ZoneInfo("Europe/Berlin"),
        ),
        False,
    ),
}


def figure_builders() -> Iterator[str]:
    """Every function of a ``components`` module named ``*_figure`` or returning a plotly
    Figure (not ``html.Figure``, the ``<figure>`` element around a graph)."""
    for info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__:
                continue
            returns = str(inspect.signature(function).return_annotation)
            if name.endswith("_figure") or re.search(r"(?<!html\.)\bFigure\b", returns):
                yield f"{module.__name__}.{name}"


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value: keys and values, however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def figure_json(figure: Any) -> dict[str, Any]:
    """The JSON plotly.js receives (a dict spec is validated as a Figure first)."""
    return (figure if isinstance(figure, go.Figure) else go.Figure(figure)).to_plotly_json()


def test_every_figure_builder_is_listed() -> None:
    found = set(figure_builders())
    assert "components.analytics.utilisation_figure" in found  # the discovery works
    assert found == set(BUILDERS), f"add new figure builders to BUILDERS: {found ^ set(BUILDERS)}"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_names_in_a_figure_are_text_not_markup(name: str) -> None:
    build, shows_a_name = BUILDERS[name]
    texts = list(strings(figure_json(build())))
    for text in texts:
        assert "<a" not in text.lower(), (name, text)
        tags = set(re.findall(r"<[^<>]*>", text))
        assert tags <= OUR_TAGS, (name, text)
    if shows_a_name:
        # The name still reads as itself: plotly.js decodes the entities when it draws.
        assert any(SHOWN in text for text in texts), name
        assert any(HOSTILE in html.unescape(text) for text in texts), name


def test_the_utilisation_chart_shows_the_escaped_name_in_its_annotation_and_hover() -> None:
    row = ChargerUtilisation("c-1", "Bay <b>1</b> & Co", "CCS", 5.0, 100.0, 0.05)
    spec = analytics.utilisation_figure([row])
    assert spec["layout"]["annotations"][0]["text"] == "Bay &lt;b&gt;1&lt;/b&gt; &amp; Co · CCS"
    assert spec["data"][0]["customdata"][0][:2] == ["Bay &lt;b&gt;1&lt;/b&gt; &amp; Co", "CCS"]


def test_plotly_text() -> None:
    assert plotly_text("Depot & Bay <2>") == "Depot &amp; Bay &lt;2&gt;"
    assert plotly_text("&lt;") == "&amp;lt;"  # an entity typed as text stays text
    assert plotly_text('Marktplatz "1" · Süd') == 'Marktplatz "1" · Süd'
