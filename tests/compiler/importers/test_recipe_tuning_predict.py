"""A recipe's `train.tuning` and `predict` / `ingest_scoring` import onto `model.tuning` and `scoring`, and the
result validates and applies end to end; what mlform only approximates is said, what it cannot do is an error."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from mlform.specs import validate_file
from mlform.specs.model.tuning import Distribution

from .recipes import write_recipe
from .test_mlflow_recipe import _files, _mlform

TUNING = """\
    tuning:
      enabled: true
      algorithm: "hyperopt.tpe.suggest"
      max_trials: 5
      parallelism: 1
      early_stop_fn: my_early_stop_fn
      parameters:
        alpha:
          distribution: "loguniform"
          low: -5
          high: 1
        fit_intercept:
          values: [true, false]
"""
PREDICT = """\
  ingest_scoring: {{INGEST_SCORING_CONFIG}}
  predict:
    output: {{PREDICT_OUTPUT_CONFIG}}
    model_uri: "models/model.pkl"
    result_type: "double"
    save_mode: "default"
"""
PROFILE = """\
INGEST_SCORING_CONFIG:
  using: csv
  location: "./data/score.csv"
PREDICT_OUTPUT_CONFIG:
  using: parquet
  location: "./data/scored.parquet"
"""


def _recipe(root: Path, tuning: str = TUNING) -> Path:
    write_recipe(root, "regression")
    recipe = root / "recipe.yaml"
    recipe.write_text(recipe.read_text().replace("      alpha: 0.1\n", "      alpha: 0.1\n" + tuning)
                      .replace("    allow_non_validated_model: false\n",
                               "    allow_non_validated_model: false\n" + PREDICT))
    profile = root / "profiles" / "local.yaml"
    profile.write_text(profile.read_text() + PROFILE)
    data = pd.read_csv(root / "data" / "diabetes.csv").drop(columns="target")
    data.head(30).to_csv(root / "data" / "score.csv", index=False)
    return root


def test_tuning_and_predict_import_validate_and_apply(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _recipe(tmp_path / "recipe")
    code, out, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert code == 0, err
    assert ("approximated recipe.yaml:25 `steps.train.tuning.algorithm`: `hyperopt.tpe.suggest` mapped to random "
            "search") in out
    assert "approximated recipe.yaml:28 `steps.train.tuning.early_stop_fn`: mlform runs every trial" in out
    assert "mapped      recipe.yaml:46 `steps.predict.output` -> `scoring.output`" in out
    specs, diagnostics = validate_file(root / "mlform.yaml")
    assert [d for d in diagnostics if d.severity == "error"] == []
    pipeline = specs[0].pipeline
    tuning = pipeline.model.tuning
    assert tuning is not None and (tuning.method, tuning.trials) == ("random", 5)
    alpha = tuning.params["alpha"]
    assert isinstance(alpha, Distribution)  # hyperopt's loguniform bounds are logarithms
    assert (alpha.low, alpha.high) == (pytest.approx(math.exp(-5)), pytest.approx(math.exp(1)))
    assert tuning.params["fit_intercept"] == [True, False]
    assert pipeline.scoring is not None and pipeline.scoring.output.path == "data/scored.parquet"
    code, out, err = _mlform(capsys, "apply", str(root), "--yes")
    assert code == 0, err
    assert "tuning: best of 5 by rmse" in out
    scored = pd.read_parquet(root / "data" / "scored.parquet")
    code, _, err = _mlform(capsys, "predict", str(root), "--model", "diabetes-model@staging", "--input",
                           str(root / "data" / "score.csv"), "-o", str(tmp_path / "predicted.parquet"))
    assert code == 0, err
    assert scored["prediction"].tolist() == pd.read_parquet(tmp_path / "predicted.parquet")["prediction"].tolist()


@pytest.mark.parametrize(("tuning", "expected"), [
    (TUNING.replace('"loguniform"', '"qlognormal"'),
     "recipe.yaml:31:11: error: steps.train.tuning.parameters.alpha.distribution: distribution `qlognormal` has no "
     "mlform equivalent (supported: `uniform`, `loguniform`, `randint`, `quniform`, or `values` for a choice)"),
    (TUNING.replace("          high: 1\n", ""),
     "recipe.yaml:30:9: error: steps.train.tuning.parameters.alpha: `loguniform` needs numeric `high`, `low`"),
])
def test_a_search_space_mlform_cannot_honour_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         tuning: str, expected: str) -> None:
    root = _recipe(tmp_path / "recipe", tuning)
    before = _files(root)
    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert code == 1
    assert err.startswith(expected), err
    assert _files(root) == before


def test_predict_to_a_delta_table_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _recipe(tmp_path / "recipe")
    profile = root / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace("  using: parquet", "  using: delta"))
    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert code == 1
    assert err.startswith("recipe.yaml:46:14: error: steps.predict.output.using: `using: delta` is not "
                          "supported (supported: `parquet`); Delta and Spark tables need Spark"), err
