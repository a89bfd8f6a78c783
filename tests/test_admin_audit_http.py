"""/admin/audit and /export/audit.csv over HTTP: only an admin account reads the log (a customer
gets 403, an anonymous caller 401, from the page, every callback and the CSV; each callback checks
the role itself); the entries name the person signed in and their active account from the
server session when an admin acts on a page, the token's person through the API, and ``cli`` on
the command line; the page filters, pages and shows an entry before and after; the CSV holds
exactly the filtered entries, spreadsheet-safe."""

from __future__ import annotations

import importlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, Unauthorized

from components.audit import (
    ACTION_ID,
    ANY_ACTION,
    DETAIL_ID,
    FROM_ID,
    GRID_TYPE,
    SUBJECT_ID,
    TO_ID,
    USER_ID,
)
from components.charger import (
    CHARGER_ACCESS_STORE,
    CHARGER_ACCOUNT_PICK_ID,
    CHARGER_GRANT_ID,
    CHARGER_ID_STORE,
    CHARGER_NAME_ID,
    CHARGER_SAVE_ID,
    CHARGER_SAVED_STORE,
    CHARGER_VISIBILITY_ID,
)
from data.accounts.tokens import COMMANDS_SCOPE, EXPORT_SCOPE, create_token
from data.audit.entries import Action, Actor, record
from data.core.models import AuditEntry, Role, User, Visibility
from tests.support.audit import CLI
from tests.support.callbacks import answer, call_page, first_click, page_callbacks
from tests.support.factories import make_charger, make_operator
from tests.support.web import add_person, client_for, make_app, rows_of

