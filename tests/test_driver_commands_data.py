"""A driver's rules (data/ocpp/driver_commands.py), on SQLite and PostgreSQL: Start only on a
visible, Online charger, as itself, on a connector the charger reported; Stop only the
account's own session; the API's actions and parameters read into those two; the rate; the
id tag looked up once; following the command; the session a RemoteStart opened
(``data.ocpp.commands.started_session_id``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

import data.ocpp.commands as commands
import data.ocpp.driver_commands as driver
from data.charging.dashboard import ConnectorReport, charger_connectors
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
from data.ocpp.messages import start_transaction
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_id_tag,
    make_session,
    report_connector,
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
        # Three connectors reported (one out of order: the charger is still Online), and the
        # whole charger (connector 0), which is no connector to start on.
        make_charger(s, charger_id="TWO", last_seen_at=seen)
        for connector, status in ((0, "Available"), (1, "Available"), (2, "Preparing")):
            report_connector(s, "TWO", connector, status, reported_at=seen)
        report_connector(s, "TWO", 3, "Faulted", reported_at=seen, error_code="GroundFailure")
    return db


def user_of(s: Session, account_id: str) -> int:
    account = s.get(Account, account_id)
    assert account is not None
    return account.user_id


def start(
    db: Database,
    account_id: str,
    charger_id: str,
    now: datetime = NOW,
    connector_id: int | None = None,
) -> commands.CommandRow:
    with db.session() as s:
        return driver.start_charging(
            s,
            user_id=user_of(s, account_id),
            account_id=account_id,
            charger_id=charger_id,
            now=now,
            connector_id=connector_id,
        )


def stop(db: Database, account_id: str, **where: Any) -> commands.CommandRow:
    with db.session() as s:
        return driver.stop_charging(
            s, user_id=user_of(s, account_id), account_id=account_id, now=NOW, **where
        )


def api(db: Database, account_id: str, charger_id: str, action: str, params: dict[str, Any]):
    with db.session() as s:
        return driver.driver_command(
            s,
            user_id=user_of(s, account_id),
            account_id=account_id,
            charger_id=charger_id,
            action=action,
            params=params,
            now=NOW,
        )


def commands_count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ChargerCommand)) or 0


# --- Start -------------------------------------------------------------------------------------


def test_start_sends_the_accounts_tag_to_a_visible_online_charger(site: Database) -> None:
    row = start(site, "a1", "PUB")
    assert (row.action, row.charger_id, row.account_id) == ("RemoteStartTransaction", "PUB", "a1")
    assert row.params == {"account_id": "a1", "id_tag": "TAG1"}
    assert start(site, "a1", "GRA").charger_id == "GRA"  # restricted but granted


@pytest.mark.parametrize(
    ("account_id", "charger_id", "refusal", "message"),
    [
        ("a1", "OFF", driver.NotAvailableNow, driver.NOT_AVAILABLE),  # Offline
        ("a1", "RES", driver.CommandForbidden, driver.NOT_VISIBLE),  # restricted, not granted
        ("a2", "GRA", driver.CommandForbidden, driver.NOT_VISIBLE),  # granted to someone else
        ("a1", "NOPE", driver.CommandForbidden, driver.NOT_VISIBLE),  # unknown: the same
        ("a3", "PUB", driver.NotAvailableNow, driver.NO_ID_TAG),
    ],
)
def test_start_is_refused_with_words_and_no_row(
    site: Database, account_id: str, charger_id: str, refusal: type, message: str
) -> None:
    with pytest.raises(refusal) as refused:
        start(site, account_id, charger_id)
    assert str(refused.value) == message
    assert commands_count(site) == 0


def test_a_charger_in_use_cannot_be_started(site: Database) -> None:
    with site.session() as s:
        make_session(s, "a2", "PUB", started_at=NOW - timedelta(minutes=5))
    with pytest.raises(driver.NotAvailableNow, match="not available"):
        start(site, "a1", "PUB")


def test_start_on_a_connector_the_charger_reported(site: Database) -> None:
    row = start(site, "a1", "TWO", connector_id=2)
    assert row.params == {"account_id": "a1", "connector_id": 2, "id_tag": "TAG1"}
    with site.session() as s:
        (sent,) = commands.claim_commands(s, ["TWO"], "test", NOW)
    assert sent.payload == {"connector_id": 2, "id_tag": "TAG1"}  # what the charger gets


@pytest.mark.parametrize(
    ("charger_id", "connector_id", "message"),
    [
        ("TWO", 4, "This charger has no connector 4."),  # never reported
        ("TWO", 0, "This charger has no connector 0."),  # the whole charger
        ("TWO", 3, "Connector 3 of this charger is out of order right now."),
        ("PUB", 1, "This charger has no connector 1."),  # reported none: the charger chooses
    ],
)
def test_start_on_a_connector_it_did_not_report_is_refused(
    site: Database, charger_id: str, connector_id: int, message: str
) -> None:
    with pytest.raises(driver.NotAvailableNow) as refused:
        start(site, "a1", charger_id, connector_id=connector_id)
    assert str(refused.value) == message
    assert commands_count(site) == 0


def test_the_accounts_id_tag_is_looked_up_once(site: Database) -> None:
    with counting(site, "id_tags") as asked:
        start(site, "a1", "PUB")
    assert len(asked) == 1
    with counting(site, "id_tags") as asked, pytest.raises(driver.NotAvailableNow):
        start(site, "a3", "PUB")
    assert len(asked) == 1


@contextmanager
def counting(db: Database, table: str) -> Iterator[list[str]]:
    """The statements run on ``db`` that read ``table``."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if f"FROM {table}" in statement or f"JOIN {table}" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_an_operator_may_still_start_for_an_account_and_one_without_a_tag_is_refused(
    site: Database,
) -> None:
    with site.session() as s:
        row = commands.request_command(
            s, "OFF", "RemoteStartTransaction", {"account_id": "a2"}, NOW
        )  # an operator: no driver's rules, the account's tag is sent
        assert row.params == {"account_id": "a2", "id_tag": "TAG2"}
        with pytest.raises(commands.NoIdTag, match="account 'a3' has no id tag"):
            commands.request_command(s, "PUB", "RemoteStartTransaction", {"account_id": "a3"}, NOW)


