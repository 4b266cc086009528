"""Per-feature drift between a reference and a current frame: PSI, Kolmogorov-Smirnov, Wasserstein, Jensen-Shannon.

Every statistic of a numeric feature comes from one sort of each side:

- `psi`: population stability index over `bins` quantile bins of the reference (right-closed, edges
  taken from the sorted reference, repeated edges merged); proportions are floored at 1e-4 so an
  empty bin stays finite.
- `jensenshannon`: Jensen-Shannon *distance* (base 2, so within [0, 1]) over the same bins.
- `ks`: the two-sample Kolmogorov-Smirnov statistic D, the largest gap between the two ECDFs.
- `wasserstein`: the Wasserstein-1 distance divided by the reference's standard deviation, so one
  threshold fits features of any scale (the raw distance when the reference is constant).

A feature is categorical when either side is not numeric (strings, categories, booleans). PSI and
Jensen-Shannon then use category frequencies (missing values count as a category). KS and Wasserstein
need an order that categories lack, so both become the total variation distance (1/2)*sum(|p - q|): it is the
Wasserstein-1 distance under the 0/1 metric between categories, and the largest KS statistic over
every ordering of the categories.

Missing values of numeric features are left out. A feature is drifted when its score is greater than
its threshold; the check is breached when the share of drifted features is greater than
`max_drifted_share`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlform.specs.model.lifecycle import Drift, DriftMethod

__all__ = [
    "METHODS",
    "Distribution",
    "DriftReport",
    "FeatureDriftResult",
    "categorical_stats",
    "detect_drift",
    "numeric_stats",
]

METHODS: tuple[DriftMethod, ...] = ("psi", "ks", "wasserstein", "jensenshannon")
PSI_FLOOR = 1e-4
PLOT_BINS = 24
PLOT_CATEGORIES = 20
MISSING = "(missing)"
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


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def _jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    mid = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mid), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mid), 0.0).sum()
    return math.sqrt(max((kl_p + kl_q) / 2, 0.0))


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in the right-closed bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    at_or_below = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(at_or_below, prepend=0, append=sorted_values.size)


def _ks_wasserstein(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """KS statistic and raw Wasserstein-1 distance from the merged ECDFs of two sorted samples."""
    n, m = ref.size, cur.size
    merged = np.concatenate((ref, cur))
    # both halves are sorted runs, so the stable sort is a linear merge that keeps each side's order
    order = np.argsort(merged, kind="stable")
    steps = np.diff(merged[order])
    del merged
    # n*m times the ECDF gap after each merged value (refs so far * m - currents so far * n), exact in
    # integers: a running sum of +m for each reference value and -n for each current one
    gap = (order < n).astype(np.int64)
    del order
    gap *= n + m
    gap -= n
    np.cumsum(gap, out=gap)
    np.abs(gap, out=gap)
    gap = gap[:-1]
    # the ECDFs are compared only after the last of equal values, where the step is positive
    ks = float(np.max(gap, where=steps > 0, initial=0)) / (n * m)
    return ks, float(np.dot(gap, steps)) / (n * m)


def numeric_stats(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[dict[str, float], Distribution]:
    """All four statistics of two sorted, NaN-free, non-empty samples, and their histogram for plots."""
    edges = np.unique(ref[(np.arange(1, bins) * ref.size) // bins])
    p, q = _shares(_bin_counts(ref, edges)), _shares(_bin_counts(cur, edges))
    ks, wasserstein = _ks_wasserstein(ref, cur)
    spread = float(np.std(ref))
    stats = {
        "psi": _psi(p, q),
        "ks": ks,
        "wasserstein": wasserstein / spread if spread > 0 else wasserstein,
        "jensenshannon": _jensenshannon(p, q),
    }
    low, high = min(ref[0], cur[0]), max(ref[-1], cur[-1])
    plot_edges = np.linspace(low, high if high > low else low + 1.0, PLOT_BINS + 1)
    # left-closed bins for the plot, the last one closed on both sides
    inner = plot_edges[1:-1]
    plot_ref = np.diff(np.searchsorted(ref, inner, side="left"), prepend=0, append=ref.size)
    plot_cur = np.diff(np.searchsorted(cur, inner, side="left"), prepend=0, append=cur.size)
    distribution = Distribution(_shares(plot_ref).tolist(), _shares(plot_cur).tolist(), edges=plot_edges.tolist())
    return stats, distribution


def categorical_stats(ref: pd.Series, cur: pd.Series) -> tuple[dict[str, float], Distribution]:
    """All four statistics of two samples of categories, from their frequencies, and the top categories."""
    ref_counts = ref.astype("object").fillna(MISSING).astype(str).value_counts()
    cur_counts = cur.astype("object").fillna(MISSING).astype(str).value_counts()
    categories = ref_counts.index.union(cur_counts.index, sort=False)
    counts_ref = ref_counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
    counts_cur = cur_counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
    p, q = _shares(counts_ref), _shares(counts_cur)
    tvd = float(np.abs(p - q).sum() / 2)
    stats = {"psi": _psi(p, q), "ks": tvd, "wasserstein": tvd, "jensenshannon": _jensenshannon(p, q)}
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
