"""The pieces of ``/admin/ocpp``: chargers' OCPP facts, their passwords, id tags, and the
reservations sent to chargers with the answers. No database access: callbacks pass rows in.

Every state carries words, not colour alone; problems (Faulted/Unavailable connectors, refused
reservations) are red with a warning sign.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import action_row, admin_section
from components.charger import charger_href, heartbeat_text
from components.charger_status import status_class
from components.format import format_datetime, format_time
from components.landmarks import aria as _aria
from components.landmarks import data_attributes, loading_placeholder, scroll_box
from data.ocpp.admin import (
    ID_TAG_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    PROBLEM_ANSWERS,
    ConnectorRow,
    IdTagList,
    IdTagRow,
    OcppChargerList,
    SentReservationRow,
)

SEARCH_ID = "admin-ocpp-search"
CHARGERS_ID = "admin-ocpp-chargers"
CHARGERS_TOTAL_ID = "admin-ocpp-chargers-total"
LOGIN_CHARGER_ID = "admin-ocpp-password-charger"
LOGIN_INPUT_ID = "admin-ocpp-password"
LOGIN_SET_ID = "admin-ocpp-password-set"
LOGIN_CLEAR_ID = "admin-ocpp-password-clear"
LOGIN_FEEDBACK_ID = "admin-ocpp-password-feedback"
LOGIN_STORE = "admin-ocpp-password-saved"
TAG_INPUT_ID = "admin-ocpp-tag"
TAG_ACCOUNT_ID = "admin-ocpp-tag-account"
TAG_ASSIGN_ID = "admin-ocpp-tag-assign"
TAG_FEEDBACK_ID = "admin-ocpp-tag-feedback"
TAG_SEARCH_ID = "admin-ocpp-tag-search"
TAGS_ID = "admin-ocpp-tags"
TAG_REMOVE_TYPE = "admin-ocpp-tag-remove"
TAG_STORE = "admin-ocpp-tags-changed"
RESERVATIONS_ID = "admin-ocpp-reservations"

WARNING = "\u26a0\ufe0e"
_ANSWER_TEXT = {
    "sending": "Sent, waiting for the answer",
    "cancel_sent": "Cancel sent",
    "cancelled": "Cancelled",
    "no answer": "No answer",
    "error": "Error (not supported?)",
    "no id tag": "Not sent: the account has no id tag",
}


def ocpp_href(charger_id: str | None = None) -> str:
    """``/admin/ocpp``, optionally opened on one charger (its search and password form)."""
    return "/admin/ocpp" + (f"?{urlencode({'charger': charger_id})}" if charger_id else "")


# --- chargers --------------------------------------------------------------------------------


def _badge(text: str, colour: str, problem: bool = False, title: str | None = None) -> html.Span:
    extra: dict[str, Any] = {"title": title} if title is not None else {}
    return html.Span(
        [html.Span(WARNING + " ", **_aria(hidden="true")), text] if problem else text,
        className=f"badge rounded-pill text-bg-{colour} me-1 mb-1 ocpp-badge",
        **extra,
    )


def connector_badge(c: ConnectorRow, tz: ZoneInfo, now: datetime) -> html.Span:
    """``Charger: Faulted · GroundFailure`` (connector 0) or ``1: Charging``."""
    where = "Charger" if c.connector_id == 0 else f"Connector {c.connector_id}"
    text = f"{where}: {c.status}"
    if c.error_code and c.error_code != "NoError":
        text += f" · {c.error_code}"
    colour = (
        "danger"
        if c.problem
        else {"Charging": "primary", "Available": "success"}.get(c.status, "light border")
    )
    title = " ".join(
        part for part in (f"reported {format_datetime(c.reported_at, tz, now)}", c.info) if part
    )
    return _badge(text, colour, c.problem, title)


def _password_badge(is_set: bool) -> html.Span:
    return _badge("set", "success") if is_set else _badge("not set", "light border")


def chargers_table(result: OcppChargerList, tz: ZoneInfo, now: datetime) -> Component:
    """One row per charger: name, status, last seen, each connector's report, password."""
    if not result.chargers:
        return html.P("No charger matches.", className="text-body-secondary mb-0")
    head = html.Thead(
        html.Tr(
            [
                html.Th(label, scope="col")
                for label in ("Charger", "Status", "Last seen", "Reported", "OCPP password")
            ]
        )
    )
    rows = [
        html.Tr(
            [
                html.Td(
                    [
                        dcc.Link(c.friendly_name, href=charger_href(c.charger_id)),
                        html.Div(c.charger_id, className="small text-body-secondary"),
                    ],
                    style={"minWidth": "10rem"},
                ),
                html.Td(
                    html.Span(c.status.value, className=status_class(c.status)),
                    className="text-nowrap",
                ),
                html.Td(
                    heartbeat_text(c.last_seen_at, now),
                    title=format_datetime(c.last_seen_at, tz, now) if c.last_seen_at else "",
                    className="text-nowrap",
                ),
                html.Td(
                    [connector_badge(k, tz, now) for k in c.connectors]
                    or html.Span("nothing yet", className="text-body-secondary"),
                    style={"minWidth": "12rem"},
                ),
                html.Td(_password_badge(c.password_set)),
            ],
            className="ocpp-charger-row",
            **data_attributes(charger=c.charger_id),
        )
        for c in result.chargers
    ]
    return scroll_box(
        html.Table(
            [head, html.Tbody(rows)], className="table table-sm align-middle mb-0 ocpp-chargers"
        ),
        "OCPP chargers",
    )


