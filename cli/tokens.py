"""Personal API tokens on the command line (``export``: the CSV exports as an admin account;
``commands``: the JSON API's commands to chargers).

flask --app app create-token EMAIL [--account ID] [--name TEXT] [--scope export|commands|me ...]
flask --app app revoke-token ID
flask --app app list-tokens
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import with_appcontext

from data.accounts.tokens import (
    DEFAULT_SCOPES,
    SCOPES,
    TokenError,
    create_token,
    list_tokens,
    revoke_token,
)
from data.audit.entries import COMMAND_LINE
from web.db import session_scope


@click.command("create-token")
@click.argument("email")
@click.option(
    "--account",
    "account_id",
    help="The account: an admin one when the person has several, or a customer one "
    "(commands and me scopes only).",
)
@click.option("--name", help="What the token is for (shown in list-tokens).")
@click.option(
    "--scope",
    "scopes",
    type=click.Choice(SCOPES),
    multiple=True,
    help="What the token may do (repeat for several): export (CSV exports), commands "
    "(commands to chargers through /api/v1), me (a customer account's own chargers, sessions "
    "and reservations: /api/v1/me). Default: export.",
)
@with_appcontext
def create_token_command(
    email: str, account_id: str | None, name: str | None, scopes: tuple[str, ...]
) -> None:
    """Create a personal API token for one of EMAIL's accounts; it is shown once."""
    try:
        with session_scope() as s:
            token = create_token(
                s,
                email,
                datetime.now(UTC),
                account_id=account_id,
                name=name,
                scopes=scopes or DEFAULT_SCOPES,
                actor=COMMAND_LINE,
            )
    except TokenError as exc:
        click.echo(str(exc), err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(
        f"Token {token.token_id} for {token.email} acts as account {token.account_id} "
        f"(scopes: {' '.join(token.scopes)}). It is shown only now; store it safely:",
        err=True,
    )
    click.echo(token.secret)


@click.command("revoke-token")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_token_command(token_id: int) -> None:
    """Revoke token TOKEN_ID: requests with it get 401 from now on."""
    try:
        with session_scope() as s:
            changed = revoke_token(s, token_id, datetime.now(UTC), actor=COMMAND_LINE)
    except TokenError as exc:
        click.echo(str(exc), err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(f"Token {token_id} {'revoked' if changed else 'was already revoked'}.")


@click.command("list-tokens")
@with_appcontext
def list_tokens_command() -> None:
    """Every API token: id, account, name, scopes, created, last used, revoked (times in UTC)."""

    def when(value: datetime | None) -> str:
        return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")

    with session_scope() as s:
        rows = list_tokens(s)
    if not rows:
        click.echo("No API tokens.")
    for row in rows:
        state = f"revoked {when(row.revoked_at)}" if row.revoked_at else "active"
        click.echo(
            f"{row.token_id}\t{row.prefix}…\t{row.account_id} ({row.email})\t{row.name or ''}\t"
            f"{' '.join(row.scopes)}\t"
            f"created {when(row.created_at)}\tlast used {when(row.last_used_at)}\t{state}"
        )


def register_token_cli(app: Flask) -> None:
    app.cli.add_command(create_token_command)
    app.cli.add_command(revoke_token_command)
    app.cli.add_command(list_tokens_command)
