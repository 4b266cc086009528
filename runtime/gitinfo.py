"""Light git look-ups shared by the runtime and the compiler (no heavy imports).

`git_state` says whether a project folder has uncommitted changes and fingerprints them. The scope is
the folder (the spec's project), not the whole repository: edits elsewhere in a monorepo do not make a
model's lineage dirty. Ignored files (`.gitignore`) and mlform's own state folders passed as `exclude`
never count. The digest is the sha256 of `git diff HEAD --binary` of the folder, followed by each
untracked file's path and content digest in path order: the same uncommitted change gives the same digest.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GitState", "describe_git", "git_branch", "git_commit", "git_state"]


@dataclass(frozen=True)
class GitState:
    """The commit of a folder, whether it has uncommitted changes (None outside git) and their digest."""

    commit: str | None = None
    dirty: bool | None = None
    diff_sha256: str | None = None

    def to_json(self) -> dict[str, str | bool | None]:
        """The lineage fields: `git_commit`, `git_dirty`, `git_diff_sha256`."""
        return {"git_commit": self.commit, "git_dirty": self.dirty, "git_diff_sha256": self.diff_sha256}


def describe_git(commit: str | None, dirty: bool | None, diff_sha256: str | None) -> str:
    """One line for people: `<commit> (clean)`, `<commit> + uncommitted changes (sha256 ...)`, or why none."""
    if dirty is None:
        return f"{commit[:12]} (uncommitted changes not recorded)" if commit else "none (not a git work tree)"
    shown = commit[:12] if commit else "no commit yet"
    return f"{shown} + uncommitted changes (sha256 {(diff_sha256 or '')[:12]}...)" if dirty else f"{shown} (clean)"


def _git(folder: Path, *args: str) -> bytes | None:
    """The output of `git ARGS` run in `folder`, or None when git fails or is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(folder: Path) -> str | None:
    """`git rev-parse HEAD` in `folder`, or None outside a git work tree or without git."""
    out = _git(folder, "rev-parse", "HEAD")
    return out.decode().strip() or None if out is not None else None


def git_branch(folder: Path) -> str | None:
    """The branch checked out in `folder`; None on a detached HEAD, outside a work tree or without git."""
    out = _git(folder, "symbolic-ref", "--quiet", "--short", "HEAD")
    return out.decode().strip() or None if out is not None else None


def _pathspec(folder: Path, exclude: Iterable[Path]) -> list[str]:
    """`-- .` plus an exclude pattern per folder of `exclude` inside `folder`."""
    root = folder.resolve()
    inside = [path.resolve().relative_to(root) for path in exclude if path.resolve().is_relative_to(root)]
    return ["--", ".", *(f":(exclude){path.as_posix()}" for path in inside if path.parts)]


def git_state(folder: Path, exclude: Iterable[Path] = ()) -> GitState:
    """The commit of `folder` and its uncommitted changes (tracked edits and untracked files), outside `exclude`."""
    spec = _pathspec(folder, exclude)
    status = _git(folder, "status", "--porcelain", "-z", "--untracked-files=all", *spec)
    commit = git_commit(folder)
    if status is None:
        return GitState(commit)
    if not status:
        return GitState(commit, dirty=False)
    digest = hashlib.sha256()
    if commit is not None:
        digest.update(_git(folder, "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", *spec) or b"")
    untracked = _git(folder, "ls-files", "--others", "--exclude-standard", "-z", *spec) or b""
    for name in sorted(filter(None, untracked.split(b"\0"))):
        try:
            content = hashlib.sha256((folder / name.decode()).read_bytes()).hexdigest()
        except OSError:
            content = "unreadable"
        digest.update(b"\0untracked\0" + name + b"\0" + content.encode())
    return GitState(commit, dirty=True, diff_sha256=digest.hexdigest())
