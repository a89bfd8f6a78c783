"""The worker (``flask alerts run``, ``cli.alerts``) sends drivers' notifications to a local
SMTP server (aiosmtpd), on SQLite and PostgreSQL: the e-mail's contents (kWh, cost, the receipt
link under POLARIS_PUBLIC_URL, none without it), a retry after the server refused, nothing while
SMTP is not configured; and end to end with the OCPP server and simulated chargers: a finished
session, a ReserveNow the charger refuses, an operator's cancel on /admin/reservations (over
HTTP), each exactly one e-mail."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from central.server import CentralSystem, bound_port
from central.simulator import charging_session, connect_charger
from cli.alerts import run_pass
from components.emails import render_notification
from components.format import format_money
from components.history import CANCEL_CONFIRM_ID, CANCEL_KEEP_ID, CANCEL_OPEN_ID, CANCEL_TARGET_ID
from config import ConfigError, load_config
from data.core.db import Database
from data.core.models import ChargingSession, OcppReservation, Role
from data.core.outbox import backoff_s
from data.notifications import (
    DriverNotification,
    NotificationState,
    notify_reservation,
    notify_session_finished,
)
from tests.support.factories import make_account, make_id_tag, make_reservation, make_user
from tests.support.mail import Inbox, local_smtp
from tests.support.receipts import finished, priced_site
from tests.support.web import TEST_SECRET, AppFactory, add_person, client_for, dash_csrf

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PUBLIC_URL = "https://charge.example.com"
DANA = "dana@example.com"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with local_smtp() as server:
        yield server


def mail_config(port: int, public_url: str = PUBLIC_URL) -> dict[str, Any]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_TLS": "none",  # the local test server speaks plain SMTP
        "SMTP_FROM": "hello@polaris.example",
        "PUBLIC_URL": public_url,
    }


def dana_site(db: Database) -> None:
    """The priced site (Europe/Berlin, EUR; AC = Market Square); Dana (a1, opted in, tag
    TAG1) and an admin account."""
    with db.session() as s:
        priced_site(s)
        dana = make_user(s, email=DANA, display_name="Dana")
        dana.email_notifications = True
        make_account(s, account_id="a1", user=dana)
        make_account(s, account_id="admin", role=Role.admin)
        make_id_tag(s, "a1", id_tag="TAG1")


def parts(mail: Message) -> tuple[str, str]:
    """The plain text and HTML parts of a notification."""
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage) and parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def finished_session(db: Database) -> None:
    with db.session() as s:
        # Sat 14 Nov 2026 10:00-12:00 in Berlin (CET): 12.345 kWh
        finished(s, "S/1", "a1", "AC", datetime(2026, 11, 14, 9, tzinfo=UTC),
                 timedelta(hours=2), "12.345")  # fmt: skip
        assert notify_session_finished(s, "S/1", NOW)


def test_a_session_finished_email_has_the_kwh_cost_and_receipt_link(
    db: Database, smtp: tuple[Inbox, int]
):
    inbox, port = smtp
    dana_site(db)
    finished_session(db)
    result = run_pass(db, mail_config(port), NOW)
    assert (result.notified, result.notify_failed, result.sent) == (1, 0, 0)
    (mail,) = inbox.messages
    assert (mail["To"], mail["From"]) == (DANA, "hello@polaris.example")
    assert mail["Subject"] == "Charging finished at Market Square"
    text, html = parts(mail)
    assert "Energy: 12.345 kWh" in text
    assert "Duration: 2 h 0 min" in text
    assert "Started: Sat 14 Nov 2026, 10:00 CET" in text  # the operator's time zone
    assert "Cost: €6.51" in text  # 12.345 x 0.39 + 1 h x 1.20 + 0.50
    # The id is quoted in the link, as the receipt page expects it.
    assert f"See your receipt: {PUBLIC_URL}/receipts/S%2F1" in text
    assert f'<a href="{PUBLIC_URL}/receipts/S%2F1">' in html and "€6.51" in html
    assert f"{PUBLIC_URL}/account" in text
    assert run_pass(db, mail_config(port), NOW + timedelta(hours=1)).notified == 0  # once
    assert len(inbox.messages) == 1


def test_without_a_public_url_the_email_links_nothing(db: Database, smtp: tuple[Inbox, int]):
    inbox, port = smtp
    dana_site(db)
    finished_session(db)
    assert run_pass(db, mail_config(port, public_url=""), NOW).notified == 1
    text, html = parts(inbox.messages[0])
    assert "Sign in to Polaris Test Energy to see your receipt." in text
    assert "http" not in text and "<a " not in html


def test_a_refusing_smtp_server_gets_the_email_again_after_the_backoff(
    db: Database, smtp: tuple[Inbox, int]
):
    inbox, port = smtp
    inbox.refuse = 1
    dana_site(db)
    finished_session(db)
    first = run_pass(db, mail_config(port), NOW)
    assert (first.notified, first.notify_failed, inbox.refused) == (0, 1, 1)
    with db.session() as s:
        row = s.scalars(select(DriverNotification)).one()
        assert row.state == NotificationState.queued and "451" in (row.last_error or "")
    assert run_pass(db, mail_config(port), NOW + timedelta(seconds=backoff_s(1) - 1)).notified == 0
    assert run_pass(db, mail_config(port), NOW + timedelta(seconds=backoff_s(1))).notified == 1
    assert len(inbox.messages) == 1
    with db.session() as s:
        row = s.scalars(select(DriverNotification)).one()
        assert (row.state, row.attempts, row.last_error) == (NotificationState.sent, 2, None)


def test_without_smtp_settings_notifications_wait(db: Database):
    dana_site(db)
    finished_session(db)
    assert run_pass(db, {}, NOW).notified == 0
    with db.session() as s:
        row = s.scalars(select(DriverNotification)).one()
        assert (row.state, row.attempts) == (NotificationState.queued, 0)


def test_a_reservation_email_names_the_charger_and_the_window(
    db: Database, smtp: tuple[Inbox, int]
):
    inbox, port = smtp
    dana_site(db)
    with db.session() as s:
        rid = make_reservation(s, "a1", "AC", starts_at=datetime(2026, 11, 25, 13, tzinfo=UTC),
                               ends_at=datetime(2026, 11, 25, 14, tzinfo=UTC)).id  # fmt: skip
        notify_reservation(s, rid, "no_show", NOW)
    assert run_pass(db, mail_config(port), NOW).notified == 1
    (mail,) = inbox.messages
    assert mail["Subject"] == "Reservation released (no-show): Market Square"
    text, _ = parts(mail)
    assert "Wed 25 Nov 2026, 14:00 CET – 15:00 at Market Square (AC) was released" in text
    assert f"{PUBLIC_URL}/" in text


# --- end to end -----------------------------------------------------------------------------


def worker(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["alerts", "run", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def test_end_to_end_a_session_at_a_simulated_charger_sends_one_email(
    app_factory: AppFactory, database_url: str, smtp: tuple[Inbox, int]
):
    inbox, port = smtp
    app = app_factory(database_url, **mail_config(port))
    db: Database = app.extensions["polaris_db"]
    dana_site(db)

    async def scenario() -> None:
        central = CentralSystem(db, outage_sweep_s=3600)
        try:
            async with central.running("127.0.0.1", 0, reservations=False, commands=False) as srv:
                url = f"ws://127.0.0.1:{bound_port(srv)}/ocpp"
                async with connect_charger(url, "AC") as charger:
                    await charger.boot()
                    summary = await charging_session(
                        charger, "TAG1", meter_values=2, interval_s=0.5, power_kw=20
                    )
                    assert summary.status == "Accepted" and summary.energy_wh > 0
        finally:
            central.close()

    asyncio.run(scenario())
    assert "1 driver e-mail(s) sent, 0 failed" in worker(app)
    assert "0 driver e-mail(s) sent" in worker(app)  # exactly one
    with db.session() as s:
        row = s.scalars(select(ChargingSession)).one()
        assert row.finalized and row.cost_total is not None
        kwh, cost = Decimal(str(row.energy_kwh)), Decimal(str(row.cost_total))
    assert kwh > 0 and cost >= Decimal("0.50")  # the session fee at least
    (mail,) = inbox.messages
    assert mail["To"] == DANA and mail["Subject"] == "Charging finished at Market Square"
    text, _ = parts(mail)
    assert f"Energy: {kwh:,.3f} kWh" in text
    assert f"Cost: {format_money(cost, 'EUR')}" in text
    assert f"{PUBLIC_URL}/receipts/{row.id}" in text


def test_end_to_end_a_reserve_now_the_charger_refuses_sends_one_email(
    app_factory: AppFactory, database_url: str, smtp: tuple[Inbox, int]
):
    inbox, port = smtp
    app = app_factory(database_url, **mail_config(port))
    db: Database = app.extensions["polaris_db"]
    dana_site(db)
    now = datetime.now(UTC).replace(microsecond=0)
    with db.session() as s:
        rid = make_reservation(s, "a1", "AC", starts_at=now + timedelta(minutes=2),
                               ends_at=now + timedelta(hours=1)).id  # fmt: skip

    def answered() -> str | None:
        with db.session() as s:
            return s.scalar(
                select(OcppReservation.answered_at).where(OcppReservation.reservation_id == rid)
            )

    async def scenario() -> None:
        central = CentralSystem(db, outage_sweep_s=3600, reserve_poll_s=0.2, command_poll_s=0.2)
        try:
            async with central.running("127.0.0.1", 0) as srv:
                url = f"ws://127.0.0.1:{bound_port(srv)}/ocpp"
                async with connect_charger(url, "AC") as charger:
                    charger.reserve_answer = "Occupied"
                    await charger.boot()
                    for _ in range(150):
                        if await asyncio.to_thread(answered):
                            return
                        await asyncio.sleep(0.2)
                    raise AssertionError("the charger never answered ReserveNow")
        finally:
            central.close()

    asyncio.run(scenario())
    assert "1 driver e-mail(s) sent" in worker(app)
    assert "0 driver e-mail(s) sent" in worker(app)
    (mail,) = inbox.messages
    assert mail["Subject"] == "Reservation refused by Market Square"
    assert "the charger answered “Occupied”" in parts(mail)[0]


def confirm_cancel(app: Flask, client: FlaskClient, reservation_id: str) -> TestResponse:
    """The Cancel reservation dialog's Confirm click, as the renderer posts it."""
    callbacks = app.extensions["polaris_dash"].callback_map
    (key,) = [k for k in callbacks if f"{CANCEL_TARGET_ID}.data" in k]
    outputs = [
        {"id": o.component_id_str(), "property": o.component_property}
        for o in callbacks[key]["output"]
    ]
    clicks = (CANCEL_OPEN_ID, None), (CANCEL_KEEP_ID, None), (CANCEL_CONFIRM_ID, 1)
    payload = {
        "output": key,
        "outputs": outputs,
        "inputs": [{"id": i, "property": "n_clicks", "value": v} for i, v in clicks],
        "state": [[], {"id": CANCEL_TARGET_ID, "property": "data", "value": reservation_id}],
        "changedPropIds": [f"{CANCEL_CONFIRM_ID}.n_clicks"],
    }
    return client.post(
        "/_dash-update-component",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-CSRFToken": dash_csrf(client)},
    )


