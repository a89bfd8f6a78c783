"""How many commands an account may ask for: a few a minute, so a driver's page or a token
cannot flood a charger or the OCPP servers. Counted from the commands table itself, so every app
worker and machine sees the same count."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.core.models import ChargerCommand
from data.ocpp.commands import CommandError

COMMANDS_PER_MINUTE = 5
WINDOW = timedelta(minutes=1)


class TooManyCommands(CommandError):
    """The account asked for ``COMMANDS_PER_MINUTE`` commands within the last minute."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"Too many commands: at most {COMMANDS_PER_MINUTE} a minute. "
            f"Try again in {retry_after_s} s."
        )


def check_command_rate(
    session: Session, account_id: str, now: datetime, limit: int = COMMANDS_PER_MINUTE
) -> None:
    """Raise ``TooManyCommands`` when ``account_id`` asked for ``limit`` commands in the minute
    before ``now``. Call it in the transaction that then writes the command."""
    since = now - WINDOW
    recent = select(ChargerCommand.requested_at).where(
        ChargerCommand.account_id == account_id, ChargerCommand.requested_at > since
    )
    count, oldest = session.execute(
        select(func.count(), func.min(recent.subquery().c.requested_at))
    ).one()
    if count >= limit:
        wait = (oldest + WINDOW - now).total_seconds() if oldest is not None else 60
        raise TooManyCommands(max(1, math.ceil(wait)))
