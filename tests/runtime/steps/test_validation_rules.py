"""The column checks are a registry keyed by `ColumnRule` field: every field has a check, every check a field."""

from __future__ import annotations

import pandas as pd

from mlform.runtime.steps.validation import COLUMN_RULES, validate_frame
from mlform.specs.model.data import ColumnRule, Validation

NUMERIC_RULES = {"dtype": "int", "nullable": False, "min": 0, "max": 9, "allowed": [1, 2, 3], "unique": True,
                 "max_null_fraction": 0}
TEXT_RULES = {"regex": "[a-z]"}


def test_every_column_rule_field_has_a_check_and_every_check_a_field() -> None:
    assert sorted(COLUMN_RULES) == sorted(ColumnRule.model_fields)
    assert sorted({**NUMERIC_RULES, **TEXT_RULES}) == sorted(ColumnRule.model_fields)


def test_each_declared_rule_is_counted_once() -> None:
    columns = {"a": NUMERIC_RULES, "s": TEXT_RULES, "b": {}, "c": {"nullable": True, "min": 1}}
    frame = pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", "z"], "b": [1, 1, 1], "c": [1, 2, 3]})
    report = validate_frame(frame, Validation.model_validate({"columns": columns}))
    assert (report.rules, report.failures) == (len(NUMERIC_RULES) + len(TEXT_RULES) + 1, [])


def test_a_wrong_dtype_skips_the_column_s_other_checks() -> None:
    rules = Validation.model_validate({"columns": {"a": {"dtype": "float", "min": 5, "unique": True}}})
    report = validate_frame(pd.DataFrame({"a": ["x", "x"]}), rules)
    assert [(f.rule, f.column) for f in report.failures] == [("dtype", "a")]


def test_checks_run_in_the_order_of_the_rules() -> None:
    rules = Validation.model_validate({"columns": {"a": {"min": 2, "allowed": [2.0, 3.0],
                                                         "unique": True, "max_null_fraction": 0.1}}})
    report = validate_frame(pd.DataFrame({"a": [1.0, None, 1.0, 3.0]}), rules)
    assert [f.rule for f in report.failures] == ["max_null_fraction", "min", "allowed", "unique"]
