"""File-system helpers every stage shares: atomic writes, file stamps and an inter-process lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mlform.specs.errors import StateError

__all__ = ["FileStamp", "LockHeldError", "file_sha256", "file_stamp", "locked", "prune_unused", "racy", "stat_stamp",
           "user_cache_dir", "write_atomic", "write_atomic_with", "write_changed"]

FileStamp = tuple[int, int, int]
# mtimes this close to the time they were seen may still change without changing (a coarse file system clock)
_RACY_NS = 50_000_000
_RACY_COARSE_NS = 2_000_000_000
_UNUSED_S = 30 * 86400
_NEW = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)


class LockHeldError(StateError):
    """`locked(..., wait=False)` found the lock held by another process."""


def _mode_for(path: Path) -> int:
    """Keep an existing file's mode; a new file gets the usual 0o666 less the umask (mkstemp would use 0o600)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def user_cache_dir() -> Path:
    """mlform's folder in the user's cache: `$XDG_CACHE_HOME/mlform/`, else `~/.cache/mlform/`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "mlform"


def prune_unused(kept: Path, pattern: str) -> None:
    """Remove the files beside `kept` matching `pattern`, but `kept`, that nothing read or wrote for 30 days."""
    # a cache file per installation or `sys.path`: those of a virtual environment removed long ago stay otherwise
    cutoff = time.time() - _UNUSED_S
    for other in kept.parent.glob(pattern):
        with contextlib.suppress(OSError):  # another process pruning, or rewriting it, at the same time
            st = other.stat()
            if other != kept and max(st.st_atime, st.st_mtime) < cutoff:
                other.unlink()


def write_atomic_with(path: Path, write: Callable[[Path], object], *, fsync: bool = True) -> None:
    """Let `write` fill a temp file beside `path`, flush it to disk, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, _mode_for(path))
        finally:
            os.close(fd)
        write(tmp)
        if fsync:
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str, *, fsync: bool = True) -> None:
    """Write `data` to `path` atomically: a crash leaves the old file or the new one, never a torn one."""
    payload = memoryview(data.encode() if isinstance(data, str) else data)
    if not path.parent.is_dir():  # a stat is cheaper than a mkdir that finds the folder there
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:  # through the temp file's own descriptor: one open per file, not three
            os.fchmod(fd, _mode_for(path))
            while payload:
                payload = payload[os.write(fd, payload):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_changed(path: str, data: bytes) -> bool:
    """Atomically replace `path` with `data` unless it holds those bytes already (no fsync); True if written.

    For files reproducible from their sources: a crash leaves the old file or the new one and at most a
    `.<name>.<random>.tmp` beside it. A new file gets 0o666 less the umask, a rewritten one keeps its mode.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        mode = None
    else:
        if st.st_size == len(data):
            with open(path, "rb") as handle:
                if handle.read() == data:
                    return False
        mode = st.st_mode & 0o7777
    folder, name = os.path.split(path)
    fd, tmp = _create_beside(folder, name)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            payload = memoryview(data)
            while payload:
                payload = payload[os.write(fd, payload):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def _create_beside(folder: str, name: str) -> tuple[int, str]:
    """A new, empty temp file in `folder` (created if needed) with mode 0o666 less the umask, as `open` gives."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, _NEW, 0o666), tmp
        except FileNotFoundError:
            os.makedirs(folder or ".", exist_ok=True)
            return os.open(tmp, _NEW, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name for {name} in {folder}")


def stat_stamp(st: os.stat_result) -> FileStamp:
    """`(size, mtime_ns, inode)`: changes when a file is rewritten in place or replaced by a rename."""
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """`sha256:<hex>` of a file's bytes."""
    with open(path, "rb") as handle:
        return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()


def file_stamp(path: str | os.PathLike[str]) -> FileStamp | None:
    """The stamp of `path`, or None when it cannot be stat'ed (missing, unreadable folder)."""
    try:
        return stat_stamp(os.stat(path))
    except OSError:
        return None


def racy(mtime_ns: int, seen_ns: int) -> bool:
    """Whether a file with `mtime_ns`, seen at `seen_ns`, could change again within the same mtime."""
    window = _RACY_COARSE_NS if mtime_ns % 1_000_000_000 == 0 else _RACY_NS
    return seen_ns - mtime_ns < window


@contextlib.contextmanager
def locked(path: Path, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (created if needed); the kernel frees it if the holder dies.

    With `wait=False`, raise LockHeldError at once instead of waiting for another holder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeldError(f"{path} is locked by another process") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
