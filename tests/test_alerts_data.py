"""Alerts (``data.uptime.alerts``) and their outbox (``data.uptime.deliveries``) on SQLite and
PostgreSQL: the delay, one alert per outage whatever the passes or workers, one recovery, one
site-wide alert for a site dropping at once, the digest, the backoff and the claim race."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from data.accounts.validation import InvalidInput
from data.audit.entries import Action
from data.core.db import Database
from data.core.models import AuditEntry, Charger
from data.uptime.alerts import (
    DEFAULT_DELAY_S,
    Alert,
    AlertScope,
    alert_settings,
    count_open_alerts,
    evaluate,
    open_alerts,
    save_alert_settings,
)
from data.uptime.deliveries import (
    LEASE_S,
    MAX_ATTEMPTS,
    AlertDelivery,
    Channel,
    DeliveryKind,
    backoff_s,
    claim_due,
    enqueue,
    mark_failed,
    mark_sent,
)
from data.uptime.live import open_offline_outages
from data.uptime.outages import Outage, OutageKind
from tests.support.audit import admin
from tests.support.factories import make_charger, make_operator, make_outage

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BOTH = {Channel.email, Channel.webhook}
EMAIL = {Channel.email}


@pytest.fixture
def fleet(db: Database) -> Database:
    """Six chargers, C1..C6, all heard from now."""
    with db.session() as s:
        for i in range(1, 7):
            make_charger(s, charger_id=f"C{i}", friendly_name=f"Bay {i}", last_seen_at=NOW)
    return db


def down(db: Database, charger: str, at: datetime, outage_id: str | None = None) -> str:
    with db.session() as s:
        kind = OutageKind.out_of_order
        return make_outage(s, charger, started_at=at, kind=kind, outage_id=outage_id).id


def up(db: Database, outage_id: str, at: datetime) -> None:
    with db.session() as s:
        s.execute(update(Outage).where(Outage.id == outage_id).values(ended_at=at))


def run(db: Database, now: datetime, channels=EMAIL):
    with db.session() as s:
        return evaluate(s, now, channels)


def deliveries(db: Database) -> list[tuple[str, str, int | None]]:
    with db.session() as s:
        rows = s.execute(
            select(AlertDelivery.kind, AlertDelivery.channel, AlertDelivery.alert_id).order_by(
                AlertDelivery.id
            )
        ).all()
    return [(r.kind.value, r.channel.value, r.alert_id) for r in rows]


def alerts(db: Database) -> list[Alert]:
    with db.session() as s:
        return list(s.execute(select(Alert).order_by(Alert.id)).scalars())


def test_an_outage_alerts_once_past_the_delay_and_recovers_once(fleet: Database):
    start = NOW - timedelta(minutes=4)
    outage = down(fleet, "C1", start)
    assert run(fleet, NOW).opened == 0  # 4 minutes: not past the default 5
    assert deliveries(fleet) == []
    later = start + timedelta(seconds=DEFAULT_DELAY_S)
    assert run(fleet, later).opened == 1
    assert run(fleet, later + timedelta(minutes=1)).opened == 0  # a second pass: nothing new
    (alert,) = alerts(fleet)
    assert (alert.scope, alert.charger_id, alert.started_at) == (AlertScope.charger, "C1", start)
    assert deliveries(fleet) == [("opened", "email", alert.id)]
    with fleet.session() as s:
        assert count_open_alerts(s) == 1
        (shown,) = open_alerts(s)
    assert shown.alert.label == "Bay 1 (C1)" and shown.sent == "Pending"

    back = later + timedelta(minutes=10)
    up(fleet, outage, back)
    result = run(fleet, back + timedelta(minutes=1))
    assert (result.opened, result.recovered) == (0, 1)
    assert run(fleet, back + timedelta(minutes=2)).recovered == 0
    assert alerts(fleet)[0].recovered_at == back  # when the outage ended, not when seen
    assert [d[0] for d in deliveries(fleet)] == ["opened", "recovered"]
    with fleet.session() as s:
        assert count_open_alerts(s) == 0


def test_the_delay_is_the_operators_setting_validated_and_audited(fleet: Database):
    with fleet.session() as s:
        assert alert_settings(s).delay_s == DEFAULT_DELAY_S
        with pytest.raises(InvalidInput) as refused:
            save_alert_settings(s, delay_minutes="0", digest="weekly", actor=admin("ACC"), now=NOW)
    assert set(refused.value.errors) == {"delay_minutes", "digest"}
    with fleet.session() as s:
        save_alert_settings(s, delay_minutes=" 15 ", digest="also", actor=admin("ACC"), now=NOW)
    with fleet.session() as s:
        assert alert_settings(s).delay_s == 15 * 60
        entry = s.execute(select(AuditEntry)).scalar_one()
    assert entry.action == Action.alert_settings_updated.value
    assert json.loads(entry.before or "") == {"delay_minutes": 5, "digest": "off"}
    assert json.loads(entry.after or "") == {"delay_minutes": 15, "digest": "also"}
    down(fleet, "C1", NOW - timedelta(minutes=10))
    assert run(fleet, NOW).opened == 0  # 10 minutes, the delay is 15 now
    assert run(fleet, NOW + timedelta(minutes=5)).opened == 1


def test_a_second_outage_of_the_same_charger_joins_its_open_alert(fleet: Database):
    first = down(fleet, "C1", NOW - timedelta(hours=1))
    run(fleet, NOW)
    with fleet.session() as s:  # it goes silent too: offline beside out_of_order
        second = make_outage(
            s, "C1", started_at=NOW - timedelta(minutes=30), kind=OutageKind.offline
        ).id
    assert run(fleet, NOW + timedelta(minutes=1)).opened == 0
    up(fleet, first, NOW + timedelta(minutes=2))
    assert run(fleet, NOW + timedelta(minutes=3)).recovered == 0  # still offline
    up(fleet, second, NOW + timedelta(minutes=4))
    assert run(fleet, NOW + timedelta(minutes=5)).recovered == 1
    assert len(alerts(fleet)) == 1 and len(deliveries(fleet)) == 2


def test_a_site_dropping_at_once_opens_one_site_alert(fleet: Database):
    drop = NOW - timedelta(minutes=20)
    ids = [down(fleet, f"C{i}", drop + timedelta(seconds=10 * i)) for i in range(1, 5)]
    down(fleet, "C6", NOW - timedelta(hours=3))  # alone, hours before: its own alert
    result = run(fleet, NOW, BOTH)
    assert result.opened == 2
    site = next(a for a in alerts(fleet) if a.scope is AlertScope.site)
    assert (site.charger_id, site.started_at) == (None, drop + timedelta(seconds=10))
    mails = [d for d in deliveries(fleet) if d[0] == "opened" and d[1] == "email"]
    assert len(mails) == 2
    with fleet.session() as s:
        payload = json.loads(
            s.execute(
                select(AlertDelivery.payload).where(
                    AlertDelivery.alert_id == site.id, AlertDelivery.channel == Channel.webhook
                )
            ).scalar_one()
        )
    assert payload["subject"].startswith("Down: Site-wide: 4 chargers since")
    assert [c["id"] for c in payload["alert"]["chargers"]] == ["C1", "C2", "C3", "C4"]
    # A fifth charger of the drop, seen later (its outage starts within the window): it joins,
    # no new message.
    down(fleet, "C5", drop + timedelta(minutes=4))
    assert run(fleet, NOW + timedelta(minutes=10), BOTH).opened == 0
    assert len(deliveries(fleet)) == 4
    # A charger going down elsewhere while the site is still down is not hidden by it.
    with fleet.session() as s:
        make_charger(s, charger_id="C7", friendly_name="Bay 7", last_seen_at=NOW)
    down(fleet, "C7", NOW + timedelta(minutes=2))
    assert run(fleet, NOW + timedelta(minutes=10), BOTH).opened == 1
    assert alerts(fleet)[-1].charger_id == "C7"
    for outage in ids[:3]:
        up(fleet, outage, NOW + timedelta(minutes=11))
    assert run(fleet, NOW + timedelta(minutes=12), BOTH).recovered == 0  # C4, C5 still down
    assert len(deliveries(fleet)) == 6


def test_a_site_gone_silent_is_one_site_alert_from_the_sweep(fleet: Database):
    """A power cut: the sweep opens offline outages an hour later, each from the charger's
    last heartbeat, minutes apart; C6 kept talking."""
    with fleet.session() as s:
        for i in range(1, 6):
            last = NOW - timedelta(hours=1, minutes=10) + timedelta(seconds=55 * i)
            s.execute(update(Charger).where(Charger.id == f"C{i}").values(last_seen_at=last))
        assert open_offline_outages(s, NOW, 3600) == 5
    assert run(fleet, NOW).opened == 1
    (site,) = alerts(fleet)
    assert site.scope is AlertScope.site and len(deliveries(fleet)) == 1


def test_two_chargers_down_together_are_two_alerts_not_a_site(fleet: Database):
    down(fleet, "C1", NOW - timedelta(minutes=10))
    down(fleet, "C2", NOW - timedelta(minutes=10))
    down(fleet, "C3", NOW - timedelta(minutes=16))  # more than 5 minutes before: not together
    assert run(fleet, NOW).opened == 3
    assert {a.scope for a in alerts(fleet)} == {AlertScope.charger}


def test_concurrent_workers_open_one_alert_per_outage(fleet: Database):
    for i in range(1, 3):
        down(fleet, f"C{i}", NOW - timedelta(minutes=30 * i))
    opened: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            opened.append(run(fleet, NOW, BOTH).opened)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(opened) == 2
    assert len(alerts(fleet)) == 2 and len(deliveries(fleet)) == 4


def test_digest_only_replaces_the_alert_emails_and_goes_once_a_day(fleet: Database):
    with fleet.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        save_alert_settings(s, delay_minutes=5, digest="only", actor=admin("ACC"), now=NOW)
    down(fleet, "C1", NOW - timedelta(hours=6))
    early = datetime(2026, 12, 6, 6, 30, tzinfo=UTC)  # 07:30 in Berlin: before 08:00
    assert run(fleet, early, BOTH).digests == 0
    assert deliveries(fleet) == [("opened", "webhook", alerts(fleet)[0].id)]
    assert run(fleet, early + timedelta(hours=1), BOTH).digests == 1  # 08:30 in Berlin
    assert run(fleet, early + timedelta(hours=5), BOTH).digests == 0  # once that day
    assert run(fleet, early + timedelta(days=1, hours=1), BOTH).digests == 1  # the next day
    with fleet.session() as s:
        digest = (
            s.execute(
                select(AlertDelivery.payload).where(AlertDelivery.kind == DeliveryKind.digest)
            )
            .scalars()
            .first()
        )
    assert digest is not None and "Bay 1 (C1): down since" in json.loads(digest)["text"]


def test_failed_deliveries_back_off_and_stop_after_the_cap(db: Database):
    assert [backoff_s(n) for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600,
    ]  # fmt: skip
    with db.session() as s:
        assert enqueue(s, "k", Channel.webhook, DeliveryKind.opened, {"a": 1}, NOW)
        assert not enqueue(s, "k", Channel.webhook, DeliveryKind.opened, {"a": 2}, NOW)
    at = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with db.session() as s:
            (claimed,) = claim_due(s, at)
            assert claimed.attempts == attempt and claimed.payload == {"a": 1}
        with db.session() as s:
            assert claim_due(s, at) == []  # leased
            mark_failed(s, claimed.id, claimed.attempts, "HTTPError: 500", at)
        with db.session() as s:
            assert claim_due(s, at + timedelta(seconds=backoff_s(attempt) - 1)) == []
        at += timedelta(seconds=backoff_s(attempt))
    with db.session() as s:
        assert claim_due(s, at + timedelta(days=1)) == []  # capped
        row = s.execute(select(AlertDelivery)).scalar_one()
    assert (row.attempts, row.sent_at, row.last_error) == (MAX_ATTEMPTS, None, "HTTPError: 500")


def test_a_claimed_delivery_is_sent_once_and_a_dead_workers_lease_expires(db: Database):
    with db.session() as s:
        enqueue(s, "a", Channel.email, DeliveryKind.opened, {}, NOW)
        enqueue(s, "b", Channel.email, DeliveryKind.opened, {}, NOW)
    with db.session() as s:
        first = claim_due(s, NOW, limit=1)
    with db.session() as s:
        second = claim_due(s, NOW)
    assert [c.id for c in first] != [c.id for c in second] and len(second) == 1
    with db.session() as s:
        mark_sent(s, second[0].id, NOW)
    # The first worker died without marking: after the lease another claims it once more.
    with db.session() as s:
        assert claim_due(s, NOW + timedelta(seconds=LEASE_S - 1)) == []
        again = claim_due(s, NOW + timedelta(seconds=LEASE_S))
    assert [c.id for c in again] == [first[0].id] and again[0].attempts == 2


def test_concurrent_claims_never_take_one_row_twice(db: Database):
    with db.session() as s:
        for i in range(40):
            enqueue(s, f"k{i}", Channel.webhook, DeliveryKind.opened, {"i": i}, NOW)
    taken: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            while True:
                with db.session() as s:
                    batch = claim_due(s, NOW, limit=3)
                if not batch:
                    return
                with lock:
                    taken.extend(c.id for c in batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(taken) == 40 and len(set(taken)) == 40
    with db.session() as s:
        assert s.execute(select(func.max(AlertDelivery.attempts))).scalar_one() == 1
