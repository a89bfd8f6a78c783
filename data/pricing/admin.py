"""The admin's tariffs page (``/admin/tariffs``): every tariff with its versions, which plans
use it, whether it is the operator's default and whether a version has priced sessions (such a
version is history: never edited); creating a tariff and scheduling a new version of one.

Both writes go through ``data.pricing.tariffs.create_tariff_version``, which checks every field
(a negative price, a currency other than the operator's, a version that would re-price sessions)
and prices the finalized sessions the version now covers. Tariffs are a short price list: the
page reads them whole.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.accounts.plans import list_plans
from data.accounts.validation import (
    InvalidInput,
    NotFound,
    id_from_name,
    text_value,
    validate_id,
)
from data.audit.entries import Action, Actor, record
from data.core.models import ChargingSession, Plan, TariffVersion
from data.pricing.cost import TariffPrices
from data.pricing.tariffs import (
    Versions,
    create_tariff_version,
    default_tariff_id,
)

ENDED, IN_FORCE, SCHEDULED = "ended", "in force", "scheduled"


@dataclass(frozen=True)
class VersionState:
    """One version of a tariff as the page lists it."""

    prices: TariffPrices
    state: str  # ENDED, IN_FORCE or SCHEDULED at ``now``
    priced_sessions: bool  # it priced at least one session: it is history, never edited


@dataclass(frozen=True)
class PlanChoice:
    """A plan and the tariff that prices its accounts' sessions (None: the default)."""

    plan_id: str
    name: str
    accounts: int
    tariff_id: str | None


@dataclass(frozen=True)
class TariffSummary:
    tariff_id: str
    versions: tuple[VersionState, ...]  # newest first
    plans: tuple[PlanChoice, ...]  # the plans whose tariff it is
    is_default: bool

    @property
    def current(self) -> TariffPrices:
        """The version in force (else the first scheduled one): the tariff's name and prices
        as customers see them now, and what a new version starts from."""
        in_force = [v.prices for v in self.versions if v.state == IN_FORCE]
        return in_force[0] if in_force else self.versions[-1].prices

    @property
    def name(self) -> str:
        return self.current.name


@dataclass(frozen=True)
class TariffsOverview:
    tariffs: tuple[TariffSummary, ...]  # by name
    plans: tuple[PlanChoice, ...]  # every plan, for the assignments
    default_tariff_id: str | None

    def find(self, tariff_id: object) -> TariffSummary | None:
        return next((t for t in self.tariffs if t.tariff_id == tariff_id), None)


def _priced_by(session: Session, version: TariffPrices, until: datetime | None) -> bool:
    """Whether ``version`` priced a session: one lookup in ``ix_sessions_tariff_started``
    over the sessions it could have priced (those started while it was in force)."""
    s = ChargingSession
    stmt = select(s.id).where(
        s.tariff_id == version.tariff_id,
        s.started_at >= version.valid_from,
        s.tariff_valid_from == version.valid_from,
    )
    if until is not None:
        stmt = stmt.where(s.started_at < until)
    return session.scalar(stmt.limit(1)) is not None


def _states(session: Session, versions: list[TariffPrices], now: datetime) -> list[VersionState]:
    """The versions of one tariff (oldest first) with their state, newest first."""
    out = []
    for index, version in enumerate(versions):
        following = versions[index + 1].valid_from if index + 1 < len(versions) else None
        if version.valid_from > now:
            state = SCHEDULED
        elif following is not None and following <= now:
            state = ENDED
        else:
            state = IN_FORCE
        # A scheduled version cannot have priced anything yet: no session starts in the future.
        priced = state != SCHEDULED and _priced_by(session, version, following)
        out.append(VersionState(version, state, priced))
    return out[::-1]


def tariffs_overview(session: Session, now: datetime) -> TariffsOverview:
    """Every tariff with its versions (their state at ``now`` and whether they priced
    sessions), the plans that use it and the default, and every plan with its tariff."""
    by_plan = {plan: tariff for plan, tariff in session.execute(select(Plan.id, Plan.tariff_id))}
    plans = tuple(
        PlanChoice(p.plan_id, p.name, p.accounts, by_plan.get(p.plan_id))
        for p in list_plans(session)
    )
    default = default_tariff_id(session)
    tariffs = [
        TariffSummary(
            tariff_id,
            tuple(_states(session, versions, now)),
            tuple(p for p in plans if p.tariff_id == tariff_id),
            tariff_id == default,
        )
        for tariff_id, versions in Versions.load(session).by_tariff.items()
    ]
    tariffs.sort(key=lambda t: (t.name.lower(), t.tariff_id))
    return TariffsOverview(tuple(tariffs), plans, default)


def _tariff_exists(session: Session, tariff_id: str) -> bool:
    found = select(TariffVersion.tariff_id).where(TariffVersion.tariff_id == tariff_id).limit(1)
    return session.scalar(found) is not None


def _record_version(
    session: Session, actor: Actor, now: datetime, action: Action, version: TariffPrices
) -> None:
    after = {k: v for k, v in asdict(version).items() if k != "tariff_id"}
    record(session, actor, now, action, "tariff", version.tariff_id, after=after)


def create_tariff(
    session: Session,
    *,
    tariff_id: object = "",
    name: object,
    actor: Actor,
    now: datetime,
    **fields: Any,
) -> TariffPrices:
    """A new tariff and its first version (``fields``: ``create_tariff_version``'s). A blank
    ``tariff_id`` is made from the name (``TARIFF-COMMUTER``); an id in use is refused (a new
    version of that tariff is scheduled instead). Every field is checked before anything is
    written, and nothing is written when one is refused."""
    errors: dict[str, str] = {}
    clean_id: object = tariff_id
    if text_value(tariff_id):
        try:
            clean_id = validate_id(tariff_id, "tariff id")
        except InvalidInput:
            pass  # create_tariff_version says why
        else:
            if _tariff_exists(session, clean_id):
                errors["tariff_id"] = (
                    f"The tariff id {clean_id} is taken: schedule a new version of that tariff."
                )
    elif text_value(name):
        clean_id = id_from_name("TARIFF", text_value(name), lambda c: _tariff_exists(session, c))
    # A savepoint: with the id refused, the other fields are still checked, and nothing stays.
    nested = session.begin_nested()
    try:
        version = create_tariff_version(session, tariff_id=clean_id, name=name, **fields)
    except InvalidInput as exc:
        nested.rollback()
        found = dict(exc.errors)
        if not text_value(tariff_id):
            found.pop("tariff_id", None)  # blank: it is made from the name, once there is one
        raise InvalidInput({**found, **errors}) from None
    if errors:
        nested.rollback()
        raise InvalidInput(errors)
    nested.commit()
    _record_version(session, actor, now, Action.tariff_created, version)
    return version


def schedule_tariff_version(
    session: Session, tariff_id: object, *, name: object, actor: Actor, now: datetime, **fields: Any
) -> TariffPrices:
    """A new version of an existing tariff (``fields``: ``create_tariff_version``'s), from
    ``valid_from``: one that would re-price a session already priced, or one in progress, is
    refused beside ``valid_from``. Versions are never changed: a new one follows them."""
    if not isinstance(tariff_id, str) or not _tariff_exists(session, tariff_id):
        raise NotFound(f"There is no tariff {tariff_id!s:.64} any more. Reload the page.")
    version = create_tariff_version(session, tariff_id=tariff_id, name=name, **fields)
    _record_version(session, actor, now, Action.tariff_version_scheduled, version)
    return version
