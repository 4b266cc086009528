"""State per spec and environment: lineage, serial, artifacts, step fingerprints, aliases; locked and atomic.

The state is the backend document `state/<name>.<env>.json`, written with compare-and-swap on the version it
was read at, so two writers never lose an update. The lock `state/<name>.<env>` is the backend's: on the local
kind an OS-level `flock` that the kernel releases when its holder dies (kill -9, a cancelled CI job), with a
small record beside it naming the holder (owner, pid, host, time, ID) so that a lock held elsewhere is
reported with the command that clears it.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from mlform.runtime.storage.backends.base import ABSENT, Backend, ConflictError, Expect, LockHeldError, LockInfo
from mlform.runtime.storage.statedir import state_key
from mlform.specs.errors import StateError

__all__ = ["STATE_FORMAT", "LockInfo", "State", "StateStore"]

STATE_FORMAT = 1


@dataclass
class State:
    """What the last apply did: the artifacts written, each step's fingerprint and outputs, aliases set."""

    lineage: str
    serial: int = 0
    spec: str = ""
    env: str = ""
    spec_digest: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        """The state as stable, sorted JSON."""
        return json.dumps({"format_version": STATE_FORMAT, **asdict(self)}, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> State:
        """Parse state text; raise StateError naming where it came from when it is not valid state."""
        try:
            data = json.loads(text)
            version = data.pop("format_version")
        except (ValueError, KeyError, AttributeError) as exc:
            raise StateError(f"state file {where} is not valid JSON state: {exc}") from None
        if version != STATE_FORMAT:
            raise StateError(f"state file {where} has format_version {version}; this mlform reads {STATE_FORMAT}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise StateError(f"state file {where} has unexpected content: {exc}") from None


def _age(seconds: float) -> str:
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class StateStore:
    """The state of one spec and environment in a backend: its document, its lock and the lock's holder."""

    def __init__(self, backend: Backend, name: str, env: str) -> None:
        self.backend = backend
        self.key = state_key(name, env)
        self.lock_name = self.key.removesuffix(".json")
        self.filename = self.key.removeprefix("state/")
        self.notes: list[str] = []
        self._version: Expect = ABSENT  # what the next write replaces: the version last read or written

    def read(self) -> State | None:
        """The current state, or None when none was written yet."""
        doc = self.backend.read(self.key)
        if doc is None:
            self._version = ABSENT
            return None
        self._version = doc.version
        return State.from_json(doc.data, self._where())

    def _where(self) -> str:
        root = getattr(self.backend, "root", None)  # the local kind names the file, as before backends
        return str(root / self.key) if root is not None else f"{self.key} in {self.backend.describe()}"

    def write(self, state: State) -> State:
        """Write `state` with the serial advanced by one, if nobody wrote it since it was read; hold the lock."""
        state.serial += 1
        try:
            self._version = self.backend.write(self.key, state.to_json().encode(), expect=self._version)
        except ConflictError:
            state.serial -= 1
            raise StateError(f"state {self.filename} was changed by another writer since it was read "
                             f"({self.backend.describe()}); nothing was overwritten: run the command again") from None
        return state

    def new_state(self, spec: str, env: str) -> State:
        """A fresh state with a new lineage."""
        return State(lineage=str(uuid.uuid4()), spec=spec, env=env)

    def holder(self) -> LockInfo | None:
        """Who holds the lock according to its holder record, if anyone."""
        return self.backend.holder(self.lock_name)

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Hold the state lock for `operation`, waiting up to `timeout` seconds; StateError naming the holder."""
        seen = len(self.backend.notes)
        with contextlib.ExitStack() as stack:
            try:
                info = stack.enter_context(self.backend.lock(self.lock_name, operation, timeout=timeout))
            except LockHeldError as exc:
                raise StateError(self._held_message(str(exc), timeout)) from None
            self.notes.extend(self.backend.notes[seen:])
            del self.backend.notes[seen:]
            yield info

    def _held_message(self, message: str, timeout: float) -> str:
        detail = message.removeprefix(f"{self.lock_name} is locked: ")
        info = self.holder()
        waited = [f"waited {_age(timeout)}"] if timeout > 0 else []
        held = [f"held for {_age(time.time() - info.created)}"] if info else []
        told = ", ".join(waited + held)
        return f"state {self.filename} is locked: {detail}" + (f" ({told})" if told else "")

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Clear the lock if its holder's ID is `lock_id`; raise StateError otherwise."""
        if self.holder() is None:
            raise StateError(f"state {self.filename} is not locked")
        return self.backend.force_unlock(self.lock_name, lock_id)
