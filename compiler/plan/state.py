"""State per spec and environment: lineage, serial, artifacts, step fingerprints, aliases; locked and atomic.

The lock is an OS-level `flock` that the kernel releases when its holder dies (kill -9, a cancelled CI
job), so a dead apply never blocks the next one on the same host. Beside it, a small JSON file names the
holder (owner, pid, host, time, ID) so that a lock held elsewhere is reported with the command that clears it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlform.specs.errors import StateError
from mlform.specs.fsutil import LockHeldError, locked, write_atomic

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
    def from_json(cls, text: str, where: Path) -> State:
        """Parse state text; raise StateError naming the file when it is not valid state."""
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


@dataclass(frozen=True)
class LockInfo:
    """Who holds a state lock."""

    id: str
    owner: str
    pid: int
    host: str
    created: float
    operation: str

    def describe(self) -> str:
        """One line naming the holder."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))
        return f"{self.operation} by {self.owner} (pid {self.pid} on {self.host}) since {when}, lock ID {self.id}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StateStore:
    """The local state backend: `<folder>/<name>.<env>.json`, its lock and its holder file."""

    def __init__(self, folder: Path, name: str, env: str) -> None:
        self.path = folder / f"{name}.{env}.json"
        self.lock_path = folder / f"{name}.{env}.lock"
        self.holder_path = folder / f"{name}.{env}.lock.json"
        self.notes: list[str] = []

    def read(self) -> State | None:
        """The current state, or None when none was written yet."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        return State.from_json(text, self.path)

    def write(self, state: State) -> State:
        """Write `state` with the serial advanced by one; the caller must hold the lock."""
        state.serial += 1
        write_atomic(self.path, state.to_json())
        return state

    def new_state(self, spec: str, env: str) -> State:
        """A fresh state with a new lineage."""
        return State(lineage=str(uuid.uuid4()), spec=spec, env=env)

    def holder(self) -> LockInfo | None:
        """Who holds the lock according to the holder file, if anyone."""
        try:
            return LockInfo(**json.loads(self.holder_path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    @contextlib.contextmanager
    def lock(self, operation: str) -> Iterator[LockInfo]:
        """Hold the state lock for `operation`; raise StateError naming the holder when it is taken."""
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(locked(self.lock_path, wait=False))
            except LockHeldError:
                raise StateError(self._held_message(self.holder())) from None
            self._check_stale_holder()
            info = LockInfo(str(uuid.uuid4()), getpass.getuser(), os.getpid(), socket.gethostname(),
                            time.time(), operation)
            write_atomic(self.holder_path, json.dumps(asdict(info), sort_keys=True))
            try:
                yield info
            finally:
                self.holder_path.unlink(missing_ok=True)

    def _held_message(self, info: LockInfo | None) -> str:
        who = info.describe() if info else "another process"
        return f"state {self.path.name} is locked: {who}"

    def _check_stale_holder(self) -> None:
        info = self.holder()
        if info is None:
            return
        if info.host != socket.gethostname():
            raise StateError(f"{self._held_message(info)}; if that run is gone, clear it with "
                             f"`mlform force-unlock {info.id}`")
        if _pid_alive(info.pid) and info.pid != os.getpid():
            # The kernel lock was free, so this pid no longer holds it: a reused pid or a crashed holder.
            self.notes.append(f"took over the lock left by pid {info.pid} ({info.operation})")
        else:
            self.notes.append(f"took over the lock left by {info.operation} of pid {info.pid}, which has exited")

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove the holder file if its ID is `lock_id`; raise StateError otherwise."""
        info = self.holder()
        if info is None:
            raise StateError(f"state {self.path.name} is not locked")
        if info.id != lock_id:
            raise StateError(f"lock ID `{lock_id}` does not match the holder's ID `{info.id}`")
        self.holder_path.unlink(missing_ok=True)
        return info
