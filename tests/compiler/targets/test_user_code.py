"""A spec that runs user code: its images carry the step modules, and the DAG and Jobs run them from the image."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import yaml

from .conftest import Project

MODULE = "def estimator(max_depth=None):\n    from sklearn.tree import DecisionTreeClassifier\n\n" \
         "    return DecisionTreeClassifier(max_depth=max_depth)\n"


def _hooks(doc: dict[str, Any]) -> None:
    doc["model"] = {"estimator_function": "steps.train:estimator", "params": {"max_depth": 3},
                    "task": "classification"}
    doc["targets"]["airflow"]["operator"] = "kubernetes"


def _ignored(patterns: list[str], path: str) -> bool:
    """Whether a .dockerignore (no `!` rules in ours) keeps `path` out; `**/` matches any folder depth."""
    rules = [p for p in patterns if p and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, rule) or fnmatch.fnmatch(path, rule.removeprefix("**/"))
               or path.startswith(rule.rstrip("/") + "/") for rule in rules)


def test_images_dag_and_jobs_carry_the_user_modules(project: Project) -> None:
    from mlform.compiler.artifacts.output import compile_specs, write
    from mlform.specs import discover, validate_file

    spec = project.spec("hooks", edit=_hooks)
    (spec.parent / "steps").mkdir()
    (spec.parent / "steps" / "train.py").write_text(MODULE)
    assert [d for d in validate_file(spec)[1] if d.severity == "error"] == []
    write(compile_specs(discover([project.root / "models"]), "prod", None, cwd=project.root))
    docker = project.root / "deploy/hooks/prod/docker"
    train = (docker / "Dockerfile.train").read_text()
    assert "COPY --chown=10001:10001 . /app/" in train  # the whole spec folder is the build context
    for image in ("Dockerfile.train", "Dockerfile.serve"):
        ignore = (docker / f"{image}.dockerignore").read_text().splitlines()
        assert not _ignored(ignore, "steps/train.py"), image
        assert _ignored(ignore, "steps/__pycache__/train.cpython-311.pyc")  # the check can fail
    dag = next((project.root / "deploy/hooks/prod/airflow").glob("*.py")).read_text()
    assert '"--step", "train"' in dag or "'--step', 'train'" in dag
    jobs = [yaml.safe_load(p.read_text()) for p in (project.root / "deploy/hooks/prod/kubernetes").glob("*.yaml")]
    job = next(j for j in jobs if j and j.get("kind") == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "run" and Path(container["args"][1]).name == "mlform.yaml"
