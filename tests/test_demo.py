"""The demo data set: believable, complete for the 60-second tour, deterministic, kept alive.

Most tests load at ``scale=0.1`` (same chargers, accounts and showcase rows, a tenth of the
history) on SQLite and PostgreSQL; ``test_default_scale_on_sqlite`` checks the real thing.
Charger status is computed here straight from the rules in ``shared/spec/data-exchange.md``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from components.dashboard import connector_choice
from data.accounts.passwords import verify_password
from data.chargers.status import ChargerStatus
from data.charging.account_days import day_window, recount_in_operator_zone
from data.charging.dashboard import (
    CHARGER_LIMIT,
    _usage_from_days,
    account_usage_from_sessions,
    charger_connectors,
    visible_chargers,
)
from data.core.db import Database
from data.core.models import (
    Account,
    AuditEntry,
    Base,
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorStatus,
    Operator,
    Plan,
    Reservation,
    ReservationStatus,
    Role,
    User,
)
from data.core.periods import period_bounds
from data.demo.loader import has_demo, load_demo, tick_demo
from data.demo.showcase import (
    DEMO_PASSWORD,
    DEMO_SUPPORT_EMAIL,
    DRIVER_ACCOUNT_ID,
    DRIVER_EMAIL,
    FAULTED_CHARGER_ID,
    LIVE_CAP_KWH,
    LOW_UPTIME_CHARGER_IDS,
    MAX_PUBLIC_CHARGERS,
    NEWCOMER_EMAIL,
    OPERATOR_EMAIL,
    OPS_ACCOUNT_ID,
    SHOWCASE_CHARGER_ID,
    SHOWCASE_RESERVATION_ID,
    SITE_OUTAGE_CHARGER_IDS,
    TWO_CONNECTOR_CHARGER_ID,
)
from data.uptime.alerts import open_alerts
from data.uptime.deliveries import AlertDelivery
from data.uptime.outages import Outage, OutageCause, OutageKind
from data.uptime.standings import fleet_uptime

NOW = datetime(2026, 3, 18, 14, 25, 13, tzinfo=UTC)  # a Wednesday afternoon, mid-month
BERLIN = ZoneInfo("Europe/Berlin")
SMALL = 0.1
AC = {"Type 2", "J1772"}
KW_RANGE = {
    "Type 2": (11, 22),
    "J1772": (7.4, 7.4),
    "CCS": (50, 350),
    "CHAdeMO": (50, 50),
    "NACS": (150, 250),
}
ALL_STATUSES = {"Online", "In use", "Reserved", "Out of order", "Offline"}


def load(db: Database, now: datetime = NOW, scale: float = SMALL, seed: int = 7) -> list:
    with db.session() as s:
        return load_demo(s, now, seed=seed, scale=scale)


def statuses(s: Session, now: datetime) -> dict[str, str]:
    """Each charger's status at ``now``, by the spec's rules, in their order of precedence."""
    in_use = set(
        s.scalars(select(ChargingSession.charger_id).where(ChargingSession.ended_at.is_(None)))
    )
    reserved = set(
        s.scalars(
            select(Reservation.charger_id).where(
                Reservation.status.in_(["active", "confirmed"]),
                Reservation.starts_at <= now,
                Reservation.ends_at > now,
            )
        )
    )
    reports: dict[str, dict[int, str]] = defaultdict(dict)
    for row in s.scalars(select(ConnectorStatus)):
        reports[row.charger_id][row.connector_id] = row.status
    down = {"Faulted", "Unavailable"}
    occupied = {"Charging", "SuspendedEV", "SuspendedEVSE"}
    out = {}
    for cid, seen in s.execute(select(Charger.id, Charger.last_seen_at)):
        connectors = [st for n, st in reports[cid].items() if n > 0]
        if seen is None or now - seen > timedelta(hours=1):
            out[cid] = "Offline"
        elif cid in in_use or occupied & set(reports[cid].values()):
            out[cid] = "In use"
        elif cid in reserved:
            out[cid] = "Reserved"
        elif reports[cid].get(0) in down or (connectors and set(connectors) <= down):
            out[cid] = "Out of order"
        else:
            out[cid] = "Online"
    return out


def account_of(s: Session, email: str) -> list[Account]:
    return list(
        s.scalars(select(Account).join(User).where(User.email == email).order_by(Account.id))
    )


def live_sessions(s: Session, account_id: str | None = None) -> list[ChargingSession]:
    q = select(ChargingSession).where(ChargingSession.ended_at.is_(None))
    if account_id:
        q = q.where(ChargingSession.account_id == account_id)
    return list(s.scalars(q.order_by(ChargingSession.id)))


def test_operator_plans_chargers_and_statuses(db: Database) -> None:
    load(db)
    with db.session() as s:
        assert has_demo(s)
        op = s.get(Operator, 1)
        assert op is not None
        assert (op.support_email, op.timezone, op.currency) == (
            DEMO_SUPPORT_EMAIL,
            "Europe/Berlin",
            "EUR",
        )
        plans = {p.name: (p.allowance_kwh, p.currency) for p in s.scalars(select(Plan))}
        assert len(plans) == 3
        assert plans["Basic 100"] == (Decimal("100"), "EUR")

        chargers = list(s.scalars(select(Charger)))
        assert 55 <= len(chargers) <= 65
        assert len({c.friendly_name for c in chargers}) == len(chargers)
        assert {c.connector_type.value for c in chargers} == set(KW_RANGE)
        for c in chargers:
            lo, hi = KW_RANGE[c.connector_type.value]
            assert lo <= float(c.max_power_kw) <= hi, c.friendly_name

        restricted = {c.id for c in chargers if c.visibility.value == "restricted"}
        assert len(restricted) == 14  # depots of four fleets
        # Every driver's dashboard (50 cards) has room for all public chargers and a few grants.
        assert len(chargers) - len(restricted) <= MAX_PUBLIC_CHARGERS <= CHARGER_LIMIT - 4
        grants = s.execute(select(ChargerAccess.charger_id, Account.role).join(Account)).all()
        assert {cid for cid, _ in grants} == restricted  # every depot charger is granted
        assert {role for _, role in grants} == {Role.customer}

        status = statuses(s, NOW)
        counts = Counter(status.values())
        assert set(counts) == ALL_STATUSES
        assert counts["Online"] > len(chargers) / 2  # most chargers are available


def test_sessions_are_plausible(db: Database) -> None:
    load(db)
    with db.session() as s:
        kw = {
            c.id: (c.connector_type.value, float(c.max_power_kw))
            for c in s.scalars(select(Charger))
        }
        rows = s.execute(
            select(
                ChargingSession.id,
                ChargingSession.charger_id,
                ChargingSession.started_at,
                ChargingSession.ended_at,
                ChargingSession.energy_kwh,
                ChargingSession.finalized,
            )
        ).all()
        assert 3_000 <= len(rows) <= 9_000  # a tenth of 40-80k, plus Dana's full history
        assert s.scalar(select(func.max(ChargingSession.started_at))) <= NOW
        assert s.scalar(select(func.max(ChargingSession.ended_at))) < NOW
        assert s.scalar(select(func.min(ChargingSession.started_at))) >= NOW - timedelta(days=366)

        by_charger = defaultdict(list)
        for sid, cid, start, end, energy, finalized in rows:
            assert finalized is (end is not None), sid
            by_charger[cid].append((start, end or NOW))
            if end is None:
                continue
            connector, max_kw = kw[cid]
            hours = (end - start).total_seconds() / 3600
            if connector in AC:
                assert 1.0 <= hours <= 8.0 + 1e-6, sid
            else:
                assert 0.25 - 1e-6 <= hours <= 1.0 + 1e-6, sid
            assert 5 <= float(energy) <= 80, sid
            assert float(energy) <= max_kw * hours, sid  # never more than the charger can give
        for cid, spans in by_charger.items():
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                assert end <= start, f"overlapping sessions on {cid}"


def test_demo_logins(db: Database) -> None:
    logins = load(db)
    assert [login.email for login in logins] == [DRIVER_EMAIL, NEWCOMER_EMAIL, OPERATOR_EMAIL]
    assert {login.password for login in logins} == {DEMO_PASSWORD}
    assert all(login.description for login in logins)
    with db.session() as s:
        for login in logins:
            hashed = s.scalar(select(User.password_hash).where(User.email == login.email))
            assert verify_password(hashed, DEMO_PASSWORD)
        assert not verify_password(hashed, "wrong-password")
        bulk = s.execute(
            select(User.email, User.password_hash).where(User.email.like("driver%@demo.%"))
        )
        bulk_rows = bulk.all()
        assert 140 <= len(bulk_rows) <= 160
        assert all(h is None for _, h in bulk_rows)  # nobody can sign in as a bulk driver
        assert "driver042@demo.polaris.example" in {e for e, _ in bulk_rows}
        # Everybody has a default account, and it is one of their own.
        for user in s.scalars(select(User)):
            assert user.default_account_id in {a.id for a in user.accounts}, user.email
        with_plan = s.scalar(select(func.count()).where(Account.plan_id.is_not(None)))
        assert 20 <= with_plan <= 130  # some with plans, some without


def test_dana_driver(db: Database) -> None:
    load(db)
    with db.session() as s:
        (dana,) = account_of(s, DRIVER_EMAIL)
        assert dana.role == Role.customer and dana.plan is not None

        (live,) = live_sessions(s, dana.id)
        assert timedelta(minutes=35) <= NOW - live.started_at <= timedelta(minutes=45)
        assert 10 <= float(live.energy_kwh) <= 14
        charger = s.get(Charger, live.charger_id)
        assert charger is not None and charger.connector_type.value in ("CCS", "Type 2")

        # Next reservation by the spec's rule: confirmed, in about two days, on a named charger.
        nxt = s.scalars(
            select(Reservation)
            .where(
                Reservation.account_id == dana.id,
                Reservation.status.in_(["pending", "confirmed", "active"]),
                Reservation.ends_at > NOW,
            )
            .order_by(Reservation.starts_at)
        ).first()
        assert nxt is not None and nxt.status.value == "confirmed"
        assert timedelta(days=1, hours=12) <= nxt.starts_at - NOW <= timedelta(days=2, hours=12)
        assert nxt.charger.friendly_name

        starts = list(
            s.execute(
                select(ChargingSession.started_at, ChargingSession.energy_kwh).where(
                    ChargingSession.account_id == dana.id
                )
            )
        )
        assert 120 <= len(starts) <= 180
        months = Counter(t.astimezone(BERLIN).strftime("%Y-%m") for t, _ in starts)
        assert months["2026-03"] >= 3 and months["2026-02"] >= 5
        this_month = sum(
            float(e) for t, e in starts if t.astimezone(BERLIN).strftime("%Y-%m") == "2026-03"
        )
        assert 0.2 <= this_month / float(dana.plan.allowance_kwh) <= 1.0


def test_the_demo_dashboards_read_the_drivers_local_days(db: Database) -> None:
    """The demo's drivers' days are counted in its operator's zone, so their dashboards read
    ``account_days`` from the first start (not every session, as after a zone change)."""
    load(db)
    with db.session() as s:
        assert recount_in_operator_zone(s) is None  # nothing left to recount
        (dana,) = account_of(s, DRIVER_EMAIL)
        for name in ("current", "previous", "year"):
            period = period_bounds(name, NOW, BERLIN)
            window = day_window(period)
            assert window is not None
            fast = _usage_from_days(s, dana.id, period, window)
            assert fast is not None, name
            slow = account_usage_from_sessions(s, dana.id, period)
            assert fast.days["energy_kwh"].tolist() == slow.days["energy_kwh"].tolist()
            assert fast.cost == slow.cost


def test_dana_finds_a_choice_of_connector_on_her_first_online_card(db: Database) -> None:
    """One demo charger reported two connectors (one free, a car plugged in at the other), so
    the driver's dashboard and the accessibility sweep show a choice of connector."""
    load(db)
    with db.session() as s:
        (dana,) = account_of(s, DRIVER_EMAIL)
        shown = visible_chargers(s, dana.id, NOW).chargers
        reports = charger_connectors(s, [c.charger_id for c in shown])
        choices = {cid: connector_choice(r) for cid, r in reports.items()}
        offered = {cid: choice for cid, choice in choices.items() if choice is not None}
        assert list(offered) == [TWO_CONNECTOR_CHARGER_ID]
        assert [o["label"] for o in offered[TWO_CONNECTOR_CHARGER_ID]["options"]] == [
            "Connector 1 · Available",
            "Connector 2 · Preparing",
        ]
        # Online (its card has Start, and so the choice), by the app's rule and the spec's.
        assert shown[0].charger_id == TWO_CONNECTOR_CHARGER_ID
        assert shown[0].status is ChargerStatus.online
        assert statuses(s, NOW)[TWO_CONNECTOR_CHARGER_ID] == "Online"


