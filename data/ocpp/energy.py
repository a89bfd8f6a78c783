"""The energy plausibility rule for OCPP meter readings, and the disputes it raises.

A reading is taken only when it is plausible (``allowed_energy_kwh``): the energy since the
transaction's start is at most what the charger's ``max_power_kw`` can deliver in the time
since then, 10 % plus 0.05 kWh of tolerance, and the register never goes backwards. An
implausible MeterValues or StopTransaction is still answered (a charger refused would retry
forever) but its energy is not taken: the session keeps its last plausible figure, is marked
``energy_disputed_at`` with what the charger reported, counts in no usage figure until an admin
confirms or corrects it (data/ocpp/admin.py), and the rejection is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from data.core.models import ChargingSession
from data.core.sql import KWH

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER_IMPORT = "Power.Active.Import"
WH = Decimal("0.001")  # meter readings are kept to the milliwatt-hour (Numeric(15, 3))
MAX_READING_WH = Decimal("999999999999.999")  # the largest Numeric(15, 3)

# Plausible energy: max_power_kw x hours since the start, 10 % over (meters and power ratings
# are not exact) plus a fixed 0.05 kWh (seconds of clock skew between start and reading).
POWER_TOLERANCE = Decimal("1.10")
ENERGY_ALLOWANCE_KWH = Decimal("0.05")
# A power reading above this (W) is absurd (the fastest car chargers give 350 kW): ignored.
MAX_POWER_W = Decimal("1000000")
# Power is kept to the watt (Numeric(10, 0)): no charger's power reading is finer.
WATT = Decimal(1)
# A charger without a power rating: above the fastest car chargers (350 kW CCS).
FALLBACK_POWER_KW = Decimal("400")
# The start time is the charger's own word: a backdated StartTransaction buys no more than
# three days of charging (a real session never needs more: no car battery takes more).
MAX_PLAUSIBLE_DURATION = timedelta(days=3)

log = logging.getLogger("polaris.ocpp")


def _measured(sampled_value: Mapping[str, Any], unit: str, kilo_unit: str) -> Decimal | None:
    """A SampledValue's value in ``unit`` (given in it, the default, or in ``kilo_unit``), or
    None if it is in another unit, unreadable, not finite or negative."""
    given = sampled_value.get("unit", unit)
    if given not in (unit, kilo_unit):
        return None
    try:
        value = Decimal(str(sampled_value.get("value", "")).strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    return value * 1000 if given == kilo_unit else value


def energy_reading_wh(sampled_value: Mapping[str, Any]) -> Decimal | None:
    """The energy register in Wh from one OCPP SampledValue, or None if it is not one.

    OCPP defaults: measurand Energy.Active.Import.Register, unit Wh. Per-phase values are
    skipped (the register total has no phase); so are unreadable or negative values.
    """
    if sampled_value.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER:
        return None
    if sampled_value.get("phase"):
        return None
    value = _measured(sampled_value, "Wh", "kWh")
    if value is None:
        return None
    # Beyond any register (and Decimal's precision): the most a reading can be, implausible.
    return min(value, MAX_READING_WH).quantize(WH, rounding=ROUND_HALF_UP)


def highest_energy_wh(meter_values: Iterable[Mapping[str, Any]]) -> Decimal | None:
    """The highest energy register reading (Wh) in a MeterValues ``meterValue`` list."""
    readings = [
        wh
        for meter_value in meter_values
        for sampled in meter_value.get("sampled_value", ())
        if (wh := energy_reading_wh(sampled)) is not None
    ]
    return max(readings, default=None)


def _power_w(sampled_value: Mapping[str, Any]) -> Decimal | None:
    """A Power.Active.Import value in W (unit W or kW; none given: W), or None if it is not one
    or is unreadable, negative or above ``MAX_POWER_W``."""
    if sampled_value.get("measurand") != POWER_IMPORT:
        return None
    value = _measured(sampled_value, "W", "kW")
    if value is None:
        return None
    return value if value <= MAX_POWER_W else None


def sample_power_w(sampled_values: Iterable[Mapping[str, Any]]) -> Decimal | None:
    """The power (whole W) of one MeterValue's sampled values (one sample time), or None.

    A value without ``phase`` is the total; without one, the per-phase values are summed, one
    per phase (``L1`` and ``L1-N`` are the same phase: the higher counts; ``N`` and the
    line-to-line ones are no phase's import).
    """
    totals: list[Decimal] = []
    phases: dict[str, Decimal] = {}
    for sampled in sampled_values:
        watts = _power_w(sampled)
        if watts is None:
            continue
        phase = sampled.get("phase")
        if not phase:
            totals.append(watts)
        elif phase in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"):
            line = phase[:2]
            phases[line] = max(watts, phases.get(line, watts))
    if totals:
        total = max(totals)
    elif phases:
        total = sum(phases.values(), Decimal(0))
    else:
        return None
    total = total.quantize(WATT, rounding=ROUND_HALF_UP)
    # Three plausible phases may still add up to an absurd total.
    return total if total <= MAX_POWER_W else None


def peak_power_w(meter_values: Iterable[Mapping[str, Any]]) -> Decimal | None:
    """The highest power (W) of a MeterValues ``meterValue`` list (or a StopTransaction's
    ``transactionData``), each entry one sample time; None when none has a usable one."""
    samples = [
        watts
        for meter_value in meter_values
        if (watts := sample_power_w(meter_value.get("sampled_value", ()))) is not None
    ]
    return max(samples, default=None)


def session_energy_kwh(start_wh: Decimal, last_wh: Decimal) -> Decimal:
    """kWh delivered between two register readings, rounded as sessions.energy_kwh stores it."""
    delivered = max(Decimal(last_wh) - Decimal(start_wh), Decimal(0))
    return (delivered / 1000).quantize(KWH, rounding=ROUND_HALF_UP)


def allowed_energy_kwh(
    max_power_kw: Decimal | float | None, started_at: datetime, read_at: datetime
) -> Decimal:
    """The most energy (kWh) a charger rated ``max_power_kw`` can have delivered between
    ``started_at`` and ``read_at``, with the tolerance above (never less than 0.05 kWh)."""
    power = Decimal(str(max_power_kw)) if max_power_kw and max_power_kw > 0 else FALLBACK_POWER_KW
    elapsed = min(max(read_at - started_at, timedelta(0)), MAX_PLAUSIBLE_DURATION)
    hours = Decimal(elapsed // timedelta(microseconds=1)) / Decimal(3_600_000_000)
    return (power * hours * POWER_TOLERANCE + ENERGY_ALLOWANCE_KWH).quantize(KWH, ROUND_DOWN)


def _reported_kwh(start_wh: Decimal, reading_wh: Decimal) -> Decimal:
    # Readings are capped at MAX_READING_WH, so this always fits sessions.energy_kwh.
    return session_energy_kwh(start_wh, reading_wh)


@dataclass(frozen=True)
class Dispute:
    """Why a reading was not taken: what it claims and the most (or least) it could be."""

    reported_kwh: Decimal
    limit_kwh: Decimal
    decreasing: bool


def check_reading(
    max_power_kw: Decimal | float | None,
    started_at: datetime,
    meter_start_wh: Decimal,
    meter_last_wh: Decimal,
    meter_last_at: datetime | None,
    reading_wh: Decimal,
    read_at: datetime,
) -> Dispute | None:
    """None when ``reading_wh`` at ``read_at`` may be taken (or is simply an old or repeated
    reading: not higher, and not sampled after the register's latest); a ``Dispute`` when it
    claims more than the charger can deliver, or is lower than a reading sampled before it."""
    if reading_wh > meter_last_wh:
        allowed = allowed_energy_kwh(max_power_kw, started_at, read_at)
        if (Decimal(reading_wh) - Decimal(meter_start_wh)) / 1000 <= allowed:
            return None
        return Dispute(_reported_kwh(meter_start_wh, reading_wh), allowed, decreasing=False)
    if reading_wh < meter_last_wh and meter_last_at is not None and read_at > meter_last_at:
        return Dispute(
            _reported_kwh(meter_start_wh, reading_wh),
            session_energy_kwh(meter_start_wh, meter_last_wh),
            decreasing=True,
        )
    return None


def log_dispute(
    charger_id: str, transaction_id: int, session_id: str | None, dispute: Dispute, message: str
) -> None:
    """Log a reading that was not taken, and why (the admin's OCPP page lists the session)."""
    if dispute.decreasing:
        log.warning(
            "%s from charger %s, session %s (transaction %s): register went back to %s kWh "
            "since the start, below the %s kWh already read; not taken, energy disputed",
            message, charger_id, session_id, transaction_id, dispute.reported_kwh,
            dispute.limit_kwh,
        )  # fmt: skip
    else:
        log.warning(
            "%s from charger %s, session %s (transaction %s): %s kWh since the start reported, "
            "at most %s kWh allowed; not taken, energy disputed",
            message, charger_id, session_id, transaction_id, dispute.reported_kwh,
            dispute.limit_kwh,
        )  # fmt: skip


def dispute_session(
    session: Session, session_id: str | None, dispute: Dispute, now: datetime
) -> None:
    """Mark the session's energy disputed (the first time at ``now``), keeping the latest
    reported figure; the rollup triggers take it out of every usage figure."""
    if session_id is None:
        return
    session.execute(
        update(ChargingSession)
        .where(ChargingSession.id == session_id)
        .values(
            energy_disputed_at=func.coalesce(ChargingSession.energy_disputed_at, now),
            energy_disputed_kwh=dispute.reported_kwh,
        ),
        execution_options={"synchronize_session": False},
    )
