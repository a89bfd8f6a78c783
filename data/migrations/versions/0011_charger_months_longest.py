"""The longest finished session per UTC month in one index probe.

Utilisation bounds the index ranges of the sessions that reach across a period's start or end
by the longest finished session that started in the months around it
(``max(charger_months.longest_us)`` over ~13 months). With ``(month, longest_us)`` indexed each
month's maximum is the last entry of its index range instead of a scan of its 5,000 rows.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_charger_months_longest", "charger_months", ["month", "longest_us"])


def downgrade() -> None:
    op.drop_index("ix_charger_months_longest", table_name="charger_months")
