"""Sessions whose energy a charger reported implausibly: the operator's list, to confirm or
correct (``/admin/sessions`` for all chargers, ``/admin/chargers/<id>`` for one).

Trees only, no database access; the callbacks are in pages/_energy.py. Every id starts with
``admin-``: the hardening layer answers 403 to anyone else before the callbacks run.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import admin_section
from components.format import format_datetime
from components.landmarks import scroll_box
from data.ocpp.admin import DisputedSessionRow, DisputedSessions

ENERGY_SECTION_ID = "admin-energy-section"
ENERGY_DISPUTES_ID = "admin-energy-disputes"
ENERGY_FEEDBACK_ID = "admin-energy-feedback"
ENERGY_STORE = "admin-energy-store"  # bumped after a confirm/correct: the list renders again
ENERGY_SCOPE_STORE = "admin-energy-scope"  # a charger id (its page) or "" (every charger)
ENERGY_CONFIRM_TYPE = "admin-energy-confirm"
ENERGY_CORRECT_TYPE = "admin-energy-correct"
ENERGY_VALUE_TYPE = "admin-energy-value"

EXPLANATION = (
    "The charger reported more energy than its power rating can deliver in the session's time "
    "(or a meter reading that went backwards). The session keeps its last plausible figure and "
    "counts in no usage figure, chart or export until you confirm what the charger reported or "
    "enter the right figure."
)


def energy_disputes_skeleton(charger_id: str = "") -> html.Section:
    """The section before its first answer (hidden until it knows there is a dispute);
    ``charger_id`` narrows it to one charger."""
    return admin_section(
        ENERGY_SECTION_ID,
        "Disputed energy",
        [
            dcc.Store(id=ENERGY_STORE, data=0),
            dcc.Store(id=ENERGY_SCOPE_STORE, data=charger_id),
            html.Div(
                html.P("Loading…", className="text-body-secondary small mb-0"),
                id=ENERGY_DISPUTES_ID,
            ),
            html.Div(id=ENERGY_FEEDBACK_ID, role="status"),
        ],
        hidden=True,
    )


def _kwh(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.3f} kWh"


def _row(row: DisputedSessionRow, tz: ZoneInfo, now: datetime, show_charger: bool) -> html.Tr:
    sid = row.session_id
    cells: list[Component] = [html.Td(html.Code(sid, className="text-break"))]
    if show_charger:
        cells.append(
            html.Td(
                dcc.Link(row.charger_name, href=f"/admin/chargers/{row.charger_id}"),
                title=row.charger_id,
            )
        )
    ended = "in progress" if row.ended_at is None else format_datetime(row.ended_at, tz, now)
    cells += [
        html.Td(row.account_id),
        html.Td([format_datetime(row.started_at, tz, now), html.Br(), html.Small(ended)]),
        html.Td(_kwh(row.energy_kwh), className="text-end text-nowrap"),
        html.Td(
            html.Strong(_kwh(row.reported_kwh), className="text-danger"),
            className="text-end text-nowrap",
        ),
        html.Td(format_datetime(row.disputed_at, tz, now), className="text-nowrap"),
        html.Td(
            html.Div(
                [
                    dbc.Button(
                        "Confirm reported",
                        id={"type": ENERGY_CONFIRM_TYPE, "session": sid},
                        color="outline-danger",
                        size="sm",
                        disabled=row.reported_kwh is None,
                        title="Count the session with the energy the charger reported",
                    ),
                    dbc.InputGroup(
                        [
                            # An implicit label: dbc.Input takes no aria-label.
                            html.Label(
                                [
                                    html.Span(
                                        f"Energy of {sid} in kWh", className="visually-hidden"
                                    ),
                                    dbc.Input(
                                        id={"type": ENERGY_VALUE_TYPE, "session": sid},
                                        type="text",
                                        inputMode="decimal",
                                        placeholder="kWh",
                                        maxLength=20,
                                        size="sm",
                                        # A fixed width: squeezed by a phone's table, the
                                        # field shrank to 18 px (axe target-size).
                                        style={"width": "6.5rem"},
                                        class_name="rounded-end-0",
                                    ),
                                ],
                                className="mb-0",
                            ),
                            dbc.Button(
                                "Correct",
                                id={"type": ENERGY_CORRECT_TYPE, "session": sid},
                                color="primary",
                                size="sm",
                            ),
                        ],
                        size="sm",
                        class_name="flex-nowrap w-auto",
                    ),
                ],
                className="d-flex flex-wrap gap-2 align-items-center",
            )
        ),
    ]
    return html.Tr(cells)


def energy_disputes_body(
    disputes: DisputedSessions, tz: ZoneInfo, now: datetime, *, show_charger: bool = True
) -> Component:
    """The disputed sessions (latest flagged first) with Confirm / Correct for each."""
    if not disputes.sessions:
        return html.P("No session has disputed energy.", className="text-body-secondary small mb-0")
    heads = ["Session", *(["Charger"] if show_charger else []), "Account", "Started · ended"]
    heads += ["Counted now", "Reported", "Flagged", "Resolve"]
    more = (
        [
            html.P(
                f"Showing the latest {len(disputes.sessions)} of {disputes.total:,}.",
                className="small text-body-secondary mb-0",
            )
        ]
        if disputes.total > len(disputes.sessions)
        else []
    )
    noun = "session has" if disputes.total == 1 else "sessions have"
    return html.Div(
        [
            dbc.Alert(
                [html.Strong(f"{disputes.total:,} {noun} disputed energy. "), EXPLANATION],
                color="warning",
                class_name="py-2 small",
            ),
            scroll_box(
                dbc.Table(
                    [
                        html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])),
                        html.Tbody([_row(r, tz, now, show_charger) for r in disputes.sessions]),
                    ],
                    size="sm",
                    class_name="mb-1 align-middle energy-disputes-table",
                ),
                "Sessions with disputed energy",
            ),
            *more,
        ]
    )
