"""A charger's usage over a period: energy, hours in use and utilisation per local day, for the
charts on its admin page."""

from __future__ import annotations

import math
from datetime import date, datetime

import pandas as pd
from sqlalchemy import ColumnElement, case, func, literal, or_, select
from sqlalchemy.orm import Session

from data.charging.dashboard import day_buckets, kwh_figure, local_day_expression
from data.core.models import ChargingSession, UTCDateTime
from data.core.periods import Period
from data.core.sql import SecondsBetween


def _utc(value: datetime) -> ColumnElement[datetime]:
    """A bound timestamp with the schema's type (naive UTC text on SQLite, like the columns)."""
    return literal(value, UTCDateTime())


def charger_daily_usage(
    session: Session, charger_id: str, period: Period, now: datetime
) -> pd.DataFrame:
    """One row per local day of ``period``: ``day``, ``energy_kwh``, ``hours`` (the day's length
    up to ``now``: 23, 24 or 25 for a past day, the hours so far today, 0 ahead), ``in_use_hours``
    and ``utilisation`` (in-use share of ``hours``, 0..1; NaN for a day still ahead).

    Energy counts on the local day a session started (the spec's rule). Time in use is each
    session's ``[started_at, ended_at or now)`` clipped to each local day. Both come from SQL
    aggregates: energy grouped by day; time grouped by (first day, last day) of each session,
    with sums of start and end offsets, which Python spreads over the days between (a handful
    of groups, never the sessions themselves).
    """
    buckets = day_buckets(period)
    days = [d for d, _, _ in buckets]
    if not days:
        return _daily_frame([], [], [], [])
    origin = period.start_utc
    horizon = min(period.end_utc, now)

    energy = _daily_energy(session, charger_id, period)
    busy = dict.fromkeys(days, 0.0)
    if horizon > origin:
        _add_time_in_use(session, charger_id, period, now, horizon, buckets, busy)

    def offset(moment: datetime) -> float:
        return (min(moment, horizon) - origin).total_seconds()

    hours = [max(0.0, offset(end) - offset(start)) / 3600 for _, start, end in buckets]
    in_use = [min(busy[d] / 3600, h) for d, h in zip(days, hours, strict=True)]
    return _daily_frame(days, [energy.get(d, 0.0) for d in days], hours, in_use)


def _daily_energy(session: Session, charger_id: str, period: Period) -> dict[date, float]:
    in_period = (
        select(
            local_day_expression(ChargingSession.started_at, period).label("day"),
            ChargingSession.energy_kwh,
        )
        .where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.started_at >= period.start_utc,
            ChargingSession.started_at < period.end_utc,
            ChargingSession.counted(),
        )
        .subquery("in_period")
    )
    rows = session.execute(
        select(in_period.c.day, func.sum(in_period.c.energy_kwh)).group_by(in_period.c.day)
    ).all()
    return {day: kwh_figure(kwh) for day, kwh in rows}


def _add_time_in_use(
    session: Session,
    charger_id: str,
    period: Period,
    now: datetime,
    horizon: datetime,
    buckets: list[tuple[date, datetime, datetime]],
    busy: dict[date, float],
) -> None:
    origin = period.start_utc
    ends = func.coalesce(ChargingSession.ended_at, _utc(now))
    # Each session clipped to [origin, horizon): both ends then lie inside the period, where
    # local_day_expression is exact.
    start = case(
        (ChargingSession.started_at < _utc(origin), _utc(origin)),
        else_=ChargingSession.started_at,
    )
    end = case((ends > _utc(horizon), _utc(horizon)), else_=ends)
    clipped = (
        select(
            local_day_expression(start, period).label("first_day"),
            local_day_expression(end, period).label("last_day"),
            SecondsBetween(_utc(origin), start).label("start_offset"),
            SecondsBetween(_utc(origin), end).label("end_offset"),
        )
        .where(
            ChargingSession.charger_id == charger_id,
            ChargingSession.started_at < horizon,
            or_(ChargingSession.ended_at.is_(None), ChargingSession.ended_at > origin),
        )
        .subquery("clipped")
    )
    groups = session.execute(
        select(
            clipped.c.first_day,
            clipped.c.last_day,
            func.count(),
            func.sum(clipped.c.start_offset),
            func.sum(clipped.c.end_offset),
        ).group_by(clipped.c.first_day, clipped.c.last_day)
    ).all()

    # Offsets (seconds from origin) where each day starts and ends, the end clipped at now.
    index = {d: i for i, (d, _, _) in enumerate(buckets)}
    day_start = [(s - origin).total_seconds() for _, s, _ in buckets]
    day_end = [(min(e, horizon) - origin).total_seconds() for _, _, e in buckets]
    for first, last, n, start_sum, end_sum in groups:
        if n == 0 or first not in index:
            continue
        i, count = index[first], int(n)
        # A clipped end exactly at the period's end can read as the day after: same thing.
        j = index.get(last, len(buckets))
        if j == i:
            busy[first] += float(end_sum) - float(start_sum)
            continue
        busy[first] += count * day_end[i] - float(start_sum)
        for k in range(i + 1, min(j, len(buckets))):
            busy[buckets[k][0]] += count * (day_end[k] - day_start[k])
        if j < len(buckets):
            busy[last] += float(end_sum) - count * day_start[j]


def _daily_frame(
    days: list[date], energy: list[float], hours: list[float], in_use: list[float]
) -> pd.DataFrame:
    utilisation = [u / h if h > 0 else math.nan for u, h in zip(in_use, hours, strict=True)]
    return pd.DataFrame(
        {
            "day": pd.Series(days, dtype=object),
            "energy_kwh": pd.Series(energy, dtype="float64"),
            "hours": pd.Series(hours, dtype="float64"),
            "in_use_hours": pd.Series(in_use, dtype="float64"),
            "utilisation": pd.Series(utilisation, dtype="float64"),
        }
    )
