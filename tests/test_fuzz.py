"""Bad input, property-based (hypothesis): every malformed value gives a note, a 4xx or a clear
import error, never a 500 and never another exception.

* Query strings for the dashboard (any text, repeated keys, unicode, very long values): the page
  answers 200, the page router renders the dashboard with the period it understood (and a note
  when it did not), and the render callback answers 200 with A's data for any store value.
* Callback bodies: a well-formed request with any one part replaced by arbitrary JSON gets a
  200/204 or a 4xx, never a 500.
* The import format: generated ``chargers.csv``/``sessions.csv`` cells either import or raise
  ``ExchangeError`` whose every error names a file, a line >= 2 and a column; nothing is written
  when it raises. Any text a cell may hold survives export and re-import.

All on SQLite, with ``PROPAGATE_EXCEPTIONS=False`` so a crash is the 500 a browser would get.
"""

from __future__ import annotations

import copy
import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.core.db import Database
from data.core.models import Base, Charger, Role
from data.core.periods import PERIODS
from data.exchange.exporter import export_folder
from data.exchange.format import COLUMNS
from data.exchange.importer import ImportReport, import_folder
from data.exchange.validation import ExchangeError
from tests.support.audit import AT, CLI
from tests.support.callbacks import RENDER, ROUTER, callback_body, callback_key, callback_map, post
from tests.support.factories import make_account, make_charger, make_operator, make_plan, make_user
from tests.support.two_customers import ALICE_EMAIL, build_app, leaks
from tests.support.web import AppFactory, client_for

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def app(app_factory: AppFactory) -> Flask:
    return build_app(app_factory, PROPAGATE_EXCEPTIONS=False)


@pytest.fixture
def alice(app: Flask) -> FlaskClient:
    return client_for(app, ALICE_EMAIL)


def find_props(tree: Any, component_id: str) -> dict[str, Any] | None:
    """The props of the component with ``component_id`` in a serialised Dash tree."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return props
        for value in tree.values():
            if (found := find_props(value, component_id)) is not None:
                return found
    elif isinstance(tree, list):
        for value in tree:
            if (found := find_props(value, component_id)) is not None:
                return found
    return None


def crashed(answer: dict[str, Any]) -> bool:
    """True when the callback failed into the shell's "something went wrong" alert."""
    return "page-alert" in (answer.get("sideUpdate") or {})


# --- Query strings ------------------------------------------------------------------------------

QUERY_FRAGMENTS = ["period", "=", "&", "year", "current", "%", "%zz", "%ff", "%00", "%E2%82"]
QUERY_FRAGMENTS += ["+", ";", "#", "?", "[]", "%26period%3Dyear", "\x00", "é", "🚗"]
long_values = st.builds(lambda ch, n: ch * n, st.characters(), st.integers(1_000, 20_000))
period_values = st.one_of(
    st.sampled_from(PERIODS),
    st.sampled_from(["", "YEAR", " year", "year ", "current\x00", "previous%00", "last"]),
    st.text(max_size=40),
    long_values,
)
query_keys = st.one_of(
    st.just("period"),
    st.sampled_from(["Period", "period[]", "_", "pathname_", "search_", "", "period "]),
    st.text(max_size=12),
)
encoded_queries = st.tuples(
    st.lists(st.tuples(st.just("period"), period_values), max_size=2),
    st.lists(st.tuples(query_keys, period_values), max_size=3),
    st.booleans(),
).map(lambda t: urlencode(t[0] + t[1] if t[2] else t[1] + t[0]))
raw_queries = st.lists(
    st.one_of(st.sampled_from(QUERY_FRAGMENTS), st.text(max_size=6)), max_size=12
).map("".join)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def understood_period(query: str) -> tuple[str, bool]:
    """What the dashboard should make of ``?query``: Dash hands the page layout the parsed
    query (a repeated key as a list); an absent or empty period is this month, no note."""
    values = parse_qs(query, keep_blank_values=True).get("period")
    if values is None:
        return "current", True
    if len(values) == 1 and values[0] in PERIODS:
        return values[0], True
    return "current", len(values) == 1 and values[0] == ""


