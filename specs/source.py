"""Read a YAML file into plain data plus the source position of every key and value.

The reader is stricter than PyYAML on purpose: duplicate keys, tabs in indentation, non-UTF-8
bytes, oversized files and alias bombs are errors, and plain scalars follow YAML 1.2 (only
`true`/`false` are booleans) so `no`, `on` or `0777` never silently change meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Diagnostic, SpecError

__all__ = ["MAX_BYTES", "MAX_NODES", "Document", "KeyPath", "Mark", "parse_document", "read_document", "resolve_plain"]

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000

KeyPath = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_PLAIN = "tag:mlform:plain"  # private: an untagged plain scalar, resolved here with YAML 1.2 rules
_SCALAR_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null")}
_COLLECTIONS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}
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
YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


@dataclass(frozen=True)
class Mark:
    """Where a node stands: 1-based line and column, and its key path as written in the file."""

    line: int
    col: int
    written: KeyPath


@dataclass
class Document:
    """A parsed YAML file: its data, where each value and key stands, and how scalars were written."""

    file: str
    data: Any
    values: dict[KeyPath, Mark] = field(default_factory=dict)
    keys: dict[KeyPath, Mark] = field(default_factory=dict)
    plain: dict[KeyPath, str] = field(default_factory=dict)

    def mark(self, path: KeyPath) -> Mark:
        """The mark of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Mark(1, 1, ())


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Composes nodes only; untagged plain scalars get a private tag so this module resolves them."""

    yaml_implicit_resolvers: dict[str, Any] = {}

    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: tuple[bool, bool]) -> str:
        """The tag of an untagged node: `_PLAIN` for plain scalars, so `!!str 12` stays distinguishable."""
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return str(super().resolve(kind, value, implicit))


def _fail(file: str, line: int, col: int, message: str) -> SpecError:
    return SpecError([Diagnostic(file, line, col, "", message)])


def _decode(file: str, raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise _fail(file, 1, 1, f"file is {len(raw)} bytes; specs are limited to {MAX_BYTES} bytes")
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
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
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
    """Turns a composed node tree into plain data, recording marks and bounding alias expansion."""

    def __init__(self, file: str) -> None:
        self.doc = Document(file=file, data=None)
        self.count = 0
        self.errors: list[Diagnostic] = []

    def _mark(self, node: yaml.Node, path: KeyPath) -> Mark:
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1, path)

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            # aliases share their anchor's node, so the top-level key is the place to point at
            mark = self.doc.keys.get(path[:1]) or self._mark(node, path)
            raise SpecError([Diagnostic(self.doc.file, mark.line, mark.col, _dotted(path[:1]),
                                        f"document expands to more than {MAX_NODES} nodes (YAML alias bomb?)")])
        self.doc.values[path] = self._mark(node, path)
        if type(node) in _COLLECTIONS and node.tag != _COLLECTIONS[type(node)]:
            self._unsupported_tag(node, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _unsupported_tag(self, node: yaml.Node, path: KeyPath) -> None:
        mark = self._mark(node, path)
        tag = node.tag.replace("tag:yaml.org,2002:", "!!", 1)
        self.errors.append(Diagnostic(self.doc.file, mark.line, mark.col, _dotted(path),
                                      f"unsupported YAML tag `{tag}`"))

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        if node.tag == _PLAIN:
            self.doc.plain[path] = node.value
            return resolve_plain(node.value)
        if node.tag == _STR:
            return node.value
        if node.tag in _SCALAR_TAGS:
            return resolve_plain(node.value)
        self._unsupported_tag(node, path)
        return node.value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_mark = self._mark(key_node, path)
            if not isinstance(key_node, yaml.ScalarNode):
                self.errors.append(Diagnostic(self.doc.file, key_mark.line, key_mark.col, _dotted(path),
                                              "mapping keys must be plain strings"))
                continue
            key = key_node.value
            if key == "<<" and not key_node.style:
                self.errors.append(Diagnostic(self.doc.file, key_mark.line, key_mark.col, _dotted(path),
                                              "merge keys (`<<`) are not supported; write the keys out"))
                continue
            if key in result:
                first = self.doc.keys[(*path, key)]
                self.errors.append(Diagnostic(
                    self.doc.file, key_mark.line, key_mark.col, _dotted((*path, key)),
                    f"duplicate key `{key}` (first defined at line {first.line})"))
                continue
            self.doc.keys[(*path, key)] = Mark(key_mark.line, key_mark.col, (*path, key))
            result[key] = self.build(value_node, (*path, key))
        return result


def _dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


def read_document(path: Path | str, display: str | None = None) -> Document:
    """Read and parse one YAML file; raise SpecError with every problem found."""
    file = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _fail(file, 1, 1, f"cannot read file: {exc.strerror}") from None
    return parse_document(raw, file)


def parse_document(raw: bytes, file: str) -> Document:
    """Parse YAML bytes that claim to come from `file`."""
    text = _decode(file, raw)
    _check_tabs(file, text)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        start = exc.context_mark if exc.problem and exc.context else None
        if start is not None:
            problem += f" ({exc.context} at line {start.line + 1}, column {start.column + 1})"
        raise _fail(file, line, col, f"invalid YAML: {problem}") from None
    if not nodes:
        raise _fail(file, 1, 1, "the file is empty; a spec is a mapping that starts with `apiVersion: mlform/v1`")
    if len(nodes) > 1:
        second = nodes[1].start_mark
        raise _fail(file, second.line + 1, second.column + 1,
                    f"a spec file holds one YAML document, found {len(nodes)}")
    node = nodes[0]
    if not isinstance(node, yaml.MappingNode):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise _fail(file, line, col, "the top level of a spec must be a mapping")
    builder = _Builder(file)
    builder.doc.data = builder.build(node, ())
    if builder.errors:
        raise SpecError(builder.errors)
    return builder.doc
