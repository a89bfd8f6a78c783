"""A driver's Start and Stop (data/ocpp/driver_commands.py), on SQLite and PostgreSQL: only
visible, Online chargers; only the account's own session; the rate; following the command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import data.ocpp.commands as commands
import data.ocpp.driver_commands as driver
from data.core.db import Database
from data.core.models import (
    Account,
    ChargerCommand,
    ChargingSession,
    CommandStatus,
    OcppTransaction,
    Visibility,
)
from data.ocpp.command_limits import COMMANDS_PER_MINUTE, TooManyCommands
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_id_tag,
    make_session,
)

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    seen = NOW - timedelta(minutes=1)
    with db.session() as s:
        a1 = make_account(s, account_id="a1")
        a2 = make_account(s, account_id="a2")
        make_account(s, account_id="a3")  # no id tag
        make_id_tag(s, a1, id_tag="TAG1")
        make_id_tag(s, a2, id_tag="TAG2")
        make_charger(s, charger_id="PUB", last_seen_at=seen)
        make_charger(s, charger_id="OFF")  # never seen: Offline
        make_charger(s, charger_id="RES", last_seen_at=seen, visibility=Visibility.restricted)
        make_charger(s, charger_id="GRA", last_seen_at=seen, visibility=Visibility.restricted)
        grant_access(s, a1, "GRA")
    return db


def start(db: Database, account_id: str, charger_id: str, now: datetime = NOW):
    with db.session() as s:
        user = user_of(s, account_id)
        return driver.start_charging(
            s, user_id=user, account_id=account_id, charger_id=charger_id, now=now
        )


def user_of(s: Session, account_id: str) -> int:
    account = s.get(Account, account_id)
    assert account is not None
    return account.user_id


def commands_count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ChargerCommand)) or 0


def test_start_sends_the_accounts_tag_to_a_visible_online_charger(site: Database) -> None:
    row = start(site, "a1", "PUB")
    assert (row.action, row.charger_id, row.account_id) == ("RemoteStartTransaction", "PUB", "a1")
    assert row.params == {"account_id": "a1", "id_tag": "TAG1"}
    assert start(site, "a1", "GRA").charger_id == "GRA"  # restricted but granted


@pytest.mark.parametrize(
    ("account_id", "charger_id", "message"),
    [
        ("a1", "OFF", driver.NOT_AVAILABLE),  # Offline
        ("a1", "RES", driver.NOT_AVAILABLE),  # restricted, not granted
        ("a2", "GRA", driver.NOT_AVAILABLE),  # granted to someone else
        ("a1", "NOPE", driver.NOT_AVAILABLE),  # unknown
        ("a3", "PUB", driver.NO_ID_TAG),
    ],
)
def test_start_is_refused_with_words_and_no_row(
    site: Database, account_id: str, charger_id: str, message: str
) -> None:
    with pytest.raises(driver.DriverCommandRefused, match=message[:20]):
        start(site, account_id, charger_id)
    assert commands_count(site) == 0


def test_a_charger_in_use_cannot_be_started(site: Database) -> None:
    with site.session() as s:
        make_session(s, "a2", "PUB", started_at=NOW - timedelta(minutes=5))
    with pytest.raises(driver.DriverCommandRefused):
        start(site, "a1", "PUB")


def test_the_rate_limit_holds_and_writes_nothing(site: Database) -> None:
    for i in range(COMMANDS_PER_MINUTE):
        start(site, "a1", "PUB", NOW + timedelta(seconds=i))
    with pytest.raises(TooManyCommands) as refused:
        start(site, "a1", "PUB", NOW + timedelta(seconds=10))
    assert refused.value.retry_after_s == 50
    assert commands_count(site) == COMMANDS_PER_MINUTE


def _ocpp_session(db: Database, account_id: str, session_id: str, tx: int) -> None:
    with db.session() as s:
        make_session(
            s, account_id, "PUB", started_at=NOW - timedelta(minutes=9), session_id=session_id
        )
        s.add(
            OcppTransaction(
                id=tx, session_id=session_id, charger_id="PUB", connector_id=tx, id_tag="TAG1",
                meter_start_wh=0, meter_last_wh=0, started_at=NOW - timedelta(minutes=9),
            )
        )  # fmt: skip


def test_stop_stops_the_accounts_own_session_only(site: Database) -> None:
    _ocpp_session(site, "a2", "theirs", 7)
    with site.session() as s, pytest.raises(driver.DriverCommandRefused, match="no charging"):
        driver.stop_charging(s, user_id=user_of(s, "a1"), account_id="a1", now=NOW)
    _ocpp_session(site, "a1", "mine", 8)
    with site.session() as s:
        row = driver.stop_charging(s, user_id=user_of(s, "a1"), account_id="a1", now=NOW)
    assert (row.action, row.charger_id, row.account_id) == ("RemoteStopTransaction", "PUB", "a1")
    assert row.params == {"session_id": "mine", "transaction_id": 8}


def test_a_session_without_an_ocpp_transaction_is_not_stoppable(site: Database) -> None:
    with site.session() as s:
        make_session(s, "a1", "PUB", started_at=NOW - timedelta(minutes=3))
    with site.session() as s, pytest.raises(driver.DriverCommandRefused, match="at the charger"):
        driver.stop_charging(s, user_id=user_of(s, "a1"), account_id="a1", now=NOW)


def _answer(db: Database, command_id: int, status: CommandStatus, at: datetime) -> None:
    with db.session() as s:
        commands.claim_commands(s, ["PUB"], "test", at)
        if status in (CommandStatus.accepted, CommandStatus.rejected, CommandStatus.failed):
            commands.record_answer(s, command_id, status, {"status": "x"}, at)
        else:
            s.execute(
                update(ChargerCommand)
                .where(ChargerCommand.id == command_id)
                .values(status=status, answered_at=at)
            )


def follow(db: Database, account_id: str, command_id: int, now: datetime = NOW):
    with db.session() as s:
        return driver.follow_command(s, account_id, command_id, now)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (CommandStatus.rejected, "The charger refused to start."),
        (CommandStatus.timeout, "The charger did not answer."),
        (CommandStatus.offline, "The charger is not connected."),
    ],
)
def test_follow_a_refused_start_in_words(site: Database, status, message) -> None:
    row = start(site, "a1", "PUB")
    assert follow(site, "a1", row.id).progress is driver.Progress.waiting
    _answer(site, row.id, status, NOW + timedelta(seconds=1))
    followed = follow(site, "a1", row.id)
    assert (followed.progress, followed.message) == (driver.Progress.refused, message)


def test_follow_an_accepted_start_until_the_session_starts(site: Database) -> None:
    row = start(site, "a1", "PUB")
    _answer(site, row.id, CommandStatus.accepted, NOW + timedelta(seconds=1))
    assert follow(site, "a1", row.id).progress is driver.Progress.waiting
    # Another account cannot follow it (it reads as unknown).
    assert follow(site, "a2", row.id).status is None
    late = follow(site, "a1", row.id, NOW + timedelta(seconds=90))
    assert (late.progress, late.message) == (driver.Progress.refused, driver.NO_SESSION_YET)
    _ocpp_session(site, "a1", "mine", 9)
    assert follow(site, "a1", row.id).progress is driver.Progress.done


def test_follow_an_accepted_stop_until_the_session_ends(site: Database) -> None:
    _ocpp_session(site, "a1", "mine", 9)
    with site.session() as s:
        row = driver.stop_charging(s, user_id=user_of(s, "a1"), account_id="a1", now=NOW)
    _answer(site, row.id, CommandStatus.accepted, NOW + timedelta(seconds=1))
    assert follow(site, "a1", row.id).progress is driver.Progress.waiting
    with site.session() as s:
        ended = s.get(ChargingSession, "mine")
        assert ended is not None
        ended.ended_at = NOW + timedelta(seconds=2)
    assert follow(site, "a1", row.id).progress is driver.Progress.done
