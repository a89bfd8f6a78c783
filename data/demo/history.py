"""The demo's generated charging: live sessions, a year of history (Dana's, Olga's and everyone
else's, charger by charger) and past, upcoming and showcase reservations."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from data.core.models import ConnectorType, ReservationStatus
from data.demo.people import Person
from data.demo.showcase import (
    AC_TYPES,
    ACTIVE_RESERVATION_CHARGER_ID,
    ACTIVE_RESERVATION_ID,
    BY_ID,
    DEPOT_GRANTS,
    DRIVER_ACCOUNT_ID,
    DRIVER_FAST_CHARGER_ID,
    DRIVER_LIVE_SESSION_ID,
    DRIVER_OFFICE_CHARGER_ID,
    DRIVER_RESERVATION_ID,
    LIVE_CAP_KWH,
    LIVE_SESSIONS,
    NEVER_SEEN_CHARGER_ID,
    OLGA_ACCOUNT_ID,
    OLGA_CHARGER_IDS,
    PENDING_NOW_CHARGER_ID,
    PENDING_NOW_RESERVATION_ID,
    SHOWCASE_CHARGER_ID,
    SHOWCASE_RESERVATION_ID,
    UP_CHARGER_IDS,
)

_DC_CAR_LIMIT_KW = 120.0  # a typical car's average DC rate, whatever the charger could give

# Arrivals per local hour (relative weights): commute peaks on weekdays, a midday hump at
# weekends, few at night. Depots fill when the fleet returns in the afternoon.
_HOURS_WEEKDAY = (
    *(0.3, 0.2, 0.15, 0.15, 0.2, 0.5, 1.5, 3.5, 4.0, 2.5, 1.6, 1.5),
    *(1.7, 1.5, 1.4, 1.8, 2.6, 3.6, 3.8, 2.6, 1.6, 1.1, 0.7, 0.4),
)
_HOURS_WEEKEND = (
    *(0.4, 0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 0.8, 1.4, 2.2, 2.8, 3.0),
    *(2.9, 2.7, 2.6, 2.6, 2.5, 2.3, 2.0, 1.6, 1.2, 0.9, 0.6, 0.4),
)
_HOURS_DEPOT = (
    *(0.2, 0.1, 0.1, 0.1, 0.3, 1.5, 2.0, 1.0, 0.6, 0.6, 0.8, 1.0),
    *(1.2, 1.2, 1.5, 2.5, 3.5, 3.5, 2.5, 1.5, 0.8, 0.5, 0.3, 0.2),
)
_CUM = {k: list(accumulate(v)) for k, v in (("wd", _HOURS_WEEKDAY), ("we", _HOURS_WEEKEND))}
_CUM["depot"] = list(accumulate(_HOURS_DEPOT))
# Mean sessions per charger per day (weekday, weekend) at scale 1.
_RATE_AC = (2.2, 1.5)
_RATE_DC = (3.6, 4.2)
_RATE_DEPOT = (3.0, 1.0)


def _live_power_kw(connector: ConnectorType | str, max_kw: float) -> float:
    """Average power of a live session: AC near the charger's limit, DC limited by the car."""
    if ConnectorType(connector) in AC_TYPES:
        return 0.82 * max_kw
    return min(0.5 * max_kw, _DC_CAR_LIMIT_KW)


def live_energy(
    connector: ConnectorType | str, max_kw: float, started_at: datetime, now: datetime
) -> Decimal:
    """The energy of a live session at ``now``: its charger's likely power since the start, up to a
    full car."""
    hours = max(0.0, (now - started_at).total_seconds() / 3600)
    return _kwh(min(LIVE_CAP_KWH, _live_power_kw(connector, max_kw) * hours))


def _kwh(value: float) -> Decimal:
    return Decimal(f"{value:.3f}")


def live_sessions(
    rng: random.Random,
    now: datetime,
    drivers: list[Person],
    fleets: dict[str, list[str]],
) -> list[dict[str, Any]]:
    """The live sessions of the showcase (``LIVE_SESSIONS``), on drivers who may use the charger."""
    rows = []
    # Distinct public drivers: nobody charges at two places at once.
    public = iter(rng.sample([p.account_id for p in drivers if not p.fleet], len(LIVE_SESSIONS)))
    for sid, cid, (lo, hi) in LIVE_SESSIONS:
        _, connector, kw, restricted = BY_ID[cid]
        if sid == DRIVER_LIVE_SESSION_ID:
            account = DRIVER_ACCOUNT_ID
        elif restricted:
            fleet = next(f for f, cids in DEPOT_GRANTS.items() if cid in cids)
            account = rng.choice(fleets[fleet])
        else:
            account = next(public)
        started = now - timedelta(minutes=rng.randint(lo, hi), seconds=rng.randint(0, 59))
        if sid == DRIVER_LIVE_SESSION_ID:
            started = now - timedelta(minutes=40)  # the tour's "started 40 minutes ago"
        rows.append(
            {
                "id": sid,
                "account_id": account,
                "charger_id": cid,
                "started_at": started,
                "ended_at": None,
                "energy_kwh": live_energy(connector, float(kw), started, now),
                "finalized": False,
            }
        )
    return rows


