"""Receipts and monthly statements: the documents (``receipt_document``,
``statement_document``), the pages around them (actions: Download PDF, Print, the statement's
CSV) and their notices.

The documents are plain ``dash.html`` trees styled by ``assets/receipts.css`` alone (no
Bootstrap class), so a page and its PDF are the same HTML: the page shows the tree, the PDF is
rendered from ``components.documents.html_text`` of it with the same stylesheet and
``assets/print.css``. Every amount is a stored cost, formatted by ``format_money``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from dash import dcc, html
from dash.development.base_component import Component

from components.format import (
    format_date,
    format_duration,
    format_moment,
    format_money,
    format_price,
)
from components.landmarks import aria, loading_placeholder, scroll_box
from components.notices import notice
from data.charging.dashboard import OperatorSettings
from data.pricing.cost import SessionCost, TariffPrices
from data.pricing.receipts import AccountHolder, Receipt
from data.pricing.statements import (
    CurrencyTotals,
    Statement,
    StatementDay,
    StatementLine,
    month_key,
    statement_days,
)

RECEIPT_SESSION_STORE = "receipt-session"
RECEIPT_BODY_ID = "receipt-body"
STATEMENT_MONTH_STORE = "statement-month"
STATEMENT_BODY_ID = "statement-body"
PRINT_BUTTON_ID = "document-print"

NO_COST_TEXT = "No cost: no tariff priced this session."
UNDER_REVIEW_TEXT = (
    "The energy of this session is under review, so it has no cost yet. The receipt shows "
    "it once an operator has confirmed the figure."
)


def receipt_href(session_id: str) -> str:
    return f"/receipts/{quote(session_id, safe='')}"


def statement_href(first_day: date, suffix: str = "") -> str:
    return f"/statements/{month_key(first_day)}{suffix}"


# --- pieces shared by both documents --------------------------------------------------------------


def billed_kwh(value: Decimal) -> str:
    """``12.345 kWh``: the energy as billed, to the Wh (3 decimals, as stored)."""
    return f"{value:,.3f} kWh"


def _percent(rate: Decimal | None) -> str:
    value = Decimal(rate or 0).normalize()
    return f"{value:f}%"


def _issuer(operator: OperatorSettings) -> html.Div:
    lines: list[Component] = [html.P(operator.name, className="doc-operator")]
    if operator.support_email:
        lines.append(
            html.P(
                [
                    "Support: ",
                    html.A(operator.support_email, href=f"mailto:{operator.support_email}"),
                ],
                className="doc-support",
            )
        )
    return html.Div(lines, className="doc-issuer")


def _head(operator: OperatorSettings, title: str, subtitle: str) -> html.Header:
    return html.Header(
        [
            _issuer(operator),
            html.Div(
                [html.H1(title, className="doc-title"), html.P(subtitle, className="doc-subtitle")],
                className="doc-heading",
            ),
        ],
        className="doc-head",
    )


def _holder(holder: AccountHolder) -> str:
    named = f"{holder.display_name} · {holder.account_id}"
    return f"{named} ({holder.label})" if holder.label else named


def _facts(pairs: Sequence[tuple[str, str | Component]], class_name: str = "") -> html.Dl:
    items: list[Component] = []
    for term, value in pairs:
        items.append(html.Div([html.Dt(term), html.Dd(value)], className="doc-fact"))
    return html.Dl(items, className=f"doc-facts {class_name}".strip())


def _section(section_id: str, title: str, children: Sequence[Component]) -> html.Section:
    heading = f"{section_id}-heading"
    return html.Section(
        [html.H2(title, id=heading, className="doc-section-title"), *children],
        className="doc-section",
        **aria(labelledby=heading),
    )


# --- the receipt ------------------------------------------------------------------------------


def _time_detail(receipt: Receipt, tariff: TariffPrices) -> str:
    spent = format_duration(receipt.duration)
    hourly = Decimal(tariff.time_price_per_hour or 0)
    if not hourly:
        return f"{spent}, no charge for time"
    price = f"{format_price(hourly, tariff.currency)}/h"
    free = tariff.time_free_minutes or 0
    if free:
        hours, minutes = divmod(free, 60)
        free_text = format_duration(timedelta(minutes=free)) if minutes else f"{hours} h"
        return f"{spent}; the first {free_text} free, then {price}"
    return f"{spent} at {price}"


def _cost_row(item: str, detail: str, amount: str, class_name: str = "") -> html.Tr:
    return html.Tr(
        [html.Th(item, scope="row"), html.Td(detail), html.Td(amount, className="doc-amount")],
        className=class_name or None,
    )


def _cost_table(receipt: Receipt, cost: SessionCost) -> html.Table:
    tariff = receipt.tariff
    currency = cost.currency

    def money(amount: Decimal) -> str:
        return format_money(amount, currency)

    if tariff is not None and receipt.energy_price is not None:
        energy = (
            f"{billed_kwh(receipt.energy_kwh)} × {format_price(receipt.energy_price, currency)}/kWh"
        )
        time = _time_detail(receipt, tariff)
        vat = f"Included VAT ({_percent(tariff.vat_percent)})"
    else:  # the version is gone: the stored amounts still stand
        energy, time, vat = billed_kwh(receipt.energy_kwh), format_duration(receipt.duration), "VAT"
    return html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Item", scope="col"),
                        html.Th("Detail", scope="col"),
                        html.Th("Amount", scope="col", className="doc-amount"),
                    ]
                )
            ),
            html.Tbody(
                [
                    _cost_row("Energy", energy, money(cost.energy)),
                    _cost_row("Time", time, money(cost.time)),
                    _cost_row("Session fee", "per session", money(cost.fee)),
                ]
            ),
            html.Tfoot(
                [
                    _cost_row(
                        "Total", f"in {currency}, VAT included", money(cost.total), "doc-total"
                    ),  # fmt: skip
                    _cost_row(vat, "", money(cost.vat), "doc-vat"),
                ]
            ),
        ],
        className="doc-table doc-costs",
        **aria(labelledby="receipt-cost-heading"),
    )


def _tariff_line(tariff: TariffPrices, tz: ZoneInfo) -> html.P:
    return html.P(
        [
            "Tariff: ",
            html.Strong(tariff.name),
            f" ({tariff.tariff_id}), the version in force from "
            f"{format_moment(tariff.valid_from, tz)}. ",
            f"Prices include VAT; amounts in {tariff.currency}. Times in {tz.key}.",
        ],
        className="doc-note",
    )


def receipt_document(receipt: Receipt) -> html.Article:
    """The receipt: operator, session, charger, times, energy, each cost part, VAT, total and
    the tariff version that priced it."""
    operator = receipt.operator
    tz = operator.tz
    charger = f"{receipt.charger_name} ({receipt.charger_id})"
    facts = _facts(
        [
            ("Account", _holder(receipt.holder)),
            ("Charger", charger),
            ("Connector", f"{receipt.connector_type} · {_number(receipt.max_power_kw)} kW"),
            ("Started", format_moment(receipt.started_at, tz)),
            ("Ended", format_moment(receipt.ended_at, tz)),
            ("Duration", format_duration(receipt.duration)),
            ("Energy", billed_kwh(receipt.energy_kwh)),
        ]
    )
    cost = receipt.cost
    if cost is not None:
        costs: list[Component] = [_cost_table(receipt, cost)]
    else:
        text = UNDER_REVIEW_TEXT if receipt.energy_under_review else NO_COST_TEXT
        costs = [html.P(text, className="doc-no-cost")]
    foot: list[Component] = []
    if receipt.tariff is not None:
        foot.append(_tariff_line(receipt.tariff, tz))
    else:
        foot.append(html.P(f"Times in {tz.key}.", className="doc-note"))
    return html.Article(
        [
            _head(operator, "Receipt", f"Charging session {receipt.session_id}"),
            _section("receipt-session", "Charging session", [facts]),
            _section("receipt-cost", "Cost", costs),
            html.Footer(foot, className="doc-foot"),
        ],
        className="doc receipt-doc",
    )


def _number(value: Decimal) -> str:
    """``150``, ``7.4``: without trailing zeros."""
    return f"{value.normalize():f}"


# --- the monthly statement --------------------------------------------------------------------

LINE_COLUMNS = ("Session", "Charger", "Duration", "kWh")
DAY_COLUMNS = ("Day", "Sessions", "kWh")
MONEY_COLUMNS = ("Energy", "Time", "Fee", "Total", "VAT")


def _money_cells(amounts: SessionCost | CurrencyTotals | None) -> list[html.Td]:
    """Energy, time, fee, total and VAT; a dash for what no tariff priced."""
    if amounts is None:
        return [html.Td("—", className="doc-amount", title=NO_COST_TEXT) for _ in MONEY_COLUMNS]
    parts = (amounts.energy, amounts.time, amounts.fee, amounts.total, amounts.vat)
    return [html.Td(format_money(p, amounts.currency), className="doc-amount") for p in parts]


def _line_row(line: StatementLine, tz: ZoneInfo) -> html.Tr:
    local = line.started_at.astimezone(tz)
    when = f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"
    return html.Tr(
        [
            html.Th(
                [
                    html.A(when, href=receipt_href(line.session_id)),
                    html.Span(line.session_id, className="doc-session-id"),
                ],
                scope="row",
            ),
            html.Td(line.charger_name),
            html.Td(format_duration(line.ended_at - line.started_at), className="doc-nowrap"),
            html.Td(f"{line.energy_kwh:,.3f}", className="doc-amount"),
            *_money_cells(line.cost),
        ]
    )


def _day_row(day: StatementDay) -> html.Tr:
    return html.Tr(
        [
            html.Th(f"{day.day:%a} {day.day.day} {day.day:%b}", scope="row"),
            html.Td(str(day.sessions), className="doc-amount"),
            html.Td(f"{day.energy_kwh:,.3f}", className="doc-amount"),
            *_money_cells(day.totals),
        ]
    )


def _total_rows(statement: Statement, by_day: bool) -> list[html.Tr]:
    """The totals: one row per currency, the month's kWh (and, by day, sessions) in the first."""
    totals: list[CurrencyTotals | None] = list(statement.totals) or [None]
    several = len(totals) > 1
    rows = []
    for i, amounts in enumerate(totals):
        label = f"Total {amounts.currency}" if amounts and several else "Total"
        lead: list[Component] = [html.Th(label, scope="row", colSpan=3)]
        if by_day:
            count = "" if i else str(len(statement.lines))
            lead = [html.Th(label, scope="row"), html.Td(count, className="doc-amount")]
        kwh = html.Td("" if i else f"{statement.energy_kwh:,.3f}", className="doc-amount")
        money = _money_cells(amounts) if amounts else [html.Td("") for _ in MONEY_COLUMNS]
        rows.append(html.Tr([*lead, kwh, *money], className="doc-total"))
    return rows


