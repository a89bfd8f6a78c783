"""Flask CLI commands: the data-exchange folder format and the demo data.

flask --app app import-data [--dry-run] path/to/folder
flask --app app export-data path/to/folder
flask --app app demo-data [--reset]
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from data.audit.entries import COMMAND_LINE
from data.core.db import is_empty
from data.core.models import AuditEntry, Base
from data.demo.loader import has_demo, load_demo
from data.exchange.exporter import export_folder
from data.exchange.importer import DATABASE_RULE_ERRORS, broken_rule_message, import_folder
from data.exchange.validation import ExchangeError
from web.db import get_db


@click.command("import-data")
@click.argument(
    "folder", type=click.Path(exists=True, file_okay=False, readable=True, path_type=Path)
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check the folder and count what would change, then roll back: nothing is written.",
)
@with_appcontext
def import_data(folder: Path, dry_run: bool) -> None:
    """Import a data-exchange folder: all of it, or, on any error, nothing."""
    nothing = "nothing was written (dry run)" if dry_run else "nothing was imported"
    try:
        with get_db().session() as s:
            report = import_folder(
                s, folder, actor=COMMAND_LINE, now=datetime.now(UTC), dry_run=dry_run
            )
    except ExchangeError as exc:
        # The session has rolled back: the database is as it was.
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(exc.errors)} error(s); {nothing}.", err=True)
        raise click.exceptions.Exit(1) from None
    except DATABASE_RULE_ERRORS as exc:
        # A rule only the database checks: still nothing written, said as the import page says it.
        click.echo(broken_rule_message(exc), err=True)
        click.echo(f"1 error; {nothing}.", err=True)
        raise click.exceptions.Exit(1) from None
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo(
            f"Dry run of {folder}: {report.added} to add, {report.updated} to update, "
            f"{report.unchanged} unchanged; nothing was written."
        )
        return
    click.echo(
        f"Imported {folder}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )


@click.command("export-data")
@click.argument("folder", type=click.Path(file_okay=False, writable=True, path_type=Path))
@with_appcontext
def export_data(folder: Path) -> None:
    """Write every file of the data-exchange format into FOLDER (created if missing)."""
    with get_db().session() as s:
        written = export_folder(s, folder)
    for name, rows in written.items():
        click.echo(f"{name}: {rows} row{'' if rows == 1 else 's'}")
    click.echo(f"Exported to {folder}.")


@click.command("demo-data")
@click.option("--reset", is_flag=True, help="Wipe an existing demo database and load it afresh.")
@with_appcontext
def demo_data(reset: bool) -> None:
    """Load the demo operator into an empty database (or reload it with --reset)."""
    if current_app.config["ENV"] == "production":
        click.echo(
            "POLARIS_ENV=production never loads demo data (its logins are public).", err=True
        )
        raise click.exceptions.Exit(1)
    with get_db().session() as s:
        if not is_empty(s):
            if not has_demo(s):
                click.echo("This database holds real data; demo data is never mixed in.", err=True)
                raise click.exceptions.Exit(1)
            if not reset:
                click.echo("The demo is already loaded; use --reset to load it afresh.", err=True)
                raise click.exceptions.Exit(1)
            for table in reversed(Base.metadata.sorted_tables):
                # The audit log is never emptied (its triggers refuse): it outlives the demo.
                if table is not AuditEntry.__table__:
                    s.execute(table.delete())
        logins = load_demo(s, datetime.now(UTC))
    click.echo("Demo loaded. Sign in with:")
    for login in logins:
        click.echo(f"  {login.email} / {login.password}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(import_data)
    app.cli.add_command(export_data)
    app.cli.add_command(demo_data)
