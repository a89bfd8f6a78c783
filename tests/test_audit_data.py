"""The audit log's data layer, on SQLite and PostgreSQL: every operator action writes exactly one
entry (who, which account, what, on what, the changed fields before and after, when) in the same
transaction as the change; a refused action writes none; nothing secret is ever kept; the
database refuses to change or delete an entry; the log reads back filtered, newest first."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from data.accounts.cards import block_card, name_card, unblock_card
from data.accounts.operator_settings import save_operator_settings
from data.accounts.people import (
    NewAccount,
    add_account,
    create_person,
    remove_account,
    set_account_plan,
    set_default_account,
    set_person_password,
)
from data.accounts.plans import create_plan, update_plan
from data.accounts.profile import set_display_name, set_email_notifications
from data.accounts.tokens import create_token, revoke_token
from data.accounts.validation import InvalidInput
from data.audit.entries import COMMAND_LINE, Action, Actor, record
from data.audit.log import (
    AuditFilter,
    AuditFilterError,
    AuditRow,
    audit_count,
    audit_entry,
    audit_page,
    iter_audit_rows,
    parse_audit_filter,
)
from data.chargers.charger import update_charger
from data.chargers.grants import grant_charger, revoke_charger
from data.charging.booking import save_booking_rules
from data.charging.reservations import cancel_reservation, create_reservation
from data.core.db import Database
from data.core.models import AuditEntry, Operator, Role, User, Visibility
from data.exchange.importer import import_folder
from data.ocpp.admin import (
    assign_id_tag,
    clear_ocpp_password,
    remove_id_tag,
    resolve_energy_dispute,
    set_ocpp_password,
)
from data.ocpp.commands import operator_command
from data.pricing.admin import create_tariff, schedule_tariff_version
from data.pricing.tariffs import create_tariff_version, set_default_tariff, set_plan_tariff
from data.uptime.alerts import save_alert_settings
from data.uptime.outage_log import OutageEditError, edit_outage
from tests.support.exchange import SAMPLE
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_id_tag,
    make_operator,
    make_outage,
    make_plan,
    make_session,
    make_user,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
OLGA = "olga@example.com"
GOOD_PASSWORD = "a-charger-pass-0123"


@pytest.fixture
def site(db: Database) -> Actor:
    """An operator (Berlin, EUR) with Olga's admin account ACC-OPS, Dana's customer account
    ACC-DANA (plan PLAN-A), a public charger PX-1 and a restricted one PX-R, tariff STD; all
    written without an audited function, so the log starts empty. Returns Olga as the actor."""
    with db.session() as s:
        make_operator(s, name="Polaris", timezone="Europe/Berlin", currency="EUR")
        olga = make_user(s, email=OLGA, display_name="Olga")
        make_account(s, account_id="ACC-OPS", user=olga, role=Role.admin)
        dana = make_user(s, email="dana@example.com", display_name="Dana")
        make_plan(s, plan_id="PLAN-A", name="Plan A")
        make_plan(s, plan_id="PLAN-B", name="Plan B")
        make_account(s, account_id="ACC-DANA", user=dana, plan="PLAN-A")
        make_charger(s, charger_id="PX-1", friendly_name="Marktplatz 1")
        make_charger(s, charger_id="PX-R", friendly_name="Depot", visibility=Visibility.restricted)
        create_tariff_version(
            s, tariff_id="STD", valid_from=NOW - timedelta(days=30), name="Standard",
            energy_price_per_kwh="0.40",
        )  # fmt: skip
        olga_id = olga.id
    assert entries(db) == []
    return Actor(OLGA, olga_id, "ACC-OPS")


def entries(db: Database, flt: AuditFilter | None = None) -> list[AuditRow]:
    with db.session() as s:
        return audit_page(s, flt or AuditFilter(), BERLIN, 0, 1000)


def the_entry(
    db: Database,
    action: Action,
    subject: tuple[str, str],
    before: dict | None,
    after: dict | None,
    *,
    actor: Actor | None = None,
) -> AuditRow:
    """The log holds exactly one entry, by ``actor`` (Olga from ACC-OPS) at NOW, as given."""
    rows = entries(db)
    assert len(rows) == 1, [(r.action, r.subject_id) for r in rows]
    row = rows[0]
    who = (actor.user, actor.account_id) if actor else (OLGA, "ACC-OPS")
    assert (row.user, row.account_id, row.at) == (*who, NOW)
    assert (row.action, (row.subject_type, row.subject_id)) == (action.value, subject)
    assert (row.before, row.after) == (before, after)
    return row


# --- each action writes one entry ------------------------------------------------------------


def test_a_charger_rename_records_only_what_changed(db: Database, site: Actor):
    with db.session() as s:
        update_charger(s, "PX-1", "  Marktplatz  Nord ", "public", actor=site, now=NOW)
    the_entry(
        db, Action.charger_updated, ("charger", "PX-1"),
        {"friendly_name": "Marktplatz 1"}, {"friendly_name": "Marktplatz Nord"},
    )  # fmt: skip
    with db.session() as s:  # saved again unchanged: no change, no entry
        update_charger(s, "PX-1", "Marktplatz Nord", "public", actor=site, now=NOW)
    assert len(entries(db)) == 1
    with db.session() as s:
        user_id = s.scalar(select(User.id).where(User.email == OLGA))
    with db.session() as s:
        assert s.get(AuditEntry, entries(db)[0].entry_id).user_id == user_id  # type: ignore[union-attr]


def test_a_grant_and_a_revoke(db: Database, site: Actor):
    with db.session() as s:
        assert grant_charger(s, "ACC-DANA", "PX-R", actor=site, now=NOW).changed
        assert not grant_charger(s, "ACC-DANA", "PX-R", actor=site, now=NOW).changed
    the_entry(db, Action.charger_granted, ("charger", "PX-R"), None, {"account_id": "ACC-DANA"})
    with db.session() as s:
        assert revoke_charger(s, "ACC-DANA", "PX-R", actor=site, now=NOW).changed
    revoked = entries(db, AuditFilter(action=Action.charger_revoked))
    assert [(r.before, r.after, r.user) for r in revoked] == [
        ({"account_id": "ACC-DANA"}, None, OLGA)
    ]


def test_the_ocpp_password_says_set_never_what(db: Database, site: Actor):
    with db.session() as s:
        set_ocpp_password(s, "PX-1", GOOD_PASSWORD, actor=site, now=NOW)
    the_entry(
        db, Action.charger_ocpp_password_set, ("charger", "PX-1"),
        {"ocpp_password": "not set"}, {"ocpp_password": "set"},
    )  # fmt: skip
    with db.session() as s:
        set_ocpp_password(s, "PX-1", GOOD_PASSWORD + "x", actor=site, now=NOW)
        clear_ocpp_password(s, "PX-1", actor=site, now=NOW)
        clear_ocpp_password(s, "PX-1", actor=site, now=NOW)  # none any more: no change
    rows = entries(db)
    assert [(r.action, r.after) for r in rows] == [
        ("charger.ocpp_password_cleared", {"ocpp_password": "not set"}),
        ("charger.ocpp_password_set", {"ocpp_password": "replaced"}),
        ("charger.ocpp_password_set", {"ocpp_password": "set"}),
    ]
    with db.session() as s:
        stored = " ".join(f"{e.before} {e.after} {e.detail}" for e in s.scalars(select(AuditEntry)))
    assert GOOD_PASSWORD not in stored and "argon2" not in stored


def test_an_id_tag_assigned_and_removed(db: Database, site: Actor):
    with db.session() as s:
        assign_id_tag(s, "RFID-1", "dana@example.com", actor=site, now=NOW)
    the_entry(db, Action.id_tag_assigned, ("id_tag", "RFID-1"), None, {"account_id": "ACC-DANA"})
    with db.session() as s:
        assert remove_id_tag(s, "RFID-1", actor=site, now=NOW)
        assert not remove_id_tag(s, "RFID-1", actor=site, now=NOW)
    removed = entries(db, AuditFilter(action=Action.id_tag_removed))
    assert [(r.subject_id, r.before, r.after) for r in removed] == [
        ("RFID-1", {"account_id": "ACC-DANA"}, None)
    ]


def test_a_command_from_an_operator(db: Database, site: Actor):
    with db.session() as s:
        row = operator_command(s, "PX-1", "Reset", {"type": "Soft"}, NOW, actor=site)
    assert (row.user_id, row.account_id) == (site.user_id, "ACC-OPS")
    the_entry(
        db, Action.command_requested, ("charger", "PX-1"), None,
        {"command_id": row.id, "action": "Reset", "params": {"type": "Soft"}},
    )  # fmt: skip


def test_a_charger_password_sent_by_command_is_not_kept(db: Database, site: Actor):
    params = {"key": "AuthorizationKey", "value": "0123456789abcdef0123"}
    with db.session() as s:
        row = operator_command(s, "PX-1", "ChangeConfiguration", params, NOW, actor=COMMAND_LINE)
    (entry,) = entries(db)
    assert entry.after == {
        "command_id": row.id,
        "action": "ChangeConfiguration",
        "params": {"key": "AuthorizationKey", "value": "(hidden)"},
    }
    assert (entry.user, entry.account_id) == ("cli", None)


def test_a_refused_command_writes_nothing(db: Database, site: Actor):
    with pytest.raises(ValueError), db.session() as s:
        operator_command(s, "PX-1", "Reset", {"type": "Gentle"}, NOW, actor=site)
    assert entries(db) == []


def _disputed(db: Database) -> None:
    """Dana's session S-1 (10 kWh counted, 900 reported) on PX-1, priced by STD once settled."""
    with db.session() as s:
        s.get(Operator, 1).default_tariff_id = "STD"  # type: ignore[union-attr]
        row = make_session(
            s, "ACC-DANA", "PX-1", session_id="S-1", started_at=NOW - timedelta(hours=2),
            ended_at=NOW - timedelta(hours=1), energy_kwh="10",
        )  # fmt: skip
        row.energy_disputed_at = NOW - timedelta(hours=1)
        row.energy_disputed_kwh = Decimal("900")


