"""Drivers' e-mail notifications queued (data/notifications), on SQLite and PostgreSQL: only for
a person who opted in, once per event whatever repeats it, in the transaction of the change
(StopTransaction, the charger's answer to ReserveNow, an operator's cancel), with the facts the
e-mail needs; the outbox's claim, retry and give-up."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

import data.ocpp.commands as commands
import data.ocpp.reservations as ocpp_reservations
from data.audit.entries import Actor
from data.charging.reservations import cancel_reservation
from data.core.db import Database
from data.core.models import ChargingSession, Role, User
from data.core.outbox import MAX_ATTEMPTS, backoff_s
from data.notifications import (
    DriverNotification,
    NotificationKind,
    NotificationState,
    claim_notifications,
    mark_notification_failed,
    mark_notification_sent,
    mark_notification_skipped,
    notify_reservation,
    notify_session_finished,
)
from data.ocpp.messages import start_transaction, stop_transaction
from tests.support.audit import CLI
from tests.support.factories import (
    make_account,
    make_id_tag,
    make_reservation,
    make_user,
)
from tests.support.receipts import finished, priced_site

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def site(db: Database) -> Database:
    """The priced site (Europe/Berlin, EUR, chargers AC and DC); Dana (a1, opted in, tag TAG1),
    Olaf (a2, not opted in, tag TAG2) and an admin account (admin)."""
    with db.session() as s:
        priced_site(s)
        dana = make_user(s, email="dana@example.com", display_name="Dana")
        dana.email_notifications = True
        make_account(s, account_id="a1", user=dana)
        make_account(s, account_id="a2", user=make_user(s, email="olaf@example.com"))
        make_account(s, account_id="admin", role=Role.admin)
        make_id_tag(s, "a1", id_tag="TAG1")
        make_id_tag(s, "a2", id_tag="TAG2")
    return db


def queued(db: Database) -> list[DriverNotification]:
    with db.session() as s:
        rows = list(s.scalars(select(DriverNotification).order_by(DriverNotification.id)))
        s.expunge_all()
        return rows


def charge(db: Database, id_tag: str, meter_stop_wh: int = 12_345, again: int = 1) -> str:
    """One OCPP transaction on AC (2 h), stopped ``again`` times (a charger re-sending)."""
    with db.session() as s:
        tx_id = start_transaction(s, "AC", 1, id_tag, 0, "2026-11-25T07:00:00Z", NOW).transaction_id
    for _ in range(again):
        with db.session() as s:
            stop_transaction(
                s, "AC", tx_id, meter_stop_wh, "2026-11-25T09:00:00Z", "Local", None, None, NOW
            )
    return f"ocpp-{tx_id}"


def test_a_finished_session_queues_one_email_with_its_facts(site: Database):
    session_id = charge(site, "TAG1", again=2)  # StopTransaction re-sent after a reconnect
    (row,) = queued(site)
    assert (row.kind, row.about_id, row.state) == (
        NotificationKind.session_finished,
        session_id,
        NotificationState.queued,
    )
    assert row.subject == "Charging finished at Market Square"
    facts = json.loads(row.facts)
    assert facts["energy_kwh"] == "12.345"
    assert facts["charger_name"] == "Market Square" and facts["timezone"] == "Europe/Berlin"
    assert facts["started_at"] == "2026-11-25T07:00:00+00:00"
    # 12.345 kWh x 0.39 + 1 h past the free hour x 1.20 + 0.50, as stored on the session
    assert Decimal(facts["cost_total"]) == Decimal("6.51") and facts["currency"] == "EUR"
    with site.session() as s:
        stored = s.get(ChargingSession, session_id)
        assert stored is not None and Decimal(str(stored.cost_total)) == Decimal("6.51")
    with site.session() as s:  # asked again (an import, a correction): still one row
        assert notify_session_finished(s, session_id, NOW) is False
    assert len(queued(site)) == 1


def test_nothing_is_queued_for_a_person_who_did_not_opt_in(site: Database):
    session_id = charge(site, "TAG2")
    with site.session() as s:
        assert notify_session_finished(s, session_id, NOW) is False
        reservation = make_reservation(
            s, "a2", "AC", starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=2)
        )
        assert notify_reservation(s, reservation.id, "confirmed", NOW) is False
    assert queued(site) == []


def test_a_session_in_progress_queues_nothing(site: Database):
    with site.session() as s:
        start_transaction(s, "AC", 1, "TAG1", 0, "2026-11-25T08:00:00Z", NOW)
    with site.session() as s:
        assert notify_session_finished(s, "ocpp-1", NOW) is False
        assert notify_session_finished(s, "no-such-session", NOW) is False
    assert queued(site) == []


def test_a_notification_is_rolled_back_with_its_change(site: Database):
    with pytest.raises(RuntimeError), site.session() as s:
        finished(s, "S1", "a1", "AC", NOW - timedelta(hours=1), timedelta(minutes=30), "10")
        assert notify_session_finished(s, "S1", NOW)
        raise RuntimeError("the change failed")
    assert queued(site) == []


def reserve(db: Database, later_h: int = 0) -> str:
    """Dana's reservation of AC, from 5 minutes after NOW (``later_h`` hours later) for 55."""
    starts_at = NOW + timedelta(hours=later_h, minutes=5)
    with db.session() as s:
        return make_reservation(
            s, "a1", "AC", starts_at=starts_at, ends_at=starts_at + timedelta(minutes=55)
        ).id


