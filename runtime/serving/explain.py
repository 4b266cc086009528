"""Why a model predicted what it did: the transformed feature values and, where the model has them, contributions.

A scikit-learn `Pipeline` is split into its transformers and its final estimator; the values the estimator saw
are returned by transformed feature name. Contributions add up to the prediction (or the predicted class's
probability) minus `base`: linear models give `coef * value` (`base` the intercept); trees and forests of
trees give the change along each row's decision path, credited to the feature split on (`base` the root's
value, averaged over a forest's trees). Other models get the transformed values only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["explain_rows"]


def _split(model: Any) -> tuple[Any, Any]:
    """(transformer or None, final estimator)."""
    steps = getattr(model, "steps", None)
    if steps and len(steps) > 1:
        return model[:-1], model[-1]
    return None, steps[-1][1] if steps else model


def _transformed(transformer: Any, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    if transformer is None:
        return frame.to_numpy(), [str(c) for c in frame.columns]
    values = transformer.transform(frame)
    values = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
    try:
        names = [str(n) for n in transformer.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        names = [f"x{i}" for i in range(values.shape[1])]
    return values, names


def _named(estimator: Any, x: np.ndarray) -> Any:
    """`x` as the estimator was fitted: a frame with its feature names when it has them (no sklearn warning)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None or len(names) != x.shape[1]:
        return x
    import pandas as pd

    return pd.DataFrame(x, columns=names)


def _target_index(estimator: Any, x: np.ndarray) -> np.ndarray:
    """Per row, the output column explained: the predicted class for classifiers, else 0."""
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return np.zeros(len(x), dtype=int)
    return np.searchsorted(np.asarray(classes), estimator.predict(_named(estimator, x)))


def _linear(estimator: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(getattr(estimator, "intercept_", 0.0), dtype=float))
    row = _target_index(estimator, x) if coef.shape[0] > 1 else np.zeros(len(x), dtype=int)
    return coef[row] * x, intercept[np.minimum(row, len(intercept) - 1)]


def _tree(tree: Any, x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    structure = tree.tree_
    values = structure.value[:, 0, :].astype(float)
    if getattr(tree, "classes_", None) is not None:
        values = values / values.sum(axis=1, keepdims=True)
    out = values[:, np.minimum(target, values.shape[1] - 1)] if values.shape[1] > 1 else values[:, [0] * len(x)]
    path = tree.decision_path(_named(tree, x))
    contributions = np.zeros(x.shape, dtype=float)
    for r in range(len(x)):
        nodes = path.indices[path.indptr[r]:path.indptr[r + 1]]  # node ids grow from root to leaf
        for parent, child in zip(nodes[:-1], nodes[1:], strict=False):
            contributions[r, structure.feature[parent]] += out[child, r] - out[parent, r]
    return contributions, out[0, :]


def _contributions(estimator: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    if hasattr(estimator, "coef_"):
        return _linear(estimator, x)
    trees = [estimator] if hasattr(estimator, "tree_") else list(getattr(estimator, "estimators_", []))
    if not trees or not all(hasattr(t, "tree_") for t in trees):
        return None
    target = _target_index(estimator, x)
    parts = [_tree(t, x, target) for t in trees]
    return np.mean([p[0] for p in parts], axis=0), np.mean([p[1] for p in parts], axis=0)


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and not np.isfinite(value) else value


def explain_rows(model: Any, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One object per row of `frame`: `features` (transformed values), and `contributions` with `base` if known."""
    transformer, estimator = _split(model)
    x, names = _transformed(transformer, frame)
    try:
        numbers = x.astype(float)
    except (TypeError, ValueError):  # text the transformers left as it was: no contributions to compute
        numbers = None
    found = _contributions(estimator, numbers) if numbers is not None else None
    rows = []
    for r in range(len(x)):
        row: dict[str, Any] = {"features": {n: _plain(v) for n, v in zip(names, x[r], strict=True)}}
        if found is not None:
            row["contributions"] = {n: float(c) for n, c in zip(names, found[0][r], strict=True)}
            row["base"] = float(found[1][r])
        rows.append(row)
    return rows