def test_an_energy_correction(db: Database, site: Actor):
    _disputed(db)
    with db.session() as s:
        resolve_energy_dispute(s, "S-1", site, "12.5", NOW)
    entry = the_entry(
        db, Action.session_energy_corrected, ("session", "S-1"),
        {"energy_kwh": "10.000", "energy_disputed": True, "cost_total": None},
        {"energy_kwh": "12.500", "energy_disputed": False, "cost_total": "5.00"},
    )  # fmt: skip
    assert entry.detail == "The charger reported 900.000 kWh."


def test_an_energy_confirmation(db: Database, site: Actor):
    _disputed(db)
    with db.session() as s:
        resolve_energy_dispute(s, "S-1", site, None, NOW)
    entry = the_entry(
        db, Action.session_energy_confirmed, ("session", "S-1"),
        {"energy_kwh": "10.000", "energy_disputed": True, "cost_total": None},
        {"energy_kwh": "900.000", "energy_disputed": False, "cost_total": "360.00"},
    )  # fmt: skip
    assert entry.detail == "The charger reported 900.000 kWh."


def test_a_new_tariff_and_a_new_version(db: Database, site: Actor):
    start = datetime(2026, 12, 1, tzinfo=BERLIN)
    with db.session() as s:
        create_tariff(
            s, name="Commuter", valid_from=start, energy_price_per_kwh="0.39",
            vat_percent="19", actor=site, now=NOW,
        )  # fmt: skip
    the_entry(
        db, Action.tariff_created, ("tariff", "TARIFF-COMMUTER"), None,
        {
            "valid_from": "2026-11-30T23:00:00Z", "name": "Commuter", "currency": "EUR",
            "energy_price_per_kwh": "0.39", "dc_energy_price_per_kwh": None,
            "session_fee": None, "time_price_per_hour": None, "time_free_minutes": None,
            "vat_percent": "19",
        },
    )  # fmt: skip
    with db.session() as s:
        schedule_tariff_version(
            s, "STD", name="Standard", valid_from=start, energy_price_per_kwh="0.45",
            actor=site, now=NOW,
        )  # fmt: skip
    (scheduled,) = entries(db, AuditFilter(action=Action.tariff_version_scheduled))
    assert scheduled.subject_id == "STD" and scheduled.before is None
    assert scheduled.after is not None and scheduled.after["energy_price_per_kwh"] == "0.45"


