"""/admin/tariffs: every tariff with its versions, the dialog that creates a tariff or schedules
a new version of one, and which tariff each plan (and the operator's default) uses."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.admin import admin_section
from components.format import format_datetime, format_price
from components.forms import (
    currency_dropdown,
    field_error,
    form_field,
    live_region,
    text_input,
)
from components.landmarks import aria, data_attributes, scroll_box
from data.pricing.admin import (
    ENDED,
    IN_FORCE,
    SCHEDULED,
    PlanChoice,
    TariffsOverview,
    TariffSummary,
    VersionState,
)
from data.pricing.cost import TariffPrices

# Every id starts with ``admin-``: the callback gate refuses customers for those.
TARIFFS_VERSION_ID = "admin-tariffs-version"  # bumped after a write: the lists are read again
TARIFFS_LIST_ID = "admin-tariffs-list"
TARIFFS_FEEDBACK_ID = "admin-tariffs-feedback"
TARIFF_NEW_ID = "admin-tariff-new"
TARIFF_SCHEDULE_TYPE = "admin-tariff-schedule"  # {"type": ..., "tariff": id}
TARIFF_EDITING_ID = "admin-tariff-editing"  # store: the tariff a version is for; None: new
TARIFF_MODAL_ID = "admin-tariff-modal"
TARIFF_FORM_TITLE_ID = "admin-tariff-form-title"
TARIFF_TZ_ID = "admin-tariff-tz"
TARIFF_SAVE_ID = "admin-tariff-save"
TARIFF_CANCEL_ID = "admin-tariff-cancel"
TARIFF_FORM_FEEDBACK_ID = "admin-tariff-form-feedback"
# Field name (as data.pricing reports it) -> input id; each has an error line "<id>-error".
TARIFF_FIELDS = {
    "name": "admin-tariff-name",
    "tariff_id": "admin-tariff-id",
    "valid_from": "admin-tariff-valid-from",
    "currency": "admin-tariff-currency",
    "energy_price_per_kwh": "admin-tariff-energy",
    "dc_energy_price_per_kwh": "admin-tariff-dc-energy",
    "session_fee": "admin-tariff-fee",
    "time_price_per_hour": "admin-tariff-time",
    "time_free_minutes": "admin-tariff-free-minutes",
    "vat_percent": "admin-tariff-vat",
}
TARIFF_TEXT_FIELDS = tuple(f for f in TARIFF_FIELDS if f != "currency")  # dbc.Inputs

TARIFF_DEFAULT_ID = "admin-tariff-default"
TARIFF_DEFAULT_SAVE_ID = "admin-tariff-default-save"
TARIFF_PLANS_ID = "admin-tariff-plans"
PLAN_TARIFF_TYPE = "admin-plan-tariff"  # the select of a plan's tariff: {"type", "plan": id}
PLAN_TARIFF_SAVE_TYPE = "admin-plan-tariff-save"
TARIFF_ASSIGN_FEEDBACK_ID = "admin-tariff-assign-feedback"
# "No tariff" in a select. Not "": dbc.Select keeps "" for its placeholder; not an id either.
NO_TARIFF_VALUE = "-"

STATE_LABELS = {SCHEDULED: "Scheduled", IN_FORCE: "In force", ENDED: "Ended"}
_STATE_COLORS = {SCHEDULED: "info", IN_FORCE: "success", ENDED: "secondary"}
# White on Bootstrap's cyan is too faint (axe color-contrast): dark text there.
_STATE_TEXT = {SCHEDULED: "dark", IN_FORCE: "white", ENDED: "white"}
INTRO = (
    "A tariff version prices every session that starts from its date until the tariff's next "
    "version; the price in force when a session starts holds for the whole session. Prices "
    "include VAT. A version that has priced sessions is history and never changes: schedule a "
    "new version instead."
)


def tariffs_skeleton() -> list[Component]:
    """The page before its first answer: the list, the assignments and the (closed) dialog."""
    return [
        dcc.Store(id=TARIFFS_VERSION_ID, data=0),
        dcc.Store(id=TARIFF_EDITING_ID, data=None),
        html.P(INTRO, className="text-body-secondary small mb-3", style={"maxWidth": "60rem"}),
        assignments_section(),
        tariffs_section(),
        tariff_modal(),
    ]


def tariffs_section() -> html.Section:
    return admin_section(
        "admin-tariffs",
        "Tariffs",
        [
            html.Div(
                dbc.Button("New tariff", id=TARIFF_NEW_ID, n_clicks=0, color="primary"),
                className="mb-3",
            ),
            live_region(TARIFFS_FEEDBACK_ID),
            html.Div(
                id=TARIFFS_LIST_ID,
                children=html.P("Loading tariffs…", className="text-body-secondary"),
                className="mt-2",
            ),
        ],
    )


# --- the list -----------------------------------------------------------------------------------


def _money_or_dash(value: Decimal | None, currency: str, unit: str = "") -> str:
    if value is None:
        return "—"
    return format_price(value, currency) + unit


def time_price_text(prices: TariffPrices) -> str:
    """``€1.20/h after 4 h``, ``€1.20/h``, or ``—`` without a time price."""
    hourly = prices.time_price_per_hour
    if hourly is None or hourly == 0:
        return "—"
    text = _money_or_dash(hourly, prices.currency, "/h")
    free = prices.time_free_minutes
    if free:
        hours, minutes = divmod(free, 60)
        text += f" after {hours} h" if hours and not minutes else f" after {free} min"
    return text


def vat_text(prices: TariffPrices) -> str:
    vat = prices.vat_percent
    return "—" if vat is None else f"{vat.normalize():f} %"


def _state_badge(state: str, class_name: str = "") -> dbc.Badge:
    return dbc.Badge(
        STATE_LABELS[state],
        color=_STATE_COLORS[state],
        text_color=_STATE_TEXT[state],
        className=class_name,
    )


def _version_row(
    version: VersionState, tariff: TariffSummary, tz: ZoneInfo, now: datetime
) -> html.Tr:
    p = version.prices
    when: list[Component | str] = [html.Div(format_datetime(p.valid_from, tz, now))]
    if p.name != tariff.name:
        when.append(html.Div(f"as “{p.name}”", className="small text-body-secondary"))
    priced = _priced_text(version)
    return html.Tr(
        [
            html.Td(when, className="text-nowrap"),
            html.Td(_money_or_dash(p.energy_price_per_kwh, p.currency), className="text-end"),
            html.Td(_money_or_dash(p.dc_energy_price_per_kwh, p.currency), className="text-end"),
            html.Td(_money_or_dash(p.session_fee, p.currency), className="text-end"),
            html.Td(time_price_text(p), className="text-nowrap"),
            html.Td(vat_text(p), className="text-end text-nowrap"),
            html.Td(
                [
                    _state_badge(version.state, "admin-tariff-state"),
                    html.Div(priced, className="small text-body-secondary admin-tariff-priced"),
                ]
            ),
        ],
        className="admin-tariff-version",
        **data_attributes(
            valid_from=p.valid_from.isoformat(),
            state=version.state,
            priced="yes" if version.priced_sessions else "no",
        ),
    )


def prices_text(prices: TariffPrices) -> str:
    """``€0.59/kWh · DC €0.69/kWh · €0.50 per session · €1.20/h after 4 h · VAT 19 %``: a
    version in one line (a phone's list), the parts it has."""
    return " · ".join(prices_parts(prices))


# A version never changes (a new one follows it), so its texts are written once per worker:
# Babel takes ~20 µs a price, and every dashboard render shows them.
@functools.lru_cache(maxsize=256)
def prices_parts(prices: TariffPrices) -> tuple[str, ...]:
    """The parts of ``prices_text``, each to keep on one line where it wraps."""
    c = prices.currency
    parts = [_money_or_dash(prices.energy_price_per_kwh or Decimal(0), c, "/kWh")]
    if prices.dc_energy_price_per_kwh is not None:
        parts.append("DC " + _money_or_dash(prices.dc_energy_price_per_kwh, c, "/kWh"))
    if prices.session_fee:
        parts.append(_money_or_dash(prices.session_fee, c, " per session"))
    if prices.time_price_per_hour:
        parts.append(time_price_text(prices))
    if prices.vat_percent is not None:
        parts.append(f"VAT {vat_text(prices)}")
    return tuple(parts)


@functools.lru_cache(maxsize=1024)
def charger_price_parts(prices: TariffPrices, max_power_kw: float | Decimal) -> tuple[str, ...]:
    """``€0.39/kWh``, ``€1.20/h after 4 h``, ``€0.50 per session``: what charging on a charger
    of ``max_power_kw`` costs by ``prices`` (its DC energy price above 22 kW), the parts it has
    (shown joined by `` · ``, each kept on one line)."""
    c = prices.currency
    parts = [format_price(prices.energy_price(max_power_kw), c) + "/kWh"]
    if prices.time_price_per_hour:
        parts.append(time_price_text(prices))
    if prices.session_fee:
        parts.append(format_price(prices.session_fee, c) + " per session")
    return tuple(parts)


def _version_item(
    version: VersionState, tariff: TariffSummary, tz: ZoneInfo, now: datetime
) -> html.Li:
    """A version on a phone: when, its state, its prices in a line, whether it priced any."""
    p = version.prices
    renamed = f" as “{p.name}”" if p.name != tariff.name else ""
    return html.Li(
        [
            html.Div(
                [
                    html.Span(f"From {format_datetime(p.valid_from, tz, now)}{renamed}"),
                    _state_badge(version.state),
                ],
                className="d-flex flex-wrap justify-content-between gap-2 fw-semibold",
            ),
            html.Div(prices_text(p)),
            html.Div(_priced_text(version), className="text-body-secondary"),
        ],
        className="list-group-item px-0 small",
    )


def _priced_text(version: VersionState) -> str:
    return "Priced sessions: locked" if version.priced_sessions else "Nothing priced yet"


def _uses(tariff: TariffSummary) -> str:
    parts = []
    if tariff.is_default:
        parts.append("the default: ad hoc charging and plans without a tariff")
    if tariff.plans:
        names = ", ".join(p.name for p in tariff.plans)
        parts.append(f"{'plan' if len(tariff.plans) == 1 else 'plans'} {names}")
    if not parts:
        return "No plan uses it now, nor is it the default."
    return "Prices " + " and ".join(parts) + "."


def tariff_card(tariff: TariffSummary, tz: ZoneInfo, now: datetime) -> html.Section:
    heading = f"admin-tariff-{tariff.tariff_id}-heading"
    header = html.Thead(
        html.Tr(
            [
                html.Th("From", scope="col"),
                html.Th("Energy /kWh", scope="col", className="text-end text-nowrap"),
                html.Th("DC energy /kWh", scope="col", className="text-end text-nowrap"),
                html.Th("Session fee", scope="col", className="text-end text-nowrap"),
                html.Th("Time", scope="col"),
                html.Th("VAT", scope="col", className="text-end"),
                html.Th("Status", scope="col"),
            ]
        )
    )
    table = dbc.Table(
        [header, html.Tbody([_version_row(v, tariff, tz, now) for v in tariff.versions])],
        size="sm",
        className="mb-0 align-middle small",
    )
    badges = [dbc.Badge("Default", color="primary", className="ms-2")] if tariff.is_default else []
    return html.Section(
        className="border rounded p-3 mb-3 admin-tariff",
        **aria(labelledby=heading),
        **data_attributes(tariff=tariff.tariff_id),
        children=[
            html.Div(
                [
                    html.Div(
                        [
                            html.H3([tariff.name, *badges], id=heading, className="h6 mb-1"),
                            html.Div(
                                f"{tariff.tariff_id} · {tariff.current.currency}",
                                className="small text-body-secondary",
                            ),
                            html.Div(_uses(tariff), className="small admin-tariff-uses"),
                        ],
                        style={"minWidth": 0},
                    ),
                    dbc.Button(
                        [
                            "Schedule a new version",
                            html.Span(f" of {tariff.name}", className="visually-hidden"),
                        ],
                        id={"type": TARIFF_SCHEDULE_TYPE, "tariff": tariff.tariff_id},
                        n_clicks=0,
                        size="sm",
                        color="primary",
                        outline=True,
                        className="text-nowrap",
                    ),
                ],
                className="d-flex flex-wrap justify-content-between align-items-start gap-2 mb-2",
            ),
            # A table from a tablet's width up; on a phone a list (the table's seven columns
            # would scroll sideways).
            scroll_box(table, f"Versions of {tariff.name}", class_name="d-none d-md-block"),
            html.Ul(
                [_version_item(v, tariff, tz, now) for v in tariff.versions],
                className="list-group list-group-flush d-md-none mb-0",
                **aria(label=f"Versions of {tariff.name}"),
            ),
        ],
    )


def tariffs_list(overview: TariffsOverview, tz: ZoneInfo, now: datetime) -> Component:
    if not overview.tariffs:
        return html.P(
            "No tariffs yet: sessions have no cost. Create the first one with New tariff.",
            className="mb-0",
        )
    note = html.P(f"Dates and times in {tz.key}.", className="small text-body-secondary mb-2")
    return html.Div([note, *(tariff_card(t, tz, now) for t in overview.tariffs)])


# --- the dialog ---------------------------------------------------------------------------------


def _price_input(field: str, placeholder: str) -> dbc.Input:
    return text_input(
        TARIFF_FIELDS[field], inputmode="decimal", placeholder=placeholder, maxlength=20
    )


def tariff_modal() -> dbc.Modal:
    f = TARIFF_FIELDS
    return dbc.Modal(
        id=TARIFF_MODAL_ID,
        is_open=False,
        size="lg",
        scrollable=True,
        children=[
            dbc.ModalHeader(dbc.ModalTitle("New tariff", id=TARIFF_FORM_TITLE_ID)),
            dbc.ModalBody(
                [
                    dbc.Row(
                        [
                            dbc.Col(form_field("Name", text_input(f["name"], maxlength=200)), md=6),
                            dbc.Col(
                                form_field(
                                    "Tariff id",
                                    text_input(
                                        f["tariff_id"],
                                        placeholder="Made from the name",
                                        maxlength=64,
                                    ),
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                html.Div(
                                    [
                                        dbc.Label("Valid from", html_for=f["valid_from"]),
                                        dbc.Input(
                                            id=f["valid_from"], type="datetime-local", step=60
                                        ),
                                        # The operator's time zone, filled in on opening.
                                        dbc.FormText(id=TARIFF_TZ_ID),
                                        field_error(f["valid_from"]),
                                    ],
                                    className="mb-3",
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Currency",
                                    currency_dropdown(f["currency"]),
                                    "Empty: the operator's currency.",
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Energy price per kWh",
                                    _price_input("energy_price_per_kwh", "e.g. 0.39"),
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "DC energy price per kWh (optional)",
                                    _price_input("dc_energy_price_per_kwh", "e.g. 0.52"),
                                    "On chargers above 22 kW; empty: the energy price.",
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                form_field("Session fee", _price_input("session_fee", "e.g. 0.50")),
                                md=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Time price per hour",
                                    _price_input("time_price_per_hour", "e.g. 1.20"),
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "Free minutes before the time price",
                                    text_input(
                                        f["time_free_minutes"],
                                        inputmode="numeric",
                                        placeholder="e.g. 240",
                                        maxlength=6,
                                    ),
                                ),
                                md=6,
                            ),
                            dbc.Col(
                                form_field(
                                    "VAT rate (%)",
                                    _price_input("vat_percent", "e.g. 19"),
                                    "Included in the prices.",
                                ),
                                md=6,
                            ),
                        ]
                    ),
                    html.P("Empty prices count as 0.", className="small text-body-secondary mb-0"),
                    live_region(TARIFF_FORM_FEEDBACK_ID),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Cancel", id=TARIFF_CANCEL_ID, n_clicks=0, color="secondary"),
                    dbc.Button("Create tariff", id=TARIFF_SAVE_ID, n_clicks=0, color="primary"),
                ]
            ),
        ],
    )


def valid_from_help(tz: ZoneInfo, scheduling: bool) -> str:
    """The help under "Valid from": the time zone, and what a past date may not do."""
    where = f"In {tz.key}."
    if scheduling:
        return (
            f"{where} Sessions that start from then on get these prices. A version may not "
            "start before a session this tariff priced already."
        )
    return f"{where} Sessions that start from then on get these prices."


def price_text(value: Decimal | None) -> str:
    """A stored price as the form shows it: ``0.39``, ``1.2``, empty for none."""
    return "" if value is None else f"{value.normalize():f}"


def local_input(moment: datetime, tz: ZoneInfo) -> str:
    """``2026-12-01T00:00``: a ``datetime-local`` input's value in ``tz``."""
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


# --- who pays which tariff ----------------------------------------------------------------------


def tariff_options(tariffs: Sequence[TariffSummary], none_label: str) -> list[dict[str, str]]:
    """``dbc.Select`` options: ``none_label`` (``NO_TARIFF_VALUE``) then each tariff."""
    names = [t.name for t in tariffs]
    options = [{"label": none_label, "value": NO_TARIFF_VALUE}]
    options += [
        # The id only where two tariffs share a name.
        {"label": t.name if names.count(t.name) == 1 else f"{t.name} ({t.tariff_id})",
         "value": t.tariff_id}
        for t in tariffs
    ]  # fmt: skip
    return options


DEFAULT_NONE_LABEL = "No default: those sessions have no cost"
PLAN_NONE_LABEL = "The default tariff"


def assignments_section() -> html.Section:
    return admin_section(
        "admin-tariff-assignments",
        "Who pays which tariff",
        [
            html.P(
                "A plan's tariff prices its accounts' sessions; the default prices ad hoc "
                "charging and plans without a tariff. Sessions already priced keep their cost.",
                className="small text-body-secondary",
            ),
            dbc.Row(
                className="g-3",
                children=[
                    dbc.Col(
                        html.Div(
                            [
                                form_field(
                                    "Default tariff",
                                    dbc.Select(
                                        id=TARIFF_DEFAULT_ID,
                                        options=[],
                                        value=NO_TARIFF_VALUE,
                                        size="sm",
                                    ),
                                    "Ad hoc charging and plans without a tariff.",
                                    class_name="mb-2",
                                ),
                                dbc.Button(
                                    "Save default",
                                    id=TARIFF_DEFAULT_SAVE_ID,
                                    n_clicks=0,
                                    color="primary",
                                    outline=True,
                                    size="sm",
                                ),
                            ],
                            className="border rounded p-2 h-100",
                        ),
                        md=6,
                        xl=3,
                    ),
                    dbc.Col(html.Div(id=TARIFF_PLANS_ID), md=6, xl=9),
                ],
            ),
            live_region(TARIFF_ASSIGN_FEEDBACK_ID),
        ],
    )


def plan_tariff_rows(plans: Sequence[PlanChoice], tariffs: Sequence[TariffSummary]) -> Component:
    if not plans:
        return html.P(
            "No plans yet (Plans & settings): every account pays the default.",
            className="small mb-0",
        )
    options = tariff_options(tariffs, PLAN_NONE_LABEL)
    cols = []
    for plan in plans:
        noun = "account" if plan.accounts == 1 else "accounts"
        block = html.Div(
            [
                # An implicit label: dbc.Select takes no aria-labelledby.
                html.Label(
                    [
                        html.Span(f"Plan {plan.name}", className="fw-semibold"),
                        html.Span(
                            f" · {plan.accounts:,} {noun}", className="small text-body-secondary"
                        ),
                        dbc.Select(
                            id={"type": PLAN_TARIFF_TYPE, "plan": plan.plan_id},
                            options=options,
                            value=plan.tariff_id or NO_TARIFF_VALUE,
                            size="sm",
                            class_name="mt-2",
                        ),
                    ],
                    className="d-block mb-2",
                ),
                dbc.Button(
                    [
                        "Save",
                        html.Span(f" the tariff of {plan.name}", className="visually-hidden"),
                    ],
                    id={"type": PLAN_TARIFF_SAVE_TYPE, "plan": plan.plan_id},
                    n_clicks=0,
                    size="sm",
                    color="primary",
                    outline=True,
                ),
            ],
            className="border rounded p-2 h-100 position-relative admin-plan-tariff",
            **data_attributes(plan=plan.plan_id),
        )
        cols.append(dbc.Col(block, xl=4, lg=6))
    return dbc.Row(cols, className="g-3")
