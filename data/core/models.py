"""The typed ORM model: who signs in, what they charge with, and what happened.

Ids that appear in the data-exchange format (plan_id, account_id, charger_id, session_id,
reservation_id) are strings so that an import round-trips exactly. Timestamps are stored in UTC
and always come back timezone-aware (see ``UTCDateTime``).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 64
# Ids that exports write in byte order (ORDER BY id COLLATE "C"): on PostgreSQL the column
# itself is "C", so its primary key is already in that order and a big export needs no sort
# (migration 0007). SQLite compares bytes anyway.
BYTE_ORDER_ID = String(ID_LENGTH).with_variant(String(ID_LENGTH, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC.

    PostgreSQL keeps it as ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC text, which still sorts and compares correctly in SQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every timestamp needs a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Role(enum.StrEnum):
    customer = "customer"
    admin = "admin"


class Visibility(enum.StrEnum):
    public = "public"
    restricted = "restricted"


class ConnectorType(enum.StrEnum):
    ccs = "CCS"
    j1772 = "J1772"
    nacs = "NACS"
    chademo = "CHAdeMO"
    type2 = "Type 2"


class ReservationStatus(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    active = "active"
    cancelled = "cancelled"
    completed = "completed"


class CommandStatus(enum.StrEnum):
    """A command to a charger: ``pending`` until an OCPP server instance holding the charger
    claims it, ``sent`` until the charger answers, then ``accepted`` / ``rejected`` (its answer)
    or ``failed`` (a CallError); ``offline`` when no instance held the charger in time,
    ``timeout`` when it did not answer in time."""

    pending = "pending"
    sent = "sent"
    accepted = "accepted"
    rejected = "rejected"
    failed = "failed"
    timeout = "timeout"
    offline = "offline"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored by value ("Type 2", not "type2") so the database reads like the exchange format.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    pass


# Money in the minor units of any ISO 4217 currency (at most 3 decimals: BHD, KWD, ...).
COST = Numeric(14, 3)
# A tariff's prices: a few more decimals than money (0.3945 EUR/kWh).
PRICE = Numeric(12, 4)


class TariffVersion(Base):
    """One version of a tariff (``tariffs.csv``), keyed by (``tariff_id``, ``valid_from``).

    It prices every session that starts at or after ``valid_from`` and before the next version
    of the same tariff (data/pricing). Prices include VAT; an empty price counts as 0, an
    empty ``dc_energy_price_per_kwh`` means the energy price holds on DC chargers too.
    """

    __tablename__ = "tariffs"
    __table_args__ = (
        CheckConstraint("energy_price_per_kwh >= 0", name="energy_price_non_negative"),
        CheckConstraint("dc_energy_price_per_kwh >= 0", name="dc_energy_price_non_negative"),
        CheckConstraint("session_fee >= 0", name="session_fee_non_negative"),
        CheckConstraint("time_price_per_hour >= 0", name="time_price_non_negative"),
        CheckConstraint("time_free_minutes >= 0", name="time_free_minutes_non_negative"),
        CheckConstraint("vat_percent >= 0 AND vat_percent <= 100", name="vat_percent_range"),
    )

    tariff_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    energy_price_per_kwh: Mapped[Decimal | None] = mapped_column(PRICE)
    dc_energy_price_per_kwh: Mapped[Decimal | None] = mapped_column(PRICE)
    session_fee: Mapped[Decimal | None] = mapped_column(PRICE)
    time_price_per_hour: Mapped[Decimal | None] = mapped_column(PRICE)
    time_free_minutes: Mapped[int | None] = mapped_column(Integer)
    vat_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))


class Operator(Base):
    """The one operator this site belongs to (a single row, id 1)."""

    __tablename__ = "operator"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(200))
    support_email: Mapped[str | None] = mapped_column(String(254))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # Prices the sessions of accounts whose plan has no tariff, or that have no plan (ad hoc
    # charging); None: those sessions have no cost (migration 0017).
    default_tariff_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (CheckConstraint("allowance_kwh >= 0", name="allowance_non_negative"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    allowance_kwh: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    currency: Mapped[str] = mapped_column(String(3))
    # The tariff that prices its accounts' sessions (``TariffVersion.tariff_id``); None: the
    # operator's default tariff does (migration 0017).
    tariff_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class User(Base):
    """A person who signs in. One user may hold several accounts."""

    __tablename__ = "users"
    __table_args__ = (
        # One person per address whatever its case; sign-in looks people up by it (0007).
        Index("ux_users_email_lower", text("lower(email)"), unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Bumped on logout, password change and account switch: older cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    default_account_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    # Opt-in (0025): session receipts and booking news by e-mail, set at /account.
    email_notifications: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Server defaults load when read, not through INSERT ... RETURNING: the migration tests
    # insert people at earlier revisions, which lack the newer columns.
    __mapper_args__ = {"eager_defaults": False}

    accounts: Mapped[list[Account]] = relationship(
        back_populates="user", order_by="Account.id", foreign_keys="Account.user_id"
    )


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "account_role"))
    plan_id: Mapped[str | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"))
    label: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship(back_populates="accounts", foreign_keys=[user_id])
    plan: Mapped[Plan | None] = relationship()


class Charger(Base):
    __tablename__ = "chargers"
    __table_args__ = (CheckConstraint("max_power_kw > 0", name="max_power_positive"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    friendly_name: Mapped[str] = mapped_column(String(200))
    connector_type: Mapped[ConnectorType] = mapped_column(_enum(ConnectorType, "connector_type"))
    max_power_kw: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility, "charger_visibility"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # argon2 hash of the OCPP HTTP Basic password (security profile 1); None: no Basic auth.
    ocpp_password_hash: Mapped[str | None] = mapped_column(String(255))


class ChargerAccess(Base):
    """Grants a restricted charger to a customer account."""

    __tablename__ = "charger_access"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    charger_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), primary_key=True
    )


class IdTag(Base):
    """An RFID card or app token that identifies an account at a charger."""

    __tablename__ = "id_tags"

    id_tag: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # The name the driver gives the card at /account ("Blue keyring"); None: just its number.
    name: Mapped[str | None] = mapped_column(String(200))
    # A lost card, blocked (0029): chargers answer Blocked; only an operator unblocks it.
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked_by: Mapped[str | None] = mapped_column(String(254))  # who blocked it: an email


class ChargingSession(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("energy_kwh >= 0", name="energy_non_negative"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        # Recent activity and usage per period: one index range scan per account.
        # energy_kwh rides along (PostgreSQL INCLUDE) so a year of usage is an index-only scan.
        Index(
            "ix_sessions_account_started",
            "account_id",
            "started_at",
            # energy_disputed_at too: usage leaves disputed sessions out (migration 0012);
            # cost_total: the period's cost is summed by the same scan (0018).
            postgresql_include=["energy_kwh", "energy_disputed_at", "cost_total"],
        ),
        Index("ix_sessions_charger_started", "charger_id", "started_at"),
        # A driver's history in its page order, even under a generic plan (migration 0030).
        Index("ix_sessions_account_started_id", "account_id", "started_at", "id"),
        # A driver's chargers and their sessions on one (All my sessions; migration 0030).
        Index("ix_sessions_account_charger_started", "account_id", "charger_id", "started_at"),
        # The operators' list of sessions whose energy a charger reported implausibly.
        Index(
            "ix_sessions_energy_disputed",
            "energy_disputed_at",
            postgresql_where=text("energy_disputed_at IS NOT NULL"),
            sqlite_where=text("energy_disputed_at IS NOT NULL"),
        ),
        # An account's disputed sessions (the history's totals count them apart; 0032).
        Index(
            "ix_sessions_disputed_account",
            "account_id",
            "started_at",
            postgresql_where=text("energy_disputed_at IS NOT NULL"),
            sqlite_where=text("energy_disputed_at IS NOT NULL"),
        ),
        Index("ix_sessions_started", "started_at"),
        # "In use" and the active-session banner look only at sessions in progress.
        Index(
            "ix_sessions_in_progress_charger",
            "charger_id",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index(
            "ix_sessions_in_progress_account",
            "account_id",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        # The priced sessions of a tariff from a date: what a new version would re-price
        # (data/pricing/tariffs.py; migration 0017). Unpriced sessions are not in it.
        Index(
            "ix_sessions_tariff_started",
            "tariff_id",
            "started_at",
            postgresql_where=text("tariff_id IS NOT NULL"),
            sqlite_where=text("tariff_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(BYTE_ORDER_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    charger_id: Mapped[str] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    energy_kwh: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("0"))
    finalized: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a charger reported energy it cannot have delivered (data/ocpp/energy.py):
    # energy_kwh keeps the last plausible figure, the session counts in no usage figure until an
    # admin confirms the reported figure (energy_disputed_kwh) or corrects it (migration 0012).
    energy_disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    energy_disputed_kwh: Mapped[Decimal | None] = mapped_column(Numeric(15, 3))
    energy_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    energy_resolved_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    # The stored cost (data/pricing, migration 0017): written when the session is finalized,
    # by the tariff version in force at its start, and never re-priced by a later version.
    # All NULL: no tariff priced it (or it is not finalized yet).
    tariff_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    tariff_valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    currency: Mapped[str | None] = mapped_column(String(3))
    cost_energy: Mapped[Decimal | None] = mapped_column(COST)
    cost_time: Mapped[Decimal | None] = mapped_column(COST)
    cost_fee: Mapped[Decimal | None] = mapped_column(COST)
    cost_total: Mapped[Decimal | None] = mapped_column(COST)
    vat_amount: Mapped[Decimal | None] = mapped_column(COST)

    @classmethod
    def counted(cls) -> ColumnElement[bool]:
        """SQL: the session counts in usage figures (its energy is not disputed)."""
        return cls.energy_disputed_at.is_(None)


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_reservations_account_ends", "account_id", "ends_at"),
        Index("ix_reservations_charger_starts", "charger_id", "starts_at"),
        # "Reserved now" looks only at reservations that have not ended yet.
        Index("ix_reservations_ends", "ends_at"),
        # "Reserved now": only the reservations that hold a charger (migration 0006).
        Index(
            "ix_reservations_holding_ends",
            "ends_at",
            postgresql_include=["starts_at", "charger_id"],
            postgresql_where=text("status IN ('active', 'confirmed')"),
            sqlite_where=text("status IN ('active', 'confirmed')"),
        ),
        # Reservations that hold a charger never overlap on it ([starts_at, ends_at): touching
        # is fine). PostgreSQL enforces it (migration 0003, extension btree_gist); SQLite has no
        # such constraint, so data.charging.reservations.create_reservation serialises creations
        # there.
        ExcludeConstraint(
            ("charger_id", "="),
            (text("tstzrange(starts_at, ends_at)"), "&&"),
            name="reservations_no_overlap",
            using="gist",
            where=text("status IN ('active', 'confirmed')"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(BYTE_ORDER_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    charger_id: Mapped[str] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[ReservationStatus] = mapped_column(
        _enum(ReservationStatus, "reservation_status")
    )
    # Why it ended before its time, when Polaris or the charger ended it: "no-show", "the
    # charger answered Occupied", "cancelled by the driver" (migration 0026). None otherwise.
    # The NULL server default keeps the column out of INSERTs that do not set it (rows written
    # at revisions before it existed, as the migration tests do).
    end_reason: Mapped[str | None] = mapped_column(String(200), server_default=text("NULL"))
    # ...nor fetched back after an INSERT (no RETURNING of it): read when asked.
    __mapper_args__ = {"eager_defaults": False}

    charger: Mapped[Charger] = relationship()


class BookingRules(Base):
    """The operator's rules for drivers' bookings (one row, id 1; ``/admin/settings``;
    migration 0026). Without the row, ``data.charging.booking.DEFAULT_RULES`` apply."""

    __tablename__ = "booking_rules"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("ahead_days > 0", name="ahead_positive"),
        CheckConstraint("longest_minutes > 0", name="longest_positive"),
        CheckConstraint("open_per_account > 0", name="open_positive"),
        CheckConstraint("grace_minutes >= 0", name="grace_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    ahead_days: Mapped[int] = mapped_column(Integer)
    longest_minutes: Mapped[int] = mapped_column(Integer)
    open_per_account: Mapped[int] = mapped_column(Integer)
    grace_minutes: Mapped[int] = mapped_column(Integer)


class ApiToken(Base):
    """A personal API token for scripts: it acts as its account, within its ``scopes`` (space
    separated: ``export`` for ``/export/``, ``commands`` for the JSON API; migration 0015).

    Only the SHA-256 of the token is stored (tokens are 256-bit random, so a fast hash is
    enough: there is nothing to brute-force); ``prefix`` is its first characters, to recognise
    it in a list. Revoking keeps the row (``revoked_at``) so the list says what happened.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scopes: Mapped[str] = mapped_column(String(64), server_default="export")


