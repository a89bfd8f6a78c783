"""Issue 16, "Done when": one session's cost agrees to the cent on every surface that shows it, on
SQLite and PostgreSQL, for a EUR operator in Europe/Berlin whose session spans the end of summer
time and for a JPY operator (no minor unit) whose session spans a month's end.

Each session runs through the OCPP path (StartTransaction, MeterValues, StopTransaction prices
it). Its cost is checked three ways:

- against the spec's rule worked out here by hand (``by_the_spec``, Decimal, shared/spec/
  data-exchange.md "Prices and costs"), itself checked against figures written out below;
- on every surface that shows a finished session's cost (``FINISHED_SURFACES``), as text where
  the surface is text;
- while in progress: what the surfaces of a session in progress show at a pinned ``now``
  (``LIVE_SURFACES``) is what the session costs when it stops at that moment, same energy.

A new surface is one reader added to ``FINISHED_SURFACES`` (a finished session: ``(Site) ->
Shown``) or ``LIVE_SURFACES`` (in progress at ``now``: ``(Session, session_id, now) -> Shown``).
A reader returns what the surface shows by part (``energy``, ``time``, ``fee``, ``total``,
``vat``, ``excl_vat``; the ones it shows): the text on screen, or a Decimal read from a file.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from zoneinfo import ZoneInfo

import plotly.io.json as plotly_json
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from components.dashboard import session_cost_text, usage_total
from components.format import format_money
from components.history import (
    SESSIONS_COUNT_TYPE,
    SESSIONS_DETAIL_ID,
    SESSIONS_GRID_TYPE,
    SESSIONS_TOTALS_TYPE,
    session_detail_panel,
    session_grid_rows,
)
from components.receipts import (
    RECEIPT_BODY_ID,
    RECEIPT_SESSION_STORE,
    STATEMENT_BODY_ID,
    STATEMENT_MONTH_STORE,
)
from components.shell import cost_so_far_text
from data.charging.dashboard import (
    account_usage,
    active_session,
    operator_settings,
    recent_sessions,
)
from data.charging.history import default_filter, session_detail, session_page
from data.core.models import ChargingSession, Role
from data.core.periods import period_bounds
from data.exchange.cdrs import ocpi_id
from data.exchange.csv_safety import restore_cell
from data.exchange.exporter import export_folder
from data.ocpp.messages import meter_values, start_transaction, stop_transaction
from data.pricing.cost import SessionCost
from data.pricing.receipts import receipt
from data.pricing.rows import stored_cost
from data.pricing.tariffs import live_cost, live_costs
from tests.support.callbacks import call, callback_containing, post
from tests.support.factories import make_id_tag
from tests.support.receipts import Prices, priced_site
from tests.support.web import AppFactory, add_person, client_for, rows_of

DANA, OLGA = "dana@example.com", "olga@example.com"
DRIVER, ADMIN = "a-dana", "a-olga-admin"
TAG = "TAG-DANA"
CHARGER = "DC"  # priced_site's 150 kW charger: the DC energy price holds
Shown = dict[str, str | Decimal]


@dataclass(frozen=True)
class Case:
    """An operator, its tariff and one session, with its cost worked out on paper."""

    name: str
    prices: Prices
    started: datetime  # local wall clock, in the operator's zone
    ended: datetime
    meter_start_wh: int
    meter_stop_wh: int
    real_seconds: int  # the session's length in fact (what ``time`` is billed on)
    day: str  # the local day it started: its usage day
    month: str  # its statement
    expected: dict[str, str]  # by the spec's rule, on paper
    total_text: str  # the total as every screen writes it


BERLIN, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")

# Summer time ends in Berlin on 25 October 2026 at 03:00 CEST: 01:30 CEST to 04:10 CET is 3 h
# 40 min, though the wall clock moved 2 h 40 min.
# DC energy 37.123 kWh x 0.5899 = 21.8988577 -> 21.90; time (13,200 s - 45 free minutes) =
# 10,500 s / 3,600 x 2.34 = 6.825 -> 6.83 (half up; by the wall clock it would be 4.49); fee
# 0.49; total 29.22, of which VAT 19 %: 29.22 - 29.22 / 1.19 = 4.665... -> 4.67; 24.55 without.
EUR_CASE = Case(
    name="eur-berlin-dst",
    prices=Prices("EUR", "Europe/Berlin", "0.3945", "0.5899", "0.49", "2.34", "45", "19"),
    started=datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN),
    ended=datetime(2026, 10, 25, 4, 10, tzinfo=BERLIN),
    meter_start_wh=1_234_567,
    meter_stop_wh=1_271_690,
    real_seconds=3 * 3600 + 40 * 60,
    day="2026-10-25",
    month="2026-10",
    expected={
        "energy": "21.90",
        "time": "6.83",
        "fee": "0.49",
        "total": "29.22",
        "vat": "4.67",
        "excl_vat": "24.55",
    },
    total_text="€29.22",
)
# Tokyo, across the end of November: 23:10 to 01:55, 2 h 45 min; it counts on 30 November.
# DC energy 26 kWh x 65.25 = 1,696.5 -> 1,697 (half up, not to even); time (9,900 s - 30 free
# minutes) = 8,100 s / 3,600 x 313 = 704.25 -> 704; fee 110; total 2,511, of which VAT 10 %:
# 2,511 - 2,511 / 1.1 = 228.27... -> 228; 2,283 without.
JPY_CASE = Case(
    name="jpy-tokyo-month-end",
    prices=Prices("JPY", "Asia/Tokyo", "45.5", "65.25", "110", "313", "30", "10"),
    started=datetime(2026, 11, 30, 23, 10, tzinfo=TOKYO),
    ended=datetime(2026, 12, 1, 1, 55, tzinfo=TOKYO),
    meter_start_wh=500_000,
    meter_stop_wh=526_000,
    real_seconds=2 * 3600 + 45 * 60,
    day="2026-11-30",
    month="2026-11",
    expected={
        "energy": "1697",
        "time": "704",
        "fee": "110",
        "total": "2511",
        "vat": "228",
        "excl_vat": "2283",
    },
    total_text="¥2,511",
)
CASES = [EUR_CASE, JPY_CASE]


# --- the rule, by hand -------------------------------------------------------------------------

MINOR_DIGITS = {"EUR": 2, "JPY": 0}  # ISO 4217


def by_the_spec(case: Case) -> dict[str, Decimal]:
    """The session's cost by the spec's words, written out apart from data/pricing/cost.py."""
    p = case.prices
    unit = Decimal(1).scaleb(-MINOR_DIGITS[p.currency])

    def rounded(amount: Decimal) -> Decimal:
        return amount.quantize(unit, rounding=ROUND_HALF_UP)

    kwh = (Decimal(case.meter_stop_wh) - Decimal(case.meter_start_wh)) / 1000
    # Above 22 kW, with a DC price given: the DC price.
    energy = rounded(kwh * Decimal(p.dc_energy))
    # Real elapsed time: compared in UTC (two times of one zone subtract as wall clocks).
    seconds = Decimal(
        int((case.ended.astimezone(UTC) - case.started.astimezone(UTC)).total_seconds())
    )
    billed = max(Decimal(0), seconds - Decimal(p.free_minutes) * 60)
    time = rounded(billed / 3600 * Decimal(p.per_hour))
    fee = rounded(Decimal(p.fee))
    total = energy + time + fee
    vat = rounded(total - total / (1 + Decimal(p.vat) / 100))
    return {"energy": energy, "time": time, "fee": fee, "total": total, "vat": vat,
            "excl_vat": total - vat}  # fmt: skip


def parts_of(cost: SessionCost) -> Shown:
    return {"energy": cost.energy, "time": cost.time, "fee": cost.fee, "total": cost.total,
            "vat": cost.vat, "excl_vat": cost.total - cost.vat}  # fmt: skip


def disagreements(shown: dict[str, Shown], case: Case) -> dict[str, dict[str, Any]]:
    """Per surface, each part it shows that is not the expected amount (text: as
    ``format_money`` writes it; numbers: equal to the cent)."""
    expected = by_the_spec(case)
    out: dict[str, dict[str, Any]] = {}
    for surface, parts in shown.items():
        wrong: dict[str, Any] = {}
        if "total" not in parts:
            wrong["total"] = "not shown"
        for part, value in parts.items():
            want = expected[part]
            good = (
                value == format_money(want, case.prices.currency)
                if isinstance(value, str)
                else value == want
            )
            if not good:
                wrong[part] = (value, want)
        if wrong:
            out[surface] = wrong
    return out


# --- the site and the session -----------------------------------------------------------------


@dataclass
class Site:
    case: Case
    app: Flask
    session_id: str
    live: dict[str, Shown]  # LIVE_SURFACES read at the moment it stopped, before the stop
    live_cost: SessionCost | None
    stopped: SessionCost | None  # stored by StopTransaction
    dana: FlaskClient
    olga: FlaskClient


def _ocpp_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture
def site(app_factory: AppFactory, database_url: str, case: Case) -> Site:
    app = app_factory(database_url)
    add_person(app, DANA, (DRIVER, Role.customer, None))
    add_person(app, OLGA, (ADMIN, Role.admin, "Operations"))
    db = app.extensions["polaris_db"]
    start, end = case.started.astimezone(UTC), case.ended.astimezone(UTC)
    last_reading = end - timedelta(minutes=5)  # the last MeterValues before the stop
    with db.session() as s:
        priced_site(s, case.prices)
        make_id_tag(s, DRIVER, id_tag=TAG)
    with db.session() as s:
        started = start_transaction(
            s, CHARGER, 1, TAG, case.meter_start_wh, _ocpp_time(start), start
        )
        assert started.session_id is not None
        sid, tx = started.session_id, started.transaction_id
    with db.session() as s:
        reading = {"value": str(case.meter_stop_wh), "measurand": "Energy.Active.Import.Register"}
        sample = {"timestamp": _ocpp_time(last_reading), "sampled_value": [reading]}
        assert meter_values(s, CHARGER, 1, tx, [sample], last_reading) is not None
    with db.session() as s:
        # In progress with its final energy: what it costs so far at the moment it will stop.
        live = {name: read(s, sid, end) for name, read in LIVE_SURFACES.items()}
        so_far = live_cost(s, sid, end)
    with db.session() as s:
        stop_transaction(
            s, CHARGER, tx, case.meter_stop_wh, _ocpp_time(end), "Local", TAG, None, end
        )
    with db.session() as s:
        row = s.get(ChargingSession, sid)
        assert row is not None and row.finalized and row.ended_at == end
        stopped = stored_cost(row)
    return Site(case, app, sid, live, so_far, stopped, client_for(app, DANA), client_for(app, OLGA))


# --- reading Dash answers ---------------------------------------------------------------------


def as_json(tree: Any) -> Any:
    """A component tree as the browser receives it (dicts with ``props``)."""
    return json.loads(plotly_json.to_json_plotly(tree))


def nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every component in a tree (as JSON: ``type``, ``props``), depth first."""
    if isinstance(tree, dict):
        if "type" in tree and isinstance(tree.get("props"), dict):
            yield tree
            yield from nodes(tree["props"].get("children"))
        else:
            for value in tree.values():
                yield from nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from nodes(value)


