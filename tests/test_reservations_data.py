"""Admin reservations on SQLite and PostgreSQL: the upcoming list, cancel, and creation with its
refusals; overlaps refused by the transactional check (SQLite) and the exclusion constraint
(PostgreSQL), also when two creations race."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from data.charging import reservations
from data.charging.reservations import (
    EXCLUSION_CONSTRAINT,
    ReservationError,
    ReservationOverlap,
    cancel_reservation,
    count_upcoming_reservations,
    create_reservation,
    get_reservation,
    parse_local_time,
    search_chargers,
    search_customer_accounts,
    upcoming_reservations,
)
from data.core.db import Database, alembic_config, upgrade
from data.core.models import Reservation, ReservationStatus, Role, Visibility
from tests.support.audit import CLI
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_operator,
    make_reservation,
    make_user,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 24, 9, 17, 30, tzinfo=UTC)
TEN = datetime(2026, 11, 25, 10, tzinfo=UTC)  # tomorrow 10:00 UTC


def at(hours: float) -> datetime:
    """``hours`` after tomorrow 10:00 UTC."""
    return TEN + timedelta(hours=hours)


@pytest.fixture
def world(db: Database):
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        dana = make_account(s, account_id="acc-dana", label="Personal")
        make_account(s, account_id="acc-ben")
        make_account(s, account_id="acc-ops", role=Role.admin)
        make_charger(s, charger_id="c1", friendly_name="Marktplatz 1")
        make_charger(s, charger_id="c2", friendly_name="Marktplatz 2")
        make_charger(
            s, charger_id="depot", friendly_name="Depot Bay", visibility=Visibility.restricted
        )
        grant_access(s, "acc-ben", "depot")
        # The slot every overlap test compares with: c1, tomorrow 10:00-11:00 UTC, confirmed.
        make_reservation(s, dana, "c1", starts_at=at(0), ends_at=at(1), reservation_id="r-existing")
    return db


def create(db: Database, **values) -> object:
    args = {
        "account_id": "acc-ben",
        "charger_id": "c1",
        "starts_at": at(1),
        "ends_at": at(2),
        "now": NOW,
        "tz": BERLIN,
    } | values
    with db.session() as s:
        return create_reservation(s, **args, actor=CLI)


def holding(db: Database, charger_id: str = "c1") -> list[str]:
    with db.session() as s:
        return list(
            s.scalars(
                select(Reservation.id)
                .where(
                    Reservation.charger_id == charger_id,
                    Reservation.status.in_(["active", "confirmed"]),
                )
                .order_by(Reservation.starts_at)
            )
        )


# --- creating ------------------------------------------------------------------------------------


def test_a_new_reservation_is_confirmed(world):
    row = create(world, starts_at=at(3), ends_at=at(4))
    assert row.status == "confirmed"
    assert (row.account_id, row.charger_id, row.charger_name) == ("acc-ben", "c1", "Marktplatz 1")
    assert row.reservation_id.startswith("R-")
    with world.session() as s:
        stored = get_reservation(s, row.reservation_id)
    assert stored == row


@pytest.mark.parametrize(
    ("start", "end"),
    [(1, 2), (-1, 0), (-0.5, 0), (1, 1.5)],
    ids=["starts-when-other-ends", "ends-when-other-starts", "just-before", "later"],
)
def test_touching_intervals_are_allowed(world, start, end):
    create(world, starts_at=at(start), ends_at=at(end))
    assert len(holding(world)) == 2


@pytest.mark.parametrize(
    ("start", "end"),
    [(0.5, 1.5), (-0.5, 0.01), (-1, 2), (0.25, 0.75), (0, 1), (0.99, 3)],
    ids=["late-half", "one-minute-in", "covers", "inside", "same", "last-minute"],
)
def test_overlapping_intervals_are_refused_with_the_other_reservation_named(world, start, end):
    with pytest.raises(ReservationOverlap) as refused:
        create(world, starts_at=at(start), ends_at=at(end))
    message = str(refused.value)
    assert "Marktplatz 1 is already reserved" in message
    assert "r-existing" in message and "11:00 – 12:00" in message  # Berlin time (UTC+1)
    assert refused.value.conflict is not None
    assert refused.value.conflict.reservation_id == "r-existing"
    assert holding(world) == ["r-existing"]


@pytest.mark.parametrize("status", ["pending", "cancelled", "completed"])
def test_reservations_that_do_not_hold_the_charger_do_not_block(world, status):
    with world.session() as s:
        s.execute(
            Reservation.__table__.update()
            .where(Reservation.id == "r-existing")
            .values(status=ReservationStatus(status))
        )
    create(world, starts_at=at(0), ends_at=at(1))
    assert len(holding(world)) == 1


def test_an_active_reservation_blocks(world):
    with world.session() as s:
        make_reservation(
            s,
            "acc-dana",
            "c2",
            starts_at=NOW - timedelta(minutes=10),
            ends_at=NOW + timedelta(minutes=50),
            status=ReservationStatus.active,
        )
    with pytest.raises(ReservationOverlap):
        create(world, charger_id="c2", starts_at=NOW, ends_at=NOW + timedelta(hours=1))


def test_another_charger_is_free(world):
    create(world, charger_id="c2", starts_at=at(0), ends_at=at(1))
    assert len(holding(world, "c2")) == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"starts_at": at(2), "ends_at": at(1)}, "end must be after the start"),
        ({"starts_at": at(2), "ends_at": at(2)}, "end must be after the start"),
        (
            {"starts_at": NOW - timedelta(minutes=5), "ends_at": at(1)},
            "start is in the past",
        ),
        ({"account_id": "acc-ghost"}, "no account “acc-ghost”"),
        ({"charger_id": "c-ghost"}, "no charger “c-ghost”"),
        ({"account_id": "acc-ops"}, "acc-ops is an admin account"),
        ({"account_id": "acc-dana", "charger_id": "depot"}, "Depot Bay is restricted"),
        ({"starts_at": datetime(2026, 11, 26, 10), "ends_at": at(30)}, "time zone"),
    ],
    ids=[
        "end-before-start",
        "empty",
        "past",
        "unknown-account",
        "unknown-charger",
        "admin",
        "restricted",
        "naive",
    ],
)
def test_refusals_have_a_clear_message(world, values, message):
    with pytest.raises(ReservationError, match=message):
        create(world, **values)
    with world.session() as s:
        assert count_upcoming_reservations(s, NOW) == 1


def test_the_current_minute_is_not_the_past(world):
    """The form has minute precision: 09:17 is fine at 09:17:30, 09:16 is the past."""
    start = NOW.replace(second=0)
    with pytest.raises(ReservationError, match="start is in the past"):
        create(world, charger_id="c2", starts_at=start - timedelta(minutes=1), ends_at=at(0))
    row = create(world, charger_id="c2", starts_at=start, ends_at=start + timedelta(hours=1))
    assert (row.status, row.charger_id, row.starts_at) == ("confirmed", "c2", start)
    assert holding(world, "c2") == [row.reservation_id]


def test_a_granted_restricted_charger_can_be_reserved(world):
    row = create(world, account_id="acc-ben", charger_id="depot")
    assert row.charger_name == "Depot Bay"


def test_a_cancelled_reservation_frees_its_slot(world):
    with pytest.raises(ReservationOverlap):
        create(world, starts_at=at(0), ends_at=at(1))
    with world.session() as s:
        assert cancel_reservation(s, "r-existing", NOW, actor=CLI).status == "cancelled"
    row = create(world, starts_at=at(0), ends_at=at(1))
    assert (row.status, row.starts_at, row.ends_at) == ("confirmed", at(0), at(1))
    assert holding(world) == [row.reservation_id]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no EXCLUDE
def test_postgresql_refuses_an_overlap_by_itself(world):
    """Not only the check: the database refuses a second holding row (PostgreSQL only)."""
    with pytest.raises(IntegrityError, match=EXCLUSION_CONSTRAINT), world.session() as s:
        make_reservation(s, "acc-ben", "c1", starts_at=at(0.5), ends_at=at(1.5))
    with world.session() as s:  # ... but a pending one, or a touching one, is fine
        make_reservation(
            s, "acc-ben", "c1", starts_at=at(0.5), ends_at=at(2), status=ReservationStatus.pending
        )
        make_reservation(s, "acc-ben", "c1", starts_at=at(1), ends_at=at(2))
    with pytest.raises(IntegrityError, match=EXCLUSION_CONSTRAINT), world.session() as s:
        # Confirming the pending one would now overlap: updates are checked too.
        s.execute(
            Reservation.__table__.update()
            .where(Reservation.status == ReservationStatus.pending)
            .values(status=ReservationStatus.confirmed)
        )


def _race(db: Database, *, hold_first: bool) -> list[object]:
    """Two sessions create overlapping confirmed reservations on c2 at the same time.

    ``hold_first``: the first keeps its transaction open a moment after inserting, so the second
    checks before the first commits (on PostgreSQL the constraint then decides)."""
    results: list[object] = [None, None]
    inserted = threading.Event()
    barrier = threading.Barrier(2)

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            if hold_first and i == 1:
                inserted.wait(timeout=10)
            with db.session() as s:
                row = create_reservation(
                    s,
                    account_id="acc-ben" if i else "acc-dana",
                    charger_id="c2",
                    starts_at=at(i * 0.5),
                    ends_at=at(1 + i * 0.5),
                    now=NOW,
                    tz=BERLIN,
                    actor=CLI,
                )
                if hold_first and i == 0:
                    inserted.set()
                    time.sleep(0.5)
            results[i] = row
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
            inserted.set()

    threads = [
        threading.Thread(target=worker, args=(i,), name=("first", "second")[i]) for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


@pytest.mark.parametrize("hold_first", [True, False], ids=["second-checks-early", "together"])
def test_concurrent_creations_exactly_one_succeeds(world, hold_first, monkeypatch):
    checks: list[tuple[str, bool]] = []  # (thread, found an overlap) per overlap check
    original = reservations._first_overlap

    def spy(*args, **kwargs):
        found = original(*args, **kwargs)
        checks.append((threading.current_thread().name, found is not None))
        return found

    monkeypatch.setattr(reservations, "_first_overlap", spy)
    results = _race(world, hold_first=hold_first)
    refused = [r for r in results if isinstance(r, ReservationOverlap)]
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(made) == 1 and len(refused) == 1, results
    assert "Marktplatz 2 is already reserved" in str(refused[0])
    assert made[0].reservation_id in str(refused[0])  # the message names the winner
    assert holding(world, "c2") == [made[0].reservation_id]
    if hold_first:
        second = [found for name, found in checks if name == "second"]
        if world.dialect == "postgresql":
            # Its check ran before the first committed and saw nothing: the exclusion
            # constraint refused the insert, and the message was read after.
            assert second == [False, True]
        else:
            # SQLite: it waited for the write lock, then its check saw the first one's row.
            assert second == [True]


# --- cancelling ----------------------------------------------------------------------------------


def test_cancel(world):
    with world.session() as s:
        row = cancel_reservation(s, "r-existing", NOW, actor=CLI)
    assert row.status == "cancelled"
    with world.session() as s:
        assert get_reservation(s, "r-existing").status == "cancelled"
        assert count_upcoming_reservations(s, NOW) == 0
    with pytest.raises(ReservationError, match="already cancelled"), world.session() as s:
        cancel_reservation(s, "r-existing", NOW, actor=CLI)


@pytest.mark.parametrize("rid", ["r-ghost", "", "r-existing' OR '1'='1"])
def test_cancelling_an_unknown_reservation(world, rid):
    with pytest.raises(ReservationError, match="no longer exists"), world.session() as s:
        cancel_reservation(s, rid, NOW, actor=CLI)


def test_cancelling_an_ended_or_completed_reservation_is_refused(world):
    with world.session() as s:
        make_reservation(
            s,
            "acc-ben",
            "c2",
            starts_at=NOW - timedelta(hours=2),
            ends_at=NOW - timedelta(hours=1),
            reservation_id="r-ended",
        )
        make_reservation(
            s,
            "acc-ben",
            "c2",
            starts_at=at(5),
            ends_at=at(6),
            status=ReservationStatus.completed,
            reservation_id="r-done",
        )
    with pytest.raises(ReservationError, match="already ended"), world.session() as s:
        cancel_reservation(s, "r-ended", NOW, actor=CLI)
    with pytest.raises(ReservationError, match="already completed"), world.session() as s:
        cancel_reservation(s, "r-done", NOW, actor=CLI)


# --- the list ------------------------------------------------------------------------------------


def test_upcoming_and_current_reservations(world):
    with world.session() as s:
        for rid, charger, start, end, status in [
            ("r-current", "c2", NOW - timedelta(minutes=30), NOW + timedelta(minutes=30), "active"),
            ("r-ends-now", "c1", NOW - timedelta(hours=1), NOW, "confirmed"),  # ended at now
            ("r-pending", "c2", at(4), at(5), "pending"),
            ("r-cancelled", "c2", at(6), at(7), "cancelled"),
            ("r-completed", "c2", NOW - timedelta(minutes=5), at(1), "completed"),
        ]:
            make_reservation(
                s,
                "acc-ben",
                charger,
                starts_at=start,
                ends_at=end,
                status=ReservationStatus(status),
                reservation_id=rid,
            )
    with world.session() as s:
        rows = upcoming_reservations(s, NOW)
        count = count_upcoming_reservations(s, NOW)
        second = upcoming_reservations(s, NOW, 1, 2)
        bounds = [
            upcoming_reservations(s, NOW, -5, 1),
            upcoming_reservations(s, NOW, 2, 2),
            upcoming_reservations(s, NOW, 3, 1_000),
            upcoming_reservations(s, NOW, 0, 1_000),
        ]
        found = upcoming_reservations(s, NOW, search="MARKTPLATZ 2")
        by_id = upcoming_reservations(s, NOW, search="r-pend")
        by_account = count_upcoming_reservations(s, NOW, "acc-dana")
        nothing = upcoming_reservations(s, NOW, search="%")
    assert [r.reservation_id for r in rows] == ["r-current", "r-existing", "r-pending"]
    assert count == 3
    assert [r.status_label for r in rows] == ["Active", "Confirmed", "Pending"]
    assert [r.reservation_id for r in second] == ["r-existing"]
    assert [len(b) for b in bounds] == [1, 0, 0, 3]
    assert [r.reservation_id for r in found] == ["r-current", "r-pending"]
    assert [r.reservation_id for r in by_id] == ["r-pending"]
    assert by_account == 1
    assert nothing == []


def test_pages_never_exceed_100_rows(world):
    with world.session() as s:
        for i in range(130):
            make_reservation(s, "acc-ben", "c2", starts_at=at(2 + i), ends_at=at(2.5 + i))
    with world.session() as s:
        first = upcoming_reservations(s, NOW, 0, 500)
        rest = upcoming_reservations(s, NOW, 100, 200)
        assert count_upcoming_reservations(s, NOW) == 131
    assert len(first) == 100 and len(rest) == 31
    assert len({r.reservation_id for r in first + rest}) == 131


# --- local times and choosing ---------------------------------------------------------------------


def test_local_times_in_the_operators_zone():
    assert parse_local_time("2026-11-24T14:00", BERLIN, "start") == datetime(
        2026, 11, 24, 13, tzinfo=UTC
    )
    assert parse_local_time("2026-07-01 08:30:00", BERLIN, "start") == datetime(
        2026, 7, 1, 6, 30, tzinfo=UTC
    )
    # 02:30 happens twice on 25 Oct 2026: the first one (still summer time) is meant.
    assert parse_local_time("2026-10-25T02:30", BERLIN, "end") == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-03-29T02:30", "does not exist in Europe/Berlin"),
        ("", "Enter the start"),
        (None, "Enter the start"),
        (["2026-11-24T14:00"], "Enter the start"),
        ("tomorrow at ten", "not a date and time"),
        ("2026-02-30T10:00", "not a date and time"),
        ("2026-11-24T25:00", "not a date and time"),
    ],
)
def test_bad_local_times_are_refused(value, message):
    with pytest.raises(ReservationError, match=message):
        parse_local_time(value, BERLIN, "start")


def test_searching_accounts_lists_customers_only(world):
    with world.session() as s:
        make_account(s, account_id="acc-zoe", user=make_user(s, display_name="Zoë Weber"))
    with world.session() as s:
        everyone = search_customer_accounts(s, "")
        by_name = search_customer_accounts(s, "weber")
        by_label = search_customer_accounts(s, "personal")
        admins = search_customer_accounts(s, "acc-ops")
    assert [a.account_id for a in everyone] == ["acc-ben", "acc-dana", "acc-zoe"]
    assert [a.account_id for a in by_name] == ["acc-zoe"]
    assert [a.account_id for a in by_label] == ["acc-dana"]
    assert admins == []


def test_searching_chargers(world):
    with world.session() as s:
        assert [c.charger_id for c in search_chargers(s, "markt")] == ["c1", "c2"]
        assert [(c.charger_id, c.restricted) for c in search_chargers(s, "DEPOT")] == [
            ("depot", True)
        ]
        assert len(search_chargers(s, None, limit=2)) == 2


# --- the migration -------------------------------------------------------------------------------


def test_the_migration_stops_on_existing_overlaps_and_names_them(world):
    """Upgrading a database that already holds overlapping confirmed reservations stops with
    their ids instead of cancelling anyone's reservation (PostgreSQL; a no-op on SQLite)."""
    cfg = alembic_config(world.engine)
    command.downgrade(cfg, "0002")
    try:
        with world.session() as s:
            make_reservation(
                s, "acc-ben", "c1", starts_at=at(0.5), ends_at=at(1.5), reservation_id="r-clash"
            )
        if world.dialect == "postgresql":
            with pytest.raises(RuntimeError, match="r-clash and r-existing|r-existing and r-clash"):
                upgrade(world.engine)
            with world.session() as s:
                s.execute(text("UPDATE reservations SET status = 'cancelled' WHERE id = 'r-clash'"))
        upgrade(world.engine)
    finally:
        with world.session() as s:
            s.execute(text("DELETE FROM reservations WHERE id = 'r-clash'"))
        upgrade(world.engine)
    if world.dialect == "postgresql":
        with world.session() as s:
            assert s.scalar(
                text("SELECT count(*) FROM pg_constraint WHERE conname = :name"),
                {"name": EXCLUSION_CONSTRAINT},
            )
