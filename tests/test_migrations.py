"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError

import data.uptime.alerts  # noqa: F401 - the alerts tables are on Base.metadata too
from data.charging.account_days import refill_account_days, zone_runs
from data.charging.rollup import quarter_of, refill_rollups
from data.core.db import Database, alembic_config, upgrade
from data.core.models import Base, ChargingSession, ConnectorType, Operator, UsageQuarter, User
from data.pricing.tariffs import create_tariff_version, price_unpriced_sessions
from data.uptime.outages import Outage, OutageKind
from tests.support.factories import make_account, make_charger, make_operator
from tests.support.rollups import cost_rows, costs_in_python


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
        # A tiny table: ask for an index scan (not a bitmap of another index holding id).
        connection.execute(text("SET enable_seqscan = off"))
        connection.execute(text("SET enable_bitmapscan = off"))
        plan = "\n".join(
            connection.execute(
                text('EXPLAIN SELECT id FROM sessions ORDER BY id COLLATE "C"')
            ).scalars()
        )
    assert "Sort" not in plan and "sessions_pkey" in plan, plan


def test_0017_adds_costs_in_place_and_history_is_priced_once_tariffs_arrive(db: Database):
    """0017 keeps every session (and the rollup triggers: no table rebuild) with an empty cost:
    no tariff exists at that revision. A default tariff then prices the finalized history in
    batches; the session in progress and the one before the tariff keep no cost."""
    cfg = alembic_config(db.engine)
    command.downgrade(cfg, "0016")
    try:
        with db.engine.begin() as c:
            assert "tariffs" not in inspect(c).get_table_names()
            c.execute(
                text(
                    "INSERT INTO operator (id, name, timezone, currency) "
                    "VALUES (1, 'Op', 'UTC', 'EUR')"
                )
            )
        with db.session() as s:
            make_account(s, account_id="a1")
            make_charger(s, charger_id="c1", max_power_kw="50")
        rows = [
            (f"s{i}", START + timedelta(hours=i), START + timedelta(hours=i, minutes=30), 10 + i)
            for i in range(5)
        ]
        rows += [("live", START, None, 1)]
        rows += [("old", START - timedelta(days=9), START - timedelta(days=9, minutes=-30), 3)]
        with db.engine.begin() as c:  # the 0016 columns only
            c.execute(
                ChargingSession.__table__.insert().values(  # type: ignore[attr-defined]
                    id=bindparam("sid"),
                    account_id="a1",
                    charger_id="c1",
                    started_at=bindparam("start"),
                    ended_at=bindparam("end"),
                    energy_kwh=bindparam("kwh"),
                    finalized=bindparam("done"),
                ),
                [
                    {"sid": sid, "start": a, "end": b, "kwh": Decimal(k), "done": b is not None}
                    for sid, a, b, k in rows
                ],
            )
        command.upgrade(cfg, "head")
    except BaseException:
        command.upgrade(cfg, "head")
        raise
    with db.session() as s:
        assert s.scalars(select(ChargingSession.cost_total)).all() == [None] * 7
        usage = s.execute(select(func.sum(UsageQuarter.sessions))).scalar_one()
        assert usage == 7  # the rollup still counts
        create_tariff_version(
            s,
            tariff_id="T",
            valid_from=START - timedelta(days=1),
            name="T",
            energy_price_per_kwh="0.50",
            vat_percent="19",
        )
        s.get(Operator, 1).default_tariff_id = "T"
        s.flush()
        assert price_unpriced_sessions(s, batch_size=2) == 5
        costs = dict(s.execute(select(ChargingSession.id, ChargingSession.cost_total)).all())
    assert costs == {
        **{f"s{i}": Decimal(10 + i) / 2 for i in range(5)},
        "live": None,
        "old": None,
    }


def _rollup_tables(s) -> dict[str, list[tuple]]:
    """Every rollup table's rows, in key order."""
    tables = ("usage_quarters", "usage_quarter_totals", "usage_days", "charger_days")
    return {
        t: [tuple(r) for r in s.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))]
        for t in (*tables, "charger_months")
    }


