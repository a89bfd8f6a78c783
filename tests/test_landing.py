"""Issue 13 A: a person who holds an admin account starts in it at every sign-in and lands on
``/admin``, whatever created them (demo data, CLI import, browser import, the admin people UI)
and whatever order accounts.csv lists their accounts in; a choice made at ``/switch`` lasts
until they sign out. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from data.accounts.people import NewAccount, create_person, person, set_default_account
from data.accounts.signin import landing_account_id
from data.accounts.validation import InvalidInput
from data.core.db import Database
from data.core.models import Role, User
from tests.support.audit import AT, CLI
from tests.support.callbacks import post
from tests.support.exchange import copy_sample
from tests.support.factories import make_account, make_user
from tests.support.import_page import answer, button_body, check_body, folder_upload
from tests.support.web import PASSWORD, add_person, client_for, dash_csrf, make_app, sign_in

OLIVIA = "olivia@polaris.example"
OLIVIA_PASSWORD = "correct horse battery"  # from tests/fixtures/exchange_sample/users.csv
ADMIN_FIRST = "acc-hq,olivia@polaris.example,admin,,Operations\n"
CUSTOMER_FIRST = "acc-olivia,olivia@polaris.example,customer,plan-basic,Personal\n"


def sample_in_order(tmp_path: Path, order: str) -> Path:
    """The exchange sample with Olivia's admin row first (as shipped) or her customer row first."""
    folder = copy_sample(tmp_path, f"sample-{order}")
    accounts = folder / "accounts.csv"
    header, *rows = accounts.read_text().splitlines(keepends=True)
    assert ADMIN_FIRST in rows and CUSTOMER_FIRST in rows
    rest = [r for r in rows if r not in (ADMIN_FIRST, CUSTOMER_FIRST)]
    mine = (
        [ADMIN_FIRST, CUSTOMER_FIRST] if order == "admin-first" else [CUSTOMER_FIRST, ADMIN_FIRST]
    )
    accounts.write_text(header + "".join(mine + rest))
    return folder


def assert_lands_on_admin_and_switch_lasts(app: Flask, email: str, password: str) -> None:
    client = app.test_client()
    signed_in = sign_in(client, email, password)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/admin"
    root = client.get("/")
    assert root.status_code == 302 and root.headers["Location"] == "/admin"
    assert client.get("/admin").status_code == 200
    assert client.get("/export/chargers.csv").status_code == 200  # an admin-only export

    # /switch: the customer account, for the rest of this signed-in session.
    customer = next(a for a in client_accounts(app, email) if a[1] == Role.customer)[0]
    switched = client.post(
        "/account/switch", data={"account_id": customer, "csrf_token": dash_csrf(client)}
    )
    assert switched.headers["Location"] == "/"
    for _ in range(2):
        assert client.get("/").status_code == 200  # the driver view, request after request
        assert client.get("/admin").status_code == 403
        assert client.get("/login").headers["Location"] == "/"

    # Signing out and in again starts in the admin account again.
    assert client.post("/logout", data={"csrf_token": dash_csrf(client)}).status_code == 302
    again = sign_in(client, email, password)
    assert again.headers["Location"] == "/admin"
    assert client.get("/admin").status_code == 200


def client_accounts(app: Flask, email: str) -> list[tuple[str, Role]]:
    with app.extensions["polaris_db"].session() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        return [(a.id, a.role) for a in user.accounts]


def stored_default(app: Flask, email: str) -> str | None:
    with app.extensions["polaris_db"].session() as s:
        return s.scalar(select(User.default_account_id).where(User.email == email))


@pytest.mark.usefixtures("fast_hashing")
@pytest.mark.parametrize("order", ["admin-first", "customer-first"])
def test_cli_import_lands_an_admin_on_admin(order: str, database_url: str, tmp_path: Path):
    app = make_app(database_url)
    result = app.test_cli_runner().invoke(
        args=["import-data", str(sample_in_order(tmp_path, order))]
    )
    assert result.exit_code == 0, result.output
    assert stored_default(app, OLIVIA) == "acc-hq"
    assert_lands_on_admin_and_switch_lasts(app, OLIVIA, OLIVIA_PASSWORD)


