"""The outage log on the command line.

flask --app app backfill-outages
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from data.uptime.live import backfill_outages
from data.uptime.stored import fill_operator_months
from web.db import get_db


@click.command("backfill-outages")
@with_appcontext
def backfill_outages_command() -> None:
    """Open the outages the database shows now: out_of_order for chargers Out of order (from
    their latest report), offline for chargers silent past the threshold (from their last
    message). Safe to run again: an outage already open is never opened twice."""
    with get_db().session() as s:
        out_of_order, offline = backfill_outages(
            s, datetime.now(UTC), int(current_app.config["OFFLINE_AFTER_S"])
        )
    with get_db().session() as s:
        filled = fill_operator_months(s, datetime.now(UTC))
    click.echo(f"Opened {out_of_order} out_of_order and {offline} offline outage(s).")
    if filled:
        click.echo(f"Stored the uptime figures of {filled} month(s) that are over.")
    click.echo(
        "Past silences and past faults left no trace in the database and are not in the log."
    )


def register_uptime_cli(app: Flask) -> None:
    app.cli.add_command(backfill_outages_command)
