"""The fleet queries and edits (data/chargers/fleet.py), on SQLite and PostgreSQL (fixture ``db``).

``now`` is always pinned. Status numbers are checked against ``data.charging.dashboard`` (the
customer's view of the same rule); usage edges: 30 days exactly, local midnight, DST days, empty
periods.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from data.chargers.charger import (
    ChargerNotFoundError,
    FleetInputError,
    charger_detail,
    charger_reservations,
    charger_session_count,
    charger_sessions,
    update_charger,
)
from data.chargers.fleet import fleet_counts, fleet_page, parse_fleet_request
from data.chargers.grants import (
    GrantProblem,
    GrantRefused,
    charger_grants,
    customer_account_choices,
    grant_charger,
    revoke_charger,
)
from data.chargers.status import ChargerStatus
from data.chargers.usage import charger_daily_usage
from data.charging.dashboard import visible_chargers
from data.core.db import Database
from data.core.grid import MAX_GRID_ROWS
from data.core.models import (
    Charger,
    ChargerAccess,
    ConnectorStatus,
    ConnectorType,
    ReservationStatus,
    Role,
    Visibility,
)
from data.core.periods import period_bounds
from tests.support.audit import AT, CLI
from tests.support.factories import (
    grant_access,
    make_account,
    make_charger,
    make_operator,
    make_reservation,
    make_session,
    make_user,
    poll_statuses,
)

NOW = datetime(2026, 4, 10, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def page(db: Database, request: object = None, now: datetime = NOW):
    with db.session() as s:
        return fleet_page(s, now, parse_fleet_request(request or {"startRow": 0, "endRow": 100}))


def ids(db: Database, request: object) -> list[str]:
    return [r.charger_id for r in page(db, request).rows]


def req(**kwargs: object) -> dict[str, object]:
    return {"startRow": 0, "endRow": 100, **kwargs}


def one_of_each_status(s) -> dict[str, ChargerStatus]:
    """Chargers covering every rule and edge, and the status the spec gives each."""
    driver = make_account(s, account_id="acc-driver")
    expected: dict[str, ChargerStatus] = {}

    def charger(cid: str, status: ChargerStatus, **kw: object) -> Charger:
        expected[cid] = status
        return make_charger(s, charger_id=cid, friendly_name=f"Bay {cid}", **kw)

    charger("never", ChargerStatus.offline)
    charger("stale", ChargerStatus.offline, last_seen_at=NOW - HOUR - timedelta(seconds=1))
    charger("hour-old", ChargerStatus.online, last_seen_at=NOW - HOUR)
    charger("fresh", ChargerStatus.online, last_seen_at=NOW)
    busy = charger("busy", ChargerStatus.in_use, last_seen_at=NOW)
    make_session(s, driver, busy, started_at=NOW - HOUR)
    silent_busy = charger("silent-busy", ChargerStatus.offline, last_seen_at=NOW - 2 * HOUR)
    make_session(s, driver, silent_busy, started_at=NOW - 3 * HOUR)
    held = charger("held", ChargerStatus.reserved, last_seen_at=NOW)
    make_reservation(s, driver, held, starts_at=NOW, ends_at=NOW + HOUR)
    active = charger("active", ChargerStatus.reserved, last_seen_at=NOW)
    make_reservation(
        s, driver, active, starts_at=NOW - HOUR, ends_at=NOW + HOUR, status=ReservationStatus.active
    )
    pending = charger("pending", ChargerStatus.online, last_seen_at=NOW)
    make_reservation(
        s,
        driver,
        pending,
        starts_at=NOW - HOUR,
        ends_at=NOW + HOUR,
        status=ReservationStatus.pending,
    )
    over = charger("over", ChargerStatus.online, last_seen_at=NOW)
    make_reservation(s, driver, over, starts_at=NOW - HOUR, ends_at=NOW)
    depot = charger(
        "depot", ChargerStatus.in_use, last_seen_at=NOW, visibility=Visibility.restricted
    )
    make_session(s, driver, depot, started_at=NOW - HOUR)
    grant_access(s, driver, depot)
    faulted = charger("faulted", ChargerStatus.out_of_order, last_seen_at=NOW)
    s.add(
        ConnectorStatus(
            charger_id=faulted.id,
            connector_id=0,
            status="Faulted",
            error_code="GroundFailure",
            reported_at=NOW,
        )
    )
    return expected


# --- counts ----------------------------------------------------------------------------------


def test_counts_follow_the_customer_rule(db: Database) -> None:
    with db.session() as s:
        expected = one_of_each_status(s)
    with db.session() as s:
        counts = fleet_counts(s, NOW)
        customer_view = poll_statuses(s, "acc-driver", list(expected), NOW)
        shown = visible_chargers(s, "acc-driver", NOW)
    assert customer_view == expected  # the fixture means what the dashboard means
    assert counts == Counter(expected.values())
    assert counts[ChargerStatus.online] == shown.available
    assert sum(counts.values()) == page(db).total == len(expected)
    by_row = {r.charger_id: r.status for r in page(db).rows}
    assert by_row == expected


def test_counts_on_an_empty_database(db: Database) -> None:
    with db.session() as s:
        assert fleet_counts(s, NOW) == dict.fromkeys(ChargerStatus, 0)
    empty = page(db)
    assert (empty.rows, empty.total) == ([], 0)


# --- sessions and kWh in the last 30 days ----------------------------------------------------


def test_recent_sessions_and_energy_edges(db: Database) -> None:
    since = NOW - timedelta(days=30)
    with db.session() as s:
        acc = make_account(s)
        a = make_charger(s, charger_id="a", friendly_name="A", last_seen_at=NOW)
        b = make_charger(s, charger_id="b", friendly_name="B", last_seen_at=NOW)
        make_charger(s, charger_id="c", friendly_name="C", last_seen_at=NOW)  # none at all

        def charge(charger: Charger, start: datetime, kwh: str, end: bool = True) -> None:
            make_session(
                s, acc, charger, started_at=start, ended_at=start + HOUR if end else None,
                energy_kwh=kwh,
            )  # fmt: skip

        charge(a, since, "1.001")  # exactly 30 days ago: counts
        charge(a, since - timedelta(microseconds=1), "500")  # just before: doesn't
        charge(a, since - timedelta(days=3), "500")
        charge(a, NOW - HOUR, "2.002")
        charge(a, NOW, "3.003", end=False)  # started exactly now, in progress: counts
        charge(a, NOW + timedelta(seconds=1), "900")  # a clock ahead: not in the past 30 days
        charge(b, NOW - timedelta(days=29, hours=23), "10")
    expected = {"a": (3, 6.006), "b": (1, 10.0), "c": (0, 0.0)}
    # Page first, then aggregate (default order) ...
    rows = {r.charger_id: (r.sessions_30d, r.energy_kwh_30d) for r in page(db).rows}
    assert rows == expected
    # ... and aggregate everything, then page (sorting by the aggregate): the same figures.
    by_kwh = page(db, req(sortModel=[{"colId": "energy_kwh_30d", "sort": "desc"}])).rows
    assert [r.charger_id for r in by_kwh] == ["b", "a", "c"]
    assert {r.charger_id: (r.sessions_30d, r.energy_kwh_30d) for r in by_kwh} == expected
    by_sessions = ids(db, req(sortModel=[{"colId": "sessions_30d", "sort": "asc"}]))
    assert by_sessions == ["c", "b", "a"]
    filtered = ids(
        db,
        req(filterModel={"sessions_30d": {"filterType": "number", "type": "equals", "filter": 0}}),
    )
    assert filtered == ["c"]


# --- paging, sorting, filtering --------------------------------------------------------------


def test_paging_covers_everything_once(db: Database) -> None:
    with db.session() as s:
        for i in range(25):
            make_charger(s, charger_id=f"p{i:02d}", friendly_name=f"Bay {i % 3}", last_seen_at=NOW)
    seen: list[str] = []
    for start in range(0, 30, 10):
        result = page(db, {"startRow": start, "endRow": start + 10})
        assert result.total == 25
        seen += [r.charger_id for r in result.rows]
    assert len(seen) == 25 and set(seen) == {f"p{i:02d}" for i in range(25)}
    beyond = page(db, {"startRow": 40, "endRow": 50})
    assert (beyond.rows, beyond.total) == ([], 25)


@pytest.mark.parametrize(
    ("raw", "start", "end"),
    [
        (None, 0, 100),
        ("startRow=0", 0, 100),
        ({"startRow": -5, "endRow": 10}, 0, 10),
        ({"startRow": 20, "endRow": 10}, 20, 120),
        ({"startRow": 0, "endRow": 10**12}, 0, MAX_GRID_ROWS),
        ({"startRow": "0; DROP TABLE chargers", "endRow": 5.0}, 0, 5),
        ({"startRow": True, "endRow": float("nan")}, 0, 100),
    ],
)
def test_paging_bounds_are_validated(raw: object, start: int, end: int) -> None:
    request = parse_fleet_request(raw)
    assert (request.start, request.end) == (start, end)


def sort_fixture(s) -> None:
    make_charger(s, charger_id="z1", friendly_name="alpha", last_seen_at=NOW - 2 * HOUR)
    make_charger(s, charger_id="y2", friendly_name="Bravo", last_seen_at=NOW, max_power_kw="150")
    make_charger(s, charger_id="x3", friendly_name="charlie", last_seen_at=None)
    make_charger(
        s, charger_id="w4", friendly_name="Delta", last_seen_at=NOW - HOUR, max_power_kw="22",
        connector_type=ConnectorType.type2, visibility=Visibility.restricted,
    )  # fmt: skip


def test_sorting_by_allowed_columns(db: Database) -> None:
    with db.session() as s:
        sort_fixture(s)

    def by(col: str, direction: str = "asc") -> list[str]:
        return ids(db, req(sortModel=[{"colId": col, "sort": direction}]))

    assert by("friendly_name") == ["z1", "y2", "x3", "w4"]  # case-insensitive
    assert by("friendly_name", "desc") == ["w4", "x3", "y2", "z1"]
    assert by("charger_id") == ["w4", "x3", "y2", "z1"]
    assert by("last_seen_at") == ["x3", "z1", "w4", "y2"]  # never heard from: stalest
    assert by("last_seen_at", "desc") == ["y2", "w4", "z1", "x3"]
    assert by("status") == ["z1", "x3", "y2", "w4"]  # Offline first, then Online; by name
    assert by("max_power_kw", "desc") == ["y2", "z1", "x3", "w4"]  # ties by name
    assert by("visibility", "desc")[0] == "w4"
    assert ids(db, req()) == ["z1", "y2", "x3", "w4"]  # default: by name


@pytest.mark.parametrize(
    "sort_model",
    [
        [{"colId": "id; DROP TABLE chargers; --", "sort": "asc"}],
        [{"colId": "password_hash", "sort": "desc"}],
        [{"colId": "friendly_name", "sort": "sideways"}],
        [{"colId": ["friendly_name"], "sort": "desc"}],
        "friendly_name desc",
        [None, 7],
    ],
)
def test_unknown_sort_is_ignored_not_injected(db: Database, sort_model: object) -> None:
    with db.session() as s:
        sort_fixture(s)
    assert ids(db, req(sortModel=sort_model)) == ["z1", "y2", "x3", "w4"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Charger)) == 4


def text_filter(kind: str, value: str) -> dict[str, str]:
    return {"filterType": "text", "type": kind, "filter": value}


def test_filters(db: Database) -> None:
    with db.session() as s:
        sort_fixture(s)
        make_charger(s, charger_id="v5", friendly_name="echo 100%_sure", last_seen_at=NOW)

    def where(model: dict[str, object]) -> list[str]:
        return ids(db, req(filterModel=model))

    assert where({"status": text_filter("equals", "offline")}) == ["z1", "x3"]
    assert where({"status": text_filter("equals", "Offline")}) == ["z1", "x3"]
    assert where({"status": text_filter("contains", "ONL")}) == ["y2", "w4", "v5"]
    assert where({"status": text_filter("notEqual", "Offline")}) == ["y2", "w4", "v5"]
    assert where({"status": text_filter("equals", "Broken")}) == []
    assert where({"friendly_name": text_filter("contains", "ALP")}) == ["z1"]
    assert where({"friendly_name": text_filter("contains", "x3")}) == ["x3"]  # by id too
    assert where({"friendly_name": text_filter("contains", "%")}) == ["v5"]  # escaped
    assert where({"friendly_name": text_filter("contains", "0%_s")}) == ["v5"]
    assert where({"friendly_name": text_filter("contains", "1_0")}) == []  # "_" is no wildcard
    assert where({"friendly_name": text_filter("notContains", "a")}) == ["v5"]
    assert where({"charger_id": text_filter("startsWith", "Y")}) == ["y2"]
    assert where({"connector_type": text_filter("equals", "type 2")}) == ["w4"]
    assert where({"visibility": text_filter("equals", "restricted")}) == ["w4"]
    assert where(
        {"max_power_kw": {"filterType": "number", "type": "greaterThan", "filter": 49}}
    ) == ["z1", "y2", "x3", "v5"]
    assert where(
        {"max_power_kw": {"filterType": "number", "type": "inRange", "filter": 20, "filterTo": 60}}
    ) == ["z1", "x3", "w4", "v5"]
    either = {
        "filterType": "text",
        "operator": "OR",
        "conditions": [text_filter("equals", "alpha"), text_filter("equals", "delta")],
    }
    assert where({"friendly_name": either}) == ["z1", "w4"]
    both = {**either, "operator": "AND"}
    assert where({"friendly_name": both}) == []
    combined = {
        "status": text_filter("equals", "Online"),
        "friendly_name": text_filter("contains", "e"),
    }
    result = page(db, req(filterModel=combined))
    assert [r.charger_id for r in result.rows] == ["w4", "v5"] and result.total == 2


@pytest.mark.parametrize(
    "model",
    [
        {"last_seen_at": text_filter("contains", "x")},  # not filterable
        {"password_hash": text_filter("contains", "x")},
        {"status": {"filterType": "text", "type": "regex", "filter": ".*"}},
        {"status": {"filterType": "text", "type": ["equals"], "filter": "Offline"}},
        {"status": text_filter("equals", "   ")},
        {"max_power_kw": {"filterType": "number", "type": "greaterThan", "filter": "lots"}},
        {"max_power_kw": {"filterType": "number", "type": "inRange", "filter": 1}},
        {"friendly_name": "alpha"},
        ["status"],
    ],
)
def test_unknown_filters_are_ignored(db: Database, model: object) -> None:
    with db.session() as s:
        sort_fixture(s)
    assert ids(db, req(filterModel=model)) == ["z1", "y2", "x3", "w4"]


# --- one charger: detail, sessions, reservations ---------------------------------------------


def test_detail_sessions_and_reservations(db: Database) -> None:
    with db.session() as s:
        acc = make_account(s, account_id="acc-1")
        other = make_account(s, account_id="acc-2")
        c = make_charger(s, charger_id="c1", friendly_name="Depot", last_seen_at=NOW)
        elsewhere = make_charger(s, charger_id="c2", last_seen_at=NOW)
        for i in range(7):
            start = NOW - timedelta(days=i, hours=2)
            make_session(
                s, acc if i % 2 else other, c, started_at=start, ended_at=start + HOUR,
                energy_kwh=f"{i + 1}.5", session_id=f"s{i}",
            )  # fmt: skip
        make_session(s, acc, c, started_at=NOW - HOUR, energy_kwh="0.25", session_id="live")
        make_session(s, acc, elsewhere, started_at=NOW - HOUR, session_id="elsewhere")
        r = {
            "past": (NOW - 3 * HOUR, NOW - 2 * HOUR, ReservationStatus.completed),
            "older": (NOW - 30 * HOUR, NOW - 29 * HOUR, ReservationStatus.cancelled),
            "later": (NOW + 5 * HOUR, NOW + 6 * HOUR, ReservationStatus.pending),
            "now": (NOW - HOUR, NOW + HOUR, ReservationStatus.active),
            "soon": (NOW + HOUR, NOW + 2 * HOUR, ReservationStatus.confirmed),
        }
        for rid, (start, end, status) in r.items():
            make_reservation(
                s, acc, c, starts_at=start, ends_at=end, status=status, reservation_id=rid
            )
        make_reservation(s, acc, elsewhere, starts_at=NOW, ends_at=NOW + HOUR, reservation_id="x")
    with db.session() as s:
        detail = charger_detail(s, "c1", NOW)
        assert detail is not None
        assert (detail.friendly_name, detail.status) == ("Depot", ChargerStatus.in_use)
        assert charger_detail(s, "nope", NOW) is None
        assert charger_detail(s, "x" * 500, NOW) is None
        assert charger_session_count(s, "c1") == 8
        first = charger_sessions(s, "c1", 0, 3)
        assert [x.session_id for x in first] == ["live", "s0", "s1"]
        assert first[0].ended_at is None and first[0].energy_kwh == 0.25
        assert (first[2].account_id, first[2].energy_kwh) == ("acc-1", 2.5)
        assert [x.session_id for x in charger_sessions(s, "c1", 6, 10)] == ["s5", "s6"]
        assert charger_sessions(s, "c1", 50, 10) == []
        reservations = charger_reservations(s, "c1", NOW)
        assert [x.reservation_id for x in reservations] == ["now", "soon", "later", "past", "older"]
        assert reservations[0].status == "active"


# --- utilisation and energy per day ----------------------------------------------------------


def usage(db: Database, charger_id: str, name: str, now: datetime) -> dict[date, tuple]:
    with db.session() as s:
        frame = charger_daily_usage(s, charger_id, period_bounds(name, now, BERLIN), now)
    return {
        d: (round(e, 3), round(h, 4), round(u, 4), None if math.isnan(x) else round(x, 4))
        for d, e, h, u, x in zip(
            frame["day"], frame["energy_kwh"], frame["hours"], frame["in_use_hours"],
            frame["utilisation"], strict=True,
        )
    }  # fmt: skip


def test_utilisation_across_local_midnight(db: Database) -> None:
    now = berlin(2026, 4, 10, 12, 0)
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        acc = make_account(s)
        c = make_charger(s, charger_id="c", last_seen_at=now)
        other = make_charger(s, charger_id="other", last_seen_at=now)
        # 23:00 -> 01:00 local: an hour on each side of midnight; energy on the start day.
        make_session(s, acc, c, started_at=berlin(2026, 4, 3, 23), ended_at=berlin(2026, 4, 4, 1),
                     energy_kwh="8.5")  # fmt: skip
        # Started last month (22:00 on 31 March), ended 06:00 on 1 April: 6 h in April only.
        make_session(s, acc, c, started_at=berlin(2026, 3, 31, 22), ended_at=berlin(2026, 4, 1, 6),
                     energy_kwh="40")  # fmt: skip
        # In progress since 06:00 today: six hours so far, of twelve.
        make_session(s, acc, c, started_at=berlin(2026, 4, 10, 6), energy_kwh="3")
        # Somebody else's charger never counts here.
        make_session(s, acc, other, started_at=berlin(2026, 4, 3, 10),
                     ended_at=berlin(2026, 4, 3, 20), energy_kwh="99")  # fmt: skip
    days = usage(db, "c", "current", now)
    assert len(days) == 30
    assert days[date(2026, 4, 1)] == (0.0, 24.0, 6.0, 0.25)
    assert days[date(2026, 4, 3)] == (8.5, 24.0, 1.0, round(1 / 24, 4))
    assert days[date(2026, 4, 4)] == (0.0, 24.0, 1.0, round(1 / 24, 4))
    assert days[date(2026, 4, 5)] == (0.0, 24.0, 0.0, 0.0)
    assert days[date(2026, 4, 10)] == (3.0, 12.0, 6.0, 0.5)  # today: hours so far
    assert days[date(2026, 4, 11)] == (0.0, 0.0, 0.0, None)  # ahead: no share yet
    march = usage(db, "c", "previous", now)
    assert march[date(2026, 3, 31)] == (40.0, 24.0, 2.0, round(2 / 24, 4))


def test_utilisation_on_dst_days(db: Database) -> None:
    now = berlin(2026, 4, 10, 12, 0)
    with db.session() as s:
        acc = make_account(s)
        c = make_charger(s, charger_id="c", last_seen_at=now)
        # The whole of 29 March 2026 (23 hours: clocks go forward) and one more hour after.
        make_session(s, acc, c, started_at=berlin(2026, 3, 29, 0), ended_at=berlin(2026, 3, 30, 1),
                     energy_kwh="70")  # fmt: skip
        # Half an hour before the midnight that starts the short day.
        make_session(s, acc, c, started_at=berlin(2026, 3, 28, 23, 30),
                     ended_at=berlin(2026, 3, 29, 0), energy_kwh="1")  # fmt: skip
    march = usage(db, "c", "previous", now)
    assert march[date(2026, 3, 29)] == (70.0, 23.0, 23.0, 1.0)
    assert march[date(2026, 3, 30)] == (0.0, 24.0, 1.0, round(1 / 24, 4))
    assert march[date(2026, 3, 28)] == (1.0, 24.0, 0.5, round(0.5 / 24, 4))
    assert sum(v[1] for v in march.values()) == 31 * 24 - 1
    year = usage(db, "c", "year", now)
    assert year[date(2026, 3, 29)] == march[date(2026, 3, 29)]


def test_utilisation_on_the_long_dst_day(db: Database) -> None:
    now = berlin(2025, 11, 5, 12, 0)
    with db.session() as s:
        acc = make_account(s)
        c = make_charger(s, charger_id="c", last_seen_at=now)
        # 26 October 2025 has 25 hours; 00:00 -> 05:00 local is 6 real hours.
        make_session(s, acc, c, started_at=berlin(2025, 10, 26, 0),
                     ended_at=berlin(2025, 10, 26, 5), energy_kwh="30")  # fmt: skip
    october = usage(db, "c", "previous", now)
    assert october[date(2025, 10, 26)] == (30.0, 25.0, 6.0, round(6 / 25, 4))


def test_daily_usage_of_an_idle_or_missing_charger(db: Database) -> None:
    with db.session() as s:
        make_charger(s, charger_id="idle", last_seen_at=NOW)
    for charger_id in ("idle", "missing"):
        days = usage(db, charger_id, "previous", NOW)
        assert len(days) == 31
        assert all(e == 0 and u == 0 and x == 0 for e, _h, u, x in days.values())


# --- edits -----------------------------------------------------------------------------------


def test_update_charger_validates(db: Database) -> None:
    with db.session() as s:
        make_charger(s, charger_id="c", friendly_name="Old", last_seen_at=NOW)
    with db.session() as s:
        for bad in ("", "   ", None, 42, "x" * 201):
            with pytest.raises(FleetInputError, match="name|characters"):
                update_charger(s, "c", bad, "public", actor=CLI, now=AT)
        with pytest.raises(FleetInputError, match="public or restricted"):
            update_charger(s, "c", "New", "secret", actor=CLI, now=AT)
        with pytest.raises(ChargerNotFoundError, match="no longer exists"):
            update_charger(s, "gone", "New", "public", actor=CLI, now=AT)
        with pytest.raises(ChargerNotFoundError):
            update_charger(s, {"id": "c"}, "New", "public", actor=CLI, now=AT)
        assert update_charger(s, "c", "  Depot \n Bay   1 ", "restricted", actor=CLI, now=AT) == (
            "Depot Bay 1",
            Visibility.restricted,
        )
    with db.session() as s:
        charger = s.get(Charger, "c")
        assert charger is not None
        assert (charger.friendly_name, charger.visibility) == ("Depot Bay 1", Visibility.restricted)


def test_grant_and_revoke(db: Database) -> None:
    with db.session() as s:
        user = make_user(s, email="nico@example.com", display_name="Nico")
        make_account(s, account_id="acc-nico", user=user, label="Van")
        make_account(s, account_id="acc-admin", role=Role.admin)
        make_charger(s, charger_id="depot", visibility=Visibility.restricted, last_seen_at=NOW)
        make_charger(s, charger_id="street", last_seen_at=NOW)
    with db.session() as s:
        assert [c.charger_id for c in visible_chargers(s, "acc-nico", NOW).chargers] == ["street"]
        refusals = {
            ("acc-ghost", "depot"): GrantProblem.unknown_account,
            ("acc-admin", "depot"): GrantProblem.admin_account,
            (None, "depot"): GrantProblem.no_account,
            ("  ", "depot"): GrantProblem.no_account,
            ("acc-nico", "street"): GrantProblem.public_charger,
            ("acc-nico", "nope"): GrantProblem.unknown_charger,
            ("acc-nico", None): GrantProblem.unknown_charger,
            ("a" * 300, "depot"): GrantProblem.unknown_account,
        }
        for (account, charger), problem in refusals.items():
            with pytest.raises(GrantRefused) as refused:
                grant_charger(s, account, charger, actor=CLI, now=AT)
            assert refused.value.problem == problem, (account, charger)
        assert grant_charger(s, "acc-nico", "depot", actor=CLI, now=AT).changed is True
        assert (
            grant_charger(s, "acc-nico", "depot", actor=CLI, now=AT).changed is False
        )  # already: no error
    with db.session() as s:
        # The customer's next refresh reads the database: the charger is there.
        shown = {c.charger_id for c in visible_chargers(s, "acc-nico", NOW).chargers}
        assert shown == {"street", "depot"}
        (grant,) = charger_grants(s, "depot")
        assert (grant.email, grant.display_name, grant.label) == ("nico@example.com", "Nico", "Van")
        assert page(db).rows[0].granted_accounts == 1
        assert revoke_charger(s, "acc-nico", "depot", actor=CLI, now=AT).changed is True
        assert revoke_charger(s, "acc-nico", "depot", actor=CLI, now=AT).changed is False
        with pytest.raises(GrantRefused) as refused:
            revoke_charger(s, "acc-nico", "gone", actor=CLI, now=AT)
        assert refused.value.problem == GrantProblem.unknown_charger
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ChargerAccess)) == 0
        assert [c.charger_id for c in visible_chargers(s, "acc-nico", NOW).chargers] == ["street"]


def test_customer_account_choices(db: Database) -> None:
    with db.session() as s:
        nico = make_user(s, email="newcomer@polaris.example", display_name="Nico Newcomer")
        make_account(s, account_id="ACC-NEWCOMER", user=nico)
        fleet = make_user(s, email="fleet@example.com", display_name="Fleet Manager")
        make_account(s, account_id="ACC-0010", user=fleet, label="Hafen_100% fleet")
        ops = make_user(s, email="operator@polaris.example", display_name="Olga")
        make_account(s, account_id="ACC-OPS", user=ops, role=Role.admin, label="Operations")
        make_account(s, account_id="ACC-OLGA", user=ops, label="Personal car")
    with db.session() as s:

        def found(text: object) -> list[str]:
            return [a.account_id for a in customer_account_choices(s, text)]

        assert found("newcomer") == ["ACC-NEWCOMER"]
        assert found("NEWCOMER@polaris") == ["ACC-NEWCOMER"]
        assert found("acc-0010") == ["ACC-0010"]
        assert found("hafen") == ["ACC-0010"]
        assert found("olga") == ["ACC-OLGA"]  # the admin account is never offered
        assert found("operations") == []
        assert found("_100%") == ["ACC-0010"]
        assert found("%") == ["ACC-0010"]  # a literal percent sign, not "anything"
        assert found("") == [] and found("   ") == [] and found(None) == []
