"""A driver's own Start charging and Stop charging (the dashboard's buttons): every check that
the browser cannot be trusted with, then one command row.

``start_charging`` asks a charger the account may see, and that is Online now, to start a
transaction with the account's id tag (the charger chooses the connector: connectors are not
modelled per charger). ``stop_charging`` stops the account's own session in progress, read here,
never named by the browser. Both count against ``check_command_rate`` in the caller's
transaction. ``follow_command`` says where a driver's command stands, for the page's poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.chargers.status import OFFLINE_AFTER_SECONDS, ChargerStatus, charger_status_expression
from data.charging.dashboard import active_session, visible_charger_condition
from data.core.models import Charger, CommandStatus, IdTag, OcppTransaction
from data.ocpp.command_limits import check_command_rate
from data.ocpp.commands import CommandError, CommandRow, command, request_command

START = "RemoteStartTransaction"
STOP = "RemoteStopTransaction"
# After the charger accepted, how long the page waits for the session to start (or end).
SESSION_WAIT = timedelta(seconds=60)


class DriverCommandRefused(CommandError):
    """A driver's command that is not sent; the message is for the driver."""


NOT_AVAILABLE = "This charger is not available to start right now."
NO_ID_TAG = "Your account has no charging card or app tag yet. Ask your operator for one."
NO_SESSION = "You have no charging session in progress."
NOT_STOPPABLE = "This session can’t be stopped from here. Stop it at the charger."


def startable_status(
    session: Session,
    account_id: str,
    charger_id: str,
    now: datetime,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> ChargerStatus | None:
    """The charger's status now, if ``account_id`` may see it (None: unknown or not visible)."""
    status = session.scalar(
        select(charger_status_expression(now, offline_after_s)).where(
            Charger.id == charger_id, visible_charger_condition(account_id)
        )
    )
    return None if status is None else ChargerStatus(status)


def start_charging(
    session: Session,
    *,
    user_id: int,
    account_id: str,
    charger_id: str,
    now: datetime,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> CommandRow:
    """RemoteStartTransaction with the account's id tag, on a charger it may see that is Online.
    Raises ``DriverCommandRefused`` (not visible, not Online, no id tag) or ``TooManyCommands``."""
    status = startable_status(session, account_id, charger_id, now, offline_after_s)
    if status is not ChargerStatus.online:
        raise DriverCommandRefused(NOT_AVAILABLE)
    if session.scalar(select(IdTag.id_tag).where(IdTag.account_id == account_id).limit(1)) is None:
        raise DriverCommandRefused(NO_ID_TAG)
    check_command_rate(session, account_id, now)
    return request_command(
        session,
        charger_id,
        START,
        {"account_id": account_id},
        now,
        user_id=user_id,
        account_id=account_id,
    )


def stop_charging(session: Session, *, user_id: int, account_id: str, now: datetime) -> CommandRow:
    """RemoteStopTransaction of the account's own session in progress (read here). Raises
    ``DriverCommandRefused`` (none in progress, or one no charger reported over OCPP) or
    ``TooManyCommands``."""
    active = active_session(session, account_id, now)
    if active is None:
        raise DriverCommandRefused(NO_SESSION)
    charger_id = session.scalar(
        select(OcppTransaction.charger_id).where(
            OcppTransaction.session_id == active.session_id, OcppTransaction.stopped_at.is_(None)
        )
    )
    if charger_id is None:
        raise DriverCommandRefused(NOT_STOPPABLE)
    check_command_rate(session, account_id, now)
    return request_command(
        session,
        charger_id,
        STOP,
        {"session_id": active.session_id},
        now,
        user_id=user_id,
        account_id=account_id,
    )


class Progress(StrEnum):
    waiting = "waiting"  # not answered yet, or accepted and the session not there yet
    done = "done"  # the session started (Start) or ended (Stop)
    refused = "refused"  # the charger said no, did not answer, or is not connected


@dataclass(frozen=True)
class Followed:
    progress: Progress
    status: CommandStatus | None  # None: no such command of this account
    message: str  # for the driver; empty while waiting or when done


REFUSALS = {
    START: {
        CommandStatus.rejected: "The charger refused to start.",
        CommandStatus.failed: "The charger could not start (it answered with an error).",
    },
    STOP: {
        CommandStatus.rejected: "The charger refused to stop.",
        CommandStatus.failed: "The charger could not stop (it answered with an error).",
    },
}
NO_ANSWER = "The charger did not answer."
NOT_CONNECTED = "The charger is not connected."
NO_SESSION_YET = "The charger accepted, but no session has started. Plug in and try again."
STILL_RUNNING = "The charger accepted, but the session is still running."
GONE = "That request is no longer known."


def follow_command(session: Session, account_id: str, command_id: int, now: datetime) -> Followed:
    """Where the account's Start or Stop command ``command_id`` stands. A command of another
    account reads as unknown. After an accepted Start, done once the account has a session in
    progress; after an accepted Stop, once that session is no longer in progress."""
    row = command(session, command_id)
    if row is None or row.account_id != account_id or row.action not in REFUSALS:
        return Followed(Progress.refused, None, GONE)
    if not row.finished:
        return Followed(Progress.waiting, row.status, "")
    if row.status is CommandStatus.timeout:
        return Followed(Progress.refused, row.status, NO_ANSWER)
    if row.status is CommandStatus.offline:
        return Followed(Progress.refused, row.status, NOT_CONNECTED)
    if row.status is not CommandStatus.accepted:
        return Followed(Progress.refused, row.status, REFUSALS[row.action][row.status])
    active = active_session(session, account_id, now)
    late = row.answered_at is not None and now - row.answered_at > SESSION_WAIT
    if row.action == START:
        if active is not None:
            return Followed(Progress.done, row.status, "")
        if late:
            return Followed(Progress.refused, row.status, NO_SESSION_YET)
        return Followed(Progress.waiting, row.status, "")
    if active is None or active.session_id != row.params.get("session_id"):
        return Followed(Progress.done, row.status, "")
    if late:
        return Followed(Progress.refused, row.status, STILL_RUNNING)
    return Followed(Progress.waiting, row.status, "")
