"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from data.core.db import Database, upgrade
from data.core.models import Base, ChargingSession, User
from tests.support.factories import make_account, make_charger


def test_migrated_schema_matches_the_models(db: Database):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_twice_is_a_no_op(db: Database):
    before = sorted(inspect(db.engine).get_table_names())
    upgrade(db.engine)
    assert sorted(inspect(db.engine).get_table_names()) == before
    assert {"sessions", "reservations", "chargers", "accounts", "users"} <= set(before)


START = datetime(2026, 11, 24, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "values",
    [
        {"ended_at": START - timedelta(minutes=1)},  # ends before it starts
        {"energy_kwh": Decimal("-0.1")},  # negative energy
        {"account_id": "no-such-account"},  # dangling reference
    ],
    ids=["end-before-start", "negative-kwh", "unknown-account"],
)
def test_database_constraints_refuse_impossible_sessions(db: Database, values: dict):
    with db.session() as s:
        account = make_account(s, account_id="a1")
        charger = make_charger(s, charger_id="c1")
    row = {
        "id": "s1",
        "account_id": account.id,
        "charger_id": charger.id,
        "started_at": START,
        "ended_at": START + timedelta(hours=1),
        "energy_kwh": Decimal("5"),
        "finalized": True,
    } | values
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(ChargingSession(**row))
    with db.session() as s:
        assert s.get(ChargingSession, "s1") is None


def test_database_refuses_unknown_connector_type(db: Database):
    with pytest.raises((IntegrityError, StatementError)), db.session() as s:
        s.execute(
            text(
                "INSERT INTO chargers (id, friendly_name, connector_type, max_power_kw, visibility)"
                " VALUES ('c9', 'Bay 9', 'Tesla-ish', 50, 'public')"
            )
        )


def test_one_user_per_email_whatever_its_case(db: Database):
    with db.session() as s:
        s.add(User(email="ana@example.com", display_name="Ana"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(User(email="Ana@Example.com", display_name="Ana again"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_export_ids_are_in_byte_order_so_exports_need_no_sort(db: Database):
    with db.engine.connect() as connection:
        collations = dict(
            connection.execute(
                text(
                    "SELECT table_name, collation_name FROM information_schema.columns "
                    "WHERE column_name = 'id' AND table_name IN ('sessions', 'reservations')"
                )
            ).all()
        )
        assert collations == {"sessions": "C", "reservations": "C"}
        connection.execute(text("SET enable_seqscan = off"))  # a tiny table: ask for the index
        plan = "\n".join(
            connection.execute(
                text('EXPLAIN SELECT id FROM sessions ORDER BY id COLLATE "C"')
            ).scalars()
        )
    assert "Sort" not in plan and "sessions_pkey" in plan, plan
