"""The usage rollups carry the stored cost, so revenue over any period is a sum of rollup rows.

Every rollup table gains ``cost_milli``: the sum of the stored ``cost_total`` (migration 0017) of
the sessions it counts, in thousandths of the operator's currency unit. An integer, like
``energy_wh``: sums and differences stay exact on SQLite too (its NUMERIC is a float), and a
thousandth is the smallest unit any ISO 4217 currency has (``COST`` is ``Numeric(14, 3)``).
Tariffs are in the operator's one currency (data/pricing/tariffs.py), so are the sums.

- ``usage_quarters`` (0008, 0012), and from it ``usage_quarter_totals`` and ``usage_days``
  (0010): the cost of the sessions that count (energy not disputed), per quarter of their
  start and connector type. Revenue per local day, month and connector type.
- ``charger_days`` and ``charger_months`` (0009): the cost of the finished sessions whose
  energy counts, per charger and UTC day / month of their start. Revenue per charger.

A cost is stored when a session is finalized, corrected or priced later (an UPDATE of
``sessions``), so the triggers now follow ``cost_total`` and ``energy_disputed_at`` as they
follow the energy: every trigger function (PostgreSQL) and trigger (SQLite) of 0008-0012 is
rebuilt with this column added, nothing else changed.

The existing rows are recounted from ``sessions`` with the new column (what
``data.charging.rollup.refill_rollups`` does after a bulk load): on PostgreSQL ``sessions`` is
locked against writes until the migration commits, the rollups are truncated and filled by one
aggregate each, in key order; 0010's triggers fill ``usage_quarter_totals`` and ``usage_days``
from the quarters' insert. bench/README.md has the measured rate.

PostgreSQL's covering index for a year of an account's usage (``ix_sessions_account_started``)
also carries ``cost_total``: the dashboard's period cost is summed by the same index-only scan
as its energy.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = "energy_disputed_at IS NULL"
ROLLUPS = ("usage_quarters", "usage_quarter_totals", "usage_days", "charger_days", "charger_months")
QUARTERS = "usage_quarters"
TOTALS = "usage_quarter_totals"
DAYS = "usage_days"
CHARGER_DAYS = "charger_days"
CHARGER_MONTHS = "charger_months"
USAGE_FIGURES = (
    "sessions",
    "energy_wh",
    "finalized_sessions",
    "finalized_energy_wh",
    "cost_milli",
)
USAGE_COLUMNS = "quarter, connector_type, " + ", ".join(USAGE_FIGURES)


def _revision(filename: str) -> ModuleType:
    """An earlier revision, for its SQL (a revision file is not an importable module name)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"polaris_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _add(table: str, figures: Sequence[str]) -> str:
    return ",\n        ".join(f"{c} = {table}.{c} + excluded.{c}" for c in figures)


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_quarter(ts: str) -> str:
    return f"floor(extract(epoch FROM {ts}) / 900)::bigint"


def _pg_wh(kwh: str) -> str:
    return f"round({kwh} * 1000)::bigint"


def _pg_milli(cost: str) -> str:
    return f"round({cost} * 1000)::bigint"


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body}; RETURN NULL; END $$"
    )


def _pg_quarters_upsert(signed_rows: str) -> str:
    """0008's upsert of ``signed_rows`` (started_at, energy_kwh, finalized, cost_total,
    connector_type, sign), with the cost."""
    wh = _pg_wh("d.energy_kwh")
    sums = (
        "sum(d.sign)",
        f"sum(d.sign * {wh})",
        "coalesce(sum(d.sign) FILTER (WHERE d.finalized), 0)",
        f"coalesce(sum(d.sign * {wh}) FILTER (WHERE d.finalized), 0)",
        f"coalesce(sum(d.sign * {_pg_milli('d.cost_total')}), 0)",
    )
    return f"""
    INSERT INTO {QUARTERS} AS u ({USAGE_COLUMNS})
    SELECT {_pg_quarter("d.started_at")}, d.connector_type, {", ".join(sums)}
    FROM ({signed_rows}) AS d
    GROUP BY 1, 2
    HAVING {" OR ".join(f"{s} <> 0" for s in sums)}
    ORDER BY 1, 2
    ON CONFLICT (quarter, connector_type) DO UPDATE SET {_add("u", USAGE_FIGURES)}"""


