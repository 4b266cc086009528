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

from mlform.specs.errors import Diagnostic
from mlform.specs.model.base import PATTERNS
from mlform.specs.read.source import YAML11_BOOLS, Document, KeyPath, resolve_plain

__all__ = ["describe", "did_you_mean", "explain", "keys_of"]

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
# quoted text that would be a value of the expected kind without its quotes
_UNQUOTED: dict[str, tuple[type, ...]] = {"int_type": (int,), "float_type": (int, float), "bool_type": (bool,)}


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A "; did you mean `x`?" suffix when a candidate is close to `word`, ignoring case, else ""."""
    folded: dict[str, str] = {}
    for candidate in sorted(set(candidates)):
        folded.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean `{folded[close[0]]}`?" if close else ""


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


def _kind(value: Any) -> str:
    """Name only the kind of a YAML value, for places whose values must not be echoed."""
    kinds = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"), (list, "a list"))
    return "null" if value is None else next((name for tp, name in kinds if isinstance(value, tp)), "a mapping")


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


_TAGS = ("type", "kind")  # the discriminator keys of tagged unions: data sources' `type`, backends' `kind`


def _tag(member: type[BaseModel]) -> Any | None:
    """The field that tags `member` inside its union, if any."""
    return next((member.model_fields[name] for name in _TAGS if name in member.model_fields), None)


def _union_member(tp: Any, segment: str | int) -> Any | None:
    for member in typing.get_args(tp):
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            tag = _tag(member)
            if member.__name__ == segment or (tag and segment in typing.get_args(tag.annotation)):
                return member
    return None


def _type_at(root: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The declared type at pydantic location `loc`, or None when the location leaves the schema."""
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
    return _unwrap(tp)


