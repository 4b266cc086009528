"""Drift statistics checked against scipy and against plain re-implementations of their definitions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from mlform.runtime.monitoring.drift import categorical_stats, detect_drift, numeric_stats
from mlform.runtime.monitoring.methods import PSI_FLOOR
from mlform.specs.model.lifecycle import Drift


def naive_bins(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Shares per right-closed quantile bin of the reference, computed with np.digitize."""
    ordered = np.sort(ref)
    edges = np.unique(ordered[[int(i * len(ref) / bins) for i in range(1, bins)]])
    p = np.bincount(np.digitize(ref, edges, right=True), minlength=len(edges) + 1) / len(ref)
    q = np.bincount(np.digitize(cur, edges, right=True), minlength=len(edges) + 1) / len(cur)
    return p, q


def naive_psi(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.where(p < PSI_FLOOR, PSI_FLOOR, p), np.where(q < PSI_FLOOR, PSI_FLOOR, q)
    return float(sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q, strict=True)))


def stats_of(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> dict[str, float]:
    return numeric_stats(np.sort(ref), np.sort(cur), bins)[0]


SAMPLES = {
    "continuous, equal sizes": lambda rng: (rng.normal(0, 1, 2000), rng.normal(0.3, 1.2, 2000)),
    "continuous, unequal sizes": lambda rng: (rng.normal(0, 1, 1500), rng.standard_t(3, 700)),
    "integers with many ties": lambda rng: (rng.integers(0, 8, 1000).astype(float),
                                            rng.integers(2, 10, 333).astype(float)),
    "identical": lambda rng: (np.arange(100.0), np.arange(100.0)),
    "disjoint": lambda rng: (rng.uniform(0, 1, 400), rng.uniform(5, 6, 300)),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_numeric_statistics_match_scipy(name: str) -> None:
    ref, cur = SAMPLES[name](np.random.default_rng(7))
    got = stats_of(ref, cur)
    p, q = naive_bins(ref, cur, 10)
    assert got["ks"] == pytest.approx(ks_2samp(ref, cur).statistic, abs=1e-12)
    assert got["wasserstein"] == pytest.approx(wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)
    assert got["jensenshannon"] == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert got["psi"] == pytest.approx(naive_psi(p, q), rel=1e-12)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # scipy's p-value for one-value samples
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=40), st.lists(st.integers(-5, 5), min_size=1, max_size=40),
       st.integers(2, 12))
def test_small_samples_with_ties_match_scipy(ref: list[int], cur: list[int], bins: int) -> None:
    r, c = np.array(ref, dtype=float), np.array(cur, dtype=float)
    got = stats_of(r, c, bins)
    spread = np.std(r)
    assert got["ks"] == pytest.approx(ks_2samp(r, c, method="asymp").statistic, abs=1e-12)
    assert got["wasserstein"] == pytest.approx(wasserstein_distance(r, c) / (spread if spread > 0 else 1), abs=1e-9)
    p, q = naive_bins(r, c, bins)
    assert got["jensenshannon"] == pytest.approx(jensenshannon(p, q, base=2), abs=1e-9)
    assert got["psi"] == pytest.approx(naive_psi(p, q), abs=1e-9)


def test_identical_samples_have_no_drift_and_shifted_ones_do() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=5000)
    same, shifted = stats_of(ref, ref.copy()), stats_of(ref, ref + 1.0)
    assert same == {"psi": 0.0, "ks": 0.0, "wasserstein": 0.0, "jensenshannon": 0.0}
    assert shifted["wasserstein"] == pytest.approx(1.0 / np.std(ref))
    assert shifted["psi"] > 0.5 and shifted["ks"] > 0.3


def test_categorical_statistics_use_frequencies_and_total_variation() -> None:
    ref = pd.Series(["a"] * 50 + ["b"] * 30 + [None] * 20)
    cur = pd.Series(["a"] * 20 + ["b"] * 30 + ["c"] * 50)
    got, dist = categorical_stats(ref, cur)
    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.2, 0.3, 0.0, 0.5])
    assert got["ks"] == got["wasserstein"] == pytest.approx(0.5 * np.abs(p - q).sum())
    assert got["jensenshannon"] == pytest.approx(jensenshannon(p, q, base=2))
    assert got["psi"] == pytest.approx(naive_psi(p, q))
    assert dict(zip(dist.labels or [], dist.reference, strict=True)) == {
        "a": 0.5, "c": 0.0, "b": 0.3, "(missing)": 0.2}


