"""`governance` at apply time: refuse to change an environment from an unreviewed branch or a dirty tree."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mlform.runtime.gitinfo import git_branch, git_state
from mlform.specs import ResolvedSpec
from mlform.specs.errors import PlanError

__all__ = ["check_governance", "current_branch"]


def current_branch(folder: Path) -> str | None:
    """The checked-out branch; on a detached HEAD (CI checkouts) `GITHUB_REF_NAME` when it names a branch."""
    branch = git_branch(folder)
    if branch is None and os.environ.get("GITHUB_REF_TYPE", "branch") == "branch":
        branch = os.environ.get("GITHUB_REF_NAME") or None
    return branch


def check_governance(spec: ResolvedSpec, state_folders: Iterable[Path] = ()) -> None:
    """Raise PlanError when `governance` forbids applying `spec` from here: another branch, or uncommitted changes."""
    rules = spec.pipeline.governance
    where = f"`{spec.display}` ({spec.env})"
    if rules.apply_from is not None:
        branch = current_branch(spec.root)
        if branch not in rules.apply_from:
            allowed = ", ".join(f"`{b}`" for b in rules.apply_from)
            shown = f"branch `{branch}`" if branch else "no branch (not a git work tree, or a detached HEAD)"
            raise PlanError(f"refusing to apply {where} from {shown}: `governance.apply_from` allows only {allowed}")
    if rules.require_clean_tree:
        state = git_state(spec.root, state_folders)
        if state.dirty is None:
            raise PlanError(f"refusing to apply {where}: `governance.require_clean_tree` needs a git work tree")
        if state.dirty:
            raise PlanError(f"refusing to apply {where}: uncommitted changes in `{spec.root.name or '.'}` "
                            "(`governance.require_clean_tree: true`); commit them, or apply from a clean checkout")
