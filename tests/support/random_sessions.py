"""Random sessions, and the operator, accounts and chargers they belong to, for the rollup
tests (test_account_days.py, test_my_sessions_totals.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from data.core.db import Database
from tests.support.factories import make_account, make_charger, make_operator


def operator_with_three(db: Database, tz: str = "Europe/Berlin") -> tuple[list[str], list[str]]:
    """An operator in ``tz`` with three accounts and three chargers: their ids."""
    with db.session() as s:
        make_operator(s, timezone=tz)
        accounts = [make_account(s, account_id=f"acc-{i}").id for i in range(3)]
        chargers = [make_charger(s).id for _ in range(3)]
        s.commit()
    return accounts, chargers


def random_sessions(
    rng: random.Random, account: str, chargers: list[str], n: int, disputed_at: datetime
) -> list[dict]:
    """Sessions rows for a bulk insert: the first ones on Berlin's DST changes and local
    midnights (where a day's bounds are tested), the rest random over 13 months; some in
    progress, some without a cost, some disputed."""
    out = []
    edges = [
        # Around Berlin's DST changes and local midnights, where a day's bounds are tested.
        datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 22, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 22, 59, 59, tzinfo=UTC),
    ]
    for i in range(n):
        if i < len(edges):
            start = edges[i]
        else:
            start = datetime(2025, 11, 1, tzinfo=UTC) + timedelta(
                seconds=rng.randrange(0, 390 * 86400), microseconds=rng.randrange(0, 10**6)
            )
        ended = None if rng.random() < 0.1 else start + timedelta(minutes=rng.randrange(5, 300))
        cost = (
            Decimal(rng.randrange(0, 90000)) / 1000
            if ended is not None and rng.random() < 0.7
            else None
        )
        out.append(
            {
                "id": f"{account}-s{i:04d}",
                "account_id": account,
                "charger_id": rng.choice(chargers),
                "started_at": start,
                "ended_at": ended,
                "energy_kwh": Decimal(rng.randrange(0, 80000)) / 1000,
                "finalized": ended is not None,
                "cost_total": cost,
                "energy_disputed_at": disputed_at if rng.random() < 0.05 else None,
            }
        )
    return out
