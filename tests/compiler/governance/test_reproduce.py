"""`mlform reproduce`: a committed version retrains to identical predictions; changed data or seeds are caught."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tools.sklearn_reference import split_rows

Cli = Callable[..., Any]


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout


def _applied(spec: Path, run_mlform: Cli, edit: tuple[str, str] | None = None) -> Path:
    """The iris project (with `edit` made to its spec) compiled and committed, then applied for `dev`."""
    root = spec.parent
    if edit is not None:
        text = spec.read_text()
        assert edit[0] in text
        spec.write_text(text.replace(edit[0], edit[1]))
    assert run_mlform("compile", root, "--env", "dev", cwd=root).code == 0  # artifacts committed: a clean tree
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "iris")
    result = run_mlform("apply", root, "--env", "dev", "--yes", cwd=root)
    assert result.code == 0, result.err
    return root


def test_a_seeded_version_reproduces_even_after_the_spec_moved_on(iris_project: Path, run_mlform: Cli) -> None:
    root = _applied(iris_project, run_mlform)
    iris_project.write_text(iris_project.read_text().replace("max_depth: 5", "max_depth: 2"))
    git(root, "commit", "-qam", "shallower")  # the retrain must use the spec at the version's commit

    result = run_mlform("reproduce", root, "iris-classifier@1", "--env", "dev", cwd=root)

    assert result.code == 0, result.err
    assert result.out.startswith("reproduced iris-classifier version 1 (commit ")
    _, test = split_rows(iris_project)  # the version's split: the spec moved on in `max_depth` only
    assert result.out.rstrip().endswith(f": identical predictions on {len(test)} test rows")


def test_changed_data_is_refused(iris_project: Path, run_mlform: Cli) -> None:
    root = _applied(iris_project, run_mlform)
    data = root / "data" / "iris.csv"
    data.write_text(data.read_text().replace("5.1,", "5.2,", 1))

    result = run_mlform("reproduce", root, "iris-classifier@1", "--env", "dev", cwd=root)

    assert result.code == 1
    assert "data `data/iris.csv` changed since the version was trained" in result.err


def test_an_unseeded_forest_does_not_reproduce(iris_project: Path, run_mlform: Cli) -> None:
    root = _applied(iris_project, run_mlform, ("    random_state: 42\n", "    max_features: 1\n"))

    result = run_mlform("reproduce", root, "iris-classifier@1", "--env", "dev", cwd=root)

    assert result.code == 1
    assert "NOT reproduced iris-classifier version 1" in result.err
    assert "largest score difference" in result.err


@pytest.mark.parametrize("ref", ["iris-classifier", "@1"])
def test_a_malformed_reference_is_a_usage_error(iris_project: Path, run_mlform: Cli, ref: str) -> None:
    result = run_mlform("reproduce", ref, cwd=iris_project.parent)
    assert result.code == 1
    assert result.err.splitlines()[-1] == (f"Error: Invalid value for 'MODEL@VERSION': expected MODEL@VERSION, e.g. "
                                           f"`fraud-detector@3`; got `{ref}`")


def test_a_version_holding_a_project_class_reproduces_in_a_new_process(iris_project: Path, run_mlform: Cli) -> None:
    (iris_project.parent / "steps").mkdir()
    (iris_project.parent / "steps" / "prep.py").write_text(
        "from sklearn.base import BaseEstimator, TransformerMixin\n\n\n"
        "class Doubler(BaseEstimator, TransformerMixin):\n"
        "    def fit(self, X, y=None):\n        return self\n\n"
        "    def transform(self, X):\n        return X * 2\n\n\n"
        "def doubler():\n    return Doubler()\n")
    root = _applied(iris_project, run_mlform, ("    random_state: 42\n",
                                               "    random_state: 42\n  preprocessing_function: steps.prep:doubler\n"))
    mlform = Path(sys.executable).with_name("mlform")  # a process that has not imported the project's modules

    done = subprocess.run([mlform, "reproduce", root, "iris-classifier@1", "--env", "dev"], cwd=root,
                          capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("reproduced iris-classifier version 1 (commit ")
