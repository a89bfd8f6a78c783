"""An account's usage per local day, kept exact by triggers (``account_days``, issue 19).

The customer dashboard reads a period (this month, last month, the year so far) as at most 366
rows of ``account_days`` instead of every session of the account in it. Key: account and local
day in the operator's zone (days since 1970-01-01); figures: sessions that count (energy not
disputed), their energy and stored cost in integer thousandths, and how many have a cost. Why
local days and how they stay exact when the zone changes: data/charging/account_days.py.

``account_day_zone`` holds the zone's runs of one UTC offset (from ``zoneinfo``); a session's
day is ``floor((epoch(started_at) + offset) / 86400)`` with the run its start falls in.

Triggers, as 0008/0018 write them:
- PostgreSQL: statement-level AFTER INSERT / UPDATE / DELETE on ``sessions`` with transition
  tables, one aggregated upsert each (the run by a LATERAL probe of the primary key); TRUNCATE
  empties the table.
- SQLite: row-level triggers with ``INSERT ... ON CONFLICT DO UPDATE``.
Deleting a charger deletes its sessions first (0008), an account cascades to its sessions:
both reach these triggers. A bulk load with triggers off (bench/build.py) refills through
``data.charging.rollup.refill_rollups``.

Revision ID: 0031
Revises: 0028
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "account_days"
ZONE = "account_day_zone"
COLUMNS = "account_id, day, sessions, energy_wh, cost_milli, costed"
FIGURES = ("sessions", "energy_wh", "cost_milli", "costed")
COUNTED = "energy_disputed_at IS NULL"


def _add(table: str) -> str:
    return ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in FIGURES)


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_upsert(signed_rows: str) -> str:
    """One aggregated upsert of ``signed_rows`` (account_id, started_at, energy_kwh,
    cost_total, sign) of counted sessions; keys in order, so bulk writers lock alike."""
    wh = "round(d.energy_kwh * 1000)::bigint"
    milli = "round(d.cost_total * 1000)::bigint"
    sums = [
        "sum(d.sign)",
        f"sum(d.sign * {wh})",
        f"coalesce(sum(d.sign * {milli}), 0)",
        "coalesce(sum(d.sign) FILTER (WHERE d.cost_total IS NOT NULL), 0)",
    ]
    return f"""
    INSERT INTO {TABLE} AS a ({COLUMNS})
    SELECT d.account_id,
           floor((extract(epoch FROM d.started_at) + z.offset_s) / 86400)::bigint,
           {", ".join(sums)}
    FROM ({signed_rows}) AS d
    CROSS JOIN LATERAL (
        SELECT offset_s FROM {ZONE}
        WHERE start_s <= floor(extract(epoch FROM d.started_at))::bigint
        ORDER BY start_s DESC LIMIT 1
    ) AS z
    GROUP BY 1, 2
    HAVING {" OR ".join(f"{s} <> 0" for s in sums)}
    ORDER BY 1, 2
    ON CONFLICT (account_id, day) DO UPDATE SET {_add("a")}"""


def _pg_sessions(table: str, sign: int) -> str:
    return (
        f"SELECT s.account_id, s.started_at, s.energy_kwh, s.cost_total, {sign} AS sign "
        f"FROM {table} s WHERE s.{COUNTED}"
    )


PG_FUNCTIONS = {
    "account_days_sessions_inserted": _pg_upsert(_pg_sessions("new_sessions", 1)),
    "account_days_sessions_updated": _pg_upsert(
        f"{_pg_sessions('new_sessions', 1)} UNION ALL {_pg_sessions('old_sessions', -1)}"
    ),
    "account_days_sessions_deleted": _pg_upsert(_pg_sessions("old_sessions", -1)),
    "account_days_sessions_truncated": f"DELETE FROM {TABLE}",
}

PG_TRIGGERS = {
    "account_days_sessions_inserted": "AFTER INSERT ON sessions "
    "REFERENCING NEW TABLE AS new_sessions FOR EACH STATEMENT",
    "account_days_sessions_updated": "AFTER UPDATE ON sessions "
    "REFERENCING OLD TABLE AS old_sessions NEW TABLE AS new_sessions FOR EACH STATEMENT",
    "account_days_sessions_deleted": "AFTER DELETE ON sessions "
    "REFERENCING OLD TABLE AS old_sessions FOR EACH STATEMENT",
    "account_days_sessions_truncated": "AFTER TRUNCATE ON sessions FOR EACH STATEMENT",
}


def _postgresql_upgrade() -> None:
    for name, body in PG_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body}; RETURN NULL; END $$"
        )
        op.execute(f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} EXECUTE FUNCTION {name}()")


# --- SQLite -------------------------------------------------------------------------------------


def _lite_seconds(ts: str) -> str:
    return f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"


def _lite_upsert(row: str, sign: int) -> str:
    """Add (``sign`` 1) or take away (-1) the session ``row`` (NEW or OLD) if it counts."""
    seconds = _lite_seconds(f"{row}.started_at")
    local = f"({seconds} + z.offset_s)"
    wh = f"CAST(round({row}.energy_kwh * 1000) AS INTEGER)"
    milli = f"coalesce(CAST(round({row}.cost_total * 1000) AS INTEGER), 0)"
    return f"""
    INSERT INTO {TABLE} ({COLUMNS})
    SELECT {row}.account_id, {local} / 86400 - ({local} % 86400 < 0), {sign}, {sign} * {wh},
           {sign} * {milli}, CASE WHEN {row}.cost_total IS NOT NULL THEN {sign} ELSE 0 END
    FROM {ZONE} z
    WHERE {row}.{COUNTED}
      AND z.start_s = (SELECT max(start_s) FROM {ZONE} WHERE start_s <= {seconds})
    ON CONFLICT (account_id, day) DO UPDATE SET {_add(TABLE)};"""


SQLITE_TRIGGERS = {
    "account_days_sessions_inserted": ("AFTER INSERT ON sessions", _lite_upsert("NEW", 1)),
    "account_days_sessions_updated": (
        "AFTER UPDATE OF account_id, started_at, energy_kwh, energy_disputed_at, cost_total "
        "ON sessions",
        _lite_upsert("OLD", -1) + _lite_upsert("NEW", 1),
    ),
    "account_days_sessions_deleted": ("AFTER DELETE ON sessions", _lite_upsert("OLD", -1)),
}


# --- the first count (frozen copies of data/charging/account_days.py as of this revision) -------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_YEAR, END_YEAR = 1970, 2100
SINCE_EVER = -(2**62)  # the first run's start: it covers everything before 1970 too


def _offset_s(tz: ZoneInfo, moment: datetime) -> int:
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _zone_runs(tz: ZoneInfo) -> list[tuple[int, int]]:
    """``(start epoch second, UTC offset in seconds)`` for each run of one offset from 1970 to
    2100: each change found day by day, then to the second by bisection."""
    start = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(END_YEAR, 1, 1, tzinfo=UTC)
    runs = [(SINCE_EVER, _offset_s(tz, start))]
    day = start
    while day < end:
        following = day + timedelta(days=1)
        before = _offset_s(tz, day)
        if _offset_s(tz, following) != before:
            lo, hi = int((day - EPOCH).total_seconds()), int((following - EPOCH).total_seconds())
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_s(tz, EPOCH + timedelta(seconds=mid)) == before:
                    lo = mid
                else:
                    hi = mid
            runs.append((hi, _offset_s(tz, EPOCH + timedelta(seconds=hi))))
        day = following
    return runs


_LITE_SECONDS = "CAST(strftime('%s', substr(s.started_at, 1, 19)) AS INTEGER)"
_LITE_LOCAL = f"({_LITE_SECONDS} + z.offset_s)"
LITE_COUNT = f"""
INSERT INTO {TABLE} ({COLUMNS})
SELECT s.account_id, {_LITE_LOCAL} / 86400 - ({_LITE_LOCAL} % 86400 < 0), count(*),
       sum(CAST(round(s.energy_kwh * 1000) AS INTEGER)),
       coalesce(sum(CAST(round(s.cost_total * 1000) AS INTEGER)), 0), count(s.cost_total)
