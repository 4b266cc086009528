"""The audit log: one hash-chained JSON line per apply, appended under a lock and never rewritten.

`<state dir>/audit/log.jsonl` holds an entry for every apply of a plan: who, when, the git commit, the spec
and plan digests, the result, the versions registered and the aliases moved. An entry's `hash` is `sha256:`
of its canonical JSON without `hash` (`json.dumps(entry, sort_keys=True, separators=(",", ":"))`), and its
`prev` is the `hash` of the entry before it (`sha256:` and 64 zeros for the first), so editing, removing,
reordering or inserting an entry breaks the chain where it happened. Cutting entries off the end, or
replacing the whole log, cannot be seen from the log alone: keep the head that `mlform audit --verify`
prints somewhere else (a CI job log, a ticket) to detect that too.

Each entry is written as one line with one `write`, flushed to disk under the log's lock. A crash in the
middle leaves an incomplete last line; reading reports it, and nothing is appended after it until a
person removes it.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.runtime.state import locked, state_dir_for
from mlform.specs.errors import MlformError, PlanError, StateError

if TYPE_CHECKING:
    from mlform.specs import ResolvedSpec

    from .plan import Plan
    from .state import State

__all__ = [
    "ACTOR_ENV",
    "GENESIS",
    "RESULTS",
    "AuditError",
    "Recording",
    "actor",
    "append_entry",
    "canonical",
    "entry_fields",
    "entry_hash",
    "head",
    "log_path",
    "plan_digest",
    "promoted",
    "read_entries",
    "recording",
    "registered",
    "verify_log",
]

GENESIS = "sha256:" + "0" * 64
ACTOR_ENV = "MLFORM_ACTOR"
RESULTS = ("applied", "failed", "refused")
_MAX_ERROR = 4000

Outcome = tuple["Plan", "State", list[str]]


class AuditError(StateError):
    """The audit log is broken (an entry edited, removed, reordered, inserted or incomplete) or cannot be written."""


def log_path(state_dir: Path) -> Path:
    """The audit log of a state folder."""
    return state_dir / "audit" / "log.jsonl"


def canonical(data: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, ASCII only; the form hashed and written as a line."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def entry_hash(entry: Mapping[str, Any]) -> str:
    """`sha256:` of the canonical JSON of `entry` without its `hash` key."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return "sha256:" + hashlib.sha256(canonical(body).encode()).hexdigest()


def plan_digest(plan: Plan) -> str:
    """`sha256:` of the plan's stable JSON (`Plan.to_json()`)."""
    return "sha256:" + hashlib.sha256(plan.to_json().encode()).hexdigest()


def _seq_of(entry: Mapping[str, Any], expected: int) -> int:
    seq = entry.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else expected


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _check(path: Path, number: int, entry: dict[str, Any], last: dict[str, Any] | None) -> None:
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


def head(entries: list[dict[str, Any]]) -> str:
    """The hash a next entry would chain to: the last entry's, or GENESIS."""
    return entries[-1]["hash"] if entries else GENESIS


def _matches(entry: Mapping[str, Any], env: str | None, model: str | None) -> bool:
    if env is not None and entry.get("env") != env:
        return False
    if model is None:
        return True
    moves = [*(entry.get("registered") or []), *(entry.get("promoted") or [])]
    return any(isinstance(move, dict) and move.get("model") == model for move in moves)


