"""components.receipts and components.documents: what a receipt and a statement say (every cost
part with its price, VAT with its rate, the tariff version, times either side of a DST change,
yen without decimals), and the HTML text a PDF is rendered from (escaped, the page's tree)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
import pytest
from dash import dcc, html

from auth.accounts import AccountInfo
from components.documents import document_html, html_text
from components.format import format_moment, format_money, format_price
from components.receipts import receipt_document, receipt_view, statement_document
from components.shell import account_menu
from data.charging.dashboard import OperatorSettings
from data.core.models import Role
from data.pricing.cost import SessionCost, TariffPrices
from data.pricing.receipts import AccountHolder, Receipt
from data.pricing.statements import (
    Statement,
    StatementLine,
    currency_totals,
    month_period,
)

BERLIN = ZoneInfo("Europe/Berlin")
OPERATOR = OperatorSettings("Polaris <Test> Energy", "help@polaris.test", BERLIN, "EUR")
HOLDER = AccountHolder("a-dana", "Commute", "Dana Driver")
VERSION_FROM = datetime(2026, 1, 1, tzinfo=UTC)
TARIFF = TariffPrices(
    tariff_id="STD",
    valid_from=VERSION_FROM,
    name="Standard",
    currency="EUR",
    energy_price_per_kwh=Decimal("0.3945"),
    dc_energy_price_per_kwh=Decimal("0.59"),
    session_fee=Decimal("0.50"),
    time_price_per_hour=Decimal("1.20"),
    time_free_minutes=60,
    vat_percent=Decimal("19.00"),
)
DST_START = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 01:30 CEST; 3 h later 03:30 CET


def _cost(energy: str, time: str, fee: str, vat: str, currency: str = "EUR") -> SessionCost:
    parts = [Decimal(v) for v in (energy, time, fee)]
    return SessionCost("STD", VERSION_FROM, currency, *parts, sum(parts, Decimal(0)), Decimal(vat))


RECEIPT = Receipt(
    session_id="s-dst",
    holder=HOLDER,
    operator=OPERATOR,
    charger_id="AC",
    charger_name="Market Square",
    connector_type="Type 2",
    max_power_kw=Decimal("22.00"),
    started_at=DST_START,
    ended_at=DST_START + timedelta(hours=3),
    energy_kwh=Decimal("20.000"),
    energy_under_review=False,
    cost=_cost("7.89", "2.40", "0.50", "1.72"),
    tariff=TARIFF,
)


def text_of(tree: object) -> str:
    """The document's words, tags gone, whitespace collapsed (what a PDF reader extracts)."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_text(tree))))


def test_a_receipt_names_every_part_of_the_cost():
    words = text_of(receipt_document(RECEIPT))
    for expected in (
        "Polaris <Test> Energy",  # escaped in the HTML, read back here
        "Support: help@polaris.test",
        "Dana Driver · a-dana (Commute)",
        "Market Square (AC)",
        "Type 2 · 22 kW",
        "Sun 25 Oct 2026, 01:30 CEST",
        "Sun 25 Oct 2026, 03:30 CET",
        "3 h 0 min",
        "20.000 kWh × €0.3945/kWh €7.89",
        "3 h 0 min; the first 1 h free, then €1.20/h €2.40",
        "Session fee per session €0.50",
        "Total in EUR, VAT included €10.79",
        "Included VAT (19%) €1.72",
        "Standard (STD), the version in force from Thu 1 Jan 2026, 01:00 CET",
        "Times in Europe/Berlin",
    ):
        assert expected in words, expected


def test_a_receipt_without_cost_says_why():
    unpriced = text_of(receipt_document(replace(RECEIPT, cost=None, tariff=None)))
    assert "No cost: no tariff priced this session." in unpriced and "Total" not in unpriced
    review = replace(RECEIPT, cost=None, tariff=None, energy_under_review=True)
    assert "under review" in text_of(receipt_document(review))


def test_yen_have_no_decimals_and_prices_keep_theirs():
    assert format_money(Decimal("556"), "JPY") == "¥556"
    assert format_money(Decimal("4.8"), "EUR") == "€4.80"
    assert format_price(Decimal("0.3945"), "EUR") == "€0.3945"
    assert format_price(Decimal("0.39"), "EUR") == "€0.39"
    assert format_price(Decimal("45"), "JPY") == "¥45"
    tariff = replace(TARIFF, currency="JPY", energy_price_per_kwh=Decimal("45"),
                     time_price_per_hour=Decimal("300"), vat_percent=Decimal("10"))  # fmt: skip
    yen = replace(RECEIPT, tariff=tariff, cost=_cost("900", "600", "100", "145", "JPY"))
    words = text_of(receipt_document(yen))
    assert "× ¥45/kWh ¥900" in words and "then ¥300/h ¥600" in words
    assert "Total in JPY, VAT included ¥1,600" in words and "Included VAT (10%) ¥145" in words


