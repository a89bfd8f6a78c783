"""Drivers' bookings on SQLite and PostgreSQL: the operator's rules (stored, validated, audited),
each refusal of ``book_charger`` (nothing written), the next free time on overlap, the account's
limit, visibility, cancelling one's own booking, no-shows released, and a charger's refusal of
the ReserveNow cancelling the booking with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from data.accounts.validation import InvalidInput
from data.audit.entries import Action, Actor
from data.charging.booking import (
    CANCELLED_BY_DRIVER,
    DEFAULT_RULES,
    NO_SHOW,
    BookingRefused,
    book_charger,
    booking_rules,
    cancel_own_booking,
    ended_booking,
    ended_booking_text,
    next_free_start,
    release_no_shows,
    save_booking_rules,
)
from data.core.db import Database
from data.core.models import (
    Account,
    AuditEntry,
    Reservation,
    ReservationStatus,
    User,
    Visibility,
)
from data.notifications import DriverNotification, NotificationKind
from data.ocpp import commands
from data.ocpp.reservations import schedule_reservations
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_id_tag,
    make_operator,
    make_reservation,
    make_session,
)

NOW = datetime(2026, 12, 5, 9, 17, 30, tzinfo=UTC)
TEN = datetime(2026, 12, 6, 10, tzinfo=UTC)  # tomorrow 10:00 UTC
DANA = Actor("dana@example.com", None, "acc-dana")


def at(hours: float) -> datetime:
    return TEN + timedelta(hours=hours)


@pytest.fixture
def world(db: Database) -> Database:
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        make_account(s, account_id="acc-dana")
        make_account(s, account_id="acc-ben")
        make_charger(s, charger_id="c1", friendly_name="Marktplatz 1")
        make_charger(s, charger_id="c2", friendly_name="Marktplatz 2")
        make_charger(s, charger_id="depot", friendly_name="Depot", visibility=Visibility.restricted)
        grant_access(s, "acc-ben", "depot")
        make_id_tag(s, "acc-dana", id_tag="DANA-TAG")
        # Ben holds c1 tomorrow 10:00-11:00 and 11:30-12:00 UTC.
        make_reservation(s, "acc-ben", "c1", starts_at=at(0), ends_at=at(1), reservation_id="r-b1")
        make_reservation(
            s, "acc-ben", "c1", starts_at=at(1.5), ends_at=at(2), reservation_id="r-b2"
        )
    return db


def book(db: Database, **values: object) -> object:
    args: dict = {
        "account_id": "acc-dana",
        "charger_id": "c2",
        "starts_at": at(0),
        "ends_at": at(1),
        "now": NOW,
    } | values
    with db.session() as s:
        return book_charger(
            s, args["account_id"], args["charger_id"], args["starts_at"], args["ends_at"],
            args["now"], actor=DANA,
        )  # fmt: skip


def count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Reservation)) or 0)


def status(db: Database, reservation_id: str) -> tuple[str, str | None]:
    with db.session() as s:
        row = s.get(Reservation, reservation_id)
        assert row is not None
        return row.status.value, row.end_reason


# --- the rules -----------------------------------------------------------------------------------


def test_the_rules_default_then_are_saved_validated_and_audited(world: Database):
    with world.session() as s:
        assert booking_rules(s) == DEFAULT_RULES
        assert (DEFAULT_RULES.ahead_days, DEFAULT_RULES.longest_minutes) == (14, 240)
        assert (DEFAULT_RULES.open_per_account, DEFAULT_RULES.grace_minutes) == (2, 15)
    with world.session() as s, pytest.raises(InvalidInput) as refused:
        save_booking_rules(
            s, ahead_days="0", longest_minutes="abc", open_per_account=2, grace_minutes="121",
            actor=DANA, now=NOW,
        )  # fmt: skip
    assert set(refused.value.errors) == {"ahead_days", "longest_minutes", "grace_minutes"}
    with world.session() as s:
        assert booking_rules(s) == DEFAULT_RULES  # nothing written
        save_booking_rules(
            s, ahead_days="7", longest_minutes=90, open_per_account="1", grace_minutes="0",
            actor=DANA, now=NOW,
        )  # fmt: skip
    with world.session() as s:
        rules = booking_rules(s)
        assert (rules.ahead_days, rules.longest_minutes) == (7, 90)
        assert (rules.open_per_account, rules.grace_minutes) == (1, 0)
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == Action.booking_rules_updated.value)
        ).one()
        assert entry.subject_type == "booking_rules"
        assert '"ahead_days": 7' in (entry.after or "")


# --- booking and its refusals -------------------------------------------------------------------


def test_a_driver_books_a_visible_charger(world: Database):
    row = book(world)
    assert (row.account_id, row.charger_id, row.status) == ("acc-dana", "c2", "confirmed")
    with world.session() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == Action.reservation_created.value)
        ).one()
        assert entry.user == "dana@example.com"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"starts_at": NOW - timedelta(minutes=5), "ends_at": NOW + timedelta(hours=1)}, "past"),
        ({"ends_at": at(4.25)}, "at most 4 h"),
        ({"starts_at": NOW + timedelta(days=15), "ends_at": NOW + timedelta(days=15, hours=1)},
         "14 days ahead"),
        ({"ends_at": at(0)}, "end must be after"),
        ({"charger_id": "depot"}, "no charger by that name"),  # restricted, not granted
        ({"charger_id": "nope"}, "no charger by that name"),
    ],
)  # fmt: skip
def test_each_rule_refuses_in_words_and_writes_nothing(world: Database, values: dict, words: str):
    before = count(world)
    with pytest.raises(BookingRefused, match=words):
        book(world, **values)
    assert count(world) == before


def test_a_granted_restricted_charger_can_be_booked(world: Database):
    with world.session() as s:
        grant_access(s, "acc-dana", "depot")
    assert book(world, charger_id="depot").charger_id == "depot"


def test_an_overlap_names_the_next_free_time_of_that_length(world: Database):
    # c1 is held 10:00-11:00 and 11:30-12:00 UTC: an hour from 10:30 first fits at 12:00 UTC
    # (13:00 in Berlin); half an hour at 11:00 UTC (12:00 in Berlin).
    with pytest.raises(BookingRefused, match=r"free next from Sun 06 Dec 13:00 for 1 h"):
        book(world, charger_id="c1", starts_at=at(0.5), ends_at=at(1.5))
    with pytest.raises(BookingRefused, match=r"free next from Sun 06 Dec 12:00 for 30 min"):
        book(world, charger_id="c1", starts_at=at(0.25), ends_at=at(0.75))
    with world.session() as s:
        assert next_free_start(s, "c1", at(-2), timedelta(hours=1)) == at(-2)
        assert next_free_start(s, "c1", at(-0.5), timedelta(hours=1)) == at(2)
    assert count(world) == 2


def test_the_account_limit_counts_open_bookings(world: Database):
    book(world, starts_at=at(0), ends_at=at(1))
    book(world, starts_at=at(2), ends_at=at(3))
    with pytest.raises(BookingRefused, match="already have 2 open bookings"):
        book(world, starts_at=at(4), ends_at=at(5))
    assert count(world) == 4


def test_an_admin_account_cannot_book(world: Database):
    from data.core.models import Role

    with world.session() as s:
        make_account(s, account_id="acc-ops", role=Role.admin)
    with pytest.raises(BookingRefused, match="no charger by that name"):
        book(world, account_id="acc-ops")


# --- cancelling ---------------------------------------------------------------------------------


def test_a_driver_cancels_only_their_own_booking_before_it_starts(world: Database):
    row = book(world)
    with world.session() as s, pytest.raises(BookingRefused, match="no longer exists"):
        cancel_own_booking(s, "acc-ben", row.reservation_id, NOW, actor=DANA)
    with world.session() as s, pytest.raises(BookingRefused, match="has started"):
        cancel_own_booking(s, "acc-dana", row.reservation_id, at(0), actor=DANA)
    assert status(world, row.reservation_id) == ("confirmed", None)
    with world.session() as s:
        cancel_own_booking(s, "acc-dana", row.reservation_id, NOW, actor=DANA)
    assert status(world, row.reservation_id) == ("cancelled", CANCELLED_BY_DRIVER)
    with world.session() as s, pytest.raises(BookingRefused, match="already cancelled"):
        cancel_own_booking(s, "acc-dana", row.reservation_id, NOW, actor=DANA)
    # The driver's own cancellation is no news to them.
    with world.session() as s:
        assert ended_booking(s, "acc-dana", NOW) is None
    # The freed place counts no more against the limit.
    book(world, starts_at=at(2), ends_at=at(3))
    book(world, starts_at=at(4), ends_at=at(5))


# --- no-shows -------------------------------------------------------------------------------------


def test_a_booking_nobody_started_is_released_after_the_grace(world: Database):
    row = book(world)
    with world.session() as s:  # Dana opted in to e-mails; Ben did not
        dana = s.scalar(select(Account.user_id).where(Account.id == "acc-dana"))
        s.execute(update(User).where(User.id == dana).values(email_notifications=True))
    with world.session() as s:  # within the grace: kept
        assert release_no_shows(s, at(0) + timedelta(minutes=14)) == []
    with world.session() as s:
        # Ben's 10:00 booking on c1 was not started either; his 11:30 one is not due yet.
        released = release_no_shows(s, at(0) + timedelta(minutes=15))
        assert released == sorted([row.reservation_id, "r-b1"])
    assert status(world, row.reservation_id) == ("cancelled", NO_SHOW)
    with world.session() as s:  # Dana hears of it, once; Ben is not asked
        told = s.execute(select(DriverNotification.kind, DriverNotification.about_id)).all()
        assert told == [(NotificationKind.reservation_no_show, row.reservation_id)]
    with world.session() as s:
        assert release_no_shows(s, at(0) + timedelta(minutes=16)) == []  # once
        ended = ended_booking(s, "acc-dana", at(0.5))
        assert ended is not None and ended.reason == NO_SHOW
        assert "released" in ended_booking_text(ended, booking_rules_tz())


def booking_rules_tz():  # the operator's time zone of the world fixture
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def test_a_booking_with_a_session_of_its_account_on_its_charger_is_kept(world: Database):
    row = book(world)
    other = book(world, charger_id="c1", starts_at=at(3), ends_at=at(4))
    with world.session() as s:
        make_session(s, "acc-dana", "c2", started_at=at(0) - timedelta(minutes=5))
        # Another account's session on c1 does not count for Dana's booking there.
        make_session(s, "acc-ben", "c1", started_at=at(3) + timedelta(minutes=1))
    with world.session() as s:
        assert release_no_shows(s, at(3.5)) == [other.reservation_id]
    assert status(world, row.reservation_id) == ("confirmed", None)


# --- the charger refuses ------------------------------------------------------------------------


def answered(db: Database, row: commands.CommandRow, response: dict) -> None:
    """The OCPP server's part: claim the command, record the charger's answer."""
    with db.session() as s:
        assert [c.id for c in commands.claim_commands(s, [row.charger_id], "i1", at(-0.1))]
    with db.session() as s:
        status = commands.answer_status(response)
        assert commands.record_answer(s, row.id, status, response, at(-0.1))


@pytest.mark.parametrize("answer", ["Occupied", "Faulted", "Rejected", "Unavailable"])
def test_a_charger_refusing_the_reserve_now_cancels_the_booking_with_why(
    world: Database, answer: str
):
    row = book(world)
    with world.session() as s:
        (asked,) = schedule_reservations(s, at(-0.1), timedelta(minutes=10), ["c2"])
    answered(world, asked, {"status": answer})
    assert status(world, row.reservation_id) == ("cancelled", f"the charger answered {answer}")
    with world.session() as s:
        ended = ended_booking(s, "acc-dana", at(-0.1))
        assert ended is not None
        text = ended_booking_text(ended, booking_rules_tz())
        assert text.endswith(f"was cancelled: the charger answered {answer}.")
        # Nothing to cancel at a charger that holds nothing.
        assert schedule_reservations(s, at(-0.05), timedelta(minutes=10), ["c2"]) == []


def test_an_accepted_reserve_now_keeps_the_booking(world: Database):
    row = book(world)
    with world.session() as s:
        (asked,) = schedule_reservations(s, at(-0.1), timedelta(minutes=10), ["c2"])
    answered(world, asked, {"status": "Accepted"})
    assert status(world, row.reservation_id) == (ReservationStatus.confirmed.value, None)
