"""Read a YAML file into plain data plus the source position of every key and value.

The reader is stricter than PyYAML on purpose: duplicate keys, tabs in indentation, non-UTF-8
bytes, oversized files and alias bombs are errors, and plain scalars follow YAML 1.2 (only
`true`/`false` are booleans) so `no`, `on` or `0777` never silently change meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from mlform.specs.errors import Diagnostic, SpecError

__all__ = [
    "MAX_BYTES",
    "MAX_NODES",
    "Document",
    "KeyPath",
    "Mark",
    "Tables",
    "key_path",
    "parse_document",
    "read_document",
    "resolve_plain",
    "subpaths",
]

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000

KeyPath = tuple[str | int, ...]


def key_path(dotted: str) -> KeyPath:
    """The key path of a dotted key as messages write it: `evaluation.custom_metrics.0.function`."""
    return tuple(int(part) if part.isdigit() else part for part in dotted.split("."))

_STR = "tag:yaml.org,2002:str"
_PLAIN = "tag:mlform:plain"  # private: an untagged plain scalar, resolved here with YAML 1.2 rules
_SCALAR_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null")}
_COLLECTIONS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}
_DEFAULT_TAGS = {yaml.ScalarNode: _STR, **_COLLECTIONS}
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_CONSTANTS: dict[str, Any] = {**dict.fromkeys(_NULLS), **dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
_NUMERIC_START = frozenset("0123456789+-.")  # every YAML 1.2 int, float, inf and nan starts with one of these
YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


class Mark(NamedTuple):
    """Where a node stands: 1-based line and column, and its key path as written in the file."""

    line: int
    col: int
    written: KeyPath


class Tables(NamedTuple):
    """By key path: where each value and each mapping key stands, and the text of each plain scalar."""

    values: dict[KeyPath, Mark]
    keys: dict[KeyPath, Mark]
    plain: dict[KeyPath, str]


@dataclass(eq=False)
class Document:
    """A parsed YAML file: its data and, worked out when first asked for, where each value and key stands.

    Positions are only needed to report problems, so a valid spec never pays for them. `data` must
    not be changed in place: the positions are matched to it.
    """

    file: str
    data: Any
    locate: Callable[[], Tables] = field(repr=False)
    duplicates: tuple[Diagnostic, ...] = ()  # duplicate keys, when the caller tolerates them (first one kept)

    @cached_property
    def tables(self) -> Tables:
        """The position tables, computed on first use."""
        return self.locate()

    @property
    def values(self) -> dict[KeyPath, Mark]:
        """The mark of every value (mappings and lists included), by key path."""
        return self.tables.values

    @property
    def keys(self) -> dict[KeyPath, Mark]:
        """The mark of every mapping key, by the key path it leads to."""
        return self.tables.keys

    @property
    def plain(self) -> dict[KeyPath, str]:
        """The text of every plain (unquoted, untagged) scalar, as written."""
        return self.tables.plain

    def mark(self, path: KeyPath) -> Mark:
        """The mark of `path`, or of its nearest ancestor that has one."""
        values = self.values
        for end in range(len(path), -1, -1):
            found = values.get(path[:end])
            if found is not None:
                return found
        return Mark(1, 1, ())


def subpaths(value: Any) -> Iterator[KeyPath]:
    """The key paths inside `value`, relative to it, starting with `()` for `value` itself."""
    yield ()
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        for rest in subpaths(item):
            yield (key, *rest)


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Composes nodes only; untagged plain scalars get a private tag so this module resolves them."""

    yaml_implicit_resolvers: dict[str, Any] = {}

    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: Any) -> str:
        """The tag of an untagged node: `_PLAIN` for plain scalars, so `!!str 12` stays distinguishable."""
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return _DEFAULT_TAGS[kind]  # what PyYAML's resolver answers when no path resolvers are registered


def _fail(file: str, line: int, col: int, message: str) -> SpecError:
    return SpecError([Diagnostic(file, line, col, "", message)])


