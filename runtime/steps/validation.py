"""Vectorized data validation: table and column rules, each a reduction first and a row mask only on failure.

Passing data is the common case, so each rule first asks a cheap question of the whole column (its
min and max, its null count, its distinct values, a sorted adjacent compare) and builds a row mask
only when that answer shows a failure, to count failing rows and sample them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlform.specs.model.data import ColumnRule, Validation

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["COLUMN_RULES", "PARALLEL_ROWS", "SAMPLES", "ColumnCheck", "Failure", "ValidationReport", "validate_frame"]

SAMPLES = 5
PARALLEL_ROWS = 1_000_000
_DTYPE_KINDS = {"int": "iu", "float": "fiu", "bool": "b", "datetime": "M"}


@dataclass(frozen=True)
class Failure:
    """One failing rule: where it is declared, how many rows fail and a few of them."""

    rule: str
    column: str | None
    failed: int
    message: str
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ValidationReport:
    """Every failing rule of one validation pass."""

    rows: int
    rules: int
    failures: list[Failure]

    @property
    def ok(self) -> bool:
        """True when no rule failed."""
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"rows": self.rows, "rules": self.rules, "ok": self.ok,
                "failures": [asdict(f) for f in self.failures]}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _plain(value: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    value = value.item() if hasattr(value, "item") else value
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


class _Column:
    """One column, viewed as numbers (numpy) or as an Arrow array, with its rules' failures collected."""

    def __init__(self, name: str, series: pd.Series, rule: ColumnRule, out: list[Failure]) -> None:
        self.name, self.series, self.rule, self.out = name, series, rule, out
        self.rows = len(series)
        self._numbers: np.ndarray | None = None
        self._arrow: pa.Array | pa.ChunkedArray | None = None
        self._nulls: int | None = None

    def fail(self, key: str, mask: np.ndarray | None, message: str, failed: int | None = None) -> None:
        """Record a failure of `validation.columns.<name>.<key>`, sampling the rows set in `mask`."""
        samples = []
        if mask is not None:
            positions = np.flatnonzero(mask)
            failed = len(positions) if failed is None else failed
            index = self.series.index
            samples = [{"row": _plain(index[p]), "value": _plain(self.series.iloc[p])} for p in positions[:SAMPLES]]
        where = f"`validation.columns.{self.name}.{key}`"
        self.out.append(Failure(key, self.name, int(failed or 0), f"{where}: {message}", samples))

    @property
    def numeric(self) -> bool:
        """True for numbers (not booleans); these are checked with numpy."""
        return self.series.dtype.kind in "iuf"

    @property
    def numbers(self) -> np.ndarray:
        """The column as a numpy array; nullable integers become floats with NaN."""
        if self._numbers is None:
            dtype = self.series.dtype
            if isinstance(dtype, np.dtype):
                self._numbers = self.series.to_numpy(copy=False)
            else:
                self._numbers = self.series.to_numpy(dtype="float64", na_value=np.nan)
        return self._numbers

    @property
    def arrow(self) -> pa.Array | pa.ChunkedArray:
        """The column as Arrow data: zero-copy for Arrow-backed strings."""
        if self._arrow is None:
            import pyarrow as pa

            array = self.series.array
            self._arrow = pa.array(array) if hasattr(array, "__arrow_array__") else pa.array(
                self.series.to_numpy(), from_pandas=True)
        return self._arrow

    @property
    def nulls(self) -> int:
        """How many values are null: a sum for floats (NaN propagates), free for Arrow data."""
        if self._nulls is None:
            if self.numeric and isinstance(self.series.dtype, np.dtype):
                values = self.numbers
                self._nulls = 0 if values.dtype.kind in "iu" or not np.isnan(np.add.reduce(values)) else int(
                    np.count_nonzero(np.isnan(values)))
            elif hasattr(self.series.array, "__arrow_array__") and not isinstance(self.series.dtype, np.dtype):
                self._nulls = int(self.arrow.null_count)
            else:
                self._nulls = int(self.series.isna().sum())
        return self._nulls

    def null_mask(self) -> np.ndarray:
        """Which rows are null (built only to sample failures)."""
        return np.asarray(self.series.isna(), dtype=bool)


ColumnCheck = Callable[[_Column], bool | None]
# `ColumnRule` field -> the check reading it; checks run in registration order, and one returning False
# (a wrong dtype) skips the rest of its column
COLUMN_RULES: dict[str, ColumnCheck] = {}


def _rule(*fields: str) -> Callable[[ColumnCheck], ColumnCheck]:
    """Register a column check as the check of the `ColumnRule` fields it reads."""

    def register(check: ColumnCheck) -> ColumnCheck:
        COLUMN_RULES.update(dict.fromkeys(fields, check))
        return check

    return register