def chargers_total_text(shown: int, total: int) -> str:
    noun = "charger" if total == 1 else "chargers"
    if shown < total:
        return (
            f"{shown} of {total:,} {noun}: Out of order and Offline first, then by name. "
            "Search to find the others."
        )
    return f"{total:,} {noun}"


# --- id tags ---------------------------------------------------------------------------------


def tag_remove_id(id_tag: str) -> dict[str, str]:
    return {"type": TAG_REMOVE_TYPE, "tag": id_tag}


def tags_list(result: IdTagList, searched: bool) -> Component:
    """The tags with a Remove button each; how many match when not all are listed."""
    tags = result.tags
    if not tags:
        text = "No id tag matches." if searched else "No id tags yet: assign one above."
        return html.P(text, className="text-body-secondary mb-0")
    more = f"; the first {len(tags)} by tag: search to find others."
    note = html.P(
        f"{result.total:,} id tag{'s' * (result.total != 1)}"
        + (more if len(tags) < result.total else "."),
        className="small text-body-secondary mb-1",
    )
    return html.Div([note, _tag_items(tags)])


def _tag_items(tags: Sequence[IdTagRow]) -> dbc.ListGroup:
    return dbc.ListGroup(
        [
            dbc.ListGroupItem(
                action_row(
                    html.Div(t.id_tag, className="fw-semibold font-monospace"),
                    " · ".join(p for p in (t.account_id, t.email, t.label) if p),
                    html.Button(
                        "Remove",
                        id=tag_remove_id(t.id_tag),
                        n_clicks=0,
                        type="button",
                        className="btn btn-sm btn-outline-danger flex-shrink-0",
                        **_aria(label=f"Remove id tag {t.id_tag}"),
                    ),
                ),
                class_name="px-2",
            )
            for t in tags
        ],
        flush=True,
        className="ocpp-tags",
    )


# --- reservations sent -----------------------------------------------------------------------


def answer_badge(answer: str | None, problem: bool) -> Component:
    if answer is None:
        return html.Span("—", className="text-body-secondary")
    text = _ANSWER_TEXT.get(answer, answer)
    colour = (
        "danger"
        if problem
        else ("success" if answer in ("Accepted", "cancelled") else "light border")
    )
    return _badge(text, colour, problem)


def reservations_table(
    rows: Sequence[SentReservationRow], tz: ZoneInfo, now: datetime
) -> Component:
    if not rows:
        return html.P(
            "No reservation has been sent to a charger yet. The central system sends ReserveNow "
            "shortly before a confirmed reservation starts.",
            className="text-body-secondary mb-0",
        )
    problems = [r for r in rows if r.problem]
    summary = (
        html.P(
            [
                html.Span(WARNING + " ", **_aria(hidden="true")),
                f"{len(problems)} of these were refused or not answered by the charger.",
            ],
            className="text-danger small mb-2",
        )
        if problems
        else html.P("Every charger accepted.", className="text-success small mb-2")
    )
    head = html.Thead(
        html.Tr(
            [
                html.Th(label, scope="col")
                for label in ("Reservation", "Charger", "Window", "ReserveNow", "Cancel", "Sent")
            ]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(r.reservation_id, className="font-monospace"),
                            html.Div(
                                f"{r.account_id} · {r.reservation_status}",
                                className="small text-body-secondary",
                            ),
                        ]
                    ),
                    html.Td(dcc.Link(r.charger_name, href=charger_href(r.charger_id))),
                    html.Td(
                        f"{format_datetime(r.starts_at, tz, now)}–{format_time(r.ends_at, tz)}",
                        className="text-nowrap",
                    ),
                    html.Td(answer_badge(r.answer, r.answer in PROBLEM_ANSWERS)),
                    html.Td(answer_badge(r.cancel_answer, r.cancel_answer in PROBLEM_ANSWERS)),
                    html.Td(
                        format_datetime(r.sent_at, tz, now) if r.sent_at else "not yet",
                        className="text-nowrap small",
                    ),
                ],
                className="table-danger ocpp-problem" if r.problem else None,
            )
            for r in rows
        ]
    )
    return html.Div(
        [
            summary,
            scroll_box(
                html.Table([head, body], className="table table-sm align-middle mb-0"),
                "OCPP messages",
            ),
        ]
    )


# --- the page --------------------------------------------------------------------------------


def _labelled(label: str, control: dbc.Input, *after: Component, md: int) -> dbc.Col:
    """A column of the one-line forms: ``control`` under its label (``after`` it: a hint)."""
    return dbc.Col([dbc.Label(label, html_for=control.id), control, *after], md=md)


