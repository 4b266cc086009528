"""Per-feature drift between a reference and a current frame, scored by every method of the drift registry.

The methods are declared in `mlform.specs.model.drift_methods` and computed in `.methods`. A numeric
feature's scores all come from one sort of each side. A feature is categorical when either side is not
numeric (strings, categories, booleans); its methods then see category frequencies (missing values count
as a category).

Missing values of numeric features are left out. A feature is drifted when its score is greater than
its threshold; the check is breached when the share of drifted features is greater than
`max_drifted_share`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlform.specs.check.estimators import import_object
from mlform.specs.model.drift_methods import DRIFT_METHODS, DriftMethod
from mlform.specs.model.lifecycle import Drift

from .samples import CategoricalSample, NumericSample, Sample, shares

__all__ = [
    "Distribution",
    "DriftReport",
    "FeatureDriftResult",
    "categorical_stats",
    "detect_drift",
    "numeric_stats",
]

PLOT_BINS = 24
PLOT_CATEGORIES = 20
OTHER = "(other)"
# below this many values in all, a thread pool costs more than it saves
_PARALLEL_MIN_VALUES = 200_000


@dataclass(frozen=True)
class Distribution:
    """Shares of reference and current values per histogram bin (`edges`) or per category (`labels`)."""

    reference: list[float]
    current: list[float]
    edges: list[float] | None = None
    labels: list[str] | None = None


@dataclass(frozen=True)
class FeatureDriftResult:
    """The drift verdict of one feature: the method's score against its threshold, and every statistic."""

    feature: str
    kind: Literal["numeric", "categorical"]
    method: DriftMethod
    threshold: float
    score: float | None
    drifted: bool
    stats: dict[str, float]
    reference_count: int
    current_count: int
    distribution: Distribution
    note: str | None = None


@dataclass(frozen=True)
class DriftReport:
    """Drift of every checked feature, and whether the drifted share breaches `max_drifted_share`."""

    features: list[FeatureDriftResult]
    drifted_share: float
    max_drifted_share: float

    @property
    def breached(self) -> bool:
        """True when more than `max_drifted_share` of the features drifted."""
        return self.drifted_share > self.max_drifted_share

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted features."""
        return [f.feature for f in self.features if f.drifted]


def _statistics(sample: Sample) -> dict[str, float]:
    """Every registered method's score of one feature, in the registry's order."""
    return {name: import_object(method.compute)(sample) for name, method in DRIFT_METHODS.items()}


def numeric_stats(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[dict[str, float], Distribution]:
    """Every method's score of two sorted, NaN-free, non-empty samples, and their histogram for plots."""
    stats = _statistics(NumericSample(ref, cur, bins))
    low, high = min(ref[0], cur[0]), max(ref[-1], cur[-1])
    plot_edges = np.linspace(low, high if high > low else low + 1.0, PLOT_BINS + 1)
    # left-closed bins for the plot, the last one closed on both sides
    inner = plot_edges[1:-1]
    plot_ref = np.diff(np.searchsorted(ref, inner, side="left"), prepend=0, append=ref.size)
    plot_cur = np.diff(np.searchsorted(cur, inner, side="left"), prepend=0, append=cur.size)
    distribution = Distribution(shares(plot_ref).tolist(), shares(plot_cur).tolist(), edges=plot_edges.tolist())
    return stats, distribution


def categorical_stats(ref: pd.Series, cur: pd.Series) -> tuple[dict[str, float], Distribution]:
    """Every method's score of two samples of categories, from their frequencies, and the top categories."""
    sample = CategoricalSample.of(ref, cur)
    stats = _statistics(sample)
    categories, (p, q) = sample.categories, sample.binned
    top = np.lexsort((categories.to_numpy(dtype=str), -(p + q)))[:PLOT_CATEGORIES]
    labels = [str(categories[i]) for i in top]
    shown_ref, shown_cur = p[top].tolist(), q[top].tolist()
    if len(categories) > PLOT_CATEGORIES:
        labels.append(OTHER)
        shown_ref.append(max(1.0 - sum(shown_ref), 0.0))
        shown_cur.append(max(1.0 - sum(shown_cur), 0.0))
    return stats, Distribution(shown_ref, shown_cur, labels=labels)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def _sorted_values(series: pd.Series) -> np.ndarray:
    """The sorted non-missing values as float64 (NaN sorts last, so it is cut off with a view)."""
    values = np.sort(series.to_numpy(dtype=np.float64, na_value=np.nan))
    return values[: np.searchsorted(values, np.nan, side="left")]


def _feature(name: str, ref: pd.Series, cur: pd.Series, config: Drift) -> FeatureDriftResult:
    override = config.features.get(name)
    method = (override.method if override else None) or config.method
    threshold = override.threshold if override and override.threshold is not None else config.threshold
    if _is_numeric(ref) and _is_numeric(cur):
        kind: Literal["numeric", "categorical"] = "numeric"
        ref_values, cur_values = _sorted_values(ref), _sorted_values(cur)
        counts = (ref_values.size, cur_values.size)
        if 0 in counts:
            side = "reference" if counts[0] == 0 else "current"
            return FeatureDriftResult(name, kind, method, threshold, None, True, {}, *counts,
                                      Distribution([], []), note=f"no values in the {side} data")
        stats, distribution = numeric_stats(ref_values, cur_values, config.bins)
    else:
        kind, counts = "categorical", (len(ref), len(cur))
        stats, distribution = categorical_stats(ref, cur)
    score = stats[method]
    return FeatureDriftResult(name, kind, method, threshold, score, score > threshold, stats, *counts, distribution)


def detect_drift(reference: pd.DataFrame, current: pd.DataFrame, config: Drift,
                 features: Sequence[str]) -> DriftReport:
    """Drift of each of `features` from `reference` to `current`, judged by `config`."""
    for side, frame in (("reference", reference), ("current", current)):
        missing = [f for f in features if f not in frame.columns]
        if missing:
            msg = f"the {side} data has no column `{missing[0]}`"
            raise ValueError(msg)
        if frame.empty:
            msg = f"the {side} data has no rows"
            raise ValueError(msg)
    unknown = sorted(set(config.features) - set(features))
    if unknown:
        msg = f"`monitoring.drift.features` names `{unknown[0]}`, which is not a feature"
        raise ValueError(msg)
    jobs = [(f, reference[f], current[f], config) for f in features]
    workers = min(os.cpu_count() or 1, len(jobs))
    if workers > 1 and (len(reference) + len(current)) * len(jobs) >= _PARALLEL_MIN_VALUES:
        # numpy sorts without the GIL, so threads use every core without copying the data
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda job: _feature(*job), jobs))
    else:
        results = [_feature(*job) for job in jobs]
    share = sum(r.drifted for r in results) / len(results) if results else 0.0
    return DriftReport(results, share, config.max_drifted_share)
