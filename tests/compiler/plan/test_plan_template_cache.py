"""A full plan prints the same bytes whether its templates were just compiled, loaded compiled, or never cached."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from test_plan_receipts import Undo, _apply, _copy, _edit_data, _edit_spec, _repo, _rewrite, plan


def _edit_namespace(project: Path) -> Undo:
    """Artifacts change, no step runs: the plan that trains nothing."""
    return _rewrite(project / "mlform.yaml", lambda t: t.replace("namespace: ml-prod\n", "namespace: ml-prod-2\n"))


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the module: the scikit-learn index is built once, the templates are cleared per test."""
    return tmp_path_factory.mktemp("cache-home")


def _compiled(cache_home: Path) -> list[str]:
    return sorted(p.name for p in (cache_home / "mlform").glob("templates-*/*.jinja"))


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris example as a git repo, applied in every environment."""
    project = _repo(_copy(tmp_path_factory.mktemp("template-cache")))
    _apply(project)
    return project


@pytest.mark.parametrize("edit", [_edit_namespace, _edit_spec, _edit_data])
@pytest.mark.parametrize("output", ["text", "json"])
def test_cached_templates_leave_the_plan_byte_identical(
        applied: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch, edit: Callable[[Path], Undo],
        output: str) -> None:
    for folder in (cache_home / "mlform").glob("templates-*"):
        shutil.rmtree(folder)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    undo = edit(applied)
    try:
        monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
        uncached = plan(applied, "--format", output)
        assert _compiled(cache_home) == []
        monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
        cold = plan(applied, "--format", output)
        compiled = _compiled(cache_home)
        warm = plan(applied, "--format", output)
    finally:
        undo()
    assert {"jinja2", "pydantic"} <= set(uncached.heavy)  # the full path, which renders
    assert uncached.exit == cold.exit == warm.exit == 2
    assert compiled  # the first cached run compiled and wrote templates ...
    assert _compiled(cache_home) == compiled
    assert uncached.stdout == cold.stdout == warm.stdout  # ... and every run printed the same plan
