"""`evaluation.slices`: each slice of the test rows scored and gated on its own; too-small slices reported."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from mlform.specs.check.filter_expr import FilterSyntaxError, parse_filter
from mlform.specs.model.metrics import METRICS

from .evaluate import check_gates
from .review import Cached, Check, Review, ReviewError, Scorer, groups, metric_key, plain

if TYPE_CHECKING:
    import pandas as pd

    from mlform.specs.model.lifecycle import Evaluation
    from mlform.specs.model.review import Slice

__all__ = ["filter_mask", "review_slices"]

_MAX_VALUES = 100  # distinct values of a slice column scored one by one
_OPS: dict[str, Callable[[Any, Any], Any]] = {"==": operator.eq, "!=": operator.ne, "<": operator.lt,
                                              "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _operand(frame: pd.DataFrame, operand: tuple[str, Any], where: str) -> Any:
    kind, value = operand
    if kind != "column":
        return value
    if value not in frame.columns:
        raise ReviewError(f"`{where}`: column `{value}` is not in the training data")
    return frame[value]


def _mask(tree: tuple[Any, ...], frame: pd.DataFrame, where: str) -> np.ndarray:
    head = tree[0]
    if head in ("and", "or"):
        parts = [_mask(part, frame, where) for part in tree[1:]]
        return np.logical_and.reduce(parts) if head == "and" else np.logical_or.reduce(parts)
    if head == "not":
        return ~_mask(tree[1], frame, where)
    _, symbol, a, b = tree
    left, right = _operand(frame, a, where), _operand(frame, b, where)
    try:
        if symbol in ("in", "not in"):
            found = left.isin(right)
            result = ~found if symbol == "not in" else found
        else:
            result = _OPS[symbol](left, right)
    except TypeError as exc:
        raise ReviewError(f"`{where}`: cannot compare: {exc}") from None
    return np.asarray(result.fillna(False) if hasattr(result, "fillna") else result, dtype=bool)


def filter_mask(text: str, frame: pd.DataFrame, where: str) -> np.ndarray:
    """The rows of `frame` where the filter `text` holds (a null never does)."""
    try:
        tree = parse_filter(text)
    except FilterSyntaxError as exc:  # validate reports it with its position; a hand-run step says it too
        raise ReviewError(f"`{where}`: {exc.message} (at character {exc.offset + 1})") from None
    mask = _mask(tree, frame, where)
    return mask if mask.shape == (len(frame),) else np.full(len(frame), bool(mask.all()))


def _parts(name: str, chosen: Slice, frame: pd.DataFrame) -> list[tuple[str, tuple[str, ...], np.ndarray]]:
    """(label, the parts of its tracked metric names, rows) of each slice of `chosen`."""
    if chosen.column is not None:
        where = f"evaluation.slices.{name}.column"
        return [(f"{chosen.column}={label}", (name, label), mask)
                for label, mask in groups(frame[chosen.column], _MAX_VALUES, where)]
    assert chosen.filter is not None  # the spec requires `column` or `filter`
    return [(chosen.filter, (name,), filter_mask(chosen.filter, frame, f"evaluation.slices.{name}.filter"))]


def review_slices(ev: Evaluation, cached: Cached, test: tuple[pd.DataFrame, pd.Series], frame: pd.DataFrame,
                  score: Scorer, review: Review) -> None:
    """Score every slice of `test` (features, target) whose rows `frame` (every column) selects, with the model's
    outputs on the test rows computed once (`cached`)."""
    X, y = test
    # a cost metric (`predict_ms_per_1k_rows`, `model_size_mb`) describes the model, not a slice; here it would
    # time or pickle the stand-in that serves cached predictions
    quality = [m for m in ev.metrics if m not in METRICS or METRICS[m].task is not None]
    shown: dict[str, list[dict[str, Any]]] = {}
    for name, chosen in ev.slices.items():
        at = f"evaluation.slices.{name}"
        rows = shown.setdefault(name, [])
        for label, parts, mask in _parts(name, chosen, frame):
            count = int(mask.sum())
            if count < chosen.min_rows:
                fail = chosen.too_small == "fail"
                review.checks.append(Check(f"{at}.min_rows", not fail, f"slice `{name}` `{label}` has {count} test "
                                           f"rows, under `min_rows` {chosen.min_rows}: not scored", warning=not fail))
                rows.append({"slice": label, "rows": count, "status": "too_small", "metrics": {}, "gates": []})
                continue
            values = score([*quality, *chosen.metrics], cached.rows(mask), X[mask], y[mask])
            gates = check_gates(values, chosen.metrics)
            for gate in gates:
                bounds = " and ".join(f"{k} {v:g}" for k, v in (("min", gate.min), ("max", gate.max)) if v is not None)
                verdict = "passed" if gate.passed else "failed"
                review.checks.append(Check(f"{at}.metrics.{gate.metric}", gate.passed,
                                           f"slice `{name}` `{label}` ({count} rows) {verdict} on `{gate.metric}`: "
                                           f"{gate.value:.4g} ({bounds})"))
            review.metrics.update({metric_key("slices", *parts, k): v for k, v in values.items()})
            rows.append({"slice": label, "rows": count, "status": "passed" if all(g.passed for g in gates) else
                         "failed", "metrics": {k: plain(v) for k, v in values.items()},
                         "gates": [{**g.to_json(), "value": plain(g.value)} for g in gates]})
    review.blocks["slices"] = shown
