"""``python -m bench.session_history --database-url URL``: ``/sessions`` for 100,000 sessions.

On a database built by ``python -m bench build`` (PostgreSQL; ``--scale 0.01`` is enough:
``heavy@bench.example`` always has exactly 100,000 sessions over 3 years), times each query the
page and ``GET /api/v1/me/sessions`` make for that account, ``--repeat`` times after one
warm-up, and prints p50/p95 in ms: the charger choices, the totals (everything, last year, one
charger), the first block of rows, the next one (keyset), a block in the middle and one near
the end (OFFSET from the nearer end), the API's deepest cursor page (limit 200), and the
Export CSV of last year (every byte read). ``--explain`` prints the plans too.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text

from bench.build import BENCH_OPERATOR, HEAVY_ACCOUNT
from bench.run import percentiles
from data.charging.dashboard import operator_settings
from data.charging.history import DEFAULT_SORT
from data.charging.my_sessions import (
    HistoryFilter,
    encode_cursor,
    history_page,
    history_totals,
    recent_chargers,
    search_used_chargers,
    sessions_after,
    used_chargers,
)
from data.core.db import Database
from data.core.models import ChargingSession, Operator
from data.exchange.export_stream import export_chunks
from data.exchange.exports import ExportFilter


def timed(action: Callable[[], Any], repeat: int) -> list[float]:
    action()  # warm-up
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.session_history", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args(argv)
    db = Database(args.database_url, statement_timeout_ms=0)
    account = HEAVY_ACCOUNT
    with db.session() as s:
        if s.scalar(select(Operator.name)) != BENCH_OPERATOR:
            raise SystemExit("Not a bench database (python -m bench build makes one).")
        tz = operator_settings(s).tz
        count = s.scalar(select(func.count()).where(ChargingSession.account_id == account))
        top = s.execute(
            select(ChargingSession.charger_id, func.count())
            .where(ChargingSession.account_id == account)
            .group_by(ChargingSession.charger_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
    today = datetime.now(UTC).astimezone(tz).date()
    last_year = HistoryFilter(today.replace(year=today.year - 1, month=1, day=1),
                              today.replace(year=today.year - 1, month=12, day=31))  # fmt: skip
    everything = HistoryFilter()
    one_charger = HistoryFilter(charger_id=top[0])
    total = int(count or 0)
    print(f"account {account}: {total:,} sessions; busiest charger {top[0]} ({top[1]:,})")

    results: dict[str, dict[str, float]] = {}

    def run(name: str, action: Callable[[Any], Any]) -> None:
        with db.session() as s:
            results[name] = percentiles(timed(lambda: action(s), args.repeat))

    run("charger choices, every one (skip scan)", lambda s: used_chargers(s, account))
    run("charger choices, recent 20", lambda s: recent_chargers(s, account))
    run("charger search '1', 20", lambda s: search_used_chargers(s, account, "1"))
    run("totals, everything", lambda s: history_totals(s, account, everything, tz))
    run("totals, last year", lambda s: history_totals(s, account, last_year, tz))
    run("totals, one charger", lambda s: history_totals(s, account, one_charger, tz))
    run("rows 0-100", lambda s: history_page(s, account, everything, tz, 0, 100, total=total))
    with db.session() as s:
        first = history_page(s, account, everything, tz, 0, 100, total=total)
    key = DEFAULT_SORT.key_of(first[-1])
    run(
        "rows 100-200 (keyset)",
        lambda s: history_page(s, account, everything, tz, 100, 200, after=key, total=total),
    )
    middle = total // 2 - 100
    run(
        f"rows {middle:,} (OFFSET)",
        lambda s: history_page(s, account, everything, tz, middle, middle + 100, total=total),
    )
    run(
        f"rows {total - 100:,} (from the end)",
        lambda s: history_page(s, account, everything, tz, total - 100, total, total=total),
    )
    run(
        "rows 0-100, one charger",
        lambda s: history_page(s, account, one_charger, tz, 0, 100),
    )
    with db.session() as s:
        oldest = history_page(s, account, everything, tz, total - 300, total - 299, total=total)
    cursor = encode_cursor(oldest[0])
    run("API page of 200, deepest cursor", lambda s: sessions_after(s, account, everything, tz,
                                                                    200, cursor))  # fmt: skip

    export = ExportFilter(
        first_day=last_year.first_day,
        last_day=last_year.last_day,
        account_id=account,
        as_of=datetime.now(UTC),
    )

    def csv_bytes() -> int:
        return sum(len(chunk) for chunk in export_chunks(db, "sessions", export, tz))

    results["Export CSV, last year"] = percentiles(timed(csv_bytes, max(3, args.repeat // 5)))

    width = max(len(n) for n in results)
    print(f"{'query':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}")
    for name, figures in results.items():
        print(f"{name:<{width}}  {figures['p50']:>8.2f}  {figures['p95']:>8.2f}")

    if args.explain:
        with db.session() as s:
            for sql in (
                "EXPLAIN ANALYZE WITH RECURSIVE used(id) AS (SELECT min(charger_id) FROM "
                "sessions WHERE account_id = :a UNION ALL SELECT (SELECT min(charger_id) FROM "
                "sessions WHERE account_id = :a AND charger_id > used.id) FROM used WHERE "
                "used.id IS NOT NULL) SELECT c.id FROM chargers c WHERE c.id IN (SELECT id "
                "FROM used)",
                "EXPLAIN ANALYZE SELECT count(*), sum(energy_kwh) FROM sessions WHERE account_id "
                "= :a AND charger_id = :c",
            ):
                plan = s.execute(text(sql), {"a": account, "c": top[0]}).scalars()
                print("\n".join(plan), "\n")


if __name__ == "__main__":
    main()
