"""The operator's settings (name, support email, time zone, currency) as ``/admin/settings``
shows and saves them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from data.accounts.validation import (
    FieldChecks,
    validate_currency,
    validate_name,
    validate_optional_email,
    validate_timezone,
)
from data.audit.entries import Action, Actor, record
from data.charging.dashboard import operator_settings
from data.core.models import Operator


@dataclass(frozen=True)
class OperatorValues:
    name: str
    support_email: str | None
    timezone: str  # IANA name
    currency: str  # ISO 4217


def operator_values(session: Session) -> OperatorValues:
    """What the settings form shows: the same row (or placeholder) the customer dashboard reads
    through ``data.charging.dashboard.operator_settings``."""
    settings = operator_settings(session)
    return OperatorValues(settings.name, settings.support_email, settings.tz.key, settings.currency)


def save_operator_settings(
    session: Session,
    *,
    name: object,
    support_email: object,
    timezone: object,
    currency: object,
    actor: Actor,
    now: datetime,
) -> OperatorValues:
    """Validate every field (errors keyed ``name``, ``support_email``, ``timezone``,
    ``currency``) and save them all, or nothing."""
    checks = FieldChecks()
    clean_name = checks.run("name", validate_name, name, "the operator's name")
    email = checks.run("support_email", validate_optional_email, support_email)
    zone = checks.run("timezone", validate_timezone, timezone)
    code = checks.run("currency", validate_currency, currency)
    checks.raise_if_any()
    assert clean_name is not None and zone is not None and code is not None
    row = session.get(Operator, 1)
    before = None
    if row is None:
        row = Operator(id=1, name=clean_name)
        session.add(row)
    else:
        before = asdict(OperatorValues(row.name, row.support_email, row.timezone, row.currency))
    row.name, row.support_email, row.timezone, row.currency = clean_name, email, zone, code
    session.flush()
    # A new zone: drivers' local days are recounted by the worker, not in this request; their
    # dashboards read sessions until then (data/charging/account_days.py).
    saved = OperatorValues(clean_name, email, zone, code)
    record(
        session, actor, now, Action.operator_updated, "operator", row.id,
        before=before, after=asdict(saved),
    )  # fmt: skip
    return saved