def history_cutoffs(
    now: datetime, chargers: list[dict[str, Any]], live: list[dict[str, Any]]
) -> dict[str, datetime]:
    """Per charger, the instant its history must end by: now, its last heartbeat, the start of
    its live session, or the start of a reservation covering now."""
    gap = timedelta(minutes=5)
    cutoff = {c["id"]: c["last_seen_at"] or now - timedelta(days=400) for c in chargers}
    cutoff[NEVER_SEEN_CHARGER_ID] = now - timedelta(days=400)  # brand new: no history at all
    for cid in cutoff:
        cutoff[cid] = min(cutoff[cid], now) - gap
    for row in live:
        cutoff[row["charger_id"]] = min(cutoff[row["charger_id"]], row["started_at"] - gap)
    for cid in (SHOWCASE_CHARGER_ID, ACTIVE_RESERVATION_CHARGER_ID):
        cutoff[cid] = min(cutoff[cid], now - timedelta(minutes=30))
    return cutoff


def _local(day: date, hour: int, minute: int, second: int, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz).astimezone(UTC)


def _days(now: datetime, tz: ZoneInfo) -> list[date]:
    """The local days of the past year, oldest first, ending today."""
    today = now.astimezone(tz).date()
    return [today - timedelta(days=i) for i in range(365, -1, -1)]


def _session(
    account: str, charger: str, start: datetime, minutes: float, kwh: float
) -> dict[str, Any]:
    return {
        "id": "",
        "account_id": account,
        "charger_id": charger,
        "started_at": start,
        "ended_at": start + timedelta(seconds=round(minutes * 60)),
        "energy_kwh": _kwh(kwh),
        "finalized": True,
    }


def driver_history(
    rng: random.Random, now: datetime, tz: ZoneInfo, cutoff: dict[str, datetime]
) -> list[dict[str, Any]]:
    """Dana: most weekdays at the office charger (car takes 11 kW AC), some weekend fast
    charges. About 150 sessions a year, ~180 kWh a month: most of a Commuter 250 allowance."""
    rows = []
    since = now - timedelta(days=365)
    for day in _days(now, tz):
        if day.weekday() < 5:
            if rng.random() >= 0.5:
                continue
            start = _local(
                day, rng.choice((7, 8, 8, 9)), rng.randint(0, 59), rng.randint(0, 59), tz
            )
            hours = rng.uniform(1.5, 4.0)
            kwh = min(rng.uniform(8, 22), 11 * rng.uniform(0.85, 0.95) * hours)
            row = _session(DRIVER_ACCOUNT_ID, DRIVER_OFFICE_CHARGER_ID, start, hours * 60, kwh)
        else:
            if rng.random() >= 0.15:
                continue
            start = _local(day, rng.randint(10, 17), rng.randint(0, 59), rng.randint(0, 59), tz)
            minutes = rng.uniform(20, 35)
            kwh = rng.uniform(55, 75) * minutes / 60  # her car averages ~65 kW on DC
            row = _session(DRIVER_ACCOUNT_ID, DRIVER_FAST_CHARGER_ID, start, minutes, kwh)
        if row["started_at"] >= since and row["ended_at"] < cutoff[row["charger_id"]]:
            rows.append(row)
    return rows