def test_the_zone_abbreviation_tells_the_two_sides_of_a_dst_change_apart():
    assert format_moment(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), BERLIN).endswith("02:30 CEST")
    assert format_moment(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), BERLIN).endswith("02:30 CET")


def _statement(lines: list[StatementLine]) -> Statement:
    return Statement(
        holder=HOLDER,
        operator=OPERATOR,
        period=month_period(date(2026, 11, 1), BERLIN),
        lines=lines,
        totals=currency_totals(lines),
        energy_kwh=sum((line.energy_kwh for line in lines), Decimal("0.000")),
        unpriced=sum(1 for line in lines if line.cost is None),
        under_review=1,
    )


def _line(sid: str, start: datetime, kwh: str, cost: SessionCost | None) -> StatementLine:
    return StatementLine(sid, start, start + timedelta(hours=1), "AC", "Market Square",
                         Decimal(kwh), cost)  # fmt: skip


NOV = datetime(2026, 11, 1, tzinfo=UTC)
LINES = [
    _line("s-1", NOV - timedelta(minutes=30), "10.000", _cost("3.95", "0", "0.5", "0.71")),
    _line("s-2", NOV + timedelta(days=1, hours=8), "12.345", _cost("4.87", "0", "0.5", "0.86")),
    _line("s-3", NOV + timedelta(days=2, hours=8), "1.000", None),
]


def test_a_statement_lists_each_session_and_the_totals():
    words = text_of(statement_document(_statement(LINES)))
    assert "Statement November 2026" in words
    assert "1 Nov 2026 to 30 Nov 2026 (Europe/Berlin)" in words
    row = "Sun 1 Nov, 00:30 s-1 Market Square 1 h 0 min 10.000 €3.95 €0.00 €0.50 €4.45 €0.71"
    assert row in words
    assert "Total 23.345 €8.82 €0.00 €1.00 €9.82 €1.57" in words
    assert "Total €9.82 Included VAT €1.57" in words  # the summary
    assert "1 session had no tariff" in words and "1 session whose energy is under review" in words
    # Each session links to its receipt.
    assert 'href="/receipts/s-2"' in html_text(statement_document(_statement(LINES)))


def test_a_statement_by_day_sums_each_day_and_currency():
    dollars = _cost("1", "0", "0", "0.16", "USD")
    usd = _line("s-4", NOV + timedelta(days=1, hours=9), "2.000", dollars)
    words = text_of(statement_document(_statement([*LINES, usd]), by_day=True))
    assert "Sessions by day" in words and "4 sessions: summed per day here" in words
    assert "Mon 2 Nov 1 12.345 €4.87" in words and "Mon 2 Nov 1 2.000 $1.00" in words
    assert "Tue 3 Nov 1 1.000 — — — — —" in words
    assert "Total EUR 4 25.345 €8.82" in words and "Total USD $1.00" in words


def test_an_empty_month_says_so():
    words = text_of(statement_document(_statement([])))
    assert "No charging sessions in November 2026." in words and "Sessions 0" in words


def test_html_text_escapes_and_maps_the_props():
    tree = html.Div(
        [html.P("<b>&"), html.Br(), html.Td("x", colSpan=3), html.Th("y", scope="col")],
        className="a b",
        id="d",
        style={"maxWidth": "3rem"},
        hidden=True,
        n_clicks=0,
        title='say "hi"',
        **{"aria-label": "z", "data-x": "1"},
    )
    text = html_text(tree)
    assert text.startswith('<div id="d"')
    for part in (
        'class="a b"',
        'style="max-width: 3rem"',
        " hidden",
        'title="say &quot;hi&quot;"',
        'aria-label="z"',
        'data-x="1"',
        '<p>&lt;b&gt;&amp;</p><br><td colspan="3">x</td>',
        '<th scope="col">y</th>',
    ):
        assert part in text, part
    assert "n_clicks" not in text and "n-clicks" not in text
    for widget in (dbc.Button("no"), dcc.Store(id="s")):
        with pytest.raises(TypeError):
            html_text(html.Div(widget))


def test_the_pdf_document_is_the_pages_document():
    page = receipt_view(RECEIPT, date(2026, 10, 1))
    document = receipt_document(RECEIPT)
    shown = html_text(page)
    assert html_text(document) in shown  # the page shows exactly the PDF's document...
    assert "Download PDF" in shown and 'href="/receipts/s-dst.pdf"' in shown
    assert 'href="/statements/2026-10"' in shown
    full = document_html("Receipt <s-dst>", document)
    assert full.startswith("<!DOCTYPE html>") and '<html lang="en">' in full
    assert "<title>Receipt &lt;s-dst&gt;</title>" in full and "Download PDF" not in full
    assert "<script" not in full


def test_customer_accounts_have_statements_in_their_menu():
    def menu(role: Role) -> str:
        account = AccountInfo("a-1", role, None)
        return str(account_menu("Dana", account, "token"))

    assert "/statements" in menu(Role.customer)
    assert "/statements" not in menu(Role.admin)
