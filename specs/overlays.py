"""Per-environment overlays: deep-merge `environments.<env>` onto the base spec, keeping positions."""

from __future__ import annotations

from typing import Any

from .errors import Diagnostic
from .explain import did_you_mean
from .source import Document, KeyPath

__all__ = ["BASE", "check_overlays", "environment_names", "merge", "resolve"]

BASE = "default"
_FIXED = {
    "apiVersion": "the API version is the same in every environment",
    "kind": "the kind is the same in every environment",
    "environments": "overlays cannot nest",
    "secrets": "secrets are declared once, at the top level",
}
_SECTIONS = ("metadata", "data", "validation", "model", "evaluation", "registry", "tracking",
             "serving", "monitoring", "targets")


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


def check_overlays(doc: Document) -> list[Diagnostic]:
    """Overlays may only change sections the base defines, and never the fixed keys."""
    found = []
    envs = doc.data.get("environments")
    if not isinstance(envs, dict):
        return found
    for env, overlay in envs.items():
        if not isinstance(overlay, dict):
            continue  # null is an empty overlay; any other non-mapping is a schema error
        for key in overlay:
            path = ("environments", env, key)
            mark = doc.keys.get(path) or doc.mark(path)
            where = f"environments.{env}.{key}"
            if key in _FIXED:
                message = f"`{key}` cannot be overridden per environment: {_FIXED[key]}"
            elif key not in _SECTIONS:
                message = f"unknown section `{key}`{did_you_mean(key, _SECTIONS)}"
            elif key not in doc.data:
                message = (f"section `{key}` is not in the base spec; "
                           "environment overlays only change sections the base defines")
            elif key == "metadata" and isinstance(overlay[key], dict) and "name" in overlay[key]:
                mark = doc.keys.get((*path, "name")) or mark
                where = f"{where}.name"
                message = "`metadata.name` cannot be overridden per environment: it names the pipeline everywhere"
            else:
                continue
            found.append(Diagnostic(doc.file, mark.line, mark.col, where, message))
    return found


def resolve(doc: Document, env: str) -> Document:
    """The document as environment `env` sees it; marks of overlaid values point into the overlay."""
    if env == BASE:
        return doc
    overlay = (doc.data.get("environments") or {}).get(env)
    overlay = overlay if isinstance(overlay, dict) else {}
    merged = Document(file=doc.file, data=merge(doc.data, overlay),
                      values=dict(doc.values), keys=dict(doc.keys), plain=dict(doc.plain))
    _overlay_marks(doc, merged, overlay, base=doc.data, path=(), source=("environments", env))
    return merged


def _overlay_marks(doc: Document, merged: Document, overlay: dict[str, Any], base: Any,
                   path: KeyPath, source: KeyPath) -> None:
    """Point the marks of every overlaid value at the overlay, dropping those of replaced values."""
    for key, value in overlay.items():
        here, there = (*path, key), (*source, key)
        below = base.get(key) if isinstance(base, dict) else None
        if isinstance(value, dict) and isinstance(below, dict):
            _overlay_marks(doc, merged, value, below, here, there)
            continue
        for table in (merged.values, merged.keys, merged.plain):
            for stale in [p for p in table if p[: len(here)] == here]:
                del table[stale]
        if value is None:
            continue
        size = len(there)
        for table, origin in ((merged.values, doc.values), (merged.keys, doc.keys), (merged.plain, doc.plain)):
            for p, item in origin.items():
                if p[:size] == there:
                    table[here + p[size:]] = item
