"""Check resolved specs against a policy; each violation is located in the spec, where the value is set.

A value an overlay sets is reported in the overlay, any other in the base spec; a missing key at its nearest
parent key that the file writes. A violation in an environment that the base spec has too is the spec's and
is reported once; one that only an environment has says which, as the loader does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlform.specs.errors import Diagnostic
from mlform.specs.read.overlays import BASE
from mlform.specs.read.source import Document, KeyPath, Mark

from .explain import describe
from .policy import FEATURE, WILDCARD, Condition, LoadedPolicy, Rule, shown

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["check_policy"]

_MISSING: Any = object()


def _same(a: Any, b: Any) -> bool:
    """Equality of JSON values where `true` is not `1` but `2` is `2.0`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _literal(value: Any) -> str:
    """A policy's value for a message, in backticks."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"`{shown(text)}`"


def _got(value: Any) -> str:
    """A spec's value for a message: its kind and, for scalars, the value (escaped)."""
    return describe(shown(value) if isinstance(value, str) else value)


def _items(count: int) -> str:
    return f"{count} item{'s' if count != 1 else ''}"


def _number_failures(condition: Condition, value: Any) -> list[str]:
    if condition.min is None and condition.max is None:
        return []
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return [f"expected a number, got {_got(value)}"]
    found = []
    if condition.min is not None and not value >= condition.min:  # `not >=` so that NaN fails
        found.append(f"expected at least {condition.min}, got {value}")
    if condition.max is not None and not value <= condition.max:
        found.append(f"expected at most {condition.max}, got {value}")
    return found


def _size_failures(condition: Condition, value: Any) -> list[str]:
    if condition.min_items is None and condition.max_items is None:
        return []
    if not isinstance(value, (list, dict)):
        return [f"expected a list or mapping, got {_got(value)}"]
    found = []
    if condition.min_items is not None and len(value) < condition.min_items:
        found.append(f"expected at least {_items(condition.min_items)}, got {len(value)}")
    if condition.max_items is not None and len(value) > condition.max_items:
        found.append(f"expected at most {_items(condition.max_items)}, got {len(value)}")
    return found


def _failures(condition: Condition, value: Any) -> list[str]:
    """What is wrong with `value` (`_MISSING` when not set) under `condition`; empty when it holds."""
    if value is _MISSING:
        return [] if condition.present is False else ["required but not set"]
    if condition.present is False:
        return [f"must not be set, got {_got(value)}"]
    found = _number_failures(condition, value) + _size_failures(condition, value)
    if condition.one_of is not None and not any(_same(value, option) for option in condition.one_of):
        found.append(f"expected one of {', '.join(_literal(o) for o in condition.one_of)}; got {_got(value)}")
    if condition.equals is not None and not _same(value, condition.equals):
        found.append(f"expected {_literal(condition.equals)}, got {_got(value)}")
    if condition.pattern is not None:
        if not isinstance(value, str):
            found.append(f"expected a string, got {_got(value)}")
        elif re.fullmatch(condition.pattern, value) is None:
            found.append(f"expected text matching `{shown(condition.pattern)}`, got {_got(value)}")
    return found


def _lookup(config: Any, parts: Sequence[str]) -> tuple[Any, KeyPath]:
    """The value at dotted `parts` (`_MISSING` when absent or null) and its key path (list indices as ints)."""
    path: list[str | int] = []
    node = config
    for part in parts:
        if isinstance(node, list) and part.isdigit():
            index = int(part)
            path.append(index)
            node = node[index] if index < len(node) else _MISSING
        else:
            path.append(part)
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
    return (_MISSING if node is None else node), tuple(path)


def _where(doc: Document, env: str, path: KeyPath, present: bool) -> tuple[Mark, bool]:
    """The mark to report at, and whether it is the value's own (else it is a parent key's)."""
    if present:
        own = doc.values.get(path)
        if own is not None:
            return own, True
    for end in range(len(path) - (1 if present else 0), 0, -1):
        prefix = path[:end]
        mark = doc.keys.get(prefix) or (doc.values.get(prefix) if isinstance(prefix[-1], int) else None)
        if mark is None and env != BASE:  # deleted by the overlay: point at the overlay's `null`
            mark = doc.keys.get(("environments", env, *prefix))
        if mark is not None:
            return mark, False
    return doc.mark(()), False


