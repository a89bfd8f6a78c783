"""Per-worker snapshots of what every driver's request asks alike: the fleet's statuses and its
charger catalogue, and the operator's settings.

A dashboard render or status poll then costs its account's own small queries (grants, sessions)
whatever the fleet's size: the fleet-wide question (the status rule over 5,000 chargers, 10-20 ms)
is answered once per ``max_age_s`` by each worker, not once per request. A snapshot older than
that is still served while one background thread builds the next (requests never wait for it),
up to twice that age; after that (an idle worker) a request builds it itself. Nothing is shared
between workers, so adding workers stays stateless; statuses on screen are at most about
``2 * max_age_s`` older than the database (the default, 2 s, against a 15 s refresh).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, NamedTuple, TypeVar, cast

from sqlalchemy import Engine, Float, String, bindparam, select, type_coerce
from sqlalchemy.orm import Session

from data.chargers.status import (
    OFFLINE_AFTER_SECONDS,
    STATUS_RANK,
    ChargerStatus,
    charger_status_expression,
    maybe_not_online_ids,
)
from data.charging.dashboard import (
    CHARGER_LIMIT,
    ChargerList,
    ChargerRow,
    OperatorSettings,
    operator_settings,
)
from data.core.db import core_rows
from data.core.models import Charger, ChargerAccess, Visibility

log = logging.getLogger("polaris")

T = TypeVar("T")
DERIVED_MAX = 512  # FleetSnapshot.derive: distinct keys kept per snapshot


class CatalogueCharger(NamedTuple):
    """One charger of the catalogue (a tuple: thousands are made at each snapshot)."""

    charger_id: str
    friendly_name: str
    connector_type: str
    max_power_kw: float
    restricted: bool


@dataclass(frozen=True)
class FleetSnapshot:
    """Every charger (in the list's order: name, then id, as the database sorts them) and the
    status of each at ``at`` by ``charger_status_expression``."""

    at: datetime
    chargers: tuple[CatalogueCharger, ...]
    by_id: Mapping[str, CatalogueCharger]
    position: Mapping[str, int]
    not_online: Mapping[str, ChargerStatus]  # every charger whose status is not Online
    public: int  # public chargers
    public_online: int  # public chargers that are Online
    # What readers build from this snapshot alone (the dashboard's pills for a set of grants and
    # chargers), kept as long as the snapshot is: the next snapshot starts empty.
    derived: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    def derive(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, once per ``key`` for this snapshot (at most ``DERIVED_MAX`` keys are
        kept; two threads may both build one, the same value)."""
        if key in self.derived:
            return cast(T, self.derived[key])
        value = build()
        if len(self.derived) < DERIVED_MAX:
            self.derived[key] = value
        return value

    def status(self, charger_id: str) -> ChargerStatus | None:
        if charger_id not in self.by_id:
            return None
        return self.not_online.get(charger_id, ChargerStatus.online)

    def may_see(self, charger_id: str, granted: frozenset[str]) -> bool:
        charger = self.by_id.get(charger_id)
        return charger is not None and (not charger.restricted or charger_id in granted)


def fleet_snapshot(
    session: Session, now: datetime, *, offline_after_s: int = OFFLINE_AFTER_SECONDS
) -> FleetSnapshot:
    """Two statements whatever the fleet: the status rule for the chargers that may not be
    Online (``maybe_not_online_ids``; every other one is Online), and the catalogue."""
    candidates = maybe_not_online_ids(now, offline_after_s).subquery("maybe_not_online")
    special = session.execute(
        select(Charger.id, charger_status_expression(now, offline_after_s)).where(
            Charger.id.in_(select(candidates.c.id))
        )
    ).all()
    not_online = {
        cid: ChargerStatus(status) for cid, status in special if status != ChargerStatus.online
    }
    # Thousands of rows every few seconds, built in a thread beside the requests: read as plain
    # strings on the connection (the columns hold the enums' values), no per-row enum or ORM
    # work. At 5,000 chargers, 40 -> 22 ms of the worker's CPU (measured in turns).
    restricted = Visibility.restricted.value
    chargers = tuple(
        CatalogueCharger(cid, name, connector, kw, visibility == restricted)
        for cid, name, connector, kw, visibility in core_rows(session, _CATALOGUE, {}).all()
    )
    public = [c.charger_id for c in chargers if not c.restricted]
    return FleetSnapshot(
        at=now,
        chargers=chargers,
        by_id={c.charger_id: c for c in chargers},
        position={c.charger_id: n for n, c in enumerate(chargers)},
        not_online=not_online,
        public=len(public),
        public_online=sum(1 for cid in public if cid not in not_online),
    )


_CATALOGUE = select(
    Charger.id,
    Charger.friendly_name,
    type_coerce(Charger.connector_type, String),
    Charger.max_power_kw.cast(Float),
    type_coerce(Charger.visibility, String),
).order_by(Charger.friendly_name, Charger.id)

_GRANTS = select(ChargerAccess.charger_id).where(
    ChargerAccess.account_id == bindparam("account_id")
)


def account_grants(session: Session, account_id: str) -> frozenset[str]:
    """The chargers granted to the account (one primary-key range)."""
    return frozenset(core_rows(session, _GRANTS, {"account_id": account_id}).scalars())


def snapshot_chargers(
    fleet: FleetSnapshot,
    granted: frozenset[str],
    limit: int = CHARGER_LIMIT,
    favourites: Sequence[str] = (),
) -> ChargerList:
    """What ``visible_chargers`` answers at ``fleet.at``: Online ones first by name, then the
    others by status and name; the counts of visible and available chargers. The account's
    ``favourites`` (``data.chargers.favourites``) it may still see lead the list, in their
    order, whatever their status."""
    granted_restricted = [
        cid for cid in granted if (c := fleet.by_id.get(cid)) is not None and c.restricted
    ]
    visible = fleet.public + len(granted_restricted)
    available = fleet.public_online + sum(
        1 for cid in granted_restricted if cid not in fleet.not_online
    )
    starred = [c for c in dict.fromkeys(favourites) if fleet.may_see(c, granted)][:limit]
    listed = [_row(fleet.by_id[c], fleet.not_online.get(c, ChargerStatus.online)) for c in starred]
    skip = set(starred)
    for charger in fleet.chargers:  # Online first: they stop the walk once the list is full
        if len(listed) >= limit:
            break
        cid = charger.charger_id
        if cid in skip:
            continue
        if cid not in fleet.not_online and (not charger.restricted or cid in granted):
            listed.append(_row(charger, ChargerStatus.online))
    if len(listed) < limit:
        others = sorted(
            (
                (STATUS_RANK[status], fleet.position[cid], cid)
                for cid, status in fleet.not_online.items()
                if cid not in skip and fleet.may_see(cid, granted)
            )
        )
        for _rank, _pos, cid in others[: limit - len(listed)]:
            listed.append(_row(fleet.by_id[cid], fleet.not_online[cid]))
    return ChargerList(listed, visible, available)


def _row(charger: CatalogueCharger, status: ChargerStatus) -> ChargerRow:
    return ChargerRow(
        charger.charger_id,
        charger.friendly_name,
        charger.connector_type,
        charger.max_power_kw,
        status,
    )


def shown_statuses(
    fleet: FleetSnapshot, granted: frozenset[str], charger_ids: list[str]
) -> tuple[dict[str, ChargerStatus | None], int]:
    """The status of each charger on the account's screen (``None`` for one it may not see or
    that is gone) and how many chargers it may see are Online now."""
    wanted = list(dict.fromkeys(charger_ids))[:CHARGER_LIMIT]
    statuses = {cid: fleet.status(cid) if fleet.may_see(cid, granted) else None for cid in wanted}
    return statuses, snapshot_chargers(fleet, granted, limit=0).available


class WorkerSnapshots(Generic[T]):
    """The latest ``build(session, now, key)`` per database and ``key``, reused for
    ``max_age_s``, then served while a background thread builds the next (see module doc)."""

    def __init__(self, build: Callable[[Session, datetime, Hashable], T]) -> None:
        self._build = build
        self._latest: weakref.WeakKeyDictionary[Engine, dict[Hashable, tuple[datetime, T]]]
        self._latest = weakref.WeakKeyDictionary()
        self._refreshing: set[tuple[int, Hashable]] = set()
        self._lock = threading.Lock()

    def get(self, session: Session, now: datetime, *, max_age_s: float, key: Hashable = None) -> T:
        engine = session.get_bind().engine
        with self._lock:
            at, value = self._latest.get(engine, {}).get(key, (None, None))
        age = None if at is None else (now - at).total_seconds()
        if age is not None and 0 <= age < max_age_s:
            return value  # type: ignore[return-value]
        if age is not None and 0 <= age < 2 * max_age_s:
            self._refresh_later(engine, key)
            return value  # type: ignore[return-value]
        fresh = self._build(session, now, key)
        self._keep(engine, key, now, fresh)
        return fresh

    def clear(self) -> None:
        with self._lock:
            self._latest.clear()

    def _keep(self, engine: Engine, key: Hashable, at: datetime, value: T) -> None:
        with self._lock:
            kept = self._latest.setdefault(engine, {})
            if key not in kept or kept[key][0] <= at:
                kept[key] = (at, value)

    def _refresh_later(self, engine: Engine, key: Hashable) -> None:
        """Start one background build for (engine, key) unless one is running."""
        token = (id(engine), key)
        with self._lock:
            if token in self._refreshing:
                return
            self._refreshing.add(token)

        def refresh() -> None:
            try:
                now = datetime.now(UTC)
                with Session(engine) as s, s.begin():
                    fresh = self._build(s, now, key)
                self._keep(engine, key, now, fresh)
            except Exception:  # the next request builds it itself
                log.warning("background snapshot refresh failed", exc_info=True)
            finally:
                with self._lock:
                    self._refreshing.discard(token)

        threading.Thread(target=refresh, name="polaris-snapshot", daemon=True).start()


def _fleet(session: Session, now: datetime, offline_after_s: Hashable) -> FleetSnapshot:
    return fleet_snapshot(session, now, offline_after_s=cast(int, offline_after_s))


def _settings(session: Session, _now: datetime, _key: Hashable) -> OperatorSettings:
    return operator_settings(session)


FLEET = WorkerSnapshots(_fleet)
SETTINGS = WorkerSnapshots(_settings)
