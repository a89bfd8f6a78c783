"""Who may ask for which command, and what a driver's command led to.

An admin account may send any command to any charger. A customer (driver) account may only
start charging (RemoteStartTransaction) with its own id tag on a charger it may see (public,
or restricted and granted to it: ``data.charging.dashboard.visible_charger_condition``), and
stop (RemoteStopTransaction) its own session in progress. ``driver_command`` checks that and
returns the parameters to send, with the driver's account forced in; anything else raises
``CommandForbidden``. A driver sees only its own account's commands (``account_command``).

``started_session_id`` links an accepted RemoteStartTransaction to the session the charger then
opened: the first OCPP StartTransaction on that charger (and connector, when one was given),
with the command's id tag, started no earlier than the command was asked for (less
``CLOCK_SKEW``: the start time is the charger's clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.charging.dashboard import visible_charger_condition
from data.core.models import (
    Charger,
    ChargerCommand,
    ChargingSession,
    CommandStatus,
    OcppTransaction,
)
from data.ocpp.commands import CommandError, CommandRow, command

DRIVER_ACTIONS = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})
CLOCK_SKEW = timedelta(minutes=1)


class CommandForbidden(CommandError):
    """The account may not ask for this command; the message says why, for a person."""


def charger_visible_to(session: Session, charger_id: str, account_id: str) -> bool:
    """Whether ``account_id`` may see ``charger_id`` (public, or granted to it)."""
    found = session.scalar(
        select(Charger.id).where(Charger.id == charger_id, visible_charger_condition(account_id))
    )
    return found is not None


def driver_command(
    session: Session,
    account_id: str,
    charger_id: str,
    action: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The parameters a customer account may send: RemoteStartTransaction on a charger it may
    see, as itself (``account_id`` forced; an ``id_tag`` or another account refused), or
    RemoteStopTransaction of its own session in progress on that charger. ``CommandForbidden``
    otherwise. (The parameters themselves are validated by ``request_command``.)"""
    if action not in DRIVER_ACTIONS:
        raise CommandForbidden(f"A driver's account may not send {action}.")
    if not charger_visible_to(session, charger_id, account_id):
        raise CommandForbidden(f"This account may not use charger {charger_id}.")
    if action == "RemoteStartTransaction":
        if "id_tag" in params:
            raise CommandForbidden("A driver starts with their own tag: leave id_tag out.")
        if params.get("account_id", account_id) != account_id:
            raise CommandForbidden("A driver may start charging for their own account only.")
        return {**params, "account_id": account_id}
    if "transaction_id" in params:
        raise CommandForbidden("A driver stops their own session: give its session_id.")
    session_id = params.get("session_id")
    own = None
    if isinstance(session_id, str):
        own = session.scalar(
            select(ChargingSession.id).where(
                ChargingSession.id == session_id,
                ChargingSession.account_id == account_id,
                ChargingSession.charger_id == charger_id,
                ChargingSession.ended_at.is_(None),
            )
        )
    if own is None:
        raise CommandForbidden(
            "A driver may stop only their own session in progress on this charger."
        )
    return dict(params)


def account_command(session: Session, command_id: int, account_id: str) -> CommandRow | None:
    """Command ``command_id`` if ``account_id`` asked for it; None otherwise (unknown or not
    its own: the caller cannot tell the two apart)."""
    owner = session.scalar(select(ChargerCommand.account_id).where(ChargerCommand.id == command_id))
    if owner is None or owner != account_id:
        return None
    return command(session, command_id)


def started_session_id(session: Session, row: CommandRow) -> str | None:
    """The session an accepted RemoteStartTransaction started, once the charger sent its
    StartTransaction; None before that, for other commands and for refused ones."""
    if row.action != "RemoteStartTransaction" or row.status != CommandStatus.accepted:
        return None
    id_tag = row.params.get("id_tag")
    if id_tag is None:
        return None
    statement = select(OcppTransaction.session_id).where(
        OcppTransaction.charger_id == row.charger_id,
        OcppTransaction.id_tag == id_tag,
        OcppTransaction.started_at >= row.requested_at - CLOCK_SKEW,
        OcppTransaction.session_id.is_not(None),
    )
    connector = row.params.get("connector_id")
    if connector is not None:
        statement = statement.where(OcppTransaction.connector_id == connector)
    return session.scalar(
        statement.order_by(OcppTransaction.started_at, OcppTransaction.id).limit(1)
    )
