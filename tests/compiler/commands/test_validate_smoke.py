"""`mlform validate --smoke`: the whole pipeline is fitted on a sample, so a spec that cannot train fails review."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: smoke
data:
  sources:
    train: {type: csv, path: train.csv}
  target: y
  features: [size, colour]
model:
  estimator: sklearn.linear_model.LogisticRegression
%s
evaluation:
  metrics: [accuracy]
registry:
  model_name: smoke
"""
ENCODED = """\
  preprocessing:
    - transformer: sklearn.preprocessing.OneHotEncoder
      columns: [colour]"""


def _project(tmp_path: Path, model: str) -> Path:
    rows = "".join(f"{i % 9}.5,{('red', 'blue', 'green')[i % 3]},{i % 2}\n" for i in range(300))
    (tmp_path / "train.csv").write_text("size,colour,y\n" + rows)
    (tmp_path / "mlform.yaml").write_text(SPEC % model)
    return tmp_path / "mlform.yaml"


def test_a_spec_that_trains_passes_on_a_200_row_sample(tmp_path: Path, run_mlform: Callable[..., Any]) -> None:
    result = run_mlform("validate", _project(tmp_path, ENCODED), "--smoke")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1].endswith("(default): fitted on 200 rows, predicted 5")
    assert not (tmp_path / ".mlform").exists()


def test_a_spec_that_cannot_train_fails_validation(tmp_path: Path, run_mlform: Callable[..., Any]) -> None:
    spec = _project(tmp_path, "")
    assert run_mlform("validate", spec).code == 0  # the schema and the semantic checks see nothing wrong
    result = run_mlform("validate", spec, "--smoke")
    assert result.code == 1
    assert "step `smoke` failed: `model.estimator: sklearn.linear_model.LogisticRegression`" in result.err
    assert "a feature holds text: encode it in `model.preprocessing`" in result.err
    assert result.err.splitlines()[-1] == "1 error found."


def test_a_failed_smoke_is_a_located_error_in_every_format(tmp_path: Path, run_mlform: Callable[..., Any]) -> None:
    spec = _project(tmp_path, "")
    text = run_mlform("validate", spec, "--smoke")
    assert not text.out.startswith("ok:")  # the spec is not ok: it cannot train
    assert text.err.startswith(f"{spec}:10:1: error: model: smoke (default): step `smoke` failed: ")
    as_json = json.loads(run_mlform("validate", spec, "--smoke", "--format", "json").out)
    assert (as_json["valid"], as_json["errors"]) == (False, 1)
    [found] = as_json["diagnostics"]
    assert (found["line"], found["path"]) == (10, "model") and "a feature holds text" in found["message"]
    annotation = run_mlform("validate", spec, "--smoke", "--format", "github").out
    assert annotation.startswith(f"::error file={spec},line=10,col=1")


def test_a_failing_loader_is_located_at_its_function(tmp_path: Path, run_mlform: Callable[..., Any]) -> None:
    spec = _project(tmp_path, ENCODED)
    spec.write_text(spec.read_text().replace("train: {type: csv, path: train.csv}",
                                             'train: {type: python, function: "loaders:read"}'))
    (tmp_path / "loaders.py").write_text("import pandas as pd\n\n\n"
                                         "def read():\n    return pd.read_csv('train.csv')['y']\n")
    result = run_mlform("validate", spec, "--smoke")
    assert result.code == 1
    assert result.err.splitlines()[0] == (  # at the function that failed, not at `model`
        f"{spec}:7:37: error: data.sources.train.function: smoke (default): step `smoke` failed: "
        "`data.sources.train.function: loaders:read` returned Series, not a pandas DataFrame")