def text(tree: Any) -> str:
    """A tree's words, joined as a browser shows them."""
    if isinstance(tree, str | int | float):
        return str(tree)
    if isinstance(tree, list):
        return "".join(text(t) for t in tree)
    if isinstance(tree, dict):
        return text(tree.get("props", {}).get("children"))
    return ""


def of_type(tree: Any, kind: str) -> list[dict[str, Any]]:
    return [n for n in nodes(tree) if n["type"] == kind]


def with_class(tree: Any, name: str) -> list[dict[str, Any]]:
    return [n for n in nodes(tree) if name in str(n["props"].get("className", "")).split()]


def children(node: dict[str, Any]) -> list[Any]:
    kids = node["props"].get("children")
    return kids if isinstance(kids, list) else [kids]


def labelled(rows: list[dict[str, Any]], names: dict[str, str]) -> Shown:
    """``{part: amount text}`` from rows whose first cell is a label and last the amount;
    ``names`` maps a label (or how it starts) to its part."""
    out: Shown = {}
    for row in rows:
        cells = children(row)
        label, amount = text(cells[0]).strip(), text(cells[-1]).strip()
        for start, part in names.items():
            if label.startswith(start):
                out[part] = amount
    return out


def money_cells(row: dict[str, Any]) -> Shown:
    """A statement row's last five cells: energy, time, fee, total, VAT."""
    cells = children(row)[-5:]
    return dict(zip(("energy", "time", "fee", "total", "vat"), map(text, cells), strict=True))