def _head_row(columns: Sequence[str], amounts_from: int) -> html.Thead:
    return html.Thead(
        html.Tr(
            [
                html.Th(name, scope="col", className="doc-amount" if i >= amounts_from else None)
                for i, name in enumerate(columns)
            ]
        )
    )


def _lines_table(statement: Statement, by_day: bool) -> Component:
    if by_day:
        head = _head_row((*DAY_COLUMNS, *MONEY_COLUMNS), 1)
        body = [_day_row(day) for day in statement_days(statement)]
        foot = _total_rows(statement, by_day=True)
    else:
        head = _head_row((*LINE_COLUMNS, *MONEY_COLUMNS), 3)
        body = [_line_row(line, statement.period.tz) for line in statement.lines]
        foot = _total_rows(statement, by_day=False)
    table = html.Table(
        [head, html.Tbody(body), html.Tfoot(foot)],
        className=f"doc-table {'doc-days' if by_day else 'doc-lines'}",
        **aria(labelledby="statement-sessions-heading"),
    )
    return scroll_box(table, f"Sessions of {statement.period.label}", "doc-scroll")


def _summary(statement: Statement) -> html.Dl:
    pairs: list[tuple[str, str | Component]] = [
        ("Account", _holder(statement.holder)),
        ("Period", _period_text(statement)),
        ("Sessions", str(len(statement.lines))),
        ("Energy", billed_kwh(statement.energy_kwh)),
    ]
    for totals in statement.totals:
        suffix = f" ({totals.currency})" if len(statement.totals) > 1 else ""
        pairs.append((f"Total{suffix}", format_money(totals.total, totals.currency)))
        pairs.append((f"Included VAT{suffix}", format_money(totals.vat, totals.currency)))
    return _facts(pairs, "doc-summary")


