"""Commands to chargers for operators: the form on a charger's page, a command's state in
words, and the command log (one charger's, or the fleet's on ``/admin/ocpp``). No database
access: callbacks pass rows in.

Every id starts with ``admin-`` so the central gate refuses customers for any callback writing
to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import admin_section, confirm_modal
from components.charger import charger_href
from components.format import format_datetime
from components.history import export_link
from components.landmarks import aria as _aria
from components.landmarks import data_attributes, loading_placeholder, scroll_box
from data.core.models import CommandStatus
from data.ocpp.command_log import CommandLogFilter, CommandLogRow, InProgress
from data.ocpp.commands import ACTIONS, ASKABLE_ACTIONS, RESERVATION_ACTIONS, CommandRow

ACTION_ID = "admin-commands-action"
CONNECTOR_ID = "admin-commands-connector"
RESET_TYPE_ID = "admin-commands-reset-type"
AVAILABILITY_ID = "admin-commands-availability"
ACCOUNT_ID = "admin-commands-account"
SESSION_ID = "admin-commands-session"
NO_SESSION = "No session in progress on this charger"
MESSAGE_ID = "admin-commands-message"
KEYS_ID = "admin-commands-keys"
KEY_ID = "admin-commands-key"
VALUE_ID = "admin-commands-value"
SEND_ID = "admin-commands-send"
FEEDBACK_ID = "admin-commands-feedback"
STATE_ID = "admin-commands-state"
COMMAND_STORE = "admin-commands-sent"
# Pattern-matched (ALL): the poll exists only while a command is open, and an Input of ALL
# may match nothing, where a plain id that is not on the page is an error in the browser.
POLL_TYPE = "admin-commands-poll"
POLL_BOX_ID = "admin-commands-poll-box"
CONFIRM_MODAL_ID = "admin-commands-confirm"
CONFIRM_BODY_ID = "admin-commands-confirm-body"
CONFIRM_KEEP_ID = "admin-commands-confirm-keep"
CONFIRM_SEND_ID = "admin-commands-confirm-send"
LOG_ID = "admin-commands-log"
# Which fields each action uses (the rest are hidden): a group id per field.
FIELD_GROUPS = {
    "connector": "admin-commands-connector-group",
    "reset": "admin-commands-reset-group",
    "availability": "admin-commands-availability-group",
    "account": "admin-commands-account-group",
    "session": "admin-commands-session-group",
    "message": "admin-commands-message-group",
    "keys": "admin-commands-keys-group",
    "key": "admin-commands-key-group",
    "value": "admin-commands-value-group",
}
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "Reset": ("reset",),
    "UnlockConnector": ("connector",),
    "ChangeAvailability": ("availability", "connector"),
    "RemoteStartTransaction": ("account", "connector"),
    "RemoteStopTransaction": ("session",),
    "TriggerMessage": ("message", "connector"),
    "GetConfiguration": ("keys",),
    "ChangeConfiguration": ("key", "value"),
    "ClearCache": (),
}
ACTION_LABELS = {
    "Reset": "Reset",
    "UnlockConnector": "Unlock a connector",
    "ChangeAvailability": "Change availability",
    "RemoteStartTransaction": "Start charging for an account (RemoteStart)",
    "RemoteStopTransaction": "Stop the session in progress (RemoteStop)",
    "TriggerMessage": "Ask for a message (TriggerMessage)",
    "GetConfiguration": "Read configuration",
    "ChangeConfiguration": "Change a configuration key",
    "ClearCache": "Clear the authorization cache",
}
MESSAGES = ("StatusNotification", "Heartbeat", "MeterValues", "BootNotification")

# The fleet log on /admin/ocpp.
FLEET_CHARGER_ID = "admin-commands-filter-charger"
FLEET_ACTION_ID = "admin-commands-filter-action"
FLEET_STATUS_ID = "admin-commands-filter-status"
FLEET_FROM_ID = "admin-commands-filter-from"
FLEET_TO_ID = "admin-commands-filter-to"
FLEET_LOG_ID = "admin-commands-fleet-log"
FLEET_NOTE_ID = "admin-commands-fleet-note"
FLEET_EXPORT_ID = "admin-commands-export"
EXPORT_PATH = "/admin/ocpp/commands.csv"

STATUS_LABELS = {
    CommandStatus.pending: "Waiting for the charger",
    CommandStatus.sent: "Sent, waiting for the answer",
    CommandStatus.accepted: "Accepted",
    CommandStatus.rejected: "Rejected by the charger",
    CommandStatus.failed: "Failed: the charger answered with an error",
    CommandStatus.timeout: "The charger did not answer (timeout)",
    CommandStatus.offline: "The charger is not connected (offline)",
}
_STATUS_COLOURS = {
    CommandStatus.pending: "light border",
    CommandStatus.sent: "info",
    CommandStatus.accepted: "success",
}
_PROBLEM = "\u26a0\ufe0e"


# --- words -----------------------------------------------------------------------------------


def interrupts_driver(action: str, params: Mapping[str, Any]) -> bool:
    """Reset, Unlock, RemoteStop and ChangeAvailability to Inoperative may end a driver's
    charging: they are confirmed first."""
    if action == "ChangeAvailability":
        return params.get("type") == "Inoperative"
    return action in ("Reset", "UnlockConnector", "RemoteStopTransaction")


def answer_text(row: CommandRow) -> str:
    """The outcome in words: "Accepted", "Unlocked", "Rejected by the charger (NotSupported)",
    "The charger did not answer (timeout)", ..."""
    answered = (row.response or {}).get("status")
    if row.status == CommandStatus.accepted:
        if answered and answered != "Accepted":
            return {"RebootRequired": "Accepted: takes effect after a reboot"}.get(
                str(answered), str(answered)
            )
        return "Accepted"
    if row.status == CommandStatus.rejected:
        if answered and answered != "Rejected":
            return f"Rejected by the charger ({answered})"
        return "Rejected by the charger"
    if row.status == CommandStatus.failed:
        error = (row.response or {}).get("error")
        return STATUS_LABELS[row.status] + (f" ({error})" if error else "")
    return STATUS_LABELS[row.status]


def params_text(action: str, params: Mapping[str, Any]) -> str:
    """``type=Soft``, ``connector_id=1``; ``key=A,B``; nothing: "—"."""
    parts = []
    for name, value in sorted(params.items()):
        shown = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{name}={shown}")
    return " · ".join(parts) or "—"


def status_badge(row: CommandRow) -> html.Span:
    problem = row.status not in (CommandStatus.pending, CommandStatus.sent, CommandStatus.accepted)
    colour = "danger" if problem else _STATUS_COLOURS[row.status]
    text = answer_text(row)
    return html.Span(
        [html.Span(_PROBLEM + " ", **_aria(hidden="true")), text] if problem else text,
        className=f"badge rounded-pill text-bg-{colour} command-status text-wrap text-start",
        **data_attributes(status=row.status.value),
    )


def who_text(row: CommandLogRow) -> str:
    """The person and account who asked; Polaris itself for a reservation's command."""
    if row.command.action in RESERVATION_ACTIONS:
        reservation = f"reservation {row.reservation_id}" if row.reservation_id else "a reservation"
        return f"Polaris ({reservation})"
    parts = [p for p in (row.user_email, row.command.account_id) if p]
    return " · ".join(parts) or "command line"