def _pg_sessions(table: str, sign: int) -> str:
    return (
        f"SELECT s.started_at, s.energy_kwh, s.finalized, s.cost_total, c.connector_type, "
        f"{sign} AS sign FROM {table} s JOIN chargers c ON c.id = s.charger_id "
        f"WHERE s.{COUNTED}"
    )


_PG_MOVED_CHARGER = f"""
    SELECT s.started_at, s.energy_kwh, s.finalized, s.cost_total, t.connector_type, t.sign
    FROM sessions s
    CROSS JOIN (VALUES (NEW.connector_type, 1), (OLD.connector_type, -1)) AS t(connector_type, sign)
    WHERE s.charger_id = NEW.id AND s.{COUNTED}"""


def _pg_totals_upserts(signed_rows: str) -> str:
    """0010's upserts of both coarser tables from ``signed_rows`` (quarter, connector_type,
    sign, figures...), with the cost."""
    sums = ", ".join(f"sum(d.sign * d.{c})" for c in USAGE_FIGURES)
    nonzero = " OR ".join(f"sum(d.sign * d.{c}) <> 0" for c in USAGE_FIGURES)
    columns = ", ".join(USAGE_FIGURES)
    day = "(d.quarter / 96 - (d.quarter % 96 < 0)::int)"
    return f"""
    INSERT INTO {TOTALS} AS t (quarter, {columns})
    SELECT d.quarter, {sums} FROM ({signed_rows}) AS d
    GROUP BY 1 HAVING {nonzero} ORDER BY 1
    ON CONFLICT (quarter) DO UPDATE SET {_add("t", USAGE_FIGURES)};
    INSERT INTO {DAYS} AS t (day, connector_type, {columns})
    SELECT {day}, d.connector_type, {sums} FROM ({signed_rows}) AS d
    GROUP BY 1, 2 HAVING {nonzero} ORDER BY 1, 2
    ON CONFLICT (day, connector_type) DO UPDATE SET {_add("t", USAGE_FIGURES)}"""


def _pg_quarter_rows(table: str, sign: int) -> str:
    return (
        f"SELECT quarter, connector_type, {sign} AS sign, {', '.join(USAGE_FIGURES)} FROM {table}"
    )


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


def _pg_charger_upserts(signed_rows: str) -> str:
    """0009's upserts of both tables from ``signed_rows`` (charger_id, started_at, ended_at,
    cost_total, sign) of finished sessions, with the cost (NULL for disputed energy)."""
    us = _pg_us("d.started_at", "d.ended_at")
    milli = f"coalesce(sum(d.sign * {_pg_milli('d.cost_total')}), 0)"
    return f"""
    INSERT INTO {CHARGER_DAYS} AS u (day, charger_id, sessions, seconds_us, cost_milli)
    SELECT {_pg_day("d.started_at")}, d.charger_id, sum(d.sign), sum(d.sign * {us}), {milli}
    FROM ({signed_rows}) AS d
    GROUP BY 1, 2
    HAVING sum(d.sign) <> 0 OR sum(d.sign * {us}) <> 0 OR {milli} <> 0
    ORDER BY 1, 2
    ON CONFLICT (day, charger_id) DO UPDATE SET
        sessions = u.sessions + excluded.sessions,
        seconds_us = u.seconds_us + excluded.seconds_us,
        cost_milli = u.cost_milli + excluded.cost_milli;
    INSERT INTO {CHARGER_MONTHS} AS u (month, charger_id, sessions, seconds_us, longest_us,
                                       cost_milli)
    SELECT {_pg_month("d.started_at")}, d.charger_id, sum(d.sign), sum(d.sign * {us}),
           coalesce(max({us}) FILTER (WHERE d.sign > 0), 0), {milli}
    FROM ({signed_rows}) AS d
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (month, charger_id) DO UPDATE SET
        sessions = u.sessions + excluded.sessions,
        seconds_us = u.seconds_us + excluded.seconds_us,
        longest_us = greatest(u.longest_us, excluded.longest_us),
        cost_milli = u.cost_milli + excluded.cost_milli"""