def keys_of(root: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    """The keys the model at pydantic location `loc` accepts, or None if `loc` is not a model."""
    tp = _type_at(root, loc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return None


def _union_tags(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The tag values (`type`, `kind`) of the tagged union at `loc`, in declaration order."""
    tags: list[str] = []
    for member in typing.get_args(_type_at(root, loc)):
        member = _unwrap(member)
        tag = _tag(member) if isinstance(member, type) and issubclass(member, BaseModel) else None
        if tag is not None:
            tags.extend(typing.get_args(tag.annotation))
    return tags


def _secret_hint(root: type[BaseModel], loc: Sequence[str | int]) -> str | None:
    """What belongs at `loc` when it lies inside a secret reference or declaration, else None."""
    for end in range(len(loc), -1, -1):
        hint = getattr(_type_at(root, loc[:end]), "secret_hint", None)
        if isinstance(hint, str):
            return hint
    return None


def _listed(options: Sequence[str]) -> str:
    return ", ".join(f"`{o}`" for o in options)


def _normalize(data: Any, loc: Sequence[str | int]) -> tuple[KeyPath, bool]:
    """Drop union tags and member names from `loc`: keep only segments that exist in the data."""
    path: list[str | int] = []
    dropped = False
    node = data
    for segment in loc:
        if (isinstance(node, dict) and segment in node
                or isinstance(node, list) and isinstance(segment, int) and segment < len(node)):
            node = node[segment]  # type: ignore[index]  # a list only with an int segment (checked above)
            path.append(segment)
        else:
            dropped = True
    return tuple(path), dropped


def _hint(doc: Document, path: KeyPath, kind: str, value: Any) -> str:
    raw = doc.plain.get(path)
    if raw is None:
        unquoted = resolve_plain(value) if isinstance(value, str) else None
        return "; remove the quotes" if type(unquoted) in _UNQUOTED.get(kind, ()) else ""
    if kind == "string_type" and value is not None:
        return f'; quote it to keep it as text: "{raw}"'
    if kind == "bool_type" and raw.lower() in YAML11_BOOLS:
        return "; mlform reads YAML 1.2, where only `true` and `false` are booleans"
    if kind in ("int_type", "float_type") and re.fullmatch(r"[-+]?0[0-9]+", raw):
        digits = raw.lstrip("+-0")
        octal = f", or `0o{digits}` for octal" if re.fullmatch(r"[0-7]*", digits) else ""
        return (f"; `{raw}` has a leading zero, which YAML 1.1 reads as octal and YAML 1.2 as decimal: "
                f"write `{int(raw, 10)}`{octal}")
    return ""


# names other tools give what a spec calls otherwise: suggested where the spec's key is allowed
_FOREIGN_KEYS = {
    "random_state": "seed", "kind": "type", "hyperparameters": "params", "hyperparams": "params",
    "parameters": "params", "kwargs": "params", "file": "path", "filename": "path", "filepath": "path",
    "label": "target", "label_column": "target", "target_column": "target", "test_ratio": "test_size",
}


def _unknown_key(key: str, allowed: Sequence[str]) -> str:
    hint = did_you_mean(key, allowed)
    if not hint and _FOREIGN_KEYS.get(key.casefold()) in allowed:
        hint = f"; did you mean `{_FOREIGN_KEYS[key.casefold()]}`?"
    if not hint and allowed:
        hint = f"; expected one of {_listed(sorted(allowed))}"
    return f"unknown key `{key}`{hint}"


def _tag_elsewhere(tag_key: str, tags: Sequence[str], value: Any) -> str:
    """A "; did you mean" suffix when another key of the mapping holds one of the tags (`kind: csv`)."""
    if not isinstance(value, dict):
        return ""
    for key, held in value.items():
        if isinstance(held, str) and held in tags:
            return f"; did you mean `{tag_key}: {held}` instead of `{key}: {held}`?"
    return ""


def _message(doc: Document, root: type[BaseModel], error: Any, path: KeyPath) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return f"missing required key `{error['loc'][-1]}`"
    if kind == "extra_forbidden":
        return _unknown_key(str(error["loc"][-1]), keys_of(root, error["loc"][:-1]) or [])
    secret = None if error["loc"][-1:] == ("[key]",) else _secret_hint(root, error["loc"])
    if secret is not None and kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_kind(value)}; {secret}"
    if secret is not None and kind == "string_pattern_mismatch":
        return f"the value is not {PATTERNS.get(ctx.get('pattern', ''), 'valid here')}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}{_hint(doc, path, kind, value)}"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        if error["loc"][-1:] == ("[key]",):
            return _unknown_key(str(value), options)
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        if len(options) == 1:
            return f"expected `{options[0]}`, got {describe(value)}{hint}"
        return f"expected one of {_listed(options)}; got {describe(value)}{hint}"
    tag_key = str(ctx.get("discriminator", "type")).strip("'")
    if kind == "union_tag_not_found":
        tags = _union_tags(root, error["loc"])
        return f"missing required key `{tag_key}` (one of {_listed(tags)}){_tag_elsewhere(tag_key, tags, value)}"
    if kind == "union_tag_invalid":
        options = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
        tag = str(ctx.get("tag"))
        return f"unknown {tag_key} `{tag}`; expected one of {_listed(options)}{did_you_mean(tag, options)}"
    if kind == "string_pattern_mismatch":
        wanted = PATTERNS.get(ctx.get("pattern", ""), f"text matching `{ctx.get('pattern')}`")
        return f"`{value}` is not {wanted}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters, got {len(value)}"
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
    marks: dict[tuple[KeyPath, str], Any] = {}
    for error in exc.errors():
        loc, kind = error["loc"], error["type"]
        path, _ = _normalize(doc.data, loc[:-1] if kind == "missing" else loc)
        if kind == "union_tag_invalid":
            path = (*path, "type")
        # unknown keys, bad keys and missing keys point at a key; everything else at the value
        on_key = kind in ("extra_forbidden", "missing") or loc[-1:] == ("[key]",)
        message = _message(doc, root, error, path)
        group = "expected" if message.startswith("expected ") and kind in _EXPECTED else message
        grouped[(path, group)].append(message)
        marks[(path, group)] = (doc.keys.get(path) if on_key else None) or doc.mark(path)
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
        mark = marks[(path, group)]
        found.append(Diagnostic(doc.file, mark.line, mark.col, _dotted(mark.written or path), message))
    return found


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path)