OLGA, ALICE = "olga@example.com", "alice@example.com"
MODULES = ("pages.admin_audit",)
call = partial(call_page, modules=MODULES)
NOW = datetime.now(UTC).replace(microsecond=0)
SECRET_DETAIL = "Alice-only-secret-marker"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """Operator (Berlin); Olga's admin account acc-ops, Alice's customer account acc-alice;
    chargers PX-1 (public) and PX-R (restricted); one entry by someone else, recognisable."""
    path = tmp_path_factory.mktemp("audit-http") / "audit.db"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}")
    add_person(app, OLGA, ("acc-ops", Role.admin, "Operations"))
    add_person(app, ALICE, ("acc-alice", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s, name="Operator", timezone="Europe/Berlin", currency="EUR")
        make_charger(s, charger_id="PX-1", friendly_name="Marktplatz 1")
        make_charger(s, charger_id="PX-R", friendly_name="Depot", visibility=Visibility.restricted)
        record(
            s, Actor("ops2@example.com", None, "acc-ops-2"), NOW - timedelta(days=3),
            Action.plan_created, "plan", "=SUM(A1)", after={"name": "Old"}, detail=SECRET_DETAIL,
        )  # fmt: skip
    app.extensions["polaris_db"].engine.dispose()
    return path


@pytest.fixture
def app(app_factory, template: Path) -> Flask:
    return app_factory(copy_of=template, PROPAGATE_EXCEPTIONS=False)


@pytest.fixture
def olga(client_for) -> FlaskClient:
    return client_for(OLGA)


@pytest.fixture
def alice(client_for) -> FlaskClient:
    return client_for(ALICE)


def _entries(app: Flask) -> list[AuditEntry]:
    with app.extensions["polaris_db"].session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _olga_id(app: Flask) -> int:
    with app.extensions["polaris_db"].session() as s:
        found = s.scalar(select(User.id).where(User.email == OLGA))
    assert found is not None
    return found


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- who may read the log ----------------------------------------------------------------------


def test_the_page_has_its_callbacks_all_with_admin_outputs(app: Flask):
    callbacks = page_callbacks(app, MODULES)
    assert sorted(callbacks) == ["audit_rows", "show_entry", "show_view"]
    for name, (_key, entry) in callbacks.items():
        outputs = entry["output"] if isinstance(entry["output"], list) else [entry["output"]]
        for output in outputs:
            ident = output.component_id
            names = list(ident.values()) if isinstance(ident, dict) else [ident]
            assert any(str(n).startswith("admin-") for n in names), (name, ident)


def test_the_page_itself_is_for_admins(app: Flask, olga: FlaskClient, alice: FlaskClient):
    page = olga.get("/admin/audit")
    assert page.status_code == 200
    assert alice.get("/admin/audit").status_code == 403
    anonymous = client_for(app, None).get("/admin/audit")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


GRID = {"type": GRID_TYPE, "view": "?", "n": "k1"}
ROWS = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
READS = {
    "show_view": {f"{USER_ID}.value": ""},
    "audit_rows": {f"{GRID_TYPE}.getRowsRequest": [(GRID, ROWS)]},
    "show_entry": {f"{GRID_TYPE}.selectedRows": [(GRID, [{"entry": 1}])]},
}
CHANGED = {"audit_rows": (GRID, "getRowsRequest"), "show_entry": (GRID, "selectedRows")}


def _read(client: FlaskClient, app: Flask, name: str, values: dict[str, Any] | None = None):
    match = {"view": GRID["view"], "n": "k1"} if name == "audit_rows" else None
    return call(client, app, name, values or READS[name], CHANGED.get(name), match=match)


def test_a_customer_gets_403_and_an_anonymous_caller_401_from_every_callback(app, alice, olga):
    anonymous = client_for(app, None)
    for name in READS:
        for client, status in ((alice, 403), (anonymous, 401)):
            refused = _read(client, app, name)
            assert refused.status_code == status, (name, refused.status_code)
            assert SECRET_DETAIL not in refused.get_data(as_text=True)
            assert "ops2@example.com" not in refused.get_data(as_text=True)
    # The same requests from an admin read the entry.
    assert SECRET_DETAIL in text(answer(_read(olga, app, "audit_rows")))
    assert SECRET_DETAIL in text(answer(_read(olga, app, "show_entry")))


@pytest.mark.parametrize(
    ("name", "args"),
    [("show_view", ("", "", "", "", "")), ("audit_rows", (ROWS,)), ("show_entry", ([],))],
)
def test_each_function_checks_the_role_itself(app, alice, name: str, args: tuple[Any, ...]):
    """Without the central gate, ``admin_only`` still refuses (defence in depth)."""
    module = importlib.import_module("pages.admin_audit")  # loaded when the app was built
    anonymous = app.test_client()
    with anonymous:
        anonymous.get("/login")
        with pytest.raises(Unauthorized):
            getattr(module, name)(*args)
    with alice:
        alice.get("/switch")
        with pytest.raises(Forbidden):
            getattr(module, name)(*args)


def test_the_csv_is_for_admins_only(app: Flask, olga: FlaskClient, alice: FlaskClient):
    assert client_for(app, None).get("/export/audit.csv").status_code == 401
    refused = alice.get("/export/audit.csv")
    assert refused.status_code == 403 and SECRET_DETAIL not in refused.get_data(as_text=True)
    with app.extensions["polaris_db"].session() as s:
        export = create_token(s, OLGA, NOW, scopes=[EXPORT_SCOPE], actor=CLI).secret
        commands = create_token(s, ALICE, NOW, scopes=[COMMANDS_SCOPE], actor=CLI).secret
    script = app.test_client(use_cookies=False)
    by_token = script.get("/export/audit.csv", headers={"Authorization": f"Bearer {export}"})
    assert by_token.status_code == 200 and SECRET_DETAIL in by_token.get_data(as_text=True)
    driver = script.get("/export/audit.csv", headers={"Authorization": f"Bearer {commands}"})
    assert driver.status_code == 401 and SECRET_DETAIL not in driver.get_data(as_text=True)
    assert olga.get("/export/audit.csv").status_code == 200


# --- who is recorded ---------------------------------------------------------------------------


def _charger_page(client: FlaskClient, app: Flask, name: str, values: dict[str, Any], changed):
    return call_page(client, app, name, values, changed, modules=("pages.admin_charger",))


def test_page_actions_are_recorded_as_the_admin_signed_in(app: Flask, olga: FlaskClient):
    renamed = _charger_page(
        olga, app, "save_settings",
        {f"{CHARGER_SAVE_ID}.n_clicks": 1, f"{CHARGER_ID_STORE}.data": "PX-1",
         f"{CHARGER_NAME_ID}.value": "Marktplatz Nord", f"{CHARGER_VISIBILITY_ID}.value": "public",
         f"{CHARGER_SAVED_STORE}.data": 0},
        (CHARGER_SAVE_ID, "n_clicks"),
    )  # fmt: skip
    assert "Saved" in text(answer(renamed))
    granted = _charger_page(
        olga, app, "change_access",
        {f"{CHARGER_GRANT_ID}.n_clicks": 1, f"{CHARGER_ID_STORE}.data": "PX-R",
         f"{CHARGER_ACCOUNT_PICK_ID}.value": "acc-alice", f"{CHARGER_ACCESS_STORE}.data": 0},
        (CHARGER_GRANT_ID, "n_clicks"),
    )  # fmt: skip
    assert "may now see this charger" in text(answer(granted))
    new = _entries(app)[1:]
    assert [(e.user, e.user_id, e.account_id, e.action, e.subject_id) for e in new] == [
        (OLGA, _olga_id(app), "acc-ops", "charger.updated", "PX-1"),
        (OLGA, _olga_id(app), "acc-ops", "charger.granted", "PX-R"),
    ]
    assert json.loads(new[0].before or "") == {"friendly_name": "Marktplatz 1"}
    assert json.loads(new[1].after or "") == {"account_id": "acc-alice"}


def test_a_customer_forging_an_admin_write_records_nothing(app: Flask, alice: FlaskClient):
    forged = _charger_page(
        alice, app, "save_settings",
        {f"{CHARGER_SAVE_ID}.n_clicks": 1, f"{CHARGER_ID_STORE}.data": "PX-1",
         f"{CHARGER_NAME_ID}.value": "Mine", f"{CHARGER_VISIBILITY_ID}.value": "public"},
        (CHARGER_SAVE_ID, "n_clicks"),
    )  # fmt: skip
    assert forged.status_code == 403
    assert len(_entries(app)) == 1


def test_the_api_records_the_tokens_person_and_the_command_line_records_cli(
    app: Flask, tmp_path: Path
):
    with app.extensions["polaris_db"].session() as s:
        secret = create_token(s, OLGA, NOW, scopes=[COMMANDS_SCOPE], actor=CLI).secret
    asked = app.test_client(use_cookies=False).post(
        "/api/v1/chargers/PX-1/commands",
        json={"action": "Reset", "params": {"type": "Soft"}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert asked.status_code == 202, asked.get_data(as_text=True)
    runner = app.test_cli_runner()
    made = runner.invoke(args=["create-token", OLGA, "--name", "nightly"])
    assert made.exit_code == 0, made.output
    token_id = next(e.subject_id for e in _entries(app) if e.action == "token.created")
    assert runner.invoke(args=["revoke-token", token_id]).exit_code == 0
    assert runner.invoke(args=["charger-command", "PX-1", "ClearCache"]).exit_code == 0
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "plans.csv").write_text("plan_id,name,allowance_kwh,currency\np9,Nine,10,EUR\n")
    assert runner.invoke(args=["import-data", str(folder)]).exit_code == 0
    new = [(e.user, e.user_id, e.account_id, e.action) for e in _entries(app)[1:]]
    assert new == [
        ("cli", None, None, "token.created"),  # the test's own token, made as the CLI would
        (OLGA, _olga_id(app), "acc-ops", "command.requested"),
        ("cli", None, None, "token.created"),
        ("cli", None, None, "token.revoked"),
        ("cli", None, None, "command.requested"),
        ("cli", None, None, "import.loaded"),
    ]
    assert _entries(app)[-1].subject_id == str(folder)


# --- reading the log on the page ---------------------------------------------------------------


def _view(client: FlaskClient, app: Flask, **filters: str) -> dict[str, Any]:
    ids = {"user": USER_ID, "action": ACTION_ID, "subject": SUBJECT_ID, "from": FROM_ID,
           "to": TO_ID}  # fmt: skip
    values = {f"{ids[k]}.value": filters.get(k, "") for k in ids}
    values[f"{ACTION_ID}.value"] = filters.get("action", ANY_ACTION)
    return answer(call(client, app, "show_view", values))


def _grid_of(shown: dict[str, Any]) -> dict[str, Any]:
    """The grid mounted by ``show_view`` (its id carries the view)."""

    def find(tree: Any) -> dict[str, Any] | None:
        if isinstance(tree, dict):
            props = tree.get("props", {})
            if isinstance(props, dict) and isinstance(props.get("id"), dict):
                if props["id"].get("type") == GRID_TYPE:
                    return props
            for value in tree.values():
                if (found := find(value)) is not None:
                    return found
        elif isinstance(tree, list):
            for value in tree:
                if (found := find(value)) is not None:
                    return found
        return None

    grid = find(shown)
    assert grid is not None, text(shown)[:500]
    return grid


def _rows(client: FlaskClient, app: Flask, grid: dict[str, Any], start: int = 0, end: int = 100):
    grid_id = grid["id"]
    request = {"startRow": start, "endRow": end, "sortModel": [], "filterModel": {}}
    response = call(
        client, app, "audit_rows", {f"{GRID_TYPE}.getRowsRequest": [(grid_id, request)]},
        (grid_id, "getRowsRequest"), match={"view": grid_id["view"], "n": grid_id["n"]},
    )  # fmt: skip
    return next(iter(answer(response).values()))["getRowsResponse"]


def test_the_page_filters_pages_and_shows_an_entry(app: Flask, olga: FlaskClient):
    with app.extensions["polaris_db"].session() as s:
        for i in range(3):
            record(
                s, Actor(OLGA, None, "acc-ops"), NOW - timedelta(minutes=i), Action.charger_updated,
                "charger", "PX-1", before={"friendly_name": f"Name {i}"},
                after={"friendly_name": f"Name {i + 1}"},
            )  # fmt: skip
    shown = _view(olga, app, user="OLGA")
    assert "3 entries, newest first." in text(shown)
    assert "/export/audit.csv?user=OLGA" in text(shown)
    grid = _grid_of(shown)
    first = _rows(olga, app, grid, 0, 2)
    assert first["rowCount"] == -1  # a full block: maybe more
    assert [r["change"] for r in first["rowData"]] == [
        "friendly_name: Name 0 → Name 1",
        "friendly_name: Name 1 → Name 2",
    ]
    assert first["rowData"][0]["user"] == OLGA and first["rowData"][0]["subject"] == "charger PX-1"
    rest = _rows(olga, app, grid, 2, 4)
    assert rest["rowCount"] == 3 and len(rest["rowData"]) == 1
    entry_id = first["rowData"][0]["entry"]
    detail = answer(
        call(olga, app, "show_entry",
             {f"{GRID_TYPE}.selectedRows": [(grid["id"], [{"entry": entry_id}])]},
             (grid["id"], "selectedRows"))
    )[DETAIL_ID]["children"]  # fmt: skip
    assert "Name 0" in text(detail) and "Name 1" in text(detail) and "acc-ops" in text(detail)
    # Another filter, and one that means nothing.
    assert "1 entry, newest first." in text(_view(olga, app, subject="=sum", action="plan.created"))
    assert "No entry matches" in text(_view(olga, app, subject="nothing-like-it"))
    refused = text(_view(olga, app, **{"from": "2026-11-12", "to": "2026-11-11"}))
    assert "the first day comes after the last one" in refused


def test_a_grid_id_from_the_browser_is_read_again(app: Flask, olga: FlaskClient):
    """The view in a grid's id is parsed again: a forged one that means nothing answers
    nothing, never an error or another filter's rows."""
    grid = {"type": GRID_TYPE, "view": "?action=nope", "n": "k9"}
    response = call(
        olga, app, "audit_rows", {f"{GRID_TYPE}.getRowsRequest": [(grid, ROWS)]},
        (grid, "getRowsRequest"), match={"view": grid["view"], "n": "k9"},
    )  # fmt: skip
    assert response.status_code == 204


ODD_VALUES: list[Any] = [None, True, -1, 10**30, "x" * 5_000, [], {"startRow": "0"}, [[1]]]


def test_the_callbacks_never_fail_on_odd_values(app: Flask, olga: FlaskClient):
    failures = []
    for name, (_key, entry) in page_callbacks(app, MODULES).items():
        for index, dep in enumerate(entry["inputs"]):
            for odd in ODD_VALUES:
                values = dict(READS[name]) if name in READS else first_click(entry)
                if dep["id"].startswith("{"):
                    values[f"{GRID_TYPE}.{dep['property']}"] = [(GRID, odd)]
                else:
                    values[f"{dep['id']}.{dep['property']}"] = odd
                response = _read(olga, app, name, values)
                if response.status_code >= 500:
                    failures.append((name, index, repr(odd)[:40]))
    assert failures == []


# --- the CSV -------------------------------------------------------------------------------------


def test_the_csv_holds_the_filtered_entries_spreadsheet_safe(app: Flask, olga: FlaskClient):
    with app.extensions["polaris_db"].session() as s:
        record(
            s, Actor(OLGA, None, "acc-ops"), NOW, Action.charger_updated, "charger", "PX-1",
            before={"friendly_name": "A"}, after={"friendly_name": "B"},
        )  # fmt: skip
    everything = olga.get("/export/audit.csv")
    assert everything.status_code == 200
    assert everything.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert everything.headers["Cache-Control"] == "no-store"
    assert "attachment" in everything.headers["Content-Disposition"]
    rows = rows_of(everything.get_data(as_text=True))
    assert [(r["user"], r["action"], r["subject_id"]) for r in rows] == [
        (OLGA, "charger.updated", "PX-1"),
        ("ops2@example.com", "plan.created", "'=SUM(A1)"),  # a formula is text
    ]
    assert json.loads(rows[0]["before"]) == {"friendly_name": "A"}
    assert rows[0]["at"] == NOW.isoformat().replace("+00:00", "Z")
    assert rows[1]["detail"] == SECRET_DETAIL and rows[1]["before"] == ""
    filtered = rows_of(olga.get("/export/audit.csv?action=plan.created").get_data(as_text=True))
    assert [r["subject_id"] for r in filtered] == ["'=SUM(A1)"]
    since = (NOW - timedelta(days=1)).date().isoformat()
    recent = rows_of(olga.get(f"/export/audit.csv?from={since}&user=olga").get_data(as_text=True))
    assert [r["action"] for r in recent] == ["charger.updated"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("action=nope", "action: one of"),
        ("from=yesterday", "from: a date like"),
        ("from=2026-11-12&to=2026-11-11", "the first day comes after"),
        ("user=a&user=b", "Give each filter once."),
        ("charger=PX-1", "charger: not a filter of the audit log."),
    ],
)
def test_a_csv_filter_that_means_nothing_gets_400(olga: FlaskClient, query: str, message: str):
    response = olga.get(f"/export/audit.csv?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
