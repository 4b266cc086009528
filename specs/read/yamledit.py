"""Round-trip edits of a YAML file: set one scalar by key path, changing only the bytes that must change.

Comments, blank lines, quoting, key order, line endings and a missing final newline all stay as they
were. The editor works on the parser's events (their marks give each node's span and style) and
refuses what it cannot edit safely: anchors, aliases and tags on the way to the value, and parents
that are not mappings. Every edit is checked by reading the result back: only the target may differ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from mlform.specs.errors import Diagnostic, EditError, SpecError

from .source import Document, parse_document, resolve_plain

__all__ = ["Edit", "Scalar", "dump_scalar", "lookup", "set_value"]

Scalar = int | str | bool

_Parser = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
_BREAK = re.compile(r"\r\n|\r|\n")
_BREAKS = "\r\n\x85\u2028\u2029"  # what PyYAML reads as line breaks
_DEFAULT_UNIT = 2


@dataclass(frozen=True)
class Edit:
    """The edited text, where the new value stands in it (1-based), and the value it replaced (None if missing)."""

    text: str
    line: int
    col: int
    old: Any
    created: bool


@dataclass(eq=False)
class _Node:
    """One node of the event tree: its start event, where its content ends, and its children (keys and values)."""

    event: Any
    end: int  # a block collection ends where its last child does; a block scalar at the start of the next line
    children: list[_Node]

    @property
    def start(self) -> int:
        """Offset of the node's first character (its anchor or tag when it has one)."""
        return int(self.event.start_mark.index)

    @property
    def flow(self) -> bool:
        """Whether this is a flow collection (`{...}` or `[...]`)."""
        return bool(getattr(self.event, "flow_style", False))

    @property
    def column(self) -> int:
        """0-based column of the first key of a mapping."""
        return int(self.children[0].event.start_mark.column)

    def pairs(self) -> Iterator[tuple[_Node, _Node]]:
        """The (key, value) pairs of a mapping."""
        return zip(self.children[::2], self.children[1::2], strict=True)


def _tree(text: str) -> _Node:
    """The root node of the single document in `text`."""
    events = list(yaml.parse(text, Loader=_Parser))
    position = 2  # after StreamStart and DocumentStart

    def node() -> _Node:
        nonlocal position
        event = events[position]
        position += 1
        if not isinstance(event, yaml.CollectionStartEvent):
            return _Node(event, event.end_mark.index, [])
        children = []
        while not isinstance(events[position], yaml.CollectionEndEvent):
            children.append(node())
        close = events[position]
        position += 1
        end = close.end_mark.index if event.flow_style else children[-1].end
        return _Node(event, int(end), children)

    return node()


