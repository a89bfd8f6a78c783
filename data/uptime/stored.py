"""The stored uptime figures of the months that are over (``charger_uptime_months``): what
``/admin/uptime`` and the uptime export read instead of the whole outage log.

- ``fill_stored_months``: once a month is over, its figures for every charger, by the same
  computation as ``data.uptime.monthly.uptime_statement`` (``stored_figures_statement``), for the
  ``STORED_MONTHS`` months before the current one (the page's and the default export's twelve,
  and the eleven before them for the twelve-month figures). The OCPP server's sweep runs it.
- ``refresh_stored_months``: every change of an outage that reaches back into a stored month
  recomputes the charger's stored months from there, in the change's own transaction (the live
  bookkeeping, an admin's edit, an import, the sweep, the backfill). A change in the current
  month (nearly every one) touches nothing stored: the current month is always computed.

A filled month stays correct without anyone refilling it: a month with no outage has no row,
and every writer of ``outages`` refreshes what it changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from data.charging.dashboard import operator_settings
from data.core.db import core_rows
from data.pricing.statements import parse_month, shift_month
from data.uptime.monthly import TRAILING_MONTHS, stored_figures_statement, stored_months
from data.uptime.outages import ChargerUptimeMonth, UptimeMonthFilled

STORED_MONTHS = 2 * TRAILING_MONTHS - 1
_COLUMNS = ["charger_id", "tz", "month", "outage_us", "counted_us"]


def _store(
    session: Session,
    tz: ZoneInfo,
    first_month: str,
    last_month: str,
    charger_ids: Sequence[str] | None,
) -> list[tuple[str, datetime, datetime]]:
    """Recompute the stored figures of ``first_month`` to ``last_month`` (all over) for
    ``charger_ids`` (every charger: None); the months (key, start, end)."""
    rows, months = stored_figures_statement(
        tz, parse_month(first_month), parse_month(last_month), charger_ids
    )
    kept = ChargerUptimeMonth
    stale = delete(kept).where(kept.tz == tz.key, kept.month.in_([m[0] for m in months]))
    if charger_ids is not None:
        stale = stale.where(kept.charger_id.in_(charger_ids))
    session.execute(stale)
    session.execute(insert(kept).from_select(_COLUMNS, rows))
    return months


def fill_stored_months(session: Session, tz: ZoneInfo, now: datetime) -> int:
    """Store every charger's figures of the ``STORED_MONTHS`` months before ``now``'s month in
    ``tz`` that are not stored yet (figures of another time zone are dropped: the operator
    moved); how many months it filled. One statement over the outages of those months."""
    this_month = now.astimezone(tz).date().replace(day=1)
    wanted = [shift_month(this_month, -n) for n in range(STORED_MONTHS, 0, -1)]
    keys = [f"{d:%Y-%m}" for d in wanted if d is not None]
    filled = stored_months(session, tz, now)
    missing = [k for k in keys if k not in filled]
    if not missing:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # Outage writers wait for the fill (once a month, about a second at 5,000 chargers), then
        # see its months filled and refresh what they change in them: none is lost in between.
        session.execute(text("LOCK TABLE outages IN SHARE MODE"))
    mark = UptimeMonthFilled
    session.execute(delete(ChargerUptimeMonth).where(ChargerUptimeMonth.tz != tz.key))
    session.execute(delete(mark).where(mark.tz != tz.key))
    months = _store(session, tz, missing[0], keys[-1], None)
    session.execute(delete(mark).where(mark.tz == tz.key, mark.month.in_([m[0] for m in months])))
    session.execute(
        insert(mark),
        [{"tz": tz.key, "month": k, "start_utc": s, "end_utc": e} for k, s, e in months],
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE charger_uptime_months"))  # its size changed: new plans
    return len(missing)


def fill_operator_months(session: Session, now: datetime) -> int:
    """``fill_stored_months`` in the operator's time zone (the OCPP server's sweep)."""
    return fill_stored_months(session, operator_settings(session).tz, now)


def refresh_stored_months(
    session: Session, charger_ids: Sequence[str] | None, since: datetime
) -> int:
    """An outage of ``charger_ids`` (every charger: None) changed from ``since`` on: recompute
    their stored months that end after it; how many months (none, nearly always)."""
    mark = UptimeMonthFilled
    reached = select(mark.tz, mark.month).where(mark.end_utc > since).order_by(mark.month)
    by_zone: dict[str, list[str]] = defaultdict(list)
    for zone, month in core_rows(session, reached, {}):
        by_zone[zone].append(month)
    for zone, months in by_zone.items():
        _store(session, ZoneInfo(zone), months[0], months[-1], charger_ids)
    return sum(len(m) for m in by_zone.values())
