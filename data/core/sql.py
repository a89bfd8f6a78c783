"""Portable SQL pieces: one expression, compiled for PostgreSQL and for SQLite.

Every query module builds on these, so that a date, an hour or a duration means the same on
both databases (timestamps are ``timestamptz`` on PostgreSQL and naive UTC text on SQLite).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Float,
    Integer,
    Numeric,
    Select,
    SQLColumnExpression,
    String,
    cast,
    func,
)
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

# A select of any columns: SQLAlchemy 2.1 types a Select by its columns' types.
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"

# Energy is stored with 3 decimals (``Numeric(12, 3)``); every kWh figure is rounded to that.
KWH = Decimal("0.001")


def kwh_decimal(value: Decimal | float | int | None) -> Decimal:
    """A kWh value or SUM from either database as a Decimal with the schema's 3 decimals (None,
    the SUM of no rows, is 0.000). SQLite sums NUMERIC as a float: read through ``str``."""
    if value is None:
        return Decimal("0.000")
    return Decimal(str(value)).quantize(KWH)


def thousandths(value: SQLColumnExpression[Decimal | None]) -> ColumnElement[int]:
    """A number with at most 3 decimals (kWh, money) as an integer count of thousandths: sums
    and differences stay exact on SQLite too (its NUMERIC is a float)."""
    return cast(func.round(value * 1000), BigInteger)


def from_thousandths(value: int | Decimal | None) -> Decimal:
    """An integer (a SUM of ``thousandths``, a rollup's ``energy_wh`` or ``cost_milli``) as a
    Decimal with 3 decimals; None, the SUM of no rows, is 0.000."""
    return (Decimal(int(value or 0)) / 1000).quantize(KWH)


class ShiftedUTCDate(FunctionElement[date]):
    """``date(utc_timestamp + N seconds)``, N an integer literal (part of the cache key)."""

    type = Date()
    name = "shifted_utc_date"
    inherit_cache = True


@compiles(ShiftedUTCDate)
def _shifted_date_default(element: ShiftedUTCDate, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"local days are not implemented for {compiler.dialect.name}")


@compiles(ShiftedUTCDate, "postgresql")
def _shifted_date_postgresql(element: ShiftedUTCDate, compiler: SQLCompiler, **kw: Any) -> str:
    ts, seconds = (compiler.process(c, **kw) for c in element.clauses)
    # timezone('UTC', timestamptz) is the UTC wall clock, whatever the connection's TimeZone.
    return f"CAST(timezone('UTC', {ts}) + INTERVAL '{int(seconds)} seconds' AS DATE)"


@compiles(ShiftedUTCDate, "sqlite")
def _shifted_date_sqlite(element: ShiftedUTCDate, compiler: SQLCompiler, **kw: Any) -> str:
    ts, seconds = (compiler.process(c, **kw) for c in element.clauses)
    # Stored as naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff". Cut to whole seconds: SQLite rounds
    # fractions to the millisecond, which would move 23:59:59.9999 to the next day. Offsets
    # and local midnights are whole seconds, so the cut never changes the date.
    return f"date(substr({ts}, 1, 19), '{int(seconds):+d} seconds')"


class ShiftedHourOfWeek(FunctionElement[int]):
    """``weekday * 24 + hour`` of ``utc_timestamp + N seconds`` (Monday 0), N an int literal."""

    type = Integer()
    name = "shifted_hour_of_week"
    inherit_cache = True


@compiles(ShiftedHourOfWeek)
def _how_default(element: ShiftedHourOfWeek, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"hour of week is not implemented for {compiler.dialect.name}")


@compiles(ShiftedHourOfWeek, "postgresql")
def _how_postgresql(element: ShiftedHourOfWeek, compiler: SQLCompiler, **kw: Any) -> str:
    ts, seconds = (compiler.process(c, **kw) for c in element.clauses)
    # timezone('UTC', timestamptz) is the UTC wall clock, whatever the connection's TimeZone.
    local = f"(timezone('UTC', {ts}) + INTERVAL '{int(seconds)} seconds')"
    return (
        f"((CAST(EXTRACT(ISODOW FROM {local}) AS INTEGER) - 1) * 24 "
        f"+ CAST(EXTRACT(HOUR FROM {local}) AS INTEGER))"
    )


@compiles(ShiftedHourOfWeek, "sqlite")
def _how_sqlite(element: ShiftedHourOfWeek, compiler: SQLCompiler, **kw: Any) -> str:
    ts, seconds = (compiler.process(c, **kw) for c in element.clauses)
    # Naive UTC text; whole seconds are enough for an hour (and avoid SQLite's ms rounding).
    local = f"substr({ts}, 1, 19), '{int(seconds):+d} seconds'"
    # %w counts from Sunday = 0; shift so that Monday is 0 as in ISO.
    return (
        f"(((CAST(strftime('%w', {local}) AS INTEGER) + 6) % 7) * 24 "
        f"+ CAST(strftime('%H', {local}) AS INTEGER))"
    )


class EpochSeconds(FunctionElement[float]):
    """Seconds since 1970 of a UTC timestamp column, microseconds included."""

    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(EpochSeconds)
def _epoch_default(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"epoch seconds are not implemented for {compiler.dialect.name}")


@compiles(EpochSeconds, "postgresql")
def _epoch_postgresql(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


@compiles(EpochSeconds, "sqlite")
def _epoch_sqlite(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    ts = compiler.process(element.clauses, **kw)
    # "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds by strftime, the fraction read as a number
    # (julianday would lose microseconds to floating point).
    return (
        f"(CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER) "
        f"+ CAST('0' || substr({ts}, 20) AS REAL))"
    )


class Greatest(FunctionElement[float]):
    type = Float()
    name = "greatest"
    inherit_cache = True


class Least(FunctionElement[float]):
    type = Float()
    name = "least"
    inherit_cache = True


@compiles(Greatest)
def _greatest_default(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(Least)
def _least_default(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(Greatest, "sqlite")
def _greatest_sqlite(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"  # scalar max with 2+ arguments


@compiles(Least, "sqlite")
def _least_sqlite(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


class Bytewise(FunctionElement[str]):
    """Text compared byte by byte: SQLite's default; PostgreSQL with ``COLLATE "C"`` (so both
    databases sort names the same way whatever the server's locale)."""

    type = String()
    inherit_cache = True


@compiles(Bytewise)
def _bytewise_default(element: Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(Bytewise, "postgresql")
def _bytewise_postgresql(element: Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses.clauses[0], **kw)}) COLLATE "C"'