def _pg_finished(table: str, sign: int) -> str:
    return (
        f"SELECT charger_id, started_at, ended_at, "
        f"CASE WHEN {COUNTED} THEN cost_total END AS cost_total, {sign} AS sign "
        f"FROM {table} WHERE ended_at IS NOT NULL"
    )


PG_FUNCTIONS = {
    # 0008 / 0012: sessions -> usage_quarters
    "usage_quarters_sessions_inserted": _pg_quarters_upsert(_pg_sessions("new_sessions", 1)),
    "usage_quarters_sessions_updated": _pg_quarters_upsert(
        f"{_pg_sessions('new_sessions', 1)} UNION ALL {_pg_sessions('old_sessions', -1)}"
    ),
    "usage_quarters_sessions_deleted": _pg_quarters_upsert(_pg_sessions("old_sessions", -1)),
    "usage_quarters_chargers_updated": _pg_quarters_upsert(_PG_MOVED_CHARGER),
    # 0010: usage_quarters -> usage_quarter_totals, usage_days
    "usage_totals_inserted": _pg_totals_upserts(_pg_quarter_rows("new_rows", 1)),
    "usage_totals_updated": _pg_totals_upserts(
        f"{_pg_quarter_rows('new_rows', 1)} UNION ALL {_pg_quarter_rows('old_rows', -1)}"
    ),
    "usage_totals_deleted": _pg_totals_upserts(_pg_quarter_rows("old_rows", -1)),
    # 0009: sessions -> charger_days, charger_months
    "charger_usage_sessions_inserted": _pg_charger_upserts(_pg_finished("new_sessions", 1)),
    "charger_usage_sessions_updated": _pg_charger_upserts(
        f"{_pg_finished('new_sessions', 1)} UNION ALL {_pg_finished('old_sessions', -1)}"
    ),
    "charger_usage_sessions_deleted": _pg_charger_upserts(_pg_finished("old_sessions", -1)),
}


# The recount's keys, exact like the triggers' ``EXTRACT(EPOCH ...)`` forms but without numeric
# arithmetic on every row (a third of the time): dates, and the integral floats of date_part.
_UTC = "(s.started_at AT TIME ZONE 'UTC')"
_DAY = f"({_UTC}::date - DATE '1970-01-01')"
_QUARTER = (
    f"({_DAY}::bigint * 96 + date_part('hour', {_UTC})::int * 4"
    f" + date_part('minute', {_UTC})::int / 15)"
)
# An interval's seconds with 6 decimals are exact in a double far beyond any session's length.
_US = "round(date_part('epoch', s.ended_at - s.started_at) * 1000000)::bigint"


