"""Tariffs and the stored cost of sessions: which tariff version prices a session, listing and
creating versions, assigning tariffs to plans and the default, and writing a session's cost
(the rule itself is ``data.pricing.cost.session_cost``).

Which tariff (``shared/spec/data-exchange.md``, "Prices and costs"): the account's plan's
``tariff_id``, else the operator's ``default_tariff_id``, else none; of it, the version in force
when the session started (the latest ``valid_from`` at or before ``started_at``).

A session's cost is stored when it is finalized (``price_session``: OCPP StopTransaction, the
import, an admin's energy correction) and never re-priced by a later version: a correction
re-prices with the version that priced it. Sessions that no tariff priced when they were
finalized are priced once a tariff covers them (``price_unpriced_sessions``: when versions,
the default or a plan's tariff arrive, by import or by an admin), so that every finalized
session a tariff prices has its cost stored. A new version that would change the price of a
session already priced, or of one in progress, is refused (``repricing_conflict``).
"""

from __future__ import annotations

import bisect
import logging
import time
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, String, Table, bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from data.accounts.validation import (
    FieldChecks,
    InvalidInput,
    NotFound,
    Refused,
    text_value,
    validate_currency,
    validate_id,
    validate_name,
)
from data.audit.entries import Action, Actor, record
from data.charging.dashboard import operator_settings
from data.core.models import (
    COST,
    Account,
    Charger,
    ChargingSession,
    Operator,
    Plan,
    TariffVersion,
    UTCDateTime,
)
from data.pricing.cost import SessionCost, TariffPrices, session_cost
from data.pricing.rows import (
    COST_COLUMNS,
    account_tariff,
    cost_now,
    prices_of,
    session_version,
    version_columns,
)

log = logging.getLogger("polaris.pricing")

# Sessions per batch of ``price_unpriced_sessions``: one short statement each (a few ms to
# read, one UPDATE to write), whatever the number of sessions.
PRICING_BATCH = 5000
LOG_EVERY_S = 5.0
PRICE_DECIMALS = 4  # Numeric(12, 4)
MAX_PRICE = Decimal("99999999.9999")
MAX_FREE_MINUTES = 10 * 24 * 60  # longer than any session
VAT_DECIMALS = 2  # Numeric(5, 2)

PRICE_FIELDS = (
    "energy_price_per_kwh",
    "dc_energy_price_per_kwh",
    "session_fee",
    "time_price_per_hour",
)
_COST_COLUMNS = (
    "tariff_id",
    "tariff_valid_from",
    "currency",
    "cost_energy",
    "cost_time",
    "cost_fee",
    "cost_total",
    "vat_amount",
)
_sessions = typing.cast(Table, ChargingSession.__table__)


# --- tariff versions ------------------------------------------------------------------------------


def tariff_versions(session: Session, tariff_id: str | None = None) -> list[TariffPrices]:
    """Every version (of one tariff, or of all), by tariff and ``valid_from``. Tariffs are a
    short price list, never a big table."""
    stmt = select(TariffVersion).order_by(TariffVersion.tariff_id, TariffVersion.valid_from)
    if tariff_id is not None:
        stmt = stmt.where(TariffVersion.tariff_id == tariff_id)
    return [prices_of(row) for row in session.scalars(stmt)]


class Versions:
    """All tariff versions, by tariff in ``valid_from`` order, to find the one in force."""

    def __init__(self, versions: Iterable[TariffPrices]) -> None:
        self.by_tariff: dict[str, list[TariffPrices]] = {}
        for version in sorted(versions, key=lambda v: (v.tariff_id, v.valid_from)):
            self.by_tariff.setdefault(version.tariff_id, []).append(version)
        self._starts = {t: [v.valid_from for v in vs] for t, vs in self.by_tariff.items()}

    @classmethod
    def load(cls, session: Session) -> Versions:
        return cls(tariff_versions(session))

    def in_force(self, tariff_id: str | None, at: datetime) -> TariffPrices | None:
        """The version of ``tariff_id`` in force at ``at`` (None before its first one)."""
        if tariff_id is None or tariff_id not in self.by_tariff:
            return None
        index = bisect.bisect_right(self._starts[tariff_id], at)
        return self.by_tariff[tariff_id][index - 1] if index else None

    def get(self, tariff_id: str | None, valid_from: datetime | None) -> TariffPrices | None:
        if tariff_id is None or valid_from is None:
            return None
        found = (v for v in self.by_tariff.get(tariff_id, ()) if v.valid_from == valid_from)
        return next(found, None)

    def __bool__(self) -> bool:
        return bool(self.by_tariff)


