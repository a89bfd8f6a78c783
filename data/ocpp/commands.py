"""Commands to chargers (OCPP 1.6: Reset, UnlockConnector, RemoteStartTransaction, ...) as rows
of ``charger_commands``.

Whoever asks calls ``request_command`` (operators through ``operator_command``, which also
records the request in the audit log; it validates the parameters, inserts a ``pending`` row
and, on PostgreSQL, notifies the OCPP servers on ``COMMANDS_CHANNEL`` when the transaction
commits). An OCPP server instance claims the pending commands of the chargers connected to it
(``claim_commands``: ``sent``, each claimed by one instance only), sends them and records the
answer (``record_answer``). Any instance expires what nobody finished (``expire_commands``):
pending too long -> ``offline``, sent and unanswered too long -> ``timeout``. ``command`` and
``command_log`` read them back as ``CommandRow``; ``started_session_id`` links an accepted
RemoteStartTransaction to the session the charger then opened: the first OCPP StartTransaction
on that charger (and connector, when one was given), with the command's id tag, started no
earlier than the command was asked for (less ``CLOCK_SKEW``: the start time is the charger's
clock).

Parameters are snake_case (``connector_id``, ``type``, ``id_tag``, ``account_id``,
``session_id``, ``transaction_id``, ``requested_message``, ``key``, ``value``) and validated by
one pydantic model per action; ``CommandToSend.payload`` is what goes into the OCPP call.

ReserveNow and CancelReservation are made by Polaris for a reservation only
(``data.ocpp.reservations``, with its ``ocpp_reservation_id``); people (the pages, the API, the
command line) are refused them (``check_askable``). When such a command ends (``record_answer``,
``expire_commands``), the reservation row records the outcome in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from sqlalchemy import String, and_, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.selectable import NamedFromClause

from data.audit.entries import Action, Actor, record
from data.core.db import core_rows
from data.core.models import (
    Charger,
    ChargerCommand,
    CommandStatus,
    IdTag,
    OcppTransaction,
)
from data.ocpp.messages import ocpp_time

COMMANDS_CHANNEL = "polaris_commands"  # PostgreSQL NOTIFY channel; the payload is the charger id
DEFAULT_OFFLINE_AFTER_S = 10.0
DEFAULT_TIMEOUT_S = 30.0
OPEN = (CommandStatus.pending, CommandStatus.sent)
FINISHED = frozenset(CommandStatus) - set(OPEN)
# A charger's answer statuses that mean it did (or will do) what it was asked.
ACCEPTING_ANSWERS = frozenset({"Accepted", "RebootRequired", "Scheduled", "Unlocked"})
# How far before a RemoteStart was asked the session it opened may say it started (the
# charger's clock).
CLOCK_SKEW = timedelta(minutes=1)
# OCPP 1.6's AuthorizationKey is the charger's password (security profile 2): a
# ChangeConfiguration of it is audited without its value.
AUTHORIZATION_KEY = "authorizationkey"


class CommandError(ValueError):
    """A command that cannot be asked for: unknown charger or action, or invalid parameters.
    The message says what is wrong, for a person."""


class NoIdTag(CommandError):
    """RemoteStartTransaction for an account that has no id tag to send."""


class NotInProgress(CommandError):
    """RemoteStopTransaction of a session that has no OCPP transaction open on the charger."""


# --- the actions and their parameters ------------------------------------------------------------


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Parameters Polaris resolves before sending (an account to its id tag, a session to its
    # OCPP transaction); they stay in the stored params but are not part of the OCPP call.
    local: ClassVar[frozenset[str]] = frozenset()


class ResetParams(_Params):
    type: Literal["Soft", "Hard"]


class UnlockConnectorParams(_Params):
    connector_id: int = Field(ge=1)


class ChangeAvailabilityParams(_Params):
    connector_id: int = Field(ge=0)  # 0: the whole charger
    type: Literal["Operative", "Inoperative"]


class RemoteStartTransactionParams(_Params):
    id_tag: str | None = Field(default=None, min_length=1, max_length=20)  # OCPP CiString20
    account_id: str | None = None  # sent as the account's id tag
    connector_id: int | None = Field(default=None, ge=1)
    local: ClassVar[frozenset[str]] = frozenset({"account_id"})

    @model_validator(mode="after")
    def _one_driver(self) -> RemoteStartTransactionParams:
        if (self.id_tag is None) == (self.account_id is None):
            raise ValueError("give id_tag or account_id (one of them)")
        return self


class RemoteStopTransactionParams(_Params):
    transaction_id: int | None = Field(default=None, ge=1)
    session_id: str | None = None  # sent as its OCPP transaction id
    local: ClassVar[frozenset[str]] = frozenset({"session_id"})

    @model_validator(mode="after")
    def _one_transaction(self) -> RemoteStopTransactionParams:
        if (self.transaction_id is None) == (self.session_id is None):
            raise ValueError("give transaction_id or session_id (one of them)")
        return self


class TriggerMessageParams(_Params):
    requested_message: Literal["StatusNotification", "Heartbeat", "MeterValues", "BootNotification"]
    connector_id: int | None = Field(default=None, ge=1)


class GetConfigurationParams(_Params):
    key: list[str] | None = None  # None: every key

    @field_validator("key", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # From a command line: key=HeartbeatInterval,MeterValueSampleInterval
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("key")
    @classmethod
    def _keys(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not 1 <= len(k) <= 50 for k in value):
            raise ValueError("each key has 1 to 50 characters")
        return value


class ChangeConfigurationParams(_Params):
    key: str = Field(min_length=1, max_length=50)
    value: str = Field(max_length=500)


class ClearCacheParams(_Params):
    pass


class ReserveNowParams(_Params):
    connector_id: int = Field(ge=0)
    expiry_date: AwareDatetime  # sent as an OCPP timestamp
    id_tag: str = Field(min_length=1, max_length=20)
    reservation_id: int = Field(ge=1)  # the ocpp_reservations row's id

    @field_serializer("expiry_date")
    def _ocpp(self, value: datetime) -> str:
        return ocpp_time(value)


class CancelReservationParams(_Params):
    reservation_id: int = Field(ge=1)


ACTIONS: dict[str, type[_Params]] = {
    "Reset": ResetParams,
    "UnlockConnector": UnlockConnectorParams,
    "ChangeAvailability": ChangeAvailabilityParams,
    "RemoteStartTransaction": RemoteStartTransactionParams,
    "RemoteStopTransaction": RemoteStopTransactionParams,
    "TriggerMessage": TriggerMessageParams,
    "GetConfiguration": GetConfigurationParams,
    "ChangeConfiguration": ChangeConfigurationParams,
    "ClearCache": ClearCacheParams,
    "ReserveNow": ReserveNowParams,
    "CancelReservation": CancelReservationParams,
}
# Made by Polaris for a reservation only (data.ocpp.reservations): nobody asks for them.
RESERVATION_ACTIONS = frozenset({"ReserveNow", "CancelReservation"})
# What people (the pages, the API, the command line) may ask for.
ASKABLE_ACTIONS = {a: m for a, m in ACTIONS.items() if a not in RESERVATION_ACTIONS}


def check_askable(action: str) -> None:
    """``CommandError`` for an action people may not ask for: ReserveNow and CancelReservation
    follow the reservations (made, cancelled) and nothing else."""
    if action in RESERVATION_ACTIONS:
        raise CommandError(
            f"{action} is sent by Polaris for reservations only: make or cancel the "
            "reservation instead (/admin/reservations)."
        )


def validate_params(
    action: str, params: Mapping[str, Any], *, for_reservation: bool = False
) -> _Params:
    """The parameters of ``action`` checked and typed; ``CommandError`` says what is wrong.
    ReserveNow and CancelReservation only ``for_reservation`` (see ``check_askable``)."""
    if not for_reservation:
        check_askable(action)
    model = ACTIONS.get(action)
    if model is None:
        raise CommandError(f"Unknown action {action!r}; one of: {', '.join(ASKABLE_ACTIONS)}")
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise CommandError(f"{action}: " + "; ".join(_problem(e) for e in exc.errors())) from None


def _problem(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown parameter {where!r}"
    if error["type"] == "missing":
        return f"{where} is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


# --- rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandRow:
    id: int
    charger_id: str
    action: str
    params: dict[str, Any]
    status: CommandStatus
    response: dict[str, Any] | None
    requested_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    user_id: int | None
    account_id: str | None
    sent_by: str | None
    ocpp_reservation_id: int | None  # ReserveNow / CancelReservation: the reservation's row

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class CommandToSend:
    id: int
    charger_id: str
    action: str  # the OCPP 1.6 action, e.g. "Reset"
    payload: dict[str, Any]  # the call's fields in snake_case, e.g. {"type": "Soft"}


def command_row(c: ChargerCommand) -> CommandRow:
    """The typed row of a stored command (params and answer read from their JSON)."""
    return CommandRow(
        id=c.id,
        charger_id=c.charger_id,
        action=c.action,
        params=json.loads(c.params),
        status=CommandStatus(c.status),
        response=None if c.response is None else json.loads(c.response),
        requested_at=c.requested_at,
        sent_at=c.sent_at,
        answered_at=c.answered_at,
        user_id=c.user_id,
        account_id=c.account_id,
        sent_by=c.sent_by,
        ocpp_reservation_id=c.ocpp_reservation_id,
    )


# --- asking ------------------------------------------------------------------------------------


def request_command(
    session: Session,
    charger_id: str,
    action: str,
    params: Mapping[str, Any],
    now: datetime,
    *,
    user_id: int | None = None,
    account_id: str | None = None,
    ocpp_reservation_id: int | None = None,
) -> CommandRow:
    """Ask ``charger_id`` to do ``action``: a ``pending`` row (and, on PostgreSQL, a NOTIFY to
    the OCPP servers, delivered when the caller's transaction commits). ``user_id`` and
    ``account_id`` say who asked (None from the command line and for Polaris itself);
    ``ocpp_reservation_id``, the reservation a ReserveNow / CancelReservation is for, is what
    allows those two. Raises ``CommandError`` for an unknown charger or action, invalid
    parameters, ``NoIdTag`` for an account without an id tag and ``NotInProgress`` for a session
    not in progress on this charger (each looked up here only, so a caller with its own words for
    them catches these)."""
    if session.get(Charger, charger_id) is None:
        raise CommandError(f"Unknown charger {charger_id!r}")
    checked = validate_params(action, params, for_reservation=ocpp_reservation_id is not None)
    stored = checked.model_dump(mode="json", exclude_none=True)
    if isinstance(checked, RemoteStartTransactionParams) and checked.account_id is not None:
        stored["id_tag"] = _id_tag_of(session, checked.account_id)
    if isinstance(checked, RemoteStopTransactionParams) and checked.session_id is not None:
        stored["transaction_id"] = _transaction_of(session, charger_id, checked.session_id)
    row = ChargerCommand(
        charger_id=charger_id,
        action=action,
        params=json.dumps(stored, sort_keys=True),
        user_id=user_id,
        account_id=account_id,
        requested_at=now,
        status=CommandStatus.pending,
        ocpp_reservation_id=ocpp_reservation_id,
    )
    session.add(row)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :charger_id)"),
            {"channel": COMMANDS_CHANNEL, "charger_id": charger_id},
        )
    return command_row(row)


def operator_command(
    session: Session,
    charger_id: str,
    action: str,
    params: Mapping[str, Any],
    now: datetime,
    *,
    actor: Actor,
) -> CommandRow:
    """``request_command`` for an operator (a charger's page, an admin's API token, the command
    line): asked as ``actor``, and recorded in the audit log with the parameters as stored."""
    row = request_command(
        session, charger_id, action, params, now, user_id=actor.user_id, account_id=actor.account_id
    )
    params_kept = dict(row.params)
    if str(params_kept.get("key", "")).lower() == AUTHORIZATION_KEY and "value" in params_kept:
        params_kept["value"] = "(hidden)"
    after = {"command_id": row.id, "action": row.action, "params": params_kept}
    record(session, actor, now, Action.command_requested, "charger", charger_id, after=after)
    return row


def _id_tag_of(session: Session, account_id: str) -> str:
    # A blocked (lost) card is never sent: the charger would answer its start with Blocked.
    tag = session.scalar(
        select(IdTag.id_tag)
        .where(IdTag.account_id == account_id, IdTag.blocked_at.is_(None))
        .order_by(IdTag.id_tag)
        .limit(1)
    )
    if tag is None:
        raise NoIdTag(
            f"RemoteStartTransaction: account {account_id!r} has no id tag (none unblocked)"
        )
    return tag


def _transaction_of(session: Session, charger_id: str, session_id: str) -> int:
    transaction_id = session.scalar(
        select(OcppTransaction.id).where(
            OcppTransaction.session_id == session_id,
            OcppTransaction.charger_id == charger_id,
            OcppTransaction.stopped_at.is_(None),
        )
    )
    if transaction_id is None:
        raise NotInProgress(
            f"RemoteStopTransaction: session {session_id!r} is not in progress on {charger_id}"
        )
    return transaction_id


# --- delivering --------------------------------------------------------------------------------


def _claim_statement(postgresql: bool) -> Update:
    """Mark the oldest pending commands of some chargers ``sent`` and return them, in one
    statement. PostgreSQL gets the charger ids as one array parameter: an instance holding 500
    chargers would otherwise send 500 bind parameters with every claim, whose rendering and
    planning cost more than the query (measured: a claim 13.6 -> 2.4 ms, 5 -> 1.1 ms of CPU)."""
    chargers = (
        ChargerCommand.charger_id == any_(bindparam("charger_ids", type_=ARRAY(String)))
        if postgresql
        else ChargerCommand.charger_id.in_(bindparam("charger_ids", expanding=True))
    )
    pending = ChargerCommand.status == CommandStatus.pending
    oldest = select(ChargerCommand.id).where(chargers, pending).order_by(ChargerCommand.id)
    oldest = oldest.limit(bindparam("limit"))
    picked: NamedFromClause
    if postgresql:
        # In a CTE it runs once: as a subquery of the UPDATE, PostgreSQL may run it again for
        # each row, skip the rows this statement already locked, and take more than the limit.
        picked = oldest.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
    else:
        picked = oldest.subquery("picked")
    return (
        update(ChargerCommand)
        .where(ChargerCommand.id.in_(select(picked.c.id)), pending)
        .values(status=CommandStatus.sent, sent_at=bindparam("now"), sent_by=bindparam("by"))
        .returning(
            ChargerCommand.id,
            ChargerCommand.charger_id,
            ChargerCommand.action,
            ChargerCommand.params,
        )
    )


_CLAIM = {
    dialect: _claim_statement(dialect == "postgresql") for dialect in ("postgresql", "sqlite")
}


def claim_commands(
    session: Session,
    charger_ids: Sequence[str],
    instance: str,
    now: datetime,
    limit: int = 200,
) -> list[CommandToSend]:
    """The pending commands of ``charger_ids`` (the chargers connected to ``instance``), oldest
    first, marked ``sent`` by ``instance``, in one statement. Two instances never claim one
    command: PostgreSQL locks the rows it takes (``FOR UPDATE SKIP LOCKED``: another claimer
    skips them); SQLite runs one writer at a time, and the UPDATE only changes a row still
    ``pending``."""
    if not charger_ids:
        return []
    rows = core_rows(
        session,
        _CLAIM[session.get_bind().dialect.name],
        {"charger_ids": list(charger_ids), "limit": limit, "now": now, "by": instance[:128]},
    ).all()
    claimed: list[CommandToSend] = []
    for command_id, charger_id, action, params in sorted(rows):  # RETURNING has no order
        # The stored params were resolved when asked (an account's id tag, a session's
        # transaction); what only Polaris knows stays out of the call.
        local = ACTIONS[action].local
        payload = {k: v for k, v in json.loads(params).items() if k not in local}
        claimed.append(CommandToSend(command_id, charger_id, action, payload))
    return claimed


def release_commands(session: Session, command_ids: Sequence[int], instance: str) -> int:
    """Give back to ``pending`` the commands ``instance`` claimed but will not send (it is
    stopping: a claim already running in its thread finished after the stop); another instance
    then delivers them. Only what is still ``sent`` by ``instance``; how many."""
    if not command_ids:
        return 0
    released = session.execute(
        update(ChargerCommand)
        .where(
            ChargerCommand.id.in_(list(command_ids)),
            ChargerCommand.status == CommandStatus.sent,
            ChargerCommand.sent_by == instance[:128],
        )
        .values(status=CommandStatus.pending, sent_at=None, sent_by=None)
        .returning(ChargerCommand.id)
        .execution_options(synchronize_session=False)
    ).all()
    return len(released)


def answer_status(response: Mapping[str, Any]) -> CommandStatus:
    """``accepted`` or ``rejected`` from a charger's answer: Accepted, RebootRequired,
    Scheduled and Unlocked are accepted; Rejected, NotSupported, UnlockFailed, ... rejected.
    An answer without a status (GetConfiguration's) is accepted."""
    status = response.get("status")
    if status is None or str(status) in ACCEPTING_ANSWERS:
        return CommandStatus.accepted
    return CommandStatus.rejected


def record_answer(
    session: Session,
    command_id: int,
    status: CommandStatus,
    response: Mapping[str, Any] | None,
    now: datetime,
) -> bool:
    """The end of a sent command: ``status`` (accepted, rejected, failed, timeout, offline) and
    the charger's answer as sent (or the error). False when the command was no longer ``sent``
    (expired meanwhile): a late answer does not rewrite the outcome."""
    if status in OPEN:
        raise ValueError(f"an answer ends a command; {status} does not")
    ended = session.execute(
        update(ChargerCommand)
        .where(ChargerCommand.id == command_id, ChargerCommand.status == CommandStatus.sent)
        .values(
            status=status,
            response=None if response is None else json.dumps(response, default=str),
            answered_at=now,
        )
        .returning(ChargerCommand.action, ChargerCommand.ocpp_reservation_id)
        .execution_options(synchronize_session=False)
    ).all()
    for action, ocpp_reservation_id in ended:
        if ocpp_reservation_id is not None:
            _reservation_command_ended(session, ocpp_reservation_id, action, status, response, now)
    return bool(ended)


@dataclass(frozen=True)
class Expired:
    offline: int  # pending commands no instance claimed in time
    timeout: int  # sent commands the charger did not answer in time


def expire_commands(
    session: Session,
    now: datetime,
    offline_after_s: float = DEFAULT_OFFLINE_AFTER_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Expired:
    """End what nobody finished: pending since ``offline_after_s`` -> ``offline`` (no instance
    holds the charger), sent since ``timeout_s`` -> ``timeout`` (no answer, or its instance
    died). Any instance may run it, at any time, as often as it likes. A reservation's command
    that ends so is recorded on the reservation as ``no answer``."""
    ended = {
        CommandStatus.offline: and_(
            ChargerCommand.status == CommandStatus.pending,
            ChargerCommand.requested_at <= now - timedelta(seconds=offline_after_s),
        ),
        CommandStatus.timeout: and_(
            ChargerCommand.status == CommandStatus.sent,
            ChargerCommand.sent_at.is_not(None),
            ChargerCommand.sent_at <= now - timedelta(seconds=timeout_s),
        ),
    }
    counts: dict[CommandStatus, int] = {}
    for status, condition in ended.items():
        rows = session.execute(
            update(ChargerCommand)
            .where(condition)
            .values(status=status, answered_at=now)
            .returning(ChargerCommand.action, ChargerCommand.ocpp_reservation_id)
            .execution_options(synchronize_session=False)
        ).all()
        counts[status] = len(rows)
        for action, ocpp_reservation_id in rows:
            if ocpp_reservation_id is not None:
                _reservation_command_ended(session, ocpp_reservation_id, action, status, None, now)
    return Expired(counts[CommandStatus.offline], counts[CommandStatus.timeout])


def _reservation_command_ended(
    session: Session,
    ocpp_reservation_id: int,
    action: str,
    status: CommandStatus,
    response: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    # Imported here: data.ocpp.reservations makes its commands with this module.
    from data.ocpp.reservations import command_ended

    command_ended(session, ocpp_reservation_id, action, status, response, now)


# --- reading -----------------------------------------------------------------------------------


def command(session: Session, command_id: int) -> CommandRow | None:
    row = session.get(ChargerCommand, command_id, populate_existing=True)
    return None if row is None else command_row(row)


def command_log(
    session: Session, charger_id: str | None = None, limit: int = 100
) -> list[CommandRow]:
    """The latest commands (of one charger, or the fleet), newest first."""
    if charger_id is None:
        statement = select(ChargerCommand).order_by(ChargerCommand.id.desc())
    else:
        statement = (
            select(ChargerCommand)
            .where(ChargerCommand.charger_id == charger_id)
            .order_by(ChargerCommand.requested_at.desc(), ChargerCommand.id.desc())
        )
    return [command_row(c) for c in session.scalars(statement.limit(limit))]


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
