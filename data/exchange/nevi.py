"""The quarterly NEVI report (23 CFR 680.116(b), 680.112(a)): one ZIP of three CSV files and a
README of their definitions, for one calendar quarter in the operator's time zone.

- ``uptime_by_month.csv``: per charger and month of the quarter, the columns of
  ``uptime-monthly.csv`` (``data.exchange.exports.uptime_query`` over ``data.uptime.monthly``:
  the spec's one uptime rule, not a second formula);
- ``outages.csv``: every outage that covers part of the quarter, with its whole duration and the
  minutes of it inside the quarter (an ongoing one up to ``now``);
- ``sessions.csv``: the sessions started in the quarter: start, end, kWh, peak kW (the OCPP
  transaction's ``peak_power_w``: ``PEAK_KW_NOTE``), the OCPP stop reason, whether it failed and
  its error codes.

A ZIP of CSVs rather than a workbook: no new dependency (openpyxl is not in requirements), any
tool reads CSV, each file is streamed from its SELECT (COPY on PostgreSQL) and compressed on the
fly, so a quarter of a large fleet never sits in memory; the three files come from one
transaction (on PostgreSQL a REPEATABLE READ snapshot), so they agree with each other.

Error codes: the database keeps the latest StatusNotification per connector
(``connector_statuses``), not a history, and not linked to sessions. A session's codes are the
OCPP stop reason when it is a fault (``FAULT_STOP_REASONS``), and the errorCode of its
connector's and of the whole charger's (connector 0) latest report when that report was made
during the session (from its start to ``ERROR_GRACE`` after its end): joined by charger,
connector and time window. A code reported during a session and overwritten by a later report
is no longer known.
"""

from __future__ import annotations

import re
import textwrap
import typing
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from data.core.db import Database
from data.core.models import ChargingSession, ConnectorStatus, OcppTransaction, UTCDateTime
from data.core.periods import local_midnight_utc
from data.core.sql import Bytewise, Greatest, Least, MicrosBetween, Thousandths
from data.exchange.export_stream import (
    CHUNK_BYTES,
    EXPORT_STATEMENT_TIMEOUT_MS,
    columns_line,
    statement_chunks,
)
from data.exchange.exports import UPTIME_COLUMNS, ExportFilter, uptime_query
from data.pricing.statements import FIRST_YEAR, LAST_YEAR
from data.uptime.monthly import _milli_minutes
from data.uptime.outages import Outage

UPTIME_FILE = "uptime_by_month.csv"
OUTAGES_FILE = "outages.csv"
SESSIONS_FILE = "sessions.csv"
README_FILE = "README.txt"
OUTAGE_COLUMNS = [
    "outage_id",
    "charger_id",
    "started_at",
    "ended_at",
    "cause",
    "excluded",
    "note",
    "duration_minutes",
    "minutes_in_quarter",
]
SESSION_COLUMNS = [
    "session_id",
    "charger_id",
    "connector_id",
    "started_at",
    "ended_at",
    "energy_kwh",
    "peak_kw",
    "stop_reason",
    "failed",
    "error_codes",
]
# OCPP 1.6 StopTransaction reasons that mean the charger or its supply ended the session; the
# others (Local, Remote, EVDisconnected, DeAuthorized, UnlockCommand) are the driver's, the
# car's or the operator's doing.
FAULT_STOP_REASONS = ("EmergencyStop", "HardReset", "PowerLoss", "Reboot", "SoftReset", "Other")
NO_ERROR = "NoError"
# A charger may report the fault just after the StopTransaction it caused.
ERROR_GRACE = timedelta(minutes=1)
PEAK_KW_NOTE = (
    "the highest power (kW, to the watt) the charger reported during the session "
    "(OCPP MeterValues Power.Active.Import: the total, or its phases added up); empty when it "
    "reported none, for sessions the OCPP server did not record, and for those recorded before "
    "Polaris kept power readings"
)
# Deflate's fastest level: a quarter of a 5,000-charger fleet is ~90 MB of CSV, which level 6
# takes 3 s of CPU to squeeze to 21 MB and level 1 under 1 s to ~29 MB (bench/README.md).
ZIP_LEVEL = 1
_QUARTER = re.compile(r"[Qq]?([1-4])")
_YEAR = re.compile(r"[0-9]{4}")


