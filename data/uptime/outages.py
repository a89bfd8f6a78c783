"""The outage log: one row per span in which a charger could not charge (``outages.csv``).

The table is on ``data.core.models.Base`` like every other; ``data/migrations/env.py`` imports
this module so that the migrations compare against it too (migration 0019).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from data.core.models import BYTE_ORDER_ID, Base, UTCDateTime, _enum


class OutageCause(enum.StrEnum):
    """Why a charger was down (the spec's list); ``unknown`` until someone says."""

    unknown = "unknown"
    utility = "utility"
    vehicle = "vehicle"
    maintenance = "maintenance"
    vandalism = "vandalism"
    natural_disaster = "natural_disaster"
    outside_hours = "outside_hours"
    other = "other"


class OutageKind(enum.StrEnum):
    """Where an outage comes from: the OCPP feed's two ways of being down (``offline``: silent
    past the threshold; ``out_of_order``: Faulted / Unavailable), an import, or an admin."""

    offline = "offline"
    out_of_order = "out_of_order"
    imported = "imported"
    manual = "manual"


# The kinds the live bookkeeping opens and closes: at most one open outage per charger and kind,
# so a restarted server or a message handled twice never opens a second one. Imported and manual
# outages may overlap freely (the spec counts overlapping outages once).
LIVE_KINDS = (OutageKind.offline, OutageKind.out_of_order)
_OPEN_LIVE = f"ended_at IS NULL AND kind IN ({', '.join(repr(k.value) for k in LIVE_KINDS)})"


class Outage(Base):
    """A span ``[started_at, ended_at)`` in which the charger could not charge; ``ended_at``
    None: still down. ``excluded``: the operator shows it was outside its control (23 CFR
    680.116(b)), so it does not count against uptime."""

    __tablename__ = "outages"
    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        # Uptime reads one charger's outages in start order (PostgreSQL: index-only, no sort).
        Index(
            "ix_outages_charger_started",
            "charger_id",
            "started_at",
            postgresql_include=["ended_at", "excluded"],
        ),
        # The fleet's outages by date (the outage list, outages.csv?from=...).
        Index("ix_outages_started", "started_at"),
        Index(
            "ux_outages_open_live",
            "charger_id",
            "kind",
            unique=True,
            postgresql_where=text(_OPEN_LIVE),
            sqlite_where=text(_OPEN_LIVE),
        ),
    )

    id: Mapped[str] = mapped_column(BYTE_ORDER_ID, primary_key=True)
    charger_id: Mapped[str] = mapped_column(ForeignKey("chargers.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cause: Mapped[OutageCause] = mapped_column(
        _enum(OutageCause, "outage_cause"),
        default=OutageCause.unknown,
        server_default=OutageCause.unknown.value,
    )
    excluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    note: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[OutageKind] = mapped_column(_enum(OutageKind, "outage_kind"))


class UptimeMonthFilled(Base):
    """A calendar month (in the time zone ``tz``) whose figures ``charger_uptime_months`` holds:
    filled once the month is over (``data.uptime.stored``), then kept in step with every change
    of an outage that overlaps it."""

    __tablename__ = "uptime_months_filled"
    __table_args__ = (
        # "Does this change reach a stored month?": the OCPP path asks it by end.
        Index("ix_uptime_months_filled_end", "end_utc"),
    )

    tz: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    start_utc: Mapped[datetime] = mapped_column(UTCDateTime())
    end_utc: Mapped[datetime] = mapped_column(UTCDateTime())


class ChargerUptimeMonth(Base):
    """A charger's outage in a filled month, as ``data.uptime.monthly`` computes it (exact
    microseconds: the union of its outages, and of its counted ones). Only months with an
    outage have a row: no row in a filled month is no outage."""

    __tablename__ = "charger_uptime_months"

    charger_id: Mapped[str] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), primary_key=True
    )
    tz: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    outage_us: Mapped[int] = mapped_column(BigInteger)
    counted_us: Mapped[int] = mapped_column(BigInteger)
