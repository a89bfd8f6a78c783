"""Alerts: an outage that lasts longer than the operator's delay opens one alert, sent once, and
its end sends one recovery; a daily digest if the operator wants one (issue 17).

- ``alerts``: one row per alert, for one charger or for the site (``scope``): the operator's
  chargers have no site of their own, so the site is the fleet. ``alert_outages`` links each
  outage to at most one alert (its primary key is the outage): one alert per outage, whichever
  worker or pass gets there first.
- ``evaluate`` (the worker, never a web request or the OCPP server): recoveries first (an alert
  whose outages have all ended), then new alerts for open outages past the delay. Outages that
  start within ``GROUP_WINDOW`` of one another on ``SITE_GROUP_MIN`` chargers or more (or on every
  charger) open ONE site alert; an outage of a charger (or site) that already has an open alert
  joins it silently. Each decision enqueues its messages in the outbox
  (``data.uptime.deliveries``) in the same transaction.
- Settings (``alert_settings``, one row; none: the defaults): the delay and the digest mode,
  edited on ``/admin/settings`` through ``save_alert_settings`` (validated, audited).
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Table,
    exists,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.accounts.validation import FieldChecks, InvalidInput, text_value
from data.audit.entries import Action, Actor, record
from data.charging.dashboard import operator_settings
from data.core.models import BYTE_ORDER_ID, Base, Charger, UTCDateTime, _enum
from data.uptime.deliveries import MAX_ATTEMPTS, AlertDelivery, Channel, DeliveryKind, enqueue
from data.uptime.outages import Outage

DEFAULT_DELAY_S = 5 * 60
DELAY_MINUTES_BOUNDS = (1, 24 * 60)
# Outages starting this close to the first of a group dropped together. Chargers silenced by
# one power cut start their offline outages at their last message, which a heartbeat every 5
# minutes (the OCPP server's default interval) spreads over up to 5 minutes.
GROUP_WINDOW = timedelta(minutes=5)
SITE_GROUP_MIN = 3
DIGEST_HOUR = 8  # the digest of a day goes out from this hour on, in the operator's time zone
ALERT_LOCK_KEY = 0x504C5241  # "PLRA": one evaluation at a time on PostgreSQL
OPEN_LIST_LIMIT = 100


class DigestMode(enum.StrEnum):
    """``off``: an email per alert; ``also``: those and a daily digest; ``only``: the digest
    instead of per-alert emails (webhooks get every alert whatever the mode)."""

    off = "off"
    also = "also"
    only = "only"


class AlertScope(enum.StrEnum):
    charger = "charger"
    site = "site"


class AlertSettings(Base):
    __tablename__ = "alert_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("delay_s > 0", name="delay_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    delay_s: Mapped[int] = mapped_column(Integer, default=DEFAULT_DELAY_S)
    digest: Mapped[DigestMode] = mapped_column(
        _enum(DigestMode, "alert_digest"), default=DigestMode.off
    )


_OPEN = "recovered_at IS NULL"


class Alert(Base):
    """An alert for one charger (``charger_id``) or the site (None); ``started_at``: when its
    first outage began; ``recovered_at``: when its last one ended (None: still open)."""

    __tablename__ = "alerts"
    __table_args__ = (
        # The admin nav's count and the open list read only this (one indexed COUNT).
        Index(
            "ix_alerts_open", "opened_at", postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[AlertScope] = mapped_column(_enum(AlertScope, "alert_scope"))
    charger_id: Mapped[str | None] = mapped_column(
        ForeignKey("chargers.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertOutage(Base):
    """Which alert an outage belongs to: at most one (the primary key)."""

    __tablename__ = "alert_outages"

    outage_id: Mapped[str] = mapped_column(
        BYTE_ORDER_ID, ForeignKey("outages.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)


_links = typing.cast(Table, AlertOutage.__table__)
_INSERTS: dict[str, Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


# --- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSettingsValues:
    delay_s: int
    digest: DigestMode

    @property
    def delay_minutes(self) -> int:
        return max(self.delay_s // 60, 1)


DEFAULT_SETTINGS = AlertSettingsValues(DEFAULT_DELAY_S, DigestMode.off)


def alert_settings(session: Session) -> AlertSettingsValues:
    row = session.get(AlertSettings, 1)
    return DEFAULT_SETTINGS if row is None else AlertSettingsValues(row.delay_s, row.digest)


def _delay_minutes(raw: object) -> int:
    low, high = DELAY_MINUTES_BOUNDS
    value = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else text_value(raw)
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput(f"A whole number of minutes from {low} to {high}.")
    return int(value)


def _digest(raw: object) -> DigestMode:
    try:
        return DigestMode(str(raw))
    except ValueError:
        raise InvalidInput("Choose one of the list.") from None


def save_alert_settings(
    session: Session, *, delay_minutes: object, digest: object, actor: Actor, now: datetime
) -> AlertSettingsValues:
    """Validate both fields (errors keyed ``delay_minutes``, ``digest``) and save, or nothing."""
    checks = FieldChecks()
    minutes = checks.run("delay_minutes", _delay_minutes, delay_minutes)
    mode = checks.run("digest", _digest, digest)
    checks.raise_if_any()
    assert minutes is not None and mode is not None
    before = alert_settings(session)
    row = session.get(AlertSettings, 1)
    if row is None:
        row = AlertSettings(id=1)
        session.add(row)
    row.delay_s, row.digest = minutes * 60, mode
    session.flush()
    saved = AlertSettingsValues(minutes * 60, mode)
    record(
        session, actor, now, Action.alert_settings_updated, "alert_settings", 1,
        before=_fields(before), after=_fields(saved),
    )  # fmt: skip
    return saved


def _fields(values: AlertSettingsValues) -> dict[str, object]:
    return {"delay_minutes": values.delay_s // 60, "digest": values.digest.value}


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    opened: int
    recovered: int
    digests: int


@dataclass(frozen=True)
class _Down:
    outage_id: str
    charger_id: str
    started_at: datetime


def evaluate(session: Session, now: datetime, channels: Collection[Channel]) -> Evaluation:
    """One pass: recoveries, new alerts, the day's digest; their messages for ``channels`` (the
    configured ones) in the outbox. Safe to run again, and from several workers at once."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ALERT_LOCK_KEY})
    settings = alert_settings(session)
    tz = operator_settings(session).tz
    # First a write: on SQLite it takes the write lock, so the rest of the pass is serialized.
    recovered = _recover(session, now)
    for alert_id in recovered:
        _announce(session, alert_id, DeliveryKind.recovered, settings, channels, tz, now)
    opened = _open_alerts(session, now, settings)
    for alert_id in opened:
        _announce(session, alert_id, DeliveryKind.opened, settings, channels, tz, now)
    digests = _digest_due(session, now, settings, channels, tz)
    return Evaluation(len(opened), len(recovered), digests)


