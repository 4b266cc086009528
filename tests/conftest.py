"""Fixtures shared by every test package."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from tools import docker_engine, postgres_server, s3_server

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture
def iris_project(tmp_path: Path) -> Path:
    """A private copy of examples/iris; returns the path of its spec file."""
    target = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris", target, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    return target / "mlform.yaml"


class CliResult(NamedTuple):
    """Exit code and captured output of one CLI call."""

    code: int
    out: str
    err: str


@pytest.fixture
def run_mlform(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `mlform ARGS...` in-process, from `cwd` when given; its exit code and what it printed."""
    from mlform.compiler.cli import main

    def call(*args: object, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return call


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres_server.Cluster]:
    """A throwaway PostgreSQL cluster for the session (installed with apt-get when missing)."""
    reason = postgres_server.unavailable()
    if reason:
        pytest.skip(reason)
    cluster = postgres_server.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[s3_server.Endpoint]:
    """moto's S3 server for the session."""
    endpoint = s3_server.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def engine() -> Iterator[docker_engine.Engine]:
    """A private Docker engine for the session (one per session: it holds the engine's lock); skips, saying why,
    where none can start."""
    reason = docker_engine.unavailable()
    if reason is not None:
        pytest.skip(reason)
    started = docker_engine.start()
    yield started
    started.stop()
