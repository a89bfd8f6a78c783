"""``python -m bench.price_history --database-url URL``: how fast history is priced.

On a database built by ``python -m bench build`` (PostgreSQL): times migration 0017 (down to
0015 and up again: columns added in place), then gives the operator a default tariff and each
plan a tariff, all in force before the first session, and times
``data.pricing.tariffs.price_unpriced_sessions`` pricing every finalized session (the batched
backfill that runs when tariffs arrive), printing sessions priced per second. Costs are
cleared first, so it can run again. Then times migration 0018 on the priced history (down to
0017 and up again): every usage rollup recounted with the stored costs, in sessions per second.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import timedelta

from alembic import command
from sqlalchemy import func, select, update

from bench.build import BENCH_OPERATOR
from data.core.db import Database, alembic_config
from data.core.models import ChargingSession, Operator, Plan, TariffVersion
from data.pricing.tariffs import price_unpriced_sessions

TARIFFS = {
    "bench-adhoc": ("0.59", "0.69", "0.50", "1.20", 240),
    "bench-basic": ("0.45", "0.59", None, "1.20", 240),
    "bench-plus": ("0.39", "0.52", "0.50", None, None),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.price_history", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    db = Database(args.database_url, statement_timeout_ms=0)
    with db.session() as s:
        if s.scalar(select(Operator.name)) != BENCH_OPERATOR:
            raise SystemExit("Not a bench database (python -m bench build makes one).")
    cfg = alembic_config(db.engine)
    started = time.perf_counter()
    command.downgrade(cfg, "0016")
    command.upgrade(cfg, "head")
    print(f"migration 0017 (down and up again): {time.perf_counter() - started:.2f} s")
    with db.session() as s:
        first = s.scalar(select(func.min(ChargingSession.started_at)))
        assert first is not None
        for tariff_id, (energy, dc, fee, hourly, free) in TARIFFS.items():
            s.add(
                TariffVersion(
                    tariff_id=tariff_id,
                    valid_from=first - timedelta(days=1),
                    name=tariff_id,
                    currency="EUR",
                    energy_price_per_kwh=energy,
                    dc_energy_price_per_kwh=dc,
                    session_fee=fee,
                    time_price_per_hour=hourly,
                    time_free_minutes=free,
                    vat_percent="19",
                )
            )
        s.execute(update(Operator).values(default_tariff_id="bench-adhoc"))
        s.execute(update(Plan).where(Plan.id == "plan-basic").values(tariff_id="bench-basic"))
        s.execute(update(Plan).where(Plan.id == "plan-plus").values(tariff_id="bench-plus"))
        finalized = s.scalar(select(func.count()).where(ChargingSession.finalized.is_(True)))
    with db.session() as s:
        started = time.perf_counter()
        priced = price_unpriced_sessions(s, batch_size=args.batch)
        seconds = time.perf_counter() - started
    print(
        f"priced {priced:,} of {finalized:,} finalized sessions in {seconds:.1f} s: "
        f"{priced / seconds:,.0f} sessions/s"
    )
    with db.session() as s:
        sessions = s.scalar(select(func.count()).select_from(ChargingSession)) or 0
    command.downgrade(cfg, "0017")
    started = time.perf_counter()
    command.upgrade(cfg, "head")
    seconds = time.perf_counter() - started
    print(
        f"migration 0018 (rollups recounted with their costs): {seconds:.1f} s for "
        f"{sessions:,} sessions, {sessions / seconds:,.0f} sessions/s"
    )
    db.engine.dispose()


if __name__ == "__main__":
    main()