@FUZZ
@given(query=st.one_of(encoded_queries, raw_queries), store=json_values)
@example(query="period=year", store="previous")
@example(query="x=1&period=previous", store=None)
@example(query="period=year&period=year", store=["year", "year"])
@example(query="period=" + "9" * 20_000, store="9" * 20_000)
@example(query="period=%ff%fe&period", store={"period": "year"})
def test_dashboard_query_strings_and_store_values(
    app: Flask, alice: FlaskClient, query: str, store: Any
) -> None:
    page = alice.get("/", query_string=query)
    assert page.status_code == 200

    router = callback_body(app, callback_key(app, ROUTER))
    router["inputs"][0]["value"] = "/"
    router["inputs"][1]["value"] = "?" + query
    response = post(alice, router)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    answer = response.get_json()
    assert not crashed(answer)
    name, valid = understood_period(query)
    event(f"period {name}, {'no note' if valid else 'note'}")
    content = answer["response"]["_pages_content"]["children"]
    period_store = find_props(content, "dashboard-period")
    assert period_store is not None and period_store["data"] == name
    assert (find_props(content, "period-note") is None) == valid

    render = callback_body(app, callback_key(app, RENDER))
    for value in (name, store):
        render["inputs"][0]["value"] = value
        response = post(alice, render)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        text = response.get_data(as_text=True)
        assert not crashed(response.get_json())
        assert "11.1 kWh" in text  # A's data, whatever the store said
        assert not leaks(text)


# --- Callback bodies ----------------------------------------------------------------------------

BODY_PARTS = ("output", "outputs", "inputs", "state", "changedPropIds")


@FUZZ
@given(data=st.data())
def test_callback_bodies_never_give_500(app: Flask, alice: FlaskClient, data: Any) -> None:
    key = data.draw(st.sampled_from(sorted(callback_map(app))), label="callback")
    body = callback_body(app, key)
    mutated = copy.deepcopy(body)
    where = data.draw(st.sampled_from([*BODY_PARTS, "a value", "an id", "a property"]))
    junk = data.draw(json_values, label="junk")
    if where in BODY_PARTS:
        mutated[where] = junk
    else:
        entries = [e for part in ("inputs", "state") for e in mutated[part]]
        flat = [i for e in entries for i in (e if isinstance(e, list) else [e])]
        item = data.draw(st.sampled_from(flat)) if flat else {}
        item[{"a value": "value", "an id": "id", "a property": "property"}[where]] = junk
    response = post(alice, mutated)
    text = response.get_data(as_text=True)
    assert response.status_code in (200, 204, 400, 403), (response.status_code, text[:300])
    assert "Traceback" not in text
    assert not leaks(text)


# --- The import format --------------------------------------------------------------------------

EXTREME_TIMESTAMPS = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


def _timestamp_text(moment: datetime, offset: int | str | None, sep: str, spec: str) -> str:
    text = moment.isoformat(sep=sep, timespec=spec)
    if offset is None:
        return text
    if offset == "Z":
        return text + "Z"
    assert isinstance(offset, int)
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


timestamps = st.one_of(
    st.builds(
        _timestamp_text,
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        st.one_of(st.none(), st.just("Z"), st.integers(-(24 * 60 - 1), 24 * 60 - 1)),
        st.sampled_from(["T", " "]),
        st.sampled_from(["auto", "seconds", "minutes", "microseconds"]),
    ),
    st.sampled_from(
        [
            *EXTREME_TIMESTAMPS,
            "2026-11-24",
            "2026-11-24T09:30",
            "24/11/2026 09:30",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00+01:00",
            "2026-11-24T09:30:00+24:00",
            "2026-11-24T09:30:00+0100",
            "2026-W48-2T09:30:00Z",
        ]
    ),
)
numbers = st.one_of(
    st.integers(-(10**15), 10**15).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.floats().map(repr),
    st.sampled_from(["0", "-0", "+5", ".5", "5.", "1e3", "1_000", "١٢", "0x10", "999999.99"]),
)
booleans = st.sampled_from(["true", "false", "True", "FALSE", "1", "0", "yes", " true"])
texts = st.one_of(st.text(max_size=12), st.text(min_size=195, max_size=210))
any_cell = st.one_of(st.just(""), texts, numbers, timestamps, booleans)


