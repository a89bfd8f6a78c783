"""Billing periods in the operator's time zone: ``current``, ``previous`` and ``year``; and the
text and local days an admin log's filter takes from a page or a query string (``filter_text``,
``filter_day``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("current", "previous", "year")
PERIOD_LABELS = {"current": "This month", "previous": "Last month", "year": "This year"}


@dataclass(frozen=True)
class Period:
    """A run of local days ``[first_day, end_day)`` and the UTC instants that bound it."""

    name: str
    first_day: date
    end_day: date  # exclusive
    start_utc: datetime
    end_utc: datetime  # exclusive
    tz: ZoneInfo

    @property
    def days(self) -> list[date]:
        return [
            self.first_day + timedelta(days=i) for i in range((self.end_day - self.first_day).days)
        ]

    @property
    def label(self) -> str:
        if self.name == "year":
            return str(self.first_day.year)
        return self.first_day.strftime("%B %Y")


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` starts in ``tz`` (DST-safe)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def parse_period(value: str | None) -> tuple[str, bool]:
    """Return ``(period, valid)``; anything unknown falls back to ``current``."""
    if value in PERIODS:
        return value, True
    return "current", value in (None, "")


def period_bounds(name: str, now: datetime, tz: ZoneInfo) -> Period:
    """The period called ``name`` that contains (or, for ``previous``, precedes) ``now``."""
    today = now.astimezone(tz).date()
    month_start = today.replace(day=1)
    if name == "current":
        first = month_start
        end = (month_start + timedelta(days=32)).replace(day=1)
    elif name == "previous":
        end = month_start
        first = (month_start - timedelta(days=1)).replace(day=1)
    elif name == "year":
        # The calendar year "up to now": January 1st through today.
        first = date(today.year, 1, 1)
        end = today + timedelta(days=1)
    else:
        raise ValueError(f"unknown period {name!r}")
    return Period(name, first, end, local_midnight_utc(first, tz), local_midnight_utc(end, tz), tz)


class FilterValueError(ValueError):
    """A filter value from a page or a query string that means nothing; says what is wrong."""


def filter_text(value: object, name: str) -> str | None:
    """One filter value, stripped (None when empty or absent); refused when it is not one text
    (a query string's parameter given twice)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FilterValueError(f"{name}: give one value as text")
    return value.strip() or None


def filter_day(value: object, name: str) -> date | None:
    """A local day like ``2026-12-05`` (a longer ISO text: its date); None when absent."""
    text = filter_text(value, name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10]) if len(text) <= 10 else date.fromisoformat(text)
    except ValueError:
        raise FilterValueError(f"{name}: a date like 2026-12-05, not {text[:20]!r}") from None