def reserve_now_answered(db: Database, response: dict[str, Any] | None) -> None:
    """The scheduler asks for ReserveNow; the OCPP server records the charger's answer (or the
    command expires unanswered when ``response`` is None)."""
    with db.session() as s:
        (asked,) = ocpp_reservations.schedule_reservations(s, NOW, timedelta(minutes=10), ["AC"])
    at = NOW + timedelta(seconds=1)
    with db.session() as s:
        commands.claim_commands(s, ["AC"], "i1", at)
    with db.session() as s:
        if response is None:
            commands.expire_commands(s, NOW + timedelta(hours=1))
        else:
            commands.record_answer(s, asked.id, commands.answer_status(response), response, at)


def test_an_accepted_reserve_now_confirms_the_reservation_by_email(site: Database):
    reservation_id = reserve(site)
    reserve_now_answered(site, {"status": "Accepted"})
    (row,) = queued(site)
    assert (row.kind, row.about_id) == (NotificationKind.reservation_confirmed, reservation_id)
    assert row.subject == "Reservation confirmed: Market Square"


def test_a_refused_reserve_now_says_what_the_charger_answered(site: Database):
    reservation_id = reserve(site)
    reserve_now_answered(site, {"status": "Occupied"})
    (row,) = queued(site)
    assert (row.kind, row.about_id) == (NotificationKind.reservation_refused, reservation_id)
    assert json.loads(row.facts)["reason"] == "Occupied"


def test_an_unanswered_reserve_now_sends_nothing(site: Database):
    reserve(site)
    reserve_now_answered(site, None)
    assert queued(site) == []


def test_an_operator_cancelling_notifies_the_driver_and_the_driver_does_not(site: Database):
    admin = Actor("operator@example.com", user_id=1, account_id="admin")
    first, second = reserve(site), reserve(site, 1)
    with site.session() as s:
        cancel_reservation(s, first, NOW, actor=admin)
        # A driver cancelling their own (their customer account): no e-mail about it.
        cancel_reservation(s, second, NOW, actor=Actor("dana@example.com", 2, "a1"))
    (row,) = queued(site)
    assert (row.kind, row.about_id) == (NotificationKind.reservation_cancelled, first)
    third = reserve(site, 2)
    with site.session() as s:
        cancel_reservation(s, third, NOW, actor=CLI)  # the operator's staff at the command line
    assert [r.about_id for r in queued(site)] == [first, third]


def test_the_no_show_release_needs_only_the_call(site: Database):
    reservation_id = reserve(site)
    with site.session() as s:
        assert notify_reservation(s, reservation_id, "no_show", NOW)
        assert not notify_reservation(s, reservation_id, "no_show", NOW)  # once
    (row,) = queued(site)
    assert row.kind == NotificationKind.reservation_no_show
    with site.session() as s, pytest.raises(ValueError, match="unknown reservation event"):
        notify_reservation(s, reservation_id, "moved", NOW)


def test_claims_retry_with_backoff_then_give_up(site: Database):
    reservation_id = reserve(site)
    with site.session() as s:
        notify_reservation(s, reservation_id, "confirmed", NOW)
    at = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with site.session() as s:
            (claimed,) = claim_notifications(s, at)
            assert claimed.attempts == attempt and claimed.email == "dana@example.com"
            assert claim_notifications(s, at) == []  # leased
        with site.session() as s:
            mark_notification_failed(s, claimed.id, claimed.attempts, "SMTPRecipientsRefused", at)
        with site.session() as s:
            assert claim_notifications(s, at + timedelta(seconds=backoff_s(attempt) - 1)) == []
        at += timedelta(seconds=backoff_s(attempt))
    (row,) = queued(site)
    assert (row.state, row.attempts, row.sent_at) == (NotificationState.failed, MAX_ATTEMPTS, None)
    assert row.last_error == "SMTPRecipientsRefused"
    with site.session() as s:
        assert claim_notifications(s, at + timedelta(days=1)) == []


def test_sent_once_and_skipped_when_the_person_opted_out_since(site: Database):
    first, second = reserve(site), reserve(site, 1)
    with site.session() as s:
        notify_reservation(s, first, "confirmed", NOW)
        notify_reservation(s, second, "confirmed", NOW)
    with site.session() as s:
        (claimed,) = claim_notifications(s, NOW)
    with site.session() as s:
        mark_notification_sent(s, claimed.id, NOW)
        dana = s.scalar(select(User).where(User.email == "dana@example.com"))
        assert dana is not None
        dana.email_notifications = False
    with site.session() as s:
        (other,) = claim_notifications(s, NOW)
        assert other.email is None
        mark_notification_skipped(s, other.id, NOW)
    with site.session() as s:
        assert claim_notifications(s, NOW + timedelta(days=1)) == []
    assert [(r.state, r.sent_at) for r in queued(site)] == [
        (NotificationState.sent, NOW),
        (NotificationState.skipped, None),
    ]
