"""The evaluation review breaks where the property breaks: a model no better than its baseline, a slice whose labels
are noise, a group with a recall gap, a feature of pure noise and a concept that changes over time all fail the
evaluation (and keep the version from its alias), each check naming what failed."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlform.compiler.cli import main
from mlform.runtime.steps.slices import filter_mask, review_slices

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {name: reviewed}
data:
  sources: {train: {type: csv, path: train.csv}}
  target: y
  features: [x1, x2, noise]
  id_columns: [row_id]
  split: {method: stratified, test_size: 0.4, seed: 0}
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [roc_auc, recall, accuracy]
  baseline: {min_improvement: {roc_auc: 0.05}}
  slices:
    by_region: {column: region, metrics: {roc_auc: {min: 0.7}}, min_rows: 30}
    confident: {filter: "x1 > 0.5 and region == 'a'", min_rows: 30}
    tail: {filter: "x1 > 3.5", min_rows: 30}
  fairness: {group: region, metric: recall, max_gap: 0.1}
  staleness: {time_column: ts, windows: 4, max_decay: {accuracy: 0.05}}
  features: {min_importance: 0.005, repeats: 3, costs: {x2: 5.0}, min_gain_per_cost: 0.01}
registry: {model_name: reviewed}
"""


def _project(root: Path, noise_only: bool) -> Path:
    """Region `a` follows `x1 + x2` in the first half of time and `x1 - 0.3 x2` after; region `b` is coin flips."""
    rng = np.random.default_rng(5)
    n = 1000
    frame = pd.DataFrame({"row_id": [f"r{i}" for i in range(n)], "ts": np.arange(n),
                          "x1": rng.normal(size=n), "x2": rng.normal(size=n), "noise": rng.normal(size=n),
                          "region": rng.choice(["a", "b"], size=n)})
    concept = np.where(frame["ts"] < n // 2, frame["x1"] + frame["x2"], frame["x1"] - 0.3 * frame["x2"]) > 0
    coin = rng.random(n) < 0.5
    frame["y"] = (coin if noise_only else np.where(frame["region"] == "a", concept, coin)).astype(int)
    root.mkdir()
    frame.to_csv(root / "train.csv", index=False)
    (root / "mlform.yaml").write_text(SPEC)
    return root


def _run(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    try:
        main(["run", str(root)])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    capsys.readouterr()
    [found] = (root / ".mlform" / "store").rglob("evaluation.json")
    result: dict[str, Any] = json.loads(found.read_text())
    return result


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    try:
        main(list(args))
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    return capsys.readouterr().out


def _checks(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for check in result["review"]["checks"]:
        by_key.setdefault(check["key"], []).append(check)
    return by_key


def test_each_broken_property_fails_its_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "drifting", noise_only=False)
    result = _run(root, capsys)
    checks = _checks(result)
    assert result["passed"] is False
    # the model has signal: it beats the dummy by the margin
    [baseline] = checks["evaluation.baseline.min_improvement.roc_auc"]
    assert baseline["passed"] and "model beats baseline `DummyClassifier` on `roc_auc`" in baseline["message"]
    # region b's labels are noise: its slice misses the roc_auc gate, region a's passes
    by_slice = {c["message"].split("`")[3]: c for c in checks["evaluation.slices.by_region.metrics.roc_auc"]}
    assert by_slice["region=a"]["passed"] and not by_slice["region=b"]["passed"]
    # a slice under min_rows is reported as such, a warning that does not fail
    [small] = checks["evaluation.slices.tail.min_rows"]
    assert small["warning"] and small["passed"] and "under `min_rows` 30: not scored" in small["message"]
    [confident] = result["review"]["slices"]["confident"]
    assert confident["status"] == "passed" and confident["rows"] >= 30 and set(confident["metrics"]) == {
        "roc_auc", "recall", "accuracy"}
    # the recall gap between the regions is too large
    [fair] = checks["evaluation.fairness.max_gap"]
    assert not fair["passed"] and "gap between groups of `region`" in fair["message"]
    # `noise` earns nothing; the signal features do
    importance = checks["evaluation.features.min_importance"]
    failing = [c["message"].split("`")[1] for c in importance if not c["passed"]]
    assert failing == ["noise"]
    [costly] = checks["evaluation.features.min_gain_per_cost"]  # x2 helps, but not enough for its cost
    assert not costly["passed"] and costly["message"].startswith("feature `x2` does not earn its cost")
    # the concept flips in the second half of time: accuracy decays
    [stale] = checks["evaluation.staleness.max_decay.accuracy"]
    assert not stale["passed"] and "too stale" in stale["message"]
    windows = result["review"]["staleness"]["windows"]
    assert len(windows) == 4 and windows[0]["trained"]
    # the failed review keeps the version from its alias; the group column never reached the model
    [model_file] = (root / ".mlform" / "store").rglob("model.pkl")
    model = pickle.loads(model_file.read_bytes())  # noqa: S301 - the test's own model
    assert list(model.feature_names_in_) == ["x1", "x2", "noise"]
    # the run tracks the review's numbers; the card draws them and lists every check
    [run] = json.loads(_cli(capsys, "runs", "list", str(root), "--format", "json"))
    main_out = _cli(capsys, "runs", "show", str(root), run["id"])
    assert "evaluate.slices.by_region.b.roc_auc = " in main_out and "evaluate.fairness.recall.gap = " in main_out
    card = _cli(capsys, "card", str(root), "--format", "html")
    for title in ("model against its baseline", "slice `by_region`: metrics against their gates",
                  "recall per group of region", "metrics on each later window", "permutation importance (roc_auc)"):
        assert f'aria-label="{title}' in card
    assert "evaluation.fairness.max_gap" in card and "too stale" in card
    # the review blocks are part of the evaluate step's fingerprint, not of training's
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace("max_gap: 0.1", "max_gap: 0.3"))
    plan = _cli(capsys, "plan", str(root))
    assert "`evaluation.fairness.max_gap` changed: 0.1 -> 0.3" in plan
    assert [line.split()[1] for line in plan.splitlines() if line.strip().startswith(">")] == ["evaluate", "register"]
    # pinning the version for production shows the review in the plan's evidence, and refuses the move
    spec.write_text(spec.read_text().replace("registry: {model_name: reviewed}",
                                             "registry: {model_name: reviewed, production: 1}"))
    with pytest.raises(SystemExit) as refused:
        main(["plan", str(root)])
    out = capsys.readouterr()
    assert refused.value.code == 1
    assert "review when registered: failed" in out.out + out.err
    assert "when registered, `recall` gap between groups of `region`" in out.out + out.err


def test_a_model_no_better_than_its_baseline_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _run(_project(tmp_path / "noise", noise_only=True), capsys)
    [baseline] = _checks(result)["evaluation.baseline.min_improvement.roc_auc"]
    assert not baseline["passed"] and "model does not beat baseline `DummyClassifier`" in baseline["message"]
    assert result["review"]["baseline"]["metrics"]["roc_auc"] == 0.5  # the prior's constant scores rank nothing
    assert "baseline.roc_auc" in result["metrics"]


@pytest.mark.parametrize(("text", "rows"), [
    ("x > 1", [False, True, True, True]),
    ("c in ['u', 'w'] and not x == 3", [True, False, False, False]),
    ("x <= 0 or c != 'v'", [True, False, True, True]),
    ("1 < x < 4", [False, True, True, False]),
    ("c == None", [False, False, False, False]),
])
def test_filters_select_rows(text: str, rows: list[bool]) -> None:
    frame = pd.DataFrame({"x": [0, 2, 3, 4], "c": ["u", "v", "w", None]})
    assert filter_mask(text, frame, "evaluation.slices.s.filter").tolist() == rows


def test_a_slice_is_scored_on_quality_metrics_not_on_the_cached_model_s_cost(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from mlform.runtime.steps.review import Cached, Review, Scorer
    from mlform.specs.model.lifecycle import Evaluation
    from mlform.specs.model.metrics import metric_table

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200)})
    y = pd.Series((X["x"] + rng.normal(size=200) > 0).astype(int))
    model = LogisticRegression().fit(X, y)
    ev = Evaluation.model_validate({"metrics": ["accuracy", "predict_ms_per_1k_rows", "model_size_mb"],
                                    "slices": {"positive_x": {"filter": "x > 0", "min_rows": 10}}})
    review = Review()
    review_slices(ev, Cached(model, X), (X, y), X, Scorer(metric_table(), tmp_path, None), review)
    # the slice's rows are answered from predictions made once: timing or pickling them measures nothing
    [scored] = review.blocks["slices"]["positive_x"]
    assert set(scored["metrics"]) == {"accuracy"}
    assert set(review.metrics) == {"slices.positive_x.accuracy"}
