"""The PR workflow fits the pipeline on a sample; the apply workflow follows `governance.apply_from`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from mlform.specs import validate_file
from mlform.specs.check.readiness import assess

from .conftest import Edit, Project

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


def _only_sql_source(doc: dict[str, Any]) -> None:
    _sql_training(doc)
    doc["data"]["sources"] = {"train": doc["data"]["sources"]["train"]}
    del doc["data"]["train_source"]
    doc["monitoring"] = None


def _pii(salted: bool) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc["data"]["pii"] = {"columns": [], "action": "hash"}
        if salted:
            doc["secrets"] = {"salt": {"env": "PII_SALT", "kubernetes": {"secret": "pii", "key": "salt"}}}
            doc["data"]["pii"]["salt"] = {"secret": "salt"}
    return edit


@pytest.mark.parametrize(("edit", "smoked"), [
    (None, True), (_sql_training, False), (_only_sql_source, False), (_pii(salted=False), True),
    (_pii(salted=True), False)], ids=["csv", "sql", "sql-as-only-source", "pii-hash", "pii-salted-hash"])
def test_readiness_and_the_pr_workflow_agree_on_the_smoke_test(
        project: Project, cli: Callable[..., Any], edit: Edit | None, smoked: bool) -> None:
    path = project.spec("iris", edit=edit)
    assert cli("compile", path, "--env", "dev", cwd=project.root).code == 0
    assert (SMOKE in _steps(project, "mlform-iris-dev-pr.yml")) is smoked
    (spec,), diagnostics = validate_file(path, ["dev"])
    assert not [d for d in diagnostics if d.severity == "error"]
    i2 = next(f for f in assess(spec).findings if f.id == "I2")
    assert i2.status == ("enforced" if smoked else "partial")


def test_the_apply_workflow_runs_on_the_governed_branches(project: Project, cli: Callable[..., Any]) -> None:
    project.spec("iris", edit=_governed)
    assert cli("compile", project.root / "models", cwd=project.root).code == 0
    workflows = project.root / ".github" / "workflows"
    prod = yaml.safe_load((workflows / "mlform-iris-prod-apply.yml").read_text())
    dev = yaml.safe_load((workflows / "mlform-iris-dev-apply.yml").read_text())
    assert prod["on"]["push"]["branches"] == ["release"]
    assert dev["on"]["push"]["branches"] == ["main"]
