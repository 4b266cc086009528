"""The audit log's storage: one hash-chained JSON line per entry, appended under a lock and never rewritten.

The backend key `audit/log.jsonl` (on the local kind the file `<state dir>/audit/log.jsonl`). An entry's `hash` is
`sha256:` of its canonical JSON without `hash` (`json.dumps(entry, sort_keys=True, separators=(",", ":"))`), and
its `prev` is the `hash` of the entry before it (`sha256:` and 64 zeros for the first), so editing, removing,
reordering or inserting an entry breaks the chain where it happened. Cutting entries off the end, or replacing the
whole log, cannot be seen from the log alone: keep the head that `mlform audit --verify` prints somewhere else to
detect that too.

Each entry is written as one line with one `write`, flushed to disk under the log's lock. A crash in the
middle leaves an incomplete last line; reading reports it, and nothing is appended after it until a
person removes it. On other backend kinds an append replaces the whole document with compare-and-swap on
the version it verified, so two appenders never fork the chain: the loser re-reads and chains after the
winner. The compiler writes an entry per apply; the runtime one per command that moved an alias
outside an apply (`mlform run`, `mlform monitor`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.runtime.gitinfo import git_commit
from mlform.runtime.storage.backends.base import ABSENT, ACTOR_ENV, Backend, ConflictError, Expect, actor
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.specs.errors import MlformError, StateError
from mlform.specs.fsutil import locked

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["ACTOR_ENV", "GENESIS", "LOG_KEY", "AuditError", "actor", "append_entry", "canonical", "command_fields",
           "entry_hash", "error_text", "head", "log_path", "log_where", "read_log", "verify_log"]

GENESIS = "sha256:" + "0" * 64
_MAX_ERROR = 4000
LOG_KEY = "audit/log.jsonl"
_APPEND_TRIES = 20
_CHAIN = ("seq", "prev", "hash")


class AuditError(StateError):
    """The audit log is broken (an entry edited, removed, reordered, inserted or incomplete) or cannot be written."""


def log_path(state_dir: Path) -> Path:
    """The audit log of a state folder."""
    return state_dir / LOG_KEY


def canonical(data: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, ASCII only; the form hashed and written as a line."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def entry_hash(entry: Mapping[str, Any]) -> str:
    """`sha256:` of the canonical JSON of `entry` without its `hash` key."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return "sha256:" + hashlib.sha256(canonical(body).encode()).hexdigest()


def _seq_of(entry: Mapping[str, Any], expected: int) -> int:
    seq = entry.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else expected


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _check(path: str | Path, number: int, entry: dict[str, Any], last: dict[str, Any] | None) -> None:
    """Raise AuditError when `entry`, on line `number`, does not follow `last` in an intact chain."""
    expected = last["seq"] + 1 if last else 1
    seq = _seq_of(entry, expected)
    where = f"audit log {path}: entry seq {seq} (line {number})"
    if entry.get("hash") != entry_hash(entry):
        raise AuditError(f"{where}: hash mismatch: the entry was edited after it was written")
    if entry.get("prev") != (last["hash"] if last else GENESIS):
        after = f"seq {last['seq']}" if last else "the start of the log"
        raise AuditError(f"{where}: prev mismatch: it does not follow {after}; "
                         "an entry was removed, reordered or inserted")
    if entry.get("seq") != expected:
        raise AuditError(f"{where}: `seq` should be {expected}")


def verify_log(path: Path) -> list[dict[str, Any]]:
    """Every entry of the log at `path` (none when it is missing); AuditError naming the first bad seq."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from None
    return _verify_bytes(raw, str(path))


def _verify_bytes(raw: bytes, path: str) -> list[dict[str, Any]]:
    """Every entry of the log text `raw` read from `path`; AuditError naming the first bad seq."""
    if not raw:
        return []
    lines = raw.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
        torn = False
    else:
        torn = True  # the last line has no newline: its write did not finish
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        last = entries[-1] if entries else None
        expected = last["seq"] + 1 if last else 1
        entry = _parse_line(line)
        final = number == len(lines)
        if final and (torn or entry is None):
            raise AuditError(f"audit log {path}: entry seq {expected} (line {number}) is incomplete: a write was "
                             "interrupted before it ended; the entries before it are intact, and nothing is "
                             "appended until that last line is removed")
        if entry is None:
            raise AuditError(f"audit log {path}: entry seq {expected} (line {number}): not a JSON object")
        _check(path, number, entry, last)
        entries.append(entry)
    return entries


def log_where(backend: Backend) -> str:
    """The audit log's place, for messages: the file on the local kind."""
    if isinstance(backend, LocalBackend):
        return str(log_path(backend.root))
    return f"{LOG_KEY} in {backend.describe()}"


