"""People, accounts, plans and operator settings (data.accounts.people) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from data.accounts.operator_settings import operator_values, save_operator_settings
from data.accounts.people import (
    AccountQuery,
    NewAccount,
    add_account,
    create_person,
    parse_accounts_request,
    person,
    remove_account,
    search_accounts,
    set_account_plan,
    set_default_account,
    set_person_password,
)
from data.accounts.plans import create_plan, list_plans, update_plan
from data.accounts.validation import (
    ISO_4217_CODES,
    InvalidInput,
    NotFound,
    Refused,
    validate_currency,
    validate_timezone,
)
from data.chargers.grants import (
    GrantProblem,
    GrantRefused,
    account_grants,
    grant_charger,
    restricted_charger_choices,
    revoke_charger,
)
from data.charging.dashboard import account_plan, operator_settings, visible_chargers
from data.core.grid import MAX_GRID_ROWS, ColumnFilter, Condition, SortKey
from data.core.models import Account, ChargerAccess, IdTag, Plan, Role, User, Visibility
from tests.support.audit import AT, CLI, admin
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_id_tag,
    make_operator,
    make_plan,
    make_reservation,
    make_session,
    make_user,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
GOOD_PASSWORD = "long enough password"


def _customer(account_id: str = "", **kw: object) -> NewAccount:
    return NewAccount(Role.customer, account_id, **kw)  # type: ignore[arg-type]


def _admin(account_id: str = "", **kw: object) -> NewAccount:
    return NewAccount(Role.admin, account_id, **kw)  # type: ignore[arg-type]


# --- creating people ----------------------------------------------------------------------------


def test_create_person_with_two_accounts(db):
    with db.session() as s:
        plan = make_plan(s, name="Commuter", allowance_kwh="250")
        created = create_person(
            s,
            email="  Anna.Berg@Example.com ",
            display_name="Anna Berg",
            accounts=[_customer("ACC-ANNA", plan_id=plan.id, label="Car"), _admin("OPS-ANNA")],
            password=GOOD_PASSWORD,
            actor=CLI,
            now=AT,
        )
    assert created.email == "Anna.Berg@Example.com"
    assert created.has_password
    assert [(a.account_id, a.role) for a in created.accounts] == [
        ("ACC-ANNA", Role.customer),
        ("OPS-ANNA", Role.admin),
    ]
    customer = created.account("ACC-ANNA")
    assert customer is not None and customer.plan_name == "Commuter" and customer.label == "Car"
    # With both kinds the admin account opens at sign-in, and stays so (issue 13): she picks
    # the customer account at /switch.
    assert created.default_account_id == "OPS-ANNA"
    with db.session() as s:
        user = s.scalars(select(User).where(User.id == created.user_id)).one()
        assert user.password_hash.startswith("$argon2id$")
        with pytest.raises(InvalidInput, match="/switch"):
            set_default_account(s, created.user_id, "ACC-ANNA", actor=CLI, now=AT)
        assert person(s, created.user_id).default_account_id == "OPS-ANNA"


def test_create_person_without_password_and_generated_account_id(db):
    with db.session() as s:
        created = create_person(
            s,
            email="nopw@example.com",
            display_name="No Password",
            accounts=[_customer()],
            actor=CLI,
            now=AT,
        )
        assert not created.has_password
        (account,) = created.accounts
        assert account.account_id.startswith("ACC-") and account.is_default
        assert s.scalar(select(User.password_hash).where(User.id == created.user_id)) is None


def test_duplicate_email_in_other_case_is_refused(db):
    with db.session() as s:
        make_user(s, email="driver@example.com", display_name="Dana")
    with db.session() as s, pytest.raises(InvalidInput) as error:
        create_person(
            s,
            email="DRIVER@Example.COM",
            display_name="Dup",
            accounts=[_customer()],
            actor=CLI,
            now=AT,
        )
    assert "already belongs to someone" in error.value.errors["email"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1


def test_create_person_reports_every_bad_field_and_saves_nothing(db):
    with db.session() as s:
        make_account(s, account_id="ACC-TAKEN")
    with db.session() as s, pytest.raises(InvalidInput) as error:
        create_person(
            s,
            email="not-an-email",
            display_name="   ",
            accounts=[_customer("acc-taken", plan_id="PLAN-GONE"), _admin("bad id!")],
            password="short",
            actor=CLI,
            now=AT,
        )
    errors = error.value.errors
    assert set(errors) == {
        "email",
        "display_name",
        "password",
        "customer_account_id",
        "customer_plan",
        "admin_account_id",
    }
    assert "not an email address" in errors["email"]
    assert "at least 10 characters (this one has 5)" in errors["password"]
    assert "taken" in errors["customer_account_id"]  # ids are unique ignoring case
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1


def test_create_person_needs_an_account_and_distinct_ids(db):
    with db.session() as s, pytest.raises(InvalidInput) as error:
        create_person(s, email="a@example.com", display_name="A", accounts=[], actor=CLI, now=AT)
    assert "customer account, an admin account or both" in error.value.errors["accounts"]
    with db.session() as s, pytest.raises(InvalidInput) as error:
        create_person(
            s,
            email="a@example.com",
            display_name="A",
            accounts=[_customer("SAME"), _admin("same")],
            actor=CLI,
            now=AT,
        )
    assert "its own id" in error.value.errors["admin_account_id"]


def test_add_account_to_an_existing_person(db):
    with db.session() as s:
        user = make_user(s, email="solo@example.com")
        user_id = user.id
        added = add_account(s, user_id, _admin("OPS-SOLO", label="Operations"), actor=CLI, now=AT)
        assert added.role == Role.admin and added.is_default  # the person had none
        with pytest.raises(InvalidInput) as error:
            add_account(s, user_id, _admin("OPS-SOLO"), actor=CLI, now=AT)
        assert "taken" in error.value.errors["account_id"]
        with pytest.raises(NotFound):
            add_account(s, 999_999, _customer(), actor=CLI, now=AT)


# --- passwords ----------------------------------------------------------------------------------


def test_set_password_stores_argon2_and_ends_old_sessions(db):
    with db.session() as s:
        user = make_user(s, email="pw@example.com")
        user_id, version = user.id, user.session_version
    with db.session() as s:
        set_person_password(s, user_id, GOOD_PASSWORD, actor=CLI, now=AT)
    with db.session() as s:
        row = s.get(User, user_id)
        assert row.password_hash.startswith("$argon2id$")
        assert row.session_version == version + 1


@pytest.mark.parametrize("bad", ["", "123456789", None, 12345678901, " padded password "])
def test_set_password_refuses_short_or_odd_passwords(db, bad):
    with db.session() as s:
        user_id = make_user(s).id
    with db.session() as s, pytest.raises(InvalidInput) as error:
        set_person_password(s, user_id, bad, actor=CLI, now=AT)
    assert "password" in error.value.message.lower()
    with db.session() as s:
        assert s.get(User, user_id).password_hash is None


def test_set_password_for_a_missing_person(db):
    with db.session() as s, pytest.raises(NotFound, match="no longer exists"):
        set_person_password(s, 424242, GOOD_PASSWORD, actor=CLI, now=AT)


# --- plans on accounts --------------------------------------------------------------------------


def test_plan_assignment_reaches_the_dashboard_query(db):
    with db.session() as s:
        plan = make_plan(s, name="Fleet", allowance_kwh="1000")
        account = make_account(s, account_id="ACC-P")
        admin = make_account(s, account_id="OPS-P", role=Role.admin)
        assert set_account_plan(s, account.id, plan.id, actor=CLI, now=AT) == "Fleet"
        assert account_plan(s, "ACC-P", NOW).plan.name == "Fleet"
        assert set_account_plan(s, "ACC-P", "", actor=CLI, now=AT) is None
        assert account_plan(s, "ACC-P", NOW).plan is None
        with pytest.raises(NotFound, match="plan no longer exists"):
            set_account_plan(s, "ACC-P", "PLAN-NOPE", actor=CLI, now=AT)
        with pytest.raises(NotFound, match="account no longer exists"):
            set_account_plan(s, "ACC-NOPE", plan.id, actor=CLI, now=AT)
        with pytest.raises(Refused, match="admin account"):
            set_account_plan(s, admin.id, plan.id, actor=CLI, now=AT)


# --- grants -------------------------------------------------------------------------------------


def test_grants_only_restricted_chargers_to_customer_accounts(db):
    with db.session() as s:
        customer = make_account(s, account_id="ACC-G")
        admin = make_account(s, account_id="OPS-G", role=Role.admin)
        depot = make_charger(
            s,
            charger_id="DEPOT-1",
            friendly_name="Depot North",
            visibility=Visibility.restricted,
            last_seen_at=NOW,
        )
        street = make_charger(s, charger_id="STREET-1", friendly_name="Street", last_seen_at=NOW)
        before = visible_chargers(s, customer.id, NOW).visible

        granted = grant_charger(s, customer.id, depot.id, actor=CLI, now=AT)
        assert (granted.changed, granted.friendly_name) == (True, "Depot North")
        assert not grant_charger(
            s, customer.id, depot.id, actor=CLI, now=AT
        ).changed  # already: no duplicate
        assert visible_chargers(s, customer.id, NOW).visible == before + 1
        with pytest.raises(GrantRefused, match="public") as public:
            grant_charger(s, customer.id, street.id, actor=CLI, now=AT)
        assert public.value.problem == GrantProblem.public_charger
        assert public.value.errors == {"charger": public.value.message}
        with pytest.raises(GrantRefused, match="admin account") as admin_account:
            grant_charger(s, admin.id, depot.id, actor=CLI, now=AT)
        assert admin_account.value.problem == GrantProblem.admin_account
        with pytest.raises(GrantRefused, match="That charger no longer exists"):
            grant_charger(s, customer.id, "GONE", actor=CLI, now=AT)
        with pytest.raises(GrantRefused, match="That account no longer exists") as gone:
            grant_charger(s, "ACC-GONE", depot.id, actor=CLI, now=AT)
        assert gone.value.problem == GrantProblem.unknown_account

        grants, total = account_grants(s, customer.id)
        assert total == 1 and [g.charger_id for g in grants] == ["DEPOT-1"]
        assert revoke_charger(s, customer.id, depot.id, actor=CLI, now=AT).changed
        assert not revoke_charger(s, customer.id, depot.id, actor=CLI, now=AT).changed
        with pytest.raises(GrantRefused, match="That charger no longer exists"):
            revoke_charger(s, customer.id, "GONE", actor=CLI, now=AT)
        assert visible_chargers(s, customer.id, NOW).visible == before


def test_charger_choices_are_restricted_not_granted_and_searchable(db):
    with db.session() as s:
        account = make_account(s, account_id="ACC-C")
        for cid, name in [("D-1", "Depot Alpha"), ("D-2", "Depot Beta"), ("D-3", "Yard 100%")]:
            make_charger(s, charger_id=cid, friendly_name=name, visibility=Visibility.restricted)
        make_charger(s, charger_id="P-1", friendly_name="Depot Public")
        grant_access(s, account, "D-2")
        ids = [c.charger_id for c in restricted_charger_choices(s, account.id, "depot")]
        assert ids == ["D-1"]
        assert [c.charger_id for c in restricted_charger_choices(s, account.id, "d-3")] == ["D-3"]
        # LIKE wildcards in the search are literal text.
        assert [c.charger_id for c in restricted_charger_choices(s, account.id, "0%")] == ["D-3"]
        assert restricted_charger_choices(s, account.id, "_") == []
        assert len(restricted_charger_choices(s, account.id, "")) == 2


# --- removing accounts --------------------------------------------------------------------------


def test_last_admin_account_and_the_active_account_cannot_be_removed(db):
    with db.session() as s:
        me = make_user(s, email="me@example.com")
        make_account(s, account_id="OPS-ME", user=me, role=Role.admin)
        make_account(s, account_id="CAR-ME", user=me, role=Role.customer)
        me_id = me.id
    with db.session() as s, pytest.raises(Refused, match="signed in with this account"):
        remove_account(s, "OPS-ME", actor=admin("OPS-ME", me_id), now=AT)
    # Acting from another account (say, an admin session elsewhere): still the last admin one.
    with db.session() as s, pytest.raises(Refused, match="last admin account"):
        remove_account(s, "OPS-ME", actor=admin("CAR-ME", me_id), now=AT)
    with db.session() as s:
        make_account(s, account_id="OPS-ME-2", user=s.get(User, me_id), role=Role.admin)
    with db.session() as s:
        removed = remove_account(s, "OPS-ME-2", actor=admin("OPS-ME", me_id), now=AT)
        assert removed.account_id == "OPS-ME-2"
        assert s.get(Account, "OPS-ME") is not None


def test_remove_account_deletes_grants_and_cards_and_moves_the_default(db):
    with db.session() as s:
        ops = make_account(s, account_id="OPS-X", role=Role.admin)
        driver = make_user(s, email="two@example.com")
        first = make_account(s, account_id="ACC-A1", user=driver)
        make_account(s, account_id="ACC-A2", user=driver)
        driver.default_account_id = first.id
        depot = make_charger(s, visibility=Visibility.restricted)
        grant_access(s, first, depot)
        make_id_tag(s, first)
        ops_user, driver_id = ops.user_id, driver.id
    with db.session() as s:
        removed = remove_account(s, "ACC-A1", actor=admin("OPS-X", ops_user), now=AT)
        assert (removed.grants, removed.id_tags) == (1, 1)
    with db.session() as s:
        assert s.get(Account, "ACC-A1") is None
        assert s.scalar(select(func.count()).select_from(ChargerAccess)) == 0
        assert s.scalar(select(func.count()).select_from(IdTag)) == 0
        assert s.get(User, driver_id).default_account_id == "ACC-A2"


def test_remove_account_with_history_is_refused_with_the_reason(db):
    with db.session() as s:
        ops = make_account(s, account_id="OPS-H", role=Role.admin)
        account = make_account(s, account_id="ACC-H")
        charger = make_charger(s)
        make_session(s, account, charger, started_at=NOW - timedelta(hours=2), ended_at=NOW)
        make_reservation(s, account, charger, starts_at=NOW, ends_at=NOW + timedelta(hours=1))
        make_reservation(
            s, account, charger, starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=2)
        )
        ops_user = ops.user_id
    with db.session() as s, pytest.raises(Refused) as error:
        remove_account(s, "ACC-H", actor=admin("OPS-H", ops_user), now=AT)
    assert "1 charging session and 2 reservations" in error.value.message
    with db.session() as s, pytest.raises(NotFound):
        remove_account(s, "ACC-NONE", actor=admin("OPS-H", ops_user), now=AT)


# --- the account list ---------------------------------------------------------------------------


def _people(s, n: int = 12) -> None:
    plan = make_plan(s, plan_id="PLAN-L", name="Lite")
    for i in range(n):
        user = make_user(s, email=f"p{i:02d}@example.com", display_name=f"Person {i:02d}")
        account = make_account(
            s,
            account_id=f"L-{i:02d}",
            user=user,
            plan=plan if i % 3 == 0 else None,
            label="Fleet 50%" if i == 7 else None,
        )
        user.default_account_id = account.id
    make_user(s, email="lonely@example.com", display_name="No Accounts")


def test_account_list_pages_without_overlap_and_counts(db):
    with db.session() as s:
        _people(s)
        first = search_accounts(s, AccountQuery(offset=0, limit=5))
        second = search_accounts(s, AccountQuery(offset=5, limit=5))
        last = search_accounts(s, AccountQuery(offset=10, limit=5))
        beyond = search_accounts(s, AccountQuery(offset=500, limit=5))
    assert first.total == second.total == 13  # 12 accounts + a person without any
    seen = [r.email for page in (first, second, last) for r in page.rows]
    assert len(seen) == 13 == len(set(seen))
    assert beyond.rows == [] and beyond.total == 13
    rows = [r for page in (first, second, last) for r in page.rows]
    assert seen == sorted(seen)  # by email by default
    lonely = next(r for r in rows if r.email == "lonely@example.com")
    assert lonely.account_id is None and lonely.role is None and not lonely.is_default
    assert all(r.is_default for r in rows if r.account_id is not None)


def test_account_list_search_filter_and_sort(db):
    with db.session() as s:
        _people(s)
        by_email = search_accounts(s, AccountQuery(search="P03@EXAMPLE"))
        by_name = search_accounts(s, AccountQuery(search="person 1"))
        by_id = search_accounts(s, AccountQuery(search="l-05"))
        by_label = search_accounts(s, AccountQuery(search="50%"))
        wildcard = search_accounts(s, AccountQuery(search="%"))
        plan_filter = search_accounts(
            s, AccountQuery(filters=(ColumnFilter("plan", (Condition("equals", "lite"),)),))
        )
        no_plan = search_accounts(
            s, AccountQuery(filters=(ColumnFilter("plan", (Condition("notContains", "lite"),)),))
        )
        newest_first = search_accounts(
            s, AccountQuery(sort=(SortKey("account_id", True),), limit=2)
        )
        plans_sorted = search_accounts(s, AccountQuery(sort=(SortKey("plan", False),)))
    assert [r.account_id for r in by_email.rows] == ["L-03"]
    assert [r.account_id for r in by_name.rows] == ["L-10", "L-11"]
    assert [r.account_id for r in by_id.rows] == ["L-05"]
    assert [r.account_id for r in by_label.rows] == ["L-07"]  # % is literal text
    assert wildcard.total == 1
    assert plan_filter.total == 4 and {r.plan_name for r in plan_filter.rows} == {"Lite"}
    assert no_plan.total == 9  # NULL plans included, the person without accounts too
    assert [r.account_id for r in newest_first.rows] == ["L-11", "L-10"]
    # Accounts with a plan first, NULLs last on both databases.
    assert [r.plan_name for r in plans_sorted.rows[:4]] == ["Lite"] * 4
    assert plans_sorted.rows[-1].plan_name is None


def test_grid_request_parsing_keeps_to_the_allow_list():
    query = parse_accounts_request(
        {
            "startRow": 100,
            "endRow": 100_000,
            "sortModel": [
                {"colId": "password_hash", "sort": "asc"},
                {"colId": "email", "sort": "desc"},
                {"colId": "plan", "sort": "sideways"},
            ],
            "filterModel": {
                "search": {"filterType": "text", "type": "contains", "filter": " anna "},
                "password_hash": {"filterType": "text", "type": "contains", "filter": "$"},
                "label": {
                    "filterType": "text",
                    "operator": "OR",
                    "conditions": [
                        {"type": "startsWith", "filter": "fleet"},
                        {"type": "regex", "filter": ".*"},
                        {"type": "equals", "filter": "car"},
                    ],
                },
                "role": {"type": "equals", "filter": 7},
            },
        }
    )
    assert query.offset == 100 and query.limit == MAX_GRID_ROWS
    assert query.sort == (SortKey("email", True),)
    assert query.search == "anna"
    assert query.filters == (
        ColumnFilter("label", (Condition("startsWith", "fleet"), Condition("equals", "car")), "OR"),
        ColumnFilter("role", (Condition("equals", "7"),)),
    )
    for junk in (None, "x", [], {"startRow": "0", "endRow": True, "sortModel": "email"}):
        assert parse_accounts_request(junk) == AccountQuery()


def test_the_accounts_table_keeps_its_text_filter_kinds():
    """Blank and notBlank are the fleet's; the accounts table never offers them."""
    query = parse_accounts_request(
        {"filterModel": {"label": {"type": "blank"}, "plan": {"type": "notBlank"}}}
    )
    assert query.filters == ()


