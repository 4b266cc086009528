"""`model.tuning` searches params in the `train` step and tracks what it found; the `score` step writes the same
predictions `mlform predict` does, and re-runs when its source or the model changes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlform.compiler.cli import main

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {name: made-up}
data:
  sources:
    train: {type: csv, path: train.csv}
    batch: {type: csv, path: batch.csv}
  train_source: train
  target: y
  features: [x1, x2, x3]
  id_columns: [row_id]
  split: {method: random, test_size: 0.25, seed: 3}
model:
  estimator: sklearn.linear_model.Ridge
  params: {alpha: 100000.0}     # deliberately poor: shrinks every coefficient to almost nothing
TUNING
evaluation:
  metrics: [rmse]
registry: {model_name: made-up}
scoring:
  source: batch
  output: {path: out/predictions.csv}
"""
TUNING = """\
  tuning:
    trials: 8
    cv: 3
    seed: 1
    params:
      alpha: {distribution: loguniform, low: 0.001, high: 100000}
      fit_intercept: [true, false]
"""


def _project(root: Path, tuned: bool) -> Path:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["x1", "x2", "x3"])
    frame["y"] = 4 * frame["x1"] - 3 * frame["x2"] + rng.normal(scale=0.5, size=300)
    frame.insert(0, "row_id", [f"r{i}" for i in range(300)])
    root.mkdir()
    frame.iloc[:240].to_csv(root / "train.csv", index=False)
    frame.iloc[240:].drop(columns="y").to_csv(root / "batch.csv", index=False)
    (root / "mlform.yaml").write_text(SPEC.replace("TUNING\n", TUNING if tuned else ""))
    return root


def _mlform(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    try:
        main(list(args))
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    return capsys.readouterr().out


def _stored(root: Path, name: str) -> dict[str, object]:
    found = [json.loads(p.read_text()) for p in (root / ".mlform" / "store").rglob(name)]
    assert len(found) == 1
    return found[0]


def test_tuning_finds_better_params_than_a_poor_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain, tuned = _project(tmp_path / "plain", False), _project(tmp_path / "tuned", True)
    for root in (plain, tuned):
        _mlform(capsys, "run", str(root))
    rmse = {root: _stored(root, "evaluation.json")["metrics"]["rmse"] for root in (plain, tuned)}  # type: ignore[index]
    assert rmse[tuned] < rmse[plain] / 3
    search = _stored(tuned, "tuning.json")
    trials = search["trials"]
    assert isinstance(trials, list) and len(trials) == 8
    best = min(trials, key=lambda t: t["mean"])  # rmse: lower is better
    assert search["best_params"] == best["params"] and best["params"]["alpha"] < 100
    with sqlite3.connect(tuned / ".mlform" / "tracking.db") as db:
        params = dict(db.execute("SELECT key, value FROM params WHERE key LIKE 'tuning.best.%'").fetchall())
        metrics = dict(db.execute("SELECT key, value FROM metrics WHERE step = 'train'").fetchall())
    assert params == {f"tuning.best.{k}": json.dumps(v) for k, v in best["params"].items()}
    assert metrics == {"tuning.best_rmse": pytest.approx(best["mean"]), "tuning.trials": 8}


def test_the_tuning_block_is_part_of_the_train_fingerprint(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", True)
    _mlform(capsys, "run", str(root))
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace("trials: 8", "trials: 9").replace("[true, false]", "[true]"))
    out = _mlform(capsys, "plan", str(root))
    assert "`model.tuning.trials` changed: 8 -> 9" in out
    assert "`model.tuning.params.fit_intercept` changed: [true, false] -> [true]" in out  # the search space


def test_scoring_writes_what_mlform_predict_does_and_reruns_on_new_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", False)
    out = _mlform(capsys, "run", str(root))
    assert "scored 60 rows of `batch` with `made-up` version 1 -> out/predictions.csv" in out
    _mlform(capsys, "predict", str(root), "--model", "made-up@staging", "--input", str(root / "batch.csv"),
            "-o", str(tmp_path / "predicted.csv"))
    scored, predicted = pd.read_csv(root / "out" / "predictions.csv"), pd.read_csv(tmp_path / "predicted.csv")
    assert list(scored.columns) == ["row_id", "prediction"]
    pd.testing.assert_frame_equal(scored, predicted[["row_id", "prediction"]])
    batch = root / "batch.csv"
    batch.write_text(batch.read_text() + "extra,0.1,0.2,0.3\n")
    plan = _mlform(capsys, "plan", str(root))
    assert "score" in plan and "upstream `ingest.batch` changed" in plan
    assert "upstream `register` changed" not in plan
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace("alpha: 100000.0", "alpha: 1.0"))
    assert "upstream `register` changed" in _mlform(capsys, "plan", str(root))