def test_newcomer_and_olga(db: Database) -> None:
    load(db)
    with db.session() as s:
        (nico,) = account_of(s, NEWCOMER_EMAIL)
        assert nico.role == Role.customer and nico.plan_id is None
        for model in (ChargingSession, Reservation):
            n = s.scalar(select(func.count()).select_from(model).where(model.account_id == nico.id))
            assert n == 0

        olga = account_of(s, OPERATOR_EMAIL)
        assert sorted((a.role.value, a.label) for a in olga) == [
            ("admin", "Operations"),
            ("customer", "Personal car"),
        ]
        admin = next(a for a in olga if a.role == Role.admin)
        personal = next(a for a in olga if a.role == Role.customer)
        assert admin.user.default_account_id == admin.id
        history = s.scalar(select(func.count()).where(ChargingSession.account_id == personal.id))
        assert 1 <= history <= 40  # a little history
        assert s.scalar(select(func.count()).where(ChargingSession.account_id == admin.id)) == 0


def test_newcomer_sees_every_charger_and_an_offline_depot_can_be_granted(db: Database) -> None:
    """The admin tour: an Offline restricted charger, granted to nobody the newcomer knows, is
    granted to them and then shows on their dashboard (not pushed beyond the 50-card cap)."""
    load(db)
    with db.session() as s:
        (nico,) = account_of(s, NEWCOMER_EMAIL)
        shown = visible_chargers(s, nico.id, NOW)
        assert shown.visible == len(shown.chargers) <= CHARGER_LIMIT - 4
        status = statuses(s, NOW)
        granted_to_nico = set(
            s.scalars(select(ChargerAccess.charger_id).where(ChargerAccess.account_id == nico.id))
        )
        offline_depots = [
            c.id
            for c in s.scalars(select(Charger).order_by(Charger.id))
            if status[c.id] == "Offline"
            and c.visibility.value == "restricted"
            and c.id not in granted_to_nico
        ]
        assert offline_depots
        s.add(ChargerAccess(account_id=nico.id, charger_id=offline_depots[0]))
    with db.session() as s:
        after = {c.charger_id: c.status.value for c in visible_chargers(s, nico.id, NOW).chargers}
        assert after[offline_depots[0]] == "Offline"
        assert len(after) == shown.visible + 1


