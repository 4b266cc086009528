"""The content-addressed store of step outputs: one folder per step fingerprint, a marker written last."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.specs.errors import StateError
from mlform.specs.fsutil import write_atomic, write_atomic_with

from .statedir import read_json

__all__ = ["MARKER", "Output", "Store", "write_frame"]

MARKER = "_complete.json"


@dataclass(frozen=True)
class Output:
    """A completed step output: its folder and the JSON summary the step returned."""

    step: str
    fingerprint: str
    dir: Path
    values: dict[str, Any]


def write_frame(frame: Any, path: Path) -> None:
    """Write a DataFrame as Parquet, atomically."""
    write_atomic_with(path, lambda tmp: frame.to_parquet(tmp, index=False))


class Store:
    """Step outputs keyed by fingerprint: `<root>/<fp[:2]>/<fp>/`, complete only once `_complete.json` exists."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, fingerprint: str) -> Path:
        """The folder that holds (or will hold) the output for `fingerprint`."""
        return self.root / fingerprint[:2] / fingerprint

    def lock_path(self, fingerprint: str) -> Path:
        """The lock file guarding attempts at `fingerprint`."""
        return self.root / fingerprint[:2] / f"{fingerprint}.lock"

    def get(self, step_id: str, fingerprint: str) -> Output | None:
        """The completed output for `fingerprint`, or None when it is missing or was left incomplete."""
        folder = self.folder(fingerprint)
        try:
            marker = read_json(folder / MARKER)
        except StateError:
            return None
        if not isinstance(marker, dict) or marker.get("step") != step_id:
            return None
        return Output(step_id, fingerprint, folder, dict(marker.get("values") or {}))

    def begin(self, fingerprint: str) -> Path:
        """An empty folder for a fresh attempt; leftovers of an interrupted attempt are removed first."""
        folder = self.folder(fingerprint)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def commit(self, step_id: str, fingerprint: str, values: dict[str, Any], seconds: float) -> Output:
        """Write the completion marker, last and atomically, making the output visible."""
        folder = self.folder(fingerprint)
        marker = {"step": step_id, "fingerprint": fingerprint, "values": values,
                  "seconds": round(seconds, 6), "completed": time.time(), "pid": os.getpid()}
        write_atomic(folder / MARKER, json.dumps(marker, sort_keys=True, default=str))
        return Output(step_id, fingerprint, folder, values)