def test_an_operator_cancelling_on_the_reservations_page_sends_one_email(
    app_factory: AppFactory, database_url: str, smtp: tuple[Inbox, int]
):
    inbox, port = smtp
    app = app_factory(database_url, PROPAGATE_EXCEPTIONS=False, **mail_config(port))
    db: Database = app.extensions["polaris_db"]
    dana_site(db)
    add_person(app, "olga@example.com", ("acc-ops", Role.admin, "Operations"))
    now = datetime.now(UTC)
    with db.session() as s:
        rid = make_reservation(s, "a1", "AC", starts_at=now + timedelta(hours=2),
                               ends_at=now + timedelta(hours=3)).id  # fmt: skip
    # Olga confirms the cancel on /admin/reservations, over HTTP as the browser does.
    olga = client_for(app, "olga@example.com")
    response = confirm_cancel(app, olga, rid)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert f"Cancelled {rid}" in response.get_data(as_text=True)
    assert "1 driver e-mail(s) sent" in worker(app)
    assert "0 driver e-mail(s) sent" in worker(app)
    (mail,) = inbox.messages
    assert mail["To"] == DANA and mail["Subject"] == "Reservation cancelled: Market Square"
    assert "Polaris Test Energy cancelled your reservation" in parts(mail)[0]