class ConnectorStatus(Base):
    """The latest OCPP StatusNotification of one connector (connector 0: the whole charger)."""

    __tablename__ = "connector_statuses"
    __table_args__ = (CheckConstraint("connector_id >= 0", name="connector_id_non_negative"),)

    charger_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), primary_key=True
    )
    connector_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # OCPP 1.6 ChargePointStatus (Available, Preparing, Charging, ..., Unavailable, Faulted).
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str] = mapped_column(String(64))
    info: Mapped[str | None] = mapped_column(String(255))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OcppTransaction(Base):
    """One OCPP StartTransaction; ``id`` is the transactionId given to the charger.

    The session it opened is an ordinary row in ``sessions`` (``None`` when the id tag was
    refused). Meter readings are kept in Wh; the session's energy is last - start, and only a
    higher reading moves ``meter_last_wh``, so re-sent or late meter values never count twice.
    """

    __tablename__ = "ocpp_transactions"
    __table_args__ = (
        # A StartTransaction re-sent after a reconnect carries the same connector and timestamp.
        UniqueConstraint(
            "charger_id", "connector_id", "started_at", name="uq_ocpp_transactions_start"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), unique=True
    )
    charger_id: Mapped[str] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    connector_id: Mapped[int] = mapped_column(Integer)
    id_tag: Mapped[str] = mapped_column(String(ID_LENGTH))
    meter_start_wh: Mapped[Decimal] = mapped_column(Numeric(15, 3))
    meter_last_wh: Mapped[Decimal] = mapped_column(Numeric(15, 3))
    meter_last_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    # The highest Power.Active.Import reported (W); None while the charger sent none.
    peak_power_w: Mapped[Decimal | None] = mapped_column(Numeric(10, 0))