def test_a_year_of_outages_tells_the_uptime_story(db: Database) -> None:
    """/admin/uptime on the first start: a year of outages, mostly minutes, a site down together
    (excluded), other exclusions explained, exactly the designed chargers below 97%, and what
    goes on now is what the fleet's statuses say."""
    load(db)
    with db.session() as s:
        outages = list(s.scalars(select(Outage).order_by(Outage.started_at)))
        status = statuses(s, NOW)
        last_seen = {cid: seen for cid, seen in s.execute(select(Charger.id, Charger.last_seen_at))}
        fault_at = s.scalar(
            select(ConnectorStatus.reported_at).where(
                ConnectorStatus.charger_id == FAULTED_CHARGER_ID
            )
        )
        standing = fleet_uptime(s, BERLIN, NOW)

    past = [o for o in outages if o.ended_at is not None]
    assert NOW - timedelta(days=365) <= outages[0].started_at < NOW - timedelta(days=330)
    minutes = [(o.ended_at - o.started_at).total_seconds() / 60 for o in past]
    assert sum(m < 60 for m in minutes) > 0.8 * len(minutes) > 400  # mostly short
    assert 10 <= sum(m >= 120 for m in minutes) <= 150  # a few long ones
    assert sum(m >= 7 * 1440 for m in minutes) == 2 * len(LOW_UPTIME_CHARGER_IDS)
    assert {o.kind for o in past} == {OutageKind.offline, OutageKind.out_of_order}

    # The site-wide drop: the site's chargers, the same span, excluded as the utility's.
    spans = defaultdict(set)
    for o in past:
        spans[o.started_at, o.ended_at].add(o.charger_id)
    groups = [(span, cids) for span, cids in spans.items() if len(cids) > 1]
    assert [cids for _, cids in groups] == [set(SITE_OUTAGE_CHARGER_IDS)]
    site = [o for o in past if (o.started_at, o.ended_at) == groups[0][0]]
    assert all(o.excluded and o.cause is OutageCause.utility and o.note for o in site)
    # Other exclusions have a cause and a note; counted ones carry no exclusion.
    excluded = [o for o in past if o.excluded and o not in site]
    assert len(excluded) >= 3
    assert all(o.cause is not OutageCause.unknown and o.note for o in excluded)

    # Overlapping outages would count once; the demo has none, per charger.
    by_charger = defaultdict(list)
    for o in outages:
        by_charger[o.charger_id].append((o.started_at, o.ended_at or NOW))
    for cid, charger_spans in by_charger.items():
        for (_, end), (start, _) in zip(charger_spans, charger_spans[1:], strict=False):
            assert end <= start, cid

    below = {c.charger_id for c in standing.chargers if c.below_target}
    assert below == set(LOW_UPTIME_CHARGER_IDS)
    assert standing.twelve_month_percent is not None and standing.twelve_month_percent > 99

    # Going on now: out of order since the fault report, offline since the last heartbeat of
    # each silent charger (a never-seen one has no start, as in the server's sweep).
    ongoing = {(o.charger_id, o.kind, o.started_at) for o in outages if o.ended_at is None}
    offline = {c for c, st in status.items() if st == "Offline" and last_seen[c] is not None}
    out_of_order = {c for c, st in status.items() if st == "Out of order"}
    assert out_of_order == {FAULTED_CHARGER_ID} and len(offline) == 2
    assert ongoing == {(c, OutageKind.offline, last_seen[c]) for c in offline} | {
        (FAULTED_CHARGER_ID, OutageKind.out_of_order, fault_at)
    }


