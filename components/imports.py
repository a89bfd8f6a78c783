"""The import page's pieces: the upload area, the dry-run summary and the result of an import.

No database access here: ``pages/admin_import.py`` runs the import (``data.exchange.importer``) and
hands the report or the errors to these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import admin_page
from components.landmarks import aria, named_section, scroll_box
from data.exchange.import_uploads import EXPECTED, UNPACKED_LIMIT, UPLOAD_LIMIT, ZIP_ENTRY_LIMIT
from data.exchange.importer import FileCounts, ImportReport
from data.exchange.validation import RowError

PATH = "/admin/import"
# Stable ids (tests, automation). Every id on an admin page starts with "admin-".
UPLOAD_ID = "admin-import-upload"
FOLDER_UPLOAD_ID = "admin-import-folder"
STAGED_ID = "admin-import-staged"  # the id of the staged upload, never a path
PANEL_ID = "admin-import-panel"
APPLY_ID = "admin-import-apply"
RESET_ID = "admin-import-reset"
# Past this many, the summary lists the first ones and says how many more there are.
ERRORS_SHOWN = 200

_MB = 1024 * 1024
_DROP_STYLE = {
    "border": "2px dashed var(--bs-border-color)",
    "borderRadius": "0.5rem",
    "padding": "1.25rem 1rem",
    "textAlign": "center",
    "cursor": "pointer",
    "background": "var(--bs-tertiary-bg)",
}

# The zone opens the file picker through its <label> (see drop_zone), not its own click handler.
_DROP_PROPS: dict[str, Any] = {
    "style": _DROP_STYLE,
    "className": "upload-zone",
    "disable_click": True,
}


def drop_zone(upload: dcc.Upload) -> html.Label:
    """dcc.Upload's file input has no name of its own: wrapped in a <label>, it is named by the
    zone's words (WCAG 4.1.2), and a click anywhere on the zone opens the picker natively."""
    return html.Label(upload, className="d-block mb-0")


def limits_text() -> str:
    return (
        f"Up to {UPLOAD_LIMIT // _MB} MB of CSV per upload: the files of one data-exchange "
        f"folder, or one .zip of them (at most {ZIP_ENTRY_LIMIT} entries and "
        f"{UNPACKED_LIMIT // _MB} MB unpacked; the files at the top of the zip or in one "
        "folder). Larger folders: "
    )


def import_skeleton() -> html.Div:
    """The static page: the upload area, an empty panel, the buttons; no data."""
    return admin_page(
        "Import data",
        PATH,
        dcc.Store(id=STAGED_ID, storage_type="memory"),
        named_section(
            "admin-import-upload-section",
            "Upload a folder",
            [
                html.P(
                    [
                        "Files of the data-exchange format, named ",
                        html.Code(", ".join(EXPECTED)),
                        " (any of them). Nothing is written until you press Apply import: "
                        "first you see what the import would add and change, and every error "
                        "with its file, line and column.",
                    ],
                    className="small",
                ),
                dbc.Row(
                    className="g-2",
                    children=[
                        dbc.Col(
                            drop_zone(
                                dcc.Upload(
                                    id=UPLOAD_ID,
                                    multiple=True,
                                    accept=".csv,.zip",
                                    children=html.Span(
                                        [
                                            html.Strong("Drop the folder, its CSV files or a zip"),
                                            html.Span(" here, or "),
                                            html.Span("choose files", className="link-primary"),
                                        ]
                                    ),
                                    **_DROP_PROPS,
                                )
                            ),
                            md=8,
                        ),
                        dbc.Col(
                            drop_zone(
                                dcc.Upload(
                                    id=FOLDER_UPLOAD_ID,
                                    multiple=True,
                                    enable_folder_selection=True,
                                    accept=".csv",
                                    children=html.Span("Choose a folder", className="link-primary"),
                                    **_DROP_PROPS,
                                )
                            ),
                            md=4,
                        ),
                    ],
                ),
                html.P(
                    [
                        limits_text(),
                        html.Code("flask --app app import-data FOLDER"),
                        ". Uploaded files stay on the server for at most an hour, for you only, "
                        "and are deleted once imported.",
                    ],
                    className="small text-body-secondary mt-2 mb-0",
                    id="admin-import-limits",
                ),
            ],
            "card card-body mb-3",
        ),
        dcc.Loading(
            html.Div(empty_panel(), id=PANEL_ID, role="status", **aria(live="polite")),
            type="circle",
            delay_show=250,
        ),
        html.Div(
            className="d-flex flex-wrap gap-2 mt-3",
            children=[
                dbc.Button("Apply import", id=APPLY_ID, color="primary", disabled=True),
                dbc.Button("Start over", id=RESET_ID, color="secondary", outline=True),
            ],
        ),
    )


def empty_panel() -> html.Div:
    return html.Div(
        "No files yet. Upload a folder's files to see what the import would do.",
        className="text-body-secondary",
        id="admin-import-empty",
    )


def refused(message: str) -> dbc.Alert:
    """An upload that could not be used (size, names, zip): nothing was stored."""
    return dbc.Alert(
        [html.Strong("Upload refused. "), message],
        color="danger",
        id="admin-import-refused",
        class_name="mb-0",
    )


