"""The content-addressed store of step outputs: one folder per step fingerprint, a marker written last.

A shared backend (one that is not this state folder) is the store's shared tier: a completed output's files are
uploaded as `store/<fp[:2]>/<fp>/<file>` and its marker, listing each file's sha256, is written after them. A
working copy without the folder finds the shared marker and downloads the files (each checked) into its own
folder, so no step is run twice for one fingerprint by copies that share a backend.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlform.specs.errors import StateError
from mlform.specs.fsutil import locked, write_atomic, write_atomic_with

from .backends.base import Backend, BackendError
from .statedir import read_json

__all__ = ["MARKER", "Output", "Store", "write_frame"]

MARKER = "_complete.json"
_PREFIX = "store"


@dataclass(frozen=True)
class Output:
    """A completed step output: its folder and the JSON summary the step returned.

    `pending` lists the files (relative path -> sha256) still to download from the shared tier into `dir`;
    None once they are here.
    """

    step: str
    fingerprint: str
    dir: Path
    values: dict[str, Any]
    pending: dict[str, str] | None = None


def write_frame(frame: Any, path: Path) -> None:
    """Write a DataFrame as Parquet, atomically."""
    write_atomic_with(path, lambda tmp: frame.to_parquet(tmp, index=False))


def _key(fingerprint: str, relative: str) -> str:
    return f"{_PREFIX}/{fingerprint[:2]}/{fingerprint}/{relative}"


class Store:
    """Step outputs keyed by fingerprint: `<root>/<fp[:2]>/<fp>/`, complete only once `_complete.json` exists."""

    def __init__(self, root: Path, shared: Backend | None = None) -> None:
        self.root = root
        self.shared = shared

    @classmethod
    def of(cls, state_dir: Path, backend: Backend) -> Store:
        """The store of a state folder, with `backend` as its shared tier unless the backend is that folder."""
        root = state_dir / _PREFIX
        return cls(root, None if backend.local_path(_PREFIX) == root else backend)

    def folder(self, fingerprint: str) -> Path:
        """The folder that holds (or will hold) the output for `fingerprint`."""
        return self.root / fingerprint[:2] / fingerprint

    def lock_path(self, fingerprint: str) -> Path:
        """The lock file guarding attempts at `fingerprint`."""
        return self.root / fingerprint[:2] / f"{fingerprint}.lock"

    def _local(self, step_id: str, fingerprint: str) -> Output | None:
        folder = self.folder(fingerprint)
        try:
            marker = read_json(folder / MARKER)
        except StateError:
            return None
        if not isinstance(marker, dict) or marker.get("step") != step_id:
            return None
        return Output(step_id, fingerprint, folder, dict(marker.get("values") or {}))

    def find(self, wanted: Mapping[str, str]) -> dict[str, Output]:
        """Step ID -> completed output, for `wanted` (step ID -> fingerprint): here, else on the shared tier (its
        markers read in one round trip; the files still `pending`)."""
        found = {step_id: out for step_id, fp in wanted.items() if (out := self._local(step_id, fp)) is not None}
        missing = {_key(fp, MARKER): step_id for step_id, fp in wanted.items() if step_id not in found}
        if self.shared is None or not missing:
            return found
        for key, doc in self.shared.read_many(list(missing)).items():
            step_id = missing[key]
            try:
                marker = json.loads(doc.data)
                files = {str(k): str(v) for k, v in marker["files"].items()}
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # not a marker this mlform wrote: the step runs again
            if marker.get("step") == step_id:
                fingerprint = wanted[step_id]
                found[step_id] = Output(step_id, fingerprint, self.folder(fingerprint),
                                        dict(marker.get("values") or {}), files)
        return found

    def get(self, step_id: str, fingerprint: str) -> Output | None:
        """The completed output for `fingerprint`, downloaded when only the shared tier has it; None when missing."""
        found = self.find({step_id: fingerprint}).get(step_id)
        return self.fetch(found) if found is not None else None

    def fetch(self, output: Output) -> Output:
        """`output` with its files here: downloaded from the shared tier (each checked against its sha256) when
        pending, the local marker written last."""
        if output.pending is None or self.shared is None:
            return output
        with locked(self.lock_path(output.fingerprint)):
            here = self._local(output.step, output.fingerprint)
            if here is not None:  # another process fetched it meanwhile
                return here
            folder = self.begin(output.fingerprint)
            for relative, sha256 in sorted(output.pending.items()):
                try:
                    self.shared.get_file(_key(output.fingerprint, relative), folder / relative, sha256)
                except BackendError as exc:
                    raise BackendError(f"cannot fetch the output of step `{output.step}` from the shared store: "
                                       f"{exc}") from None
            self._mark(folder, {"step": output.step, "fingerprint": output.fingerprint, "values": output.values,
                                "files": output.pending, "fetched": time.time()})
        return replace(output, pending=None)

    def begin(self, fingerprint: str) -> Path:
        """An empty folder for a fresh attempt; leftovers of an interrupted attempt are removed first."""
        folder = self.folder(fingerprint)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def commit(self, step_id: str, fingerprint: str, values: dict[str, Any], seconds: float) -> Output:
        """Make the output visible: uploaded with its marker to the shared tier first, then the local marker."""
        folder = self.folder(fingerprint)
        marker = {"step": step_id, "fingerprint": fingerprint, "values": values,
                  "seconds": round(seconds, 6), "completed": time.time(), "pid": os.getpid()}
        if self.shared is not None:
            self._upload(self.shared, folder, marker)
        self._mark(folder, marker)
        return Output(step_id, fingerprint, folder, values)

    def publish(self, step_id: str, fingerprint: str) -> bool | None:
        """Upload the completed output found here to the shared tier when it lacks it (as `state migrate` does):
        True when uploaded, False when the shared tier has it, None when there is none here."""
        if self.shared is None:
            return None
        with locked(self.lock_path(fingerprint)):
            if self._local(step_id, fingerprint) is None:
                return None
            if self.shared.read(_key(fingerprint, MARKER)) is not None:
                return False
            folder = self.folder(fingerprint)
            self._upload(self.shared, folder, dict(read_json(folder / MARKER)))
        return True

    @staticmethod
    def _upload(shared: Backend, folder: Path, marker: dict[str, Any]) -> None:
        """The folder's files, then its marker listing their sha256, to the shared tier."""
        fingerprint = folder.name
        files = {path.relative_to(folder).as_posix(): path for path in sorted(folder.rglob("*"))
                 if path.is_file() and path.name != MARKER}
        marker["files"] = {rel: shared.put_file(_key(fingerprint, rel), path) for rel, path in files.items()}
        shared.write(_key(fingerprint, MARKER), json.dumps(marker, sort_keys=True, default=str).encode())

    @staticmethod
    def _mark(folder: Path, marker: dict[str, Any]) -> None:
        write_atomic(folder / MARKER, json.dumps(marker, sort_keys=True, default=str))
