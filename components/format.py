"""How numbers, money and times read on screen: operator's time zone, sensible precision."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, get_currency_precision

# The pages are in English; money reads the CLDR way for it (€4.80, ¥556, -$1,234.50).
LOCALE = "en"
PRICE_DECIMALS = 4  # a tariff's prices have up to 4 decimals (0.3945 EUR/kWh)


def format_kwh(kwh: float) -> str:
    """``12.3 kWh``; one decimal below 1,000, none above; thousands separated."""
    if abs(kwh) >= 1000:
        return f"{kwh:,.0f} kWh"
    return f"{kwh:,.1f} kWh"


def format_duration(delta: timedelta) -> str:
    """``1 h 20 min``, ``45 min``, ``2 d 3 h``; never negative."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def format_time(moment: datetime, tz: ZoneInfo) -> str:
    """``14:05`` in the operator's time zone."""
    return moment.astimezone(tz).strftime("%H:%M")


def format_datetime(moment: datetime, tz: ZoneInfo, now: datetime | None = None) -> str:
    """``Today 14:05``, ``Tomorrow 08:00``, ``Mon 24 Nov, 14:05`` or ``24 Nov 2025, 14:05``."""
    local = moment.astimezone(tz)
    if now is not None:
        today = now.astimezone(tz).date()
        delta_days = (local.date() - today).days
        if delta_days == 0:
            return f"Today {local:%H:%M}"
        if delta_days == 1:
            return f"Tomorrow {local:%H:%M}"
        if delta_days == -1:
            return f"Yesterday {local:%H:%M}"
        if local.year != today.year:
            return f"{local.day} {local:%b %Y}, {local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def format_ago(moment: datetime, now: datetime) -> str:
    """``1 h 20 min ago``; ``just now`` under a minute."""
    delta = now - moment
    if delta < timedelta(minutes=1):
        return "just now"
    return f"{format_duration(delta)} ago"


def format_number(value: float) -> str:
    """``250``, ``182.4``, ``1,204.5``: one decimal, dropped when it is zero."""
    return f"{value:,.1f}".removesuffix(".0")


def format_kw(kw: float) -> str:
    """``150 kW``, ``7.4 kW``."""
    return f"{format_number(kw)} kW"


def format_money(amount: Decimal, currency: str) -> str:
    """``€4.80``, ``¥556``: an amount in ``currency`` with its minor unit's digits (ISO 4217)."""
    return format_currency(amount, currency, locale=LOCALE)


def format_price(price: Decimal, currency: str) -> str:
    """``€0.39``, ``€0.3945``, ``¥45``: a tariff's price, at least the currency's digits and up
    to four (never rounded to the minor unit: 0.3945 is what a kWh costs)."""
    digits = get_currency_precision(currency)
    pattern = "¤#,##0." + "0" * digits + "#" * max(0, PRICE_DECIMALS - digits)
    return format_currency(price, currency, format=pattern, locale=LOCALE, currency_digits=False)


def format_date(day: date) -> str:
    """``25 Oct 2026``."""
    return f"{day.day} {day:%b %Y}"


def format_moment(moment: datetime, tz: ZoneInfo) -> str:
    """``Sun 25 Oct 2026, 01:30 CEST``: date, time and the zone's abbreviation in ``tz``, so
    the two sides of a DST change read apart."""
    local = moment.astimezone(tz)
    return f"{local:%a} {format_date(local.date())}, {local:%H:%M} {local:%Z}"