def test_a_refused_tariff_writes_nothing(db: Database, site: Actor):
    with pytest.raises(InvalidInput), db.session() as s:
        create_tariff(
            s, name="Cheap", valid_from=NOW, energy_price_per_kwh="-1", actor=site, now=NOW
        )
    assert entries(db) == []


def test_the_default_and_a_plans_tariff(db: Database, site: Actor):
    with db.session() as s:
        set_default_tariff(s, "STD", actor=site, now=NOW)
    the_entry(
        db, Action.operator_default_tariff_set, ("operator", "1"),
        {"default_tariff_id": None}, {"default_tariff_id": "STD"},
    )  # fmt: skip
    with db.session() as s:
        set_plan_tariff(s, "PLAN-A", "STD", actor=site, now=NOW)
        set_plan_tariff(s, "PLAN-A", "STD", actor=site, now=NOW)  # again: no change
    rows = entries(db, AuditFilter(action=Action.plan_tariff_set))
    assert [(r.subject_id, r.before, r.after) for r in rows] == [
        ("PLAN-A", {"tariff_id": None}, {"tariff_id": "STD"})
    ]


def test_a_plan_created_and_updated(db: Database, site: Actor):
    with db.session() as s:
        create_plan(s, name="Fleet", allowance_kwh="500", currency="EUR", actor=site, now=NOW)
    the_entry(
        db, Action.plan_created, ("plan", "PLAN-FLEET"), None,
        {"name": "Fleet", "allowance_kwh": "500.000", "currency": "EUR"},
    )  # fmt: skip
    with db.session() as s:
        update_plan(
            s, "PLAN-FLEET", name="Fleet", allowance_kwh="750", currency="EUR", actor=site, now=NOW
        )
    (updated,) = entries(db, AuditFilter(action=Action.plan_updated))
    assert (updated.before, updated.after) == (
        {"allowance_kwh": "500.000"},
        {"allowance_kwh": "750.000"},
    )