# --- plans --------------------------------------------------------------------------------------


def test_plan_create_and_edit_with_validation(db):
    with db.session() as s:
        basic = create_plan(
            s, name="Basic 100", allowance_kwh="100", currency="eur", actor=CLI, now=AT
        )
        assert basic.plan_id == "PLAN-BASIC-100" and basic.currency == "EUR"
        again = create_plan(
            s, name="Basic-100!", allowance_kwh=0, currency="USD", actor=CLI, now=AT
        )
        assert again.plan_id == "PLAN-BASIC-100-2" and again.allowance_kwh == Decimal("0.000")
        account = make_account(s, plan=basic.plan_id)
        edited = update_plan(
            s,
            basic.plan_id,
            name="Basic 120",
            allowance_kwh=120.5,
            currency="GBP",
            actor=CLI,
            now=AT,
        )
        assert (edited.name, edited.allowance_kwh, edited.currency) == (
            "Basic 120",
            Decimal("120.500"),
            "GBP",
        )
        assert edited.accounts == 1
        assert account_plan(s, account.id, NOW).plan.allowance_kwh == 120.5
        assert [p.name for p in list_plans(s)] == ["Basic 120", "Basic-100!"]


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"allowance_kwh": "-1"}, "allowance_kwh", "cannot be negative"),
        ({"allowance_kwh": "lots"}, "allowance_kwh", "must be a number"),
        ({"allowance_kwh": "NaN"}, "allowance_kwh", "must be a number"),
        ({"allowance_kwh": "1.0005"}, "allowance_kwh", "3 decimals"),
        ({"allowance_kwh": ""}, "allowance_kwh", "Enter the allowance"),
        ({"currency": "EURO"}, "currency", "not an ISO 4217 currency code"),
        ({"currency": "XYZ"}, "currency", "not an ISO 4217 currency code"),
        ({"name": ""}, "name", "Enter a plan name"),
        ({"name": "taken plan"}, "name", "already exists"),
        ({"plan_id": "has space"}, "plan_id", "letters, digits"),
        ({"plan_id": "PLAN-TAKEN"}, "plan_id", "taken"),
    ],
)
def test_plan_validation(db, fields, field, text):
    with db.session() as s:
        make_plan(s, plan_id="PLAN-TAKEN", name="Taken Plan")
    values = {"name": "New", "allowance_kwh": "10", "currency": "EUR", "plan_id": ""} | fields
    with db.session() as s, pytest.raises(InvalidInput) as error:
        create_plan(s, **values, actor=CLI, now=AT)
    assert text in error.value.errors[field]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Plan)) == 1


