"""The data-exchange folder format (``shared/spec/data-exchange.md``): its files, their columns
and keys, and how one cell is read (parsed and checked) and written (formatted).

A folder of CSV files, one per table, imported in ``FILES`` order so that references resolve.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import Table

from data.core.models import (
    ID_LENGTH,
    ChargerAccess,
    ChargingSession,
    ConnectorType,
    IdTag,
    Plan,
    ReservationStatus,
    Role,
    TariffVersion,
    Visibility,
)
from data.core.models import Charger as ChargerModel
from data.core.models import Reservation as ReservationModel
from data.uptime.outages import Outage, OutageCause

# Rows per INSERT/UPDATE executemany and per fetched chunk when streaming (import and export).
BATCH_SIZE = 5000

_TEXT_LENGTH = 200
_NOTE_LENGTH = 2000  # an outage's note: room for why it is excluded
_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Plain decimal notation only: what a person or a spreadsheet writes for kWh and kW.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


# --- Reading a cell: each parser returns the typed value or raises BadCell for the person ---


class BadCell(ValueError):
    """A cell that is not a valid value of its column; the message says why, for the person."""


def _check_text(raw: str, limit: int) -> str:
    if len(raw) > limit:
        raise BadCell(f"longer than {limit} characters")
    if "\x00" in raw:
        raise BadCell("contains a NUL character")
    return raw


def _text(raw: str) -> str:
    return _check_text(raw, _TEXT_LENGTH)


def _id(raw: str) -> str:
    # Surrounding spaces would make "c1" and "c1 " two ids that look the same in a report.
    if raw[0].isspace() or raw[-1].isspace():
        raise BadCell(f"{raw!r} has leading or trailing spaces")
    if len(raw) > ID_LENGTH or "\x00" in raw:
        return _check_text(raw, ID_LENGTH)  # raises with the reason
    return raw


def _note(raw: str) -> str:
    return _check_text(raw, _NOTE_LENGTH)


def _email(raw: str) -> str:
    if len(raw) > _EMAIL_LENGTH or not _EMAIL.fullmatch(raw):
        raise BadCell(f"{raw!r} is not an email address")
    return raw


def _password(raw: str) -> str:
    return raw


def _currency(raw: str) -> str:
    if not _CURRENCY.fullmatch(raw):
        raise BadCell(f"{raw!r} is not an ISO 4217 currency code (three capital letters, like EUR)")
    return raw


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(raw: str) -> str:
    if raw not in _iana_zones():
        raise BadCell(f"{raw!r} is not an IANA time zone name (like Europe/Berlin)")
    return raw


def _timestamp(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadCell(
            f"{raw!r} is not an ISO 8601 timestamp (like 2026-11-24T09:30:00+01:00)"
        ) from None
    if value.tzinfo is None:
        # The spec: a timestamp without an offset is an error, not a guess.
        raise BadCell(f"{raw!r} has no UTC offset; add one (+01:00) or Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it: no UTC instant
        raise BadCell(f"{raw!r} is outside the years 1 to 9999 in UTC") from None


def _bool(raw: str) -> bool:
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise BadCell(f"{raw!r} is not a boolean; write true or false")


def _decimal(precision: int, scale: int, *, positive: bool = False) -> Callable[[str], Decimal]:
    limit = Decimal(10) ** (precision - scale)
    step = Decimal(1).scaleb(-scale)

    def parse(raw: str) -> Decimal:
        if not _NUMBER.fullmatch(raw):
            raise BadCell(f"{raw!r} is not a number (write it like 12.5)")
        if raw.startswith("-"):
            raise BadCell(f"{raw} is negative; it must be 0 or more")
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            raise BadCell(f"{raw!r} is not a number") from None
        if positive and value == 0:
            raise BadCell("must be greater than 0")
        if value >= limit:
            raise BadCell(f"{raw} is too large (at most {limit - step})")
        # More decimals than the column keeps would be rounded away silently: refuse instead.
        if value != value.quantize(step):
            raise BadCell(f"{raw} has more than {scale} decimal places")
        return value

    return parse


def _whole(limit: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isdigit() or not raw.isascii():
            raise BadCell(f"{raw!r} is not a whole number 0 or more (write it like 30)")
        value = int(raw)
        if value > limit:
            raise BadCell(f"{raw} is too large (at most {limit})")
        return value

    return parse


def _percent(raw: str) -> Decimal:
    value = _decimal(5, 2)(raw)
    if value > 100:
        raise BadCell(f"{raw} is not a percentage from 0 to 100")
    return value


def _enum(cls: type[Enum]) -> Callable[[str], Enum]:
    members = {m.value: m for m in cls}
    allowed = ", ".join(members)

    def parse(raw: str) -> Enum:
        member = members.get(raw)
        if member is None:
            hint = next((v for v in members if v.lower() == raw.strip().lower()), None)
            extra = f" (did you mean {hint!r}?)" if hint else ""
            raise BadCell(f"{raw!r} is not one of: {allowed}{extra}")
        return member

    return parse


# --- The files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One column of a file: its name, how a cell is parsed, whether it may be empty or absent."""

    name: str
    parse: Callable[[str], Any]
    nullable: bool = False  # an empty cell means NULL
    required: bool = True  # the header must have the column; an absent optional one is kept