def _pg_refill() -> None:
    """Every rollup recounted from ``sessions``, with its cost; no session is written between
    this and the new triggers taking over (the lock is held until the migration commits).
    Two passes over ``sessions``: one per quarter and connector type, one per UTC day and
    charger into a temporary table, whose sums per month fill ``charger_months``."""
    op.execute("LOCK TABLE sessions IN SHARE MODE")
    op.execute("SET LOCAL statement_timeout = 0")
    # Sorts and hashes of a few million rows in memory, not in temporary files.
    op.execute("SET LOCAL work_mem = '256MB'")
    # No dead rows left behind (unlike DELETE); 0010's INSERT trigger on usage_quarters fills
    # the coarser tables again.
    op.execute(f"TRUNCATE {', '.join(ROLLUPS)}")
    wh = _pg_wh("s.energy_kwh")
    op.execute(
        f"INSERT INTO {QUARTERS} ({USAGE_COLUMNS}) "
        f"SELECT {_QUARTER}, c.connector_type, count(*), sum({wh}), "
        f"count(*) FILTER (WHERE s.finalized), "
        f"coalesce(sum({wh}) FILTER (WHERE s.finalized), 0), "
        f"coalesce(sum({_pg_milli('s.cost_total')}), 0) "
        f"FROM sessions s JOIN chargers c ON c.id = s.charger_id WHERE s.{COUNTED} "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    op.execute(
        "CREATE TEMPORARY TABLE charger_day_counts ON COMMIT DROP AS "
        f"SELECT {_DAY} AS day, s.charger_id, count(*) AS sessions, sum({_US}) AS seconds_us, "
        f"max({_US}) AS longest_us, "
        f"coalesce(sum({_pg_milli('s.cost_total')}) FILTER (WHERE s.{COUNTED}), 0) AS cost_milli "
        "FROM sessions s WHERE s.ended_at IS NOT NULL GROUP BY 1, 2"
    )
    op.execute(
        f"INSERT INTO {CHARGER_DAYS} (day, charger_id, sessions, seconds_us, cost_milli) "
        "SELECT day, charger_id, sessions, seconds_us, cost_milli FROM charger_day_counts "
        "ORDER BY 1, 2"
    )
    date = "(DATE '1970-01-01' + day)"
    month = f"(date_part('year', {date})::int - 1970) * 12 + date_part('month', {date})::int - 1"
    op.execute(
        f"INSERT INTO {CHARGER_MONTHS} "
        "(month, charger_id, sessions, seconds_us, longest_us, cost_milli) "
        f"SELECT {month}, charger_id, sum(sessions), sum(seconds_us), max(longest_us), "
        "sum(cost_milli) FROM charger_day_counts GROUP BY 1, 2 ORDER BY 1, 2"
    )
    for table in ROLLUPS:
        op.execute(f"ANALYZE {table}")


def _pg_index(include: str) -> None:
    op.execute("DROP INDEX ix_sessions_account_started")
    op.execute(
        "CREATE INDEX ix_sessions_account_started ON sessions (account_id, started_at) "
        f"INCLUDE ({include})"
    )


def _postgresql_upgrade() -> None:
    for name, body in PG_FUNCTIONS.items():
        op.execute(_pg_function(name, body))
    _pg_refill()
    _pg_index("energy_kwh, energy_disputed_at, cost_total")


def _postgresql_downgrade() -> None:
    _pg_index("energy_kwh, energy_disputed_at")
    # 0012's functions for usage_quarters, 0010's and 0009's as they were.
    _revision("0012_energy_disputes.py")._pg_replace(counted_only=True)
    for filename in ("0010_usage_totals.py", "0009_charger_usage.py"):
        for name, body in _revision(filename).PG_FUNCTIONS.items():
            if not name.endswith("_truncated"):  # unchanged here
                op.execute(_pg_function(name, body))


# --- SQLite -------------------------------------------------------------------------------------


def _lite_seconds(ts: str) -> str:
    return f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"


def _lite_quarter(ts: str) -> str:
    seconds = _lite_seconds(ts)
    return f"({seconds} / 900 - ({seconds} % 900 < 0))"


def _lite_int(value: str) -> str:
    return f"CAST(round({value} * 1000) AS INTEGER)"


def _lite_quarters_upsert(row: str, sign: int) -> str:
    """Add (``sign`` 1) or take away (-1) the session ``row`` (NEW or OLD) if it counts."""
    wh = _lite_int(f"{row}.energy_kwh")
    return f"""
    INSERT INTO {QUARTERS} ({USAGE_COLUMNS})
    SELECT {_lite_quarter(f"{row}.started_at")}, c.connector_type, {sign}, {sign} * {wh},
           CASE WHEN {row}.finalized THEN {sign} ELSE 0 END,
           CASE WHEN {row}.finalized THEN {sign} * {wh} ELSE 0 END,
           {sign} * coalesce({_lite_int(f"{row}.cost_total")}, 0)
    FROM chargers c WHERE c.id = {row}.charger_id AND {row}.{COUNTED}
    ON CONFLICT (quarter, connector_type) DO UPDATE SET {_add(QUARTERS, USAGE_FIGURES)};"""


def _lite_move(connector: str, sign: int) -> str:
    """Add (1) or take away (-1) the counted sessions of the updated charger under
    ``connector``."""
    wh = _lite_int("s.energy_kwh")
    return f"""
    INSERT INTO {QUARTERS} ({USAGE_COLUMNS})
    SELECT {_lite_quarter("s.started_at")}, {connector}, {sign} * count(*), {sign} * sum({wh}),
           {sign} * sum(CASE WHEN s.finalized THEN 1 ELSE 0 END),
           {sign} * sum(CASE WHEN s.finalized THEN {wh} ELSE 0 END),
           {sign} * coalesce(sum({_lite_int("s.cost_total")}), 0)
    FROM sessions s WHERE s.charger_id = NEW.id AND s.{COUNTED} GROUP BY 1
    ON CONFLICT (quarter, connector_type) DO UPDATE SET {_add(QUARTERS, USAGE_FIGURES)};"""


def _lite_totals_upserts(row: str, sign: int) -> str:
    values = ", ".join(f"{sign} * {row}.{c}" for c in USAGE_FIGURES)
    columns = ", ".join(USAGE_FIGURES)
    day = f"({row}.quarter / 96 - ({row}.quarter % 96 < 0))"
    return f"""
    INSERT INTO {TOTALS} (quarter, {columns}) VALUES ({row}.quarter, {values})
    ON CONFLICT (quarter) DO UPDATE SET {_add(TOTALS, USAGE_FIGURES)};
    INSERT INTO {DAYS} (day, connector_type, {columns})
    VALUES ({day}, {row}.connector_type, {values})
    ON CONFLICT (day, connector_type) DO UPDATE SET {_add(DAYS, USAGE_FIGURES)};"""


def _lite_day(ts: str) -> str:
    seconds = _lite_seconds(ts)
    return f"({seconds} / 86400 - ({seconds} % 86400 < 0))"


def _lite_month(ts: str) -> str:
    text = f"substr({ts}, 1, 19)"
    return (
        f"((CAST(strftime('%Y', {text}) AS INTEGER) - 1970) * 12 "
        f"+ CAST(strftime('%m', {text}) AS INTEGER) - 1)"
    )


def _lite_us(started: str, ended: str) -> str:
    def micros(ts: str) -> str:
        return f"CAST(substr(substr({ts}, 21) || '000000', 1, 6) AS INTEGER)"

    return (
        f"(({_lite_seconds(ended)} - {_lite_seconds(started)}) * 1000000 "
        f"+ {micros(ended)} - {micros(started)})"
    )


def _lite_charger_upserts(row: str, sign: int) -> str:
    """Add (``sign`` 1) or take away (-1) the session ``row`` (NEW or OLD) if it has ended."""
    us = _lite_us(f"{row}.started_at", f"{row}.ended_at")
    longest = us if sign > 0 else "0"
    cost = f"CASE WHEN {row}.{COUNTED} THEN {_lite_int(f'{row}.cost_total')} END"
    milli = f"{sign} * coalesce({cost}, 0)"
    return f"""
    INSERT INTO {CHARGER_DAYS} (day, charger_id, sessions, seconds_us, cost_milli)
    SELECT {_lite_day(f"{row}.started_at")}, {row}.charger_id, {sign}, {sign} * {us}, {milli}
    WHERE {row}.ended_at IS NOT NULL
    ON CONFLICT (day, charger_id) DO UPDATE SET
        sessions = {CHARGER_DAYS}.sessions + excluded.sessions,
        seconds_us = {CHARGER_DAYS}.seconds_us + excluded.seconds_us,
        cost_milli = {CHARGER_DAYS}.cost_milli + excluded.cost_milli;
    INSERT INTO {CHARGER_MONTHS} (month, charger_id, sessions, seconds_us, longest_us, cost_milli)
    SELECT {_lite_month(f"{row}.started_at")}, {row}.charger_id, {sign}, {sign} * {us},
           {longest}, {milli}
    WHERE {row}.ended_at IS NOT NULL
    ON CONFLICT (month, charger_id) DO UPDATE SET
        sessions = {CHARGER_MONTHS}.sessions + excluded.sessions,
        seconds_us = {CHARGER_MONTHS}.seconds_us + excluded.seconds_us,
        longest_us = max({CHARGER_MONTHS}.longest_us, excluded.longest_us),
        cost_milli = {CHARGER_MONTHS}.cost_milli + excluded.cost_milli;"""


SQLITE_TRIGGERS = {
    "usage_quarters_sessions_inserted": (
        "AFTER INSERT ON sessions",
        _lite_quarters_upsert("NEW", 1),
    ),
    "usage_quarters_sessions_updated": (
        "AFTER UPDATE OF started_at, energy_kwh, charger_id, finalized, energy_disputed_at, "
        "cost_total ON sessions",
        _lite_quarters_upsert("OLD", -1) + _lite_quarters_upsert("NEW", 1),
    ),
    "usage_quarters_sessions_deleted": (
        "AFTER DELETE ON sessions",
        _lite_quarters_upsert("OLD", -1),
    ),
    "usage_quarters_chargers_updated": (
        "AFTER UPDATE OF connector_type ON chargers "
        "WHEN OLD.connector_type IS NOT NEW.connector_type",
        _lite_move("OLD.connector_type", -1) + _lite_move("NEW.connector_type", 1),
    ),
    "usage_totals_inserted": (f"AFTER INSERT ON {QUARTERS}", _lite_totals_upserts("NEW", 1)),
    "usage_totals_updated": (
        f"AFTER UPDATE ON {QUARTERS}",
        _lite_totals_upserts("OLD", -1) + _lite_totals_upserts("NEW", 1),
    ),
    "usage_totals_deleted": (f"AFTER DELETE ON {QUARTERS}", _lite_totals_upserts("OLD", -1)),
    "charger_usage_sessions_inserted": (
        "AFTER INSERT ON sessions",
        _lite_charger_upserts("NEW", 1),
    ),
    "charger_usage_sessions_updated": (
        "AFTER UPDATE OF started_at, ended_at, charger_id, energy_disputed_at, cost_total "
        "ON sessions",
        _lite_charger_upserts("OLD", -1) + _lite_charger_upserts("NEW", 1),
    ),
    "charger_usage_sessions_deleted": (
        "AFTER DELETE ON sessions",
        _lite_charger_upserts("OLD", -1),
    ),
}


def _lite_create(triggers: dict[str, tuple[str, str]]) -> None:
    for name, (when, body) in triggers.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


def _sqlite_refill() -> None:
    # Row triggers on usage_quarters keep the coarser tables: emptied, then filled again.
    for table in ROLLUPS:
        op.execute(f"DELETE FROM {table}")
    wh = _lite_int("s.energy_kwh")
    op.execute(
        f"INSERT INTO {QUARTERS} ({USAGE_COLUMNS}) "
        f"SELECT {_lite_quarter('s.started_at')}, c.connector_type, count(*), sum({wh}), "
        f"sum(CASE WHEN s.finalized THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN s.finalized THEN {wh} ELSE 0 END), "
        f"coalesce(sum({_lite_int('s.cost_total')}), 0) "
        f"FROM sessions s JOIN chargers c ON c.id = s.charger_id WHERE s.{COUNTED} "
        "GROUP BY 1, 2"
    )
    us = _lite_us("started_at", "ended_at")
    milli = f"coalesce(sum(CASE WHEN {COUNTED} THEN {_lite_int('cost_total')} END), 0)"
    op.execute(
        f"INSERT INTO {CHARGER_DAYS} (day, charger_id, sessions, seconds_us, cost_milli) "
        f"SELECT {_lite_day('started_at')}, charger_id, count(*), sum({us}), {milli} "
        "FROM sessions WHERE ended_at IS NOT NULL GROUP BY 1, 2"
    )
    op.execute(
        f"INSERT INTO {CHARGER_MONTHS} "
        "(month, charger_id, sessions, seconds_us, longest_us, cost_milli) "
        f"SELECT {_lite_month('started_at')}, charger_id, count(*), sum({us}), max({us}), "
        f"{milli} FROM sessions WHERE ended_at IS NOT NULL GROUP BY 1, 2"
    )


def _sqlite_downgrade() -> None:
    # 0012's triggers for usage_quarters, 0010's and 0009's as they were.
    _revision("0012_energy_disputes.py")._lite_replace(counted_only=True)
    for filename in ("0010_usage_totals.py", "0009_charger_usage.py"):
        _lite_create(_revision(filename).SQLITE_TRIGGERS)


# --- both ---------------------------------------------------------------------------------------


def upgrade() -> None:
    for table in ROLLUPS:
        # A constant default: PostgreSQL writes no row (nor does SQLite); the refill sets it.
        op.add_column(
            table,
            sa.Column("cost_milli", sa.BigInteger(), nullable=False, server_default="0"),
        )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _lite_create(SQLITE_TRIGGERS)
        _sqlite_refill()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_downgrade()
    else:
        _sqlite_downgrade()
    for table in reversed(ROLLUPS):
        op.drop_column(table, "cost_milli")
