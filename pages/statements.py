"""``/statements/<YYYY-MM>``: the active customer account's sessions of one month in the
operator's time zone, with their stored costs and totals (CSV and PDF: ``web.receipts``).

The layout is a static skeleton holding the month from the address; ``render_statement``
reads it for the active account only. A month that is not one ("2026-13") gets a notice saying
what is wrong; an admin account, which does not charge, gets a notice to switch accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dash
from dash import Input, Output, callback
from dash.development.base_component import Component

from auth.accounts import current_account
from components.receipts import (
    STATEMENT_BODY_ID,
    STATEMENT_MONTH_STORE,
    bad_month_notice,
    document_skeleton,
    no_receipt_notice,
    statement_view,
    statements_for_customers_notice,
)
from data.pricing.statements import MonthError, month_of, month_statement, parse_month, shift_month
from web.db import read_scope

dash.register_page(
    __name__,
    path_template="/statements/<month>",
    title="Statement · Polaris Express",
    name="Statement",
)


def layout(month: object = "", **_: object) -> Component:
    value = month if isinstance(month, str) else ""
    return document_skeleton(
        STATEMENT_MONTH_STORE, value, STATEMENT_BODY_ID, "Loading the statement"
    )


@callback(Output(STATEMENT_BODY_ID, "children"), Input(STATEMENT_MONTH_STORE, "data"))
def render_statement(month: object) -> Component:
    account = current_account()
    if account is None:
        raise PermissionError("no active account")
    if account.is_admin:
        return statements_for_customers_notice()
    try:
        first_day = parse_month(month)
    except MonthError as error:
        return bad_month_notice(str(error))
    with read_scope() as s:
        statement = month_statement(s, account.id, first_day)
    if statement is None:
        return no_receipt_notice()
    latest = month_of(datetime.now(UTC), statement.operator.tz)
    following = shift_month(first_day, 1)
    return statement_view(
        statement,
        shift_month(first_day, -1),
        following if following is not None and following <= latest else None,
    )