def answer(client: FlaskClient, output: str, store: str, value: object) -> Any:
    response = call(client, output, [{"id": store, "property": "data", "value": value}])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def pdf_text(response: Any) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = PdfReader(io.BytesIO(response.get_data())).pages
    return "\n".join(page.extract_text() for page in pages)


def one_row(body: str, **match: str) -> dict[str, str]:
    rows = [r for r in rows_of(body) if all(restore_cell(r[k]) == v for k, v in match.items())]
    assert len(rows) == 1, (match, body[:500])
    return rows[0]


def csv_money(row: dict[str, str]) -> Shown:
    names = {"cost_energy": "energy", "cost_time": "time", "cost_fee": "fee",
             "cost_total": "total", "vat_amount": "vat"}  # fmt: skip
    return {part: Decimal(row[column]) for column, part in names.items()}


# --- the surfaces of a finished session ---------------------------------------------------------


def receipt_data(site: Site) -> Shown:
    with site.app.extensions["polaris_db"].session() as s:
        found = receipt(s, site.session_id, DRIVER)
    assert found is not None and found.cost is not None
    return parts_of(found.cost)


RECEIPT_ROWS = {"Energy": "energy", "Time": "time", "Session fee": "fee", "Total": "total",
                "Included VAT": "vat"}  # fmt: skip