def confirm_text(
    action: str, params: Mapping[str, Any], charger_id: str, in_progress: Sequence[InProgress]
) -> list[Component]:
    """The question before a command that may interrupt a driver; a session in progress is
    named first."""
    what = {
        "Reset": f"{params.get('type', '')} reset of {charger_id}: the charger restarts.",
        "UnlockConnector": f"Unlock connector {params.get('connector_id')} of {charger_id}: "
        "a cable plugged in there is released and its charging stops.",
        "ChangeAvailability": f"Make {_where(params)} of {charger_id} Inoperative: "
        "no one can start charging there until it is made Operative again.",
        "RemoteStopTransaction": f"Stop session {params.get('session_id')} on {charger_id}.",
    }.get(action, f"{action} to {charger_id}.")
    body: list[Component] = []
    if in_progress:
        sessions = ", ".join(f"{p.session_id} ({p.account_id})" for p in in_progress)
        body.append(
            html.P(
                [
                    html.Strong(
                        [
                            html.Span(_PROBLEM + " ", **_aria(hidden="true")),
                            "A session is in progress",
                        ]
                    ),
                    f" on this charger: {sessions}. This command may end it.",
                ],
                className="text-danger command-in-progress",
            )
        )
    body.append(html.P(what))
    return body


def _where(params: Mapping[str, Any]) -> str:
    connector = params.get("connector_id")
    return "the whole charger" if connector in (0, None) else f"connector {connector}"


