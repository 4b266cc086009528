"""Column and table checks are registries keyed by `ColumnRule` / `TableRules` field: every field has a check,
every check a field, and the JSON Schema and README name the same rules."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from mlform.runtime.steps.validation import COLUMN_RULES, TABLE_RULES, validate_frame
from mlform.specs.model.data import ColumnRule, TableRules, Validation
from mlform.specs.model.pipeline import Pipeline

README = Path(__file__).parents[3] / "README.md"

NUMERIC_RULES = {"dtype": "int", "nullable": False, "min": 0, "max": 9, "allowed": [1, 2, 3], "unique": True,
                 "max_null_fraction": 0}
TEXT_RULES = {"regex": "[a-z]"}


def test_every_column_rule_field_has_a_check_and_every_check_a_field() -> None:
    assert sorted(COLUMN_RULES) == sorted(ColumnRule.model_fields)
    assert sorted({**NUMERIC_RULES, **TEXT_RULES}) == sorted(ColumnRule.model_fields)


def test_every_table_rule_field_has_a_check_and_every_check_a_field() -> None:
    assert list(TABLE_RULES) == list(TableRules.model_fields)


def test_the_schema_and_readme_name_the_registered_rules() -> None:
    schema = Pipeline.model_json_schema()["$defs"]
    assert sorted(schema["ColumnRule"]["properties"]) == sorted(COLUMN_RULES)
    assert list(schema["TableRules"]["properties"]) == list(TABLE_RULES)
    table = re.search(r"\n  table: (\{.*\})\n", README.read_text())
    assert table is not None and list(yaml.safe_load(table.group(1))) == list(TABLE_RULES)
    described = Validation.model_fields["table"].description or ""
    assert [name for name in TABLE_RULES if name.replace("_", " ") in described] == list(TABLE_RULES)


def test_table_rules_are_counted_when_declared() -> None:
    frame = pd.DataFrame({"a": [1, 1]})
    declared = {"table": {"row_count": {"min": 1}, "duplicate_rows": "forbid"}}
    assert validate_frame(frame, Validation.model_validate({"table": {"duplicate_rows": "allow"}})).rules == 0
    report = validate_frame(frame, Validation.model_validate(declared))
    assert (report.rules, [f.rule for f in report.failures]) == (len(TABLE_RULES), ["duplicate_rows"])


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
