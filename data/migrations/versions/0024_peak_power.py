"""OCPP transactions keep their peak power (issue 17, the NEVI report's ``peak_kw``):
``ocpp_transactions.peak_power_w``, the highest Power.Active.Import a charger reported during
the transaction (whole W); NULL when it reported none, as every earlier one.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without default: a plain ADD COLUMN on both (no table copy on SQLite).
    op.add_column(
        "ocpp_transactions",
        sa.Column("peak_power_w", sa.Numeric(precision=10, scale=0), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("ocpp_transactions") as batch:
        batch.drop_column("peak_power_w")
