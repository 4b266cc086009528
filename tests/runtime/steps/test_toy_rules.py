"""ARCHITECTURE.md's validation-rule recipe, followed for a toy column rule and a toy table rule.

Step 1 of the recipe adds a field to `ColumnRule` / `TableRules`; here subclasses stand in for that edit.
Step 3 registers the checks with `column_rule` / `table_rule`; the validator then runs them after the
built-in ones, counts them, and reports their failures like any other.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from pydantic import Field, StrictBool
from sklearn.datasets import load_wine

from mlform.runtime.steps.validation import (
    COLUMN_RULES,
    TABLE_RULES,
    Column,
    Table,
    column_rule,
    table_rule,
    validate_frame,
)
from mlform.specs.model.data import ColumnRule, TableRules, Validation


class EvenRule(ColumnRule):
    """`ColumnRule` with the toy field."""

    even: StrictBool = Field(False, description="`true` fails on odd values.")


class WidthRules(TableRules):
    """`TableRules` with the toy field."""

    max_columns: int | None = Field(None, description="Most columns allowed.")


@pytest.fixture
def toy_rules() -> Iterator[None]:
    """Register the toy checks as the recipe says; forget them afterwards."""
    saved = dict(COLUMN_RULES), dict(TABLE_RULES)

    @column_rule("even")
    def check_even(col: Column) -> None:
        if col.rule.even:
            odd = col.numbers % 2 == 1
            if odd.any():
                col.fail("even", odd, f"{int(odd.sum())} odd values")

    @table_rule("max_columns")
    def check_width(table: Table) -> None:
        limit, width = table.rules.max_columns, table.frame.shape[1]
        if limit is not None and width > limit:
            table.fail("max_columns", f"{width} columns, more than {limit}", table.rows)

    yield
    for registry, before in zip((COLUMN_RULES, TABLE_RULES), saved, strict=True):
        registry.clear()
        registry.update(before)


def test_toy_rules_run_counted_next_to_the_built_in_ones(toy_rules: None) -> None:
    wine = load_wine(as_frame=True).frame[["magnesium", "proline", "target"]]
    rules = Validation(table=WidthRules(row_count={"min": 10}, max_columns=2),
                       columns={"magnesium": EvenRule(even=True, min=70), "target": EvenRule(nullable=False)})
    report = validate_frame(wine, rules)
    odd = np.flatnonzero(wine["magnesium"].to_numpy() % 2 == 1)
    assert report.rules == 5  # row_count, max_columns; min, even; nullable
    assert [(f.rule, f.column, f.failed, f.message) for f in report.failures] == [
        ("max_columns", None, len(wine), "`validation.table.max_columns`: 3 columns, more than 2"),
        ("even", "magnesium", len(odd), f"`validation.columns.magnesium.even`: {len(odd)} odd values")]
    assert [s["row"] for s in report.failures[1].samples] == odd[:5].tolist()


def test_toy_rules_pass_on_data_that_keeps_them(toy_rules: None) -> None:
    frame = pd.DataFrame({"n": [2, 4, 8]})
    rules = Validation(table=WidthRules(max_columns=1), columns={"n": EvenRule(even=True)})
    assert validate_frame(frame, rules).failures == []
