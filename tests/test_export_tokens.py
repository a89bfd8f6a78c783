"""Personal API tokens: created and revoked by admins, stored hashed, accepted as
``Authorization: Bearer ...`` on the export routes only, acting as their admin account."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from data.accounts.tokens import (
    LAST_USED_RESOLUTION,
    TOKEN_PATTERN,
    TokenError,
    authenticate_token,
    bearer_secret,
    create_token,
    export_identity,
    list_tokens,
    revoke_token,
)
from data.core.db import Database
from data.core.models import ApiToken, Role
from tests.support.audit import CLI
from tests.support.databases import fresh_database
from tests.support.factories import (
    make_account,
    make_charger,
    make_operator,
    make_session,
    make_user,
)
from tests.support.web import AppFactory, add_person, client_for, dash_csrf, rows_of

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
OLGA, ALICE, MIXED = "olga@example.com", "alice@example.com", "mixed@example.com"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# --- The data layer (both databases) -------------------------------------------------------------


def people(db: Database) -> None:
    with db.session() as s:
        olga = make_user(s, email=OLGA)
        make_account(s, account_id="acc-olga-admin", user=olga, role=Role.admin)
        alice = make_user(s, email=ALICE)
        make_account(s, account_id="acc-alice", user=alice)
        twice = make_user(s, email="two-hats@example.com")
        make_account(s, account_id="acc-hat-1", user=twice, role=Role.admin)
        make_account(s, account_id="acc-hat-2", user=twice, role=Role.admin)


def test_a_token_is_shown_once_and_stored_as_its_hash(db: Database) -> None:
    people(db)
    with db.session() as s:
        token = create_token(s, "Olga@Example.com ", NOW, name="nightly sync", actor=CLI)
    assert TOKEN_PATTERN.fullmatch(token.secret)
    assert token.account_id == "acc-olga-admin" and token.email == OLGA
    with db.session() as s:
        row = s.scalars(select(ApiToken)).one()
        stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert row.token_hash == hashlib.sha256(token.secret.encode()).hexdigest()
    assert not any(token.secret in value for value in stored)  # only the hash is kept
    assert row.prefix == token.secret[:8] and row.name == "nightly sync"
    assert row.created_at == NOW and row.last_used_at is None and row.revoked_at is None
    with db.session() as s:
        other = create_token(s, OLGA, NOW, actor=CLI)
    assert other.secret != token.secret


@pytest.mark.parametrize(
    ("email", "account_id", "message"),
    [
        ("nobody@example.com", None, "Nobody signs in as nobody@example.com"),
        (ALICE, None, "holds no admin account"),
        ("two-hats@example.com", None, "several admin accounts (acc-hat-1, acc-hat-2)"),
        (OLGA, "acc-alice", "acc-alice is not an admin account of olga@example.com"),
    ],
)
def test_tokens_are_for_admin_accounts_only(
    db: Database, email: str, account_id: str | None, message: str
) -> None:
    people(db)
    with pytest.raises(TokenError, match=message.replace("(", r"\(").replace(")", r"\)")):
        with db.session() as s:
            create_token(s, email, NOW, account_id=account_id, actor=CLI)
    with db.session() as s:
        token = create_token(s, "two-hats@example.com", NOW, account_id="acc-hat-2", actor=CLI)
    assert token.account_id == "acc-hat-2"


def test_authenticate_records_use_and_refuses_revoked_and_demoted(db: Database) -> None:
    people(db)
    with db.session() as s:
        token = create_token(s, OLGA, NOW, actor=CLI)
    with db.session() as s:
        identity = authenticate_token(s, token.secret, NOW)
    assert identity is not None and identity.account_id == "acc-olga-admin"

    def last_used() -> datetime | None:
        with db.session() as s:
            return s.scalar(select(ApiToken.last_used_at))

    assert last_used() == NOW
    with db.session() as s:  # within a minute: no write
        assert authenticate_token(s, token.secret, NOW + timedelta(seconds=30)) is not None
    assert last_used() == NOW
    later = NOW + LAST_USED_RESOLUTION
    with db.session() as s:
        assert authenticate_token(s, token.secret, later) is not None
    assert last_used() == later

    with db.session() as s:
        # Unknown: the same token with its last character changed (never to itself).
        wrong = token.secret[:-1] + ("B" if token.secret.endswith("A") else "A")
        assert authenticate_token(s, wrong, NOW) is None
        assert authenticate_token(s, "not-a-token", NOW) is None
    with db.session() as s:
        s.execute(text("UPDATE accounts SET role = 'customer' WHERE id = 'acc-olga-admin'"))
    with db.session() as s:
        assert export_identity(s, token.secret, NOW) is None  # no longer an admin: no export
        demoted = authenticate_token(s, token.secret, NOW)
        assert demoted is not None and demoted.role == Role.customer and not demoted.is_admin
        s.execute(text("UPDATE accounts SET role = 'admin' WHERE id = 'acc-olga-admin'"))
    with db.session() as s:
        assert revoke_token(s, token.token_id, NOW, actor=CLI) is True
        assert revoke_token(s, token.token_id, NOW, actor=CLI) is False
    with db.session() as s:
        assert authenticate_token(s, token.secret, NOW) is None
        with pytest.raises(TokenError, match="There is no token 999"):
            revoke_token(s, 999, NOW, actor=CLI)
        rows = list_tokens(s)
    assert [(r.token_id, r.email, r.revoked_at) for r in rows] == [(token.token_id, OLGA, NOW)]


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        ("Bearer pex_" + "a" * 43, True),
        ("bearer  pex_" + "a" * 43 + " ", True),
        ("Bearer pex_" + "a" * 42, False),
        ("Bearer " + "a" * 47, False),
        ("Basic b2xnYTpwdw==", False),
        ("Bearer", False),
        ("", False),
    ],
)
def test_bearer_header_parsing(header: str, valid: bool) -> None:
    assert (bearer_secret(header) is not None) is valid


# --- Over HTTP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    module_app_factory: AppFactory,
) -> Iterator[Flask]:
    directory = tmp_path_factory.mktemp(f"tokens-{request.param}")
    with fresh_database(request.param, directory, sqlite_template) as url:
        application = module_app_factory(url, PROPAGATE_EXCEPTIONS=False)
        add_person(application, OLGA, ("acc-olga-admin", Role.admin, None))
        add_person(application, ALICE, ("acc-alice", Role.customer, None))
        # A person whose default account is a customer one, and who also holds an admin one.
        add_person(
            application,
            MIXED,
            ("acc-mixed-car", Role.customer, None),
            ("acc-mixed-ops", Role.admin, None),
        )
        db: Database = application.extensions["polaris_db"]
        with db.session() as s:
            make_operator(s, timezone="Europe/Berlin")
            charger = make_charger(s, charger_id="c-1")
            for account in ("acc-alice", "acc-mixed-car", "acc-olga-admin"):
                make_session(s, account, charger, started_at=NOW, energy_kwh="1.5")
        yield application
        db.engine.dispose()


def new_token(app: Flask, email: str = OLGA) -> str:
    with app.extensions["polaris_db"].session() as s:
        return create_token(s, email, datetime.now(UTC), actor=CLI).secret


def script(app: Flask) -> FlaskClient:
    """What curl is: no cookies kept."""
    return app.test_client(use_cookies=False)


def test_a_token_exports_as_its_admin_account_without_a_cookie(app: Flask) -> None:
    secret = new_token(app)
    response = script(app).get("/export/sessions.csv?from=2026-11-24", headers=bearer(secret))
    assert response.status_code == 200
    accounts = {r["account_id"] for r in rows_of(response.get_data(as_text=True))}
    assert accounts == {"acc-alice", "acc-mixed-car", "acc-olga-admin"}  # an admin's view
    assert "Set-Cookie" not in response.headers  # nothing signed in beyond this request
    assert script(app).get("/export/accounts.csv", headers=bearer(secret)).status_code == 200
    with app.extensions["polaris_db"].session() as s:
        used = s.scalar(select(ApiToken.last_used_at).where(ApiToken.prefix == secret[:8]))
    assert used is not None


def test_the_token_acts_as_its_admin_account_not_the_persons_default(app: Flask) -> None:
    secret = new_token(app, MIXED)
    response = script(app).get("/export/chargers.csv", headers=bearer(secret))
    assert response.status_code == 200  # admin-only: the token is the admin account
    # Signed in with a cookie, the same person starts in the admin account; switched to the
    # customer one, the cookie's session is refused while the token still acts as the admin.
    cookie = client_for(app, MIXED)
    assert cookie.get("/export/chargers.csv").status_code == 200
    switched = cookie.post(
        "/account/switch", data={"account_id": "acc-mixed-car", "csrf_token": dash_csrf(cookie)}
    )
    assert switched.headers["Location"] == "/"
    assert cookie.get("/export/chargers.csv").status_code == 403
    assert script(app).get("/export/chargers.csv", headers=bearer(secret)).status_code == 200


def test_revoked_unknown_and_malformed_tokens_get_401(app: Flask) -> None:
    secret = new_token(app)
    client = script(app)
    assert client.get("/export/sessions.csv", headers=bearer(secret)).status_code == 200
    with app.extensions["polaris_db"].session() as s:
        token_id = s.scalar(select(ApiToken.id).where(ApiToken.prefix == secret[:8]))
        assert token_id is not None
        revoke_token(s, token_id, datetime.now(UTC), actor=CLI)
    for header in (
        bearer(secret),
        bearer("pex_" + "x" * 43),
        bearer("not-a-token"),
        {"Authorization": "Basic b2xnYTpwYXNzd29yZA=="},
    ):
        response = client.get("/export/sessions.csv", headers=header)
        assert response.status_code == 401, header
        assert "acc-" not in response.get_data(as_text=True)


def test_a_bad_token_is_refused_even_beside_a_session_cookie(app: Flask) -> None:
    alice = client_for(app, ALICE)
    assert alice.get("/export/sessions.csv").status_code == 200
    secret = new_token(app)
    for header in (bearer(secret), bearer("pex_" + "y" * 43)):
        # A cookie signs Alice in; a token beside it is not what signed her in: refused, and
        # never a way to an admin's view.
        response = alice.get("/export/sessions.csv", headers=header)
        assert response.status_code == 401
        assert "acc-olga-admin" not in response.get_data(as_text=True)
        response = alice.get("/export/accounts.csv", headers=header)
        assert response.status_code == 403  # the customer-export rule answers first here
        assert "acc-olga-admin" not in response.get_data(as_text=True)


def test_tokens_are_not_accepted_on_pages_or_callbacks(app: Flask) -> None:
    client = script(app)
    headers = bearer(new_token(app))
    for path in ("/", "/admin", "/switch"):
        response = client.get(path, headers=headers)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login")
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert client.get(path, headers=headers).status_code == 401, path
    response = client.post(
        "/_dash-update-component",
        json={"output": "page-content.children", "inputs": [], "changedPropIds": []},
        headers=headers,
    )
    assert response.status_code == 401


# --- The command line ----------------------------------------------------------------------------


def test_token_commands(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["create-token", OLGA, "--name", "cli"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert TOKEN_PATTERN.fullmatch(secret)  # stdout holds the token alone (for scripts)
    assert "shown only now" in created.stderr
    assert script(app).get("/export/plans.csv", headers=bearer(secret)).status_code == 200

    listed = runner.invoke(args=["list-tokens"])
    assert secret[:8] in listed.output and secret not in listed.output
    token_id = int(created.stderr.split()[1])
    revoked = runner.invoke(args=["revoke-token", str(token_id)])
    assert revoked.exit_code == 0 and f"Token {token_id} revoked" in revoked.output
    assert script(app).get("/export/plans.csv", headers=bearer(secret)).status_code == 401
    again = runner.invoke(args=["revoke-token", str(token_id)])
    assert "already revoked" in again.output

    refused = runner.invoke(args=["create-token", ALICE])
    assert refused.exit_code == 1 and "no admin account" in refused.stderr
    missing = runner.invoke(args=["revoke-token", "999999"])
    assert missing.exit_code == 1 and "There is no token" in missing.stderr


# --- Scopes --------------------------------------------------------------------------------------


def test_scopes_are_checked_stored_and_listed(db: Database) -> None:
    people(db)
    with db.session() as s:
        default = create_token(s, OLGA, NOW, actor=CLI)
        both = create_token(s, OLGA, NOW, scopes=["commands", "export", "commands"], actor=CLI)
        driver = create_token(s, ALICE, NOW, scopes=["commands"], actor=CLI)  # her only account
    assert default.scopes == ("export",) and both.scopes == ("export", "commands")
    assert driver.account_id == "acc-alice" and driver.scopes == ("commands",)
    with db.session() as s:
        listed = {row.token_id: row.scopes for row in list_tokens(s)}
        identity = authenticate_token(s, driver.secret, NOW)
        assert export_identity(s, driver.secret, NOW) is None  # no export scope
        assert export_identity(s, both.secret, NOW) is not None
    assert listed == {
        default.token_id: ("export",),
        both.token_id: ("export", "commands"),
        driver.token_id: ("commands",),
    }
    assert identity is not None and identity.scopes == {"commands"} and not identity.is_admin
    for scopes, problem in (([], "at least one scope"), (["admin"], "Unknown scope 'admin'")):
        with pytest.raises(TokenError, match=problem), db.session() as s:
            create_token(s, OLGA, NOW, scopes=scopes, actor=CLI)
    # A customer account's token may not export, even named explicitly.
    with pytest.raises(TokenError, match="only have the commands scope"), db.session() as s:
        create_token(
            s, ALICE, NOW, account_id="acc-alice", scopes=["export", "commands"], actor=CLI
        )
    with pytest.raises(TokenError, match="holds no admin account"), db.session() as s:
        create_token(s, ALICE, NOW, actor=CLI)


def test_tokens_made_before_scopes_keep_export(db: Database) -> None:
    people(db)
    with db.session() as s:
        token = create_token(s, OLGA, NOW, actor=CLI)
        # A row written without the column, as every token before migration 0015 was.
        s.execute(
            text(
                "INSERT INTO api_tokens (account_id, prefix, token_hash, created_at) "
                "VALUES ('acc-olga-admin', 'pex_old', :h, :t)"
            ),
            {"h": "0" * 64, "t": NOW},
        )
    with db.session() as s:
        assert s.scalar(select(ApiToken.scopes).where(ApiToken.prefix == "pex_old")) == "export"
        identity = export_identity(s, token.secret, NOW)
    assert identity is not None and identity.scopes == {"export"}


def test_a_commands_only_token_is_refused_on_the_exports(app: Flask) -> None:
    with app.extensions["polaris_db"].session() as s:
        secret = create_token(s, OLGA, datetime.now(UTC), scopes=["commands"], actor=CLI).secret
    response = script(app).get("/export/sessions.csv", headers=bearer(secret))
    assert response.status_code == 401  # like a bad token
    assert "acc-alice" not in response.get_data(as_text=True)


def test_create_token_with_scopes_on_the_command_line(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["create-token", OLGA, "--scope", "commands", "--scope", "export"])
    assert created.exit_code == 0, created.output
    assert "scopes: export commands" in created.stderr
    secret = created.stdout.strip()
    assert script(app).get("/export/plans.csv", headers=bearer(secret)).status_code == 200
    driver = runner.invoke(
        args=["create-token", ALICE, "--account", "acc-alice", "--scope", "commands"]
    )
    assert driver.exit_code == 0, driver.output
    assert "acc-alice" in driver.stderr and "scopes: commands" in driver.stderr
    driver_secret = driver.stdout.strip()
    listed = runner.invoke(args=["list-tokens"]).output
    assert driver_secret[:8] in listed and "\tcommands\t" in listed
    assert script(app).get("/export/sessions.csv", headers=bearer(driver_secret)).status_code == 401
    bad = runner.invoke(args=["create-token", OLGA, "--scope", "admin"])
    assert bad.exit_code != 0 and "admin" in bad.output