def test_update_of_a_missing_plan(db):
    with db.session() as s, pytest.raises(NotFound):
        update_plan(s, "PLAN-GONE", name="X", allowance_kwh=1, currency="EUR", actor=CLI, now=AT)


# --- operator settings --------------------------------------------------------------------------


def test_operator_settings_save_and_reach_the_dashboard_reader(db):
    with db.session() as s:
        assert operator_values(s).timezone == "UTC"  # placeholder before any row
        saved = save_operator_settings(
            s,
            name=" Nordlicht Laden ",
            support_email="",
            timezone="Europe/Berlin",
            currency="sek",
            actor=CLI,
            now=AT,
        )
        assert saved.support_email is None and saved.currency == "SEK"
    with db.session() as s:
        settings = operator_settings(s)
        assert settings.name == "Nordlicht Laden"
        assert settings.tz.key == "Europe/Berlin" and settings.currency == "SEK"
        assert settings.support_email is None


def test_operator_settings_refuse_bad_zone_and_currency_and_keep_the_old_row(db):
    with db.session() as s:
        make_operator(s, name="Old", timezone="UTC", currency="EUR")
    with db.session() as s, pytest.raises(InvalidInput) as error:
        save_operator_settings(
            s,
            name="New name",
            support_email="help@",
            timezone="Europe/Berlinn",
            currency="EURO",
            actor=CLI,
            now=AT,
        )
    errors = error.value.errors
    assert set(errors) == {"support_email", "timezone", "currency"}
    assert (
        "Europe/Berlinn" in errors["timezone"]
        and "Did you mean Europe/Berlin?" in (errors["timezone"])
    )
    assert "EURO" in errors["currency"]
    with db.session() as s:
        assert operator_values(s).name == "Old"