def _period_text(statement: Statement) -> str:
    period = statement.period
    last = period.days[-1]
    return f"{format_date(period.first_day)} to {format_date(last)} ({period.tz.key})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _statement_notes(statement: Statement, by_day: bool) -> list[Component]:
    notes = []
    if by_day:
        notes.append(
            f"{_plural(len(statement.lines), 'session')}: summed per day here. The statement "
            "page and its CSV list each session."
        )
    if statement.unpriced:
        notes.append(f"{_plural(statement.unpriced, 'session')} had no tariff: no cost (—).")
    if statement.under_review:
        notes.append(
            f"Not listed: {_plural(statement.under_review, 'session')} whose energy is under "
            "review. Each appears here once an operator has confirmed its figure."
        )
    notes.append(
        "Sessions count in the month in which they started; a session in progress appears "
        f"once it has ended. Prices include VAT. Times in {statement.period.tz.key}."
    )
    return [html.P(text, className="doc-note") for text in notes]


def statement_document(statement: Statement, *, by_day: bool = False) -> html.Article:
    """The month's statement: every session (or, ``by_day``, each day's sum: a PDF of a long
    month) with its cost parts, the totals per currency, total kWh and VAT."""
    label = statement.period.label
    if statement.lines:
        lines: list[Component] = [_lines_table(statement, by_day)]
    else:
        lines = [html.P(f"No charging sessions in {label}.", className="doc-empty")]
    title = "Sessions by day" if by_day and statement.lines else "Sessions"
    return html.Article(
        [
            _head(statement.operator, "Statement", label),
            _section("statement-summary", "Summary", [_summary(statement)]),
            _section("statement-sessions", title, lines),
            html.Footer(_statement_notes(statement, by_day), className="doc-foot"),
        ],
        className="doc statement-doc",
    )


