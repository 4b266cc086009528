"""The numpy regex matcher agrees with the RE2 kernel it replaces, on random patterns of its subset and random data."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mlform.runtime.steps.regex_fast as regex_fast
from mlform.runtime.steps.regex_fast import anchored, compile_fullmatch
from mlform.runtime.steps.regex_shape import parse
from mlform.runtime.steps.validation import validate_frame
from mlform.specs.model.data import Validation

LITERALS = st.sampled_from(list(string.ascii_letters + string.digits + " -_@#%&,:;<=>~'/!"))
ESCAPED = st.sampled_from([f"\\{c}" for c in ".+*?()[]{}|^$\\-/@"] + [r"\t", r"\n"])
CLASSES = st.sampled_from(["[a-z]", "[A-Z0-9_]", "[^@]", r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", ".", "[a-f0-9]",
                           "[-.]", "[ -~]", r"[\d.]", "[^a-z]", r"[\t\n\v]", "[xyz]", "[^\\s]", "[a-c-]"])
ATOMS = st.one_of(LITERALS, ESCAPED, CLASSES)
WORDS = st.text(alphabet="abc0._", min_size=1, max_size=3)


@st.composite
def groups(draw: Any) -> str:
    width = draw(st.integers(1, 3))
    options = draw(st.lists(st.text(alphabet="ab0.-", min_size=width, max_size=width), min_size=1, max_size=4))
    body = "|".join(re.escape(o) for o in options)
    return f"({body})" if draw(st.booleans()) else f"(?:{body})"


FIXED = st.one_of(ATOMS, st.builds(lambda a, n: f"{a}{{{n}}}", ATOMS, st.integers(0, 4)), groups(),
                  st.builds(lambda g, n: f"{g}{{{n}}}", groups(), st.integers(0, 3)))
RUNS = st.builds(lambda a, q: a + q, ATOMS,
                 st.sampled_from(["+", "*", "?", "{1,3}", "{0,2}", "{2,}", "+?", "*?", "{1,8}?"]))


@st.composite
def patterns(draw: Any) -> str:
    pattern = "".join(draw(st.lists(FIXED, max_size=3)))
    if draw(st.booleans()):
        pattern += draw(RUNS)
    pattern += "".join(draw(st.lists(FIXED, max_size=3)))
    pattern = ("^" if draw(st.booleans()) else "") + pattern + ("$" if draw(st.booleans()) else "")
    try:
        re.compile(pattern)  # the spec only admits patterns Python compiles
    except re.error:
        assume(False)
    return pattern


ODD = ["é", "Ω", "😀", "\u212a", "\u0660", "\x00", "\x7f", "\v", "\n", "\t", " "]
TEXT = st.text(alphabet=st.one_of(st.sampled_from(list("abcxyz019_@.-AZ") + ODD),
                                  st.characters(exclude_categories=["Cs"])), max_size=12)


def _storable(value: str | None) -> bool:
    return value is None or not any("\ud800" <= c <= "\udfff" for c in value)  # Arrow holds UTF-8: no surrogates


def strings_for(pattern: str) -> st.SearchStrategy[str | None]:
    """Matching strings (Python's reading of the pattern), their one-character edits, random text and nulls."""
    matching = st.from_regex(pattern, fullmatch=True)

    def edit(s: str, i: int, c: str, how: int) -> str:
        i = i % (len(s) + 1)
        return [s[:i] + c + s[i:], s[:i] + s[i + 1:], s[:i] + c + s[i + 1:]][how]

    def widen(s: str, i: int, c: str) -> str:  # same byte length, fewer characters: a byte-level engine must tell
        i = i % (len(s) + 1)
        return s[:i] + c + s[i + len(c.encode()):]

    edits = st.builds(edit, matching, st.integers(0, 50), st.sampled_from(list("a0_.@ Z") + ODD), st.integers(0, 2))
    widened = st.builds(widen, matching, st.integers(0, 50), st.sampled_from(["é", "\u212a", "😀", "\u0660"]))
    return st.one_of(matching, matching, edits, widened, TEXT, st.just(""), st.none()).filter(_storable)


def oracle(array: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Positions failing the general path: Arrow's RE2 kernel on the anchored pattern, nulls passing."""
    matched = pc.match_substring_regex(array, anchored(pattern))
    return np.flatnonzero(~pc.fill_null(matched, True).to_numpy(zero_copy_only=False))


def arrow(values: Sequence[str | None], large: bool, pad: bool, offset: int) -> pa.Array:
    """A (large) string array, optionally framed by long rows so no fixed window touches the buffer's edges."""
    frame: list[str | None] = ["~" * 300] * offset
    frame += ["#" * 300] if pad else []
    rows = [*frame, *values, *(["#" * 300] if pad else [])]
    array = pa.array(rows, pa.large_string() if large else pa.string())
    return array.slice(len(frame), len(values))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), pattern=patterns(), large=st.booleans(), offset=st.integers(0, 2),
       block=st.sampled_from([1, 2, 3, 8192]))
def test_fast_matcher_agrees_with_re2_and_confirms_every_ascii_match(
        data: Any, pattern: str, large: bool, offset: int, block: int) -> None:
    fast = compile_fullmatch(pattern)
    assume(fast is not None)  # only past MAX_ALTERNATIVES, e.g. `(ab|ba){4}`
    assert fast is not None
    values = data.draw(st.lists(strings_for(pattern), min_size=1, max_size=25))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(regex_fast, "BLOCK_ROWS", block)
        _agrees(fast, pattern, values, large, offset)


