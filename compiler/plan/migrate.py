"""`mlform state migrate`: copy a project's state, records, registry, runs and audit log to another backend.

From a state folder it also uploads the step outputs its states name to the target's shared store, so that
another working copy on the target finds every step cached, as it would after an apply there.

Documents are copied byte for byte and read back; model files are uploaded and downloaded again against
the sha256 their version's `meta.json` records. A key already in the target with the same bytes counts as
already there (so re-running is a no-op); with other bytes it is a conflict, reported and never overwritten.
The source is only read. Runs live in the local kind's SQLite `tracking.db` and as `runs/<id>.json`
documents on the other kinds; `mlform.runtime.tracking.rundoc` converts between the two.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlform.runtime.registry.models import MODEL_FILE
from mlform.runtime.storage.backends.base import ABSENT, Backend, ConflictError
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.runtime.storage.statedir import StateDir
from mlform.runtime.storage.store import Store
from mlform.runtime.tracking.rundoc import doc_to_run, run_key, run_to_doc, runs_in_db, save_run
from mlform.specs.errors import StateError

__all__ = ["KINDS", "Migration", "migrate"]

# what a project's shared state is, by key prefix; caches (stat cache, receipts, the store but the current outputs)
# are not moved
KINDS = {"state/": "state", "records/": "records", "registry/": "registry", "audit/": "audit log"}


@dataclass
class Migration:
    """What a migration found: per kind, the keys copied and those already there; conflicts by key."""

    copied: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def count(self, kind: str, copied: bool) -> None:
        """Count one key of `kind` as copied, or as already there."""
        tally = self.copied if copied else self.present
        tally[kind] = tally.get(kind, 0) + 1

    def summary(self) -> str:
        """`N copied, M already there`, with the copies per kind."""
        copied, present = sum(self.copied.values()), sum(self.present.values())
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.copied.items()))
        return f"{copied} copied{f' ({kinds})' if kinds else ''}, {present} already there"


def _kind(key: str) -> str | None:
    if any(part.startswith(".") for part in key.split("/")):
        return None  # a temp file or a folder being built
    return next((kind for prefix, kind in KINDS.items() if key.startswith(prefix)), None)


def _sha256(meta: bytes, key: str) -> str:
    try:
        digest = json.loads(meta)["sha256"]
    except (ValueError, KeyError, TypeError):
        raise StateError(f"{key} records no sha256: its model file cannot be verified") from None
    return digest if str(digest).startswith("sha256:") else f"sha256:{digest}"


def _copy_document(source: Backend, target: Backend, key: str, kind: str, done: Migration) -> bool:
    """Copy one document unless the target has it; False when it is missing from the source or a conflict."""
    doc = source.read(key)
    if doc is None:
        return False  # removed since it was listed
    there = target.read(key)
    if there is not None:
        if there.data != doc.data:
            done.conflicts.append(f"{key}: differs in {target.describe()}")
            return False
        done.count(kind, copied=False)
        return True
    try:
        target.write(key, doc.data, expect=ABSENT)
    except ConflictError:
        done.conflicts.append(f"{key}: written in {target.describe()} by someone else during the migration")
        return False
    copied = target.read(key)
    if copied is None or copied.data != doc.data:
        raise StateError(f"{key} reads back from {target.describe()} with other bytes than were written")
    done.count(kind, copied=True)
    return True


def _copy_model(source: Backend, target: Backend, meta_key: str, scratch: Path, done: Migration) -> None:
    """The model file beside a version's `meta.json`, verified against its sha256 on both sides."""
    meta = source.read(meta_key)
    if meta is None:
        return
    key = meta_key.rpartition("/")[0] + "/" + MODEL_FILE
    digest = _sha256(meta.data, meta_key)
    local = scratch / "model"
    try:
        target.get_file(key, local, digest)
        done.count("model files", copied=False)
        return
    except StateError:
        pass  # missing in the target (a damaged copy is refused by put_file's digest check below)
    source.get_file(key, local, digest)
    if target.put_file(key, local) != digest:
        raise StateError(f"{key} was stored in {target.describe()} with another sha256 than {digest}")
    target.get_file(key, scratch / "check", digest)
    done.count("model files", copied=True)


def _runs(backend: Backend) -> Iterator[tuple[str, bytes]]:
    """(backend key, document bytes) of every run the backend tracks."""
    if isinstance(backend, LocalBackend):
        for run in runs_in_db(StateDir(backend.root).tracking_db):
            yield run_key(run["spec_name"], run["id"]), run_to_doc(run)
        return
    keys = backend.keys("runs/")
    for key, doc in sorted(backend.read_many(keys).items()):
        yield key, doc.data


def _run_id(data: bytes, key: str, source: Backend) -> str:
    """The ID of the run in the document `data`, read from `key` of `source`."""
    return str(doc_to_run(data, f"{key} in {source.describe()}")["id"])


def _copy_runs(source: Backend, target: Backend, done: Migration) -> None:
    there = dict(_runs(target))
    for key, data in _runs(source):
        if key in there:
            if there[key] != data:
                done.conflicts.append(f"{key}: run `{_run_id(data, key, source)}` differs in {target.describe()}")
            else:
                done.count("runs", copied=False)
            continue
        if isinstance(target, LocalBackend):
            save_run(StateDir(target.root).tracking_db, doc_to_run(data, f"{key} in {source.describe()}"))
        else:
            target.write(key, data, expect=ABSENT)
        done.count("runs", copied=True)
    copied = dict(_runs(target))
    for key, data in _runs(source):
        if copied.get(key) != data and not any(c.startswith(key) for c in done.conflicts):
            raise StateError(f"run `{_run_id(data, key, source)}` reads back from {target.describe()} with other "
                             "content")


def migrate(source: Backend, target: Backend) -> Migration:
    """Copy every document, model file and run of `source` into `target`, verified; `source` is only read."""
    if source.describe() == target.describe():
        raise StateError(f"the source and the target are the same backend ({target.describe()})")
    done = Migration()
    keys = [(key, kind) for key in source.keys("") if (kind := _kind(key)) is not None]
    with tempfile.TemporaryDirectory(prefix="mlform-migrate-") as scratch:
        for key, kind in keys:
            if kind == "registry" and key.endswith("/" + MODEL_FILE):
                continue  # copied with its meta.json, which names its sha256
            same = _copy_document(source, target, key, kind, done)
            if same and kind == "registry" and key.endswith("/meta.json"):
                _copy_model(source, target, key, Path(scratch), done)
    _copy_runs(source, target, done)
    if isinstance(source, LocalBackend):
        _copy_outputs(source, target, done)
    return done


def _copy_outputs(source: LocalBackend, target: Backend, done: Migration) -> None:
    """The step outputs the source's states name, into the target's shared store, so that a working copy on the
    target has nothing to run again; other outputs are caches and stay."""
    store = Store.of(source.root, target)
    keys = [key for key in source.keys("state/") if key.endswith(".json")]
    for key, doc in sorted(source.read_many(keys).items()):
        try:
            steps = json.loads(doc.data)["steps"]
            wanted = {str(step_id): str(entry["fingerprint"]) for step_id, entry in steps.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StateError(f"{key} in {source.describe()} is not a state this mlform wrote") from None
        for step_id, fingerprint in wanted.items():
            uploaded = store.publish(step_id, fingerprint)
            if uploaded is not None:  # None: not here (the store is a cache that may be deleted)
                done.count("step outputs", copied=uploaded)
