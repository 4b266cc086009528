"""Builders for target tests: a project (a folder with `.git`) holding specs, and the compile CLI."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
Edit = Callable[[dict[str, Any]], None]


def full_featured(doc: dict[str, Any]) -> None:
    """Every target option at once: secrets, server env, KServe, pod tasks, retraining on breach."""
    doc["secrets"] = {
        "tracking_uri": {"env": "MLFLOW_TRACKING_URI", "kubernetes": {"secret": "mlflow", "key": "uri"}},
        "api_token": {"env": "API_TOKEN", "kubernetes": {"secret": "serving-token", "key": "token"}},
    }
    doc["tracking"] = {"backend": "mlflow", "uri": {"secret": "tracking_uri"}}
    doc["serving"]["env"] = {"API_TOKEN": {"secret": "api_token"}}
    doc["targets"]["airflow"]["operator"] = "kubernetes"
    doc["targets"]["kubernetes"].update(serving="kserve", image_pull_secret="regcred")
    doc["monitoring"]["on_breach"] = "retrain"


def watching(doc: dict[str, Any]) -> None:
    """Monitoring that opens a retraining pull request, reads the server's health and posts breaches."""
    doc["secrets"] = {"hook": {"env": "MONITOR_WEBHOOK", "kubernetes": {"secret": "monitor-hook", "key": "url"}}}
    doc["monitoring"].update(on_breach="pull_request", notify={"webhook": {"secret": "hook"}}, max_model_age="30d",
                             serving={"url": "http://iris.ml-dev.svc:8080", "p99_ms": {"max": 250}})
    doc["environments"]["prod"]["monitoring"]["on_breach"] = "pull_request"


ROLE = "arn:aws:iam::123456789012:role/iris-ci"
READ_ROLE = "arn:aws:iam::123456789012:role/iris-ui-read"


def shared_backends(doc: dict[str, Any]) -> None:
    """Teams' state: postgres in prod (with the web UI on a read-only database role), s3 with AWS keys in dev, s3
    with IAM roles (OIDC, IRSA) and pods in staging (with the web UI on a read-only IAM role); the server logs sampled
    requests to it."""
    doc["serving"]["log"] = {"sample": 0.1, "sink": "backend"}
    doc["secrets"] = {"state_url": {"env": "IRIS_STATE_URL", "kubernetes": {"secret": "iris-state", "key": "url"}},
                      "state_read": {"env": "IRIS_STATE_READ_URL",
                                     "kubernetes": {"secret": "iris-state-read", "key": "url"}}}
    doc["state"] = {"backend": {"kind": "local"}}
    doc["environments"]["prod"]["state"] = {"backend": {"kind": "postgres", "url": {"secret": "state_url"}}}
    doc["environments"]["prod"]["targets"]["kubernetes"]["ui"] = {"enabled": True,
                                                                  "state_url": {"secret": "state_read"}}
    doc["environments"]["dev"]["state"] = {"backend": {"kind": "s3", "bucket": "ml-state", "prefix": "teams/iris"}}
    doc["environments"]["staging"] = {
        "state": {"backend": {"kind": "s3", "bucket": "ml-state"}},
        "targets": {"github_actions": {"aws_role": ROLE, "aws_region": "eu-west-1"},
                    "kubernetes": {"aws_role": ROLE, "serving": "kserve",
                                   "ui": {"enabled": True, "aws_role": READ_ROLE}},
                    "airflow": {"operator": "kubernetes"}}}


class Project:
    """A project root with specs under `models/<name>/`, copied from the iris example and edited."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / ".git").mkdir(parents=True, exist_ok=True)

    def spec(self, name: str = "iris", edit: Edit | None = None, source: Path = EXAMPLES / "iris") -> Path:
        """Add a spec named `name` (its `metadata.name` too), edited by `edit`; return its path."""
        folder = self.root / "models" / name
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns(".mlform", "__pycache__"), dirs_exist_ok=True)
        path = folder / "mlform.yaml"
        doc = yaml.safe_load(path.read_text())
        doc["metadata"]["name"] = name
        if edit is not None:
            edit(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        return path

    def declared(self, target: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(name, environment, spec document) of every environment of every spec whose YAML has `target`: what the
        specs ask for, read without mlform."""
        found = []
        for path in sorted((self.root / "models").glob("*/mlform.yaml")):
            doc = yaml.safe_load(path.read_text())
            if target in doc["targets"]:
                found += [(doc["metadata"]["name"], env, doc) for env in doc["environments"]]
        return found

    def files(self, under: str = ".") -> dict[str, bytes]:
        """Every generated file under `under` (relative to the root), by relative path."""
        base = self.root / under
        skip = ("models/", ".git/")
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*"))
                if p.is_file() and not p.relative_to(self.root).as_posix().startswith(skip)}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project in a temporary folder."""
    return Project(tmp_path / "repo")


@pytest.fixture
def cli(run_mlform: Callable[..., tuple[int, str, str]]) -> Callable[..., tuple[int, str, str]]:
    """Run `mlform ARGS` in-process from `cwd`; return (exit code, stdout, stderr)."""
    return run_mlform


@pytest.fixture(scope="package")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Every example, plus iris with every option, compiled for every environment into one project."""
    from mlform.compiler.artifacts.output import compile_specs, write
    from mlform.specs import discover

    project = Project(tmp_path_factory.mktemp("compiled") / "repo")
    project.spec("iris")
    project.spec("full", edit=full_featured)
    project.spec("team", edit=shared_backends)
    project.spec("watch", edit=watching)
    for example in sorted(EXAMPLES.glob("*/mlform.yaml")):
        if example.parent.name != "iris":
            project.spec(example.parent.name, source=example.parent)
    write(compile_specs(discover([project.root / "models"]), None, None, cwd=project.root))
    return project
