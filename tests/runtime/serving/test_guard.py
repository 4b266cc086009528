"""The input guard's quick pass over numpy arrays clears exactly the columns the `validate` step's checks pass."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlform.runtime.serving.guard import InputGuard
from mlform.specs.model.data import Validation

RULES = Validation.model_validate({"columns": {
    "a": {"min": 0.0, "max": 10.0},
    "b": {"min": -1.5},
    "c": {"max": 3, "nullable": False},
    "d": {"nullable": False},
    "n": {"min": 0, "max": 5},  # an integer column: checked alone, without the float table
}})
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 10.0, -1.5, 3.0, np.nan]))


@st.composite
def columns(draw: Any) -> dict[str, np.ndarray]:
    rows = draw(st.integers(0, 6))
    found = {name: np.array(draw(st.lists(VALUES, min_size=rows, max_size=rows)), dtype=np.float64)
             for name in "abcd"}
    found["n"] = np.array(draw(st.lists(st.integers(-3, 8), min_size=rows, max_size=rows)), dtype=np.int64)
    return found


@pytest.mark.filterwarnings("error")  # with any floats, numpy must not warn in the server's log
@settings(max_examples=300, deadline=None)
@given(columns())
def test_the_quick_pass_refuses_and_words_exactly_as_the_step(arrays: dict[str, np.ndarray]) -> None:
    guard = InputGuard(RULES, list(arrays), "reject")
    frame = pd.DataFrame(arrays, copy=False)
    quick, step = guard.check(frame, arrays), guard.check(frame)  # without arrays: the step's checks only
    assert quick == step


@pytest.mark.filterwarnings("error")  # numpy must not warn in the server's log
@pytest.mark.parametrize("d", [[1.7e308, 1.7e308], [1.7e308, 1.7e308, -np.inf]],
                         ids=["overflow", "overflow-then-inf"])
def test_summing_a_column_past_the_largest_float_warns_nothing(d: list[float]) -> None:
    guard = InputGuard(RULES, ["d"], "reject")
    arrays = {"d": np.array(d)}
    assert guard.check(pd.DataFrame(arrays, copy=False), arrays) == []


@pytest.mark.filterwarnings("error")  # `d` sums inf and -inf: numpy must not warn in the server's log
def test_a_failing_column_is_reported_by_the_step_and_a_passing_one_skips_it() -> None:
    guard = InputGuard(RULES, list("abcdn"), "reject")
    arrays = {"a": np.array([1.0, 11.0]), "b": np.array([0.0, np.nan]), "c": np.array([np.nan, 1.0]),
              "d": np.array([np.inf, -np.inf]), "n": np.array([6, 1])}
    failures = guard.check(pd.DataFrame(arrays, copy=False), arrays)
    assert [(f.column, f.rule, f.failed, f.samples[0]["row"]) for f in failures] == [
        ("a", "max", 1, 1), ("c", "nullable", 1, 0), ("n", "max", 1, 0)]
    where = {"records": lambda c, i: f"`records[{i}].{c}`", "columns": lambda c, i: f"`columns.{c}[{i}]`"}
    assert guard.refusal(failures, where["records"]).message == \
        "`records[1].a` breaks `validation.columns.a.max`: 1 value above 10.0"
    assert guard.refusal(failures, where["columns"]).message == \
        "`columns.a[1]` breaks `validation.columns.a.max`: 1 value above 10.0"
