"""A driver's own history (``data.charging.my_sessions``) on SQLite and PostgreSQL: the filter's
parsing, one account's rows only, newest first across pages (keyset and OFFSET agree), totals
of stored costs with disputed energy left out, the chargers it used, the API's cursor pages,
its upcoming reservations, and ``/export/sessions.csv``'s rows equal to the grid's."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from data.charging.history import DEFAULT_SORT, PAGE_SIZE_MAX
from data.charging.my_sessions import (
    API_LIMIT_MAX,
    CursorError,
    HistoryFilter,
    account_reservations,
    decode_cursor,
    history_page,
    history_totals,
    parse_history_filter,
    sessions_after,
    used_chargers,
)
from data.core.db import Database
from data.core.models import ChargingSession, ReservationStatus
from data.exchange.export_stream import export_chunks
from data.exchange.exports import ExportFilter
from tests.support.factories import make_account, make_charger, make_reservation, make_session
from tests.support.receipts import finished, priced_site, stored_totals

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 1, 2, 6, tzinfo=UTC)
DANA, ZOE = "a-dana", "a-zoe"
DANA_SESSIONS = 230  # more than two grid blocks


def _site(db: Database) -> list[str]:
    """Dana: 230 finished, priced sessions (every ~25 h over 2026, AC and DC in turn), one in
    progress, one with disputed energy; Zoe: 5 of her own. Dana's ids, newest first."""
    with db.session() as s:
        priced_site(s)
        make_charger(s, charger_id="FAR", friendly_name="Far Away")  # nobody charged there
        make_account(s, account_id=DANA)
        make_account(s, account_id=ZOE)
        made: list[tuple[datetime, str]] = []
        for n in range(DANA_SESSIONS):
            started = START + n * timedelta(hours=25)
            sid = f"d-{n:04d}"
            finished(s, sid, DANA, "AC" if n % 2 else "DC", started, timedelta(hours=1), "10.5")
            made.append((started, sid))
        for n in range(5):
            finished(s, f"z-{n}", ZOE, "AC", START + n * timedelta(hours=25, minutes=7),
                     timedelta(hours=1), "99")  # fmt: skip
        live_at = START + DANA_SESSIONS * timedelta(hours=25)
        make_session(s, DANA, "AC", session_id="d-live", started_at=live_at, energy_kwh="3")
        made.append((live_at, "d-live"))
        # The charger reported implausible energy on one: counted nowhere until settled.
        s.execute(
            update(ChargingSession)
            .where(ChargingSession.id == "d-0100")
            .values(energy_disputed_at=START, energy_disputed_kwh=Decimal("900"))
        )
    return [sid for _, sid in sorted(made, reverse=True)]


def _every_row(s, flt: HistoryFilter, **kwargs) -> list:
    rows, start = [], 0
    while True:
        page = history_page(s, DANA, flt, BERLIN, start, start + PAGE_SIZE_MAX, **kwargs)
        rows += page
        if len(page) < PAGE_SIZE_MAX:
            return rows
        start += PAGE_SIZE_MAX


def test_every_session_of_the_account_newest_first_and_no_one_elses(db: Database) -> None:
    newest_first = _site(db)
    with db.session() as s:
        rows = _every_row(s, HistoryFilter())
        assert [r.session_id for r in rows] == newest_first
        assert {r.account_id for r in rows} == {DANA}
        # Continuing from the last row's key (what the page remembers) gives the same rows.
        first = history_page(s, DANA, HistoryFilter(), BERLIN, 0, 100)
        after = DEFAULT_SORT.key_of(first[-1])
        keyset = history_page(s, DANA, HistoryFilter(), BERLIN, 100, 200, after=after)
        offset = history_page(s, DANA, HistoryFilter(), BERLIN, 100, 200)
        assert [r.session_id for r in keyset] == [r.session_id for r in offset]
        assert [r.session_id for r in keyset] == newest_first[100:200]
        # The far end, read backwards from the total, is the same too.
        tail = history_page(s, DANA, HistoryFilter(), BERLIN, 200, 300, total=len(newest_first))
        assert [r.session_id for r in tail] == newest_first[200:]


def test_totals_are_the_stored_costs_and_leave_disputed_energy_out(db: Database) -> None:
    ids = _site(db)
    with db.session() as s:
        totals = history_totals(s, DANA, HistoryFilter(), BERLIN)
        counted = [i for i in ids if i not in ("d-0100", "d-live")]
        assert totals.sessions == DANA_SESSIONS + 1
        assert totals.disputed == 1
        # 229 finished ones at 10.5 kWh and the one in progress with its 3 kWh so far.
        assert totals.energy_kwh == Decimal("10.5") * (DANA_SESSIONS - 1) + 3
        assert totals.cost == stored_totals(s, counted)
        assert totals.cost > 0


