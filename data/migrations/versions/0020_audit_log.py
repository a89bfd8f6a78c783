"""The audit log: ``audit_entries``, one row per operator action (issue 17; ``data.audit``).

Who (``user``: the person's email, or ``cli``; ``user_id``), from which account, what
(``action``), on what (``subject_type``, ``subject_id``), the changed fields before and after as
JSON text, an optional ``detail`` and when (``at``). No foreign keys: an entry outlives the
account, person or charger it names, unchanged.

Append-only: a trigger refuses every UPDATE and DELETE of a row, on PostgreSQL (a ``BEFORE
UPDATE OR DELETE ... FOR EACH ROW`` trigger raising an error) and on SQLite (``RAISE(ABORT)``).
The app never tries; the triggers make sure no code path or hand-written query can.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "audit_entries"
REFUSAL = "audit entries are never changed or deleted"
GUARD = "audit_entries_append_only"
SQLITE_GUARDS = {f"{GUARD}_update": "UPDATE", f"{GUARD}_delete": "DELETE"}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=254), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entries_at", TABLE, ["at", "id"])
    op.create_index("ix_audit_entries_user_at", TABLE, ["user", "at"])
    op.create_index("ix_audit_entries_subject_at", TABLE, ["subject_type", "subject_id", "at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {GUARD}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'restrict_violation'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {GUARD} BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION {GUARD}()"
        )
    else:
        for name, event in SQLITE_GUARDS.items():
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {GUARD} ON {TABLE}")
        op.execute(f"DROP FUNCTION IF EXISTS {GUARD}()")
    else:
        for name in SQLITE_GUARDS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table(TABLE)
