"""Usage per UTC quarter-hour and connector type, kept exact by triggers (``usage_quarters``).

Fleet-wide figures (energy per local day and month, sessions per local hour of the week,
energy per connector type, the sessions explorer's totals) become sums over at most
96 quarters x 5 connector types a day instead of scans of every session of the period. Every
UTC offset in use is a multiple of 15 minutes and every DST change happens on a quarter, so any
local day or hour is an exact union of UTC quarters.

``quarter`` is the UTC quarter-hour of ``sessions.started_at``, counted from 1970-01-01
(``floor(epoch / 900)``); energy is kept in integer Wh, so sums and differences are exact on
SQLite too (its NUMERIC is a float). Rows that drop to zero sessions stay (zeros) and are
reused; every reader fills missing days, hours and types with zeros anyway.

The database keeps the table exact, so no code path can forget it:
- PostgreSQL: statement-level AFTER INSERT / UPDATE / DELETE triggers on ``sessions`` with
  transition tables, each one aggregated upsert (a COPY of a million rows costs one GROUP BY,
  not a million upserts); TRUNCATE empties the table; a row-level AFTER UPDATE trigger on
  ``chargers``, only when ``connector_type`` really changes, moves that charger's sessions
  (chargers are updated on every OCPP message; those updates never run it).
- SQLite: row-level triggers doing the same with ``INSERT ... ON CONFLICT DO UPDATE``.
- Both: deleting a charger deletes its sessions first (BEFORE DELETE), while the charger and
  its connector type are still there to say which row they counted in; the foreign key's
  cascade then finds nothing left. Deleting an account cascades normally (its chargers stay).

A bulk load with ``session_replication_role = replica`` (bench/build.py) skips triggers and
refills the table afterwards (``data.charging.rollup.refill_usage_quarters``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "usage_quarters"
COLUMNS = "quarter, connector_type, sessions, energy_wh, finalized_sessions, finalized_energy_wh"
ADD_EXCLUDED = """
    sessions = {t}.sessions + excluded.sessions,
    energy_wh = {t}.energy_wh + excluded.energy_wh,
    finalized_sessions = {t}.finalized_sessions + excluded.finalized_sessions,
    finalized_energy_wh = {t}.finalized_energy_wh + excluded.finalized_energy_wh"""


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_quarter(ts: str) -> str:
    return f"floor(extract(epoch FROM {ts}) / 900)::bigint"


def _pg_wh(kwh: str) -> str:
    return f"round({kwh} * 1000)::bigint"


def _pg_upsert(signed_rows: str) -> str:
    """One aggregated upsert of ``signed_rows`` (started_at, energy_kwh, finalized,
    connector_type, sign); keys in order, so two bulk writers lock rows in the same order."""
    return f"""
    INSERT INTO {TABLE} AS u ({COLUMNS})
    SELECT {_pg_quarter("d.started_at")}, d.connector_type,
           sum(d.sign),
           sum(d.sign * {_pg_wh("d.energy_kwh")}),
           coalesce(sum(d.sign) FILTER (WHERE d.finalized), 0),
           coalesce(sum(d.sign * {_pg_wh("d.energy_kwh")}) FILTER (WHERE d.finalized), 0)
    FROM ({signed_rows}) AS d
    GROUP BY 1, 2
    HAVING sum(d.sign) <> 0 OR sum(d.sign * {_pg_wh("d.energy_kwh")}) <> 0
        OR coalesce(sum(d.sign) FILTER (WHERE d.finalized), 0) <> 0
        OR coalesce(sum(d.sign * {_pg_wh("d.energy_kwh")}) FILTER (WHERE d.finalized), 0) <> 0
    ORDER BY 1, 2
    ON CONFLICT (quarter, connector_type) DO UPDATE SET {ADD_EXCLUDED.format(t="u")}"""


def _pg_sessions(table: str, sign: int) -> str:
    return (
        f"SELECT s.started_at, s.energy_kwh, s.finalized, c.connector_type, {sign} AS sign "
        f"FROM {table} s JOIN chargers c ON c.id = s.charger_id"
    )


def _pg_function(name: str, body: str, returns: str = "NULL") -> str:
    return f"""
    CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {body};
        RETURN {returns};
    END
    $$"""


# Row-level with WHEN: chargers are updated on every OCPP message (last_seen_at), and a
# statement trigger with transition tables would run for each of those; this one runs only when
# a connector type really changes (an admin edit or an import), moving that charger's sessions.
_PG_MOVED_CHARGER = """
    SELECT s.started_at, s.energy_kwh, s.finalized, t.connector_type, t.sign
    FROM sessions s
    CROSS JOIN (VALUES (NEW.connector_type, 1), (OLD.connector_type, -1)) AS t(connector_type, sign)
    WHERE s.charger_id = NEW.id"""

PG_FUNCTIONS = {
    "usage_quarters_sessions_inserted": _pg_upsert(_pg_sessions("new_sessions", 1)),
    "usage_quarters_sessions_updated": _pg_upsert(
        f"{_pg_sessions('new_sessions', 1)} UNION ALL {_pg_sessions('old_sessions', -1)}"
    ),
    "usage_quarters_sessions_deleted": _pg_upsert(_pg_sessions("old_sessions", -1)),
    "usage_quarters_sessions_truncated": f"DELETE FROM {TABLE}",
    "usage_quarters_chargers_updated": _pg_upsert(_PG_MOVED_CHARGER),
}

PG_TRIGGERS = {
    "usage_quarters_sessions_inserted": "AFTER INSERT ON sessions "
    "REFERENCING NEW TABLE AS new_sessions FOR EACH STATEMENT",
    "usage_quarters_sessions_updated": "AFTER UPDATE ON sessions "
    "REFERENCING OLD TABLE AS old_sessions NEW TABLE AS new_sessions FOR EACH STATEMENT",
    "usage_quarters_sessions_deleted": "AFTER DELETE ON sessions "
    "REFERENCING OLD TABLE AS old_sessions FOR EACH STATEMENT",
    "usage_quarters_sessions_truncated": "AFTER TRUNCATE ON sessions FOR EACH STATEMENT",
    "usage_quarters_chargers_updated": "AFTER UPDATE OF connector_type ON chargers FOR EACH ROW "
    "WHEN (OLD.connector_type IS DISTINCT FROM NEW.connector_type)",
}

TRIGGER_TABLES = {
    "usage_quarters_sessions_inserted": "sessions",
    "usage_quarters_sessions_updated": "sessions",
    "usage_quarters_sessions_deleted": "sessions",
    "usage_quarters_sessions_truncated": "sessions",
    "usage_quarters_chargers_updated": "chargers",
    "usage_quarters_charger_deleting": "chargers",
}


def _postgresql_upgrade() -> None:
    for name, body in PG_FUNCTIONS.items():
        op.execute(_pg_function(name, body))
        op.execute(f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} EXECUTE FUNCTION {name}()")
    op.execute(
        _pg_function(
            "usage_quarters_charger_deleting",
            "DELETE FROM sessions WHERE charger_id = OLD.id",
            returns="OLD",
        )
    )
    op.execute(
        "CREATE TRIGGER usage_quarters_charger_deleting BEFORE DELETE ON chargers "
        "FOR EACH ROW EXECUTE FUNCTION usage_quarters_charger_deleting()"
    )
    # No session may be written between the fill and the triggers taking over; the fill of a
    # big fleet may take longer than the app's statement timeout.
    op.execute("LOCK TABLE sessions IN SHARE MODE")
    op.execute("SET LOCAL statement_timeout = 0")
    op.execute(
        f"INSERT INTO {TABLE} ({COLUMNS}) "
        f"SELECT {_pg_quarter('s.started_at')}, c.connector_type, count(*), "
        f"sum({_pg_wh('s.energy_kwh')}), count(*) FILTER (WHERE s.finalized), "
        f"coalesce(sum({_pg_wh('s.energy_kwh')}) FILTER (WHERE s.finalized), 0) "
        "FROM sessions s JOIN chargers c ON c.id = s.charger_id GROUP BY 1, 2"
    )
    op.execute(f"ANALYZE {TABLE}")


# --- SQLite -------------------------------------------------------------------------------------


def _lite_quarter(ts: str) -> str:
    # Naive UTC text; floor division also for (unlikely) instants before 1970.
    seconds = f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"
    return f"({seconds} / 900 - ({seconds} % 900 < 0))"


def _lite_wh(kwh: str) -> str:
    return f"CAST(round({kwh} * 1000) AS INTEGER)"


def _lite_upsert(row: str, sign: int, connector: str = "c.connector_type") -> str:
    """Add (``sign`` 1) or take away (-1) the session ``row`` (NEW or OLD)."""
    wh = _lite_wh(f"{row}.energy_kwh")
    return f"""
    INSERT INTO {TABLE} ({COLUMNS})
    SELECT {_lite_quarter(f"{row}.started_at")}, {connector}, {sign}, {sign} * {wh},
           CASE WHEN {row}.finalized THEN {sign} ELSE 0 END,
           CASE WHEN {row}.finalized THEN {sign} * {wh} ELSE 0 END
    FROM chargers c WHERE c.id = {row}.charger_id
    ON CONFLICT (quarter, connector_type) DO UPDATE SET {ADD_EXCLUDED.format(t=TABLE)};"""


def _lite_move(connector: str, sign: int) -> str:
    """Add (1) or take away (-1) all sessions of the updated charger under ``connector``."""
    wh = _lite_wh("s.energy_kwh")
    return f"""
    INSERT INTO {TABLE} ({COLUMNS})
    SELECT {_lite_quarter("s.started_at")}, {connector}, {sign} * count(*), {sign} * sum({wh}),
           {sign} * sum(CASE WHEN s.finalized THEN 1 ELSE 0 END),
           {sign} * sum(CASE WHEN s.finalized THEN {wh} ELSE 0 END)
    FROM sessions s WHERE s.charger_id = NEW.id GROUP BY 1
    ON CONFLICT (quarter, connector_type) DO UPDATE SET {ADD_EXCLUDED.format(t=TABLE)};"""


SQLITE_TRIGGERS = {
    "usage_quarters_sessions_inserted": (
        "AFTER INSERT ON sessions",
        _lite_upsert("NEW", 1),
    ),
    "usage_quarters_sessions_updated": (
        "AFTER UPDATE OF started_at, energy_kwh, charger_id, finalized ON sessions",
        _lite_upsert("OLD", -1) + _lite_upsert("NEW", 1),
    ),
    "usage_quarters_sessions_deleted": ("AFTER DELETE ON sessions", _lite_upsert("OLD", -1)),
    "usage_quarters_chargers_updated": (
        "AFTER UPDATE OF connector_type ON chargers "
        "WHEN OLD.connector_type IS NOT NEW.connector_type",
        _lite_move("OLD.connector_type", -1) + _lite_move("NEW.connector_type", 1),
    ),
    "usage_quarters_charger_deleting": (
        "BEFORE DELETE ON chargers",
        "DELETE FROM sessions WHERE charger_id = OLD.id;",
    ),
}


def _sqlite_upgrade() -> None:
    for name, (when, body) in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    wh = _lite_wh("s.energy_kwh")
    op.execute(
        f"INSERT INTO {TABLE} ({COLUMNS}) "
        f"SELECT {_lite_quarter('s.started_at')}, c.connector_type, count(*), sum({wh}), "
        f"sum(CASE WHEN s.finalized THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN s.finalized THEN {wh} ELSE 0 END) "
        "FROM sessions s JOIN chargers c ON c.id = s.charger_id GROUP BY 1, 2"
    )


# --- both ---------------------------------------------------------------------------------------


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("quarter", sa.BigInteger(), nullable=False),
        sa.Column("connector_type", sa.String(16), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("finalized_sessions", sa.BigInteger(), nullable=False),
        sa.Column("finalized_energy_wh", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("quarter", "connector_type", name="pk_usage_quarters"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table in TRIGGER_TABLES.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table(TABLE)
