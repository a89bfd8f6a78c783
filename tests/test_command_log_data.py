"""The operators' command log (data/ocpp/command_log.py) on SQLite and PostgreSQL: filters by
charger, action, status and local days in SQL, newest first, the asking person's email, the
limit and the count; the filter's words for bad input; sessions in progress on a charger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update

from data.core.db import Database
from data.core.models import ChargerCommand, CommandStatus, OcppTransaction
from data.ocpp.command_log import (
    CommandLogFilter,
    command_log_count,
    command_log_rows,
    iter_command_log_rows,
    parse_log_filter,
    sessions_in_progress,
)
from data.ocpp.commands import CommandError, request_command
from tests.support.factories import make_account, make_charger, make_session

BERLIN = ZoneInfo("Europe/Berlin")
# 5 December 2026, 23:30 in Berlin is 22:30 UTC: the last command is on the 5th locally.
DAY = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def log(db: Database) -> dict[str, int]:
    """Four commands: C1 Reset (5 Dec 09:00, by op@), C1 Unlock (5 Dec 22:30 UTC = 23:30
    Berlin, offline), C2 ClearCache (4 Dec, from the shell), C2 Reset (3 Dec, offline)."""
    with db.session() as s:
        op = make_account(s, account_id="op")
        op.user.email = "olga@example.com"
        make_charger(s, charger_id="C1")
        make_charger(s, charger_id="C2")
        s.flush()
        ids = {
            "old_reset": request_command(
                s, "C2", "Reset", {"type": "Hard"}, DAY - timedelta(days=2)
            ).id,
            "clear": request_command(s, "C2", "ClearCache", {}, DAY - timedelta(days=1)).id,
            "reset": request_command(
                s, "C1", "Reset", {"type": "Soft"}, DAY, user_id=op.user_id, account_id="op"
            ).id,
            "unlock": request_command(
                s,
                "C1",
                "UnlockConnector",
                {"connector_id": 1},
                DAY + timedelta(hours=13, minutes=30),
            ).id,
        }
        # The old reset and the unlock end offline (as the expiry leaves them); the rest pend.
        s.execute(
            update(ChargerCommand)
            .where(ChargerCommand.id.in_([ids["old_reset"], ids["unlock"]]))
            .values(status=CommandStatus.offline, answered_at=DAY + timedelta(hours=14))
        )
    return ids


def ids_of(db: Database, flt: CommandLogFilter, limit: int = 200) -> list[int]:
    with db.session() as s:
        return [r.command.id for r in command_log_rows(s, flt, BERLIN, limit)]


def test_the_log_is_newest_first_with_who_asked(db: Database, log: dict[str, int]) -> None:
    with db.session() as s:
        rows = command_log_rows(s, CommandLogFilter(), BERLIN)
    assert [r.command.id for r in rows] == [
        log["unlock"], log["reset"], log["clear"], log["old_reset"]
    ]  # fmt: skip
    by_id = {r.command.id: r for r in rows}
    assert by_id[log["reset"]].user_email == "olga@example.com"
    assert by_id[log["reset"]].command.account_id == "op"
    assert by_id[log["clear"]].user_email is None
    assert by_id[log["unlock"]].command.status == CommandStatus.offline


def test_each_filter_and_their_combination(db: Database, log: dict[str, int]) -> None:
    assert ids_of(db, CommandLogFilter(charger_id="C1")) == [log["unlock"], log["reset"]]
    assert ids_of(db, CommandLogFilter(action="Reset")) == [log["reset"], log["old_reset"]]
    offline = CommandLogFilter(status=CommandStatus.offline)
    assert ids_of(db, offline) == [log["unlock"], log["old_reset"]]
    both = CommandLogFilter(charger_id="C2", action="Reset", status=CommandStatus.offline)
    assert ids_of(db, both) == [log["old_reset"]]
    assert ids_of(db, CommandLogFilter(charger_id="C9")) == []


def test_days_are_local_days_both_included(db: Database, log: dict[str, int]) -> None:
    # 22:30 UTC on the 5th is still the 5th in Berlin: the unlock is in "the 5th", not the 6th.
    the_5th = CommandLogFilter(first_day=date(2026, 12, 5), last_day=date(2026, 12, 5))
    assert ids_of(db, the_5th) == [log["unlock"], log["reset"]]
    assert ids_of(db, CommandLogFilter(first_day=date(2026, 12, 6))) == []
    up_to_4th = CommandLogFilter(last_day=date(2026, 12, 4))
    assert ids_of(db, up_to_4th) == [log["clear"], log["old_reset"]]
    with db.session() as s:
        # In UTC the unlock is on the 5th as well, the 4th holds only the ClearCache.
        the_4th = CommandLogFilter(first_day=date(2026, 12, 4), last_day=date(2026, 12, 4))
        rows = command_log_rows(s, the_4th, ZoneInfo("UTC"))
    assert [r.command.id for r in rows] == [log["clear"]]


def test_limit_and_count(db: Database, log: dict[str, int]) -> None:
    assert ids_of(db, CommandLogFilter(), limit=2) == [log["unlock"], log["reset"]]
    with db.session() as s:
        assert command_log_count(s, CommandLogFilter(), BERLIN) == 4
        assert command_log_count(s, CommandLogFilter(action="Reset"), BERLIN) == 2


FILTERS = [
    CommandLogFilter(),
    CommandLogFilter(charger_id="C1"),
    CommandLogFilter(action="Reset"),
    CommandLogFilter(status=CommandStatus.offline),
    CommandLogFilter(charger_id="C2", action="Reset", status=CommandStatus.offline),
    CommandLogFilter(first_day=date(2026, 12, 5), last_day=date(2026, 12, 5)),
    CommandLogFilter(last_day=date(2026, 12, 4)),
    CommandLogFilter(charger_id="C9"),
]


@pytest.mark.parametrize("batch_rows", [1, 3, 500])
def test_the_export_streams_every_row_in_batches(
    db: Database, log: dict[str, int], batch_rows: int
) -> None:
    with db.session() as s:
        for flt in FILTERS:
            streamed = list(iter_command_log_rows(s, flt, BERLIN, batch_rows=batch_rows))
            assert streamed == command_log_rows(s, flt, BERLIN), flt  # same rows, same order
    assert len(ids_of(db, CommandLogFilter())) == 4


def test_the_export_reads_lazily_and_closing_it_closes_the_cursor(
    db: Database, log: dict[str, int]
) -> None:
    with db.session() as s:
        rows = iter_command_log_rows(s, CommandLogFilter(), BERLIN, batch_rows=1)
        assert next(rows).command.id == log["unlock"]  # one row read, three still in the database
        if db.dialect == "postgresql":  # a server-side cursor, open while the rows are read
            assert s.scalar(text("SELECT count(*) FROM pg_cursors")) == 1
        rows.close()
        if db.dialect == "postgresql":
            assert s.scalar(text("SELECT count(*) FROM pg_cursors")) == 0
        assert command_log_count(s, CommandLogFilter(), BERLIN) == 4  # the session goes on


def test_parse_log_filter_reads_a_page_or_query_string() -> None:
    flt = parse_log_filter(" C1 ", "Reset", "offline", "2026-12-01", "2026-12-05")
    assert flt == CommandLogFilter("C1", "Reset", CommandStatus.offline, date(2026, 12, 1),
                                   date(2026, 12, 5))  # fmt: skip
    assert flt.query() == {
        "charger": "C1", "action": "Reset", "status": "offline",
        "from": "2026-12-01", "to": "2026-12-05",
    }  # fmt: skip
    assert parse_log_filter("", "", "", "", "") == CommandLogFilter()
    assert parse_log_filter(None, None, None, None, None).query() == {}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("", "Explode"), "action: one of Reset"),
        (("", "", "lost"), "status: one of pending"),
        (("", "", "", "yesterday"), "from: a date like"),
        (("", "", "", "2026-12-05", "2026-12-01"), "comes after"),
        ((["C1", "C2"],), "charger: give one value"),
        (("x" * 65,), "at most 64"),
    ],
)
def test_parse_log_filter_says_what_is_wrong(args: tuple[object, ...], words: str) -> None:
    with pytest.raises(CommandError, match=words):
        parse_log_filter(*args)


def test_sessions_in_progress_name_what_a_command_would_interrupt(db: Database) -> None:
    with db.session() as s:
        account = make_account(s, account_id="dana")
        make_charger(s, charger_id="C1")
        make_session(s, account, "C1", started_at=DAY - timedelta(hours=1), session_id="s-ocpp")
        make_session(s, account, "C1", started_at=DAY - timedelta(minutes=5), session_id="s-other")
        make_session(s, account, "C1", started_at=DAY - timedelta(days=1),
                     ended_at=DAY - timedelta(hours=20), session_id="s-done")  # fmt: skip
        s.add(
            OcppTransaction(
                id=7, session_id="s-ocpp", charger_id="C1", connector_id=2, id_tag="T",
                meter_start_wh=0, meter_last_wh=0, started_at=DAY - timedelta(hours=1),
            )
        )  # fmt: skip
    with db.session() as s:
        found = sessions_in_progress(s, "C1")
        assert sessions_in_progress(s, "C2") == []
    assert [(p.session_id, p.connector_id, p.remote_stoppable) for p in found] == [
        ("s-ocpp", 2, True), ("s-other", None, False)
    ]  # fmt: skip
