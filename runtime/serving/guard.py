"""What the server checks around the model: the spec's column rules on requests, and finite predictions.

Requests are checked with the same rule registry as the `validate` step (`runtime/steps/validation.py`),
restricted to the rules that hold row by row (nulls, `min`/`max`, `allowed`, `regex`): `unique`,
`max_null_fraction` and the table rules describe a data set, not a request. A batch is checked once;
only when it fails are its requests checked one by one, to tell whose rows broke which rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlform.runtime.steps.validation import COLUMN_RULES, Column, ColumnCheck, Failure

from .serving_schema import HttpError

if TYPE_CHECKING:
    import pandas as pd

    from mlform.specs.model.data import ColumnRule, Validation

__all__ = ["InputGuard", "counter_lines", "nonfinite_rows"]

# rules that describe a data set, not a row: off for requests (dtype is the signature's job)
_SET_RULES = {"dtype": None, "unique": False, "max_null_fraction": None}


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
        self.violations: dict[tuple[str, str], int] = {}

    @property
    def active(self) -> bool:
        """False when `off` or no rule concerns a served column."""
        return self.mode != "off" and bool(self.rules)

    def check(self, frame: pd.DataFrame) -> list[Failure]:
        """Every failing row rule of `frame`; counts nothing."""
        failures: list[Failure] = []
        for name, rule in self.rules.items():
            col = Column(name, frame[name], rule, failures)
            for check in self.checks[name]:
                if check(col) is False:
                    break
        return failures

    def count(self, failures: Sequence[Failure]) -> None:
        """Add the failing rows of `failures` to the violation counters."""
        for failure in failures:
            key = (failure.column or "", failure.rule)
            self.violations[key] = self.violations.get(key, 0) + max(failure.failed, 1)

    @staticmethod
    def refusal(failures: Sequence[Failure]) -> HttpError:
        """The 422 naming each broken rule with its column and first failing row."""
        found = [{"column": f.column, "rule": f.rule, "row": f.samples[0]["row"] if f.samples else None,
                  "value": f.samples[0].get("value") if f.samples else None, "rows": f.failed, "message": f.message}
                 for f in failures]
        first = found[0]
        where = f"row {first['row']}" if first["row"] is not None else "the request"
        return HttpError(422, f"{where} breaks `validation.columns.{first['column']}.{first['rule']}`: "
                              f"{failures[0].message.split(': ', 1)[-1]}", details={"violations": found})

    def metric_lines(self) -> list[str]:
        """The `mlform_input_violations_total` family."""
        values: dict[tuple[tuple[str, str], ...], int] = {
            (("column", c), ("rule", r)): n for (c, r), n in self.violations.items()}
        return counter_lines("mlform_input_violations_total",
                             "Request rows breaking a `validation.columns` rule, by column and rule.", values)


def nonfinite_rows(values: Any) -> list[int]:
    """Positions (first axis) of rows holding NaN or an infinity; [] for non-numeric predictions."""
    array = np.asarray(values)
    if array.dtype.kind not in "fc":  # labels and integers are always finite
        return []
    bad = ~np.isfinite(array)
    if bad.ndim > 1:
        bad = bad.reshape(len(bad), -1).any(axis=1)
    return np.flatnonzero(bad).tolist() if bad.any() else []
