"""data.pricing.tariffs on SQLite and PostgreSQL: which tariff version prices a session, the cost
stored when a session is finalized (OCPP StopTransaction, an admin's energy correction), the
live cost, creating versions and what they may not re-price, and pricing history in batches."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

import data.ocpp.messages as ocpp
from data.accounts.validation import InvalidInput, NotFound
from data.core.db import Database
from data.core.models import ChargingSession, Operator, Role
from data.ocpp.admin import resolve_energy_dispute
from data.pricing.cost import SessionCost
from data.pricing.rows import stored_cost
from data.pricing.tariffs import (
    account_tariff_id,
    create_tariff_version,
    live_cost,
    price_session,
    price_unpriced_sessions,
    set_default_tariff,
    set_plan_tariff,
    tariff_version_for_session,
    tariff_versions,
)
from tests.support.audit import AT, CLI, admin
from tests.support.factories import (
    make_account,
    make_charger,
    make_id_tag,
    make_operator,
    make_plan,
    make_session,
)

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # the first versions
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _version(s, tariff_id: str, valid_from: datetime, energy: str, **more: object) -> None:
    create_tariff_version(
        s,
        tariff_id=tariff_id,
        valid_from=valid_from,
        name=tariff_id.title(),
        energy_price_per_kwh=energy,
        vat_percent="19",
        **more,
    )


@pytest.fixture
def site(db: Database) -> Database:
    """Operator (EUR) with default tariff ADHOC (0.59/kWh, 0.50 a session); tariff PLUS
    (0.35/kWh, 0.30/kWh from 21 November) on plan-plus; plan-basic has no tariff. Accounts
    a-plus, a-basic, a-none (no plan); chargers AC (22 kW) and DC (150 kW)."""
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin", currency="EUR")
        _version(s, "ADHOC", T0, "0.59", session_fee="0.50", dc_energy_price_per_kwh="0.69")
        _version(s, "PLUS", T0, "0.35")
        _version(s, "PLUS", T0 + timedelta(days=20), "0.30")
        make_plan(s, plan_id="plan-plus")
        make_plan(s, plan_id="plan-basic")
        set_plan_tariff(s, "plan-plus", "PLUS", actor=CLI, now=AT)
        set_default_tariff(s, "ADHOC", actor=CLI, now=AT)
        make_account(s, account_id="a-plus", plan="plan-plus")
        make_account(s, account_id="a-basic", plan="plan-basic")
        make_account(s, account_id="a-none")
        make_charger(s, charger_id="AC", max_power_kw="22")
        make_charger(s, charger_id="DC", max_power_kw="150")
    return db


def _session(db: Database, sid: str, account: str, charger: str, start: datetime, **kw) -> None:
    with db.session() as s:
        make_session(s, account, charger, session_id=sid, started_at=start, **kw)


def _priced(db: Database, sid: str) -> SessionCost | None:
    with db.session() as s:
        return price_session(s, sid)


def test_the_plan_tariff_else_the_default_else_none(site: Database):
    end = START + timedelta(hours=1)
    for sid, account in (("s-plus", "a-plus"), ("s-basic", "a-basic"), ("s-none", "a-none")):
        _session(site, sid, account, "AC", START, ended_at=end, energy_kwh="10")
    plus, basic, none = (_priced(site, sid) for sid in ("s-plus", "s-basic", "s-none"))
    assert plus is not None and (plus.tariff_id, plus.total) == ("PLUS", Decimal("3.50"))
    assert basic is not None and (basic.tariff_id, basic.total) == ("ADHOC", Decimal("6.40"))
    assert none is not None and none.tariff_id == "ADHOC"  # no plan: ad hoc charging
    with site.session() as s:
        assert account_tariff_id(s, "a-basic") == "ADHOC"
        set_default_tariff(s, None, actor=CLI, now=AT)
        assert account_tariff_id(s, "a-basic") is None and account_tariff_id(s, "a-plus") == "PLUS"
    _session(site, "s-free", "a-none", "AC", START, ended_at=end, energy_kwh="10")
    assert _priced(site, "s-free") is None
    with site.session() as s:
        row = s.get(ChargingSession, "s-free")
        assert (row.tariff_id, row.cost_total, row.currency) == (None, None, None)
        # Stored costs stay as they were priced.
        assert stored_cost(s.get(ChargingSession, "s-basic")) == basic


def test_the_version_in_force_at_the_start_holds_for_the_whole_session(site: Database):
    change = T0 + timedelta(days=20)  # PLUS costs 0.30 from here
    _session(site, "before", "a-plus", "DC", change - timedelta(minutes=1),
             ended_at=change + timedelta(hours=2), energy_kwh="10")  # fmt: skip
    _session(site, "at", "a-plus", "DC", change, ended_at=change + timedelta(hours=1),
             energy_kwh="10")  # fmt: skip
    before, at = _priced(site, "before"), _priced(site, "at")
    assert before is not None and (before.tariff_valid_from, before.energy) == (T0, Decimal("3.50"))
    assert at is not None and (at.tariff_valid_from, at.energy) == (change, Decimal("3.00"))
    with site.session() as s:
        assert tariff_version_for_session(s, "before").valid_from == T0  # type: ignore[union-attr]


def test_a_later_version_never_re_prices_and_one_that_would_is_refused(site: Database):
    start = START + timedelta(days=2)
    _session(site, "s1", "a-plus", "AC", start, ended_at=start + timedelta(hours=1),
             energy_kwh="10")  # fmt: skip
    first = _priced(site, "s1")
    assert first is not None and first.total == Decimal("3.00")  # the 21 November version
    with site.session() as s:
        _version(s, "PLUS", start + timedelta(days=3), "0.99")
        # A version from before s1's start would be in force for it: refused, nothing written.
        with pytest.raises(InvalidInput) as refused:
            _version(s, "PLUS", start - timedelta(hours=1), "0.10")
        assert "re-price session s1" in refused.value.errors["valid_from"]
        assert len(tariff_versions(s, "PLUS")) == 3
        # Its energy corrected, s1 keeps its version (not the newer 0.99 one).
        s.get(ChargingSession, "s1").energy_kwh = Decimal("20")
    again = _priced(site, "s1")
    assert again is not None and (again.tariff_valid_from, again.total) == (
        first.tariff_valid_from,
        Decimal("6.00"),
    )


def test_a_version_may_not_change_the_price_of_a_session_in_progress(site: Database):
    _session(site, "live", "a-plus", "AC", START, energy_kwh="4")
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        _version(s, "PLUS", START - timedelta(minutes=5), "0.10")
    assert "session live in progress" in refused.value.errors["valid_from"]
    with site.session() as s:
        _version(s, "PLUS", START + timedelta(minutes=5), "0.10")  # after its start: fine
        cost = live_cost(s, "live", START + timedelta(hours=2))
    assert cost is not None and (cost.energy, cost.tariff_valid_from) == (
        Decimal("1.40"),  # 4 kWh x 0.35, the price shown when it started
        T0,
    )


def test_live_cost_uses_the_energy_and_duration_so_far(site: Database):
    with site.session() as s:
        _version(s, "HOURLY", T0, "0.40", time_price_per_hour="1.20", time_free_minutes="60")
        set_plan_tariff(s, "plan-basic", "HOURLY", actor=CLI, now=AT)
    _session(site, "live", "a-basic", "AC", START, energy_kwh="7.5")
    with site.session() as s:
        at_90 = live_cost(s, "live", START + timedelta(minutes=90))
        assert at_90 is not None
        assert (at_90.energy, at_90.time, at_90.total) == (
            Decimal("3.00"), Decimal("0.60"), Decimal("3.60"),
        )  # fmt: skip
        assert s.get(ChargingSession, "live").cost_total is None  # nothing stored
        assert price_session(s, "live") is None  # in progress: not priced


def test_version_input_is_checked_field_by_field(site: Database):
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        create_tariff_version(
            s,
            tariff_id="NEW",
            valid_from=NOW + timedelta(days=1),
            name="New",
            currency="USD",
            energy_price_per_kwh="-0.10",
            session_fee="1.23456",
            time_free_minutes="-5",
            vat_percent="101",
        )
    assert set(refused.value.errors) == {
        "currency", "energy_price_per_kwh", "session_fee", "time_free_minutes", "vat_percent",
    }  # fmt: skip
    assert "operator's currency, EUR" in refused.value.errors["currency"]
    assert "negative" in refused.value.errors["energy_price_per_kwh"]
    with site.session() as s, pytest.raises(InvalidInput) as twice:
        _version(s, "PLUS", T0, "0.35")
    assert "already has a version" in twice.value.errors["valid_from"]
    with site.session() as s, pytest.raises(NotFound):
        set_plan_tariff(s, "plan-basic", "NO-SUCH-TARIFF", actor=CLI, now=AT)


def test_stop_transaction_stores_the_cost(site: Database):
    with site.session() as s:
        make_id_tag(s, "a-basic", id_tag="TAG1")
    with site.session() as s:
        started = ocpp.start_transaction(s, "DC", 1, "TAG1", 1000, "2026-11-25T08:00:00Z", NOW)
    with site.session() as s:
        ocpp.stop_transaction(
            s, "DC", started.transaction_id, 21000, "2026-11-25T08:30:00Z", None, None, None, NOW
        )
    with site.session() as s:
        row = s.get(ChargingSession, started.session_id)
        # 20 kWh on 150 kW: 20 x 0.69 = 13.80, + 0.50; VAT 14.30 - 14.30/1.19 = 2.28
        assert (row.tariff_id, row.tariff_valid_from, row.currency) == ("ADHOC", T0, "EUR")
        assert (row.cost_energy, row.cost_time, row.cost_fee) == (
            Decimal("13.80"), Decimal("0"), Decimal("0.50"),
        )  # fmt: skip
        assert (row.cost_total, row.vat_amount) == (Decimal("14.30"), Decimal("2.28"))
        assert live_cost(s, row.id, NOW + timedelta(days=9)) == stored_cost(row)


def test_a_disputed_session_is_priced_when_an_admin_corrects_its_energy(site: Database):
    with site.session() as s:
        make_id_tag(s, "a-basic", id_tag="TAG1")
        make_account(s, account_id="ops", role=Role.admin)
    with site.session() as s:
        started = ocpp.start_transaction(s, "AC", 1, "TAG1", 0, "2026-11-25T08:00:00Z", NOW)
    with site.session() as s:
        # 500 kWh in 30 minutes on 22 kW: implausible, disputed, not priced.
        ocpp.stop_transaction(
            s, "AC", started.transaction_id, 500_000, "2026-11-25T08:30:00Z", None, None, None,
            NOW,
        )  # fmt: skip
    with site.session() as s:
        row = s.get(ChargingSession, started.session_id)
        assert row.energy_disputed_at is not None and row.cost_total is None
    corrected_at = NOW + timedelta(hours=1)
    with site.session() as s:
        resolve_energy_dispute(s, started.session_id, admin("ops"), "10", corrected_at)
    with site.session() as s:
        row = s.get(ChargingSession, started.session_id)
        assert (row.energy_resolved_by, row.energy_resolved_at) == ("ops", corrected_at)
        assert (row.cost_energy, row.cost_total) == (Decimal("5.90"), Decimal("6.40"))


def test_history_is_priced_in_batches_when_a_tariff_covers_it(
    site: Database, caplog: pytest.LogCaptureFixture
):
    # Seven finished sessions of a-none before any default, one in progress, one from before
    # the first version: only the seven get a cost once the default is set.
    with site.session() as s:
        set_default_tariff(s, None, actor=CLI, now=AT)
    for i in range(7):
        start = START + timedelta(hours=i)
        _session(site, f"h{i}", "a-none", "AC", start, ended_at=start + timedelta(minutes=30),
                 energy_kwh=str(i))  # fmt: skip
    _session(site, "old", "a-none", "AC", T0 - timedelta(days=1), ended_at=T0, energy_kwh="5")
    _session(site, "live", "a-none", "AC", NOW - timedelta(minutes=5), energy_kwh="1")
    with site.session() as s:
        assert s.scalars(select(ChargingSession.cost_total).where(
            ChargingSession.cost_total.is_not(None))).all() == []  # fmt: skip
        s.get(Operator, 1).default_tariff_id = "ADHOC"
        s.flush()
        with caplog.at_level(logging.INFO, logger="polaris.pricing"):
            assert price_unpriced_sessions(s, batch_size=2) == 7
        assert "priced 7 sessions" in caplog.text
        totals = dict(s.execute(select(ChargingSession.id, ChargingSession.cost_total)).all())
        assert {k: v for k, v in totals.items() if v is not None} == {
            f"h{i}": Decimal("0.50") + (Decimal("0.59") * i).quantize(Decimal("0.01"))
            for i in range(7)
        }
        # Priced ones are never touched again.
        assert price_unpriced_sessions(s, batch_size=3) == 0
