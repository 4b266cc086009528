"""What the server checks around the model: the spec's column rules on requests, and finite predictions.

Requests are checked with the same rule registry as the `validate` step (`runtime/steps/validation.py`),
restricted to the rules that hold row by row (nulls, `min`/`max`, `allowed`, `regex`): `unique`,
`max_null_fraction` and the table rules describe a data set, not a request. A batch is checked once;
only when it fails are its requests checked one by one, to tell whose rows broke which rule.

A numeric column with only bounds and `nullable` is first checked on the request's own numpy array with a
few reductions; only a column that may fail goes through the step's checks, which build the failures, so the
refusals and their messages are the step's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlform.runtime.steps.validation import COLUMN_RULES, Column, ColumnCheck, Failure

from .httperror import HttpError

if TYPE_CHECKING:
    import pandas as pd

    from mlform.specs.model.data import ColumnRule, Validation

__all__ = ["InputGuard", "counter_lines", "nonfinite_rows"]

# rules that describe a data set, not a row: off for requests (dtype is the signature's job)
_SET_RULES = {"dtype": None, "unique": False, "max_null_fraction": None}
# the checks the quick pass can clear a column of
_QUICK_CHECKS = (COLUMN_RULES["min"], COLUMN_RULES["nullable"])
Bounds = tuple[float | None, float | None, bool]  # min, max, and whether nulls are refused


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def counter_lines(name: str, help_text: str, values: Mapping[tuple[tuple[str, str], ...], int]) -> list[str]:
    """A Prometheus counter family: `values` maps label pairs to counts (one unlabelled entry: `()`)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
    for labels, count in sorted(values.items()):
        shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels)
        lines.append(f"{name}{{{shown}}} {count}" if shown else f"{name} {count}")
    return lines


def _declared_checks(rule: ColumnRule) -> list[ColumnCheck]:
    """The registered checks of the fields `rule` sets to other than their default, in registration order."""
    fields = type(rule).model_fields
    declared = [check for name, check in COLUMN_RULES.items()
                if getattr(rule, name) != fields[name].get_default(call_default_factory=True)]
    return list(dict.fromkeys(declared))