def read_log(backend: Backend) -> list[dict[str, Any]]:
    """Every entry of the backend's audit log, the whole chain verified; AuditError naming the first bad seq."""
    if isinstance(backend, LocalBackend):
        return verify_log(log_path(backend.root))
    doc = backend.read(LOG_KEY)
    return _verify_bytes(doc.data, log_where(backend)) if doc is not None else []


def head(entries: list[dict[str, Any]]) -> str:
    """The hash a next entry would chain to: the last entry's, or GENESIS."""
    return entries[-1]["hash"] if entries else GENESIS


def _write_line(path: Path, line: str) -> None:
    """Append `line` with one `write`, then flush it to disk (and the folder entry of a new file)."""
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        data = memoryview(line.encode())
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _next_entry(entries: list[dict[str, Any]], fields: Mapping[str, Any]) -> dict[str, Any]:
    entry = {**fields, "seq": len(entries) + 1, "prev": head(entries)}
    entry["hash"] = entry_hash(entry)
    return entry


def append_entry(backend: Backend, fields: Mapping[str, Any], *, once: bool = False) -> dict[str, Any]:
    """Append an entry made of `fields` plus `seq`, `prev` and `hash` to the audit log; return it as written.

    The whole chain is verified first, under the lock (local) or the compare-and-swap (other kinds) that
    serializes appends: a broken log gets nothing more. With `once`, an entry already holding exactly `fields`
    is returned instead of appending another.
    """
    if not isinstance(backend, LocalBackend):
        return _append_swapped(backend, fields, once)
    path = log_path(backend.root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path.with_suffix(".lock")):
            entries = verify_log(path)
            found = _holding(entries, fields) if once else None
            if found is not None:
                return found
            entry = _next_entry(entries, fields)
            _write_line(path, canonical(entry) + "\n")
    except OSError as exc:
        raise AuditError(f"cannot append to audit log {path}: {exc.strerror or exc}") from None
    return entry


def _holding(entries: list[dict[str, Any]], fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entry made of exactly `fields` (besides its place in the chain), if there is one."""
    for entry in entries:
        if {key: value for key, value in entry.items() if key not in _CHAIN} == fields:
            return entry
    return None


def _append_swapped(backend: Backend, fields: Mapping[str, Any], once: bool) -> dict[str, Any]:
    """Append by replacing the document if nobody appended since it was verified; re-chain and retry if they did."""
    for attempt in range(_APPEND_TRIES):
        if attempt:  # a jittered, growing pause, so that busy appenders stop colliding in lockstep
            time.sleep(random.uniform(0, min(1.0, 0.01 * 2 ** attempt)))
        doc = backend.read(LOG_KEY)
        raw, version = (doc.data, doc.version) if doc is not None else (b"", ABSENT)
        expect: Expect = version
        entries = _verify_bytes(raw, log_where(backend))
        found = _holding(entries, fields) if once else None
        if found is not None:
            return found
        entry = _next_entry(entries, fields)
        try:
            backend.write(LOG_KEY, raw + (canonical(entry) + "\n").encode(), expect=expect)
        except ConflictError:
            continue
        return entry
    raise AuditError(f"cannot append to audit log {log_where(backend)}: {_APPEND_TRIES} other appends got in first")


def error_text(exc: BaseException | None) -> str | None:
    """The message of an mlform error (already free of secret values); only the type of anything else."""
    if exc is None:
        return None
    if isinstance(exc, MlformError):
        text = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        text = "interrupted"
    else:
        text = f"unexpected error: {type(exc).__name__}"
    return text if len(text) <= _MAX_ERROR else text[:_MAX_ERROR] + " ..."


def command_fields(spec: ResolvedSpec, command: str, result: str, exc: BaseException | None) -> dict[str, Any]:
    """The fields every entry has: who, when, where, which spec and environment, the command and its result."""
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"), "actor": actor(), "host": socket.gethostname(),
        "git_commit": git_commit(spec.root), "spec": spec.display, "env": spec.env, "spec_digest": spec.digest,
        "command": command, "result": result, "error": error_text(exc),
    }