def _recover(session: Session, now: datetime) -> list[int]:
    """Close every open alert whose outages have all ended, at the last end; their ids."""
    linked = _links.join(Outage, Outage.id == _links.c.outage_id)
    mine = _links.c.alert_id == Alert.id
    still_down = exists(select(1).select_from(linked).where(mine, Outage.ended_at.is_(None)))
    last_end = select(func.max(Outage.ended_at)).select_from(linked).where(mine).scalar_subquery()
    statement = (
        update(Alert)
        .where(Alert.recovered_at.is_(None), ~still_down)
        .values(recovered_at=func.coalesce(last_end, literal(now, UTCDateTime())))
        .returning(Alert.id)
    )
    return sorted(session.execute(statement).scalars())


def _open_alerts(session: Session, now: datetime, settings: AlertSettingsValues) -> list[int]:
    unalerted = ~exists().where(_links.c.outage_id == Outage.id)
    rows = session.execute(
        select(Outage.id, Outage.charger_id, Outage.started_at)
        .where(Outage.ended_at.is_(None), unalerted)
        .order_by(Outage.started_at, Outage.charger_id)
    ).all()
    if not rows:
        return []
    down = [_Down(r.id, r.charger_id, r.started_at) for r in rows]
    # Each charger already in an open alert (its own or a site's), and the open site alerts.
    in_alert = session.execute(
        select(Alert.id, Outage.charger_id)
        .join(_links, _links.c.alert_id == Alert.id)
        .join(Outage, Outage.id == _links.c.outage_id)
        .where(Alert.recovered_at.is_(None))
    ).all()
    by_charger = {r.charger_id: r.id for r in in_alert}
    sites = session.execute(
        select(Alert.id, Alert.started_at).where(
            Alert.recovered_at.is_(None), Alert.charger_id.is_(None)
        )
    ).all()
    fresh: list[_Down] = []
    for d in down:  # joins an open alert silently: no second message for the same trouble
        # A charger of the site dropping late (its last heartbeat within the window) joins the
        # site's alert; a charger elsewhere going down meanwhile gets its own.
        late = (a.id for a in sites if abs(d.started_at - a.started_at) <= GROUP_WINDOW)
        joined = by_charger.get(d.charger_id) or next(late, None)
        if joined is not None:
            _link(session, joined, [d])
        else:
            fresh.append(d)
    fleet = session.execute(select(func.count()).select_from(Charger)).scalar_one()
    due_before = now - timedelta(seconds=settings.delay_s)
    opened: list[int] = []
    for group in _groups(fresh):
        if group[0].started_at > due_before:
            continue  # its first outage is not past the delay yet
        chargers = {d.charger_id for d in group}
        if len(chargers) >= SITE_GROUP_MIN or (len(chargers) == fleet > 1):
            opened += _new_alert(session, AlertScope.site, None, group, now)
            continue
        for charger_id in sorted(chargers):
            mine = [d for d in group if d.charger_id == charger_id and d.started_at <= due_before]
            if mine:
                opened += _new_alert(session, AlertScope.charger, charger_id, mine, now)
    return opened


