"""Whole-string regex checks on Arrow string arrays with numpy, for patterns of a fixed shape (`regex_shape`).

A shape is a fixed prefix, an optional run of one byte class, and a fixed suffix, so a string matches when its
length fits, the bytes right after its start and right before its end match the fixed parts, and every byte
between them is in the run's class. The offsets and data buffers are read zero-copy and walked in blocks of
rows; the fixed windows are gathered as 64-bit words, one per row, and tested lane-wise (SWAR); the run's class
is tested over the block's bytes and only counted, and which rows hold the stray bytes is worked out only when
the count shows some.

Only ASCII strings are ever confirmed here (every class holds ASCII bytes only), so the answer is exact where
it says "matches"; rows it cannot confirm, failures included, are re-checked by Arrow's RE2 kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .regex_shape import ASCII, Shape, parse

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BLOCK_BYTES", "BLOCK_ROWS", "FastRegex", "anchored", "compile_fullmatch"]

# Rows per numpy pass: a block's bytes and temporaries stay in the core's cache, and below the size at which
# malloc maps (and page-faults) fresh memory for every temporary
BLOCK_ROWS = 8_192
BLOCK_BYTES = 196_608
_HIGH = 0x8080808080808080
_LANE_HIGH = 0x80


def _ranges(cls: int) -> list[tuple[int, int]]:
    """The byte class as maximal (low, high) ranges."""
    out, byte = [], 0
    while byte < 128:
        if cls >> byte & 1:
            end = byte
            while end + 1 < 128 and cls >> (end + 1) & 1:
                end += 1
            out.append((byte, end))
            byte = end + 1
        else:
            byte += 1
    return out


@dataclass(frozen=True)
class _Word:
    """A check of one 64-bit word of a window: literal lanes by mask, class lanes by range layers."""

    column: int  # which word of the window
    checked: int  # the high bit of every lane that is checked
    mask: int = 0
    value: int = 0
    layers: tuple[tuple[int, int], ...] = ()  # per layer: each lane's range low and high + 1, lane-wise

    def test(self, words: np.ndarray) -> np.ndarray:
        """Which words pass."""
        if not self.layers:
            literal: np.ndarray = (words & np.uint64(self.mask)) == np.uint64(self.value)
            return literal
        # lanes of `words | _HIGH` are >= 0x80, so lane-wise subtraction of <= 0x80 never borrows across lanes;
        # the high bit then says "lane >= low" and "lane >= high + 1"; ASCII lanes have it clear in `words`
        lifted = words | np.uint64(_HIGH)
        hit = None
        for low, high in self.layers:
            inside = (lifted - np.uint64(low)) & ~(lifted - np.uint64(high))
            hit = inside if hit is None else hit | inside
        assert hit is not None
        checked = np.uint64(self.checked)
        passed: np.ndarray = (hit & ~words & checked) == checked
        return passed


def _words(lanes: tuple[int, ...], shift: int, width: int) -> tuple[_Word, ...]:
    """The word checks of one alternative whose classes start at lane `shift` of a `width`-byte window."""
    per_lane: list[int | None] = [None] * shift + list(lanes) + [None] * (width - shift - len(lanes))
    out = []
    for column in range(width // 8):
        classes = per_lane[8 * column:8 * column + 8]
        checked = sum(_LANE_HIGH << 8 * i for i, c in enumerate(classes) if c is not None)
        ranges = [_ranges(c) if c is not None else [(0, 127)] for c in classes]
        if not checked:
            continue
        if any(not r for r in ranges):  # an empty class never matches
            out.append(_Word(column, checked, mask=0, value=1))
        elif all(c is None or r == [(r[0][0], r[0][0])] for c, r in zip(classes, ranges, strict=True)):
            mask = sum(0xFF << 8 * i for i, c in enumerate(classes) if c is not None)
            value = sum(r[0][0] << 8 * i for i, (c, r) in enumerate(zip(classes, ranges, strict=True)) if c is not None)
            out.append(_Word(column, checked, mask, value))
        else:
            depth = max(len(r) for r in ranges)
            layers = tuple((sum(r[min(k, len(r) - 1)][0] << 8 * i for i, r in enumerate(ranges)),
                            sum((r[min(k, len(r) - 1)][1] + 1) << 8 * i for i, r in enumerate(ranges)))
                           for k in range(depth))
            out.append(_Word(column, checked, layers=layers))
    return tuple(out)


@dataclass(frozen=True)
class _Window:
    """The fixed prefix or suffix: alternatives of word checks over `width` bytes (a multiple of 8)."""

    width: int
    alternatives: tuple[tuple[_Word, ...], ...]

    @classmethod
    def build(cls, alternatives: frozenset[tuple[int, ...]], at_end: bool) -> _Window | None:
        """The window of these alternatives, anchored at the string's start or end; None when empty."""
        size = len(next(iter(alternatives)))
        if size == 0:
            return None
        width = -(-size // 8) * 8
        shift = width - size if at_end else 0
        return cls(width, tuple(_words(lanes, shift, width) for lanes in sorted(alternatives)))

    def test(self, data: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Which rows' windows, read at byte offsets `at` of `data`, match an alternative."""
        view = np.ndarray((data.size - self.width + 1,), dtype=f"V{self.width}", buffer=data, strides=(1,))
        words = view[at].view("<u8").reshape(len(at), self.width // 8)
        done: dict[_Word, np.ndarray] = {}
        result = None
        for alternative in self.alternatives:
            good = None
            for word in alternative:
                if word not in done:
                    done[word] = word.test(words[:, word.column])
                good = done[word] if good is None else good & done[word]
            good = np.ones(len(at), dtype=bool) if good is None else good
            result = good if result is None else result | good
        assert result is not None
        return result


def anchored(pattern: str) -> str:
    """`pattern` anchored to match whole strings with RE2, as the general path runs it."""
    return f"^(?:{pattern})$"


class FastRegex:
    """A compiled fixed-shape pattern: `unsure` rows are those it cannot confirm as matching."""

    def __init__(self, pattern: str, shape: Shape) -> None:
        self.anchored = anchored(pattern)
        self.shape = shape
        self.before, self.after = shape.widths
        self.prefix = _Window.build(shape.prefix, at_end=False)
        self.suffix = _Window.build(shape.suffix, at_end=True)
        self.shortest = self.before + self.after + shape.low
        self.longest = None if shape.high is None else self.before + self.after + shape.high
        self.run = None if shape.run is None else [(low, high - low) for low, high in _ranges(shape.run)]
        self.expected = None if shape.run is None else self._expected(shape.run)

    def _expected(self, run: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Where the fixed parts hold bytes outside the run's class (prefix from the start, suffix from the end).

        None when that depends on the alternative or on the byte (a class partly inside the run's class).
        """
        found = []
        for part in (self.shape.prefix, self.shape.suffix):
            if any(c & run and c & ~run & ASCII for lanes in part for c in lanes):
                return None
            lanes = {tuple(i for i, c in enumerate(classes) if not c & run) for classes in part}
            if len(lanes) != 1:
                return None
            found.append(np.array(lanes.pop(), dtype=np.int64))
        return found[0], found[1] - self.after

    @staticmethod
    def supports(array: pa.Array | pa.ChunkedArray) -> bool:
        """True for string and large string arrays, whose buffers this reads."""
        import pyarrow as pa

        return bool(pa.types.is_string(array.type) or pa.types.is_large_string(array.type))

    def failing(self, array: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Positions of the non-null strings that do not match: unconfirmed rows are re-checked with RE2."""
        import pyarrow as pa
        import pyarrow.compute as pc

        found, base = [], 0
        for chunk in getattr(array, "chunks", [array]):
            unsure = self.unsure(chunk)
            if unsure.size * 4 > len(chunk):  # mostly unconfirmed (say non-ASCII): RE2 on the chunk, no gather
                matched = pc.match_substring_regex(chunk, self.anchored)
                unsure = np.flatnonzero(~pc.fill_null(matched, True).to_numpy(zero_copy_only=False))
            elif unsure.size:
                matched = pc.match_substring_regex(chunk.take(pa.array(unsure)), self.anchored)
                unsure = unsure[~pc.fill_null(matched, True).to_numpy(zero_copy_only=False)]
            found.append(unsure + base)
            base += len(chunk)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def unsure(self, array: pa.Array) -> np.ndarray:
        """Positions of the non-null strings of a (large) string array not confirmed as matching."""
        import pyarrow as pa

        rows = len(array)
        if rows == 0:
            return np.zeros(0, dtype=np.int64)
        validity, offsets_buffer, data_buffer = array.buffers()
        kind = np.int64 if pa.types.is_large_string(array.type) else np.int32
        offsets = np.frombuffer(offsets_buffer, dtype=kind, count=rows + 1,
                                offset=array.offset * np.dtype(kind).itemsize).astype(np.int64, copy=False)
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        valid = None
        if array.null_count:
            bits = np.frombuffer(validity, dtype=np.uint8)
            valid = np.unpackbits(bits, bitorder="little", count=array.offset + rows)[array.offset:].astype(bool)
        step = max(64, min(BLOCK_ROWS, BLOCK_BYTES * rows // max(int(offsets[-1] - offsets[0]), 1)))
        found = [self._block(data, offsets[start:start + step + 1], None if valid is None else
                             valid[start:start + step]) + start for start in range(0, rows, step)]
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def _block(self, data: np.ndarray, offsets: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
        starts, ends = offsets[:-1], offsets[1:]
        lengths = ends - starts
        good = lengths >= self.shortest
        if self.longest is not None:
            good &= lengths <= self.longest
        for window, at_end in ((self.prefix, False), (self.suffix, True)):
            if window is None:
                continue
            if data.size < window.width:  # too little data to read a window anywhere: all unsure
                return np.flatnonzero(valid) if valid is not None else np.arange(len(starts))
            # a window must lie inside the buffer: offsets only grow, so the rows too close to its edges are
            # the first ones (suffix) or the last ones (prefix); they stay unsure
            at = ends - window.width if at_end else starts.copy()
            edge = (slice(0, int(np.searchsorted(at, 0))) if at_end else
                    slice(int(np.searchsorted(at, data.size - window.width, side="right")), None))
            at[edge] = 0
            good &= window.test(data, at)
            good[edge] = False
        if self.run is not None:
            outside = self._outside_run(data[offsets[0]:offsets[-1]])
            if not self._clean(outside, offsets, good if valid is None else good & valid):
                good &= self._run_rows(outside, offsets, good)
        return np.flatnonzero(~good if valid is None else ~good & valid)

    def _outside_run(self, block: np.ndarray) -> np.ndarray:
        """Which bytes are outside the run's class."""
        assert self.run is not None
        out = np.empty(block.size, dtype=bool)
        spare = np.empty(block.size, dtype=np.uint8)
        for i, (low, span) in enumerate(self.run):
            np.subtract(block, np.uint8(low), out=spare)
            if i == 0:
                np.greater(spare, np.uint8(span), out=out)
            else:
                out &= spare > span
        return out

    def _clean(self, outside: np.ndarray, offsets: np.ndarray, fit: np.ndarray) -> bool:
        """True when no row that `fit` so far (length, fixed parts) has a byte outside the run's class.

        Such a row has exactly the fixed parts' expected bytes outside the class, so one count over the block,
        less the bytes of the few rows that did not fit (or are null), settles it.
        """
        if self.expected is None:
            return False
        skip = np.flatnonzero(~fit)
        if 8 * skip.size > fit.size:
            return False
        base = offsets[0]
        skipped = 0
        if skip.size:
            first, lengths = offsets[skip] - base, offsets[skip + 1] - offsets[skip]
            at = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
            skipped = int(np.count_nonzero(outside[at]))
        expected = sum(len(lanes) for lanes in self.expected) * (fit.size - skip.size)
        return int(np.count_nonzero(outside)) - skipped == expected

    def _run_rows(self, outside: np.ndarray, offsets: np.ndarray, good: np.ndarray) -> np.ndarray:
        """Per row: no byte between the fixed parts is outside the run's class (`outside` is overwritten)."""
        base = offsets[0]
        if self.expected is not None:
            # the fixed parts of rows that fit lie inside those rows: clear their expected bytes, and the
            # bytes left outside the class belong to failing rows
            rows = np.flatnonzero(good)
            head, tail = self.expected
            for at, lanes in ((offsets[rows] - base, head), (offsets[rows + 1] - base, tail)):
                for lane in lanes:
                    outside[at + lane] = False
            owners = np.searchsorted(offsets[1:] - base, np.flatnonzero(outside), side="right")
            clean = np.ones(len(good), dtype=bool)
            clean[owners] = False
            return clean
        bad = np.append(outside, False)
        first, last = offsets[:-1] + self.before - base, offsets[1:] - self.after - base
        bounds = np.empty(2 * len(first), dtype=np.int64)
        bounds[0::2], bounds[1::2] = first, last
        np.clip(bounds, 0, outside.size, out=bounds)
        fits: np.ndarray = ~np.logical_or.reduceat(bad, bounds)[0::2] | (last <= first)
        return fits


def compile_fullmatch(pattern: str) -> FastRegex | None:
    """The numpy matcher of `pattern` matched whole, or None when its shape is outside the subset.

    Raises pyarrow's ArrowInvalid, as the general path does, when RE2 rejects the pattern, so a caller keeps
    one fallback (Python's engine) for both.
    """
    shape = parse(pattern)
    if shape is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    pc.match_substring_regex(pa.array([""], pa.string()), anchored(pattern))  # RE2 compiles only for data
    return FastRegex(pattern, shape)
