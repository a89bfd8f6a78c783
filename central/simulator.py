"""Simulated chargers speaking OCPP 1.6J through the real ``ocpp`` client classes.

For tests, an async API: ``connect_charger`` then ``boot``, ``authorize``,
``start_transaction``, ``meter``, ``stop_transaction``. For demos and load, ``simulate``: N
chargers, each boots, sends heartbeats and runs one charging session with meter values every
few seconds, then stops (or stays connected a while, answering commands).

A simulated charger answers the central system's commands like a real one (one connector):
RemoteStartTransaction starts a transaction with that id tag and sends meter values until
RemoteStopTransaction; Reset answers, disconnects, reconnects and boots; UnlockConnector
answers Unlocked; ChangeAvailability sends the StatusNotification; configuration keys are kept
per charger, some read-only (ChangeConfiguration: Rejected; unknown keys: NotSupported);
TriggerMessage sends the message; ClearCache is Accepted. ``commands`` makes it reject or
ignore (never answer) every command; ``answer_delay_s`` makes it answer slowly.

A charger has one central system URL; with several server instances they sit behind one address
(a load balancer), and a charger whose connection drops connects again to that address, reaching
an instance that is alive. The simulator stands in for the balancer with a list of URLs: it
connects to the first that accepts, in order, and while it stays connected (``stay``), a dropped
connection is opened again the same way, every ``reconnect_s``, followed by a BootNotification.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import math
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ocpp.charge_point import camel_to_snake_case
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.headers import build_authorization_basic

log = logging.getLogger("polaris.simulator")
SUBPROTOCOL = "ocpp1.6"


# Below every demo charger's rating (7.4 kW and up): the central system takes no reading a
# charger could not have delivered (data/ocpp/energy.py), so a faster simulation would be
# disputed.
SIMULATED_POWER_KW = 7.0


# Seconds between attempts to reach a central system after the connection dropped, and how
# long a charger keeps trying after a Reset.
RECONNECT_S = 1.0
REBOOT_WITHIN_S = 60.0

# The charger's only connector (Polaris models a charger as one connector).
CONNECTOR_ID = 1
COMMAND_ACTIONS = frozenset(
    {
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "TriggerMessage",
        "GetConfiguration",
        "ChangeConfiguration",
        "ClearCache",
        "ReserveNow",  # answered with reserve_answer / cancel_answer, but ignored and delayed
        "CancelReservation",  # like every other command
    }
)
# key -> (value, read-only), what a charger keeps from boot to boot.
CONFIGURATION: dict[str, tuple[str, bool]] = {
    "HeartbeatInterval": ("30", False),
    "MeterValueSampleInterval": ("5", False),
    "ConnectionTimeOut": ("60", False),
    "AuthorizeRemoteTxRequests": ("false", False),
    "NumberOfConnectors": ("1", True),
    "SupportedFeatureProfiles": ("Core,RemoteTrigger,Reservation", True),
}


class CommandBehaviour(enum.StrEnum):
    """How a simulated charger takes the central system's commands (for tests)."""

    answer = "answer"  # like a real charger
    reject = "reject"  # refuses each (Rejected, UnlockFailed)
    ignore = "ignore"  # never answers