def test_the_rate_limit_holds_and_writes_nothing(site: Database) -> None:
    for i in range(COMMANDS_PER_MINUTE):
        start(site, "a1", "PUB", NOW + timedelta(seconds=i))
    with pytest.raises(TooManyCommands) as refused:
        start(site, "a1", "PUB", NOW + timedelta(seconds=10))
    assert refused.value.retry_after_s == 50
    assert commands_count(site) == COMMANDS_PER_MINUTE
    # A refusal for the driver's own reasons is said first and costs no quota.
    with pytest.raises(driver.NotAvailableNow):
        start(site, "a1", "OFF", NOW + timedelta(seconds=10))


# --- Stop --------------------------------------------------------------------------------------


def _ocpp_session(
    db: Database, account_id: str, session_id: str, tx: int, charger_id: str = "PUB"
) -> None:
    with db.session() as s:
        make_session(
            s, account_id, charger_id, started_at=NOW - timedelta(minutes=9), session_id=session_id
        )
        s.add(
            OcppTransaction(
                id=tx, session_id=session_id, charger_id=charger_id, connector_id=tx,
                id_tag="TAG1", meter_start_wh=0, meter_last_wh=0,
                started_at=NOW - timedelta(minutes=9),
            )
        )  # fmt: skip


def test_stop_stops_the_accounts_own_session_only(site: Database) -> None:
    _ocpp_session(site, "a2", "theirs", 7)
    with pytest.raises(driver.NotAvailableNow, match="no charging"):
        stop(site, "a1")
    _ocpp_session(site, "a1", "mine", 8)
    row = stop(site, "a1")
    assert (row.action, row.charger_id, row.account_id) == ("RemoteStopTransaction", "PUB", "a1")
    assert row.params == {"session_id": "mine", "transaction_id": 8}


