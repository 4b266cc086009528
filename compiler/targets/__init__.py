"""Compile targets: one module each, found through the `mlform.targets` entry-point group.

A target module defines two functions, and declares its settings (its key under `targets`, the settings
model, the kinds of its files) as a `TargetSettings` registered under the same name in the
`mlform.target_settings` group (see `mlform.specs.model.target_settings`), so specs validate without it:

- `directory(ctx) -> str`: the folder, relative to the output root, holding its files for one spec and env;
- `render(ctx) -> dict[str, str]`: file name (relative to that folder) -> text without the provenance
  header; empty when the spec does not enable the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from mlform.specs.entrypoints import entry_points
from mlform.specs.errors import RenderError

if TYPE_CHECKING:
    from mlform.compiler.artifacts.render import Templates
    from mlform.compiler.graph.stepgraph import StepGraph
    from mlform.specs import ResolvedSpec

__all__ = ["ENTRY_POINT_GROUP", "Context", "Layout", "Target", "load_targets"]

ENTRY_POINT_GROUP = "mlform.targets"


@dataclass(frozen=True)
class Layout:
    """Where things are, as POSIX paths relative to the project root (the folder holding `.git`)."""

    spec_path: str
    spec_dir: str
    out: str
    templates: str | None = None

    def deploy_dir(self, name: str, env: str, target: str) -> str:
        """The folder of one target's files for one pipeline and environment, relative to the output root."""
        return f"deploy/{name}/{env}/{target}"


@dataclass(frozen=True)
class Context:
    """Everything a target renders from: the resolved spec, its step graph, paths, templates and version."""

    spec: ResolvedSpec
    graph: StepGraph
    layout: Layout
    templates: Templates
    version: str
    # path relative to the output root -> the object a target dumped as that YAML file, so checks need not parse it
    dumped: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def rooted(self, relative: str) -> str:
        """`relative` (to the output root) as a path relative to the project root."""
        return relative if self.layout.out == "." else f"{self.layout.out}/{relative}"


class Target(Protocol):
    """What a target module provides."""

    def directory(self, ctx: Context) -> str:
        """The folder of this target's files for `ctx.spec`, relative to the output root."""

    def render(self, ctx: Context) -> dict[str, str]:
        """File name -> text for `ctx.spec`; empty when the spec does not enable this target."""


@cache
def load_targets() -> dict[str, Target]:
    """Every installed target by name, sorted by name."""
    # imported here: the plan's no-change fast path reads ENTRY_POINT_GROUP and must load no pydantic
    from mlform.specs.model.target_settings import ENTRY_POINT_GROUP as SETTINGS_GROUP
    from mlform.specs.model.target_settings import declared_targets

    found: dict[str, Target] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            module = entry.load()
        except Exception as exc:  # a broken plugin must name itself, not crash the compiler
            msg = f"target `{entry.name}` ({entry.value}) cannot be loaded: {exc}"
            raise RenderError(msg) from exc
        if not (callable(getattr(module, "render", None)) and callable(getattr(module, "directory", None))):
            msg = f"target `{entry.name}` ({entry.value}) defines no `render(ctx)` and `directory(ctx)`"
            raise RenderError(msg)
        if entry.name not in declared_targets():
            msg = f"target `{entry.name}` ({entry.value}) declares no settings in the `{SETTINGS_GROUP}` entry points"
            raise RenderError(msg)
        found[entry.name] = module
    return found
