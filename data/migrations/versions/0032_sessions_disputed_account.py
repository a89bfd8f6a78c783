"""A partial index of disputed sessions by account and start (issue 19, ``/sessions`` totals):

``ix_sessions_disputed_account`` (account_id, started_at) WHERE energy_disputed_at IS NOT NULL.
The history's totals read ``account_days``, which leaves disputed sessions out, and count an
account's disputed ones apart. Under the generic plan of a prepared statement PostgreSQL took
``ix_sessions_account_started`` for that count and filtered all of the account's sessions (10 ms
for 100,000); this index holds only disputed sessions, so the count is a probe whatever the plan.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISPUTED = sa.text("energy_disputed_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_sessions_disputed_account",
        "sessions",
        ["account_id", "started_at"],
        postgresql_where=DISPUTED,
        sqlite_where=DISPUTED,
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_disputed_account", table_name="sessions")