def frames(rng: np.random.Generator, n: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame]:
    ref = pd.DataFrame({"stable": rng.normal(size=n), "shifted": rng.normal(size=n),
                        "color": rng.choice(["red", "green", "blue"], n), "count": rng.integers(0, 5, n)})
    cur = pd.DataFrame({"stable": rng.normal(size=n), "shifted": rng.normal(0.8, 1, n),
                        "color": rng.choice(["red", "green", "blue"], n, p=[0.8, 0.1, 0.1]),
                        "count": rng.integers(0, 5, n)})
    return ref, cur


def test_detect_drift_applies_defaults_and_per_feature_overrides() -> None:
    ref, cur = frames(np.random.default_rng(3))
    config = Drift.model_validate({"method": "psi", "threshold": 0.2, "max_drifted_share": 0.25,
                                   "features": {"shifted": {"method": "ks", "threshold": 0.1},
                                                "count": {"threshold": 0.5}}})
    report = detect_drift(ref, cur, config, ["stable", "shifted", "color", "count"])
    by_name = {f.feature: f for f in report.features}
    assert [(f.method, f.threshold, f.kind) for f in report.features] == [
        ("psi", 0.2, "numeric"), ("ks", 0.1, "numeric"), ("psi", 0.2, "categorical"), ("psi", 0.5, "numeric")]
    assert by_name["shifted"].score == by_name["shifted"].stats["ks"] > 0.1
    assert report.drifted == ["shifted", "color"]
    assert report.drifted_share == 0.5 and report.breached
    relaxed = Drift.model_validate({**config.model_dump(), "max_drifted_share": 0.5})
    assert not detect_drift(ref, cur, relaxed, ["stable", "shifted", "color", "count"]).breached


def test_a_score_equal_to_its_threshold_is_not_drift() -> None:
    ref, cur = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), pd.DataFrame({"x": [1.0, 2.0, 3.0, 5.0]})
    ks = ks_2samp(ref["x"], cur["x"]).statistic
    at = detect_drift(ref, cur, Drift(method="ks", threshold=float(ks)), ["x"])
    below = detect_drift(ref, cur, Drift(method="ks", threshold=float(ks) / 2), ["x"])
    assert (at.features[0].drifted, below.features[0].drifted) == (False, True)


def test_missing_numeric_values_are_left_out() -> None:
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=300), rng.normal(0.5, 1, 200)
    with_gaps = cur.copy()
    with_gaps[::4] = np.nan
    report = detect_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": with_gaps}), Drift(), ["x"])
    assert report.features[0].stats == stats_of(ref, with_gaps[~np.isnan(with_gaps)])
    assert report.features[0].current_count == 150


def test_a_feature_with_no_current_values_is_drifted_with_a_note() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    cur = pd.DataFrame({"x": [np.nan, np.nan]})
    (result,) = detect_drift(ref, cur, Drift(), ["x"]).features
    assert (result.drifted, result.score, result.note) == (True, None, "no values in the current data")


def test_mixed_types_are_compared_as_categories() -> None:
    ref, cur = pd.DataFrame({"x": [1, 2, 2]}), pd.DataFrame({"x": ["1", "2", "2"]})
    (result,) = detect_drift(ref, cur, Drift(), ["x"]).features
    assert result.kind == "categorical" and result.score == 0.0


def test_parallel_features_equal_serial_statistics() -> None:
    rng = np.random.default_rng(11)
    ref = pd.DataFrame(rng.normal(size=(60_000, 3)), columns=list("abc"))
    cur = pd.DataFrame(rng.normal(0.01, 1, size=(60_000, 3)), columns=list("abc"))
    report = detect_drift(ref, cur, Drift(), list("abc"))
    assert [f.stats for f in report.features] == [stats_of(ref[c].to_numpy(), cur[c].to_numpy()) for c in "abc"]


@pytest.mark.parametrize(("ref", "cur", "config", "message"), [
    (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"y": [1.0]}), {}, "the current data has no column `x`"),
    (pd.DataFrame({"x": []}), pd.DataFrame({"x": [1.0]}), {}, "the reference data has no rows"),
    (pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]}), {"features": {"z": {"threshold": 1}}},
     "`monitoring.drift.features` names `z`, which is not a feature"),
])
def test_bad_input_is_named(ref: pd.DataFrame, cur: pd.DataFrame, config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        detect_drift(ref, cur, Drift.model_validate(config), ["x"])
    assert str(err.value) == message
