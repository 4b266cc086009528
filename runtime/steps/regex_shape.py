"""Parse the fixed-shape subset of regular expressions that `regex_fast` checks without a regex engine.

The subset: ASCII literals, character classes (`[a-z0-9_]`, `[^@]`, `\\d`, `\\w`, `\\s` and their negations,
`.`), groups and alternations whose branches all have one fixed length, `{n}` repetition, and at most one
variable run of a single class (`[a-z]+`, `\\d*`, `x?`, `\\w{2,8}`). Such a pattern, matched whole, is a fixed
prefix, the run, and a fixed suffix: every byte position is known from the start or the end of the string.
Classes hold ASCII bytes only and follow RE2 (the engine the runtime uses otherwise): `\\s` is `[\\t\\n\\f\\r ]`
without `\\v`, and `.` is any character but `\\n`. Anything else parses to None and keeps the general engine.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from mlform.specs.errors import StepPartError

__all__ = ["ASCII", "MAX_ALTERNATIVES", "MAX_LANES", "Shape", "parse"]

ASCII = (1 << 128) - 1
MAX_ALTERNATIVES = 64
MAX_LANES = 256
MAX_REPEAT = 1000  # RE2 rejects larger counts


def _span(low: str, high: str) -> int:
    return ((1 << (ord(high) + 1)) - 1) ^ ((1 << ord(low)) - 1)


def _chars(chars: str) -> int:
    return sum(1 << ord(c) for c in set(chars))


_DIGIT = _span("0", "9")
_WORD = _DIGIT | _span("A", "Z") | _span("a", "z") | _chars("_")
_SPACE = _chars("\t\n\f\r ")
_SHORTHANDS = {"d": _DIGIT, "w": _WORD, "s": _SPACE, "D": ASCII & ~_DIGIT, "W": ASCII & ~_WORD, "S": ASCII & ~_SPACE}
_CONTROLS = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}
_PUNCTUATION = set(string.punctuation) - {"_"}
_META = set("\\.^$*+?()[]{}|")

Alternatives = frozenset[tuple[int, ...]]


@dataclass(frozen=True)
class Shape:
    """A whole-string pattern: fixed prefix alternatives, an optional run of one class, fixed suffix alternatives.

    Each alternative is a tuple of byte classes, one per position; a class is a 128-bit mask of ASCII bytes.
    """

    prefix: Alternatives
    suffix: Alternatives
    run: int | None = None
    low: int = 0
    high: int | None = 0

    @property
    def widths(self) -> tuple[int, int]:
        """Bytes in the fixed prefix and suffix."""
        return len(next(iter(self.prefix))), len(next(iter(self.suffix)))


class UnsupportedPatternError(StepPartError):
    """The pattern is outside the subset."""

    def __init__(self) -> None:
        super().__init__("the pattern is outside the subset")


@dataclass(frozen=True)
class _Run:
    cls: int
    low: int
    high: int | None


_Piece = Alternatives | _Run
_EMPTY: Alternatives = frozenset({()})


def _fold(alternatives: set[tuple[int, ...]]) -> Alternatives:
    """Merge alternatives that differ in one position into one class there: `(a|b|c)` is `[abc]`."""
    width = len(next(iter(alternatives)))
    changed = True
    while changed and len(alternatives) > 1:
        changed = False
        for i in range(width):
            merged: dict[tuple[int, ...], int] = {}
            for lanes in alternatives:
                rest = lanes[:i] + lanes[i + 1:]
                merged[rest] = merged.get(rest, 0) | lanes[i]
            if len(merged) < len(alternatives):
                alternatives = {(*rest[:i], cls, *rest[i:]) for rest, cls in merged.items()}
                changed = True
    return frozenset(alternatives)


def _concat(left: Alternatives, right: Alternatives) -> Alternatives:
    out = _fold({a + b for a in left for b in right})
    if len(out) > MAX_ALTERNATIVES or len(next(iter(out))) > MAX_LANES:
        raise UnsupportedPatternError
    return out


def _fixed(pieces: list[_Piece]) -> Alternatives:
    out = _EMPTY
    for piece in pieces:
        if isinstance(piece, _Run):
            raise UnsupportedPatternError
        out = _concat(out, piece)
    return out


class _Parser:
    """Recursive descent over the subset; raises UnsupportedPatternError on anything else."""

    def __init__(self, pattern: str) -> None:
        self.text, self.pos = pattern, 0

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def take(self) -> str:
        char = self.peek()
        if char is None:
            raise UnsupportedPatternError
        self.pos += 1
        return char

    def alternation(self) -> list[_Piece]:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        if len(branches) == 1:
            return branches[0]
        fixed = [_fixed(branch) for branch in branches]
        if len({len(next(iter(alts))) for alts in fixed}) != 1:
            raise UnsupportedPatternError
        union = _fold(set().union(*fixed))
        if len(union) > MAX_ALTERNATIVES:
            raise UnsupportedPatternError
        return [union]

    def sequence(self) -> list[_Piece]:
        pieces: list[_Piece] = []
        while self.peek() not in (None, "|", ")"):
            pieces.extend(self.repeated())
        return pieces

    def repeated(self) -> list[_Piece]:
        char = self.take()
        if char == "(":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            elif self.peek() == "?":
                raise UnsupportedPatternError
            inner = self.alternation()
            if self.take() != ")":
                raise UnsupportedPatternError
            bounds = self.quantifier()
            if bounds is None:
                return inner
            low, high = bounds
            if low != high:
                raise UnsupportedPatternError
            group, out = _fixed(inner), _EMPTY
            for _ in range(low):
                out = _concat(out, group)
            return [out]
        cls = self.atom(char)
        bounds = self.quantifier()
        if bounds is None:
            return [frozenset({(cls,)})]
        low, high = bounds
        if low == high:
            if low > MAX_LANES:
                raise UnsupportedPatternError
            return [frozenset({(cls,) * low})]
        return [_Run(cls, low, high)]

    def atom(self, char: str) -> int:
        if char == ".":
            return ASCII & ~_chars("\n")
        if char == "[":
            return self.bracket()
        if char == "\\":
            escaped = self.take()
            if escaped in _SHORTHANDS:
                return _SHORTHANDS[escaped]
            return _chars(self.escape(escaped))
        if char in _META or ord(char) > 127:
            raise UnsupportedPatternError
        return _chars(char)

    @staticmethod
    def escape(escaped: str) -> str:
        if escaped in _CONTROLS:
            return _CONTROLS[escaped]
        if escaped in _PUNCTUATION:
            return escaped
        raise UnsupportedPatternError

    def bracket(self) -> int:
        negate = self.peek() == "^"
        self.pos += negate
        if self.peek() == "]":
            raise UnsupportedPatternError
        cls = 0
        while (char := self.take()) != "]":
            if char == "[" or ord(char) > 127:
                raise UnsupportedPatternError
            if char == "\\":
                escaped = self.take()
                if escaped in _SHORTHANDS:
                    cls |= _SHORTHANDS[escaped]
                    continue
                char = self.escape(escaped)
            if self.peek() == "-" and self.text[self.pos + 1:self.pos + 2] not in ("]", ""):
                self.pos += 1
                high = self.take()
                if high == "\\":
                    high = self.escape(self.take())
                if high == "[" or ord(high) > 127 or high < char:
                    raise UnsupportedPatternError
                cls |= _span(char, high)
            else:
                cls |= _chars(char)
        return ASCII & ~cls if negate else cls

    def quantifier(self) -> tuple[int, int | None] | None:
        char = self.peek()
        if char in ("*", "+", "?"):
            self.pos += 1
            bounds: tuple[int, int | None] = {"*": (0, None), "+": (1, None), "?": (0, 1)}[char]
        elif char == "{":
            end = self.text.find("}", self.pos)
            low_text, comma, high_text = self.text[self.pos + 1:end].partition(",")
            if end < 0 or not low_text.isdigit() or not (high_text.isdigit() or high_text == ""):
                raise UnsupportedPatternError
            low = int(low_text)
            high = low if not comma else int(high_text) if high_text else None
            if low > MAX_REPEAT or (high is not None and (high > MAX_REPEAT or high < low)):
                raise UnsupportedPatternError
            self.pos = end + 1
            bounds = (low, high)
        else:
            return None
        if self.peek() == "?":  # lazy: the same strings match whole
            self.pos += 1
        if self.peek() in ("*", "+", "?", "{"):
            raise UnsupportedPatternError
        return bounds


def _trailing_dollar(pattern: str) -> bool:
    if not pattern.endswith("$"):
        return False
    slashes = len(pattern[:-1]) - len(pattern[:-1].rstrip("\\"))
    return slashes % 2 == 0


def parse(pattern: str) -> Shape | None:
    """The shape of `pattern` matched as a whole string, or None when it is outside the subset."""
    body = pattern[1:] if pattern.startswith("^") else pattern
    body = body[:-1] if _trailing_dollar(body) else body
    parser = _Parser(body)
    try:
        pieces = parser.alternation()
        if parser.pos != len(body):
            return None
        runs = [i for i, piece in enumerate(pieces) if isinstance(piece, _Run)]
        if len(runs) > 1:
            return None
        if not runs:
            return Shape(_fixed(pieces), _EMPTY)
        run = pieces[runs[0]]
        assert isinstance(run, _Run)
        prefix, suffix = _fixed(pieces[:runs[0]]), _fixed(pieces[runs[0] + 1:])
        before, after = len(next(iter(prefix))), len(next(iter(suffix)))
        if len(prefix) * len(suffix) > MAX_ALTERNATIVES or before + after > MAX_LANES:
            return None
        return Shape(prefix, suffix, run.cls, run.low, run.high)
    except UnsupportedPatternError:
        return None
