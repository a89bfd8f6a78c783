"""The outage log (issue 17): ``outages``, one row per span in which a charger could not charge.

- ``cause``: one of the spec's causes (``unknown`` by default); ``excluded``: outside the
  operator's control, so it does not count against uptime; ``note``: free text.
- ``kind``: where it comes from (``offline`` and ``out_of_order`` from the OCPP feed,
  ``imported``, ``manual``). A partial unique index keeps at most one open outage per charger
  for each of the two live kinds, so the live bookkeeping can never open a second one.
- Indexes: per charger in start order (with ``ended_at`` and ``excluded`` included on
  PostgreSQL, so uptime reads the index only), and by start for the fleet's list.

A new, empty table: milliseconds whatever the size of the database.

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_LIVE = "ended_at IS NULL AND kind IN ('offline', 'out_of_order')"
ID = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "outages",
        sa.Column("id", ID, nullable=False),
        sa.Column("charger_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "cause",
            _enum(
                "outage_cause",
                "unknown",
                "utility",
                "vehicle",
                "maintenance",
                "vandalism",
                "natural_disaster",
                "outside_hours",
                "other",
            ),
            server_default="unknown",
            nullable=False,
        ),
        sa.Column("excluded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "kind",
            _enum("outage_kind", "offline", "out_of_order", "imported", "manual"),
            nullable=False,
        ),
        sa.CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        sa.ForeignKeyConstraint(["charger_id"], ["chargers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outages_charger_started",
        "outages",
        ["charger_id", "started_at"],
        postgresql_include=["ended_at", "excluded"],
    )
    op.create_index("ix_outages_started", "outages", ["started_at"])
    op.create_index(
        "ux_outages_open_live",
        "outages",
        ["charger_id", "kind"],
        unique=True,
        postgresql_where=sa.text(OPEN_LIVE),
        sqlite_where=sa.text(OPEN_LIVE),
    )


def downgrade() -> None:
    op.drop_table("outages")
