"""``python -m bench.nevi --database-url URL``: the quarterly NEVI report at fleet scale (issue 17).

On a database built by ``python -m bench build`` with outages from ``python -m bench.uptime``
(it writes nothing: it reads what is there, so it can run beside other benches), times
``data.exchange.nevi.report_chunks`` for every charger over one quarter (the last full one by
default, ``--year``/``--quarter`` for another), the ZIP read to its last byte as the route
streams it, and each of its three statements alone as CSV (COPY), each ``--repeat`` times after
one warm-up, with the CPU time of the database backend and of this process (``bench.uptime``'s
``timed``: the machine is shared).
"""

from __future__ import annotations

import argparse
import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select

from bench.uptime import open_bench, timed
from data.exchange.export_stream import columns_line, statement_chunks
from data.exchange.exports import UPTIME_COLUMNS
from data.exchange.nevi import (
    OUTAGE_COLUMNS,
    SESSION_COLUMNS,
    Quarter,
    last_full_quarter,
    quarter_outages,
    quarter_sessions,
    report_chunks,
    uptime_by_month,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.nevi", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--year", type=int)
    parser.add_argument("--quarter", type=int, choices=(1, 2, 3, 4))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    db, backend, tz = open_bench(args.database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    if (args.year is None) != (args.quarter is None):
        raise SystemExit("Give both --year and --quarter, or neither.")
    quarter = last_full_quarter(now, tz) if args.year is None else Quarter(args.year, args.quarter)
    print(f"quarter {quarter.key}, {tz.key}", flush=True)

    def report() -> str:
        body = b"".join(report_chunks(db, quarter, tz, now))
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            sizes = {i.filename: i.file_size for i in archive.infolist()}
            lines = {n: archive.read(n).count(b"\n") - 1 for n in sizes if n.endswith(".csv")}
        parts = ", ".join(f"{n} {lines[n]:,} rows" for n in lines)
        return f"ZIP {len(body) / 1e6:.1f} MB of {sum(sizes.values()) / 1e6:.1f} MB: {parts}"

    def one(stmt: Select[Any], columns: list[str]) -> Callable[[], str]:
        def run() -> str:
            size = lines = 0
            with db.sessions() as session, session.begin():
                for chunk in statement_chunks(
                    session,
                    stmt,
                    columns_line(columns),
                    use_copy=True,
                ):
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            return f"{lines - 1:,} rows, {size / 1e6:.1f} MB"

        return run

    runs = [
        ("NEVI report ZIP, every charger, one quarter", report),
        ("  uptime_by_month.csv alone", one(uptime_by_month(quarter, tz, now), UPTIME_COLUMNS)),
        ("  outages.csv alone", one(quarter_outages(quarter, tz, now), OUTAGE_COLUMNS)),
        ("  sessions.csv alone", one(quarter_sessions(quarter, tz, now), SESSION_COLUMNS)),
    ]
    for what, run in runs:
        timed(what, args.repeat, run, backend)
    db.engine.dispose()


if __name__ == "__main__":
    main()
