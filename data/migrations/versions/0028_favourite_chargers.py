"""A driver's favourite chargers (issue 18): ``favourite_chargers``, one row per account and
starred charger (both the primary key), with when it was starred; deleted with the account or
the charger.

A new, empty table: milliseconds whatever the size of the database.

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "favourite_chargers",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "charger_id"),
    )


def downgrade() -> None:
    op.drop_table("favourite_chargers")
