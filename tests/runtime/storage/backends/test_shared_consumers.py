"""Consumers of a shared backend: the audit log's compare-and-swap append, records and apply state."""

from __future__ import annotations

import threading

import pytest
from tools.elsewhere import Elsewhere

from mlform.compiler.plan.state import StateStore
from mlform.runtime.storage.auditlog import AuditError, append_entry, read_log
from mlform.runtime.storage.backends.base import Backend
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.runtime.storage.backends.url import open_backend
from mlform.runtime.storage.statedir import load_record, save_step
from mlform.specs.errors import StateError


def _generic(url: str) -> Backend:
    """The backend at `url`, the local kind through the interface only."""
    opened = open_backend(url)
    return Elsewhere(opened) if isinstance(opened, LocalBackend) else opened


def test_concurrent_appends_never_fork_the_chain(backend_url: str) -> None:
    def append(actor: str) -> None:
        backend = _generic(backend_url)
        for number in range(25):
            append_entry(backend, {"actor": actor, "number": number})

    workers = [threading.Thread(target=append, args=(name,)) for name in ("alice", "bob")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    entries = read_log(_generic(backend_url))
    assert [e["seq"] for e in entries] == list(range(1, 51))
    for actor in ("alice", "bob"):
        assert [e["number"] for e in entries if e["actor"] == actor] == list(range(25))


def test_a_torn_log_refuses_appends_on_every_kind(backend_url: str) -> None:
    backend = _generic(backend_url)
    append_entry(backend, {"actor": "a"})
    doc = backend.read("audit/log.jsonl")
    assert doc is not None
    backend.write("audit/log.jsonl", doc.data + b'{"actor": "b", "se', expect=doc.version)
    with pytest.raises(AuditError, match=r"entry seq 2 \(line 2\) is incomplete"):
        append_entry(backend, {"actor": "c"})
    assert backend.read("audit/log.jsonl").data == doc.data + b'{"actor": "b", "se'  # type: ignore[union-attr]


def test_parallel_steps_keep_their_records(backend_url: str) -> None:
    def save(step: str) -> None:
        backend = _generic(backend_url)
        for number in range(10):
            save_step(backend, "records/x.dev.0123456789.json", step, {"n": number})

    workers = [threading.Thread(target=save, args=(f"step{i}",)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert load_record(_generic(backend_url), "records/x.dev.0123456789.json") == {
        f"step{i}": {"n": 9} for i in range(3)}


def test_a_state_written_by_another_copy_since_it_was_read_is_not_overwritten(backend_url: str) -> None:
    mine, theirs = StateStore(_generic(backend_url), "x", "dev"), StateStore(_generic(backend_url), "x", "dev")
    mine.write(mine.new_state("x", "dev"))
    theirs.write(theirs.read())  # type: ignore[arg-type]
    stale = mine.new_state("x", "dev")
    with pytest.raises(StateError, match=r"^state x.dev.json was changed by another writer since it was read "):
        mine.write(stale)
    assert stale.serial == 0
    assert theirs.read().serial == 2  # type: ignore[union-attr]
