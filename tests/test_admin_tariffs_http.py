"""/admin/tariffs and the sessions explorer's costs over HTTP, the way the renderer calls them:
every tariffs callback refuses a customer (403) and an anonymous caller (401) and checks the
role itself; a refused field says why beside it (a negative price, a past date that would
re-price a session, another currency) and nothing is written; an admin creates a tariff,
schedules a version, sets the default and a plan's tariff. The explorer shows each session's
cost, the same in its CSV export, and the new one once an admin corrects a session's energy."""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden, Unauthorized

from components.energy import ENERGY_CORRECT_TYPE, ENERGY_STORE, ENERGY_VALUE_TYPE
from components.history import SESSIONS_COUNT_TYPE, SESSIONS_GRID_TYPE, SESSIONS_TOTALS_TYPE
from data.core.models import Account, ChargingSession, Operator, Plan, Role, TariffVersion
from data.pricing.tariffs import create_tariff_version, price_session, set_default_tariff
from data.pricing.tariffs import set_plan_tariff as assign_plan
from tests.support.audit import AT, CLI
from tests.support.callbacks import answer, call_page, each, first_click, page_callbacks
from tests.support.factories import make_charger, make_operator, make_plan, make_session
from tests.support.web import add_person, client_for, make_app, rows_of

OLGA, ALICE = "olga@example.com", "alice@example.com"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
SINCE = NOW - timedelta(days=30)  # STD's version, in force
PRICED_AT = NOW - timedelta(days=2)  # alice's session, priced by STD
HOUR = timedelta(hours=1)
MODULES = ("pages.admin_tariffs",)
VIEW = f"?from={(NOW - timedelta(days=5)).astimezone(BERLIN).date()}"