class NeviRequestError(ValueError):
    """The year or quarter asked for is not one the report can cover (400); says what to fix."""


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter (``number`` 1-4) in the operator's time zone."""

    year: int
    number: int

    @property
    def first_month(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end_day(self) -> date:
        """The day after its last day."""
        return (
            date(self.year + 1, 1, 1)
            if self.number == 4
            else date(self.year, 3 * self.number + 1, 1)
        )

    @property
    def key(self) -> str:
        return f"{self.year:04d}-Q{self.number}"

    def bounds_utc(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """``[start, end)`` in UTC: the local midnights around it (DST-exact)."""
        return local_midnight_utc(self.first_month, tz), local_midnight_utc(self.end_day, tz)

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )


def quarter_of(moment: datetime, tz: ZoneInfo) -> Quarter:
    local = moment.astimezone(tz).date()
    return Quarter(local.year, (local.month - 1) // 3 + 1)


def last_full_quarter(now: datetime, tz: ZoneInfo) -> Quarter:
    """The quarter before the one ``now`` is in: the one a report is due for."""
    return quarter_of(now, tz).previous()


def parse_quarter(year: str | None, quarter: str | None, now: datetime, tz: ZoneInfo) -> Quarter:
    """``year`` (``2026``) and ``quarter`` (``3`` or ``Q3``) from a query string; neither: the
    last full quarter. ``NeviRequestError`` for anything else, or a quarter not begun at ``now``."""
    if year is None and quarter is None:
        return last_full_quarter(now, tz)
    if year is None or quarter is None:
        raise NeviRequestError(
            "Give both “year” and “quarter”, like ?year=2026&quarter=3 "
            "(or neither, for the last full quarter)."
        )
    if not _YEAR.fullmatch(year) or not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise NeviRequestError(
            f"“year” must be a year from {FIRST_YEAR} to {LAST_YEAR}, like 2026, not “{year[:20]}”."
        )
    found = _QUARTER.fullmatch(quarter)
    if found is None:
        raise NeviRequestError(
            f"“quarter” must be 1, 2, 3 or 4 (or Q1 to Q4), not “{quarter[:20]}”."
        )
    asked = Quarter(int(year), int(found.group(1)))
    if asked.bounds_utc(tz)[0] > now:
        raise NeviRequestError(f"{asked.key} has not begun: there is nothing to report yet.")
    return asked


# --- The three files' rows --------------------------------------------------------------------


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


def _minutes(micros: ColumnElement[int]) -> ColumnElement[Any]:
    """Exact microseconds as minutes to the thousandth, as uptime_by_month writes them."""
    return Thousandths(_milli_minutes(micros))


def uptime_by_month(quarter: Quarter, tz: ZoneInfo, now: datetime) -> Select[Any]:
    """Every charger and month of the quarter: ``uptime-monthly.csv``'s columns and figures."""
    flt = ExportFilter(
        first_day=quarter.first_month, last_day=quarter.end_day - timedelta(days=1), as_of=now
    )
    return uptime_query(flt, tz)


def quarter_outages(quarter: Quarter, tz: ZoneInfo, now: datetime) -> Select[Any]:
    """Every outage covering part of the quarter (up to ``now``), by charger and start: its
    whole duration (an ongoing one up to ``now``) and its minutes inside the quarter."""
    start, end = quarter.bounds_utc(tz)
    until = _at(min(end, now))
    o = Outage
    return (
        select(
            o.id.label("outage_id"),
            o.charger_id,
            o.started_at,
            o.ended_at,
            o.cause,
            o.excluded,
            o.note,
            _minutes(MicrosBetween(o.started_at, func.coalesce(o.ended_at, _at(now)))).label(
                "duration_minutes"
            ),
            _minutes(
                MicrosBetween(
                    Greatest(o.started_at, _at(start)),
                    Least(func.coalesce(o.ended_at, until), until),
                )
            ).label("minutes_in_quarter"),
        )
        .where(o.started_at < until, or_(o.ended_at.is_(None), o.ended_at > _at(start)))
        .order_by(Bytewise(o.charger_id), o.started_at, o.id)
    )


def _semicolon_list(*parts: Any) -> ColumnElement[str | None]:
    """The parts that are not NULL, joined by ``;`` (NULL when none is): each as ``;part``
    (NULL stays NULL), concatenated, the first ``;`` cut."""
    joined: ColumnElement[Any] = literal("", String())
    for part in parts:
        joined = joined + func.coalesce(literal(";", String()) + part, "")
    return func.nullif(func.substr(joined, 2), "")


def quarter_sessions(quarter: Quarter, tz: ZoneInfo, now: datetime) -> Select[Any]:
    """The sessions started in the quarter, by start: their OCPP transaction (connector, stop
    reason) and the error codes joined to them (module docstring); ``failed`` for an ended
    session with no energy, a fault stop reason or an error reported during it, empty while it
    is in progress."""
    start, end = quarter.bounds_utc(tz)
    s, tx = ChargingSession, OcppTransaction
    own = aliased(ConnectorStatus, name="connector_report")
    whole = aliased(ConnectorStatus, name="charger_report")
    grace_us = ERROR_GRACE // timedelta(microseconds=1)

    def during_session(report: Any) -> ColumnElement[bool]:
        return and_(
            report.charger_id == s.charger_id,
            report.error_code != NO_ERROR,
            report.reported_at >= s.started_at,
            MicrosBetween(func.coalesce(s.ended_at, _at(now)), report.reported_at) <= grace_us,
        )

    fault_stop = case((tx.stop_reason.in_(FAULT_STOP_REASONS), tx.stop_reason))
    own_code = own.error_code
    whole_code = case(
        (or_(own_code.is_(None), whole.error_code != own_code), whole.error_code)
    )  # one code once
    failed = case(
        (s.ended_at.is_(None), null()),
        (
            or_(
                s.energy_kwh == 0,
                fault_stop.is_not(None),
                own.charger_id.is_not(None),
                whole.charger_id.is_not(None),
            ),
            literal(True),
        ),
        else_=literal(False),
    )
    statement = (
        select(
            s.id.label("session_id"),
            s.charger_id,
            tx.connector_id,
            s.started_at,
            s.ended_at,
            s.energy_kwh,
            # Whole W are thousandths of a kW.
            Thousandths(cast(tx.peak_power_w, Integer())).label("peak_kw"),
            tx.stop_reason,
            type_coerce(failed, Boolean()).label("failed"),
            type_coerce(_semicolon_list(fault_stop, own_code, whole_code), String()).label(
                "error_codes"
            ),
        )
        .select_from(s)
        .outerjoin(tx, tx.session_id == s.id)
        .outerjoin(
            own,
            and_(own.connector_id == tx.connector_id, own.connector_id > 0, during_session(own)),
        )
        .outerjoin(whole, and_(whole.connector_id == 0, during_session(whole)))
        .where(s.started_at >= _at(start), s.started_at < _at(end))
        .order_by(s.started_at, s.id)
    )
    return typing.cast("Select[Any]", statement)


# --- The ZIP ----------------------------------------------------------------------------------


def report_filename(quarter: Quarter) -> str:
    return f"nevi-report-{quarter.key}.zip"


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _sessions_fields() -> str:
    fields = [
        ("connector_id", "the charger's connector, for sessions the OCPP server recorded"),
        ("energy_kwh", "energy delivered (kWh)"),
        ("peak_kw", PEAK_KW_NOTE),
        ("stop_reason", "the OCPP StopTransaction reason, for sessions the OCPP server recorded"),
        (
            "failed",
            "true when the session ended with no energy delivered, a fault stop reason "
            f"({', '.join(FAULT_STOP_REASONS)}) or an error code reported during it; empty "
            "while it is in progress",
        ),
        (
            "error_codes",
            "the fault stop reason, and the OCPP StatusNotification errorCode of the session's "
            "connector and of the whole charger when reported between the session's start and "
            f'{ERROR_GRACE // timedelta(minutes=1)} minute after its end; separated by ";". '
            "Only each connector's latest report is kept, so a code a later report replaced is "
            "no longer known.",
        ),
    ]
    return "\n".join(
        textwrap.fill(text, 96, initial_indent=f"  {name:<20}", subsequent_indent=" " * 22)
        for name, text in fields
    )


def readme_text(quarter: Quarter, tz: ZoneInfo, now: datetime) -> str:
    """What the files hold and how each figure is made, for whoever reads the report."""
    start, end = quarter.bounds_utc(tz)
    as_of = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    partial = (
        f"The quarter was not over when this report was made: its figures count up to {as_of}.\n"
        if now < end
        else ""
    )
    return f"""NEVI quarterly report, {quarter.key} (23 CFR 680.116(b), 680.112(a))

Quarter: {_day(quarter.first_month)} to {_day(quarter.end_day - timedelta(days=1))} in the
operator's time zone {tz.key}, that is {start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ} (UTC).
Made at {as_of}.
{partial}
Times are ISO 8601 in UTC. Minutes are real minutes (a month with a daylight saving change is an
hour shorter or longer), to the thousandth. Empty cells are unknown or not applicable.

An outage is a span in which a charger could not charge: Offline (silent past the offline
threshold, from its last message to its next) or Out of order (Faulted/Unavailable, from that
report to the one that ended it), and outages an operator imported or entered. "excluded" marks
an outage shown to be outside the operator's control, which 23 CFR 680.116(b) lets it leave out.

{UPTIME_FILE}: per charger and calendar month of the quarter
  minutes             minutes of the month (up to the report's time for a month not over)
  outage_minutes      minutes covered by at least one outage (overlapping outages count once)
  excluded_minutes    minutes covered only by excluded outages
  uptime_percent      (minutes - (outage_minutes - excluded_minutes)) / minutes x 100
  uptime_12m_percent  the same over the twelve months that end with this one (NEVI asks > 97%)

{OUTAGES_FILE}: every outage covering part of the quarter, by charger and start
  started_at, ended_at  the outage (ended_at empty: still going on)
  cause, excluded, note as the operator recorded them
  duration_minutes      its whole length (one still going on: up to the report's time)
  minutes_in_quarter    the part inside the quarter
  Outages of one charger may overlap; outage_minutes above counts the overlap once.

{SESSIONS_FILE}: every charging session started in the quarter, by start (no personal data)
{_sessions_fields()}
"""


class _Sink:
    """What ``zipfile`` writes into, handed on in pieces (it writes a streamable ZIP, with data
    descriptors, to a file it cannot seek in)."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def write(self, data: bytes, /) -> int:
        self.pending += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        out = bytes(self.pending)
        self.pending.clear()
        return out


def report_chunks(
    db: Database,
    quarter: Quarter,
    tz: ZoneInfo,
    now: datetime,
    *,
    method: str = "auto",
    timeout_ms: int = EXPORT_STATEMENT_TIMEOUT_MS,
) -> Iterator[bytes]:
    """The report's ZIP in pieces of about ``CHUNK_BYTES``; the first piece comes once the first
    statement has answered. The database session lives as long as the iteration.

    ``method``: ``"copy"`` (PostgreSQL only), ``"cursor"``, or ``"auto"`` (COPY on PostgreSQL),
    as ``data.exchange.export_stream.export_chunks``."""
    if method not in ("auto", "copy", "cursor"):
        raise ValueError(f"unknown method {method!r}")
    use_copy = method == "copy" or (method == "auto" and db.dialect == "postgresql")
    if use_copy and db.dialect != "postgresql":
        raise ValueError("COPY needs PostgreSQL")
    parts = [
        (UPTIME_FILE, uptime_by_month(quarter, tz, now), UPTIME_COLUMNS),
        (OUTAGES_FILE, quarter_outages(quarter, tz, now), OUTAGE_COLUMNS),
        (SESSIONS_FILE, quarter_sessions(quarter, tz, now), SESSION_COLUMNS),
    ]
    sink = _Sink()
    with db.sessions() as session, session.begin():
        if db.dialect == "postgresql":
            # One snapshot for the three files, so they agree with each other.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        with zipfile.ZipFile(
            sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
        ) as archive:
            for name, stmt, columns in parts:
                header = columns_line(columns)
                # force_zip64: the size is not known before the file is written.
                with archive.open(name, "w", force_zip64=True) as member:
                    for chunk in statement_chunks(
                        session, stmt, header, use_copy=use_copy, timeout_ms=timeout_ms
                    ):
                        member.write(chunk)
                        if len(sink.pending) >= CHUNK_BYTES:
                            yield sink.take()
                if sink.pending:
                    yield sink.take()
            archive.writestr(README_FILE, readme_text(quarter, tz, now))
    yield sink.take()
