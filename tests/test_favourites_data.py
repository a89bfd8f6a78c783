"""A driver's favourite chargers, on SQLite and PostgreSQL: starred only among the chargers the
account may see (an id from a browser is only a key), listed earliest first and only while
still visible, unstarred for the account alone, deleted with the account or the charger; and
the dashboard's list puts them first, then the others as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from data.chargers.favourites import (
    FAVOURITE_LIMIT,
    NOT_VISIBLE,
    FavouriteCharger,
    FavouriteRefused,
    add_favourite,
    favourite_ids,
    remove_favourite,
)
from data.chargers.snapshots import account_grants, fleet_snapshot, snapshot_chargers
from data.core.db import Database
from data.core.models import Account, Charger, ChargerAccess, Visibility
from tests.support.factories import grant_access, make_account, make_charger

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


@pytest.fixture
def fleet(db: Database) -> None:
    """Dana (ACC-DANA) and Ed (ACC-ED); public A-1..A-3 (A-3 Offline), restricted R-1 granted
    to Ed."""
    with db.session() as s:
        make_account(s, account_id="ACC-DANA")
        make_account(s, account_id="ACC-ED")
        make_charger(s, charger_id="A-1", friendly_name="Alpha", last_seen_at=NOW)
        make_charger(s, charger_id="A-2", friendly_name="Bravo", last_seen_at=NOW)
        make_charger(s, charger_id="A-3", friendly_name="Charlie")
        make_charger(s, charger_id="R-1", friendly_name="Depot",
                     visibility=Visibility.restricted, last_seen_at=NOW)  # fmt: skip
        grant_access(s, "ACC-ED", "R-1")


def star(db: Database, account: str, charger: object, at: datetime = NOW) -> bool:
    with db.session() as s:
        return add_favourite(s, account, charger, at)


def starred(db: Database, account: str) -> list[str]:
    with db.session() as s:
        return favourite_ids(s, account)


def test_starred_chargers_are_listed_earliest_first(db: Database, fleet: None) -> None:
    assert starred(db, "ACC-DANA") == []
    assert star(db, "ACC-DANA", "A-3")
    assert star(db, "ACC-DANA", "A-1", NOW + timedelta(minutes=1))
    assert not star(db, "ACC-DANA", "A-3", NOW + timedelta(minutes=2))  # already: unchanged
    assert starred(db, "ACC-DANA") == ["A-3", "A-1"]
    assert starred(db, "ACC-ED") == []  # another account's favourites are its own
    with db.session() as s:
        row = s.get(FavouriteCharger, ("ACC-DANA", "A-3"))
        assert row is not None and row.created_at == NOW


@pytest.mark.parametrize("charger", ["R-1", "NO-SUCH", "", "x" * 65, 7, None, ["A-1"]])
def test_a_charger_the_account_may_not_see_is_refused(
    db: Database, fleet: None, charger: object
) -> None:
    with pytest.raises(FavouriteRefused, match=NOT_VISIBLE):
        star(db, "ACC-DANA", charger)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FavouriteCharger)) == 0


def test_a_granted_charger_may_be_starred_and_is_hidden_once_revoked(
    db: Database, fleet: None
) -> None:
    assert star(db, "ACC-ED", "R-1")
    assert starred(db, "ACC-ED") == ["R-1"]
    with db.session() as s:
        s.execute(delete(ChargerAccess).where(ChargerAccess.account_id == "ACC-ED"))
    assert starred(db, "ACC-ED") == []


def test_unstarring_touches_only_the_accounts_own_row(db: Database, fleet: None) -> None:
    star(db, "ACC-DANA", "A-1")
    star(db, "ACC-ED", "A-1")
    with db.session() as s:
        assert remove_favourite(s, "ACC-DANA", "A-1")
        assert not remove_favourite(s, "ACC-DANA", "A-1")  # gone already
        assert not remove_favourite(s, "ACC-DANA", 42)  # no id a charger can have
    assert starred(db, "ACC-DANA") == []
    assert starred(db, "ACC-ED") == ["A-1"]


def test_there_is_a_limit(db: Database, fleet: None) -> None:
    with db.session() as s:
        for i in range(FAVOURITE_LIMIT):
            make_charger(s, charger_id=f"M-{i:02d}", last_seen_at=NOW)
    for i in range(FAVOURITE_LIMIT):
        star(db, "ACC-DANA", f"M-{i:02d}")
    with pytest.raises(FavouriteRefused):
        star(db, "ACC-DANA", "A-1")
    assert len(starred(db, "ACC-DANA")) == FAVOURITE_LIMIT


def test_favourites_go_with_their_account_and_charger(db: Database, fleet: None) -> None:
    star(db, "ACC-DANA", "A-1")
    star(db, "ACC-DANA", "A-2")
    star(db, "ACC-ED", "A-2")
    with db.session() as s:
        s.delete(s.get_one(Charger, "A-1"))
    assert starred(db, "ACC-DANA") == ["A-2"]
    with db.session() as s:
        s.delete(s.get_one(Account, "ACC-DANA"))
    with db.session() as s:
        assert s.scalars(select(FavouriteCharger.account_id)).all() == ["ACC-ED"]


def test_the_dashboard_lists_favourites_first_then_as_before(db: Database, fleet: None) -> None:
    with db.session() as s:
        fleet_now = fleet_snapshot(s, NOW)
        before = snapshot_chargers(fleet_now, account_grants(s, "ACC-ED"))
    # As before: Online ones by name, then the others.
    assert [r.charger_id for r in before.chargers] == ["A-1", "A-2", "R-1", "A-3"]
    star(db, "ACC-ED", "A-3")
    star(db, "ACC-ED", "R-1", NOW + timedelta(seconds=1))
    with db.session() as s:
        grants = account_grants(s, "ACC-ED")
        after = snapshot_chargers(fleet_now, grants, favourites=favourite_ids(s, "ACC-ED"))
        # An id the account may not see (a stale favourite) is never listed.
        other = snapshot_chargers(fleet_now, frozenset(), favourites=["R-1", "A-2"])
    assert [r.charger_id for r in after.chargers] == ["A-3", "R-1", "A-1", "A-2"]
    assert [r.status for r in after.chargers] == [before.chargers[3].status, *(
        r.status for r in before.chargers[2:3] + before.chargers[:2])]  # fmt: skip
    assert (after.visible, after.available) == (before.visible, before.available)
    assert [r.charger_id for r in other.chargers] == ["A-2", "A-1", "A-3"]
    with db.session() as s:
        limited = snapshot_chargers(fleet_now, grants, limit=2, favourites=["A-3"])
    assert [r.charger_id for r in limited.chargers] == ["A-3", "A-1"]
