"""Problems drivers report, on SQLite and PostgreSQL: a report becomes one open incident linked
to the charger and the reporter; the same report again within ten minutes is "already received"
(no second row); a charger the account may not see, or none, is refused like a missing one; the
text is required for Other and limited; operators acknowledge and resolve, each kept in the
audit log, and may not move an incident backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.audit.entries import Action
from data.chargers.incidents import (
    DUPLICATE_WINDOW,
    NO_SUCH_CHARGER,
    REPORTS_PER_HOUR,
    TEXT_MAX_LENGTH,
    TEXT_REQUIRED,
    Incident,
    IncidentChangeError,
    IncidentKind,
    IncidentStatus,
    ReportRefused,
    charger_incidents,
    open_incident_count,
    parse_reference,
    reference,
    report_problem,
    set_incident_status,
)
from data.core.db import Database
from data.core.models import AuditEntry, Role, Visibility
from tests.support.audit import admin
from tests.support.factories import grant_access, make_account, make_charger, make_user

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


@pytest.fixture
def fleet(db: Database) -> int:
    """Dana (ACC-DANA) and Ed (ACC-ED), customers; public PX-1, restricted PX-R granted to Ed;
    admin ACC-OPS. Returns Dana's user id."""
    with db.session() as s:
        dana = make_user(s, email="dana@example.com")
        make_account(s, account_id="ACC-DANA", user=dana)
        make_account(s, account_id="ACC-ED")
        make_account(s, account_id="ACC-OPS", role=Role.admin)
        make_charger(s, charger_id="PX-1", friendly_name="Marktplatz 1")
        make_charger(s, charger_id="PX-R", friendly_name="Depot", visibility=Visibility.restricted)
        grant_access(s, "ACC-ED", "PX-R")
        return dana.id


def report(db: Database, account: str = "ACC-DANA", charger: object = "PX-1",
           kind: object = "cable_damaged", text: object = None, at: datetime = NOW,
           user_id: int | None = None):  # fmt: skip
    with db.session() as s:
        return report_problem(s, account_id=account, user_id=user_id, charger_id=charger,
                              kind=kind, text=text, now=at)  # fmt: skip


def count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Incident)) or 0


def test_a_report_is_one_open_incident_linked_to_charger_and_reporter(db: Database, fleet: int):
    got = report(db, text="  plug hangs loose  ", user_id=fleet)
    assert not got.duplicate
    assert (got.charger_id, got.friendly_name) == ("PX-1", "Marktplatz 1")
    assert got.reference == reference(got.incident_id)
    with db.session() as s:
        row = s.get(Incident, got.incident_id)
        assert row is not None
        assert (row.charger_id, row.account_id, row.user_id) == ("PX-1", "ACC-DANA", fleet)
        assert (row.kind, row.text, row.status) == (
            IncidentKind.cable_damaged, "plug hangs loose", IncidentStatus.open,
        )  # fmt: skip
        assert row.created_at == NOW
        assert open_incident_count(s) == 1


def test_the_same_report_within_ten_minutes_is_already_received(db: Database, fleet: int):
    first = report(db)
    again = report(db, at=NOW + DUPLICATE_WINDOW - timedelta(seconds=1))
    assert again.duplicate and again.incident_id == first.incident_id
    assert count(db) == 1
    # Another kind, another driver, or later: a new incident each.
    assert not report(db, kind="wont_start", at=NOW + timedelta(minutes=1)).duplicate
    assert not report(db, account="ACC-ED", at=NOW + timedelta(minutes=1)).duplicate
    assert not report(db, at=NOW + DUPLICATE_WINDOW + timedelta(seconds=1)).duplicate
    assert count(db) == 4
    # Other: the same words are a duplicate, other words are not.
    o = report(db, kind="other", text="screen dark", at=NOW + timedelta(minutes=20))
    assert report(db, kind="other", text="screen dark", at=NOW + timedelta(minutes=21)).duplicate
    assert not report(
        db, kind="other", text="no card reader", at=NOW + timedelta(minutes=21)
    ).duplicate
    assert count(db) == 6 and not o.duplicate


