"""Drivers' e-mail notifications (issue 18): ``driver_notifications``, the outbox of the
e-mails a person opted in to (one row per message, unique per event: ``kind`` and the session or
reservation it is about), sent by the worker (``flask alerts run``).

A new, empty table: milliseconds whatever the size of the database.

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = "state = 'queued'"
KINDS = (
    "session_finished",
    "reservation_confirmed",
    "reservation_refused",
    "reservation_no_show",
    "reservation_cancelled",
)


def _enum(name: str, values: Sequence[str], length: int) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    op.create_table(
        "driver_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("notification_kind", KINDS, 32), nullable=False),
        sa.Column("about_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column(
            "state",
            _enum("notification_state", ("queued", "sent", "failed", "skipped"), 16),
            server_default="queued",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name="notification_attempts_non_negative"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "about_id", name="uq_driver_notifications_event"),
    )
    op.create_index("ix_driver_notifications_user_id", "driver_notifications", ["user_id"])
    op.create_index(
        "ix_driver_notifications_due",
        "driver_notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text(QUEUED),
        sqlite_where=sa.text(QUEUED),
    )


def downgrade() -> None:
    op.drop_table("driver_notifications")
