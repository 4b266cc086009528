"""`model.tuning` and `scoring` are checked with the spec: names the estimator takes, values it accepts,
distributions and bounds, the metric, the scored source and the alias; each error at its file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.specs import validate_file

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: demo
data:
  sources:
    train: {type: csv, path: train.csv}
    batch: {type: csv, path: batch.csv}
  train_source: train
  target: y
  features: [a, b]
model:
  estimator: sklearn.linear_model.Ridge
  tuning:
    {TUNING}
evaluation:
  metrics: [rmse]
registry:
  model_name: demo
{SCORING}
"""
OK_TUNING = "params: {alpha: [0.1, 1.0]}"


def _errors(tmp_path: Path, tuning: str = OK_TUNING, scoring: str = "") -> list[str]:
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{TUNING}", tuning).replace("{SCORING}", scoring))
    return [str(d).removeprefix(f"{path}:") for d in validate_file(path)[1] if d.severity == "error"]


@pytest.mark.parametrize(("tuning", "expected"), [
    ("params: {alpah: [0.1, 1.0]}",
     "15:14: error: model.tuning.params.alpah: `Ridge` has no parameter `alpah`; did you mean `alpha`?"),
    ("params: {alpha: [0.1, -1.0]}",
     "15:27: error: model.tuning.params.alpha.1: `alpha` of `Ridge` must be a float in the range [0.0, inf) or "
     "an array-like; got number `-1.0`"),
    ("params: {alpha: {distribution: uniform, low: -2, high: 1}}",
     "15:50: error: model.tuning.params.alpha.low: `alpha` of `Ridge` must be a float in the range [0.0, inf) or "
     "an array-like; got integer `-2`"),
    ("params: {alpha: {distribution: uniform, low: 2, high: 1}}",
     "15:21: error: model.tuning.params.alpha: `low` (2) must be below `high` (1)"),
    ("params: {alpha: {distribution: loguniform, low: 0, high: 1}}",
     "15:21: error: model.tuning.params.alpha: `loguniform` needs `low` above 0; got 0"),
    ("params: {alpha: {distribution: quniform, low: 0, high: 1}}",
     "15:21: error: model.tuning.params.alpha: `q` is the step of `quniform`, and `quniform` needs it"),
    ("params: {alpha: {distribution: gauss, low: 0, high: 1}}",
     "15:36: error: model.tuning.params.alpha.distribution: expected one of `uniform`, `loguniform`, `randint`, "
     "`quniform`; got string `gauss`"),
    ("{method: grid, params: {alpha: {distribution: uniform, low: 0, high: 1}}}",
     "15:5: error: model.tuning: `method: grid` needs a list of values per parameter; `alpha` has a distribution"),
    ("{method: grid, trials: 5, params: {alpha: [1, 2]}}",
     "15:5: error: model.tuning: `trials` applies to `method: random`; a grid tries every combination"),
    ("{metric: acuracy, params: {alpha: [1, 2]}}",
     "15:14: error: model.tuning.metric: unknown metric `acuracy`; did you mean `accuracy`?"),
    ("{metric: accuracy, params: {alpha: [1, 2]}}",
     "15:14: error: model.tuning.metric: `accuracy` is a classification metric, but the model does regression"),
])
def test_a_wrong_tuning_block_is_located(tmp_path: Path, tuning: str, expected: str) -> None:
    assert _errors(tmp_path, tuning) == [expected]


@pytest.mark.parametrize(("scoring", "expected"), [
    ("scoring: {source: bach, output: {path: out.parquet}}",
     "20:19: error: scoring.source: no source named `bach`; did you mean `batch`?"),
    ("scoring: {source: train, output: {path: out.parquet}}",
     "20:19: error: scoring.source: `train` is the training source; score another source"),
    ("scoring: {source: batch, output: {path: out.txt}}",
     "20:34: error: scoring.output: cannot tell the format of `out.txt` from its suffix; set `format: parquet` or "
     "`format: csv`"),
    ("scoring: {source: batch, output: {path: out.csv}, model: champion}",
     "20:58: error: scoring.model: alias `champion` is not one this spec gives; use `staging` "
     "(`registry.promote_to`), `production` or a version number"),
    ("scoring: {source: batch, output: {path: out.csv}, model: production}",
     "20:58: error: scoring.model: `production` is given only by the pin `registry.production`, which this spec "
     "does not set"),
])
def test_a_wrong_scoring_block_is_located(tmp_path: Path, scoring: str, expected: str) -> None:
    assert _errors(tmp_path, scoring=scoring) == [expected]


def test_valid_tuning_and_scoring_blocks_pass(tmp_path: Path) -> None:
    tuning = "{method: random, trials: 4, cv: 2, params: {alpha: {distribution: loguniform, low: 0.01, high: 10}}}"
    assert _errors(tmp_path, tuning, "scoring: {source: batch, output: {path: out/p.csv}, model: 2}") == []
