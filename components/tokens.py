"""``/admin/tokens``: personal API tokens for scripts (the exports, the commands API). Small
builders, no database.

A new token's secret appears once, in the answer to "Create token" (a read-only field to copy,
and the ``curl`` line that uses it); nothing else ever holds it: no store, no later callback.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import confirm_modal
from components.format import format_datetime
from components.landmarks import aria as _aria
from components.landmarks import named_section, scroll_box
from data.accounts.tokens import (
    COMMANDS_SCOPE,
    DEFAULT_SCOPES,
    EXPORT_SCOPE,
    NAME_LENGTH,
    TokenRow,
)

TOKENS_VERSION_ID = "admin-tokens-version"
TOKENS_LIST_ID = "admin-tokens-list"
TOKENS_NAME_ID = "admin-token-name"
TOKENS_SCOPES_ID = "admin-token-scopes"
SCOPE_LABELS = {
    EXPORT_SCOPE: "Exports: download the CSV exports (/export/)",
    COMMANDS_SCOPE: "Commands: send commands to chargers (/api/v1/)",
}
TOKENS_CREATE_ID = "admin-token-create"
TOKENS_CREATED_ID = "admin-token-created"  # the one answer that holds a new secret
TOKENS_VALUE_ID = "admin-token-value"
TOKENS_HIDE_ID = "admin-token-hide"
TOKENS_FEEDBACK_ID = "admin-tokens-feedback"
TOKENS_REVOKE_TYPE = "admin-token-revoke"  # {"type": ..., "token": id}
REVOKE_MODAL_ID = "admin-token-revoke-modal"
REVOKE_BODY_ID = "admin-token-revoke-body"
REVOKE_KEEP_ID = "admin-token-revoke-keep"
REVOKE_CONFIRM_ID = "admin-token-revoke-confirm"
REVOKE_TARGET_ID = "admin-token-revoke-target"  # the token id only, never the secret

_WIDE = "d-none d-md-table-cell"  # columns left out on a phone


def revoke_id(token_id: int) -> dict[str, object]:
    return {"type": TOKENS_REVOKE_TYPE, "token": token_id}


def curl_example(base_url: str, month_start: date) -> str:
    """The line a script runs (this month's sessions), with the token in ``$T``, never pasted
    into the command."""
    url = f"{base_url.rstrip('/')}/export/sessions.csv?from={month_start.isoformat()}"
    return f'curl -H "Authorization: Bearer $T" "{url}" -o sessions.csv'


def commands_curl_example(base_url: str) -> str:
    """A command through the JSON API (a soft reset of charger ``$CHARGER``), token in ``$T``."""
    url = f"{base_url.rstrip('/')}/api/v1/chargers/$CHARGER/commands"
    return (
        f'curl -H "Authorization: Bearer $T" -H "Content-Type: application/json" '
        f'-d \'{{"action": "Reset", "params": {{"type": "Soft"}}}}\' "{url}"'
    )


def tokens_skeleton() -> list[Component]:
    """The page before its first answer: the create form, the list slot, the revoke modal."""
    return [
        dcc.Store(id=TOKENS_VERSION_ID, data=0),
        dcc.Store(id=REVOKE_TARGET_ID),
        named_section(
            "admin-tokens-new",
            "New token",
            [
                html.P(
                    "A token lets a script act as your active admin account, without signing "
                    "in: download the CSV exports (/export/), send commands to chargers "
                    "(/api/v1/), or both, as its scopes say. It is shown once.",
                    className="small text-body-secondary",
                ),
                # In reading order, each label right above its own control: the name, what
                # the token may do (a fieldset, its legend naming the checklist), then Create.
                dbc.Form(
                    [
                        html.Div(
                            [
                                dbc.Label(
                                    "What it is for",
                                    html_for=TOKENS_NAME_ID,
                                    class_name="small mb-1",
                                ),
                                dbc.Input(
                                    id=TOKENS_NAME_ID,
                                    placeholder="e.g. nightly warehouse sync",
                                    maxlength=NAME_LENGTH,
                                    autocomplete="off",
                                ),
                            ],
                            className="mb-3 admin-token-name-field",
                        ),
                        html.Fieldset(
                            [
                                html.Legend("What it may do", className="form-label small mb-1"),
                                dbc.Checklist(
                                    id=TOKENS_SCOPES_ID,
                                    options=[
                                        {"label": label, "value": scope}
                                        for scope, label in SCOPE_LABELS.items()
                                    ],
                                    value=list(DEFAULT_SCOPES),
                                    class_name="small",
                                ),
                            ],
                            className="mb-3",
                        ),
                        dbc.Button("Create token", id=TOKENS_CREATE_ID, color="primary"),
                    ],
                    id="admin-tokens-form",
                ),
                html.Div(id=TOKENS_CREATED_ID, className="mt-3", role="status"),
            ],
            "admin-section card card-body mb-3",
        ),
        named_section(
            "admin-tokens-all",
            "Tokens",
            [
                html.Div(id=TOKENS_FEEDBACK_ID, role="status", **_aria(live="polite")),
                html.Div(
                    html.P("Loading tokens…", className="text-body-secondary"),
                    id=TOKENS_LIST_ID,
                ),
            ],
            "admin-section card card-body mb-3",
        ),
        revoke_modal(),
    ]


def created_notice(
    token_id: int,
    account_id: str,
    secret: str,
    base_url: str,
    month_start: date,
    scopes: Sequence[str] = DEFAULT_SCOPES,
) -> dbc.Alert:
    """The secret, once: a read-only field to copy and the ``curl`` lines that use it (one
    per scope)."""
    lines = ["T='…the token…'"]
    if EXPORT_SCOPE in scopes:
        lines.append(curl_example(base_url, month_start))
    if COMMANDS_SCOPE in scopes:
        lines.append(commands_curl_example(base_url))
    return dbc.Alert(
        [
            html.P(
                [
                    html.Strong(f"Token {token_id} created for {account_id}. "),
                    "Copy it now: it is not shown again (only its first characters are kept "
                    "in the list).",
                ],
                className="mb-2",
            ),
            dbc.Label("Token", html_for=TOKENS_VALUE_ID, class_name="small mb-1"),
            dbc.Input(
                id=TOKENS_VALUE_ID,
                value=secret,
                readonly=True,
                class_name="font-monospace mb-2",
                autocomplete="off",
            ),
            html.P("Then, in a shell:", className="small mb-1"),
            html.Pre(
                html.Code("\n".join(lines)),
                className="small bg-body-tertiary p-2 rounded mb-2 admin-token-curl",
                style={"whiteSpace": "pre-wrap", "wordBreak": "break-all"},
            ),
            dbc.Button(
                "I have copied it",
                id=TOKENS_HIDE_ID,
                color="success",
                outline=True,
                size="sm",
            ),
        ],
        color="success",
        class_name="mb-0",
    )


def _when(moment: datetime | None, tz: ZoneInfo, now: datetime) -> str:
    return "—" if moment is None else format_datetime(moment, tz, now)


def tokens_table(rows: Sequence[TokenRow], tz: ZoneInfo, now: datetime) -> Component:
    """Every token (newest first), times in the operator's time zone; active ones revocable."""
    if not rows:
        return html.P("No API tokens yet.", className="text-body-secondary mb-0")
    body = []
    for row in rows:
        if row.revoked_at is None:
            state: Component | str = html.Button(
                "Revoke…",
                id=revoke_id(row.token_id),
                type="button",
                className="btn btn-outline-danger btn-sm",
                **_aria(label=f"Revoke token {row.token_id}"),
            )
            state = html.Span([html.Span("No", className="me-2 d-none d-md-inline"), state])
        else:
            state = _when(row.revoked_at, tz, now)
        prefix = html.Code(row.prefix + "…")
        body.append(
            html.Tr(
                [
                    html.Td(str(row.token_id), className=_WIDE),
                    html.Td(prefix, className=_WIDE),
                    html.Td(
                        [row.account_id, html.Br(), html.Small(row.email)],
                        className="text-break",
                    ),
                    html.Td(
                        [
                            row.name or "—",
                            # Narrow screens: the prefix under the name, not a column of its own.
                            html.Div(html.Code(row.prefix + "…"), className="d-md-none small"),
                        ],
                        className="text-break",
                    ),
                    html.Td(", ".join(row.scopes), className=_WIDE),
                    html.Td(_when(row.created_at, tz, now), className=f"text-nowrap {_WIDE}"),
                    html.Td(_when(row.last_used_at, tz, now), className=f"text-nowrap {_WIDE}"),
                    html.Td(state, className="text-nowrap"),
                ],
                className="text-body-secondary" if row.revoked_at else None,
            )
        )
    head = [
        ("Id", _WIDE),
        ("Starts with", _WIDE),
        ("Account", ""),
        ("Name", ""),
        ("Scopes", _WIDE),
        ("Created", _WIDE),
        ("Last used", _WIDE),
        ("Revoked", ""),
    ]
    return scroll_box(
        dbc.Table(
            [
                html.Thead(
                    html.Tr([html.Th(h, scope="col", className=c or None) for h, c in head])
                ),
                html.Tbody(body),
            ],
            size="sm",
            hover=True,
            class_name="mb-0 align-middle admin-tokens-table",
        ),
        "API tokens",
    )


def revoke_question(row: TokenRow, tz: ZoneInfo, now: datetime) -> str:
    name = f" “{row.name}”" if row.name else ""
    return (
        f"Token {row.token_id}{name} ({row.prefix}…, {row.account_id}, created "
        f"{format_datetime(row.created_at, tz, now)}) stops working at once: scripts using it "
        "get 401. This cannot be undone."
    )


def revoke_modal() -> dbc.Modal:
    return confirm_modal(
        REVOKE_MODAL_ID,
        "Revoke this token?",
        REVOKE_BODY_ID,
        REVOKE_KEEP_ID,
        REVOKE_CONFIRM_ID,
        "Revoke token",
    )


def message(text: str, ok: bool) -> dbc.Alert:
    return dbc.Alert(text, color="success" if ok else "danger", class_name="py-2 mb-2")
