"""What the admin's tariffs page and the sessions explorer read and write, on SQLite and
PostgreSQL: tariffs with their versions (state, whether a version priced sessions, plans, the
default), creating a tariff and scheduling a version (each field refused with its message), the
explorer's cost per row (stored, or so far while in progress, in one batch) and a session's
detail, whose cost follows an admin's energy correction, with who made it and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from data.accounts.validation import InvalidInput, NotFound
from data.charging.history import SessionFilter, session_detail, session_page
from data.core.db import Database
from data.core.models import ChargingSession, Role, TariffVersion
from data.ocpp.admin import resolve_energy_dispute
from data.pricing.admin import (
    ENDED,
    IN_FORCE,
    SCHEDULED,
    create_tariff,
    schedule_tariff_version,
    tariffs_overview,
)
from data.pricing.rows import stored_cost
from data.pricing.tariffs import (
    create_tariff_version,
    live_cost,
    live_costs,
    price_session,
    set_default_tariff,
    set_plan_tariff,
)
from tests.support.audit import AT, CLI, admin
from tests.support.factories import (
    make_account,
    make_charger,
    make_operator,
    make_plan,
    make_session,
    make_user,
)

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 10, 1, tzinfo=UTC)
CHANGE = datetime(2026, 11, 1, tzinfo=UTC)  # STD's second version
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LATER = datetime(2027, 1, 1, tzinfo=UTC)  # STD's scheduled version
HOUR = timedelta(hours=1)


@pytest.fixture
def site(db: Database) -> Database:
    """Operator (EUR, Berlin). Tariff STD (0.40/kWh from T0, 0.50 from CHANGE, 0.60
    scheduled from LATER) on plan-std; tariff ADHOC (0.70/kWh) the default; plan-free has no
    tariff. Session "old" (a-std, October) priced by STD's first version; "new" (a-std,
    November) by its second; "live" (a-std) in progress; admin account "ops" (Olga)."""
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin", currency="EUR")
        for tariff_id, start, energy in (
            ("STD", T0, "0.40"),
            ("STD", CHANGE, "0.50"),
            ("STD", LATER, "0.60"),
            ("ADHOC", T0, "0.70"),
        ):
            create_tariff_version(
                s,
                tariff_id=tariff_id,
                valid_from=start,
                name="Standard" if tariff_id == "STD" else "Ad hoc",
                energy_price_per_kwh=energy,
                session_fee="0.50",
                vat_percent="19",
            )
        make_plan(s, plan_id="plan-std", name="Standard plan")
        make_plan(s, plan_id="plan-free", name="Free plan")
        set_plan_tariff(s, "plan-std", "STD", actor=CLI, now=AT)
        set_default_tariff(s, "ADHOC", actor=CLI, now=AT)
        make_account(s, account_id="a-std", plan="plan-std")
        make_account(s, account_id="a-free", plan="plan-free")
        olga = make_user(s, display_name="Olga Operator")
        make_account(s, account_id="ops", user=olga, role=Role.admin)
        make_charger(s, charger_id="AC", friendly_name="Marktplatz", max_power_kw="22")
        for sid, start in (("old", T0 + timedelta(days=3)), ("new", CHANGE + timedelta(days=3))):
            make_session(s, "a-std", "AC", session_id=sid, started_at=start,
                         ended_at=start + HOUR, energy_kwh="10")  # fmt: skip
            price_session(s, sid)
        make_session(s, "a-std", "AC", session_id="live", started_at=NOW - HOUR,
                     energy_kwh="4")  # fmt: skip
    return db


def test_the_overview_lists_versions_newest_first_with_state_and_priced(site: Database):
    with site.session() as s:
        overview = tariffs_overview(s, NOW)
    assert [t.tariff_id for t in overview.tariffs] == ["ADHOC", "STD"]  # by name
    adhoc, std = overview.tariffs
    assert [(v.prices.valid_from, v.state, v.priced_sessions) for v in std.versions] == [
        (LATER, SCHEDULED, False),
        (CHANGE, IN_FORCE, True),
        (T0, ENDED, True),
    ]
    assert std.current.energy_price_per_kwh == Decimal("0.50") and std.name == "Standard"
    assert [p.plan_id for p in std.plans] == ["plan-std"] and not std.is_default
    assert adhoc.is_default and adhoc.plans == ()
    assert [(v.state, v.priced_sessions) for v in adhoc.versions] == [(IN_FORCE, False)]
    assert {p.plan_id: p.tariff_id for p in overview.plans} == {
        "plan-free": None,
        "plan-std": "STD",
    }
    assert overview.default_tariff_id == "ADHOC"
    assert overview.find("STD") is std and overview.find({"x": 1}) is None


def test_a_tariff_without_a_version_in_force_is_named_by_its_first(db: Database):
    with db.session() as s:
        make_operator(s)
        create_tariff(
            s, name="Next year", valid_from=LATER, energy_price_per_kwh="0.3", actor=CLI, now=AT
        )
        (tariff,) = tariffs_overview(s, NOW).tariffs
    assert tariff.name == "Next year" and tariff.versions[0].state == SCHEDULED


def _count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(TariffVersion))


def test_a_new_tariff_gets_an_id_from_its_name(site: Database):
    with site.session() as s:
        first = create_tariff(
            s, name="Night owl", valid_from=NOW, energy_price_per_kwh="0.25", actor=CLI, now=AT
        )
        second = create_tariff(
            s, name="Night owl", valid_from=NOW, energy_price_per_kwh="0.2", actor=CLI, now=AT
        )
        typed = create_tariff(s, tariff_id="NIGHT", name="Night", valid_from=NOW, actor=CLI, now=AT)
    assert (first.tariff_id, second.tariff_id, typed.tariff_id) == (
        "TARIFF-NIGHT-OWL",
        "TARIFF-NIGHT-OWL-2",
        "NIGHT",
    )
    assert first.currency == "EUR"  # blank: the operator's


def test_a_taken_id_is_refused_with_the_other_fields_and_nothing_is_written(site: Database):
    before = _count(site)
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        create_tariff(
            s, tariff_id="STD", name="Copy", valid_from=NOW, energy_price_per_kwh="-1",
            currency="USD", actor=CLI, now=AT,
        )  # fmt: skip
    errors = refused.value.errors
    assert "is taken" in errors["tariff_id"]
    assert errors["energy_price_per_kwh"] == "The energy price cannot be negative."
    assert errors["currency"] == "Tariffs are in the operator's currency, EUR."
    assert _count(site) == before
    # A taken id alone: still nothing written (the version would have been valid).
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        create_tariff(s, tariff_id="STD", name="Copy", valid_from=LATER + HOUR, actor=CLI, now=AT)
    assert set(refused.value.errors) == {"tariff_id"}
    assert _count(site) == before


def test_every_field_is_checked_for_a_new_tariff(site: Database):
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        create_tariff(
            s, name="", valid_from=None, vat_percent="120", time_free_minutes="-5",
            session_fee="0.123456", actor=CLI, now=AT,
        )  # fmt: skip
    errors = refused.value.errors
    assert set(errors) == {"name", "valid_from", "vat_percent", "time_free_minutes", "session_fee"}
    assert "tariff_id" not in errors  # blank: made from the name once there is one


def test_a_version_is_scheduled_from_a_future_date(site: Database):
    start = LATER + timedelta(days=31)
    with site.session() as s:
        version = schedule_tariff_version(
            s, "STD", name="Standard 2027", valid_from=start, energy_price_per_kwh="0.65",
            time_price_per_hour="1.2", time_free_minutes="240", actor=CLI, now=AT,
        )  # fmt: skip
        std = tariffs_overview(s, NOW).find("STD")
    assert (version.tariff_id, version.valid_from) == ("STD", start)
    assert std is not None and std.versions[0].prices == version
    assert std.name == "Standard"  # the version in force names it


def test_a_past_version_that_would_re_price_a_session_is_refused_beside_its_date(
    site: Database,
):
    before = _count(site)
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        schedule_tariff_version(
            s, "STD", name="Cheaper", valid_from=CHANGE + timedelta(days=1),
            energy_price_per_kwh="0.10", actor=CLI, now=AT,
        )  # fmt: skip
    message = refused.value.errors["valid_from"]
    assert message.startswith("This version would re-price session new (started 2026-11-04")
    assert "which this tariff priced already" in message
    # In force at the start of the session in progress: it keeps the price it was shown.
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        schedule_tariff_version(s, "STD", name="Now", valid_from=NOW - 2 * HOUR, actor=CLI, now=AT)
    assert "session live in progress" in refused.value.errors["valid_from"]
    with site.session() as s, pytest.raises(InvalidInput) as refused:
        schedule_tariff_version(s, "STD", name="Same", valid_from=LATER, actor=CLI, now=AT)
    assert refused.value.errors["valid_from"] == (
        "This tariff already has a version from that moment."
    )
    assert _count(site) == before
    with site.session() as s:
        assert stored_cost(s.get(ChargingSession, "new")).energy == Decimal("5.00")


def test_a_version_of_a_tariff_that_does_not_exist_is_refused(site: Database):
    for ghost in ("GHOST", None, {"id": "STD"}):
        with site.session() as s, pytest.raises(NotFound):
            schedule_tariff_version(s, ghost, name="x", valid_from=LATER + HOUR, actor=CLI, now=AT)


def test_the_explorer_rows_carry_the_stored_cost_and_the_live_one_in_a_batch(site: Database):
    flt = SessionFilter(T0.date(), NOW.date())
    with site.session() as s:
        rows = {r.session_id: r for r in session_page(s, flt, BERLIN, 0, 100)}
        assert rows["new"].cost == stored_cost(s.get(ChargingSession, "new"))
        assert rows["new"].cost.total == Decimal("5.50")  # 10 x 0.50 + 0.50
        assert rows["old"].cost.total == Decimal("4.50")  # by the version of its start
        assert rows["live"].cost is None
        live = live_costs(s, ["live", "new", "live", "nope"], NOW)
        assert set(live) == {"live"}  # a stored cost is not computed again
        assert live["live"] == live_cost(s, "live", NOW)
        assert live["live"].total == Decimal("2.50")  # 4 x 0.50 + 0.50
        assert live_costs(s, [], NOW) == {}


def test_the_detail_of_a_priced_session_names_its_tariff_version(site: Database):
    with site.session() as s:
        old = session_detail(s, "old", NOW)
        live = session_detail(s, "live", NOW)
        assert session_detail(s, "missing", NOW) is None
        assert session_detail(s, ["old"], NOW) is None
        assert session_detail(s, "x" * 500, NOW) is None
    assert old is not None and old.cost is not None and not old.cost_so_far
    assert old.tariff is not None and (old.tariff.tariff_id, old.tariff.valid_from) == ("STD", T0)
    assert (old.row.charger_name, old.resolved_at, old.resolved_by) == ("Marktplatz", None, None)
    assert live is not None and live.cost_so_far and live.cost.total == Decimal("2.50")


def test_a_correction_re_prices_the_session_and_keeps_who_and_when(site: Database):
    """A charger's implausible reading disputes a finalized session: no cost until an admin
    corrects it; then the detail and the explorer's row show the new cost, by the version in
    force at its start, with who corrected it and when."""
    start = CHANGE + timedelta(days=5)
    with site.session() as s:
        make_session(s, "a-std", "AC", session_id="odd", started_at=start,
                     ended_at=start + HOUR, energy_kwh="3")  # fmt: skip
        row = s.get(ChargingSession, "odd")
        row.energy_disputed_at, row.energy_disputed_kwh = start + HOUR, Decimal("900")
        assert price_session(s, "odd") is None
    with site.session() as s:
        disputed = session_detail(s, "odd", NOW)
        assert disputed is not None and disputed.cost is None and disputed.row.energy_disputed
    corrected_at = NOW + HOUR
    with site.session() as s:
        resolve_energy_dispute(s, "odd", admin("ops"), "12.5", corrected_at)
    with site.session() as s:
        detail = session_detail(s, "odd", NOW + 2 * HOUR)
        (listed,) = [
            r
            for r in session_page(s, SessionFilter(start.date(), start.date()), BERLIN, 0, 10)
            if r.session_id == "odd"
        ]
    assert detail is not None and detail.cost is not None
    assert detail.cost.energy == Decimal("6.25")  # 12.5 x 0.50, the version of its start
    assert detail.cost.total == Decimal("6.75") and listed.cost == detail.cost
    assert (detail.resolved_by, detail.resolved_by_name) == ("ops", "Olga Operator")
    assert detail.resolved_at == corrected_at and detail.reported_kwh == Decimal("900.000")
    assert detail.row.energy_kwh == Decimal("12.500")