def ocpp_time(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _called_action(raw_msg: str | bytes) -> tuple[str, dict[str, Any]] | None:
    """(action, snake_case payload) of a CALL, None for anything else."""
    try:
        message = json.loads(raw_msg)
    except ValueError:
        return None
    if isinstance(message, list) and len(message) == 4 and message[0] == 2:
        return str(message[2]), camel_to_snake_case(message[3])
    return None


class SimulatedCharger(ChargePoint):
    """A charger: sends what a real one sends, answers ReserveNow/CancelReservation and the
    commands (see the module docstring).

    ``reserve_answer``/``cancel_answer`` set what it answers to reservations, ``commands`` and
    ``answer_delay_s`` how it takes commands; ``received`` lists the calls the central system
    sent it, as (action, payload); ``configuration`` its keys; ``boots`` how often it booted.
    """

    _connection: ClientConnection

    def __init__(
        self,
        charger_id: str,
        connection: ClientConnection,
        *,
        urls: Iterable[str] = (),
        password: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(charger_id, connection, **kwargs)
        # To reconnect after a Reset or a dropped connection: the first of these that accepts.
        self.urls, self.password = tuple(urls), password
        self.reconnect_s = RECONNECT_S
        self.dropped = asyncio.Event()  # the connection closed without our hanging up
        self.reserve_answer = "Accepted"
        self.cancel_answer = "Accepted"
        self.commands = CommandBehaviour.answer
        self.answer_delay_s = 0.0
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.skip_validation = False  # the load benchmark skips client-side schema checks
        self.configuration = dict(CONFIGURATION)
        self.unavailable: set[int] = set()  # connectors (0: the whole charger) Inoperative
        self.transaction_id: int | None = None  # the transaction in progress
        self._starting = False  # a RemoteStartTransaction was accepted, not yet started
        self.register_wh = Decimal(0)
        self.power_kw = SIMULATED_POWER_KW
        self.meter_interval_s = 5.0
        self.boots = 0
        self.connections = 1  # websocket connections opened, the first included
        self._heartbeat_s: float | None = None
        self._heartbeats: asyncio.Task[None] | None = None
        self._metering: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def send(self, payload: Any) -> Any:
        return await self.call(payload, suppress=False, skip_schema_validation=self.skip_validation)

    # --- the connection ----------------------------------------------------------------------

    def listen(self) -> None:
        """Read what the central system sends, in the background; ``dropped`` is set when the
        connection closes while listening (the central system gone, the network down)."""
        self.dropped.clear()
        self._listener = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            await self.start()
        except ConnectionClosed:
            log.warning("charger %s: the connection to the central system dropped", self.id)
            self.dropped.set()

    async def hang_up(self) -> None:
        self.stop_heartbeats()
        tasks = [t for t in (self._metering, self._listener, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await self._connection.close()

    async def reboot(self, reason: str = "SoftReset") -> None:
        """What a Reset does: end the transaction, disconnect, reconnect, BootNotification."""
        if self.transaction_id is not None:
            await self.end_transaction(reason)
        heartbeats = self._heartbeats is not None
        self.stop_heartbeats()
        if self._listener is not None:
            self._listener.cancel()
        await self._connection.close()
        if not self.urls:
            return  # nowhere to reconnect to
        await asyncio.sleep(0.1)
        self.unavailable.clear()
        interval = float(self.configuration["HeartbeatInterval"][0]) if heartbeats else None
        await self._come_back(asyncio.get_running_loop().time() + REBOOT_WITHIN_S, interval)

    async def stay(self, seconds: float) -> None:
        """Stay connected for ``seconds``, answering commands; when the connection drops,
        connect again (``reconnect``) like a real charger, as long as the time lasts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self.dropped.wait(), remaining)
            if self.dropped.is_set():
                await self.reconnect(deadline)

    async def reconnect(self, deadline: float) -> bool:
        """After a dropped connection: stop what was talking over it, then connect again as
        after a reboot (False if no central system accepted before ``deadline``, loop time);
        heartbeats and a transaction's meter values go on."""
        self.dropped.clear()
        for task in (self._heartbeats, self._metering, *self._tasks):
            if task is not None:
                task.cancel()  # a call waiting for its answer would hold the call lock
        self._heartbeats = self._metering = None
        if not await self._come_back(deadline, self._heartbeat_s):
            return False
        if self.transaction_id is not None:  # still charging: the readings go on
            self._metering = asyncio.create_task(self._meter_while_charging(self.transaction_id))
        return True

    async def _come_back(self, deadline: float, heartbeat_s: float | None) -> bool:
        """Try the ``urls`` in order every ``reconnect_s`` until one accepts (False if none
        did before ``deadline``, loop time); then BootNotification, the connector's status and
        heartbeats every ``heartbeat_s`` (None: none)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                self._connection = await connect_first(self.urls, self.id, self.password)
                self.connections += 1
                self.listen()
                await self.boot()
                await self.status(self.connector_status())
                break
            except (OSError, WebSocketException, TimeoutError) as exc:  # refused, or dropped
                if self._listener is not None:
                    self._listener.cancel()
                if loop.time() + self.reconnect_s >= deadline:
                    log.warning("charger %s: no central system accepted it (%s)", self.id, exc)
                    return False
                await asyncio.sleep(self.reconnect_s)
        if heartbeat_s is not None:
            self.start_heartbeats(heartbeat_s)
        return True

    def _background(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def route_message(self, raw_msg: str | bytes) -> None:
        if self.commands != CommandBehaviour.ignore and not self.answer_delay_s:
            await super().route_message(raw_msg)  # like a real charger (and no extra parsing)
            return
        called = _called_action(raw_msg)
        if called is not None and called[0] in COMMAND_ACTIONS:
            if self.commands == CommandBehaviour.ignore:
                self.received.append(called)
                return
            if self.answer_delay_s > 0:
                self._background(self._answer_later(raw_msg))
                return
        await super().route_message(raw_msg)

    async def _answer_later(self, raw_msg: str | bytes) -> None:
        await asyncio.sleep(self.answer_delay_s)
        await super().route_message(raw_msg)

    # --- commands ----------------------------------------------------------------------------

    def _refuses(self, action: str, payload: dict[str, Any]) -> bool:
        self.received.append((action, payload))
        return self.commands == CommandBehaviour.reject

    @on(Action.reset)
    def on_reset(self, **payload: Any) -> call_result.Reset:
        refused = self._refuses("Reset", payload)
        return call_result.Reset(status="Rejected" if refused else "Accepted")

    @after(Action.reset)
    async def after_reset(self, type: str) -> None:
        if self.commands == CommandBehaviour.answer:
            self._background(self.reboot(f"{type}Reset"))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int) -> call_result.UnlockConnector:
        if self._refuses("UnlockConnector", {"connector_id": connector_id}):
            return call_result.UnlockConnector(status="UnlockFailed")
        if connector_id != CONNECTOR_ID:
            return call_result.UnlockConnector(status="NotSupported")
        return call_result.UnlockConnector(status="Unlocked")

    @after(Action.unlock_connector)
    async def after_unlock_connector(self, connector_id: int) -> None:
        # Unlocking the cable ends the transaction on that connector (OCPP 1.6, 5.17).
        if self.commands == CommandBehaviour.answer and connector_id == CONNECTOR_ID:
            if self.transaction_id is not None:
                self._background(self.end_transaction("UnlockCommand"))

    @on(Action.change_availability)
    def on_change_availability(
        self, connector_id: int, type: str
    ) -> call_result.ChangeAvailability:
        if self._refuses("ChangeAvailability", {"connector_id": connector_id, "type": type}):
            return call_result.ChangeAvailability(status="Rejected")
        if connector_id not in (0, CONNECTOR_ID):
            return call_result.ChangeAvailability(status="Rejected")
        if type == "Inoperative" and self.transaction_id is not None:
            return call_result.ChangeAvailability(status="Scheduled")  # after the transaction
        return call_result.ChangeAvailability(status="Accepted")

    @after(Action.change_availability)
    async def after_change_availability(self, connector_id: int, type: str) -> None:
        if self.commands != CommandBehaviour.answer or connector_id not in (0, CONNECTOR_ID):
            return
        if type == "Inoperative":
            self.unavailable.add(connector_id)
        else:
            self.unavailable.discard(connector_id)
        if self.transaction_id is None:
            status = "Unavailable" if type == "Inoperative" else "Available"
            self._background(self.status(status, connector_id=connector_id))

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        payload = {"id_tag": id_tag, "connector_id": connector_id}
        refused = self._refuses("RemoteStartTransaction", payload)
        busy = self.transaction_id is not None or self._starting
        self._starting = not (
            refused or busy or self.unavailable or connector_id not in (None, CONNECTOR_ID)
        )
        return call_result.RemoteStartTransaction(
            status="Accepted" if self._starting else "Rejected"
        )

    @after(Action.remote_start_transaction)
    async def after_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if self._starting:
            self._background(self.begin_transaction(id_tag))

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int) -> call_result.RemoteStopTransaction:
        refused = self._refuses("RemoteStopTransaction", {"transaction_id": transaction_id})
        if refused or transaction_id != self.transaction_id:
            return call_result.RemoteStopTransaction(status="Rejected")
        return call_result.RemoteStopTransaction(status="Accepted")

    @after(Action.remote_stop_transaction)
    async def after_remote_stop_transaction(self, transaction_id: int) -> None:
        if self.commands == CommandBehaviour.answer and transaction_id == self.transaction_id:
            self._background(self.end_transaction("Remote"))

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> call_result.TriggerMessage:
        payload = {"requested_message": requested_message, "connector_id": connector_id}
        if self._refuses("TriggerMessage", payload):
            return call_result.TriggerMessage(status="Rejected")
        if requested_message not in (
            "StatusNotification", "Heartbeat", "MeterValues", "BootNotification"
        ):  # fmt: skip
            return call_result.TriggerMessage(status="NotImplemented")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> None:
        if self.commands != CommandBehaviour.answer:
            return
        if requested_message == "StatusNotification":
            self._background(self.status(self.connector_status(), connector_id=CONNECTOR_ID))
        elif requested_message == "Heartbeat":
            self._background(self.heartbeat())
        elif requested_message == "MeterValues":
            charging = self.transaction_id is not None
            power = self.power_kw if charging else None
            self._background(self.meter(self.transaction_id, self.register_wh, power_kw=power))
        elif requested_message == "BootNotification":
            self._background(self.boot())

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None) -> call_result.GetConfiguration:
        self.received.append(("GetConfiguration", {"key": key}))
        wanted = list(self.configuration) if key is None else key
        known = [k for k in wanted if k in self.configuration]
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": self.configuration[k][1], "value": self.configuration[k][0]}
                for k in known
            ],
            unknown_key=[k for k in wanted if k not in self.configuration] or None,
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        if self._refuses("ChangeConfiguration", {"key": key, "value": value}):
            return call_result.ChangeConfiguration(status="Rejected")
        if key not in self.configuration:
            return call_result.ChangeConfiguration(status="NotSupported")
        if self.configuration[key][1]:  # read-only
            return call_result.ChangeConfiguration(status="Rejected")
        self.configuration[key] = (value, False)
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.clear_cache)
    def on_clear_cache(self) -> call_result.ClearCache:
        refused = self._refuses("ClearCache", {})
        return call_result.ClearCache(status="Rejected" if refused else "Accepted")

    # --- a transaction the central system started ------------------------------------------

    def connector_status(self) -> str:
        if self.transaction_id is not None:
            return "Charging"
        return "Unavailable" if self.unavailable else "Available"

    async def begin_transaction(self, id_tag: str) -> None:
        """Start charging for ``id_tag`` (RemoteStartTransaction): meter values every
        ``meter_interval_s`` at ``power_kw`` until ``end_transaction``."""
        try:
            await self.status("Preparing")
            transaction_id, status = await self.start_transaction(
                id_tag, meter_start_wh=int(self.register_wh)
            )
        finally:
            self._starting = False
        if status != "Accepted":  # the central system refused the tag: stop at once
            await self.stop_transaction(
                transaction_id, math.ceil(self.register_wh), reason="DeAuthorized"
            )
            await self.status("Available")
            return
        await self.status("Charging")
        self._metering = asyncio.create_task(self._meter_while_charging(transaction_id))

    async def _meter_while_charging(self, transaction_id: int) -> None:
        step_wh = Decimal(str(self.power_kw)) * Decimal(str(self.meter_interval_s)) / 3600 * 1000
        while self.transaction_id == transaction_id:
            await asyncio.sleep(self.meter_interval_s)
            self.register_wh += step_wh
            try:
                await self.meter(
                    transaction_id,
                    self.register_wh.quantize(Decimal("0.001")),
                    power_kw=self.power_kw,
                )
            except ConnectionClosed:
                return  # the connection dropped: metering resumes after ``reconnect``

    async def end_transaction(self, reason: str) -> None:
        """Stop the transaction in progress (RemoteStop, Reset, Unlock) and free the connector."""
        transaction_id = self.transaction_id
        if transaction_id is None:
            return
        if self._metering is not None:
            self._metering.cancel()
            with suppress(asyncio.CancelledError):
                await self._metering
            self._metering = None
        await self.stop_transaction(transaction_id, math.ceil(self.register_wh), reason=reason)
        await self.status("Finishing")
        await self.status("Unavailable" if self.unavailable else "Available")

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
        self.boots += 1
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
        transaction_id, status = int(result.transaction_id), str(result.id_tag_info["status"])
        if status == "Accepted":
            self.transaction_id = transaction_id
            self.register_wh = Decimal(meter_start_wh)
        return transaction_id, status

    async def meter(
        self,
        transaction_id: int | None,
        value: Decimal | int | float,
        *,
        unit: str = "Wh",
        connector_id: int = 1,
        timestamp: str | None = None,
        power_kw: Decimal | float | None = None,
    ) -> None:
        """One MeterValues: the energy register (``value`` in ``unit``) and, with ``power_kw``,
        the power drawn (Power.Active.Import, in W), as a real charger samples both."""
        sampled = [
            {
                "value": str(value),
                "context": "Sample.Periodic",
                "measurand": "Energy.Active.Import.Register",
                "unit": unit,
            }
        ]
        if power_kw is not None:
            sampled.append(
                {
                    "value": str(Decimal(str(power_kw)) * 1000),
                    "context": "Sample.Periodic",
                    "measurand": "Power.Active.Import",
                    "unit": "W",
                }
            )
        await self.send(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": timestamp or ocpp_time(), "sampledValue": sampled}],
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
        if self.transaction_id == transaction_id:
            self.transaction_id = None
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
        self._heartbeat_s = interval_s
        self._heartbeats = asyncio.create_task(self._beat(interval_s))

    def stop_heartbeats(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
            self._heartbeats = None

    async def _beat(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.heartbeat()
            except ConnectionClosed:
                return  # the connection dropped: heartbeats resume after ``reconnect``


def charger_url(url: str, charger_id: str) -> str:
    return f"{url.rstrip('/')}/{charger_id}"


@asynccontextmanager
async def connect_charger(
    url: str | Sequence[str],
    charger_id: str,
    *,
    password: str | None = None,
    response_timeout_s: float = 30,
) -> AsyncIterator[SimulatedCharger]:
    """Connect ``charger_id`` to the central system at ``url`` (``ws://host:port/ocpp``), or
    to the first of several URLs that accepts."""
    urls = (url,) if isinstance(url, str) else tuple(url)
    connection = await connect_first(urls, charger_id, password)
    charger = SimulatedCharger(
        charger_id, connection, urls=urls, password=password, response_timeout=response_timeout_s
    )
    charger.listen()
    try:
        yield charger
    finally:
        await charger.hang_up()


async def connect_first(
    urls: Sequence[str], charger_id: str, password: str | None
) -> ClientConnection:
    """A websocket to the first of ``urls`` that accepts ``charger_id``, tried in order (the
    simulator's stand-in for a load balancer in front of several server instances); the last
    refusal is raised when none accepts."""
    if not urls:
        raise ValueError("no central system URL")
    for url in urls[:-1]:
        try:
            return await open_connection(url, charger_id, password)
        except (OSError, WebSocketException, TimeoutError) as exc:
            log.info("charger %s: %s refused (%s); trying the next URL", charger_id, url, exc)
    return await open_connection(urls[-1], charger_id, password)


async def open_connection(url: str, charger_id: str, password: str | None) -> ClientConnection:
    """A websocket to the central system as ``charger_id`` (HTTP Basic with ``password``)."""
    headers = {}
    if password is not None:
        headers["Authorization"] = build_authorization_basic(charger_id, password)
    return await connect(
        charger_url(url, charger_id),
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=30,
        ping_interval=None,
    )


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
        if charger.transaction_id != transaction_id:
            return summary  # stopped by the central system (RemoteStop, Reset, Unlock)
        register += step_wh
        # Readings to the Wh's thousandth either way (kWh: six decimals).
        value = register if unit == "Wh" else register / 1000
        digits = Decimal("0.001") if unit == "Wh" else Decimal("0.000001")
        await charger.meter(transaction_id, value.quantize(digits), unit=unit, power_kw=power_kw)
        summary.messages += 1
    await charger.stop_transaction(transaction_id, math.ceil(register))
    await charger.status("Finishing")
    await charger.status("Available")
    summary.messages += 3
    summary.energy_wh = math.ceil(register) - meter_start_wh
    return summary


async def simulate_charger(
    urls: str | Sequence[str],
    charger_id: str,
    id_tag: str,
    *,
    password: str | None = None,
    heartbeat_s: float = 30.0,
    meter_values: int = 5,
    interval_s: float = 5.0,
    power_kw: float = SIMULATED_POWER_KW,
    unit: str = "Wh",
    session: bool = True,
    stay_s: float = 0.0,
    commands: CommandBehaviour = CommandBehaviour.answer,
    answer_delay_s: float = 0.0,
) -> SessionSummary:
    """One charger from boot to the end of one charging session (``session``), then connected
    for ``stay_s`` more seconds (connecting again when the connection drops), answering
    commands as ``commands`` and ``answer_delay_s`` say (a remotely started transaction meters
    every ``interval_s`` at ``power_kw``). ``urls``: one central system URL or several, the
    first that accepts is used."""
    summary = SessionSummary(charger_id)
    try:
        async with connect_charger(urls, charger_id, password=password) as charger:
            charger.commands, charger.answer_delay_s = commands, answer_delay_s
            charger.power_kw, charger.meter_interval_s = power_kw, interval_s
            await charger.boot()
            await charger.status("Available")
            summary.messages += 2
            charger.start_heartbeats(heartbeat_s)
            if session:
                await charging_session(
                    charger,
                    id_tag,
                    meter_values=meter_values,
                    interval_s=interval_s,
                    power_kw=power_kw,
                    unit=unit,
                    summary=summary,
                )
            await charger.stay(stay_s)
    except Exception as exc:  # noqa: BLE001 - one charger's failure is reported, not fatal
        summary.errors.append(f"{exc.__class__.__name__}: {exc}")
    return summary


async def simulate(
    urls: str | Sequence[str], charger_ids: Sequence[str], id_tag: str, **options: Any
) -> list[SessionSummary]:
    """Run ``simulate_charger`` for every charger at once."""
    return list(
        await asyncio.gather(
            *(simulate_charger(urls, charger_id, id_tag, **options) for charger_id in charger_ids)
        )
    )
