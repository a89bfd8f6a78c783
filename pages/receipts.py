"""``/receipts/<session_id>``: the receipt of one finalized session (its PDF: ``web.receipts``).

The layout is a static skeleton holding the session id from the address; ``render_receipt``
looks it up for the active account (an admin account may open any session's receipt), so a
session of another account reads as "no receipt", exactly like one that does not exist. The
Print button asks the browser to print (``assets/documents.js``; ``assets/print.css`` leaves
the navbar and the buttons out).
"""

from __future__ import annotations

from urllib.parse import unquote

import dash
from dash import ClientsideFunction, Input, Output, callback, clientside_callback
from dash.development.base_component import Component

from auth.accounts import current_account
from components.receipts import (
    PRINT_BUTTON_ID,
    RECEIPT_BODY_ID,
    RECEIPT_SESSION_STORE,
    document_skeleton,
    no_receipt_notice,
    receipt_view,
)
from data.core.models import ID_LENGTH
from data.pricing.receipts import receipt
from data.pricing.statements import month_of
from web.db import read_scope

dash.register_page(
    __name__,
    path_template="/receipts/<session_id>",
    title="Receipt · Polaris Express",
    name="Receipt",
)


def layout(session_id: object = "", **_: object) -> Component:
    # The path segment arrives percent-encoded (ids may hold any character).
    sid = unquote(session_id) if isinstance(session_id, str) else ""
    return document_skeleton(RECEIPT_SESSION_STORE, sid, RECEIPT_BODY_ID, "Loading the receipt")


@callback(Output(RECEIPT_BODY_ID, "children"), Input(RECEIPT_SESSION_STORE, "data"))
def render_receipt(session_id: object) -> Component:
    account = current_account()
    if account is None:
        raise PermissionError("no active account")
    if not isinstance(session_id, str) or not 0 < len(session_id) <= ID_LENGTH:
        return no_receipt_notice()
    with read_scope() as s:
        found = receipt(s, session_id, account.id, any_account=account.is_admin)
    if found is None:
        return no_receipt_notice()
    # Statements are a customer account's: an admin opening a driver's receipt gets no link.
    month = None if account.is_admin else month_of(found.started_at, found.operator.tz)
    return receipt_view(found, month)


# Print, on the receipt and the statement pages alike (both have the button).
clientside_callback(
    ClientsideFunction(namespace="polarisDocuments", function_name="print"),
    Output(PRINT_BUTTON_ID, "title"),
    Input(PRINT_BUTTON_ID, "n_clicks"),
    prevent_initial_call=True,
)
