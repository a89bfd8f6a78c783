"""``/admin/audit``: the audit log's filters, its grid (the infinite row model, rows from the
page's callback, newest first), Export CSV of the filtered entries, and one chosen entry's
change field by field. No database access: the page hands in ``data.audit.log`` rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import html
from dash.development.base_component import Component

from components.admin import admin_section
from components.format import format_datetime
from components.history import export_link, new_grid_key
from components.landmarks import aria, loading_placeholder
from data.audit.entries import Action
from data.audit.log import TEXT_MAX_LENGTH, AuditFilter, AuditRow

USER_ID = "admin-audit-user"
ACTION_ID = "admin-audit-action"
SUBJECT_ID = "admin-audit-subject"
FROM_ID = "admin-audit-from"
TO_ID = "admin-audit-to"
NOTE_ID = "admin-audit-note"
RESULTS_ID = "admin-audit-results"
GRID_TYPE = "admin-audit-grid"
EXPORT_ID = "admin-audit-export"
DETAIL_ID = "admin-audit-detail"
EXPORT_PATH = "/export/audit.csv"
PAGE_ROWS = 100  # one grid block, one page of the log
GRID_MAX_PX, GRID_HEADER_PX, GRID_ROW_PX = 520, 49, 42  # AG Grid's quartz theme
DETAIL_HINT = "Choose an entry in the table to see every field it changed, before and after."
NONE = "—"  # an empty value, or a field that did not exist on that side
# The action select's "Any action": not "", which dbc.Select keeps for its hidden placeholder.
ANY_ACTION = "any"


def export_href(flt: AuditFilter) -> str:
    """The CSV of exactly the entries on screen: the export reads the same parameters."""
    query = flt.query()
    return EXPORT_PATH + ("?" + urlencode(query) if query else "")


def _field(label: str, control: Component, control_id: str, md: int) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control],
        xs=12,
        sm=6,
        md=md,
        class_name="mb-2",
    )


def _prefill(query: Mapping[str, object], key: str) -> str:
    value = query.get(key)
    return value.strip()[:TEXT_MAX_LENGTH] if isinstance(value, str) else ""


def audit_skeleton(query: Mapping[str, object]) -> list[Component]:
    """Filters (pre-filled from the address: ``?subject=PX-001`` and the like), a note, the
    results slot and the chosen entry's slot; callbacks fill the rest."""
    actions = [{"label": "Any action", "value": ANY_ACTION}] + [
        {"label": a.value, "value": a.value} for a in Action
    ]
    chosen = _prefill(query, "action")
    filters = dbc.Row(
        [
            _field(
                "Who (email, or cli)",
                dbc.Input(
                    id=USER_ID,
                    type="search",
                    value=_prefill(query, "user"),
                    debounce=True,
                    maxlength=TEXT_MAX_LENGTH,
                    autocomplete="off",
                    placeholder="e.g. olga@",
                ),
                USER_ID,
                3,
            ),
            _field(
                "Action",
                dbc.Select(
                    id=ACTION_ID,
                    options=actions,
                    value=chosen if chosen in {a.value for a in Action} else ANY_ACTION,
                ),
                ACTION_ID,
                3,
            ),
            _field(
                "Subject (kind or id)",
                dbc.Input(
                    id=SUBJECT_ID,
                    type="search",
                    value=_prefill(query, "subject"),
                    debounce=True,
                    maxlength=TEXT_MAX_LENGTH,
                    autocomplete="off",
                    placeholder="e.g. charger or PX-001",
                ),
                SUBJECT_ID,
                2,
            ),
            _field(
                "From (local day)",
                dbc.Input(id=FROM_ID, type="date", value=_prefill(query, "from")),
                FROM_ID,
                2,
            ),
            _field(
                "To (local day)",
                dbc.Input(id=TO_ID, type="date", value=_prefill(query, "to")),
                TO_ID,
                2,
            ),
        ],
        class_name="g-2",
    )
    return [
        admin_section(
            "admin-audit-section",
            "Operator actions",
            [
                html.P(
                    "Every change an operator made, from the pages, the API or the command "
                    "line, newest first. Entries are never changed or deleted.",
                    className="small text-body-secondary",
                ),
                filters,
                html.Div(
                    id=RESULTS_ID,
                    children=loading_placeholder("Loading the audit log"),
                ),
                html.Div(
                    id=DETAIL_ID,
                    role="status",
                    className="mt-3",
                    **aria(live="polite"),
                    children=html.P(DETAIL_HINT, className="small text-body-secondary mb-0"),
                ),
            ],
        )
    ]


def audit_results(flt: AuditFilter, total: int, view: str) -> html.Div:
    """How many entries match, Export CSV of them, and a grid for this view (``view``: the
    filter as a query string, which the grid's id carries to the row callback)."""
    noun = "entry" if total == 1 else "entries"
    note = f"{total:,} {noun}, newest first." if total else "No entry matches these filters."
    return html.Div(
        [
            html.Div(
                [
                    html.P(note, id=NOTE_ID, className="small text-body-secondary mb-0"),
                    export_link(EXPORT_ID, export_href(flt), "the entries shown"),
                ],
                className="d-flex flex-wrap justify-content-between align-items-center gap-2 mb-2",
            ),
            audit_grid(view, new_grid_key(), total),
        ]
    )


