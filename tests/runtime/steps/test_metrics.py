"""compute_metrics against scikit-learn's own functions, on real fitted models."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC

from mlform.runtime.steps.metrics import compute_metrics
from mlform.specs.model.metrics import METRICS

CLASSIFICATION = [n for n, m in METRICS.items() if m.task == "classification"]
REGRESSION = [n for n, m in METRICS.items() if m.task == "regression"]


class CountingLogisticRegression(LogisticRegression):
    """A real logistic regression that counts how often each prediction method runs."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def predict(self, X: Any) -> Any:
        self._count("predict")
        return super().predict(X)

    def predict_proba(self, X: Any) -> Any:
        self._count("predict_proba")
        return super().predict_proba(X)


@pytest.fixture(scope="module")
def binary() -> tuple[CountingLogisticRegression, pd.DataFrame, pd.Series]:
    X, y = make_classification(n_samples=300, n_features=5, flip_y=0.2, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    labels = pd.Series(np.where(y == 1, "yes", "no"))
    return CountingLogisticRegression(max_iter=500).fit(frame, labels), frame, labels


@pytest.fixture(scope="module")
def iris() -> tuple[LogisticRegression, pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=1000, C=0.05).fit(X, y), X, y


def test_binary_metrics_score_the_second_class_as_positive(binary: Any) -> None:
    model, X, y = binary
    got = compute_metrics(CLASSIFICATION, model, X, y)
    pred, proba = model.predict(X), model.predict_proba(X)[:, 1]
    positive = y == "yes"
    assert list(got) == CLASSIFICATION
    assert got["accuracy"] == skm.accuracy_score(y, pred)
    assert got["balanced_accuracy"] == skm.balanced_accuracy_score(y, pred)
    assert got["f1"] == skm.f1_score(y, pred, pos_label="yes")
    assert got["precision"] == skm.precision_score(y, pred, pos_label="yes")
    assert got["recall"] == skm.recall_score(y, pred, pos_label="yes")
    assert got["f1_weighted"] == skm.f1_score(y, pred, average="weighted")
    assert got["roc_auc"] == skm.roc_auc_score(positive, proba)
    assert got["average_precision"] == skm.average_precision_score(positive, proba)
    assert got["log_loss"] == skm.log_loss(y, model.predict_proba(X))
    assert 0.5 < got["roc_auc"] < 1


def test_multiclass_f1_precision_recall_are_macro_averaged(iris: Any) -> None:
    model, X, y = iris
    got = compute_metrics(CLASSIFICATION, model, X, y)
    pred, proba = model.predict(X), model.predict_proba(X)
    assert got["f1"] == got["f1_macro"] == skm.f1_score(y, pred, average="macro")
    assert got["precision"] == got["precision_macro"] == skm.precision_score(y, pred, average="macro")
    assert got["recall"] == got["recall_macro"] == skm.recall_score(y, pred, average="macro")
    assert got["f1_micro"] == skm.f1_score(y, pred, average="micro")
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert got["average_precision"] == pytest.approx(skm.average_precision_score(y, proba, average="macro"))
    assert got["log_loss"] == skm.log_loss(y, proba)


def test_multiclass_ranking_metrics_average_only_classes_present(iris: Any) -> None:
    model, X, y = iris
    keep = (y != 0).to_numpy()
    got = compute_metrics(["roc_auc", "log_loss"], model, X[keep], y[keep])
    proba = model.predict_proba(X[keep])
    expected = np.mean([skm.roc_auc_score(y[keep] == c, proba[:, c]) for c in (1, 2)])
    assert got["roc_auc"] == pytest.approx(expected)
    assert got["log_loss"] == skm.log_loss(y[keep], proba, labels=[0, 1, 2])


def test_ranking_metrics_are_nan_on_a_single_class(iris: Any) -> None:
    model, X, y = iris
    keep = (y == 2).to_numpy()
    got = compute_metrics(["roc_auc", "average_precision", "accuracy"], model, X[keep], y[keep])
    assert math.isnan(got["roc_auc"]) and math.isnan(got["average_precision"])
    assert got["accuracy"] == skm.accuracy_score(y[keep], model.predict(X[keep]))


def test_probabilities_are_computed_once_and_only_when_needed(binary: Any) -> None:
    model, X, y = binary
    model.calls.clear()
    compute_metrics(["accuracy", "f1", "recall"], model, X, y)
    assert model.calls == {"predict": 1}
    model.calls.clear()
    compute_metrics(["roc_auc", "average_precision", "log_loss"], model, X, y)
    assert model.calls == {"predict_proba": 1}


def test_ranking_metrics_fall_back_to_decision_function(binary: Any) -> None:
    _, X, y = binary
    model = LinearSVC().fit(X, y)
    got = compute_metrics(["roc_auc"], model, X, y)
    assert got["roc_auc"] == skm.roc_auc_score(y == "yes", model.decision_function(X))


def test_regression_metrics_match_scikit_learn() -> None:
    X, y = make_regression(n_samples=200, n_features=4, noise=10.0, random_state=1)
    frame, target = pd.DataFrame(X, columns=list("abcd")), pd.Series(y + 500.0)
    model = LinearRegression().fit(frame, target)
    got = compute_metrics(REGRESSION, model, frame, target)
    pred = model.predict(frame)
    assert got == {
        "r2": skm.r2_score(target, pred),
        "explained_variance": skm.explained_variance_score(target, pred),
        "mae": skm.mean_absolute_error(target, pred),
        "mse": skm.mean_squared_error(target, pred),
        "rmse": math.sqrt(skm.mean_squared_error(target, pred)),
        "mape": skm.mean_absolute_percentage_error(target, pred),
        "median_ae": skm.median_absolute_error(target, pred),
    }
    assert got["rmse"] == pytest.approx(float(np.sqrt(np.mean((target - pred) ** 2))))


@pytest.mark.parametrize(("names", "rows", "message"), [
    (["accuracy", "auc"], 150, "unknown metric `auc` (known: "),
    (["r2"], 150, "metric `r2` is a regression metric but the model is a classification model"),
    (["accuracy"], 0, "cannot compute metrics on zero rows"),
])
def test_bad_requests_are_named(iris: Any, names: list[str], rows: int, message: str) -> None:
    model, X, y = iris
    with pytest.raises(ValueError) as err:
        compute_metrics(names, model, X.iloc[:rows], y.iloc[:rows])
    assert str(err.value).startswith(message)


def test_row_count_mismatch_and_missing_probabilities_are_named(binary: Any) -> None:
    model, X, y = binary
    with pytest.raises(ValueError, match=r"^`X` has 300 rows but `y` has 10$"):
        compute_metrics(["accuracy"], model, X, y.iloc[:10])
    with pytest.raises(ValueError, match=r"^metric `log_loss` needs a model with `predict_proba`$"):
        compute_metrics(["log_loss"], LinearSVC().fit(X, y), X, y)


@pytest.mark.parametrize("model_kind", ["proba", "decision"])
def test_a_declared_positive_class_is_the_one_binary_metrics_score(binary: Any, model_kind: str) -> None:
    _, X, y = binary
    model = (LogisticRegression(max_iter=500) if model_kind == "proba" else LinearSVC()).fit(X, y)
    names = ["f1", "precision", "recall", "roc_auc", "average_precision"]
    got = compute_metrics(names, model, X, y, positive="no")
    pred = model.predict(X)
    score = model.predict_proba(X)[:, 0] if model_kind == "proba" else -model.decision_function(X)
    negative = y == "no"
    assert got == {"f1": skm.f1_score(y, pred, pos_label="no"),
                   "precision": skm.precision_score(y, pred, pos_label="no"),
                   "recall": skm.recall_score(y, pred, pos_label="no"),
                   "roc_auc": skm.roc_auc_score(negative, score),
                   "average_precision": skm.average_precision_score(negative, score)}
    assert got["f1"] != compute_metrics(["f1"], model, X, y)["f1"]


def test_a_positive_class_that_is_not_a_class_is_named(binary: Any) -> None:
    model, X, y = binary
    with pytest.raises(ValueError, match=r"^`evaluation.positive_class: maybe` is not a class of the target "
                                         r"\(classes: `no`, `yes`\)$"):
        compute_metrics(["f1"], model, X, y, positive="maybe")
