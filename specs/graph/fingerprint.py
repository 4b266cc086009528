"""Fingerprints: content hashes of data files (behind a stat cache) and of steps (config + upstream + data)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from mlform.specs.fsutil import file_sha256, stat_stamp, write_atomic

from .libraries import installed_version
from .steps import Step

__all__ = ["FINGERPRINT_VERSION", "MISSING", "UNQUERIED", "StatCache", "step_fingerprints"]

FINGERPRINT_VERSION = 1
MISSING = "missing"
UNQUERIED = "unqueried"  # the digest of a `sql` source that was not queried (`mlform graph` runs no query)


class StatCache:
    """Remembers each file's digest with its (size, mtime, inode), so an unchanged file is not re-read."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.entries: dict[str, list[object]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
                self.entries = loaded.get("files", {}) if loaded.get("version") == 1 else {}
            except (ValueError, OSError, AttributeError):
                self.entries = {}

    def digest(self, file: Path) -> str:
        """The content digest of `file`, or `missing` when it does not exist."""
        try:
            stat = os.stat(file)
        except OSError:
            return MISSING
        key = str(file.resolve())
        signature = list(stat_stamp(stat))
        entry = self.entries.get(key)
        if entry is not None and entry[:3] == signature:
            return str(entry[3])
        value = file_sha256(file)
        self.entries[key] = [*signature, value]
        self.dirty = True
        return value

    def save(self) -> None:
        """Persist the cache if it changed."""
        if self.path is not None and self.dirty:
            text = json.dumps({"version": 1, "files": self.entries}, sort_keys=True)
            write_atomic(self.path, text, fsync=False)
            self.dirty = False


def _hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def step_fingerprints(steps: Mapping[str, Step], data_digest: Callable[[Path], str],
                      version: Callable[[str], str | None] = installed_version) -> dict[str, str]:
    """Each step's fingerprint: its config slice, its upstream fingerprints, the digests of the data files it
    reads and of the user code files it runs, and the `version` of each library it depends on."""
    result: dict[str, str] = {}
    for step_id, step in steps.items():
        payload = {
            "version": FINGERPRINT_VERSION,
            "id": step_id,
            "kind": step.kind,
            "config": step.config,
            "upstream": {need: result[need] for need in step.needs},
            "data": [data_digest(path) for path in step.reads],
        }
        if step.code:  # user code files; absent otherwise, so steps without user code keep their fingerprints
            payload["code"] = [data_digest(path) for path in step.code]
        if step.libraries:
            payload["libraries"] = {name: version(name) for name in step.libraries}
        result[step_id] = _hash(payload)
    return result
