"""What a driver (a customer account) may command, the one set of rules for the dashboard's
Start and Stop charging buttons (``pages/dashboard.py``) and a driver's API token
(``web/api.py``; an admin account's token may command anything and does not come here).

``start_charging``: RemoteStartTransaction with the account's own id tag, on a charger it may
see (public, or restricted and granted to it: ``visible_charger_condition``) that is Online
now; optionally on one connector, which must be one the charger reported over OCPP
(``charger_connectors``) and not out of order (otherwise the charger chooses: connectors are
not modelled per charger). ``stop_charging``: RemoteStopTransaction of the account's own session
in progress, read here (the page never names it; the API may name it, and it must then be
the account's own, in progress, on that charger). ``driver_command`` reads an API request's
action and parameters into one of the two. Each counts against ``check_command_rate`` in the
caller's transaction, after its own checks, so a refusal writes nothing and costs no quota.

A refusal is a ``DriverCommandRefused`` with words for the driver, the same on the page and in
the API: ``CommandForbidden`` when it is not this account's to ask (a charger it may not see,
another account's tag or session, an operator's action: 403), ``NotAvailableNow`` when it is,
but not now (not Online, no such connector, no id tag, nothing in progress: 409).

A driver sees only its own commands: ``account_command`` (the API), ``follow_command`` (where a
Start or Stop stands, for the page's poll).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.chargers.status import OFFLINE_AFTER_SECONDS, ChargerStatus, charger_status_expression
from data.charging.dashboard import active_session, charger_connectors, visible_charger_condition
from data.core.models import Charger, ChargingSession, CommandStatus
from data.ocpp.command_limits import check_command_rate
from data.ocpp.commands import (
    CommandError,
    CommandRow,
    NoIdTag,
    NotInProgress,
    RemoteStartTransactionParams,
    RemoteStopTransactionParams,
    command,
    request_command,
    validate_params,
)

START = "RemoteStartTransaction"
STOP = "RemoteStopTransaction"
# After the charger accepted, how long the page waits for the session to start (or end).
SESSION_WAIT = timedelta(seconds=60)


class DriverCommandRefused(CommandError):
    """A driver's command that is not sent; the message is for the driver."""


class CommandForbidden(DriverCommandRefused):
    """Not this account's to ask, now or ever (the API answers 403)."""


class NotAvailableNow(DriverCommandRefused):
    """The account may ask, but not in the state things are in now (the API answers 409)."""


NOT_VISIBLE = "Your account may not use this charger."
NOT_AVAILABLE = "This charger is not available to start right now."
NO_SUCH_CONNECTOR = "This charger has no connector {connector}."
CONNECTOR_OUT_OF_ORDER = "Connector {connector} of this charger is out of order right now."
NO_ID_TAG = "Your account has no charging card or app tag yet. Ask your operator for one."
NO_SESSION = "You have no charging session in progress."
NO_SESSION_HERE = "You have no charging session in progress on this charger."
NOT_YOURS = "You may stop only your own charging session in progress on this charger."
NOT_STOPPABLE = "This session can’t be stopped from here. Stop it at the charger."
OWN_TAG = "A driver starts with their own tag: leave id_tag out."
OWN_ACCOUNT = "A driver may start charging for their own account only."
BY_SESSION = "A driver stops their own session: give its session_id (or none), not a transaction."


def driver_may_not_send(action: str) -> str:
    return f"A driver's account may not send {action}."


# --- asking --------------------------------------------------------------------------------------


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
    connector_id: int | None = None,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> CommandRow:
    """RemoteStartTransaction with the account's id tag, on a charger it may see that is Online,
    on ``connector_id`` when given (one the charger reported, not out of order). Raises
    ``CommandForbidden`` (not visible, or unknown), ``NotAvailableNow`` (not Online, no such
    connector or out of order, no id tag) or ``TooManyCommands``."""
    status = startable_status(session, account_id, charger_id, now, offline_after_s)
    if status is None:
        raise CommandForbidden(NOT_VISIBLE)
    if status is not ChargerStatus.online:
        raise NotAvailableNow(NOT_AVAILABLE)
    params: dict[str, Any] = {"account_id": account_id}
    if connector_id is not None:
        reported = charger_connectors(session, [charger_id]).get(charger_id, [])
        connector = next((c for c in reported if c.connector_id == connector_id), None)
        if connector is None:
            raise NotAvailableNow(NO_SUCH_CONNECTOR.format(connector=connector_id))
        if connector.out_of_order:
            raise NotAvailableNow(CONNECTOR_OUT_OF_ORDER.format(connector=connector_id))
        params["connector_id"] = connector_id
    check_command_rate(session, account_id, now)
    try:
        # The account's id tag is looked up there, once; none: nothing is written.
        return request_command(
            session, charger_id, START, params, now, user_id=user_id, account_id=account_id
        )
    except NoIdTag:
        raise NotAvailableNow(NO_ID_TAG) from None