def olga_history(
    rng: random.Random, now: datetime, tz: ZoneInfo, cutoff: dict[str, datetime]
) -> list[dict[str, Any]]:
    """Olga's personal car: a weekend top-up now and then (a little history)."""
    rows = []
    since = now - timedelta(days=365)
    for day in _days(now, tz):
        if day.weekday() < 5 or rng.random() >= 0.12:
            continue
        cid = rng.choice(OLGA_CHARGER_IDS)
        start = _local(day, rng.randint(11, 19), rng.randint(0, 59), rng.randint(0, 59), tz)
        hours = rng.uniform(1.5, 3.5)
        kwh = min(rng.uniform(10, 30), 11 * 0.9 * hours)
        row = _session(OLGA_ACCOUNT_ID, cid, start, hours * 60, kwh)
        if row["started_at"] >= since and row["ended_at"] < cutoff[cid]:
            rows.append(row)
    return rows


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: exact and quick for the small means used here.
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _ac_session(rng: random.Random, max_kw: float, local_hour: int) -> tuple[float, float]:
    """(minutes, kWh) of an AC session: parked for hours, limited by the car's onboard charger."""
    if 6 <= local_hour <= 9:
        hours = rng.triangular(3.0, 8.0, 7.0)  # parked at work
    elif 17 <= local_hour <= 22:
        hours = rng.triangular(1.5, 8.0, 6.0)  # evening, often until the 8 h limit
    else:
        hours = rng.triangular(1.0, 5.0, 2.0)  # shopping, errands
    car_kw = rng.choice((7.4, 11.0, 11.0, 11.0, 22.0))
    power = min(max_kw, car_kw) * rng.uniform(0.85, 0.95)
    kwh = max(5.0, min(rng.uniform(8, 75), power * hours))
    return hours * 60, kwh


def _dc_session(rng: random.Random, max_kw: float) -> tuple[float, float]:
    """(minutes, kWh) of a fast charge: 15-60 min, the car tapering well below the peak."""
    need = rng.uniform(15, 70)
    power = min(max_kw, rng.choice((50.0, 100.0, 150.0, 250.0))) * rng.uniform(0.55, 0.8)
    hours = min(1.0, max(0.25, need / power))
    return hours * 60, max(5.0, min(need, power * hours, 80.0))


def bulk_history(
    rng: random.Random,
    now: datetime,
    tz: ZoneInfo,
    scale: float,
    cutoff: dict[str, datetime],
    fixed: list[dict[str, Any]],
    drivers: list[Person],
    fleets: dict[str, list[str]],
) -> list[dict[str, Any]]:
    """Everyone else's sessions, generated charger by charger in time order, so sessions on
    one charger never overlap each other nor Dana's and Olga's."""
    since = now - timedelta(days=365)
    days = _days(now, tz)
    driver_ids = [p.account_id for p in drivers]
    driver_cum = list(accumulate(p.weight for p in drivers))
    blocked: dict[str, list[tuple[datetime, datetime]]] = {}
    for row in fixed:
        blocked.setdefault(row["charger_id"], []).append((row["started_at"], row["ended_at"]))
    hours = list(range(24))
    hour_starts: dict[tuple[date, int], datetime] = {}  # zoneinfo is the slow part: reuse
    rows: list[dict[str, Any]] = []
    for cid, (_, connector, kw, restricted) in BY_ID.items():
        max_kw = float(kw)
        is_ac = connector in AC_TYPES
        if restricted:
            fleet = next(f for f, cids in DEPOT_GRANTS.items() if cid in cids)
            accounts, cum = fleets[fleet], None
            rates, profile = _RATE_DEPOT, "depot"
        else:
            accounts, cum = driver_ids, driver_cum
            rates, profile = (_RATE_AC if is_ac else _RATE_DC), ""
        popularity = rng.uniform(0.6, 1.4)
        busy = sorted(blocked.get(cid, []))
        bi = 0
        prev_end = since
        stop = cutoff[cid]
        for n_day, day in enumerate(days):
            weekend = day.weekday() >= 5
            growth = 0.85 + 0.3 * n_day / len(days)  # the network grew over the year
            n = _poisson(rng, rates[int(weekend)] * popularity * growth * scale)
            if n == 0:
                continue
            cum_hours = _CUM[profile or ("we" if weekend else "wd")]
            for hour in sorted(rng.choices(hours, cum_weights=cum_hours, k=n)):
                hour_start = hour_starts.get((day, hour))
                if hour_start is None:
                    hour_start = hour_starts[day, hour] = _local(day, hour, 0, 0, tz)
                start = max(
                    hour_start + timedelta(seconds=int(rng.random() * 3600)),
                    prev_end + timedelta(seconds=120 + int(rng.random() * 780)),
                )
                if is_ac:
                    minutes, kwh = _ac_session(rng, max_kw, hour)
                else:
                    minutes, kwh = _dc_session(rng, max_kw)
                row = _session("", cid, start, minutes, kwh)
                end = row["ended_at"]
                if start < since or end >= stop:
                    continue
                while bi < len(busy) and busy[bi][1] <= start:
                    bi += 1
                if bi < len(busy) and busy[bi][0] < end + timedelta(minutes=2):
                    continue  # Dana or Olga is plugged in then
                if cum is None:
                    row["account_id"] = rng.choice(accounts)
                else:
                    row["account_id"] = rng.choices(accounts, cum_weights=cum, k=1)[0]
                rows.append(row)
                prev_end = end
    return rows