def test_a_named_session_must_be_the_accounts_own_in_progress_there(site: Database) -> None:
    _ocpp_session(site, "a2", "theirs", 7)
    _ocpp_session(site, "a1", "mine", 8)
    for where in (
        {"session_id": "theirs"},
        {"session_id": "theirs", "charger_id": "PUB"},
        {"session_id": "mine", "charger_id": "GRA"},  # her own, on another charger
        {"session_id": "no-such-session"},
    ):
        with pytest.raises(driver.CommandForbidden) as refused:
            stop(site, "a1", **where)
        assert str(refused.value) == driver.NOT_YOURS
    with pytest.raises(driver.NotAvailableNow) as nothing:
        stop(site, "a1", charger_id="GRA")
    assert str(nothing.value) == driver.NO_SESSION_HERE
    assert commands_count(site) == 0
    assert stop(site, "a1", session_id="mine", charger_id="PUB").params["session_id"] == "mine"


def test_a_session_without_an_ocpp_transaction_is_not_stoppable(site: Database) -> None:
    with site.session() as s:
        make_session(s, "a1", "PUB", started_at=NOW - timedelta(minutes=3))
    with counting(site, "ocpp_transactions") as asked:
        with pytest.raises(driver.NotAvailableNow, match="at the charger"):
            stop(site, "a1")
    assert len(asked) == 1  # looked up once, by request_command
    assert commands_count(site) == 0


