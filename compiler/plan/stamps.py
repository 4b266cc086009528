"""Cheap evidence that nothing changed: file stamps, and the toolchain a plan was computed with.

A stamp is `[size, mtime_ns, inode, sha256 or None]`. A file whose stat still matches is unchanged, except
when its mtime was too close to the moment it was stamped (a coarse file system clock can give a second
write the same mtime): such a "racy" file is stamped with its digest and checked by content. A stamp with
a digest also tells a file whose stat moved but whose bytes did not (a fresh checkout, a restored cache).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.specs.entrypoints import entry_points
from mlform.specs.fsutil import file_sha256, racy, stat_stamp
from mlform.specs.graph.libraries import TRAINING_LIBRARIES
from mlform.specs.graph.libraries import installed_version as installed

from .codedigest import PACKAGES, code_digest

if TYPE_CHECKING:
    from mlform.specs import ResolvedSpec

__all__ = ["PLAN_PACKAGES", "Stamp", "estimator_packages", "installed", "stamp", "toolchain",
           "unchanged"]

# distributions whose behaviour shapes every plan: spec validation, YAML, templates, the step graph, and those
# whose versions the train step's fingerprint holds
PLAN_PACKAGES = ("pydantic", "PyYAML", "Jinja2", "networkx", *TRAINING_LIBRARIES)

Stamp = list[Any]


def stamp(path: str | Path, seen_ns: int, digest: bool = False) -> Stamp | None:
    """The stamp of `path` (None when it does not exist); with its digest when asked or when it is racy."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    sha = file_sha256(path) if digest or racy(st.st_mtime_ns, seen_ns) else None
    return [*stat_stamp(st), sha]


def unchanged(path: str | Path, recorded: Stamp | None, seen_ns: int, rehash: bool = False) -> bool:
    """Whether `path` still is what `recorded` (stamped at `seen_ns`) saw; `rehash` checks content on a new stat."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return recorded is None
    except OSError:
        return False
    if recorded is None:
        return False
    same = list(stat_stamp(st)) == recorded[:3]
    if same and not racy(recorded[1], seen_ns):
        return True
    sha = recorded[3]
    try:
        return sha is not None and (same or rehash) and file_sha256(path) == sha
    except OSError:
        return False


def _code_roots() -> list[tuple[str, str]]:
    """Each mlform package and the folders it is imported from."""
    return [(package, base) for package in PACKAGES
            for base in importlib.import_module(f"mlform.{package}").__path__]


@cache
def toolchain() -> dict[str, Any]:
    """What every plan depends on besides the spec and its inputs: mlform, its target plugins, PLAN_PACKAGES."""
    from mlform.compiler.targets import ENTRY_POINT_GROUP

    targets = sorted(f"{e.name}={e.value} ({e.dist} {e.version})"
                     for e in entry_points(group=ENTRY_POINT_GROUP))
    return {"mlform": installed("mlform"), "code": code_digest(_code_roots()), "targets": targets,
            "packages": {name: installed(name) for name in PLAN_PACKAGES}}


@cache
def _distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def estimator_packages(specs: Iterable[ResolvedSpec]) -> dict[str, str | None] | None:
    """Versions of the distributions providing the specs' estimators and transformers; None for one that is
    importable only from outside any installed distribution (its code could change unseen)."""
    found: dict[str, str | None] = {}
    for spec in specs:
        model = spec.pipeline.model
        for import_path in (model.estimator or "", *(step.transformer for step in model.preprocessing)):
            distributions = _distributions().get(import_path.partition(".")[0])
            if not distributions:
                return None
            found.update((name, installed(name)) for name in distributions)
    return found
