"""A chart as the pages show it (graph and caption in a figure element), the empty figure, and
the styling every figure shares (layout, day and kWh axes, the note on an empty chart)."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

GRAPH_CONFIG: dcc.Graph.Config = {"displayModeBar": False, "responsive": True}
GRID_COLOUR = "#e9ecef"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def plotly_text(text: str) -> str:
    """``text`` as plotly.js shows it literally. Plotly renders a subset of HTML (``<a href>``,
    ``<b>``, ``<span style>``, ``<br>``...) in every text it draws: titles, tick labels,
    category values, legends, annotations, hover text and what ``%{...}`` substitutes into a
    template; and it decodes entities. So every name a person typed or imported goes through
    here before it reaches a figure: ``&``, ``<`` and ``>`` become entities, shown as the
    characters themselves, never as a link or markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def captioned_chart(
    graph_id: str, figure: Any, height_px: int, caption: str, class_name: str = "mb-0"
) -> html.Figure:
    """``<figure>`` with the graph (no mode bar, fixed height) and a ``<figcaption>`` that says
    what the chart counts, so a screen reader hears it with the chart."""
    return html.Figure(
        [
            dcc.Graph(
                id=graph_id,
                figure=figure,
                config=GRAPH_CONFIG,
                style={"height": f"{height_px}px"},
            ),
            html.Figcaption(caption, className="small text-body-secondary mt-1"),
        ],
        className=class_name,
    )


def empty_figure() -> dict[str, Any]:
    """What the chart holds before the first render: no axes, no data."""
    return {
        "data": [],
        "layout": {
            "height": 260,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
        },
    }


def chart_layout(height: int, margin: dict[str, int], **extra: Any) -> dict[str, Any]:
    """A figure's layout in our styling: transparent, the page's font, no legend; ``extra`` adds
    keys (axes, annotations, bargap...). No template: plotly's default one adds 7 KB to every
    figure."""
    return {
        "height": height,
        "margin": margin,
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": _FONT},
        "hoverlabel": {"bgcolor": "white"},
        **extra,
    }


def empty_note(text: str) -> list[dict[str, Any]]:
    """The annotations of a chart with nothing to show: ``text``, muted, in its middle."""
    return [
        {
            "text": text,
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.5,
            "showarrow": False,
            "font": {"color": "#6c757d"},
        }
    ]


def day_axis(long: bool) -> dict[str, Any]:
    """An x axis of local days; a ``long`` one (a year's worth) is labelled by month."""
    return {
        "type": "date",
        "tickformat": "%b" if long else "%-d %b",
        "showgrid": False,
        "linecolor": "#adb5bd",
        "fixedrange": True,
    }


def month_axis() -> dict[str, Any]:
    """An x axis of calendar months, one category each, labelled "Jan".."Dec" (with the year
    when the months span two): level, small labels, so twelve fit a phone without turning."""
    return {
        "type": "category",
        "tickangle": 0,
        "tickfont": {"size": 10},
        "showgrid": False,
        "linecolor": "#adb5bd",
        "fixedrange": True,
    }


def value_axis(title: str) -> dict[str, Any]:
    """A y axis of amounts from zero (kWh, a share), gridded, titled ``title``."""
    return {
        "title": {"text": title},
        "rangemode": "tozero",
        "gridcolor": GRID_COLOUR,
        "zeroline": False,
        "fixedrange": True,
    }
