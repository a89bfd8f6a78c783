"""The worker: a process of its own, beside gunicorn and the OCPP server, that sends what the
outboxes hold: the operators' outage alerts and the drivers' e-mail notifications (one worker
for both, so operators run one more process, not two). It also recounts the drivers' local
days (``account_days``) when the operator's time zone changed: seconds per million sessions,
too slow for the request that saved the zone.

flask --app app alerts run            # a pass every --interval seconds (default 30), until stopped
flask --app app alerts run --once     # one pass (cron, tests)

A pass evaluates (``data.uptime.alerts.evaluate``: new alerts, recoveries, the digest) in one
transaction, then sends what the outboxes hold due: each message claimed and committed first
(``data.core.outbox``), sent, then marked sent or failed (retried with backoff). Alert email
goes through SMTP (``POLARIS_SMTP_*``, to ``POLARIS_ALERT_EMAIL_TO``); the webhook gets the
payload as JSON, signed ``X-Polaris-Signature: sha256=<HMAC-SHA256 of the body with
POLARIS_ALERT_WEBHOOK_SECRET>``. Drivers' notifications (``data.notifications``) go through the
same SMTP server to the person's address, rendered by ``components.emails`` with links under
``POLARIS_PUBLIC_URL``; they wait queued while no SMTP server is configured. Short timeouts: a
slow server delays the next message, no more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from components.emails import render_notification
from data.charging.account_days import recount_in_operator_zone
from data.core.db import Database
from data.notifications import (
    ClaimedNotification,
    claim_notifications,
    mark_notification_failed,
    mark_notification_sent,
    mark_notification_skipped,
)
from data.uptime.alerts import Evaluation, evaluate
from data.uptime.deliveries import Channel, Claimed, claim_due, mark_failed, mark_sent
from web.db import get_db

log = logging.getLogger("polaris.alerts")

SMTP_TIMEOUT_S = 10
WEBHOOK_TIMEOUT_S = 5
SIGNATURE_HEADER = "X-Polaris-Signature"


def configured_channels(config: Mapping[str, Any]) -> set[Channel]:
    """The channels whose settings are there: email needs a host, a sender and recipients; the
    webhook a URL (its secret is required with it by ``config.load_config``)."""
    channels = set()
    if config.get("SMTP_HOST") and config.get("SMTP_FROM") and config.get("ALERT_EMAIL_TO"):
        channels.add(Channel.email)
    if config.get("ALERT_WEBHOOK_URL") and config.get("ALERT_WEBHOOK_SECRET"):
        channels.add(Channel.webhook)
    return channels


def signature(secret: str, body: bytes) -> str:
    """The webhook's signature header value: ``sha256=`` and the HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_email(config: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    message = EmailMessage()
    message["Subject"] = " ".join(str(payload["subject"]).split())  # one line, whatever names hold
    message["From"] = config["SMTP_FROM"]
    message["To"] = config["ALERT_EMAIL_TO"]
    message.set_content(payload["text"])
    send_smtp(config, message)


def send_smtp(config: Mapping[str, Any], message: EmailMessage) -> None:
    """Send ``message`` through the configured SMTP server (``POLARIS_SMTP_*``)."""
    host, port, tls = config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_TLS"]
    context = ssl.create_default_context()
    smtp = (
        smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_S, context=context)
        if tls == "ssl"
        else smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_S)
    )
    with smtp:
        if tls == "starttls":
            smtp.starttls(context=context)
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)


def notifications_configured(config: Mapping[str, Any]) -> bool:
    """Drivers' e-mails need an SMTP server and a sender; until then they wait in the outbox."""
    return bool(config.get("SMTP_HOST") and config.get("SMTP_FROM"))


def send_notification(config: Mapping[str, Any], claimed: ClaimedNotification) -> None:
    assert claimed.email is not None  # skipped otherwise
    email = render_notification(
        claimed.kind.value, claimed.facts, config.get("PUBLIC_URL") or "", claimed.subject
    )
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = config["SMTP_FROM"]
    message["To"] = claimed.email
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    send_smtp(config, message)