CHARGER_IDS = ("c-seed", "c-new-1", "c-new-2")
# Per column: values the format accepts (some referring to rows of the database or the folder)
# and, for some columns, more to try on top of ``any_cell``.
CHARGER_CELLS: dict[str, tuple[list[str], st.SearchStrategy[str] | None]] = {
    "charger_id": (list(CHARGER_IDS), st.text(min_size=60, max_size=70)),
    "friendly_name": (["Bay 1", "Depot"], None),
    "connector_type": (["CCS", "J1772", "NACS", "CHAdeMO", "Type 2"], None),
    "max_power_kw": (["50", "7.2", "150", "999999.99", "0.01"], None),
    "visibility": (["public", "restricted"], None),
    "last_seen_at": (["", "2026-11-24T09:30:00+01:00"], timestamps),
}
SESSION_CELLS: dict[str, tuple[list[str], st.SearchStrategy[str] | None]] = {
    "session_id": (["s-1", "s-2"], None),
    "account_id": (["acc-seed"], st.just("acc-missing")),
    "charger_id": (list(CHARGER_IDS), None),
    "started_at": (["2026-11-24T08:00:00Z"], timestamps),
    "ended_at": (["", "2026-11-24T09:00:00+01:00"], timestamps),
    "energy_kwh": (["12.5", "0", "7.125"], numbers),
    "finalized": (["true", "false"], None),
}
OUTAGE_CELLS: dict[str, tuple[list[str], st.SearchStrategy[str] | None]] = {
    "outage_id": (["o-1", "o-2"], None),
    "charger_id": (list(CHARGER_IDS), st.just("c-missing")),
    "started_at": (["2026-11-24T08:00:00Z"], timestamps),
    "ended_at": (["", "2026-11-24T09:00:00+01:00"], timestamps),
    "cause": (["unknown", "utility", "natural_disaster"], st.just("Utility")),
    "excluded": (["true", "false"], None),
    "note": (["", "Grid work, notice of 1 March", "=cmd"], None),
}


def row_lists(columns: dict[str, tuple[list[str], Any]]) -> st.SearchStrategy[list[dict[str, str]]]:
    """Up to 4 rows, each valid, valid but for one cell, or anything at all."""

    def anything(valid: list[str], more: st.SearchStrategy[str] | None) -> Any:
        options = [st.sampled_from(valid), any_cell] + ([more] if more is not None else [])
        return st.one_of(*options)

    valid_row = st.fixed_dictionaries(
        {name: st.sampled_from(valid) for name, (valid, _) in columns.items()}
    )
    broken_cell = st.tuples(valid_row, st.sampled_from(sorted(columns)), any_cell).map(
        lambda t: {**t[0], t[1]: t[2]}
    )
    wild_row = st.fixed_dictionaries(
        {name: anything(valid, more) for name, (valid, more) in columns.items()}
    )
    return st.lists(st.one_of(valid_row, broken_cell, wild_row), max_size=4)


charger_rows = row_lists(CHARGER_CELLS)
session_rows = row_lists(SESSION_CELLS)
outage_rows = row_lists(OUTAGE_CELLS)
VALID_CHARGER = {
    "charger_id": "c-new-1",
    "friendly_name": "Depot",
    "connector_type": "CCS",
    "max_power_kw": "50",
    "visibility": "public",
    "last_seen_at": "2026-11-24T09:30:00+01:00",
}
VALID_SESSION = {
    "session_id": "s-1",
    "account_id": "acc-seed",
    "charger_id": "c-new-1",
    "started_at": "2026-11-24T08:00:00Z",
    "ended_at": "2026-11-24T09:00:00+01:00",
    "energy_kwh": "12.5",
    "finalized": "true",
}


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A seeded SQLite copy: one operator, plan, account and charger the files may refer to."""
    path = tmp_path / "fuzz.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    with database.session() as s:
        make_operator(s)
        plan = make_plan(s, plan_id="plan-seed")
        make_account(s, account_id="acc-seed", user=make_user(s), role=Role.customer, plan=plan)
        make_charger(s, charger_id="c-seed", last_seen_at=datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    yield database
    database.engine.dispose()


def write_folder(folder: Path, files: dict[str, list[dict[str, str]]]) -> dict[str, int]:
    """Write each ``<stem>.csv`` with its full header (a column a row does not name is empty:
    NULL); returns each file's physical line count."""
    lines = {}
    for stem, rows in files.items():
        path = folder / f"{stem}.csv"
        cells = [[row.get(c, "") for c in COLUMNS[stem]] for row in rows]
        # Python's csv writer leaves a lone \r unquoted when lines end in \n (a file no reader
        # can split back into the same cells): quote every cell then, as a spreadsheet would.
        lone_cr = any("\r" in value for line in cells for value in line)
        quoting = csv.QUOTE_ALL if lone_cr else csv.QUOTE_MINIMAL
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n", quoting=quoting)
            writer.writerow(COLUMNS[stem])
            writer.writerows(cells)
        # Counted as the importer's reader counts them (\r, \n and \r\n all end a line).
        lines[path.name] = len(io.StringIO(path.read_text("utf-8"), newline="").readlines())
    return lines


def snapshot(session: Session) -> dict[str, list[str]]:
    """Every row of every table, as this session sees them (flushed writes included)."""
    return {
        table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
        for table in Base.metadata.sorted_tables
    }


