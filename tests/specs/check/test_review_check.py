"""The review blocks under `evaluation` are checked with the spec: metrics, columns of the training data (a group
column need not be a feature), the baseline estimator and its params, and slice filters, whose mistakes are
located at the character inside the expression."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlform.specs import validate_file
from mlform.specs.check.filter_expr import FilterSyntaxError, columns_of, parse_filter

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: demo
data:
  sources:
    train: {type: csv, path: train.csv}
  target: y
  features: [amount, country]
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [roc_auc, recall]
  {REVIEW}
registry:
  model_name: demo
"""


def _errors(tmp_path: Path, review: str) -> list[str]:
    (tmp_path / "train.csv").write_text("amount,country,gender,ts,y\n1.0,US,f,1,0\n")
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{REVIEW}", review))
    return [str(d).removeprefix(f"{path}:") for d in validate_file(path)[1] if d.severity == "error"]


@pytest.mark.parametrize(("review", "expected"), [
    ("baseline: {estimator: sklearn.dummy.DummyClassifier, params: {strategy: prior}, "
     "min_improvement: {roc_auc: 0.05}}", None),
    ("baseline: true", None),
    ("fairness: {group: gender, metric: recall, max_gap: 0.1}", None),
    ("baseline: {estimator: sklearn.dummy.DummyClassifier, params: {strategy: priors}}",
     "14:75: error: evaluation.baseline.params.strategy: `strategy` of `DummyClassifier` must be one of "
     "`constant`, `most_frequent`, `prior`, `stratified`, `uniform`; got string `priors`; did you mean `prior`?"),
    ("baseline: {estimator: sklearn.dummy.DummyRegressor}",
     "14:25: error: evaluation.baseline.estimator: `sklearn.dummy.DummyRegressor` is a regression estimator, but "
     "the model does classification"),
    ("baseline: {min_improvement: {f1_macro: 0.05}}",
     "14:32: error: evaluation.baseline.min_improvement.f1_macro: `f1_macro` is not in `evaluation.metrics`"),
    ("fairness: {group: gendr, max_gap: 0.1}",
     "14:21: error: evaluation.fairness.group: column `gendr` is not in train.csv; did you mean `gender`?"),
    ("fairness: {group: y, max_gap: 0.1}", "14:21: error: evaluation.fairness.group: `y` is the target"),
    ("fairness: {group: gender, metric: recal, max_gap: 0.1}",
     "14:37: error: evaluation.fairness.metric: unknown metric `recal`; did you mean `recall`? (classification "
     "metrics: `accuracy`, `balanced_accuracy`, `f1`, `f1_macro`, `f1_micro`, `f1_weighted`, `precision`, "
     "`precision_macro`, `recall`, `recall_macro`, `roc_auc`, `average_precision`, `log_loss`, "
     "`predict_ms_per_1k_rows`, `model_size_mb`)"),
    ("slices: {us: {column: contry}}",
     "14:25: error: evaluation.slices.us.column: column `contry` is not in train.csv; did you mean `country`?"),
    ("slices: {big: {filter: \"amount > 10 and gendre == 'f'\"}}",
     "14:43: error: evaluation.slices.big.filter: column `gendre` is not in train.csv; did you mean `gender`?"),
    ("slices: {big: {filter: \"amount > __import__('os').getpid()\"}}",
     "14:36: error: evaluation.slices.big.filter: a function call is not allowed in a filter (comparisons, `in`, "
     "`and`, `or`, `not` only) (at character 10)"),
    ("slices: {big: {filter: amount >> 2}}",
     "14:26: error: evaluation.slices.big.filter: arithmetic is not allowed in a filter (comparisons, `in`, "
     "`and`, `or`, `not` only) (at character 1)"),
    ("slices: {big: {column: country, filter: amount > 2}}",
     "14:17: error: evaluation.slices.big: set exactly one of `column` or `filter`"),
    ("slices: {big: {column: country, metrics: {rmse: {max: 1}}}}",
     "14:45: error: evaluation.slices.big.metrics.rmse: metric `rmse` is for regression, but this model does "
     "classification"),
    ("slices: {big: {column: country, metrics: {model_size_mb: {max: 1}}}}",
     "14:45: error: evaluation.slices.big.metrics.model_size_mb: `model_size_mb` measures the model's computing "
     "cost, not its quality on a slice; gate it in `evaluation.gates`"),
    ("fairness: {group: gender, metric: predict_ms_per_1k_rows, max_gap: 0.1}",
     "14:37: error: evaluation.fairness.metric: `predict_ms_per_1k_rows` measures the model's computing cost, not "
     "its quality on a group; gate it in `evaluation.gates`"),
    ("staleness: {time_column: ts, max_decay: {recal: 0.05}}",
     "14:44: error: evaluation.staleness.max_decay.recal: unknown metric `recal`; did you mean `recall`? "
     "(classification metrics: `accuracy`, `balanced_accuracy`, `f1`, `f1_macro`, `f1_micro`, `f1_weighted`, "
     "`precision`, `precision_macro`, `recall`, `recall_macro`, `roc_auc`, `average_precision`, `log_loss`, "
     "`predict_ms_per_1k_rows`, `model_size_mb`)"),
    ("features: {min_importance: 0.001, costs: {countri: 0.3}, min_gain_per_cost: 0.01}",
     "14:45: error: evaluation.features.costs.countri: `countri` is not a feature; did you mean `country`?"),
])
def test_review_blocks_are_checked(tmp_path: Path, review: str, expected: str | None) -> None:
    assert _errors(tmp_path, review) == ([expected] if expected else [])