def test_the_worker_says_when_drivers_emails_wait_or_carry_no_links(
    app_factory: AppFactory, database_url: str, smtp: tuple[Inbox, int]
):
    _, port = smtp
    waiting = worker(app_factory(database_url))
    assert "Drivers' e-mails wait queued: set POLARIS_SMTP_HOST and POLARIS_SMTP_FROM." in waiting
    unlinked = worker(app_factory(database_url, **mail_config(port, public_url="")))
    assert "POLARIS_PUBLIC_URL is not set: drivers' e-mails carry no links." in unlinked
    configured = worker(app_factory(database_url, **mail_config(port)))
    assert "Drivers' e-mails" not in configured and "POLARIS_PUBLIC_URL" not in configured


# --- rendering and settings -----------------------------------------------------------------


def test_the_html_part_escapes_what_names_hold():
    facts = {
        "operator": "Polaris <Energy>", "support_email": None, "timezone": "Europe/Berlin",
        "display_name": "<b>Dana</b>", "event": "cancelled_by_operator", "reason": None,
        "reservation_id": "R-1", "charger_id": "AC", "charger_name": "<script>alert(1)</script>",
        "starts_at": "2026-11-25T13:00:00+00:00", "ends_at": "2026-11-25T14:00:00+00:00",
    }  # fmt: skip
    email = render_notification("reservation_cancelled", facts, PUBLIC_URL, "Reservation cancelled")
    assert "<script>" not in email.html and "<b>Dana" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "<script>alert(1)</script> (AC)" in email.text  # the plain text is plain


def test_the_public_url_must_be_http_and_loses_its_trailing_slash():
    assert (
        load_config({"SECRET_KEY": TEST_SECRET, "PUBLIC_URL": f"{PUBLIC_URL}/"})["PUBLIC_URL"]
        == PUBLIC_URL
    )
    for bad in ("charge.example.com", "javascript:alert(1)", "ftp://charge.example.com"):
        with pytest.raises(ConfigError, match="POLARIS_PUBLIC_URL"):
            load_config({"SECRET_KEY": TEST_SECRET, "PUBLIC_URL": bad})
