"""Light git look-ups shared by the runtime and the compiler (no heavy imports)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["git_commit"]


def git_commit(folder: Path) -> str | None:
    """`git rev-parse HEAD` in `folder`, or None outside a git work tree or without git."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