# --- the form on a charger's page ---------------------------------------------------------------


def _group(field: str, children: Sequence[Component], hidden: bool = True) -> html.Div:
    return html.Div(children, id=FIELD_GROUPS[field], hidden=hidden, className="mb-2")


def _radio(radio_id: str, legend: str, options: Sequence[str]) -> html.Fieldset:
    return html.Fieldset(
        [
            html.Legend(legend, className="form-label fs-6 mb-1"),
            dbc.RadioItems(
                id=radio_id,
                options=[{"label": o, "value": o} for o in options],
                value=options[0],
                inline=True,
            ),
        ]
    )


def commands_form() -> list[Component]:
    """Action, the fields that action takes, Send; the confirmation dialog; the state of the
    last command sent (refreshed each second until it ends)."""
    return [
        html.P(
            "The OCPP server holding the charger sends the command; the answer shows below and "
            "in the log. Commands that may interrupt a driver ask first.",
            className="small text-body-secondary",
        ),
        dbc.Row(
            [
                dbc.Col(
                    [
                        dbc.Label("Command", html_for=ACTION_ID),
                        dbc.Select(
                            id=ACTION_ID,
                            options=[
                                {"label": ACTION_LABELS[a], "value": a} for a in ASKABLE_ACTIONS
                            ],
                            value="Reset",
                        ),
                    ],
                    md=5,
                ),
                dbc.Col(
                    [
                        _group("reset", [_radio(RESET_TYPE_ID, "Reset", ("Soft", "Hard"))], False),
                        _group(
                            "availability",
                            [_radio(AVAILABILITY_ID, "Make it", ("Operative", "Inoperative"))],
                        ),
                        _group(
                            "connector",
                            [
                                dbc.Label("Connector", html_for=CONNECTOR_ID),
                                dbc.Input(id=CONNECTOR_ID, type="number", min=0, step=1, value=1),
                                dbc.FormText(
                                    "1 for the first connector; 0 for the whole charger "
                                    "(availability only)."
                                ),
                            ],
                        ),
                        _group(
                            "account",
                            [
                                dbc.Label("Customer account", html_for=ACCOUNT_ID),
                                dcc.Dropdown(
                                    id=ACCOUNT_ID,
                                    options=[],
                                    placeholder="Search by account id, email or label",
                                    searchable=True,
                                    clearable=True,
                                ),
                                dbc.FormText("The charger is sent the account's id tag."),
                            ],
                        ),
                        _group(
                            "session",
                            [
                                dbc.Label("Session in progress", html_for=SESSION_ID),
                                dbc.Select(id=SESSION_ID, options=[], placeholder=NO_SESSION),
                            ],
                        ),
                        _group(
                            "message",
                            [
                                dbc.Label("Message", html_for=MESSAGE_ID),
                                dbc.Select(
                                    id=MESSAGE_ID,
                                    options=[{"label": m, "value": m} for m in MESSAGES],
                                    value=MESSAGES[0],
                                ),
                            ],
                        ),
                        _group(
                            "keys",
                            [
                                dbc.Label("Keys (optional)", html_for=KEYS_ID),
                                dbc.Input(id=KEYS_ID, maxLength=500, autocomplete="off"),
                                dbc.FormText("Comma-separated; empty for every key."),
                            ],
                        ),
                        _group(
                            "key",
                            [
                                dbc.Label("Key", html_for=KEY_ID),
                                dbc.Input(id=KEY_ID, maxLength=50, autocomplete="off"),
                            ],
                        ),
                        _group(
                            "value",
                            [
                                dbc.Label("Value", html_for=VALUE_ID),
                                dbc.Input(id=VALUE_ID, maxLength=500, autocomplete="off"),
                            ],
                        ),
                    ],
                    md=5,
                ),
                dbc.Col(
                    dbc.Button("Send", id=SEND_ID, n_clicks=0, class_name="mt-md-4 pt-md-2"),
                    md=2,
                ),
            ],
            class_name="g-2",
        ),
        html.Div(id=FEEDBACK_ID, role="status", **_aria(live="polite")),
        html.Div(id=STATE_ID, role="status", **_aria(live="polite"), className="mt-2"),
        dcc.Store(id=COMMAND_STORE, data=None),
        # The light refresh exists only while a command is open (``poll``): a disabled
        # dcc.Interval on the page kept the sessions grid's rows from showing.
        html.Div(id=POLL_BOX_ID),
        confirm_modal(
            CONFIRM_MODAL_ID,
            "Send this command?",
            CONFIRM_BODY_ID,
            CONFIRM_KEEP_ID,
            CONFIRM_SEND_ID,
            "Send it",
        ),
    ]


