"""Simulated chargers speaking OCPP 1.6J through the real ``ocpp`` client classes.

For tests, an async API: ``connect_charger`` then ``boot``, ``authorize``,
``start_transaction``, ``meter``, ``stop_transaction``. For demos and load, ``simulate``: N
chargers, each boots, sends heartbeats and runs one charging session with meter values every
few seconds, then stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect
from websockets.headers import build_authorization_basic

log = logging.getLogger("polaris.simulator")
SUBPROTOCOL = "ocpp1.6"


# Below every demo charger's rating (7.4 kW and up): the central system takes no reading a
# charger could not have delivered (data/ocpp/energy.py), so a faster simulation would be
# disputed.
SIMULATED_POWER_KW = 7.0


def ocpp_time(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SimulatedCharger(ChargePoint):
    """A charger: sends what a real one sends, answers ReserveNow/CancelReservation.

    ``reserve_answer``/``cancel_answer`` set what it answers; ``received`` lists the calls the
    central system sent it, as (action, payload).
    """

    def __init__(self, charger_id: str, connection: ClientConnection, **kwargs: Any):
        super().__init__(charger_id, connection, **kwargs)
        self.reserve_answer = "Accepted"
        self.cancel_answer = "Accepted"
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.skip_validation = False  # the load benchmark skips client-side schema checks
        self._heartbeats: asyncio.Task[None] | None = None

    async def send(self, payload: Any) -> Any:
        return await self.call(payload, suppress=False, skip_schema_validation=self.skip_validation)

    @on(Action.reserve_now)
    def on_reserve_now(self, **payload: Any) -> call_result.ReserveNow:
        self.received.append(("ReserveNow", payload))
        return call_result.ReserveNow(status=self.reserve_answer)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, **payload: Any) -> call_result.CancelReservation:
        self.received.append(("CancelReservation", payload))
        return call_result.CancelReservation(status=self.cancel_answer)

    # --- what a charger sends ----------------------------------------------------------------

    async def boot(self) -> call_result.BootNotification:
        return await self.send(
            call.BootNotification(charge_point_model="Polaris Sim", charge_point_vendor="Polaris")
        )

    async def heartbeat(self) -> call_result.Heartbeat:
        return await self.send(call.Heartbeat())

    async def status(self, status: str, connector_id: int = 1, error_code: str = "NoError") -> None:
        await self.send(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=error_code,
                status=status,
                timestamp=ocpp_time(),
            )
        )

    async def authorize(self, id_tag: str) -> str:
        result = await self.send(call.Authorize(id_tag=id_tag))
        return str(result.id_tag_info["status"])

    async def start_transaction(
        self,
        id_tag: str,
        *,
        meter_start_wh: int = 0,
        connector_id: int = 1,
        timestamp: str | None = None,
    ) -> tuple[int, str]:
        """StartTransaction; (transactionId, idTagInfo status)."""
        result = await self.send(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start_wh,
                timestamp=timestamp or ocpp_time(),
            )
        )
        return int(result.transaction_id), str(result.id_tag_info["status"])

    async def meter(
        self,
        transaction_id: int,
        value: Decimal | int | float,
        *,
        unit: str = "Wh",
        connector_id: int = 1,
        timestamp: str | None = None,
    ) -> None:
        await self.send(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[
                    {
                        "timestamp": timestamp or ocpp_time(),
                        "sampledValue": [
                            {
                                "value": str(value),
                                "context": "Sample.Periodic",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": unit,
                            }
                        ],
                    }
                ],
            )
        )

    async def stop_transaction(
        self,
        transaction_id: int,
        meter_stop_wh: int,
        *,
        timestamp: str | None = None,
        reason: str = "Local",
    ) -> str | None:
        result = await self.send(
            call.StopTransaction(
                meter_stop=meter_stop_wh,
                timestamp=timestamp or ocpp_time(),
                transaction_id=transaction_id,
                reason=reason,
            )
        )
        return None if result.id_tag_info is None else str(result.id_tag_info["status"])

    # --- heartbeats in the background --------------------------------------------------------

    def start_heartbeats(self, interval_s: float) -> None:
        self.stop_heartbeats()
        self._heartbeats = asyncio.create_task(self._beat(interval_s))

    def stop_heartbeats(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
            self._heartbeats = None

    async def _beat(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.heartbeat()


def charger_url(url: str, charger_id: str) -> str:
    return f"{url.rstrip('/')}/{charger_id}"


@asynccontextmanager
async def connect_charger(
    url: str,
    charger_id: str,
    *,
    password: str | None = None,
    response_timeout_s: float = 30,
) -> AsyncIterator[SimulatedCharger]:
    """Connect ``charger_id`` to the central system at ``url`` (``ws://host:port/ocpp``)."""
    headers = {}
    if password is not None:
        headers["Authorization"] = build_authorization_basic(charger_id, password)
    async with connect(
        charger_url(url, charger_id),
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=30,
        ping_interval=None,
    ) as connection:
        charger = SimulatedCharger(charger_id, connection, response_timeout=response_timeout_s)
        listener = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            charger.stop_heartbeats()
            listener.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await listener


@dataclass
class SessionSummary:
    charger_id: str
    transaction_id: int | None = None
    status: str = ""
    energy_wh: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)


