"""Find spec files on disk; light on purpose (no pydantic) so the plan fast path can use it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["POLICY_FILENAME", "SPEC_FILENAMES", "discover", "git_root", "project_root"]

SPEC_FILENAMES = ("mlform.yaml", "mlform.yml")
POLICY_FILENAME = "mlform-policy.yaml"  # the organisation policy, at the project root
_SKIP_DIRS = {"venv", "node_modules", "__pycache__", "build", "dist"}


def _specs_below(folder: Path) -> list[Path]:
    """Spec files under `folder`, never descending into hidden, build or virtualenv folders."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        found += [Path(parent, name) for name in files if name in SPEC_FILENAMES]
    return sorted(found)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Spec files named by `paths`: files as given, directories searched for `mlform.yaml`."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        found += _specs_below(path) if path.is_dir() else [path]
    return list(dict.fromkeys(found))


def git_root(start: Path) -> Path | None:
    """The nearest folder from `start` upwards holding `.git` (a git work tree's top); None outside one."""
    start = start.resolve()
    return next((folder for folder in (start, *start.parents) if (folder / ".git").exists()), None)


def project_root(start: Path) -> Path:
    """The nearest folder from `start` upwards holding `.git`; `start` itself when there is none."""
    return git_root(start) or start.resolve()