@_rule("dtype")
def _check_dtype(col: _Column) -> bool:
    wanted = col.rule.dtype
    dtype = col.series.dtype
    kind = getattr(dtype, "kind", "O")
    if wanted is None:
        return True
    if wanted == "string":
        import pandas as pd

        good = pd.api.types.is_string_dtype(col.series)
    elif wanted == "category":
        good = str(dtype) == "category"
    else:
        good = kind in _DTYPE_KINDS[wanted]
    if not good:
        col.fail("dtype", None, f"column has dtype `{dtype}`, expected `{wanted}`", failed=col.rows)
    return bool(good)


@_rule("nullable", "max_null_fraction")
def _check_nulls(col: _Column) -> None:
    rule = col.rule
    if not rule.nullable and col.nulls:
        col.fail("nullable", col.null_mask(), f"{_count(col.nulls, 'null value')} (`nullable: false`)", col.nulls)
    fraction = col.nulls / col.rows if col.rows else 0.0
    if rule.max_null_fraction is not None and fraction > rule.max_null_fraction:
        col.fail("max_null_fraction", col.null_mask(),
                 f"null fraction {fraction:.4g} is above {rule.max_null_fraction}", col.nulls)


@_rule("min", "max")
def _check_bounds(col: _Column) -> None:
    rule = col.rule
    if rule.min is None and rule.max is None:
        return
    if not col.numeric:
        col.fail("min" if rule.min is not None else "max", None,
                 f"bounds need a numeric column, not `{col.series.dtype}`", failed=col.rows)
        return
    values = col.numbers
    if values.size == 0:
        return
    clean = values.dtype.kind in "iu" or col.nulls == 0
    low = values.min() if clean else np.fmin.reduce(values)
    high = values.max() if clean else np.fmax.reduce(values)
    if rule.min is not None and low < rule.min:
        below = values < rule.min
        col.fail("min", below, f"{_count(int(np.count_nonzero(below)), 'value')} below {rule.min}")
    if rule.max is not None and high > rule.max:
        above = values > rule.max
        col.fail("max", above, f"{_count(int(np.count_nonzero(above)), 'value')} above {rule.max}")


@_rule("allowed")
def _check_allowed(col: _Column) -> None:
    allowed = col.rule.allowed
    if allowed is None:
        return
    import pandas as pd

    shown = ", ".join(str(v) for v in allowed)
    if col.numeric:
        values = col.numbers
        if all(v in allowed or pd.isna(v) for v in pd.unique(values).tolist()):
            return
        mask = ~np.isin(values, allowed)
        if values.dtype.kind == "f":
            mask &= ~np.isnan(values)
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        distinct = {v for part in _in_parallel(pc.unique, col.arrow) for v in part.to_pylist()}
        if all(v is None or v in allowed for v in distinct):
            return
        value_set = pa.array([v for v in allowed if isinstance(v, str)] or [""])
        good = pc.or_(pc.is_in(col.arrow, value_set=value_set), pc.is_null(col.arrow))
        mask = ~np.asarray(good.to_numpy(zero_copy_only=False))
    col.fail("allowed", mask, f"{_count(int(np.count_nonzero(mask)), 'value')} not in [{shown}]")


