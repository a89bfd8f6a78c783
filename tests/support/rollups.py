"""The usage rollup's rows, and the same figures counted in Python from the sessions (no SQL
shared with the triggers), for the rollup and disputed-energy tests."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.charging.rollup import quarter_of
from data.core.models import Charger, ChargingSession, ConnectorType, UsageQuarter

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
