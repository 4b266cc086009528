"""Vectorized data validation: table and column rules, each a reduction first and a row mask only on failure.

Passing data is the common case, so each rule first asks a cheap question of the whole column (its
min and max, its null count, its distinct values, a sorted adjacent compare) and builds a row mask
only when that answer shows a failure, to count failing rows and sample them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlform.specs.model.data import ColumnRule, TableRules, Validation

from .repeats import distinct_integers, duplicate_rows, duplicates_sorted

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "COLUMN_RULES",
    "PARALLEL_ROWS",
    "SAMPLES",
    "TABLE_RULES",
    "Column",
    "ColumnCheck",
    "Failure",
    "Table",
    "TableCheck",
    "ValidationReport",
    "column_rule",
    "table_rule",
    "validate_frame",
]

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


class Column:
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
                # inf + -inf is NaN too (large values overflow to them): then the count tells
                with np.errstate(invalid="ignore", over="ignore"):
                    summed = values.dtype.kind in "iu" or not np.isnan(np.add.reduce(values))
                self._nulls = 0 if summed else int(np.count_nonzero(np.isnan(values)))
            elif hasattr(self.series.array, "__arrow_array__") and not isinstance(self.series.dtype, np.dtype):
                self._nulls = int(self.arrow.null_count)
            else:
                self._nulls = int(self.series.isna().sum())
        return self._nulls

    def null_mask(self) -> np.ndarray:
        """Which rows are null (built only to sample failures)."""
        return np.asarray(self.series.isna(), dtype=bool)


class Table:
    """The whole frame and its table rules, with their failures collected."""

    def __init__(self, frame: pd.DataFrame, rules: TableRules, out: list[Failure]) -> None:
        self.frame, self.rules, self.out = frame, rules, out
        self.rows = len(frame)

    def fail(self, rule: str, message: str, failed: int, rows: np.ndarray | None = None, key: str = "") -> None:
        """Record a failure of `validation.table.<key or rule>`, sampling the row positions in `rows`."""
        samples = [] if rows is None else [{"row": _plain(self.frame.index[p])} for p in rows[:SAMPLES]]
        where = f"`validation.table.{key or rule}`"
        self.out.append(Failure(rule, None, failed, f"{where}: {message}", samples))


ColumnCheck = Callable[[Column], bool | None]
TableCheck = Callable[[Table], None]
# `ColumnRule` / `TableRules` field -> the check reading it; checks run in registration order, and a column
# check returning False (a wrong dtype) skips the rest of its column
COLUMN_RULES: dict[str, ColumnCheck] = {}
TABLE_RULES: dict[str, TableCheck] = {}


def column_rule(*fields: str) -> Callable[[ColumnCheck], ColumnCheck]:
    """Register a column check as the check of the `ColumnRule` fields it reads."""

    def register(check: ColumnCheck) -> ColumnCheck:
        COLUMN_RULES.update(dict.fromkeys(fields, check))
        return check

    return register


def table_rule(*fields: str) -> Callable[[TableCheck], TableCheck]:
    """Register a table check as the check of the `TableRules` fields it reads."""

    def register(check: TableCheck) -> TableCheck:
        TABLE_RULES.update(dict.fromkeys(fields, check))
        return check

    return register


@table_rule("row_count")
def _check_row_count(table: Table) -> None:
    bounds, rows = table.rules.row_count, table.rows
    if bounds is None:
        return
    if bounds.min is not None and rows < bounds.min:
        table.fail("row_count", f"{rows} rows, fewer than {bounds.min}", rows, key="row_count.min")
    if bounds.max is not None and rows > bounds.max:
        table.fail("row_count", f"{rows} rows, more than {bounds.max}", rows, key="row_count.max")


@table_rule("duplicate_rows")
def _check_duplicate_rows(table: Table) -> None:
    if table.rules.duplicate_rows != "forbid":
        return
    mask = duplicate_rows(table.frame)
    if mask is not None:
        positions = np.flatnonzero(mask)
        table.fail("duplicate_rows", f"{_count(len(positions), 'row')} repeating another row (`forbid`)",
                   len(positions), positions)


@column_rule("dtype")
def _check_dtype(col: Column) -> bool:
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


@column_rule("nullable", "max_null_fraction")
def _check_nulls(col: Column) -> None:
    rule = col.rule
    if not rule.nullable and col.nulls:
        col.fail("nullable", col.null_mask(), f"{_count(col.nulls, 'null value')} (`nullable: false`)", col.nulls)
    fraction = col.nulls / col.rows if col.rows else 0.0
    if rule.max_null_fraction is not None and fraction > rule.max_null_fraction:
        col.fail("max_null_fraction", col.null_mask(),
                 f"null fraction {fraction:.4g} is above {rule.max_null_fraction}", col.nulls)


@column_rule("min", "max")
def _check_bounds(col: Column) -> None:
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


@column_rule("allowed")
def _check_allowed(col: Column) -> None:
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


@column_rule("regex")
def _check_regex(col: Column) -> None:
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


@column_rule("unique")
def _check_unique(col: Column) -> None:
    if not col.rule.unique:
        return
    if col.numeric and isinstance(col.series.dtype, np.dtype):
        if distinct_integers(col.numbers):
            return
        failed, repeated = duplicates_sorted(col.numbers, SAMPLES)
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


def _declared(rules: ColumnRule | TableRules, fields: Iterable[str]) -> int:
    """How many of `fields` are declared in `rules`: those whose value is not their default."""
    model = type(rules).model_fields
    return sum(getattr(rules, name) != model[name].get_default(call_default_factory=True) for name in fields)


def validate_frame(frame: pd.DataFrame, rules: Validation) -> ValidationReport:
    """Check every table and column rule of `rules` against `frame`; never raises on bad data."""
    failures: list[Failure] = []
    checked = _declared(rules.table, TABLE_RULES)
    table = Table(frame, rules.table, failures)
    for table_check in dict.fromkeys(TABLE_RULES.values()):
        table_check(table)
    for name, rule in rules.columns.items():
        checked += _declared(rule, COLUMN_RULES)
        if name not in frame.columns:
            failures.append(Failure("missing", name, len(frame),
                                    f"`validation.columns.{name}`: column `{name}` is missing"))
            continue
        col = Column(name, frame[name], rule, failures)
        for check in dict.fromkeys(COLUMN_RULES.values()):
            if check(col) is False:
                break
    return ValidationReport(len(frame), checked, failures)