def test_the_audit_log_says_who_gave_each_outage_its_cause(db: Database) -> None:
    """/admin/audit on the first start: Olga's review of every outage that has a cause (the
    exclusions included), as her admin account, after the outage, oldest first."""
    load(db)
    with db.session() as s:
        reviewed = {
            o.id: o for o in s.scalars(select(Outage).where(Outage.cause != OutageCause.unknown))
        }
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert len(reviewed) >= 5
    assert sorted(e.subject_id for e in entries) == sorted(reviewed)  # each once
    for e in entries:
        o = reviewed[e.subject_id]
        assert (e.user, e.account_id, e.action) == (
            OPERATOR_EMAIL,
            OPS_ACCOUNT_ID,
            "outage.updated",
        )
        assert e.user_id is not None
        assert (o.ended_at or o.started_at) < e.at < NOW
        # Only what changed from a counted outage of unknown cause is kept.
        counted = {"cause": "unknown", "excluded": False, "note": None}
        now_is = {"cause": o.cause.value, "excluded": o.excluded, "note": o.note}
        changed = {k for k in counted if counted[k] != now_is[k]}
        assert json.loads(e.before) == {k: counted[k] for k in changed}
        assert json.loads(e.after) == {k: now_is[k] for k in changed}
    assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_drivers_reported_problems_show_on_charger_pages(db: Database) -> None:
    """A few incidents on the first start: the faulted charger's page shows an open one, each
    reported by an account that may see that charger, none within the duplicate window."""
    from data.chargers.incidents import (
        DUPLICATE_WINDOW,
        Incident,
        IncidentStatus,
        charger_incidents,
        reportable_charger,
    )

    load(db)
    with db.session() as s:
        faulted = charger_incidents(s, FAULTED_CHARGER_ID)
        every = list(s.scalars(select(Incident).order_by(Incident.id)))
        visible = [reportable_charger(s, i.account_id or "", i.charger_id) for i in every]
    assert [r.status for r in faulted] == [IncidentStatus.open]
    assert sorted(i.status for i in every) == sorted(IncidentStatus)
    assert all(name is not None for name in visible)
    assert all(i.user_id is not None for i in every)
    assert all(i.created_at < NOW - DUPLICATE_WINDOW for i in every)