def test_the_operator_settings(db: Database, site: Actor):
    with db.session() as s:
        save_operator_settings(
            s, name="Polaris", support_email="help@polaris.example", timezone="Europe/Berlin",
            currency="EUR", actor=site, now=NOW,
        )  # fmt: skip
    the_entry(
        db, Action.operator_updated, ("operator", "1"),
        {"support_email": "support@polaris.example"}, {"support_email": "help@polaris.example"},
    )  # fmt: skip


def test_the_alert_settings(db: Database, site: Actor):
    with db.session() as s:
        save_alert_settings(s, delay_minutes="10", digest="only", actor=site, now=NOW)
    the_entry(
        db, Action.alert_settings_updated, ("alert_settings", "1"),
        {"delay_minutes": 5, "digest": "off"}, {"delay_minutes": 10, "digest": "only"},
    )  # fmt: skip


def test_the_booking_rules(db: Database, site: Actor):
    with db.session() as s:
        save_booking_rules(
            s, ahead_days="7", longest_minutes="120", open_per_account="1", grace_minutes="10",
            actor=site, now=NOW,
        )  # fmt: skip
    the_entry(
        db, Action.booking_rules_updated, ("booking_rules", "1"),
        {"ahead_days": 14, "longest_minutes": 240, "open_per_account": 2, "grace_minutes": 15},
        {"ahead_days": 7, "longest_minutes": 120, "open_per_account": 1, "grace_minutes": 10},
    )  # fmt: skip
    with pytest.raises(InvalidInput), db.session() as s:  # refused: no second entry
        save_booking_rules(
            s, ahead_days="0", longest_minutes="120", open_per_account="1", grace_minutes="10",
            actor=site, now=NOW,
        )  # fmt: skip
    assert len(entries(db)) == 1


def test_a_new_person_never_with_their_password(db: Database, site: Actor):
    with db.session() as s:
        created = create_person(
            s, email="nico@example.com", display_name="Nico", password="a long secret pass",
            accounts=[NewAccount(Role.customer, "ACC-NICO", "", "PLAN-A")], actor=site, now=NOW,
        )  # fmt: skip
    entry = the_entry(
        db, Action.person_created, ("person", str(created.user_id)), None,
        {
            "email": "nico@example.com", "display_name": "Nico", "has_password": True,
            "accounts": [
                {"account_id": "ACC-NICO", "role": "customer", "label": None, "plan_id": "PLAN-A"}
            ],
        },
    )  # fmt: skip
    assert "a long secret pass" not in json.dumps(entry.after)


def test_an_account_added(db: Database, site: Actor):
    with db.session() as s:
        dana = s.scalar(select(User.id).where(User.email == "dana@example.com"))
        add_account(s, dana, NewAccount(Role.customer, "ACC-DANA-2", "Van"), actor=site, now=NOW)
    the_entry(
        db, Action.account_created, ("account", "ACC-DANA-2"), None,
        {
            "person": "dana@example.com", "account_id": "ACC-DANA-2", "role": "customer",
            "label": "Van", "plan_id": None,
        },
    )  # fmt: skip


