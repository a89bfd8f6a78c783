"""``python -m bench build|run|commands|balancer``: see bench/README.md."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a benchmark database (PostgreSQL)")
    build.add_argument("--database-url", required=True)
    build.add_argument("--scale", type=float, default=1.0, help="multiplies every count (1)")
    run = commands.add_parser("run", help="measure the app on a bench database")
    run.add_argument("--database-url", required=True)
    run.add_argument("--json", help="write the figures to this file as JSON")
    run.add_argument("--repeat", type=int, default=30, help="timed repeats per figure (30)")
    run.add_argument("--seconds", type=float, default=10, help="throughput duration (10)")
    run.add_argument("--users", type=int, default=8, help="simulated drivers (8)")
    run.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=("throughput", "export", "admin", "pages"),
        help="leave a part out (figures become null)",
    )
    commands_parser = commands.add_parser(
        "commands",
        help="command latency: API to charger, 2 OCPP servers (a database of its own)",
    )
    from bench.command_latency import add_arguments

    add_arguments(commands_parser)
    balancer_parser = commands.add_parser(
        "balancer",
        help="throughput: 2 OCPP servers, and the app behind HAProxy with 1 and 2 instances",
    )
    from bench import balancer

    balancer.add_arguments(balancer_parser)
    args = parser.parse_args(argv)
    if args.command == "commands":
        from bench.command_latency import run_from_args

        run_from_args(args)
    elif args.command == "balancer":
        balancer.run_from_args(args)
    elif args.command == "build":
        from bench.build import build as build_database

        build_database(args.database_url, args.scale)
    else:
        from bench.run import run as run_bench

        run_bench(
            args.database_url, args.json, args.repeat, args.seconds, set(args.skip), args.users
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
