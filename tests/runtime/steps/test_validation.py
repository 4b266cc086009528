"""Data validation rules: each rule's exact message, counts and samples."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlform.runtime.steps.validation import validate_frame
from mlform.specs.model.data import Validation


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "x": [1.0, 2.0, np.nan, 50.0, -3.0],
        "n": [1, 2, 3, 4, 5],
        "s": pd.Series(["a", "b", "zz", None, "a"], dtype="str"),
        "id": [10, 11, 11, 12, 10],
        "email": pd.Series(["a@b.io", "bad", "x@y.io", "q@w.io", "at@home"], dtype="str"),
        "ni": pd.array([1, None, 3, 4, 5], dtype="Int64"),
    })


def failures(rules: dict[str, Any], data: pd.DataFrame | None = None) -> list[tuple[int, str, list[Any]]]:
    report = validate_frame(frame() if data is None else data, Validation.model_validate(rules))
    return [(f.failed, f.message, [s.get("value", s["row"]) for s in f.samples]) for f in report.failures]


@pytest.mark.parametrize(("rules", "expected"), [
    ({"columns": {"x": {"min": 0}}}, [(1, "`validation.columns.x.min`: 1 value below 0", [-3.0])]),
    ({"columns": {"x": {"max": 10}}}, [(1, "`validation.columns.x.max`: 1 value above 10", [50.0])]),
    ({"columns": {"n": {"min": 2, "max": 3}}}, [
        (1, "`validation.columns.n.min`: 1 value below 2", [1]),
        (2, "`validation.columns.n.max`: 2 values above 3", [4, 5])]),
    ({"columns": {"x": {"nullable": False}}},
     [(1, "`validation.columns.x.nullable`: 1 null value (`nullable: false`)", [None])]),
    ({"columns": {"ni": {"nullable": False, "min": 1}}},
     [(1, "`validation.columns.ni.nullable`: 1 null value (`nullable: false`)", [None])]),
    ({"columns": {"s": {"max_null_fraction": 0.1}}},
     [(1, "`validation.columns.s.max_null_fraction`: null fraction 0.2 is above 0.1", [None])]),
    ({"columns": {"s": {"allowed": ["a", "b"]}}},
     [(1, "`validation.columns.s.allowed`: 1 value not in [a, b]", ["zz"])]),
    ({"columns": {"n": {"allowed": [1, 2, 3]}}},
     [(2, "`validation.columns.n.allowed`: 2 values not in [1, 2, 3]", [4, 5])]),
    ({"columns": {"email": {"regex": r"[a-z]+@[a-z]+\.io"}}},
     [(2, "`validation.columns.email.regex`: 2 values not matching `[a-z]+@[a-z]+\\.io`", ["bad", "at@home"])]),
    ({"columns": {"email": {"regex": r"(\w)\1?[a-z]*@.*"}}},  # a backreference: Python's engine
     [(1, "`validation.columns.email.regex`: 1 value not matching `(\\w)\\1?[a-z]*@.*`", ["bad"])]),
    ({"columns": {"id": {"unique": True}}},
     [(4, "`validation.columns.id.unique`: 4 rows sharing a value with another row (`unique: true`)",
       [10, 11, 11, 10])]),
    ({"columns": {"s": {"unique": True}}},
     [(2, "`validation.columns.s.unique`: 2 rows sharing a value with another row (`unique: true`)", ["a", "a"])]),
    ({"columns": {"n": {"dtype": "string"}}},
     [(5, "`validation.columns.n.dtype`: column has dtype `int64`, expected `string`", [])]),
    ({"columns": {"s": {"dtype": "float"}}},
     [(5, "`validation.columns.s.dtype`: column has dtype `str`, expected `float`", [])]),
    ({"columns": {"s": {"min": 1}}},
     [(5, "`validation.columns.s.min`: bounds need a numeric column, not `str`", [])]),
    ({"columns": {"gone": {}}}, [(5, "`validation.columns.gone`: column `gone` is missing", [])]),
    ({"table": {"row_count": {"min": 6}}}, [(5, "`validation.table.row_count.min`: 5 rows, fewer than 6", [])]),
    ({"table": {"row_count": {"max": 4}}}, [(5, "`validation.table.row_count.max`: 5 rows, more than 4", [])]),
])
def test_each_rule_reports_exact_message_count_and_samples(rules: dict[str, Any],
                                                            expected: list[tuple[int, str, list[Any]]]) -> None:
    assert failures(rules) == expected


@pytest.mark.parametrize("rules", [
    {"columns": {"x": {"min": -3, "max": 50}, "n": {"dtype": "int", "nullable": False, "unique": True}}},
    {"columns": {"s": {"dtype": "string", "allowed": ["a", "b", "zz"], "max_null_fraction": 0.2}}},
    {"columns": {"email": {"regex": r"[a-z@.]+"}, "ni": {"dtype": "int", "min": 1, "max": 5}}},
    {"table": {"row_count": {"min": 5, "max": 5}, "duplicate_rows": "forbid"}},
])
def test_passing_rules_report_nothing(rules: dict[str, Any]) -> None:
    assert failures(rules) == []


def test_duplicate_rows_are_confirmed_exactly() -> None:
    data = pd.DataFrame({"a": [1, 2, 1, 3, 1], "b": ["x", "y", "x", "y", "z"]})
    assert failures({"table": {"duplicate_rows": "forbid"}}, data) == [
        (2, "`validation.table.duplicate_rows`: 2 rows repeating another row (`forbid`)", [0, 2])]


def test_samples_stop_at_five_and_use_row_labels() -> None:
    data = pd.DataFrame({"v": np.arange(20.0)}, index=np.arange(100, 120))
    [(count, _, samples)] = failures({"columns": {"v": {"max": 2}}}, data)
    assert (count, samples) == (17, [3.0, 4.0, 5.0, 6.0, 7.0])
    report = validate_frame(data, Validation.model_validate({"columns": {"v": {"max": 2}}}))
    assert [s["row"] for s in report.failures[0].samples] == [103, 104, 105, 106, 107]


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64", "uint64"])
def test_unique_integers_of_every_width_with_and_without_repeats(dtype: str) -> None:
    values = np.random.default_rng(1).permutation(np.arange(-100, 120) if dtype[0] == "i" else np.arange(220))
    data = pd.DataFrame({"a": values.astype(dtype), "b": np.r_[values[:-1], values[0]].astype(dtype)})
    assert failures({"columns": {"a": {"unique": True}}}, data) == []
    first = int(values[0])
    assert failures({"columns": {"b": {"unique": True}}}, data) == [
        (2, "`validation.columns.b.unique`: 2 rows sharing a value with another row (`unique: true`)", [first, first])]


def test_unique_on_a_sorted_column_and_on_floats_with_nans() -> None:
    data = pd.DataFrame({"a": np.arange(1000), "f": [np.nan, np.nan, *np.arange(998.0)]})
    assert failures({"columns": {"a": {"unique": True}, "f": {"unique": True}}}, data) == []


@pytest.mark.parametrize(("rules", "expected"), [
    ({"columns": {"s": {"allowed": ["a", "b"]}}},
     [(1, "`validation.columns.s.allowed`: 1 value not in [a, b]", ["zz"])]),
    ({"columns": {"email": {"regex": r"[a-z]+@[a-z]+\.io"}}},
     [(2, "`validation.columns.email.regex`: 2 values not matching `[a-z]+@[a-z]+\\.io`", ["bad", "at@home"])]),
])
def test_large_columns_are_checked_in_parallel_slices_with_the_same_result(
        monkeypatch: pytest.MonkeyPatch, rules: dict[str, Any], expected: list[tuple[int, str, list[Any]]]) -> None:
    import mlform.runtime.steps.validation as validation

    monkeypatch.setattr(validation, "PARALLEL_ROWS", 2)
    monkeypatch.setattr(validation.os, "cpu_count", lambda: 3)
    assert failures(rules) == expected


@pytest.mark.parametrize("values", [
    pd.Series(["a", None, "c", None], dtype=object),  # Python objects: counted by pandas, never summed
    pd.Series([True, None, False, None], dtype=object),
    pd.Series([1.5, None, np.nan, 2.0], dtype="Float64"),  # nullable floats: not a numpy dtype
])
def test_nulls_are_counted_in_columns_of_every_kind(values: pd.Series) -> None:
    assert failures({"columns": {"v": {"nullable": False}}}, pd.DataFrame({"v": values})) == [
        (2, "`validation.columns.v.nullable`: 2 null values (`nullable: false`)", [None, None])]


def test_a_column_summing_past_the_largest_float_is_not_null_and_warns_nothing() -> None:
    data = pd.DataFrame({"v": [1.7e308, 1.7e308, np.nan]})
    rules = Validation.model_validate({"columns": {"v": {"nullable": False}}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sum overflows to inf: numpy's warning must not be printed
        report = validate_frame(data, rules)
    assert [(f.failed, f.message) for f in report.failures] == [
        (1, "`validation.columns.v.nullable`: 1 null value (`nullable: false`)")]


def test_infinities_of_both_signs_are_out_of_bounds_not_null_and_warn_nothing() -> None:
    data = pd.DataFrame({"v": [1.0, np.inf, 3.0, -np.inf, np.nan]}, index=[10, 20, 30, 40, 50])
    rules = Validation.model_validate({"columns": {"v": {"nullable": False, "min": 0, "max": 5}}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inf + -inf is NaN: the null count must not print numpy's warning
        report = validate_frame(data, rules)
    assert [(f.failed, f.message, f.samples) for f in report.failures] == [
        (1, "`validation.columns.v.nullable`: 1 null value (`nullable: false`)", [{"row": 50, "value": None}]),
        (1, "`validation.columns.v.min`: 1 value below 0", [{"row": 40, "value": -np.inf}]),
        (1, "`validation.columns.v.max`: 1 value above 5", [{"row": 20, "value": np.inf}])]
