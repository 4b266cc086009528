"""Where a spec's runtime state lives, and the per-spec-and-env record of the last successful steps."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.specs.errors import StateError
from mlform.specs.fsutil import locked, write_atomic

__all__ = ["HOME_ENV", "RECORD_VERSION", "StateDir", "read_json", "state_dir_for"]

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

    def record_path(self, spec_name: str, env: str, spec_path: Path) -> Path:
        """The record of last successful steps for one spec file and environment."""
        tag = hashlib.sha256(str(spec_path).encode()).hexdigest()[:10]
        return self.root / "records" / f"{spec_name}.{env}.{tag}.json"

    def load_record(self, path: Path) -> dict[str, dict[str, Any]]:
        """Step ID -> last successful snapshot; empty when there is none or it is of another format."""
        data = read_json(path)
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            return {}
        steps = data.get("steps")
        return steps if isinstance(steps, dict) else {}

    def save_step(self, path: Path, step_id: str, snapshot: dict[str, Any]) -> None:
        """Record one step's successful snapshot; read-modify-write under a lock so parallel steps keep theirs."""
        with locked(path.with_suffix(".lock")):
            steps = self.load_record(path)
            steps[step_id] = snapshot
            text = json.dumps({"version": RECORD_VERSION, "steps": steps}, sort_keys=True, indent=1)
            write_atomic(path, text, fsync=False)
