"""``/admin/import``: import a data-exchange folder from the browser, checked before it is written.

1. The admin uploads the folder's CSV files (or one zip). ``check_upload`` checks the upload
   (``data.exchange.import_uploads``: size, names, zip safety), keeps the files server-side under an
   unguessable id bound to this person and account, and runs the real import as a dry run
   (``import_folder(..., dry_run=True)``: every statement, then rolled back), so the summary
   shows exactly what the import would do, or every error with its file, line and column.
2. "Apply import" sends only that id back; ``apply_import`` finds the files again (this admin's,
   not expired), runs the import for real, which validates everything again (the database may
   have changed since the check), and deletes the files.
3. "Start over" deletes the files and clears the page.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, State, callback, ctx
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from flask import current_app
from flask_login import current_user

from auth.accounts import current_actor
from auth.roles import admin_only, require_admin
from components.imports import (
    APPLY_ID,
    FOLDER_UPLOAD_ID,
    PANEL_ID,
    PATH,
    RESET_ID,
    STAGED_ID,
    UPLOAD_ID,
    applied,
    empty_panel,
    gone,
    import_skeleton,
    refused,
    summary,
)
from config import INSTANCE
from data.exchange import import_uploads as uploads
from data.exchange.importer import (
    DATABASE_RULE_ERRORS,
    ImportReport,
    broken_rule_message,
    import_folder,
)
from data.exchange.validation import ExchangeError, RowError
from pages._admin import admin_layout, clicked
from web.db import session_scope

log = logging.getLogger("polaris.import")

dash.register_page(__name__, path=PATH, title="Import data · Polaris Express", name="Import data")


@admin_layout
def layout(**_: object) -> Component:
    return import_skeleton()


def _root() -> Path:
    """Where uploads wait between the check and the import (tests point it elsewhere)."""
    configured = current_app.config.get("IMPORT_UPLOAD_FOLDER")
    return Path(configured) if configured else INSTANCE / "imports"


def _owner() -> str:
    # The person and the active account, from the server's session: an upload is theirs only.
    account = require_admin()
    return f"{current_user.user_id}:{account.id}"


def _pressed_on(clicks: object, token: object) -> uploads.Staged | None:
    """The upload on screen that a button acts on: this admin's and not expired, or None (a
    stale page). A callback fired without a press does nothing."""
    if not clicked(clicks):
        raise PreventUpdate
    return uploads.find(_root(), token, _owner(), datetime.now(UTC))


def _run(
    staged: uploads.Staged, *, dry_run: bool
) -> tuple[ImportReport | None, list[RowError], str | None]:
    """The import (or its dry run) of an upload, as the signed-in admin: the report, or the
    errors, or a broken database rule."""
    actor, now = current_actor(), datetime.now(UTC)
    try:
        with session_scope() as s:
            report = import_folder(
                s,
                staged.folder,
                actor=actor,
                now=now,
                source=f"upload: {staged.source}",
                dry_run=dry_run,
            )
            return report, [], None
    except ExchangeError as exc:
        return None, exc.errors, None
    except DATABASE_RULE_ERRORS as exc:
        return None, [], broken_rule_message(exc)


def _panel_outputs(*, duplicate: bool) -> list[Output]:
    """What every step writes together: the staged upload's token, the panel, and whether
    "Apply import" is off."""
    return [
        Output(STAGED_ID, "data", allow_duplicate=duplicate),
        Output(PANEL_ID, "children", allow_duplicate=duplicate),
        Output(APPLY_ID, "disabled", allow_duplicate=duplicate),
    ]


def _upload_outputs(*, duplicate: bool) -> list[Output]:
    """Both upload boxes' files, emptied: otherwise every later upload's request would carry the
    earlier ones again (and could pass MAX_CONTENT_LENGTH)."""
    return [
        Output(UPLOAD_ID, "contents", allow_duplicate=duplicate),
        Output(FOLDER_UPLOAD_ID, "contents", allow_duplicate=duplicate),
    ]


def _counts(report: ImportReport) -> dict[str, tuple[int, int, int]]:
    return {n: (c.added, c.updated, c.unchanged) for n, c in report.files.items()}


@callback(
    *_panel_outputs(duplicate=False),
    *_upload_outputs(duplicate=True),  # the browser forgets the files once they are here
    Input(UPLOAD_ID, "contents"),
    Input(FOLDER_UPLOAD_ID, "contents"),
    State(UPLOAD_ID, "filename"),
    State(FOLDER_UPLOAD_ID, "filename"),
    State(STAGED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def check_upload(
    files: object, folder_files: object, names: object, folder_names: object, previous: object
) -> tuple[Any, ...]:
    """Keep the upload server-side and show what importing it would do."""
    if ctx.triggered_id == FOLDER_UPLOAD_ID:
        contents, filenames = folder_files, folder_names
    else:
        contents, filenames = files, names
    if contents is None:
        raise PreventUpdate  # cleared by "Start over"
    owner, now, root = _owner(), datetime.now(UTC), _root()
    if (old := uploads.find(root, previous, owner, now)) is not None:
        uploads.discard(old)  # a new upload replaces the one on screen
    try:
        unpacked = uploads.unpack_upload(filenames, contents)
    except uploads.UploadRefused as exc:
        return None, refused(str(exc)), True, None, None
    try:
        staged = uploads.stage(root, owner, unpacked, now)
    except OSError:
        log.exception("cannot keep an upload under %s", root)
        message = "The server cannot keep uploads right now; nothing was stored."
        return None, refused(message), True, None, None
    try:
        report, errors, rule = _run(staged, dry_run=True)
    except BaseException:
        uploads.discard(staged)  # e.g. the database is unreachable: the page says so
        raise
    view = summary(staged.source, staged.files, staged.skipped, report, errors, rule)
    if report is None:
        uploads.discard(staged)  # nothing to apply: fixed files come as a new upload
        return None, view, True, None, None
    uploads.record_check(staged, _counts(report))
    return staged.token, view, False, None, None


@callback(
    *_panel_outputs(duplicate=True),
    Input(APPLY_ID, "n_clicks"),
    State(STAGED_ID, "data"),
    # Off while the import runs: a second click would be a second request, and the renderer
    # shows only the newest answer ("already imported") instead of what the first one wrote.
    running=[(Output(APPLY_ID, "disabled"), True, True)],
    prevent_initial_call=True,
)
@admin_only
def apply_import(clicks: object, token: object) -> tuple[Any, ...]:
    """Import the checked upload for real: validated again, all or nothing."""
    staged = _pressed_on(clicks, token)
    claimed = uploads.claim(staged) if staged is not None else None
    if claimed is None:  # expired, someone else's, or a second click already took it
        return None, gone(), True
    try:
        report, errors, rule = _run(claimed, dry_run=False)
    except BaseException:
        uploads.discard(claimed)  # nothing was written (rolled back); the page says what failed
        raise
    if report is None:
        uploads.discard(claimed)  # fixed files come as a new upload
        view = summary(
            claimed.source,
            claimed.files,
            claimed.skipped,
            None,
            errors,
            rule,
            heading="Not imported: the data changed since the check",
        )
        return None, view, True
    matches = uploads.checked_counts(claimed) == _counts(report)
    uploads.discard(claimed)
    return None, applied(report, claimed.source, matches), True


@callback(
    *_panel_outputs(duplicate=True),
    *_upload_outputs(duplicate=False),
    Input(RESET_ID, "n_clicks"),
    State(STAGED_ID, "data"),
    prevent_initial_call=True,
)
@admin_only
def start_over(clicks: object, token: object) -> tuple[Any, ...]:
    staged = _pressed_on(clicks, token)
    if staged is not None:
        uploads.discard(staged)
    return None, empty_panel(), True, None, None
