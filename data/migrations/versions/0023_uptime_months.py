"""Stored uptime figures (issue 17, figures): ``uptime_months_filled`` (the calendar months, in
an operator's time zone, whose figures are stored) and ``charger_uptime_months`` (per charger
and filled month, the outage and counted outage microseconds that ``data.uptime.monthly``
computes; only months with an outage have a row). ``/admin/uptime`` and the uptime export read
the months that are over from here instead of from the whole outage log.

Two new, empty tables: milliseconds whatever the size of the database. They fill when the OCPP
server's sweep first runs (``data.uptime.stored.fill_stored_months``); until then every figure
is computed from the outage log as before.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uptime_months_filled",
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tz", "month"),
    )
    op.create_index("ix_uptime_months_filled_end", "uptime_months_filled", ["end_utc"])
    op.create_table(
        "charger_uptime_months",
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("outage_us", sa.BigInteger(), nullable=False),
        sa.Column("counted_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("charger_id", "tz", "month"),
    )


def downgrade() -> None:
    op.drop_table("charger_uptime_months")
    op.drop_index("ix_uptime_months_filled_end", table_name="uptime_months_filled")
    op.drop_table("uptime_months_filled")
