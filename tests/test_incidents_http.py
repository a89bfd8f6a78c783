"""Report a problem over HTTP, as an attacker would call it: anonymous gets nothing; a driver
reports only on chargers the account may see, always as the session's account and person
(whatever the browser sends), and gets "already received" for the same report again; only an
admin acknowledges or resolves, and only an incident of the charger whose page it is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from components.charger import CHARGER_ID_STORE, CHARGER_INCIDENT_TYPE, CHARGER_INCIDENTS_STORE
from components.dashboard import (
    REPORT_CHARGER_STORE,
    REPORT_CLOSE_ID,
    REPORT_KIND_ID,
    REPORT_SEND_ID,
    REPORT_TEXT_ID,
    REPORT_TYPE,
)
from data.audit.entries import Action
from data.chargers.incidents import NO_SUCH_CHARGER, Incident, IncidentStatus
from data.core.models import AuditEntry, Role, Visibility
from tests.support.callbacks import callback_key, post
from tests.support.factories import grant_access, make_charger, make_operator
from tests.support.web import AppFactory, add_person, client_for

SEND = "..report-problem-outcome.children...report-problem-send.disabled.."
OPEN = (
    "..report-problem-dialog.is_open...report-problem-charger.data...report-problem-title.children"
    "...report-problem-kind.value...report-problem-text.value...report-problem-outcome.children"
    "...report-problem-send.disabled.."
)
CHANGE = "..admin-charger-incidents-feedback.children...admin-charger-incidents-changed.data.."
RENDER = "admin-charger-incidents.children"


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    app = app_factory()
    add_person(app, "alice@example.com", ("acc-alice", Role.customer, None))
    add_person(app, "bob@example.com", ("acc-bob", Role.customer, None))
    add_person(app, "olga@example.com", ("acc-olga", Role.admin, "Operations"))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_charger(s, charger_id="c-street", friendly_name="Street")
        make_charger(s, charger_id="c-bob-depot", friendly_name="Bob Depot",
                     visibility=Visibility.restricted)  # fmt: skip
        grant_access(s, "acc-bob", "c-bob-depot")
    KEYS.update({name: callback_key(app, name) for name in (SEND, OPEN, CHANGE, RENDER)})
    return app


def _outputs(key: str) -> list[dict[str, str]]:
    return [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
        for part in key.strip(".").split("...")
    ]


# The map's keys carry ``allow_duplicate`` hashes; the app is the one the module builds.
KEYS: dict[str, str] = {}


def _body(key: str, inputs: list[Any], state: list[Any], changed: str) -> dict[str, Any]:
    return {"output": KEYS.get(key, key), "outputs": _outputs(key), "inputs": inputs,
            "state": state, "changedPropIds": [changed]}  # fmt: skip


def send_body(charger: Any, kind: Any, text: Any = "", clicks: Any = 1) -> dict[str, Any]:
    return _body(
        SEND,
        [{"id": REPORT_SEND_ID, "property": "n_clicks", "value": clicks}],
        [
            {"id": REPORT_CHARGER_STORE, "property": "data", "value": charger},
            {"id": REPORT_KIND_ID, "property": "value", "value": kind},
            {"id": REPORT_TEXT_ID, "property": "value", "value": text},
        ],
        f"{REPORT_SEND_ID}.n_clicks",
    )


def open_body(charger: str) -> dict[str, Any]:
    ident = {"type": REPORT_TYPE, "charger": charger}
    return _body(
        OPEN,
        [
            [{"id": ident, "property": "n_clicks", "value": 1}],
            {"id": REPORT_CLOSE_ID, "property": "n_clicks", "value": None},
        ],
        [],
        f"{json.dumps(ident, separators=(',', ':'), sort_keys=True)}.n_clicks",
    )


def change_body(reference: str, to: str, charger: str) -> dict[str, Any]:
    ident = {"type": CHARGER_INCIDENT_TYPE, "incident": reference, "to": to}
    return _body(
        CHANGE,
        [[{"id": ident, "property": "n_clicks", "value": 1}]],
        [
            {"id": CHARGER_ID_STORE, "property": "data", "value": charger},
            {"id": CHARGER_INCIDENTS_STORE, "property": "data", "value": 0},
        ],
        f"{json.dumps(ident, separators=(',', ':'), sort_keys=True)}.n_clicks",
    )


def incidents(app: Flask) -> list[Incident]:
    with app.extensions["polaris_db"].session() as s:
        rows = list(s.scalars(select(Incident).order_by(Incident.id)))
        s.expunge_all()
        return rows


def user_id(app: Flask, email: str) -> int:
    from data.core.models import User

    with app.extensions["polaris_db"].session() as s:
        found = s.scalar(select(User.id).where(User.email == email))
        assert found is not None
        return found


def text_of(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_anonymous_gets_nothing_and_no_row(app: Flask) -> None:
    anonymous = client_for(app, None)
    for body in (send_body("c-street", "cable_damaged"), open_body("c-street")):
        assert post(anonymous, body, csrf=False).status_code in (401, 403)
    assert incidents(app) == []


def test_a_report_is_the_sessions_account_and_person_and_says_its_reference(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    # Forged: who reports, in the only values the request carries.
    body = send_body("c-street", "cable_damaged", text="plug hangs loose")
    body["inputs"][0]["value"] = {"account_id": "acc-bob", "user_id": 2}
    text = text_of(post(alice, body))
    (row,) = incidents(app)
    assert (row.account_id, row.user_id) == ("acc-alice", user_id(app, "alice@example.com"))
    assert (row.charger_id, row.kind.value, row.text) == ("c-street", "cable_damaged",
                                                          "plug hangs loose")  # fmt: skip
    assert f"Thanks — report I-{row.id:04d} received" in text
    assert "Street (c-street)" in text
    # Send is off once received.
    assert json.loads(text)["response"]["report-problem-send"]["disabled"] is True


def test_the_same_report_again_is_already_received(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    text_of(post(alice, send_body("c-street", "wont_start")))
    again = text_of(post(alice, send_body("c-street", "wont_start")))
    assert "Already received" in again
    assert len(incidents(app)) == 1


@pytest.mark.parametrize(
    "charger",
    ["c-bob-depot", "c-nowhere", None, {"charger_id": "c-street", "account_id": "acc-bob"}],
)
def test_a_charger_the_account_may_not_see_or_none_is_refused(app: Flask, charger: Any) -> None:
    alice = client_for(app, "alice@example.com")
    text = text_of(post(alice, send_body(charger, "cable_damaged")))
    assert (
        NO_SUCH_CHARGER
        in json.loads(text)["response"]["report-problem-outcome"]["children"]["props"]["children"]
    )
    assert "Bob Depot" not in text
    assert incidents(app) == []


def test_other_needs_words(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    assert "required for Other" in text_of(post(alice, send_body("c-street", "other", "  ")))
    assert incidents(app) == []


def test_the_dialog_names_only_a_charger_the_account_may_see(app: Flask) -> None:
    alice = client_for(app, "alice@example.com")
    shown = json.loads(text_of(post(alice, open_body("c-street"))))["response"]
    assert shown["report-problem-dialog"]["is_open"] is True
    assert shown["report-problem-title"]["children"] == "Report a problem with Street"
    assert shown["report-problem-charger"]["data"] == "c-street"
    hidden_text = text_of(post(alice, open_body("c-bob-depot")))
    hidden = json.loads(hidden_text)["response"]
    assert "Bob Depot" not in hidden_text
    assert hidden["report-problem-charger"]["data"] is None
    assert hidden["report-problem-send"]["disabled"] is True


def test_only_an_admin_acknowledges_or_resolves(app: Flask) -> None:
    bob = client_for(app, "bob@example.com")
    text_of(post(bob, send_body("c-bob-depot", "cable_damaged")))
    (row,) = incidents(app)
    reference = f"I-{row.id:04d}"
    for customer in (bob, client_for(app, "alice@example.com")):
        assert post(customer, change_body(reference, "resolved", "c-bob-depot")).status_code == 403
    assert incidents(app)[0].status is IncidentStatus.open
    olga = client_for(app, "olga@example.com")
    # Not from another charger's page.
    wrong = text_of(post(olga, change_body(reference, "resolved", "c-street")))
    assert "no such incident" in wrong
    assert incidents(app)[0].status is IncidentStatus.open
    done = text_of(post(olga, change_body(reference, "acknowledged", "c-bob-depot")))
    assert f"{reference} is now acknowledged" in done
    (row,) = incidents(app)
    assert (row.status, row.acknowledged_by) == (IncidentStatus.acknowledged, "olga@example.com")
    with app.extensions["polaris_db"].session() as s:
        entry = s.execute(select(AuditEntry.action, AuditEntry.user, AuditEntry.account_id)).one()
    assert tuple(entry) == (Action.incident_acknowledged.value, "olga@example.com", "acc-olga")


def test_the_charger_page_lists_incidents_for_admins_only(app: Flask) -> None:
    bob = client_for(app, "bob@example.com")
    text_of(post(bob, send_body("c-bob-depot", "other", "screen is dark")))
    body = _body(
        RENDER,
        [
            {"id": CHARGER_ID_STORE, "property": "data", "value": "c-bob-depot"},
            {"id": CHARGER_INCIDENTS_STORE, "property": "data", "value": 0},
        ],
        [],
        f"{CHARGER_ID_STORE}.data",
    )
    body["outputs"] = {"id": RENDER.split(".")[0], "property": "children"}
    assert post(bob, body).status_code == 403
    shown = text_of(post(client_for(app, "olga@example.com"), body))
    assert "screen is dark" in shown and "Open" in shown and "acc-bob" in shown
