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

__all__ = ["PENDING", "append_or_keep", "kept_entries", "kept_in", "settle"]

PENDING = "audit/pending"


def _folder(spec: ResolvedSpec) -> Path:
    return state_dir_for(spec.root) / PENDING


def kept_in(spec_root: Path) -> tuple[Path, int]:
    """The folder of the entries kept for specs in `spec_root` and how many it holds, for every backend."""
    folder = state_dir_for(spec_root.resolve()) / PENDING
    try:
        return folder, sum(1 for name in os.listdir(folder) if name.endswith(".json"))
    except OSError:
        return folder, 0


def kept_entries(spec: ResolvedSpec) -> list[Path]:
    """The files of the entries kept for the backend of `spec`, oldest first."""
    folder, backend = _folder(spec), backend_ref(spec)["sha256"]
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise AuditError(f"cannot read the kept audit entries in {folder}: {exc.strerror or exc}") from None
    return [folder / name for name in names if _read(folder / name)[0] == backend]


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    """The backend digest and the fields of a kept entry."""
    try:
        data = json.loads(path.read_bytes())
        return str(data["backend"]), dict(data["fields"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"kept audit entry {path} cannot be read: {exc}; it holds an audited change, so check "
                         "it by hand and remove it once its change is in the log") from None


def settle(spec: ResolvedSpec, backend: Backend) -> list[dict[str, Any]]:
    """Append the entries kept for `backend`, oldest first, each once; then every entry of its verified log.

    AuditError (naming how many wait) when one cannot be appended, or the log is broken: refuse the change.
    """
    kept = kept_entries(spec)
    for number, path in enumerate(kept):
        try:
            append_entry(backend, _read(path)[1], once=True)
        except StateError as failure:  # a broken log, or a backend that cannot be read or written
            raise AuditError(f"{failure}; {len(kept) - number} audit entr{'y' if len(kept) - number == 1 else 'ies'} "
                             f"kept in {path.parent} wait to be appended first") from None
        path.unlink(missing_ok=True)  # another command settling at the same time removed it first
    return read_log(backend)


def append_or_keep(spec: ResolvedSpec, backend: Backend, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Append the entry made of `fields` after those kept for `backend`; when the log cannot take it, keep it on this
    machine and raise AuditError saying where."""
    try:
        settle(spec, backend)
        return append_entry(backend, fields)
    except StateError as failure:
        folder = _folder(spec)
        path = folder / f"{time.time_ns():020d}-{os.getpid()}.json"
        record = json.dumps({"backend": backend_ref(spec)["sha256"], "fields": fields}, sort_keys=True)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(path, record)
        except OSError as exc:
            raise AuditError(f"{failure}; nor could the entry be kept in {folder}: {exc.strerror or exc}") from None
        raise AuditError(f"{failure}; the entry is kept in {path} and is appended before the next audited change "
                         "on this state backend") from None
