"""The sessions explorer's queries on SQLite and PostgreSQL: filters at their edges, totals that
agree with the pages, paging bounds, the sort allow-list, and the URL's filter parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest

from data.charging.history import (
    DEFAULT_SORT,
    MAX_DAYS,
    PAGE_SIZE_MAX,
    PageKeys,
    SessionFilter,
    SessionSort,
    default_filter,
    filter_matches,
    parse_session_filter,
    parse_sessions_request,
    session_page,
    session_sort,
    session_totals,
)
from data.core.db import Database
from tests.support.factories import make_account, make_charger, make_operator, make_session

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 24)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ids(rows) -> list[str]:
    return [r.session_id for r in rows]


def all_pages(s, flt: SessionFilter, sort: SessionSort = DEFAULT_SORT, **kwargs) -> list:
    """Every row of the filter, read page by page the way the grid asks."""
    rows, start = [], 0
    while True:
        page = session_page(s, flt, BERLIN, start, start + PAGE_SIZE_MAX, sort, **kwargs)
        rows += page
        if len(page) < PAGE_SIZE_MAX:
            return rows
        start += PAGE_SIZE_MAX


# --- parsing the URL ---------------------------------------------------------------------------


def test_no_parameters_mean_the_last_seven_local_days():
    flt, notes = parse_session_filter({}, TODAY)
    assert notes == []
    assert flt == default_filter(TODAY)
    assert (flt.first_day, flt.last_day) == (date(2026, 11, 18), TODAY)
    assert (flt.charger, flt.account_id, flt.state) == (None, None, "all")


def test_a_valid_query_is_used_as_given_and_round_trips():
    params = {
        "from": "2026-11-01",
        "to": "2026-11-24",
        "charger": " PX-003 ",
        "account": "ACC-DRIVER",
        "state": "in_progress",
    }
    flt, notes = parse_session_filter(params, TODAY)
    assert notes == []
    assert flt == SessionFilter(
        date(2026, 11, 1), date(2026, 11, 24), "PX-003", "ACC-DRIVER", "in_progress"
    )
    again, _ = parse_session_filter(dict(parse_qsl(flt.query_string()[1:])), TODAY)
    assert again == flt


@pytest.mark.parametrize(
    ("params", "expected", "note"),
    [
        ({"from": "2026-13-01"}, (date(2026, 11, 18), TODAY), "not a date"),
        ({"from": "yesterday"}, (date(2026, 11, 18), TODAY), "not a date"),
        ({"to": "24.11.2026"}, (date(2026, 11, 18), TODAY), "not a date"),
        ({"from": ["2026-11-01", "2026-11-02"]}, (date(2026, 11, 18), TODAY), "several values"),
        ({"from": "0001-01-01"}, (date(2026, 11, 18), TODAY), "not a date"),
        ({"from": "2026-11-20", "to": "2026-11-10"}, (date(2026, 11, 18), TODAY), "after the end"),
        (
            {"from": "2020-01-01", "to": "2026-11-24"},
            (TODAY - timedelta(days=MAX_DAYS - 1), TODAY),
            f"at most {MAX_DAYS} days",
        ),
    ],
    ids=["month-13", "word", "german-date", "repeated", "year-1", "reversed", "too-long"],
)
def test_invalid_dates_fall_back_with_a_note(params, expected, note):
    flt, notes = parse_session_filter(params, TODAY)
    assert (flt.first_day, flt.last_day) == expected
    assert len(notes) == 1 and note in notes[0]


def test_one_sided_ranges():
    flt, notes = parse_session_filter({"from": "2026-11-01"}, TODAY)
    assert (flt.first_day, flt.last_day, notes) == (date(2026, 11, 1), TODAY, [])
    flt, notes = parse_session_filter({"to": "2026-11-10"}, TODAY)
    assert (flt.first_day, flt.last_day, notes) == (date(2026, 11, 4), date(2026, 11, 10), [])
    flt, notes = parse_session_filter({"from": "2026-12-05"}, TODAY)  # in the future: one day
    assert (flt.first_day, flt.last_day, notes) == (date(2026, 12, 5), date(2026, 12, 5), [])


@pytest.mark.parametrize(
    ("params", "field", "value"),
    [
        ({"state": "running"}, "state", "all"),
        ({"state": ["in_progress", "finalized"]}, "state", "all"),
        ({"charger": "x" * 201}, "charger", None),
        ({"account": "a" * 65}, "account_id", None),
        ({"account": ["a", "b"]}, "account_id", None),
    ],
)
def test_invalid_choices_fall_back_with_a_note(params, field, value):
    flt, notes = parse_session_filter(params, TODAY)
    assert getattr(flt, field) == value
    assert len(notes) == 1


def test_blank_values_are_no_filter_and_no_note():
    flt, notes = parse_session_filter({"charger": "  ", "account": "", "state": ""}, TODAY)
    assert (flt.charger, flt.account_id, flt.state, notes) == (None, None, "all", [])


@pytest.mark.parametrize(
    "model",
    [
        [{"colId": "password", "sort": "asc"}],
        [{"colId": "kwh", "sort": "sideways"}],
        [{"colId": "charger", "sort": "asc"}],
        "kwh",
        [["kwh", "asc"]],
        None,
        {},
    ],
)
def test_unknown_sort_columns_and_shapes_are_ignored(model):
    assert sort_of(model) == DEFAULT_SORT == SessionSort("started", descending=True)


def sort_of(model: object) -> SessionSort:
    return session_sort(parse_sessions_request({"startRow": 0, "endRow": 100, "sortModel": model}))


def test_allowed_sorts():
    assert sort_of([{"colId": "kwh", "sort": "asc"}]) == SessionSort("kwh", False)
    assert sort_of([{"colId": "x", "sort": "asc"}, {"colId": "started", "sort": "asc"}]) == (
        SessionSort("started", False)
    )


def test_the_explorer_reads_at_most_a_page_of_rows():
    request = parse_sessions_request({"startRow": 200, "endRow": 10**12})
    assert (request.start, request.end) == (200, 200 + PAGE_SIZE_MAX)


def test_day_bounds_are_local_midnights_including_dst_days():
    spring = SessionFilter(date(2026, 3, 29), date(2026, 3, 29))  # 23 hours in Berlin
    assert spring.start_utc(BERLIN) == utc(2026, 3, 28, 23)
    assert spring.end_utc(BERLIN) == utc(2026, 3, 29, 22)
    autumn = SessionFilter(date(2026, 10, 25), date(2026, 10, 25))  # 25 hours
    assert autumn.end_utc(BERLIN) - autumn.start_utc(BERLIN) == timedelta(hours=25)


# --- queries on both databases ------------------------------------------------------------------


@pytest.fixture
def setup(db: Database):
    with db.session() as s:
        make_operator(s, timezone="Europe/Berlin")
        dana = make_account(s, account_id="acc-dana")
        olga = make_account(s, account_id="acc-olga")
        hbf = make_charger(s, charger_id="PX-003", friendly_name="Hauptbahnhof P2 — Bay 1")
        make_charger(s, charger_id="PX-0030", friendly_name="Kino am Ring")
        make_charger(s, charger_id="PX-100", friendly_name="100% Park")
    return db, dana.id, olga.id, hbf.id


def test_local_day_boundaries_on_an_autumn_dst_day(setup):
    """25 Oct 2026 in Berlin runs from 22:00 UTC the day before to 23:00 UTC (25 hours)."""
    db, dana, _, hbf = setup
    edges = {
        "before": utc(2026, 10, 24, 21, 59, 59, 999999),  # 23:59:59.999999 CEST, the 24th
        "first": utc(2026, 10, 24, 22),  # 00:00 CEST, the 25th
        "repeated-hour": utc(2026, 10, 25, 1, 30),  # 02:30 CET, the second 02:30
        "last": utc(2026, 10, 25, 22, 59, 59, 999999),  # 23:59:59.999999 CET
        "after": utc(2026, 10, 25, 23),  # 00:00 CET, the 26th
    }
    with db.session() as s:
        for name, start in edges.items():
            make_session(s, dana, hbf, started_at=start, energy_kwh="1.5", session_id=name)
    flt = SessionFilter(date(2026, 10, 25), date(2026, 10, 25))
    with db.session() as s:
        rows = all_pages(s, flt)
        totals = session_totals(s, flt, BERLIN)
    assert ids(rows) == ["last", "repeated-hour", "first"]
    assert (totals.sessions, totals.energy_kwh) == (3, Decimal("4.500"))


def test_local_day_boundaries_on_a_spring_dst_day(setup):
    db, dana, _, hbf = setup
    with db.session() as s:
        make_session(s, dana, hbf, started_at=berlin(2026, 3, 28, 23, 59), session_id="sat")
        make_session(s, dana, hbf, started_at=berlin(2026, 3, 29, 0, 0), session_id="sun-first")
        make_session(s, dana, hbf, started_at=berlin(2026, 3, 29, 3, 0), session_id="sun-3am")
        make_session(s, dana, hbf, started_at=berlin(2026, 3, 29, 23, 59), session_id="sun-last")
        make_session(s, dana, hbf, started_at=berlin(2026, 3, 30, 0, 0), session_id="mon")
    with db.session() as s:
        sunday = all_pages(s, SessionFilter(date(2026, 3, 29), date(2026, 3, 29)))
        weekend = all_pages(s, SessionFilter(date(2026, 3, 28), date(2026, 3, 29)))
    assert ids(sunday) == ["sun-last", "sun-3am", "sun-first"]
    assert ids(weekend) == ["sun-last", "sun-3am", "sun-first", "sat"]


def test_an_empty_filter_has_zero_totals_and_no_pages(setup):
    db, dana, _, hbf = setup
    with db.session() as s:
        make_session(s, dana, hbf, started_at=utc(2026, 11, 20, 9), energy_kwh="5")
    empty = SessionFilter(date(2026, 11, 1), date(2026, 11, 7))
    with db.session() as s:
        totals = session_totals(s, empty, BERLIN)
        assert session_page(s, empty, BERLIN, 0, 100) == []
        assert session_page(s, empty, BERLIN, 0, 100, total=0) == []
    assert (totals.sessions, totals.energy_kwh) == (0, Decimal("0.000"))


def _history(db: Database, dana: str, olga: str, hbf: str, n: int = 230) -> None:
    """``n`` sessions over 10 days in November, with ties in start time and energy; the last
    ones in progress, some ended but not finalized."""
    with db.session() as s:
        for i in range(n):
            start = utc(2026, 11, 10, 6) + timedelta(minutes=(i // 3) * 90)
            done = i < n - 4
            make_session(
                s,
                dana if i % 3 else olga,
                hbf if i % 2 else "PX-0030",
                started_at=start,
                ended_at=start + timedelta(minutes=40) if done else None,
                energy_kwh=Decimal(i % 11) + Decimal("0.337"),
                finalized=done and i % 7 != 0,
                session_id=f"s{i:04d}",
            )


def test_totals_equal_the_sum_of_all_pages(setup):
    db, dana, olga, hbf = setup
    _history(db, dana, olga, hbf)
    month = SessionFilter(date(2026, 11, 1), date(2026, 11, 30))
    filters = [
        month,
        SessionFilter(date(2026, 11, 12), date(2026, 11, 14)),
        SessionFilter(month.first_day, month.last_day, state="in_progress"),
        SessionFilter(month.first_day, month.last_day, state="finalized"),
        SessionFilter(month.first_day, month.last_day, account_id=olga),
        SessionFilter(month.first_day, month.last_day, charger="PX-003"),
        SessionFilter(month.first_day, month.last_day, charger="kino"),
    ]
    with db.session() as s:
        for flt in filters:
            totals = session_totals(s, flt, BERLIN)
            rows = all_pages(s, flt)
            assert totals.sessions == len(rows) == len(set(ids(rows))), flt
            assert totals.energy_kwh == sum((r.energy_kwh for r in rows), Decimal(0)), flt
        assert session_totals(s, month, BERLIN).sessions == 230


def test_state_account_and_charger_filters(setup):
    db, dana, olga, hbf = setup
    _history(db, dana, olga, hbf, n=40)
    month = SessionFilter(date(2026, 11, 1), date(2026, 11, 30))
    with db.session() as s:
        live = all_pages(s, SessionFilter(month.first_day, month.last_day, state="in_progress"))
        final = all_pages(s, SessionFilter(month.first_day, month.last_day, state="finalized"))
        olgas = all_pages(s, SessionFilter(month.first_day, month.last_day, account_id=olga))
        exact = all_pages(s, SessionFilter(month.first_day, month.last_day, charger="PX-003"))
        by_name = all_pages(s, SessionFilter(month.first_day, month.last_day, charger="BAHNHOF"))
        part = all_pages(s, SessionFilter(month.first_day, month.last_day, charger="px-00"))
        percent = all_pages(s, SessionFilter(month.first_day, month.last_day, charger="%"))
        nobody = all_pages(s, SessionFilter(month.first_day, month.last_day, account_id="nope"))
    assert {r.session_id for r in live} == {"s0036", "s0037", "s0038", "s0039"}
    assert all(r.ended_at is None for r in live)
    # Finalized: ended and marked final; ended-but-not-final sessions are in neither list.
    assert final and all(r.finalized and r.ended_at is not None for r in final)
    assert len(final) == sum(1 for i in range(36) if i % 7 != 0)
    assert olgas and {r.account_id for r in olgas} == {olga}
    # An exact id is that charger only, though "PX-0030" contains "PX-003".
    assert exact and {r.charger_id for r in exact} == {"PX-003"}
    assert ids(by_name) == ids(exact)
    assert len(part) == 40
    assert percent == []  # "%" is a character to find, not a wildcard: no charger has it
    assert nobody == []


def test_paging_bounds(setup):
    db, dana, olga, hbf = setup
    _history(db, dana, olga, hbf)
    month = SessionFilter(date(2026, 11, 1), date(2026, 11, 30))
    with db.session() as s:
        everything = all_pages(s, month)
        assert len(everything) == 230
        assert ids(session_page(s, month, BERLIN, -50, 10)) == ids(everything[:10])
        assert session_page(s, month, BERLIN, 10, 10) == []
        assert session_page(s, month, BERLIN, 10, 5) == []
        assert len(session_page(s, month, BERLIN, 0, 10_000)) == PAGE_SIZE_MAX
        assert ids(session_page(s, month, BERLIN, 200, 300)) == ids(everything[200:])
        assert session_page(s, month, BERLIN, 230, 330) == []
        assert session_page(s, month, BERLIN, 5_000, 5_100) == []
        assert session_page(s, month, BERLIN, 5_000, 5_100, total=230) == []


@pytest.mark.parametrize(
    "sort",
    [
        DEFAULT_SORT,
        SessionSort("started", False),
        SessionSort("kwh", True),
        SessionSort("kwh", False),
    ],
    ids=["newest", "oldest", "most-kwh", "least-kwh"],
)
def test_keyset_and_far_half_pages_equal_offset_pages(setup, sort):
    """Continuing after a remembered key, and reading the far half backwards, give exactly the
    rows OFFSET gives, ties in start time and energy included."""
    db, dana, olga, hbf = setup
    _history(db, dana, olga, hbf)
    month = SessionFilter(date(2026, 11, 1), date(2026, 11, 30))
    keys = PageKeys()
    with db.session() as s:
        by_offset = all_pages(s, month, sort)
        by_keyset, start = [], 0
        while True:
            after = keys.get(month, BERLIN, sort, start - 1)
            page = session_page(s, month, BERLIN, start, start + 100, sort, after=after)
            if start:
                assert after is not None
            if page:
                keys.remember(month, BERLIN, sort, start + len(page) - 1, sort.key_of(page[-1]))
            by_keyset += page
            if len(page) < 100:
                break
            start += 100
        from_the_end = []
        for start in range(0, 300, 70):  # unaligned pages, some in the far half
            from_the_end += session_page(s, month, BERLIN, start, start + 70, sort, total=230)
    assert ids(by_keyset) == ids(by_offset) == ids(from_the_end)
    assert len(set(ids(by_offset))) == 230
    if sort.column == "kwh":
        energies = [r.energy_kwh for r in by_offset]
        assert energies == sorted(energies, reverse=sort.descending)
    else:
        starts = [r.started_at for r in by_offset]
        assert starts == sorted(starts, reverse=sort.descending)


def test_rows_carry_names_and_exact_energy(setup):
    db, dana, _, hbf = setup
    with db.session() as s:
        make_session(
            s,
            dana,
            hbf,
            started_at=utc(2026, 11, 20, 8),
            ended_at=utc(2026, 11, 20, 9),
            energy_kwh="12.345",
            session_id="one",
        )
    with db.session() as s:
        (row,) = session_page(
            s, SessionFilter(date(2026, 11, 20), date(2026, 11, 20)), BERLIN, 0, 1
        )
    assert row.charger_name == "Hauptbahnhof P2 — Bay 1"
    assert (row.account_id, row.charger_id) == (dana, "PX-003")
    assert row.energy_kwh == Decimal("12.345")
    assert row.started_at == utc(2026, 11, 20, 8) and row.started_at.tzinfo is not None
    assert row.finalized is True


def test_filter_matches_name_unknown_ids(setup):
    db, dana, _, _ = setup
    with db.session() as s:
        unknown = filter_matches(s, SessionFilter(TODAY, TODAY, "no-such", "acc-ghost"))
        known = filter_matches(s, SessionFilter(TODAY, TODAY, "PX-003", dana))
        several = filter_matches(s, SessionFilter(TODAY, TODAY, "px-"))
        none = filter_matches(s, SessionFilter(TODAY, TODAY))
    assert (unknown.chargers, unknown.account_exists) == (0, False)
    assert (known.chargers, known.account_exists) == (1, True)
    assert several.chargers == 3
    assert (none.chargers, none.account_exists) == (None, None)


def test_page_keys_forget_the_least_recently_used():
    keys = PageKeys(capacity=2)
    flt = default_filter(TODAY)
    keys.remember(flt, BERLIN, DEFAULT_SORT, 99, ("a",))
    keys.remember(flt, BERLIN, DEFAULT_SORT, 199, ("b",))
    assert keys.get(flt, BERLIN, DEFAULT_SORT, 99) == ("a",)  # now the most recent
    keys.remember(flt, BERLIN, DEFAULT_SORT, 299, ("c",))
    assert keys.get(flt, BERLIN, DEFAULT_SORT, 199) is None
    assert keys.get(flt, BERLIN, DEFAULT_SORT, 99) == ("a",)
    assert keys.get(flt, ZoneInfo("UTC"), DEFAULT_SORT, 99) is None  # another zone, another view
