"""Docker target: hadolint finds nothing; the parsed Dockerfiles have the intended structure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tools import LINT, run

from .conftest import Project

TOOLS = Path(__file__).resolve().parents[2] / "tools"
pytestmark = pytest.mark.integration


def dockerfiles(project: Project) -> list[Path]:
    """Every generated Dockerfile."""
    return sorted(p for p in project.root.glob("deploy/*/*/docker/Dockerfile.*") if p.suffix != ".dockerignore")


def parse(paths: list[Path]) -> dict[str, list[list[str]]]:
    """Instructions per file, as `dockerfile-parse` reads them."""
    done = run([LINT.bin("python"), TOOLS / "dockerfile_json.py", *paths])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_hadolint_finds_nothing(compiled: Project) -> None:
    files = dockerfiles(compiled)
    assert len(files) >= 10
    done = run([LINT.bin("hadolint"), "--failure-threshold", "warning", "--format", "json", *files])
    assert (done.returncode, json.loads(done.stdout or "[]")) == (0, []), done.stdout + done.stderr


def test_hadolint_is_not_blind(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    done = run([LINT.bin("hadolint"), "--failure-threshold", "warning", "--format", "json", bad])
    assert done.returncode != 0
    assert {f["code"] for f in json.loads(done.stdout)} >= {"DL3007", "DL3013"}


def test_images_are_multi_stage_pinned_and_non_root(compiled: Project) -> None:
    folder = compiled.root / "deploy/iris/prod/docker"
    parsed = parse([folder / "Dockerfile.train", folder / "Dockerfile.serve"])
    train, serve = parsed[str(folder / "Dockerfile.train")], parsed[str(folder / "Dockerfile.serve")]
    for instructions in (train, serve):
        assert [v for i, v in instructions if i == "FROM"] == ["python:3.11-slim AS build", "python:3.11-slim"]
        assert any(i == "RUN" and "mlform==" in v for i, v in instructions)
        assert [v for i, v in instructions if i == "USER"] == ["10001:10001"]
        assert instructions[-3][0] == "USER" and instructions[-2] == ["ENTRYPOINT", '["mlform"]']
        assert not [i for i, _ in instructions if i == "ARG"]  # nothing, secrets least of all, enters by build arg
    assert json.loads(train[-1][1]) == ["run", "mlform.yaml", "--env", "prod"]
    assert json.loads(serve[-1][1]) == ["serve", "mlform.yaml", "--env", "prod", "--host", "0.0.0.0", "--port", "8080"]
    check = dict(serve)["HEALTHCHECK"]
    probe = json.loads(check.split("CMD", 1)[1])
    assert probe[:2] == ["python3", "-c"] and "http://127.0.0.1:8080/health" in probe[2]
    assert dict(serve)["EXPOSE"] == "8080"


def test_only_the_serving_image_keeps_the_state_folder(compiled: Project) -> None:
    folder = compiled.root / "deploy/iris/prod/docker"
    train = (folder / "Dockerfile.train.dockerignore").read_text().splitlines()
    serve = (folder / "Dockerfile.serve.dockerignore").read_text().splitlines()
    assert ".mlform" in train and ".mlform" not in serve  # the serving image carries the registered model
    assert "**/.env" in train and "**/.env" in serve
