"""The usage rollup's rows, and the same figures counted in Python from the sessions (no SQL
shared with the triggers), for the rollup, disputed-energy and migration tests; the same for the
stored costs every rollup carries (migration 0018)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.charging.rollup import day_of, month_of, quarter_of
from data.core.models import (
    Charger,
    ChargerDay,
    ChargerMonth,
    ChargingSession,
    ConnectorType,
    UsageDay,
    UsageQuarter,
    UsageQuarterTotal,
)

Row = tuple[int, str, int, int, int, int]


def table_rows(s: Session) -> list[Row]:
    """The rollup's rows, without the zero rows that deletions leave behind."""
    rows = s.execute(
        select(
            UsageQuarter.quarter,
            UsageQuarter.connector_type,
            UsageQuarter.sessions,
            UsageQuarter.energy_wh,
            UsageQuarter.finalized_sessions,
            UsageQuarter.finalized_energy_wh,
        ).order_by(UsageQuarter.quarter, UsageQuarter.connector_type)
    ).all()
    return [tuple(map(_plain, r)) for r in rows if any(r[2:])]  # type: ignore[misc]


def _plain(value: object) -> object:
    return value if isinstance(value, str) else int(value)  # type: ignore[call-overload]


def counted_in_python(s: Session) -> list[Row]:
    """The same figures from the sessions, counted here (no SQL shared with the triggers)."""
    acc: dict[tuple[int, str], list[int]] = {}
    rows = s.execute(
        select(
            ChargingSession.started_at,
            ChargingSession.energy_kwh,
            ChargingSession.finalized,
            Charger.connector_type,
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
        .where(ChargingSession.energy_disputed_at.is_(None))  # counted nowhere (migration 0012)
    ).all()
    for started, kwh, finalized, kind in rows:
        wh = int((Decimal(str(kwh)) * 1000).to_integral_value())
        entry = acc.setdefault((quarter_of(started), ConnectorType(kind).value), [0, 0, 0, 0])
        entry[0] += 1
        entry[1] += wh
        entry[2] += int(bool(finalized))
        entry[3] += wh if finalized else 0
    return [(q, kind, *values) for (q, kind), values in sorted(acc.items())]  # type: ignore[misc]


CostRows = dict[str, list[tuple[object, ...]]]


def cost_rows(s: Session) -> CostRows:
    """Every rollup's ``cost_milli`` by its key, without the zero rows."""
    tables = {
        "usage_quarters": (UsageQuarter.quarter, UsageQuarter.connector_type),
        "usage_quarter_totals": (UsageQuarterTotal.quarter,),
        "usage_days": (UsageDay.day, UsageDay.connector_type),
        "charger_days": (ChargerDay.day, ChargerDay.charger_id),
        "charger_months": (ChargerMonth.month, ChargerMonth.charger_id),
    }
    found: CostRows = {}
    for name, key in tables.items():
        milli = key[0].class_.cost_milli
        rows = s.execute(select(*key, milli)).all()
        found[name] = sorted((*r[:-1], int(r[-1])) for r in rows if r[-1])
    return found


def costs_in_python(s: Session) -> CostRows:
    """The same from the sessions' stored costs, counted here: a session whose energy is
    disputed counts nowhere; the charger tables hold finished sessions only."""
    acc: dict[str, Counter[tuple[object, ...]]] = {
        name: Counter()
        for name in (
            "usage_quarters",
            "usage_quarter_totals",
            "usage_days",
            "charger_days",
            "charger_months",
        )
    }
    rows = s.execute(
        select(
            ChargingSession.started_at,
            ChargingSession.ended_at,
            ChargingSession.charger_id,
            ChargingSession.cost_total,
            Charger.connector_type,
        )
        .join(Charger, Charger.id == ChargingSession.charger_id)
        .where(
            ChargingSession.energy_disputed_at.is_(None), ChargingSession.cost_total.is_not(None)
        )
    ).all()
    for started, ended, charger, cost, kind in rows:
        milli = int(Decimal(str(cost)) * 1000)
        q, kind = quarter_of(started), ConnectorType(kind).value
        acc["usage_quarters"][(q, kind)] += milli
        acc["usage_quarter_totals"][(q,)] += milli
        acc["usage_days"][(q // 96, kind)] += milli
        if ended is not None:
            acc["charger_days"][(day_of(started), charger)] += milli
            acc["charger_months"][(month_of(started), charger)] += milli
    return {
        name: sorted((*key, milli) for key, milli in counts.items() if milli)
        for name, counts in acc.items()
    }