# --- the pages around the documents ---------------------------------------------------------------


def _action_link(text: str, href: str, *, primary: bool = False) -> html.A:
    kind = "btn-primary" if primary else "btn-outline-secondary"
    return html.A(text, href=href, className=f"btn btn-sm {kind}")


def _print_button() -> html.Button:
    return html.Button(
        "Print", id=PRINT_BUTTON_ID, type="button", className="btn btn-sm btn-outline-secondary"
    )


def _actions(label: str, children: Sequence[Component]) -> html.Nav:
    return html.Nav(
        list(children),
        className="document-actions d-flex flex-wrap gap-2 mb-3 d-print-none",
        **aria(label=label),
    )


def receipt_view(receipt: Receipt, month: date | None) -> html.Div:
    """The receipt page: Download PDF, Print and the statement of ``month`` (None: none, for an
    admin account, which has no statements), then the receipt."""
    href = receipt_href(receipt.session_id)
    actions: list[Component] = [
        _action_link("Download PDF", f"{href}.pdf", primary=True),
        _print_button(),
    ]
    if month is not None:
        actions.append(_action_link(f"Statement for {month:%B %Y}", statement_href(month)))
    return html.Div(
        [_actions("Receipt", actions), receipt_document(receipt)], className="document-page"
    )


def statement_view(statement: Statement, previous: date | None, following: date | None) -> html.Div:
    """The statement page: Download PDF and CSV, Print, the months around it, then the
    statement."""
    first = statement.period.first_day
    actions: list[Component] = [
        _action_link("Download PDF", statement_href(first, ".pdf"), primary=True),
        _action_link("Download CSV", statement_href(first, ".csv")),
        _print_button(),
    ]
    if previous is not None:
        actions.append(_action_link(f"‹ {previous:%B %Y}", statement_href(previous)))
    if following is not None:
        actions.append(_action_link(f"{following:%B %Y} ›", statement_href(following)))
    return html.Div(
        [_actions("Statement", actions), statement_document(statement)],
        className="document-page statement-page",
    )


def document_skeleton(store_id: str, value: str, body_id: str, label: str) -> html.Div:
    """A page's static layout: what to show (a store the render callback reads), and where."""
    return html.Div(
        [
            dcc.Store(id=store_id, data=value),
            html.Div(loading_placeholder(label, 6), id=body_id),
        ]
    )


def no_receipt_notice() -> Component:
    return notice(
        "No receipt here",
        "There is no receipt at this address for your active account. A session's receipt is "
        "ready once it has ended.",
        "Back to your home page",
        "/",
    )


def bad_month_notice(message: str) -> Component:
    # /statements is a Flask redirect to this month's address, not a page of the router.
    return notice("No such month", message, "This month's statement", "/statements", external=True)


def statements_for_customers_notice() -> Component:
    return notice(
        "Statements are for customer accounts",
        "Your active account is an admin account, which does not charge. Switch to a customer "
        "account to see its statements.",
        "Switch account",
        "/switch",
    )
