"""Per-environment overlays: deep-merge `environments.<env>` onto the base spec, keeping positions."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from typing import Any

from mlform.specs.errors import Diagnostic

from .source import Document, KeyPath, Tables, subpaths

__all__ = ["BASE", "FIXED", "PINNED", "SECTIONS", "check_overlays", "environment_names", "merge", "resolve",
           "resolved_digest"]

BASE = "default"
# top-level keys an overlay may never set, and why
FIXED = {
    "apiVersion": "the API version is the same in every environment",
    "kind": "the kind is the same in every environment",
    "environments": "overlays cannot nest",
    "secrets": "secrets are declared once, at the top level",
}
# the top-level keys an overlay may change (when the base spec has them)
SECTIONS = ("metadata", "data", "validation", "model", "evaluation", "registry", "tracking",
            "serving", "monitoring", "targets", "runtime", "state", "governance")
# sections an overlay may set though the base spec leaves them out: per-environment by nature
PER_ENVIRONMENT = ("governance",)
# (section, key): the one key inside a section that an overlay may never set
PINNED = ("metadata", "name")


def merge(base: Any, overlay: Any) -> Any:
    """Deep-merge `overlay` onto `base`: mappings merge, `null` deletes a key, anything else replaces."""
    if not isinstance(overlay, dict):
        return overlay
    # a mapping that replaces a non-mapping still drops its nulls: they delete nothing, so they mean nothing
    merged = dict(base) if isinstance(base, dict) else {}
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(merged.get(key), value)
    return merged


def environment_names(doc: Document) -> list[str]:
    """The environments a document declares, in file order."""
    envs = doc.data.get("environments")
    return list(envs) if isinstance(envs, dict) else []


def _section_hint(base: dict[str, Any], env: str, key: str) -> str:
    """A close section name, else the base section holding `key` (`tuning` is in `model`), else the sections."""
    from mlform.specs.check.explain import did_you_mean  # imports pydantic: only for the message

    close = did_you_mean(key, SECTIONS)
    if close:
        return close
    owner = next((s for s in SECTIONS if isinstance(base.get(s), dict) and key in base[s]), None)
    if owner is not None:
        return f"; did you mean `environments.{env}.{owner}.{key}`?"
    return "; expected one of " + ", ".join(f"`{s}`" for s in SECTIONS)


def check_overlays(doc: Document) -> list[Diagnostic]:
    """Overlays may only change sections the base defines, and never the fixed keys."""
    found: list[Diagnostic] = []
    envs = doc.data.get("environments")
    if not isinstance(envs, dict):
        return found
    for env, overlay in envs.items():
        if not isinstance(overlay, dict):
            continue  # null is an empty overlay; any other non-mapping is a schema error
        for key in overlay:
            path: KeyPath = ("environments", env, key)
            where = f"environments.{env}.{key}"
            if key in FIXED:
                message = f"`{key}` cannot be overridden per environment: {FIXED[key]}"
            elif key not in SECTIONS:
                message = f"unknown section `{key}`{_section_hint(doc.data, env, key)}"
            elif key not in doc.data and key not in PER_ENVIRONMENT:
                message = (f"section `{key}` is not in the base spec; "
                           "environment overlays only change sections the base defines")
            elif key == PINNED[0] and isinstance(overlay[key], dict) and PINNED[1] in overlay[key]:
                path, where = (*path, PINNED[1]), f"{where}.{PINNED[1]}"
                message = "`metadata.name` cannot be overridden per environment: it names the pipeline everywhere"
            else:
                continue
            mark = doc.keys.get(path) or doc.mark(path)
            found.append(Diagnostic(doc.file, mark.line, mark.col, where, message))
    return found


def resolve(doc: Document, env: str) -> Document:
    """The document as environment `env` sees it; marks of overlaid values point into the overlay."""
    if env == BASE:
        return doc
    overlay = (doc.data.get("environments") or {}).get(env)
    overlay = overlay if isinstance(overlay, dict) else {}
    data = merge(doc.data, overlay)
    return Document(doc.file, data, partial(_overlay_tables, doc, overlay, data, env))


def _overlay_tables(doc: Document, overlay: dict[str, Any], merged: dict[str, Any], env: str) -> Tables:
    """The base document's tables with the marks of every overlaid value pointing into the overlay."""
    tables = Tables(dict(doc.values), dict(doc.keys), dict(doc.plain))
    _overlay_marks(doc.tables, tables, overlay, doc.data, merged, (), ("environments", env))
    return tables


def _overlay_marks(origin: Tables, tables: Tables, overlay: dict[str, Any], base: dict[str, Any],
                   merged: dict[str, Any], path: KeyPath, source: KeyPath) -> None:
    """Point the marks of every overlaid value at the overlay, dropping those of replaced values.

    `base`, `overlay` and `merged` are the mappings at `path` before, in and after the merge; the
    overlay's mapping stands at `source` in the document.
    """
    for key, value in overlay.items():
        here, there = (*path, key), (*source, key)
        below = base.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            _overlay_marks(origin, tables, value, below, merged[key], here, there)
            continue
        if key in base:  # the paths of the replaced or deleted value are the paths of its data
            for inner in subpaths(below):
                for table in (tables.values, tables.keys, tables.plain):
                    table.pop(here + inner, None)
        if value is None:
            continue
        for inner in subpaths(merged[key]):  # the overlay's value as merged: without the nulls that delete nothing
            _copy(origin, there + inner, tables, here + inner)


def _copy(origin: Tables, source: KeyPath, tables: Tables, target: KeyPath) -> None:
    """Give `target` in `tables` the entries that `source` has in `origin`."""
    for table, found in ((tables.values, origin.values), (tables.keys, origin.keys)):
        mark = found.get(source)
        if mark is not None:
            table[target] = mark
    text = origin.plain.get(source)
    if text is not None:
        tables.plain[target] = text


def resolved_digest(view: Document) -> str:
    """sha256 of what an environment resolves to (`resolve`'s result): its data but the overlays, and the names of
    the environments declared; another environment's overlay, comments and formatting do not change it."""
    data = {key: value for key, value in view.data.items() if key != "environments"}
    text = json.dumps({"environments": environment_names(view), "spec": data}, sort_keys=True, default=str,
                      separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
