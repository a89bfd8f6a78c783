"""Benchmark: how long loading the demo takes on a fresh SQLite file (the first start's wait).

    .venv/bin/python -m bench.demo_load [--repeat 3]

Prints the seconds of each load and the sessions loaded. Target: under 5 s on a quiet machine.
Not a test: timings depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from data.core.db import Database, upgrade
from data.core.models import ChargingSession
from data.demo.loader import load_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.demo_load", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="fresh loads to time (3)")
    args = parser.parse_args(argv)
    for run in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory() as folder:
            db = Database(f"sqlite:///{Path(folder) / 'demo.db'}")
            upgrade(db.engine)
            started = time.perf_counter()
            with db.session() as s:
                load_demo(s, datetime.now(UTC))
            seconds = time.perf_counter() - started
            with db.session() as s:
                sessions = s.scalar(select(func.count()).select_from(ChargingSession))
            db.engine.dispose()
        print(f"run {run}: demo loaded in {seconds:.2f} s ({sessions:,} sessions)")


if __name__ == "__main__":
    main()
