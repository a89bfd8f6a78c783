"""Impossible energy from a charger (issue 13): refused, disputed, counted nowhere until an admin
confirms or corrects it; on SQLite and PostgreSQL.

A charger (the demo ones have no OCPP password) could open a session with a known id tag, report
500,000,000,000 Wh and stop a second later: the driver's usage and the fleet's analytics then
showed 500 million kWh.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import data.ocpp.messages as ocpp
from data.chargers.charger import charger_sessions
from data.chargers.fleet import fleet_page, parse_fleet_request
from data.chargers.usage import charger_daily_usage
from data.charging.analytics import (
    AnalyticsRange,
    energy_by_connector,
    energy_by_connector_from_sessions,
    energy_per_day,
    energy_per_day_from_sessions,
    sessions_by_hour_of_week,
    total_energy,
)
from data.charging.dashboard import account_usage, usage_total_kwh
from data.charging.history import SessionFilter, session_page, session_totals
from data.charging.rollup import refill_rollups, usage_between
from data.core.db import Database
from data.core.models import ChargingSession, OcppTransaction, Role
from data.core.periods import period_bounds
from data.exchange.export_stream import export_chunks
from data.exchange.exports import ExportFilter
from data.ocpp.admin import (
    OcppAdminError,
    disputed_sessions,
    resolve_energy_dispute,
)
from data.ocpp.energy import allowed_energy_kwh
from tests.support.audit import admin
from tests.support.factories import make_account, make_charger, make_id_tag, make_session
from tests.support.rollups import counted_in_python, table_rows

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
T0 = "2026-11-25T08:30:00Z"  # the transaction's start: 30 minutes before NOW
HUGE_WH = "500000000000"  # 500 million kWh
HUGE_KWH = Decimal("499999999.999")  # since a meterStart of 1 Wh


def _at(minute: int) -> str:
    return f"2026-11-25T08:{minute:02d}:00Z"


def _reading(wh: str, minute: int) -> list[dict]:
    return [{"timestamp": _at(minute), "sampled_value": [{"value": wh}]}]


@pytest.fixture
def site(db: Database) -> Database:
    """C1: a 50 kW public charger; a1 (tag TAG1) with a plausible imported 5 kWh session;
    an admin account."""
    with db.session() as s:
        make_account(s, account_id="a1")
        make_account(s, account_id="ops", role=Role.admin)
        make_charger(s, charger_id="C1", max_power_kw="50")
        make_id_tag(s, "a1", id_tag="TAG1")
        make_session(
            s, "a1", "C1", started_at=NOW - timedelta(hours=2), ended_at=NOW - timedelta(hours=1),
            energy_kwh="5", session_id="plain",
        )  # fmt: skip
    return db


def _start(db: Database, meter: int = 1) -> ocpp.StartResult:
    with db.session() as s:
        return ocpp.start_transaction(s, "C1", 1, "TAG1", meter, T0, NOW)


def _meter(db: Database, tx: int, wh: str, minute: int) -> Decimal | None:
    with db.session() as s:
        return ocpp.meter_values(s, "C1", 1, tx, _reading(wh, minute), NOW)


def _row(db: Database, sid: str) -> ChargingSession:
    with db.session() as s:
        row = s.get(ChargingSession, sid)
        s.expunge(row)
        return row


def _disputed_start(db: Database) -> str:
    """The attack: a plausible 2 kWh so far, then 500 million kWh; returns the session id."""
    started = _start(db)
    _meter(db, started.transaction_id, "2001", 45)
    _meter(db, started.transaction_id, HUGE_WH, 46)
    return started.session_id


# --- the rule ---------------------------------------------------------------------------------


def test_allowed_energy_is_power_times_time_with_the_documented_tolerance():
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    # 50 kW for 15 minutes: 12.5 kWh, +10 % and +0.05 kWh.
    assert allowed_energy_kwh(Decimal("50"), start, start + timedelta(minutes=15)) == (
        Decimal("13.800")
    )
    # A second: only the fixed allowance is left (clock skew).
    assert allowed_energy_kwh(Decimal("50"), start, start + timedelta(seconds=1)) == (
        Decimal("0.065")
    )
    # A reading stamped before the start, and no rating at all: 400 kW.
    assert allowed_energy_kwh(Decimal("50"), start, start - timedelta(hours=1)) == (
        Decimal("0.050")
    )
    assert allowed_energy_kwh(None, start, start + timedelta(hours=1)) == Decimal("440.050")
    # A backdated start buys at most three days.
    assert allowed_energy_kwh(
        Decimal("50"), start - timedelta(days=365), start
    ) == allowed_energy_kwh(Decimal("50"), start - timedelta(days=3), start)


# --- MeterValues and StopTransaction ------------------------------------------------------------


def test_an_impossible_reading_is_refused_and_the_session_keeps_its_last_plausible_figure(
    site: Database, caplog: pytest.LogCaptureFixture
):
    started = _start(site)
    tx = started.transaction_id
    assert _meter(site, tx, "2001", 45) == Decimal("2.000")
    with caplog.at_level(logging.WARNING, logger="polaris.ocpp"):
        assert _meter(site, tx, HUGE_WH, 46) == Decimal("2.000")  # answered, not taken
    row = _row(site, started.session_id)
    assert Decimal(row.energy_kwh) == Decimal("2.000")
    assert row.energy_disputed_at == NOW
    assert Decimal(row.energy_disputed_kwh) == HUGE_KWH
    with site.session() as s:
        assert Decimal(s.get(OcppTransaction, tx).meter_last_wh) == Decimal("2001")
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = warning.getMessage()
    assert "C1" in text and started.session_id in text
    assert "499999999.999 kWh" in text and "at most 14.716 kWh" in text  # 16 min at 50 kW


def test_a_decreasing_reading_is_not_taken(site: Database):
    started = _start(site, meter=1000)
    tx = started.transaction_id
    _meter(site, tx, "5000", 45)
    assert _meter(site, tx, "3000", 50) == Decimal("4.000")  # later, yet lower: a meter gone back
    row = _row(site, started.session_id)
    assert Decimal(row.energy_kwh) == Decimal("4.000")
    assert row.energy_disputed_at == NOW and Decimal(row.energy_disputed_kwh) == Decimal("2.000")
    with site.session() as s:
        assert Decimal(s.get(OcppTransaction, tx).meter_last_wh) == Decimal("5000")


def test_a_plausible_reading_is_taken_and_one_wh_more_is_not(site: Database):
    started = _start(site, meter=1000)
    tx = started.transaction_id
    # 15 minutes at 50 kW: at most 13.8 kWh.
    assert _meter(site, tx, "14800", 45) == Decimal("13.800")
    assert _row(site, started.session_id).energy_disputed_at is None
    assert _meter(site, tx, "14801", 45) == Decimal("13.800")
    assert _row(site, started.session_id).energy_disputed_at == NOW
    # A late (earlier-stamped) lower reading is a re-send, not a dispute of its own; a plausible
    # later reading still moves the register of a disputed session.
    assert _meter(site, tx, "20000", 55) == Decimal("19.000")
    assert Decimal(_row(site, started.session_id).energy_kwh) == Decimal("19.000")


def test_stop_with_an_impossible_meter_stop_still_finalizes_the_session_but_disputes_it(
    site: Database,
):
    started = _start(site)
    tx = started.transaction_id
    _meter(site, tx, "2001", 45)
    with site.session() as s:
        status = ocpp.stop_transaction(s, "C1", tx, int(HUGE_WH), _at(46), None, "TAG1", None, NOW)
    assert status == "Accepted"  # answered normally: the charger must not retry forever
    row = _row(site, started.session_id)
    assert row.finalized is True and row.ended_at == datetime(2026, 11, 25, 8, 46, tzinfo=UTC)
    assert Decimal(row.energy_kwh) == Decimal("2.000")
    assert row.energy_disputed_at == NOW and Decimal(row.energy_disputed_kwh) == HUGE_KWH
    with site.session() as s:
        tx_row = s.get(OcppTransaction, tx)
        assert tx_row.stopped_at is not None and Decimal(tx_row.meter_last_wh) == Decimal("2001")
        # Re-sent: the same answer, nothing changes.
        again = ocpp.stop_transaction(s, "C1", tx, int(HUGE_WH), _at(46), None, "TAG1", None, NOW)
    assert again == "Accepted"
    assert Decimal(_row(site, started.session_id).energy_kwh) == Decimal("2.000")


def test_a_plausible_stop_is_taken(site: Database):
    started = _start(site, meter=0)
    with site.session() as s:
        ocpp.stop_transaction(
            s, "C1", started.transaction_id, 20000, _at(55), None, None, None, NOW
        )  # 20 kWh in 25 minutes at 50 kW: plausible
    row = _row(site, started.session_id)
    assert Decimal(row.energy_kwh) == Decimal("20.000") and row.energy_disputed_at is None


def test_a_huge_claim_is_kept_within_the_column(site: Database):
    started = _start(site)
    _meter(site, started.transaction_id, "1e30", 46)
    row = _row(site, started.session_id)
    assert Decimal(row.energy_disputed_kwh) == Decimal("999999999.999")  # the largest reading
    assert Decimal(row.energy_kwh) == 0


# --- counted nowhere until resolved ------------------------------------------------------------


def _usage_export(db: Database, name: str = "usage-daily") -> Decimal:
    body = b"".join(export_chunks(db, name, ExportFilter(), UTC)).decode()
    return sum((Decimal(r["energy_kwh"]) for r in csv.DictReader(io.StringIO(body))), Decimal(0))


def figures(db: Database) -> dict[str, object]:
    """Every usage figure the app shows for NOW's day, month and charger C1."""
    month = period_bounds("current", NOW, UTC)
    day = AnalyticsRange("custom", NOW.date(), NOW.date()).bounds(NOW, UTC)
    today = SessionFilter(NOW.date(), NOW.date())
    with db.session() as s:
        (fleet_row,) = fleet_page(s, NOW, parse_fleet_request({"startRow": 0, "endRow": 10})).rows
        (sorted_row,) = fleet_page(
            s,
            NOW,
            parse_fleet_request(
                {"startRow": 0, "endRow": 10, "sortModel": [{"colId": "energy_kwh_30d"}]}
            ),
        ).rows
        rollup = usage_between(
            s, datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
        )
        history = session_totals(s, today, UTC)
        history_scan = session_totals(s, SessionFilter(NOW.date(), NOW.date(), charger="C1"), UTC)
        assert table_rows(s) == counted_in_python(s)
        return {
            "driver": Decimal(str(usage_total_kwh(account_usage(s, "a1", month).days))),
            "rollup": (rollup.sessions, rollup.energy_kwh),
            "analytics per day": total_energy(energy_per_day(s, day)),
            "analytics scan": total_energy(energy_per_day_from_sessions(s, day)),
            "by connector": [
                (c.sessions, c.energy_kwh) for c in energy_by_connector(s, day) if c.sessions
            ],
            "by connector scan": [
                (c.sessions, c.energy_kwh)
                for c in energy_by_connector_from_sessions(s, day)
                if c.sessions
            ],
            "hour of week": sum(map(sum, sessions_by_hour_of_week(s, day))),
            "history": (history.counted, history.energy_kwh),
            "history scan": (history_scan.counted, history_scan.energy_kwh),
            "fleet 30 days": (fleet_row.sessions_30d, Decimal(str(fleet_row.energy_kwh_30d))),
            "fleet sorted": (sorted_row.sessions_30d, Decimal(str(sorted_row.energy_kwh_30d))),
            "charger page": Decimal(
                str(round(charger_daily_usage(s, "C1", month, NOW)["energy_kwh"].sum(), 3))
            ),
            "usage export": _usage_export(db),
            "monthly export": _usage_export(db, "usage-monthly"),
        }