def dump_scalar(value: Scalar) -> str:
    """`value` as one YAML scalar on one line, safe in block and flow context, that reads back as itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"set_value writes an int, a str or a bool, not {type(value).__name__}")
    if any(char in value for char in _BREAKS):  # double quotes keep line breaks as escapes, on one line
        return _dump(value, '"')
    # dumped inside a flow sequence, so the emitter only picks forms that are safe inside `{...}` too
    text = _dump(value, None)
    if text[:1] not in ("'", '"') and resolve_plain(text) != value:
        # YAML 1.2 reads some plain forms PyYAML leaves unquoted (`1e3`, `0o17`) as numbers
        text = _dump(value, "'")
    return text


def _dump(value: str, style: str | None) -> str:
    dumped = yaml.safe_dump([value], default_flow_style=True, default_style=style, allow_unicode=True,
                            width=float("inf"))
    return str(dumped).strip()[1:-1]


def set_value(text: str, path: tuple[str, ...], value: Scalar, file: str) -> Edit:
    """Set the scalar at key `path` to `value`, inserting missing keys; raise EditError where that is unsafe."""
    if not path:
        raise ValueError("set_value needs a key path")
    new = dump_scalar(value)
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    doc = parse_document(body.encode(), file)
    start, end, replacement, offset = _Editor(body, path, new, file).splice()
    edited = body[:start] + replacement + body[end:]
    _verify(doc, edited, path, value, file)
    line, col = _position(edited, start + offset)
    old, present = lookup(doc.data, path)
    return Edit(bom + edited, line, col, old, not present)


class _Editor:
    """Works out the one splice that sets the value at `path`: (start, end, replacement, value offset in it)."""

    def __init__(self, text: str, path: tuple[str, ...], new: str, file: str) -> None:
        self.text, self.path, self.new, self.file = text, path, new, file
        found = _BREAK.search(text)
        self.newline = found.group() if found else "\n"
        self.root = _tree(text)

    def splice(self) -> tuple[int, int, str, int]:
        """Walk `path` from the root mapping and edit where it ends or where it leaves the file."""
        mapping, parents = self.root, [self.root]
        self._check_shared(mapping, 0)
        for depth, key in enumerate(self.path):
            value = next((v for k, v in mapping.pairs() if isinstance(k.event, yaml.ScalarEvent)
                          and k.event.value == key), None)
            if value is None:
                return self._insert(mapping, parents, depth)
            self._check_shared(value, depth + 1)
            if depth == len(self.path) - 1:
                break
            here = _dotted(self.path[:depth + 1])
            if isinstance(value.event, yaml.MappingStartEvent):
                mapping = value
                parents.append(value)
            elif isinstance(value.event, yaml.SequenceStartEvent):
                raise self._error(value, depth + 1, f"`{here}` is a list, not a mapping")
            elif not value.event.style and resolve_plain(value.event.value) is None:
                return self._fill_null(value, mapping, parents, depth + 1)
            else:
                raise self._error(value, depth + 1, f"`{here}` is a scalar, not a mapping, "
                                  f"so `{_dotted(self.path)}` cannot be set")
        assert value is not None  # every branch above that leaves it None returns or raises
        return self._replace(value)

    def _check_shared(self, node: _Node, depth: int) -> None:
        """Refuse aliases, anchors and tags on the way to the value: editing them would change other values."""
        event, name = node.event, f"`{_dotted(self.path[:depth])}`" if depth else "the top-level mapping"
        if isinstance(event, yaml.AliasEvent):
            raise self._error(node, depth, f"{name} is an alias (`*{event.anchor}`); write the value out to edit it")
        if event.anchor is not None:
            raise self._error(node, depth, f"{name} has an anchor (`&{event.anchor}`) that aliases may share; "
                              "remove the anchor to edit it")
        if event.tag is not None:
            shown = event.tag.replace("tag:yaml.org,2002:", "!!", 1)
            raise self._error(node, depth, f"{name} has the tag `{shown}`; remove the tag to edit it")

    def _error(self, node: _Node, depth: int, message: str) -> EditError:
        mark = node.event.start_mark
        return EditError([Diagnostic(self.file, mark.line + 1, mark.column + 1, _dotted(self.path[:depth]), message)])

    def _replace(self, node: _Node) -> tuple[int, int, str, int]:
        """Replace a scalar's own characters; an empty scalar (`key:`) gets the value after its colon."""
        if isinstance(node.event, yaml.CollectionStartEvent):
            kind = "mapping" if isinstance(node.event, yaml.MappingStartEvent) else "list"
            raise self._error(node, len(self.path), f"`{_dotted(self.path)}` is a {kind}, not a single value")
        start, end = node.start, node.end
        if node.event.style in ("|", ">"):  # a block scalar's span runs on over the blank lines after it
            end = start + len(self.text[start:end].rstrip())
        elif start == end:
            prefix = self._separator(start)
            return start, end, prefix + self.new, len(prefix)
        return start, end, self.new, 0

    def _fill_null(self, node: _Node, mapping: _Node, parents: list[_Node], depth: int) -> tuple[int, int, str, int]:
        """A null parent becomes a mapping: block lines under an empty `key:`, else a flow mapping."""
        rest = self.path[depth:]
        if node.start != node.end or mapping.flow:
            chain, offset = _flow_chain(rest, self.new)
            prefix = "" if node.start != node.end else self._separator(node.start)
            return node.start, node.end, f"{prefix}{{{chain}}}", len(prefix) + 1 + offset
        indent = mapping.column + self._unit(mapping, parents)
        chain, offset = _block_chain(rest, indent, self._unit(mapping, parents), self.new, self.newline)
        at = self._line_end(node.start)
        return at, at, self.newline + chain, len(self.newline) + offset

    def _insert(self, mapping: _Node, parents: list[_Node], depth: int) -> tuple[int, int, str, int]:
        """Add the missing keys to `mapping`: first in a flow mapping, last in a block mapping."""
        rest = self.path[depth:]
        if mapping.flow:
            chain, offset = _flow_chain(rest, self.new)
            at = mapping.start + 1
            if not mapping.children:
                return at, at, chain, offset
            while self.text[at] in " \t\r\n":
                at += 1
            return at, at, chain + ", ", offset
        unit = self._unit(mapping, parents)
        chain, offset = _block_chain(rest, mapping.column, unit, self.new, self.newline)
        at = mapping.end
        if self.text[at - 1:at] in ("\r", "\n"):  # after a block scalar: at the start of a line
            return at, at, chain + self.newline, offset
        at = self._line_end(at)
        return at, at, self.newline + chain, len(self.newline) + offset

    def _separator(self, offset: int) -> str:
        """What must precede a value written where an empty value stands: its key's colon may be missing."""
        before = self.text[:offset].rstrip(" \t\r\n")
        if not before.endswith(":"):
            return ": "
        return "" if len(before) < offset else " "

    def _line_end(self, offset: int) -> int:
        found = _BREAK.search(self.text, offset)
        return found.start() if found else len(self.text)

    def _unit(self, mapping: _Node, parents: list[_Node]) -> int:
        """The indentation step at `mapping`: its own against its parent's, else the file's first one."""
        index = parents.index(mapping)
        if index and not parents[index - 1].flow and not mapping.flow:
            step = mapping.column - parents[index - 1].column
            if step > 0:
                return step
        return _file_unit(self.root) or _DEFAULT_UNIT


