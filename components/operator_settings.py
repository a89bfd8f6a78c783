"""The operator's settings form of /admin/settings, and that page's skeleton (plans beside it)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.forms import (
    REFRESH_NOTE,
    card_section,
    currency_dropdown,
    form_field,
    live_region,
    text_input,
)
from components.plans import PLAN_EDITING_ID, SETTINGS_PLANS_VERSION_ID, plans_section
from data.accounts.operator_settings import OperatorValues
from data.accounts.validation import timezone_names
from data.charging.booking import DEFAULT_RULES, RULE_BOUNDS, BookingRulesValues
from data.uptime.alerts import DELAY_MINUTES_BOUNDS, AlertSettingsValues, DigestMode

# Every id starts with ``admin-``: the callback gate refuses customers for those.
SETTINGS_OPERATOR_VERSION_ID = "admin-operator-version"
OPERATOR_SAVE_ID = "admin-operator-save"
OPERATOR_FEEDBACK_ID = "admin-operator-feedback"
OPERATOR_FIELDS = {
    "name": "admin-operator-name",
    "support_email": "admin-operator-email",
    "timezone": "admin-operator-timezone",
    "currency": "admin-operator-currency",
}
SETTINGS_ALERTS_VERSION_ID = "admin-alerts-version"
ALERTS_SAVE_ID = "admin-alerts-save"
ALERTS_FEEDBACK_ID = "admin-alerts-feedback"
ALERT_FIELDS = {"delay_minutes": "admin-alerts-delay", "digest": "admin-alerts-digest"}
SETTINGS_BOOKING_VERSION_ID = "admin-booking-version"
BOOKING_SAVE_ID = "admin-booking-save"
BOOKING_FEEDBACK_ID = "admin-booking-feedback"
BOOKING_FIELDS = {
    "ahead_days": "admin-booking-ahead",
    "longest_minutes": "admin-booking-longest",
    "open_per_account": "admin-booking-open",
    "grace_minutes": "admin-booking-grace",
}
_BOOKING_LABELS = {
    "ahead_days": ("Book up to (days ahead)", "days", DEFAULT_RULES.ahead_days),
    "longest_minutes": ("Longest booking (minutes)", "minutes", DEFAULT_RULES.longest_minutes),
    "open_per_account": ("Open bookings per account", "bookings", DEFAULT_RULES.open_per_account),
    "grace_minutes": ("Grace before a no-show is released (minutes)", "minutes",
                      DEFAULT_RULES.grace_minutes),
}  # fmt: skip
DIGEST_LABELS = {
    DigestMode.off: "No digest: an email per alert",
    DigestMode.also: "An email per alert and a daily digest",
    DigestMode.only: "Only a daily digest (no email per alert)",
}


def timezone_options() -> list[dict[str, str]]:
    return [{"label": name.replace("_", " "), "value": name} for name in timezone_names()]


def settings_skeleton() -> list[Component]:
    return [
        dcc.Store(id=SETTINGS_PLANS_VERSION_ID, data=0),
        dcc.Store(id=SETTINGS_OPERATOR_VERSION_ID, data=0),
        dcc.Store(id=SETTINGS_ALERTS_VERSION_ID, data=0),
        dcc.Store(id=PLAN_EDITING_ID, data=None),
        dbc.Row(
            className="g-4",
            children=[
                dbc.Col(plans_section(), lg=7),
                dbc.Col(operator_section(), lg=5),
            ],
        ),
        dcc.Store(id=SETTINGS_BOOKING_VERSION_ID, data=0),
        dbc.Row(
            className="g-4 mt-0",
            children=[dbc.Col(alerts_section(), lg=7), dbc.Col(booking_section(), lg=5)],
        ),
    ]


def operator_section() -> html.Section:
    f = OPERATOR_FIELDS
    return card_section(
        "admin-operator",
        "Operator settings",
        [
            html.P(
                "The time zone defines “today”, the days of the usage charts and the billing "
                "months. " + REFRESH_NOTE,
                className="small text-body-secondary",
            ),
            form_field("Operator name", text_input(f["name"], maxlength=200)),
            form_field(
                "Support email (optional)",
                text_input(f["support_email"], type="email", maxlength=254),
                "Shown to customers on their dashboard.",
            ),
            form_field(
                "Time zone",
                dcc.Dropdown(
                    id=f["timezone"],
                    options=timezone_options(),
                    searchable=True,
                    clearable=False,
                    placeholder="Type to search, e.g. Berlin",
                ),
            ),
            form_field(
                "Currency",
                currency_dropdown(f["currency"]),
            ),
            dbc.Button("Save settings", id=OPERATOR_SAVE_ID, n_clicks=0, color="primary"),
            live_region(OPERATOR_FEEDBACK_ID),
        ],
    )


def operator_form_values(values: OperatorValues) -> tuple[str, str, str, str]:
    return values.name, values.support_email or "", values.timezone, values.currency


def alerts_section() -> html.Section:
    low, high = DELAY_MINUTES_BOUNDS
    return card_section(
        "admin-alerts",
        "Outage alerts",
        [
            html.P(
                "A charger down longer than the delay opens one alert (one for the site when "
                "several drop at once), sent once by the alerts worker, and a message when it "
                "is back. Where they go is set in the worker's environment.",
                className="small text-body-secondary",
            ),
            form_field(
                "Alert after (minutes)",
                text_input(ALERT_FIELDS["delay_minutes"], type="number", min=low, max=high, step=1),
                f"From {low} to {high} minutes; the default is 5.",
            ),
            form_field(
                "Email digest",
                dbc.Select(
                    id=ALERT_FIELDS["digest"],
                    options=[{"label": DIGEST_LABELS[m], "value": m.value} for m in DigestMode],
                ),
                "The digest goes out once a day from 08:00 (operator's time zone) when there "
                "were alerts. Webhooks get every alert.",
            ),
            dbc.Button("Save alert settings", id=ALERTS_SAVE_ID, n_clicks=0, color="primary"),
            live_region(ALERTS_FEEDBACK_ID),
        ],
    )


def alert_form_values(values: AlertSettingsValues) -> tuple[int, str]:
    return values.delay_minutes, values.digest.value


def booking_section() -> html.Section:
    fields = []
    for field, (label, unit, default) in _BOOKING_LABELS.items():
        low, high = RULE_BOUNDS[field]
        fields.append(
            form_field(
                label,
                text_input(BOOKING_FIELDS[field], type="number", min=low, max=high, step=1),
                f"From {low} to {high} {unit}; the default is {default}.",
            )
        )
    return card_section(
        "admin-booking",
        "Drivers' bookings",
        [
            html.P(
                "Drivers book chargers from their dashboard within these rules; a booking nobody "
                "starts charging on within the grace is released, and the charger is free again.",
                className="small text-body-secondary",
            ),
            *fields,
            dbc.Button("Save booking rules", id=BOOKING_SAVE_ID, n_clicks=0, color="primary"),
            live_region(BOOKING_FEEDBACK_ID),
        ],
    )


def booking_form_values(values: BookingRulesValues) -> tuple[int, int, int, int]:
    return values.ahead_days, values.longest_minutes, values.open_per_account, values.grace_minutes