def _agrees(fast: regex_fast.FastRegex, pattern: str, values: list[str | None], large: bool, offset: int) -> None:
    for pad in (True, False):
        array = arrow(values, large, pad, offset)
        expected = oracle(array, pattern)
        assert fast.failing(array).tolist() == expected.tolist(), (pattern, values)
        unsure = set(fast.unsure(array).tolist())
        assert not ({i for i, v in enumerate(values) if v is not None} - unsure) & set(expected.tolist())
        if pad:  # away from the buffer's edges, every ASCII string is decided here
            ascii_rows = {i for i, v in enumerate(values) if v is not None and v.isascii()}
            assert unsure & ascii_rows == set(expected.tolist()) & ascii_rows, (pattern, values)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), pattern=patterns())
def test_on_ascii_without_vertical_tab_it_is_pythons_fullmatch(data: Any, pattern: str) -> None:
    fast = compile_fullmatch(pattern)
    assume(fast is not None)
    assert fast is not None
    ascii_text = st.text(alphabet=st.characters(max_codepoint=127, exclude_characters="\v"), max_size=12)
    values = data.draw(st.lists(st.one_of(st.from_regex(pattern, fullmatch=True).filter(
        lambda s: s.isascii() and "\v" not in s), ascii_text), min_size=1, max_size=20))
    compiled = re.compile(pattern, re.ASCII)
    expected = [i for i, v in enumerate(values) if not compiled.fullmatch(v)]
    assert fast.failing(arrow(values, True, True, 0)).tolist() == expected, (pattern, values)


@pytest.mark.parametrize("pattern", [
    r"(\w)\1", r"a(?=b)", r"(?i)abc", r"[a-z]+@[a-z]+\.io", r"a{,3}", r"a++", r"a|bc", r"(ab)+", r"\bx", r"a\Z",
    r"é+", r"[[:alpha:]]", r"a{1001}", r"x{2}{3}", r"(?P<n>a)", r"\x41", r"a$b", r"(^a)", r"[]a]", r"\pL",
])
def test_patterns_outside_the_subset_keep_the_general_engine(pattern: str) -> None:
    assert parse(pattern) is None


@pytest.mark.parametrize(("pattern", "widths", "bounds"), [
    (r"[a-z0-9]+@example\.(com|org)", (0, 12), (1, None)),
    (r"^tx-[0-9]{6}$", (9, 0), (0, 0)),
    (r"\d{3}-\w{2,4}", (4, 0), (2, 4)),
    (r"", (0, 0), (0, 0)),
    (r"(?:0|a|\.)(?:0|a|\.){3}", (4, 0), (0, 0)),
])
def test_shapes(pattern: str, widths: tuple[int, int], bounds: tuple[int, int | None]) -> None:
    shape = parse(pattern)
    assert shape is not None
    assert (shape.widths, (shape.low, shape.high)) == (widths, bounds)
    assert len(shape.prefix) * len(shape.suffix) <= 2


@pytest.mark.parametrize(("pattern", "values"), [
    ("..", ["é", "ab", "\u212a"]), (".{3}", ["\u212a", "abc", "é."]), (r"\S\S", ["é", "Ω"]), ("[^a]{4}", ["😀"]),
    (".+", ["é", "a\u212a"]), ("ab", ["zzabcccc", "qq"]), ("q*ab", ["qq", "ccccab"]),  # rows at the buffer's edges
    ("[a-f]*[0-9a-z]", ["9", "a9", "g", "ag9", "fa"]), (r"x?\w", ["x", "_", "xx"]),  # fixed classes overlap the run
    (r"[a-z]*\.(com|org)", [".com", "a.org", "A.com", ".co", "ab.comm"]), (r"\s+", ["\v", " \t\n\f\r", ""]),
])
def test_tricky_rows(pattern: str, values: list[str]) -> None:
    fast = compile_fullmatch(pattern)
    assert fast is not None
    for pad in (False, True):
        array = arrow(values, True, pad, 0)
        assert fast.failing(array).tolist() == oracle(array, pattern).tolist()
        if pad:
            assert set(fast.unsure(array).tolist()) == {i for i in oracle(array, pattern) if values[i].isascii()} | {
                i for i, v in enumerate(values) if not v.isascii()}


def test_mostly_unconfirmed_chunks_go_to_re2_whole() -> None:
    values = ["é@example.com"] * 50 + ["a@example.com", "bad", None]
    array = pa.chunked_array([arrow(values, True, False, 0), arrow(values[::-1], True, False, 0)])
    fast = compile_fullmatch(r"[^@]+@example\.com")
    assert fast is not None
    assert fast.failing(array).tolist() == oracle(array, r"[^@]+@example\.com").tolist() == [51, 54]


@pytest.mark.parametrize("pattern", [r"[a-z0-9]+@example\.(com|org)", r"[a-z]{1,2}\d{4}", r"u\d+x?", r"[^ ]*"])
def test_validate_frame_reports_what_the_general_path_reports(pattern: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    pool = np.array(["u1@example.com", "ab1234", "u77", "u7x", "Ünï@example.org", "a b", "", "zz@example.org",
                     "q1@example.net", "ab12345"], dtype=object)
    values = pool[rng.integers(0, len(pool), 50_000)]
    values[rng.random(50_000) < 0.05] = None
    frame = pd.DataFrame({"s": pd.Series(values, dtype="str")}, index=np.arange(50_000) * 2)
    rules = Validation.model_validate({"columns": {"s": {"regex": pattern}}})
    monkeypatch.setattr(regex_fast, "BLOCK_ROWS", 1000)
    fast = validate_frame(frame, rules).to_json()
    monkeypatch.setattr(regex_fast, "compile_fullmatch", lambda _: None)
    assert fast == validate_frame(frame, rules).to_json()
    assert fast["failures"][0]["failed"] > 0
