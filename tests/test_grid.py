"""The one AG Grid request parser and its SQL (data.core.grid), apart from any table."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from data.core.grid import (
    MATCH_OPERATORS,
    MAX_CONDITIONS,
    ColumnFilter,
    Condition,
    SortKey,
    parse_grid_request,
    text_condition,
)


def test_only_allow_listed_columns_and_operators_get_through():
    request = parse_grid_request(
        {
            "startRow": 10,
            "endRow": 20,
            "sortModel": [
                {"colId": "name", "sort": "desc"},
                {"colId": "name", "sort": "asc"},  # a column sorts once
                {"colId": "secret", "sort": "asc"},
                {"colId": "kw", "sort": "asc"},
            ],
            "filterModel": {
                "name": {"type": "contains", "filter": " Depot "},
                "kw": {"type": "inRange", "filter": "7", "filterTo": 22},
                "secret": {"type": "contains", "filter": "x"},
                "label": {"type": "regex", "filter": ".*"},
            },
        },
        sortable=frozenset({"name", "kw"}),
        text_columns=frozenset({"name", "label"}),
        number_columns=frozenset({"kw"}),
    )
    assert (request.start, request.end, request.limit) == (10, 20, 10)
    assert request.sort == (SortKey("name", True), SortKey("kw", False))
    assert request.filters == (
        ColumnFilter("name", (Condition("contains", "Depot"),)),
        ColumnFilter("kw", (Condition("inRange", 7.0, 22.0),)),
    )


def test_a_column_keeps_its_first_conditions_and_their_join():
    conditions = [{"type": "equals", "filter": f"v{i}"} for i in range(MAX_CONDITIONS + 3)]
    request = parse_grid_request(
        {"filterModel": {"name": {"operator": "OR", "conditions": conditions}}},
        text_columns=frozenset({"name"}),
    )
    (only,) = request.filters
    assert only.join == "OR"
    assert [c.value for c in only.conditions] == [f"v{i}" for i in range(MAX_CONDITIONS)]


def test_a_table_may_leave_out_blank_and_not_blank():
    model = {"filterModel": {"name": {"type": "blank"}}}
    fleet_like = parse_grid_request(model, text_columns=frozenset({"name"}))
    accounts_like = parse_grid_request(
        model, text_columns=frozenset({"name"}), text_operators=MATCH_OPERATORS
    )
    assert fleet_like.filters == (ColumnFilter("name", (Condition("blank"),)),)
    assert accounts_like.filters == ()


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("contains", "50%"), ["Fleet 50%"]),  # % is literal text
        (Condition("equals", "DEPOT_1"), ["depot_1"]),  # any case, _ is literal
        (Condition("startsWith", "fl"), ["Fleet 50%"]),
        (Condition("endsWith", "!"), ["wow!"]),  # the escape character itself
        (Condition("notContains", "e"), ["wow!", "", None]),  # NULL contains nothing
        (Condition("notEqual", "wow!"), ["Fleet 50%", "depot_1", "", None]),
        (Condition("blank"), ["", None]),
        (Condition("notBlank"), ["Fleet 50%", "depot_1", "wow!"]),
    ],
)
def test_text_conditions_in_sql(condition: Condition, expected: list[str | None]):
    metadata = MetaData()
    table = Table("t", metadata, Column("id", Integer, primary_key=True), Column("label", String))
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    labels = ["Fleet 50%", "depot_1", "wow!", "", None]
    with engine.begin() as connection:
        connection.execute(insert(table), [{"id": i, "label": v} for i, v in enumerate(labels)])
        found = connection.execute(
            select(table.c.label).where(text_condition([table.c.label], condition)).order_by("id")
        ).scalars()
        assert list(found) == expected
