"""Installed entry points of mlform's groups (`mlform.*`) and pydantic's, read once per process and cached on disk:
the target and target-settings groups and the plan's toolchain all select from one scan of the installed
distributions, and pydantic is spared its own scan for plugins when none is installed.

Scanning every distribution's metadata costs more than a spec's validation, so the entry points are cached in
`$XDG_CACHE_HOME/mlform/` (else `~/.cache/mlform/`), one file per `sys.path`, under a stamp of what is installed:
each path entry's `*.dist-info` and `*.egg-info` folders by name, with the modification time of their
`entry_points.txt`. Installing, removing or upgrading a distribution changes the stamp, and a stale, torn or
unreadable file is scanned anew and replaced atomically (concurrent writers each leave a whole file). Writing one
removes those of other `sys.path`s neither read nor written for 30 days (a virtual environment removed long ago, a
temp folder), as far as the file system keeps access times.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from functools import cache
from importlib import machinery, metadata
from pathlib import Path
from typing import Any, NamedTuple

from .fsutil import prune_unused, user_cache_dir, write_atomic

__all__ = ["Entry", "entry_points", "header", "spare_pydantic_plugin_scan"]

_FORMAT = 2  # 2: pydantic's plugin group too
_INFO = (".dist-info", ".egg-info")
_GROUPS = "mlform."
_PYDANTIC = "pydantic"


class Entry(NamedTuple):
    """One installed entry point and the distribution that declares it (`?` when unknown)."""

    name: str
    value: str
    group: str
    dist: str
    version: str

    def load(self) -> Any:
        """The object the entry point names, imported."""
        return metadata.EntryPoint(self.name, self.value, self.group).load()


def header(dist: metadata.Distribution, name: str) -> str | None:
    """A header of `dist`'s metadata (`Name`, `Version`), read without parsing the description after the headers."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.partition("\n\n")[0].splitlines():
        if line.startswith(f"{name}:"):
            return line.removeprefix(f"{name}:").strip()
    return None


def _owner(dist: metadata.Distribution | None) -> tuple[str, str]:
    """The name and version of the distribution `dist`; `?` for what it does not say."""
    if dist is None:
        return "?", "?"
    return header(dist, "Name") or "?", header(dist, "Version") or "?"


def _scan() -> list[Entry]:
    """The entry points of mlform's groups (`mlform.*`) and pydantic's of every installed distribution."""
    found = metadata.entry_points()  # Python 3.11: every group in a mapping, group -> its entry points
    # (its groups through dict's own `values`: selecting each group in turn would match every entry point each time)
    every = found if isinstance(found, metadata.EntryPoints) else [e for eps in dict.values(found) for e in eps]
    # only the owners of mlform's entry points have their metadata read, and only its headers
    owners: dict[int, tuple[str, str]] = {}
    entries = []
    for e in every:
        if e.group.startswith(_GROUPS) or e.group == _PYDANTIC:
            owner = owners.setdefault(id(e.dist), _owner(e.dist))
            entries.append(Entry(e.name, e.value, e.group, *owner))
    return entries


def _stamp() -> str:
    """What is installed on `sys.path`: each entry's metadata folders and the times their entry points changed."""
    parts = []
    for entry in sys.path:
        parts.append(f"\0{entry}")
        try:
            with os.scandir(entry or ".") as children:
                names = sorted(child.name for child in children if child.name.lower().endswith(_INFO))
        except OSError:  # a zip file or a missing folder: its own modification time stands for its contents
            with contextlib.suppress(OSError):
                parts.append(str(os.stat(entry).st_mtime_ns))
            continue
        for name in names:
            try:
                parts.append(f"{name} {os.stat(os.path.join(entry, name, 'entry_points.txt')).st_mtime_ns}")
            except OSError:
                parts.append(name)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _cache_file() -> Path:
    """Where the entry points of this `sys.path` are cached."""
    where = hashlib.sha256("\0".join(sys.path).encode()).hexdigest()[:16]
    return user_cache_dir() / f"entry-points-{where}.json"


def _read(path: Path, current: str) -> list[Entry] | None:
    """The entry points cached at `path` if the file is whole and was written for the `current` stamp."""
    try:
        data = json.loads(path.read_bytes())
        if data["format"] != _FORMAT or data["stamp"] != current:
            return None
        return [Entry(*row) for row in data["entries"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cacheable() -> bool:
    """Whether every distribution is found on `sys.path` (no other finder provides any)."""
    return all(finder is machinery.PathFinder
               or not hasattr(finder, "find_distributions") for finder in sys.meta_path)


@cache
def _installed() -> tuple[Entry, ...]:
    if not _cacheable():
        return tuple(_scan())
    path, current = _cache_file(), _stamp()
    entries = _read(path, current)
    if entries is None:
        entries = _scan()
        text = json.dumps({"format": _FORMAT, "stamp": current, "entries": entries}, separators=(",", ":"))
        with contextlib.suppress(OSError):  # a read-only cache folder: use the entry points without caching them
            write_atomic(path, text, fsync=False)
            prune_unused(path, "entry-points-*.json")
    return tuple(entries)


def entry_points(group: str) -> tuple[Entry, ...]:
    """The installed entry points of `group`, one of mlform's (`mlform.*`) or `pydantic`."""
    return tuple(entry for entry in _installed() if entry.group == group)


def spare_pydantic_plugin_scan() -> None:
    """Tell pydantic it has no plugins when no installed distribution declares one, before it scans them all."""
    # pydantic reads every distribution's entry points the first time it builds a validator (~6 ms with 150
    # installed, more in a data-science environment); the scan above (cached) already knows the answer. With a
    # plugin installed, or plugins already loaded, pydantic loads them itself, as it would have.
    if entry_points(_PYDANTIC):
        return
    from pydantic.plugin import _loader

    if getattr(_loader, "_plugins", ...) is None:
        _loader._plugins = {}
