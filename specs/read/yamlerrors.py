"""Turn PyYAML's parser errors into a position and a plain-words message with a hint.

PyYAML says "while parsing a block mapping ... did not find expected key"; a user wants to hear "this
line is indented less than the line above". The common mistakes (indentation, unclosed brackets and
quotes, `key: value: value`, a missing `: `, tabs, stray characters) get their own message; anything
else keeps PyYAML's words at its position.
"""

from __future__ import annotations

from collections.abc import Callable

import yaml

__all__ = ["describe_yaml_error"]

Where = tuple[int, int, str]  # 1-based line and column, and the message


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


class _Reading:
    """The failed file's lines and the error's two marks (0-based), with the questions the rules ask."""

    def __init__(self, exc: yaml.MarkedYAMLError, text: str) -> None:
        self.lines = text.splitlines() or [""]
        mark = exc.problem_mark or exc.context_mark
        self.line: int = mark.line if mark else 0
        self.col: int = mark.column if mark else 0
        self.problem = exc.problem or ""
        self.context = exc.context or ""
        start = exc.context_mark
        self.start = (start.line, start.column) if start else None

    def text(self, line: int) -> str:
        return self.lines[line] if 0 <= line < len(self.lines) else ""

    @property
    def here(self) -> str:
        """The text from the problem's position to the end of its line."""
        return self.text(self.line)[self.col:]

    def previous(self) -> int | None:
        """The 0-based number of the content line before the problem's line."""
        return next((n for n in range(self.line - 1, -1, -1) if _is_content(self.text(n))), None)

    def at(self, message: str) -> Where:
        return self.line + 1, self.col + 1, message

    def at_start(self, message: str) -> Where:
        line, col = self.start or (self.line, self.col)
        return line + 1, col + 1, message


def _block_mapping(r: _Reading) -> Where | None:
    """`did not find expected key` in a block mapping: a stray item, a dedent that matches nothing, or stray text."""
    if r.problem != "did not find expected key" or r.start is None:
        return None
    row = r.text(r.line)
    keys_line, keys_col = r.start[0] + 1, r.start[1]
    if r.here.startswith("- ") or r.here.rstrip() == "-":
        return r.at(f"a list item (`-`) where the mapping of line {keys_line} expects a key; put the list under "
                    "its own key (`key:`, then the `- item` lines indented below it)")
    if r.col > _indent(row):
        char = r.here[:1]
        if char in ")]}":
            return r.at(f"unmatched closing `{char}`; remove it, or add its opening bracket")
        return r.at("unexpected text after the value on this line; quote the whole value if it is one string "
                    '(e.g. `key: "x y"`)')
    above = r.previous()
    if above is not None and keys_col < _indent(row) < _indent(r.text(above)):
        return r.at(f"bad indentation: this line is indented less than the line above (line {above + 1}) and more "
                    f"than the keys of its mapping (line {keys_line}); align it with one of them")
    return r.at(f"bad indentation: the mapping of line {keys_line} expects a key here, at column {keys_col + 1}")


def _mapping_value(r: _Reading) -> Where | None:
    """`mapping values are not allowed`: `key: value: value`, a missing `: ` above, or a line indented too far."""
    if not r.problem.startswith("mapping values are not allowed"):
        return None
    row = r.text(r.line)
    if ": " in row[_indent(row):r.col]:
        return r.at("a value cannot contain `: ` (`key: value: value`); quote the value "
                    '(`key: "value: value"`), or put the inner mapping on its own indented line')
    above = r.previous()
    if above is not None:
        prior = r.text(above)
        code = prior.split(" #")[0].strip()
        if ": " not in code and not code.endswith(":") and not code.startswith("- "):
            return (above + 1, _indent(prior) + 1,
                    f"`{code}` has no `: ` between a key and its value, so YAML reads it as text running into line "
                    f"{r.line + 1}; write `key: value` (a colon and a space)")
        if _indent(row) > _indent(prior) and not code.endswith(":"):
            return (r.line + 1, _indent(row) + 1,
                    f"bad indentation: this line is indented more than the line above (line {above + 1}), whose key "
                    "already has a value; align it with that key, or move the value onto its own lines")
    return r.at("a `:` here is not allowed; quote the value if it contains `: `")


def _flow(r: _Reading) -> Where | None:
    """An unclosed `[` or `{`, or a `: ` inside a flow value."""
    closing = {"while parsing a flow sequence": "]", "while parsing a flow mapping": "}"}.get(r.context)
    if closing is None or not r.problem.startswith("did not find expected ','"):
        return None
    opening = "[" if closing == "]" else "{"
    if r.here.startswith(":") and r.start is not None and r.start[0] == r.line:
        return r.at(f"a value inside `{opening}...{closing}` cannot contain `: `; quote it")
    return r.at_start(f"unclosed `{opening}`: no matching `{closing}` before line {r.line + 1}, column {r.col + 1} "
                      "(or a `,` is missing between two items)")


def _quoted(r: _Reading) -> Where | None:
    """An unclosed quote, or an unknown backslash escape in a double-quoted string."""
    if r.context == "while scanning a quoted scalar" and "end of stream" in r.problem:
        quote = r.text(r.start[0])[r.start[1]] if r.start else '"'
        return r.at_start(f"unclosed quote: the string that starts here with `{quote}` has no closing `{quote}`")
    if r.problem == "found unknown escape character":
        escape = r.here[:2]
        return r.at(f"unknown escape `{escape}` in a double-quoted string; use single quotes for text with "
                    "backslashes (e.g. Windows paths), or write `\\\\`")
    return None


def _line_shape(r: _Reading) -> Where | None:
    """A line that is neither `key: value` nor a list item, or a file that ends inside `[...]` or `{...}`."""
    if r.problem == "could not find expected ':'" and r.start is not None:
        row = r.text(r.start[0]).strip()
        return r.at_start(f"`{row}` is neither `key: value` nor a list item; add the `: `, or indent it under the "
                          "key above if it continues that value")
    if r.problem == "did not find expected node content" and not "".join(r.lines[r.line:]).strip():
        return r.at("the file ends inside a `[...]` or `{...}`; close it")
    return None


def _token(r: _Reading) -> Where | None:
    """A tab, or a character that cannot start a plain value (`@`, a backtick)."""
    if "tab" in r.problem or r.here.startswith("\t"):
        return r.at("tab character; YAML indents with spaces: replace the tab with spaces")
    if r.problem == "found character that cannot start any token":
        char = r.here[:1]
        shown = "a backtick" if char == "`" else f"`{char}`"
        return r.at(f"{shown} cannot start a value; put the value in double quotes")
    if r.problem == "found undefined alias":
        name = r.here[1:].split()[0].rstrip(",]}") if r.here.startswith("*") else ""
        return r.at(f"alias `*{name}` refers to no anchor defined above it; define `&{name}` before using it, or "
                    "quote a value that starts with `*`")
    return None


_RULES: tuple[Callable[[_Reading], Where | None], ...] = (
    _token, _quoted, _flow, _line_shape, _block_mapping, _mapping_value)


def describe_yaml_error(exc: yaml.MarkedYAMLError, text: str) -> Where:
    """Where `exc` stands in `text` (1-based) and what went wrong, in plain words when the mistake is a common one."""
    reading = _Reading(exc, text)
    for rule in _RULES:
        found = rule(reading)
        if found is not None:
            return found
    problem = reading.problem or reading.context or "invalid YAML"
    if reading.problem and reading.context and reading.start is not None:
        problem += f" ({reading.context} at line {reading.start[0] + 1}, column {reading.start[1] + 1})"
    return reading.at(f"invalid YAML: {problem}")
