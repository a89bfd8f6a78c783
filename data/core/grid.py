"""The admin tables' server-side rows: a dash-ag-grid infinite-model request, read once, and the SQL
its column filters become.

``parse_grid_request`` turns whatever the browser sent as ``getRowsRequest`` (``startRow``,
``endRow``, ``sortModel``, ``filterModel``) into a ``GridRequest`` through each table's allow-lists
of columns and operators: anything else is dropped silently (the grid then shows unsorted or
unfiltered rows rather than an error), and nothing reaches SQL unchecked. ``text_condition``,
``choice_values`` and ``number_condition`` build the WHERE clause of one condition, the same on
SQLite and PostgreSQL; each table maps its column names to SQL and combines them (``combine``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Float, SQLColumnExpression, and_, func, literal, or_

MAX_GRID_ROWS = 500  # rows per grid request, whatever the browser asks for
MAX_SORT_KEYS = 3
MAX_CONDITIONS = 4
MAX_ROW = 10**9  # beyond any table; keeps OFFSET inside what a database accepts
FILTER_MAX_LENGTH = 200  # a text filter's value, as the screens' search boxes

MATCH_OPERATORS = frozenset(
    {"contains", "notContains", "equals", "notEqual", "startsWith", "endsWith"}
)
TEXT_OPERATORS = MATCH_OPERATORS | {"blank", "notBlank"}
NUMBER_OPERATORS = frozenset(
    {
        "equals",
        "notEqual",
        "lessThan",
        "lessThanOrEqual",
        "greaterThan",
        "greaterThanOrEqual",
        "inRange",
        "blank",
        "notBlank",
    }
)
_NEGATIVE_TEXT = frozenset({"notContains", "notEqual"})
_LIKE_ESCAPE = "!"  # not a backslash: its meaning in string literals differs between databases


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool


@dataclass(frozen=True)
class Condition:
    operator: str
    value: str | float | None = None
    value_to: float | None = None  # inRange only


@dataclass(frozen=True)
class ColumnFilter:
    column: str
    conditions: tuple[Condition, ...]
    join: str = "AND"  # how conditions combine: "AND" or "OR"


@dataclass(frozen=True)
class GridRequest:
    """The part of an ag-grid infinite-model request we act on, already validated."""

    start: int = 0
    end: int = 100
    sort: tuple[SortKey, ...] = ()
    filters: tuple[ColumnFilter, ...] = ()

    @property
    def limit(self) -> int:
        return self.end - self.start


def parse_grid_request(
    raw: object,
    *,
    sortable: frozenset[str] = frozenset(),
    text_columns: frozenset[str] = frozenset(),
    number_columns: frozenset[str] = frozenset(),
    text_operators: frozenset[str] = TEXT_OPERATORS,
    max_rows: int = MAX_GRID_ROWS,
    max_sort_keys: int = MAX_SORT_KEYS,
) -> GridRequest:
    """``getRowsRequest`` (whatever the browser sent) -> a ``GridRequest``.

    Rows: ``0 <= start < end``, at most ``max_rows`` at once (a missing or backwards ``endRow``
    asks for 100). Sort keys: columns in ``sortable``, each once, at most ``max_sort_keys``.
    Filters: text conditions on ``text_columns`` (operators in ``text_operators``; a number is
    read as its text), number conditions on ``number_columns``; a column's first
    ``MAX_CONDITIONS`` conditions, joined by AND or OR. Entries naming a column outside the
    allow-lists, or an operator we don't know, are dropped.
    """
    if not isinstance(raw, Mapping):
        return GridRequest(0, min(100, max_rows))
    start = _row(raw.get("startRow"), 0)
    end = _row(raw.get("endRow"), start + 100)
    if end <= start:
        end = start + 100
    end = min(end, start + max_rows)

    sort: list[SortKey] = []
    sort_model = raw.get("sortModel")
    if isinstance(sort_model, list):
        for entry in sort_model:
            if len(sort) == max_sort_keys:
                break
            if not isinstance(entry, Mapping):
                continue
            column, direction = entry.get("colId"), entry.get("sort")
            if isinstance(column, str) and column in sortable and direction in ("asc", "desc"):
                if all(k.column != column for k in sort):
                    sort.append(SortKey(column, direction == "desc"))

    filters: list[ColumnFilter] = []
    filter_model = raw.get("filterModel")
    if isinstance(filter_model, Mapping):
        for column, model in filter_model.items():
            parsed: ColumnFilter | None = None
            if column in text_columns:
                parsed = _column_filter(str(column), model, lambda c: _text(c, text_operators))
            elif column in number_columns:
                parsed = _column_filter(str(column), model, _number)
            if parsed is not None:
                filters.append(parsed)
    return GridRequest(start, end, tuple(sort), tuple(filters))


def _row(value: object, default: int) -> int:
    """A row index: anything but a finite number ``>= 0`` is ``default``; at most ``MAX_ROW``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if not math.isfinite(value) or value < 0:
        return default
    return min(int(value), MAX_ROW)


