"""Energy a charger reported implausibly is disputed, and counts nowhere until resolved.

``sessions`` gains ``energy_disputed_at`` (NULL: the session counts), ``energy_disputed_kwh``
(what the charger reported) and who resolved the last dispute when (``energy_resolved_at``,
``energy_resolved_by``). data/ocpp/messages.py sets the dispute; an admin confirms or corrects it
(data/ocpp/admin.py), which clears it.

The usage rollup (``usage_quarters``, 0008, and from it 0010's tables) must leave disputed
sessions out, on every write path: its trigger functions (PostgreSQL) and triggers (SQLite)
are rebuilt with 0008's own SQL, each source of session rows filtered to
``energy_disputed_at IS NULL``. A session that becomes disputed is then taken out (its old row
counted, its new one does not) and put back when resolved, by the triggers as they are. The
SQLite update trigger also fires on ``energy_disputed_at``. Existing rows are all undisputed, so
the rollup needs no recount. ``charger_days`` / ``charger_months`` (0009: time in use, not
energy) are unchanged: the charger was occupied whatever energy it reported.

PostgreSQL's covering index for a year of an account's usage (``ix_sessions_account_started``)
also carries ``energy_disputed_at``, so the usage query stays an index-only scan.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = "energy_disputed_at IS NULL"


def _rollup() -> ModuleType:
    """Migration 0008, for its SQL (a revision file is not an importable module name)."""
    path = Path(__file__).with_name("0008_usage_rollup.py")
    spec = importlib.util.spec_from_file_location("polaris_migration_0008", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_functions(m: ModuleType, counted_only: bool) -> dict[str, str]:
    where = f" WHERE s.{COUNTED}" if counted_only else ""

    def rows(table: str, sign: int) -> str:
        return m._pg_sessions(table, sign) + where

    moved = m._PG_MOVED_CHARGER + (f" AND s.{COUNTED}" if counted_only else "")
    return {
        "usage_quarters_sessions_inserted": m._pg_upsert(rows("new_sessions", 1)),
        "usage_quarters_sessions_updated": m._pg_upsert(
            f"{rows('new_sessions', 1)} UNION ALL {rows('old_sessions', -1)}"
        ),
        "usage_quarters_sessions_deleted": m._pg_upsert(rows("old_sessions", -1)),
        "usage_quarters_chargers_updated": m._pg_upsert(moved),
    }


def _pg_replace(counted_only: bool) -> None:
    m = _rollup()
    for name, body in _pg_functions(m, counted_only).items():
        op.execute(
            m._pg_function(name, body).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
        )


def _pg_index(include: str) -> None:
    op.execute("DROP INDEX ix_sessions_account_started")
    op.execute(
        "CREATE INDEX ix_sessions_account_started ON sessions (account_id, started_at) "
        f"INCLUDE ({include})"
    )


# --- SQLite -------------------------------------------------------------------------------------


def _lite_triggers(m: ModuleType, counted_only: bool) -> dict[str, tuple[str, str]]:
    def upsert(row: str, sign: int) -> str:
        sql = m._lite_upsert(row, sign)
        if counted_only:
            sql = sql.replace(
                f"WHERE c.id = {row}.charger_id",
                f"WHERE c.id = {row}.charger_id AND {row}.{COUNTED}",
            )
        return sql

    def move(connector: str, sign: int) -> str:
        sql = m._lite_move(connector, sign)
        if counted_only:
            sql = sql.replace(
                "WHERE s.charger_id = NEW.id", f"WHERE s.charger_id = NEW.id AND s.{COUNTED}"
            )
        return sql

    columns = "started_at, energy_kwh, charger_id, finalized"
    if counted_only:
        columns += ", energy_disputed_at"
    return {
        "usage_quarters_sessions_inserted": ("AFTER INSERT ON sessions", upsert("NEW", 1)),
        "usage_quarters_sessions_updated": (
            f"AFTER UPDATE OF {columns} ON sessions",
            upsert("OLD", -1) + upsert("NEW", 1),
        ),
        "usage_quarters_sessions_deleted": ("AFTER DELETE ON sessions", upsert("OLD", -1)),
        "usage_quarters_chargers_updated": (
            m.SQLITE_TRIGGERS["usage_quarters_chargers_updated"][0],
            move("OLD.connector_type", -1) + move("NEW.connector_type", 1),
        ),
    }


def _lite_replace(counted_only: bool) -> None:
    for name, (when, body) in _lite_triggers(_rollup(), counted_only).items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


# --- both ---------------------------------------------------------------------------------------


def upgrade() -> None:
    op.add_column("sessions", sa.Column("energy_disputed_at", sa.DateTime(timezone=True)))
    op.add_column("sessions", sa.Column("energy_disputed_kwh", sa.Numeric(15, 3)))
    op.add_column("sessions", sa.Column("energy_resolved_at", sa.DateTime(timezone=True)))
    op.add_column("sessions", sa.Column("energy_resolved_by", sa.String(64)))
    op.create_index(
        "ix_sessions_energy_disputed",
        "sessions",
        ["energy_disputed_at"],
        postgresql_where=sa.text("energy_disputed_at IS NOT NULL"),
        sqlite_where=sa.text("energy_disputed_at IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _pg_replace(counted_only=True)
        _pg_index("energy_kwh, energy_disputed_at")
    else:
        _lite_replace(counted_only=True)


def downgrade() -> None:
    # Disputed sessions count again: the triggers (still filtering) put them back in the rollup.
    op.execute("UPDATE sessions SET energy_disputed_at = NULL WHERE energy_disputed_at IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        _pg_index("energy_kwh")
        _pg_replace(counted_only=False)
    else:
        _lite_replace(counted_only=False)
    op.drop_index("ix_sessions_energy_disputed", table_name="sessions")
    for column in (
        "energy_resolved_by",
        "energy_resolved_at",
        "energy_disputed_kwh",
        "energy_disputed_at",
    ):
        op.drop_column("sessions", column)
