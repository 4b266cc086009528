"""A YAML emitter for the narrow subset the targets emit, giving the same bytes as PyYAML's pure-Python one.

`dump_yaml` (in `render`) dumps with PyYAML's `SafeDumper` in block style, keys in insertion order, Unicode
kept, no line folding, multi-line strings as literal blocks. This module writes the same text for a mapping or
list of mappings, lists, strings, integers, floats, booleans and nulls, deciding each scalar's style with
PyYAML's own resolver and scalar analysis; anything else (another type, a non-string key, a long or multi-line
key, a string needing double quotes or a multi-line quoted one, a shared sub-structure PyYAML would anchor)
makes `emit` return None, and the caller dumps with PyYAML itself. It never uses libyaml, so the bytes do not
depend on how PyYAML was built.
"""

from __future__ import annotations

import functools
import io
import re
from typing import Any

import yaml

__all__ = ["OTHER_READERS_TYPED", "emit"]

_STR = "tag:yaml.org,2002:str"
_BREAKS = "\n\x85\u2028\u2029"
_ODD_BREAKS = re.compile("[\x85\u2028\u2029\r]")
_LEADING_INDICATORS = "#,[]{}&*!|>'\"%@`"
_ANALYZER = yaml.emitter.Emitter(io.StringIO(), allow_unicode=True)
_RESOLVER = yaml.resolver.Resolver()
# plain scalars PyYAML's YAML 1.1 resolver takes for strings, but YAML 1.2 readers and Kubernetes' (go-yaml, whose
# integers are Go literals) take for numbers: `1e3`, `0o17`; `dump_yaml` quotes them
OTHER_READERS_TYPED = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                                 r"|[-+]?0([oO][0-7_]+|[xX][0-9a-fA-F_]+|[bB][01_]+)")


# raised inside the emitter for a value outside its subset; `emit` then returns None and PyYAML dumps it
_Unsupported = NotImplementedError


@functools.lru_cache(maxsize=1 << 16)
def _analysis(text: str) -> Any:
    """PyYAML's `ScalarAnalysis` of `text`: which styles may write it."""
    return _ANALYZER.analyze_scalar(text)


@functools.lru_cache(maxsize=1 << 16)
def _implicit(text: str) -> str:
    """The tag a plain scalar `text` resolves to."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))


def _float_text(value: float) -> str:
    """SafeRepresenter's text of a float."""
    if value != value:
        return ".nan"
    if value == float("inf"):
        return ".inf"
    if value == -float("inf"):
        return "-.inf"
    text = repr(value).lower()
    return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text


def _plain_scalar(value: Any) -> str:
    """The text of a null, boolean, integer or float, which PyYAML writes plain."""
    kind = type(value)
    if value is None:
        text, tag = "null", "tag:yaml.org,2002:null"
    elif kind is bool:
        text, tag = ("true" if value else "false"), "tag:yaml.org,2002:bool"
    elif kind is int:
        text, tag = str(value), "tag:yaml.org,2002:int"
    elif kind is float:
        text, tag = _float_text(value), "tag:yaml.org,2002:float"
    else:
        raise _Unsupported
    if _implicit(text) != tag or not _analysis(text).allow_block_plain:
        raise _Unsupported
    return text


def _literal(text: str, indent: int) -> str:
    """A literal block (after `|`) of `text` with its lines at `indent`, as PyYAML's `write_literal` writes it."""
    hints = "2" if text[0] in " " + _BREAKS else ""
    if text[-1] not in _BREAKS:
        hints += "-"
    elif len(text) == 1 or text[-2] in _BREAKS:
        raise _Unsupported  # keep chomping (`|+`) leaves the document open-ended: PyYAML writes `...` after it
    pad = " " * indent
    body = text[:-1] if text.endswith("\n") else text
    lines = [pad + line if line else "" for line in body.split("\n")]
    return f" |{hints}\n" + "\n".join(lines) + "\n"


def _plain_allowed(value: str) -> bool:
    """PyYAML's `allow_block_plain` for a non-empty printable ASCII string (its `analyze_scalar`, short-cut)."""
    first = value[0]
    return not (first == " " or value[-1] == " " or first in _LEADING_INDICATORS or value.startswith(("---", "..."))
                or (first in "?:-" and (len(value) == 1 or value[1] == " "))
                or ": " in value or value.endswith(":") or " #" in value)


