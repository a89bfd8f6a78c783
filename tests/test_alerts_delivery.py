"""The alerts worker (``flask alerts run``, ``cli.alerts``) against real local servers: the
webhook's HMAC signature checked by an ``http.server`` in a thread, retried with backoff after a
500; email received by ``aiosmtpd``; and end to end, the OCPP server with a simulated charger
that reports Faulted: exactly one alert email, then exactly one recovery email, then nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from central.server import CentralSystem, bound_port
from central.simulator import connect_charger
from cli.alerts import SIGNATURE_HEADER, configured_channels, run_pass
from data.accounts.operator_settings import save_operator_settings
from data.core.db import Database
from data.core.models import AccountDay
from data.uptime.alerts import AlertSettings
from data.uptime.deliveries import AlertDelivery, backoff_s
from data.uptime.outages import OutageKind
from tests.support.audit import CLI
from tests.support.factories import (
    make_account,
    make_charger,
    make_operator,
    make_outage,
    make_session,
)
from tests.support.mail import Inbox, local_smtp
from tests.support.web import AppFactory

SECRET = "test-webhook-signing-key-0123456789abcdef"  # noqa: S105 - the test's own
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with local_smtp() as server:
        yield server


def email_config(port: int) -> dict[str, Any]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_TLS": "none",  # the local test server speaks plain SMTP
        "SMTP_FROM": "alerts@polaris.example",
        "ALERT_EMAIL_TO": "ops@polaris.example",
    }


@dataclass
class Hook:
    """A webhook receiver: every request's headers and body; answers ``statuses`` in turn."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    state = Hook(statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()


def faulted(db: Database, at: datetime) -> str:
    with db.session() as s:
        make_charger(s, charger_id="C1", friendly_name="Bay 1", last_seen_at=at)
        return make_outage(s, "C1", started_at=at, kind=OutageKind.out_of_order).id


def test_the_webhook_is_signed_and_retried_with_backoff(db: Database, hook: tuple[Hook, str]):
    state, url = hook
    config = {"ALERT_WEBHOOK_URL": url, "ALERT_WEBHOOK_SECRET": SECRET}
    faulted(db, NOW - timedelta(minutes=10))
    state.statuses = [500]
    first = run_pass(db, config, NOW)
    assert (first.evaluation.opened, first.sent, first.failed) == (1, 0, 1)
    assert run_pass(db, config, NOW + timedelta(seconds=backoff_s(1) - 1)).sent == 0  # waits
    assert run_pass(db, config, NOW + timedelta(seconds=backoff_s(1))).sent == 1
    assert run_pass(db, config, NOW + timedelta(hours=1)).sent == 0  # sent once
    assert len(state.received) == 2  # the failed attempt and the retry
    headers, body = state.received[-1]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    wrong = hmac.new(b"another key", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] != f"sha256={wrong}"
    payload = json.loads(body)
    assert payload["event"] == "alert.opened" and headers["Content-Type"] == "application/json"
    assert payload["alert"]["chargers"] == [{"id": "C1", "name": "Bay 1"}]
    with db.session() as s:
        row = s.execute(select(AlertDelivery)).scalar_one()
    assert (row.attempts, row.last_error) == (2, None)


def test_an_alert_email_reaches_the_smtp_server_once(db: Database, smtp: tuple[Inbox, int]):
    inbox, port = smtp
    config = email_config(port)
    assert configured_channels(config) == {"email"}
    faulted(db, NOW - timedelta(minutes=10))
    assert run_pass(db, config, NOW).sent == 1
    assert run_pass(db, config, NOW + timedelta(minutes=1)).sent == 0
    (mail,) = inbox.messages
    assert mail["To"] == "ops@polaris.example" and mail["From"] == "alerts@polaris.example"
    assert str(mail["Subject"]).startswith("Down: Bay 1 (C1) since 2026-12-05 11:50")
    assert "Bay 1 (C1) cannot charge since" in mail.get_payload()


def wait_until(check: Any, within_s: float = 20) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_end_to_end_a_faulted_charger_alerts_once_and_recovers_once(
    app_factory: AppFactory, database_url: str, smtp: tuple[Inbox, int]
):
    inbox, port = smtp
    app: Flask = app_factory(database_url, **email_config(port))
    db: Database = app.extensions["polaris_db"]
    with db.session() as s:
        make_charger(s, charger_id="SIM-1", friendly_name="Simulated bay")
        s.add(AlertSettings(id=1, delay_s=1))  # a short delay (the form's minimum is a minute)
    runner = app.test_cli_runner()

    def worker() -> str:
        result = runner.invoke(args=["alerts", "run", "--once"])
        assert result.exit_code == 0, result.output
        return result.output

    async def scenario() -> None:
        central = CentralSystem(db, outage_sweep_s=3600)
        try:
            async with central.running("127.0.0.1", 0, reservations=False, commands=False) as srv:
                url = f"ws://127.0.0.1:{bound_port(srv)}/ocpp"
                async with connect_charger(url, "SIM-1") as charger:
                    await charger.boot()
                    await charger.status("Available", connector_id=1)
                    await asyncio.to_thread(worker)
                    assert inbox.messages == []  # nothing is down
                    await charger.status("Faulted", connector_id=0, error_code="GroundFailure")
                    await asyncio.sleep(1.2)  # past the delay
                    await asyncio.to_thread(wait_until, lambda: "sent 1 message(s)" in worker())
                    assert len(inbox.messages) == 1
                    assert inbox.subjects()[0].startswith("Down: Simulated bay (SIM-1) since")
                    await asyncio.to_thread(worker)
                    assert len(inbox.messages) == 1  # a second pass sends nothing
                    await charger.status("Available", connector_id=0)
                    output = await asyncio.to_thread(worker)
                    assert "1 recovery(ies)" in output and "sent 1 message(s)" in output
        finally:
            central.close()

    asyncio.run(scenario())
    assert len(inbox.messages) == 2
    assert inbox.subjects()[1].startswith("Back up: Simulated bay (SIM-1) after")
    assert "sent 0 message(s)" in worker()
    assert len(inbox.messages) == 2


def test_the_worker_recounts_drivers_local_days_after_a_zone_change(
    app_factory: AppFactory, database_url: str
):
    """Saving a new zone leaves the recount to the worker: its next pass recounts (and says
    so), the one after has nothing to do."""
    app: Flask = app_factory(database_url)
    db: Database = app.extensions["polaris_db"]
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        account = make_account(s, account_id="a1")
        make_charger(s, charger_id="C1")
        # 15:30 UTC: 17:30 on the 4th in Berlin (summer), 00:30 on the 5th in Tokyo.
        make_session(s, account, "C1", started_at=datetime(2026, 7, 4, 15, 30, tzinfo=UTC))
    with db.session() as s:
        save_operator_settings(
            s, name="Polaris", support_email=None, timezone="Asia/Tokyo", currency="EUR",
            actor=CLI, now=NOW,
        )  # fmt: skip
    days = select(AccountDay.day).where(AccountDay.sessions > 0)
    with db.session() as s:
        assert list(s.scalars(days)) == [(date(2026, 7, 5) - date(1970, 1, 1)).days - 1]
    runner = app.test_cli_runner()
    first = runner.invoke(args=["alerts", "run", "--once"])
    assert first.exit_code == 0 and "local days recounted in Asia/Tokyo: 1 rows" in first.output
    with db.session() as s:
        assert list(s.scalars(days)) == [(date(2026, 7, 5) - date(1970, 1, 1)).days]
    second = runner.invoke(args=["alerts", "run", "--once"])
    assert second.exit_code == 0 and "recounted" not in second.output