def default_tariff_id(session: Session) -> str | None:
    return session.scalar(select(Operator.default_tariff_id).where(Operator.id == 1))


def account_tariff_id(session: Session, account_id: str) -> str | None:
    """The tariff that prices the account's sessions: its plan's, else the operator's
    default, else None."""
    plan_tariff = session.scalar(
        select(Plan.tariff_id)
        .join(Account, Account.plan_id == Plan.id)
        .where(Account.id == account_id)
    )
    return plan_tariff if plan_tariff is not None else default_tariff_id(session)


def _account_tariff_column(default: str | None) -> ColumnElement[Any]:
    """SQL: the tariff of the account joined as ``Account`` (with its ``Plan`` outer-joined)."""
    return func.coalesce(Plan.tariff_id, bindparam("default_tariff", default, type_=String()))


# --- the cost of one session ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Priceable:
    """What the rule needs of a session, and the version that priced it, if any."""

    id: str
    started_at: datetime
    ended_at: datetime | None
    energy_kwh: Decimal
    max_power_kw: Decimal | None
    account_tariff: str | None
    tariff_id: str | None
    tariff_valid_from: datetime | None


def _priceable_select(default: str | None) -> Any:
    """SQL: what the rule needs of sessions (``_Priceable``'s columns), with their account's
    tariff (``default``: the operator's default tariff)."""
    s = ChargingSession
    return (
        select(
            s.id,
            s.started_at,
            s.ended_at,
            s.energy_kwh,
            Charger.max_power_kw,
            _account_tariff_column(default).label("account_tariff"),
            s.tariff_id,
            s.tariff_valid_from,
        )
        .join(Charger, Charger.id == s.charger_id)
        .join(Account, Account.id == s.account_id)
        .outerjoin(Plan, Plan.id == Account.plan_id)
    )


def _priceable(session: Session, charging_session_id: str) -> _Priceable | None:
    row = session.execute(
        _priceable_select(default_tariff_id(session)).where(
            ChargingSession.id == charging_session_id
        )
    ).first()
    return None if row is None else _Priceable(*row)


def tariff_version_for_session(session: Session, charging_session_id: str) -> TariffPrices | None:
    """The tariff version that prices the session: the one that priced it when its cost is
    stored, else the account's tariff's version in force at its start (None: no cost)."""
    found = _priceable(session, charging_session_id)
    if found is None:
        return None
    return _version_for(found, Versions(tariff_versions(session)))


def _version_for(row: _Priceable, versions: Versions) -> TariffPrices | None:
    stored = versions.get(row.tariff_id, row.tariff_valid_from)
    if stored is not None:
        return stored
    return versions.in_force(row.account_tariff, row.started_at)


def price_session(session: Session, charging_session_id: str) -> SessionCost | None:
    """Store the cost of a finalized session (its energy now counted, ``ended_at`` set) and
    return it; None, storing nothing, for a session that is not finalized, whose energy is
    disputed, or that no tariff prices. A session priced before (an admin corrected its
    energy) is priced again by the same version."""
    row = session.get(ChargingSession, charging_session_id)
    if row is None or not row.finalized or row.ended_at is None:
        return None
    if row.energy_disputed_at is not None:
        return None  # priced when an admin resolves the dispute
    found = _priceable(session, charging_session_id)
    assert found is not None
    version = _version_for(found, Versions(tariff_versions(session)))
    cost = None if version is None else _cost(found, version)
    _store(row, cost)
    session.flush()
    return cost


def _cost(row: _Priceable, version: TariffPrices) -> SessionCost:
    end = row.ended_at
    assert end is not None
    return session_cost(version, row.energy_kwh, row.started_at, end, row.max_power_kw)


def _store(row: ChargingSession, cost: SessionCost | None) -> None:
    for column, value in zip(_COST_COLUMNS, _cost_values(cost), strict=True):
        setattr(row, column, value)


def _cost_values(cost: SessionCost | None) -> tuple[Any, ...]:
    if cost is None:
        return (None,) * len(_COST_COLUMNS)
    return (
        cost.tariff_id,
        cost.tariff_valid_from,
        cost.currency,
        cost.energy,
        cost.time,
        cost.fee,
        cost.total,
        cost.vat,
    )