def send_webhook(config: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    body = json.dumps(payload, sort_keys=True).encode()
    request = urllib.request.Request(  # noqa: S310 - the operator's configured http(s) URL
        config["ALERT_WEBHOOK_URL"], data=body, method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Polaris-Event", str(payload.get("event", "")))
    request.add_header(SIGNATURE_HEADER, signature(config["ALERT_WEBHOOK_SECRET"], body))
    # A status of 400 and more raises HTTPError: the attempt failed.
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:  # noqa: S310
        response.read(1024)


def deliver(config: Mapping[str, Any], claimed: Claimed) -> None:
    if claimed.channel not in configured_channels(config):
        raise RuntimeError(f"the {claimed.channel} channel is not configured")
    if claimed.channel is Channel.email:
        send_email(config, claimed.payload)
    else:
        send_webhook(config, claimed.payload)


@dataclass(frozen=True)
class PassResult:
    evaluation: Evaluation
    sent: int  # alerts
    failed: int
    notified: int = 0  # drivers' e-mails
    notify_failed: int = 0
    recounted: tuple[str, int] | None = None  # drivers' local days: the new zone, rows


def run_pass(db: Database, config: Mapping[str, Any], now: datetime) -> PassResult:
    """Recount the drivers' local days if the operator's zone changed, evaluate, then send
    every message due at ``now``."""
    with db.session() as s:
        recounted = recount_in_operator_zone(s)
    if recounted is not None:
        log.info("drivers' local days recounted in %s: %d rows", *recounted)
    with db.session() as s:
        evaluation = evaluate(s, now, configured_channels(config))
    sent = failed = 0
    while True:
        # One at a time, committed before sending: other workers see the claim, and a slow
        # server can never hold a message past its lease.
        with db.session() as s:
            batch = claim_due(s, now, limit=1)
        if not batch:
            break
        for claimed in batch:
            try:
                deliver(config, claimed)
            except Exception as exc:  # noqa: BLE001 - any failure is retried later
                failed += 1
                log.warning("alert delivery %s failed: %s", claimed.id, exc)
                with db.session() as s:
                    mark_failed(
                        s, claimed.id, claimed.attempts, f"{type(exc).__name__}: {exc}", now
                    )
            else:
                sent += 1
                with db.session() as s:
                    mark_sent(s, claimed.id, now)
    notified, notify_failed = send_notifications(db, config, now)
    return PassResult(evaluation, sent, failed, notified, notify_failed, recounted)


def send_notifications(db: Database, config: Mapping[str, Any], now: datetime) -> tuple[int, int]:
    """Send the drivers' e-mails due at ``now``, one claim at a time; (sent, failed)."""
    sent = failed = 0
    if not notifications_configured(config):
        return sent, failed
    while True:
        with db.session() as s:
            batch = claim_notifications(s, now, limit=1)
        if not batch:
            return sent, failed
        for claimed in batch:
            if claimed.email is None:
                with db.session() as s:
                    mark_notification_skipped(s, claimed.id, now)
                continue
            try:
                send_notification(config, claimed)
            except Exception as exc:  # noqa: BLE001 - any failure is retried later
                failed += 1
                log.warning("notification %s failed: %s", claimed.id, exc)
                with db.session() as s:
                    mark_notification_failed(
                        s, claimed.id, claimed.attempts, f"{type(exc).__name__}: {exc}", now
                    )
            else:
                sent += 1
                with db.session() as s:
                    mark_notification_sent(s, claimed.id, now)


def _summary(result: PassResult) -> str:
    e = result.evaluation
    return (
        f"Opened {e.opened} alert(s), {e.recovered} recovery(ies), {e.digests} digest(s); "
        f"sent {result.sent} message(s), {result.failed} failed; "
        f"{result.notified} driver e-mail(s) sent, {result.notify_failed} failed."
        + (
            ""
            if result.recounted is None
            else " Drivers' local days recounted in {}: {:,} rows.".format(*result.recounted)
        )
    )


@click.group("alerts")
def alerts_group() -> None:
    """The worker: outage alerts (email, webhook), drivers' e-mail notifications, and the
    drivers' local days recounted after a time zone change."""


@alerts_group.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit (cron, tests).")
@click.option(
    "--interval", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
    help="Seconds between passes.",
)  # fmt: skip
@with_appcontext
def run_command(once: bool, interval: float) -> None:
    """Open alerts for outages past the operator's delay, mark recoveries, and send them with the
    drivers' e-mail notifications."""
    db, config = get_db(), dict(current_app.config)
    if not configured_channels(config):
        click.echo("No alert channel configured (POLARIS_SMTP_* or POLARIS_ALERT_WEBHOOK_*).")
    if not notifications_configured(config):
        click.echo("Drivers' e-mails wait queued: set POLARIS_SMTP_HOST and POLARIS_SMTP_FROM.")
    elif not config.get("PUBLIC_URL"):
        click.echo("POLARIS_PUBLIC_URL is not set: drivers' e-mails carry no links.")
    if once:
        click.echo(_summary(run_pass(db, config, datetime.now(UTC))))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    while True:
        try:
            result = run_pass(db, config, datetime.now(UTC))
            if result.sent or result.failed or result.evaluation.opened or result.notified:
                log.info(_summary(result))
        except Exception:  # noqa: BLE001 - the database may be back next time
            log.exception("alerts pass failed; trying again")
        time.sleep(interval)


def register_alerts_cli(app: Flask) -> None:
    app.cli.add_command(alerts_group)
