"""data.ocpp.messages: what each OCPP 1.6J message does to the database, on SQLite and PostgreSQL.

Chargers re-send after a reconnect and deliver meter values late: nothing may be counted twice,
lowered or opened twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

import data.ocpp.messages as ocpp
from data.core.db import Database
from data.core.models import (
    Charger,
    ChargingSession,
    ConnectorStatus,
    OcppTransaction,
    Visibility,
)
from data.ocpp.energy import energy_reading_wh, peak_power_w, sample_power_w
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_id_tag,
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


# --- peak power (Power.Active.Import) ----------------------------------------------------------


def _power(value: Any, unit: str | None = "W", phase: str | None = None) -> dict:
    sampled = {"value": value, "measurand": "Power.Active.Import"}
    if unit is not None:
        sampled["unit"] = unit
    if phase is not None:
        sampled["phase"] = phase
    return sampled


@pytest.mark.parametrize(
    ("sampled", "expected"),
    [
        ([_power("7400")], Decimal("7400.000")),
        ([_power("7.4", "kW")], Decimal("7400.000")),
        ([_power("150.5", None)], Decimal("151")),  # no unit: W; whole W, half up
        ([_power("0.0004", "kW")], Decimal("0")),
        ([_power("1000", "kW")], Decimal("1000000.000")),  # the most taken
        # Per phase only: the phases of one sample time add up.
        (
            [_power("3.7", "kW", "L1"), _power("3700", "W", "L2"), _power("3.6", "kW", "L3")],
            Decimal("11000.000"),
        ),
        ([_power("100", phase="L1-N"), _power("200", phase="L2-N")], Decimal("300.000")),
        # L1 and L1-N are one phase (the higher); N and line-to-line are no phase's import.
        (
            [
                _power("100", phase="L1"),
                _power("120", phase="L1-N"),
                _power("50", phase="N"),
                _power("999", phase="L1-L2"),
            ],
            Decimal("120.000"),
        ),
        # A total wins over the phases; an unreadable phase is left out of the sum.
        ([_power("100", phase="L1"), _power("11000")], Decimal("11000.000")),
        ([_power("100", phase="L1"), _power("x", phase="L2")], Decimal("100.000")),
        # The energy register and other measurands are not power.
        ([{"value": "7400"}, {"value": "7400", "unit": "W", "measurand": "Power.Offered"}], None),
        ([_power("7400", "Wh")], None),  # an energy unit
        ([_power("-5")], None),
        ([_power("NaN")], None),
        ([_power("sNaN")], None),
        ([_power("Infinity")], None),
        ([_power("not a number")], None),
        ([_power(None)], None),
        ([_power("1e999999")], None),
        ([_power("1000.001", "kW")], None),  # above 1,000 kW: absurd
        ([_power("400", "kW", p) for p in ("L1", "L2", "L3")], None),  # absurd in all
        ([], None),
    ],
)
def test_sample_power_units_phases_and_bad_values(sampled: list, expected: Decimal | None):
    assert sample_power_w(sampled) == expected


def test_peak_power_is_the_highest_sample_time():
    values = [
        {"timestamp": T0, "sampled_value": [_power("3", "kW", p) for p in ("L1", "L2", "L3")]},
        {"timestamp": T0, "sampled_value": [_power("7000"), {"value": "9000"}]},
        {"timestamp": T0, "sampled_value": [_power("2000000")]},  # absurd: ignored
        {"timestamp": T0},
    ]
    assert peak_power_w(values) == Decimal("9000.000")
    assert peak_power_w([]) is None


def _sample(*sampled: dict, at: str = "2026-11-25T08:45:00Z") -> list[dict]:
    return [{"timestamp": at, "sampled_value": list(sampled)}]


def _peak(db: Database, tx: int) -> Decimal | None:
    with db.session() as s:
        return s.get(OcppTransaction, tx).peak_power_w


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_meter_values_keep_the_peak_power_in_the_registers_update(site: Database):
    started = _start(site, meter=1000)
    tx = started.transaction_id
    assert _peak(site, tx) is None
    # Energy and power together: the one UPDATE that raises the register raises the peak.
    with _statements(site) as seen, site.session() as s:
        assert ocpp.meter_values(
            s, "C1", 1, tx, _sample({"value": "2500"}, _power("7.4", "kW")), NOW
        ) == Decimal("1.500")
    updates = [q for q in seen if q.lstrip().upper().startswith("UPDATE OCPP_TRANSACTIONS")]
    assert len(updates) == 1 and "peak_power_w" in updates[0]
    assert _peak(site, tx) == Decimal("7400")
    steps = [
        (_sample({"value": "2600"}, _power("5000")), Decimal("7400")),  # lower: kept
        (_sample(_power("7.5", "kW")), Decimal("7500")),  # power alone moves the peak
        (_sample({"value": "2700"}, _power("not a number")), Decimal("7500")),
        (_sample(_power("-1", "kW"), _power("5000", "kW")), Decimal("7500")),  # absurd
        (_sample(*(_power("2.6", "kW", p) for p in ("L1", "L2", "L3"))), Decimal("7800")),
        # An impossible energy reading is disputed; its power, plausible, still counts.
        (_sample({"value": "900000"}, _power("7900")), Decimal("7900")),
    ]
    for values, expected in steps:
        with site.session() as s:
            ocpp.meter_values(s, "C1", 1, tx, values, NOW)
        assert _peak(site, tx) == expected
    with site.session() as s:
        row = s.get(OcppTransaction, tx)
        assert Decimal(row.meter_last_wh) == Decimal("2700")  # the dispute moved nothing
        assert s.get(ChargingSession, started.session_id).energy_disputed_at is not None
    # A lower power with no energy: no UPDATE of the transaction at all.
    with _statements(site) as seen, site.session() as s:
        ocpp.meter_values(s, "C1", 1, tx, _sample(_power("10")), NOW)
    assert not [q for q in seen if "UPDATE ocpp_transactions" in q]


def test_stop_transaction_data_raises_the_peak_with_the_register(site: Database):
    started = _start(site, meter=0)
    tx = started.transaction_id
    with site.session() as s:
        ocpp.meter_values(s, "C1", 1, tx, _sample({"value": "1000"}, _power("11000")), NOW)
    data = _sample({"value": "3000"}, _power("22", "kW"), at="2026-11-25T08:50:00Z")
    with site.session() as s:
        ocpp.stop_transaction(s, "C1", tx, 2500, "2026-11-25T08:55:00Z", "Local", None, data, NOW)
    with site.session() as s:
        row = s.get(OcppTransaction, tx)
        assert (Decimal(row.meter_last_wh), row.peak_power_w) == (Decimal("3000"), Decimal("22000"))
        assert row.meter_last_at == datetime(2026, 11, 25, 8, 55, tzinfo=UTC)
    # Stopped: a late message moves nothing.
    with site.session() as s:
        assert ocpp.meter_values(s, "C1", 1, tx, _sample(_power("30", "kW")), NOW) is None
    assert _peak(site, tx) == Decimal("22000")


def test_a_disputed_stop_still_keeps_a_plausible_peak(site: Database):
    started = _start(site, meter=0)
    tx = started.transaction_id
    data = _sample(_power("6", "kW"), at="2026-11-25T08:50:00Z")
    with site.session() as s:
        ocpp.stop_transaction(s, "C1", tx, 900_000_000, None, None, None, data, NOW)
    with site.session() as s:
        row = s.get(OcppTransaction, tx)
        assert (Decimal(row.meter_last_wh), row.peak_power_w) == (Decimal(0), Decimal("6000"))