def audit_problem(message: str) -> dbc.Alert:
    """A filter the log cannot apply (a date that is not one, from after to)."""
    return dbc.Alert(message, color="warning", class_name="py-2 small mb-0", id=NOTE_ID)


def grid_height(total: int) -> str:
    """Tall enough for the entries (a few lines for a few), at most ``GRID_MAX_PX``."""
    return f"{min(GRID_MAX_PX, GRID_HEADER_PX + max(total, 2) * GRID_ROW_PX + 2)}px"


def audit_grid(view: str, key: str, total: int) -> dag.AgGrid:
    columns = [
        {"field": "at", "headerName": "When", "pinned": "left", "width": 140, "flex": 0},
        {"field": "user", "headerName": "Who", "tooltipField": "user", "minWidth": 150},
        {"field": "account", "headerName": "Account", "minWidth": 100},
        {"field": "action", "headerName": "Action", "minWidth": 180},
        {"field": "subject", "headerName": "Subject", "tooltipField": "subject", "minWidth": 130},
        {
            "field": "change",
            "headerName": "Before → after",
            "tooltipField": "change",
            "minWidth": 260,
            "flex": 3,
        },
    ]
    return dag.AgGrid(
        id={"type": GRID_TYPE, "view": view, "n": key},
        rowModelType="infinite",
        columnDefs=columns,
        defaultColDef={
            "sortable": False,
            "resizable": True,
            "suppressHeaderMenuButton": True,
            "flex": 1,
        },
        dashGridOptions={
            "cacheBlockSize": PAGE_ROWS,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "maxConcurrentDatasourceRequests": 1,
            "blockLoadDebounceMillis": 100,
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
            "tooltipShowDelay": 300,
            # A row chosen (click, or Space on a focused row) shows the entry below the grid.
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
        },
        style={"height": grid_height(total), "width": "100%"},
        className="admin-audit-grid",
    )


# --- values as people read them -------------------------------------------------------------


def value_text(value: object) -> str:
    """A field's JSON value in words: ``—`` for none, yes/no, lists joined, nested fields as
    ``key value`` pairs."""
    if value is None or value == "":
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value) or NONE
    if isinstance(value, dict):
        return ", ".join(f"{k} {value_text(v)}" for k, v in value.items()) or NONE
    return str(value)


def change_lines(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """``(field, before, after)`` for every field an entry holds, ``—`` on the side where it
    was absent (a creation has no before, a removal no after)."""
    old, new = before or {}, after or {}
    return [
        (k, value_text(old[k]) if k in old else NONE, value_text(new[k]) if k in new else NONE)
        for k in sorted(old.keys() | new.keys())
    ]


def change_text(row: AuditRow) -> str:
    """One line for the grid: ``visibility: public → restricted; name: A → B``; a creation or
    removal lists its fields once; the entry's detail after them."""
    parts = []
    for field, old, new in change_lines(row.before, row.after):
        if row.before is None:
            parts.append(f"{field}: {new}")
        elif row.after is None:
            parts.append(f"{field}: {old}")
        else:
            parts.append(f"{field}: {old} → {new}")
    if row.detail:
        parts.append(row.detail)
    return "; ".join(parts) or NONE


def subject_text(row: AuditRow) -> str:
    return f"{row.subject_type} {row.subject_id}"


def audit_grid_rows(rows: Sequence[AuditRow], tz: ZoneInfo, now: datetime) -> list[dict[str, Any]]:
    """One dict per entry, every value already text (and the entry's id, to choose it)."""
    return [
        {
            "entry": row.entry_id,
            "at": format_datetime(row.at, tz, now),
            "user": row.user,
            "account": row.account_id or NONE,
            "action": row.action,
            "subject": subject_text(row),
            "change": change_text(row),
        }
        for row in rows
    ]


def entry_detail(row: AuditRow | None, tz: ZoneInfo, now: datetime) -> Component:
    """One entry: who, when, what, and a table of each field before and after."""
    if row is None:
        return html.P(DETAIL_HINT, className="small text-body-secondary mb-0")
    account = f" from account {row.account_id}" if row.account_id else ""
    facts = f"{format_datetime(row.at, tz, now)} · {row.user}{account}"
    lines = change_lines(row.before, row.after)
    heading = f"{row.action} · {subject_text(row)}"
    body: list[Component] = [
        html.H3(heading, className="h6 fw-semibold mb-1"),
        html.P(facts, className="small mb-2"),
    ]
    if lines:
        body.append(
            dbc.Table(
                [
                    html.Thead(html.Tr([html.Th("Field"), html.Th("Before"), html.Th("After")])),
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Th(field, scope="row", className="fw-normal"),
                                    html.Td(old),
                                    html.Td(new),
                                ]
                            )
                            for field, old, new in lines
                        ]
                    ),
                ],
                size="sm",
                # Fixed columns: long values wrap inside them, even on a phone.
                class_name="mb-2 text-break admin-audit-change",
                style={"tableLayout": "fixed"},
            )
        )
    if row.detail:
        body.append(html.P(row.detail, className="small mb-0"))
    return html.Section(
        body, className="border rounded p-3 admin-audit-entry", **aria(label=heading)
    )


def audit_view(flt: AuditFilter) -> str:
    """The filter as the grid id's view: a canonical query string."""
    return "?" + urlencode(flt.query())
