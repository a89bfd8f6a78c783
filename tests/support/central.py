"""The OCPP central system on a loopback port for one scenario of simulated chargers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from central.server import CentralSystem, bound_port
from data.core.db import Database

CENTRAL_NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def run_central(
    db: Database,
    scenario: Callable[[CentralSystem, str], Awaitable[None]],
    *,
    commands: bool = True,
    now: datetime = CENTRAL_NOW,
) -> CentralSystem:
    """Start the central system on a free loopback port, run ``scenario(central, url)``; without
    its command loop, the scenario delivers commands itself (``deliver``). Its clock says
    ``now``."""
    central = CentralSystem(db, clock=lambda: now, response_timeout_s=10)

    async def main() -> None:
        async with central.running("127.0.0.1", 0, reservations=False, commands=commands) as server:
            await asyncio.wait_for(
                scenario(central, f"ws://127.0.0.1:{bound_port(server)}/ocpp"), timeout=60
            )

    try:
        asyncio.run(main())
    finally:
        central.close()
    return central
