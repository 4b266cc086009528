"""The interface every state backend implements: keyed documents with compare-and-swap, files, one lock per name.

Keys are relative POSIX paths (`state/iris.dev.json`, `registry/iris/aliases.json`); the local backend stores
each one as that file under the state folder, so a local project's layout is the backend's key space and
`state migrate` copies keys one to one. Every document write names what it expects to replace (a version
tag from `read`, `ABSENT` for "must not exist yet", or `ANY`), so two writers never lose an update: the
loser gets ConflictError and re-reads.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import ClassVar, Final

from mlform.specs.errors import StateError
from mlform.specs.fsutil import LockHeldError  # one error for a held lock, whichever layer found it

__all__ = ["ABSENT", "ACTOR_ENV", "ANY", "Backend", "BackendError", "ConflictError", "Doc", "Expect", "LockHeldError",
           "LockInfo", "actor", "check_key"]


class _Expect(Enum):
    ANY = "any"
    ABSENT = "absent"


ANY: Final = _Expect.ANY
ABSENT: Final = _Expect.ABSENT
Expect = str | _Expect


class BackendError(StateError):
    """A backend cannot be reached or refuses the request; the message never contains a secret."""


class ConflictError(BackendError):
    """A write's expectation failed: the key changed (or appeared) since it was read."""


ACTOR_ENV = "MLFORM_ACTOR"


def actor() -> str:
    """Who acts: `MLFORM_ACTOR`, else `GITHUB_ACTOR`, else the OS user name (`uid N` without a passwd entry)."""
    for name in (ACTOR_ENV, "GITHUB_ACTOR"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


@dataclass(frozen=True)
class Doc:
    """A stored document and the version tag a compare-and-swap write must quote."""

    data: bytes
    version: str


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: kept beside the lock so that a stuck one is reported with the command that clears it."""

    id: str
    owner: str
    pid: int
    host: str
    created: float
    operation: str

    @classmethod
    def mine(cls, operation: str) -> LockInfo:
        """A holder record for this process, owned by who the audit log names."""
        return cls(str(uuid.uuid4()), actor(), os.getpid(), socket.gethostname(), time.time(), operation)

    def describe(self) -> str:
        """One line naming the holder."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))
        return f"{self.operation} by {self.owner} (pid {self.pid} on {self.host}) since {when}, lock ID {self.id}"


def check_key(key: str) -> str:
    """`key` if it is a clean relative POSIX path; ValueError otherwise (a programming error, not user input)."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"bad backend key {key!r}")
    return key


class Backend(ABC):
    """Documents, files and locks of one project's state; safe for several processes and hosts at once."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.notes: list[str] = []  # things worth telling the user, e.g. a lock taken over from a dead holder

    @abstractmethod
    def describe(self) -> str:
        """Where the state lives, for messages: no password, token or secret value."""

    @abstractmethod
    def read(self, key: str) -> Doc | None:
        """The document at `key`, or None when there is none."""

    def read_many(self, keys: Sequence[str]) -> dict[str, Doc]:
        """The documents that exist among `keys`; backends override this to fetch them in one round trip."""
        found = {key: self.read(key) for key in keys}
        return {key: doc for key, doc in found.items() if doc is not None}

    @abstractmethod
    def write(self, key: str, data: bytes, *, expect: Expect = ANY) -> str:
        """Store `data` at `key` if its current version is `expect`; return the new version, else ConflictError."""

    @abstractmethod
    def delete(self, key: str, *, expect: Expect = ANY) -> None:
        """Remove `key` (missing is fine with `ANY`); ConflictError when `expect` does not hold."""

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """The sorted keys under `prefix` (a folder-like prefix ending in `/`, or `""` for all)."""

    @abstractmethod
    def put_file(self, key: str, source: Path) -> str:
        """Upload the file `source` as `key` (large model files: streamed); return its `sha256:<hex>`."""

    @abstractmethod
    def get_file(self, key: str, dest: Path, sha256: str) -> None:
        """Download `key` to `dest` atomically; BackendError when it is missing or its sha256 is not `sha256`."""

    def local_path(self, key: str) -> Path | None:
        """The file that holds `key` ("": the root) when it is on this machine (the local kind); None elsewhere."""
        return None

    @abstractmethod
    def lock(self, name: str, operation: str, *, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """Hold the exclusive lock `name`, waiting up to `timeout` seconds; LockHeldError naming the holder."""

    @abstractmethod
    def holder(self, name: str) -> LockInfo | None:
        """Who holds `name` according to the stored holder record, if anyone."""

    @abstractmethod
    def force_unlock(self, name: str, lock_id: str) -> LockInfo:
        """Clear a lock whose holder record has `lock_id` (a holder that died); BackendError otherwise."""

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release connections; the backend is not used afterwards."""
