"""Flask CLI commands for live charger data (OCPP 1.6J).

flask --app app ocpp-server --host 127.0.0.1 --port 9000
flask --app app ocpp-simulate --url ws://127.0.0.1:9000/ocpp [--url ...] --chargers 3 --id-tag TAG
flask --app app charger-command CHARGER ACTION key=value... [--wait S]
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

import data.ocpp.commands as ocpp_commands
from central.server import DEFAULT_HEARTBEAT_INTERVAL_S, CentralSystem
from central.simulator import SIMULATED_POWER_KW, CommandBehaviour, simulate
from data.audit.entries import COMMAND_LINE
from data.core.models import Charger, CommandStatus
from data.demo.showcase import DRIVER_ID_TAG
from web.db import get_db, read_scope, session_scope

F = TypeVar("F", bound=Callable[..., Any])


def seconds_option(
    name: str, default: float, low: float, high: float, help: str | None = None
) -> Callable[[F], F]:
    """``--NAME S``: a number of seconds from ``low`` to ``high``, its default shown in --help
    (the shape every duration of these commands shares)."""
    return click.option(
        name, default=default, show_default=True, type=click.FloatRange(low, high), help=help
    )


@click.command("ocpp-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--heartbeat-interval",
    default=DEFAULT_HEARTBEAT_INTERVAL_S,
    show_default=True,
    type=click.IntRange(10, 86_400),
    help="Seconds between heartbeats, told to chargers at boot.",
)
@click.option(
    "--reserve-lead",
    default=10,
    show_default=True,
    type=click.IntRange(0, 24 * 60),
    help="Minutes before a confirmed reservation starts to send ReserveNow to its charger.",
)
@seconds_option(
    "--command-timeout",
    ocpp_commands.DEFAULT_TIMEOUT_S,
    1,
    600,
    "Seconds a charger has to answer a command before it ends as timeout.",
)
@seconds_option(
    "--offline-after",
    ocpp_commands.DEFAULT_OFFLINE_AFTER_S,
    1,
    3600,
    "Seconds a command waits for a server holding its charger before it ends as offline.",
)
@with_appcontext
def ocpp_server(
    host: str,
    port: int,
    heartbeat_interval: int,
    reserve_lead: int,
    command_timeout: float,
    offline_after: float,
) -> None:
    """Run the OCPP 1.6J central system: chargers connect to ws://HOST:PORT/ocpp/<charger id>."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # it logs every message at INFO
    # It logs every connection at INFO: two lines per load balancer health check (several a
    # second). Chargers' connections are logged by polaris.ocpp.
    logging.getLogger("websockets.server").setLevel(logging.WARNING)
    central = CentralSystem(
        get_db(),
        heartbeat_interval_s=heartbeat_interval,
        reserve_lead=timedelta(minutes=reserve_lead),
        allow_no_password=allows_no_password(current_app.config),
        command_timeout_s=command_timeout,
        command_offline_after_s=offline_after,
        offline_after_s=int(current_app.config["OFFLINE_AFTER_S"]),
    )
    if not central.allow_no_password:
        click.echo("Chargers without an OCPP password are refused (production).")
    click.echo(f"OCPP 1.6J central system on ws://{host}:{port}/ocpp/<charger id> (Ctrl+C stops)")
    click.echo(f"Instance {central.instance_id}: the sender of the commands it delivers.")
    try:
        asyncio.run(central.serve_forever(host, port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    finally:
        central.close()


@click.command("ocpp-simulate")
@click.option(
    "--url",
    "urls",
    default=["ws://127.0.0.1:9000/ocpp"],
    multiple=True,
    show_default=True,
    help="Central system URL. Repeat it for several server instances: each charger connects "
    "to the first that accepts, in order, and so again when its connection drops (what one "
    "URL behind a load balancer does for a real charger).",
)
@click.option("--chargers", default=1, show_default=True, type=click.IntRange(1, 5000))
@click.option(
    "--charger-id",
    "charger_ids",
    multiple=True,
    help="Charger id to simulate (repeatable); default: the first --chargers chargers by id.",
)
@click.option(
    "--id-tag", default=DRIVER_ID_TAG, show_default=True, help="Id tag that starts the sessions."
)
@click.option("--password", default=None, help="OCPP (HTTP Basic) password of the chargers.")
@click.option("--meter-values", default=6, show_default=True, type=click.IntRange(0, 100_000))
@seconds_option("--interval", 5.0, 0.05, 3600)
@seconds_option("--heartbeat", 30.0, 0.1, 3600)
@click.option(
    "--power-kw", default=SIMULATED_POWER_KW, show_default=True, type=click.FloatRange(0.1, 1000)
)
@click.option("--unit", default="Wh", show_default=True, type=click.Choice(["Wh", "kWh"]))
@click.option(
    "--session/--no-session",
    default=True,
    show_default=True,
    help="Run one charging session after booting.",
)
@seconds_option(
    "--stay",
    0.0,
    0,
    7 * 86_400,
    "Seconds to stay connected afterwards, answering commands (RemoteStart, Reset, ...) and "
    "connecting again when the connection drops.",
)
@click.option(
    "--commands",
    "command_behaviour",
    default=CommandBehaviour.answer.value,
    show_default=True,
    type=click.Choice([b.value for b in CommandBehaviour]),
    help="How the chargers take commands: answer like a real charger, reject or ignore them.",
)
@seconds_option(
    "--answer-delay", 0.0, 0, 3600, "Seconds the chargers wait before answering a command."
)
@with_appcontext
def ocpp_simulate(
    urls: tuple[str, ...],
    chargers: int,
    charger_ids: tuple[str, ...],
    id_tag: str,
    password: str | None,
    meter_values: int,
    interval: float,
    heartbeat: float,
    power_kw: float,
    unit: str,
    session: bool,
    stay: float,
    command_behaviour: str,
    answer_delay: float,
) -> None:
    """Simulated chargers: boot, heartbeats, one charging session with meter values, stop;
    they answer commands (charger-command) while connected."""
    ids = list(charger_ids)
    if not ids:
        with get_db().session() as s:
            ids = list(s.scalars(select(Charger.id).order_by(Charger.id).limit(chargers)))
        if not ids:
            raise click.ClickException("No chargers in the database: load data first.")
    where = " or ".join(urls)
    click.echo(f"Simulating {len(ids)} charger(s) against {where} with id tag {id_tag}...")
    summaries = asyncio.run(
        simulate(
            urls,
            ids,
            id_tag,
            password=password,
            heartbeat_s=heartbeat,
            meter_values=meter_values,
            interval_s=interval,
            power_kw=power_kw,
            unit=unit,
            session=session,
            stay_s=stay,
            commands=CommandBehaviour(command_behaviour),
            answer_delay_s=answer_delay,
        )
    )
    failed = 0
    for summary in summaries:
        if summary.errors:
            failed += 1
            click.echo(f"{summary.charger_id}: failed: {summary.errors[0]}", err=True)
        elif not session:
            click.echo(f"{summary.charger_id}: connected, {summary.messages} messages")
        elif summary.transaction_id is None:
            click.echo(f"{summary.charger_id}: id tag {id_tag} was refused ({summary.status})")
        else:
            click.echo(
                f"{summary.charger_id}: transaction {summary.transaction_id}, "
                f"{summary.energy_wh / 1000:.3f} kWh, {summary.messages} messages"
            )
    if failed:
        raise click.exceptions.Exit(1)


# Polling the command's row while --wait lasts.
WAIT_POLL_S = 0.2


@click.command("charger-command")
@click.argument("charger_id", metavar="CHARGER")
@click.argument("action")
@click.argument("params", nargs=-1, metavar="[KEY=VALUE]...")
@seconds_option(
    "--wait",
    0.0,
    0,
    3600,
    "Seconds to wait for the answer (0: only ask). Exits non-zero unless accepted.",
)
@with_appcontext
def charger_command(charger_id: str, action: str, params: tuple[str, ...], wait: float) -> None:
    """Send ACTION (OCPP 1.6: Reset, UnlockConnector, ChangeAvailability,
    RemoteStartTransaction, RemoteStopTransaction, TriggerMessage, GetConfiguration,
    ChangeConfiguration, ClearCache) to CHARGER through the running ocpp-server, e.g.
    ``charger-command CP-1 Reset type=Soft --wait 35``."""
    values: dict[str, str] = {}
    for pair in params:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"Parameters are key=value, not {pair!r}")
        values[key] = value
    try:
        with session_scope() as s:
            row = ocpp_commands.operator_command(
                s, charger_id, action, values, datetime.now(UTC), actor=COMMAND_LINE
            )
    except ocpp_commands.CommandError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Command {row.id}: {action} {json.dumps(row.params)} to {charger_id}: pending")
    if not wait:
        return
    deadline = time.monotonic() + wait
    while not row.finished and time.monotonic() < deadline:
        time.sleep(WAIT_POLL_S)
        with read_scope() as s:
            found = ocpp_commands.command(s, row.id)
        row = found or row
    click.echo(f"Command {row.id}: {row.status}")
    if row.response is not None:
        click.echo(json.dumps(row.response, indent=2))
    if not row.finished:
        click.echo(f"No outcome after {wait:g} s (is an ocpp-server running?)", err=True)
        raise click.exceptions.Exit(2)
    if row.status != CommandStatus.accepted:
        raise click.exceptions.Exit(1)


def allows_no_password(config: Mapping[str, Any]) -> bool:
    """Chargers without an OCPP password may connect in development; in production only with
    POLARIS_OCPP_ALLOW_NO_PASSWORD=1 (a private network, chargers that cannot send one)."""
    return config["ENV"] != "production" or bool(config["OCPP_ALLOW_NO_PASSWORD"])


def register_ocpp_cli(server: Flask) -> None:
    server.cli.add_command(ocpp_server)
    server.cli.add_command(ocpp_simulate)
    server.cli.add_command(charger_command)