def _expected(sessions: int, kwh: str) -> dict[str, object]:
    energy = Decimal(kwh)
    return {
        "driver": energy,
        "rollup": (sessions, energy),
        "analytics per day": energy,
        "analytics scan": energy,
        "by connector": [(sessions, energy)],
        "by connector scan": [(sessions, energy)],
        "hour of week": sessions,
        "history": (sessions, energy),
        "history scan": (sessions, energy),
        "fleet 30 days": (sessions, energy),
        "fleet sorted": (sessions, energy),
        "charger page": energy,
        "usage export": energy,
        "monthly export": energy,
    }


def test_a_disputed_session_counts_in_no_usage_figure_until_confirmed(site: Database):
    assert figures(site) == _expected(1, "5.000")
    sid = _disputed_start(site)
    assert figures(site) == _expected(1, "5.000")  # not 5 + 2, not 500 million
    with site.session() as s:
        listed = disputed_sessions(s)
        assert [(r.session_id, r.energy_kwh, r.reported_kwh) for r in listed.sessions] == [
            (sid, Decimal("2.000"), HUGE_KWH)
        ]
        # Still listed for the operators, marked.
        today = SessionFilter(NOW.date(), NOW.date())
        assert session_totals(s, today, UTC).sessions == 2
        assert session_totals(s, today, UTC).disputed == 1
        rows = {r.session_id: r for r in session_page(s, today, UTC, 0, 10)}
        assert rows[sid].energy_disputed and not rows["plain"].energy_disputed
        assert [r.energy_disputed for r in charger_sessions(s, "C1", 0, 10)] == [True, False]
        # A recount after a bulk load leaves it out too.
        refill_rollups(s)
        assert table_rows(s) == counted_in_python(s)
    assert figures(site) == _expected(1, "5.000")

    with site.session() as s:
        assert resolve_energy_dispute(s, sid, admin("ops"), None, NOW) == HUGE_KWH
    assert figures(site) == _expected(2, "500000004.999")  # the admin confirmed it: it counts
    row = _row(site, sid)
    assert row.energy_disputed_at is None
    assert (row.energy_resolved_by, row.energy_resolved_at) == ("ops", NOW)
    with site.session() as s:
        assert disputed_sessions(s).total == 0