def receipt_page(site: Site) -> Shown:
    tree = answer(site.dana, f"{RECEIPT_BODY_ID}.children", RECEIPT_SESSION_STORE, site.session_id)
    (table,) = with_class(tree, "doc-costs")
    return labelled(of_type(table, "Tr"), RECEIPT_ROWS)


def receipt_pdf(site: Site) -> Shown:
    shown = pdf_text(site.dana.get(f"/receipts/{site.session_id}.pdf"))
    found = re.search(r"Total in \w+, VAT included (\S+)", shown)
    vat = re.search(r"Included VAT \([\d.]+%\) (\S+)", shown)
    assert found is not None and vat is not None, shown
    return {"total": found[1], "vat": vat[1]}


def _statement(site: Site) -> Any:
    return answer(site.dana, f"{STATEMENT_BODY_ID}.children", STATEMENT_MONTH_STORE,
                  site.case.month)  # fmt: skip


def statement_line(site: Site) -> Shown:
    (table,) = with_class(_statement(site), "doc-lines")
    (row,) = [r for r in of_type(table, "Tr") if site.session_id in text(r)]
    return money_cells(row)


def statement_total(site: Site) -> Shown:
    tree = _statement(site)
    (row,) = with_class(tree, "doc-total")
    shown = money_cells(row)
    (summary,) = with_class(tree, "doc-summary")
    facts = labelled(with_class(summary, "doc-fact"), {"Total": "total", "Included VAT": "vat"})
    assert facts == {"total": shown["total"], "vat": shown["vat"]}, facts  # summary = table
    return shown


def statement_csv(site: Site) -> Shown:
    response = site.dana.get(f"/statements/{site.case.month}.csv")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    return csv_money(one_row(body, session_id=site.session_id, day=site.case.day))


def _statement_pdf_lines(site: Site) -> list[str]:
    return pdf_text(site.dana.get(f"/statements/{site.case.month}.pdf")).splitlines()


def _last_five(line: str) -> Shown:
    return dict(zip(("energy", "time", "fee", "total", "vat"), line.split()[-5:], strict=True))


def statement_pdf_line(site: Site) -> Shown:
    lines = _statement_pdf_lines(site)
    return _last_five(lines[lines.index(site.session_id) + 1])  # the charger's line follows


