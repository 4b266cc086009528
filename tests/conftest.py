"""Fixtures shared by every test package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture
def iris_project(tmp_path: Path) -> Path:
    """A private copy of examples/iris; returns the path of its spec file."""
    target = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris", target, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    return target / "mlform.yaml"
