"""A backend whose files are not on this machine: any backend, with its local paths hidden.

Until the remote kinds run in a test, this puts a folder backend on the code paths a remote one takes:
downloads into a cache, shared markers, runs as documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from mlform.runtime.storage.backends.base import ANY, Backend, Doc, Expect, LockInfo

__all__ = ["Elsewhere"]


class Elsewhere(Backend):
    """Every call goes to `inner`, except that no key has a file here."""

    kind = "elsewhere"

    def __init__(self, inner: Backend) -> None:
        super().__init__()
        self.inner = inner
        self.downloads = 0

    def describe(self) -> str:
        return f"remote copy of {self.inner.describe()}"

    def read(self, key: str) -> Doc | None:
        return self.inner.read(key)

    def read_many(self, keys: Sequence[str]) -> dict[str, Doc]:
        return self.inner.read_many(keys)

    def write(self, key: str, data: bytes, *, expect: Expect = ANY) -> str:
        return self.inner.write(key, data, expect=expect)

    def delete(self, key: str, *, expect: Expect = ANY) -> None:
        self.inner.delete(key, expect=expect)

    def keys(self, prefix: str) -> list[str]:
        return self.inner.keys(prefix)

    def put_file(self, key: str, source: Path) -> str:
        return self.inner.put_file(key, source)

    def get_file(self, key: str, dest: Path, sha256: str) -> None:
        self.downloads += 1
        self.inner.get_file(key, dest, sha256)

    def lock(self, name: str, operation: str, *, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        return self.inner.lock(name, operation, timeout=timeout)

    def holder(self, name: str) -> LockInfo | None:
        return self.inner.holder(name)

    def force_unlock(self, name: str, lock_id: str) -> LockInfo:
        return self.inner.force_unlock(name, lock_id)
