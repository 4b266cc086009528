"""Why a step must run: pure comparisons of the current step snapshots with the last successful ones."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.specs.graph.statistic import statistic_change

if TYPE_CHECKING:
    from mlform.specs.graph.pipeline import PipelineGraph

__all__ = ["CACHED", "Snapshot", "config_changes", "snapshots", "step_reasons"]

CACHED = "cached: fingerprint unchanged"
_UNSET = object()
# A step's config slice is keyed by short names; these are where they live in the spec.
_SPEC_PREFIX: dict[str, tuple[str, ...]] = {
    "split": ("data", "split"),
    "target": ("data", "target"),
    "features": ("data", "features"),
    "id_columns": ("data", "id_columns"),
}


@dataclass(frozen=True)
class Snapshot:
    """What a step's fingerprint was made of: its config slice, data digests, upstream fingerprints, the digests
    of the user code files it runs and the versions of the libraries it depends on."""

    fingerprint: str
    config: dict[str, Any]
    data: dict[str, str]
    upstream: dict[str, str]
    code: dict[str, str] = field(default_factory=dict)
    libraries: dict[str, str | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (`code` and `libraries` only when the step has them)."""
        data = asdict(self)
        for key in ("code", "libraries"):
            if not data[key]:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot | None:
        """A snapshot from JSON data, or None when it is not one."""
        try:
            return cls(str(data["fingerprint"]), dict(data["config"]), dict(data["data"]), dict(data["upstream"]),
                       dict(data.get("code", {})), dict(data.get("libraries", {})))
        except (KeyError, TypeError, ValueError):
            return None


def _shown(path: Path, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if path.is_relative_to(root) else str(path)
    except ValueError:
        return str(path)


def snapshots(graph: PipelineGraph, root: Path) -> dict[str, Snapshot]:
    """The snapshot of every step of `graph`; data paths are shown relative to the spec folder `root`."""
    return {
        step_id: Snapshot(
            graph.fingerprints[step_id],
            step.config,
            {_shown(path, root): graph.data[path] for path in step.reads},
            {need: graph.fingerprints[need] for need in step.needs},
            {_shown(path, root): graph.data[path] for path in step.code},
            {name: graph.libraries[name] for name in step.libraries},
        )
        for step_id, step in graph.steps.items()
    }


def config_changes(before: Any, after: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any, Any]]:
    """Every leaf that differs, as (key path, before, after); a missing side is `_UNSET`."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in list(before) + [k for k in after if k not in before]:
            changes.extend(config_changes(before.get(key, _UNSET), after.get(key, _UNSET), (*path, str(key))))
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            changes.extend(config_changes(old, new, (*path, str(index))))
        return changes
    return [] if before == after else [(path, before, after)]


def _value(value: Any) -> str:
    return "(unset)" if value is _UNSET else json.dumps(value, sort_keys=True)


def _spec_path(config: Mapping[str, Any], path: tuple[str, ...]) -> str:
    head, rest = path[0], path[1:]
    if head == "source":
        full: tuple[str, ...] = ("data", "sources", str(config.get("name", "?")), *rest)
    else:
        full = (*_SPEC_PREFIX.get(head, (head,)), *rest)
    return ".".join(full)


def _library_changes(current: Mapping[str, str | None], previous: Mapping[str, str | None]) -> list[str]:
    """`scikit-learn 1.9.1 -> 1.10.0` for each library whose installed version moved."""
    if current and not previous:
        return [f"the versions of {', '.join(current)} were not recorded before"]
    return [f"{name} {previous.get(name) or 'not installed'} -> {version or 'not installed'}"
            for name, version in current.items() if previous.get(name) != version]


def _changed(current: Snapshot, previous: Snapshot) -> list[str]:
    reasons = [f"`{_spec_path(current.config, path)}` changed: {_value(old)} -> {_value(new)}"
               for path, old, new in config_changes(previous.config, current.config)]
    for file, digest in current.data.items():
        old = previous.data.get(file)
        if digest == "missing":
            reasons.append(f"data `{file}` is missing")
        elif old is None:
            reasons.append(f"data `{file}` is new")
        elif old != digest:
            reasons.append(f"data `{file}` {statistic_change(old, digest) or 'changed'}")
    reasons.extend(f"data `{file}` is no longer read" for file in previous.data if file not in current.data)
    for file, digest in current.code.items():
        old = previous.code.get(file)
        if digest == "missing":
            reasons.append(f"`{file}` is missing")
        elif old != digest:
            reasons.append(f"`{file}` changed" if old else f"`{file}` is new")
    reasons.extend(f"`{file}` is no longer used" for file in previous.code if file not in current.code)
    reasons.extend(_library_changes(current.libraries, previous.libraries))
    reasons.extend(f"upstream `{need}` changed" for need, fp in current.upstream.items()
                   if previous.upstream.get(need) != fp)
    return reasons or ["fingerprint changed (a new mlform fingerprint format)"]


def step_reasons(current: Mapping[str, Snapshot], previous: Mapping[str, Any],
                 completed: Collection[str]) -> dict[str, list[str]]:
    """Step ID -> why it must run; an empty list means its output for this fingerprint is complete.

    `previous` maps step IDs to the last successful snapshots (JSON or Snapshot); `completed` holds
    the steps whose output for the current fingerprint is in the store.
    """
    reasons: dict[str, list[str]] = {}
    for step_id, snapshot in current.items():
        if step_id in completed:
            reasons[step_id] = []
            continue
        before = previous.get(step_id)
        old = before if isinstance(before, Snapshot) else Snapshot.from_json(before) if before else None
        if old is None:
            reasons[step_id] = ["no previous run"]
        elif old.fingerprint == snapshot.fingerprint:
            reasons[step_id] = ["output missing: the last run did not complete or its output was removed"]
        else:
            reasons[step_id] = _changed(snapshot, old)
    return reasons