def poll() -> dcc.Interval:
    """Asks for the open command's state every second (removed once it has ended)."""
    return dcc.Interval(id={"type": POLL_TYPE, "command": "open"}, interval=1000)


def hidden_fields(action: object) -> list[bool]:
    """``hidden`` for each field group (``FIELD_GROUPS`` order) for ``action``."""
    used = ACTION_FIELDS.get(action if isinstance(action, str) else "", ())
    return [field not in used for field in FIELD_GROUPS]


def session_options(in_progress: Sequence[InProgress]) -> list[dict[str, Any]]:
    """The sessions RemoteStopTransaction may stop; none: the select shows ``NO_SESSION``."""
    stoppable = [p for p in in_progress if p.remote_stoppable]
    return [
        {
            "label": f"{p.session_id} · {p.account_id}"
            + (f" · connector {p.connector_id}" if p.connector_id else ""),
            "value": p.session_id,
        }
        for p in stoppable
    ]


def command_state(row: CommandRow, tz: ZoneInfo, now: datetime) -> Component:
    """The last command sent from this page: action, state in words, the configuration read."""
    lines: list[Component] = [
        html.Div(
            [
                html.Span(f"{row.action} ", className="fw-semibold"),
                html.Span(params_text(row.action, row.params), className="small me-2"),
                status_badge(row),
            ],
            className="d-flex flex-wrap align-items-center gap-1",
        ),
        html.Div(
            f"asked {format_datetime(row.requested_at, tz, now)}"
            + (
                f", answered {format_datetime(row.answered_at, tz, now)}" if row.answered_at else ""
            ),
            className="small text-body-secondary",
        ),
    ]
    if row.action == "GetConfiguration" and row.response:
        lines.append(configuration_table(row.response))
    return html.Div(lines, className="command-state", **data_attributes(command=str(row.id)))


def configuration_table(response: Mapping[str, Any]) -> Component:
    """GetConfiguration's answer: each key, its value and whether it is read-only; unknown keys."""
    known = response.get("configuration_key") or []
    unknown = response.get("unknown_key") or []
    rows = [
        html.Tr(
            [
                html.Td(html.Code(str(k.get("key", "")))),
                html.Td(str(k.get("value", "")), className="text-break"),
                html.Td("read-only" if k.get("readonly") else "", className="small"),
            ]
        )
        for k in known
        if isinstance(k, Mapping)
    ]
    parts: list[Component] = []
    if rows:
        parts.append(
            scroll_box(
                html.Table(
                    [
                        html.Thead(
                            html.Tr(
                                [html.Th(h, scope="col") for h in ("Key", "Value", "")],
                            )
                        ),
                        html.Tbody(rows),
                    ],
                    className="table table-sm mb-0 command-configuration",
                ),
                "Configuration keys",
                "mt-2",
            )
        )
    if unknown:
        parts.append(
            html.P(
                "Unknown to the charger: " + ", ".join(str(k) for k in unknown),
                className="small mb-0 mt-1",
            )
        )
    return html.Div(parts or html.P("The charger returned no keys.", className="small mt-1"))


# --- the log ----------------------------------------------------------------------------------


