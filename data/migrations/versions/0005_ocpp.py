"""OCPP 1.6J central system: what chargers report live.

- ``chargers.ocpp_password_hash``: argon2 hash of the charger's HTTP Basic password (OCPP security
  profile 1); NULL means the charger connects without Basic auth.
- ``connector_statuses``: the latest StatusNotification per connector (0 = the whole charger).
- ``ocpp_transactions``: one row per StartTransaction; its id is the OCPP transactionId. The
  session it opened lives in ``sessions`` like any other (NULL when the id tag was refused).
  Unique (charger, connector, start time) so a re-sent StartTransaction finds the same row.
- ``ocpp_reservations``: one row per reservation sent to a charger with ReserveNow; its id is
  the OCPP reservationId, ``state`` the charger's answer, ``cancel_answer`` the answer to
  CancelReservation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chargers") as batch_op:
        batch_op.add_column(sa.Column("ocpp_password_hash", sa.String(length=255), nullable=True))

    op.create_table(
        "connector_statuses",
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=False),
        sa.Column("info", sa.String(length=255), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("connector_id >= 0", name="connector_id_non_negative"),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("charger_id", "connector_id"),
    )

    op.create_table(
        "ocpp_transactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_tag", sa.String(length=64), nullable=False),
        sa.Column("meter_start_wh", sa.Numeric(precision=15, scale=3), nullable=False),
        sa.Column("meter_last_wh", sa.Numeric(precision=15, scale=3), nullable=False),
        sa.Column("meter_last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id"),
        sa.UniqueConstraint(
            "charger_id", "connector_id", "started_at", name="uq_ocpp_transactions_start"
        ),
    )

    op.create_table(
        "ocpp_reservations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_answer", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reservation_id"),
    )
    with op.batch_alter_table("ocpp_reservations") as batch_op:
        batch_op.create_index("ix_ocpp_reservations_charger_id", ["charger_id"])


def downgrade() -> None:
    with op.batch_alter_table("ocpp_reservations") as batch_op:
        batch_op.drop_index("ix_ocpp_reservations_charger_id")
    op.drop_table("ocpp_reservations")
    op.drop_table("ocpp_transactions")
    op.drop_table("connector_statuses")
    with op.batch_alter_table("chargers") as batch_op:
        batch_op.drop_column("ocpp_password_hash")
