"""A driver's blocked card at a charger, over the real OCPP server driven by the simulator: its
Authorize and StartTransaction answer Blocked and no session starts; unblocked by an operator,
it is Accepted again. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from central.server import CentralSystem
from central.simulator import connect_charger
from data.accounts.cards import block_card, unblock_card
from data.audit.entries import Actor
from data.core.db import Database
from data.core.models import ChargingSession
from tests.support.central import run_central
from tests.support.factories import make_account, make_charger, make_id_tag

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DRIVER = Actor("dana@example.com", None, "a1")
OPERATOR = Actor("ops@example.com", None, "ops")


def test_a_blocked_cards_authorize_and_start_answer_blocked(db: Database) -> None:
    with db.session() as s:
        make_account(s, account_id="a1")
        make_charger(s, charger_id="C1")
        make_id_tag(s, "a1", id_tag="LOST")
        make_id_tag(s, "a1", id_tag="KEPT")
    with db.session() as s:
        assert block_card(s, "a1", "LOST", actor=DRIVER, now=NOW)
    seen: dict[str, object] = {}

    async def scenario(_central: CentralSystem, url: str) -> None:
        async with connect_charger(url, "C1") as charger:
            await charger.boot()
            seen["authorize"] = (await charger.authorize("LOST"), await charger.authorize("KEPT"))
            _tx, status = await charger.start_transaction("LOST", meter_start_wh=100)
            seen["start"] = status
            with db.session() as s:
                unblock_card(s, "a1", "LOST", actor=OPERATOR, now=NOW)
            seen["unblocked"] = await charger.authorize("LOST")

    run_central(db, scenario)
    assert seen == {
        "authorize": ("Blocked", "Accepted"),
        "start": "Blocked",
        "unblocked": "Accepted",
    }
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ChargingSession)) == 0