def _so_far_select() -> Any:
    """SQL: what ``cost_now`` reads of sessions, with the version that prices each."""
    s = ChargingSession
    version, joined = session_version(
        s.tariff_id, s.tariff_valid_from, s.started_at, account_tariff(s.account_id)
    )
    return (
        select(
            s.id,
            s.started_at,
            s.ended_at,
            s.energy_kwh,
            *COST_COLUMNS,
            Charger.max_power_kw,
            *version_columns(version),
        )
        .join(Charger, Charger.id == s.charger_id)
        .outerjoin(version, joined)
    )


_SO_FAR = _so_far_select()


def live_cost(session: Session, charging_session_id: str, now: datetime) -> SessionCost | None:
    """The cost of a session as it stands at ``now`` (``cost_now``): the stored cost once it
    has one, else by the same rule with its energy and duration so far. None when no tariff
    prices it. One statement."""
    row = session.execute(_SO_FAR.where(ChargingSession.id == charging_session_id)).first()
    return None if row is None else cost_now(row, now)


def live_costs(
    session: Session, charging_session_ids: Iterable[str], now: datetime
) -> dict[str, SessionCost]:
    """``live_cost`` of the sessions of ``charging_session_ids`` that have no stored cost (a
    page of the sessions explorer: its sessions in progress), by session id, in one statement
    whatever their number; a session no tariff prices is left out."""
    ids = list(dict.fromkeys(charging_session_ids))
    if not ids:
        return {}
    stmt = _SO_FAR.where(ChargingSession.id.in_(ids), ChargingSession.cost_total.is_(None))
    out = {}
    for row in session.execute(stmt):
        cost = cost_now(row, now)
        if cost is not None:
            out[row.id] = cost
    return out


# --- pricing what no tariff priced yet, in batches -----------------------------------------------


def _unpriced() -> list[ColumnElement[bool]]:
    s = ChargingSession
    return [
        s.finalized.is_(True),
        s.ended_at.is_not(None),
        s.energy_disputed_at.is_(None),
        s.cost_total.is_(None),
    ]


def _candidates(default: str | None) -> Any:
    return _priceable_select(default).where(*_unpriced())


def _key_after(after: tuple[datetime, str] | None) -> list[ColumnElement[bool]]:
    """Keyset ``(started_at, id) > after``, written so that ``ix_sessions_started`` serves it."""
    if after is None:
        return []
    s = ChargingSession
    at, sid = after
    return [s.started_at >= at, or_(s.started_at > at, s.id > sid)]


def _batch_end(
    session: Session, after: tuple[datetime, str] | None, since: datetime | None, size: int
) -> tuple[datetime, str] | None:
    """The key of the ``size``-th session after ``after`` (None: fewer are left)."""
    s = ChargingSession
    stmt = select(s.started_at, s.id).where(*_key_after(after))
    if since is not None:
        stmt = stmt.where(s.started_at >= since)
    row = session.execute(stmt.order_by(s.started_at, s.id).offset(size - 1).limit(1)).first()
    return None if row is None else (row[0], row[1])


# One UPDATE for a whole batch: the new values arrive as one text array per column (psycopg
# dumps a list of str several times faster than one of Decimal or datetime).
_PG_ARRAYS = ("ids", *_COST_COLUMNS)
_PG_TYPES = ("text", "text", "timestamptz", "text", *("numeric",) * 5)
_PG_WRITE = text(
    "UPDATE sessions AS s SET "
    + ", ".join(f"{c} = v.{c}" for c in _COST_COLUMNS)
    + " FROM unnest("
    + ", ".join(
        f"CAST(CAST(:{name} AS text[]) AS {kind}[])"
        for name, kind in zip(_PG_ARRAYS, _PG_TYPES, strict=True)
    )
    + ") AS v(id, "
    + ", ".join(_COST_COLUMNS)
    + ') WHERE s.id = v.id COLLATE "C"'
)


