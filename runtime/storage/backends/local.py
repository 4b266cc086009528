"""The default backend: files under the state folder (`.mlform/` or `$MLFORM_HOME`), `flock` for locks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from mlform.specs.fsutil import file_sha256, locked, write_atomic, write_atomic_with

from .base import ABSENT, ANY, Backend, BackendError, ConflictError, Doc, Expect, LockHeldError, LockInfo, check_key

__all__ = ["LocalBackend"]

_LOCK_SUFFIXES = (".lock", ".lock.json")
_POLL = 0.1


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalBackend(Backend):
    """Key `a/b.json` is the file `<root>/a/b.json`; lock `a/b` is `<root>/a/b.lock` plus its holder `a/b.lock.json`."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def describe(self) -> str:
        """The state folder."""
        return f"local state in {self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def read(self, key: str) -> Doc | None:
        """The file's bytes; its version is a digest of them."""
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BackendError(f"cannot read {key} in {self.root}: {exc.strerror or exc}") from None
        return Doc(data, _version(data))

    @contextlib.contextmanager
    def _checked(self, key: str, expect: Expect) -> Iterator[None]:
        """Hold the folder's write lock while `expect` is checked and the change is made."""
        if expect is ANY:
            yield
            return
        with locked(self.root / ".writes.lock"):
            current = self.read(key)
            if expect is ABSENT and current is not None:
                raise ConflictError(f"{key} already exists in {self.root}")
            if expect is not ABSENT and (current is None or current.version != expect):
                raise ConflictError(f"{key} changed in {self.root} since it was read")
            yield

    def write(self, key: str, data: bytes, *, expect: Expect = ANY) -> str:
        """Replace the file atomically (temp file, fsync, rename)."""
        with self._checked(key, expect):
            write_atomic(self._path(key), data)
        return _version(data)

    def delete(self, key: str, *, expect: Expect = ANY) -> None:
        """Remove the file."""
        with self._checked(key, expect):
            self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        """Files under the prefix, without locks, holder records and temp files."""
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            name = path.name
            if name.startswith(".") or name.endswith(_LOCK_SUFFIXES) or not path.is_file():
                continue
            found.append(path.relative_to(self.root).as_posix())
        return sorted(found)

    def put_file(self, key: str, source: Path) -> str:
        """Copy `source` into place (nothing to copy when it already is the key's file)."""
        target = self._path(key)
        if target.resolve() != source.resolve():
            write_atomic_with(target, lambda tmp: shutil.copyfile(source, tmp))
        return file_sha256(target)

    def get_file(self, key: str, dest: Path, sha256: str) -> None:
        """Copy the key's file to `dest` after checking its digest."""
        source = self._path(key)
        if not source.is_file():
            raise BackendError(f"{key} is missing from {self.root}")
        actual = file_sha256(source)
        if actual != sha256:
            raise BackendError(f"{key} in {self.root} has {actual}, expected {sha256}: it was changed or damaged")
        if dest.resolve() != source.resolve():
            write_atomic_with(dest, lambda tmp: shutil.copyfile(source, tmp))

    def local_path(self, key: str) -> Path:
        """The key's file under the root."""
        return self._path(key) if key else self.root

    def _holder_path(self, name: str) -> Path:
        return self._path(name + ".lock.json")

    def holder(self, name: str) -> LockInfo | None:
        """The holder record beside the lock file."""
        try:
            return LockInfo(**json.loads(self._holder_path(name).read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    @contextlib.contextmanager
    def lock(self, name: str, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        """An `flock` the kernel frees when the holder dies, polled until `timeout`."""
        deadline = time.monotonic() + timeout
        with contextlib.ExitStack() as held:
            while True:
                try:
                    held.enter_context(locked(self._path(name + ".lock"), wait=False))
                    break
                except LockHeldError:
                    if time.monotonic() >= deadline:
                        who = self.holder(name)
                        raise LockHeldError(f"{name} is locked: {who.describe() if who else 'another process'}") \
                            from None
                    time.sleep(_POLL)
            self._take_over(name)
            info = LockInfo.mine(operation)
            holder = self._holder_path(name)
            write_atomic(holder, json.dumps(asdict(info), sort_keys=True))
            try:
                yield info
            finally:
                holder.unlink(missing_ok=True)

    def _take_over(self, name: str) -> None:
        """The kernel lock was free: a holder record left is a dead process's, unless another host wrote it."""
        info = self.holder(name)
        if info is None:
            return
        if info.host != socket.gethostname():
            raise LockHeldError(f"{name} is locked: {info.describe()}; if that run is gone, clear it with "
                                f"`mlform force-unlock {info.id}`")
        if _pid_alive(info.pid) and info.pid != os.getpid():
            self.notes.append(f"took over the lock left by pid {info.pid} ({info.operation})")
        else:
            self.notes.append(f"took over the lock left by {info.operation} of pid {info.pid}, which has exited")

    def force_unlock(self, name: str, lock_id: str) -> LockInfo:
        """Remove the holder record if its ID is `lock_id`."""
        info = self.holder(name)
        if info is None:
            raise BackendError(f"{name} is not locked")
        if info.id != lock_id:
            raise BackendError(f"lock ID `{lock_id}` does not match the holder's ID `{info.id}`")
        self._holder_path(name).unlink(missing_ok=True)
        return info