def test_a_password_set_is_recorded_without_it(db: Database, site: Actor):
    with db.session() as s:
        dana = s.scalar(select(User.id).where(User.email == "dana@example.com"))
        set_person_password(s, dana, "another long secret", actor=site, now=NOW)
    entry = the_entry(db, Action.person_password_set, ("person", str(dana)), None, None)
    assert entry.detail == "Password of dana@example.com set (there was none)."
    with db.session() as s:
        set_person_password(s, dana, "yet another secret!", actor=site, now=NOW)
    assert entries(db)[0].detail == "Password of dana@example.com replaced."
    with db.session() as s:
        kept = s.scalars(select(AuditEntry.detail)).all()
    assert not any("secret" in (d or "") for d in kept)


def test_the_default_account_of_a_person(db: Database, site: Actor):
    with db.session() as s:
        dana = s.scalar(select(User.id).where(User.email == "dana@example.com"))
        make_account(s, account_id="ACC-DANA-2", user=s.get(User, dana))
        s.get(User, dana).default_account_id = "ACC-DANA"  # type: ignore[union-attr]
    with db.session() as s:
        set_default_account(s, dana, "ACC-DANA-2", actor=site, now=NOW)
    the_entry(
        db, Action.person_default_account_set, ("person", str(dana)),
        {"default_account_id": "ACC-DANA"}, {"default_account_id": "ACC-DANA-2"},
    )  # fmt: skip


def test_an_accounts_plan(db: Database, site: Actor):
    with db.session() as s:
        set_account_plan(s, "ACC-DANA", "PLAN-B", actor=site, now=NOW)
    the_entry(
        db, Action.account_plan_set, ("account", "ACC-DANA"),
        {"plan_id": "PLAN-A"}, {"plan_id": "PLAN-B"},
    )  # fmt: skip
    with db.session() as s:
        set_account_plan(s, "ACC-DANA", None, actor=site, now=NOW)
    assert entries(db)[0].after == {"plan_id": None}


def test_an_account_removed_keeps_its_entries(db: Database, site: Actor):
    """No foreign keys: entries naming an account (as subject, or as the acting account) stay
    unchanged when it goes; the append-only triggers would refuse anything else."""
    with db.session() as s:
        make_id_tag(s, "ACC-DANA", id_tag="RFID-D")
        grant_access(s, "ACC-DANA", "PX-R")
    with db.session() as s:
        set_account_plan(s, "ACC-DANA", "PLAN-B", actor=site, now=NOW)
    with db.session() as s:
        removed = remove_account(s, "ACC-DANA", actor=site, now=NOW)
    assert (removed.grants, removed.id_tags) == (1, 1)
    rows = entries(db)
    assert [r.action for r in rows] == ["account.removed", "account.plan_set"]
    assert rows[0].before == {
        "person": "dana@example.com", "role": "customer", "label": None, "plan_id": "PLAN-B"
    }  # fmt: skip
    assert rows[0].after is None
    assert rows[0].detail == "With 1 charger grant and 1 id tag."
    with db.session() as s:  # Olga's own admin account goes too (she holds another)
        make_account(s, account_id="ACC-OPS-2", user=s.get(User, site.user_id), role=Role.admin)
    other = Actor(OLGA, site.user_id, "ACC-OPS-2")
    with db.session() as s:
        remove_account(s, "ACC-OPS", actor=other, now=NOW)
    assert [r.account_id for r in entries(db)] == ["ACC-OPS-2", "ACC-OPS", "ACC-OPS"]


def test_a_token_created_and_revoked_never_with_its_secret(db: Database, site: Actor):
    with db.session() as s:
        token = create_token(
            s, OLGA, NOW, account_id="ACC-OPS", name="nightly", scopes=["export"], actor=site
        )
    the_entry(
        db, Action.token_created, ("token", str(token.token_id)), None,
        {
            "account_id": "ACC-OPS", "person": OLGA, "name": "nightly",
            "prefix": token.secret[:8], "scopes": ["export"],
        },
    )  # fmt: skip
    with db.session() as s:
        assert revoke_token(s, token.token_id, NOW, actor=COMMAND_LINE)
        assert not revoke_token(s, token.token_id, NOW, actor=COMMAND_LINE)
    revoked = entries(db, AuditFilter(action=Action.token_revoked))
    assert [(r.user, r.account_id, r.before, r.after) for r in revoked] == [
        ("cli", None, {"revoked_at": None}, {"revoked_at": "2026-11-20T09:30:00Z"})
    ]
    with db.session() as s:
        kept = " ".join(f"{e.before} {e.after} {e.detail}" for e in s.scalars(select(AuditEntry)))
    assert token.secret not in kept and token.secret[8:20] not in kept