def check_import(db: Database, files: dict[str, list[dict[str, str]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = write_folder(folder, files)
        session = db.sessions()
        try:
            before = snapshot(session)
            try:
                report = import_folder(session, folder, actor=CLI, now=AT)
            except ExchangeError as exc:
                event("refused")
                assert exc.errors, "an ExchangeError lists its errors"
                for error in exc.errors:
                    assert error.file in lines, error
                    assert 2 <= error.line <= lines[error.file], error
                    assert error.column in COLUMNS[error.file.removesuffix(".csv")], error
                    assert error.message.strip(), error
                assert not (session.new or session.dirty or session.deleted)
                assert snapshot(session) == before, "an import that failed wrote rows"
            else:
                event("imported")
                assert isinstance(report, ImportReport)
                for stem, rows in files.items():
                    counts = report.files[f"{stem}.csv"]
                    assert counts.added + counts.updated + counts.unchanged == len(rows)
        finally:
            session.rollback()
            session.close()


VALID_OUTAGE = {
    "outage_id": "o-1",
    "charger_id": "c-new-1",
    "started_at": "2026-11-24T08:00:00Z",
    "ended_at": "",
    "cause": "utility",
    "excluded": "true",
    "note": "Grid work",
}


@FUZZ
@given(
    chargers=charger_rows,
    sessions=st.one_of(st.none(), session_rows),
    outages=st.one_of(st.none(), outage_rows),
)
@example(chargers=[VALID_CHARGER], sessions=[VALID_SESSION], outages=[VALID_OUTAGE])
@example(
    chargers=[{**VALID_CHARGER, "last_seen_at": EXTREME_TIMESTAMPS[0]}], sessions=None, outages=None
)
@example(
    chargers=[], sessions=[{**VALID_SESSION, "started_at": EXTREME_TIMESTAMPS[1]}], outages=None
)
def test_import_either_succeeds_or_names_file_line_and_column(
    db: Database,
    chargers: list[dict[str, str]],
    sessions: list[dict[str, str]] | None,
    outages: list[dict[str, str]] | None,
) -> None:
    files = {"chargers": chargers}
    if sessions is not None:
        files["sessions"] = sessions
    if outages is not None:
        files["outages"] = outages
    check_import(db, files)


@pytest.mark.parametrize("moment", EXTREME_TIMESTAMPS)
@pytest.mark.parametrize(
    ("stem", "column", "row"),
    [
        ("chargers", "last_seen_at", VALID_CHARGER),
        ("sessions", "started_at", VALID_SESSION),
        ("sessions", "ended_at", VALID_SESSION),
        ("outages", "started_at", VALID_OUTAGE),
    ],
)
def test_timestamps_beyond_the_calendar_in_utc_are_row_errors(
    db: Database, moment: str, stem: str, column: str, row: dict[str, str]
) -> None:
    """Year 1 at +01:00 and year 9999 at -01:00 are valid ISO 8601 but have no UTC instant
    (``astimezone`` overflows): a row error for that cell, not an ``OverflowError``."""
    files = {"chargers": [VALID_CHARGER]}
    files[stem] = [{**row, column: moment}]
    if column == "ended_at":  # keep the session's start before its end: only the cell is bad
        files[stem][0]["started_at"] = "0001-01-02T00:00:00Z"
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp), files)
        with db.session() as s, pytest.raises(ExchangeError) as excinfo:
            import_folder(s, Path(tmp), actor=CLI, now=AT)
    assert [(e.file, e.line, e.column) for e in excinfo.value.errors] == [
        (f"{stem}.csv", 2, column)
    ]
    assert moment in excinfo.value.errors[0].message  # says which value, for a person to fix


@FUZZ
@given(name=st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t))
@example(name="Bay\r1")
@example(name="\r")
@example(name=' "North", bay 2\n(left) ')
def test_any_text_an_import_accepts_survives_export_and_reimport(db: Database, name: str) -> None:
    """Export writes what import reads: a name with quotes, commas, newlines or a lone carriage
    return comes back as the same one row, unchanged."""
    with tempfile.TemporaryDirectory() as tmp:
        source, exported = Path(tmp, "in"), Path(tmp, "out")
        source.mkdir()
        write_folder(source, {"chargers": [{**VALID_CHARGER, "friendly_name": name}]})
        session = db.sessions()
        try:
            import_folder(session, source, actor=CLI, now=AT)
            export_folder(session, exported)
            try:
                report = import_folder(session, exported, actor=CLI, now=AT)
            except ExchangeError as exc:
                pytest.fail(f"the export of {name!r} does not import: {exc.errors}")
            assert report.files["chargers.csv"].unchanged == 2  # c-seed and c-new-1
            assert report.added == report.updated == 0
            charger = session.get(Charger, "c-new-1")
            assert charger is not None and charger.friendly_name == name
        finally:
            session.rollback()
            session.close()
