"""A step that cannot do what the spec asks, run as a user runs it: the exact one-line error, exit 1, no traceback,
no version registered and no temp file left."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest


def _refused(mlform: Callable[..., Any], root: Path) -> str:
    """Run the spec in `root`, which must fail; its last line of stderr, once nothing was left half-done."""
    result = mlform("run", ".", cwd=root)
    assert result.code == 1, result
    assert "Traceback" not in result.out + result.err
    assert not (root / ".mlform/registry").exists()
    assert not (root / ".mlform/state").exists()
    assert list(root.rglob("*.tmp")) == []
    return str(result.err.strip().splitlines()[-1])


@pytest.mark.parametrize(("path", "query", "expected"), [
    ("iris.db", "SELECT * FROM flower",
     "`data.sources.train.query`: query failed on SQLite file `iris.db`: no such table: flower"),
    ("iris.db", "SELECT * FROM flowers WHERE",
     '`data.sources.train.query`: query failed on SQLite file `iris.db`: incomplete input'),
    ("iris.db", "SELEC * FROM flowers",
     '`data.sources.train.query`: query failed on SQLite file `iris.db`: near "SELEC": syntax error'),
    ("iris.csv", "SELECT * FROM flowers",
     "`data.sources.train.path`: cannot read SQLite file `iris.csv`: file is not a database"),
    ("gone.db", "SELECT * FROM flowers", "`data.sources.train.path`: SQLite file `gone.db` does not exist"),
], ids=["missing-table", "incomplete-query", "syntax-error", "not-a-database", "missing-file"])
def test_a_failing_sqlite_query_names_the_query_and_a_bad_file_its_path(core_project: Path, mlform, edit_spec,
                                                                          path: str, query: str,
                                                                          expected: str) -> None:
    root = core_project.parent
    with contextlib.closing(sqlite3.connect(root / "iris.db")) as conn:
        pd.read_csv(root / "data/iris.csv").to_sql("flowers", conn, index=False)
    (root / "iris.csv").write_bytes((root / "data/iris.csv").read_bytes())
    edit_spec(core_project, lambda d: d["data"]["sources"].update(
        train={"type": "sqlite", "path": path, "query": query}))

    assert _refused(mlform, root) == f"error: step `ingest.train` failed: {expected}"


def test_a_stratified_split_with_fewer_test_rows_than_classes(core_project: Path, mlform, edit_spec) -> None:
    # 150 rows, test_size 0.01: 2 test rows for 3 species
    edit_spec(core_project, lambda d: d["data"]["split"].update(test_size=0.01))

    assert _refused(mlform, core_project.parent) == (
        "error: step `split` failed: `data.split`: The test_size = 2 should be greater or equal to the number of "
        "classes = 3")


def test_a_split_filter_returning_too_few_booleans(core_project: Path, mlform, edit_spec) -> None:
    root = core_project.parent
    (root / "steps").mkdir()
    (root / "steps/split.py").write_text("def keep(rows):\n    return [True] * 3\n")
    edit_spec(core_project, lambda d: d["data"]["split"].update(filter="steps.split:keep"))

    # 150 rows less the 30 test rows
    assert _refused(mlform, root) == (
        "mlform.yaml:31:13: error: step `split` failed: `data.split.filter: steps.split:keep` must return one "
        "boolean per row (120), got bool of shape (3,)")


def test_an_estimator_whose_constructor_refuses_its_params(core_project: Path, mlform, edit_spec,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    root = core_project.parent
    (root / "house_models.py").write_text(
        "from sklearn.ensemble import RandomForestClassifier\n\n\n"
        "class Forest(RandomForestClassifier):\n"
        "    def __init__(self, n_estimators=100, max_depth=None, random_state=None):\n"
        "        if max_depth is not None and max_depth > 3:\n"
        "            raise ValueError('max_depth above 3 overfits this data')\n"
        "        super().__init__(n_estimators=n_estimators, max_depth=max_depth, random_state=random_state)\n")
    monkeypatch.syspath_prepend(str(root))  # an installed package of the team's estimators
    edit_spec(core_project, lambda d: d["model"].update(estimator="house_models.Forest"))  # iris sets max_depth 5

    assert _refused(mlform, root) == ("error: step `train` failed: `model.estimator`: cannot build "
                                      "`house_models.Forest`: max_depth above 3 overfits this data")


def test_a_preprocessing_function_returning_no_transformer(core_project: Path, mlform, edit_spec) -> None:
    root = _user_model(core_project, edit_spec, "from sklearn.linear_model import LogisticRegression\n\n\n"
                       "def prep():\n    return {'scale': True}\n\n\n"
                       "def est(**params):\n    return LogisticRegression(**params)\n",
                       preprocessing_function="steps.model:prep")

    assert _refused(mlform, root) == (
        "mlform.yaml:68:27: error: step `train` failed: `model.preprocessing_function: steps.model:prep` returned "
        "dict, not a "
        "transformer with `fit` and `transform`")


@pytest.mark.filterwarnings("ignore:Liblinear failed to converge")
def test_a_tuning_candidate_that_cannot_be_fitted(core_project: Path, mlform, edit_spec) -> None:
    # LinearSVC refuses penalty l1 with loss hinge when it fits, not when it is built
    edit_spec(core_project, lambda d: d.update(model={
        "estimator": "sklearn.svm.LinearSVC", "params": {"penalty": "l1", "dual": False},
        "tuning": {"method": "grid", "cv": 3, "params": {"loss": ["squared_hinge", "hinge"]}}}))

    assert _refused(mlform, core_project.parent) == (
        "error: step `train` failed: `model.tuning`: the candidate loss='hinge' cannot be fitted: Unsupported set "
        "of arguments: The combination of penalty='l1' and loss='hinge' is not supported, Parameters: "
        "penalty='l1', loss='hinge', dual=False")


def test_a_pinned_version_missing_from_the_registry_is_not_promoted(core_project: Path, mlform, edit_spec) -> None:
    root = core_project.parent
    edit_spec(core_project, lambda d: d["environments"]["prod"].pop("monitoring"))  # as the base has none
    assert mlform("run", ".", "--env", "prod", cwd=root).code == 0  # registers version 1
    aliases = root / ".mlform/registry/iris-classifier/aliases.json"
    before = aliases.read_bytes()
    edit_spec(core_project, lambda d: d["environments"]["prod"].update(registry={"production": 7}))

    result = mlform("run", ".", "--env", "prod", cwd=root)

    assert (result.code, result.err.strip().splitlines()[-1]) == (1, (
        "error: step `promote` failed: refusing to promote `iris-classifier` version 7 to `production` "
        f"(`registry.production`): version 7 is not in the registry at {root.resolve()}/.mlform/registry "
        "(versions 1..1)"))
    assert "Traceback" not in result.out + result.err
    assert aliases.read_bytes() == before
    assert sorted(p.name for p in (root / ".mlform/registry/iris-classifier/versions").iterdir()) == ["1"]
    assert list(root.rglob("*.tmp")) == []


def _add_column(root: Path, name: str, values: Callable[[int], Any]) -> None:
    """Add a column to the training data, its value of row `i` given by `values(i)`."""
    data = root / "data/iris.csv"
    frame = pd.read_csv(data)
    frame[name] = [values(i) for i in range(len(frame))]
    frame.to_csv(data, index=False)


def test_a_slice_filter_comparing_numbers_with_text(core_project: Path, mlform, edit_spec) -> None:
    edit_spec(core_project, lambda d: d["evaluation"].update(slices={"long": {"filter": "sepal_length > 'a'"}}))

    assert _refused(mlform, core_project.parent) == (
        "error: step `evaluate` failed: `evaluation.slices.long.filter`: cannot compare: Invalid comparison between "
        "dtype=float64 and str")


def test_a_slice_column_with_more_distinct_test_values_than_are_scored(core_project: Path, mlform,
                                                                       edit_spec) -> None:
    root = core_project.parent
    _add_column(root, "uid", lambda i: i)

    def by_uid(doc: dict[str, Any]) -> None:
        doc["data"]["split"]["test_size"] = 0.8  # 120 test rows, each its own `uid`
        doc["evaluation"]["slices"] = {"by_uid": {"column": "uid"}}

    edit_spec(core_project, by_uid)

    assert _refused(mlform, root) == (
        "error: step `evaluate` failed: `evaluation.slices.by_uid.column`: column `uid` has 120 distinct values in "
        "the test rows (at most 100 are scored one by one); slice it with a `filter` instead")


def test_staleness_windows_beyond_the_rows_with_a_time(core_project: Path, mlform, edit_spec) -> None:
    root = core_project.parent
    _add_column(root, "ts", lambda i: float(i) if i < 40 else None)  # 40 rows with a time
    edit_spec(core_project, lambda d: d["evaluation"].update(
        staleness={"time_column": "ts", "windows": 25, "max_decay": {"accuracy": 0.05}}))

    assert _refused(mlform, root) == ("error: step `evaluate` failed: `evaluation.staleness.windows`: 40 rows with "
                                      "a time cannot make 25 windows")


def test_a_user_module_raising_while_it_is_imported(core_project: Path, mlform, edit_spec) -> None:
    root = _user_model(core_project, edit_spec, "import math\n\nLIMIT = math.sqrt(-1)\n\n\n"
                       "def est(**params):\n    from sklearn.linear_model import LogisticRegression\n"
                       "    return LogisticRegression(**params)\n")

    assert _refused(mlform, root) == (
        "mlform.yaml:67:23: error: step `train` failed: `model.estimator_function: steps.model:est`: cannot import "
        "`steps.model`: "
        "ValueError: math domain error (at steps/model.py:3)")


def _estimator_function(doc: dict[str, Any]) -> None:
    doc["model"] = {"estimator_function": "steps.user:make", "task": "classification"}


def _custom_metric(doc: dict[str, Any]) -> None:
    doc["evaluation"]["custom_metrics"] = [{"name": "label", "function": "steps.user:make", "greater_is_better": True}]
    doc["evaluation"]["metrics"].append("label")


def _loader(doc: dict[str, Any]) -> None:
    doc["data"]["sources"]["train"] = {"type": "python", "function": "steps.user:make"}


@pytest.mark.parametrize(("code", "change", "message"), [
    ("def make(**params):\n    return 'forest'\n", _estimator_function,
     "mlform.yaml:67:23: error: step `train` failed: `model.estimator_function: steps.user:make` returned str, "
     "not an estimator with `fit` and `predict`"),
    ("from sklearn.linear_model import Ridge\n\n\ndef make(**params):\n    return Ridge()\n", _estimator_function,
     "mlform.yaml:67:23: error: step `train` failed: `model.estimator_function: steps.user:make` returned a "
     "regression estimator (`Ridge`), but `model.task` is classification"),
    ("def make(y_true, y_pred):\n    return 'good'\n", _custom_metric,
     "mlform.yaml:87:15: error: step `evaluate` failed: `evaluation.custom_metrics.0.function: steps.user:make` "
     "returned str, not a number"),
    ("def make():\n    return [[1, 2]]\n", _loader,
     "mlform.yaml:16:17: error: step `ingest.train` failed: `data.sources.train.function: steps.user:make` "
     "returned list, not a pandas DataFrame"),
    ("from sklearn.tree import DecisionTreeClassifier\n\n\ndef make(**params):\n    return DecisionTreeClassifier\n",
     _estimator_function,
     "mlform.yaml:67:23: error: step `train` failed: `model.estimator_function: steps.user:make` returned the class "
     "`DecisionTreeClassifier` (call it: `DecisionTreeClassifier(...)`), not an estimator with `fit` and `predict`"),
], ids=["estimator-not-one", "estimator-of-another-task", "metric-not-a-number", "loader-not-a-frame",
        "estimator-class-not-instance"])
def test_a_user_function_returning_the_wrong_thing(core_project: Path, mlform, edit_spec, code: str,
                                                   change: Callable[[dict[str, Any]], None], message: str) -> None:
    root = core_project.parent
    (root / "steps").mkdir()
    (root / "steps/user.py").write_text(code)
    edit_spec(core_project, change)

    assert _refused(mlform, root) == message


def test_a_baseline_whose_constructor_refuses_its_params(core_project: Path, mlform, edit_spec,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    root = core_project.parent
    (root / "house_baselines.py").write_text(
        "from sklearn.dummy import DummyClassifier\n\n\n"
        "class Prior(DummyClassifier):\n"
        "    def __init__(self, strategy='prior'):\n"
        "        if strategy != 'prior':\n"
        "            raise ValueError('only the prior is a fair baseline here')\n"
        "        super().__init__(strategy=strategy)\n")
    monkeypatch.syspath_prepend(str(root))  # an installed package of the team's baselines
    edit_spec(core_project, lambda d: d["evaluation"].update(
        baseline={"estimator": "house_baselines.Prior", "params": {"strategy": "uniform"}}))

    assert _refused(mlform, root) == ("error: step `evaluate` failed: `evaluation.baseline`: cannot build "
                                      "`house_baselines.Prior`: only the prior is a fair baseline here")


def test_tuning_on_a_metric_every_candidate_scores_nan(core_project: Path, mlform, edit_spec) -> None:
    root = core_project.parent
    (root / "steps").mkdir()
    (root / "steps/metrics.py").write_text("def undefined(y_true, y_pred):\n    return float('nan')\n")

    def tune_on_undefined(doc: dict[str, Any]) -> None:
        doc["evaluation"]["custom_metrics"] = [
            {"name": "undefined", "function": "steps.metrics:undefined", "greater_is_better": True}]
        doc["evaluation"]["metrics"].append("undefined")
        doc["model"]["tuning"] = {"method": "grid", "cv": 2, "metric": "undefined", "params": {"max_depth": [2, 3]}}

    edit_spec(core_project, tune_on_undefined)

    assert _refused(mlform, root) == ("error: step `train` failed: `model.tuning`: every candidate scored NaN on "
                                      "`undefined`")


def _user_model(core_project: Path, edit_spec: Any, source: str, **model: str) -> Path:
    """Write `source` as the project's `steps/model.py` and train `steps.model:est` from it; the project folder."""
    root = core_project.parent
    (root / "steps").mkdir()
    (root / "steps/model.py").write_text(source)
    edit_spec(core_project, lambda d: d.update(model={
        "estimator_function": "steps.model:est", **model, "task": "classification", "params": {"max_iter": 500}}))
    return root