def driver_reservation_start(now: datetime) -> datetime:
    """Two days ahead, on the next quarter hour (reads like something a person booked)."""
    t = now + timedelta(days=2)
    return t.replace(second=0, microsecond=0) + timedelta(minutes=15 - t.minute % 15)


def reservation_rows(
    rng: random.Random,
    now: datetime,
    tz: ZoneInfo,
    scale: float,
    history: list[dict[str, Any]],
    people: list[Person],
) -> list[dict[str, Any]]:
    """Past (honoured or cancelled), upcoming and the showcase's reservations, ids ``R000001``..
    then the fixed ``R9xxxxx``."""

    def row(
        rid: str, account: str, cid: str, start: datetime, minutes: int, status: str
    ) -> dict[str, Any]:
        return {
            "id": rid,
            "account_id": account,
            "charger_id": cid,
            "starts_at": start,
            "ends_at": start + timedelta(minutes=minutes),
            "status": ReservationStatus(status),
        }

    drivers = [p.account_id for p in people if p.kind == "driver" and not p.fleet]
    public_up = [
        c
        for c in UP_CHARGER_IDS
        if not BY_ID[c][3]
        and c not in (SHOWCASE_CHARGER_ID, ACTIVE_RESERVATION_CHARGER_ID, DRIVER_FAST_CHARGER_ID)
    ]
    bulk: list[dict[str, Any]] = []

    # Past: most reservations were honoured (the driver then charged), some were cancelled.
    recent = [
        s
        for s in history
        if now - timedelta(days=120) < s["started_at"] < now - timedelta(hours=3)
        and s["account_id"] not in (DRIVER_ACCOUNT_ID, OLGA_ACCOUNT_ID)
    ]
    honoured = rng.sample(recent, min(len(recent), round(300 * scale)))
    dana = [s for s in history if s["account_id"] == DRIVER_ACCOUNT_ID][-8:-2]
    for s in honoured + dana:
        start = s["started_at"] - timedelta(minutes=rng.randint(5, 20))
        bulk.append(row("", s["account_id"], s["charger_id"], start, 60, "completed"))
    for _ in range(round(100 * scale)):
        day = (now - timedelta(days=rng.randint(1, 120))).astimezone(tz).date()
        start = _local(day, rng.randint(7, 20), rng.choice((0, 15, 30, 45)), 0, tz)
        bulk.append(row("", rng.choice(drivers), rng.choice(public_up), start, 60, "cancelled"))

    # Upcoming: the next week, daytime, no two overlapping on one charger.
    taken: dict[str, list[datetime]] = {}
    today = now.astimezone(tz).date()
    while sum(1 for r in bulk if r["starts_at"] > now) < 30:
        day = today + timedelta(days=rng.randint(0, 7))
        start = _local(day, rng.randint(7, 20), rng.choice((0, 15, 30, 45)), 0, tz)
        cid = rng.choice(public_up)
        if start <= now + timedelta(minutes=30) or any(
            abs(start - t) < timedelta(hours=2) for t in taken.get(cid, [])
        ):
            continue
        taken.setdefault(cid, []).append(start)
        status = "confirmed" if rng.random() < 0.7 else "pending"
        bulk.append(row("", rng.choice(drivers), cid, start, rng.choice((30, 45, 60, 90)), status))

    bulk.sort(key=lambda r: (r["starts_at"], r["charger_id"]))
    for i, r in enumerate(bulk, start=1):
        r["id"] = f"R{i:06d}"

    others = rng.sample(drivers, 3)
    showcase = [
        row(
            SHOWCASE_RESERVATION_ID,
            others[0],
            SHOWCASE_CHARGER_ID,
            now - timedelta(minutes=10),
            60,
            "confirmed",
        ),
        row(
            DRIVER_RESERVATION_ID,
            DRIVER_ACCOUNT_ID,
            DRIVER_FAST_CHARGER_ID,
            driver_reservation_start(now),
            45,
            "confirmed",
        ),
        row(
            ACTIVE_RESERVATION_ID,
            others[1],
            ACTIVE_RESERVATION_CHARGER_ID,
            now - timedelta(minutes=25),
            45,
            "active",
        ),
        row(
            PENDING_NOW_RESERVATION_ID,
            others[2],
            PENDING_NOW_CHARGER_ID,
            now - timedelta(minutes=5),
            60,
            "pending",
        ),
    ]
    return bulk + showcase