def _groups(down: Sequence[_Down]) -> list[list[_Down]]:
    """Outages in start order, cut where one starts more than ``GROUP_WINDOW`` after its
    group's first."""
    groups: list[list[_Down]] = []
    for d in down:
        if groups and d.started_at - groups[-1][0].started_at <= GROUP_WINDOW:
            groups[-1].append(d)
        else:
            groups.append([d])
    return groups


def _link(session: Session, alert_id: int, down: Sequence[_Down]) -> int:
    """Link ``down`` to the alert, skipping outages another pass linked first; how many."""
    statement = _INSERTS[session.get_bind().dialect.name](_links).values(
        [{"outage_id": d.outage_id, "alert_id": alert_id} for d in down]
    )
    statement = statement.on_conflict_do_nothing(index_elements=["outage_id"])
    return len(session.execute(statement.returning(_links.c.outage_id)).all())


def _new_alert(
    session: Session, scope: AlertScope, charger_id: str | None, down: list[_Down], now: datetime
) -> list[int]:
    alert = Alert(
        scope=scope,
        charger_id=charger_id,
        started_at=min(d.started_at for d in down),
        opened_at=now,
    )
    session.add(alert)
    session.flush()
    if _link(session, alert.id, down):
        return [alert.id]
    session.delete(alert)  # another worker alerted every one of them first
    session.flush()
    return []


# --- messages -----------------------------------------------------------------------------------


def _channels_for(
    kind: DeliveryKind, settings: AlertSettingsValues, channels: Collection[Channel]
) -> list[Channel]:
    """Per-alert messages: every webhook; email unless the digest replaces it."""
    wanted = [Channel.webhook]
    if settings.digest is not DigestMode.only:
        wanted.append(Channel.email)
    return [c for c in wanted if c in channels] if kind is not DeliveryKind.digest else []


