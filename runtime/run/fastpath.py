"""The no-change fast path: after a full successful run, a receipt lets an identical re-run skip loading the spec.

Loading a spec validates it, which imports the estimator's library; that dominates a re-run where nothing changed.
The receipt holds what every fingerprint depended on: the spec file's bytes, each data file's (size, mtime, inode),
the mlform version, the installed versions of the training libraries and which lock files exist, and the version of
the spec's state document in its backend (an apply from another working copy on a shared backend makes the receipt
stale). When all match and every step's completion marker is still in the store, the re-run is all cached without
loading anything; otherwise the normal path runs.
Specs with `sql` sources never get a receipt: their data can only be known by querying.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from mlform.runtime.storage.backends.base import Backend
from mlform.runtime.storage.backends.url import backend_for, backend_ref, reopen
from mlform.runtime.storage.statedir import StateDir, state_dir_for, state_key
from mlform.runtime.storage.store import MARKER
from mlform.specs.fsutil import FileStamp, file_stamp, write_atomic
from mlform.specs.graph.libraries import TRAINING_LIBRARIES, installed_version, lock_files

from .outcome import RunResult, StepRun
from .reasons import CACHED

__all__ = ["RECEIPT_VERSION", "Receipt", "read_receipt", "receipt_path", "replay", "write_receipt"]

RECEIPT_VERSION = 3  # 2: user code files and python sources are covered; 3: training library versions


@dataclass(frozen=True)
class Receipt:
    """What an all-cached re-run needs to report itself: step fingerprints, the run's tracking fields, and the
    backend its run is tracked in."""

    name: str
    env: str
    digest: str
    steps: dict[str, str]
    params: dict[str, Any]
    backend: Backend


def _key(spec_path: Path, env: str) -> str:
    return hashlib.sha256(f"{spec_path}\0{env}".encode()).hexdigest()[:16]


def receipt_path(spec_path: Path, env: str) -> Path:
    """Where the receipt for one spec file and environment (as requested; "" for the base spec) lives."""
    return state_dir_for(spec_path.parent) / "receipts" / f"{_key(spec_path, env)}.json"


def _listed(stamp: FileStamp | None) -> list[int] | None:
    """A stamp as its JSON form in the receipt."""
    return None if stamp is None else list(stamp)


def _version() -> str:
    try:
        return metadata.version("mlform")
    except metadata.PackageNotFoundError:
        return "unknown"


def _libraries() -> dict[str, str | None]:
    return {name: installed_version(name) for name in TRAINING_LIBRARIES}


def write_receipt(spec_path: Path, env: str, spec_sha256: str, result: RunResult) -> None:
    """Record a full successful run; `spec_sha256` is the digest of the spec file's bytes as they were loaded."""
    spec = result.spec
    if spec is None:
        return
    key = state_key(spec.name, spec.env)
    doc = backend_for(spec).read(key)
    state = {"backend": backend_ref(spec), "key": key, "version": doc.version if doc else None}
    data = {"version": RECEIPT_VERSION, "mlform": _version(), "libraries": _libraries(),
            "lock_files": [str(path) for path in lock_files(spec_path.parent)],
            "spec_sha256": spec_sha256, "state": state,
            "files": result.file_stats, "name": spec.name, "env": spec.env, "digest": spec.digest,
            "steps": [[s.id, s.fingerprint] for s in result.steps.values()], "params": {"env": spec.env, **spec.config}}
    write_atomic(receipt_path(spec_path, env), json.dumps(data, sort_keys=True, default=str), fsync=False)


def read_receipt(spec_path: Path, env: str, store: Path) -> Receipt | None:
    """The receipt when nothing it covers has changed and every output is still complete, else None."""
    try:
        data = json.loads(receipt_path(spec_path, env).read_bytes())
        spec_digest = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return None
    try:
        if (data["version"] != RECEIPT_VERSION or data["mlform"] != _version() or data["libraries"] != _libraries()
                or data["spec_sha256"] != spec_digest
                or data["lock_files"] != [str(path) for path in lock_files(spec_path.parent)]):
            return None
        if any(_listed(file_stamp(p)) != signature for p, signature in data["files"].items()):
            return None
        steps = {str(step_id): str(fp) for step_id, fp in data["steps"]}
        state, backend = data["state"], reopen(data["state"]["backend"])
        doc = backend.read(state["key"]) if backend is not None else None
        if backend is None or (doc.version if doc else None) != state["version"]:
            return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not all((store / fp[:2] / fp / MARKER).is_file() for fp in steps.values()):
        return None
    return Receipt(data["name"], data["env"], data["digest"], steps, data["params"], backend)


def replay(spec_path: Path, receipt: Receipt) -> RunResult:
    """Track an all-cached run from `receipt` and return its outcome, every step `cached`."""
    import time

    from mlform.runtime.tracking.tracker import new_run_id, open_tracker

    began = time.perf_counter()
    state = StateDir(state_dir_for(spec_path.parent))
    run_id = new_run_id()
    steps = {}
    for step_id, fingerprint in receipt.steps.items():
        marker = json.loads((state.store / fingerprint[:2] / fingerprint / MARKER).read_bytes())
        steps[step_id] = StepRun(step_id, "cached", [], fingerprint, 0.0, marker.get("values") or {},
                                 state.store / fingerprint[:2] / fingerprint)
    tracker = open_tracker(receipt.backend)
    assert tracker is not None  # created when missing
    try:
        tracker.start_run(run_id, receipt.name, receipt.env, str(spec_path), receipt.digest, receipt.params)
        for outcome in steps.values():
            tracker.log_step(run_id, outcome.id, "cached", 0.0, outcome.fingerprint, [CACHED])
        tracker.finish_run(run_id, "cached")
    finally:
        tracker.close()
    return RunResult(run_id, None, steps, time.perf_counter() - began)
