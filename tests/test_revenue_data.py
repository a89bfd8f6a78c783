"""What a period cost, on SQLite and PostgreSQL: the driver's usage section (stored costs of the
period's sessions plus the cost so far of one in progress), the operators' revenue per day,
month, charger and connector type, and the sessions explorer's totals, each equal to the stored
costs counted here in Python (a session's local start day by zoneinfo, no SQL shared). Across
Berlin's 25-hour day and in yen, whose minor unit is the yen."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from components.dashboard import usage_total
from components.history import sessions_totals_text
from data.charging.analytics import (
    AnalyticsRange,
    chart_table,
    energy_by_connector,
    energy_per_day,
    energy_per_month,
    revenue_per_charger,
    total_revenue,
)
from data.charging.dashboard import account_usage
from data.charging.history import SessionFilter, session_totals
from data.core.db import Database
from data.core.models import Charger, ChargingSession, ConnectorType
from data.core.periods import Period, period_bounds
from data.pricing.tariffs import live_cost, live_costs
from tests.support.factories import make_account, make_charger, make_operator, make_session
from tests.support.receipts import EUR, JPY, Prices, finished, priced_site

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
BERLIN = ZoneInfo(EUR.timezone)
TOKYO = ZoneInfo(JPY.timezone)


def local(prices: Prices, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time of the site's zone as an aware UTC instant."""
    return datetime(*args, tzinfo=ZoneInfo(prices.timezone), fold=fold).astimezone(UTC)


def stored_in(s: Session, period: Period, account_id: str | None = None) -> Decimal:
    """The stored costs of the sessions that count and started on a local day of ``period``,
    found here: every session read, its day by zoneinfo."""
    rows = s.execute(
        select(
            ChargingSession.account_id,
            ChargingSession.started_at,
            ChargingSession.cost_total,
            ChargingSession.energy_disputed_at,
        )
    ).all()
    total = Decimal(0)
    for account, started, cost, disputed in rows:
        if account_id is not None and account != account_id:
            continue
        day = started.astimezone(period.tz).date()
        if cost is not None and disputed is None and period.first_day <= day < period.end_day:
            total += Decimal(str(cost))
    return total


def _history(s: Session, prices: Prices) -> None:
    """a1's sessions on both sides of Berlin's fall-back night (02:00-03:00 twice on 25 October)
    and of the months' edges, one disputed, one in progress (today); a2's on the same days."""
    make_account(s, account_id="a1")
    make_account(s, account_id="a2")
    hour = timedelta(hours=1)
    starts = [
        ("sep", local(prices, 2026, 9, 30, 23, 59)),
        ("dst-1", local(prices, 2026, 10, 25, 2, 30)),
        ("dst-2", local(prices, 2026, 10, 25, 2, 30, fold=1)),
        ("oct-end", local(prices, 2026, 10, 31, 23, 30)),
        ("nov-1", local(prices, 2026, 11, 1, 0, 10)),
        ("nov-20", local(prices, 2026, 11, 20, 18, 0)),
    ]
    for n, (name, start) in enumerate(starts):
        for account in ("a1", "a2"):
            charger = ("AC", "DC")[n % 2]
            finished(s, f"{account}-{name}", account, charger, start, hour + n * hour / 4,
                     f"{7 + 3.5 * n:.3f}")  # fmt: skip
    # Priced, then its energy disputed: it counts nowhere until an admin resolves it.
    finished(s, "a1-disputed", "a1", "DC", local(prices, 2026, 11, 3, 12, 0), hour, "80")
    s.execute(
        update(ChargingSession)
        .where(ChargingSession.id == "a1-disputed")
        .values(energy_disputed_at=NOW)
    )
    make_session(s, "a1", "DC", session_id="a1-live", started_at=NOW - hour, energy_kwh="12.5")


def test_the_drivers_period_cost_is_its_stored_costs_and_the_one_in_progress(db: Database):
    with db.session() as s:
        priced_site(s, EUR)  # Europe/Berlin
        _history(s, EUR)
    with db.session() as s:
        for name in ("current", "previous", "year"):
            period = period_bounds(name, NOW, BERLIN)
            usage = account_usage(s, "a1", period)
            assert usage.cost == stored_in(s, period, "a1"), name
            assert usage.cost and usage.cost > 0
            live = live_costs(s, usage.in_progress, NOW)
            so_far = live_cost(s, "a1-live", NOW)
            assert so_far is not None and so_far.total > 0
            if name == "previous":  # October: nothing in progress started in it
                assert usage.in_progress == () and usage.cost_with(live) == usage.cost
            else:
                assert usage.in_progress == ("a1-live",)
                assert usage.cost_with(live) == usage.cost + so_far.total
        # October holds both 02:30s of its 25-hour day and 23:30 on the 31st.
        october = period_bounds("previous", NOW, BERLIN)
        ids = ("a1-dst-1", "a1-dst-2", "a1-oct-end")
        costs = s.scalars(select(ChargingSession.cost_total).where(ChargingSession.id.in_(ids)))
        assert account_usage(s, "a1", october).cost == sum(Decimal(str(c)) for c in costs)