def ocpp_skeleton(charger_id: str = "") -> list[Component]:
    """Static: every figure is filled by a callback. ``charger_id`` (from ``?charger=``)
    pre-fills the search and the password form."""
    return [
        admin_section(
            "admin-ocpp-chargers-section",
            "Chargers over OCPP",
            [
                dbc.Label(
                    "Search chargers by name or id",
                    html_for=SEARCH_ID,
                    class_name="visually-hidden",
                ),
                dbc.Input(
                    id=SEARCH_ID,
                    type="search",
                    value=charger_id,
                    placeholder="Search by name or charger id",
                    debounce=True,
                    autocomplete="off",
                    maxLength=200,
                    class_name="mb-2",
                ),
                html.P("…", id=CHARGERS_TOTAL_ID, className="small text-body-secondary mb-2"),
                html.Div(loading_placeholder("Loading chargers"), id=CHARGERS_ID),
                html.P(
                    [
                        "Chargers connect to ",
                        html.Code("ws://HOST:PORT/ocpp/<charger id>"),
                        " (",
                        html.Code("flask ocpp-server"),
                        "). Reported: the latest "
                        "StatusNotification of each connector (Charger = connector 0).",
                    ],  # fmt: skip
                    className="small text-body-secondary mb-0 mt-2",
                ),
            ],
        ),
        admin_section(
            "admin-ocpp-password-section",
            "OCPP password",
            [
                html.P(
                    "With a password set, the charger must log in with HTTP Basic auth "
                    "(its id and this password; OCPP security profile 1). The password is "
                    "stored hashed and never shown again.",
                    className="small text-body-secondary",
                ),
                dbc.Row(
                    [
                        _labelled(
                            "Charger id",
                            dbc.Input(id=LOGIN_CHARGER_ID, value=charger_id, maxLength=64),
                            md=4,
                        ),
                        _labelled(
                            "New password",
                            dbc.Input(
                                id=LOGIN_INPUT_ID,
                                type="password",
                                autocomplete="new-password",
                                maxLength=PASSWORD_MAX_LENGTH,
                            ),
                            dbc.FormText(
                                f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} letters, "
                                "digits or punctuation."
                            ),
                            md=5,
                        ),
                        dbc.Col(
                            html.Div(
                                [
                                    dbc.Button("Set password", id=LOGIN_SET_ID, n_clicks=0),
                                    dbc.Button(
                                        "Clear",
                                        id=LOGIN_CLEAR_ID,
                                        n_clicks=0,
                                        color="secondary",
                                        outline=True,
                                    ),
                                ],
                                className="d-flex gap-2 mt-md-4 pt-md-2",
                            ),
                            md=3,
                        ),
                    ],
                    class_name="g-2",
                ),
                html.Div(id=LOGIN_FEEDBACK_ID, role="status"),
                dcc.Store(id=LOGIN_STORE, data=0),
            ],
        ),
        admin_section(
            "admin-ocpp-tags-section",
            "Id tags",
            [
                html.P(
                    "RFID cards and app tokens: a charger asks (Authorize, StartTransaction) "
                    "and the session is recorded for the tag's customer account.",
                    className="small text-body-secondary",
                ),
                dbc.Row(
                    [
                        _labelled(
                            "Id tag", dbc.Input(id=TAG_INPUT_ID, maxLength=ID_TAG_MAX_LENGTH), md=4
                        ),
                        _labelled(
                            "Customer account",
                            dbc.Input(
                                id=TAG_ACCOUNT_ID,
                                placeholder="Account id or the person's email",
                                maxLength=200,
                            ),
                            md=5,
                        ),
                        dbc.Col(
                            dbc.Button(
                                "Assign tag",
                                id=TAG_ASSIGN_ID,
                                n_clicks=0,
                                class_name="mt-md-4 pt-md-2",
                            ),
                            md=3,
                        ),
                    ],
                    class_name="g-2",
                ),
                html.Div(id=TAG_FEEDBACK_ID, role="status"),
                dbc.Label("Find an id tag", html_for=TAG_SEARCH_ID, class_name="visually-hidden"),
                dbc.Input(
                    id=TAG_SEARCH_ID,
                    type="search",
                    placeholder="Find a tag, account or email",
                    debounce=True,
                    autocomplete="off",
                    maxLength=200,
                    class_name="mt-3 mb-2",
                ),
                html.Div(loading_placeholder("Loading id tags"), id=TAGS_ID),
                dcc.Store(id=TAG_STORE, data=0),
            ],
        ),
        admin_section(
            "admin-ocpp-reservations-section",
            "Reservations sent to chargers",
            [html.Div(loading_placeholder("Loading reservations"), id=RESERVATIONS_ID)],
        ),
    ]


def ocpp_link(charger_id: str) -> html.P:
    """The charger page's way here: this charger's OCPP reports and password."""
    return html.P(
        dcc.Link(
            "OCPP: connection, status reports and password →",
            href=ocpp_href(charger_id),
            id="admin-charger-ocpp-link",
        ),
        className="small float-md-end mb-1",
    )
