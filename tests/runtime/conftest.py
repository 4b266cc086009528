"""Fixtures for runtime tests: the CLI in-process, and spec edits on a private iris copy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.runtime.storage.backends.conftest import backend_url, postgres_url, s3_url  # noqa: F401 - every kind


def _edit_spec(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def edit_spec() -> Callable[[Path, Callable[[dict[str, Any]], None]], None]:
    """Rewrite a spec file after a function mutates its parsed data."""
    return _edit_spec


@pytest.fixture(autouse=True)
def _own_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep state in each spec's folder, whatever the caller's environment says."""
    monkeypatch.delenv("MLFORM_HOME", raising=False)
    monkeypatch.delenv("MLFORM_BACKEND", raising=False)


@pytest.fixture
def mlform(run_mlform: Callable[..., Any]) -> Callable[..., Any]:
    """Run `mlform ARGS...` in-process; returns the exit code and what it printed."""
    return run_mlform


@pytest.fixture
def core_project(iris_project: Path) -> Path:
    """The iris copy without monitoring: ingest, validate, split, train, evaluate, register, serve."""
    _edit_spec(iris_project, lambda d: d.pop("monitoring"))
    return iris_project