FROM sessions s
JOIN {ZONE} z ON z.start_s = (SELECT max(start_s) FROM {ZONE} WHERE start_s <= {_LITE_SECONDS})
WHERE s.{COUNTED}
GROUP BY 1, 2 ORDER BY 1, 2"""

# The offset by hash join on the session's UTC day (in force at its start, and the change inside
# it, if any) rather than a probe per session; days outside 1970-2100 probe.
PG_COUNT = f"""
INSERT INTO {TABLE} ({COLUMNS})
WITH days AS (
    SELECT g AS utc_day, (
        SELECT offset_s FROM {ZONE} WHERE start_s <= g::bigint * 86400
        ORDER BY start_s DESC LIMIT 1
    ) AS offset_s
    FROM generate_series(0, 47482) AS g
), changes AS (
    SELECT floor(start_s / 86400.0)::int AS utc_day, to_timestamp(start_s) AS at, offset_s
    FROM {ZONE} WHERE start_s > {SINCE_EVER}
), placed AS (
    SELECT s.account_id, s.energy_kwh, s.cost_total, u.utc_day,
           date_part('epoch', (s.started_at AT TIME ZONE 'UTC')::time) AS second_of_day,
           coalesce(
               CASE WHEN s.started_at >= c.at THEN c.offset_s ELSE d.offset_s END,
               (SELECT offset_s FROM {ZONE}
                WHERE start_s <= floor(extract(epoch FROM s.started_at))::bigint
                ORDER BY start_s DESC LIMIT 1)
           ) AS offset_s
    FROM sessions s
    CROSS JOIN LATERAL (
        SELECT (s.started_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' AS utc_day
    ) AS u
    LEFT JOIN days d ON d.utc_day = u.utc_day
    LEFT JOIN changes c ON c.utc_day = u.utc_day
    WHERE s.{COUNTED}
)
SELECT account_id,
       utc_day + CASE WHEN second_of_day + offset_s < 0 THEN -1
                      WHEN second_of_day + offset_s >= 86400 THEN 1 ELSE 0 END,
       count(*), sum(round(energy_kwh * 1000)::bigint),
       coalesce(sum(round(cost_total * 1000)::bigint), 0), count(cost_total)
FROM placed GROUP BY 1, 2 ORDER BY 1, 2"""


# --- both ---------------------------------------------------------------------------------------


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("cost_milli", sa.BigInteger(), nullable=False),
        sa.Column("costed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day", name="pk_account_days"),
    )
    op.create_table(
        ZONE,
        sa.Column("start_s", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("offset_s", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("start_s", name="pk_account_day_zone"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _postgresql_upgrade()
        op.execute("SET LOCAL statement_timeout = 0")
    else:
        for name, (when, body) in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    zone = ZoneInfo(
        bind.execute(sa.text("SELECT timezone FROM operator ORDER BY id LIMIT 1")).scalar() or "UTC"
    )
    bind.execute(
        sa.text(f"INSERT INTO {ZONE} (start_s, offset_s, zone) VALUES (:s, :o, :z)"),
        [{"s": start, "o": offset, "z": zone.key} for start, offset in _zone_runs(zone)],
    )
    if bind.dialect.name == "postgresql":
        # No session may be written between the count and the triggers taking over.
        op.execute("LOCK TABLE sessions IN SHARE MODE")
    bind.execute(sa.text(PG_COUNT if bind.dialect.name == "postgresql" else LITE_COUNT))
    if bind.dialect.name == "postgresql":
        op.execute(f"ANALYZE {TABLE}")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in PG_FUNCTIONS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON sessions" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table(ZONE)
    op.drop_table(TABLE)
