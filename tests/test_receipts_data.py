"""data.pricing.receipts and data.pricing.statements on SQLite and PostgreSQL: a receipt is the
stored cost with the version that priced it, for its own account only (any for an admin); a
statement holds the month's finalized sessions by local start day (DST and month boundaries in
the operator's time zone), and its totals are the sums of the stored costs, equal to the cent
to the sessions export's cost_total, for a EUR and a JPY operator."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from data.core.db import Database
from data.core.models import ChargingSession
from data.exchange.export_stream import export_chunks
from data.exchange.exports import ExportFilter
from data.pricing.receipts import receipt
from data.pricing.statements import (
    MonthError,
    iter_statement_lines,
    month_key,
    month_of,
    month_period,
    month_statement,
    parse_month,
    shift_month,
    statement_days,
)
from tests.support.factories import make_account, make_session, make_user
from tests.support.receipts import (
    EUR,
    JPY,
    OPERATOR_NAME,
    SUPPORT_EMAIL,
    TARIFF_FROM,
    Prices,
    finished,
    priced_site,
    stored_totals,
)

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
# Summer time ends on 25 October 2026 at 03:00 CEST (01:00 UTC): 01:30 CEST to 03:30 CET is 3 h.
DST_START = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    """EUR operator in Europe/Berlin; Dana (a-dana) and another customer (a-other)."""
    with db.session() as s:
        priced_site(s, EUR)
        make_account(s, account_id="a-dana", user=make_user(s, display_name="Dana Driver"),
                     label="Commute")  # fmt: skip
        make_account(s, account_id="a-other")
    return db


def test_a_receipt_is_the_stored_cost_with_the_version_that_priced_it(site: Database):
    with site.session() as s:
        cost = finished(s, "s-dst", "a-dana", "AC", DST_START, 3 * HOUR, "20")
    # 20 kWh x 0.39 = 7.80; 3 h real (the DST hour counts) - 60 free min = 2 h x 1.20 = 2.40;
    # fee 0.50; total 10.70, of which VAT 19 %: 10.70 - 10.70 / 1.19 = 1.71.
    assert cost is not None
    assert (cost.energy, cost.time, cost.fee, cost.total, cost.vat) == tuple(
        Decimal(v) for v in ("7.80", "2.40", "0.50", "10.70", "1.71")
    )
    with site.session() as s:
        found = receipt(s, "s-dst", "a-dana")
    assert found is not None
    assert found.cost == cost
    assert found.duration == 3 * HOUR
    assert found.energy_kwh == Decimal("20.000") and found.energy_price == Decimal("0.39")
    assert (found.charger_name, found.connector_type, found.max_power_kw) == (
        "Market Square",
        "Type 2",
        Decimal("22"),
    )
    assert (found.operator.name, found.operator.support_email) == (OPERATOR_NAME, SUPPORT_EMAIL)
    assert (found.holder.display_name, found.holder.label) == ("Dana Driver", "Commute")
    tariff = found.tariff
    assert tariff is not None
    assert (tariff.tariff_id, tariff.valid_from, tariff.name) == ("STD", TARIFF_FROM, "Standard")
    assert (tariff.time_free_minutes, tariff.vat_percent) == (60, Decimal("19"))


def test_a_receipt_shows_what_is_stored_never_a_recomputation(site: Database):
    with site.session() as s:
        finished(s, "s-dc", "a-dana", "DC", datetime(2026, 11, 10, 8, tzinfo=UTC), HOUR, "30.5")
        row = s.get(ChargingSession, "s-dc")
        assert row is not None and row.cost_energy == Decimal("18.00")  # 30.5 x 0.59 (DC)
        # As an import keeps the billed truth of another system: stored parts that the rule
        # would not give.
        row.cost_energy, row.cost_total = Decimal("17.00"), Decimal("17.50")
    with site.session() as s:
        found = receipt(s, "s-dc", "a-dana")
        statement = month_statement(s, "a-dana", date(2026, 11, 1))
    assert found is not None and found.cost is not None
    assert (found.cost.energy, found.cost.total) == (Decimal("17.00"), Decimal("17.50"))
    assert found.energy_price == Decimal("0.59")  # the DC price: 150 kW is above 22
    assert statement is not None and statement.totals[0].total == Decimal("17.50")


def test_only_the_own_account_sees_a_receipt_and_an_admin_sees_any(site: Database):
    start = datetime(2026, 11, 3, 9, tzinfo=UTC)
    with site.session() as s:
        finished(s, "s-other", "a-other", "AC", start, HOUR, "5")
        make_session(s, "a-dana", "AC", session_id="s-live", started_at=start)
        assert receipt(s, "s-other", "a-dana") is None
        assert receipt(s, "s-other", "a-other") is not None
        assert receipt(s, "s-other", "a-dana", any_account=True) is not None
        assert receipt(s, "no-such-session", "a-dana", any_account=True) is None
        # A session in progress has no receipt yet, whoever asks.
        assert receipt(s, "s-live", "a-dana") is None
        assert receipt(s, "s-live", "a-dana", any_account=True) is None


def test_a_disputed_or_unpriced_session_has_a_receipt_without_cost(site: Database):
    with site.session() as s:
        # Before the tariff's first version: no tariff priced it.
        finished(s, "s-2025", "a-dana", "AC", TARIFF_FROM - 20 * 24 * HOUR, HOUR, "5")
        day = TARIFF_FROM + 24 * HOUR
        make_session(s, "a-dana", "AC", session_id="s-disputed", energy_kwh="5",
                     started_at=day, ended_at=day + HOUR)  # fmt: skip
        row = s.get(ChargingSession, "s-disputed")
        assert row is not None
        row.energy_disputed_at = TARIFF_FROM + 25 * HOUR
        unpriced, disputed = receipt(s, "s-2025", "a-dana"), receipt(s, "s-disputed", "a-dana")
    assert unpriced is not None and (unpriced.cost, unpriced.tariff) == (None, None)
    assert not unpriced.energy_under_review
    assert disputed is not None and disputed.cost is None and disputed.energy_under_review


def _month_sessions(s, account: str = "a-dana") -> None:
    """Sessions around November 2026 in Berlin (CET, UTC+1 all month)."""
    at = lambda *args: datetime(*args, tzinfo=UTC)  # noqa: E731
    finished(s, "s-oct-last", account, "AC", at(2026, 10, 31, 22, 30), HOUR, "7.5")  # 23:30 CET
    finished(s, "s-nov-first", account, "AC", at(2026, 10, 31, 23, 30), HOUR, "10")  # Nov 1
    finished(s, "s-nov-dc", account, "DC", at(2026, 11, 10, 8), 45 * timedelta(minutes=1),
             "30.5")  # fmt: skip
    finished(s, "s-nov-last", account, "AC", at(2026, 11, 30, 22, 59), 2 * HOUR, "12.345")
    finished(s, "s-dec-first", account, "AC", at(2026, 11, 30, 23), HOUR, "8")  # Dec 1 00:00


def test_a_statement_holds_the_months_sessions_by_local_start_day(site: Database):
    with site.session() as s:
        _month_sessions(s)
        finished(s, "s-other-nov", "a-other", "AC", datetime(2026, 11, 5, tzinfo=UTC), HOUR, "9")
        make_session(s, "a-dana", "AC", session_id="s-live",
                     started_at=datetime(2026, 11, 20, 8, tzinfo=UTC))  # fmt: skip
        make_session(s, "a-dana", "AC", session_id="s-disputed", energy_kwh="40",
                     started_at=datetime(2026, 11, 21, 8, tzinfo=UTC),
                     ended_at=datetime(2026, 11, 21, 9, tzinfo=UTC))  # fmt: skip
        row = s.get(ChargingSession, "s-disputed")
        assert row is not None
        row.energy_disputed_at = datetime(2026, 11, 21, 9, tzinfo=UTC)
    with site.session() as s:
        november = month_statement(s, "a-dana", date(2026, 11, 1))
        october = month_statement(s, "a-dana", date(2026, 10, 1))
        streamed = list(iter_statement_lines(s, "a-dana", month_period(date(2026, 11, 1), BERLIN),
                                             batch_rows=2))  # fmt: skip
        assert month_statement(s, "no-such-account", date(2026, 11, 1)) is None
    assert november is not None and october is not None
    ids = [line.session_id for line in november.lines]
    assert ids == ["s-nov-first", "s-nov-dc", "s-nov-last"]
    assert streamed == november.lines  # the CSV's lines are the page's
    assert [line.session_id for line in october.lines] == ["s-oct-last"]
    assert november.under_review == 1 and november.unpriced == 0
    assert november.energy_kwh == Decimal("52.845")
    assert november.period.start_utc == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert [(d.day, d.sessions) for d in statement_days(november)] == [
        (date(2026, 11, 1), 1),
        (date(2026, 11, 10), 1),
        (date(2026, 11, 30), 1),
    ]
    totals = november.totals
    assert [t.currency for t in totals] == ["EUR"] and totals[0].sessions == 3
    # Every part is the sum of the stored parts.
    lines = [line.cost for line in november.lines]
    assert all(c is not None for c in lines)
    assert totals[0].energy == sum((c.energy for c in lines if c), Decimal(0))
    assert totals[0].vat == sum((c.vat for c in lines if c), Decimal(0))
    assert totals[0].total == totals[0].energy + totals[0].time + totals[0].fee


def test_a_month_before_any_tariff_lists_its_sessions_without_cost(site: Database):
    with site.session() as s:
        finished(s, "s-2025", "a-dana", "AC", datetime(2025, 12, 15, 8, tzinfo=UTC), HOUR, "5")
        statement = month_statement(s, "a-dana", date(2025, 12, 1))
    assert statement is not None
    assert [(line.session_id, line.cost) for line in statement.lines] == [("s-2025", None)]
    assert statement.totals == [] and statement.unpriced == 1
    assert statement.energy_kwh == Decimal("5.000")


def _export_cost_total(db: Database, account: str, first: date, last: date, tz: ZoneInfo):
    flt = ExportFilter(first_day=first, last_day=last, account_id=account)
    body = b"".join(export_chunks(db, "sessions", flt, tz)).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    return {r["session_id"] for r in rows}, sum(
        (Decimal(r["cost_total"]) for r in rows if r["cost_total"]), Decimal(0)
    )


@pytest.mark.parametrize("prices", [EUR, JPY], ids=["EUR", "JPY"])
def test_statement_totals_agree_with_the_sessions_export_to_the_cent(db: Database, prices: Prices):
    tz = ZoneInfo(prices.timezone)
    with db.session() as s:
        priced_site(s, prices)
        make_account(s, account_id="a-dana")
        _month_sessions(s)
        # Across the DST change in Berlin (none in Tokyo): October.
        finished(s, "s-dst", "a-dana", "AC", DST_START, 3 * HOUR, "20.004")
    for first, last in ((date(2026, 10, 1), date(2026, 10, 31)),
                        (date(2026, 11, 1), date(2026, 11, 30))):  # fmt: skip
        with db.session() as s:
            statement = month_statement(s, "a-dana", first)
            assert statement is not None
            ids = [line.session_id for line in statement.lines]
            stored = stored_totals(s, ids)
        exported_ids, exported = _export_cost_total(db, "a-dana", first, last, tz)
        assert set(ids) == exported_ids
        assert [t.currency for t in statement.totals] == [prices.currency]
        total = statement.totals[0].total
        assert total == stored == exported
        if prices.currency == "JPY":
            assert total == total.to_integral_value()  # yen have no minor unit
    with db.session() as s:
        november = month_statement(s, "a-dana", date(2026, 11, 1))
    assert november is not None
    expected = {"EUR": ["s-nov-first", "s-nov-dc", "s-nov-last"],
                # 2026-11-30 23:00 UTC is 1 December 08:00 in Tokyo; 31 Oct 22:30 UTC is 1 Nov.
                "JPY": ["s-oct-last", "s-nov-first", "s-nov-dc"]}  # fmt: skip
    assert [line.session_id for line in november.lines] == expected[prices.currency]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-13", "There is no month 13 in 2026-13: months run from 01 to 12."),
        ("2026-00", "There is no month 00"),
        ("26-11", "is not a month. Write it as YYYY-MM, like 2026-11."),
        ("2026-1", "is not a month"),
        ("november", "is not a month"),
        (" 2026-11", "is not a month"),
        ("1969-12", "Statements cover the years 1970 to 9998."),
        (None, "is not a month"),
        (["2026-11"], "is not a month"),
    ],
)
def test_a_bad_month_says_what_is_wrong(text: object, says: str):
    with pytest.raises(MonthError) as refused:
        parse_month(text)
    assert says in str(refused.value)


def test_months_and_their_bounds():
    assert parse_month("2026-11") == date(2026, 11, 1)
    assert month_key(date(2026, 3, 1)) == "2026-03"
    assert shift_month(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert shift_month(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert shift_month(date(1970, 1, 1), -1) is None
    assert month_of(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), BERLIN) == date(2026, 11, 1)
    # March 2026 in Berlin loses an hour (summer time from the 29th): 30 days and 23 hours.
    march = month_period(date(2026, 3, 1), BERLIN)
    assert march.end_utc - march.start_utc == timedelta(days=31) - HOUR
    assert (march.start_utc, march.label) == (datetime(2026, 2, 28, 23, tzinfo=UTC), "March 2026")
