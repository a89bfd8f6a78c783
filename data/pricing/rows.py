"""Prices and costs as queries read them: a tariff version's prices (``prices_of``), the cost
stored on a session (``stored_cost``), and, in SQL, the version that prices a session or an
account at an instant, so that one statement reads sessions (or an account) together with the
version that prices them. ``cost_now`` turns such a row into the session's cost as it stands.

No query runs here: the dashboard (``data.charging.dashboard``) and ``data.pricing.tariffs``
build their statements from these pieces, so both read a session's cost by one rule.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Label, Row, SQLColumnExpression, and_, exists, func, select
from sqlalchemy.orm import aliased

from data.core.models import Account, ChargingSession, Operator, Plan, TariffVersion
from data.pricing.cost import SessionCost, TariffPrices, session_cost

VERSION_FIELDS = (
    "tariff_id",
    "valid_from",
    "name",
    "currency",
    "energy_price_per_kwh",
    "dc_energy_price_per_kwh",
    "session_fee",
    "time_price_per_hour",
    "time_free_minutes",
    "vat_percent",
)
# Labels of a version's columns in a row that also holds a session's (both have tariff_id).
VERSION_PREFIX = "version_"
# What ``stored_cost`` reads of a session, by name.
COST_COLUMNS = (
    ChargingSession.tariff_id,
    ChargingSession.tariff_valid_from,
    ChargingSession.currency,
    ChargingSession.cost_energy,
    ChargingSession.cost_time,
    ChargingSession.cost_fee,
    ChargingSession.cost_total,
    ChargingSession.vat_amount,
)


def prices_of(row: TariffVersion | Row[Any], prefix: str = "") -> TariffPrices:
    """A ``tariffs`` row as the rule reads it (numbers as Decimal, whatever the database); a
    query's row names its columns ``prefix`` + the field."""

    def value(field: str) -> Any:
        return getattr(row, prefix + field)

    def number(field: str) -> Decimal | None:
        raw = value(field)
        return None if raw is None else Decimal(str(raw))

    return TariffPrices(
        tariff_id=value("tariff_id"),
        valid_from=value("valid_from"),
        name=value("name"),
        currency=value("currency"),
        energy_price_per_kwh=number("energy_price_per_kwh"),
        dc_energy_price_per_kwh=number("dc_energy_price_per_kwh"),
        session_fee=number("session_fee"),
        time_price_per_hour=number("time_price_per_hour"),
        time_free_minutes=value("time_free_minutes"),
        vat_percent=number("vat_percent"),
    )


def stored_cost(row: ChargingSession | Row[Any]) -> SessionCost | None:
    """The cost stored on a session (None while it has none): a ``sessions`` row, or a query's
    row that selected its cost columns by name (``COST_COLUMNS``)."""
    values = [row.tariff_id, row.tariff_valid_from, row.currency, row.cost_energy, row.cost_time]
    values += [row.cost_fee, row.cost_total, row.vat_amount]
    if any(v is None for v in values):
        return None
    money = [Decimal(str(v)) for v in values[3:]]
    return SessionCost(row.tariff_id, row.tariff_valid_from, row.currency, *money)  # type: ignore[arg-type]


# --- the version in force, in SQL -----------------------------------------------------------------


def plan_tariff() -> ColumnElement[str | None]:
    """SQL, over ``Plan`` (outer-joined to an account): the tariff that prices the account's
    sessions: its plan's, else the operator's default, else NULL."""
    default = select(Operator.default_tariff_id).where(Operator.id == 1).scalar_subquery()
    return func.coalesce(Plan.tariff_id, default)


def account_tariff(account_id: SQLColumnExpression[str]) -> ColumnElement[str | None]:
    """SQL: ``plan_tariff`` of ``account_id`` (a scalar subquery; correlated when
    ``account_id`` is a column)."""
    return (
        select(plan_tariff())
        .select_from(Account)
        .outerjoin(Plan, Plan.id == Account.plan_id)
        .where(Account.id == account_id)
        .scalar_subquery()
    )


def version_in_force(
    tariff_id: SQLColumnExpression[Any], at: SQLColumnExpression[Any]
) -> tuple[type[TariffVersion], ColumnElement[bool]]:
    """An alias of ``tariffs`` and the condition that (outer-)joins it to the version of
    ``tariff_id`` in force at ``at``: the latest ``valid_from`` at or before it. ``tariffs`` is a
    short price list keyed by (tariff_id, valid_from): a few primary-key rows per lookup."""
    version = aliased(TariffVersion, name="version")
    later = aliased(TariffVersion, name="later")
    superseded = exists().where(
        later.tariff_id == version.tariff_id,
        later.valid_from > version.valid_from,
        later.valid_from <= at,
    )
    return version, and_(version.tariff_id == tariff_id, version.valid_from <= at, ~superseded)


def session_version(
    tariff_id: SQLColumnExpression[Any],
    tariff_valid_from: SQLColumnExpression[Any],
    started_at: SQLColumnExpression[Any],
    account_tariff_id: SQLColumnExpression[Any],
) -> tuple[type[TariffVersion], ColumnElement[bool]]:
    """``version_in_force`` for a session (its columns given): the version its stored cost
    names, else its account's tariff's version in force when it started."""
    return version_in_force(
        func.coalesce(tariff_id, account_tariff_id),
        func.coalesce(tariff_valid_from, started_at),
    )


def version_columns(version: type[TariffVersion]) -> list[Label[Any]]:
    """The version's columns, labelled for ``version_in_row``."""
    return [getattr(version, f).label(VERSION_PREFIX + f) for f in VERSION_FIELDS]


def version_in_row(row: Row[Any]) -> TariffPrices | None:
    """The version a query selected with ``version_columns`` (None: no version joined)."""
    if getattr(row, VERSION_PREFIX + "tariff_id") is None:
        return None
    return prices_of(row, VERSION_PREFIX)


def cost_now(row: Row[Any], now: datetime) -> SessionCost | None:
    """A session's cost as it stands at ``now``: the stored one once it has one, else by the
    rule with its energy and duration so far (to ``ended_at``, or ``now`` while in progress);
    None when no version prices it. ``row``: the session's ``started_at``, ``ended_at``,
    ``energy_kwh``, ``COST_COLUMNS``, its charger's ``max_power_kw`` and ``version_columns``
    of ``session_version``."""
    stored = stored_cost(row)
    if stored is not None:
        return stored
    version = version_in_row(row)
    if version is None:
        return None
    end = row.ended_at if row.ended_at is not None else max(now, row.started_at)
    return session_cost(version, row.energy_kwh, row.started_at, end, row.max_power_kw)
