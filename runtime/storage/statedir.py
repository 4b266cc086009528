"""Where a spec's runtime state lives, and the per-spec-and-env record of the last successful steps."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.specs.errors import StateError
from mlform.specs.read.discovery import git_root

from .backends.base import ABSENT, Backend, ConflictError, Expect

__all__ = ["HOME_ENV", "RECORD_VERSION", "StateDir", "load_record", "read_json", "record_key", "save_step",
           "state_dir_for", "state_key"]

HOME_ENV = "MLFORM_HOME"
RECORD_VERSION = 1


def state_dir_for(spec_root: Path) -> Path:
    """`$MLFORM_HOME` when set, else `.mlform/` in the spec's folder."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser().resolve() if home else spec_root / ".mlform"


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing; StateError naming the file when it is corrupt."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read state file {path}: {exc}") from None


@dataclass(frozen=True)
class StateDir:
    """The layout of one state folder; several specs may share it (keys include spec name, env and path)."""

    root: Path

    @property
    def store(self) -> Path:
        """Content-addressed step outputs."""
        return self.root / "store"

    @property
    def stat_cache(self) -> Path:
        """The file-digest stat cache."""
        return self.root / "statcache.json"

    @property
    def tracking_db(self) -> Path:
        """The embedded tracking database."""
        return self.root / "tracking.db"

    @property
    def registry(self) -> Path:
        """The default model registry."""
        return self.root / "registry"


def state_key(spec_name: str, env: str) -> str:
    """The backend key of the apply state of one spec and environment."""
    return f"state/{spec_name}.{env}.json"


def record_key(spec_name: str, env: str, spec_path: Path) -> str:
    """The backend key of the record of last successful steps for one spec file and environment.

    In a git work tree the spec file is named by its path in the repository, so every clone sharing a backend
    finds the same record; outside one, by its absolute path.
    """
    top = git_root(spec_path.parent)
    where = (spec_path.parent.resolve().relative_to(top) / spec_path.name).as_posix() if top else str(spec_path)
    tag = hashlib.sha256(where.encode()).hexdigest()[:10]
    return f"records/{spec_name}.{env}.{tag}.json"


def _record(backend: Backend, key: str) -> tuple[dict[str, dict[str, Any]], Expect]:
    """The record's steps (empty when there is none or it is of another format) and the version to replace."""
    doc = backend.read(key)
    if doc is None:
        return {}, ABSENT
    try:
        data = json.loads(doc.data)
    except ValueError as exc:
        where = getattr(backend, "root", None)
        raise StateError(f"cannot read state file {where / key if where else key}: {exc}") from None
    steps = data.get("steps") if isinstance(data, dict) and data.get("version") == RECORD_VERSION else None
    return (steps if isinstance(steps, dict) else {}), doc.version


def load_record(backend: Backend, key: str) -> dict[str, dict[str, Any]]:
    """Step ID -> last successful snapshot; empty when there is none or it is of another format."""
    return _record(backend, key)[0]


def save_step(backend: Backend, key: str, step_id: str, snapshot: dict[str, Any]) -> None:
    """Record one step's successful snapshot; compare-and-swap, re-read on conflict, so parallel steps keep theirs."""
    while True:
        steps, version = _record(backend, key)
        steps[step_id] = snapshot
        text = json.dumps({"version": RECORD_VERSION, "steps": steps}, sort_keys=True, indent=1)
        try:
            backend.write(key, text.encode(), expect=version)
        except ConflictError:
            continue
        return
