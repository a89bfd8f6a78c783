"""Two indexes on ``sessions`` for a driver's own history (issue 18, All my sessions):

* ``ix_sessions_account_started_id`` (account_id, started_at, id): the page's order itself, so a
  block of rows is an index range read up to its LIMIT whatever plan PostgreSQL caches for the
  prepared statement (the generic plan expects one row and sorted the account's 100,000), and
  a block that continues from the previous one's last ``(started_at, id)`` is an index bound;
* ``ix_sessions_account_charger_started`` (account_id, charger_id, started_at): the chargers a
  driver used (the filter's choices) by a skip scan, one probe per charger, and their sessions
  on one charger as one range, for the page, its totals and its export.

A few seconds per million sessions on PostgreSQL, which builds them while writes wait (as every
index migration here).

Revision ID: 0030
Revises: 0027
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_sessions_account_started_id", "sessions", ["account_id", "started_at", "id"]
    )
    op.create_index(
        "ix_sessions_account_charger_started",
        "sessions",
        ["account_id", "charger_id", "started_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_account_charger_started", table_name="sessions")
    op.drop_index("ix_sessions_account_started_id", table_name="sessions")