@pytest.mark.parametrize(("review", "code", "err"), [
    ("baseline: {estimator: sklearn.dummy.DummyClassifier, params: {strategy: prior}}", 0, ""),
    ("baseline: {estimator: sklearn.dummy.DummyRegressor}", 1,
     "mlform.yaml:14:25: error: evaluation.baseline.estimator: `sklearn.dummy.DummyRegressor` is a regression "
     "estimator, but the model does classification\n1 error found.\n")])
def test_validating_a_baseline_estimator_imports_no_sklearn(tmp_path: Path, review: str, code: int,
                                                            err: str) -> None:
    from mlform.specs.check import sklearn_index

    sklearn_index.index()  # the cache is warm, as after the first validation with this scikit-learn
    (tmp_path / "train.csv").write_text("amount,country,gender,ts,y\n1.0,US,f,1,0\n")
    (tmp_path / "mlform.yaml").write_text(SPEC.replace("{REVIEW}", review))
    done = subprocess.run([Path(sys.executable).parent / "mlform", "validate", "mlform.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    log = [line for line in done.stderr.splitlines(keepends=True) if line.startswith("import time:")]
    imported = [line.rsplit("|", 1)[-1].strip() for line in log]
    assert "mlform.specs.check.review_check" in imported  # the import log is read
    assert [name for name in imported if name.split(".")[0] == "sklearn"] == []
    assert (done.returncode, "".join(line for line in done.stderr.splitlines(keepends=True) if line not in log)) \
        == (code, err)


@pytest.mark.parametrize(("text", "message", "offset"), [
    ("a.b > 1", "an attribute is not allowed in a filter (comparisons, `in`, `and`, `or`, `not` only)", 0),
    ("a in 'xy'", "`in` needs a list, e.g. `['US', 'CA']`", 5),
    ("a > [1, 2]", "`>` compares single values; use `in` for a list", 4),
    ("1 > 2", "a comparison needs a column on one side", 0),
    ("a > (", "invalid filter: '(' was never closed", 4),
    ("  a is None", "`Is` is not a comparison filters allow", 7),
])
def test_filters_outside_the_language_are_refused(text: str, message: str, offset: int) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    assert (caught.value.message, caught.value.offset) == (message, offset)


def test_filter_columns() -> None:
    assert columns_of(parse_filter("a > 1 and (b in [1, 2] or not a < -3)")) == ["a", "b"]
