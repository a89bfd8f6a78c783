"""The cost of one session by the rule of ``shared/spec/data-exchange.md`` ("Prices and costs"):
``session_cost``, the one function every figure of money comes from (the stored cost of a
finalized session, the live cost of one in progress, imports, the backfill).

For a tariff version, the session's energy, its start and its end (``ended_at``, or now while in
progress) and the charger's ``max_power_kw``:

- ``cost_energy`` = energy x the energy price: ``dc_energy_price_per_kwh`` on a charger above
  22 kW when the tariff has one, else ``energy_price_per_kwh``;
- ``cost_time`` = max(0, seconds - time_free_minutes x 60) / 3600 x time_price_per_hour, the
  duration being real elapsed time (instants in UTC: a DST change inside a session counts);
- ``cost_fee`` = session_fee;
- each rounded half up to the currency's minor unit (ISO 4217, from Babel's CLDR data: EUR 2
  digits, JPY 0); ``total`` is the sum of the rounded parts, so a receipt's lines add up;
- ``vat`` = total - total / (1 + vat_percent / 100), rounded the same way.

Empty prices count as 0. Prices include VAT. Pure: no database, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache

from babel.numbers import get_currency_precision

# Above this a charger is DC (fast) charging: the DC energy price holds there, when given.
DC_ABOVE_KW = Decimal(22)
_ZERO = Decimal(0)
_SECONDS_PER_HOUR = Decimal(3600)
_MICROSECONDS = Decimal(1_000_000)


@dataclass(frozen=True)
class TariffPrices:
    """One tariff version (``tariffs.csv`` row): what prices a session starting at or after
    ``valid_from`` and before the tariff's next version. ``None`` prices count as 0."""

    tariff_id: str
    valid_from: datetime
    name: str
    currency: str
    energy_price_per_kwh: Decimal | None = None
    dc_energy_price_per_kwh: Decimal | None = None
    session_fee: Decimal | None = None
    time_price_per_hour: Decimal | None = None
    time_free_minutes: int | None = None
    vat_percent: Decimal | None = None

    def energy_price(self, max_power_kw: Decimal | float | int | None) -> Decimal:
        """The price of a kWh on a charger of ``max_power_kw``."""
        power = None if max_power_kw is None else Decimal(str(max_power_kw))
        if self.dc_energy_price_per_kwh is not None and power is not None and power > DC_ABOVE_KW:
            return Decimal(self.dc_energy_price_per_kwh)
        return _price(self.energy_price_per_kwh)


@dataclass(frozen=True)
class SessionCost:
    """A session's cost by one tariff version, each part in the currency's minor unit."""

    tariff_id: str
    tariff_valid_from: datetime
    currency: str
    energy: Decimal
    time: Decimal
    fee: Decimal
    total: Decimal  # energy + time + fee
    vat: Decimal  # included in total


@cache
def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``0.01`` for EUR and USD, ``1`` for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half up to the minor unit of ``currency``."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def _price(value: Decimal | float | int | None) -> Decimal:
    return _ZERO if value is None else Decimal(str(value))


def elapsed_seconds(start: datetime, end: datetime) -> Decimal:
    """Real seconds from ``start`` to ``end`` (never negative). Both are compared in UTC: two
    datetimes of one ``ZoneInfo`` would otherwise subtract as wall clocks, losing or gaining
    the hour of a DST change."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("naive datetime: every timestamp needs a time zone")
    delta = end.astimezone(UTC) - start.astimezone(UTC)
    return max(Decimal(delta // timedelta(microseconds=1)) / _MICROSECONDS, _ZERO)


def session_cost(
    tariff: TariffPrices,
    energy_kwh: Decimal | float | int,
    started_at: datetime,
    end: datetime,
    max_power_kw: Decimal | float | int | None,
) -> SessionCost:
    """The cost of a session that delivered ``energy_kwh`` from ``started_at`` to ``end`` (its
    ``ended_at``, or now while in progress) on a charger of ``max_power_kw``, by ``tariff``
    (the version in force at ``started_at``)."""
    currency = tariff.currency
    # Exact products, then one rounding per part (28 digits would do; 40 leaves no doubt).
    with localcontext() as ctx:
        ctx.prec = 40
        energy = Decimal(str(energy_kwh)) * tariff.energy_price(max_power_kw)
        free_seconds = Decimal(tariff.time_free_minutes or 0) * 60
        billed = max(elapsed_seconds(started_at, end) - free_seconds, _ZERO)
        time = billed / _SECONDS_PER_HOUR * _price(tariff.time_price_per_hour)
        fee = _price(tariff.session_fee)
        cost_energy, cost_time, cost_fee = (
            round_money(value, currency) for value in (energy, time, fee)
        )
        total = cost_energy + cost_time + cost_fee
        net = total / (1 + _price(tariff.vat_percent) / 100)
        vat = round_money(total - net, currency)
    return SessionCost(
        tariff_id=tariff.tariff_id,
        tariff_valid_from=tariff.valid_from,
        currency=currency,
        energy=cost_energy,
        time=cost_time,
        fee=cost_fee,
        total=total,
        vat=vat,
    )
