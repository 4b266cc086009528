"""`governance`: apply refuses another branch or a dirty tree in the environments that ask for it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlform.specs.errors import PlanError

Cli = Callable[..., Any]
GOVERNED = """
  prod:
    governance: {apply_from: [main], require_clean_tree: true}
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def project(iris_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The iris example with a governed `prod`, committed on `main` (state folder left out by mlform itself)."""
    monkeypatch.delenv("GITHUB_REF_NAME", raising=False)
    monkeypatch.delenv("GITHUB_REF_TYPE", raising=False)
    root = iris_project.parent
    text = iris_project.read_text()
    assert "\n  prod:\n" in text
    iris_project.write_text(text.replace("\n  prod:\n", GOVERNED, 1))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "iris")
    return root


def test_a_dirty_tree_is_refused_before_anything_runs(project: Path, run_mlform: Cli) -> None:
    (project / "notes.txt").write_text("not committed\n")
    result = run_mlform("apply", project, "--env", "prod", "--yes", cwd=project)
    assert result.code == 1
    assert ("refusing to apply `" in result.err and "(prod): uncommitted changes in `iris` "
            "(`governance.require_clean_tree: true`); commit them, or apply from a clean checkout" in result.err)
    assert not (project / ".mlform" / "registry").exists()


def test_another_branch_is_refused(project: Path, run_mlform: Cli) -> None:
    git(project, "checkout", "-qb", "feature")
    result = run_mlform("apply", project, "--env", "prod", "--yes", cwd=project)
    assert result.code == 1
    assert "(prod) from branch `feature`: `governance.apply_from` allows only `main`" in result.err


def test_a_clean_main_passes_and_other_environments_are_not_governed(project: Path) -> None:
    from mlform.compiler.governance.review import check_governance
    from mlform.specs import load_spec

    check_governance(load_spec(project / "mlform.yaml", "prod"))  # clean, on main: nothing to refuse
    git(project, "checkout", "-qb", "feature")
    (project / "notes.txt").write_text("not committed\n")
    check_governance(load_spec(project / "mlform.yaml", "dev"))  # dev sets no governance
    with pytest.raises(PlanError, match="from branch `feature`"):
        check_governance(load_spec(project / "mlform.yaml", "prod"))


def test_a_detached_ci_checkout_takes_the_branch_from_github(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlform.compiler.governance.review import check_governance, current_branch
    from mlform.specs import load_spec

    git(project, "checkout", "-q", "--detach")
    assert current_branch(project) is None
    with pytest.raises(PlanError, match=r"from no branch \(not a git work tree, or a detached HEAD\)"):
        check_governance(load_spec(project / "mlform.yaml", "prod"))
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    check_governance(load_spec(project / "mlform.yaml", "prod"))
    monkeypatch.setenv("GITHUB_REF_TYPE", "tag")  # a tag named like the branch is not the branch
    with pytest.raises(PlanError, match="from no branch"):
        check_governance(load_spec(project / "mlform.yaml", "prod"))