def _in_parallel(fn: Callable[[Any], Any], array: Any) -> list[Any]:
    """`fn` over zero-copy slices of a large Arrow array, one per core; Arrow kernels release the GIL."""
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or len(array) < PARALLEL_ROWS:
        return [fn(array)]
    from concurrent.futures import ThreadPoolExecutor

    step = -(-len(array) // workers)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, [array.slice(start, step) for start in range(0, len(array), step)]))


@_rule("regex")
def _check_regex(col: _Column) -> None:
    pattern = col.rule.regex
    if pattern is None:
        return
    import pyarrow as pa
    import pyarrow.compute as pc

    from .regex_fast import FastRegex, anchored, compile_fullmatch

    mask: np.ndarray | None = None
    try:
        fast = compile_fullmatch(pattern) if FastRegex.supports(col.arrow) else None
        if fast is not None:  # one thread: its numpy steps are too short to share the GIL well
            failing = fast.failing(col.arrow)
            failed = len(failing)
            if failed:
                mask = np.zeros(col.rows, dtype=bool)
                mask[failing] = True
        else:
            parts = _in_parallel(lambda part: pc.match_substring_regex(part, anchored(pattern)), col.arrow)
            matched = pa.chunked_array([c for part in parts for c in getattr(part, "chunks", [part])],
                                       type=pa.bool_())
            good = int(pc.sum(matched).as_py() or 0)
            failed = col.rows - good - matched.null_count
            mask = None if failed == 0 else ~np.asarray(pc.fill_null(matched, True).to_numpy(zero_copy_only=False))
    except pa.ArrowInvalid:  # a Python-only construct (backreference, lookaround): slower, same meaning
        strings = col.series.astype("str")
        mask = ~strings.str.fullmatch(pattern).fillna(True).to_numpy(dtype=bool)
        failed = int(np.count_nonzero(mask))
    if failed:
        col.fail("regex", mask, f"{_count(failed, 'value')} not matching `{pattern}`", failed)


def _duplicates_sorted(values: np.ndarray, limit: int | None = SAMPLES) -> tuple[int, np.ndarray]:
    """How many rows hold a repeated value, and (up to `limit` of) the repeated values: sort, compare neighbours."""
    if values.size < 2 or bool(np.all(values[1:] > values[:-1])):
        return 0, values[:0]
    ordered = np.sort(values)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return 0, values[:0]
    in_group = np.zeros(ordered.size, dtype=bool)
    in_group[1:] |= same
    in_group[:-1] |= same
    return int(np.count_nonzero(in_group)), np.unique(ordered[1:][same])[:limit]


def _distinct_integers(values: np.ndarray) -> bool:
    """True when integers in a span of at most two per row are pairwise distinct: a bitmap, no sort or copy."""
    if values.dtype.kind not in "iu" or values.size < 2:
        return False
    low, high = int(values.min()), int(values.max())
    if high - low >= 2 * values.size or high >= 2**63:
        return False
    seen = np.zeros(high - low + 1, dtype=bool)
    step = 1 << 20
    for start in range(0, values.size, step):
        part = values[start:start + step].astype(np.int64, copy=False)
        seen[part - low if low else part] = True
    return int(np.count_nonzero(seen)) == values.size


@_rule("unique")
def _check_unique(col: _Column) -> None:
    if not col.rule.unique:
        return
    if col.numeric and isinstance(col.series.dtype, np.dtype):
        if _distinct_integers(col.numbers):
            return
        failed, repeated = _duplicates_sorted(col.numbers)
        mask = np.isin(col.numbers, repeated) if failed else None
    else:
        import pyarrow.compute as pc

        distinct = len(pc.unique(col.arrow))
        if distinct + max(col.nulls - 1, 0) == col.rows:
            return
        dup = (col.series.duplicated(keep=False) & col.series.notna()).to_numpy()
        failed, mask = int(np.count_nonzero(dup)), dup
    if failed:
        col.fail("unique", mask, f"{_count(failed, 'row')} sharing a value with another row (`unique: true`)", failed)


def _duplicate_rows(frame: pd.DataFrame) -> np.ndarray | None:
    """Mask of rows that equal another row, via row hashes sorted; candidates are confirmed exactly."""
    import pandas as pd

    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    count, repeated = _duplicates_sorted(hashes, limit=None)
    if not count:
        return None
    candidates = np.isin(hashes, repeated)
    exact = np.zeros(len(frame), dtype=bool)
    exact[candidates] = frame[candidates].duplicated(keep=False).to_numpy()
    return exact if exact.any() else None


def _check_table(frame: pd.DataFrame, rules: Validation, out: list[Failure]) -> int:
    table = rules.table
    checked = 0
    rows = len(frame)
    if table.row_count is not None:
        checked += 1
        low, high = table.row_count.min, table.row_count.max
        if low is not None and rows < low:
            out.append(Failure("row_count", None, rows, f"`validation.table.row_count.min`: {rows} rows, "
                                                        f"fewer than {low}"))
        if high is not None and rows > high:
            out.append(Failure("row_count", None, rows, f"`validation.table.row_count.max`: {rows} rows, "
                                                        f"more than {high}"))
    if table.duplicate_rows == "forbid":
        checked += 1
        mask = _duplicate_rows(frame)
        if mask is not None:
            positions = np.flatnonzero(mask)
            samples = [{"row": _plain(frame.index[p])} for p in positions[:SAMPLES]]
            out.append(Failure("duplicate_rows", None, len(positions),
                               f"`validation.table.duplicate_rows`: {_count(len(positions), 'row')} "
                               f"repeating another row (`forbid`)", samples))
    return checked


def _rule_count(rule: ColumnRule) -> int:
    """How many of the column's rules are declared: the fields whose value is not their default."""
    return sum(getattr(rule, name) != ColumnRule.model_fields[name].default for name in COLUMN_RULES)


def validate_frame(frame: pd.DataFrame, rules: Validation) -> ValidationReport:
    """Check every table and column rule of `rules` against `frame`; never raises on bad data."""
    failures: list[Failure] = []
    checked = _check_table(frame, rules, failures)
    for name, rule in rules.columns.items():
        checked += _rule_count(rule)
        if name not in frame.columns:
            failures.append(Failure("missing", name, len(frame),
                                    f"`validation.columns.{name}`: column `{name}` is missing"))
            continue
        col = _Column(name, frame[name], rule, failures)
        for check in dict.fromkeys(COLUMN_RULES.values()):
            if check(col) is False:
                break
    return ValidationReport(len(frame), checked, failures)