def read_entries(state_dir: Path, env: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
    """The entries of a state folder's audit log, after verifying the whole chain, filtered by env and model.

    `model` keeps entries that registered a version of that model or moved one of its aliases.
    """
    entries = verify_log(log_path(state_dir))
    return [entry for entry in entries if _matches(entry, env, model)]


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


def append_entry(state_dir: Path, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Append an entry made of `fields` plus `seq`, `prev` and `hash` to the audit log; return it as written.

    The whole chain is verified first, under the lock that serializes appends: a broken log gets nothing more.
    """
    path = log_path(state_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with locked(path.with_suffix(".lock")):
            entries = verify_log(path)
            entry = {**fields, "seq": len(entries) + 1, "prev": head(entries)}
            entry["hash"] = entry_hash(entry)
            _write_line(path, canonical(entry) + "\n")
    except OSError as exc:
        raise AuditError(f"cannot append to audit log {path}: {exc.strerror or exc}") from None
    return entry


def actor() -> str:
    """Who applies: `MLFORM_ACTOR`, else `GITHUB_ACTOR`, else the OS user name."""
    for name in (ACTOR_ENV, "GITHUB_ACTOR"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def _register_outputs(state: State | None) -> dict[str, Any]:
    step = state.steps.get("register") if state else None
    outputs = step.get("outputs") if isinstance(step, dict) else None
    return outputs if isinstance(outputs, dict) else {}


def registered(before: State | None, after: State | None) -> list[dict[str, Any]]:
    """The version the register step recorded in `after`, when it is not the one `before` recorded."""
    old, new = _register_outputs(before), _register_outputs(after)
    key = (new.get("model"), new.get("version"))
    if key[1] is None or key == (old.get("model"), old.get("version")):
        return []
    return [{"model": key[0], "version": key[1]}]


def promoted(before: State | None, after: State | None) -> list[dict[str, Any]]:
    """Alias moves between two states: `{"model", "alias", "from", "to"}` for each `name@alias` that changed."""
    old = before.aliases if before else {}
    new = after.aliases if after else {}
    moves = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            model, _, alias = key.rpartition("@")
            moves.append({"model": model, "alias": alias, "from": old.get(key), "to": new.get(key)})
    return moves


def entry_fields(spec: ResolvedSpec, plan: Plan, result: str, error: str | None,
                 before: State | None, after: State | None) -> dict[str, Any]:
    """The fields of one entry, without `seq`, `prev` and `hash`."""
    from mlform.runtime.gitinfo import git_commit

    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"), "actor": actor(), "host": socket.gethostname(),
        "git_commit": git_commit(spec.root), "spec": spec.display, "env": spec.env, "spec_digest": spec.digest,
        "plan_digest": plan_digest(plan), "result": result, "error": error,
        "serial": after.serial if after else None,
        "registered": registered(before, after), "promoted": promoted(before, after),
    }


def _error_text(exc: BaseException | None) -> str | None:
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


def _read_state(spec: ResolvedSpec) -> State | None:
    from .planner import state_store

    try:
        return state_store(spec).read()
    except StateError:
        return None


class Recording:
    """One apply being recorded: give `applied` the outcome of `apply_plan`."""

    def __init__(self, spec: ResolvedSpec, plan: Plan, before: State | None) -> None:
        self.spec, self.plan, self.before = spec, plan, before
        self.after: State | None = None
        self.done = False

    def applied(self, outcome: Outcome) -> Outcome:
        """Keep the plan applied and the final state of a successful apply; return `outcome` unchanged."""
        self.plan, self.after, _ = outcome
        self.done = True
        return outcome

    def finish(self, result: str, exc: BaseException | None = None) -> dict[str, Any]:
        """Append this apply's entry to the audit log."""
        after = self.after if self.done else _read_state(self.spec)
        fields = entry_fields(self.spec, self.plan, result, _error_text(exc), self.before, after)
        return append_entry(state_dir_for(self.spec.root), fields)


def _finish_after_error(record: Recording, result: str, exc: BaseException) -> None:
    try:
        record.finish(result, exc)
    except MlformError as failure:  # the apply's own error is the one to report
        print(f"warning: the audit entry of this apply was not written: {failure}", file=sys.stderr)


@contextlib.contextmanager
def recording(spec: ResolvedSpec, plan: Plan) -> Iterator[Recording]:
    """Record the apply of `plan` done in the block: `applied`, `refused` on PlanError, `failed` on anything else.

    A broken audit log refuses the apply before it starts, so that no apply goes unrecorded. Errors re-raise.
    """
    verify_log(log_path(state_dir_for(spec.root)))
    record = Recording(spec, plan, _read_state(spec))
    try:
        yield record
    except PlanError as exc:
        _finish_after_error(record, "refused", exc)
        raise
    except BaseException as exc:
        _finish_after_error(record, "failed", exc)
        raise
    record.finish("applied")