class OcppReservation(Base):
    """A reservation sent to its charger with ReserveNow; ``id`` is the OCPP reservationId.

    Both messages are commands (``charger_commands`` rows linked by their
    ``ocpp_reservation_id``; ``data.ocpp.reservations``). ``state``: ``sending`` until the
    ReserveNow command ends, then the charger's answer (Accepted, Faulted, Occupied, Rejected,
    Unavailable), ``no answer`` (offline, timeout) or ``error`` (a CallError); ``no id tag`` when
    the account has none; ``cancel_sent``/``cancelled`` once the reservation was cancelled in
    Polaris and CancelReservation was asked for / ended (``cancel_answer``: Accepted, Rejected,
    ``no answer`` or ``error``). ``sent_at`` is when ReserveNow was asked for.
    """

    __tablename__ = "ocpp_reservations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), unique=True
    )
    charger_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_answer: Mapped[str | None] = mapped_column(String(32))


class ChargerCommand(Base):
    """A command to a charger (OCPP 1.6 Reset, UnlockConnector, RemoteStartTransaction, ...).

    Whoever asks only writes the row (``data.ocpp.commands.request_command``); the OCPP server
    instance the charger is connected to claims it, sends it and records the answer. ``params``
    and ``response`` are JSON text in snake_case; ``user_id``/``account_id`` say who asked (None
    from the command line); ``sent_by`` names the server instance that sent it. ReserveNow and
    CancelReservation are made by Polaris for a reservation only: ``ocpp_reservation_id`` links
    them to it (and their end updates it).
    """

    __tablename__ = "charger_commands"
    __table_args__ = (
        # The open commands of the connected chargers (claimed every second) and the ones to
        # expire: a small partial index, whatever the size of the log.
        Index(
            "ix_charger_commands_open",
            "charger_id",
            "requested_at",
            postgresql_where=text("status IN ('pending', 'sent')"),
            sqlite_where=text("status IN ('pending', 'sent')"),
        ),
        # One charger's command log, latest first.
        Index("ix_charger_commands_charger_requested", "charger_id", "requested_at"),
        # An account's commands of the last minute (the per-account rate limit).
        Index("ix_charger_commands_account_requested", "account_id", "requested_at"),
        # The few commands made for a reservation (ON DELETE SET NULL looks them up).
        Index(
            "ix_charger_commands_ocpp_reservation",
            "ocpp_reservation_id",
            postgresql_where=text("ocpp_reservation_id IS NOT NULL"),
            sqlite_where=text("ocpp_reservation_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charger_id: Mapped[str] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    params: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[CommandStatus] = mapped_column(_enum(CommandStatus, "command_status"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response: Mapped[str | None] = mapped_column(Text)
    ocpp_reservation_id: Mapped[int | None] = mapped_column(
        ForeignKey("ocpp_reservations.id", ondelete="SET NULL")
    )


def _cost_milli() -> Mapped[int]:
    """A rollup's sum of the stored ``cost_total`` of the sessions it counts, in thousandths of
    the operator's currency unit: an integer, exact on SQLite too (migration 0018)."""
    return mapped_column(BigInteger, server_default=text("0"))


class AuditEntry(Base):
    """One operator action (``data.audit``): who (``user``: their email, or ``cli`` for the
    command line; ``user_id`` while the person exists), from which account, what (``action``, a
    stable verb like ``tariff.version_scheduled``), on what (``subject_type`` and
    ``subject_id``), the changed fields before and after (JSON text; never a secret) and when.

    Append-only: database triggers refuse every UPDATE and DELETE (migration 0020). So no
    foreign keys either: an account or person removed later keeps its entries as they were.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        # The log newest first, and its filters by person and by subject (migration 0020).
        Index("ix_audit_entries_at", "at", "id"),
        Index("ix_audit_entries_user_at", "user", "at"),
        Index("ix_audit_entries_subject_at", "subject_type", "subject_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(Integer)
    account_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


class _UsageCounts:
    """The counts every usage rollup row keeps (``UsageQuarter``, ``UsageQuarterTotal``,
    ``UsageDay``): its sessions and their energy in integer Wh, the same for the finalized
    ones, and their stored cost. Columns after the row's own key columns."""

    sessions: Mapped[int] = mapped_column(BigInteger)
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    finalized_sessions: Mapped[int] = mapped_column(BigInteger)
    finalized_energy_wh: Mapped[int] = mapped_column(BigInteger)
    cost_milli: Mapped[int] = _cost_milli()


class UsageQuarter(_UsageCounts, Base):
    """Sessions, their energy and stored cost per UTC quarter-hour of their start and
    connector type.

    Kept exact by database triggers on ``sessions`` and ``chargers`` (migration 0008), so every
    write path counts; fleet-wide figures sum these rows instead of scanning sessions. A local
    day or hour is a whole number of UTC quarters (offsets are multiples of 15 minutes).
    ``quarter`` is ``floor(epoch seconds / 900)`` of ``started_at``; energy is in integer Wh
    (exact sums on SQLite too). Rows that dropped to zero sessions stay, as zeros.
    """

    __tablename__ = "usage_quarters"

    quarter: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    connector_type: Mapped[str] = mapped_column(String(16), primary_key=True)


class ChargerDay(Base):
    """Finished sessions per charger and UTC day of their start, their whole durations and
    their stored cost (0018).

    Kept exact by database triggers (migration 0009), like ``UsageQuarter``; utilisation and
    revenue per charger sum these at a period's edges (``ChargerMonth`` for its whole months).
    ``day`` is ``floor(epoch seconds / 86400)`` of ``started_at``; durations in integer
    microseconds. No foreign key: a deleted charger's rows stay, as zeros.
    """

    __tablename__ = "charger_days"

    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    charger_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    sessions: Mapped[int] = mapped_column(BigInteger)
    seconds_us: Mapped[int] = mapped_column(BigInteger)
    cost_milli: Mapped[int] = _cost_milli()  # of those whose energy counts


class ChargerMonth(Base):
    """``ChargerDay`` per UTC month (``(year - 1970) * 12 + month - 1``), with the longest
    finished session that ever started in it (only grows: an upper bound after deletions)."""

    __tablename__ = "charger_months"
    # Each month's longest in one probe (migration 0011).
    __table_args__ = (Index("ix_charger_months_longest", "month", "longest_us"),)

    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    charger_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    sessions: Mapped[int] = mapped_column(BigInteger)
    seconds_us: Mapped[int] = mapped_column(BigInteger)
    longest_us: Mapped[int] = mapped_column(BigInteger)
    cost_milli: Mapped[int] = _cost_milli()


class UsageQuarterTotal(_UsageCounts, Base):
    """``UsageQuarter`` summed over connector types: one row per quarter (migration 0010,
    kept by triggers on ``usage_quarters``), for the figures that need no connector type."""

    __tablename__ = "usage_quarter_totals"

    quarter: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class AccountDay(Base):
    """An account's sessions that count (energy not disputed) per local day of their start in
    the operator's zone, kept by triggers on ``sessions`` (migration 0031): the dashboard reads
    a period as at most 366 of these rows. ``day`` counts days from 1970-01-01; energy and cost
    in integer thousandths; ``costed``: how many of them have a stored cost. No foreign key:
    rows of a deleted account drop to zeros as its sessions go."""

    __tablename__ = "account_days"

    account_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sessions: Mapped[int] = mapped_column(BigInteger)
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    cost_milli: Mapped[int] = mapped_column(BigInteger)
    costed: Mapped[int] = mapped_column(BigInteger)


class AccountDayZone(Base):
    """The UTC offsets ``account_days`` counted local days with (migration 0031): from each
    ``start_s`` (epoch seconds) until the next row's, ``offset_s`` in the zone ``zone``."""

    __tablename__ = "account_day_zone"

    start_s: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    offset_s: Mapped[int] = mapped_column(Integer)
    zone: Mapped[str] = mapped_column(String(64))


class UsageDay(_UsageCounts, Base):
    """``UsageQuarter`` per UTC day (``floor(quarter / 96)``) and connector type (migration
    0010, kept by triggers on ``usage_quarters``): UTC ranges read whole days here."""

    __tablename__ = "usage_days"

    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    connector_type: Mapped[str] = mapped_column(String(16), primary_key=True)