def _write_costs(session: Session, costs: Sequence[tuple[str, SessionCost]]) -> None:
    """Store ``costs`` (session id, cost): on PostgreSQL one UPDATE ... FROM unnest(arrays),
    on SQLite one executemany."""
    if not costs:
        return
    values = [(sid, *_cost_values(cost)) for sid, cost in costs]
    if session.get_bind().dialect.name == "postgresql":
        arrays = [
            [None if v is None else v.isoformat() if isinstance(v, datetime) else str(v)
             for v in column]
            for column in zip(*values, strict=True)
        ]  # fmt: skip
        session.connection().execute(_PG_WRITE, dict(zip(_PG_ARRAYS, arrays, strict=True)))
        return
    t = _sessions
    stmt = (
        t.update()
        .where(t.c.id == bindparam("sid"))
        .values(
            tariff_id=bindparam("v_tariff_id", type_=String()),
            tariff_valid_from=bindparam("v_tariff_valid_from", type_=UTCDateTime()),
            currency=bindparam("v_currency", type_=String()),
            **{c: bindparam(f"v_{c}", type_=COST) for c in _COST_COLUMNS[3:]},
        )
    )
    session.execute(
        stmt,
        [
            {"sid": row[0], **{f"v_{c}": v for c, v in zip(_COST_COLUMNS, row[1:], strict=True)}}
            for row in values
        ],
    )


def _price_rows(rows: Iterable[Any], versions: Versions) -> list[tuple[str, SessionCost]]:
    out = []
    for row in rows:
        found = _Priceable(*row)
        version = _version_for(found, versions)
        if version is not None:
            out.append((found.id, _cost(found, version)))
    return out


@dataclass
class _Progress:
    what: str
    started: float
    priced: int = 0
    scanned: int = 0
    logged: float = 0.0

    def add(self, scanned: int, priced: int, at: datetime | None) -> None:
        self.scanned += scanned
        self.priced += priced
        now = time.perf_counter()
        if now - max(self.logged, self.started) >= LOG_EVERY_S:
            self.logged = now
            log.info(
                "%s: %d sessions priced of %d looked at, up to %s (%.0f rows/s)",
                self.what, self.priced, self.scanned, at, self.scanned / (now - self.started),
            )  # fmt: skip


def price_unpriced_sessions(
    session: Session,
    *,
    since: datetime | None = None,
    batch_size: int = PRICING_BATCH,
) -> int:
    """Store the cost of every finalized session (started at or after ``since``, when given)
    that has none although a tariff now prices it; returns how many were priced.

    Batches of ``batch_size`` sessions by keyset on (``started_at``, ``id``): the batch's end
    is found by index, then its unpriced sessions are read, priced by ``session_cost`` and
    written with one UPDATE (PostgreSQL: ``UPDATE ... FROM unnest(...)``). Progress is logged
    (``polaris.pricing``) every few seconds. Sessions priced already are never touched."""
    versions = Versions.load(session)
    if not versions:
        return 0  # nothing can price a session
    first = min(vs[0].valid_from for vs in versions.by_tariff.values())
    since = first if since is None else max(since, first)
    default = default_tariff_id(session)
    progress = _Progress("pricing sessions", time.perf_counter())
    after: tuple[datetime, str] | None = None
    s = ChargingSession
    while True:
        end = _batch_end(session, after, since, batch_size)
        stmt = _candidates(default).where(s.started_at >= since, *_key_after(after))
        if end is not None:
            stmt = stmt.where(s.started_at <= end[0], or_(s.started_at < end[0], s.id <= end[1]))
        costs = _price_rows(session.connection().execute(stmt), versions)
        _write_costs(session, costs)
        progress.add(batch_size if end is not None else 0, len(costs), end and end[0])
        if end is None:
            break
        after = end
    if progress.priced:
        log.info("priced %d sessions that a tariff now covers", progress.priced)
    return progress.priced


def price_sessions(session: Session, session_ids: Iterable[str]) -> int:
    """``price_session`` for many sessions at once (an import's rows): those of ``session_ids``
    that are finalized, undisputed and without a cost; returns how many were priced."""
    versions = Versions.load(session)
    if not versions:
        return 0
    default = default_tariff_id(session)
    ids = list(dict.fromkeys(session_ids))
    priced = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        costs = _price_rows(
            session.execute(_candidates(default).where(ChargingSession.id.in_(chunk))), versions
        )
        _write_costs(session, costs)
        priced += len(costs)
    return priced


# --- what a new version would change ------------------------------------------------------------