def _file_unit(node: _Node) -> int | None:
    """The first indentation step between a block mapping and a block mapping nested in it, if any."""
    if isinstance(node.event, yaml.MappingStartEvent) and not node.flow:
        for _, value in node.pairs():
            if isinstance(value.event, yaml.MappingStartEvent) and not value.flow and value.column > node.column:
                return value.column - node.column
    for child in node.children:
        found = _file_unit(child)
        if found:
            return found
    return None


def _flow_chain(keys: tuple[str, ...], new: str) -> tuple[str, int]:
    """`a: {b: value}` for keys (a, b), and the offset of the value in it."""
    head = "".join(f"{dump_scalar(key)}: {{" for key in keys[:-1]) + f"{dump_scalar(keys[-1])}: "
    return head + new + "}" * (len(keys) - 1), len(head)


def _block_chain(keys: tuple[str, ...], indent: int, unit: int, new: str, newline: str) -> tuple[str, int]:
    """Nested block lines for keys, the first at `indent`, and the offset of the value in them."""
    lines = [" " * (indent + unit * level) + dump_scalar(key) + ":" for level, key in enumerate(keys)]
    head = newline.join(lines) + " "
    return head + new, len(head)


def _verify(doc: Document, edited: str, path: tuple[str, ...], value: Scalar, file: str) -> None:
    """Read the edited text back: it must parse, and differ from the original only at `path`."""
    expected = json.loads(json.dumps(doc.data))
    target = expected
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    try:
        result = parse_document(edited.encode(), file).data
    except SpecError:
        result = None
    if _canonical(result) != _canonical(expected):
        mark = doc.mark(path)
        message = f"cannot edit `{_dotted(path)}` safely here; edit the file by hand"
        raise EditError([Diagnostic(file, mark.line, mark.col, _dotted(mark.written), message)])


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


def lookup(data: Any, path: tuple[str, ...]) -> tuple[Any, bool]:
    """The value at key `path` in parsed data (None when missing), and whether it is there."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None, False
        data = data[key]
    return data, True


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset` in `text`."""
    line, start = 1, 0
    for found in _BREAK.finditer(text, 0, offset):
        line, start = line + 1, found.end()
    return line, offset - start + 1


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(key) for key in path)
