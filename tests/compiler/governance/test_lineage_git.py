"""Lineage records whether the project had uncommitted changes: registry, run record, card and promotion evidence."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlform.runtime.gitinfo import git_state
from mlform.runtime.registry.models import Registry

Cli = Callable[..., Any]


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def project(iris_project: Path, run_mlform: Cli) -> Path:
    """The iris example compiled for dev and committed (state folder not ignored: mlform leaves it out itself)."""
    root = iris_project.parent
    assert run_mlform("compile", root, "--env", "dev", cwd=root).code == 0
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "iris")
    return root


def _lineage(root: Path) -> dict[str, Any]:
    latest = Registry(root / ".mlform" / "registry").versions("iris-classifier")[-1]
    return {k: latest.lineage[k] for k in ("git_commit", "git_dirty", "git_diff_sha256")}


def _last_run(root: Path, run_mlform: Cli) -> str:
    run_id = run_mlform("runs", "list", root).out.splitlines()[1].split()[0]
    shown = run_mlform("runs", "show", run_id, root)
    return next(line.strip() for line in shown.out.splitlines() if line.strip().startswith("git: "))


def test_a_clean_tree_is_recorded_clean(project: Path, run_mlform: Cli) -> None:
    result = run_mlform("apply", project, "--env", "dev", "--yes")
    assert result.code == 0, result.err
    head = git(project, "rev-parse", "HEAD").strip()
    assert _lineage(project) == {"git_commit": head, "git_dirty": False, "git_diff_sha256": None}
    assert _last_run(project, run_mlform) == f"git: {head[:12]} (clean)"


def test_an_uncommitted_param_is_recorded_dirty_with_its_digest(project: Path, run_mlform: Cli) -> None:
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimators: 25"))
    result = run_mlform("apply", project, "--env", "dev", "--yes")
    assert result.code == 0, result.err
    head = git(project, "rev-parse", "HEAD").strip()
    diff = subprocess.run(["git", "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", "--", "."],
                          cwd=project, capture_output=True, check=True).stdout
    assert b"+        n_estimators: 25" in diff
    digest = hashlib.sha256(diff).hexdigest()
    assert _lineage(project) == {"git_commit": head, "git_dirty": True, "git_diff_sha256": digest}
    assert _last_run(project, run_mlform) == f"git: {head[:12]} + uncommitted changes (sha256 {digest[:12]}...)"

    card = json.loads(run_mlform("card", "iris-classifier@1", "--format", "json", cwd=project).out)
    assert (card["lineage"]["git_dirty"], card["lineage"]["git_diff_sha256"]) == (True, digest)
    markdown = run_mlform("card", "iris-classifier@1", cwd=project).out
    assert f"| Git commit | {head[:12]} + uncommitted changes (sha256 {digest[:12]}) |" in markdown

    assert run_mlform("promote", project, "--env", "dev", "--version", "1").code == 0
    plan = json.loads(run_mlform("plan", project, "--env", "dev", "--format", "json").out)["plans"][0]
    promotion = next(c for c in plan["changes"] if c["address"] == "iris-classifier@production")
    assert promotion["evidence"][1] == f"git: {head[:12]} + uncommitted changes (sha256 {digest[:12]}...)"


def test_the_digest_covers_untracked_files_and_ignores_ignored_ones(project: Path) -> None:
    clean = git_state(project)
    assert (clean.dirty, clean.diff_sha256) == (False, None)
    (project / "notes.txt").write_text("one")
    first = git_state(project)
    (project / "notes.txt").write_text("two")
    second = git_state(project)
    assert first.dirty and second.dirty and first.diff_sha256 != second.diff_sha256
    assert git_state(project).diff_sha256 == second.diff_sha256  # the same change, the same digest
    (project / ".gitignore").write_text("notes.txt\nscratch/\n")
    git(project, "add", ".gitignore")
    git(project, "commit", "-qm", "ignore notes")
    (project / "scratch").mkdir()
    (project / "scratch" / "x.csv").write_text("a\n")
    assert git_state(project).dirty is False


def test_outside_git_nothing_is_claimed(iris_project: Path) -> None:
    state = git_state(iris_project.parent)
    assert (state.commit, state.dirty, state.diff_sha256) == (None, None, None)
