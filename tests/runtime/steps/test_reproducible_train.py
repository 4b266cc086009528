"""`model.reproducible: true` at train time: a built pipeline with an unset `random_state` is refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlform.runtime.steps.train import TrainError, fit_pipeline
from mlform.specs.model.lifecycle import ModelSpec

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
Y = pd.Series([0, 1, 0, 1])


def _model(**extra: object) -> ModelSpec:
    return ModelSpec.model_validate({"estimator": "sklearn.ensemble.RandomForestClassifier", "reproducible": True,
                                     "preprocessing": [{"transformer": "sklearn.preprocessing.StandardScaler",
                                                        "columns": ["a"]}], **extra})


def test_an_unset_random_state_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match=r"^`model.reproducible: true`, but `model__random_state` is not set: "
                                         r"training would not repeat$"):
        fit_pipeline(_model(), X, Y, tmp_path)


def test_a_seeded_model_fits_the_same_twice(tmp_path: Path) -> None:
    first, second = (fit_pipeline(_model(params={"n_estimators": 5, "random_state": 3}), X, Y, tmp_path)
                     for _ in range(2))
    assert (first.predict_proba(X) == second.predict_proba(X)).all()
