"""`on_breach: pull_request`: a branch with one commit that retrains the environment, and the pull request's body.

The commit sets `monitoring.retrain_marker` (part of the training fingerprint) in the environment's overlay of
the spec as committed at HEAD, so merging it makes the apply workflow retrain; the served version stays the
human pin `registry.production`. The commit is made with git plumbing on a private index: the working copy,
its index and the checked-out branch are left as they are.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.specs.errors import StepError
from mlform.specs.read.overlays import BASE
from mlform.specs.read.yamledit import set_value

__all__ = ["RetrainChange", "commit_retrain", "in_work_tree", "marker_keys", "pr_body", "retrain_change"]

_MAX_FEATURES = 10


@dataclass(frozen=True)
class RetrainChange:
    """The spec file (path inside the repository), its text with the marker set, and the marker."""

    repo: Path
    relpath: str
    text: str
    marker: str


def _git(repo: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, input=stdin, check=False,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise StepError("monitor", f"`git {args[0]}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def in_work_tree(folder: Path) -> bool:
    """Whether `folder` is inside a git working copy (and git is installed)."""
    try:
        done = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=folder, capture_output=True,
                              text=True, check=False)
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def marker_keys(env: str) -> tuple[str, ...]:
    """Where the marker goes: the environment's overlay, or the base spec's `monitoring`."""
    keys = ("monitoring", "retrain_marker")
    return keys if env == BASE else ("environments", env, *keys)


def retrain_change(spec_file: Path, env: str, marker: str) -> RetrainChange:
    """The spec as committed at HEAD with `retrain_marker` set to `marker` for `env`."""
    folder = spec_file.resolve().parent
    repo = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    relpath = spec_file.resolve().relative_to(repo.resolve()).as_posix()
    committed = _git(repo, "show", f"HEAD:{relpath}")
    edit = set_value(committed, marker_keys(env), marker, relpath)
    return RetrainChange(repo, relpath, edit.text, marker)


def commit_retrain(change: RetrainChange, branch: str, message: str) -> str:
    """Commit `change` on top of HEAD as the new branch `branch`; its commit id. The working copy is untouched."""
    repo = change.repo
    if _git(repo, "branch", "--list", branch).strip():
        raise StepError("monitor", f"branch `{branch}` already exists")
    blob = _git(repo, "hash-object", "-w", "--stdin", stdin=change.text).strip()
    with tempfile.TemporaryDirectory() as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(repo, "read-tree", "HEAD", env=index)
        _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{change.relpath}", env=index)
        tree = _git(repo, "write-tree", env=index).strip()
    commit = _git(repo, "commit-tree", tree, "-p", "HEAD", "-m", message).strip()
    _git(repo, "update-ref", f"refs/heads/{branch}", commit, "0" * 40)
    return commit


def _drift_table(drift: dict[str, Any]) -> list[str]:
    rows = sorted(drift["features"], key=lambda f: (not f["drifted"], -(f["score"] or 0.0)))[:_MAX_FEATURES]
    lines = ["| feature | method | score | threshold | verdict |", "|---|---|---|---|---|"]
    for f in rows:
        score = "n/a" if f["score"] is None else f"{f['score']:.4g}"
        lines.append(f"| `{f['feature']}` | {f['method']} | {score} | {f['threshold']:.4g} | "
                     f"{'drifted' if f['drifted'] else 'stable'} |")
    return lines


def pr_body(payload: dict[str, Any], marker: str, plan: str) -> str:
    """The pull request's Markdown: the breach, the drift report's headline figures, the checks and the plan."""
    drift, data = payload["drift"], payload["data"]
    lines = [f"Monitoring of `{payload['pipeline']}` in `{payload['env']}` found a breach; this pull request "
             f"retrains that environment (`monitoring.retrain_marker: {marker}`).", "", "## Breach", ""]
    lines += [f"- {reason}" for reason in payload["verdict"]["reasons"]]
    lines += ["", "## Drift", "",
              f"{len(drift['drifted'])} of {len(drift['features'])} features drifted (share "
              f"{drift['drifted_share']:.2f}, max {drift['max_drifted_share']}); {data['reference_rows']} "
              f"reference rows (`{data['reference']}`), {data['current_rows']} current rows (`{data['current']}`).",
              "", *_drift_table(drift)]
    checks = payload.get("checks") or []
    if checks:
        lines += ["", "## Checks", ""]
        lines += [f"- {'**breach**' if c['breached'] else 'ok'} `{c['key']}`: {c['detail']}" for c in checks]
    lines += ["", "## Plan", "", plan.strip(), "",
              "Merging retrains this environment through the apply workflow; the new version must pass its gates "
              "to be promoted to its automatic alias. The served version stays pinned by `registry.production`: "
              "serve a new version with `mlform promote` in a separate pull request."]
    return "\n".join(lines) + "\n"