def test_too_many_reports_in_an_hour_are_refused(db: Database, fleet: int):
    for i in range(REPORTS_PER_HOUR):
        report(db, kind="other", text=f"problem {i}", at=NOW + timedelta(minutes=11 * i // 10))
    # Other with other words is no duplicate; the next report is one too many.
    assert count(db) == REPORTS_PER_HOUR
    with pytest.raises(ReportRefused):
        report(db, kind="wont_start", at=NOW + timedelta(minutes=15))
    assert count(db) == REPORTS_PER_HOUR


@pytest.mark.parametrize("charger", ["PX-NONE", "PX-R", "", None, 7, "x" * 65])
def test_a_charger_that_is_missing_or_not_visible_is_refused(
    db: Database, fleet: int, charger: object
):
    with pytest.raises(ReportRefused, match="doesn’t exist"):
        report(db, charger=charger)
    assert count(db) == 0
    assert NO_SUCH_CHARGER.startswith("That charger")


def test_a_granted_restricted_charger_may_be_reported(db: Database, fleet: int):
    assert report(db, account="ACC-ED", charger="PX-R", kind="wont_start").charger_id == "PX-R"


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("other", None, TEXT_REQUIRED),
        ("other", "   ", TEXT_REQUIRED),
        ("other", 42, TEXT_REQUIRED),
        ("cable_damaged", "x" * (TEXT_MAX_LENGTH + 1), "characters"),
        ("broken", None, "Choose what is wrong"),
        (None, None, "Choose what is wrong"),
    ],
)
def test_kind_and_text_are_validated(
    db: Database, fleet: int, kind: object, text: object, message: str
):
    with pytest.raises(ReportRefused, match=message[:20]):
        report(db, kind=kind, text=text)
    assert count(db) == 0


def test_other_with_text_is_kept(db: Database, fleet: int):
    got = report(db, kind="other", text="x" * TEXT_MAX_LENGTH)
    with db.session() as s:
        assert s.get(Incident, got.incident_id).text == "x" * TEXT_MAX_LENGTH  # type: ignore[union-attr]


def test_operators_acknowledge_then_resolve_and_the_audit_log_keeps_both(db: Database, fleet: int):
    got = report(db)
    later = NOW + timedelta(hours=1)
    actor = admin("ACC-OPS")
    with db.session() as s:
        row = set_incident_status(s, got.reference, "acknowledged", charger_id="PX-1",
                                  actor=actor, now=later)  # fmt: skip
        assert (row.status, row.acknowledged_at, row.acknowledged_by) == (
            IncidentStatus.acknowledged, later, actor.user,
        )  # fmt: skip
        assert open_incident_count(s) == 1  # acknowledged is still to handle
    with db.session() as s:
        row = set_incident_status(s, got.incident_id, "resolved", actor=actor, now=later)
        assert (row.status, row.resolved_at, row.resolved_by) == (
            IncidentStatus.resolved, later, actor.user,
        )  # fmt: skip
        assert open_incident_count(s) == 0
        audit = s.execute(
            select(AuditEntry.action, AuditEntry.subject_id, AuditEntry.before, AuditEntry.after,
                   AuditEntry.account_id).order_by(AuditEntry.id)
        ).all()  # fmt: skip
    assert audit == [
        (Action.incident_acknowledged.value, got.reference, '{"status": "open"}',
         '{"status": "acknowledged"}', "ACC-OPS"),
        (Action.incident_resolved.value, got.reference, '{"status": "acknowledged"}',
         '{"status": "resolved"}', "ACC-OPS"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("incident", "status", "charger"),
    [
        ("I-9999", "resolved", None),
        ("nonsense", "resolved", None),
        (None, "resolved", None),
        ("own", "open", None),
        ("own", "deleted", None),
        ("own", "resolved", "PX-R"),  # another charger's page
    ],
)
def test_refused_changes_write_nothing(
    db: Database, fleet: int, incident: object, status: str, charger: str | None
):
    got = report(db)
    ident = got.reference if incident == "own" else incident
    with db.session() as s, pytest.raises(IncidentChangeError):
        set_incident_status(s, ident, status, charger_id=charger, actor=admin("ACC-OPS"), now=NOW)
    with db.session() as s:
        assert s.get(Incident, got.incident_id).status is IncidentStatus.open  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_resolved_incident_is_not_acknowledged_afterwards(db: Database, fleet: int):
    got = report(db)
    with db.session() as s:
        set_incident_status(s, got.reference, "resolved", actor=admin("ACC-OPS"), now=NOW)
    with db.session() as s, pytest.raises(IncidentChangeError, match="resolved already"):
        set_incident_status(s, got.reference, "acknowledged", actor=admin("ACC-OPS"), now=NOW)


def test_a_chargers_incidents_list_those_to_handle_first_newest_first(db: Database, fleet: int):
    a = report(db, kind="cable_damaged", at=NOW)
    b = report(db, kind="wont_start", at=NOW + timedelta(minutes=1))
    c = report(db, kind="other", text="screen dark", at=NOW + timedelta(minutes=2))
    report(db, account="ACC-ED", charger="PX-R", kind="wont_start")
    with db.session() as s:
        set_incident_status(s, c.reference, "resolved", actor=admin("ACC-OPS"), now=NOW)
    with db.session() as s:
        rows = charger_incidents(s, "PX-1")
    assert [r.incident_id for r in rows] == [b.incident_id, a.incident_id, c.incident_id]
    assert rows[2].status is IncidentStatus.resolved and rows[2].text == "screen dark"


def test_references_read_back():
    assert reference(42) == "I-0042"
    assert parse_reference("I-0042") == parse_reference("i-42") == parse_reference(42) == 42
    assert parse_reference("I-") is None and parse_reference("I-4x") is None
    assert parse_reference(True) is None and parse_reference(None) is None
