"""The generated Dockerfiles build and run on a real Docker engine: `mlform build` builds the iris images,
the training image runs the pipeline as a non-root user, and the serving image answers `/health`, `/ready`
and `/predict` (also on a read-only root filesystem), turns healthy, and holds no secret.

The engine is a private dockerd (tests/tools/docker_engine.py); the base image is Debian made with
debootstrap, with pip pointed at a wheelhouse holding this working tree's mlform (tests/tools/docker_images.py).
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tools import docker_engine, docker_images, run
from tools.server import free_port

from mlform.compiler.artifacts.common import UID
from mlform.compiler.artifacts.output import compile_specs, write
from mlform.runtime.registry.models import Registry

from .conftest import EXAMPLES, Project

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

pytestmark = pytest.mark.integration

MLFORM = Path(sys.executable).with_name("mlform")
REPOSITORY = "mlform-e2e/iris"
SECRET = f"s3cr3t-{secrets.token_hex(12)}"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="session")
def base_image(engine: docker_engine.Engine) -> str:
    """The test Python image whose pip installs this working tree's mlform; older generations pruned."""
    tag = docker_images.python_image(engine.client)
    docker_images.prune(engine.client, tag)
    return tag


def mlform_build(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`mlform build ARGS` against the private engine, with a secret in its environment."""
    env = {**os.environ, "DOCKER_HOST": docker_engine.HOST, "API_TOKEN": SECRET}
    return run([MLFORM, "build", *args], cwd=cwd, env=env, timeout=1800)


def iris_rows() -> list[dict[str, str]]:
    """The rows of the iris example's training data."""
    with (EXAMPLES / "iris" / "data" / "iris.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def http(port: int, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a GET, or a POST of `body`, to the server on loopback."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_serving(container: Container, port: int, timeout: float = 90) -> None:
    """Wait until the server answers `/health`; fail with its logs if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status != "running":
            pytest.fail(f"the serving container stopped:\n{container.logs().decode()[-4000:]}")
        try:
            if http(port, "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the server did not answer in {timeout:.0f} s:\n{container.logs().decode()[-4000:]}")


def files_in(client: DockerClient, image: str, folder: str) -> set[str]:
    """The paths under `folder` in `image`, relative to it, read without starting a container."""
    container = client.containers.create(image)
    try:
        chunks, _ = container.get_archive(folder)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            return {name.partition("/")[2] for name in archive.getnames() if "/" in name}
    finally:
        container.remove()


def e2e_spec(doc: dict[str, Any], base: str, port: int) -> None:
    """Point the iris spec at the test base image and a free port, and give its server a secret."""
    doc["targets"] = {"docker": {"image": REPOSITORY, "base_image": base}}
    doc["serving"]["port"] = port
    doc["secrets"] = {"api_token": {"env": "API_TOKEN", "kubernetes": {"secret": "serving-token", "key": "token"}}}
    doc["serving"]["env"] = {"API_TOKEN": {"secret": "api_token"}}


@dataclass
class Built:
    """The iris project, its images, the output of `mlform build` and the training container's log."""

    project: Project
    spec: Path
    port: int
    train: str
    serve: str
    build_out: str
    build_err: str
    train_log: str


@pytest.fixture(scope="module")
def built(engine: docker_engine.Engine, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Compile iris for `dev`, build the training image, train in it (state on a volume, as a pod would),
    then build the serving image, which carries the registered model; both with `mlform build`."""
    client = engine.client
    project = Project(tmp_path_factory.mktemp("e2e") / "repo")
    port = free_port()
    spec = project.spec("iris", edit=lambda doc: e2e_spec(doc, base_image, port))
    (spec.parent / ".env").write_text(f"API_TOKEN={SECRET}\n")  # a developer's local secrets: never in an image
    write(compile_specs([spec], "dev", None, ["docker"], cwd=project.root))
    train = mlform_build(spec, "--env", "dev", "--kind", "train", "--network", "host", cwd=project.root)
    assert train.returncode == 0, train.stderr[-6000:]
    train_tag = train.stdout.split()[1]
    state = spec.parent / ".mlform"
    state.mkdir()
    os.chown(state, UID, UID)
    container = client.containers.run(train_tag, detach=True, network_mode="none",
                                      volumes={str(state): {"bind": "/app/.mlform", "mode": "rw"}})
    try:
        status = container.wait(timeout=900)["StatusCode"]
        train_log = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status == 0, train_log[-4000:]
    serve = mlform_build(spec, "--env", "dev", "--kind", "serve", "--network", "host", cwd=project.root)
    assert serve.returncode == 0, serve.stderr[-6000:]
    result = Built(project, spec, port, train_tag, serve.stdout.split()[1], train.stdout + serve.stdout,
                   train.stderr + serve.stderr, train_log)
    yield result
    docker_images.retire(client, REPOSITORY, [result.train, result.serve])  # kept: the next session's cache


@pytest.fixture(scope="module")
def server(engine: docker_engine.Engine, built: Built) -> Iterator[Container]:
    """The serving image running on the host network, its health checked every second."""
    container = engine.client.containers.run(built.serve, detach=True, network_mode="host",
                                             environment={"API_TOKEN": SECRET},
                                             healthcheck={"interval": 1_000_000_000, "start_period": 60_000_000_000})
    try:
        wait_serving(container, built.port)
        yield container
    finally:
        container.remove(force=True)


def test_build_streams_steps_and_tags_images_by_spec_digest(engine: docker_engine.Engine, built: Built) -> None:
    header = (built.project.root / "deploy/iris/dev/docker/Dockerfile.train").read_text()
    digest = next(line for line in header.splitlines() if line.startswith("# spec digest: sha256:")).rsplit(":", 1)[1]
    assert built.train == f"{REPOSITORY}:train-dev-{digest[:12]}"
    assert built.serve == f"{REPOSITORY}:serve-dev-{digest[:12]}"
    for tag in (built.train, built.serve):
        assert engine.client.images.get(tag).labels["dev.mlform.spec-digest"] == digest
    assert "Step 1/" in built.build_err and "FROM mlform-test-python:" in built.build_err
    assert [line.split()[:2] for line in built.build_out.splitlines()] == [["built", built.train],
                                                                          ["built", built.serve]]


def test_training_image_runs_the_pipeline_as_non_root(built: Built) -> None:
    assert "registered `iris-classifier` version 1, promoted to `staging`" in built.train_log
    state = built.spec.parent / ".mlform"
    model = Registry(state / "registry").resolve("iris-classifier", "staging", "dev")
    assert model.version == 1 and model.metrics["accuracy"] >= 0.9
    assert {path.stat().st_uid for path in state.rglob("*")} == {UID}


def test_only_the_serving_image_holds_the_state_and_no_image_the_env_file(engine: docker_engine.Engine,
                                                                          built: Built) -> None:
    train, serve = (files_in(engine.client, tag, "/app") for tag in (built.train, built.serve))
    assert {"mlform.yaml", "data/iris.csv"} <= train & serve
    assert not [p for p in train if p.startswith(".mlform/")]
    assert any(p.startswith(".mlform/registry/iris-classifier/versions/1/") for p in serve)
    assert not {".env", ".dockerignore"} & (train | serve)


def test_no_secret_in_history_config_or_files(engine: docker_engine.Engine, built: Built) -> None:
    client = engine.client
    for tag in (built.train, built.serve):
        image = client.images.get(tag)
        assert SECRET not in json.dumps(image.attrs) + json.dumps(image.history())
        assert not image.attrs["Config"].get("Env") or all("API_TOKEN" not in e for e in image.attrs["Config"]["Env"])
        container = client.containers.run(tag, entrypoint=["grep", "-rlF", SECRET, "/app", "/etc", "/opt"],
                                          command=[], user="0", detach=True, network_mode="none")
        try:
            status, found = container.wait(timeout=120)["StatusCode"], container.logs().decode()
        finally:
            container.remove(force=True)
        assert (status, found) == (1, ""), found  # grep exits 1 when no file holds the secret


@pytest.mark.usefixtures("server")
def test_serving_answers_health_ready_and_predict(built: Built) -> None:
    assert http(built.port, "/health") == (200, {"status": "ok"})
    assert http(built.port, "/ready") == (200, {"status": "ready", "model": {"name": "iris-classifier",
                                                                             "version": 1}})
    rows = iris_rows()
    records = [{name: float(row[name]) for name in FEATURES} for row in rows]
    status, body = http(built.port, "/predict", {"records": records, "probabilities": True})
    assert status == 200, body
    predicted = body["predictions"]
    assert len(predicted) == len(rows) and set(predicted) <= {"setosa", "versicolor", "virginica"}
    correct = sum(p == row["species"] for p, row in zip(predicted, rows, strict=True))
    assert correct / len(rows) >= 0.95
    assert all(p == "setosa" for p, row in zip(predicted, rows, strict=True) if row["species"] == "setosa")
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    assert all(abs(sum(p) - 1) < 1e-9 for p in body["probabilities"])
    assert http(built.port, "/predict", {"records": [{"sepal_length": 1.0}]})[0] == 422


def test_serving_container_runs_as_non_root(server: Container) -> None:
    assert server.attrs["Config"]["User"] == f"{UID}:{UID}"
    code, output = server.exec_run(["id", "-u"])
    assert (code, output) == (0, f"{UID}\n".encode())


def test_healthcheck_of_the_image_turns_healthy(engine: docker_engine.Engine, server: Container, built: Built) -> None:
    image = engine.client.images.get(built.serve).attrs["Config"]["Healthcheck"]
    assert image["Test"][:2] == ["CMD", "python3"] and f"127.0.0.1:{built.port}/health" in image["Test"][-1]
    assert (image["Interval"], image["Retries"]) == (30 * 10**9, 3)  # the server fixture checks every second
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server.reload()
        health = server.attrs["State"]["Health"]
        if health["Status"] == "healthy":
            break
        time.sleep(0.5)
    assert health["Status"] == "healthy", health
    assert health["Log"][-1]["ExitCode"] == 0


def test_serving_works_on_a_read_only_root_filesystem(engine: docker_engine.Engine, built: Built) -> None:
    port = free_port()  # the image's command with another port, so it runs beside the `server` fixture's
    command = ["serve", "mlform.yaml", "--env", "dev", "--host", "127.0.0.1", "--port", str(port)]
    container = engine.client.containers.run(built.serve, command=command, detach=True, network_mode="host",
                                             read_only=True, tmpfs={"/tmp": "rw,size=64m"})
    try:
        wait_serving(container, port)
        status, body = http(port, "/predict", {"columns": {"sepal_length": [5.1], "sepal_width": [3.5],
                                                           "petal_length": [1.4], "petal_width": [0.2]}})
        assert (status, body.get("predictions")) == (200, ["setosa"]), body
    finally:
        container.remove(force=True)


def test_extra_tags_and_quiet_output(engine: docker_engine.Engine, built: Built) -> None:
    extra = "mlform-e2e/extra:v1"
    done = mlform_build(built.spec, "--env", "dev", "--kind", "train", "--network", "host", "--tag", extra, "-q",
                        cwd=built.project.root)
    assert done.returncode == 0, done.stderr[-4000:]
    image = engine.client.images.get(built.train)
    assert extra in image.tags
    assert done.stdout.splitlines() == [f"built {built.train} {image.short_id.removeprefix('sha256:')}",
                                        f"built {extra} {image.short_id.removeprefix('sha256:')}"]
    assert all(line.startswith(("building ", "Step ")) for line in done.stderr.splitlines()), done.stderr
    engine.client.images.remove(extra)


@pytest.fixture(scope="module")
def shell_less(engine: docker_engine.Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image holding one file and no shell, so any `RUN` step fails."""
    folder = tmp_path_factory.mktemp("shell-less")
    (folder / "README").write_text("no shell here\n")
    archive = folder.with_suffix(".tar")
    with tarfile.open(archive, "w") as handle:
        handle.add(folder / "README", arcname="README")
    engine.client.api.import_image(src=str(archive), repository="mlform-e2e/shell-less", tag="1")
    return "mlform-e2e/shell-less:1"


def test_a_failing_step_fails_the_build_with_the_engine_message(shell_less: str, project: Project) -> None:
    spec = project.spec("broken", edit=lambda doc: doc["targets"]["docker"].update(image="mlform-e2e/broken",
                                                                                   base_image=shell_less))
    done = mlform_build(spec, "--env", "dev", "--kind", "train", "--network", "none", cwd=project.root)
    assert done.returncode == 1, done.stderr
    assert "Step 2/" in done.stderr and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: building `mlform-e2e/broken:train-dev-") and "failed: " in last, last


def test_an_unreachable_engine_fails_clearly(project: Project, tmp_path: Path) -> None:
    spec = project.spec()
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/absent.sock"}
    done = run([MLFORM, "build", spec, "--env", "dev"], cwd=project.root, env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"error: cannot reach the Docker engine (unix://{tmp_path}/absent.sock)")
    assert "Traceback" not in done.stderr


def test_templates_no_cache_and_quiet_change_what_is_built_and_shown(engine: docker_engine.Engine, shell_less: str,
                                                                     project: Project, tmp_path: Path) -> None:
    # the built-in template's RUN steps fail on a shell-less base: only the replacement, which has none, can build
    spec = project.spec("templated", edit=lambda doc: doc["targets"]["docker"].update(image="mlform-e2e/templated",
                                                                                     base_image=shell_less))
    override = tmp_path / "templates" / "docker"
    override.mkdir(parents=True)
    (override / "Dockerfile.train.j2").write_text(f"FROM {shell_less}\nLABEL org.mlform.test=templated\n")
    args = (spec, "--env", "dev", "--kind", "train", "--network", "none", "--templates", override.parent)
    first = mlform_build(*args, cwd=project.root)
    assert first.returncode == 0, first.stderr[-4000:]
    tag = first.stdout.split()[1]
    try:
        assert engine.client.images.get(tag).labels == {"org.mlform.test": "templated"}
        again = mlform_build(*args, cwd=project.root)
        assert again.returncode == 0 and " ---> Using cache" in again.stderr.splitlines(), again.stderr
        rebuilt = mlform_build(*args, "--no-cache", cwd=project.root)
        assert rebuilt.returncode == 0, rebuilt.stderr[-4000:]
        assert " ---> Using cache" not in rebuilt.stderr.splitlines()
        assert any(line.startswith(" ---> ") for line in rebuilt.stderr.splitlines())  # what --quiet leaves out
        quiet = mlform_build(*args, "--no-cache", "--quiet", cwd=project.root)
        assert quiet.returncode == 0, quiet.stderr[-4000:]
        shown = quiet.stderr.splitlines()
        assert shown[0].startswith(f"building {tag} (templated, dev, train) from ")
        assert shown[1:] == [f"Step 1/2 : FROM {shell_less}", "Step 2/2 : LABEL org.mlform.test=templated"]
    finally:
        engine.client.images.remove(tag, force=True)
