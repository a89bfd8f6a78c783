"""An account's usage per local day, read from ``account_days`` (kept by triggers, migration
0031) instead of from its ``sessions``: the dashboard's period costs the same for an account
with 100,000 sessions as for one with 10.

The key is (account, local day in the operator's zone), not a UTC hour or quarter: a year is at
most 366 rows per account, where UTC hours would be up to 8,784 and quarters 35,000. A local day
needs the zone's UTC offsets, which SQL cannot get the same way on both databases (SQLite has
no zone database; PostgreSQL's may differ from Python's ``zoneinfo``, which ``day_buckets``
uses). So the offsets themselves are a table, ``account_day_zone``: runs of one UTC offset
(epoch second it starts from, offset, zone name) computed here with ``zoneinfo`` for 1970-2100.
The triggers take a session's day as ``floor((epoch(started_at) + offset) / 86400)`` with the
run it started in; before 1970 the first run's offset applies, after 2100 the last one's.

Exactness:
- A period is read from ``account_days`` only when the runs stored for its window (two days
  either side) are exactly those ``zoneinfo`` gives now for the operator's zone (so a changed
  zone, or a zone database that changed its rules, falls back), and when every instant of each
  ``day_buckets`` day has that local day under those runs and no instant outside the period has
  one of its days (a fall-back across midnight would break it). Otherwise ``None``, and the
  caller scans ``sessions`` as before. The check rides in the same statement as the figures.
- When the operator's zone changes (settings, operator.csv import), the stored runs stop
  matching and readers fall back at once; the worker (``flask alerts run``) then calls
  ``recount_in_operator_zone``, which stores the new zone's runs and recounts every row in one
  transaction (seconds per million sessions: not work for a web request). Until it commits
  readers see the old zone's runs and keep falling back.
- Energy and cost are integer thousandths (exact sums on SQLite too), which are the day sums the
  sessions scan rounds to 3 decimals; ``costed`` says whether any session had a cost (the
  period's cost is None otherwise, as before).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from data.core.models import AccountDayZone, Operator
from data.core.periods import Period, local_midnight_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY = date(1970, 1, 1)
FIRST_YEAR, END_YEAR = 1970, 2100
SINCE_EVER = -(2**62)  # the first run's start: it covers everything before 1970 too
# Local days lie within this of their UTC instants (offsets are within +-26 h).
MARGIN = timedelta(days=2)
ONE_US = timedelta(microseconds=1)


# --- the zone's runs ------------------------------------------------------------------------------


def _offset_s(tz: ZoneInfo, moment: datetime) -> int:
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@functools.lru_cache(maxsize=8)
def zone_runs(tz: ZoneInfo) -> tuple[tuple[int, int], ...]:
    """``(start epoch second, UTC offset in seconds)`` for each run of one offset from 1970 to
    2100, the first starting at ``SINCE_EVER``. Found day by day, each change then to the
    second by bisection (zone transitions fall on whole seconds)."""
    start = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(END_YEAR, 1, 1, tzinfo=UTC)
    runs = [(SINCE_EVER, _offset_s(tz, start))]
    day = start
    while day < end:
        following = day + timedelta(days=1)
        if _offset_s(tz, following) != _offset_s(tz, day):
            lo, hi = int((day - EPOCH).total_seconds()), int((following - EPOCH).total_seconds())
            before = _offset_s(tz, day)
            while hi - lo > 1:  # the first second with the new offset lies in (lo, hi]
                mid = (lo + hi) // 2
                if _offset_s(tz, EPOCH + timedelta(seconds=mid)) == before:
                    lo = mid
                else:
                    hi = mid
            runs.append((hi, _offset_s(tz, EPOCH + timedelta(seconds=hi))))
        day = following
    # Two changes within a day (none known) would hide here: the day-by-day scan would miss
    # them, and the readers' check would then fall back for that period.
    return tuple(runs)


def _seconds(moment: datetime) -> int:
    """Floor of the epoch seconds of an aware instant."""
    return (moment - EPOCH) // timedelta(seconds=1)


def _runs_in(runs: tuple[tuple[int, int], ...], lo: int, hi: int) -> list[tuple[int, int]]:
    """The runs that cover epoch seconds ``[lo, hi)``: the one ``lo`` is in and the later ones
    starting before ``hi`` (what ``_WINDOW`` selects)."""
    first = max((i for i, (start, _o) in enumerate(runs) if start <= lo), default=0)
    return [r for r in runs[first:] if r[0] < hi]


def _local_day(runs: list[tuple[int, int]], moment: datetime) -> date:
    second = _seconds(moment)
    offset = next(o for start, o in reversed(runs) if start <= second)
    return (moment + timedelta(seconds=offset)).astimezone(UTC).date()


@dataclass(frozen=True)
class DayWindow:
    """A period as ``account_days`` keys ``[first, end)``, valid when the stored runs of
    ``[lo, hi)`` (epoch seconds) equal ``runs``."""

    first: int
    end: int
    lo: int
    hi: int
    zone: str
    runs: tuple[tuple[int, int], ...]


@functools.lru_cache(maxsize=32)
def day_window(period: Period) -> DayWindow | None:
    """``period`` as days of ``account_days``, or None when that would not be exact (outside
    1970-2100, or a local day that is not one run of instants under the zone's runs)."""
    tz = period.tz
    zone = getattr(tz, "key", None)  # a fixed ``datetime.timezone`` has no name to match
    if not period.days or not isinstance(zone, str):
        return None
    lo_at, hi_at = period.start_utc - MARGIN, period.end_utc + MARGIN
    if lo_at.year < FIRST_YEAR or hi_at.year >= END_YEAR:
        return None
    lo, hi = _seconds(lo_at), _seconds(hi_at) + 1
    runs = _runs_in(zone_runs(tz), lo, hi)
    # Pieces of [lo_at, hi_at) on one run: the local day is monotone within each, so its two
    # ends say which days it holds.
    edges = [local_midnight_utc(d, tz) for d in period.days] + [period.end_utc]
    buckets: list[tuple[date | None, datetime, datetime]] = [(None, lo_at, edges[0])]
    buckets += [(d, edges[i], edges[i + 1]) for i, d in enumerate(period.days)]
    buckets.append((None, edges[-1], hi_at))
    cuts = [EPOCH + timedelta(seconds=start) for start, _o in runs[1:]]
    for day, start, end in buckets:
        if start >= end:
            if day is not None:
                return None  # a day without instants (a skipped date): leave it to the scan
            continue
        points = sorted({start, end, *(c for c in cuts if start < c < end)})
        for a, b in zip(points, points[1:], strict=False):
            first, last = _local_day(runs, a), _local_day(runs, b - ONE_US)
            if day is None:
                # Outside the period: none of its days (a piece holds the days first..last).
                if not (last < period.first_day or first >= period.end_day):
                    return None
            elif first != day or last != day:
                return None
    return DayWindow(
        (period.first_day - EPOCH_DAY).days,
        (period.end_day - EPOCH_DAY).days,
        lo,
        hi,
        zone,
        tuple(runs),
    )


# --- the figures ----------------------------------------------------------------------------------


def stored_runs_match(window: DayWindow, stored: list[tuple[int, int, str]]) -> bool:
    """The runs the database read for the window (``(start_s, offset_s, zone)``) are the ones
    ``zoneinfo`` gives now."""
    return (
        all(z == window.zone for _s, _o, z in stored)
        and tuple((int(s), int(o)) for s, o, _z in sorted(stored)) == window.runs
    )


def from_milli(value: int) -> Decimal:
    return (Decimal(int(value)) / 1000).quantize(Decimal("0.001"))


# --- refill ---------------------------------------------------------------------------------------

_PG_EPOCH = "floor(extract(epoch FROM s.started_at))::bigint"
_LITE_EPOCH = "CAST(strftime('%s', substr(s.started_at, 1, 19)) AS INTEGER)"


def refill_account_days(bind: Session | Connection, tz: ZoneInfo) -> int:
    """Store ``tz``'s runs and recount ``account_days`` from ``sessions`` in the caller's
    transaction (after a bulk load with triggers off, or when the operator's zone changed);
    returns the rows written. On PostgreSQL sessions are locked against writes until it
    commits, so none can slip between the recount and the triggers."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    postgresql = dialect.name == "postgresql"
    if postgresql:
        # A recount of millions of sessions outlasts a request's statement timeout (seconds
        # per million; bench/README.md): it must finish, or the zone change fails with it.
        bind.execute(text("SET LOCAL statement_timeout = 0"))
        bind.execute(text("LOCK TABLE sessions IN SHARE MODE"))
        bind.execute(text("TRUNCATE account_days, account_day_zone"))
    else:
        bind.execute(text("DELETE FROM account_days"))
        bind.execute(text("DELETE FROM account_day_zone"))
    bind.execute(
        text("INSERT INTO account_day_zone (start_s, offset_s, zone) VALUES (:s, :o, :z)"),
        [{"s": s, "o": o, "z": tz.key} for s, o in zone_runs(tz)],
    )
    bind.execute(text(refill_sql(postgresql)))
    return int(bind.execute(text("SELECT count(*) FROM account_days")).scalar_one())


def operator_zone_name(bind: Session | Connection) -> str:
    """The zone local days are counted in: the operator's, UTC before there is one."""
    zone = bind.execute(select(Operator.timezone).order_by(Operator.id).limit(1)).scalar()
    return zone or "UTC"


def recount_in_operator_zone(session: Session) -> tuple[str, int] | None:
    """``refill_account_days`` in the operator's zone unless its runs are the ones stored:
    the zone and the rows written, or None when there was nothing to do."""
    zone = operator_zone_name(session)
    if session.execute(select(AccountDayZone.zone).limit(1)).scalar() == zone:
        return None
    return zone, refill_account_days(session, ZoneInfo(zone))


def refill_sql(postgresql: bool) -> str:
    """The recount of ``account_days`` from ``sessions`` and ``account_day_zone``."""
    if postgresql:
        return _PG_REFILL
    epoch = _LITE_EPOCH
    local = f"({epoch} + z.offset_s)"
    day = f"({local} / 86400 - ({local} % 86400 < 0))"
    milli = "CAST(round({} * 1000) AS INTEGER)"
    zone = (
        "JOIN account_day_zone z ON z.start_s = "
        f"(SELECT max(start_s) FROM account_day_zone WHERE start_s <= {epoch})"
    )
    return (
        "INSERT INTO account_days (account_id, day, sessions, energy_wh, cost_milli, costed) "
        f"SELECT s.account_id, {day}, count(*), sum({milli.format('s.energy_kwh')}), "
        f"coalesce(sum({milli.format('s.cost_total')}), 0), count(s.cost_total) "
        f"FROM sessions s {zone} WHERE s.energy_disputed_at IS NULL "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )


# PostgreSQL: a probe of account_day_zone per session (what the triggers do) costs more than the
# rest of the recount, so the offset comes by hash join on the session's UTC day: the offset in
# force at that day's start (one probe per day from 1970 to 2100) and the change inside that day,
# if any (zone_runs finds at most one a day). Days outside those years probe as the triggers do.
# The day is the UTC day moved by the offset (|offset| < 1 day): dates, no numeric per row.
_PG_REFILL = f"""
INSERT INTO account_days (account_id, day, sessions, energy_wh, cost_milli, costed)
WITH days AS (
    SELECT g AS utc_day, (
        SELECT offset_s FROM account_day_zone WHERE start_s <= g::bigint * 86400
        ORDER BY start_s DESC LIMIT 1
    ) AS offset_s
    FROM generate_series({(date(FIRST_YEAR, 1, 1) - EPOCH_DAY).days},
                         {(date(END_YEAR, 1, 1) - EPOCH_DAY).days}) AS g
), changes AS (
    SELECT floor(start_s / 86400.0)::int AS utc_day, to_timestamp(start_s) AS at, offset_s
    FROM account_day_zone WHERE start_s > {SINCE_EVER}
), placed AS (
    SELECT s.account_id, s.energy_kwh, s.cost_total, u.utc_day,
           date_part('epoch', (s.started_at AT TIME ZONE 'UTC')::time) AS second_of_day,
           coalesce(
               CASE WHEN s.started_at >= c.at THEN c.offset_s ELSE d.offset_s END,
               (SELECT offset_s FROM account_day_zone WHERE start_s <= {_PG_EPOCH}
                ORDER BY start_s DESC LIMIT 1)
           ) AS offset_s
    FROM sessions s
    CROSS JOIN LATERAL (
        SELECT (s.started_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' AS utc_day
    ) AS u
    LEFT JOIN days d ON d.utc_day = u.utc_day
    LEFT JOIN changes c ON c.utc_day = u.utc_day
    WHERE s.energy_disputed_at IS NULL
)
SELECT account_id,
       utc_day + CASE WHEN second_of_day + offset_s < 0 THEN -1
                      WHEN second_of_day + offset_s >= 86400 THEN 1 ELSE 0 END,
       count(*), sum(round(energy_kwh * 1000)::bigint),
       coalesce(sum(round(cost_total * 1000)::bigint), 0), count(cost_total)
FROM placed GROUP BY 1, 2 ORDER BY 1, 2"""