def _column_filter(
    column: str, model: object, read: Callable[[Mapping[str, Any]], Condition | None]
) -> ColumnFilter | None:
    if not isinstance(model, Mapping):
        return None
    join = "AND"
    raw_conditions: list[object]
    if isinstance(model.get("conditions"), list):
        raw_conditions = list(model["conditions"])[:MAX_CONDITIONS]
        join = "OR" if model.get("operator") == "OR" else "AND"
    else:
        raw_conditions = [model]
    conditions = [read(rc) for rc in raw_conditions if isinstance(rc, Mapping)]
    kept = tuple(c for c in conditions if c is not None)
    return ColumnFilter(column, kept, join) if kept else None


def _text(raw: Mapping[str, Any], operators: frozenset[str]) -> Condition | None:
    operator = raw.get("type")
    if not isinstance(operator, str) or operator not in operators:
        return None
    if operator in ("blank", "notBlank"):
        return Condition(operator)
    value = raw.get("filter")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return Condition(operator, value.strip()[:FILTER_MAX_LENGTH])


def _number(raw: Mapping[str, Any]) -> Condition | None:
    operator = raw.get("type")
    if not isinstance(operator, str) or operator not in NUMBER_OPERATORS:
        return None
    if operator in ("blank", "notBlank"):
        return Condition(operator)
    number = _finite(raw.get("filter"))
    if number is None:
        return None
    if operator == "inRange":
        upper = _finite(raw.get("filterTo"))
        if upper is None:
            return None
        return Condition("inRange", number, upper)
    return Condition(operator, number)


def _finite(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


# --- SQL ---------------------------------------------------------------------------------------


def like_pattern(operator: str, value: str) -> str:
    """The LIKE pattern (escaped with ``!``, lower case) of a text operator's value."""
    escaped = value.lower()
    for ch in (_LIKE_ESCAPE, "%", "_"):
        escaped = escaped.replace(ch, _LIKE_ESCAPE + ch)
    if operator in ("contains", "notContains"):
        return f"%{escaped}%"
    if operator == "startsWith":
        return f"{escaped}%"
    if operator == "endsWith":
        return f"%{escaped}"
    return escaped  # equals / notEqual: a LIKE without wildcards, case-insensitive


def text_matches(
    column: SQLColumnExpression[Any], operator: str, value: str
) -> ColumnElement[bool]:
    """One column against one text operator (not blank/notBlank), case-insensitive on both
    databases: ``lower()`` on each side, LIKE with our own escape. NULL (no label, no plan)
    neither contains nor equals anything, so the negative operators keep it."""
    like = func.lower(column).like(like_pattern(operator, value), escape=_LIKE_ESCAPE)
    if operator in _NEGATIVE_TEXT:
        return or_(column.is_(None), ~like)
    return like


def text_condition(
    columns: Sequence[SQLColumnExpression[Any]], c: Condition
) -> ColumnElement[bool]:
    """One text condition over one or more columns (the fleet's name filter also searches the
    id): a positive operator matches when any column does, a negative one when every column
    does (none contains the text); ``blank`` when every column is empty or NULL."""
    if c.operator == "blank":
        return and_(*(or_(col.is_(None), col == "") for col in columns))
    if c.operator == "notBlank":
        return or_(*(and_(col.is_not(None), col != "") for col in columns))
    tests = [text_matches(col, c.operator, str(c.value)) for col in columns]
    return and_(*tests) if c.operator in _NEGATIVE_TEXT else or_(*tests)


def choice_values(choices: Sequence[str], c: Condition) -> list[str]:
    """The allowed values a text condition selects (evaluated here, then ``IN`` in SQL)."""
    if c.operator == "blank":
        return []
    if c.operator == "notBlank":
        return list(choices)
    needle = str(c.value).lower()
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda v: needle in v,
        "notContains": lambda v: needle not in v,
        "equals": lambda v: v == needle,
        "notEqual": lambda v: v != needle,
        "startsWith": lambda v: v.startswith(needle),
        "endsWith": lambda v: v.endswith(needle),
    }
    return [v for v in choices if tests[c.operator](v.lower())]


def number_condition(column: SQLColumnExpression[Any], c: Condition) -> ColumnElement[bool]:
    if c.operator == "blank":
        return column.is_(None)
    if c.operator == "notBlank":
        return column.is_not(None)
    value = literal(c.value, Float())
    if c.operator == "equals":
        return column == value
    if c.operator == "notEqual":
        return column != value
    if c.operator == "lessThan":
        return column < value
    if c.operator == "lessThanOrEqual":
        return column <= value
    if c.operator == "greaterThan":
        return column > value
    if c.operator == "greaterThanOrEqual":
        return column >= value
    # inRange: ag-grid's default is exclusive at both ends
    low, high = sorted((float(c.value or 0), float(c.value_to or 0)))
    return and_(column > literal(low, Float()), column < literal(high, Float()))


def combine(parts: Sequence[ColumnElement[bool]], join: str) -> ColumnElement[bool]:
    """A column filter's conditions, joined as the filter says."""
    return or_(*parts) if join == "OR" else and_(*parts)
