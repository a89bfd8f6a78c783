"""The charger status rule with what chargers report over OCPP, on SQLite and PostgreSQL.

Order: Offline (no heartbeat within the threshold), In use (an open session, or the charger
reports Charging / SuspendedEV / SuspendedEVSE), Reserved, Out of order (Faulted or Unavailable
on connector 0, or on every reported connector), else Online. Only Online counts as available.
The same rule everywhere: the customer's cards and count, the admin counts, table and detail.
The offline threshold comes from ``POLARIS_OFFLINE_AFTER_S``.
"""

from __future__ import annotations

import importlib
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from components.dashboard import PERIOD_STORE_ID
from config import DEFAULT_OFFLINE_AFTER_S, ConfigError, load_config, offline_after_s
from data.chargers.charger import charger_detail
from data.chargers.fleet import fleet_counts, fleet_page, parse_fleet_request
from data.chargers.status import ChargerStatus, charger_status_expression
from data.charging.dashboard import visible_chargers
from data.core.db import Database
from data.core.models import Charger, ConnectorStatus, ReservationStatus, Role
from tests.support.callbacks import RENDER_OUTPUTS
from tests.support.factories import (
    make_account,
    make_charger,
    make_operator,
    make_reservation,
    make_session,
    poll_statuses,
)
from tests.support.web import add_person, call_callback, make_app, sign_in

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
S = ChargerStatus


def report(s, charger_id: str, connector_id: int, status: str, error: str = "NoError") -> None:
    s.add(
        ConnectorStatus(
            charger_id=charger_id,
            connector_id=connector_id,
            status=status,
            error_code=error,
            reported_at=NOW - timedelta(minutes=5),
        )
    )


def rule_cases(s) -> dict[str, ChargerStatus]:
    """One charger per branch and edge of the rule, and the status it must have."""
    driver = make_account(s, account_id="acc-driver")
    expected: dict[str, ChargerStatus] = {}

    def charger(cid: str, status: ChargerStatus, *reports: tuple[int, str], **kw: object) -> str:
        expected[cid] = status
        kw.setdefault("last_seen_at", NOW)
        make_charger(s, charger_id=cid, friendly_name=f"Bay {cid}", **kw)
        for connector, reported in reports:
            report(s, cid, connector, reported)
        return cid

    charger("plain", S.online)
    charger("available", S.online, (0, "Available"), (1, "Available"))
    charger("preparing", S.online, (1, "Preparing"))
    charger("finishing", S.online, (1, "Finishing"))
    charger("faulted", S.out_of_order, (0, "Faulted"))
    charger("unavailable-0", S.out_of_order, (0, "Unavailable"), (1, "Available"))
    charger("all-down", S.out_of_order, (1, "Faulted"), (2, "Unavailable"))
    charger("whole-ok-all-down", S.out_of_order, (0, "Available"), (1, "Faulted"))
    charger("one-down", S.online, (1, "Faulted"), (2, "Available"))
    charger("only-0-ok", S.online, (0, "Available"))
    # A Faulted charger with an open session is In use (In use comes first).
    busy = charger("faulted-busy", S.in_use, (0, "Faulted"))
    make_session(s, driver, busy, started_at=NOW - HOUR)
    # Charging without an open session (the session has not reached us yet): In use.
    charger("charging", S.in_use, (1, "Charging"))
    charger("suspended", S.in_use, (1, "SuspendedEV"), (2, "Faulted"))
    charger("charging-while-0-faulted", S.in_use, (0, "Faulted"), (1, "Charging"))
    # Stale: Offline first, whatever it last reported or holds.
    charger("stale-faulted", S.offline, (0, "Faulted"), last_seen_at=NOW - HOUR - timedelta(1))
    charger("never-seen-charging", S.offline, (1, "Charging"), last_seen_at=None)
    stale_busy = charger("stale-busy", S.offline, (0, "Faulted"), last_seen_at=NOW - 2 * HOUR)
    make_session(s, driver, stale_busy, started_at=NOW - 3 * HOUR)
    # Reserved comes before Out of order; an Out-of-order charger reserved now shows Reserved.
    held = charger("held-faulted", S.reserved, (0, "Faulted"))
    make_reservation(s, driver, held, starts_at=NOW - HOUR, ends_at=NOW + HOUR)
    pending = charger("pending-faulted", S.out_of_order, (0, "Unavailable"))
    make_reservation(
        s,
        driver,
        pending,
        starts_at=NOW - HOUR,
        ends_at=NOW + HOUR,
        status=ReservationStatus.pending,
    )
    held_charging = charger("held-charging", S.in_use, (1, "Charging"))
    make_reservation(s, driver, held_charging, starts_at=NOW - HOUR, ends_at=NOW + HOUR)
    return expected