def repricing_conflict(
    session: Session, tariff_id: str, valid_from: datetime, *, versions: Versions | None = None
) -> str | None:
    """Why a version of ``tariff_id`` from ``valid_from`` (new, or changed prices of an
    existing one) may not be written, or None: it would be in force at the start of a session
    already priced by an earlier (or this) version of the tariff, or change the price of a
    session in progress that the tariff prices (shown before it started)."""
    s = ChargingSession
    priced = session.execute(
        select(s.id, s.started_at)
        .where(
            s.tariff_id == tariff_id,
            s.started_at >= valid_from,
            or_(s.tariff_valid_from.is_(None), s.tariff_valid_from <= valid_from),
        )
        .order_by(s.started_at.desc())
        .limit(1)
    ).first()
    if priced is not None:
        return (
            f"session {priced.id} (started {priced.started_at:%Y-%m-%d %H:%M} UTC), which this "
            f"tariff priced already; a version must start after it"
        )
    versions = versions if versions is not None else Versions.load(session)
    default = default_tariff_id(session)
    running = session.execute(
        select(s.id, s.started_at)
        .join(Account, Account.id == s.account_id)
        .outerjoin(Plan, Plan.id == Account.plan_id)
        .where(
            s.ended_at.is_(None),
            s.started_at >= valid_from,
            _account_tariff_column(default) == tariff_id,
        )
        .order_by(s.started_at.desc())
    ).all()
    for sid, started_at in running:
        shown = versions.in_force(tariff_id, started_at)
        if shown is None or shown.valid_from <= valid_from:
            return (
                f"session {sid} in progress (started {started_at:%Y-%m-%d %H:%M} UTC), which "
                f"keeps the price shown when it started; a version must start after it"
            )
    return None


# --- creating versions and assigning tariffs -------------------------------------------------


def parse_price(raw: object, what: str) -> Decimal | None:
    """A price an operator typed: empty is None (counts as 0), else a number >= 0 with at
    most 4 decimals."""
    if raw is None or isinstance(raw, bool):
        return None
    text_ = text_value(raw) if isinstance(raw, str) else str(raw)
    if not text_:
        return None
    try:
        value = Decimal(text_)
    except InvalidOperation:
        raise InvalidInput(f"The {what} must be a number, like 0.39.") from None
    if not value.is_finite():
        raise InvalidInput(f"The {what} must be a number, like 0.39.")
    if value < 0:
        raise InvalidInput(f"The {what} cannot be negative.")
    if value > MAX_PRICE:
        raise InvalidInput(f"The {what} is too large.")
    if value != value.quantize(Decimal(1).scaleb(-PRICE_DECIMALS)):
        raise InvalidInput(f"Use at most {PRICE_DECIMALS} decimals for the {what}.")
    return value


def parse_free_minutes(raw: object) -> int | None:
    text_ = text_value(raw) if isinstance(raw, str) else ("" if raw is None else str(raw))
    if not text_:
        return None
    if not text_.isdigit():
        raise InvalidInput("The free minutes must be a whole number of minutes, 0 or more.")
    minutes = int(text_)
    if minutes > MAX_FREE_MINUTES:
        raise InvalidInput(f"At most {MAX_FREE_MINUTES} free minutes.")
    return minutes


def parse_vat(raw: object) -> Decimal | None:
    value = parse_price(raw, "VAT rate")
    if value is None:
        return None
    if value > 100:
        raise InvalidInput("The VAT rate is a percentage from 0 to 100.")
    if value != value.quantize(Decimal(1).scaleb(-VAT_DECIMALS)):
        raise InvalidInput(f"Use at most {VAT_DECIMALS} decimals for the VAT rate.")
    return value


def _valid_from(raw: object) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(text_value(raw))
        except ValueError:
            raise InvalidInput("Give the date and time the version starts from.") from None
    if value.tzinfo is None:
        raise InvalidInput("The start of a version needs a time zone.")
    return value