@pytest.mark.usefixtures("fast_hashing")
@pytest.mark.parametrize("order", ["admin-first", "customer-first"])
def test_browser_import_lands_an_admin_on_admin(order: str, database_url: str, tmp_path: Path):
    app = make_app(database_url, IMPORT_UPLOAD_FOLDER=str(tmp_path / "imports"))
    add_person(app, "olga@example.com", ("acc-olga-admin", Role.admin, "Operations"))
    olga = client_for(app, "olga@example.com")
    names, contents = folder_upload(sample_in_order(tmp_path, order))
    staged, _, disabled = answer(post(olga, check_body(app, names, contents, folder=True)))
    assert staged and disabled is False
    _, panel, _ = answer(post(olga, button_body(app, "apply", staged)))
    assert "rows added" in panel
    assert stored_default(app, OLIVIA) == "acc-hq"
    assert_lands_on_admin_and_switch_lasts(app, OLIVIA, OLIVIA_PASSWORD)


def test_sign_in_itself_prefers_the_admin_account(database_url: str):
    """However the default was stored (here: the customer account, as old imports did)."""
    app = make_app(database_url)
    add_person(
        app,
        "both@example.com",
        ("acc-both-car", Role.customer, "Car"),
        ("acc-both-ops", Role.admin, "Operations"),
    )
    assert stored_default(app, "both@example.com") == "acc-both-car"
    assert_lands_on_admin_and_switch_lasts(app, "both@example.com", PASSWORD)


def test_people_ui_creation_lands_on_admin_and_cannot_default_to_the_customer(
    database_url: str,
):
    app = make_app(database_url)
    with app.extensions["polaris_db"].session() as s:
        created = create_person(
            s,
            email="anna@example.com",
            display_name="Anna",
            accounts=[
                NewAccount(Role.customer, "ACC-ANNA", "Car", None),
                NewAccount(Role.admin, "OPS-ANNA", "Operations", None),
            ],
            password=PASSWORD,
            actor=CLI,
            now=AT,
        )
        assert created.default_account_id == "OPS-ANNA"
        with pytest.raises(InvalidInput, match="/switch"):
            set_default_account(s, created.user_id, "ACC-ANNA", actor=CLI, now=AT)
        assert person(s, created.user_id).default_account_id == "OPS-ANNA"
    assert_lands_on_admin_and_switch_lasts(app, "anna@example.com", PASSWORD)


def test_the_rule() -> None:
    admin, car, van = ("b-ops", Role.admin), ("a-car", Role.customer), ("c-van", Role.customer)
    assert landing_account_id([car, admin], "a-car") == "b-ops"
    assert landing_account_id([admin, car], None) == "b-ops"
    assert landing_account_id([car, van], "c-van") == "c-van"  # no admin: the stored default
    assert landing_account_id([van, car], "gone") == "a-car"  # not theirs: the first by id
    assert landing_account_id([("z-ops", Role.admin), admin, car], "z-ops") == "z-ops"
    assert landing_account_id([], "a-car") is None


def test_migration_0013_corrects_defaults_stored_by_old_imports(db: Database) -> None:
    from alembic import command

    from data.core.db import alembic_config, upgrade

    with db.session() as s:
        both = make_user(s, email="both@example.com")
        make_account(s, account_id="b-ops", user=both, role=Role.admin)
        make_account(s, account_id="a-car", user=both)
        driver = make_user(s, email="driver@example.com")
        make_account(s, account_id="c-van", user=driver)
        make_account(s, account_id="d-truck", user=driver)
        both.default_account_id, driver.default_account_id = "a-car", "d-truck"
    command.downgrade(alembic_config(db.engine), "0012")
    upgrade(db.engine)
    with db.session() as s:
        defaults = dict(s.execute(select(User.email, User.default_account_id)).all())
    assert defaults == {"both@example.com": "b-ops", "driver@example.com": "d-truck"}