@functools.lru_cache(maxsize=1 << 16)
def _inline(value: str, key: bool) -> str | None:
    """A single-line style (plain or single-quoted) of a string, with its leading space; None outside the subset."""
    if value and value.isascii() and value.isprintable():  # printable ASCII: never multi-line, never special
        if key and len(value) >= 128:
            return None  # PyYAML writes a complex key (`? ...`)
        if _plain_allowed(value) and _implicit(value) == _STR and not OTHER_READERS_TYPED.fullmatch(value):
            return " " + value
        return " '" + value.replace("'", "''") + "'"
    if _ODD_BREAKS.search(value):
        return None
    analysis = _analysis(value)
    if key and (analysis.empty or analysis.multiline or len(value) >= 128):
        return None
    if _implicit(value) == _STR and analysis.allow_block_plain:
        return " " + value
    if analysis.allow_single_quoted and not analysis.multiline:
        return " '" + value.replace("'", "''") + "'"
    return None  # double quotes, or a multi-line single-quoted string


@functools.lru_cache(maxsize=1 << 12)
def _block(value: str, indent: int) -> str | None:
    """A literal block of a string `dump_yaml` asks to write as one; None outside the subset."""
    if _ODD_BREAKS.search(value):
        return None
    # `_block_style` let only printable lines without trailing blanks through: PyYAML's analysis always allows it
    try:
        return _literal(value, indent)
    except _Unsupported:
        return None


@functools.lru_cache(maxsize=1 << 16)
def _key(value: str) -> str | None:
    text = _inline(value, True)
    return None if text is None else text[1:] + ":"


@functools.lru_cache(maxsize=1 << 12)
def _block_style(value: str) -> bool:
    """Whether `dump_yaml`'s representer asks for a literal block (its `_block_safe`)."""
    # every line printable (so no tab) and none ending in a space: one pass over the text, not one per line
    return (not value.startswith(" ") and not value.endswith(" ") and " \n" not in value
            and value.replace("\n", "").isprintable())


def _node(parts: list[str], seen: set[int], value: Any, indent: int, in_mapping: bool) -> None:
    """`value` after a `key:` or `-` indicator (no space written yet), its line ended."""
    kind = type(value)
    if kind is str:
        text = _block(value, indent + 2) if "\n" in value and _block_style(value) else _inline(value, False)
        if text is None:
            raise _Unsupported
        parts.append(text if text[-1] == "\n" else text + "\n")
    elif kind is dict or kind is list:
        if id(value) in seen:
            raise _Unsupported  # PyYAML would anchor a container met twice
        seen.add(id(value))
        if not value:
            parts.append(" {}\n" if kind is dict else " []\n")
        elif kind is dict:
            parts.append("\n")
            _mapping(parts, seen, value, indent + 2, False)
        elif in_mapping:
            parts.append("\n")
            _sequence(parts, seen, value, indent, False)  # PyYAML's indentless sequence
        else:
            parts.append(" ")
            _sequence(parts, seen, value, indent + 2, True)
    else:
        parts.append(" " + _plain_scalar(value) + "\n")


@functools.lru_cache(maxsize=1 << 16)
def _line(value: str) -> str | None:
    """`_inline` of a single-line string value, with its line end."""
    text = _inline(value, False)
    return None if text is None else text + "\n"


def _mapping(parts: list[str], seen: set[int], value: dict[Any, Any], indent: int, first_inline: bool) -> None:
    pad = " " * indent
    append = parts.append
    for key, item in value.items():
        text = _key(key) if type(key) is str else None
        if text is None:
            raise _Unsupported
        append(text if first_inline else pad + text)
        first_inline = False
        if type(item) is str and "\n" not in item:  # most values: one cached line
            line = _line(item)
            if line is None:
                raise _Unsupported
            append(line)
        else:
            _node(parts, seen, item, indent, True)


def _sequence(parts: list[str], seen: set[int], value: list[Any], indent: int, first_inline: bool) -> None:
    pad = " " * indent
    for item in value:
        parts.append("-" if first_inline else pad + "-")
        first_inline = False
        if type(item) is dict and item:
            if id(item) in seen:
                raise _Unsupported
            seen.add(id(item))
            parts.append(" ")
            _mapping(parts, seen, item, indent + 2, True)
        else:
            _node(parts, seen, item, indent, False)


def emit(data: Any) -> str | None:
    """`data` as `dump_yaml` writes it, or None when it is outside the subset this emitter writes."""
    if type(data) not in (dict, list) or not data:
        return None
    parts: list[str] = []
    try:
        if type(data) is dict:
            _mapping(parts, {id(data)}, data, 0, True)
        else:
            _sequence(parts, {id(data)}, data, 0, True)
    except _Unsupported:
        return None
    return "".join(parts)
