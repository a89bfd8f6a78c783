"""Problems drivers report (issue 17): ``incidents``, one row per report from a charger card.

- ``kind``: ``cable_damaged``, ``wont_start`` or ``other`` (with ``text``, the driver's words);
  ``status``: ``open`` until an operator acknowledges or resolves it (when and by whom kept).
- Linked to the charger (deleted with it) and to the reporting account and person (kept as
  NULL once those are removed).
- Indexes: per charger by time (its admin page), per account by time (the duplicate check and
  the hourly limit), by status (the open count on /admin/uptime).

A new, empty table: milliseconds whatever the size of the database.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind", _enum("incident_kind", "cable_damaged", "wont_start", "other"), nullable=False
        ),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            _enum("incident_status", "open", "acknowledged", "resolved"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=254), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_charger_created", "incidents", ["charger_id", "created_at"])
    op.create_index("ix_incidents_account_created", "incidents", ["account_id", "created_at"])
    op.create_index("ix_incidents_status", "incidents", ["status"])


def downgrade() -> None:
    op.drop_table("incidents")