async def charging_session(
    charger: SimulatedCharger,
    id_tag: str,
    *,
    meter_values: int = 5,
    interval_s: float = 5.0,
    power_kw: float = SIMULATED_POWER_KW,
    unit: str = "Wh",
    meter_start_wh: int = 0,
    summary: SessionSummary | None = None,
) -> SessionSummary:
    """Authorize, start, ``meter_values`` readings ``interval_s`` apart at ``power_kw``, stop."""
    summary = summary or SessionSummary(charger.id)
    status = await charger.authorize(id_tag)
    summary.messages += 1
    summary.status = status
    if status != "Accepted":
        return summary
    await charger.status("Preparing")
    transaction_id, status = await charger.start_transaction(id_tag, meter_start_wh=meter_start_wh)
    await charger.status("Charging")
    summary.messages += 3
    summary.transaction_id, summary.status = transaction_id, status
    register = Decimal(meter_start_wh)
    step_wh = Decimal(str(power_kw)) * Decimal(str(interval_s)) / 3600 * 1000
    for _ in range(meter_values):
        await asyncio.sleep(interval_s)
        register += step_wh
        # Readings to the Wh's thousandth either way (kWh: six decimals).
        value = register if unit == "Wh" else register / 1000
        digits = Decimal("0.001") if unit == "Wh" else Decimal("0.000001")
        await charger.meter(transaction_id, value.quantize(digits), unit=unit)
        summary.messages += 1
    await charger.stop_transaction(transaction_id, int(register))
    await charger.status("Finishing")
    await charger.status("Available")
    summary.messages += 3
    summary.energy_wh = int(register) - meter_start_wh
    return summary


async def simulate_charger(
    url: str,
    charger_id: str,
    id_tag: str,
    *,
    password: str | None = None,
    heartbeat_s: float = 30.0,
    meter_values: int = 5,
    interval_s: float = 5.0,
    power_kw: float = SIMULATED_POWER_KW,
    unit: str = "Wh",
) -> SessionSummary:
    """One charger from boot to the end of one charging session."""
    summary = SessionSummary(charger_id)
    try:
        async with connect_charger(url, charger_id, password=password) as charger:
            await charger.boot()
            await charger.status("Available")
            summary.messages += 2
            charger.start_heartbeats(heartbeat_s)
            await charging_session(
                charger,
                id_tag,
                meter_values=meter_values,
                interval_s=interval_s,
                power_kw=power_kw,
                unit=unit,
                summary=summary,
            )
    except Exception as exc:  # noqa: BLE001 - one charger's failure is reported, not fatal
        summary.errors.append(f"{exc.__class__.__name__}: {exc}")
    return summary


async def simulate(
    url: str, charger_ids: Sequence[str], id_tag: str, **options: Any
) -> list[SessionSummary]:
    """Run ``simulate_charger`` for every charger at once."""
    return list(
        await asyncio.gather(
            *(simulate_charger(url, charger_id, id_tag, **options) for charger_id in charger_ids)
        )
    )
