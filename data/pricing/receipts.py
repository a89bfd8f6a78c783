"""What a receipt shows (``/receipts/<session_id>``, its PDF): one finalized session with its
stored cost and the tariff version that priced it.

The cost is the one stored when the session was finalized (``stored_cost``), never recomputed
here, so the receipt agrees to the cent with the statement, the exports and the admin pages.
The prices shown beside each part (energy price, free minutes, price per hour, session fee,
VAT rate) are those of that version (``tariff_id``, ``tariff_valid_from``).

Who may see one: the session's own account (``receipt(..., account_id)``), or any session for
an admin account (``any_account=True``; admins see every session's cost on /admin already).
Anything else, a session in progress included, is "no receipt" (None): a caller cannot tell a
session of another account from one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.charging.dashboard import OperatorSettings, operator_settings
from data.core.models import Account, Charger, ChargingSession, TariffVersion, User
from data.core.sql import kwh_decimal
from data.pricing.cost import SessionCost, TariffPrices
from data.pricing.rows import prices_of, stored_cost


@dataclass(frozen=True)
class AccountHolder:
    """Whose account a receipt or statement is for."""

    account_id: str
    label: str | None
    display_name: str


@dataclass(frozen=True)
class Receipt:
    session_id: str
    holder: AccountHolder
    operator: OperatorSettings
    charger_id: str
    charger_name: str
    connector_type: str
    max_power_kw: Decimal
    started_at: datetime  # aware, UTC
    ended_at: datetime
    energy_kwh: Decimal
    # Its energy is disputed (data/ocpp/energy.py): no cost until an admin resolves it.
    energy_under_review: bool
    cost: SessionCost | None  # None: no tariff priced it (or its energy is under review)
    tariff: TariffPrices | None  # the version that priced it

    @property
    def duration(self) -> timedelta:
        """Real elapsed time (both ends are UTC: a DST change inside counts as it happened)."""
        return self.ended_at - self.started_at

    @property
    def energy_price(self) -> Decimal | None:
        """What a kWh cost on this charger by the version that priced the session."""
        return None if self.tariff is None else self.tariff.energy_price(self.max_power_kw)


def account_holder(session: Session, account_id: str) -> AccountHolder | None:
    row = session.execute(
        select(Account.id, Account.label, User.display_name)
        .join(User, User.id == Account.user_id)
        .where(Account.id == account_id)
    ).first()
    return None if row is None else AccountHolder(row.id, row.label, row.display_name)


def receipt(
    session: Session, session_id: str, account_id: str, *, any_account: bool = False
) -> Receipt | None:
    """The receipt of finalized session ``session_id`` if ``account_id`` owns it (any account's
    with ``any_account``, for admins); None otherwise, and for a session still in progress."""
    s = ChargingSession
    stmt = (
        select(s, Charger, Account.label, User.display_name)
        .join(Charger, Charger.id == s.charger_id)
        .join(Account, Account.id == s.account_id)
        .join(User, User.id == Account.user_id)
        .where(s.id == session_id, s.finalized.is_(True), s.ended_at.is_not(None))
    )
    if not any_account:
        stmt = stmt.where(s.account_id == account_id)
    found = session.execute(stmt).first()
    if found is None:
        return None
    row, charger, label, display_name = found
    assert row.ended_at is not None  # selected so
    cost = stored_cost(row)
    version = (
        None
        if cost is None
        else session.get(TariffVersion, (cost.tariff_id, cost.tariff_valid_from))
    )
    return Receipt(
        session_id=row.id,
        holder=AccountHolder(row.account_id, label, display_name),
        operator=operator_settings(session),
        charger_id=charger.id,
        charger_name=charger.friendly_name,
        connector_type=charger.connector_type.value,
        max_power_kw=Decimal(str(charger.max_power_kw)),
        started_at=row.started_at,
        ended_at=row.ended_at,
        energy_kwh=kwh_decimal(row.energy_kwh),
        energy_under_review=row.energy_disputed_at is not None,
        cost=cost,
        tariff=None if version is None else prices_of(version),
    )
