"""The dashboard's pieces for issue 18: each card says whether it is a favourite (its star),
the charger section has the search box and the one-tap toggle of the full list, the sections
come in the order a phone shows them, and the navigation has the dark mode toggle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dash.development.base_component import Component

from components import dashboard as c
from components.shell import THEME_TOGGLE_ID, THEME_TOGGLE_LABEL, navbar
from data.chargers.status import ChargerStatus
from data.charging.dashboard import ChargerList, ChargerRow


def walk(node: Any) -> Iterator[Any]:
    if isinstance(node, list | tuple):
        for child in node:
            yield from walk(child)
    elif isinstance(node, Component):
        yield node
        yield from walk(getattr(node, "children", None))


def by_id(node: Any, ident: str) -> Component:
    (found,) = [x for x in walk(node) if getattr(x, "id", None) == ident]
    return found


def row(n: int) -> ChargerRow:
    return ChargerRow(f"ch-{n}", f"Charger {n}", "CCS", 50.0, ChargerStatus.online)


def test_each_card_says_whether_it_is_a_favourite() -> None:
    grid = c.charger_grid_data(ChargerList([row(2), row(1)], 2, 2), favourites=["ch-2"])
    assert [(card["id"], card["favourite"]) for card in grid["cards"]] == [
        ("ch-2", True),
        ("ch-1", False),
    ]
    assert grid["favourite"] == {"type": c.FAVOURITE_TYPE, "label": c.FAVOURITE_LABEL}
    assert grid["item_type"] == c.CHARGER_ITEM_TYPE
    assert grid["no_favourites"] == c.NO_FAVOURITES_TEXT
    assert c.charger_card_data(row(3))["favourite"] is False


def test_the_sections_come_in_the_phones_order() -> None:
    skeleton = c.dashboard_skeleton("current")
    sections = [x.id for x in walk(skeleton) if type(x).__name__ == "Section"]
    assert sections == ["reservation", "chargers", "recent-activity", "usage", "dashboard-help"]


def test_the_charger_section_has_a_labelled_search_and_the_full_list_one_tap_away() -> None:
    section = c.charger_section()
    search = by_id(section, c.CHARGER_SEARCH_ID)
    assert search.type == "search"
    labels = [x for x in walk(section) if getattr(x, "html_for", None) == c.CHARGER_SEARCH_ID]
    assert [label.children for label in labels] == [c.CHARGER_SEARCH_LABEL]
    toggle = by_id(section, c.CHARGER_TOGGLE_ID).to_plotly_json()["props"]
    assert toggle["children"] == c.SHOW_ALL_TEXT
    assert (toggle["aria-expanded"], toggle["aria-controls"]) == ("false", c.CHARGER_LIST_ID)
    assert (toggle["data-all"], toggle["data-fewer"]) == (c.SHOW_ALL_TEXT, c.SHOW_FEWER_TEXT)
    assert by_id(section, c.CHARGER_NO_MATCH_ID).hidden is True
    by_id(section, c.AVAILABLE_COUNT_ID)  # the counts pill stays in the section
    by_id(section, c.CHARGER_GRID_ID)


def test_the_navigation_has_the_dark_mode_toggle() -> None:
    toggle = by_id(navbar(), THEME_TOGGLE_ID).to_plotly_json()["props"]
    assert toggle["aria-label"] == THEME_TOGGLE_LABEL
    assert toggle["aria-pressed"] in ("true", "false")
    assert toggle["type"] == "button"
