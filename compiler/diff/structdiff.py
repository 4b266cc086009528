"""Field-level differences between two JSON-like values: mappings by key, named lists by item name.

Paths read like `spec.template.spec.containers[server].env[API_TOKEN]`: a mapping key follows a dot
(or sits in `["..."]` when it holds other characters than letters, digits, `_` and `-`), a list item
matched by its `id` or `name` sits in `[...]`, an item matched by position in `[0]`. Lists of scalars
are compared as sequences, one change per element; sets element by element, without order.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "ADDED", "CHANGED", "HEADER_ONLY", "REMOVED", "REORDERED", "UNCHANGED", "Change", "compare", "compare_objects",
]

ADDED, REMOVED, CHANGED, REORDERED = "added", "removed", "changed", "reordered"
# a file that differs only in its provenance header; a pipeline whose artifacts are all the same
HEADER_ONLY, UNCHANGED = "header-only", "unchanged"
_ITEM_KEYS = ("id", "name")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_EMBEDDED = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Change:
    """One difference in `object` (a Kubernetes object, job, DAG...) at `path`; no path: the whole object."""

    action: str
    object: str
    path: str
    before: Any = None
    after: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"action": self.action, "object": self.object, "path": self.path, "before": self.before,
                "after": self.after}


def _key(path: str, key: object) -> str:
    text = str(key)
    if _PLAIN_KEY.fullmatch(text):
        return f"{path}.{text}" if path else text
    return f'{path}["{text}"]'


def _item_keys(items: Sequence[Any]) -> list[str] | None:
    """The `id` (else `name`) of every item, when all items are mappings that have a distinct one."""
    keys = []
    for item in items:
        key = next((item[k] for k in _ITEM_KEYS if isinstance(item, dict) and isinstance(item.get(k), str)), None)
        if key is None:
            return None
        keys.append(key)
    return keys if len(set(keys)) == len(keys) else None


def _embedded(path: str, before: str, after: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Both values parsed, when they are YAML or JSON documents stored under a `*.yaml`-like key."""
    if not path.endswith(tuple(f'{suffix}"]' for suffix in _EMBEDDED)):
        return None
    try:
        parsed = yaml.safe_load(before), yaml.safe_load(after)
    except yaml.YAMLError:
        return None
    return parsed if all(isinstance(p, dict) for p in parsed) else None


def _named(obj: str, path: str, before: list[Any], after: list[Any], keys: tuple[list[str], list[str]]
           ) -> Iterator[Change]:
    old, new = dict(zip(keys[0], before, strict=True)), dict(zip(keys[1], after, strict=True))
    for key in keys[0]:
        if key not in new:
            yield Change(REMOVED, obj, f"{path}[{key}]", old[key], None)
    for key in keys[1]:
        if key not in old:
            yield Change(ADDED, obj, f"{path}[{key}]", None, new[key])
        else:
            yield from compare(obj, old[key], new[key], f"{path}[{key}]")
    kept_old, kept_new = [k for k in keys[0] if k in new], [k for k in keys[1] if k in old]
    if kept_old != kept_new:
        yield Change(REORDERED, obj, path, kept_old, kept_new)


def _sequence(obj: str, path: str, before: list[Any], after: list[Any]) -> Iterator[Change]:
    matcher = difflib.SequenceMatcher(None, [repr(v) for v in before], [repr(v) for v in after], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for offset in range(paired):
            yield from compare(obj, before[i1 + offset], after[j1 + offset], path)
        for value in before[i1 + paired:i2]:
            yield Change(REMOVED, obj, path, value, None)
        for value in after[j1 + paired:j2]:
            yield Change(ADDED, obj, path, None, value)


def _lists(obj: str, path: str, before: list[Any], after: list[Any]) -> Iterator[Change]:
    keys = _item_keys(before), _item_keys(after)
    if keys[0] is not None and keys[1] is not None:
        yield from _named(obj, path, before, after, (keys[0], keys[1]))
    elif len(before) == len(after) and any(isinstance(v, dict | list) for v in (*before, *after)):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from compare(obj, old, new, f"{path}[{index}]")
    else:
        yield from _sequence(obj, path, before, after)


def compare(obj: str, before: Any, after: Any, path: str = "") -> Iterator[Change]:
    """Every difference between `before` and `after` (both present) inside `obj`, below `path`."""
    if before == after and type(before) is type(after):
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                yield Change(REMOVED, obj, _key(path, key), before[key], None)
        for key in after:
            if key not in before:
                yield Change(ADDED, obj, _key(path, key), None, after[key])
            else:
                yield from compare(obj, before[key], after[key], _key(path, key))
    elif isinstance(before, list) and isinstance(after, list):
        yield from _lists(obj, path, before, after)
    elif isinstance(before, frozenset) and isinstance(after, frozenset):
        yield from (Change(REMOVED, obj, path, value, None) for value in sorted(before - after))
        yield from (Change(ADDED, obj, path, None, value) for value in sorted(after - before))
    elif isinstance(before, str) and isinstance(after, str) and (parsed := _embedded(path, before, after)):
        yield from compare(obj, *parsed, path)
    else:
        yield Change(CHANGED, obj, path, before, after)


def compare_objects(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Objects removed and added as wholes, then the field-level changes of objects on both sides."""
    changes = [Change(REMOVED, name, "") for name in before if name not in after]
    changes += [Change(ADDED, name, "") for name in after if name not in before]
    for name in after:
        if name in before:
            changes += compare(name, before[name], after[name])
    return changes