def _decode(file: str, raw: bytes, noun: str) -> str:
    if len(raw) > MAX_BYTES:
        nouns = "policies" if noun == "policy" else f"{noun}s"
        raise _fail(file, 1, 1, f"file is {len(raw)} bytes; {nouns} are limited to {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _fail(file, line, col, f"invalid UTF-8 byte 0x{raw[exc.start]:02x}; save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def _check_tabs(file: str, text: str) -> None:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            col = indent.index("\t") + 1
            found.append(Diagnostic(file, number, col, "", "tab character in indentation; YAML indents with spaces"))
    if found:
        raise SpecError(found)


def resolve_plain(text: str) -> Any:
    """Resolve a plain scalar with the YAML 1.2 core schema; ambiguous forms stay strings."""
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if text[0] not in _NUMERIC_START:
        return text
    if _LEADING_ZERO.fullmatch(text):
        return text
    if _INT.fullmatch(text):
        return int(text)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


class _Builder:
    """Turns a composed node tree into plain data, checking keys and tags and bounding alias expansion.

    Positions are not made into marks here: the builder records the bare numbers in visiting order
    (`_replay` turns them into tables on demand), which keeps reading a valid spec cheap.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.errors: list[Diagnostic] = []
        self.duplicates: list[Diagnostic] = []  # the first definition is kept, so the rest can still be checked
        self.top: dict[str, tuple[int, int]] = {}  # 1-based position of each top-level key
        # in visiting order: each value's 0-based line and column, then for a scalar its text if plain (else
        # None), for a mapping each key's line and column followed by its value's entries
        self.record: list[int | str | None] = []

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.count += 1
        start = node.start_mark
        if self.count > MAX_NODES:
            # aliases share their anchor's node, so the top-level key is the place to point at
            line, col = self.top[str(path[0])] if path else (start.line + 1, start.column + 1)
            raise SpecError([Diagnostic(self.file, line, col, _dotted(path[:1]),
                                        f"document expands to more than {MAX_NODES} nodes (YAML alias bomb?)")])
        self.record += (start.line, start.column)
        kind = type(node)
        if kind is yaml.ScalarNode:
            return self._scalar(node, path)
        if node.tag != _COLLECTIONS[kind]:
            self._unsupported_tag(node, path)
        if kind is yaml.MappingNode:
            return self._mapping(node, path)
        return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]

    def _error(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        start = node.start_mark
        self.errors.append(Diagnostic(self.file, start.line + 1, start.column + 1, _dotted(path), message))

    def _unsupported_tag(self, node: yaml.Node, path: KeyPath) -> None:
        self._error(node, path, f"unsupported YAML tag `{node.tag.replace('tag:yaml.org,2002:', '!!', 1)}`")

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        tag = node.tag
        if tag == _PLAIN:
            self.record.append(node.value)
            return resolve_plain(node.value)
        self.record.append(None)
        if tag == _STR:
            return node.value
        if tag in _SCALAR_TAGS:
            return resolve_plain(node.value)
        self._unsupported_tag(node, path)
        return node.value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not yaml.ScalarNode:
                self._error(key_node, path, "mapping keys must be plain strings")
                continue
            key = key_node.value
            if key == "<<" and not key_node.style:
                self._error(key_node, path, "merge keys (`<<`) are not supported; write the keys out")
                continue
            start = key_node.start_mark
            if key in lines:
                self.duplicates.append(Diagnostic(self.file, start.line + 1, start.column + 1, _dotted((*path, key)),
                                                  f"duplicate key `{key}` (first defined at line {lines[key]})"))
                continue
            lines[key] = start.line + 1
            self.record += (start.line, start.column)
            if not path:
                self.top[key] = (start.line + 1, start.column + 1)
            result[key] = self.build(value_node, (*path, key))
        return result


def _replay(data: Any, record: list[Any]) -> Tables:
    """The tables of a document built without errors, from its data and the builder's record."""
    tables = Tables({}, {}, {})
    values, keys, plain = tables
    numbers = iter(record)

    def visit(value: Any, path: KeyPath) -> None:
        values[path] = Mark(next(numbers) + 1, next(numbers) + 1, path)
        if isinstance(value, dict):
            for key, item in value.items():
                here = (*path, key)
                keys[here] = Mark(next(numbers) + 1, next(numbers) + 1, here)
                visit(item, here)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, (*path, index))
        else:
            text = next(numbers)
            if text is not None:
                plain[path] = text

    visit(data, ())
    return tables


def _dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


def read_document(path: Path | str, display: str | None = None, noun: str = "spec", *,
                  keep_duplicates: bool = False) -> Document:
    """Read and parse one YAML file (a `noun`, for messages); raise SpecError with every problem found."""
    file = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _fail(file, 1, 1, f"cannot read file: {exc.strerror}") from None
    return parse_document(raw, file, noun, keep_duplicates=keep_duplicates)


def parse_document(raw: bytes, file: str, noun: str = "spec", *, keep_duplicates: bool = False) -> Document:
    """Parse YAML bytes that claim to come from `file`, a `noun` (`spec` or `policy`) for messages.

    Duplicate keys are errors; with `keep_duplicates` they are returned in `Document.duplicates` instead
    (the first definition kept), so a validator can report them along with every other error of the file.
    """
    text = _decode(file, raw, noun)
    if "\t" in text:
        _check_tabs(file, text)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        from .yamlerrors import describe_yaml_error

        raise _fail(file, *describe_yaml_error(exc, text)) from None
    if not nodes:
        raise _fail(file, 1, 1, f"the file is empty; a {noun} is a mapping that starts with `apiVersion: mlform/v1`")
    if len(nodes) > 1:
        second = nodes[1].start_mark
        raise _fail(file, second.line + 1, second.column + 1,
                    f"a {noun} file holds one YAML document, found {len(nodes)}")
    node = nodes[0]
    if not isinstance(node, yaml.MappingNode):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise _fail(file, line, col, f"the top level of a {noun} must be a mapping")
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.errors or (builder.duplicates and not keep_duplicates):
        raise SpecError([*builder.errors, *builder.duplicates])
    return Document(file, data, partial(_replay, data, builder.record), tuple(builder.duplicates))