def _f(name: str, parse: Callable[[str], Any], *, optional: bool = False) -> Field:
    return Field(name, parse, nullable=optional, required=not optional)


# Spec order. A column is optional in the header only where the spec calls the value optional or
# where a NULL has a meaning of its own; cells of required nullable columns may still be empty.
_price = _decimal(12, 4)  # tariffs.csv prices (Numeric(12, 4)); negatives are refused
_money = _decimal(14, 3)  # sessions.csv costs (Numeric(14, 3))
# The cost columns of sessions.csv, all optional: empty ones are computed on import.
COST_COLUMNS = (
    "tariff_id",
    "currency",
    "cost_energy",
    "cost_time",
    "cost_fee",
    "cost_total",
    "vat_amount",
)

FIELDS: dict[str, tuple[Field, ...]] = {
    "tariffs": (
        _f("tariff_id", _id),
        _f("valid_from", _timestamp),
        _f("name", _text),
        _f("currency", _currency),
        _f("energy_price_per_kwh", _price, optional=True),
        _f("dc_energy_price_per_kwh", _price, optional=True),
        _f("session_fee", _price, optional=True),
        _f("time_price_per_hour", _price, optional=True),
        _f("time_free_minutes", _whole(10 * 24 * 60), optional=True),
        _f("vat_percent", _percent, optional=True),
    ),
    "operator": (
        _f("name", _text),
        _f("support_email", _email, optional=True),
        _f("timezone", _timezone),
        _f("currency", _currency),
        _f("default_tariff_id", _id, optional=True),
    ),
    "plans": (
        _f("plan_id", _id),
        _f("name", _text),
        _f("allowance_kwh", _decimal(12, 3)),
        _f("currency", _currency),
        _f("tariff_id", _id, optional=True),
    ),
    "users": (
        _f("email", _email),
        _f("display_name", _text),
        _f("password", _password, optional=True),
    ),
    "accounts": (
        _f("account_id", _id),
        _f("email", _email),
        _f("role", _enum(Role)),
        _f("plan_id", _id, optional=True),
        _f("label", _text, optional=True),
    ),
    "chargers": (
        _f("charger_id", _id),
        _f("friendly_name", _text),
        _f("connector_type", _enum(ConnectorType)),
        _f("max_power_kw", _decimal(8, 2, positive=True)),
        _f("visibility", _enum(Visibility)),
        _f("last_seen_at", _timestamp, optional=True),
    ),
    "access": (_f("account_id", _id), _f("charger_id", _id)),
    "sessions": (
        _f("session_id", _id),
        _f("account_id", _id),
        _f("charger_id", _id),
        _f("started_at", _timestamp),
        Field("ended_at", _timestamp, nullable=True),  # empty: the session is in progress
        _f("energy_kwh", _decimal(12, 3)),
        _f("finalized", _bool),
        _f("tariff_id", _id, optional=True),
        _f("currency", _currency, optional=True),
        _f("cost_energy", _money, optional=True),
        _f("cost_time", _money, optional=True),
        _f("cost_fee", _money, optional=True),
        _f("cost_total", _money, optional=True),
        _f("vat_amount", _money, optional=True),
    ),
    "id_tags": (_f("id_tag", _id), _f("account_id", _id)),
    "reservations": (
        _f("reservation_id", _id),
        _f("account_id", _id),
        _f("charger_id", _id),
        _f("starts_at", _timestamp),
        _f("ends_at", _timestamp),
        _f("status", _enum(ReservationStatus)),
    ),
    "outages": (
        _f("outage_id", _id),
        _f("charger_id", _id),
        _f("started_at", _timestamp),
        Field("ended_at", _timestamp, nullable=True),  # empty: the charger is still down
        _f("cause", _enum(OutageCause)),
        _f("excluded", _bool),
        _f("note", _note, optional=True),
    ),
}

