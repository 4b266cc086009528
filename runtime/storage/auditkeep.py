"""Audit entries kept on this machine when the log could not take them, appended before the next audited change.

A command appends its entry after its changes are made (state written, aliases moved), so a log that cannot be
written then (a full disk, a torn line left by a crash elsewhere, an unreachable backend) would leave a change
without its entry. Its fields are kept instead, one JSON file each, in the spec's local state folder:
`<state dir>/audit/pending/` (`.mlform/`, or `$MLFORM_HOME`), with the digest of the backend's URL they belong to.
The next command that audits a change on that backend (`apply`, or `run` and `monitor` moving an alias) appends
them first, oldest first, each once (an entry already holding the same fields is not appended again, so a crash
between append and removal duplicates nothing), and refuses to start while they cannot be appended: no change
goes on without the entries of those before it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.runtime.storage.auditlog import AuditError, append_entry, read_log
from mlform.runtime.storage.backends.url import backend_ref
from mlform.runtime.storage.statedir import state_dir_for
from mlform.specs.errors import StateError
from mlform.specs.fsutil import write_atomic

if TYPE_CHECKING:
    from mlform.runtime.storage.backends.base import Backend
    from mlform.specs.loader import ResolvedSpec

__all__ = ["append_or_keep", "kept_in", "settle"]

_PENDING = "audit/pending"


def _folder(spec_root: Path) -> Path:
    """Where the entries are kept for the specs in `spec_root`."""
    return state_dir_for(spec_root.resolve()) / _PENDING


def _names(folder: Path) -> list[str]:
    """The files of the entries kept in `folder`, oldest first (none when it does not exist)."""
    try:
        return sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise AuditError(f"cannot read the kept audit entries in {folder}: {exc.strerror or exc}") from None


def kept_in(spec_root: Path) -> tuple[Path, int]:
    """The folder of the entries kept for specs in `spec_root` and how many it holds, for every backend."""
    folder = _folder(spec_root)
    try:
        return folder, len(_names(folder))
    except AuditError:
        return folder, 0


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    """The backend digest and the fields of a kept entry."""
    try:
        data = json.loads(path.read_bytes())
        return str(data["backend"]), dict(data["fields"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"kept audit entry {path} cannot be read: {exc}; it holds an audited change, so check "
                         "it by hand and remove it once its change is in the log") from None


def _append_kept(spec: ResolvedSpec, backend: Backend) -> bool:
    """Append the entries kept for `backend`, oldest first, each once; whether there were any.

    AuditError (naming how many wait) when one cannot be appended, the log being broken or out of reach.
    """
    folder, digest = _folder(spec.root), backend_ref(spec)["sha256"]
    kept = []
    for name in _names(folder):
        owner, fields = _read(folder / name)
        if owner == digest:
            kept.append((folder / name, fields))
    for number, (path, fields) in enumerate(kept):
        try:
            append_entry(backend, fields, once=True)
        except StateError as failure:  # a broken log, or a backend that cannot be read or written
            waiting = len(kept) - number
            raise AuditError(f"{failure}; {waiting} audit entr{'y' if waiting == 1 else 'ies'} kept in {folder} "
                             "wait to be appended first") from None
        path.unlink(missing_ok=True)  # another command settling at the same time removed it first
    return bool(kept)


def settle(spec: ResolvedSpec, backend: Backend) -> None:
    """Before a change: append the entries kept for `backend` and verify its log; AuditError refuses the change."""
    if not _append_kept(spec, backend):
        read_log(backend)  # appending verified the whole chain; with nothing to append, verify it here


def append_or_keep(spec: ResolvedSpec, backend: Backend, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Append the entry made of `fields` after those kept for `backend`; when the log cannot take it, keep it on this
    machine and raise AuditError saying where."""
    try:
        _append_kept(spec, backend)
        return append_entry(backend, fields)  # verifies the whole chain first
    except StateError as failure:
        folder = _folder(spec.root)
        path = folder / f"{time.time_ns():020d}-{os.getpid()}.json"
        record = json.dumps({"backend": backend_ref(spec)["sha256"], "fields": fields}, sort_keys=True)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(path, record)
        except OSError as exc:
            raise AuditError(f"{failure}; nor could the entry be kept in {folder}: {exc.strerror or exc}") from None
        raise AuditError(f"{failure}; the entry is kept in {path} and is appended before the next audited change "
                         "on this state backend") from None