def create_tariff_version(
    session: Session,
    *,
    tariff_id: object,
    valid_from: object,
    name: object,
    currency: object = "",
    energy_price_per_kwh: object = None,
    dc_energy_price_per_kwh: object = None,
    session_fee: object = None,
    time_price_per_hour: object = None,
    time_free_minutes: object = None,
    vat_percent: object = None,
) -> TariffPrices:
    """A new version of a tariff (a new tariff with its first version). Refused, with a
    message per field (``InvalidInput``): a bad or negative price, a VAT rate outside 0-100,
    a currency other than the operator's (blank: the operator's), a version that exists, and
    one that would re-price a session (``repricing_conflict``; ``valid_from``). Then prices
    the finalized sessions the version now covers that had no cost yet."""
    checks = FieldChecks()
    clean_id = checks.run("tariff_id", validate_id, tariff_id, "tariff id")
    start = checks.run("valid_from", _valid_from, valid_from)
    clean_name = checks.run("name", validate_name, name, "a tariff name")
    operator_currency = operator_settings(session).currency
    code = operator_currency
    if text_value(currency):
        code = checks.run("currency", validate_currency, currency) or operator_currency
        if code != operator_currency:
            checks.fail("currency", f"Tariffs are in the operator's currency, {operator_currency}.")
    labels = {
        "energy_price_per_kwh": "energy price",
        "dc_energy_price_per_kwh": "DC energy price",
        "session_fee": "session fee",
        "time_price_per_hour": "time price",
    }
    given = dict(
        zip(
            PRICE_FIELDS,
            (energy_price_per_kwh, dc_energy_price_per_kwh, session_fee, time_price_per_hour),
            strict=True,
        )
    )
    prices = {f: checks.run(f, parse_price, given[f], labels[f]) for f in PRICE_FIELDS}
    free = checks.run("time_free_minutes", parse_free_minutes, time_free_minutes)
    vat = checks.run("vat_percent", parse_vat, vat_percent)
    if clean_id is not None and start is not None:
        if session.get(TariffVersion, (clean_id, start)) is not None:
            checks.fail("valid_from", "This tariff already has a version from that moment.")
        else:
            conflict = repricing_conflict(session, clean_id, start)
            if conflict is not None:
                checks.fail("valid_from", f"This version would re-price {conflict}.")
    checks.raise_if_any()
    assert clean_id is not None and start is not None and clean_name is not None
    row = TariffVersion(
        tariff_id=clean_id,
        valid_from=start,
        name=clean_name,
        currency=code,
        time_free_minutes=free,
        vat_percent=vat,
        **prices,
    )
    session.add(row)
    session.flush()
    price_unpriced_sessions(session, since=start)
    return prices_of(row)


def _existing_tariff(session: Session, tariff_id: object) -> str | None:
    if tariff_id is None or (isinstance(tariff_id, str) and not tariff_id.strip()):
        return None
    found = (
        session.scalar(select(TariffVersion.tariff_id).where(TariffVersion.tariff_id == tariff_id))
        if isinstance(tariff_id, str)
        else None
    )
    if found is None:
        raise NotFound(f"There is no tariff {tariff_id!s:.64}.", "tariff_id")
    return found


def set_default_tariff(
    session: Session, tariff_id: object, *, actor: Actor, now: datetime
) -> str | None:
    """The operator's default tariff (None or blank: none), for accounts whose plan has no
    tariff and ad hoc charging; then prices the finalized sessions it now covers."""
    clean = _existing_tariff(session, tariff_id)
    row = session.get(Operator, 1)
    if row is None:
        raise Refused("Save the operator's settings first.")
    before = {"default_tariff_id": row.default_tariff_id}
    row.default_tariff_id = clean
    session.flush()
    after = {"default_tariff_id": clean}
    record(
        session, actor, now, Action.operator_default_tariff_set, "operator", row.id,
        before=before, after=after,
    )  # fmt: skip
    price_unpriced_sessions(session)
    return clean


def set_plan_tariff(
    session: Session, plan_id: object, tariff_id: object, *, actor: Actor, now: datetime
) -> str | None:
    """The tariff of a plan (None or blank: the operator's default prices its accounts);
    then prices the finalized sessions it now covers."""
    plan = session.get(Plan, plan_id) if isinstance(plan_id, str) else None
    if plan is None:
        raise NotFound("That plan no longer exists. Reload the page.")
    before = {"tariff_id": plan.tariff_id}
    plan.tariff_id = _existing_tariff(session, tariff_id)
    session.flush()
    after = {"tariff_id": plan.tariff_id}
    record(session, actor, now, Action.plan_tariff_set, "plan", plan.id, before=before, after=after)
    price_unpriced_sessions(session)
    return plan.tariff_id


def tariff_ids(session: Session) -> list[str]:
    """Every tariff's id, sorted."""
    return list(
        session.scalars(
            select(TariffVersion.tariff_id).distinct().order_by(TariffVersion.tariff_id)
        )
    )
