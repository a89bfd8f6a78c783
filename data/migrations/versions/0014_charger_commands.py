"""Commands to chargers are rows: ``charger_commands`` (issue 15).

Whoever asks (the command line now; the pages and the JSON API later) inserts a ``pending`` row;
the OCPP server instance holding the charger claims it (``sent``), sends it and records the
charger's answer (``accepted``, ``rejected``, ``failed``) or ``timeout``; a command no instance
claimed in time ends ``offline``. ``params`` and ``response`` are JSON text.

Two indexes: a partial one over the open commands (``pending``/``sent``), which the servers
read every second, and one for a charger's command log.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending', 'sent')"


def upgrade() -> None:
    op.create_table(
        "charger_commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "accepted",
                "rejected",
                "failed",
                "timeout",
                "offline",
                name="command_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by", sa.String(length=128), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_charger_commands_open",
        "charger_commands",
        ["charger_id", "requested_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index(
        "ix_charger_commands_charger_requested",
        "charger_commands",
        ["charger_id", "requested_at"],
    )
    op.create_index(
        "ix_charger_commands_account_requested",
        "charger_commands",
        ["account_id", "requested_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_charger_commands_account_requested", table_name="charger_commands")
    op.drop_index("ix_charger_commands_charger_requested", table_name="charger_commands")
    op.drop_index("ix_charger_commands_open", table_name="charger_commands")
    op.drop_table("charger_commands")
