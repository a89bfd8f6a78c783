"""Commands to chargers as rows (data/ocpp/commands.py), on SQLite and PostgreSQL: asking with
validated parameters, claiming each once, answers, expiry with a pinned ``now``, the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import select

import data.ocpp.commands as commands
from data.core.db import Database
from data.core.models import ChargerCommand, CommandStatus, OcppTransaction
from data.ocpp.commands import CommandError
from tests.support.factories import make_account, make_charger, make_id_tag, make_session

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    with db.session() as s:
        account = make_account(s, account_id="a1")
        make_account(s, account_id="a2")  # no id tag
        make_charger(s, charger_id="C1")
        make_charger(s, charger_id="C2")
        make_id_tag(s, account, id_tag="TAG1")
        make_session(s, account, "C1", started_at=NOW - timedelta(minutes=30), session_id="s1")
        s.add(
            OcppTransaction(
                id=41, session_id="s1", charger_id="C1", connector_id=1, id_tag="TAG1",
                meter_start_wh=0, meter_last_wh=0, started_at=NOW - timedelta(minutes=30),
            )
        )  # fmt: skip
    return db


def ask(db: Database, charger_id: str, action: str, now: datetime = NOW, **params):
    with db.session() as s:
        return commands.request_command(s, charger_id, action, params, now)


def test_request_command_stores_a_pending_row_with_checked_params(site: Database):
    with site.session() as s:
        user_id = make_account(s, account_id="op").user_id
        row = commands.request_command(
            s, "C1", "Reset", {"type": "Soft"}, NOW, user_id=user_id, account_id="op"
        )
    assert (row.charger_id, row.action, row.params) == ("C1", "Reset", {"type": "Soft"})
    assert (row.status, row.requested_at, row.sent_at, row.answered_at) == (
        CommandStatus.pending, NOW, None, None,
    )  # fmt: skip
    assert (row.user_id, row.account_id, row.finished) == (user_id, "op", False)
    with site.session() as s:
        assert commands.command(s, row.id) == row
        stored = s.get(ChargerCommand, row.id)
        assert json.loads(stored.params) == {"type": "Soft"}


@pytest.mark.parametrize(
    ("action", "params", "payload"),
    [
        ("UnlockConnector", {"connector_id": "1"}, {"connector_id": 1}),  # CLI strings coerced
        ("ChangeAvailability", {"connector_id": 0, "type": "Inoperative"},
         {"connector_id": 0, "type": "Inoperative"}),
        ("RemoteStartTransaction", {"id_tag": "TAG1"}, {"id_tag": "TAG1"}),
        ("RemoteStartTransaction", {"account_id": "a1", "connector_id": 1},
         {"id_tag": "TAG1", "connector_id": 1}),
        ("RemoteStopTransaction", {"session_id": "s1"}, {"transaction_id": 41}),
        ("RemoteStopTransaction", {"transaction_id": 41}, {"transaction_id": 41}),
        ("TriggerMessage", {"requested_message": "Heartbeat"}, {"requested_message": "Heartbeat"}),
        ("GetConfiguration", {}, {}),
        ("GetConfiguration", {"key": "HeartbeatInterval, NumberOfConnectors"},
         {"key": ["HeartbeatInterval", "NumberOfConnectors"]}),
        ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"},
         {"key": "HeartbeatInterval", "value": "60"}),
        ("ClearCache", {}, {}),
    ],
)  # fmt: skip
def test_every_action_is_claimed_with_its_ocpp_payload(site: Database, action, params, payload):
    row = ask(site, "C1", action, **params)
    with site.session() as s:
        claimed = commands.claim_commands(s, ["C1"], "i1", NOW)
    assert [(c.id, c.action, c.payload) for c in claimed] == [(row.id, action, payload)]


@pytest.mark.parametrize(
    ("charger_id", "action", "params", "message"),
    [
        ("NOPE", "Reset", {"type": "Soft"}, "Unknown charger 'NOPE'"),
        ("C1", "Explode", {}, "Unknown action 'Explode'; one of: Reset, UnlockConnector"),
        ("C1", "Reset", {}, "Reset: type is required"),
        ("C1", "Reset", {"type": "Medium"}, "Reset: type: Input should be 'Soft' or 'Hard'"),
        ("C1", "Reset", {"type": "Soft", "when": "now"}, "Reset: unknown parameter 'when'"),
        ("C1", "UnlockConnector", {"connector_id": 0}, "UnlockConnector: connector_id: Input "
         "should be greater than or equal to 1"),
        ("C1", "UnlockConnector", {"connector_id": "one"}, "UnlockConnector: connector_id: "
         "Input should be a valid integer"),
        ("C1", "RemoteStartTransaction", {}, "give id_tag or account_id (one of them)"),
        ("C1", "RemoteStartTransaction", {"id_tag": "X" * 21}, "id_tag: String should have at "
         "most 20 characters"),
        ("C1", "RemoteStartTransaction", {"account_id": "a2"}, "account 'a2' has no id tag"),
        ("C1", "RemoteStopTransaction", {"transaction_id": 41, "session_id": "s1"},
         "give transaction_id or session_id (one of them)"),
        ("C2", "RemoteStopTransaction", {"session_id": "s1"}, "session 's1' is not in progress "
         "on C2"),
        ("C1", "TriggerMessage", {"requested_message": "DiagnosticsStatusNotification"},
         "requested_message: Input should be 'StatusNotification', 'Heartbeat', 'MeterValues' "
         "or 'BootNotification'"),
        ("C1", "GetConfiguration", {"key": ["K" * 51]}, "each key has 1 to 50 characters"),
        ("C1", "ChangeConfiguration", {"key": "HeartbeatInterval"}, "value is required"),
        ("C1", "ClearCache", {"connector_id": 1}, "unknown parameter 'connector_id'"),
    ],
)  # fmt: skip
def test_invalid_commands_are_refused_with_a_clear_message(
    site: Database, charger_id, action, params, message
):
    with pytest.raises(CommandError) as refused, site.session() as s:
        commands.request_command(s, charger_id, action, params, NOW)
    assert message in str(refused.value)
    with site.session() as s:
        assert s.scalars(select(ChargerCommand)).all() == []


def test_claim_takes_only_pending_commands_of_the_given_chargers_once(site: Database):
    first = ask(site, "C1", "Reset", type="Soft")
    other = ask(site, "C2", "Reset", type="Hard")
    second = ask(site, "C1", "ClearCache")
    later = NOW + timedelta(seconds=1)
    with site.session() as s:
        claimed = commands.claim_commands(s, ["C1", "C9"], "host:1:ab", later)
    assert [c.id for c in claimed] == [first.id, second.id]
    with site.session() as s:
        assert commands.claim_commands(s, ["C1"], "host:2:cd", later) == []  # nothing twice
        assert commands.claim_commands(s, [], "host:2:cd", later) == []
        row = commands.command(s, first.id)
        assert (row.status, row.sent_at, row.sent_by) == (CommandStatus.sent, later, "host:1:ab")
        assert commands.command(s, other.id).status == CommandStatus.pending


def test_released_commands_go_back_to_pending_only_from_their_claimer(site: Database):
    first = ask(site, "C1", "ClearCache")
    second = ask(site, "C1", "ClearCache")
    with site.session() as s:
        commands.claim_commands(s, ["C1"], "A", NOW)
    with site.session() as s:
        assert commands.release_commands(s, [first.id, second.id], "B") == 0  # not B's
        commands.record_answer(s, second.id, CommandStatus.accepted, {}, NOW)
        assert commands.release_commands(s, [first.id, second.id], "A") == 1  # not the answered
        assert commands.release_commands(s, [], "A") == 0
    with site.session() as s:
        row = commands.command(s, first.id)
        assert (row.status, row.sent_at, row.sent_by) == (CommandStatus.pending, None, None)
        assert commands.command(s, second.id).status == CommandStatus.accepted
        assert [c.id for c in commands.claim_commands(s, ["C1"], "B", NOW)] == [first.id]


def test_claim_respects_the_limit_oldest_first(site: Database):
    ids = [ask(site, "C1", "ClearCache").id for _ in range(5)]
    with site.session() as s:
        assert [c.id for c in commands.claim_commands(s, ["C1"], "i", NOW, limit=2)] == ids[:2]
    with site.session() as s:
        assert [c.id for c in commands.claim_commands(s, ["C1"], "i", NOW)] == ids[2:]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_claimers_at_once_on_postgresql_never_share_a_command(site: Database):
    ids = {ask(site, charger, "ClearCache").id for charger in ("C1", "C2") * 10}
    # The first claimer holds its rows (transaction still open) while the second claims.
    with site.sessions() as first, first.begin():
        taken_first = commands.claim_commands(first, ["C1", "C2"], "one", NOW, limit=7)
        with site.sessions() as second, second.begin():
            taken_second = commands.claim_commands(second, ["C1", "C2"], "two", NOW)
    first_ids = {c.id for c in taken_first}
    second_ids = {c.id for c in taken_second}
    assert len(first_ids) == 7 and len(second_ids) == 13
    assert first_ids.isdisjoint(second_ids) and first_ids | second_ids == ids
    with site.session() as s:
        by = {i: who for i, who in s.execute(select(ChargerCommand.id, ChargerCommand.sent_by))}
    assert {i for i, who in by.items() if who == "one"} == first_ids


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_asking_notifies_the_servers_when_the_transaction_commits(
    site: Database, database_url: str
):
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as listener:
        listener.execute(f"LISTEN {commands.COMMANDS_CHANNEL}")
        with site.session() as s:
            commands.request_command(s, "C2", "Reset", {"type": "Soft"}, NOW)
            before_commit = list(listener.notifies(timeout=0.3))
        after_commit = list(listener.notifies(timeout=2, stop_after=1))
    assert before_commit == []
    assert [(n.channel, n.payload) for n in after_commit] == [(commands.COMMANDS_CHANNEL, "C2")]


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"status": "Accepted"}, CommandStatus.accepted),
        ({"status": "RebootRequired"}, CommandStatus.accepted),
        ({"status": "Scheduled"}, CommandStatus.accepted),
        ({"status": "Unlocked"}, CommandStatus.accepted),
        ({"configuration_key": [], "unknown_key": ["X"]}, CommandStatus.accepted),
        ({"status": "Rejected"}, CommandStatus.rejected),
        ({"status": "NotSupported"}, CommandStatus.rejected),
        ({"status": "UnlockFailed"}, CommandStatus.rejected),
        # ReserveNow's refusals
        ({"status": "Faulted"}, CommandStatus.rejected),
        ({"status": "Occupied"}, CommandStatus.rejected),
        ({"status": "Unavailable"}, CommandStatus.rejected),
    ],
)
def test_answer_status_maps_the_chargers_words(answer, status):
    assert commands.answer_status(answer) == status


def test_record_answer_ends_a_sent_command_once(site: Database):
    row = ask(site, "C1", "ChangeConfiguration", key="NumberOfConnectors", value="2")
    answered = NOW + timedelta(seconds=2)
    with site.session() as s:
        commands.claim_commands(s, ["C1"], "i", NOW)
    with site.session() as s:
        assert commands.record_answer(
            s, row.id, CommandStatus.rejected, {"status": "Rejected"}, answered
        )
    with site.session() as s:  # a second (late) answer changes nothing
        assert not commands.record_answer(s, row.id, CommandStatus.accepted, {}, answered)
        with pytest.raises(ValueError, match="ends a command"):
            commands.record_answer(s, row.id, CommandStatus.sent, None, answered)
        done = commands.command(s, row.id)
    assert (done.status, done.response, done.answered_at, done.finished) == (
        CommandStatus.rejected, {"status": "Rejected"}, answered, True,
    )  # fmt: skip


def test_record_answer_needs_a_sent_command(site: Database):
    row = ask(site, "C1", "ClearCache")
    with site.session() as s:
        assert not commands.record_answer(s, row.id, CommandStatus.accepted, {}, NOW)
        assert commands.command(s, row.id).status == CommandStatus.pending


def test_expiry_ends_pending_as_offline_and_sent_as_timeout(site: Database):
    stale = ask(site, "C2", "Reset", type="Soft")
    fresh = ask(site, "C2", "Reset", type="Soft", now=NOW + timedelta(seconds=6))
    sent = ask(site, "C1", "ClearCache")
    with site.session() as s:
        commands.claim_commands(s, ["C1"], "dead-instance", NOW + timedelta(seconds=1))
    with site.session() as s:  # 10 s after the first: only it is offline; nothing timed out
        assert commands.expire_commands(s, NOW + timedelta(seconds=10)) == commands.Expired(1, 0)
    with site.session() as s:
        assert commands.command(s, stale.id).status == CommandStatus.offline
        assert commands.command(s, stale.id).answered_at == NOW + timedelta(seconds=10)
        assert commands.command(s, fresh.id).status == CommandStatus.pending
        assert commands.command(s, sent.id).status == CommandStatus.sent
    with site.session() as s:  # 30 s after it was sent (short limits passed in)
        assert commands.expire_commands(
            s, NOW + timedelta(seconds=31), offline_after_s=20, timeout_s=30
        ) == commands.Expired(1, 1)
    with site.session() as s:
        assert commands.command(s, fresh.id).status == CommandStatus.offline
        assert commands.command(s, sent.id).status == CommandStatus.timeout
        assert commands.expire_commands(s, NOW + timedelta(hours=1)) == commands.Expired(0, 0)


def test_command_log_newest_first_per_charger_or_fleet(site: Database):
    a = ask(site, "C1", "ClearCache")
    b = ask(site, "C2", "ClearCache", now=NOW + timedelta(seconds=1))
    c = ask(site, "C1", "Reset", type="Hard", now=NOW + timedelta(seconds=2))
    with site.session() as s:
        assert [r.id for r in commands.command_log(s)] == [c.id, b.id, a.id]
        assert [r.id for r in commands.command_log(s, "C1")] == [c.id, a.id]
        assert [r.id for r in commands.command_log(s, limit=1)] == [c.id]
        assert commands.command(s, 999_999) is None
