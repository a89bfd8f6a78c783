"""Flask CLI commands for the data-exchange folder format: ``import-data`` and ``export-data``.

flask --app app import-data path/to/folder
flask --app app export-data path/to/folder
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from data.db import get_db
from data.exchange import ExchangeError, export_folder, import_folder


@click.command("import-data")
@click.argument(
    "folder", type=click.Path(exists=True, file_okay=False, readable=True, path_type=Path)
)
@with_appcontext
def import_data(folder: Path) -> None:
    """Import a data-exchange folder: all of it, or, on any error, nothing."""
    try:
        with get_db().session() as s:
            report = import_folder(s, folder)
    except ExchangeError as exc:
        # The session has rolled back: the database is as it was.
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(exc.errors)} error(s); nothing was imported.", err=True)
        raise click.exceptions.Exit(1) from None
    for line in report.lines():
        click.echo(line)
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


def register_cli(app: Flask) -> None:
    app.cli.add_command(import_data)
    app.cli.add_command(export_data)