def plural(count: int, word: str) -> str:
    """``1 row``, ``36 rows``, ``1,200 errors``."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _files_table(
    files: Sequence[str],
    counts: dict[str, FileCounts] | None,
    errors: Sequence[RowError],
    *,
    done: bool = False,
) -> dbc.Table:
    """One row per file: its counts when the import ran, its errors when there are any."""
    per_file: dict[str, int] = {}
    for error in errors:
        per_file[error.file] = per_file.get(error.file, 0) + 1
    # A soft hyphen lets the longest heading break on a phone instead of being cut off.
    same = "Un\u00adchanged"
    heads = ["Added", "Updated", same] if done else ["To add", "To update", same]
    columns = [*(heads if counts is not None else []), *(["Errors"] if errors else [])]
    rows = []
    for name in files:
        cells = []
        if counts is not None:
            c = counts.get(name, FileCounts())
            cells += [f"{c.added:,}", f"{c.updated:,}", f"{c.unchanged:,}"]
        if errors:
            cells.append(f"{per_file.get(name, 0):,}")
        rows.append(
            html.Tr(
                [
                    html.Th(name, scope="row", className="fw-normal"),
                    *(
                        html.Td(
                            cell,
                            className="text-end"
                            + (
                                " text-danger fw-semibold"
                                if col == "Errors" and cell != "0"
                                else ""
                            ),
                        )
                        for col, cell in zip(columns, cells, strict=True)
                    ),
                ]
            )
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th("File", scope="col"),
                *(html.Th(col, scope="col", className="text-end") for col in columns),
            ]
        )
    )
    table = dbc.Table(
        [head, html.Tbody(rows)],
        size="sm",
        class_name="mb-2 align-middle small",
        style={"maxWidth": "36rem"},
        id="admin-import-files",
    )
    return scroll_box(table, "Rows per file")


def _error_list(errors: Sequence[RowError]) -> html.Div:
    shown = errors[:ERRORS_SHOWN]
    items = []
    for e in shown:
        where = f"{e.file}:{e.line}" + (f": {e.column}" if e.column else "")
        items.append(
            html.Li(
                [html.Code(where, className="me-1"), html.Span(e.message)],
                className="list-group-item px-2 py-1 small",
                style={"overflowWrap": "anywhere"},
            )
        )
    more = len(errors) - len(shown)
    return html.Div(
        [
            html.H3(f"Errors ({len(errors):,})", className="h6 mt-2"),
            html.P(
                "Each names the file, the line (the header is line 1) and the column. Fix them "
                "in the files and upload again.",
                className="small text-body-secondary mb-2",
            ),
            html.Ul(items, className="list-group mb-2", id="admin-import-errors"),
            *(
                [html.P(f"… and {more:,} more.", className="small text-body-secondary")]
                if more
                else []
            ),
        ]
    )


def _skipped_note(skipped: Sequence[str]) -> list[Component]:
    if not skipped:
        return []
    return [
        html.P(
            f"Not imported (not CSV files of the format): {', '.join(skipped)}.",
            className="small text-body-secondary mb-2",
        )
    ]


def summary(
    source: str,
    files: Sequence[str],
    skipped: Sequence[str],
    report: ImportReport | None,
    errors: Sequence[RowError],
    rule: str | None = None,
    *,
    heading: str | None = None,
) -> html.Div:
    """The dry run: per file what the import would add, update and leave; or why it cannot run."""
    if report is not None:
        title = heading or "Ready to import"
        line = (
            f"Checked {source}: {plural(report.added, 'row')} to add, {report.updated:,} to "
            f"update, {report.unchanged:,} unchanged. Nothing has been written yet."
        )
        tone = "success"
    else:
        title = heading or "Cannot import these files"
        count = len(errors) + (1 if rule else 0)
        line = (
            f"Checked {source}: {plural(count, 'error')}. Nothing is written until they are fixed."
        )
        tone = "danger"
    parts: list[Component] = [
        html.H2(title, className=f"h5 text-{tone}-emphasis", id="admin-import-summary-title"),
        html.P(line, id="admin-import-summary-line"),
        *_skipped_note(skipped),
        _files_table(files, report.files if report else None, errors),
    ]
    if rule:
        parts.append(
            dbc.Alert(rule, color="danger", class_name="small mb-2", id="admin-import-rule")
        )
    if errors:
        parts.append(_error_list(errors))
    return html.Div(parts, id="admin-import-summary", className="card card-body")


def applied(report: ImportReport, source: str, matches_check: bool) -> html.Div:
    """What the import wrote."""
    note = (
        "Exactly what the check said."
        if matches_check
        else "The data changed since the check, so these counts differ from it."
    )
    return html.Div(
        [
            html.H2("Imported", className="h5 text-success-emphasis"),
            html.P(
                f"Imported {source}: {plural(report.added, 'row')} added, {report.updated:,} "
                f"updated, {report.unchanged:,} unchanged. {note}",
                id="admin-import-applied-line",
            ),
            _files_table(list(report.files), report.files, [], done=True),
            html.P(
                "The uploaded files have been deleted from the server. Upload more files above, "
                "or start over to clear this page.",
                className="small text-body-secondary mb-0",
            ),
        ],
        id="admin-import-applied",
        className="card card-body",
    )


def gone() -> dbc.Alert:
    return dbc.Alert(
        "This upload has expired, was already imported or was started over. Upload the files "
        "again to import them.",
        color="warning",
        id="admin-import-gone",
        class_name="mb-0",
    )
