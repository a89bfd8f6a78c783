"""Reservations holding a charger now: a partial index that skips past and cancelled ones.

"Reserved now" (``starts_at <= now < ends_at``, status active or confirmed) was answered from
``ix_reservations_ends``: every reservation ending after now, pending or cancelled ones too,
each read from the table. This index holds only active/confirmed reservations by ``ends_at``,
with ``starts_at`` and ``charger_id`` alongside on PostgreSQL (INCLUDE), so the set is an
index-only range scan of the reservations still to come (bench: 3.3 ms -> see bench/README.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDING = sa.text("status IN ('active', 'confirmed')")


def upgrade() -> None:
    with op.batch_alter_table("reservations") as batch_op:
        batch_op.create_index(
            "ix_reservations_holding_ends",
            ["ends_at"],
            postgresql_include=["starts_at", "charger_id"],
            postgresql_where=HOLDING,
            sqlite_where=HOLDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("reservations") as batch_op:
        batch_op.drop_index("ix_reservations_holding_ends")