class SecondsBetween(FunctionElement[float]):
    """``later - earlier`` in seconds, for two UTC timestamp expressions."""

    type = Float()
    inherit_cache = True


@compiles(SecondsBetween)
def _seconds_default(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"seconds between is not implemented for {compiler.dialect.name}")


@compiles(SecondsBetween, "postgresql")
def _seconds_postgresql(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later}) - ({earlier}))"


@compiles(SecondsBetween, "sqlite")
def _seconds_sqlite(element: SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    # Stored as naive UTC text; julianday() reads it to the millisecond, plenty for hours in use.
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


# --- rollup keys (data/charging/rollup.py): a UTC timestamp's quarter-hour, day and month; exact sp


class EpochBucket(FunctionElement[int]):
    """``floor(epoch seconds / SECONDS)`` of a UTC timestamp column (also before 1970)."""

    SECONDS: int
    inherit_cache = True


class QuarterOf(EpochBucket):
    """A UTC timestamp's quarter-hour."""

    SECONDS = 900
    type = BigInteger()
    name = "quarter_of"
    inherit_cache = True


class DayOf(EpochBucket):
    """A UTC timestamp's UTC day."""

    SECONDS = 86400
    type = Integer()
    name = "day_of"
    inherit_cache = True


@compiles(EpochBucket)
def _bucket_default(element: EpochBucket, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"{element.name} is not implemented for {compiler.dialect.name}")


@compiles(EpochBucket, "postgresql")
def _bucket_postgresql(element: EpochBucket, compiler: SQLCompiler, **kw: Any) -> str:
    ts = compiler.process(element.clauses, **kw)
    sql_type = compiler.dialect.type_compiler_instance.process(element.type)
    # EXTRACT gives numeric (exact microseconds); floor, not a cast, which would round.
    return f"CAST(floor(EXTRACT(EPOCH FROM {ts}) / {element.SECONDS}) AS {sql_type})"


@compiles(EpochBucket, "sqlite")
def _bucket_sqlite(element: EpochBucket, compiler: SQLCompiler, **kw: Any) -> str:
    ts = compiler.process(element.clauses, **kw)
    # Naive UTC text; whole seconds are enough, and SQLite's / truncates toward zero.
    seconds = f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"
    return f"({seconds} / {element.SECONDS} - ({seconds} % {element.SECONDS} < 0))"


class MonthOf(FunctionElement[int]):
    """``(year - 1970) * 12 + month - 1`` of a UTC timestamp column's UTC date."""

    type = Integer()
    name = "month_of"
    inherit_cache = True


@compiles(MonthOf)
def _month_default(element: MonthOf, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"months are not implemented for {compiler.dialect.name}")


@compiles(MonthOf, "postgresql")
def _month_postgresql(element: MonthOf, compiler: SQLCompiler, **kw: Any) -> str:
    utc = f"timezone('UTC', {compiler.process(element.clauses, **kw)})"
    return (
        f"((CAST(EXTRACT(YEAR FROM {utc}) AS INTEGER) - 1970) * 12 "
        f"+ CAST(EXTRACT(MONTH FROM {utc}) AS INTEGER) - 1)"
    )


@compiles(MonthOf, "sqlite")
def _month_sqlite(element: MonthOf, compiler: SQLCompiler, **kw: Any) -> str:
    ts = f"substr({compiler.process(element.clauses, **kw)}, 1, 19)"
    return (
        f"((CAST(strftime('%Y', {ts}) AS INTEGER) - 1970) * 12 "
        f"+ CAST(strftime('%m', {ts}) AS INTEGER) - 1)"
    )


class MicrosBetween(FunctionElement[int]):
    """``later - earlier`` in integer microseconds, exact, for two UTC timestamp columns."""

    type = BigInteger()
    name = "micros_between"
    inherit_cache = True


@compiles(MicrosBetween)
def _micros_default(element: MicrosBetween, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"microseconds are not implemented for {compiler.dialect.name}")


@compiles(MicrosBetween, "postgresql")
def _micros_postgresql(element: MicrosBetween, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000000 AS BIGINT)"


@compiles(MicrosBetween, "sqlite")
def _micros_sqlite(element: MicrosBetween, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)

    # "YYYY-MM-DD HH:MM:SS.ffffff" (naive UTC): whole seconds, then the digits after the point.
    def seconds(ts: str) -> str:
        return f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"

    def micros(ts: str) -> str:
        return f"CAST(substr(substr({ts}, 21) || '000000', 1, 6) AS INTEGER)"

    return (
        f"(({seconds(later)} - {seconds(earlier)}) * 1000000 + {micros(later)} - {micros(earlier)})"
    )


class SumMicrosBetween(FunctionElement[int]):
    """SUM over the rows of ``later - earlier`` in integer microseconds, exact; a row where
    either is NULL adds nothing (NULL when none adds anything). PostgreSQL sums the intervals
    and converts once per group, not once per row."""

    type = BigInteger()
    name = "sum_micros_between"
    inherit_cache = True


@compiles(SumMicrosBetween)
def _sum_micros_default(element: SumMicrosBetween, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"microseconds are not implemented for {compiler.dialect.name}")


@compiles(SumMicrosBetween, "postgresql")
def _sum_micros_postgresql(element: SumMicrosBetween, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM sum({later} - {earlier})) * 1000000 AS BIGINT)"


