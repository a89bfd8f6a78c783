"""A driver's cards (issue 18): ``id_tags.name``, the name the driver gives a card, and
``id_tags.blocked_at`` / ``blocked_by``, set when a lost card is blocked (chargers then answer
Blocked; only an operator unblocks it).

Revision ID: 0029
Revises: 0030
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("id_tags", sa.Column("name", sa.String(200), nullable=True))
    op.add_column("id_tags", sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("id_tags", sa.Column("blocked_by", sa.String(254), nullable=True))


def downgrade() -> None:
    op.drop_column("id_tags", "blocked_by")
    op.drop_column("id_tags", "blocked_at")
    op.drop_column("id_tags", "name")
