"""``data.accounts.signin.signed_in_person``: the person and their accounts in one query."""

from __future__ import annotations

from sqlalchemy import event

from data.accounts.signin import PersonAccount, signed_in_person
from data.core.db import Database
from data.core.models import Role
from tests.support.factories import make_account, make_user


def test_a_person_with_accounts_in_id_order_in_one_statement(db: Database) -> None:
    with db.session() as s:
        olga = make_user(s, email="olga@example.com", display_name="Olga")
        make_account(s, account_id="b-ops", user=olga, role=Role.admin, label="Operations")
        make_account(s, account_id="a-home", user=olga)
        make_account(s, account_id="z-other")  # somebody else's
        olga.default_account_id = "b-ops"
        user_id = olga.id
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with db.session() as s:
        person = signed_in_person(s, user_id)
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) == 1
    assert person is not None
    assert (person.email, person.display_name, person.session_version) == (
        "olga@example.com",
        "Olga",
        1,
    )
    assert person.default_account_id == "b-ops"
    assert person.accounts == (
        PersonAccount("a-home", Role.customer, None),
        PersonAccount("b-ops", Role.admin, "Operations"),
    )


def test_a_person_without_accounts_and_an_unknown_id(db: Database) -> None:
    with db.session() as s:
        user_id = make_user(s, email="new@example.com").id
    with db.session() as s:
        person = signed_in_person(s, user_id)
        assert person is not None and person.accounts == ()
        assert signed_in_person(s, user_id + 1000) is None
