"""Indexes for the dashboard at scale: usage as an index-only scan, reservations covering now.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reservations") as batch_op:
        batch_op.create_index("ix_reservations_ends", ["ends_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_sessions_account_started", table_name="sessions")
        op.create_index(
            "ix_sessions_account_started",
            "sessions",
            ["account_id", "started_at"],
            postgresql_include=["energy_kwh"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_sessions_account_started", table_name="sessions")
        op.create_index("ix_sessions_account_started", "sessions", ["account_id", "started_at"])
    with op.batch_alter_table("reservations") as batch_op:
        batch_op.drop_index("ix_reservations_ends")
