"""What a trained model depends on besides its spec, data and code: the installed versions of the libraries that
fit and pickle it, and the project's lock file beside the spec. Both are part of the `train` step's fingerprint.

Versions come from the distributions' metadata (`importlib.metadata`), never from importing the libraries, so a
plan stays as fast as before. Lock files are those of the package managers in common use, found in the spec's
folder: `uv.lock`, `poetry.lock` and `requirements*.txt`; a project keeping one elsewhere can copy or link it there.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from pathlib import Path

from mlform.specs.entrypoints import header

__all__ = ["LOCK_FILES", "TRAINING_LIBRARIES", "installed_version", "lock_files"]

TRAINING_LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy")
LOCK_FILES = ("uv.lock", "poetry.lock", "requirements*.txt")


@cache
def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution`, or None when it is not installed."""
    try:
        found = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    # the headers only: `metadata.version` parses the whole file, long description included (~1 ms a library)
    return header(found, "Version") or found.version


def lock_files(folder: Path) -> tuple[Path, ...]:
    """The lock files in `folder`, sorted."""
    return tuple(sorted({path for pattern in LOCK_FILES for path in folder.glob(pattern) if path.is_file()}))