def _local(moment: datetime) -> str:
    return moment.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """Operator (EUR, Berlin); tariff STD (0.40/kWh + 0.50 a session) on plan-std, ADHOC
    (0.70/kWh) the default; alice (plan-std) has a priced session ("done", 10 kWh) and one in
    progress ("live", 4 kWh); olga is an admin."""
    path = tmp_path_factory.mktemp("tariffs-http") / "tariffs.db"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}")
    add_person(app, OLGA, ("acc-ops", Role.admin, "Operations"))
    add_person(app, ALICE, ("acc-alice", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, name="Operator", timezone="Europe/Berlin", currency="EUR")
        for tariff_id, name, energy in (("STD", "Standard", "0.40"), ("ADHOC", "Ad hoc", "0.70")):
            create_tariff_version(
                s, tariff_id=tariff_id, valid_from=SINCE, name=name,
                energy_price_per_kwh=energy, session_fee="0.50", vat_percent="19",
            )  # fmt: skip
        make_plan(s, plan_id="plan-std", name="Standard plan")
        make_plan(s, plan_id="plan-free", name="Free plan")
        assign_plan(s, "plan-std", "STD", actor=CLI, now=AT)
        set_default_tariff(s, "ADHOC", actor=CLI, now=AT)
        s.get(Account, "acc-alice").plan_id = "plan-std"
        make_charger(s, charger_id="PX-1", friendly_name="Marktplatz 1", max_power_kw="22")
        make_session(s, "acc-alice", "PX-1", session_id="done", started_at=PRICED_AT,
                     ended_at=PRICED_AT + HOUR, energy_kwh="10")  # fmt: skip
        price_session(s, "done")
        make_session(s, "acc-alice", "PX-1", session_id="live", started_at=NOW - HOUR,
                     energy_kwh="4")  # fmt: skip
    app.extensions["polaris_db"].engine.dispose()
    return path


@pytest.fixture
def app(app_factory, template: Path) -> Flask:
    return app_factory(copy_of=template, PROPAGATE_EXCEPTIONS=False)


@pytest.fixture
def olga(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for(OLGA)


@pytest.fixture
def alice(client_for: Callable[[str], FlaskClient]) -> FlaskClient:
    return client_for(ALICE)


# --- calling callbacks the way the renderer does -------------------------------------------------

call = partial(call_page, modules=MODULES)


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- who may call --------------------------------------------------------------------------------


def test_the_page_has_its_callbacks_all_with_admin_outputs(app: Flask):
    callbacks = page_callbacks(app, MODULES)
    assert sorted(callbacks) == [
        "open_form", "save_default", "save_plan_tariff", "save_tariff", "show_tariffs",
    ]  # fmt: skip
    for name, (_key, entry) in callbacks.items():
        outputs = entry["output"] if isinstance(entry["output"], list) else [entry["output"]]
        for output in outputs:
            ident = output.component_id
            names = list(ident.values()) if isinstance(ident, dict) else [ident]
            assert any(str(n).startswith("admin-") for n in names), (name, ident)


def test_the_page_itself_is_for_admins(app: Flask, olga: FlaskClient, alice: FlaskClient):
    assert olga.get("/admin/tariffs").status_code == 200
    assert alice.get("/admin/tariffs").status_code == 403
    anonymous = client_for(app, None).get("/admin/tariffs")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_customer_gets_403_and_an_anonymous_caller_401_from_every_callback(app, alice):
    anonymous = client_for(app, None)
    for name, (_key, entry) in page_callbacks(app, MODULES).items():
        values = first_click(entry)
        refused = call(alice, app, name, values)
        assert refused.status_code == 403, (name, refused.status_code)
        assert "Standard" not in refused.get_data(as_text=True)
        assert call(anonymous, app, name, values).status_code == 401, name


def test_the_same_requests_are_answered_for_an_admin(app, olga):
    for name, (_key, entry) in page_callbacks(app, MODULES).items():
        response = call(olga, app, name, first_click(entry))
        assert response.status_code in (200, 204), (name, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("show_tariffs", (0,)),
        ("open_form", (1, [], None)),
        ("save_tariff", (1, None, "Cheap", "", _local(NOW), "", "0.1", "", "", "", "", "", 0)),
        ("save_default", (1, "-", 0)),
        ("save_plan_tariff", ([1], ["-"], 0)),
    ],
)
def test_each_function_checks_the_role_itself(app, alice, name: str, args: tuple[Any, ...]):
    """Without the central gate, ``admin_only`` still refuses (defence in depth)."""
    module = importlib.import_module("pages.admin_tariffs")  # loaded when the app was built
    anonymous = app.test_client()
    with anonymous:
        anonymous.get("/login")
        with pytest.raises(Unauthorized):
            getattr(module, name)(*args)
    with alice:
        alice.get("/switch")
        with pytest.raises(Forbidden):
            getattr(module, name)(*args)


def _state(app: Flask) -> tuple[Any, ...]:
    with app.extensions["polaris_db"].session() as s:
        versions = s.execute(
            select(TariffVersion.tariff_id, TariffVersion.valid_from).order_by(
                TariffVersion.tariff_id, TariffVersion.valid_from
            )
        ).all()
        plans = s.execute(select(Plan.id, Plan.tariff_id).order_by(Plan.id)).all()
        default = s.scalar(select(Operator.default_tariff_id))
    return versions, plans, default


def test_a_customer_forging_the_writes_changes_nothing(app, alice):
    before = _state(app)
    forged = [
        ("save_tariff", {"admin-tariff-save.n_clicks": 1, "admin-tariff-name.value": "Free",
                         "admin-tariff-valid-from.value": _local(NOW)}),
        ("save_default", {"admin-tariff-default-save.n_clicks": 1,
                          "admin-tariff-default.value": "-"}),
        ("save_plan_tariff", {
            "admin-plan-tariff-save.n_clicks": each("admin-plan-tariff-save", "plan",
                                                    {"plan-std": 1}),
            "admin-plan-tariff.value": each("admin-plan-tariff", "plan", {"plan-std": "-"}),
        }),
    ]  # fmt: skip
    for name, values in forged:
        changed = (
            ({"plan": "plan-std", "type": "admin-plan-tariff-save"}, "n_clicks")
            if name == "save_plan_tariff"
            else None
        )
        assert call(alice, app, name, values, changed).status_code == 403, name
    assert _state(app) == before


ODD_VALUES: list[Any] = [
    None, True, -1, 10**30, 1e308, "x" * 5_000, "2026-03-29T02:30", "-", [], [["STD"]],
    {"tariff": {"nested": 1}}, {"startRow": "0"},
]  # fmt: skip


def test_the_callbacks_never_fail_on_odd_values(app, olga):
    """Any JSON in any input or state: an answer or a 4xx, never a 500, nothing written."""
    before = _state(app)
    failures = []
    for name, (_key, entry) in page_callbacks(app, MODULES).items():
        deps = [("inputs", i) for i in range(len(entry["inputs"]))]
        deps += [("state", i) for i in range(len(entry["state"]))]
        for where, index in deps:
            for odd in ODD_VALUES:
                values = first_click(entry)
                dep = entry[where][index]
                if dep["id"].startswith("{"):
                    pattern = json.loads(dep["id"])
                    ident = {k: "x" if isinstance(v, list) else v for k, v in pattern.items()}
                    values[f"{pattern['type']}.{dep['property']}"] = [(ident, odd)]
                else:
                    values[f"{dep['id']}.{dep['property']}"] = odd
                response = call(olga, app, name, values)
                if response.status_code >= 500:
                    failures.append((name, where, index, repr(odd)[:40]))
    assert failures == []
    versions, plans, _default = _state(app)
    assert (versions, plans) == before[:2]  # the defaults may change: None is "no default"


# --- the tariffs' dialog -------------------------------------------------------------------------


FORM = {
    "name": "admin-tariff-name",
    "tariff_id": "admin-tariff-id",
    "valid_from": "admin-tariff-valid-from",
    "currency": "admin-tariff-currency",
    "energy": "admin-tariff-energy",
    "dc": "admin-tariff-dc-energy",
    "fee": "admin-tariff-fee",
    "time": "admin-tariff-time",
    "free": "admin-tariff-free-minutes",
    "vat": "admin-tariff-vat",
}


def _save(client, app, editing: str | None = None, **fields: Any) -> dict[str, Any]:
    values = {"admin-tariff-save.n_clicks": 1, "admin-tariff-editing.data": editing,
              "admin-tariffs-version.data": 3}  # fmt: skip
    values.update({f"{FORM[k]}.value": v for k, v in fields.items()})
    return answer(call(client, app, "save_tariff", values))


def _errors(out: dict[str, Any]) -> dict[str, str]:
    """The message beside each field that has one."""
    return {
        field: out[f"{ident}-error"]["children"]
        for field, ident in FORM.items()
        if out[f"{ident}-error"]["children"]
    }


def test_a_negative_price_another_currency_and_a_past_date_are_refused_beside_each_field(app, olga):
    before = _state(app)
    out = _save(
        olga, app, "STD", name="Standard", valid_from=_local(PRICED_AT - HOUR),
        currency="USD", energy="-0.30", vat="19",
    )  # fmt: skip
    errors = _errors(out)
    assert errors["energy"] == "The energy price cannot be negative."
    assert errors["currency"] == "Tariffs are in the operator's currency, EUR."
    assert errors["valid_from"].startswith("This version would re-price session done (started")
    assert set(errors) == {"energy", "currency", "valid_from"}
    assert out["admin-tariff-energy"]["invalid"] is True
    assert out["admin-tariff-valid-from"]["invalid"] is True
    assert out["admin-tariff-name"]["invalid"] is False
    assert "Nothing was saved" in text(out["admin-tariff-form-feedback"]["children"])
    assert "admin-tariff-modal" not in out  # the dialog stays open
    assert "admin-tariffs-version" not in out
    assert _state(app) == before


def test_a_date_that_is_not_one_or_does_not_exist_is_refused(app, olga):
    assert (
        "not a date and time" in _errors(_save(olga, app, "STD", valid_from="soon"))["valid_from"]
    )
    # 02:30 on the morning clocks go forward in Berlin does not exist.
    gap = _errors(_save(olga, app, "STD", valid_from="2027-03-28T02:30"))["valid_from"]
    assert "does not exist in Europe/Berlin" in gap
    assert "Enter the start" in _errors(_save(olga, app, None, name="X"))["valid_from"]


def test_an_admin_creates_a_tariff_and_schedules_a_version(app, olga):
    out = _save(olga, app, None, name="Night owl", valid_from=_local(NOW), energy="0.25",
                fee="0", time="1.20", free="240", vat="19")  # fmt: skip
    assert "Tariff Night owl (TARIFF-NIGHT-OWL) created" in text(out["admin-tariffs-feedback"])
    assert out["admin-tariff-modal"]["is_open"] is False
    assert out["admin-tariffs-version"]["data"] == 4
    assert _errors(out) == {}

    opened = answer(
        call(olga, app, "open_form",
             {"admin-tariff-schedule.n_clicks": each("admin-tariff-schedule", "tariff",
                                                     {"STD": 0, "TARIFF-NIGHT-OWL": 1})},
             ({"tariff": "TARIFF-NIGHT-OWL", "type": "admin-tariff-schedule"}, "n_clicks"))
    )  # fmt: skip
    assert opened["admin-tariff-modal"]["is_open"] is True
    assert opened["admin-tariff-form-title"]["children"] == "New version of Night owl"
    assert opened["admin-tariff-id"] == {
        "value": "TARIFF-NIGHT-OWL", "disabled": True, "invalid": False,
    }  # fmt: skip
    assert opened["admin-tariff-energy"]["value"] == "0.25"
    assert opened["admin-tariff-free-minutes"]["value"] == "240"
    assert opened["admin-tariff-valid-from"]["value"].endswith("-01T00:00")  # next month
    assert "Europe/Berlin" in opened["admin-tariff-tz"]["children"]

    start = (NOW + timedelta(days=40)).astimezone(BERLIN).replace(hour=0, minute=0)
    out = _save(olga, app, "TARIFF-NIGHT-OWL", name="Night owl", valid_from=_local(start),
                energy="0.29", vat="19")  # fmt: skip
    assert "New version of Night owl (TARIFF-NIGHT-OWL) scheduled" in text(
        out["admin-tariffs-feedback"]
    )
    with app.extensions["polaris_db"].session() as s:
        versions = s.scalars(
            select(TariffVersion).where(TariffVersion.tariff_id == "TARIFF-NIGHT-OWL")
            .order_by(TariffVersion.valid_from)
        ).all()  # fmt: skip
        assert [(v.valid_from, v.energy_price_per_kwh) for v in versions] == [
            (datetime.fromisoformat(_local(NOW)).replace(tzinfo=BERLIN), Decimal("0.2500")),
            (start, Decimal("0.2900")),
        ]
    listed = text(answer(call(olga, app, "show_tariffs", {"admin-tariffs-version.data": 5})))
    assert "Night owl" in listed and "Scheduled" in listed and "€0.29" in listed
    assert "Nothing priced yet" in listed and "Priced sessions: locked" in listed  # STD's


def test_new_opens_an_empty_dialog_and_cancel_closes_it(app, olga):
    out = answer(call(olga, app, "open_form", {"admin-tariff-new.n_clicks": 1}))
    assert out["admin-tariff-modal"]["is_open"] is True
    assert out["admin-tariff-id"] == {"value": "", "disabled": False, "invalid": False}
    assert out["admin-tariff-save"]["children"] == "Create tariff"
    closed = answer(
        call(olga, app, "open_form", {"admin-tariff-cancel.n_clicks": 1},
             ("admin-tariff-cancel", "n_clicks"))
    )  # fmt: skip
    assert closed["admin-tariff-modal"]["is_open"] is False


def test_the_list_shows_versions_plans_and_the_default(app, olga):
    out = answer(call(olga, app, "show_tariffs", {"admin-tariffs-version.data": 0}))
    listed = text(out["admin-tariffs-list"]["children"])
    assert "Standard" in listed and "€0.40" in listed and "Prices plan Standard plan." in listed
    assert "Priced sessions: locked" in listed  # STD priced "done"
    assert out["admin-tariff-default"]["value"] == "ADHOC"
    plans = text(out["admin-tariff-plans"]["children"])
    assert '"value": "STD"' in plans and "Free plan" in plans


def test_an_admin_sets_the_default_and_a_plans_tariff(app, olga):
    saving = {"admin-tariff-default-save.n_clicks": 1, "admin-tariff-default.value": "STD"}
    out = answer(call(olga, app, "save_default", saving))
    assert "The default tariff is now Standard (STD)." in text(out["admin-tariff-assign-feedback"])
    saving["admin-tariff-default.value"] = "GHOST"
    ghost = answer(call(olga, app, "save_default", saving))
    assert ghost["admin-tariff-default-error"]["children"] == "There is no tariff GHOST."
    out = answer(
        call(olga, app, "save_plan_tariff",
             {"admin-plan-tariff-save.n_clicks": each("admin-plan-tariff-save", "plan",
                                                      {"plan-std": 1, "plan-free": 0}),
              "admin-plan-tariff.value": each("admin-plan-tariff", "plan",
                                              {"plan-std": "-", "plan-free": "ADHOC"})},
             ({"plan": "plan-std", "type": "admin-plan-tariff-save"}, "n_clicks"))
    )  # fmt: skip
    assert "Plan Standard plan is now priced by the default tariff" in text(out)
    _versions, plans, default = _state(app)
    assert default == "STD" and dict(plans) == {"plan-free": None, "plan-std": None}


# --- the sessions explorer's costs ---------------------------------------------------------------


GRID = {"type": SESSIONS_GRID_TYPE, "view": VIEW, "n": "k1"}


def _grid_answer(client: FlaskClient, app: Flask) -> dict[str, Any]:
    """The explorer's first block of rows for VIEW, with its totals."""
    request = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    values = {
        f"{SESSIONS_GRID_TYPE}.getRowsRequest": [(GRID, request)],
        f"{SESSIONS_COUNT_TYPE}.data": [({**GRID, "type": SESSIONS_COUNT_TYPE}, None)],
    }
    sessions = ("pages.admin_sessions",)
    return answer(call(client, app, "sessions_page", values, (GRID, "getRowsRequest"),
                       modules=sessions, match={"view": VIEW, "n": "k1"}))  # fmt: skip


def _grid_rows(client: FlaskClient, app: Flask) -> dict[str, dict[str, str]]:
    out = _grid_answer(client, app)
    grid = next(v for k, v in out.items() if SESSIONS_GRID_TYPE in k)["getRowsResponse"]
    return {r["session"]: r for r in grid["rowData"]}


def _detail(client: FlaskClient, app: Flask, session_id: str):
    values = {f"{SESSIONS_GRID_TYPE}.selectedRows": [(GRID, [{"session": session_id}])]}
    return call(client, app, "show_session", values, (GRID, "selectedRows"),
                modules=("pages.admin_sessions",))  # fmt: skip


def _detail_text(client: FlaskClient, app: Flask, session_id: str) -> str:
    return text(answer(_detail(client, app, session_id))["admin-sessions-detail"]["children"])


def test_the_explorer_shows_each_sessions_cost_and_its_csv_the_same(app, olga):
    rows = _grid_rows(olga, app)
    assert rows["done"]["cost"] == "€4.50"  # 10 kWh x 0.40 + 0.50
    assert rows["live"]["cost"] == "€2.10 so far"  # 4 kWh x 0.40 + 0.50
    detail = _detail_text(olga, app, "done")
    for part in ("Energy", "€4.00", "Session fee", "€0.50", "of which VAT", "€0.72"):
        assert part in detail, part
    assert "Tariff Standard (STD)" in detail
    assert "Cost so far" in _detail_text(olga, app, "live")
    exported = {r["session_id"]: r for r in rows_of(
        olga.get(f"/export/sessions.csv{VIEW}").get_data(as_text=True)
    )}  # fmt: skip
    done = exported["done"]
    assert (done["tariff_id"], done["currency"]) == ("STD", "EUR")
    money = {c: Decimal(done[c]) for c in ("cost_energy", "cost_time", "cost_fee", "cost_total")}
    assert money == {"cost_energy": Decimal("4"), "cost_time": 0, "cost_fee": Decimal("0.5"),
                     "cost_total": Decimal("4.5")}  # fmt: skip
    assert Decimal(done["vat_amount"]) == Decimal("0.72")
    assert exported["live"]["cost_total"] == ""  # in progress: no stored cost yet


def test_the_explorer_totals_add_the_stored_costs_for_an_admin_only(app, olga, alice):
    out = _grid_answer(olga, app)
    totals = next(v for k, v in out.items() if SESSIONS_TOTALS_TYPE in k)["children"]
    # "done" is stored at €4.50; "live" has no stored cost while in progress.
    assert totals == "2 sessions · 14.0 kWh · €4.50"
    refused = call(alice, app, "sessions_page",
                   {f"{SESSIONS_GRID_TYPE}.getRowsRequest": [(GRID, {"startRow": 0, "endRow": 9})],
                    f"{SESSIONS_COUNT_TYPE}.data": [({**GRID, "type": SESSIONS_COUNT_TYPE}, None)]},
                   (GRID, "getRowsRequest"), modules=("pages.admin_sessions",),
                   match={"view": VIEW, "n": "k1"})  # fmt: skip
    assert refused.status_code == 403 and "€" not in refused.get_data(as_text=True)


def test_the_detail_of_a_session_is_read_again_for_an_admin_only(app, olga, alice):
    assert "Choose a session" in _detail_text(olga, app, "no-such-session")
    refused = _detail(alice, app, "done")
    assert refused.status_code == 403 and "€" not in refused.get_data(as_text=True)


def test_after_an_energy_correction_the_explorer_shows_the_new_cost_and_who_made_it(app, olga):
    start = NOW - timedelta(days=1)
    with app.extensions["polaris_db"].session() as s:
        make_session(s, "acc-alice", "PX-1", session_id="odd", started_at=start,
                     ended_at=start + HOUR, energy_kwh="3")  # fmt: skip
        row = s.get(ChargingSession, "odd")
        row.energy_disputed_at, row.energy_disputed_kwh = start + HOUR, Decimal("9000")
    assert _grid_rows(olga, app)["odd"]["cost"] == "—"  # disputed: no cost yet
    assert "settles its disputed energy" in _detail_text(olga, app, "odd")

    pressed = {"session": "odd", "type": ENERGY_CORRECT_TYPE}
    out = answer(
        call(olga, app, "resolve_energy",
             {f"{ENERGY_CORRECT_TYPE}.n_clicks": each(ENERGY_CORRECT_TYPE, "session", {"odd": 1}),
              f"{ENERGY_VALUE_TYPE}.value": each(ENERGY_VALUE_TYPE, "session", {"odd": "20"}),
              f"{ENERGY_STORE}.data": 0},
             (pressed, "n_clicks"), modules=("pages._energy",))
    )  # fmt: skip
    feedback = text(out["admin-energy-feedback"])
    assert "energy corrected to 20.000 kWh" in feedback and "costs €8.50 now" in feedback
    assert _grid_rows(olga, app)["odd"]["cost"] == "€8.50"  # 20 x 0.40 + 0.50
    detail = _detail_text(olga, app, "odd")
    assert "€8.00" in detail and "€8.50" in detail
    assert "Energy set to 20.000 kWh by Olga (acc-ops)" in detail
    assert "The charger had reported 9,000.000 kWh" in detail
    with app.extensions["polaris_db"].session() as s:
        row = s.get(ChargingSession, "odd")
        assert (row.energy_resolved_by, row.cost_total) == ("acc-ops", Decimal("8.50"))
        assert s.scalar(select(func.count()).select_from(ChargingSession)) == 3