@compiles(SumMicrosBetween, "sqlite")
def _sum_micros_sqlite(element: SumMicrosBetween, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = element.clauses
    return f"sum({compiler.process(MicrosBetween(earlier, later), **kw)})"


# --- thousandths: exact figures kept as integers (data/uptime), written as decimals ----------


class Thousandths(FunctionElement[Decimal]):
    """An integer count of thousandths as the number it stands for (``12500`` -> 12.5):
    exact on PostgreSQL (numeric); SQLite divides as a float, whose shortest form is that same
    number of three decimals."""

    type = Numeric(20, 3)
    name = "thousandths"
    inherit_cache = True


class ThousandthsText(FunctionElement[str]):
    """A count of thousandths (0 or more) as text with exactly three decimals (``99873`` ->
    ``99.873``, ``100000`` -> ``100.000``); NULL stays NULL."""

    type = String()
    name = "thousandths_text"
    inherit_cache = True


@compiles(Thousandths)
@compiles(ThousandthsText)
def _thousandths_default(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"{element.name} is not implemented for {compiler.dialect.name}")


@compiles(Thousandths, "postgresql")
def _thousandths_postgresql(element: Thousandths, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(CAST({compiler.process(element.clauses, **kw)} AS NUMERIC) / 1000)"


@compiles(Thousandths, "sqlite")
def _thousandths_sqlite(element: Thousandths, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} / 1000.0)"


@compiles(ThousandthsText, "postgresql")
def _thousandths_text_postgresql(element: ThousandthsText, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    # mod(), not %: a COPY's parameters are merged by psycopg, to which % is a placeholder.
    return f"(CAST({x} / 1000 AS TEXT) || '.' || lpad(CAST(mod({x}, 1000) AS TEXT), 3, '0'))"


@compiles(ThousandthsText, "sqlite")
def _thousandths_text_sqlite(element: ThousandthsText, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    return f"(CAST({x} / 1000 AS TEXT) || '.' || substr('00' || CAST({x} % 1000 AS TEXT), -3))"
