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
from typing import Any

import yaml

__all__ = ["emit"]

_STR = "tag:yaml.org,2002:str"
_BREAKS = "\n\x85\u2028\u2029"
_ANALYZER = yaml.emitter.Emitter(io.StringIO(), allow_unicode=True)
_RESOLVER = yaml.resolver.Resolver()


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


def _string(value: str, *, key: bool, block: bool, indent: int) -> tuple[str, bool]:
    """The text of a string after its indicator, and whether it ended its line (a literal block does)."""
    analysis = _analysis(value)
    if any(ch in value for ch in "\x85\u2028\u2029\r"):
        raise _Unsupported
    if key and (analysis.empty or analysis.multiline or len(value) >= 128):
        raise _Unsupported  # PyYAML writes a complex key (`? ...`)
    if not block and _implicit(value) == _STR and analysis.allow_block_plain:
        return " " + value, False
    if block:
        if analysis.allow_block:
            return _literal(value, indent), True
        raise _Unsupported  # a literal-styled string PyYAML cannot write as one: double quotes
    if analysis.allow_single_quoted and not analysis.multiline:
        return " '" + value.replace("'", "''") + "'", False
    raise _Unsupported  # double quotes, or a multi-line single-quoted string


def _block_style(value: str) -> bool:
    """Whether `dump_yaml`'s representer asks for a literal block (its `_block_safe`)."""
    if "\n" not in value or value.startswith(" "):
        return False
    return all(line == line.rstrip(" \t") and line.isprintable() for line in value.split("\n"))


class _Writer:
    """Writes one document into `parts`, tracking the containers seen (a repeated one would be anchored)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.seen: set[int] = set()

    def enter(self, value: Any) -> None:
        if id(value) in self.seen:
            raise _Unsupported
        self.seen.add(id(value))

    def node(self, value: Any, indent: int, *, in_mapping: bool) -> None:
        """`value` after a `key:` or `-` indicator (no space written yet); ends with its line ended."""
        kind = type(value)
        write = self.parts.append
        if kind is dict or kind is list:
            self.enter(value)
            if not value:
                write(" {}\n" if kind is dict else " []\n")
            elif kind is dict:
                write("\n")
                self.mapping(value, indent + 2, first_inline=False)
            elif in_mapping:
                write("\n")
                self.sequence(value, indent, first_inline=False)  # PyYAML's indentless sequence
            else:
                write(" ")
                self.sequence(value, indent + 2, first_inline=True)
            return
        if kind is str:
            text, ended = _string(value, key=False, block=_block_style(value), indent=indent + 2)
            write(text if ended else text + "\n")
            return
        write(" " + _plain_scalar(value) + "\n")

    def key(self, value: Any) -> str:
        if type(value) is not str:
            raise _Unsupported
        return _string(value, key=True, block=False, indent=0)[0][1:]

    def mapping(self, value: dict[Any, Any], indent: int, *, first_inline: bool) -> None:
        pad = " " * indent
        for position, (key, item) in enumerate(value.items()):
            self.parts.append(("" if first_inline and position == 0 else pad) + self.key(key) + ":")
            self.node(item, indent, in_mapping=True)

    def sequence(self, value: list[Any], indent: int, *, first_inline: bool) -> None:
        pad = " " * indent
        for position, item in enumerate(value):
            self.parts.append(("" if first_inline and position == 0 else pad) + "-")
            if type(item) is dict and item:
                self.enter(item)
                self.parts.append(" ")
                self.mapping(item, indent + 2, first_inline=True)
            else:
                self.node(item, indent, in_mapping=False)


def emit(data: Any) -> str | None:
    """`data` as `dump_yaml` writes it, or None when it is outside the subset this emitter writes."""
    if type(data) not in (dict, list) or not data:
        return None
    writer = _Writer()
    try:
        writer.enter(data)
        if type(data) is dict:
            writer.mapping(data, 0, first_inline=True)
        else:
            writer.sequence(data, 0, first_inline=True)
    except _Unsupported:
        return None
    return "".join(writer.parts)
