"""Coarser views of ``usage_quarters``: per quarter for all connector types, per UTC day and
connector type; kept by triggers on ``usage_quarters`` itself.

A year of ``usage_quarters`` is ~175,000 rows (a quarter holds a row per connector type); the
figures that need no connector type (energy per local day, sessions per hour of the week) read
``usage_quarter_totals`` (~35,000 rows a year), and the ones over a UTC range (energy per
connector type, the explorer's totals) read ``usage_days`` for the whole UTC days and
``usage_quarters`` only at the two edges (~2,000 rows a year).

Every change to ``usage_quarters`` is applied to both as a difference (new - old), so they stay
exactly its sums: PostgreSQL statement-level triggers with transition tables (an upsert of 0008
fires the INSERT and the UPDATE one with the rows each touched; TRUNCATE, as the refill does,
empties both), SQLite row triggers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCE = "usage_quarters"
TOTALS = "usage_quarter_totals"
DAYS = "usage_days"
FIGURES = ("sessions", "energy_wh", "finalized_sessions", "finalized_energy_wh")


def _floor_day(quarter: str) -> str:
    # Floor division for (unlikely) quarters before 1970, whose / truncates toward zero.
    return f"({quarter} / 96 - ({quarter} % 96 < 0)::int)"


def _lite_floor_day(quarter: str) -> str:
    return f"({quarter} / 96 - ({quarter} % 96 < 0))"


def _add(table: str) -> str:
    return ",\n        ".join(f"{c} = {table}.{c} + excluded.{c}" for c in FIGURES)


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_upserts(signed_rows: str) -> str:
    """Both tables from ``signed_rows`` (quarter, connector_type, sign, figures...)."""
    sums = ", ".join(f"sum(d.sign * d.{c})" for c in FIGURES)
    nonzero = " OR ".join(f"sum(d.sign * d.{c}) <> 0" for c in FIGURES)
    columns = ", ".join(FIGURES)
    return f"""
    INSERT INTO {TOTALS} AS t (quarter, {columns})
    SELECT d.quarter, {sums} FROM ({signed_rows}) AS d
    GROUP BY 1 HAVING {nonzero} ORDER BY 1
    ON CONFLICT (quarter) DO UPDATE SET {_add("t")};
    INSERT INTO {DAYS} AS t (day, connector_type, {columns})
    SELECT {_floor_day("d.quarter")}, d.connector_type, {sums} FROM ({signed_rows}) AS d
    GROUP BY 1, 2 HAVING {nonzero} ORDER BY 1, 2
    ON CONFLICT (day, connector_type) DO UPDATE SET {_add("t")}"""


def _pg_rows(table: str, sign: int) -> str:
    return f"SELECT quarter, connector_type, {sign} AS sign, {', '.join(FIGURES)} FROM {table}"


PG_FUNCTIONS = {
    "usage_totals_inserted": _pg_upserts(_pg_rows("new_rows", 1)),
    "usage_totals_updated": _pg_upserts(
        f"{_pg_rows('new_rows', 1)} UNION ALL {_pg_rows('old_rows', -1)}"
    ),
    "usage_totals_deleted": _pg_upserts(_pg_rows("old_rows", -1)),
    "usage_totals_truncated": f"DELETE FROM {TOTALS}; DELETE FROM {DAYS}",
}

PG_TRIGGERS = {
    "usage_totals_inserted": f"AFTER INSERT ON {SOURCE} "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
    "usage_totals_updated": f"AFTER UPDATE ON {SOURCE} "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT",
    "usage_totals_deleted": f"AFTER DELETE ON {SOURCE} "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
    "usage_totals_truncated": f"AFTER TRUNCATE ON {SOURCE} FOR EACH STATEMENT",
}


def _postgresql_upgrade() -> None:
    for name, body in PG_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body}; RETURN NULL; END $$"
        )
        op.execute(f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} EXECUTE FUNCTION {name}()")
    # Writers of sessions write usage_quarters in their triggers: locking sessions keeps the
    # fill and the triggers from missing or counting a change twice.
    op.execute("LOCK TABLE sessions IN SHARE MODE")
    op.execute(f"LOCK TABLE {SOURCE} IN SHARE MODE")
    _fill(_floor_day("quarter"))
    op.execute(f"ANALYZE {TOTALS}")
    op.execute(f"ANALYZE {DAYS}")


# --- SQLite -------------------------------------------------------------------------------------


def _lite_upserts(row: str, sign: int) -> str:
    values = ", ".join(f"{sign} * {row}.{c}" for c in FIGURES)
    columns = ", ".join(FIGURES)
    return f"""
    INSERT INTO {TOTALS} (quarter, {columns}) VALUES ({row}.quarter, {values})
    ON CONFLICT (quarter) DO UPDATE SET {_add(TOTALS)};
    INSERT INTO {DAYS} (day, connector_type, {columns})
    VALUES ({_lite_floor_day(f"{row}.quarter")}, {row}.connector_type, {values})
    ON CONFLICT (day, connector_type) DO UPDATE SET {_add(DAYS)};"""


SQLITE_TRIGGERS = {
    "usage_totals_inserted": (f"AFTER INSERT ON {SOURCE}", _lite_upserts("NEW", 1)),
    "usage_totals_updated": (
        f"AFTER UPDATE ON {SOURCE}",
        _lite_upserts("OLD", -1) + _lite_upserts("NEW", 1),
    ),
    "usage_totals_deleted": (f"AFTER DELETE ON {SOURCE}", _lite_upserts("OLD", -1)),
}


def _sqlite_upgrade() -> None:
    for name, (when, body) in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    _fill(_lite_floor_day("quarter"))


# --- both ---------------------------------------------------------------------------------------


def _fill(day: str) -> None:
    sums = ", ".join(f"sum({c})" for c in FIGURES)
    columns = ", ".join(FIGURES)
    op.execute(
        f"INSERT INTO {TOTALS} (quarter, {columns}) "
        f"SELECT quarter, {sums} FROM {SOURCE} GROUP BY 1 ORDER BY 1"
    )
    op.execute(
        f"INSERT INTO {DAYS} (day, connector_type, {columns}) "
        f"SELECT {day}, connector_type, {sums} FROM {SOURCE} GROUP BY 1, 2 ORDER BY 1, 2"
    )


def _figures() -> list[sa.Column]:
    return [sa.Column(c, sa.BigInteger(), nullable=False) for c in FIGURES]


def upgrade() -> None:
    op.create_table(
        TOTALS,
        sa.Column("quarter", sa.BigInteger(), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("quarter", name="pk_usage_quarter_totals"),
    )
    op.create_table(
        DAYS,
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("connector_type", sa.String(16), nullable=False),
        *_figures(),
        sa.PrimaryKeyConstraint("day", "connector_type", name="pk_usage_days"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {SOURCE}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table(DAYS)
    op.drop_table(TOTALS)
