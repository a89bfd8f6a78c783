"""The /admin/ocpp queries and edits (data/ocpp/admin.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from data.accounts.passwords import verify_password
from data.chargers.status import ChargerStatus
from data.core.db import Database
from data.core.models import Charger, ConnectorStatus, IdTag, OcppReservation, Role
from data.ocpp.admin import (
    OcppAdminError,
    assign_id_tag,
    clear_ocpp_password,
    id_tags,
    ocpp_chargers,
    remove_id_tag,
    sent_reservations,
    set_ocpp_password,
)
from tests.support.audit import AT, CLI
from tests.support.factories import make_account, make_charger, make_reservation, make_user

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
GOOD_PASSWORD = "correct-horse-battery"  # 21 characters


def seed(s) -> None:
    dana = make_user(s, email="dana@example.com")
    make_account(s, account_id="acc-dana", user=dana, label="Van")
    olga = make_user(s, email="olga@example.com")
    make_account(s, account_id="acc-olga", user=olga, role=Role.admin)
    make_account(s, account_id="acc-olga-own", user=olga)
    make_account(s, account_id="acc-olga-car", user=olga)
    make_charger(s, charger_id="PX-1", friendly_name="Marktplatz", last_seen_at=NOW)
    make_charger(s, charger_id="PX-2", friendly_name="Bahnhof", last_seen_at=NOW)
    make_charger(s, charger_id="PX-3", friendly_name="Zoo", last_seen_at=None)
    for connector, status, error in ((0, "Available", "NoError"), (1, "Faulted", "GroundFailure")):
        s.add(
            ConnectorStatus(
                charger_id="PX-1",
                connector_id=connector,
                status=status,
                error_code=error,
                info="RCD tripped" if connector else None,
                reported_at=NOW - timedelta(minutes=3),
            )
        )
    s.add(
        ConnectorStatus(
            charger_id="PX-2",
            connector_id=0,
            status="Unavailable",
            error_code="NoError",
            reported_at=NOW,
        )
    )


def test_chargers_with_their_reports_problems_first(db: Database) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s:
        listed = ocpp_chargers(s, NOW)
        found = ocpp_chargers(s, NOW, "  markt ")
        by_id = ocpp_chargers(s, NOW, "px-3")
        none = ocpp_chargers(s, NOW, "100%_")
        first = ocpp_chargers(s, NOW, limit=1)
    # PX-1: one of one connector down (connector 0 Available) -> Out of order; PX-2 Unavailable.
    assert [c.charger_id for c in listed.chargers] == ["PX-2", "PX-1", "PX-3"]
    assert [c.status for c in listed.chargers] == [
        ChargerStatus.out_of_order,
        ChargerStatus.out_of_order,
        ChargerStatus.offline,
    ]
    assert listed.total == 3
    px1 = listed.chargers[1]
    assert [(k.connector_id, k.status, k.error_code) for k in px1.connectors] == [
        (0, "Available", "NoError"),
        (1, "Faulted", "GroundFailure"),
    ]
    assert [k.problem for k in px1.connectors] == [False, True]
    assert px1.connectors[1].info == "RCD tripped"
    assert listed.chargers[2].connectors == ()
    assert not any(c.password_set for c in listed.chargers)
    assert [c.charger_id for c in found.chargers] == ["PX-1"]
    assert [c.charger_id for c in by_id.chargers] == ["PX-3"]
    assert (none.chargers, none.total) == ([], 0)  # % and _ are literal characters
    assert (len(first.chargers), first.total) == (1, 3)


def test_set_and_clear_the_ocpp_password(db: Database) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s:
        assert set_ocpp_password(s, " PX-1 ", GOOD_PASSWORD, actor=CLI, now=AT) == "PX-1"
    with db.session() as s:
        stored = s.scalar(select(Charger.ocpp_password_hash).where(Charger.id == "PX-1"))
        shown = {c.charger_id: c.password_set for c in ocpp_chargers(s, NOW).chargers}
    assert stored is not None and GOOD_PASSWORD not in stored
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, GOOD_PASSWORD) and not verify_password(stored, "wrong")
    assert shown == {"PX-1": True, "PX-2": False, "PX-3": False}
    with db.session() as s:
        clear_ocpp_password(s, "PX-1", actor=CLI, now=AT)
    with db.session() as s:
        assert s.scalar(select(Charger.ocpp_password_hash).where(Charger.id == "PX-1")) is None


@pytest.mark.parametrize(
    ("charger", "password", "message"),
    [
        ("PX-1", "short", "16 to 40 characters"),
        ("PX-1", "x" * 41, "16 to 40 characters"),
        ("PX-1", "with a space inside it", "no spaces"),
        ("PX-1", "pässwörtpässwörtpä", "no spaces or accented"),
        ("PX-1", None, "Type the password"),
        ("PX-1", 12345678901234567, "Type the password"),
        ("NOPE", GOOD_PASSWORD, "no charger with that id"),
        ("", GOOD_PASSWORD, "no charger with that id"),
        (["PX-1"], GOOD_PASSWORD, "no charger with that id"),
    ],
)
def test_bad_passwords_and_chargers_are_refused_plainly(
    db: Database, charger: object, password: object, message: str
) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s, pytest.raises(OcppAdminError, match=message):
        set_ocpp_password(s, charger, password, actor=CLI, now=AT)
    with db.session() as s:
        assert s.scalar(select(Charger.ocpp_password_hash).where(Charger.id == "PX-1")) is None


def test_assign_search_and_remove_id_tags(db: Database) -> None:
    with db.session() as s:
        seed(s)
    with db.session() as s:
        by_id = assign_id_tag(s, " 04A1B2C3D4E5F6 ", "acc-dana", actor=CLI, now=AT)
        by_email = assign_id_tag(s, "DANA-APP", "DANA@example.com", actor=CLI, now=AT)
    assert (by_id.id_tag, by_id.account_id, by_id.email) == (
        "04A1B2C3D4E5F6",
        "acc-dana",
        "dana@example.com",
    )
    assert by_email.account_id == "acc-dana"
    with db.session() as s:
        everything = id_tags(s)
        vans = id_tags(s, "van")
        app_only = id_tags(s, "app")
        one = id_tags(s, limit=1)
    assert [t.id_tag for t in everything.tags] == ["04A1B2C3D4E5F6", "DANA-APP"]
    assert everything.total == 2 and vans.total == 2
    assert [t.id_tag for t in app_only.tags] == ["DANA-APP"]
    assert (len(one.tags), one.total) == (1, 2)
    with db.session() as s:
        assert remove_id_tag(s, "DANA-APP", actor=CLI, now=AT) is True
        assert remove_id_tag(s, "DANA-APP", actor=CLI, now=AT) is False
        assert remove_id_tag(s, None, actor=CLI, now=AT) is False
    with db.session() as s:
        assert list(s.scalars(select(IdTag.id_tag))) == ["04A1B2C3D4E5F6"]


@pytest.mark.parametrize(
    ("tag", "account", "message"),
    [
        ("", "acc-dana", "Type the id tag"),
        ("   ", "acc-dana", "Type the id tag"),
        (None, "acc-dana", "Type the id tag"),
        ("X" * 21, "acc-dana", "at most 20 characters"),
        ("CARD 1", "acc-dana", "no spaces"),
        ("CARD\x00", "acc-dana", "no spaces"),
        ("TAKEN", "acc-dana", "already belongs to acc-dana"),
        ("NEW", "", "Name the customer account"),
        ("NEW", None, "Name the customer account"),
        ("NEW", "acc-nobody", "No account"),
        ("NEW", "nobody@example.com", "No account"),
        ("NEW", "acc-olga", "admin account"),
        ("NEW", "olga@example.com", "several customer accounts"),
    ],
)
def test_bad_id_tags_are_refused_plainly(
    db: Database, tag: object, account: object, message: str
) -> None:
    with db.session() as s:
        seed(s)
        s.add(IdTag(id_tag="TAKEN", account_id="acc-dana"))
    with db.session() as s, pytest.raises(OcppAdminError, match=message):
        assign_id_tag(s, tag, account, actor=CLI, now=AT)
    with db.session() as s:
        assert list(s.scalars(select(IdTag.id_tag))) == ["TAKEN"]


def test_an_id_tag_of_exactly_20_characters_is_fine(db: Database) -> None:
    with db.session() as s:
        seed(s)
        assert (
            assign_id_tag(s, "A" * 20, "acc-olga-own", actor=CLI, now=AT).account_id
            == "acc-olga-own"
        )


def test_reservations_sent_with_answers_refusals_flagged(db: Database) -> None:
    with db.session() as s:
        seed(s)
        answers = [
            ("r-ok", "Accepted", None, NOW - timedelta(minutes=30)),
            ("r-occupied", "Occupied", None, NOW - timedelta(minutes=20)),
            ("r-cancel", "cancelled", "Rejected", NOW - timedelta(minutes=10)),
            ("r-waiting", "sending", None, None),
        ]
        for i, (rid, state, cancel, sent) in enumerate(answers):
            make_reservation(
                s,
                "acc-dana",
                "PX-1",
                starts_at=NOW + timedelta(hours=i + 1),
                ends_at=NOW + timedelta(hours=i + 2),
                reservation_id=rid,
            )
            s.flush()
            s.add(
                OcppReservation(
                    reservation_id=rid,
                    charger_id="PX-1",
                    connector_id=1,
                    state=state,
                    sent_at=sent,
                    answered_at=None if sent is None else sent + timedelta(seconds=2),
                    cancel_answer=cancel,
                )
            )
    with db.session() as s:
        rows = sent_reservations(s)
        problems = sent_reservations(s, problems_only=True)
    assert [r.reservation_id for r in rows] == ["r-cancel", "r-occupied", "r-ok", "r-waiting"]
    assert {r.reservation_id: r.problem for r in rows} == {
        "r-cancel": True,
        "r-occupied": True,
        "r-ok": False,
        "r-waiting": False,
    }
    assert rows[0].charger_name == "Marktplatz" and rows[0].account_id == "acc-dana"
    assert rows[0].reservation_status == "confirmed"
    assert [r.reservation_id for r in problems] == ["r-cancel", "r-occupied"]
