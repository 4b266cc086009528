"""The computations of the drift methods declared in `mlform.specs.model.drift_methods`, one function per method.

KS and Wasserstein need an order that categories lack, so on categorical features both become the total
variation distance: it is the Wasserstein-1 distance under the 0/1 metric between categories, and the
largest KS statistic over every ordering of the categories.
"""

from __future__ import annotations

import math

import numpy as np

from .samples import NumericSample, Sample

__all__ = ["PSI_FLOOR", "jensenshannon", "ks", "psi", "wasserstein"]

PSI_FLOOR = 1e-4


def psi(sample: Sample) -> float:
    """Population stability index over the bins; proportions floored at 1e-4 so an empty bin stays finite."""
    p, q = sample.binned
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def jensenshannon(sample: Sample) -> float:
    """Jensen-Shannon distance (base 2, so within [0, 1]) over the bins."""
    p, q = sample.binned
    mid = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mid), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mid), 0.0).sum()
    return math.sqrt(max((kl_p + kl_q) / 2, 0.0))


def ks(sample: Sample) -> float:
    """The two-sample Kolmogorov-Smirnov statistic D, the largest gap between the two ECDFs."""
    if isinstance(sample, NumericSample):
        return sample.ecdf_distances[0]
    return sample.total_variation


def wasserstein(sample: Sample) -> float:
    """Wasserstein-1 distance over the reference's standard deviation (the raw distance when it is constant)."""
    if not isinstance(sample, NumericSample):
        return sample.total_variation
    distance = sample.ecdf_distances[1]
    spread = float(np.std(sample.reference))
    return distance / spread if spread > 0 else distance
