"""What the UI reads: the specs under its folder, resolved per environment, and the backends, trackers and
registries they keep their state in (through the runtime's own APIs, remote backends included).

Specs are validated once and again only when their file changes; trackers are opened per request, so every
page shows the state as it is now. Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlform.runtime.registry.models import Registry
    from mlform.runtime.storage.backends.base import Backend
    from mlform.runtime.tracking.tracker import Tracker
    from mlform.specs.loader import ResolvedSpec

__all__ = ["SECRET_KEY", "Entry", "Sources", "hide_secret", "stamp"]

# a value under a key named like this is a secret (or a reference to one) and never shown
SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|api_key|apikey|private_key)", re.IGNORECASE)


def hide_secret(key: str, value: Any) -> Any:
    """`value`, or `***` when `key` names a secret."""
    return "***" if SECRET_KEY.search(key) else value


@dataclass
class Entry:
    """One spec file: its key in URLs (its folder relative to the UI's root), and its environments resolved."""

    key: str
    file: Path
    stamp: tuple[int, int] = (0, 0)
    specs: dict[str, ResolvedSpec] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The pipeline's name (the folder's when the spec does not load)."""
        first = next(iter(self.specs.values()), None)
        return first.name if first is not None else self.key

    @property
    def description(self) -> str:
        """`metadata.description`, or empty."""
        first = next(iter(self.specs.values()), None)
        return (first.pipeline.metadata.description or "") if first is not None else ""


def stamp(path: Path) -> tuple[int, int]:
    """A file's modification time and size; zeros when it is missing."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


class Sources:
    """The specs under `root` and where their state lives."""

    def __init__(self, root: Path) -> None:
        from mlform.specs.read.discovery import discover

        self.root = root.resolve()
        self.entries: dict[str, Entry] = {}
        for file in discover([self.root]):
            key = file.resolve().parent.relative_to(self.root).as_posix()
            self.entries[key if key != "." else file.resolve().parent.name] = Entry(key, file.resolve())
        for key, entry in self.entries.items():
            entry.key = key
        self._graphs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.cache: dict[str, Any] = {}  # what a page may reuse while the files it came from are unchanged

    def all(self) -> list[Entry]:
        """Every spec, each reloaded when its file changed."""
        return [self.entry(key) for key in sorted(self.entries)]

    def entry(self, key: str) -> Entry:
        """The spec with URL key `key` (KeyError when there is none), reloaded when its file changed."""
        entry = self.entries[key]
        now = stamp(entry.file)
        if now != entry.stamp:
            self._load(entry, now)
        return entry

    @staticmethod
    def _load(entry: Entry, now: tuple[int, int]) -> None:
        from mlform.specs.loader import validate_file

        specs, diagnostics = validate_file(entry.file)
        entry.stamp = now
        entry.specs = {spec.env: spec for spec in specs}
        entry.errors = [str(d) for d in diagnostics if d.severity == "error"]

    def backends(self) -> list[tuple[Backend, list[Entry]]]:
        """Each backend in use, once, with the specs keeping state there."""
        from mlform.runtime.storage.backends.url import backend_for

        found: dict[int, tuple[Backend, list[Entry]]] = {}
        for entry in self.all():
            for spec in entry.specs.values():
                backend = backend_for(spec)
                _, entries = found.setdefault(id(backend), (backend, []))
                if entry not in entries:
                    entries.append(entry)
        return list(found.values())

    @contextmanager
    def trackers(self) -> Iterator[list[tuple[Tracker, list[Entry]]]]:
        """The run tracker of each backend that has one, closed afterwards."""
        from mlform.runtime.tracking.tracker import open_tracker

        opened = [(t, entries) for backend, entries in self.backends()
                  if (t := open_tracker(backend, create=False)) is not None]
        try:
            yield opened
        finally:
            for tracker, _ in opened:
                tracker.close()

    def registry(self, entry: Entry) -> Registry | None:
        """The model registry of a spec (shared by its environments), or None when the spec does not load."""
        from mlform.runtime.registry.models import registry_for

        spec = next(iter(entry.specs.values()), None)
        return registry_for(spec) if spec is not None else None

    def graph(self, entry: Entry, env: str) -> dict[str, Any]:
        """The step graph of a spec in `env` as JSON-ready data, derived once per spec digest."""
        from mlform.compiler.graph.graphviews import graph_data
        from mlform.compiler.graph.stepgraph import view
        from mlform.runtime.run.preview import current_graph

        spec = entry.specs[env]
        cache_key = (entry.key, env, spec.digest)
        if cache_key not in self._graphs:
            self._graphs[cache_key] = graph_data(view(spec, current_graph(spec)))
        return self._graphs[cache_key]