def command_log_table(
    rows: Sequence[CommandLogRow], tz: ZoneInfo, now: datetime, *, with_charger: bool
) -> Component:
    """Latest first: when, (charger,) who, action, parameters, status and answer, answered."""
    if not rows:
        return html.P("No commands yet.", className="text-body-secondary mb-0")
    heads = ["When", *(["Charger"] if with_charger else []), "Who", "Action", "Parameters"]
    heads += ["Status and answer", "Answered"]
    body = []
    for r in rows:
        c = r.command
        cells: list[Component] = [
            html.Td(format_datetime(c.requested_at, tz, now), className="text-nowrap")
        ]
        if with_charger:
            cells.append(html.Td(dcc.Link(c.charger_id, href=charger_href(c.charger_id))))
        cells += [
            html.Td(who_text(r), className="small", style={"minWidth": "12rem"}),
            html.Td(c.action),
            html.Td(params_text(c.action, c.params), className="small", style={"minWidth": "8rem"}),
            html.Td(status_badge(c), style={"minWidth": "11rem"}),
            html.Td(
                format_datetime(c.answered_at, tz, now) if c.answered_at else "—",
                className="text-nowrap small",
            ),
        ]
        body.append(html.Tr(cells, className="command-row", **data_attributes(command=str(c.id))))
    return scroll_box(
        html.Table(
            [html.Thead(html.Tr([html.Th(h, scope="col") for h in heads])), html.Tbody(body)],
            className="table table-sm align-middle mb-0 command-log",
        ),
        "Command log",
    )


def charger_commands_section() -> html.Section:
    """The charger page's Commands: the form, then this charger's log."""
    return admin_section(
        "admin-commands-section",
        "Commands",
        [
            *commands_form(),
            html.H3("Command log", className="h6 mt-4"),
            html.Div(loading_placeholder("Loading the command log…", 2), id=LOG_ID),
        ],
    )


def export_href(flt: CommandLogFilter) -> str:
    query = flt.query()
    return EXPORT_PATH + (f"?{urlencode(query)}" if query else "")


def fleet_log_section() -> html.Section:
    """/admin/ocpp's command log: filters, Export CSV of the filtered rows, the table."""

    def field(label: str, control: Component, control_id: str, md: int) -> dbc.Col:
        return dbc.Col(
            [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], md=md
        )

    any_option = [{"label": "Any", "value": ""}]
    return admin_section(
        "admin-commands-fleet-section",
        "Commands to chargers",
        [
            dbc.Row(
                [
                    field(
                        "Charger id",
                        dbc.Input(
                            id=FLEET_CHARGER_ID, debounce=True, maxLength=64, autocomplete="off"
                        ),
                        FLEET_CHARGER_ID,
                        3,
                    ),
                    field(
                        "Action",
                        dbc.Select(
                            id=FLEET_ACTION_ID,
                            options=any_option + [{"label": a, "value": a} for a in ACTIONS],
                            value="",
                            placeholder="Any",
                        ),
                        FLEET_ACTION_ID,
                        3,
                    ),
                    field(
                        "Status",
                        dbc.Select(
                            id=FLEET_STATUS_ID,
                            options=any_option
                            + [{"label": s.value, "value": s.value} for s in CommandStatus],
                            value="",
                            placeholder="Any",
                        ),
                        FLEET_STATUS_ID,
                        2,
                    ),
                    field("From", dbc.Input(id=FLEET_FROM_ID, type="date"), FLEET_FROM_ID, 2),
                    field("To", dbc.Input(id=FLEET_TO_ID, type="date"), FLEET_TO_ID, 2),
                ],
                class_name="g-2 mb-2",
            ),
            html.Div(
                [
                    html.P("…", id=FLEET_NOTE_ID, className="small text-body-secondary mb-0"),
                    export_link(FLEET_EXPORT_ID, EXPORT_PATH, "the commands shown"),
                ],
                className="d-flex flex-wrap justify-content-between align-items-center gap-2 mb-2",
            ),
            html.Div(loading_placeholder("Loading commands"), id=FLEET_LOG_ID),
        ],
    )


def fleet_note(shown: int, total: int) -> str:
    noun = "command" if total == 1 else "commands"
    if shown < total:
        return f"The latest {shown} of {total:,} {noun}; Export CSV has all of them."
    return f"{total:,} {noun}, latest first."


def stored_command_id(value: object) -> int | None:
    """The command id a page keeps (only a lookup key)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def params_json(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True)
