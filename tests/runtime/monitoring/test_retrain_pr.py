"""`on_breach: pull_request`: the retraining branch, its one commit and the body, in a real git repository."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlform.runtime.monitoring.retrain_pr import commit_retrain, retrain_change
from mlform.specs.errors import StepError
from mlform.specs.graph.steps import spec_steps
from mlform.specs.loader import load_spec

Cli = Callable[..., Any]
Edit = Callable[[Path, Callable[[dict[str, Any]], None]], None]
IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(iris_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The iris project as a committed git repository on `main`."""
    root = iris_project.parent
    for key, value in (("NAME", "test"), ("EMAIL", "test@example.invalid")):
        monkeypatch.setenv(f"GIT_AUTHOR_{key}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{key}", value)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".mlform/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "iris")
    return root


def drift(live: Path) -> None:
    """Move three of the four features of the live data."""
    frame = pd.read_csv(live)
    frame.assign(petal_length=frame["petal_length"] + 2.0, petal_width=frame["petal_width"] + 1.0,
                 sepal_width=frame["sepal_width"] * 1.5).to_csv(live, index=False)


def test_the_commit_sets_the_marker_in_the_environments_overlay_only(repo: Path) -> None:
    spec = repo / "mlform.yaml"
    before = spec.read_text()
    change = retrain_change(spec, "prod", "breach 2026-06-01T06:00:00Z")
    commit = commit_retrain(change, "mlform/retrain-iris-prod", "Retrain iris (prod)")
    assert git(repo, "rev-parse", "mlform/retrain-iris-prod").strip() == commit
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # the working copy stays
    assert spec.read_text() == before and git(repo, "status", "--porcelain") == ""
    assert git(repo, "diff", "--name-only", "main", commit).split() == ["mlform.yaml"]
    edited = yaml.safe_load(git(repo, "show", f"{commit}:mlform.yaml"))
    assert edited["environments"]["prod"]["monitoring"] == {"on_breach": "retrain",
                                                             "retrain_marker": "breach 2026-06-01T06:00:00Z"}
    # merged, it changes what prod trains on (so apply retrains), and nothing of dev
    branch = repo.parent / "branch"
    git(repo, "worktree", "add", "-q", str(branch), "mlform/retrain-iris-prod")
    for env, retrains in (("prod", True), ("dev", False)):
        old = spec_steps(load_spec(spec, env))
        new = spec_steps(load_spec(branch / "mlform.yaml", env))
        assert (old["train"].config != new["train"].config) is retrains
        assert old["register"].config == new["register"].config  # the production pin is untouched
    with pytest.raises(StepError, match="branch `mlform/retrain-iris-prod` already exists"):
        commit_retrain(change, "mlform/retrain-iris-prod", "again")


def test_mlform_monitor_prepares_the_pull_request_on_a_breach(mlform: Cli, edit_spec: Edit, repo: Path,
                                                              tmp_path: Path) -> None:
    spec = repo / "mlform.yaml"
    edit_spec(spec, lambda d: d["monitoring"].update(on_breach="pull_request"))
    git(repo, "commit", "-q", "-am", "monitor by pull request")
    drift(repo / "data" / "live.csv")
    result = mlform("monitor", str(spec), "--out", str(tmp_path / "out"))
    assert result.code == 3, result.out + result.err
    assert result.err.strip() == "monitor: breach (on_breach: pull_request, not opened)"
    [branch] = git(repo, "branch", "--list", "mlform/retrain-iris-default-*", "--format=%(refname:short)").split()
    assert f"on_breach: pull_request -> branch {branch}" in result.out
    body = (tmp_path / "out" / "pull_request.md").read_text()
    report = json.loads((tmp_path / "out" / "monitor.json").read_text())
    for reason in report["verdict"]["reasons"]:
        assert f"- {reason}" in body
    assert "3 of 4 features drifted (share 0.75, max 0.5)" in body
    assert "| `petal_length` | psi |" in body and "## Plan" in body and "train" in body.split("## Plan")[1]
    # the body goes to the repository's reviewers: the spec by its path in the repository, never this machine's
    assert "### mlform plan: `mlform.yaml` (default)" in body and str(repo) not in body
    marker = yaml.safe_load(git(repo, "show", f"{branch}:mlform.yaml"))["monitoring"]["retrain_marker"]
    assert marker.startswith("breach ") and f"retrain_marker: {marker}" in body


def test_open_pr_pushes_the_branch_and_calls_gh_pr_create(mlform: Cli, edit_spec: Edit, repo: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    spec = repo / "mlform.yaml"
    edit_spec(spec, lambda d: d["monitoring"].update(on_breach="pull_request"))
    git(repo, "commit", "-q", "-am", "monitor by pull request")
    drift(repo / "data" / "live.csv")
    # the GitHub CLI needs GitHub; this stand-in records its arguments and answers with a pull request URL
    bin_dir, calls = tmp_path / "bin", tmp_path / "gh-calls"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {calls}\necho https://github.com/o/r/pull/7\n')
    (bin_dir / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    result = mlform("monitor", str(spec), "--open-pr")
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-2:] == ["pull request: https://github.com/o/r/pull/7",
                                            "monitor: breach handled, a retraining pull request was opened"]
    [branch] = git(remote, "branch", "--list", "mlform/retrain-*", "--format=%(refname:short)").split()
    args = calls.read_text().splitlines()
    assert args[:7] == ["pr", "create", "--head", branch, "--base", "main", "--title"]
    assert args[7] == "Retrain iris (default): monitoring breach" and args[8] == "--body-file"


@pytest.mark.parametrize(("remote", "message"), [
    (False, "`git push origin` failed: fatal: 'origin' does not appear to be a git repository fatal: Could not read "
            "from remote repository. Please make sure you have the correct access rights and the repository exists."),
    (True, "`gh pr create` failed: HTTP 401: Bad credentials (https://api.github.com/graphql)"),
], ids=["no-remote", "gh-refuses"])
def test_open_pr_names_the_command_that_failed(mlform: Cli, edit_spec: Edit, repo: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, remote: bool, message: str) -> None:
    if remote:
        subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "remote.git")], check=True)
        git(repo, "remote", "add", "origin", str(tmp_path / "remote.git"))
    spec = repo / "mlform.yaml"
    edit_spec(spec, lambda d: d["monitoring"].update(on_breach="pull_request"))
    git(repo, "commit", "-q", "-am", "monitor by pull request")
    drift(repo / "data" / "live.csv")
    # a GitHub CLI without valid credentials: what `gh` says then, and its exit code
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text("#!/bin/sh\necho 'HTTP 401: Bad credentials (https://api.github.com/graphql)' >&2\n"
                                "exit 1\n")
    (bin_dir / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    status = git(repo, "status", "--porcelain")

    result = mlform("monitor", str(spec), "--open-pr", "--out", str(tmp_path / "out"))

    assert (result.code, result.err.strip().splitlines()[-1]) == (1, f"error: step `monitor` failed: {message}")
    assert "Traceback" not in result.out + result.err
    assert git(repo, "status", "--porcelain") == status  # the working copy is as it was: the change is on its branch


def test_outside_a_git_working_copy_the_breach_is_reported_without_a_pull_request(
        mlform: Cli, edit_spec: Edit, iris_project: Path) -> None:
    edit_spec(iris_project, lambda d: d["monitoring"].update(on_breach="pull_request"))
    drift(iris_project.parent / "data" / "live.csv")
    result = mlform("monitor", str(iris_project))
    assert result.code == 3, result.out + result.err
    assert "on_breach: pull_request -> no pull request: the spec is not in a git working copy" in result.out