def test_correcting_a_disputed_session_counts_the_admins_figure(site: Database):
    sid = _disputed_start(site)
    with site.session() as s:
        ocpp.stop_transaction(
            s, "C1", int(sid.removeprefix("ocpp-")), 2001, _at(47), None, None, None, NOW
        )
    with site.session() as s:
        assert resolve_energy_dispute(s, sid, admin("ops"), " 7,25 ", NOW) == Decimal("7.250")
    assert figures(site) == _expected(2, "12.250")
    with site.session() as s, pytest.raises(OcppAdminError, match="no disputed energy"):
        resolve_energy_dispute(s, sid, admin("ops"), "1", NOW)  # resolved already


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter the session's energy"),
        ("lots", "not a number"),
        ("-1", "0 or more"),
        ("NaN", "0 or more"),
        ("1.0005", "3 decimals"),
        ("1e12", "At most"),
    ],
)
def test_a_bad_correction_gets_a_message_and_changes_nothing(
    site: Database, value: str, message: str
):
    sid = _disputed_start(site)
    with site.session() as s, pytest.raises(OcppAdminError, match=message):
        resolve_energy_dispute(s, sid, admin("ops"), value, NOW)
    assert _row(site, sid).energy_disputed_at == NOW
    assert figures(site) == _expected(1, "5.000")


def test_only_an_admin_account_may_resolve(site: Database):
    sid = _disputed_start(site)
    with site.session() as s, pytest.raises(PermissionError):
        resolve_energy_dispute(s, sid, admin("a1"), "1", NOW)
    with site.session() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(ChargingSession)
                .where(ChargingSession.energy_disputed_at.is_not(None))
            )
            == 1
        )


def test_the_sessions_export_writes_a_disputed_session_as_not_finalized(site: Database):
    sid = _disputed_start(site)
    with site.session() as s:
        ocpp.stop_transaction(
            s, "C1", int(sid.removeprefix("ocpp-")), 2001, _at(47), None, None, None, NOW
        )
    body = b"".join(export_chunks(site, "sessions", ExportFilter(), UTC)).decode()
    rows = {r["session_id"]: r for r in csv.DictReader(io.StringIO(body))}
    # The spec's columns, unchanged: its energy is the last plausible one, and not final.
    assert (rows[sid]["energy_kwh"], rows[sid]["finalized"]) == ("2", "false")
    assert rows["plain"]["finalized"] == "true"
