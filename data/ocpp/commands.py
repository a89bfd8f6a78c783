"""Commands to chargers (OCPP 1.6: Reset, UnlockConnector, RemoteStartTransaction, ...) as rows
of ``charger_commands``.

Whoever asks calls ``request_command`` (it validates the parameters, inserts a ``pending`` row
and, on PostgreSQL, notifies the OCPP servers on ``COMMANDS_CHANNEL`` when the transaction
commits). An OCPP server instance claims the pending commands of the chargers connected to it
(``claim_commands``: ``sent``, each claimed by one instance only), sends them and records the
answer (``record_answer``). Any instance expires what nobody finished (``expire_commands``):
pending too long -> ``offline``, sent and unanswered too long -> ``timeout``. ``command`` and
``command_log`` read them back as ``CommandRow``.

Parameters are snake_case (``connector_id``, ``type``, ``id_tag``, ``account_id``,
``session_id``, ``transaction_id``, ``requested_message``, ``key``, ``value``) and validated by
one pydantic model per action; ``CommandToSend.payload`` is what goes into the OCPP call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import and_, select, text, update
from sqlalchemy.orm import Session

from data.core.db import rows_changed
from data.core.models import (
    Charger,
    ChargerCommand,
    CommandStatus,
    IdTag,
    OcppTransaction,
)

COMMANDS_CHANNEL = "polaris_commands"  # PostgreSQL NOTIFY channel; the payload is the charger id
DEFAULT_OFFLINE_AFTER_S = 10.0
DEFAULT_TIMEOUT_S = 30.0
OPEN = (CommandStatus.pending, CommandStatus.sent)
FINISHED = frozenset(CommandStatus) - set(OPEN)
# A charger's answer statuses that mean it did (or will do) what it was asked.
ACCEPTING_ANSWERS = frozenset({"Accepted", "RebootRequired", "Scheduled", "Unlocked"})


class CommandError(ValueError):
    """A command that cannot be asked for: unknown charger or action, or invalid parameters.
    The message says what is wrong, for a person."""


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
}


def validate_params(action: str, params: Mapping[str, Any]) -> _Params:
    """The parameters of ``action`` checked and typed; ``CommandError`` says what is wrong."""
    model = ACTIONS.get(action)
    if model is None:
        raise CommandError(f"Unknown action {action!r}; one of: {', '.join(ACTIONS)}")
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
) -> CommandRow:
    """Ask ``charger_id`` to do ``action``: a ``pending`` row (and, on PostgreSQL, a NOTIFY to
    the OCPP servers, delivered when the caller's transaction commits). ``user_id`` and
    ``account_id`` say who asked (None from the command line). Raises ``CommandError`` for an
    unknown charger or action, invalid parameters, an account without an id tag, or a session
    that is not in progress on this charger."""
    if session.get(Charger, charger_id) is None:
        raise CommandError(f"Unknown charger {charger_id!r}")
    checked = validate_params(action, params)
    stored = checked.model_dump(exclude_none=True)
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
    )
    session.add(row)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :charger_id)"),
            {"channel": COMMANDS_CHANNEL, "charger_id": charger_id},
        )
    return command_row(row)


def _id_tag_of(session: Session, account_id: str) -> str:
    tag = session.scalar(
        select(IdTag.id_tag).where(IdTag.account_id == account_id).order_by(IdTag.id_tag).limit(1)
    )
    if tag is None:
        raise CommandError(f"RemoteStartTransaction: account {account_id!r} has no id tag")
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
        raise CommandError(
            f"RemoteStopTransaction: session {session_id!r} is not in progress on {charger_id}"
        )
    return transaction_id


# --- delivering --------------------------------------------------------------------------------


def claim_commands(
    session: Session,
    charger_ids: Sequence[str],
    instance: str,
    now: datetime,
    limit: int = 200,
) -> list[CommandToSend]:
    """The pending commands of ``charger_ids`` (the chargers connected to ``instance``), oldest
    first, marked ``sent`` by ``instance``. Two instances never claim one command: PostgreSQL
    locks the rows it takes (``FOR UPDATE SKIP LOCKED``: another claimer skips them); SQLite
    claims each with an UPDATE that only changes a row still ``pending``."""
    if not charger_ids:
        return []
    candidates = (
        select(ChargerCommand)
        .where(
            ChargerCommand.charger_id.in_(list(charger_ids)),
            ChargerCommand.status == CommandStatus.pending,
        )
        .order_by(ChargerCommand.id)
        .limit(limit)
    )
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        candidates = candidates.with_for_update(skip_locked=True)
    claimed: list[CommandToSend] = []
    for c in session.scalars(candidates).all():
        changed = rows_changed(
            session,
            update(ChargerCommand)
            .where(ChargerCommand.id == c.id, ChargerCommand.status == CommandStatus.pending)
            .values(status=CommandStatus.sent, sent_at=now, sent_by=instance[:128])
            .execution_options(synchronize_session=False),
        )
        if changed:
            # The stored params were resolved when asked (an account's id tag, a session's
            # transaction); what only Polaris knows stays out of the call.
            local = ACTIONS[c.action].local
            payload = {k: v for k, v in json.loads(c.params).items() if k not in local}
            claimed.append(CommandToSend(c.id, c.charger_id, c.action, payload))
    return claimed


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
    return bool(
        rows_changed(
            session,
            update(ChargerCommand)
            .where(ChargerCommand.id == command_id, ChargerCommand.status == CommandStatus.sent)
            .values(
                status=status,
                response=None if response is None else json.dumps(response, default=str),
                answered_at=now,
            )
            .execution_options(synchronize_session=False),
        )
    )


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
    died). Any instance may run it, at any time, as often as it likes."""
    offline = rows_changed(
        session,
        update(ChargerCommand)
        .where(
            ChargerCommand.status == CommandStatus.pending,
            ChargerCommand.requested_at <= now - timedelta(seconds=offline_after_s),
        )
        .values(status=CommandStatus.offline, answered_at=now)
        .execution_options(synchronize_session=False),
    )
    timeout = rows_changed(
        session,
        update(ChargerCommand)
        .where(
            ChargerCommand.status == CommandStatus.sent,
            and_(
                ChargerCommand.sent_at.is_not(None),
                ChargerCommand.sent_at <= now - timedelta(seconds=timeout_s),
            ),
        )
        .values(status=CommandStatus.timeout, answered_at=now)
        .execution_options(synchronize_session=False),
    )
    return Expired(offline, timeout)


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