def _expand(config: Any, parts: Sequence[str]) -> list[list[str]]:
    """Concrete key paths of `parts`: `*` ranges over a mapping's keys (or a list's indices), `{feature}` over
    `data.features`."""
    paths: list[list[str]] = [[]]
    for part in parts:
        if part not in (WILDCARD, FEATURE):
            paths = [[*path, part] for path in paths]
            continue
        grown: list[list[str]] = []
        for path in paths:
            if part == FEATURE:
                names = [str(f) for f in config.get("data", {}).get("features", [])]
            else:
                node, _ = _lookup(config, path)
                names = [str(k) for k in (node if isinstance(node, dict) else
                                          range(len(node)) if isinstance(node, list) else ())]
            grown.extend([*path, name] for name in names)
        paths = grown
    return paths


def _violations(spec: ResolvedSpec, rule: Rule, key: str, condition: Condition) -> list[Diagnostic]:
    parts = key.split(".")
    if WILDCARD in parts or FEATURE in parts:
        return [d for concrete in _expand(spec.config, parts)
                for d in _violations(spec, rule, ".".join(concrete), condition)]
    value, path = _lookup(spec.config, parts)
    found = _failures(condition, value)
    if not found:
        return []
    present = value is not _MISSING
    mark, own = _where(spec.document, spec.env, path, present)
    where = ".".join(str(p) for p in mark.written) if own else key
    note = " (the default)" if present and not own else ""
    why = f"; {shown(rule.message, 500)}" if rule.message else ""
    return [Diagnostic(spec.document.file, mark.line, mark.col, where,
                       f"policy `{rule.name}`: {failure}{note}{why}", rule.severity) for failure in found]


def _readiness(spec: ResolvedSpec, rule: Rule) -> list[Diagnostic]:
    """A violation at the spec's `metadata.name` when it enforces fewer tests than `min_readiness`."""
    from .readiness import assess

    if rule.min_readiness is None:
        return []
    found = assess(spec)
    if found.score >= rule.min_readiness:
        return []
    off = ", ".join(f.id for f in found.findings if f.status != "enforced")
    mark = spec.document.mark(("metadata", "name"))
    why = f"; {shown(rule.message, 500)}" if rule.message else ""
    message = (f"policy `{rule.name}`: the spec enforces {found.score} of the ML Test Score's "
               f"{len(found.findings)} tests, at least {rule.min_readiness} required (not enforced: {off}; "
               f"see `mlform readiness`){why}")
    return [Diagnostic(spec.document.file, mark.line, mark.col, "metadata.name", message, rule.severity)]


def _applies(rule: Rule, env: str) -> bool:
    return rule.environments is None or env in rule.environments


def _in_env(diagnostic: Diagnostic, env: str) -> Diagnostic:
    return replace(diagnostic, message=f"{diagnostic.message} (in environment `{env}`)")


def check_policy(loaded: LoadedPolicy, specs: Iterable[ResolvedSpec]) -> list[Diagnostic]:
    """Every violation of the policy by `specs` (environments of spec files), sorted like other diagnostics."""
    ordered = sorted(specs, key=lambda s: (s.display, s.env != BASE))  # each file's base spec first
    base: dict[str, set[Diagnostic]] = {}
    found: set[Diagnostic] = set()
    for spec in ordered:
        for rule in loaded.policy.rules:
            if not _applies(rule, spec.env):
                continue
            broken = [d for key, cond in (rule.require or {}).items() for d in _violations(spec, rule, key, cond)]
            for diagnostic in broken + _readiness(spec, rule):
                if spec.env == BASE:
                    base.setdefault(spec.display, set()).add(diagnostic)
                    found.add(diagnostic)
                elif diagnostic not in base.get(spec.display, ()):
                    found.add(_in_env(diagnostic, spec.env))
    return sorted(found)