def test_an_import_from_the_command_line(db: Database, site: Actor, tmp_path: Path):
    folder = tmp_path / "sample"
    shutil.copytree(SAMPLE, folder)
    with db.session() as s:
        import_folder(s, folder, actor=COMMAND_LINE, now=NOW, dry_run=True)
    assert entries(db) == []  # a dry run writes nothing, its entry neither
    with db.session() as s:
        report = import_folder(s, folder, actor=COMMAND_LINE, now=NOW)
    entry = the_entry(
        db, Action.import_loaded, ("import", str(folder)), None,
        {
            name: {"added": c.added, "updated": c.updated, "unchanged": c.unchanged}
            for name, c in report.files.items()
        },
        actor=COMMAND_LINE,
    )  # fmt: skip
    assert entry.after is not None and entry.after["users.csv"]["added"] == 3
    assert entry.detail == "43 added, 1 updated, 0 unchanged."
    assert "ben-secret-42" not in json.dumps(entry.after)


def test_a_reservation_created_and_cancelled(db: Database, site: Actor):
    starts = NOW + timedelta(hours=2)
    with db.session() as s:
        row = create_reservation(
            s, account_id="ACC-DANA", charger_id="PX-1", starts_at=starts,
            ends_at=starts + timedelta(hours=1), now=NOW, tz=BERLIN, actor=site,
        )  # fmt: skip
    the_entry(
        db, Action.reservation_created, ("reservation", row.reservation_id), None,
        {
            "account_id": "ACC-DANA", "charger_id": "PX-1", "starts_at": "2026-11-20T11:30:00Z",
            "ends_at": "2026-11-20T12:30:00Z", "status": "confirmed",
        },
    )  # fmt: skip
    with db.session() as s:
        cancel_reservation(s, row.reservation_id, NOW, actor=site)
    (cancelled,) = entries(db, AuditFilter(action=Action.reservation_cancelled))
    assert (cancelled.before, cancelled.after) == ({"status": "confirmed"}, {"status": "cancelled"})


def test_an_outage_edit_records_what_changed(db: Database, site: Actor):
    with db.session() as s:
        start, end = NOW - timedelta(hours=3), NOW - timedelta(hours=1)
        make_outage(s, "PX-1", started_at=start, ended_at=end, outage_id="O-1")
    with db.session() as s:
        edit_outage(s, "O-1", "utility", True, "grid failure", actor=site, now=NOW)
    the_entry(db, Action.outage_updated, ("outage", "O-1"),
              {"cause": "unknown", "excluded": False, "note": None},
              {"cause": "utility", "excluded": True, "note": "grid failure"})  # fmt: skip
    with db.session() as s:  # saved unchanged: nothing more; refused: nothing at all
        edit_outage(s, "O-1", "utility", True, "grid failure", actor=site, now=NOW)
    with pytest.raises(OutageEditError), db.session() as s:
        edit_outage(s, "O-1", "aliens", True, "", actor=site, now=NOW)
    assert len(entries(db)) == 1


def test_incident_moves_are_recorded_and_a_refused_one_is_not(db: Database, site: Actor):
    from data.chargers.incidents import IncidentChangeError, report_problem, set_incident_status

    with db.session() as s:  # a driver's report: not an operator action, no entry
        got = report_problem(s, account_id="ACC-DANA", user_id=None, charger_id="PX-1",
                             kind="wont_start", text=None, now=NOW)  # fmt: skip
    assert entries(db) == []
    with db.session() as s:
        set_incident_status(s, got.reference, "acknowledged", actor=site, now=NOW)
    with db.session() as s:
        set_incident_status(s, got.reference, "resolved", actor=site, now=NOW)
    with pytest.raises(IncidentChangeError), db.session() as s:
        set_incident_status(s, got.reference, "acknowledged", actor=site, now=NOW)
    acted = [(e.action, e.subject_type, e.subject_id, e.user) for e in reversed(entries(db))]
    assert acted == [
        (Action.incident_acknowledged.value, "incident", got.reference, OLGA),
        (Action.incident_resolved.value, "incident", got.reference, OLGA),
    ]


