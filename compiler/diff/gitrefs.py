"""Read spec files from a git commit or the working tree into a private folder, never checking anything out.

A commit is read through `git ls-tree` and `git cat-file --batch`: only the spec files (and files named
explicitly) are written, at their paths in the repository, so compiling the copy yields the same
artifacts as compiling the checkout would. The working tree side lists tracked and untracked,
not-ignored files with `git ls-files`. Both sides take regular files only, never symlinks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlform.specs.errors import PlanError
from mlform.specs.loader import SPEC_FILENAMES

__all__ = ["DEFAULT_BASES", "GitError", "Side", "default_base", "is_ref", "materialize", "repo_root", "side"]

# `--base` when none is given: the first that names a commit. `GITHUB_BASE_REF` (set in pull-request runs
# of GitHub Actions) puts `origin/<that branch>` first.
DEFAULT_BASES = ("origin/main", "main", "HEAD")
_REGULAR = ("100644", "100755")


class GitError(PlanError):
    """A git repository, ref or object cannot be read."""


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a ref and the commit it names, or the working tree (`ref` None)."""

    ref: str | None = None
    commit: str | None = None

    @property
    def label(self) -> str:
        """How messages name this side: `ref` (abbreviated commit), or the working tree."""
        return "the working tree" if self.commit is None else f"`{self.ref}` ({self.commit[:10]})"


def _git(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("`git` is not installed or not on PATH") from None


def _output(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    done = _git(root, *args, stdin=stdin)
    if done.returncode != 0:
        raise GitError(f"`git {args[0]}` failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def repo_root(start: Path) -> Path:
    """The top folder of the git working tree holding `start`."""
    done = _git(start, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise GitError(f"`{start}` is not inside a git repository: `mlform diff` compares git refs")
    return Path(done.stdout.decode().strip()).resolve()


def _commit(root: Path, ref: str) -> str | None:
    done = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    return done.stdout.decode().strip() if done.returncode == 0 else None


def is_ref(root: Path, name: str) -> bool:
    """True when `name` names a commit in the repository at `root`."""
    return _commit(root, name) is not None


def side(root: Path, ref: str | None) -> Side:
    """The side `ref` names (the working tree when None); GitError naming the ref when it names no commit."""
    if ref is None:
        return Side()
    commit = _commit(root, ref)
    if commit is None:
        raise GitError(f"unknown git ref `{ref}`: it names no commit in this repository")
    return Side(ref, commit)


def default_base(root: Path) -> Side:
    """The default base: `origin/$GITHUB_BASE_REF` when set, then `origin/main`, `main`, `HEAD`."""
    branch = os.environ.get("GITHUB_BASE_REF")
    candidates = ((f"origin/{branch}",) if branch else ()) + DEFAULT_BASES
    for ref in candidates:
        commit = _commit(root, ref)
        if commit is not None:
            return Side(ref, commit)
    tried = ", ".join(f"`{ref}`" for ref in candidates)
    raise GitError(f"no base to compare with: none of {tried} names a commit; pass `--base REF`")


def _wanted(named: Collection[str]) -> Callable[[str], bool]:
    return lambda path: PurePosixPath(path).name in SPEC_FILENAMES or path in named


def _split(listing: bytes) -> Iterator[str]:
    return (entry.decode() for entry in listing.split(b"\0") if entry)


def _tree_blobs(root: Path, commit: str, wanted: Callable[[str], bool]) -> dict[str, str]:
    blobs = {}
    for entry in _split(_output(root, "ls-tree", "-r", "-z", "--full-tree", commit)):
        meta, _, path = entry.partition("\t")
        mode, kind, sha = meta.split(" ")
        if kind == "blob" and mode in _REGULAR and wanted(path):
            blobs[path] = sha
    return blobs


def _write_blobs(root: Path, blobs: dict[str, str], dest: Path) -> None:
    if not blobs:
        return
    out = _output(root, "cat-file", "--batch", stdin="".join(f"{sha}\n" for sha in blobs.values()).encode())
    offset = 0
    for path in blobs:
        end = out.index(b"\n", offset)
        size = int(out[offset:end].split(b" ")[2])
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(out[end + 1:end + 1 + size])
        offset = end + 1 + size + 1


def materialize(root: Path, at: Side, named: Collection[str], dest: Path) -> None:
    """Write the spec files of `at`, and the repository paths in `named`, under `dest` at their paths."""
    wanted = _wanted(named)
    if at.commit is not None:
        _write_blobs(root, _tree_blobs(root, at.commit, wanted), dest)
        return
    listing = _output(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--full-name")
    for path in filter(wanted, dict.fromkeys(_split(listing))):
        source = root / path
        # regular files only, as from a commit; a tracked file deleted in the working tree is absent there
        if source.is_file() and not source.is_symlink():
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest / path)