def test_what_is_down_now_has_its_alert_on_first_start(db: Database) -> None:
    """The admin navigation's count on first start: an alert for each charger down now (the
    demo's ongoing outages are all past the delay), no message queued (no channel is set)."""
    load(db)
    with db.session() as s:
        down = set(s.scalars(select(Outage.charger_id).where(Outage.ended_at.is_(None))))
        shown = open_alerts(s)
        queued = s.scalar(select(func.count()).select_from(AlertDelivery))
    assert len(down) == 3
    assert {a.alert.label.rsplit("(", 1)[1].rstrip(")") for a in shown} == down
    assert queued == 0


def test_tick_keeps_the_demo_alive(db: Database) -> None:
    load(db)
    with db.session() as s:
        before = {x.id: float(x.energy_kwh) for x in live_sessions(s)}
        status = statuses(s, NOW)
        offline_before = {
            c.id: c.last_seen_at for c in s.scalars(select(Charger)) if status[c.id] == "Offline"
        }
    later = NOW + timedelta(hours=3)
    with db.session() as s:
        tick_demo(s, later)
    with db.session() as s:
        counts = Counter(statuses(s, later).values())
        assert set(counts) == ALL_STATUSES  # the offline showcase stays offline
        assert counts["Online"] > 30
        after = {x.id: float(x.energy_kwh) for x in live_sessions(s)}
        assert after.keys() == before.keys()
        for sid, energy in after.items():
            assert before[sid] < energy <= LIVE_CAP_KWH, sid
        for cid, seen in offline_before.items():
            assert s.scalar(select(Charger.last_seen_at).where(Charger.id == cid)) == seen
        (dana,) = account_of(s, DRIVER_EMAIL)
        assert len(live_sessions(s, dana.id)) == 1
        upcoming = s.scalar(
            select(func.min(Reservation.starts_at)).where(
                Reservation.account_id == dana.id,
                Reservation.status == "confirmed",
                Reservation.ends_at > later,
            )
        )
        assert upcoming is not None and upcoming > later + timedelta(hours=12)

    # A worker with an older clock ticking afterwards never winds the energy back.
    with db.session() as s:
        tick_demo(s, NOW + timedelta(hours=1))
    with db.session() as s:
        assert {x.id: float(x.energy_kwh) for x in live_sessions(s)} == after
        assert "Reserved" in statuses(s, NOW + timedelta(hours=1)).values()


