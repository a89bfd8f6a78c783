"""Drivers book chargers (issue 18): ``booking_rules`` (one row: how far ahead, the longest
booking, open bookings per account, minutes of grace before a no-show is released) and
``reservations.end_reason`` (why Polaris or the charger ended a booking early).

A new, empty table and a nullable column: milliseconds whatever the size of the database.

Revision ID: 0026
Revises: 0029
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ahead_days", sa.Integer(), nullable=False),
        sa.Column("longest_minutes", sa.Integer(), nullable=False),
        sa.Column("open_per_account", sa.Integer(), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("ahead_days > 0", name="ahead_positive"),
        sa.CheckConstraint("longest_minutes > 0", name="longest_positive"),
        sa.CheckConstraint("open_per_account > 0", name="open_positive"),
        sa.CheckConstraint("grace_minutes >= 0", name="grace_not_negative"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.add_column(
        "reservations",
        sa.Column(
            "end_reason", sa.String(length=200), nullable=True, server_default=sa.text("NULL")
        ),
    )


def downgrade() -> None:
    op.drop_column("reservations", "end_reason")
    op.drop_table("booking_rules")
