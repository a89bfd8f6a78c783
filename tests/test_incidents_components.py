"""Report a problem's pieces: the dialog's form is labelled (a legend for the choice, a label
for the text, a live region for the outcome); the confirmation names the reference and the
charger; every card carries the button's settings; the charger page's list shows each
incident's status and only the moves left, each button naming its incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dash import html

from components import charger as ch
from components import dashboard as d
from data.chargers.incidents import (
    KIND_LABELS,
    IncidentKind,
    IncidentRow,
    IncidentStatus,
    ProblemReport,
)
from data.chargers.status import ChargerStatus
from data.charging.dashboard import ChargerList, ChargerRow

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def text(component: Any) -> str:
    return json.dumps(
        component.to_plotly_json(), default=lambda o: o.to_plotly_json(), ensure_ascii=False
    )


def walk(component: Any) -> list[Any]:
    found = [component]
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if hasattr(child, "to_plotly_json"):
            found.extend(walk(child))
    return found


def test_the_dialog_is_a_labelled_form_with_a_live_outcome() -> None:
    modal = d.report_modal()
    parts = walk(modal)
    legends = [p for p in parts if isinstance(p, html.Legend)]
    assert [p.children for p in legends] == ["What is wrong?"]
    radios = next(p for p in parts if getattr(p, "id", None) == d.REPORT_KIND_ID)
    assert [o["label"] for o in radios.options] == ["Cable damaged", "Won’t start", "Other"]
    label = next(p for p in parts if getattr(p, "html_for", None) == d.REPORT_TEXT_ID)
    assert "required for Other" in label.children
    area = next(p for p in parts if getattr(p, "id", None) == d.REPORT_TEXT_ID)
    assert area.maxLength == 500
    outcome = next(p for p in parts if getattr(p, "id", None) == d.REPORT_OUTCOME_ID)
    assert outcome.role == "status"
    assert modal.labelledby == d.REPORT_TITLE_ID


def test_the_skeleton_holds_the_dialog_and_its_store() -> None:
    shown = text(d.dashboard_skeleton("current"))
    assert d.REPORT_MODAL_ID in shown and d.REPORT_CHARGER_STORE in shown


def test_the_confirmation_names_the_reference_and_the_charger() -> None:
    fresh = text(d.report_received(ProblemReport(7, "PX-010", "Marktplatz 1", duplicate=False)))
    assert "Thanks — report I-0007 received; our team will look at Marktplatz 1 (PX-010)." in fresh
    again = text(d.report_received(ProblemReport(7, "PX-010", "Marktplatz 1", duplicate=True)))
    assert "Already received: report I-0007" in again and "Thanks" not in again
    assert d.report_title("Marktplatz 1") == "Report a problem with Marktplatz 1"
    assert d.report_title() == "Report a problem"


def test_every_card_can_report() -> None:
    row = ChargerRow("PX-1", "Bay 1", "CCS", 50.0, ChargerStatus.offline)
    data = d.charger_grid_data(ChargerList([row], 1, 0))
    assert data["report"] == {"type": d.REPORT_TYPE, "label": d.REPORT_LABEL}
    assert d.report_id("PX-1") == {"type": "report-problem", "charger": "PX-1"}


def incident(status: IncidentStatus, ident: int = 3, words: str | None = None) -> IncidentRow:
    at = NOW - timedelta(hours=2)
    return IncidentRow(
        ident, "PX-1", "ACC-DANA", IncidentKind.cable_damaged, words, at, status,
        at if status is not IncidentStatus.open else None,
        "olga@example.com" if status is not IncidentStatus.open else None,
        at if status is IncidentStatus.resolved else None,
        "olga@example.com" if status is IncidentStatus.resolved else None,
    )  # fmt: skip


def buttons(component: Any) -> list[tuple[str, str]]:
    return [
        (b.children, b.id["to"])
        for b in walk(component)
        if isinstance(b, html.Button) and isinstance(b.id, dict)
    ]


def test_the_charger_page_lists_status_and_the_moves_left() -> None:
    table = ch.incidents_table(
        [
            incident(IncidentStatus.open, 1, "sleeve split"),
            incident(IncidentStatus.acknowledged, 2),
            incident(IncidentStatus.resolved, 3),
        ],
        BERLIN,
        NOW,
    )
    shown = text(table)
    for words in ("I-0001", "I-0002", "I-0003", "Open", "Acknowledged", "Resolved",
                  KIND_LABELS[IncidentKind.cable_damaged], "sleeve split", "ACC-DANA",
                  "by olga@example.com"):  # fmt: skip
        assert words in shown, words
    assert buttons(table) == [
        ("Acknowledge", "acknowledged"),
        ("Resolve", "resolved"),
        ("Resolve", "resolved"),
    ]
    labels = [b.to_plotly_json()["props"]["aria-label"] for b in walk(table)
              if isinstance(b, html.Button)]  # fmt: skip
    assert labels == ["Acknowledge I-0001", "Resolve I-0001", "Resolve I-0002"]


def test_no_incidents_says_so() -> None:
    assert "No problems reported" in text(ch.incidents_table([], BERLIN, NOW))
