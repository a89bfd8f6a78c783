"""The pieces of /admin/uptime (``components.uptime``): what each shows, from given rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from components import uptime
from data.uptime.monthly import UptimeMonth
from data.uptime.outage_log import OutageFilter, OutageRow, OutageState
from data.uptime.outages import OutageCause, OutageKind
from data.uptime.standings import ChargerStanding, FleetHeadline, FleetUptime

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 5, 15, tzinfo=UTC)


def text(component: Any) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json())


def standing(charger_id: str, twelve: str, lose: str) -> ChargerStanding:
    return ChargerStanding(
        charger_id, f"Bay {charger_id}", Decimal("99.5"), Decimal(twelve),
        Decimal(525_600), Decimal(100), Decimal(lose),
    )  # fmt: skip


def fleet(*chargers: ChargerStanding) -> FleetHeadline:
    every = FleetUptime(date(2026, 11, 1), Decimal("98.46"), Decimal("99.849"), list(chargers))
    return every.headline


def test_headline_names_the_month_and_counts_the_chargers_below() -> None:
    shown = text(uptime.headline(fleet(standing("A", "96.5", "0"), standing("B", "99", "5"))))
    assert "Fleet uptime, Nov 2026" in shown and "98.460 %" in shown
    assert "12 months to Nov 2026" in shown and "99.849 %" in shown
    assert "1 of 2" in shown
    assert "admin-uptime-incidents" not in shown
    with_reports = text(uptime.headline(fleet(standing("A", "96.5", "0")), open_incidents=4))
    assert "Driver reports not resolved" in with_reports
    assert '"children": "4", "id": "admin-uptime-incidents"' in with_reports


def test_standings_are_a_grid_of_blocks_marking_the_ones_below_and_state_the_rule() -> None:
    both = fleet(standing("A", "96.5", "0"), standing("B", "99", "15"))
    shown = text(uptime.standings_table(both))
    assert uptime.STANDINGS_GRID_ID in shown and '"rowModelType": "infinite"' in shown
    assert "Nov 2026" in shown and "data.below" in shown and "text-danger" in shown
    assert "2 chargers" in shown
    assert "3% \\u2212 their counted outage minutes" in shown and "never below 0" in shown
    assert "No chargers yet" in text(uptime.standings_table(fleet()))
    rows = uptime.standings_rows([standing("A", "96.5", "0"), standing("B", "99", "15")])
    assert [(r["charger_id"], r["below"], r["twelve"]) for r in rows] == [
        ("A", True, "96.500 %"),
        ("B", False, "99.000 %"),
    ]
    assert rows[1]["can_lose"] == "15 min"


def test_months_table_shows_each_month_and_a_month_not_begun_as_a_dash() -> None:
    months = [
        UptimeMonth("A", date(2026, 11, 1), Decimal(43200), Decimal("60.5"), Decimal(0),
                    Decimal("99.860"), Decimal("99.99")),
        UptimeMonth("A", date(2026, 12, 1), Decimal(0), Decimal(0), Decimal(0), None, None),
    ]  # fmt: skip
    shown = text(uptime.months_table(months))
    assert "Nov 2026" in shown and "43,200" in shown and "60.5" in shown and "99.860 %" in shown
    assert shown.count('"\\u2013"') == 2
    assert "Choose a charger" in text(uptime.months_table([]))


def row(outage_id: str, start: datetime, end: datetime | None, excluded: bool) -> OutageRow:
    return OutageRow(outage_id, "CP-1", "Bay 1", start, end, OutageCause.natural_disaster,
                     excluded, "Storm <b>", OutageKind.manual)  # fmt: skip


def test_timeline_puts_counted_and_excluded_on_their_lines_and_runs_an_open_one_to_now() -> None:
    start = NOW - timedelta(days=300)
    rows = [
        row("o-1", NOW - timedelta(days=10), NOW - timedelta(days=9), False),
        row("o-2", NOW - timedelta(days=5), NOW - timedelta(days=4), True),
        row("o-3", NOW - timedelta(hours=2), None, False),
    ]
    figure = uptime.outage_timeline_figure(rows, start, NOW, BERLIN)
    assert isinstance(figure, go.Figure)
    counted, excluded = figure.data
    assert counted.name == "Counted" and list(counted.x) == [86_400_000.0, 7_200_000.0]
    assert excluded.name == "Excluded" and list(excluded.x) == [86_400_000.0]
    assert counted.base[0] == (NOW - timedelta(days=10)).astimezone(BERLIN).isoformat()
    assert counted.customdata[0][0] == "Natural disaster"
    empty = uptime.outage_timeline_figure([], start, NOW, BERLIN)
    assert empty.data == () and "No outages" in empty.layout.annotations[0].text


def test_outage_table_shows_ongoing_and_says_when_the_list_is_cut() -> None:
    rows = [row("o-3", NOW - timedelta(hours=2), None, False)]
    shown = text(uptime.outage_table(rows, BERLIN, NOW, limit=200))
    assert "Ongoing" in shown and "2 h 0 min" in shown and "Natural disaster" in shown
    assert "newest" not in shown
    assert "The newest 1" in text(uptime.outage_table(rows, BERLIN, NOW, limit=1))
    assert "No outages match" in text(uptime.outage_table([], BERLIN, NOW, limit=1))


def test_outages_csv_link_carries_the_filters_it_takes() -> None:
    assert uptime.outages_csv_href(OutageFilter()) == "/export/outages.csv"
    flt = OutageFilter(
        charger_id="CP 1&2", cause=OutageCause.utility, state=OutageState.open,
        first_day=date(2026, 3, 1), last_day=date(2026, 3, 31),
    )  # fmt: skip
    assert uptime.outages_csv_href(flt) == (
        "/export/outages.csv?charger=CP+1%262&cause=utility&status=open"
        "&from=2026-03-01&to=2026-03-31"
    )


def test_the_skeleton_has_every_part_and_the_monthly_export() -> None:
    shown = text(uptime.uptime_skeleton())
    for ident in (uptime.HEADLINE_ID, uptime.STANDINGS_ID, uptime.MONTHS_ID, uptime.TIMELINE_ID,
                  uptime.OUTAGES_ID, uptime.EDIT_SAVE_ID, uptime.OUTAGES_CSV_ID):  # fmt: skip
        assert f'"{ident}"' in shown
    assert '"/export/uptime-monthly.csv"' in shown and '"/admin/uptime"' in shown
