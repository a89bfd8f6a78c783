"""The driver's Start and Stop pieces (components/dashboard.py, components/shell.py): the Start
button is offered only on Online cards, with a choice of connector when the charger reported
several, the banner has a confirmed Stop, and the waiting and refusal texts are the product's
words. The buttons themselves are drawn by assets/dashboard.js
from this data: tests/test_browser_driver_commands.py presses them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dash import dcc, html

from components import dashboard as c
from components import shell
from data.chargers.status import ChargerStatus
from data.charging.dashboard import ChargerList, ChargerRow, ConnectorReport


def walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            yield from walk(child)


def row(status: ChargerStatus) -> ChargerRow:
    return ChargerRow(f"ch-{status.name}", "Plaza", "CCS", 50.0, status)


@pytest.mark.parametrize("status", list(ChargerStatus))
def test_start_is_offered_only_on_an_online_card(status: ChargerStatus) -> None:
    card = c.charger_card_data(row(status))
    assert card["startable"] is (status is ChargerStatus.online)


def test_the_grid_names_the_start_buttons_and_notes() -> None:
    grid = c.charger_grid_data(ChargerList([row(ChargerStatus.online)], visible=1, available=1))
    assert grid["start"] == {
        "type": c.START_TYPE,
        "note_type": c.START_NOTE_TYPE,
        "label": "Start charging",
        "connector_type": c.CONNECTOR_TYPE,
        "connector_label": "Connector to charge on",
    }
    assert c.start_id("ch-1") == {"type": "start-charging", "charger": "ch-1"}
    assert c.start_note_id("ch-1") == {"type": "start-charging-note", "charger": "ch-1"}


def test_the_status_poll_says_which_cards_may_start_and_its_digest_follows() -> None:
    online = {"a": ChargerStatus.online, "b": ChargerStatus.in_use, "c": None}
    payload, digest = c.status_payload(online, 1)
    assert payload["startable"] == ["a"]
    # A charger going from Online to In use changes the digest: the poll repaints the button.
    _payload, other = c.status_payload({**online, "a": ChargerStatus.in_use}, 0)
    assert other != digest


def reports(*statuses: str) -> list[ConnectorReport]:
    return [ConnectorReport(n, status) for n, status in enumerate(statuses, start=1)]


@pytest.mark.parametrize("connectors", [[], reports("Available")])
def test_one_or_no_reported_connector_offers_no_choice(connectors: list[ConnectorReport]) -> None:
    assert c.connector_choice(connectors) is None
    assert c.charger_card_data(row(ChargerStatus.online), connectors)["connectors"] is None


def test_several_connectors_offer_a_choice_with_their_status() -> None:
    choice = c.connector_choice(reports("Available", "Preparing", "Faulted"))
    assert choice == {
        "options": [
            {"label": "Connector 1 · Available", "value": "1", "disabled": False},
            {"label": "Connector 2 · Preparing", "value": "2", "disabled": False},
            {"label": "Connector 3 · Faulted", "value": "3", "disabled": True},
        ],
        "value": "2",  # a car plugged in and waiting there
    }


@pytest.mark.parametrize(
    ("statuses", "first"),
    [
        (("Available", "Available"), "1"),
        (("Faulted", "Available"), "2"),  # never one out of order when another is not
        (("Unavailable", "Finishing", "Available"), "3"),
        (("Finishing", "Reserved"), "1"),
        (("Faulted", "Unavailable"), "1"),  # all down: the first (the server refuses it)
    ],
)
def test_the_connector_chosen_at_first(statuses: tuple[str, ...], first: str) -> None:
    choice = c.connector_choice(reports(*statuses))
    assert choice is not None and choice["value"] == first


def test_the_grid_gives_each_card_its_own_chargers_connectors() -> None:
    rows = [
        ChargerRow("ch-twin", "Twin", "CCS", 50.0, ChargerStatus.online),
        ChargerRow("ch-one", "One", "CCS", 50.0, ChargerStatus.online),
    ]
    connectors = {"ch-twin": reports("Available", "Available"), "ch-one": reports("Available")}
    grid = c.charger_grid_data(ChargerList(rows, visible=2, available=2), connectors)
    twin, one = grid["cards"]
    assert [o["label"] for o in twin["connectors"]["options"]] == [
        "Connector 1 · Available",
        "Connector 2 · Available",
    ]
    assert one["connectors"] is None
    assert (
        c.charger_grid_data(ChargerList(rows, visible=2, available=2))["cards"][0]["connectors"]
        is None
    )  # nothing reported


def test_the_status_poll_keeps_the_connectors_statuses_current() -> None:
    statuses = {"twin": ChargerStatus.online, "one": ChargerStatus.online}
    before, digest = c.status_payload(
        statuses, 2, {"twin": reports("Available", "Available"), "one": reports("Available")}
    )
    assert list(before["connectors"]) == ["twin"]  # only the cards with a choice
    assert before["connectors"]["twin"][1]["label"] == "Connector 2 · Available"
    after, other = c.status_payload(
        statuses, 2, {"twin": reports("Available", "Preparing"), "one": reports("Available")}
    )
    assert after["connectors"]["twin"][1]["label"] == "Connector 2 · Preparing"
    assert other != digest  # the poll sends it
    assert c.status_payload(statuses, 2)[0]["connectors"] == {}


def test_too_many_requests_says_when_to_try_again() -> None:
    assert c.too_many_requests_text(42) == "Too many requests — try again in 42 s"


def test_the_banner_has_a_confirmed_stop_and_a_live_note() -> None:
    banner = shell.active_session_banner()
    nodes = list(walk(banner))
    confirm = [n for n in nodes if isinstance(n, dcc.ConfirmDialogProvider)]
    assert len(confirm) == 1 and confirm[0].id == shell.STOP_CONFIRM_ID
    assert confirm[0].message == shell.STOP_CONFIRM_TEXT
    (button,) = [n for n in nodes if getattr(n, "id", None) == shell.STOP_BUTTON_ID]
    assert isinstance(button, html.Button) and button.children == "Stop charging"
    assert any(getattr(n, "id", None) == shell.STOP_NOTE_ID for n in nodes)


def test_the_frame_follows_a_command_only_while_one_is_open() -> None:
    frame = shell.frame(html.Div(), 15_000)
    nodes = list(walk(frame))
    (poll,) = [n for n in nodes if getattr(n, "id", None) == shell.COMMAND_POLL_ID]
    assert isinstance(poll, dcc.Interval) and poll.disabled is True
    assert any(getattr(n, "id", None) == shell.COMMAND_STORE_ID for n in nodes)


@pytest.mark.parametrize(
    ("kind", "state", "message", "shown"),
    [
        ("start", "waiting", "", "Waiting for the charger…"),
        ("stop", "waiting", "", "Stopping…"),
        ("start", "refused", "The charger refused to start.", "The charger refused to start."),
        ("stop", "refused", "The charger did not answer.", "The charger did not answer."),
        ("start", "done", "", ""),
    ],
)
def test_the_command_store_says_where_it_stands(
    kind: str, state: str, message: str, shown: str
) -> None:
    store = shell.driver_command(kind, state, message, command_id=7, charger_id="ch-1")
    assert store == {"id": 7, "kind": kind, "charger": "ch-1", "state": state, "message": shown}
