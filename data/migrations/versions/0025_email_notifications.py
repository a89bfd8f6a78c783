"""A person's choice of e-mail notifications (issue 18): ``users.email_notifications``, off
until the person turns it on at /account (opt-in).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("email_notifications", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite's own DROP COLUMN: a batch copy of ``users`` would cascade to every account.
    op.drop_column("users", "email_notifications")
