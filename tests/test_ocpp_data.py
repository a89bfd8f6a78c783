"""data.ocpp.messages: what each OCPP 1.6J message does to the database, on SQLite and PostgreSQL.

Chargers re-send after a reconnect and deliver meter values late: nothing may be counted twice,
lowered or opened twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import data.ocpp.messages as ocpp
import data.ocpp.reservations as ocpp_reservations
from data.core.db import Database
from data.core.models import (
    Charger,
    ChargingSession,
    ConnectorStatus,
    OcppReservation,
    OcppTransaction,
    ReservationStatus,
    Visibility,
)
from data.ocpp.energy import energy_reading_wh
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_id_tag,
    make_reservation,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
T0 = "2026-11-25T08:30:00Z"


def _reading(value: str, unit: str | None = None, **extra: str) -> list[dict]:
    sampled: dict = {"value": value, **extra}
    if unit is not None:
        sampled["unit"] = unit
    return [{"timestamp": "2026-11-25T08:45:00Z", "sampled_value": [sampled]}]


@pytest.fixture
def site(db: Database) -> Database:
    """Charger C1 (public), C2 (restricted, granted to a1), C3 (restricted, no grant);
    account a1 with tag TAG1."""
    with db.session() as s:
        make_account(s, account_id="a1")
        make_charger(s, charger_id="C1")
        make_charger(s, charger_id="C2", visibility=Visibility.restricted)
        make_charger(s, charger_id="C3", visibility=Visibility.restricted)
        grant_access(s, "a1", "C2")
        make_id_tag(s, "a1", id_tag="TAG1")
    return db


def _start(db: Database, charger: str = "C1", tag: str = "TAG1", meter: int = 1000, ts=T0):
    with db.session() as s:
        return ocpp.start_transaction(s, charger, 1, tag, meter, ts, NOW)


def _energy(db: Database, session_id: str) -> Decimal:
    with db.session() as s:
        return Decimal(s.get(ChargingSession, session_id).energy_kwh)


def test_heartbeat_and_boot_move_last_seen_forward_only(site: Database):
    with site.session() as s:
        ocpp.boot_notification(s, "C1", NOW)
    with site.session() as s:
        ocpp.heartbeat(s, "C1", NOW - timedelta(minutes=5))  # a late, older message
        assert s.get(Charger, "C1").last_seen_at == NOW
    with site.session() as s:
        ocpp.heartbeat(s, "C1", NOW + timedelta(seconds=30))
    with site.session() as s:
        assert s.get(Charger, "C1").last_seen_at == NOW + timedelta(seconds=30)


def test_status_keeps_the_latest_report_per_connector(site: Database):
    with site.session() as s:
        ocpp.status_notification(s, "C1", 1, "Charging", "NoError", None, T0, NOW)
        ocpp.status_notification(s, "C1", 0, "Available", "NoError", None, T0, NOW)
    with site.session() as s:
        later = "2026-11-25T08:40:00Z"
        ocpp.status_notification(s, "C1", 1, "Faulted", "GroundFailure", "RCD tripped", later, NOW)
    with site.session() as s:
        # Arrives last but was reported earlier: must not overwrite the newer status.
        ocpp.status_notification(s, "C1", 1, "Available", "NoError", None, T0, NOW)
    with site.session() as s:
        one = s.get(ConnectorStatus, ("C1", 1))
        assert (one.status, one.error_code, one.info) == ("Faulted", "GroundFailure", "RCD tripped")
        assert one.reported_at == datetime(2026, 11, 25, 8, 40, tzinfo=UTC)
        assert s.get(ConnectorStatus, ("C1", 0)).status == "Available"
        assert s.get(Charger, "C1").last_seen_at == NOW


def test_authorize_maps_tags_to_accounts_and_respects_restricted_chargers(site: Database):
    with site.session() as s:
        assert ocpp.authorize(s, "C1", "TAG1", NOW) == "Accepted"
        assert ocpp.authorize(s, "C2", "TAG1", NOW) == "Accepted"  # granted
        assert ocpp.authorize(s, "C3", "TAG1", NOW) == "Blocked"  # restricted, no grant
        assert ocpp.authorize(s, "C1", "NO-SUCH-TAG", NOW) == "Invalid"


def test_start_opens_one_session_for_the_tags_account_even_when_resent(site: Database):
    first = _start(site)
    again = _start(site)  # re-sent after a reconnect
    assert first.status == "Accepted"
    assert again == first
    assert first.session_id == f"ocpp-{first.transaction_id}"
    with site.session() as s:
        row = s.get(ChargingSession, first.session_id)
        assert row.account_id == "a1" and row.charger_id == "C1"
        assert row.started_at == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
        assert row.ended_at is None and row.finalized is False
        assert Decimal(row.energy_kwh) == 0
        assert s.scalar(select(func.count()).select_from(ChargingSession)) == 1
        assert s.scalar(select(func.count()).select_from(OcppTransaction)) == 1


def test_unknown_tag_is_refused_and_opens_no_session(site: Database):
    refused = _start(site, tag="STRANGER")
    assert refused.status == "Invalid" and refused.session_id is None
    assert _start(site, tag="STRANGER") == refused
    with site.session() as s:
        assert s.scalar(select(func.count()).select_from(ChargingSession)) == 0
        # The charger may still stop it: acknowledged, nothing to close.
        assert (
            ocpp.stop_transaction(s, "C1", refused.transaction_id, 1500, T0, None, None, None, NOW)
            is None
        )


def test_meter_values_in_wh_and_kwh_never_lower_or_double_count(site: Database):
    started = _start(site, meter=1000)
    sid = started.session_id
    tx = started.transaction_id
    steps = [
        (_reading("2500"), Decimal("1.500")),  # unit defaults to Wh
        (_reading("2500", "Wh"), Decimal("1.500")),  # duplicate: no double count
        (_reading("2.0", "kWh"), Decimal("1.500")),  # older, lower reading (kWh): ignored
        (_reading("4.2345", "kWh"), Decimal("3.235")),  # kWh; 3.2345 rounds half up
        (_reading("9999", "Wh", measurand="Power.Active.Import"), Decimal("3.235")),
        (_reading("9999", "Wh", phase="L1"), Decimal("3.235")),  # per phase: not the total
        (_reading("not a number"), Decimal("3.235")),
    ]
    for values, expected in steps:
        with site.session() as s:
            assert ocpp.meter_values(s, "C1", 1, tx, values, NOW) == expected
        assert _energy(site, sid) == expected
    with site.session() as s:
        register = s.get(OcppTransaction, tx)
        assert Decimal(register.meter_last_wh) == Decimal("4234.500")
        assert register.meter_last_at == datetime(2026, 11, 25, 8, 45, tzinfo=UTC)


def test_meter_values_for_another_chargers_transaction_are_ignored(site: Database):
    started = _start(site)
    with site.session() as s:
        assert ocpp.meter_values(s, "C2", 1, started.transaction_id, _reading("5000"), NOW) is None
        assert ocpp.meter_values(s, "C1", 1, None, _reading("5000"), NOW) is None
        assert ocpp.meter_values(s, "C1", 1, 987654, _reading("5000"), NOW) is None
    assert _energy(site, started.session_id) == 0


def test_stop_finalizes_with_meter_stop_and_a_resent_stop_changes_nothing(site: Database):
    started = _start(site, meter=1000)
    tx = started.transaction_id
    with site.session() as s:
        ocpp.meter_values(s, "C1", 1, tx, _reading("3000"), NOW)
    stop_at = "2026-11-25T08:55:00Z"
    with site.session() as s:
        status = ocpp.stop_transaction(
            s, "C1", tx, 12345, stop_at, "EVDisconnected", "TAG1", None, NOW
        )
    assert status == "Accepted"
    with site.session() as s:
        # Re-sent with other numbers (a confused charger) and a late meter value: no effect.
        ocpp.stop_transaction(s, "C1", tx, 99999, "2026-11-25T08:58:00Z", None, None, None, NOW)
        assert ocpp.meter_values(s, "C1", 1, tx, _reading("50000"), NOW) is None
    with site.session() as s:
        row = s.get(ChargingSession, started.session_id)
        assert Decimal(row.energy_kwh) == Decimal("11.345")
        assert row.ended_at == datetime(2026, 11, 25, 8, 55, tzinfo=UTC)
        assert row.finalized is True
        tx_row = s.get(OcppTransaction, tx)
        assert tx_row.stop_reason == "EVDisconnected"
        assert Decimal(tx_row.meter_last_wh) == Decimal("12345")


def test_stop_never_lowers_energy_below_the_highest_reading(site: Database):
    started = _start(site, meter=0)
    with site.session() as s:
        ocpp.meter_values(s, "C1", 1, started.transaction_id, _reading("7000"), NOW)
        ocpp.stop_transaction(s, "C1", started.transaction_id, 6000, None, None, None, None, NOW)
    assert _energy(site, started.session_id) == Decimal("7.000")


def test_a_charger_clock_in_the_future_does_not_start_sessions_in_the_future(site: Database):
    started = _start(site, ts="2030-01-01T00:00:00Z")
    with site.session() as s:
        assert s.get(ChargingSession, started.session_id).started_at == NOW


def test_negative_meter_start_is_refused(site: Database):
    with pytest.raises(ocpp.OcppDataError), site.session() as s:
        ocpp.start_transaction(s, "C1", 1, "TAG1", -5, T0, NOW)


def test_reservations_are_sent_once_shortly_before_they_start(site: Database):
    lead = timedelta(minutes=10)
    with site.session() as s:
        soon = make_reservation(
            s, "a1", "C1", starts_at=NOW + timedelta(minutes=5), ends_at=NOW + timedelta(hours=1)
        ).id
        make_reservation(  # too far ahead
            s, "a1", "C1", starts_at=NOW + timedelta(hours=2), ends_at=NOW + timedelta(hours=3)
        )
        make_reservation(  # pending: not confirmed
            s, "a1", "C2", starts_at=NOW, ends_at=NOW + timedelta(hours=1),
            status=ReservationStatus.pending,
        )  # fmt: skip
        tagless = make_account(s, account_id="a2")
        no_tag = make_reservation(
            s, tagless, "C3", starts_at=NOW, ends_at=NOW + timedelta(minutes=30)
        ).id
    with site.session() as s:
        # Charger C2 is not connected.
        assert ocpp_reservations.due_reservations(s, NOW, lead, ["C2"]) == []
        due = ocpp_reservations.due_reservations(s, NOW, lead, ["C1", "C2", "C3"])
    assert due == [(no_tag, "C3"), (soon, "C1")]
    with site.session() as s:
        to_send = ocpp_reservations.claim_reservation(s, soon, NOW)
        assert ocpp_reservations.claim_reservation(s, no_tag, NOW) is None
    assert to_send is not None
    assert (to_send.charger_id, to_send.id_tag) == ("C1", "TAG1")
    assert to_send.expires_at == NOW + timedelta(hours=1)
    with site.session() as s:
        assert ocpp_reservations.claim_reservation(s, soon, NOW) is None  # never twice
        assert ocpp_reservations.due_reservations(s, NOW, lead, ["C1", "C3"]) == []
        ocpp_reservations.record_reserve_answer(s, to_send.ocpp_reservation_id, "Occupied", NOW)
    with site.session() as s:
        row = s.scalar(select(OcppReservation).where(OcppReservation.reservation_id == soon))
        assert (row.state, row.answered_at) == ("Occupied", NOW)
        tagless_row = s.scalar(
            select(OcppReservation).where(OcppReservation.reservation_id == no_tag)
        )
        assert tagless_row.state == "no id tag"


def test_a_cancelled_reservation_the_charger_accepted_is_cancelled_once(site: Database):
    with site.session() as s:
        reservation = make_reservation(
            s, "a1", "C1", starts_at=NOW, ends_at=NOW + timedelta(hours=1)
        )
        to_send = ocpp_reservations.claim_reservation(s, reservation.id, NOW)
        ocpp_reservations.record_reserve_answer(s, to_send.ocpp_reservation_id, "Accepted", NOW)
    with site.session() as s:
        assert ocpp_reservations.due_cancellations(s, ["C1"]) == []  # still confirmed
        s.get(type(reservation), reservation.id).status = ReservationStatus.cancelled
    with site.session() as s:
        due = ocpp_reservations.due_cancellations(s, ["C1"])
        assert [d.ocpp_reservation_id for d in due] == [to_send.ocpp_reservation_id]
        assert ocpp_reservations.claim_cancellation(s, to_send.ocpp_reservation_id, NOW) is True
        assert ocpp_reservations.claim_cancellation(s, to_send.ocpp_reservation_id, NOW) is False
        ocpp_reservations.record_cancel_answer(s, to_send.ocpp_reservation_id, "Accepted", NOW)
    with site.session() as s:
        row = s.get(OcppReservation, to_send.ocpp_reservation_id)
        assert (row.state, row.cancel_answer) == ("cancelled", "Accepted")
        assert ocpp_reservations.due_cancellations(s, ["C1"]) == []


@pytest.mark.parametrize(
    ("sampled", "expected"),
    [
        ({"value": "12"}, Decimal("12.000")),
        ({"value": "0.0125", "unit": "kWh"}, Decimal("12.500")),
        ({"value": "-1"}, None),
        ({"value": "NaN"}, None),
        ({"value": "5", "unit": "varh"}, None),
    ],
)
def test_energy_reading_units(sampled: dict, expected: Decimal | None):
    assert energy_reading_wh(sampled) == expected