# --- The API's requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charger_id", "action", "params", "message"),
    [
        ("PUB", "Reset", {"type": "Soft"}, "A driver's account may not send Reset."),
        ("PUB", "UnlockConnector", {"connector_id": 1}, "may not send UnlockConnector"),
        ("PUB", "RemoteStartTransaction", {"account_id": "a2"}, driver.OWN_ACCOUNT),
        ("PUB", "RemoteStartTransaction", {"id_tag": "TAG1"}, "leave id_tag out"),
        ("RES", "RemoteStartTransaction", {}, driver.NOT_VISIBLE),
        ("PUB", "RemoteStopTransaction", {"transaction_id": 1}, "give its session_id"),
    ],
)
def test_the_api_may_not_ask_what_a_driver_may_not(
    site: Database, charger_id: str, action: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(driver.CommandForbidden, match=message):
        api(site, "a1", charger_id, action, params)
    assert commands_count(site) == 0


def test_the_api_starts_and_stops_by_the_same_rules(site: Database) -> None:
    started = api(site, "a1", "TWO", "RemoteStartTransaction", {"connector_id": 1})
    assert started.params == {"account_id": "a1", "connector_id": 1, "id_tag": "TAG1"}
    same = api(site, "a1", "PUB", "RemoteStartTransaction", {"account_id": "a1"})
    assert same.params == {"account_id": "a1", "id_tag": "TAG1"}
    with pytest.raises(driver.NotAvailableNow, match=driver.NOT_AVAILABLE):
        api(site, "a1", "OFF", "RemoteStartTransaction", {})
    with pytest.raises(driver.NotAvailableNow, match="no connector 9"):
        api(site, "a1", "TWO", "RemoteStartTransaction", {"connector_id": 9})
    # Invalid parameters are not a driver's refusal: the API says 400.
    with pytest.raises(commands.CommandError) as invalid:
        api(site, "a1", "PUB", "RemoteStartTransaction", {"connector_id": "one"})
    assert not isinstance(invalid.value, driver.DriverCommandRefused)
    _ocpp_session(site, "a1", "mine", 8, charger_id="GRA")
    with pytest.raises(driver.NotAvailableNow, match="on this charger"):
        api(site, "a1", "PUB", "RemoteStopTransaction", {})
    stopped = api(site, "a1", "GRA", "RemoteStopTransaction", {})  # no session named: hers
    assert stopped.params == {"session_id": "mine", "transaction_id": 8}
    named = api(site, "a1", "GRA", "RemoteStopTransaction", {"session_id": "mine"})
    assert named.params == stopped.params


# --- Connectors --------------------------------------------------------------------------------


def test_the_connectors_each_charger_reported(site: Database) -> None:
    with site.session() as s:
        found = charger_connectors(s, ["TWO", "PUB", "NOPE"])
        assert charger_connectors(s, []) == {}
    assert found == {
        "TWO": [
            ConnectorReport(1, "Available"),
            ConnectorReport(2, "Preparing"),
            ConnectorReport(3, "Faulted"),
        ]
    }
    assert [c.out_of_order for c in found["TWO"]] == [False, False, True]


# --- Following ---------------------------------------------------------------------------------


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
    row = stop(site, "a1")
    _answer(site, row.id, CommandStatus.accepted, NOW + timedelta(seconds=1))
    assert follow(site, "a1", row.id).progress is driver.Progress.waiting
    with site.session() as s:
        ended = s.get(ChargingSession, "mine")
        assert ended is not None
        ended.ended_at = NOW + timedelta(seconds=2)
    assert follow(site, "a1", row.id).progress is driver.Progress.done


# --- The session a RemoteStart opened, and whose command it is --------------------------------


def test_a_remote_start_links_to_the_session_it_opened_only(site: Database) -> None:
    skew = commands.CLOCK_SKEW
    with site.session() as s:
        # An earlier session with the same tag on the same charger, before the command (asked
        # as an operator would: the charger is In use).
        start_transaction(s, "PUB", 1, "TAG1", 0, (NOW - 2 * skew).isoformat(), NOW)
        row = commands.request_command(
            s, "PUB", "RemoteStartTransaction", {"account_id": "a1"}, NOW, account_id="a1"
        )
        assert commands.started_session_id(s, row) is None  # pending
        (sent,) = commands.claim_commands(s, ["PUB"], "test", NOW)
        commands.record_answer(s, sent.id, CommandStatus.accepted, {"status": "Accepted"}, NOW)
        accepted = commands.command(s, row.id)
        assert accepted is not None
        assert commands.started_session_id(s, accepted) is None  # the earlier one is not its own
        result = start_transaction(s, "PUB", 2, "TAG1", 0, NOW.isoformat(), NOW)
        assert commands.started_session_id(s, accepted) == result.session_id
        # Only the asking account reads it back.
        assert driver.account_command(s, row.id, "a1") == accepted
        assert driver.account_command(s, row.id, "a2") is None
        assert driver.account_command(s, row.id + 1000, "a1") is None


def test_a_start_on_a_connector_links_to_a_session_on_that_connector_only(site: Database) -> None:
    row = start(site, "a1", "TWO", connector_id=2)
    with site.session() as s:
        (sent,) = commands.claim_commands(s, ["TWO"], "test", NOW)
        commands.record_answer(s, sent.id, CommandStatus.accepted, {"status": "Accepted"}, NOW)
        accepted = commands.command(s, row.id)
        assert accepted is not None
        start_transaction(s, "TWO", 1, "TAG1", 0, NOW.isoformat(), NOW)
        assert commands.started_session_id(s, accepted) is None  # connector 1: not this one
        later = (NOW + timedelta(seconds=5)).isoformat()
        result = start_transaction(s, "TWO", 2, "TAG1", 0, later, NOW)
        assert commands.started_session_id(s, accepted) == result.session_id


def test_a_refused_start_links_to_no_session(site: Database) -> None:
    with site.session() as s:
        row = commands.request_command(s, "PUB", "RemoteStartTransaction", {"id_tag": "TAG1"}, NOW)
        (sent,) = commands.claim_commands(s, ["PUB"], "test", NOW)
        commands.record_answer(s, sent.id, CommandStatus.rejected, {"status": "Rejected"}, NOW)
        start_transaction(s, "PUB", 1, "TAG1", 0, (NOW + timedelta(seconds=5)).isoformat(), NOW)
        refused = commands.command(s, row.id)
        assert refused is not None and commands.started_session_id(s, refused) is None