FILES: tuple[str, ...] = tuple(FIELDS)
"""File stems in import order: ``<stem>.csv`` on disk, ``/export/<stem>.csv`` over HTTP."""

COLUMNS: dict[str, list[str]] = {name: [f.name for f in fields] for name, fields in FIELDS.items()}
"""The columns of each file, in the order the export writes them."""

# The columns that identify a row of each file (users: the email, compared case-insensitively).
KEYS: dict[str, tuple[str, ...]] = {
    "tariffs": ("tariff_id", "valid_from"),
    "operator": (),
    "plans": ("plan_id",),
    "users": ("email",),
    "accounts": ("account_id",),
    "chargers": ("charger_id",),
    "access": ("account_id", "charger_id"),
    "sessions": ("session_id",),
    "id_tags": ("id_tag",),
    "reservations": ("reservation_id",),
    "outages": ("outage_id",),
}


# The files whose rows are rows of one table, column for column: the table and the file columns
# the database names otherwise (each key: ``plan_id`` is ``plans.id``).
_TABLE_RENAMES: dict[str, tuple[Table, dict[str, str]]] = {
    "tariffs": (TariffVersion.__table__, {}),  # type: ignore[dict-item]
    "plans": (Plan.__table__, {"plan_id": "id"}),  # type: ignore[dict-item]
    "chargers": (ChargerModel.__table__, {"charger_id": "id"}),  # type: ignore[dict-item]
    "access": (ChargerAccess.__table__, {}),  # type: ignore[dict-item]
    "sessions": (ChargingSession.__table__, {"session_id": "id"}),  # type: ignore[dict-item]
    "id_tags": (IdTag.__table__, {}),  # type: ignore[dict-item]
    "reservations": (ReservationModel.__table__, {"reservation_id": "id"}),  # type: ignore[dict-item]
    "outages": (Outage.__table__, {"outage_id": "id"}),  # type: ignore[dict-item]
}

TABLE_COLUMNS: dict[str, tuple[Table, dict[str, str]]] = {
    name: (table, {c: renamed.get(c, c) for c in COLUMNS[name]})
    for name, (table, renamed) in _TABLE_RENAMES.items()
}
"""Per file of ``_TABLE_RENAMES``: its table and, per file column (in file order), its database
column. The import writes through it, the export reads through it."""


def email_key(email: str) -> str:
    """The key of a user: sign-in matches emails case-insensitively, so two spellings are one
    person."""
    return email.lower()


# --- Writing a cell -----------------------------------------------------------------------------


def format_timestamp(value: datetime | None) -> str:
    """``2026-11-24T08:30:00Z``: UTC, seconds always, microseconds only when there are any."""
    if value is None:
        return ""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every timestamp needs a time zone")
    value = value.astimezone(UTC)
    text = value.replace(tzinfo=None, microsecond=0).isoformat()
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_decimal(value: Decimal | float | int | None, places: int | None = None) -> str:
    """``12.5``, ``7``, ``0.125``: no trailing zeros, no exponent, no float noise.

    ``places`` rounds first (for sums that SQLite computes as floats)."""
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    text = format(number.normalize(), "f")
    return "0" if text == "-0" else text


def format_bool(value: bool | None) -> str:
    if value is None:
        return ""
    return "true" if value else "false"


def format_value(value: Any) -> str:
    """Any exported cell: NULL is empty, enums by value, the rest by the helpers above."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal | float | int):
        return format_decimal(value)
    return str(value)
