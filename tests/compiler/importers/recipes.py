"""Recipes in the exact layout of MLflow's `recipes-regression-template` and `recipes-classification-template`
(recipe.yaml with `{{ VARIABLES }}`, profiles/local.yaml, steps/*.py), filled in with scikit-learn's data."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_recipe"]

REGRESSION = '''\
# `recipe.yaml` is the main configuration file for an MLflow Recipe.
# Variables must be dereferenced in a profile YAML file, located under `profiles/`.
# {{ COMMENTED_OUT_VARIABLE }} is never rendered: commented lines are ignored.

template: "regression/v1"
# FIXME::REQUIRED: Specifies the target column name for model training and evaluation.
target_col: "target"
primary_metric: "root_mean_squared_error"
steps:
  # Specifies the dataset to use for model development
  ingest: {{INGEST_CONFIG}}
  split:
    split_ratios: [0.75, 0.125, 0.125]
    post_split_filter_method: create_dataset_filter
  transform:
    using: "custom"
    transformer_method: steps.transform.transformer_fn
  train:
    using: estimator_spec
    estimator_method: steps.train.estimator_fn
    estimator_params:
      alpha: 0.1
  evaluate:
    validation_criteria:
      - metric: root_mean_squared_error
        threshold: {{ RMSE_THRESHOLD }}
      - metric: within_50
        threshold: 0.4
  register:
    allow_non_validated_model: false
custom_metrics:
  - name: within_50
    function: share_within_50
    greater_is_better: True
'''

CLASSIFICATION = '''\
recipe: "classification/v1"
target_col: "target"
positive_class: 1
primary_metric: "f1_score"
steps:
  ingest: {{INGEST_CONFIG}}
  split:
    split_ratios: [0.75, 0.125, 0.125]
    post_split_filter_method: create_dataset_filter
  transform:
    using: "custom"
    transformer_method: transformer_fn
  train:
    using: "custom"
    estimator_method: estimator_fn
  evaluate:
    validation_criteria:
      - metric: f1_score
        threshold: {{ F1_THRESHOLD }}
  register:
    allow_non_validated_model: false
metrics:
  custom:
    - name: error_rate
      function: error_rate
      greater_is_better: False
'''

PROFILE = '''\
experiment:
  name: "{name}"
  tracking_uri: "sqlite:///metadata/mlflow/mlruns.db"
  artifact_location: "./metadata/mlflow/mlartifacts"
model_registry:
  model_name: "{model}"

INGEST_CONFIG:
  using: {using}
  location: "{location}"
{loader}
{threshold_name}: {threshold}
'''

STEPS = {
    "ingest.py": '''\
import pandas as pd


def load_file_as_dataframe(file_path: str, file_format: str) -> pd.DataFrame:
    if file_format == "csv":
        return pd.read_csv(file_path)
    raise NotImplementedError
''',
    "split.py": '''\
from pandas import DataFrame, Series


def create_dataset_filter(dataset: DataFrame) -> Series(bool):
    return Series(True, index=dataset.index)
''',
    "transform.py": '''\
def transformer_fn():
    from sklearn.preprocessing import StandardScaler

    return StandardScaler()
''',
    "custom_metrics.py": '''\
from typing import Dict

import numpy as np
from pandas import DataFrame


def share_within_50(eval_df: DataFrame, builtin_metrics: Dict[str, float]) -> float:
    return float(np.mean(np.abs(eval_df["prediction"] - eval_df["target"]) < 50))


def error_rate(eval_df: DataFrame, builtin_metrics: Dict[str, float]) -> float:
    return 1.0 - builtin_metrics["accuracy_score"]
''',
}

TRAIN = {
    "regression": '''\
from typing import Dict, Any


def estimator_fn(estimator_params: Dict[str, Any] = {}):
    from sklearn.linear_model import Ridge

    return Ridge(**estimator_params)
''',
    "classification": '''\
from typing import Dict, Any


def estimator_fn(estimator_params: Dict[str, Any] = None):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)
''',
}


def write_recipe(root: Path, kind: str, *, threshold: float | None = None, custom_loader: bool = True) -> Path:
    """A recipe of `kind` (`regression` or `classification`) under `root`, with its data in `data/`."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_diabetes

    (root / "steps").mkdir(parents=True)
    (root / "profiles").mkdir()
    (root / "data").mkdir()
    if kind == "regression":
        frame = load_diabetes(as_frame=True).frame
        recipe, name, metric, default = REGRESSION, "diabetes", "RMSE_THRESHOLD", 80
    else:
        bunch = load_breast_cancer(as_frame=True)
        frame = bunch.frame[[*bunch.feature_names[:8], "target"]]
        frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
        recipe, name, metric, default = CLASSIFICATION, "cancer", "F1_THRESHOLD", 0.8
    pd.DataFrame(frame).to_csv(root / "data" / f"{name}.csv", index=False)
    (root / "recipe.yaml").write_text(recipe)
    loader = "  loader_method: load_file_as_dataframe" if custom_loader else ""
    (root / "profiles" / "local.yaml").write_text(PROFILE.format(
        name=name, model=f"{name.title()}_Model", using="csv",
        location=f"./data/{name}.csv", loader=loader, threshold_name=metric,
        threshold=default if threshold is None else threshold))
    for file, text in {**STEPS, "train.py": TRAIN[kind]}.items():
        (root / "steps" / file).write_text(text)
    return root