def stop_charging(
    session: Session,
    *,
    user_id: int,
    account_id: str,
    now: datetime,
    charger_id: str | None = None,
    session_id: str | None = None,
) -> CommandRow:
    """RemoteStopTransaction of the account's own session in progress: ``session_id`` when
    named (the API), else its latest one (the one the Active session banner shows); on
    ``charger_id`` when given. Raises ``CommandForbidden`` (a named session that is not the
    account's own in progress there), ``NotAvailableNow`` (none in progress, or one no charger
    reported over OCPP) or ``TooManyCommands``."""
    own = select(ChargingSession.id, ChargingSession.charger_id).where(
        ChargingSession.account_id == account_id, ChargingSession.ended_at.is_(None)
    )
    if charger_id is not None:
        own = own.where(ChargingSession.charger_id == charger_id)
    if session_id is not None:
        own = own.where(ChargingSession.id == session_id)
    found = session.execute(
        own.order_by(ChargingSession.started_at.desc(), ChargingSession.id.desc()).limit(1)
    ).first()
    if found is None:
        if session_id is not None:
            raise CommandForbidden(NOT_YOURS)
        raise NotAvailableNow(NO_SESSION if charger_id is None else NO_SESSION_HERE)
    check_command_rate(session, account_id, now)
    try:
        # Its open OCPP transaction is looked up there, once; none: nothing is written.
        return request_command(
            session,
            found.charger_id,
            STOP,
            {"session_id": found.id},
            now,
            user_id=user_id,
            account_id=account_id,
        )
    except NotInProgress:
        raise NotAvailableNow(NOT_STOPPABLE) from None


def driver_command(
    session: Session,
    *,
    user_id: int,
    account_id: str,
    charger_id: str,
    action: str,
    params: Mapping[str, Any],
    now: datetime,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> CommandRow:
    """A driver's API request: ``start_charging`` for RemoteStartTransaction (an optional
    ``connector_id``; ``account_id`` only its own, never an ``id_tag``), ``stop_charging`` for
    RemoteStopTransaction (an optional ``session_id``, never a ``transaction_id``); any other
    action is ``CommandForbidden``. Invalid parameters raise ``CommandError``."""
    if action == START:
        if "id_tag" in params:
            raise CommandForbidden(OWN_TAG)
        if params.get("account_id", account_id) != account_id:
            raise CommandForbidden(OWN_ACCOUNT)
        start = validate_params(START, {**params, "account_id": account_id})
        assert isinstance(start, RemoteStartTransactionParams)
        return start_charging(
            session,
            user_id=user_id,
            account_id=account_id,
            charger_id=charger_id,
            now=now,
            connector_id=start.connector_id,
            offline_after_s=offline_after_s,
        )
    if action == STOP:
        if "transaction_id" in params:
            raise CommandForbidden(BY_SESSION)
        named = None
        if params:
            stop = validate_params(STOP, params)
            assert isinstance(stop, RemoteStopTransactionParams)
            named = stop.session_id
        return stop_charging(
            session,
            user_id=user_id,
            account_id=account_id,
            now=now,
            charger_id=charger_id,
            session_id=named,
        )
    raise CommandForbidden(driver_may_not_send(action))


# --- reading -------------------------------------------------------------------------------------


def account_command(session: Session, command_id: int, account_id: str) -> CommandRow | None:
    """Command ``command_id`` if ``account_id`` asked for it; None otherwise (unknown or not
    its own: the caller cannot tell the two apart)."""
    row = command(session, command_id)
    return row if row is not None and row.account_id == account_id else None


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
    row = account_command(session, command_id, account_id)
    if row is None or row.action not in REFUSALS:
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
