"""Recording operator actions: one ``record`` call, in the caller's transaction.

Every write an operator can make (the pages, the JSON API, the command line) calls ``record`` in
the same session as the change itself, so an entry exists exactly when the change committed.
Who acts is explicit (``Actor``: the data layer knows no web session): the signed-in person and
their active account, built by ``auth.accounts.current_actor``; ``COMMAND_LINE`` for ``flask``
commands. ``before`` and ``after`` hold only the fields that changed, as JSON (Decimal as text,
times in ISO 8601 UTC); a field that holds a secret (a password, a hash, a token) is refused:
entries say that a password was set, never what it is.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from data.core.models import AuditEntry

SUBJECT_ID_LENGTH = 200


class Action(enum.StrEnum):
    """What was done: a stable verb, ``<subject>.<past tense>``, kept in the log and its CSV."""

    account_created = "account.created"
    account_plan_set = "account.plan_set"
    account_removed = "account.removed"
    alert_settings_updated = "alert_settings.updated"
    booking_rules_updated = "booking_rules.updated"
    charger_granted = "charger.granted"
    charger_ocpp_password_cleared = "charger.ocpp_password_cleared"
    charger_ocpp_password_set = "charger.ocpp_password_set"
    charger_revoked = "charger.revoked"
    charger_updated = "charger.updated"
    command_requested = "command.requested"
    id_tag_assigned = "id_tag.assigned"
    id_tag_blocked = "id_tag.blocked"
    id_tag_removed = "id_tag.removed"
    id_tag_unblocked = "id_tag.unblocked"
    id_tag_updated = "id_tag.updated"
    import_loaded = "import.loaded"
    incident_acknowledged = "incident.acknowledged"
    incident_resolved = "incident.resolved"
    operator_default_tariff_set = "operator.default_tariff_set"
    operator_updated = "operator.updated"
    outage_updated = "outage.updated"
    person_created = "person.created"
    person_default_account_set = "person.default_account_set"
    person_password_set = "person.password_set"
    person_updated = "person.updated"
    plan_created = "plan.created"
    plan_tariff_set = "plan.tariff_set"
    plan_updated = "plan.updated"
    reservation_cancelled = "reservation.cancelled"
    reservation_created = "reservation.created"
    session_energy_confirmed = "session.energy_confirmed"
    session_energy_corrected = "session.energy_corrected"
    tariff_created = "tariff.created"
    tariff_version_scheduled = "tariff.version_scheduled"
    token_created = "token.created"
    token_revoked = "token.revoked"


@dataclass(frozen=True)
class Actor:
    """Who acts: a person (``user``: their email; ``user_id``) from ``account_id``, their active
    account, or the command line (``COMMAND_LINE``: no person, no account)."""

    user: str
    user_id: int | None = None
    account_id: str | None = None


COMMAND_LINE = Actor("cli")

Fields = Mapping[str, Any]


def _is_secret(key: str) -> bool:
    return key in ("password", "secret", "token") or key.endswith("_hash")


def _json_value(value: object) -> object:
    """What ``json`` cannot write itself: money and prices exactly, times in UTC."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"an audit field cannot hold {type(value).__name__}")


def _json(fields: Fields | None) -> str | None:
    if fields is None:
        return None
    secret = sorted(k for k in fields if _is_secret(k))
    if secret:
        raise ValueError(f"audit entries never hold secrets: {', '.join(secret)}")
    return json.dumps(fields, sort_keys=True, default=_json_value, ensure_ascii=False)


def changed_fields(before: Fields, after: Fields) -> tuple[dict[str, Any], dict[str, Any]]:
    """``before`` and ``after`` without the fields that are the same in both."""
    same = {k for k in before.keys() & after.keys() if before[k] == after[k]}
    return (
        {k: v for k, v in before.items() if k not in same},
        {k: v for k, v in after.items() if k not in same},
    )


def record(
    session: Session,
    actor: Actor,
    now: datetime,
    action: Action,
    subject_type: str,
    subject_id: object,
    *,
    before: Fields | None = None,
    after: Fields | None = None,
    detail: str | None = None,
) -> bool:
    """Add one entry to ``session`` (kept only if its transaction commits). ``before`` / ``after``:
    the subject's fields as they were and are (None: it did not exist before / is gone now);
    with both, only the fields that differ are kept, and when none differs nothing is recorded
    (False): saving a form unchanged is no change."""
    if before is not None and after is not None:
        before, after = changed_fields(before, after)
        if not before and not after:
            return False
    session.add(
        AuditEntry(
            at=now,
            user=actor.user,
            user_id=actor.user_id,
            account_id=actor.account_id,
            action=action.value,
            subject_type=subject_type,
            subject_id=str(subject_id)[:SUBJECT_ID_LENGTH],
            before=_json(before),
            after=_json(after),
            detail=detail,
        )
    )
    session.flush()
    return True
