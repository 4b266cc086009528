"""What a drift method sees of one feature: both samples, with the quantities several methods share computed once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

__all__ = ["MISSING", "CategoricalSample", "NumericSample", "Sample", "shares"]

MISSING = "(missing)"


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as proportions of their total (all zeros when there are none)."""
    total = counts.sum()
    return counts / total if total else counts.astype(float)


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


class NumericSample:
    """Two sorted, NaN-free, non-empty samples of a numeric feature and `bins` quantile bins of the reference."""

    def __init__(self, reference: np.ndarray, current: np.ndarray, bins: int) -> None:
        self.reference, self.current, self.bins = reference, current, bins

    @cached_property
    def binned(self) -> tuple[np.ndarray, np.ndarray]:
        """Shares of reference and current values per right-closed quantile bin (repeated edges merged)."""
        ref = self.reference
        edges = np.unique(ref[(np.arange(1, self.bins) * ref.size) // self.bins])
        return shares(_bin_counts(ref, edges)), shares(_bin_counts(self.current, edges))

    @cached_property
    def ecdf_distances(self) -> tuple[float, float]:
        """The KS statistic and the raw Wasserstein-1 distance, from one merge of the sorted samples."""
        return _ks_wasserstein(self.reference, self.current)


@dataclass(frozen=True)
class CategoricalSample:
    """Category shares of both sides over the union of their categories (missing values are a category)."""

    categories: pd.Index
    reference: np.ndarray
    current: np.ndarray

    @classmethod
    def of(cls, ref: pd.Series, cur: pd.Series) -> CategoricalSample:
        """The shares of two series of categories."""
        ref_counts = ref.astype("object").fillna(MISSING).astype(str).value_counts()
        cur_counts = cur.astype("object").fillna(MISSING).astype(str).value_counts()
        categories = ref_counts.index.union(cur_counts.index, sort=False)
        counts_ref = ref_counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
        counts_cur = cur_counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
        return cls(categories, shares(counts_ref), shares(counts_cur))

    @property
    def binned(self) -> tuple[np.ndarray, np.ndarray]:
        """The category shares, the categorical counterpart of `NumericSample.binned`."""
        return self.reference, self.current

    @property
    def total_variation(self) -> float:
        """(1/2)*sum(|p - q|), what order-based methods become on categories."""
        return float(np.abs(self.reference - self.current).sum() / 2)


Sample = NumericSample | CategoricalSample