def _when(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _duration(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@dataclass(frozen=True)
class AlertView:
    id: int
    scope: AlertScope
    chargers: tuple[tuple[str, str], ...]  # (id, friendly name) of its outages' chargers
    started_at: datetime
    opened_at: datetime
    recovered_at: datetime | None

    @property
    def label(self) -> str:
        if self.scope is AlertScope.site:
            return f"Site-wide: {len(self.chargers)} chargers"
        return ", ".join(f"{name} ({cid})" for cid, name in self.chargers) or "A charger"


def _views(session: Session, alert_ids: Sequence[int]) -> list[AlertView]:
    if not alert_ids:
        return []
    alerts = session.execute(
        select(Alert).where(Alert.id.in_(alert_ids)).order_by(Alert.opened_at.desc(), Alert.id)
    ).scalars()
    chargers = session.execute(
        select(_links.c.alert_id, Charger.id, Charger.friendly_name)
        .distinct()
        .select_from(_links.join(Outage, Outage.id == _links.c.outage_id))
        .join(Charger, Charger.id == Outage.charger_id)
        .where(_links.c.alert_id.in_(alert_ids))
        .order_by(Charger.id)
    ).all()
    names: dict[int, list[tuple[str, str]]] = {}
    for row in chargers:
        names.setdefault(row.alert_id, []).append((row.id, row.friendly_name))
    return [
        AlertView(
            a.id, a.scope, tuple(names.get(a.id, ())), a.started_at, a.opened_at, a.recovered_at
        )
        for a in alerts
    ]


def _payload(kind: DeliveryKind, alert: AlertView, tz: ZoneInfo) -> dict[str, Any]:
    if kind is DeliveryKind.recovered:
        assert alert.recovered_at is not None
        down_for = _duration(alert.recovered_at - alert.started_at)
        subject = f"Back up: {alert.label} after {down_for}"
        body = f"{alert.label} is back since {_when(alert.recovered_at, tz)} (down {down_for})."
    else:
        subject = f"Down: {alert.label} since {_when(alert.started_at, tz)}"
        body = f"{alert.label} cannot charge since {_when(alert.started_at, tz)}."
    chargers = "\n".join(f"- {name} ({cid})" for cid, name in alert.chargers)
    return {
        "event": f"alert.{kind.value}",
        "alert": _alert_json(alert),
        "subject": subject,
        "text": f"{body}\n\nChargers:\n{chargers}\n",
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _alert_json(alert: AlertView) -> dict[str, Any]:
    return {
        "id": alert.id,
        "scope": alert.scope.value,
        "chargers": [{"id": cid, "name": name} for cid, name in alert.chargers],
        "started_at": _iso(alert.started_at),
        "opened_at": _iso(alert.opened_at),
        "recovered_at": _iso(alert.recovered_at),
    }


def _announce(
    session: Session,
    alert_id: int,
    kind: DeliveryKind,
    settings: AlertSettingsValues,
    channels: Collection[Channel],
    tz: ZoneInfo,
    now: datetime,
) -> None:
    wanted = _channels_for(kind, settings, channels)
    if not wanted:
        return
    (view,) = _views(session, [alert_id])
    payload = _payload(kind, view, tz)
    for channel in wanted:
        key = f"alert:{alert_id}:{kind.value}:{channel.value}"
        enqueue(session, key, channel, kind, payload, now, alert_id=alert_id)


def _digest_due(
    session: Session,
    now: datetime,
    settings: AlertSettingsValues,
    channels: Collection[Channel],
    tz: ZoneInfo,
) -> int:
    """The day's digest email, once, from ``DIGEST_HOUR`` on: the alerts still open and those
    opened in the last 24 hours; nothing on a day without any."""
    local = now.astimezone(tz)
    if settings.digest is DigestMode.off or Channel.email not in channels:
        return 0
    if local.hour < DIGEST_HOUR:
        return 0
    key = f"digest:{local.date().isoformat()}"
    if session.execute(select(AlertDelivery.id).where(AlertDelivery.dedupe_key == key)).first():
        return 0
    ids = session.execute(
        select(Alert.id).where(
            (Alert.recovered_at.is_(None)) | (Alert.opened_at >= now - timedelta(hours=24))
        )
    ).scalars()
    views = _views(session, list(ids))
    if not views:
        return 0
    still_open = [v for v in views if v.recovered_at is None]
    lines = [
        f"- {v.label}: down since {_when(v.started_at, tz)}"
        + ("" if v.recovered_at is None else f", back since {_when(v.recovered_at, tz)}")
        for v in views
    ]
    payload = {
        "event": "alerts.digest",
        "alerts": [_alert_json(v) for v in views],
        "subject": f"Alerts digest {local.date().isoformat()}: {len(still_open)} open, "
        f"{len(views)} in the last 24 h",
        "text": "Open alerts and those of the last 24 hours:\n" + "\n".join(lines) + "\n",
    }
    return int(enqueue(session, key, Channel.email, DeliveryKind.digest, payload, now))


# --- reading them back --------------------------------------------------------------------------

_OPEN_COUNT = select(func.count()).select_from(Alert).where(Alert.recovered_at.is_(None))


def count_open_alerts(session: Session) -> int:
    """The admin nav's badge: one COUNT over the partial index ``ix_alerts_open``."""
    return int(session.execute(_OPEN_COUNT).scalar_one())


@dataclass(frozen=True)
class OpenAlert:
    alert: AlertView
    sent: str  # what became of its messages, in words


def _sent_status(rows: Sequence[Any]) -> str:
    if not rows:
        return "Not sent (no channel configured, or digest only)"
    done = sorted(r.channel for r in rows if r.sent_at is not None)
    if len(done) == len(rows):
        return "Sent (" + ", ".join(done) + ")"
    dead = [r for r in rows if r.sent_at is None and r.attempts >= MAX_ATTEMPTS]
    if dead:
        return f"Failed after {MAX_ATTEMPTS} attempts: {dead[0].last_error or 'unknown error'}"
    waiting = [r for r in rows if r.sent_at is None]
    tries = max(r.attempts for r in waiting)
    return "Pending" if tries == 0 else f"Retrying ({tries} attempts so far)"


def open_alerts(session: Session, limit: int = OPEN_LIST_LIMIT) -> list[OpenAlert]:
    """The newest open alerts with their chargers and what became of their messages."""
    ids = list(
        session.execute(
            select(Alert.id)
            .where(Alert.recovered_at.is_(None))
            .order_by(Alert.opened_at.desc(), Alert.id.desc())
            .limit(limit)
        ).scalars()
    )
    deliveries = session.execute(
        select(
            AlertDelivery.alert_id,
            AlertDelivery.channel,
            AlertDelivery.sent_at,
            AlertDelivery.attempts,
            AlertDelivery.last_error,
        ).where(AlertDelivery.alert_id.in_(ids), AlertDelivery.kind == DeliveryKind.opened.value)
    ).all()
    by_alert: dict[int, list[Any]] = {}
    for row in deliveries:
        by_alert.setdefault(row.alert_id, []).append(row)
    return [OpenAlert(v, _sent_status(by_alert.get(v.id, []))) for v in _views(session, ids)]