def test_0018_backfills_the_rollups_costs_and_their_triggers_keep_them(db: Database):
    """Sessions priced at 0017 (no cost in any rollup yet): 0018 adds ``cost_milli`` to every
    rollup, recounted from the stored costs (disputed energy, sessions in progress and unpriced
    ones add nothing; the charger tables hold finished sessions), and its triggers follow new
    costs. Down again and up again leaves the same figures."""
    cfg = alembic_config(db.engine)
    command.downgrade(cfg, "0017")
    try:
        with db.engine.connect() as c:
            assert "cost_milli" not in {col["name"] for col in inspect(c).get_columns("usage_days")}
        with db.session() as s:
            make_operator(s, timezone="Europe/Berlin")
            make_account(s, account_id="a1")
            make_charger(s, charger_id="c1", connector_type=ConnectorType.ccs)
            make_charger(s, charger_id="c2", connector_type=ConnectorType.type2)
        rows = [  # id, charger, start, minutes (None: in progress), cost, disputed
            ("p1", "c1", START, 40, "12.34", False),
            ("p2", "c1", START + timedelta(minutes=5), 20, "0.10", False),
            ("p3", "c2", START + timedelta(days=40), 90, "1234.56", False),
            ("d1", "c2", START, 30, "9.99", True),
            ("live", "c1", START, None, None, False),
            ("free", "c2", START, 10, None, False),
            ("odd", "c2", START - timedelta(microseconds=1), 7.000_003, "0.01", False),
        ]
        with db.engine.begin() as c:  # the 0017 schema: costs on sessions only
            c.execute(
                ChargingSession.__table__.insert().values(  # type: ignore[attr-defined]
                    id=bindparam("sid"),
                    account_id="a1",
                    charger_id=bindparam("charger"),
                    started_at=bindparam("start"),
                    ended_at=bindparam("end"),
                    energy_kwh=Decimal("10"),
                    finalized=bindparam("done"),
                    cost_total=bindparam("cost"),
                    energy_disputed_at=bindparam("disputed"),
                ),
                [
                    {
                        "sid": sid,
                        "charger": charger,
                        "start": start,
                        "end": None if minutes is None else start + timedelta(minutes=minutes),
                        "done": minutes is not None,
                        "cost": None if cost is None else Decimal(cost),
                        "disputed": START if disputed else None,
                    }
                    for sid, charger, start, minutes, cost, disputed in rows
                ],
            )
        command.upgrade(cfg, "head")
    except BaseException:
        command.upgrade(cfg, "head")
        raise
    with db.session() as s:
        costs = cost_rows(s)
        assert costs == costs_in_python(s)
        assert sum(r[-1] for r in costs["usage_quarter_totals"]) == 12_340 + 100 + 1_234_560 + 10
        assert sum(r[-1] for r in costs["charger_days"]) == 12_340 + 100 + 1_234_560 + 10
        assert costs["usage_quarters"][:2] == [
            (quarter_of(START) - 1, "Type 2", 10),
            (quarter_of(START), "CCS", 12_440),
        ]
    with db.session() as s:  # every figure of the migration's recount is the app's
        recounted = _rollup_tables(s)
        refill_rollups(s)
        assert _rollup_tables(s) == recounted
        s.rollback()
    with db.session() as s:
        s.execute(
            update(ChargingSession)
            .where(ChargingSession.id == "free")
            .values(cost_total=Decimal("0.05"))
        )
        s.commit()
    with db.session() as s:
        assert cost_rows(s) == costs_in_python(s)
        assert sum(r[-1] for r in cost_rows(s)["charger_months"]) == 1_247_060
    command.downgrade(cfg, "0017")
    command.upgrade(cfg, "head")
    with db.session() as s:
        assert cost_rows(s) == costs_in_python(s)
        assert sum(r[-1] for r in cost_rows(s)["usage_days"]) == 1_247_060


def test_0019_adds_the_outage_log_and_takes_it_away_again(db: Database):
    """0019 is a table of its own: down to 0018 drops it (the rest stays), up brings it back
    empty, with its rule of one open outage per charger and live kind."""
    with db.session() as s:
        make_charger(s, charger_id="c1")
        s.add(Outage(id="o1", charger_id="c1", started_at=START, kind=OutageKind.offline))
    cfg = alembic_config(db.engine)
    command.downgrade(cfg, "0018")
    try:
        with db.engine.connect() as c:
            assert "outages" not in inspect(c).get_table_names()
            assert "chargers" in inspect(c).get_table_names()
    finally:
        command.upgrade(cfg, "head")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Outage)) == 0
        s.add(Outage(id="o2", charger_id="c1", started_at=START, kind=OutageKind.offline))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Outage(id="o3", charger_id="c1", started_at=START, kind=OutageKind.offline))


