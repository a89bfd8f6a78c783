"""``/account`` over HTTP, every callback: anonymous gets 401, each person changes only their
own profile and their active account's cards and tokens (a forged card or token id of another
account is refused, nothing written), a wrong current password changes nothing, and a password
change signs the person's other sessions out while this one stays. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from data.accounts.passwords import verify_password
from data.accounts.tokens import ME_SCOPE, TOKEN_PATTERN, list_tokens
from data.core.models import AuditEntry, IdTag, Role, User
from tests.support.callbacks import answer, call_page, first_click, page_callbacks
from tests.support.factories import make_id_tag, make_operator
from tests.support.web import PASSWORD, AppFactory, add_person, client_for, sign_in

DANA, ZEB, OLGA = "dana@example.com", "zeb@example.com", "olga@example.com"
PAGE = ("pages.account",)
NEW_PASSWORD = "a much longer new password"


@pytest.fixture
def app(app_factory: AppFactory, database_url: str) -> Flask:
    app = app_factory(database_url, PROPAGATE_EXCEPTIONS=False)
    add_person(app, DANA, ("acc-dana", Role.customer, None))
    add_person(app, ZEB, ("acc-zeb", Role.customer, None))
    add_person(app, OLGA, ("acc-ops", Role.admin, "Operations"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_id_tag(s, "acc-dana", id_tag="DANA-CARD")
        make_id_tag(s, "acc-zeb", id_tag="ZEB-CARD")
    return app


@pytest.fixture
def dana(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for(DANA)


def run(client: FlaskClient, app: Flask, name: str, values: dict[str, Any], **kw: Any) -> Any:
    return call_page(client, app, name, values, modules=PAGE, **kw)


def card(kind: str, tag: str) -> dict[str, str]:
    return {"type": kind, "card": tag}


def tag_row(app: Flask, tag: str) -> tuple[str | None, Any]:
    with app.extensions["polaris_db"].session() as s:
        row = s.get(IdTag, tag)
        assert row is not None
        return row.name, row.blocked_at


def person(app: Flask, email: str) -> User:
    with app.extensions["polaris_db"].session() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        s.expunge(user)
        return user


def test_every_callback_refuses_anonymous(app: Flask, client: FlaskClient) -> None:
    found = page_callbacks(app, PAGE)
    assert len(found) == 10, sorted(found)
    for name, (_key, entry) in found.items():
        response = run(client, app, name, first_click(entry))
        assert response.status_code == 401, name
        assert "dana" not in response.get_data(as_text=True).lower()


def test_profile_and_cards_show_only_ones_own(app: Flask, dana: FlaskClient) -> None:
    shown = answer(run(dana, app, "show_profile", {"url.pathname": "/account"}))
    assert shown["account-email"]["children"] == DANA
    assert shown["account-display-name"]["value"] == "Dana"
    cards = json.dumps(answer(run(dana, app, "show_cards", {"url.pathname": "/account"})))
    assert "DANA-CARD" in cards and "ZEB-CARD" not in cards


def test_display_name_is_saved_and_bad_input_writes_nothing(app: Flask, dana: FlaskClient) -> None:
    save = {"account-display-name-save.n_clicks": 1}
    bad = answer(run(dana, app, "save_display_name", {**save, "account-display-name.value": " "}))
    assert "Enter your name" in json.dumps(bad)
    assert bad["account-display-name"]["invalid"] is True
    assert person(app, DANA).display_name == "Dana"
    good = answer(
        run(dana, app, "save_display_name", {**save, "account-display-name.value": " Dana D "})
    )
    assert good["account-display-name"]["value"] == "Dana D"
    assert person(app, DANA).display_name == "Dana D"
    assert person(app, ZEB).display_name == "Zeb"


def test_notifications_are_saved_at_once(app: Flask, dana: FlaskClient) -> None:
    for forged in ("acc-zeb", 1, None):  # only a real true or false counts
        response = run(dana, app, "save_notifications", {"account-notifications.value": forged})
        assert response.status_code == 204
    assert person(app, DANA).email_notifications is False
    on = run(dana, app, "save_notifications", {"account-notifications.value": True})
    assert "are on" in json.dumps(answer(on))
    assert person(app, DANA).email_notifications is True
    assert person(app, ZEB).email_notifications is False


def test_naming_a_card_of_another_account_is_refused(app: Flask, dana: FlaskClient) -> None:
    def rename(tag: str, name: str) -> Any:
        return run(
            dana,
            app,
            "change_card",
            {
                "account-card-save.n_clicks": [(card("account-card-save", tag), 1)],
                "account-card-name.value": [(card("account-card-name", tag), name)],
                "account-cards-version.data": 0,
            },
            changed=(card("account-card-save", tag), "n_clicks"),
        )

    forged = answer(rename("ZEB-CARD", "mine now"))
    assert "no such card" in json.dumps(forged)
    assert tag_row(app, "ZEB-CARD")[0] is None
    named = answer(rename("DANA-CARD", "Blue keyring"))
    assert "Blue keyring" in json.dumps(named)
    assert tag_row(app, "DANA-CARD")[0] == "Blue keyring"


def block(client: FlaskClient, app: Flask, tag: str, submits: Any = 1) -> Any:
    return run(
        client,
        app,
        "change_card",
        {
            "account-card-block.submit_n_clicks": [(card("account-card-block", tag), submits)],
            "account-cards-version.data": 0,
        },
        changed=(card("account-card-block", tag), "submit_n_clicks"),
    )


def test_blocking_another_accounts_card_is_refused_even_with_a_forged_id(
    app: Flask, dana: FlaskClient
) -> None:
    assert block(dana, app, "ZEB-CARD", submits=None).status_code == 204  # nothing confirmed
    forged = answer(block(dana, app, "ZEB-CARD"))
    assert "no such card" in json.dumps(forged)
    assert tag_row(app, "ZEB-CARD")[1] is None
    blocked = answer(block(dana, app, "DANA-CARD"))
    assert "is blocked" in json.dumps(blocked)
    assert tag_row(app, "DANA-CARD")[1] is not None
    again = json.dumps(answer(run(dana, app, "show_cards", {"url.pathname": "/account"})))
    assert "ask the operator to unblock" in again
    with app.extensions["polaris_db"].session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "id_tag.blocked")).one()
        assert (entry.subject_id, entry.user, entry.account_id) == ("DANA-CARD", DANA, "acc-dana")


def change_password(client: FlaskClient, app: Flask, current: str, new: str) -> Any:
    return run(
        client,
        app,
        "save_password",
        {
            "account-password-save.n_clicks": 1,
            "account-password-current.value": current,
            "account-password-new.value": new,
        },
    )


def test_a_wrong_current_password_changes_nothing(app: Flask, dana: FlaskClient) -> None:
    before = person(app, DANA)
    refused = answer(change_password(dana, app, "not my password", NEW_PASSWORD))
    assert refused["account-password-current-error"]["children"] == (
        "That is not your current password."
    )
    after = person(app, DANA)
    assert after.session_version == before.session_version
    assert verify_password(after.password_hash, PASSWORD)
    short = answer(change_password(dana, app, PASSWORD, "short"))
    assert "at least 10 characters" in short["account-password-new-error"]["children"]
    assert verify_password(person(app, DANA).password_hash, PASSWORD)


def test_a_password_change_signs_out_the_other_sessions_and_keeps_this_one(
    app: Flask,
) -> None:
    here, elsewhere = client_for(app, DANA), client_for(app, DANA)
    profile = {"url.pathname": "/account"}
    assert run(elsewhere, app, "show_profile", profile).status_code == 200
    changed = answer(change_password(here, app, PASSWORD, NEW_PASSWORD))
    assert "this one stays" in json.dumps(changed)
    assert verify_password(person(app, DANA).password_hash, NEW_PASSWORD)
    # This session goes on; the other one is signed out (its cookie's version is old).
    assert answer(run(here, app, "show_profile", profile))["account-email"]["children"] == DANA
    assert run(elsewhere, app, "show_profile", profile).status_code == 401
    assert elsewhere.get("/account").status_code == 302
    assert here.get("/account").status_code == 200
    # The new password signs in; the old one no longer does.
    assert sign_in(app.test_client(), DANA, NEW_PASSWORD).status_code == 302
    assert sign_in(app.test_client(), DANA, PASSWORD).status_code == 401


def create_token(client: FlaskClient, app: Flask, name: str = "home") -> Any:
    return run(
        client,
        app,
        "create",
        {
            "account-token-create.n_clicks": 1,
            "account-token-name.value": name,
            "account-tokens-version.data": 0,
        },
    )


def revoke(client: FlaskClient, app: Flask, token_id: int) -> Any:
    ident = {"type": "account-token-revoke", "token": token_id}
    return run(
        client,
        app,
        "revoke",
        {
            "account-token-revoke.submit_n_clicks": [(ident, 1)],
            "account-tokens-version.data": 0,
        },
        changed=(ident, "submit_n_clicks"),
    )


def test_a_driver_creates_and_revokes_their_own_me_tokens_only(
    app: Flask, dana: FlaskClient, client_for: Callable[[str], FlaskClient]
) -> None:
    created = json.dumps(answer(create_token(dana, app)))
    secrets = TOKEN_PATTERN.findall(created)
    assert len(secrets) == 1  # shown this once
    zeb = client_for(ZEB)
    answer(create_token(zeb, app, "zeb's"))
    with app.extensions["polaris_db"].session() as s:
        (mine,) = list_tokens(s, "acc-dana")
        (theirs,) = list_tokens(s, "acc-zeb")
    assert mine.scopes == (ME_SCOPE,)
    listed = json.dumps(answer(run(dana, app, "show_tokens", {"url.pathname": "/account"})))
    assert mine.prefix in listed and theirs.prefix not in listed and secrets[0] not in listed
    refused = json.dumps(answer(revoke(dana, app, theirs.token_id)))
    assert "no such token" in refused
    assert "Token revoked" in json.dumps(answer(revoke(dana, app, mine.token_id)))
    with app.extensions["polaris_db"].session() as s:
        revoked = {r.token_id: r.revoked_at is not None for r in list_tokens(s)}
    assert revoked == {mine.token_id: True, theirs.token_id: False}
    hidden = run(dana, app, "hide_secret", {"account-token-hide.n_clicks": 1})
    assert answer(hidden)["account-token-created"]["children"] is None


def test_an_admin_account_gets_no_card_or_token_tools(
    app: Flask, client_for: Callable[[str], FlaskClient]
) -> None:
    olga = client_for(OLGA)
    tokens = answer(run(olga, app, "show_tokens", {"url.pathname": "/account"}))
    assert tokens["account-token-form"]["hidden"] is True
    refused = json.dumps(answer(create_token(olga, app)))
    assert "/admin/tokens" in refused
    with app.extensions["polaris_db"].session() as s:
        assert list_tokens(s) == []
    cards = answer(run(olga, app, "show_cards", {"url.pathname": "/account"}))
    assert cards["account-cards-intro"]["hidden"] is True


ADMIN_PAGE = ("pages.admin_accounts",)


def test_only_an_operator_unblocks_or_adds_a_card(
    app: Flask, dana: FlaskClient, client_for: Callable[[str], FlaskClient]
) -> None:
    olga = client_for(OLGA)
    answer(block(dana, app, "DANA-CARD"))
    chosen = {"user_id": person(app, DANA).id, "account_id": "acc-dana"}
    unblock_id = {"type": "admin-card-unblock", "card": "DANA-CARD"}
    unblock = {
        "admin-card-unblock.n_clicks": [(unblock_id, 1)],
        "admin-accounts-selected.data": chosen,
    }
    add = {
        "admin-card-add-save.n_clicks": 1,
        "admin-card-add-tag.value": "DANA-NEW",
        "admin-accounts-selected.data": chosen,
    }
    for name, values, changed in (
        ("unblock", unblock, (unblock_id, "n_clicks")),
        ("add_card", add, None),
    ):
        refused = call_page(dana, app, name, values, changed, modules=ADMIN_PAGE)
        assert refused.status_code == 403, name
    assert tag_row(app, "DANA-CARD")[1] is not None
    listed = json.dumps(
        answer(
            call_page(
                olga,
                app,
                "show_cards",
                {"admin-accounts-selected.data": chosen},
                modules=ADMIN_PAGE,
            )
        )
    )
    assert "Blocked" in listed and DANA in listed  # when, and who blocked it
    done = call_page(olga, app, "unblock", unblock, (unblock_id, "n_clicks"), modules=ADMIN_PAGE)
    assert "unblocked" in json.dumps(answer(done))
    assert tag_row(app, "DANA-CARD")[1] is None
    added = call_page(olga, app, "add_card", add, modules=ADMIN_PAGE)
    assert "DANA-NEW added" in json.dumps(answer(added))
    taken = {**add, "admin-card-add-tag.value": "ZEB-CARD"}
    assert "already belongs" in json.dumps(
        answer(call_page(olga, app, "add_card", taken, modules=ADMIN_PAGE))
    )
    with app.extensions["polaris_db"].session() as s:
        new = s.get(IdTag, "DANA-NEW")
        assert new is not None and new.account_id == "acc-dana"
        assert s.get(IdTag, "ZEB-CARD").account_id == "acc-zeb"  # type: ignore[union-attr]
        acted = s.scalars(
            select(AuditEntry.action).where(AuditEntry.user == OLGA).order_by(AuditEntry.id)
        ).all()
    assert acted == ["id_tag.unblocked", "id_tag.assigned"]
