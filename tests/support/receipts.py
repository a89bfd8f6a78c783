"""A priced site for the receipt and statement tests: an operator in a time zone with a DST
change (or a JPY one), one tariff with every kind of price, and finished sessions priced the
way StopTransaction prices them (``data.pricing.tariffs.price_session``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from data.core.models import ChargingSession, ConnectorType
from data.pricing.cost import SessionCost
from data.pricing.tariffs import create_tariff_version, price_session, set_default_tariff
from tests.support.audit import AT, CLI
from tests.support.factories import make_charger, make_operator, make_session

TARIFF_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Prices:
    """A tariff's prices as an operator types them."""

    currency: str
    timezone: str
    energy: str
    dc_energy: str
    fee: str
    per_hour: str
    free_minutes: str
    vat: str


EUR = Prices("EUR", "Europe/Berlin", "0.39", "0.59", "0.50", "1.20", "60", "19")
JPY = Prices("JPY", "Asia/Tokyo", "45", "65", "100", "300", "30", "10")

OPERATOR_NAME = "Polaris Test Energy"
SUPPORT_EMAIL = "help@polaris.test"
TARIFF_NAME = "Standard"


def priced_site(s: Session, prices: Prices = EUR) -> None:
    """The operator, tariff STD (the default: it prices every account) and two chargers: AC
    (22 kW, Type 2) and DC (150 kW, CCS)."""
    make_operator(
        s,
        name=OPERATOR_NAME,
        support_email=SUPPORT_EMAIL,
        timezone=prices.timezone,
        currency=prices.currency,
    )
    create_tariff_version(
        s,
        tariff_id="STD",
        valid_from=TARIFF_FROM,
        name=TARIFF_NAME,
        currency=prices.currency,
        energy_price_per_kwh=prices.energy,
        dc_energy_price_per_kwh=prices.dc_energy,
        session_fee=prices.fee,
        time_price_per_hour=prices.per_hour,
        time_free_minutes=prices.free_minutes,
        vat_percent=prices.vat,
    )
    set_default_tariff(s, "STD", actor=CLI, now=AT)
    make_charger(s, charger_id="AC", friendly_name="Market Square", max_power_kw="22",
                 connector_type=ConnectorType.type2)  # fmt: skip
    make_charger(s, charger_id="DC", friendly_name="Motorway Hub", max_power_kw="150")


def finished(
    s: Session,
    session_id: str,
    account_id: str,
    charger_id: str,
    started_at: datetime,
    duration: timedelta,
    energy_kwh: str,
) -> SessionCost | None:
    """A finished session, priced and stored as StopTransaction does; its cost."""
    make_session(
        s,
        account_id,
        charger_id,
        session_id=session_id,
        started_at=started_at,
        ended_at=started_at + duration,
        energy_kwh=energy_kwh,
    )
    return price_session(s, session_id)


def stored_totals(s: Session, session_ids: list[str]) -> Decimal:
    """The sum of the sessions' stored ``cost_total``, read straight from their rows."""
    rows = [s.get(ChargingSession, sid) for sid in session_ids]
    return sum((Decimal(str(r.cost_total)) for r in rows if r and r.cost_total is not None),
               Decimal(0))  # fmt: skip
