"""Reservations that hold a charger never overlap: an exclusion constraint on PostgreSQL.

Two ``active`` or ``confirmed`` reservations on one charger may not share any instant of
``[starts_at, ends_at)`` (touching is fine). PostgreSQL enforces it with a GiST exclusion
constraint (``btree_gist`` gives GiST the ``=`` on ``charger_id``). SQLite has no such constraint;
``data.charging.reservations.create_reservation`` serialises creations there instead, so on SQLite
this revision changes nothing.

A database that already holds overlapping holding reservations cannot take the constraint: the
upgrade then stops and names them, rather than cancelling anybody's reservation by itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "reservations_no_overlap"

_OVERLAPS = sa.text(
    """
    SELECT a.id, b.id, a.charger_id
    FROM reservations a
    JOIN reservations b
      ON b.charger_id = a.charger_id AND a.id < b.id
     AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
    WHERE a.status IN ('active', 'confirmed') AND b.status IN ('active', 'confirmed')
    ORDER BY a.charger_id, a.id, b.id
    LIMIT 20
    """
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    clashes = bind.execute(_OVERLAPS).all()
    if clashes:
        pairs = "; ".join(f"{a} and {b} on charger {c}" for a, b, c in clashes)
        raise RuntimeError(
            "Cannot add the no-overlap rule for reservations: these active/confirmed reservations "
            f"overlap: {pairs}. Cancel one of each pair (status 'cancelled') and start again."
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        f"ALTER TABLE reservations ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (charger_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
        "WHERE (status IN ('active', 'confirmed'))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE reservations DROP CONSTRAINT IF EXISTS {CONSTRAINT}")
    # btree_gist stays: other objects may use it, and it costs nothing unused.