def test_dates_are_local_days_and_the_charger_narrows(db: Database) -> None:
    _site(db)
    # 2026-03-01 in Berlin: 2026-02-28 23:00 UTC .. 2026-03-31 22:00 UTC (summer time).
    march = HistoryFilter(date(2026, 3, 1), date(2026, 3, 31))
    with db.session() as s:
        rows = _every_row(s, march)
        first_utc = datetime(2026, 2, 28, 23, tzinfo=UTC)
        end_utc = datetime(2026, 3, 31, 22, tzinfo=UTC)
        expected = [
            f"d-{n:04d}"
            for n in reversed(range(DANA_SESSIONS))
            if first_utc <= START + n * timedelta(hours=25) < end_utc
        ]
        assert [r.session_id for r in rows] == expected
        assert history_totals(s, DANA, march, BERLIN).sessions == len(expected)
        on_dc = _every_row(s, HistoryFilter(charger_id="DC"))
        assert on_dc and {r.charger_id for r in on_dc} == {"DC"}
        assert history_totals(s, DANA, HistoryFilter(charger_id="DC"), BERLIN).sessions == len(
            on_dc
        )
        assert [(c.charger_id, c.friendly_name) for c in used_chargers(s, DANA)] == [
            ("AC", "Market Square"),
            ("DC", "Motorway Hub"),
        ]
        assert [c.charger_id for c in used_chargers(s, ZOE)] == ["AC"]


def test_the_export_holds_exactly_the_grids_rows(db: Database) -> None:
    _site(db)
    flt = HistoryFilter(date(2026, 2, 1), date(2026, 6, 30), "AC")
    with db.session() as s:
        grid = [r.session_id for r in _every_row(s, flt)]
    export = ExportFilter(
        first_day=flt.first_day,
        last_day=flt.last_day,
        account_id=DANA,  # what scope_filter makes of a customer's request
        charger_search=flt.charger_id,
        as_of=datetime.now(UTC),
    )
    text = b"".join(export_chunks(db, "sessions", export, BERLIN)).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(grid) > PAGE_SIZE_MAX // 2
    assert sorted(r["session_id"] for r in rows) == sorted(grid)
    assert "cost_total" in rows[0] and all(r["cost_total"] for r in rows)
    assert {r["account_id"] for r in rows} == {DANA}


def test_api_pages_follow_the_cursor_to_the_end(db: Database) -> None:
    newest_first = _site(db)
    with db.session() as s:
        seen, cursor = [], None
        for _ in range(10):
            rows, cursor = sessions_after(s, DANA, HistoryFilter(), BERLIN, 70, cursor)
            seen += [r.session_id for r in rows]
            if cursor is None:
                break
        assert seen == newest_first
        rows, cursor = sessions_after(s, DANA, HistoryFilter(), BERLIN, 10_000)
        assert len(rows) == API_LIMIT_MAX and cursor is not None
        assert decode_cursor(cursor)[1] == newest_first[API_LIMIT_MAX - 1]
        with pytest.raises(CursorError):
            sessions_after(s, DANA, HistoryFilter(), BERLIN, 10, "not-a-cursor")


def test_upcoming_reservations_are_the_accounts_own(db: Database) -> None:
    _site(db)
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    with db.session() as s:
        make_reservation(s, DANA, "AC", starts_at=now + timedelta(hours=2),
                         ends_at=now + timedelta(hours=3), reservation_id="R-LATER")  # fmt: skip
        make_reservation(s, DANA, "DC", starts_at=now - timedelta(minutes=10),
                         ends_at=now + timedelta(minutes=20), reservation_id="R-NOW",
                         status=ReservationStatus.active)  # fmt: skip
        make_reservation(s, DANA, "DC", starts_at=now - timedelta(hours=3),
                         ends_at=now - timedelta(hours=2), reservation_id="R-PAST")  # fmt: skip
        make_reservation(s, DANA, "AC", starts_at=now + timedelta(hours=5),
                         ends_at=now + timedelta(hours=6), reservation_id="R-OFF",
                         status=ReservationStatus.cancelled)  # fmt: skip
        make_reservation(s, ZOE, "DC", starts_at=now + timedelta(hours=2),
                         ends_at=now + timedelta(hours=3), reservation_id="R-ZOE")  # fmt: skip
    with db.session() as s:
        rows = account_reservations(s, DANA, now)
    assert [r.reservation_id for r in rows] == ["R-NOW", "R-LATER"]


@pytest.mark.parametrize(
    ("params", "expected", "problem"),
    [
        ({}, HistoryFilter(), None),
        (
            {"from": "2025-03-01", "to": "2025-03-31", "charger": " AC "},
            HistoryFilter(date(2025, 3, 1), date(2025, 3, 31), "AC"),
            None,
        ),
        ({"from": "2025-13-01"}, HistoryFilter(), "not a date"),
        ({"to": "<script>"}, HistoryFilter(), "not a date"),
        ({"from": "2025-04-01", "to": "2025-03-01"}, HistoryFilter(), "after the end"),
        ({"from": ["2025-01-01", "2025-02-01"]}, HistoryFilter(), "once"),
        ({"charger": "x" * 500}, HistoryFilter(), "not a charger"),
    ],
)
def test_the_filter_is_parsed_and_bad_values_explained(params, expected, problem) -> None:
    flt, problems = parse_history_filter(params)
    assert flt == expected
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]
    again, _ = parse_history_filter(
        dict(p.split("=") for p in flt.query_string().lstrip("?").split("&") if p)
    )
    assert again == flt
