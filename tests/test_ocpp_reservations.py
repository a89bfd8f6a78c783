"""Reservations held at chargers as commands (data/ocpp/reservations.py through
data/ocpp/commands.py), on SQLite and PostgreSQL: one ReserveNow command per reservation shortly
before it starts, even with two schedulers at once; its answer, or its expiry, recorded on the
reservation; a cancelled one gets a CancelReservation command; nobody else may ask for either."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import data.ocpp.commands as commands
import data.ocpp.reservations as ocpp_reservations
from data.charging.reservations import cancel_reservation
from data.core.db import Database
from data.core.models import (
    ChargerCommand,
    CommandStatus,
    OcppReservation,
    Reservation,
    ReservationStatus,
)
from data.ocpp.command_log import CommandLogFilter, command_log_rows
from data.ocpp.commands import CommandError, CommandRow
from tests.support.audit import CLI
from tests.support.factories import make_account, make_charger, make_id_tag, make_reservation

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEAD = timedelta(minutes=10)
CHARGERS = ("C1", "C2", "C3")


@pytest.fixture
def site(db: Database) -> Database:
    """Chargers C1-C3; account a1 with tag TAG1, a2 without a tag."""
    with db.session() as s:
        make_account(s, account_id="a1")
        make_account(s, account_id="a2")
        for charger_id in CHARGERS:
            make_charger(s, charger_id=charger_id)
        make_id_tag(s, "a1", id_tag="TAG1")
    return db


def reserve(db: Database, charger_id: str = "C1", account_id: str = "a1", **kwargs: Any) -> str:
    starts_at = kwargs.pop("starts_at", NOW + timedelta(minutes=5))
    ends_at = kwargs.pop("ends_at", NOW + timedelta(hours=1))
    with db.session() as s:
        return make_reservation(
            s, account_id, charger_id, starts_at=starts_at, ends_at=ends_at, **kwargs
        ).id


def schedule(
    db: Database, now: datetime = NOW, chargers: tuple[str, ...] = CHARGERS
) -> list[CommandRow]:
    with db.session() as s:
        return ocpp_reservations.schedule_reservations(s, now, LEAD, list(chargers))


def held(db: Database, reservation_id: str) -> OcppReservation:
    with db.session() as s:
        row = s.scalar(
            select(OcppReservation).where(OcppReservation.reservation_id == reservation_id)
        )
        assert row is not None
        s.expunge(row)
        return row


def command_count(db: Database, action: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(ChargerCommand.action == action)) or 0)


def answered(db: Database, row: CommandRow, response: dict[str, Any], at: datetime) -> None:
    """The OCPP server's part: claim the command, record the charger's answer."""
    with db.session() as s:
        assert [c.id for c in commands.claim_commands(s, [row.charger_id], "i1", at)] == [row.id]
    with db.session() as s:
        assert commands.record_answer(s, row.id, commands.answer_status(response), response, at)


# --- ReserveNow --------------------------------------------------------------------------------


def test_a_due_reservation_gets_one_reserve_now_command(site: Database):
    soon = reserve(site, "C1")
    reserve(site, "C1", starts_at=NOW + timedelta(hours=2), ends_at=NOW + timedelta(hours=3))
    reserve(site, "C2", starts_at=NOW, status=ReservationStatus.pending)
    no_tag = reserve(site, "C3", account_id="a2", starts_at=NOW)
    assert schedule(site, chargers=("C2",)) == []  # only the chargers it is given

    asked = schedule(site)
    assert [(c.action, c.charger_id, c.status) for c in asked] == [
        ("ReserveNow", "C1", CommandStatus.pending)
    ]
    row = held(site, soon)
    (reserve_now,) = asked
    assert reserve_now.params == {
        "connector_id": 1,
        "expiry_date": "2026-11-25T10:00:00.000Z",  # the reservation's end, as OCPP writes it
        "id_tag": "TAG1",
        "reservation_id": row.id,
    }
    # Polaris's own: no person, no account (not the customer's command, not their rate).
    assert (reserve_now.user_id, reserve_now.account_id) == (None, None)
    assert reserve_now.ocpp_reservation_id == row.id
    assert (row.state, row.sent_at) == ("sending", NOW)
    assert held(site, no_tag).state == "no id tag"

    assert schedule(site, NOW + timedelta(seconds=5)) == []  # a second pass asks nothing
    assert command_count(site, "ReserveNow") == 1
    with site.session() as s:
        (claimed,) = commands.claim_commands(s, ["C1"], "i1", NOW)
    assert claimed.payload == reserve_now.params  # what goes into the OCPP call


def test_two_schedulers_at_once_make_one_reserve_now(site: Database):
    reservation_id = reserve(site)
    pool = ThreadPoolExecutor(1)
    try:
        with site.sessions() as first, first.begin():
            mine = ocpp_reservations.schedule_reservations(first, NOW, LEAD, ["C1"])
            # Another instance's pass, while the first has not committed: it waits for the
            # first's row (PostgreSQL: the unique index; SQLite: the write lock).
            other = pool.submit(schedule, site)
            time.sleep(0.5)
            waited = not other.done()
        theirs = other.result(timeout=30)
    finally:
        pool.shutdown()
    assert waited
    assert [c.action for c in mine] == ["ReserveNow"] and theirs == []
    assert command_count(site, "ReserveNow") == 1
    assert held(site, reservation_id).state == "sending"


@pytest.mark.parametrize(
    ("answer", "status", "state"),
    [
        ("Accepted", CommandStatus.accepted, "Accepted"),
        ("Occupied", CommandStatus.rejected, "Occupied"),
        ("Faulted", CommandStatus.rejected, "Faulted"),
        ("Rejected", CommandStatus.rejected, "Rejected"),
        ("Unavailable", CommandStatus.rejected, "Unavailable"),
    ],
)
def test_the_chargers_answer_is_recorded_on_the_reservation(
    site: Database, answer: str, status: CommandStatus, state: str
):
    reservation_id = reserve(site)
    (asked,) = schedule(site)
    at = NOW + timedelta(seconds=1)
    answered(site, asked, {"status": answer}, at)
    row = held(site, reservation_id)
    assert (row.state, row.answered_at) == (state, at)
    with site.session() as s:
        assert commands.command(s, asked.id).status == status


@pytest.mark.parametrize(
    ("claimed", "ended", "state"),
    [
        (False, CommandStatus.offline, "no answer"),  # no instance held the charger
        (True, CommandStatus.timeout, "no answer"),  # sent, never answered
    ],
)
def test_an_expired_reserve_now_is_recorded_as_no_answer(
    site: Database, claimed: bool, ended: CommandStatus, state: str
):
    reservation_id = reserve(site)
    (asked,) = schedule(site)
    if claimed:
        with site.session() as s:
            commands.claim_commands(s, ["C1"], "gone", NOW)
    later = NOW + timedelta(seconds=31)
    with site.session() as s:
        expired = commands.expire_commands(s, later)
    assert (expired.offline, expired.timeout) == (int(not claimed), int(claimed))
    row = held(site, reservation_id)
    assert (row.state, row.answered_at) == (state, later)
    with site.session() as s:
        assert commands.command(s, asked.id).status == ended
        # A late answer rewrites neither the command nor the reservation.
        assert not commands.record_answer(
            s, asked.id, CommandStatus.accepted, {"status": "Accepted"}, later
        )
    assert held(site, reservation_id).state == state
    assert schedule(site, later) == []  # one ReserveNow per reservation


def test_a_call_error_is_recorded_as_error(site: Database):
    reservation_id = reserve(site)
    (asked,) = schedule(site)
    with site.session() as s:
        commands.claim_commands(s, ["C1"], "i1", NOW)
    with site.session() as s:
        error = {"error": "NotImplemented", "description": "no reservations here"}
        assert commands.record_answer(s, asked.id, CommandStatus.failed, error, NOW)
    assert held(site, reservation_id).state == "error"


# --- CancelReservation ---------------------------------------------------------------------------


def test_cancelling_a_held_reservation_makes_a_cancel_reservation_command(site: Database):
    reservation_id = reserve(site)
    (reserve_now,) = schedule(site)
    answered(site, reserve_now, {"status": "Accepted"}, NOW)
    assert schedule(site) == []  # still confirmed: nothing to cancel
    with site.session() as s:
        cancel_reservation(s, reservation_id, NOW, actor=CLI)  # as /admin/reservations does

    (cancel,) = schedule(site, NOW + timedelta(seconds=5))
    row = held(site, reservation_id)
    assert (cancel.action, cancel.charger_id, cancel.params) == (
        "CancelReservation", "C1", {"reservation_id": row.id},
    )  # fmt: skip
    assert (cancel.user_id, cancel.account_id, cancel.ocpp_reservation_id) == (None, None, row.id)
    assert (row.state, row.cancel_answer) == ("cancel_sent", None)
    assert schedule(site, NOW + timedelta(seconds=6)) == []  # asked once

    at = NOW + timedelta(seconds=7)
    answered(site, cancel, {"status": "Accepted"}, at)
    row = held(site, reservation_id)
    assert (row.state, row.cancel_answer, row.answered_at) == ("cancelled", "Accepted", at)
    assert schedule(site, NOW + timedelta(seconds=8)) == []
    assert command_count(site, "CancelReservation") == 1


def test_a_cancellation_waits_for_the_reserve_now_answer_and_may_go_unanswered(site: Database):
    reservation_id = reserve(site)
    (reserve_now,) = schedule(site)
    with site.session() as s:
        cancel_reservation(s, reservation_id, NOW, actor=CLI)
    assert schedule(site) == []  # ReserveNow is still out: nothing to cancel yet
    answered(site, reserve_now, {"status": "Accepted"}, NOW + timedelta(seconds=1))

    (cancel,) = schedule(site, NOW + timedelta(seconds=2))
    assert cancel.action == "CancelReservation"
    with site.session() as s:  # no instance holds the charger any more
        assert commands.expire_commands(s, NOW + timedelta(seconds=20)).offline == 1
    row = held(site, reservation_id)
    assert (row.state, row.cancel_answer) == ("cancelled", "no answer")


def test_a_refused_reservation_is_cancelled_but_not_at_the_charger(site: Database):
    reservation_id = reserve(site)
    (reserve_now,) = schedule(site)
    answered(site, reserve_now, {"status": "Occupied"}, NOW)
    with site.session() as s:  # the charger's refusal cancelled it, saying why (issue 18)
        reservation = s.get(Reservation, reservation_id)
        assert reservation is not None
        assert (reservation.status, reservation.end_reason) == (
            ReservationStatus.cancelled, "the charger answered Occupied",
        )  # fmt: skip
    assert schedule(site) == []
    assert (held(site, reservation_id).state, command_count(site, "CancelReservation")) == (
        "Occupied", 0,
    )  # fmt: skip


# --- nobody else asks for them ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("ReserveNow", {"connector_id": 1, "expiry_date": "2026-11-25T10:00:00Z",
                        "id_tag": "TAG1", "reservation_id": 1}),
        ("CancelReservation", {"reservation_id": 1}),
    ],
)  # fmt: skip
def test_people_may_not_ask_for_reservation_commands(site: Database, action: str, params: dict):
    with pytest.raises(CommandError, match="for reservations only") as refused, site.session() as s:
        commands.request_command(s, "C1", action, params, NOW, user_id=None)
    assert "make or cancel the reservation" in str(refused.value)
    with pytest.raises(CommandError, match="for reservations only"):
        commands.validate_params(action, params)
    assert action not in commands.ASKABLE_ACTIONS and action in commands.ACTIONS
    assert command_count(site, action) == 0


def test_the_command_log_names_the_reservation(site: Database):
    reservation_id = reserve(site)
    schedule(site)
    with site.session() as s:
        (row,) = command_log_rows(s, CommandLogFilter(action="ReserveNow"), ZoneInfo("UTC"))
    assert (row.command.action, row.user_email, row.reservation_id) == (
        "ReserveNow", None, reservation_id,
    )  # fmt: skip