def test_0031_counts_the_sessions_already_there_by_the_operators_local_day(db: Database):
    """0031 counts the existing sessions into ``account_days`` by local day in the operator's
    zone (its own frozen copy of the count): the same rows the app's recount gives, and the
    ones a count in Python gives (a late evening in summer is the next local day, disputed
    energy counts nothing); its triggers then follow new sessions."""
    cfg = alembic_config(db.engine)
    tz = ZoneInfo("Europe/Berlin")
    command.downgrade(cfg, "0028")
    try:
        with db.engine.connect() as c:
            assert "account_days" not in inspect(c).get_table_names()
        with db.session() as s:
            make_operator(s, timezone=tz.key)
            make_account(s, account_id="a1")
            make_account(s, account_id="a2")
            make_charger(s, charger_id="c1")
        summer_evening = datetime(2026, 7, 3, 22, 30, tzinfo=UTC)  # 00:30 on the 4th in Berlin
        rows = [  # id, account, start, kWh, cost, disputed
            ("s1", "a1", summer_evening, "10.0004", "3.4567", False),
            ("s2", "a1", summer_evening - timedelta(hours=1), "2.5", None, False),
            ("s3", "a1", datetime(2026, 1, 9, 22, 59, 59, tzinfo=UTC), "1", "0.30", False),
            ("s4", "a2", datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), "4", "1.20", False),
            ("s5", "a2", datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC), "5", "1.50", False),
            ("d1", "a1", summer_evening, "7", "2.10", True),
        ]
        sessions = ChargingSession.__table__  # rows as the 0028 schema holds them, past the ORM
        with db.engine.begin() as c:
            c.execute(
                sessions.insert(),  # type: ignore[attr-defined]
                [
                    dict(
                        id=sid,
                        account_id=account,
                        charger_id="c1",
                        started_at=start,
                        ended_at=start + timedelta(minutes=30),
                        energy_kwh=Decimal(kwh),
                        finalized=True,
                        cost_total=None if cost is None else Decimal(cost),
                        energy_disputed_at=start if disputed else None,
                    )  # fmt: skip
                    for sid, account, start, kwh, cost, disputed in rows
                ],
            )
        command.upgrade(cfg, "head")
    except BaseException:
        command.upgrade(cfg, "head")
        raise

    def day(at: datetime) -> int:
        return (at.astimezone(tz).date() - date(1970, 1, 1)).days

    expected: dict[tuple[str, int], list[int]] = {}
    for _sid, account, start, kwh, cost, disputed in rows:
        if disputed:
            continue
        figures = expected.setdefault((account, day(start)), [0, 0, 0, 0])
        figures[0] += 1
        figures[1] += round(Decimal(kwh) * 1000)
        figures[2] += 0 if cost is None else round(Decimal(cost) * 1000)
        figures[3] += cost is not None
    as_rows = sorted((a, d, *f) for (a, d), f in expected.items())
    query = text("SELECT * FROM account_days ORDER BY 1, 2")
    with db.session() as s:
        counted = [tuple(r) for r in s.execute(query)]
        assert counted == as_rows
        assert len(counted) == 4  # s1 and s2: two local days; s4 and s5 either side of DST
        stored = s.execute(text("SELECT start_s, offset_s FROM account_day_zone ORDER BY 1"))
        assert [tuple(r) for r in stored] == list(zone_runs(tz))
        refill_account_days(s, tz)  # the app's recount finds the same rows
        assert [tuple(r) for r in s.execute(query)] == counted
        s.rollback()
    with db.engine.begin() as c:  # the triggers follow a new session
        c.execute(
            ChargingSession.__table__.insert().values(  # type: ignore[attr-defined]
                id="s6",
                account_id="a2",
                charger_id="c1",
                started_at=summer_evening,
                ended_at=summer_evening + timedelta(minutes=30),
                energy_kwh=Decimal("1.5"),
                finalized=True,
            )
        )
    with db.session() as s:
        assert s.execute(
            text(
                "SELECT sessions, energy_wh, costed FROM account_days WHERE account_id = 'a2' "
                "AND day = :d"
            ),
            {"d": day(summer_evening)},
        ).one() == (1, 1500, 0)
