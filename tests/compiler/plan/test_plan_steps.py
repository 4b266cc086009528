"""Step changes in plans: a cached step whose recorded fingerprint is another one is a change apply records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_plan_apply import mlform


@pytest.fixture
def project(iris_project: Path) -> Path:
    """The iris example as its own project root (a git repo)."""
    root = iris_project.parent
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _apply(project: Path) -> None:
    result = mlform(project, "apply", ".", "--env", "dev", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr


def _plan(project: Path) -> dict[str, Any]:
    result = mlform(project, "plan", ".", "--env", "dev", "--format", "json")
    assert result.returncode == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)["plans"][0]
    return plan


def test_reverting_to_cached_outputs_updates_the_state_without_running(project: Path) -> None:
    spec = project / "mlform.yaml"
    original = spec.read_text()
    _apply(project)
    spec.write_text(original.replace("n_estimators: 20", "n_estimators: 25"))
    _apply(project)
    spec.write_text(original)
    plan = _plan(project)
    steps = {c["address"]: c for c in plan["changes"] if c["kind"] == "step"}
    changed = {a: c["action"] for a, c in steps.items() if c["action"] != "noop"}
    assert changed == dict.fromkeys(["train", "evaluate", "register", "serve", "monitor"], "update")
    train = steps["train"]
    assert (train["action"], train["reason"]) == ("update", "record the cached output: state holds another fingerprint")
    assert train["before"] != train["after"]
    assert plan["summary"].endswith("; 0 steps to run.")
    _apply(project)
    state = json.loads((project / ".mlform" / "state" / "iris.dev.json").read_text())
    assert {k: v["fingerprint"] for k, v in state["steps"].items()} == {a: c["after"] for a, c in steps.items()}
    assert _plan(project)["summary"] == "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run."