def test_tick_leaves_other_data_alone(db: Database) -> None:
    with db.session() as s:
        assert not has_demo(s)
        tick_demo(s, NOW)  # empty database: nothing to do, no error
    stale = NOW - timedelta(days=2)
    with db.session() as s:
        s.add(Operator(id=1, name="Real Operator", support_email="ops@real.example"))
        s.add(
            Charger(
                id="PX-001",
                friendly_name="Real charger",
                connector_type="CCS",
                max_power_kw=Decimal("50"),
                visibility="public",
                last_seen_at=stale,
            )
        )
    with db.session() as s:
        assert not has_demo(s)
        tick_demo(s, NOW)
    with db.session() as s:
        assert s.scalar(select(Charger.last_seen_at)) == stale
        with pytest.raises(ValueError, match="empty database"):
            load_demo(s, NOW, scale=SMALL)


def test_load_demo_needs_an_aware_now(db: Database) -> None:
    with db.session() as s, pytest.raises(ValueError, match="timezone-aware"):
        load_demo(s, NOW.replace(tzinfo=None), scale=SMALL)


def _sqlite_copy(template: Path, path: Path) -> Database:
    shutil.copy(template, path)
    return Database(f"sqlite:///{path}")


def _snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, password hashes aside (salted, so never equal twice)."""
    out = {}
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if c.name != "password_hash"]
            out[table.name] = [tuple(r) for r in s.execute(select(*cols).order_by(*cols))]
    return out


def test_deterministic_for_a_seed(sqlite_template: Path, tmp_path: Path) -> None:
    dbs = [_sqlite_copy(sqlite_template, tmp_path / f"{i}.db") for i in range(3)]
    try:
        for db, seed in zip(dbs, (7, 7, 8), strict=True):
            load(db, seed=seed, scale=0.05)
        first, again, other = (_snapshot(db) for db in dbs)
        assert first == again
        assert first["sessions"] != other["sessions"]
        assert first["outages"] and first["outages"] != other["outages"]
    finally:
        for db in dbs:
            db.engine.dispose()


def test_default_scale_on_sqlite(sqlite_template: Path, tmp_path: Path) -> None:
    db = _sqlite_copy(sqlite_template, tmp_path / "full.db")
    try:
        # How long this takes is a benchmark's figure (python -m bench.demo_load), not a test's.
        load(db, scale=1.0)
        with db.session() as s:
            assert 40_000 <= s.scalar(select(func.count()).select_from(ChargingSession)) <= 80_000
            assert s.scalar(select(func.count()).select_from(Account)) >= 150
            starts = [
                t.astimezone(BERLIN)
                for t in s.scalars(
                    select(ChargingSession.started_at).where(ChargingSession.ended_at.is_not(None))
                )
            ]
            assert len(statuses(s, NOW)) >= 55
            assert set(statuses(s, NOW).values()) == ALL_STATUSES
            dana_sessions = s.scalar(
                select(func.count()).where(ChargingSession.account_id == "ACC-DRIVER")
            )
            assert 120 <= dana_sessions <= 180
            assert s.scalar(text("SELECT count(*) FROM reservations WHERE status = 'cancelled'"))
    finally:
        db.engine.dispose()

    # Daily rhythm: the commute peaks clearly above the small hours, on weekdays.
    weekday_hours = Counter(t.hour for t in starts if t.weekday() < 5)
    peaks = sum(weekday_hours[h] for h in (7, 8, 17, 18))
    night = sum(weekday_hours[h] for h in (1, 2, 3, 4))
    assert peaks > 4 * night
    # Weekly rhythm: a weekend day differs from a weekday, in volume and in shape.
    per_day = Counter(t.date() for t in starts)
    weekday = [n for d, n in per_day.items() if d.weekday() < 5]
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    assert abs(sum(weekday) / len(weekday) - sum(weekend) / len(weekend)) > 5
    weekend_hours = Counter(t.hour for t in starts if t.weekday() >= 5)
    assert weekend_hours[12] > weekend_hours[8]  # weekends start late
    # A whole year: every one of the last twelve months has plenty.
    months = Counter(t.strftime("%Y-%m") for t in starts)
    assert len(months) >= 12 and sorted(months.values())[-12] > 1_000


def test_tick_never_moves_a_showcase_reservation_onto_an_operators_one(db: Database) -> None:
    """An operator's reservation on a showcase charger stays; the showcase waits until the
    charger is free (PostgreSQL's no-overlap constraint would refuse the move and fail the
    request that ticked)."""
    load(db)
    later = NOW + timedelta(hours=2)  # the showcase reservation has ended by then
    with db.session() as s:
        s.add(
            Reservation(
                id="R-OPERATOR",
                account_id=DRIVER_ACCOUNT_ID,
                charger_id=SHOWCASE_CHARGER_ID,
                starts_at=later - timedelta(minutes=30),
                ends_at=later + timedelta(minutes=30),
                status=ReservationStatus.confirmed,
            )
        )
    with db.session() as s:
        tick_demo(s, later)  # no IntegrityError on PostgreSQL
    with db.session() as s:
        showcase = s.get(Reservation, SHOWCASE_RESERVATION_ID)
        assert showcase.ends_at <= later  # not moved onto R-OPERATOR
    with db.session() as s:
        tick_demo(s, later + timedelta(hours=1))  # free again: the showcase covers now
    with db.session() as s:
        showcase = s.get(Reservation, SHOWCASE_RESERVATION_ID)
        assert showcase.starts_at <= later + timedelta(hours=1) < showcase.ends_at