def test_the_period_cost_in_yen_and_on_screen(db: Database):
    with db.session() as s:
        priced_site(s, JPY)  # Asia/Tokyo
        _history(s, JPY)
    with db.session() as s:
        tokyo = period_bounds("current", NOW, TOKYO)
        usage = account_usage(s, "a1", tokyo)
        live = live_costs(s, usage.in_progress, NOW)
        cost = usage.cost_with(live)
        assert usage.cost == stored_in(s, tokyo, "a1")
    assert usage.cost is not None and usage.cost == usage.cost.to_integral_value()  # whole yen
    assert cost is not None and cost > usage.cost
    shown = usage_total(usage.days, tokyo, cost, "JPY")
    text = str(shown.to_plotly_json())
    assert f"¥{int(cost):,}" in text


def test_no_cost_is_shown_where_nothing_is_priced(db: Database):
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_account(s, account_id="a1")
        make_charger(s, charger_id="AC")
        before = NOW - timedelta(days=2)
        make_session(s, "a1", "AC", started_at=before, ended_at=before + timedelta(hours=1))
        make_session(s, "a1", "AC", session_id="live", started_at=NOW - timedelta(hours=1))
    with db.session() as s:
        usage = account_usage(s, "a1", period_bounds("current", NOW, BERLIN))
        live = live_costs(s, usage.in_progress, NOW)
    assert usage.cost is None and usage.in_progress == ("live",) and live == {}
    assert usage.cost_with(live) is None
    text = str(usage_total(usage.days, period_bounds("current", NOW, BERLIN), None, "EUR"))
    assert "€" not in text and "usage-total-cost" not in text


def test_revenue_per_day_month_charger_and_connector_type_are_the_stored_costs(db: Database):
    with db.session() as s:
        priced_site(s, EUR)
        _history(s, EUR)
        make_charger(s, charger_id="NACS-1", connector_type=ConnectorType.nacs)
        finished(s, "a2-nacs", "a2", "NACS-1", local(EUR, 2026, 11, 2, 9, 0),
                 timedelta(minutes=50), "33.3")  # fmt: skip
    with db.session() as s:
        period = AnalyticsRange("custom", date(2026, 9, 30), date(2026, 11, 24)).bounds(NOW, BERLIN)
        expected = stored_in(s, period)
        days = energy_per_day(s, period)
        months = energy_per_month(days)
        kinds = energy_by_connector(s, period)
        chargers = revenue_per_charger(s, period, limit=None)
        per_charger: Counter[str] = Counter()
        for charger, cost, disputed in s.execute(
            select(
                ChargingSession.charger_id,
                ChargingSession.cost_total,
                ChargingSession.energy_disputed_at,
            ).where(ChargingSession.cost_total.is_not(None))
        ):
            per_charger[charger] += Decimal(str(cost)) if disputed is None else 0
        tables = {
            chart: chart_table(s, chart, period, NOW, "EUR")
            for chart in (
                "revenue-daily",
                "revenue-monthly",
                "revenue-connectors",
                "revenue-chargers",
            )
        }
        totals = session_totals(s, SessionFilter(date(2026, 9, 30), date(2026, 11, 24)), BERLIN)
        scanned = session_totals(
            s, SessionFilter(date(2026, 9, 30), date(2026, 11, 24), charger="DC"), BERLIN
        )
        dc_types = {r.id: r.connector_type for r in s.scalars(select(Charger))}
    assert expected > 0
    assert total_revenue(days) == total_revenue(months) == expected
    by_day = {d.day: d.revenue for d in days if d.revenue}
    assert set(by_day) == {
        date(2026, 9, 30), date(2026, 10, 25), date(2026, 10, 31), date(2026, 11, 1),
        date(2026, 11, 2), date(2026, 11, 20),
    }  # fmt: skip
    assert [(m.month.month, m.days) for m in months] == [(9, 1), (10, 31), (11, 24)]
    assert sum(k.revenue for k in kinds) == expected
    assert {k.connector_type: k.revenue for k in kinds if k.revenue} == {
        ConnectorType(dc_types[c]).value: v for c, v in per_charger.items() if v
    }
    assert abs(sum(k.revenue_share for k in kinds) - 1) < 1e-9
    assert {r.charger_id: r.revenue for r in chargers} == dict(per_charger)
    assert chargers[0].revenue == max(per_charger.values())
    # The CSV tables: the same sums, written with the currency's two digits.
    daily = tables["revenue-daily"]
    assert daily.header == ("day", "revenue", "currency")
    assert sum(r[1] for r in daily.rows) == expected
    assert all(r[1].as_tuple().exponent == -2 and r[2] == "EUR" for r in daily.rows)
    assert [r[2] for r in tables["revenue-monthly"].rows] == [m.revenue for m in months]
    assert sum(r[1] for r in tables["revenue-connectors"].rows) == expected
    assert [r[4] for r in tables["revenue-chargers"].rows] == [r.revenue for r in chargers]
    # The explorer's totals: from the rollup for days only, from the sessions for a charger.
    assert totals.cost == expected
    assert scanned.cost == per_charger["DC"]
    text = sessions_totals_text(totals, "EUR")
    assert f"kWh · €{expected:,.2f} (1 with disputed energy not counted)" in text


def test_revenue_tables_in_yen_have_no_decimals(db: Database):
    with db.session() as s:
        priced_site(s, JPY)
        _history(s, JPY)
    with db.session() as s:
        period = AnalyticsRange("previous").bounds(NOW, TOKYO)
        table = chart_table(s, "revenue-daily", period, NOW, "JPY")
        expected = stored_in(s, period)
    assert expected > 0 and sum(r[1] for r in table.rows) == expected
    assert all(r[1].as_tuple().exponent == 0 for r in table.rows)