def test_rule_order_everywhere(db: Database) -> None:
    with db.session() as s:
        expected = rule_cases(s)
    with db.session() as s:
        bare = dict(s.execute(select(Charger.id, charger_status_expression(NOW))).all())
        customer = poll_statuses(s, "acc-driver", list(expected), NOW)
        cards = {c.charger_id: c.status for c in visible_chargers(s, "acc-driver", NOW).chargers}
        table = fleet_page(s, NOW, parse_fleet_request({"startRow": 0, "endRow": 100}))
        details = {cid: charger_detail(s, cid, NOW) for cid in expected}
    assert {cid: S(v) for cid, v in bare.items()} == expected
    assert customer == expected
    assert cards == expected
    assert {r.charger_id: r.status for r in table.rows} == expected
    assert {cid: d.status for cid, d in details.items() if d is not None} == expected


def test_counts_and_available(db: Database) -> None:
    with db.session() as s:
        expected = rule_cases(s)
    with db.session() as s:
        counts = fleet_counts(s, NOW)
        shown = visible_chargers(s, "acc-driver", NOW)
        counts_only = visible_chargers(s, "acc-driver", NOW, limit=0)
    assert counts == {**dict.fromkeys(S, 0), **Counter(expected.values())}
    assert counts[S.out_of_order] == 5
    # Out of order is never available: only Online counts.
    assert shown.available == counts_only.available == counts[S.online] == 6
    assert shown.visible == len(expected)
    # Most useful first for a driver: Out of order after every usable status, before Offline.
    order = [c.status for c in shown.chargers]
    assert order == sorted(
        order, key=[S.online, S.reserved, S.in_use, S.out_of_order, S.offline].index
    )


def test_fleet_filter_and_sort_by_out_of_order(db: Database) -> None:
    with db.session() as s:
        expected = rule_cases(s)
    broken = sorted(cid for cid, st in expected.items() if st is S.out_of_order)
    flt = {"status": {"filterType": "text", "type": "equals", "filter": "out of order"}}
    with db.session() as s:
        filtered = fleet_page(
            s, NOW, parse_fleet_request({"startRow": 0, "endRow": 100, "filterModel": flt})
        )
        by_status = fleet_page(
            s,
            NOW,
            parse_fleet_request(
                {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "status", "sort": "asc"}]}
            ),
        )
    assert sorted(r.charger_id for r in filtered.rows) == broken
    assert filtered.total == len(broken)
    # Triage order: what needs a technician first.
    assert [r.status for r in by_status.rows][: len(broken)] == [S.out_of_order] * len(broken)


def test_offline_threshold_is_passed_through(db: Database) -> None:
    """A charger heard from 100 s ago: Online at the default hour, Offline at 60 s."""
    with db.session() as s:
        make_account(s, account_id="acc-driver")
        make_charger(s, charger_id="recent", last_seen_at=NOW - timedelta(seconds=100))
        make_charger(s, charger_id="exact", last_seen_at=NOW - timedelta(seconds=60))
    with db.session() as s:
        default = poll_statuses(s, "acc-driver", ["recent", "exact"], NOW)
        short = poll_statuses(s, "acc-driver", ["recent", "exact"], NOW, offline_after_s=60)
        cards = visible_chargers(s, "acc-driver", NOW, offline_after_s=60)
        counts = fleet_counts(s, NOW, offline_after_s=60)
        table = fleet_page(s, NOW, parse_fleet_request({}), offline_after_s=60)
        detail = charger_detail(s, "recent", NOW, offline_after_s=60)
    assert default == {"recent": S.online, "exact": S.online}
    # Strictly older than the threshold is Offline; exactly at it is still Online.
    assert short == {"recent": S.offline, "exact": S.online}
    assert {c.charger_id: c.status for c in cards.chargers} == short
    assert cards.available == 1
    assert (counts[S.offline], counts[S.online]) == (1, 1)
    assert {r.charger_id: r.status for r in table.rows} == short
    assert detail is not None and detail.status is S.offline


