"""Turn pydantic validation errors into located, human diagnostics with "did you mean" hints."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from .base import DNS_LABEL
from .errors import Diagnostic
from .source import YAML11_BOOLS, Document, KeyPath

__all__ = ["describe", "did_you_mean", "explain", "keys_of"]

_PATTERNS = {
    DNS_LABEL: "a DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or digit",
    r"^[A-Za-z_][A-Za-z0-9_-]*$": "an identifier: letters, digits, `_` and `-`, not starting with a digit",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name: letters, digits and `_`",
    r"^[a-z][a-z0-9_-]*$": "lowercase letters, digits, `_` and `-`, starting with a letter",
    r"^[a-z][a-z0-9-]{0,30}$": "an environment name: lowercase letters, digits and `-`, at most 31 characters",
    r"^3\.\d{1,2}$": "a Python version like `3.11`",
}
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "`true` or `false`",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "none_required": "null",
}


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A "; did you mean `x`?" suffix when a candidate is close to `word`, else ""."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def describe(value: Any) -> str:
    """Name a YAML value for a message: its kind and, for scalars, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"number `{value}`"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string `{shown}`"
    return "a list" if isinstance(value, list) else "a mapping"


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


def _union_member(tp: Any, segment: str | int) -> Any | None:
    for member in typing.get_args(tp):
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            tag = member.model_fields.get("type")
            if member.__name__ == segment or (tag and segment in typing.get_args(tag.annotation)):
                return member
    return None


def keys_of(root: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    """The keys the model at pydantic location `loc` accepts, or None if `loc` is not a model."""
    tp: Any = root
    for segment in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for n, f in tp.model_fields.items() if segment in (n, f.alias)), None)
            if field is None:
                return None
            tp = field.annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = _union_member(tp, segment)
            if tp is None:
                return None
        else:
            return None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return None


def _normalize(data: Any, loc: Sequence[str | int]) -> tuple[KeyPath, bool]:
    """Drop union tags and member names from `loc`: keep only segments that exist in the data."""
    path: list[str | int] = []
    dropped = False
    node = data
    for segment in loc:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
            path.append(segment)
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            node = node[segment]
            path.append(segment)
        else:
            dropped = True
    return tuple(path), dropped


def _hint(doc: Document, path: KeyPath, kind: str, value: Any) -> str:
    raw = doc.plain.get(path)
    if raw is None:
        return ""
    if kind == "string_type" and value is not None:
        return f'; quote it to keep it as text: "{raw}"'
    if kind == "bool_type" and raw.lower() in YAML11_BOOLS:
        return "; mlform reads YAML 1.2, where only `true` and `false` are booleans"
    if kind in ("int_type", "float_type") and re.fullmatch(r"[-+]?0[0-9]+", raw):
        return (f"; `{raw}` has a leading zero, which YAML 1.1 reads as octal and YAML 1.2 as decimal: "
                f"write `{int(raw, 10)}`, or `0o{raw.lstrip('+-0')}` for octal")
    return ""


def _message(doc: Document, root: type[BaseModel], error: Any, path: KeyPath) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return f"missing required key `{error['loc'][-1]}`"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        allowed = keys_of(root, error["loc"][:-1]) or []
        hint = did_you_mean(key, allowed)
        if not hint and allowed:
            hint = "; expected one of " + ", ".join(f"`{k}`" for k in sorted(allowed))
        return f"unknown key `{key}`{hint}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}{_hint(doc, path, kind, value)}"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        listed = ", ".join(f"`{o}`" for o in options)
        if len(options) == 1:
            return f"expected `{options[0]}`, got {describe(value)}{did_you_mean(str(value), options)}"
        return f"expected one of {listed}; got {describe(value)}{did_you_mean(str(value), options)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        options = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
        listed = ", ".join(f"`{o}`" for o in options)
        if kind == "union_tag_not_found":
            return f"missing required key `type` (one of {listed})"
        tag = str(ctx.get("tag"))
        return f"unknown type `{tag}`; expected one of {listed}{did_you_mean(tag, options)}"
    if kind == "string_pattern_mismatch":
        wanted = _PATTERNS.get(ctx.get("pattern", ""), f"text matching `{ctx.get('pattern')}`")
        return f"`{value}` is not {wanted}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is longer than {ctx['max_length']} characters"
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} item{'s' if ctx['min_length'] != 1 else ''}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit}, got {value}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def explain(doc: Document, root: type[BaseModel], exc: ValidationError) -> list[Diagnostic]:
    """Locate and word every error of `exc`, merging the alternatives of one union into one message."""
    grouped: dict[tuple[KeyPath, str], list[str]] = defaultdict(list)
    marks: dict[KeyPath, Any] = {}
    for error in exc.errors():
        loc = error["loc"]
        if error["type"] == "missing":
            path, _ = _normalize(doc.data, loc[:-1])
        else:
            path, _ = _normalize(doc.data, loc)
        if error["type"] == "union_tag_invalid":
            path = (*path, "type")
        mark = doc.keys.get(path) if error["type"] == "extra_forbidden" else None
        marks[path] = mark or doc.mark(path)
        message = _message(doc, root, error, path)
        group = "expected" if message.startswith("expected ") and error["type"] in _EXPECTED else message
        grouped[(path, group)].append(message)
    found = []
    for (path, group), messages in grouped.items():
        if group == "expected" and len(messages) > 1:
            kinds = list(dict.fromkeys(m.split(", got ")[0].removeprefix("expected ") for m in messages))
            if "a number" in kinds and "an integer" in kinds:
                kinds.remove("an integer")
            got = messages[0].split(", got ", 1)[1]
            listed = ", ".join(kinds[:-1]) + " or " + kinds[-1] if len(kinds) > 1 else kinds[0]
            message = f"expected {listed}, got {got}"
        else:
            message = messages[0]
        mark = marks[path]
        found.append(Diagnostic(doc.file, mark.line, mark.col, _dotted(mark.written or path), message))
    return found


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path)
