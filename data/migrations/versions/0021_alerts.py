"""Alerts (issue 17): ``alert_settings`` (one row: the delay, the digest mode), ``alerts`` (one
per charger or site outage past the delay), ``alert_outages`` (each outage in at most one alert:
its primary key) and ``alert_deliveries`` (the outbox: one row per email or webhook call, unique
by ``dedupe_key``).

New, empty tables: milliseconds whatever the size of the database.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")
OPEN = "recovered_at IS NULL"
DUE = "sent_at IS NULL"


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "alert_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delay_s", sa.Integer(), nullable=False),
        sa.Column("digest", _enum("alert_digest", "off", "also", "only"), nullable=False),
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("delay_s > 0", name="delay_positive"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", _enum("alert_scope", "charger", "site"), nullable=False),
        sa.Column("charger_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_charger_id", "alerts", ["charger_id"])
    op.create_index(
        "ix_alerts_open",
        "alerts",
        ["opened_at"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_table(
        "alert_outages",
        sa.Column("outage_id", ID, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("outage_id"),
    )
    op.create_index("ix_alert_outages_alert_id", "alert_outages", ["alert_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=100), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("channel", _enum("alert_channel", "email", "webhook"), nullable=False),
        sa.Column(
            "kind", _enum("alert_delivery_kind", "opened", "recovered", "digest"), nullable=False
        ),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_index(
        "ix_alert_deliveries_due",
        "alert_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_table("alert_outages")
    op.drop_table("alerts")
    op.drop_table("alert_settings")
