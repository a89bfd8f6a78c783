"""The demo's outage log: a year of the OCPP server's bookkeeping, so ``/admin/uptime`` tells a
story on the first start.

History uses the live kinds (``offline``: silent; ``out_of_order``: a fault reported), as the
server would have written them had it run all year; ``imported`` would claim a CSV that never
was. Every charger: a dozen or two outages of minutes, now and then one of hours; the
``LOW_UPTIME_CHARGER_IDS`` two breakdowns of about a week each (below 97% over twelve months);
one site down together (excluded, the utility's); a few others excluded with a cause and a note.
What goes on now matches the fleet's statuses: the faulted charger is out of order since its
report, each charger silent past the Offline threshold offline since its last heartbeat.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from data.chargers.status import OFFLINE_AFTER_SECONDS
from data.demo.showcase import (
    FAULTED_CHARGER_ID,
    FAULTED_SINCE,
    LOW_UPTIME_CHARGER_IDS,
    SITE_OUTAGE_CHARGER_IDS,
)
from data.uptime.outages import OutageCause, OutageKind

_GAP = timedelta(minutes=30)  # between two outages of one charger, and before an ongoing one
_EXCLUDED = (
    (OutageCause.vandalism, "Cable cut overnight; police report filed, cable replaced"),
    (OutageCause.utility, "Grid operator's planned works on the feeder, announced by letter"),
    (OutageCause.natural_disaster, "Storm flooded the bay's pit; site closed by the fire brigade"),
    (OutageCause.vehicle, "A car hit the pedestal; the driver's insurer pays the repair"),
)
_SITE_NOTE = "Substation fault at the grid operator: the whole site without power (ticket 2291)"


def outage_rows(
    rng: random.Random, now: datetime, chargers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every demo outage of the past year, ids ``O000001``.. in start order."""
    since = now - timedelta(days=365)
    ongoing = _ongoing(now, chargers)
    ends_by = {c["id"]: c["last_seen_at"] or since for c in chargers}  # never seen: no history
    for row in ongoing:
        ends_by[row["charger_id"]] = row["started_at"]
    # The site outage: four to nine hours, between two and ten months ago.
    site_start = now - timedelta(days=rng.randint(60, 300), minutes=rng.randint(0, 1439))
    site_end = site_start + timedelta(minutes=rng.randint(240, 540))
    rows: list[dict[str, Any]] = []
    for charger in chargers:
        cid = charger["id"]
        spans = _spans(rng, now, cid)
        if cid in SITE_OUTAGE_CHARGER_IDS:
            spans.append(
                (site_start, site_end, OutageKind.offline, OutageCause.utility, _SITE_NOTE)
            )
        # Longest first, so a short one never pushes out a breakdown or the site outage.
        kept: list[_Span] = []
        for span in sorted(spans, key=lambda span: span[0] - span[1]):
            start, end = span[0], span[1]
            if start < since or end > ends_by[cid] - _GAP:
                continue  # runs into what goes on now
            if all(end + _GAP <= s or e + _GAP <= start for s, e, *_ in kept):
                kept.append(span)
        rows.extend(_row(cid, *span) for span in kept)
    rows.extend(ongoing)
    rows.sort(key=lambda r: (r["started_at"], r["charger_id"]))
    for i, row in enumerate(rows, start=1):
        row["id"] = f"O{i:06d}"
    return rows


_Span = tuple[datetime, datetime, OutageKind, OutageCause, str | None]


def _spans(rng: random.Random, now: datetime, cid: str) -> list[_Span]:
    """One charger's past outages (unordered, may overlap: the caller keeps the longest)."""

    def at(days_ago: tuple[int, int]) -> datetime:
        return now - timedelta(days=rng.randint(*days_ago), minutes=rng.randint(0, 1439))

    def kind() -> OutageKind:
        return OutageKind.offline if rng.random() < 0.7 else OutageKind.out_of_order

    spans: list[_Span] = []
    for _ in range(rng.randint(8, 24)):  # short: a reboot, a lost mobile connection
        start = at((1, 364))
        spans.append((start, start + timedelta(minutes=rng.randint(2, 55)), kind(), *_counted()))
    for _ in range(rng.randint(0, 2)):  # long: hours, up to a day and a half
        start = at((2, 360))
        end = start + timedelta(minutes=rng.randint(120, 2160))
        if rng.random() < 0.2:
            cause, note = rng.choice(_EXCLUDED)
            spans.append((start, end, kind(), cause, note))
        else:
            spans.append((start, end, kind(), *_counted()))
    if cid in LOW_UPTIME_CHARGER_IDS:  # two breakdowns waiting for parts, 7-9 days each
        for days_ago in ((200, 300), (60, 150)):
            start = at(days_ago)
            end = start + timedelta(minutes=rng.randint(7 * 1440, 9 * 1440))
            note = "Power module failed; waited for the spare part"
            spans.append((start, end, OutageKind.out_of_order, OutageCause.maintenance, note))
    return spans


def _counted() -> tuple[OutageCause, None]:
    return OutageCause.unknown, None


def _row(
    cid: str,
    start: datetime,
    end: datetime | None,
    kind: OutageKind,
    cause: OutageCause,
    note: str | None,
) -> dict[str, Any]:
    excluded = cause not in (OutageCause.unknown, OutageCause.maintenance)
    return {
        "id": "",
        "charger_id": cid,
        "started_at": start,
        "ended_at": end,
        "cause": cause,
        "excluded": excluded,
        "note": note,
        "kind": kind,
    }


def _ongoing(now: datetime, chargers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the live bookkeeping would have open: out of order since the fault report, offline
    since the last heartbeat of every charger silent past the threshold (never seen: none, as
    the server's sweep)."""
    silent_before = now - timedelta(seconds=OFFLINE_AFTER_SECONDS)
    rows = [
        _row(c["id"], c["last_seen_at"], None, OutageKind.offline, OutageCause.unknown, None)
        for c in chargers
        if c["last_seen_at"] is not None and c["last_seen_at"] < silent_before
    ]
    fault = now - FAULTED_SINCE
    rows.append(
        _row(FAULTED_CHARGER_ID, fault, None, OutageKind.out_of_order, OutageCause.unknown, None)
    )
    return rows
