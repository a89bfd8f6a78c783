"""The charger status rule (``shared/spec/data-exchange.md``): Online, In use, Reserved, Out of
order or Offline, as one SQL expression usable over ``Charger`` in any query (the driver's
dashboard, the fleet, snapshots, exports), and the few chargers that may not be Online."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, CompoundSelect, and_, case, func, literal, or_, select, union

from data.core.models import (
    Charger,
    ChargingSession,
    ConnectorStatus,
    Reservation,
    ReservationStatus,
)
from data.core.sql import AnySelect

# A charger silent for longer than this is Offline (data-exchange spec: one hour). The one
# default: the app's POLARIS_OFFLINE_AFTER_S (config.py) overrides it and callers pass it in.
OFFLINE_AFTER_SECONDS = 3600


class ChargerStatus(enum.StrEnum):
    online = "Online"
    in_use = "In use"
    reserved = "Reserved"
    out_of_order = "Out of order"  # the charger itself reported Faulted / Unavailable
    offline = "Offline"


# What a charger itself reports (OCPP StatusNotification, latest per connector). Faulted or
# Unavailable on connector 0 (the whole charger) or on every reported connector: Out of order.
# Charging (or suspended mid-transaction, a car still plugged in): In use, even before the
# session reaches us, because a driver arriving there finds it occupied.
OUT_OF_ORDER_REPORTS = ("Faulted", "Unavailable")
IN_USE_REPORTS = ("Charging", "SuspendedEV", "SuspendedEVSE")
_REPORT_IN_USE = "in use"
_REPORT_OUT_OF_ORDER = "out of order"

# Statuses a reservation must have to hold a charger right now.
HOLDING_STATUSES = (ReservationStatus.active, ReservationStatus.confirmed)

# "Most useful first": a driver scans for a charger they can use now.
STATUS_RANK = {
    ChargerStatus.online.value: 0,
    ChargerStatus.reserved.value: 1,
    ChargerStatus.in_use.value: 2,
    ChargerStatus.out_of_order.value: 3,
    ChargerStatus.offline.value: 4,
}


def charger_status_expression(
    now: datetime, offline_after_s: int = OFFLINE_AFTER_SECONDS
) -> ColumnElement[str]:
    """The customer-facing status of ``Charger`` at ``now``, as one SQL CASE (spec order).

    Usable in any ``select`` over ``Charger`` (the dashboard, the admin fleet view). Offline is
    tested first (silent for more than ``offline_after_s``), so a silent charger is Offline even
    with a session open on it; then In use (an open session, or the charger reports Charging);
    then Reserved; then Out of order (the charger reports Faulted/Unavailable, see
    ``OUT_OF_ORDER_REPORTS``); Online is everything else, and only Online counts as available.
    A new reason for a status other than Online must also go into ``maybe_not_online_ids``.
    """
    # "Older than one hour" is strict: a heartbeat exactly one hour old is still Online.
    offline_before = now - timedelta(seconds=offline_after_s)
    # Uncorrelated IN (...) rather than correlated EXISTS: each set is computed once per query
    # and probed per charger (PostgreSQL: hashed subplan; SQLite: one ephemeral index), and the
    # planner's cost estimate stays small, which keeps PostgreSQL's JIT (tens of ms) out of it.
    in_use = select(ChargingSession.charger_id).where(
        # Partial index ix_sessions_in_progress_charger holds only open sessions.
        ChargingSession.ended_at.is_(None)
    )
    reserved = select(Reservation.charger_id).where(
        Reservation.starts_at <= now,
        Reservation.ends_at > now,
        Reservation.status.in_(HOLDING_STATUSES),
    )
    # The charger's own report is looked up once per charger (a "simple" CASE evaluates its
    # operand once), and only for chargers that are heard from and have no session open.
    report = _reported_condition()
    return case(
        (
            or_(Charger.last_seen_at.is_(None), Charger.last_seen_at < offline_before),
            literal(ChargerStatus.offline.value),
        ),
        (Charger.id.in_(in_use), literal(ChargerStatus.in_use.value)),
        else_=case(
            {
                _REPORT_IN_USE: literal(ChargerStatus.in_use.value),
                _REPORT_OUT_OF_ORDER: case(
                    (Charger.id.in_(reserved), literal(ChargerStatus.reserved.value)),
                    else_=literal(ChargerStatus.out_of_order.value),
                ),
            },
            value=report,
            else_=case(
                (Charger.id.in_(reserved), literal(ChargerStatus.reserved.value)),
                else_=literal(ChargerStatus.online.value),
            ),
        ),
    )


def chargers_with_status(now: datetime, offline_after_s: int = OFFLINE_AFTER_SECONDS) -> AnySelect:
    """Every charger as the admin pages show it: ``charger_id``, ``friendly_name``,
    ``connector_type``, ``max_power_kw``, ``visibility``, ``last_seen_at`` and its ``status`` at
    ``now`` (the fleet table's rows, the charger page's heading)."""
    return select(
        Charger.id.label("charger_id"),
        Charger.friendly_name,
        Charger.connector_type,
        Charger.max_power_kw,
        Charger.visibility,
        Charger.last_seen_at,
        charger_status_expression(now, offline_after_s).label("status"),
    )


def reports_out_of_order() -> ColumnElement[bool]:
    """True when ``Charger``'s latest StatusNotifications make it Out of order by the rule
    (Faulted/Unavailable on connector 0 or on every reported connector, nothing charging): what
    the outage log follows (``data.uptime.live``)."""
    return _reported_condition() == literal(_REPORT_OUT_OF_ORDER)


def _reported_condition() -> ColumnElement[str]:
    """What ``Charger``'s latest StatusNotifications say: ``in use``, ``out of order`` or
    ``ok`` (also when it never reported). One aggregate over the charger's own rows, a range of
    the connector_statuses primary key (charger_id, connector_id): a few rows per charger."""
    cs = ConnectorStatus
    out = cs.status.in_(OUT_OF_ORDER_REPORTS)

    def any_row(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return func.max(case((condition, 1), else_=0)) == 1

    return (
        select(
            case(
                (any_row(cs.status.in_(IN_USE_REPORTS)), literal(_REPORT_IN_USE)),
                (
                    or_(
                        any_row(and_(cs.connector_id == 0, out)),
                        # Every reported connector is down (at least one reported).
                        and_(
                            any_row(cs.connector_id > 0), ~any_row(and_(cs.connector_id > 0, ~out))
                        ),
                    ),
                    literal(_REPORT_OUT_OF_ORDER),
                ),
                else_=literal("ok"),
            )
        )
        .where(cs.charger_id == Charger.id)
        .correlate(Charger)
        .scalar_subquery()
    )


def maybe_not_online_ids(
    now: datetime, offline_after_s: int = OFFLINE_AFTER_SECONDS
) -> CompoundSelect:
    """Ids of every charger whose status at ``now`` may be other than Online: silent, a session
    open, a holding reservation now, or a report of charging or out of order. A charger outside
    this set is Online by ``charger_status_expression``, so the dashboard runs that rule only for
    these few, not for the whole fleet. Keep the two in step (tests/test_bench.py checks them
    against each other on every kind of status)."""
    offline_before = now - timedelta(seconds=offline_after_s)
    return union(
        select(Charger.id).where(
            or_(Charger.last_seen_at.is_(None), Charger.last_seen_at < offline_before)
        ),
        select(ChargingSession.charger_id).where(ChargingSession.ended_at.is_(None)),
        select(Reservation.charger_id).where(
            Reservation.starts_at <= now,
            Reservation.ends_at > now,
            Reservation.status.in_(HOLDING_STATUSES),
        ),
        select(ConnectorStatus.charger_id).where(
            ConnectorStatus.status.in_(IN_USE_REPORTS + OUT_OF_ORDER_REPORTS)
        ),
    )