def test_my_account_and_card_changes_are_recorded(db: Database, site: Actor):
    """Issue 18: a person's own name and notifications, a driver naming and blocking a card,
    an operator unblocking it; entries say what changed, never a secret."""
    with db.session() as s:
        dana_id = s.scalar(select(User.id).where(User.email == "dana@example.com"))
        make_id_tag(s, "ACC-DANA", id_tag="DANA-1")
    dana = Actor("dana@example.com", dana_id, "ACC-DANA")
    with db.session() as s:
        set_display_name(s, dana_id, "Dana D.", actor=dana, now=NOW)
        set_email_notifications(s, dana_id, True, actor=dana, now=NOW)
        name_card(s, "ACC-DANA", "DANA-1", "Keyring", actor=dana, now=NOW)
        block_card(s, "ACC-DANA", "DANA-1", actor=dana, now=NOW)
        unblock_card(s, "ACC-DANA", "DANA-1", actor=site, now=NOW)
    stamp = NOW.isoformat().replace("+00:00", "Z")
    got = sorted(
        (r.user, r.action, r.subject_type, r.subject_id, json.dumps([r.before, r.after]))
        for r in entries(db)
    )
    person, card = ("person", str(dana_id)), ("id_tag", "DANA-1")
    expected = [
        (DANA_EMAIL, Action.person_updated, *person, {"display_name": "Dana"},
         {"display_name": "Dana D."}),
        (DANA_EMAIL, Action.person_updated, *person, {"email_notifications": False},
         {"email_notifications": True}),
        (DANA_EMAIL, Action.id_tag_updated, *card, {"name": None}, {"name": "Keyring"}),
        (DANA_EMAIL, Action.id_tag_blocked, *card, {"blocked_at": None},
         {"account_id": "ACC-DANA", "blocked_at": stamp}),
        (OLGA, Action.id_tag_unblocked, *card, {"blocked_at": stamp, "blocked_by": DANA_EMAIL},
         {"blocked_at": None, "blocked_by": None}),
    ]  # fmt: skip
    assert got == sorted(
        (who, action.value, kind, sid, json.dumps([before, after]))
        for who, action, kind, sid, before, after in expected
    )


DANA_EMAIL = "dana@example.com"


def test_every_action_is_tested_here():
    """A new action needs its own test above (the verb appears in this file)."""
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [
        a.name for a in Action if f"Action.{a.name}" not in source and f'"{a.value}"' not in source
    ]
    assert missing == []


# --- what an entry never holds, and never stops being ----------------------------------------


def test_an_entry_never_holds_a_secret_field(db: Database, site: Actor):
    for field in ("password", "password_hash", "ocpp_password_hash", "token_hash", "secret"):
        with pytest.raises(ValueError, match="never hold secrets"), db.session() as s:
            record(s, site, NOW, Action.person_password_set, "person", "1", after={field: "x"})
    assert entries(db) == []


def _one_entry(db: Database, site: Actor) -> int:
    with db.session() as s:
        set_account_plan(s, "ACC-DANA", "PLAN-B", actor=site, now=NOW)
    return entries(db)[0].entry_id


@pytest.mark.parametrize(
    "statement",
    [
        lambda i: update(AuditEntry).where(AuditEntry.id == i).values(user="mallory@example.com"),
        lambda i: update(AuditEntry).values(after=None),
        lambda i: delete(AuditEntry).where(AuditEntry.id == i),
        lambda i: delete(AuditEntry),
        lambda i: text(f"UPDATE audit_entries SET at = at WHERE id = {int(i)}"),  # noqa: S608
        lambda i: text("DELETE FROM audit_entries"),
    ],
    ids=["update", "update-all", "delete", "delete-all", "raw-update", "raw-delete"],
)
def test_the_database_refuses_to_change_or_delete_an_entry(db: Database, site: Actor, statement):
    entry_id = _one_entry(db, site)
    with db.session() as s:
        before = s.execute(select(AuditEntry.__table__)).all()
    with pytest.raises(DatabaseError, match="audit entries are never changed or deleted"):
        with db.session() as s:
            s.execute(statement(entry_id))
    with db.session() as s:
        assert s.execute(select(AuditEntry.__table__)).all() == before