def statement_pdf_total(site: Site) -> Shown:
    lines = _statement_pdf_lines(site)
    (row,) = [line for line in lines if line.startswith("Total ")]
    shown = _last_five(row)
    at = lines.index("Total")  # the summary: label and amount on lines of their own
    assert lines[at + 1 : at + 4] == [shown["total"], "Included VAT", shown["vat"]], lines
    return shown


def _view(site: Site) -> str:
    return f"?from={site.case.day}&to={site.case.day}"


def explorer_cell(site: Site) -> Shown:
    ident = {"view": _view(site), "n": "k1"}
    grid, count = {"type": SESSIONS_GRID_TYPE, **ident}, {"type": SESSIONS_COUNT_TYPE, **ident}
    totals = {"type": SESSIONS_TOTALS_TYPE, **ident}
    request = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    outputs = [{"id": grid, "property": "getRowsResponse"}, {"id": totals, "property": "children"},
               {"id": count, "property": "data"}]  # fmt: skip
    key = callback_containing(site.app, f'"{SESSIONS_GRID_TYPE}"')
    response = call(site.olga, key, [{"id": grid, "property": "getRowsRequest", "value": request}],
                    [{"id": count, "property": "data", "value": None}], outputs)  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = next(v for v in response.get_json()["response"].values() if "getRowsResponse" in v)
    (row,) = [r for r in rows["getRowsResponse"]["rowData"] if r["session"] == site.session_id]
    return {"total": row["cost"]}


ADMIN_DETAIL_ROWS = {"Energy": "energy", "Time": "time", "Session fee": "fee",
                     "Total": "total", "of which VAT": "vat"}  # fmt: skip


def _detail_money(tree: Any) -> Shown:
    (costs,) = with_class(tree, "admin-session-cost")
    return labelled(children(costs), ADMIN_DETAIL_ROWS)


