"""The PR workflow fits the pipeline on a sample; the apply workflow follows `governance.apply_from`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from .conftest import Project

SMOKE = 'mlform validate "$MLFORM_SPEC" --env "$MLFORM_ENV" --smoke\n'


def _steps(project: Project, name: str) -> list[str]:
    doc = yaml.safe_load((project.root / ".github" / "workflows" / name).read_text())
    return [step.get("run", "") for step in doc["jobs"]["check"]["steps"]]


def _governed(doc: dict[str, Any]) -> None:
    doc["environments"]["prod"]["governance"] = {"apply_from": ["release"], "require_clean_tree": True}


def _sql_training(doc: dict[str, Any]) -> None:
    doc["secrets"] = {"db": {"env": "DB_URL", "kubernetes": {"secret": "db", "key": "url"}}}
    doc["data"]["sources"]["train"] = {"type": "sql", "url": {"secret": "db"}, "table": "iris"}


def test_the_pr_workflow_smoke_tests_unless_training_data_needs_a_secret(
        project: Project, cli: Callable[..., Any]) -> None:
    project.spec("iris")
    project.spec("warehouse", edit=_sql_training)
    result = cli("compile", project.root / "models", "--env", "dev", cwd=project.root)
    assert result.code == 0, result.err
    assert SMOKE in _steps(project, "mlform-iris-dev-pr.yml")
    assert SMOKE not in _steps(project, "mlform-warehouse-dev-pr.yml")


def test_the_apply_workflow_runs_on_the_governed_branches(project: Project, cli: Callable[..., Any]) -> None:
    project.spec("iris", edit=_governed)
    assert cli("compile", project.root / "models", cwd=project.root).code == 0
    workflows = project.root / ".github" / "workflows"
    prod = yaml.safe_load((workflows / "mlform-iris-prod-apply.yml").read_text())
    dev = yaml.safe_load((workflows / "mlform-iris-dev-apply.yml").read_text())
    assert prod["on"]["push"]["branches"] == ["release"]
    assert dev["on"]["push"]["branches"] == ["main"]