def test_the_orm_cannot_change_an_entry_either(db: Database, site: Actor):
    entry_id = _one_entry(db, site)
    with pytest.raises(DatabaseError, match="never changed"), db.session() as s:
        entry = s.get(AuditEntry, entry_id)
        assert entry is not None
        entry.detail = "edited"
    with pytest.raises(DatabaseError, match="never changed"), db.session() as s:
        s.delete(s.get(AuditEntry, entry_id))
    assert entries(db)[0].detail is None


# --- reading the log ---------------------------------------------------------------------------


def _log(db: Database) -> None:
    """Four entries across a Berlin midnight and a week, by Olga, the CLI and Anna."""
    olga, anna = Actor(OLGA, 1, "ACC-OPS"), Actor("anna@example.com", None, "ACC-ANNA")
    moments = [
        (datetime(2026, 11, 10, 22, 59, tzinfo=UTC), olga,
         Action.charger_updated, "charger", "PX-1"),  # Berlin: 10 Nov 23:59
        (datetime(2026, 11, 10, 23, 0, tzinfo=UTC), COMMAND_LINE,
         Action.token_created, "token", "7"),  # Berlin: 11 Nov 00:00
        (datetime(2026, 11, 17, 8, 0, tzinfo=UTC), anna,
         Action.charger_granted, "charger", "PX-R"),
        (datetime(2026, 11, 17, 8, 0, tzinfo=UTC), olga,
         Action.account_plan_set, "account", "ACC-PX-1"),
    ]  # fmt: skip
    with db.session() as s:
        for at, who, action, kind, subject in moments:
            record(s, who, at, action, kind, subject, after={"n": 1})


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (AuditFilter(), ["ACC-PX-1", "PX-R", "7", "PX-1"]),  # newest first, then by id
        (AuditFilter(user="OLGA@"), ["ACC-PX-1", "PX-1"]),
        (AuditFilter(user="cli"), ["7"]),
        (AuditFilter(action=Action.charger_granted), ["PX-R"]),
        (AuditFilter(subject="charger"), ["PX-R", "PX-1"]),
        (AuditFilter(subject="px-1"), ["ACC-PX-1", "PX-1"]),  # part of an id, any case
        (AuditFilter(subject="100%_"), []),  # LIKE's wildcards are plain characters
        (AuditFilter(first_day=datetime(2026, 11, 11).date()), ["ACC-PX-1", "PX-R", "7"]),
        (AuditFilter(last_day=datetime(2026, 11, 10).date()), ["PX-1"]),
        (
            AuditFilter(
                first_day=datetime(2026, 11, 11).date(), last_day=datetime(2026, 11, 11).date()
            ),
            ["7"],
        ),
    ],
)
def test_the_log_is_filtered_in_sql(db: Database, flt: AuditFilter, expected: list[str]):
    _log(db)
    assert [r.subject_id for r in entries(db, flt)] == expected
    with db.session() as s:
        assert audit_count(s, flt, BERLIN) == len(expected)
        streamed = list(iter_audit_rows(s, flt, BERLIN, batch_rows=2))
    assert [r.subject_id for r in streamed] == expected


def test_pages_of_the_log_and_one_entry(db: Database):
    _log(db)
    with db.session() as s:
        first = audit_page(s, AuditFilter(), BERLIN, 0, 3)
        rest = audit_page(s, AuditFilter(), BERLIN, 3, 6)
        assert [r.subject_id for r in first + rest] == ["ACC-PX-1", "PX-R", "7", "PX-1"]
        assert audit_entry(s, first[1].entry_id) == first[1]
        for odd in (None, "1", True, -1, 0, 2**40, 1.5):
            assert audit_entry(s, odd) is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"action": "charger.exploded"}, "action: one of"),
        ({"first_day": "yesterday"}, "from: a date like"),
        ({"first_day": "2026-11-12", "last_day": "2026-11-11"}, "from: the first day"),
        ({"user": ["a", "b"]}, "user: give one value"),
        ({"subject": "x" * 201}, "subject: at most 200"),
    ],
)
def test_a_filter_that_means_nothing_says_why(values: dict, message: str):
    with pytest.raises(AuditFilterError, match=message):
        parse_audit_filter(**values)


def test_a_filter_reads_what_a_page_sends():
    flt = parse_audit_filter(" olga ", "tariff.created", "", "2026-11-01", None)
    assert flt == AuditFilter(
        "olga", Action.tariff_created, None, datetime(2026, 11, 1).date(), None
    )
    assert flt.query() == {"user": "olga", "action": "tariff.created", "from": "2026-11-01"}