def explorer_detail(site: Site) -> Shown:
    grid = {"type": SESSIONS_GRID_TYPE, "view": _view(site), "n": "k1"}
    body = {
        "output": f"{SESSIONS_DETAIL_ID}.children",
        "outputs": {"id": SESSIONS_DETAIL_ID, "property": "children"},
        "inputs": [[{"id": grid, "property": "selectedRows",
                     "value": [{"session": site.session_id}]}]],
        "state": [],
        "changedPropIds": [f"{json.dumps(grid, sort_keys=True)}.selectedRows"],
    }  # fmt: skip
    response = post(site.olga, body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    tree = response.get_json()["response"]
    assert "Cost so far" not in json.dumps(tree)  # a finished session's cost is its own
    return _detail_money(tree)


def _sessions_row(body: str, site: Site) -> Shown:
    row = one_row(body, session_id=site.session_id)
    assert row["currency"] == site.case.prices.currency
    return csv_money(row)


def sessions_csv(driver: bool) -> Callable[[Site], Shown]:
    def read(site: Site) -> Shown:
        response = (site.dana if driver else site.olga).get("/export/sessions.csv")
        assert response.status_code == 200
        return _sessions_row(response.get_data(as_text=True), site)

    return read


def export_data_folder(site: Site) -> Shown:
    """``flask export-data``'s sessions.csv."""
    with TemporaryDirectory() as folder, site.app.extensions["polaris_db"].session() as s:
        export_folder(s, Path(folder))
        body = (Path(folder) / "sessions.csv").read_text(encoding="utf-8")
    return _sessions_row(body, site)


def usage_csv(name: str, bucket: str) -> Callable[[Site], Shown]:
    def read(site: Site) -> Shown:
        response = site.olga.get(f"/export/{name}.csv")
        assert response.status_code == 200
        key = "day" if bucket == "day" else "month"
        value = site.case.day if bucket == "day" else site.case.month
        row = one_row(response.get_data(as_text=True), account_id=DRIVER, **{key: value})
        return {"total": Decimal(row["cost_total"])}

    return read


def cdrs_json(site: Site) -> Shown:
    response = site.olga.get("/export/cdrs.json")
    assert response.status_code == 200
    cdrs = json.loads(response.get_data(as_text=True), parse_float=Decimal, parse_int=Decimal)
    (cdr,) = [c for c in cdrs if c["id"] == ocpi_id(site.session_id)]
    assert cdr["currency"] == site.case.prices.currency
    return {
        "total": cdr["total_cost"]["incl_vat"],
        "excl_vat": cdr["total_cost"]["excl_vat"],
        "energy": cdr["total_energy_cost"]["incl_vat"],
        "time": cdr["total_time_cost"]["incl_vat"],
        "fee": cdr["total_fixed_cost"]["incl_vat"],
    }


# --- the driver's dashboard, read by its data functions and components at a pinned now --------


def _usage_text(s: Session, sid: str, now: datetime) -> str:
    """The usage section's total (``… kWh · €29.22 used in …``) for the month the session
    started in, as ``render_dashboard`` builds it: stored costs plus the cost so far."""
    settings = operator_settings(s)
    row = s.get(ChargingSession, sid)
    assert row is not None
    started, local_now = row.started_at.astimezone(settings.tz), now.astimezone(settings.tz)
    same_month = (started.year, started.month) == (local_now.year, local_now.month)
    period = period_bounds("current" if same_month else "previous", now, settings.tz)
    usage = account_usage(s, DRIVER, period)
    cost = usage.cost_with(live_costs(s, usage.in_progress, now))
    total = usage_total(usage.days, period, cost, settings.currency)
    (shown,) = with_class(as_json(total), "usage-total-cost")
    return text(shown).strip().removeprefix("·").strip()


def _recent_cost(s: Session, sid: str, now: datetime) -> str:
    (row,) = [r for r in recent_sessions(s, DRIVER, now) if r.session_id == sid]
    return session_cost_text(row)


def _after_the_stop(site: Site) -> datetime:
    return site.case.ended.astimezone(UTC) + timedelta(minutes=1)


def recent_activity(site: Site) -> Shown:
    with site.app.extensions["polaris_db"].session() as s:
        return {"total": _recent_cost(s, site.session_id, _after_the_stop(site))}


def usage_section(site: Site) -> Shown:
    with site.app.extensions["polaris_db"].session() as s:
        return {"total": _usage_text(s, site.session_id, _after_the_stop(site))}


# Every surface that shows a finished session's cost. The driver dashboard's recent sessions and
# its usage section's period cost go here (a reader calling the dashboard's render callback as
# Dana, or its data functions with a pinned ``now``).
FINISHED_SURFACES: dict[str, Callable[[Site], Shown]] = {
    "receipt (data)": receipt_data,
    "receipt page": receipt_page,
    "receipt PDF": receipt_pdf,
    "statement line": statement_line,
    "statement total": statement_total,
    "statement CSV": statement_csv,
    "statement PDF line": statement_pdf_line,
    "statement PDF total": statement_pdf_total,
    "admin sessions explorer cell": explorer_cell,
    "admin session detail": explorer_detail,
    "sessions.csv (admin)": sessions_csv(driver=False),
    "sessions.csv (the driver's own)": sessions_csv(driver=True),
    "export-data folder sessions.csv": export_data_folder,
    "usage-daily.csv cost_total": usage_csv("usage-daily", "day"),
    "usage-monthly.csv cost_total": usage_csv("usage-monthly", "month"),
    "cdrs.json": cdrs_json,
    "Recent activity": recent_activity,
    "usage section": usage_section,
}


# --- the surfaces of a session in progress, at a pinned now ------------------------------------


def live_cost_data(s: Session, sid: str, now: datetime) -> Shown:
    cost = live_cost(s, sid, now)
    assert cost is not None
    return parts_of(cost)


def live_costs_data(s: Session, sid: str, now: datetime) -> Shown:
    return parts_of(live_costs(s, [sid], now)[sid])


def live_explorer_cell(s: Session, sid: str, now: datetime) -> Shown:
    """The explorer's page as ``pages.admin_sessions.sessions_page`` builds it, at ``now``."""
    tz = operator_settings(s).tz
    # The explorer's default view at ``now``: the last 7 local days.
    rows = session_page(s, default_filter(now.astimezone(tz).date()), tz, 0, 100)
    live = live_costs(
        s, (r.session_id for r in rows if not r.finalized and not r.energy_disputed), now
    )
    (cell,) = [r["cost"] for r in session_grid_rows(rows, tz, now, live) if r["session"] == sid]
    assert cell.endswith(" so far"), cell
    return {"total": cell.removesuffix(" so far")}


def live_explorer_detail(s: Session, sid: str, now: datetime) -> Shown:
    tree = as_json(session_detail_panel(session_detail(s, sid, now), operator_settings(s).tz, now))
    assert "Cost so far" in json.dumps(tree)
    return _detail_money(tree)


def live_banner(s: Session, sid: str, now: datetime) -> Shown:
    """The Active session banner's ``€4.83 so far`` (``active_session`` reads its cost)."""
    active = active_session(s, DRIVER, now)
    assert active is not None and active.session_id == sid
    shown = cost_so_far_text(active.cost)
    assert shown.endswith(" so far"), shown
    return {"total": shown.removesuffix(" so far")}


def live_recent_activity(s: Session, sid: str, now: datetime) -> Shown:
    shown = _recent_cost(s, sid, now)
    assert shown.endswith(" so far"), shown
    return {"total": shown.removesuffix(" so far")}


def live_usage_section(s: Session, sid: str, now: datetime) -> Shown:
    return {"total": _usage_text(s, sid, now)}


# What shows a session in progress's cost. The driver's banner (cost so far) goes here: a reader
# calling its data function and component with ``now``.
LIVE_SURFACES: dict[str, Callable[[Session, str, datetime], Shown]] = {
    "live_cost": live_cost_data,
    "live_costs (batch)": live_costs_data,
    "admin sessions explorer cell, so far": live_explorer_cell,
    "admin session detail, so far": live_explorer_detail,
    "Active session banner": live_banner,
    "Recent activity, so far": live_recent_activity,
    "usage section, so far": live_usage_section,
}


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_rule_by_hand_gives_the_figures_worked_out_on_paper(case: Case):
    seconds = (case.ended.astimezone(UTC) - case.started.astimezone(UTC)).total_seconds()
    assert seconds == case.real_seconds
    assert by_the_spec(case) == {part: Decimal(v) for part, v in case.expected.items()}
    assert format_money(by_the_spec(case)["total"], case.prices.currency) == case.total_text


def test_the_sessions_span_what_they_claim_to():
    # Berlin: starts in summer time (UTC+2), ends in winter time (UTC+1); the wall clock moved
    # an hour less than the time that passed.
    offsets = (EUR_CASE.started.utcoffset(), EUR_CASE.ended.utcoffset())
    assert offsets == (timedelta(hours=2), timedelta(hours=1))
    wall = EUR_CASE.ended.replace(tzinfo=None) - EUR_CASE.started.replace(tzinfo=None)
    assert wall.total_seconds() == EUR_CASE.real_seconds - 3600
    # Tokyo: starts on the last day of one month, ends on the first of the next.
    assert (JPY_CASE.started.day, JPY_CASE.ended.day) == (30, 1)


def test_stopping_stores_the_rules_cost_which_is_what_it_cost_so_far_then(site: Site):
    assert site.stopped is not None
    assert parts_of(site.stopped) == by_the_spec(site.case)
    assert site.stopped.currency == site.case.prices.currency
    # At the moment it stopped, with the same energy, the session in progress cost as much:
    # every part, the tariff version and the currency.
    assert site.live_cost == site.stopped
    assert set(site.live) == set(LIVE_SURFACES)
    assert disagreements(site.live, site.case) == {}
    assert site.live["admin sessions explorer cell, so far"] == {"total": site.case.total_text}


def test_every_surface_shows_the_same_cost(site: Site):
    shown = {name: read(site) for name, read in FINISHED_SURFACES.items()}
    assert disagreements(shown, site.case) == {}, json.dumps(shown, default=str, indent=1)
    texts = [v["total"] for v in shown.values() if isinstance(v["total"], str)]
    assert texts and set(texts) == {site.case.total_text}
