"""A driver's booking of a charger: the card's Book button opens one dialog (date, start time in
the operator's time zone, length within the operator's longest booking); Next reservation says
what was booked, cancels it (confirmed) until it starts, and says why a booking ended early.

No database here: ``pages/dashboard.py`` reads the rules and rows and passes them in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.landmarks import aria as _aria
from data.charging.booking import BookingRulesValues, length_text

# A card's Book button (pattern-matching id; the charger id is checked again on the server).
BOOK_TYPE = "book-charger"
BOOK_LABEL = "Book"
BOOK_MODAL_ID = "book-dialog"
BOOK_TITLE_ID = "book-dialog-title"
BOOK_CHARGER_STORE = "book-dialog-charger"  # a key only: the server looks the charger up again
BOOK_DATE_ID = "book-date"
BOOK_TIME_ID = "book-time"
BOOK_LENGTH_ID = "book-length"
BOOK_RULES_ID = "book-rules"
BOOK_SUBMIT_ID = "book-submit"
BOOK_CLOSE_ID = "book-close"
BOOK_OUTCOME_ID = "book-outcome"
# Next reservation: the outcome of a booking or a cancellation, announced.
BOOKING_NOTICE_ID = "booking-notice"
# What the browser keeps of Next reservation: whether to look again on the refresh tick (an
# open booking: the charger may refuse it, or it may be released) and a digest of what it shows.
NEXT_WATCH_ID = "next-reservation-watch"
# Cancel booking in Next reservation (pattern-matching id carrying the reservation id, which the
# server checks is the account's own and not started).
CANCEL_TYPE = "cancel-booking"
CANCEL_LABEL = "Cancel booking"
CANCEL_CONFIRM_TEXT = "Cancel this booking? The charger is freed for others."
STEP_MINUTES = 15


def book_id(charger_id: str) -> dict[str, str]:
    return {"type": BOOK_TYPE, "charger": charger_id}


def cancel_id(reservation_id: str) -> dict[str, str]:
    return {"type": CANCEL_TYPE, "reservation": reservation_id}


def start_time_options() -> list[dict[str, str]]:
    """Every quarter hour of a day, ``00:00`` to ``23:45``."""
    times = [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 24 * 60, STEP_MINUTES)]
    return [{"label": t, "value": t} for t in times]


def length_options(rules: BookingRulesValues) -> list[dict[str, str]]:
    """Quarter hours up to an hour, then half hours, up to the longest booking (itself always
    a choice)."""
    longest = rules.longest_minutes
    steps = [m for m in (15, 30, 45) if m < longest]
    steps += list(range(60, longest, 30))
    steps.append(longest)
    return [{"label": length_text(m), "value": str(m)} for m in dict.fromkeys(steps)]


def default_length(rules: BookingRulesValues) -> str:
    return str(min(60, rules.longest_minutes))


def first_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The next quarter hour from ``now``, in ``tz``."""
    local = now.astimezone(tz).replace(second=0, microsecond=0)
    return local + timedelta(minutes=STEP_MINUTES - local.minute % STEP_MINUTES)


def dialog_values(
    now: datetime, tz: ZoneInfo, rules: BookingRulesValues
) -> tuple[str, str, str, str, list[dict[str, str]], str, str]:
    """The dialog's fresh form: the date and its bounds (today to the last day bookable), the
    first start, the lengths and the default one, and the rules in words."""
    start = first_start(now, tz)
    today: date = now.astimezone(tz).date()
    last = (now + timedelta(days=rules.ahead_days)).astimezone(tz).date()
    rules_text = (
        f"Times are {tz.key.replace('_', ' ')} time. Book up to {rules.ahead_days} days ahead, "
        f"for at most {length_text(rules.longest_minutes)}; {rules.open_per_account} open "
        f"booking{'s' if rules.open_per_account != 1 else ''} at a time. Start charging within "
        f"{rules.grace_minutes} min of the start or the booking is released."
    )
    return (
        start.date().isoformat(),
        today.isoformat(),
        last.isoformat(),
        f"{start:%H:%M}",
        length_options(rules),
        default_length(rules),
        rules_text,
    )


def book_title(friendly_name: str | None = None) -> str:
    return f"Book {friendly_name}" if friendly_name else "Book a charger"


def booking_refused(message: str) -> dbc.Alert:
    return dbc.Alert(message, color="danger", class_name="py-2 mb-0 booking-refused")


def booking_done(message: str) -> dbc.Alert:
    return dbc.Alert(message, color="success", class_name="py-2 mb-2 booking-done")


def booking_modal() -> dbc.Modal:
    """The dialog a card's Book opens: date, start time, length, Book; a refusal shows in it."""
    return dbc.Modal(
        id=BOOK_MODAL_ID,
        is_open=False,
        labelledby=BOOK_TITLE_ID,
        children=[
            dcc.Store(id=BOOK_CHARGER_STORE),
            dbc.ModalHeader(
                dbc.ModalTitle(book_title(), id=BOOK_TITLE_ID, tag="h2", class_name="h5")
            ),
            dbc.ModalBody(
                [
                    html.P(id=BOOK_RULES_ID, className="small text-body-secondary"),
                    dbc.Row(
                        className="g-2",
                        children=[
                            dbc.Col(
                                [
                                    dbc.Label("Date", html_for=BOOK_DATE_ID),
                                    dbc.Input(id=BOOK_DATE_ID, type="date"),
                                ],
                                xs=12,
                                sm=5,
                            ),
                            dbc.Col(
                                [
                                    dbc.Label("Start", html_for=BOOK_TIME_ID),
                                    dbc.Select(id=BOOK_TIME_ID, options=start_time_options()),
                                ],
                                xs=6,
                                sm=3,
                            ),
                            dbc.Col(
                                [
                                    dbc.Label("Length", html_for=BOOK_LENGTH_ID),
                                    dbc.Select(id=BOOK_LENGTH_ID, options=[]),
                                ],
                                xs=6,
                                sm=4,
                            ),
                        ],
                    ),
                    html.Div(
                        id=BOOK_OUTCOME_ID, role="status", className="mt-3", **_aria(live="polite")
                    ),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Close", id=BOOK_CLOSE_ID, color="secondary", outline=True),
                    dbc.Button("Book", id=BOOK_SUBMIT_ID, color="primary"),
                ]
            ),
        ],
    )


def cancel_booking_button(reservation_id: str) -> dcc.ConfirmDialogProvider:
    return dcc.ConfirmDialogProvider(
        html.Button(
            CANCEL_LABEL,
            type="button",
            className="btn btn-sm btn-outline-danger mt-2 cancel-booking",
        ),
        id=cancel_id(reservation_id),
        message=CANCEL_CONFIRM_TEXT,
    )


def ended_notice(text: str) -> dbc.Alert:
    return dbc.Alert(text, color="warning", class_name="py-2 mb-2 booking-ended")


def watch_data(watch: bool, digest: str) -> dict[str, Any]:
    return {"watch": watch, "digest": digest}