def test_currency_and_zone_lists():
    assert "EUR" in ISO_4217_CODES and "HRK" not in ISO_4217_CODES
    assert len(set(ISO_4217_CODES)) == len(ISO_4217_CODES)
    assert all(len(c) == 3 and c.isupper() for c in ISO_4217_CODES)
    assert validate_currency(" usd ") == "USD"
    assert validate_timezone("America/New_York") == "America/New_York"
    for bad in ("localtime", "", "Mars/Olympus"):
        with pytest.raises(InvalidInput):
            validate_timezone(bad)


def test_a_concurrent_duplicate_is_reported_not_crashed(db, monkeypatch):
    """Another admin saving the same email between our check and our insert: the unique key
    decides, the operator gets a message, and the session stays usable."""
    import data.accounts.people as people

    with db.session() as s:
        make_user(s, email="race@example.com")
    monkeypatch.setattr(people, "email_in_use", lambda *_a, **_k: False)
    with db.session() as s:
        with pytest.raises(InvalidInput, match="a moment ago"):
            create_person(
                s,
                email="race@example.com",
                display_name="Race",
                accounts=[_customer()],
                actor=CLI,
                now=AT,
            )
        assert s.scalar(select(func.count()).select_from(User)) == 1  # still usable
        make_user(s, email="after@example.com")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 2


def test_search_finds_people_and_lists_all_their_accounts(db):
    with db.session() as s:
        olga = make_user(s, email="olga@example.com", display_name="Olga Operator")
        make_account(s, account_id="OPS-O", user=olga, role=Role.admin, label="Operations")
        make_account(s, account_id="CAR-O", user=olga, label="Personal car")
        make_user(s, email="nobody@example.com", display_name="Imported Person")
        by_label = search_accounts(s, AccountQuery(search="personal"))
        by_admin_id = search_accounts(s, AccountQuery(search="ops-o"))
        without = search_accounts(s, AccountQuery(search="imported"))
    # A match on one account shows the person with every account (the tools act per account).
    assert [r.account_id for r in by_label.rows] == ["CAR-O", "OPS-O"]
    assert [r.account_id for r in by_admin_id.rows] == ["CAR-O", "OPS-O"]
    assert by_label.total == 2
    assert [(r.email, r.account_id) for r in without.rows] == [("nobody@example.com", None)]