# --- the setting ---------------------------------------------------------------------------


def test_offline_setting_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLARIS_OFFLINE_AFTER_S", raising=False)
    assert load_config({})["OFFLINE_AFTER_S"] == DEFAULT_OFFLINE_AFTER_S == 3600
    monkeypatch.setenv("POLARIS_OFFLINE_AFTER_S", " 90 ")
    assert load_config({})["OFFLINE_AFTER_S"] == 90
    assert load_config({"OFFLINE_AFTER_S": 5})["OFFLINE_AFTER_S"] == 5
    assert offline_after_s() == DEFAULT_OFFLINE_AFTER_S  # outside an app: the default


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "1e3", "", "1.5", "604801", True])
def test_offline_setting_refuses_bad_values(monkeypatch: pytest.MonkeyPatch, bad: object) -> None:
    monkeypatch.delenv("POLARIS_OFFLINE_AFTER_S", raising=False)
    with pytest.raises(ConfigError, match="POLARIS_OFFLINE_AFTER_S"):
        load_config({"OFFLINE_AFTER_S": bad})


@pytest.mark.parametrize("threshold, shown", [(None, "Online"), (60, "Offline")])
def test_the_app_uses_its_threshold_for_customers_and_admins(
    tmp_path: Path, sqlite_template: Path, threshold: int | None, shown: str
) -> None:
    path = tmp_path / "threshold.db"
    shutil.copy(sqlite_template, path)
    overrides = {} if threshold is None else {"OFFLINE_AFTER_S": threshold}
    app = make_app(f"sqlite:///{path}", **overrides)
    add_person(
        app,
        "olga@example.com",
        ("acc-admin", Role.admin, "Operations"),
    )
    add_person(app, "dana@example.com", ("acc-dana", Role.customer, None))
    with app.extensions["polaris_db"].session() as s:
        make_operator(s)
        make_charger(
            s,
            charger_id="c-quiet",
            friendly_name="Quiet Bay",
            last_seen_at=datetime.now(UTC) - timedelta(seconds=100),
        )
    with app.app_context():
        assert offline_after_s() == (threshold or 3600)

    dana = app.test_client()
    assert sign_in(dana, "dana@example.com").status_code == 302
    cards = call_callback(
        dana,
        "..{}..".format("...".join(f"{i}.{p}" for i, p in RENDER_OUTPUTS)),
        [{"id": PERIOD_STORE_ID, "property": "data", "value": "current"}],
        outputs=[{"id": i, "property": p} for i, p in RENDER_OUTPUTS],
    )
    assert cards.status_code == 200, cards.get_data(as_text=True)[:300]
    body = cards.get_data(as_text=True)
    assert "Quiet Bay" in body and f'"{shown}"' in body
    assert ("0 available" in body) is (shown == "Offline")

    # The admin fleet table and the charger page, called as the signed-in operator.
    olga = app.test_client()
    assert sign_in(olga, "olga@example.com").status_code == 302
    fleet_rows = importlib.import_module("pages.admin").fleet_rows  # after the app exists
    render_summary = importlib.import_module("pages.admin_charger").render_summary
    with olga:
        olga.get("/admin")  # a request context holding the operator's session
        rows, _total = fleet_rows({"startRow": 0, "endRow": 10})
        summary = render_summary("c-quiet", None, None)
    assert [r["status"].endswith(shown) for r in rows["rowData"]] == [True]
    assert f"'{shown}'" in repr(summary[3]) or shown in str(summary[3])