class InputGuard:
    """The row rules of `validation.columns` for the signature's columns, and the violations counted so far."""

    def __init__(self, rules: Validation, columns: Iterable[str], mode: str) -> None:
        wanted = set(columns)
        self.mode = mode
        self.rules: dict[str, ColumnRule] = {
            name: rule.model_copy(update=_SET_RULES) for name, rule in rules.columns.items() if name in wanted}
        # per column, only the checks of the rules it declares: a request is small, a check's fixed cost is not
        self.checks = {name: _declared_checks(rule) for name, rule in self.rules.items()}
        self.rules = {name: rule for name, rule in self.rules.items() if self.checks[name]}
        self.quick: dict[str, Bounds] = {
            name: (rule.min, rule.max, not rule.nullable) for name, rule in self.rules.items()
            if all(check in _QUICK_CHECKS for check in self.checks[name])}
        # the same bounds as vectors, to clear all float columns at once (a missing bound never fails)
        self._lows = np.array([-np.inf if b[0] is None else b[0] for b in self.quick.values()], dtype=np.float64)
        self._highs = np.array([np.inf if b[1] is None else b[1] for b in self.quick.values()], dtype=np.float64)
        self._no_nulls = np.array([b[2] for b in self.quick.values()], dtype=bool)
        self.violations: dict[tuple[str, str], int] = {}

    @property
    def active(self) -> bool:
        """False when `off` or no rule concerns a served column."""
        return self.mode != "off" and bool(self.rules)

    def check(self, frame: pd.DataFrame, arrays: Mapping[str, Any] | None = None) -> list[Failure]:
        """Every failing row rule of `frame`, whose columns `arrays` holds when given (for the quick pass); counts
        nothing."""
        failures: list[Failure] = []
        cleared = self._cleared(arrays) if arrays is not None and self.quick else set()
        for name, rule in self.rules.items():
            if name in cleared:
                continue
            col = Column(name, frame[name], rule, failures)
            for check in self.checks[name]:
                if check(col) is False:
                    break
        return failures

    def _cleared(self, arrays: Mapping[str, Any]) -> set[str]:
        """The quick-pass columns whose arrays surely pass their bounds and `nullable`: the float ones of one
        length as one table (a few reductions for all of them), any other alone."""
        cleared: set[str] = set()
        floats: list[np.ndarray] = []
        where: list[int] = []
        for index, (name, bounds) in enumerate(self.quick.items()):
            values = arrays[name]
            if isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1 and (
                    not floats or len(values) == len(floats[0])):
                floats.append(values)
                where.append(index)
            elif _clean(values, *bounds):
                cleared.add(name)
        if not floats:
            return cleared
        names = list(self.quick)
        if len(floats[0]) == 0:
            return cleared | {names[i] for i in where}
        table = np.stack(floats)
        lows, highs, no_nulls = self._lows, self._highs, self._no_nulls
        if len(where) < len(names):
            picked = np.array(where)
            lows, highs, no_nulls = lows[picked], highs[picked], no_nulls[picked]
        bad = (np.fmin.reduce(table, axis=1) < lows) | (np.fmax.reduce(table, axis=1) > highs)
        if no_nulls.any():
            # inf + -inf is NaN too, and large values overflow to it: such a column takes the full check
            with np.errstate(invalid="ignore", over="ignore"):
                bad |= no_nulls & np.isnan(np.add.reduce(table, axis=1))
        return cleared | {names[i] for i, fails in zip(where, bad.tolist(), strict=True) if not fails}

    def count(self, failures: Sequence[Failure]) -> None:
        """Add the failing rows of `failures` to the violation counters."""
        for failure in failures:
            key = (failure.column or "", failure.rule)
            self.violations[key] = self.violations.get(key, 0) + max(failure.failed, 1)

    @staticmethod
    def refusal(failures: Sequence[Failure], where: Callable[[str, int], str]) -> HttpError:
        """The 422 naming each broken rule with its column and first failing row, the first value by `where` (its
        place in the request, e.g. `records[1].length`); `row` in the details is 0-based too."""
        found = [{"column": f.column, "rule": f.rule, "row": f.samples[0]["row"] if f.samples else None,
                  "value": f.samples[0].get("value") if f.samples else None, "rows": f.failed, "message": f.message}
                 for f in failures]
        first, sample = found[0], failures[0].samples[0] if failures[0].samples else None
        at = where(failures[0].column or "", int(sample["row"])) if sample is not None else "the request"
        return HttpError(422, f"{at} breaks `validation.columns.{first['column']}.{first['rule']}`: "
                              f"{failures[0].message.split(': ', 1)[-1]}", details={"violations": found})

    def metric_lines(self) -> list[str]:
        """The `mlform_input_violations_total` family."""
        values: dict[tuple[tuple[str, str], ...], int] = {
            (("column", c), ("rule", r)): n for (c, r), n in self.violations.items()}
        return counter_lines("mlform_input_violations_total",
                             "Request rows breaking a `validation.columns` rule, by column and rule.", values)


def _clean(values: Any, low: float | None, high: float | None, no_nulls: bool) -> bool:
    """True when a numeric array surely passes its bounds and `nullable` (as the step decides them); False when
    the step's checks must look: a failure, or data this pass does not cover."""
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iuf":
        return False
    if values.size == 0:
        return True
    if values.dtype.kind == "f":
        if no_nulls and np.isnan(np.add.reduce(values)):  # NaN propagates; an inf - inf only costs a slow look
            return False
        least, most = np.fmin.reduce(values), np.fmax.reduce(values)  # bounds ignore nulls, as in the step
    else:
        least, most = values.min(), values.max()
    return not ((low is not None and least < low) or (high is not None and most > high))


def nonfinite_rows(values: Any) -> list[int]:
    """Positions (first axis) of rows holding NaN or an infinity; [] for non-numeric predictions."""
    array = np.asarray(values)
    if array.dtype.kind not in "fc":  # labels and integers are always finite
        return []
    bad = ~np.isfinite(array)
    if bad.ndim > 1:
        bad = bad.reshape(len(bad), -1).any(axis=1)
    return np.flatnonzero(bad).tolist() if bad.any() else []
