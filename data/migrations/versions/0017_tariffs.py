"""Prices and costs (issue 16): tariff versions, the tariff of plans and of the operator, and
the cost stored on every finalized session.

- ``tariffs``: one row per version of a tariff, keyed by (``tariff_id``, ``valid_from``), its
  prices including VAT (``Numeric``, never float; CHECKs: prices >= 0, VAT 0 to 100).
- ``plans.tariff_id`` and ``operator.default_tariff_id``: which tariff prices an account's
  sessions (its plan's, else the operator's default, else none).
- ``sessions``: the tariff version that priced it (``tariff_id``, ``tariff_valid_from``) and the
  cost (``currency``, ``cost_energy``, ``cost_time``, ``cost_fee``, ``cost_total``,
  ``vat_amount``), written when the session is finalized (data/pricing/tariffs.py), all NULL
  while no tariff prices it; a partial index over the priced ones per tariff and start.

Only new nullable columns, added in place (no table rebuild: on SQLite a rebuild of
``sessions`` would drop the rollup triggers of 0008-0012; on PostgreSQL adding a nullable
column rewrites nothing, so this takes milliseconds whatever the number of sessions).

The costs of existing sessions: the ``tariffs`` table is new, so at this revision no tariff
exists and no session can be priced yet. History is priced when tariffs arrive (an import of
``tariffs.csv`` with ``operator.csv``/``plans.csv``, or an admin assigning a tariff):
``data.pricing.tariffs.price_unpriced_sessions`` fills every finalized session a tariff prices,
in batches of a few thousand rows by keyset on ``id``, one set-based UPDATE ... FROM per batch
on PostgreSQL, logging progress.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRICE = sa.Numeric(12, 4)
COST = sa.Numeric(14, 3)
PRICED = "tariff_id IS NOT NULL"
SESSION_COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "tariff_id": sa.String(length=64),
    "tariff_valid_from": sa.DateTime(timezone=True),
    "currency": sa.String(length=3),
    "cost_energy": COST,
    "cost_time": COST,
    "cost_fee": COST,
    "cost_total": COST,
    "vat_amount": COST,
}


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("tariff_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("energy_price_per_kwh", PRICE, nullable=True),
        sa.Column("dc_energy_price_per_kwh", PRICE, nullable=True),
        sa.Column("session_fee", PRICE, nullable=True),
        sa.Column("time_price_per_hour", PRICE, nullable=True),
        sa.Column("time_free_minutes", sa.Integer(), nullable=True),
        sa.Column("vat_percent", sa.Numeric(5, 2), nullable=True),
        sa.CheckConstraint("energy_price_per_kwh >= 0", name="energy_price_non_negative"),
        sa.CheckConstraint("dc_energy_price_per_kwh >= 0", name="dc_energy_price_non_negative"),
        sa.CheckConstraint("session_fee >= 0", name="session_fee_non_negative"),
        sa.CheckConstraint("time_price_per_hour >= 0", name="time_price_non_negative"),
        sa.CheckConstraint("time_free_minutes >= 0", name="time_free_minutes_non_negative"),
        sa.CheckConstraint("vat_percent >= 0 AND vat_percent <= 100", name="vat_percent_range"),
        sa.PrimaryKeyConstraint("tariff_id", "valid_from", name="pk_tariffs"),
    )
    op.add_column("plans", sa.Column("tariff_id", sa.String(length=64), nullable=True))
    op.add_column("operator", sa.Column("default_tariff_id", sa.String(length=64), nullable=True))
    for name, kind in SESSION_COLUMNS.items():
        op.add_column("sessions", sa.Column(name, kind, nullable=True))
    # Empty at this revision (no session is priced yet), so built at once on any table.
    op.create_index(
        "ix_sessions_tariff_started",
        "sessions",
        ["tariff_id", "started_at"],
        postgresql_where=sa.text(PRICED),
        sqlite_where=sa.text(PRICED),
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_tariff_started", table_name="sessions")
    for name in reversed(SESSION_COLUMNS):
        op.drop_column("sessions", name)
    op.drop_column("operator", "default_tariff_id")
    op.drop_column("plans", "tariff_id")
    op.drop_table("tariffs")
