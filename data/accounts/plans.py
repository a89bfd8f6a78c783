"""The operator's plans: the short price list (name, kWh allowance per billing period, currency)
customer accounts are put on, listed, created and edited from ``/admin/settings``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.accounts.validation import (
    FieldChecks,
    InvalidInput,
    NotFound,
    id_from_name,
    text_value,
    validate_allowance,
    validate_currency,
    validate_id,
    validate_name,
)
from data.audit.entries import Action, Actor, record
from data.core.models import Account, Plan
from data.core.sql import KWH

PLAN_LIMIT = 500  # plans are a short price list, never a big table


@dataclass(frozen=True)
class PlanSummary:
    plan_id: str
    name: str
    allowance_kwh: Decimal
    currency: str
    accounts: int  # customer accounts on the plan


def list_plans(session: Session) -> list[PlanSummary]:
    """Every plan (a short price list; capped at ``PLAN_LIMIT``) with how many accounts use it."""
    on_plan = (
        select(Account.plan_id, func.count().label("n"))
        .where(Account.plan_id.is_not(None))
        .group_by(Account.plan_id)
        .subquery("on_plan")
    )
    rows = session.execute(
        select(
            Plan.id,
            Plan.name,
            Plan.allowance_kwh,
            Plan.currency,
            func.coalesce(on_plan.c.n, 0).label("accounts"),
        )
        .outerjoin(on_plan, on_plan.c.plan_id == Plan.id)
        .order_by(func.lower(Plan.name), Plan.id)
        .limit(PLAN_LIMIT)
    ).all()
    return [
        PlanSummary(
            r.id, r.name, Decimal(r.allowance_kwh).quantize(KWH), r.currency, int(r.accounts)
        )
        for r in rows
    ]


def _plan_name_taken(session: Session, name: str, except_id: str | None) -> bool:
    stmt = select(Plan.id).where(func.lower(Plan.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Plan.id != except_id)
    return session.scalar(stmt.limit(1)) is not None


def _check_plan(
    session: Session, name: object, allowance_kwh: object, currency: object, plan_id: str | None
) -> tuple[str, Decimal, str]:
    checks = FieldChecks()
    clean_name = checks.run("name", validate_name, name, "a plan name")
    if clean_name is not None and _plan_name_taken(session, clean_name, plan_id):
        checks.fail("name", f"A plan called {clean_name} already exists.")
    allowance = checks.run("allowance_kwh", validate_allowance, allowance_kwh)
    code = checks.run("currency", validate_currency, currency)
    checks.raise_if_any()
    assert clean_name is not None and allowance is not None and code is not None
    return clean_name, allowance, code


def _summary(session: Session, plan_id: str) -> PlanSummary:
    found = next((p for p in list_plans(session) if p.plan_id == plan_id), None)
    assert found is not None
    return found


def create_plan(
    session: Session,
    *,
    name: object,
    allowance_kwh: object,
    currency: object,
    plan_id: object = "",
    actor: Actor,
    now: datetime,
) -> PlanSummary:
    """A new plan; fields ``plan_id`` (blank: made from the name), ``name``, ``allowance_kwh``,
    ``currency``."""
    checks = FieldChecks()
    clean_id = None
    if text_value(plan_id):
        clean_id = checks.run("plan_id", validate_id, plan_id, "plan id")
        if clean_id is not None and session.get(Plan, clean_id) is not None:
            checks.fail("plan_id", f"The plan id {clean_id} is taken.")
    try:
        clean_name, allowance, code = _check_plan(session, name, allowance_kwh, currency, None)
    except InvalidInput as exc:
        checks.errors.update(exc.errors)
    checks.raise_if_any()
    clean_id = clean_id or id_from_name(
        "PLAN", clean_name, lambda candidate: session.get(Plan, candidate) is not None
    )
    session.add(Plan(id=clean_id, name=clean_name, allowance_kwh=allowance, currency=code))
    session.flush()
    after = {"name": clean_name, "allowance_kwh": allowance, "currency": code}
    record(session, actor, now, Action.plan_created, "plan", clean_id, after=after)
    return _summary(session, clean_id)


def update_plan(
    session: Session,
    plan_id: object,
    *,
    name: object,
    allowance_kwh: object,
    currency: object,
    actor: Actor,
    now: datetime,
) -> PlanSummary:
    """Change a plan's name, allowance or currency; its customers see it on their next refresh."""
    plan = session.get(Plan, plan_id) if isinstance(plan_id, str) else None
    if plan is None:
        raise NotFound("That plan no longer exists. Reload the page.")
    clean_name, allowance, code = _check_plan(session, name, allowance_kwh, currency, plan.id)
    before = {"name": plan.name, "allowance_kwh": plan.allowance_kwh, "currency": plan.currency}
    plan.name, plan.allowance_kwh, plan.currency = clean_name, allowance, code
    session.flush()
    after = {"name": clean_name, "allowance_kwh": allowance, "currency": code}
    record(session, actor, now, Action.plan_updated, "plan", plan.id, before=before, after=after)
    return _summary(session, plan.id)
