"""Who may ask for which command, and the session a RemoteStart opened
(``data/ocpp/command_rules.py``), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from data.core.db import Database
from data.core.models import CommandStatus, Visibility
from data.ocpp.command_rules import (
    CLOCK_SKEW,
    CommandForbidden,
    account_command,
    charger_visible_to,
    driver_command,
    started_session_id,
)
from data.ocpp.commands import claim_commands, command, record_answer, request_command
from data.ocpp.messages import start_transaction
from tests.support.factories import grant_access, make_account, make_charger, make_id_tag

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    with db.session() as s:
        make_account(s, account_id="a1")
        make_account(s, account_id="a2")
        make_id_tag(s, "a1", id_tag="TAG-1")
        make_charger(s, charger_id="PUB")
        make_charger(s, charger_id="RES", visibility=Visibility.restricted)
        make_charger(s, charger_id="RES-A1", visibility=Visibility.restricted)
        grant_access(s, "a1", "RES-A1")
    return db


def test_visibility_and_the_driver_rules(site: Database) -> None:
    with site.session() as s:
        assert charger_visible_to(s, "PUB", "a1") and charger_visible_to(s, "RES-A1", "a1")
        assert not charger_visible_to(s, "RES", "a1") and not charger_visible_to(s, "RES-A1", "a2")
        assert not charger_visible_to(s, "NOPE", "a1")
        params = driver_command(s, "a1", "RES-A1", "RemoteStartTransaction", {"connector_id": 1})
        assert params == {"connector_id": 1, "account_id": "a1"}
        for charger, action, given in (
            ("RES", "RemoteStartTransaction", {}),
            ("PUB", "RemoteStartTransaction", {"account_id": "a2"}),
            ("PUB", "RemoteStartTransaction", {"id_tag": "TAG-1"}),
            ("PUB", "Reset", {"type": "Soft"}),
            ("PUB", "RemoteStopTransaction", {"session_id": None}),
        ):
            with pytest.raises(CommandForbidden):
                driver_command(s, "a1", charger, action, given)


def test_a_remote_start_links_to_the_session_it_opened_only(site: Database) -> None:
    with site.session() as s:
        # An earlier session with the same tag on the same charger, before the command.
        start_transaction(s, "PUB", 1, "TAG-1", 0, (NOW - 2 * CLOCK_SKEW).isoformat(), NOW)
        row = request_command(
            s, "PUB", "RemoteStartTransaction", {"account_id": "a1"}, NOW, account_id="a1"
        )
        assert started_session_id(s, row) is None  # pending
        (sent,) = claim_commands(s, ["PUB"], "test", NOW)
        record_answer(s, sent.id, CommandStatus.accepted, {"status": "Accepted"}, NOW)
        accepted = command(s, row.id)
        assert accepted is not None
        assert started_session_id(s, accepted) is None  # the earlier session is not its own
        result = start_transaction(s, "PUB", 2, "TAG-1", 0, NOW.isoformat(), NOW)
        assert started_session_id(s, accepted) == result.session_id
        # Only the asking account reads it back.
        assert account_command(s, row.id, "a1") == accepted
        assert account_command(s, row.id, "a2") is None
        assert account_command(s, row.id + 1000, "a1") is None


def test_a_refused_start_links_to_no_session(site: Database) -> None:
    with site.session() as s:
        row = request_command(s, "PUB", "RemoteStartTransaction", {"id_tag": "TAG-1"}, NOW)
        (sent,) = claim_commands(s, ["PUB"], "test", NOW)
        record_answer(s, sent.id, CommandStatus.rejected, {"status": "Rejected"}, NOW)
        start_transaction(s, "PUB", 1, "TAG-1", 0, (NOW + timedelta(seconds=5)).isoformat(), NOW)
        refused = command(s, row.id)
        assert refused is not None and started_session_id(s, refused) is None
