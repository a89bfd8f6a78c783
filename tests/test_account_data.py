"""My account's data (issue 18): display name, password change, notifications, cards (name,
block, unblock) and the ``me`` tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from data.accounts.cards import (
    NO_SUCH_CARD,
    account_cards,
    block_card,
    name_card,
    unblock_card,
)
from data.accounts.passwords import hash_password, verify_password
from data.accounts.profile import (
    SAME_PASSWORD,
    WRONG_CURRENT,
    change_password,
    profile,
    set_display_name,
    set_email_notifications,
)
from data.accounts.tokens import (
    COMMANDS_SCOPE,
    EXPORT_SCOPE,
    ME_SCOPE,
    TokenError,
    authenticate_token,
    create_token,
    list_tokens,
    revoke_token,
)
from data.accounts.validation import InvalidInput, NotFound
from data.audit.entries import Action, Actor
from data.core.db import Database
from data.core.models import AuditEntry, IdTag, Role, User
from data.ocpp.commands import NoIdTag, request_command
from data.ocpp.messages import ACCEPTED, BLOCKED, authorize, start_transaction
from tests.support.factories import make_account, make_charger, make_id_tag, make_user

NOW = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
OLD = "old enough password"
NEW = "a brand new password"


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    """Dana (customer account ACC-DANA, cards DANA-1 and DANA-2) and Zeb (ACC-ZEB, ZEB-1)."""
    with db.session() as s:
        dana = make_user(s, email="dana@example.com", display_name="Dana", password_hash=None)
        dana.password_hash = hash_password(OLD)
        zeb = make_user(s, email="zeb@example.com", display_name="Zeb")
        make_account(s, account_id="ACC-DANA", user=dana)
        make_account(s, account_id="ACC-ZEB", user=zeb)
        make_account(s, account_id="ACC-OPS", user=dana, role=Role.admin)
        make_id_tag(s, "ACC-DANA", id_tag="DANA-2")
        make_id_tag(s, "ACC-DANA", id_tag="DANA-1")
        make_id_tag(s, "ACC-ZEB", id_tag="ZEB-1")
        make_charger(s, charger_id="C1")
        s.flush()
        return {"dana": dana.id, "zeb": zeb.id}


def dana(people: dict[str, int]) -> Actor:
    return Actor("dana@example.com", people["dana"], "ACC-DANA")


def actions(db: Database) -> list[tuple[str, str]]:
    with db.session() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.subject_id).order_by(AuditEntry.id))
        return [(a, sid) for a, sid in rows]


def test_display_name_is_trimmed_checked_and_audited(db: Database, people: dict[str, int]):
    me = dana(people)
    with db.session() as s:
        assert set_display_name(s, people["dana"], "  Dana D.  ", actor=me, now=NOW) == "Dana D."
    for bad in ("", "   ", "x" * 201, None, 42):
        with pytest.raises(InvalidInput) as refused, db.session() as s:
            set_display_name(s, people["dana"], bad, actor=me, now=NOW)
        assert "display_name" in refused.value.errors
    with db.session() as s:
        assert profile(s, people["dana"]).display_name == "Dana D."
    assert actions(db) == [(Action.person_updated.value, str(people["dana"]))]


def test_notifications_toggle_records_only_changes(db: Database, people: dict[str, int]):
    me = dana(people)
    with db.session() as s:
        assert profile(s, people["dana"]).email_notifications is False  # opt-in
        assert set_email_notifications(s, people["dana"], True, actor=me, now=NOW)
        assert not set_email_notifications(s, people["dana"], True, actor=me, now=NOW)
    with db.session() as s:
        assert profile(s, people["dana"]).email_notifications is True
        assert set_email_notifications(s, people["dana"], False, actor=me, now=NOW)
    assert [a for a, _ in actions(db)] == [Action.person_updated.value] * 2


def test_password_change_checks_the_current_one_and_bumps_the_version(
    db: Database, people: dict[str, int]
):
    me = dana(people)
    with db.session() as s:
        version = s.get(User, people["dana"]).session_version  # type: ignore[union-attr]
    refusals = [
        ("wrong current", "not my password", NEW, {"current": WRONG_CURRENT}),
        ("no current", None, NEW, {"current": WRONG_CURRENT}),
        ("too short", OLD, "short", {"new"}),
        ("same again", OLD, OLD, {"new": SAME_PASSWORD}),
        ("both", "nope", "x", {"current", "new"}),
    ]
    for label, current, new, expected in refusals:
        with pytest.raises(InvalidInput) as refused, db.session() as s:
            change_password(s, people["dana"], current, new, actor=me, now=NOW)
        if isinstance(expected, dict):
            assert refused.value.errors == expected, label
        else:
            assert set(refused.value.errors) == expected, label
    with db.session() as s:
        user = s.get(User, people["dana"])
        assert user is not None and user.session_version == version  # nothing written
        assert verify_password(user.password_hash, OLD)
    with db.session() as s:
        change_password(s, people["dana"], OLD, NEW, actor=me, now=NOW)
    with db.session() as s:
        user = s.get(User, people["dana"])
        assert user is not None and user.session_version == version + 1
        assert verify_password(user.password_hash, NEW)
        assert not verify_password(user.password_hash, OLD)
    assert actions(db) == [(Action.person_password_set.value, str(people["dana"]))]


def test_cards_are_named_and_blocked_only_on_their_own_account(
    db: Database, people: dict[str, int]
):
    me = dana(people)
    with db.session() as s:
        assert [c.id_tag for c in account_cards(s, "ACC-DANA")] == ["DANA-1", "DANA-2"]
        card = name_card(s, "ACC-DANA", "DANA-1", "  Blue keyring ", actor=me, now=NOW)
        assert (card.name, card.title) == ("Blue keyring", "Blue keyring")
    # Another account's card, forged: no such card, nothing written.
    for forged in ("ZEB-1", "NOPE", "", None, 7, "x" * 65):
        with pytest.raises(NotFound, match=NO_SUCH_CARD), db.session() as s:
            block_card(s, "ACC-DANA", forged, actor=me, now=NOW)
        with pytest.raises(NotFound), db.session() as s:
            name_card(s, "ACC-DANA", forged, "mine now", actor=me, now=NOW)
    with pytest.raises(InvalidInput), db.session() as s:
        name_card(s, "ACC-DANA", "DANA-2", "y" * 61, actor=me, now=NOW)
    with db.session() as s:
        assert block_card(s, "ACC-DANA", "DANA-2", actor=me, now=NOW)
        assert not block_card(s, "ACC-DANA", "DANA-2", actor=me, now=NOW + timedelta(hours=1))
    with db.session() as s:
        zeb = s.get(IdTag, "ZEB-1")
        assert zeb is not None and zeb.blocked_at is None and zeb.name is None
        cards = {c.id_tag: c for c in account_cards(s, "ACC-DANA")}
        assert cards["DANA-2"].blocked_at == NOW and cards["DANA-2"].blocked_by == me.user
        assert not cards["DANA-1"].blocked
    assert actions(db) == [
        (Action.id_tag_updated.value, "DANA-1"),
        (Action.id_tag_blocked.value, "DANA-2"),
    ]


def test_an_operator_unblocks_a_card(db: Database, people: dict[str, int]):
    ops = Actor("ops@example.com", None, "ACC-OPS")
    with db.session() as s:
        block_card(s, "ACC-DANA", "DANA-1", actor=dana(people), now=NOW)
    with pytest.raises(NotFound), db.session() as s:
        unblock_card(s, "ACC-ZEB", "DANA-1", actor=ops, now=NOW)  # not that account's card
    with db.session() as s:
        assert unblock_card(s, "ACC-DANA", "DANA-1", actor=ops, now=NOW)
        assert not unblock_card(s, "ACC-DANA", "DANA-1", actor=ops, now=NOW)
    with db.session() as s:
        assert not account_cards(s, "ACC-DANA")[0].blocked
    assert [a for a, _ in actions(db)][-1] == Action.id_tag_unblocked.value


def test_a_blocked_card_is_refused_at_the_charger_and_never_sent(
    db: Database, people: dict[str, int]
):
    with db.session() as s:
        assert authorize(s, "C1", "DANA-1", NOW) == ACCEPTED
        block_card(s, "ACC-DANA", "DANA-1", actor=dana(people), now=NOW)
        block_card(s, "ACC-DANA", "DANA-2", actor=dana(people), now=NOW)
    with db.session() as s:
        assert authorize(s, "C1", "DANA-1", NOW) == BLOCKED
        started = start_transaction(s, "C1", 1, "DANA-1", 0, None, NOW)
        assert (started.status, started.session_id) == (BLOCKED, None)
        # A driver's Start never sends a blocked card: with none left, there is none to send.
        with pytest.raises(NoIdTag):
            request_command(s, "C1", "RemoteStartTransaction", {"account_id": "ACC-DANA"}, NOW)


def test_me_tokens_are_for_customer_accounts_and_revoked_only_by_their_own(
    db: Database, people: dict[str, int]
):
    me = dana(people)
    with db.session() as s:
        token = create_token(
            s, "dana@example.com", NOW, account_id="ACC-DANA", scopes=[ME_SCOPE], actor=me
        )
        other = create_token(
            s, "zeb@example.com", NOW, account_id="ACC-ZEB", scopes=[ME_SCOPE, COMMANDS_SCOPE],
            actor=Actor("zeb@example.com", people["zeb"], "ACC-ZEB"),
        )  # fmt: skip
        identity = authenticate_token(s, token.secret, NOW)
        assert identity is not None and identity.scopes == frozenset({ME_SCOPE})
        assert identity.account_id == "ACC-DANA"
    for account, scopes in (("ACC-OPS", [ME_SCOPE]), ("ACC-DANA", [ME_SCOPE, EXPORT_SCOPE])):
        with pytest.raises(TokenError), db.session() as s:
            create_token(s, "dana@example.com", NOW, account_id=account, scopes=scopes, actor=me)
    with db.session() as s:
        assert [r.token_id for r in list_tokens(s, "ACC-DANA")] == [token.token_id]
        assert {r.token_id for r in list_tokens(s)} == {token.token_id, other.token_id}
    with pytest.raises(TokenError), db.session() as s:
        revoke_token(s, other.token_id, NOW, actor=me, account_id="ACC-DANA")
    with db.session() as s:
        assert revoke_token(s, token.token_id, NOW, actor=me, account_id="ACC-DANA")
    with db.session() as s:
        assert authenticate_token(s, token.secret, NOW) is None
        assert authenticate_token(s, other.secret, NOW) is not None
