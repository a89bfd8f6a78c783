"""The cost rule of shared/spec/data-exchange.md ("Prices and costs"), data.pricing.cost, on
hand-computed examples: DC above 22 kW, free minutes, JPY without minor digits, half up at
0.005, VAT, and a session across a DST change (duration is real elapsed time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from data.pricing.cost import SessionCost, TariffPrices, minor_unit, round_money, session_cost

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def tariff(**prices: object) -> TariffPrices:
    values: dict = {"currency": "EUR", "vat_percent": Decimal("19")} | prices
    for key, value in values.items():
        if isinstance(value, str) and key != "currency":
            values[key] = Decimal(value)
    return TariffPrices("T", START - timedelta(days=30), "Test", **values)


STANDARD = tariff(
    energy_price_per_kwh="0.39",
    dc_energy_price_per_kwh="0.59",
    session_fee="0.50",
    time_price_per_hour="1.20",
    time_free_minutes=240,
)


def test_energy_time_after_free_minutes_fee_and_vat_add_up():
    # 40 kWh on a 22 kW charger (not above 22: AC price), 5 h of which 4 h are free.
    cost = session_cost(STANDARD, Decimal("40"), START, START + timedelta(hours=5), Decimal(22))
    assert cost == SessionCost(
        tariff_id="T",
        tariff_valid_from=STANDARD.valid_from,
        currency="EUR",
        energy=Decimal("15.60"),  # 40 x 0.39
        time=Decimal("1.20"),  # 60 min x 1.20/h
        fee=Decimal("0.50"),
        total=Decimal("17.30"),
        vat=Decimal("2.76"),  # 17.30 - 17.30 / 1.19 = 2.7622
    )
    assert cost.total == cost.energy + cost.time + cost.fee


@pytest.mark.parametrize(
    ("power", "expected"),
    [
        (Decimal("50"), Decimal("23.60")),  # 40 x 0.59, DC
        (Decimal("22.01"), Decimal("23.60")),  # just above 22 kW
        (Decimal("22"), Decimal("15.60")),  # 22 kW is not above 22: AC price
        (Decimal("11"), Decimal("15.60")),
        (None, Decimal("15.60")),  # unknown power: the energy price
    ],
)
def test_dc_price_above_22_kw_only(power, expected):
    cost = session_cost(STANDARD, Decimal("40"), START, START + timedelta(minutes=30), power)
    assert cost.energy == expected


def test_without_a_dc_price_fast_chargers_take_the_energy_price():
    plain = tariff(energy_price_per_kwh="0.39")
    cost = session_cost(plain, Decimal("40"), START, START + timedelta(minutes=30), Decimal(150))
    assert cost.energy == Decimal("15.60")


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(239, "0.00"), (240, "0.00"), (241, "0.02"), (300, "1.20"), (270.5, "0.61")],
)
def test_time_is_charged_only_after_the_free_minutes(minutes, expected):
    end = START + timedelta(minutes=minutes)
    assert session_cost(STANDARD, Decimal(1), START, end, None).time == Decimal(expected)


def test_no_free_minutes_charges_all_the_time():
    hourly = tariff(time_price_per_hour="1.20")
    cost = session_cost(hourly, Decimal(0), START, START + timedelta(minutes=30), None)
    assert (cost.time, cost.total) == (Decimal("0.60"), Decimal("0.60"))


def test_jpy_has_no_minor_digits():
    yen = tariff(
        currency="JPY",
        energy_price_per_kwh="55",
        session_fee="100",
        time_price_per_hour="600",
        time_free_minutes=60,
        vat_percent="10",
    )
    cost = session_cost(yen, Decimal("12.345"), START, START + timedelta(minutes=95), None)
    # 12.345 x 55 = 678.975 -> 679; 35 min x 600/h = 350; 100; VAT 1129 - 1129/1.1 = 102.64
    assert (cost.energy, cost.time, cost.fee) == (Decimal("679"), Decimal("350"), Decimal("100"))
    assert (cost.total, cost.vat, cost.currency) == (Decimal("1129"), Decimal("103"), "JPY")
    assert str(cost.total) == "1129"  # no decimals at all
    assert minor_unit("JPY") == Decimal("1") and minor_unit("EUR") == Decimal("0.01")
    assert minor_unit("KWD") == Decimal("0.001")


def test_half_up_at_exactly_half_a_cent():
    # 0.125 kWh x 0.04 = 0.005 exactly: half up is 0.01 (half even would give 0.00).
    cents = tariff(energy_price_per_kwh="0.04", vat_percent=None)
    assert session_cost(cents, Decimal("0.125"), START, START, None).energy == Decimal("0.01")
    # 28.5 x 0.69 = 19.665: 19.67 (a float would make it 19.66499... -> 19.66).
    dc = tariff(energy_price_per_kwh="0.69")
    assert session_cost(dc, Decimal("28.5"), START, START, None).energy == Decimal("19.67")
    assert round_money(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert round_money(Decimal("-0.005"), "EUR") == Decimal("-0.01")


def test_vat_is_rounded_half_up_too():
    # A 0.03 fee with 20 % VAT: 0.03 - 0.03 / 1.2 = 0.005 exactly -> 0.01.
    fee = tariff(session_fee="0.03", vat_percent="20")
    cost = session_cost(fee, Decimal(0), START, START, None)
    assert (cost.total, cost.vat) == (Decimal("0.03"), Decimal("0.01"))
    no_vat = tariff(session_fee="0.50", vat_percent=None)
    assert session_cost(no_vat, Decimal(0), START, START, None).vat == Decimal("0.00")


def test_empty_prices_count_as_zero():
    empty = tariff(vat_percent=None)
    cost = session_cost(empty, Decimal("55.5"), START, START + timedelta(hours=9), Decimal(300))
    zero = Decimal("0.00")
    assert (cost.energy, cost.time, cost.fee, cost.total, cost.vat) == (zero,) * 5


def test_total_is_the_sum_of_the_rounded_parts():
    # Unrounded: 0.004 + 0.004 + 0.004 = 0.012 -> 0.01; the parts round to 0.00 each, so 0.00.
    tiny = tariff(energy_price_per_kwh="0.004", session_fee="0.004", time_price_per_hour="0.24")
    cost = session_cost(tiny, Decimal(1), START, START + timedelta(minutes=1), None)
    assert (cost.energy, cost.time, cost.fee, cost.total) == (Decimal("0.00"),) * 4


def test_a_session_across_the_autumn_dst_change_counts_real_time():
    # Berlin, 25 October 2026: 01:30 CEST to 03:30 CET is 3 hours, though the wall clock
    # moved 2. Both instants in the same ZoneInfo: Python alone would subtract wall clocks.
    start = datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN)
    end = datetime(2026, 10, 25, 3, 30, tzinfo=BERLIN)
    assert end - start == timedelta(hours=2)  # the trap
    hourly = tariff(time_price_per_hour="1.20")
    cost = session_cost(hourly, Decimal(0), start, end, None)
    assert cost.time == Decimal("3.60")


def test_a_session_across_the_spring_dst_change_counts_real_time():
    # Berlin, 29 March 2026: 01:30 CET to 03:30 CEST is 1 hour.
    start = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)
    end = datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)
    hourly = tariff(time_price_per_hour="1.20")
    assert session_cost(hourly, Decimal(0), start, end, None).time == Decimal("1.20")


def test_an_end_before_the_start_costs_no_time_and_naive_instants_are_refused():
    hourly = tariff(time_price_per_hour="1.20")
    assert session_cost(hourly, 0, START, START - timedelta(hours=1), None).time == Decimal("0.00")
    with pytest.raises(ValueError, match="naive"):
        session_cost(hourly, 0, START.replace(tzinfo=None), START, None)
