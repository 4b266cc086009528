"""A failing step names itself, the spec key it is built from and the cause in words; never a bare traceback."""

from __future__ import annotations

import sqlite3
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: {name}
data:
  sources:
    train: {{type: csv, path: {name}.csv}}
  target: {target}
  features: [{features}]
  split: {{method: random, test_size: 0.25, seed: 1}}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {{max_iter: 2000}}
evaluation:
  metrics: [accuracy]
registry:
  model_name: {name}
"""


def _project(root: Path, name: str, frame: Any, target: str, features: list[str]) -> Path:
    """A folder with `<name>.csv` (from a scikit-learn dataset) and a spec training on it."""
    folder = root / name
    folder.mkdir()
    frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "mlform.yaml").write_text(SPEC.format(name=name, target=target, features=", ".join(features)))
    return folder


@pytest.fixture
def wine(tmp_path: Path) -> Path:
    """A wine classifier project: the target is the cultivar class."""
    from sklearn.datasets import load_wine

    return _project(tmp_path, "wine", load_wine(as_frame=True).frame, "target", ["alcohol", "flavanoids", "hue"])


@pytest.fixture
def wine_query(wine: Path) -> Path:
    """The wine project reading a sqlite query: validate checks file headers, never a query's columns."""
    import pandas as pd

    with sqlite3.connect(wine / "wine.db") as conn:
        pd.read_csv(wine / "wine.csv").to_sql("wine", conn, index=False)
    spec = wine / "mlform.yaml"
    spec.write_text(spec.read_text().replace("{type: csv, path: wine.csv}",
                                             '{type: sqlite, path: wine.db, query: "SELECT * FROM wine"}'))
    return wine


def _rename_column(database: Path, old: str, new: str) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute(f"ALTER TABLE wine RENAME COLUMN {old} TO {new}")


def _failed(mlform: Callable[..., Any], *args: object) -> str:
    """Run a command that must fail; its stderr, checked to hold no traceback."""
    result = mlform(*args)
    assert result.code == 1, result
    assert "Traceback" not in result.err + result.out
    return str(result.err)


def test_a_column_gone_since_validate_is_named_with_its_key_and_source(wine_query: Path, mlform) -> None:
    assert mlform("validate", wine_query).code == 0
    _rename_column(wine_query / "wine.db", "flavanoids", "flavonoids")

    err = _failed(mlform, "run", wine_query)

    assert err == ("error: step `train` failed: `data.features`: column `flavanoids` is not in the data of source "
                   "`train`; did you mean `flavonoids`?\n")


def test_a_classifier_on_a_continuous_target_names_the_estimator_and_hints(tmp_path: Path, mlform) -> None:
    from sklearn.datasets import load_diabetes

    project = _project(tmp_path, "diabetes", load_diabetes(as_frame=True).frame, "bmi", ["age", "sex", "bp", "s1"])
    assert mlform("validate", project).code == 0

    err = _failed(mlform, "run", project)

    assert err == (
        "error: step `train` failed: `model.estimator: sklearn.linear_model.LogisticRegression`: fit raised "
        "ValueError: Unknown label type: continuous. Maybe you are trying to fit a classifier, which expects "
        "discrete classes on a regression target with continuous values. Hint: `data.target: bmi` holds "
        "continuous values, and a classifier needs class labels: use a regressor "
        "(e.g. `sklearn.ensemble.RandomForestRegressor`), or a target of classes\n")


def test_a_corrupt_csv_names_the_source_key(wine: Path, mlform) -> None:
    (wine / "wine.csv").write_text('target,alcohol,flavanoids,hue\n1.0,2.0,3.0\n')

    err = _failed(mlform, "run", wine)

    assert err == ("error: step `ingest.train` failed: `data.sources.train.path`: cannot read `wine.csv`: "
                   "CSV parse error: Expected 4 columns, got 3: 1.0,2.0,3.0\n")


@pytest.mark.parametrize("switch", [("--debug",), ()])
def test_debug_shows_the_traceback_of_the_cause(wine_query: Path, mlform, monkeypatch: pytest.MonkeyPatch,
                                                switch: tuple[str, ...]) -> None:
    if not switch:
        monkeypatch.setenv("MLFORM_DEBUG", "1")
    _rename_column(wine_query / "wine.db", "flavanoids", "flavonoids")

    result = mlform(*switch, "run", wine_query)

    assert result.code == 1
    assert result.err.startswith("Traceback (most recent call last):")
    assert "KeyError: \"['flavanoids'] not in index\"" in result.err
    assert result.err.endswith("error: step `train` failed: `data.features`: column `flavanoids` is not in the "
                               "data of source `train`; did you mean `flavonoids`?\n")


@click.command()
def _broken() -> None:
    """A command with a bug."""
    {}["missing"]  # noqa: B018


@pytest.fixture
def broken_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlform broken`: a command that raises KeyError, as a bug in any command would."""
    from mlform.compiler.cli import COMMANDS

    module = types.ModuleType("mlform_broken_command")
    module.broken = _broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(COMMANDS, "broken", (f"{module.__name__}:broken", "A command with a bug."))


def test_an_unexpected_exception_in_any_command_is_one_line(broken_command: None, mlform) -> None:
    err = _failed(mlform, "broken")

    assert err == "error: internal error in mlform: KeyError: 'missing' (run with --debug for the traceback)\n"


def test_an_unexpected_exception_with_debug_shows_the_traceback(broken_command: None, mlform) -> None:
    result = mlform("--debug", "broken")

    assert result.code == 1
    assert result.err.startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in result.err


def test_text_from_a_hashed_pii_feature_names_the_column_and_data_pii() -> None:
    from mlform.runtime.run.failures import describe_failure
    from mlform.specs.model.pipeline import Pipeline

    pipeline = Pipeline.model_validate({
        "apiVersion": "mlform/v1", "kind": "Pipeline", "metadata": {"name": "loans"},
        "data": {"sources": {"train": {"type": "csv", "path": "train.csv"}}, "target": "y",
                 "features": ["age", "income"],
                 "pii": {"columns": ["age"], "action": "hash", "allow_as_feature": ["age"]}},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
        "evaluation": {"metrics": ["accuracy"]}, "registry": {"model_name": "loans"}})
    said = describe_failure("train", "train", pipeline, {}, ValueError("could not convert string to float: 'ab12'"))
    assert said.endswith("Hint: `age` is hashed by `data.pii` (`action: hash`), so the model gets text, whatever "
                         "the column held: encode it in `model.preprocessing` (e.g. "
                         "`sklearn.preprocessing.OneHotEncoder` with `handle_unknown: ignore`), or drop it from "
                         "`data.features`")
