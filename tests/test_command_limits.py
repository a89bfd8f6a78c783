"""The per-account command rate (data/ocpp/command_limits.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import data.ocpp.commands as commands
from data.core.db import Database
from data.ocpp.command_limits import COMMANDS_PER_MINUTE, TooManyCommands, check_command_rate
from tests.support.factories import make_account, make_charger

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    with db.session() as s:
        make_account(s, account_id="a1")
        make_account(s, account_id="a2")
        make_charger(s, charger_id="C1")
    return db


def ask(db: Database, account_id: str, at: datetime) -> None:
    with db.session() as s:
        check_command_rate(s, account_id, at)
        commands.request_command(s, "C1", "ClearCache", {}, at, account_id=account_id)


def test_an_account_gets_a_few_commands_a_minute_then_a_wait(site: Database) -> None:
    for i in range(COMMANDS_PER_MINUTE):
        ask(site, "a1", NOW + timedelta(seconds=i))
    with pytest.raises(TooManyCommands) as refused:
        ask(site, "a1", NOW + timedelta(seconds=10))
    # The oldest of the five leaves the window at NOW + 60 s: 50 s from the refused try.
    assert refused.value.retry_after_s == 50
    assert "at most 5 a minute" in str(refused.value)
    # Another account is not held up, and the first may ask again once the minute has passed.
    ask(site, "a2", NOW + timedelta(seconds=10))
    ask(site, "a1", NOW + timedelta(seconds=60, microseconds=1))


def test_the_refused_try_is_not_counted(site: Database) -> None:
    for i in range(COMMANDS_PER_MINUTE):
        ask(site, "a1", NOW + timedelta(seconds=i))
    for _ in range(3):
        with pytest.raises(TooManyCommands):
            ask(site, "a1", NOW + timedelta(seconds=30))
    with site.session() as s:
        assert len(commands.command_log(s, "C1")) == COMMANDS_PER_MINUTE
