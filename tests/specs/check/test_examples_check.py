"""Model unit tests at validate time: preprocessing examples run for real, `model.reproducible` needs seeds."""

from __future__ import annotations

import subprocess
import sys
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
  target: y
  features: [amount, country]
model:
{MODEL}
evaluation:
  metrics: [accuracy]
registry:
  model_name: demo
"""
ENCODER = """\
  estimator: sklearn.linear_model.LogisticRegression
  preprocessing:
    - transformer: sklearn.preprocessing.OneHotEncoder
      columns: [country]
      params: {handle_unknown: ignore}
      examples:
        - fit: [{country: FR}, {country: DE}]
          input: {country: FR}
          output: {country_FR: %s, country_DE: 0}
    - transformer: sklearn.preprocessing.StandardScaler
      columns: [amount]
      examples:
        - input: {amount: [1.0, 3.0]}
          output: {amount: [-1.0, 1.0]}"""


def _found(tmp_path: Path, model: str) -> list[str]:
    (tmp_path / "train.csv").write_text("amount,country,y\n1.0,FR,0\n")
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{MODEL}", model))
    return [str(d).removeprefix(f"{path}:") for d in validate_file(path)[1]]


def test_examples_with_the_right_output_pass(tmp_path: Path) -> None:
    assert _found(tmp_path, ENCODER % "1") == []


def test_a_wrong_expected_output_is_an_error_naming_the_example(tmp_path: Path) -> None:
    assert _found(tmp_path, ENCODER % "0.0") == [
        "19:32: error: model.preprocessing.0.examples.0.output.country_FR: example 1 of "
        "`sklearn.preprocessing.OneHotEncoder`: expected `country_FR` = 0.0, got 1.0",
    ]


def test_an_output_the_step_does_not_give_is_named_with_a_suggestion(tmp_path: Path) -> None:
    assert _found(tmp_path, ENCODER.replace("country_DE: 0", "country_de: 0") % "1") == [
        "19:35: error: model.preprocessing.0.examples.0.output.country_de: example 1: the step has no output "
        "`country_de`; did you mean `country_DE`?",
    ]


UNSEEDED = {
    "estimator": ("  estimator: sklearn.ensemble.RandomForestClassifier\n  reproducible: true",
                  ["11:14: error: model.estimator: `model.reproducible: true` needs `random_state` in `model.params`: "
                   "`sklearn.ensemble.RandomForestClassifier` draws random numbers"]),
    "seeded": ("  estimator: sklearn.ensemble.RandomForestClassifier\n  params: {random_state: 0}\n"
               "  reproducible: true", []),
    "no randomness": ("  estimator: sklearn.neighbors.KNeighborsClassifier\n  reproducible: true", []),
}


@pytest.mark.parametrize(("model", "expected"), UNSEEDED.values(), ids=UNSEEDED.keys())
def test_a_reproducible_model_needs_every_random_state(tmp_path: Path, model: str, expected: list[str]) -> None:
    assert _found(tmp_path, model) == expected


def test_checking_seeds_reads_the_estimator_index_without_importing_sklearn(tmp_path: Path) -> None:
    from mlform.specs.check import sklearn_index

    sklearn_index.index()  # the cache is warm, as after the first validation with this scikit-learn
    (tmp_path / "train.csv").write_text("amount,country,y\n1.0,FR,0\n")
    path = tmp_path / "mlform.yaml"
    path.write_text(SPEC.replace("{MODEL}", UNSEEDED["estimator"][0]))
    code = ("import sys; from mlform.specs import validate_file; found = validate_file(sys.argv[1])[1]; "
            "print(len(found), 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "False"]
