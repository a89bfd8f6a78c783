"""``python -m bench.outage_cost [--database-url URL] [--chargers N] [--messages N]``: what the
live outage log (``data.uptime.live``) adds to an OCPP StatusNotification and a Heartbeat (issue
17: at most 1 ms p95).

Builds a throwaway PostgreSQL database (``polaris_bench_outage_cost`` on the
``POLARIS_TEST_POSTGRES_URL`` server unless ``--database-url`` says otherwise; dropped at the
end) with N chargers heard from just now and 50 closed outages each. Then handles messages as
the central system does (``data.ocpp.messages``, one transaction each, commit included), in
blocks that alternate between the real bookkeeping and none (``close_offline`` and
``follow_reports`` replaced by no-ops), on random chargers: Heartbeats, and StatusNotifications
on connector 0 that turn chargers Faulted and Available again (so outages open and close).

Prints, per message: p50/p95 of the whole transaction with and without the bookkeeping, and
p50/p95 of the bookkeeping's own statements timed inside the transaction (the added cost
proper, free of the commit's noise); then the offline sweep's time over the whole fleet.
Not a test: timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

import data.ocpp.messages as ocpp
from bench.ocpp_load import BENCH_DB, build_database, charger_ids, drop_database
from bench.ocpp_load import _default_url as _ocpp_default_url
from data.core.db import Database
from data.uptime.live import open_offline_outages

BLOCK = 200  # messages per block; blocks alternate with and without the bookkeeping


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def _seed(db: Database, now: datetime) -> None:
    """Every charger heard from now, 50 closed outages each over the past year (the index the
    bookkeeping probes is not empty)."""
    with db.session() as s:
        s.execute(text("UPDATE chargers SET last_seen_at = :now"), {"now": now})
        s.execute(
            text(
                "INSERT INTO outages (id, charger_id, started_at, ended_at, kind) "
                "SELECT c.id || '-' || g, c.id, :now - g * interval '7 days', "
                "       :now - g * interval '7 days' + interval '20 minutes', "
                "       CASE WHEN g % 2 = 0 THEN 'offline' ELSE 'out_of_order' END "
                "FROM chargers c CROSS JOIN generate_series(1, 50) g"
            ),
            {"now": now},
        )
        s.execute(text("ANALYZE"))


def measure(db: Database, chargers: list[str], messages: int) -> dict[str, dict[str, list[float]]]:
    """Per message kind: ``with`` / ``without`` transaction times and ``bookkeeping`` times."""
    real = (ocpp.close_offline, ocpp.follow_reports)
    spent = [0.0]

    def timed(fn: Callable[..., None]) -> Callable[..., None]:
        def run(*args: Any) -> None:
            started = time.perf_counter()
            fn(*args)
            spent[0] += time.perf_counter() - started

        return run

    def none(*_: Any) -> None:
        return None

    rng = random.Random(17)
    faulted: set[str] = set()
    out: dict[str, dict[str, list[float]]] = {
        kind: {"with": [], "without": [], "bookkeeping": []}
        for kind in ("Heartbeat", "StatusNotification")
    }
    clock = datetime.now(UTC)
    for i in range(messages):
        bookkeeping = (i // BLOCK) % 2 == 0
        patched = (timed(real[0]), timed(real[1])) if bookkeeping else (none, none)
        ocpp.close_offline, ocpp.follow_reports = patched  # type: ignore[assignment]
        charger = rng.choice(chargers)
        clock += timedelta(milliseconds=10)
        spent[0] = 0.0
        started = time.perf_counter()
        if i % 2:
            kind = "Heartbeat"
            with db.session() as s:
                ocpp.heartbeat(s, charger, clock)
        else:
            kind = "StatusNotification"
            state = "Available" if charger in faulted else "Faulted"
            (faulted.discard if charger in faulted else faulted.add)(charger)
            with db.session() as s:
                ocpp.status_notification(
                    s, charger, 0, state, "NoError", None, ocpp.ocpp_time(clock), clock
                )
        elapsed = time.perf_counter() - started
        out[kind]["with" if bookkeeping else "without"].append(elapsed)
        if bookkeeping:
            out[kind]["bookkeeping"].append(spent[0])
    ocpp.close_offline, ocpp.follow_reports = real
    return out


def plans(db: Database, charger: str) -> dict[str, float]:
    """The server-side time of each bookkeeping statement (EXPLAIN ANALYZE, rolled back): free of
    the client, the round trip and the commit, so it stays meaningful on a busy machine."""
    from data.uptime import live

    now = datetime.now(UTC)
    statements: dict[str, tuple[Any, dict[str, Any]]] = {
        "close offline (every message)": (live._CLOSE_OFFLINE, {"for_charger": charger, "at": now}),
        "open out_of_order (StatusNotification, down)": (
            live._OUT_OF_ORDER_FROM_REPORT,
            {"for_charger": charger, "at": now, "new_outage_id": "x"},
        ),
        "close out_of_order (StatusNotification, up)": (
            live._CLOSE_OUT_OF_ORDER, {"for_charger": charger, "at": now},
        ),
        "StatusNotification down, one statement (close offline, open out_of_order)": (
            live._FOLLOW_REPORTS_PG[True],
            # The columns' Python defaults, as the ORM's execute adds them.
            {"for_charger": charger, "at": now, "now": now, "new_outage_id": "x",
             "cause": "unknown", "excluded": False},
        ),
        "StatusNotification up, one statement (close offline, close out_of_order)": (
            live._FOLLOW_REPORTS_PG[False], {"for_charger": charger, "at": now, "now": now},
        ),
    }  # fmt: skip
    times: dict[str, float] = {}
    with db.engine.connect() as c:
        for name, (statement, params) in statements.items():
            expanded = statement.compile(dialect=c.dialect).construct_expanded_state(params)
            sql, values = (
                f"EXPLAIN (ANALYZE, FORMAT JSON) {expanded.statement}",
                expanded.parameters,
            )
            best = min(
                (c.exec_driver_sql(sql, values).scalar_one() for _ in range(20)),
                key=lambda plan: plan[0]["Execution Time"],
            )
            times[name] = best[0]["Planning Time"] + best[0]["Execution Time"]
        c.rollback()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.outage_cost", description=__doc__)
    default = _ocpp_default_url().replace(BENCH_DB, "polaris_bench_outage_cost")
    parser.add_argument("--database-url", default=default)
    parser.add_argument("--chargers", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=8000)
    args = parser.parse_args(argv)
    build_database(args.database_url, args.chargers)
    db = Database(args.database_url)
    try:
        _seed(db, datetime.now(UTC))
        chargers = charger_ids(args.chargers)
        measure(db, chargers, 2 * BLOCK)  # warm-up: connections, prepared statements
        figures = measure(db, chargers, args.messages)
        print(f"{args.chargers} chargers, {args.messages} messages (ms)")
        print(f"{'message':<20}{'p50 with':>10}{'p95 with':>10}{'p50 w/o':>10}{'p95 w/o':>10}"
              f"{'added p50':>11}{'added p95':>11}")  # fmt: skip
        for kind, f in figures.items():
            print(
                f"{kind:<20}{_p(f['with'], .5):>10.3f}{_p(f['with'], .95):>10.3f}"
                f"{_p(f['without'], .5):>10.3f}{_p(f['without'], .95):>10.3f}"
                f"{_p(f['bookkeeping'], .5):>11.3f}{_p(f['bookkeeping'], .95):>11.3f}"
            )  # fmt: skip
        for name, ms in plans(db, chargers[0]).items():
            print(f"EXPLAIN ANALYZE {name}: {ms:.3f} ms (planning + execution, server side)")
        sweeps = []
        for minutes in (61, 62, 63, 64, 65):  # every charger silent past the hour: all open
            later = datetime.now(UTC) + timedelta(minutes=minutes)
            started = time.perf_counter()
            with db.session() as s:
                opened = open_offline_outages(s, later, 3600)
            sweeps.append((time.perf_counter() - started, opened))
        print("offline sweep (s, opened):", ", ".join(f"{t:.3f} ({n})" for t, n in sweeps))
    finally:
        db.engine.dispose()
        drop_database(args.database_url)


if __name__ == "__main__":
    main()
