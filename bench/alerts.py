"""``python -m bench.alerts [--database-url URL] [--chargers N] [--alerts N]``: what alerts cost
(issue 17): the admin nav's count of open alerts (every admin page asks it) and one worker pass.

Builds a throwaway PostgreSQL database (``polaris_bench_alerts`` on the
``POLARIS_TEST_POSTGRES_URL`` server unless ``--database-url`` says otherwise; dropped at the
end) with N chargers, a year of closed outages with their recovered alerts (``--alerts``), and
then a site-wide drop: every charger of the first hundred down together.

Prints p50/p95 of ``count_open_alerts`` (its own session, as a request's read scope), the plan
it takes, and the time of the evaluation pass that opens the site alert, then of an idle pass.
Not a test: timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bench.ocpp_load import BENCH_DB, build_database, drop_database
from bench.ocpp_load import _default_url as _ocpp_default_url
from data.core.db import Database
from data.uptime.alerts import count_open_alerts, evaluate
from data.uptime.deliveries import Channel


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _seed(db: Database, now: datetime, alerts: int) -> None:
    """``alerts`` closed outages spread over the chargers and the past year, each with its
    recovered alert; then the first hundred chargers down a minute apart at most."""
    with db.session() as s:
        params = {"now": now, "n": alerts}
        s.execute(
            text(
                "WITH ids AS (SELECT array_agg(id ORDER BY id) AS a FROM chargers) "
                "INSERT INTO outages (id, charger_id, started_at, ended_at, kind) "
                "SELECT 'B' || g, ids.a[1 + g % cardinality(ids.a)], "
                "       :now - g * interval '1 minute' * (525600 / :n), "
                "       :now - g * interval '1 minute' * (525600 / :n) + interval '20 minutes', "
                "       'offline' "
                "FROM generate_series(1, :n) g, ids"
            ),
            params,
        )
        s.execute(
            text(
                "INSERT INTO alerts (id, scope, charger_id, started_at, opened_at, recovered_at) "
                "SELECT substr(id, 2)::int, 'charger', charger_id, started_at, "
                "       started_at + interval '5 minutes', ended_at FROM outages"
            )
        )
        s.execute(
            text(
                "INSERT INTO alert_outages (outage_id, alert_id) "
                "SELECT id, substr(id, 2)::int FROM outages"
            )
        )
        s.execute(text("SELECT setval(pg_get_serial_sequence('alerts', 'id'), :n)"), params)
        s.execute(
            text(
                "INSERT INTO outages (id, charger_id, started_at, kind) "
                "SELECT 'SITE-' || id, id, :now - interval '20 minutes' "
                "       + (row_number() OVER (ORDER BY id)) * interval '0.5 second', "
                "       'out_of_order' FROM chargers ORDER BY id LIMIT 100"
            ),
            params,
        )
        s.execute(text("ANALYZE"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__)
    default = _ocpp_default_url().replace(BENCH_DB, "polaris_bench_alerts")
    parser.add_argument("--database-url", default=default)
    parser.add_argument("--chargers", type=int, default=5000)
    parser.add_argument("--alerts", type=int, default=200_000)
    args = parser.parse_args(argv)
    build_database(args.database_url, args.chargers)
    db = Database(args.database_url, statement_timeout_ms=600_000)  # the seeding is long
    now = datetime.now(UTC)
    try:
        _seed(db, now, args.alerts)
        passes = []
        for i in range(2):
            started = time.perf_counter()
            with db.session() as s:
                result = evaluate(s, now + timedelta(seconds=i), {Channel.email, Channel.webhook})
            passes.append((time.perf_counter() - started, result.opened))
        counts = []
        for _ in range(500):
            started = time.perf_counter()
            with db.reads() as s:
                open_now = count_open_alerts(s)
            counts.append(time.perf_counter() - started)
        with db.reads() as s:
            plan = s.execute(
                text("EXPLAIN ANALYZE SELECT count(*) FROM alerts WHERE recovered_at IS NULL")
            ).scalars()
            plan_text = " | ".join(line.strip() for line in plan)
        print(f"{args.chargers} chargers, {args.alerts} closed alerts, {open_now} open")
        print(f"count_open_alerts (ms): p50 {_p(counts, 0.5):.3f}  p95 {_p(counts, 0.95):.3f}")
        print(f"plan: {plan_text}")
        print("evaluate (s, opened):", ", ".join(f"{t:.3f} ({n})" for t, n in passes))
    finally:
        db.engine.dispose()
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
