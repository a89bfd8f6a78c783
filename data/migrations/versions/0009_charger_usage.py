"""Time in use per charger, per UTC day and per UTC month of start, kept exact by triggers.

Utilisation (share of a period's hours a charger was in use) is per charger, so
``usage_quarters`` cannot answer it. These two tables hold, for finished sessions
(``ended_at`` set), how many started on each charger in each UTC day (``charger_days``) and
UTC month (``charger_months``) and the sum of their whole durations in microseconds (integers:
exact on SQLite too). A period's whole months, then whole days at its edges, then the few
hours at its very edges (read from ``sessions``) add up the sessions that started in it; the
sessions that reach across its start or end are clipped from ``sessions`` by index ranges no
longer than the longest finished session (``charger_months.longest_us``, which only grows, so
it stays an upper bound after deletions). Sessions in progress come from their partial index
as before (data/charging/analytics.py, ``top_chargers_by_utilisation``).

Kept like ``usage_quarters`` (0008): statement-level triggers with transition tables on
PostgreSQL (TRUNCATE empties both), row triggers on SQLite; a charger's sessions are deleted
before it (0008's trigger), so its rows drop to zero. Rows that drop to zero stay. A bulk load
with triggers off refills them (``data.charging.rollup.refill_charger_usage``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAYS = "charger_days"
MONTHS = "charger_months"


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_day(ts: str) -> str:
    return f"CAST(floor(EXTRACT(EPOCH FROM {ts}) / 86400) AS INTEGER)"


def _pg_month(ts: str) -> str:
    utc = f"timezone('UTC', {ts})"
    return (
        f"((CAST(EXTRACT(YEAR FROM {utc}) AS INTEGER) - 1970) * 12 "
        f"+ CAST(EXTRACT(MONTH FROM {utc}) AS INTEGER) - 1)"
    )


def _pg_us(started: str, ended: str) -> str:
    return f"CAST(EXTRACT(EPOCH FROM ({ended} - {started})) * 1000000 AS BIGINT)"


def _pg_upserts(signed_rows: str) -> str:
    """Both tables from ``signed_rows`` (charger_id, started_at, ended_at, sign) of finished
    sessions; keys in order, so two bulk writers lock rows in the same order."""
    us = _pg_us("d.started_at", "d.ended_at")
    return f"""
    INSERT INTO {DAYS} AS u (day, charger_id, sessions, seconds_us)
    SELECT {_pg_day("d.started_at")}, d.charger_id, sum(d.sign), sum(d.sign * {us})
    FROM ({signed_rows}) AS d
    GROUP BY 1, 2
    HAVING sum(d.sign) <> 0 OR sum(d.sign * {us}) <> 0
    ORDER BY 1, 2
    ON CONFLICT (day, charger_id) DO UPDATE SET
        sessions = u.sessions + excluded.sessions,
        seconds_us = u.seconds_us + excluded.seconds_us;
    INSERT INTO {MONTHS} AS u (month, charger_id, sessions, seconds_us, longest_us)
    SELECT {_pg_month("d.started_at")}, d.charger_id, sum(d.sign), sum(d.sign * {us}),
           coalesce(max({us}) FILTER (WHERE d.sign > 0), 0)
    FROM ({signed_rows}) AS d
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (month, charger_id) DO UPDATE SET
        sessions = u.sessions + excluded.sessions,
        seconds_us = u.seconds_us + excluded.seconds_us,
        longest_us = greatest(u.longest_us, excluded.longest_us)"""


def _pg_finished(table: str, sign: int) -> str:
    return (
        f"SELECT charger_id, started_at, ended_at, {sign} AS sign "
        f"FROM {table} WHERE ended_at IS NOT NULL"
    )


PG_FUNCTIONS = {
    "charger_usage_sessions_inserted": _pg_upserts(_pg_finished("new_sessions", 1)),
    "charger_usage_sessions_updated": _pg_upserts(
        f"{_pg_finished('new_sessions', 1)} UNION ALL {_pg_finished('old_sessions', -1)}"
    ),
    "charger_usage_sessions_deleted": _pg_upserts(_pg_finished("old_sessions", -1)),
    "charger_usage_sessions_truncated": f"DELETE FROM {DAYS}; DELETE FROM {MONTHS}",
}

PG_TRIGGERS = {
    "charger_usage_sessions_inserted": "AFTER INSERT ON sessions "
    "REFERENCING NEW TABLE AS new_sessions FOR EACH STATEMENT",
    "charger_usage_sessions_updated": "AFTER UPDATE ON sessions "
    "REFERENCING OLD TABLE AS old_sessions NEW TABLE AS new_sessions FOR EACH STATEMENT",
    "charger_usage_sessions_deleted": "AFTER DELETE ON sessions "
    "REFERENCING OLD TABLE AS old_sessions FOR EACH STATEMENT",
    "charger_usage_sessions_truncated": "AFTER TRUNCATE ON sessions FOR EACH STATEMENT",
}


def _postgresql_upgrade() -> None:
    for name, body in PG_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body}; RETURN NULL; END $$"
        )
        op.execute(f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} EXECUTE FUNCTION {name}()")
    # No session may be written between the fill and the triggers taking over.
    op.execute("LOCK TABLE sessions IN SHARE MODE")
    op.execute("SET LOCAL statement_timeout = 0")
    us = _pg_us("started_at", "ended_at")
    op.execute(
        f"INSERT INTO {DAYS} (day, charger_id, sessions, seconds_us) "
        f"SELECT {_pg_day('started_at')}, charger_id, count(*), sum({us}) FROM sessions "
        "WHERE ended_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    )
    op.execute(
        f"INSERT INTO {MONTHS} (month, charger_id, sessions, seconds_us, longest_us) "
        f"SELECT {_pg_month('started_at')}, charger_id, count(*), sum({us}), max({us}) "
        "FROM sessions WHERE ended_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    )
    op.execute(f"ANALYZE {DAYS}")
    op.execute(f"ANALYZE {MONTHS}")


# --- SQLite -------------------------------------------------------------------------------------


def _lite_seconds(ts: str) -> str:
    return f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"


def _lite_day(ts: str) -> str:
    # Floor division also for (unlikely) instants before 1970; SQLite's / truncates.
    seconds = _lite_seconds(ts)
    return f"({seconds} / 86400 - ({seconds} % 86400 < 0))"


def _lite_month(ts: str) -> str:
    text = f"substr({ts}, 1, 19)"
    return (
        f"((CAST(strftime('%Y', {text}) AS INTEGER) - 1970) * 12 "
        f"+ CAST(strftime('%m', {text}) AS INTEGER) - 1)"
    )


def _lite_us(started: str, ended: str) -> str:
    # "YYYY-MM-DD HH:MM:SS.ffffff" (naive UTC): whole seconds, then the digits after the point.
    def micros(ts: str) -> str:
        return f"CAST(substr(substr({ts}, 21) || '000000', 1, 6) AS INTEGER)"

    return (
        f"(({_lite_seconds(ended)} - {_lite_seconds(started)}) * 1000000 "
        f"+ {micros(ended)} - {micros(started)})"
    )


def _lite_upserts(row: str, sign: int) -> str:
    """Add (``sign`` 1) or take away (-1) the session ``row`` (NEW or OLD) if it has ended."""
    us = _lite_us(f"{row}.started_at", f"{row}.ended_at")
    longest = us if sign > 0 else "0"
    return f"""
    INSERT INTO {DAYS} (day, charger_id, sessions, seconds_us)
    SELECT {_lite_day(f"{row}.started_at")}, {row}.charger_id, {sign}, {sign} * {us}
    WHERE {row}.ended_at IS NOT NULL
    ON CONFLICT (day, charger_id) DO UPDATE SET
        sessions = {DAYS}.sessions + excluded.sessions,
        seconds_us = {DAYS}.seconds_us + excluded.seconds_us;
    INSERT INTO {MONTHS} (month, charger_id, sessions, seconds_us, longest_us)
    SELECT {_lite_month(f"{row}.started_at")}, {row}.charger_id, {sign}, {sign} * {us}, {longest}
    WHERE {row}.ended_at IS NOT NULL
    ON CONFLICT (month, charger_id) DO UPDATE SET
        sessions = {MONTHS}.sessions + excluded.sessions,
        seconds_us = {MONTHS}.seconds_us + excluded.seconds_us,
        longest_us = max({MONTHS}.longest_us, excluded.longest_us);"""


SQLITE_TRIGGERS = {
    "charger_usage_sessions_inserted": ("AFTER INSERT ON sessions", _lite_upserts("NEW", 1)),
    "charger_usage_sessions_updated": (
        "AFTER UPDATE OF started_at, ended_at, charger_id ON sessions",
        _lite_upserts("OLD", -1) + _lite_upserts("NEW", 1),
    ),
    "charger_usage_sessions_deleted": ("AFTER DELETE ON sessions", _lite_upserts("OLD", -1)),
}


def _sqlite_upgrade() -> None:
    for name, (when, body) in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    us = _lite_us("started_at", "ended_at")
    op.execute(
        f"INSERT INTO {DAYS} (day, charger_id, sessions, seconds_us) "
        f"SELECT {_lite_day('started_at')}, charger_id, count(*), sum({us}) FROM sessions "
        "WHERE ended_at IS NOT NULL GROUP BY 1, 2"
    )
    op.execute(
        f"INSERT INTO {MONTHS} (month, charger_id, sessions, seconds_us, longest_us) "
        f"SELECT {_lite_month('started_at')}, charger_id, count(*), sum({us}), max({us}) "
        "FROM sessions WHERE ended_at IS NOT NULL GROUP BY 1, 2"
    )


# --- both ---------------------------------------------------------------------------------------


def upgrade() -> None:
    op.create_table(
        DAYS,
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(64), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("seconds_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "charger_id", name="pk_charger_days"),
    )
    op.create_table(
        MONTHS,
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("charger_id", sa.String(64), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("seconds_us", sa.BigInteger(), nullable=False),
        sa.Column("longest_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "charger_id", name="pk_charger_months"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON sessions" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table(MONTHS)
    op.drop_table(DAYS)
