"""The docker target's files as rendered (no engine): which images a spec gets, what each build context keeps out,
the serving image's health check and library pins."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Edit, Project, shared_backends

PROBE = ('  CMD ["python3", "-c", "import urllib.request; '
         "urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)\"]")


def _docker_files(project: Project, edit: Edit | None = None, env: str = "prod") -> dict[str, list[str]]:
    """File name -> lines of the docker target's files for the iris spec edited by `edit`."""
    from mlform.compiler.artifacts.output import compile_specs
    from mlform.specs import discover

    project.spec("iris", edit=edit)
    build = compile_specs(discover([project.root / "models"]), env, None, ["docker"],
                          cwd=project.root)
    folder = f"deploy/iris/{env}/docker/"
    return {path.removeprefix(folder): text.splitlines() for path, text in build.files.items()
            if path.startswith(folder)}


def test_an_online_spec_gets_both_images_and_only_the_serving_one_keeps_the_state(project: Project) -> None:
    files = _docker_files(project)
    assert sorted(files) == ["Dockerfile.serve", "Dockerfile.serve.dockerignore", "Dockerfile.train",
                             "Dockerfile.train.dockerignore"]
    assert ".mlform" in files["Dockerfile.train.dockerignore"]  # training writes its own state
    assert ".mlform" not in files["Dockerfile.serve.dockerignore"]  # the server reads the registered model
    assert PROBE in files["Dockerfile.serve"]
    assert "COPY . /opt/mlform-spec/" in files["Dockerfile.serve"]


def test_with_a_shared_backend_no_image_keeps_the_state_and_the_pins_come_from_a_file(project: Project) -> None:
    files = _docker_files(project, shared_backends)
    assert ".mlform" in files["Dockerfile.train.dockerignore"]
    assert ".mlform" in files["Dockerfile.serve.dockerignore"]
    assert 'COPY ["mlform-pins-prod.txt", "/opt/mlform-pins.txt"]' in files["Dockerfile.serve"]


def _batch(doc: dict[str, Any]) -> None:
    doc["serving"] = {"mode": "batch"}
    doc["environments"]["prod"].pop("serving", None)


def _no_docker(doc: dict[str, Any]) -> None:
    del doc["targets"]["docker"]
    for overlay in doc["environments"].values():
        overlay.get("targets", {}).pop("docker", None)


@pytest.mark.parametrize(("edit", "names"), [
    (_batch, ["Dockerfile.train", "Dockerfile.train.dockerignore"]),
    (_no_docker, []),
])
def test_only_an_online_spec_gets_a_serving_image_and_only_a_docker_spec_any(project: Project, edit: Edit,
                                                                            names: list[str]) -> None:
    assert sorted(_docker_files(project, edit)) == names
