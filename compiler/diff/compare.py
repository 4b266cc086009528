"""Compile the specs at two sides (git refs, or a ref and the working tree) and compare the artifacts.

Each side is written to a private folder (see `gitrefs`) and compiled there exactly as `mlform compile`
would, every environment of every selected spec (or only `env`). Both sides compile with this mlform:
the diff shows what the spec changes do. Pipelines are matched by `metadata.name` and environment,
artifacts by their path, and each changed artifact is compared by meaning (see `artifactdiff`).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlform.compiler.artifacts.output import compile_specs
from mlform.specs import BASE, SpecError, discover, validate_file
from mlform.specs.errors import MlformError, PlanError
from mlform.specs.read.overlays import environment_names
from mlform.specs.read.source import read_document

from .artifactdiff import ArtifactDiff, compare_artifact
from .gitrefs import Side, is_ref, materialize
from .structdiff import ADDED, CHANGED, HEADER_ONLY, REMOVED, UNCHANGED

__all__ = ["FORMAT_VERSION", "Diff", "DiffError", "PipelineDiff", "diff_sides"]

FORMAT_VERSION = 1
_PIPELINE_STATUSES = (ADDED, CHANGED, REMOVED, UNCHANGED)
_ARTIFACT_STATUSES = (ADDED, CHANGED, REMOVED, HEADER_ONLY)


class DiffError(PlanError):
    """The specs at one side cannot be compiled, or the selection matches nothing."""


@dataclass(frozen=True)
class PipelineDiff:
    """One pipeline (name and environment) across both sides, with each artifact that differs."""

    name: str
    env: str
    status: str
    spec_before: str | None
    spec_after: str | None
    artifacts: tuple[ArtifactDiff, ...] = ()

    @property
    def spec(self) -> str:
        """The spec file at head, or at base for a removed pipeline; `old -> new` when it moved."""
        before, after = self.spec_before, self.spec_after
        return f"{before} -> {after}" if before and after and before != after else str(after or before)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"name": self.name, "env": self.env, "status": self.status,
                "spec": {"before": self.spec_before, "after": self.spec_after},
                "artifacts": [a.to_dict() for a in self.artifacts]}


@dataclass(frozen=True)
class Diff:
    """Every pipeline of both sides, matched by name and environment."""

    base: Side
    head: Side
    pipelines: tuple[PipelineDiff, ...] = ()

    @property
    def has_changes(self) -> bool:
        """Whether any artifact differs."""
        return any(p.status != UNCHANGED for p in self.pipelines)

    def counts(self) -> dict[str, dict[str, int]]:
        """Pipelines and artifacts by status."""
        pipelines = Counter(p.status for p in self.pipelines)
        artifacts = Counter(a.status for p in self.pipelines for a in p.artifacts)
        return {"pipelines": {s: pipelines[s] for s in _PIPELINE_STATUSES},
                "artifacts": {s: artifacts[s] for s in _ARTIFACT_STATUSES}}

    def summary(self) -> str:
        """One line: pipelines and artifacts added, changed and removed."""
        if not self.has_changes:
            return f"No differences: {len(self.pipelines)} pipelines compile to the same artifacts."
        counts = self.counts()
        pipelines = ", ".join(f"{n} {s}" for s, n in counts["pipelines"].items())
        artifacts = ", ".join(f"{n} {s}" for s, n in counts["artifacts"].items())
        return f"Pipelines: {pipelines}. Artifacts: {artifacts}."

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON-ready data with `format_version`."""
        sides = {name: {"ref": at.ref, "commit": at.commit} for name, at in (("base", self.base), ("head", self.head))}
        return {"format_version": FORMAT_VERSION, **sides, "summary": self.summary(), "counts": self.counts(),
                "pipelines": [p.to_dict() for p in self.pipelines]}


@dataclass
class _Pipeline:
    spec: str
    files: dict[str, str] = field(default_factory=dict)


def _compile(dest: Path, selection: Sequence[str], env: str | None) -> dict[tuple[str, str], _Pipeline]:
    """The artifacts of every pipeline of the specs under `dest` that `selection` names, by (name, env)."""
    chosen = discover([dest / p for p in selection if (dest / p).exists()] if selection else [dest])
    names: dict[tuple[str, str], str] = {}
    kept = []
    for path in chosen:
        if env is not None and env != BASE and env not in environment_names(read_document(path)):
            continue
        specs, diagnostics = validate_file(path, [env] if env else None)
        if any(d.severity == "error" for d in diagnostics):
            raise SpecError(diagnostics)
        relative = Path(os.path.relpath(path.resolve(), dest)).as_posix()
        names.update({(relative, spec.env): spec.name for spec in specs})
        kept.append(path)
    build = compile_specs(kept, env, dest, cwd=dest)
    pipelines: dict[tuple[str, str], _Pipeline] = {}
    for relative, text in build.files.items():
        owner = build.owners[relative]
        key = (names[(owner.spec, owner.env)], owner.env)
        pipelines.setdefault(key, _Pipeline(owner.spec)).files[relative] = text
    return pipelines


def _side(at: Side, selection: Sequence[str], env: str | None, dest: Path) -> dict[tuple[str, str], _Pipeline]:
    try:
        return _compile(dest, selection, env)
    except MlformError as exc:
        # warnings (such as data files the private copy leaves out) are not why it failed
        found = "\n".join(map(str, exc.errors)) if isinstance(exc, SpecError) else str(exc)
        text = found.replace(f"{dest}{os.sep}", "")
        raise DiffError(f"cannot compile the specs at {at.label}:\n{text}") from None


def _pipeline(key: tuple[str, str], old: _Pipeline | None, new: _Pipeline | None) -> PipelineDiff:
    before, after = (old.files if old else {}), (new.files if new else {})
    found = (compare_artifact(path, before.get(path), after.get(path)) for path in sorted(before.keys() | after.keys()))
    artifacts = tuple(a for a in found if a is not None)
    status = ADDED if old is None else REMOVED if new is None else CHANGED if artifacts else UNCHANGED
    return PipelineDiff(*key, status, old.spec if old else None, new.spec if new else None, artifacts)


def diff_sides(root: Path, base: Side, head: Side, selection: Sequence[str] = (), env: str | None = None) -> Diff:
    """Compile the specs `selection` names (repository paths; all when empty) at both sides and compare."""
    with tempfile.TemporaryDirectory(prefix="mlform-diff-") as scratch:
        sides = [(at, Path(scratch, name).resolve()) for name, at in (("base", base), ("head", head))]
        for at, dest in sides:
            # the copy's `.git` pins its project root: compiled files name paths relative to it
            (dest / ".git").mkdir(parents=True)
            materialize(root, at, selection, dest)
        missing = [p for p in selection if not any((dest / p).exists() for _, dest in sides)]
        if missing:
            hint = (f"; `{missing[0]}` is a git ref: compare refs with `--base {missing[0]}` and `--head REF`"
                    if is_ref(root, missing[0]) else "")
            raise DiffError(f"no spec found at `{missing[0]}` in {base.label} or {head.label}{hint}")
        before, after = (_side(at, selection, env, dest) for at, dest in sides)
    if not before and not after:
        wanted = f" declaring environment `{env}`" if env else ""
        raise DiffError(f"nothing to compare: no spec{wanted} found in {base.label} or {head.label}")
    keys = sorted(before.keys() | after.keys())
    return Diff(base, head, tuple(_pipeline(key, before.get(key), after.get(key)) for key in keys))
