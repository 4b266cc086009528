"""Model unit tests at validate time: `model.reproducible` seeds, and `model.preprocessing[i].examples` run for real.

Examples import scikit-learn and pandas, so they run only when a spec has some.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from mlform.specs.model.examples import TransformerExample
from mlform.specs.model.lifecycle import ModelSpec, Transformer
from mlform.specs.read.source import KeyPath

from .estimators import estimator_class, estimator_info, import_object
from .explain import did_you_mean
from .finding import Finding, Sections

__all__ = ["example_findings", "reproducible_findings"]

_TOLERANCE = 1e-6


def _has_seed(import_path: str) -> bool:
    """Whether the class at `import_path` takes `random_state` (from the estimator index when it knows the class);
    False when it does not import (another check says)."""
    info = estimator_info(import_path)
    return not isinstance(info, str) and "random_state" in info.param_names


def reproducible_findings(s: Sections) -> Iterator[Finding]:
    """With `model.reproducible: true`, each estimator or transformer taking `random_state` must set it."""
    model: ModelSpec = s["model"]
    if not model.reproducible:
        return
    if model.estimator is not None and _has_seed(model.estimator) and model.params.get("random_state") is None:
        yield Finding(("model", "params") if model.params else ("model", "estimator"),
                      f"`model.reproducible: true` needs `random_state` in `model.params`: `{model.estimator}` "
                      "draws random numbers", on_key=bool(model.params))
    for index, step in enumerate(model.preprocessing):
        if _has_seed(step.transformer) and step.params.get("random_state") is None:
            yield Finding(("model", "preprocessing", index, "transformer"),
                          f"`model.reproducible: true` needs `random_state` in this step's `params`: "
                          f"`{step.transformer}` draws random numbers")


def _frame(rows: Any) -> Any:
    """A DataFrame from `{column: value or [values]}` or a list of such rows."""
    import pandas as pd

    if isinstance(rows, list):
        return pd.DataFrame(rows)
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in rows.items()}
    return pd.DataFrame(as_lists)


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or isinstance(got, bool):
        return bool(expected) == bool(got)
    if isinstance(expected, (int, float)):
        try:
            return math.isclose(float(got), float(expected), rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)
        except (TypeError, ValueError):
            return False
    return str(got) == str(expected)


def _shown(value: Any) -> str:
    return repr(value.item() if hasattr(value, "item") else value)


def _run(step: Transformer, example: TransformerExample) -> tuple[list[str], list[list[Any]]]:
    """The output column names and rows of the step fitted on the example's `fit` rows (else its input)."""
    transformer = import_object(step.transformer)(**step.params)
    fit_rows = _frame(example.fit if example.fit is not None else example.input)[list(step.columns)]
    transformer.fit(fit_rows)
    out = transformer.transform(_frame(example.input)[list(step.columns)])
    out = out.toarray() if hasattr(out, "toarray") else out
    names = [str(n) for n in transformer.get_feature_names_out(list(step.columns))]
    rows = out.to_numpy().tolist() if hasattr(out, "to_numpy") else [list(row) for row in out]
    return names, rows


def _one(path: KeyPath, step: Transformer, number: int, example: TransformerExample) -> Iterator[Finding]:
    missing = [c for c in step.columns if c not in example.input]
    if missing:
        yield Finding((*path, "input"), f"example {number}: input lacks the step's column `{missing[0]}`")
        return
    try:
        names, rows = _run(step, example)
    except Exception as exc:  # whatever the transformer raises is the example's finding
        yield Finding((*path, "input"), f"example {number}: `{step.transformer}` failed: {type(exc).__name__}: "
                                        f"{str(exc).splitlines()[0] if str(exc) else ''}")
        return
    for column, expected in example.output.items():
        if column not in names:
            yield Finding((*path, "output", column), f"example {number}: the step has no output `{column}`"
                          f"{did_you_mean(column, names)}", on_key=True)
            continue
        wanted = expected if isinstance(expected, list) else [expected] * len(rows)
        got = [row[names.index(column)] for row in rows]
        if len(wanted) != len(got) or not all(_same(w, g) for w, g in zip(wanted, got, strict=False)):
            shown = _shown(got[0]) if len(got) == 1 else f"[{', '.join(_shown(g) for g in got)}]"
            yield Finding((*path, "output", column),
                          f"example {number} of `{step.transformer}`: expected `{column}` = {expected!r}, got {shown}")


def example_findings(s: Sections) -> Iterator[Finding]:
    """Each preprocessing example whose transformer, fitted and run, does not give the expected output."""
    model: ModelSpec = s["model"]
    for index, step in enumerate(model.preprocessing):
        if step.examples and estimator_class(step.transformer) is None:
            continue  # the import error is another check's
        for number, example in enumerate(step.examples, start=1):
            yield from _one(("model", "preprocessing", index, "examples", number - 1), step, number, example)
