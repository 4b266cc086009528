"""The digest of mlform's own code, for plans: a changed mlform that kept its version number plans anew.

Hashing every file of the packages (about 250) took 15 ms of a 100 ms no-op plan, so each file's digest is kept in
`$XDG_CACHE_HOME/mlform/` (else `~/.cache/mlform/`) under its stamp `[size, mtime_ns, inode]`, one cache file per
installation, as git's index keeps its work tree's: a file whose stamp still matches is not read again, unless its
modification time was too close to the moment it was hashed (a coarse clock could hide a second write); such a file
is hashed every time until it settles. A torn, stale or unwritable cache file only costs the hashing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from mlform.specs.fsutil import file_sha256, prune_unused, racy, stat_stamp, user_cache_dir, write_atomic

__all__ = ["PACKAGES", "code_digest"]

PACKAGES = ("compiler", "runtime", "specs", "templates")
_FORMAT = 1
_PREFIX = "code-digests-"

# each file as (the name the digest shows: `<package>/<folder>/<name>`, its path)
Files = list[tuple[str, str]]


def _files(roots: Sequence[tuple[str, str]]) -> Files:
    """Every file under each `(package, folder)` of `roots`, but the bytecode caches, in the digest's order."""
    files: Files = []
    for package, base in roots:
        for parent, dirs, names in os.walk(base):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            files += [(f"{package}/{os.path.relpath(parent, base)}/{name}", os.path.join(parent, name))
                      for name in names]
    return sorted(files)


def _cache_file(roots: Sequence[tuple[str, str]]) -> Path:
    """Where the file digests of the installation at `roots` are kept."""
    where = hashlib.sha256("\0".join(base for _, base in roots).encode()).hexdigest()[:16]
    return user_cache_dir() / f"{_PREFIX}{where}.json"


def _read(path: Path) -> tuple[int, dict[str, list[int | str]]]:
    """(when the digests were taken, shown name -> `[size, mtime_ns, inode, sha256]`); nothing when unusable."""
    try:
        data = json.loads(path.read_bytes())
        if data["format"] == _FORMAT and isinstance(data["seen_ns"], int) and isinstance(data["files"], dict):
            return data["seen_ns"], data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return 0, {}


def code_digest(roots: Sequence[tuple[str, str]], cache: Path | None = None) -> str:
    """`sha256:<hex>` over every file under `roots` (`(package, folder)` pairs), reading only files that changed."""
    cache = cache or _cache_file(roots)
    seen_ns, known = _read(cache)
    now_ns = time.time_ns()
    current: dict[str, list[int | str]] = {}
    hashed = False
    digest = hashlib.sha256()
    for shown, path in _files(roots):
        stamp = list(stat_stamp(os.stat(path)))
        entry = known.get(shown)
        if entry is None or entry[:3] != stamp or racy(int(entry[1]), seen_ns):
            entry, hashed = [*stamp, file_sha256(path)], True
        current[shown] = entry
        digest.update(f"{shown}\0{entry[3]}\n".encode())
    if hashed or len(current) != len(known):
        text = json.dumps({"format": _FORMAT, "seen_ns": now_ns, "files": current}, separators=(",", ":"))
        with contextlib.suppress(OSError):  # a read-only cache folder: the digest holds without the cache
            write_atomic(cache, text, fsync=False)
            prune_unused(cache, f"{_PREFIX}*.json")
    return "sha256:" + digest.hexdigest()
