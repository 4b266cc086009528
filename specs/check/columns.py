"""The columns a spec names, checked against the header or schema of file sources that exist (never a full read)."""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlform.specs.errors import MlformError, SpecError
from mlform.specs.fsutil import FileStamp, stat_stamp
from mlform.specs.model.data import CsvSource, Data, ParquetSource, SqliteSource
from mlform.specs.read.source import KeyPath

from .explain import did_you_mean
from .finding import Finding, Sections

__all__ = ["SourceUnreadableError", "column_findings", "source_columns"]

_LISTED = 10  # columns named in a message when no name is close


class SourceUnreadableError(SpecError):
    """A source file exists but its header or schema cannot be read; the message says why, `key` which key is wrong."""

    def __init__(self, message: str, key: str = "path") -> None:
        # a finding, not a whole SpecError: column_findings turns it into a located diagnostic
        MlformError.__init__(self, message)
        self.diagnostics = []
        self.key = key


def _csv_header(path: str, delimiter: str, encoding: str) -> tuple[str, ...]:
    try:
        ascii_lines = "\n".encode(encoding) == b"\n"
        # the runtime's reader drops a UTF-8 byte order mark; so does `utf-8-sig`
        codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        if ascii_lines:  # read the first line's bytes only: what follows is the runtime's to judge
            with open(path, "rb") as raw:
                line = raw.readline().decode(codec)
        else:
            with open(path, encoding=codec, newline="") as text:
                line = text.readline()
        return tuple(next(csv.reader([line], delimiter=delimiter), ()))
    except (OSError, UnicodeError, LookupError, csv.Error) as exc:
        raise SourceUnreadableError(f"cannot read the header: {exc}") from None


def _parquet_schema(path: str) -> tuple[str, ...]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise SourceUnreadableError(f"cannot read the Parquet schema: {exc}") from None
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    return tuple(name for name in schema.names if name not in index)  # pandas turns these into the index


def _sqlite_table(path: str, table: str) -> tuple[str, ...]:
    import sqlite3  # only a `sqlite` source needs it: validating other specs skips its import (~1 ms)

    try:
        with sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True) as conn:
            columns = tuple(row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,)))
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    except sqlite3.Error as exc:
        raise SourceUnreadableError(f"cannot read the SQLite file: {exc}") from None
    if not columns:
        raise SourceUnreadableError(f"has no table `{table}`{did_you_mean(table, tables)}", "table")
    return columns


@functools.lru_cache(maxsize=64)
def _columns(path: str, stamp: FileStamp, kind: str, option: str, encoding: str) -> tuple[str, ...]:
    """The columns of one file as of `stamp` (size, mtime, inode): each file is read once while it is unchanged."""
    if kind == "csv":
        return _csv_header(path, option, encoding)
    if kind == "parquet":
        return _parquet_schema(path)
    return _sqlite_table(path, option)


def source_columns(source: Any, root: Path) -> tuple[str, ...] | None:
    """The columns of a csv, parquet or sqlite-table source whose file exists; None when there is nothing to read.

    Raises SourceUnreadableError when the file exists but its header or schema cannot be read.
    """
    if isinstance(source, SqliteSource) and source.table is None:
        return None  # a query's columns are known only by running it
    if not isinstance(source, (CsvSource, ParquetSource, SqliteSource)):
        return None  # a database is not reached at validate time
    path = os.path.join(root, source.path)
    try:
        st = os.stat(path)
    except OSError:
        return None  # a missing file is its own finding
    option = source.delimiter if isinstance(source, CsvSource) else getattr(source, "table", None) or ""
    encoding = source.encoding if isinstance(source, CsvSource) else ""
    return _columns(path, stat_stamp(st), source.type, option, encoding)


def _where(source: Any) -> str:
    return f"table `{source.table}` of {source.path}" if isinstance(source, SqliteSource) else source.path


def _missing(column: str, columns: tuple[str, ...], source: Any) -> str:
    hint = did_you_mean(column, columns)
    if not hint:
        shown = ", ".join(f"`{c}`" for c in columns[:_LISTED])
        more = f" and {len(columns) - _LISTED} more" if len(columns) > _LISTED else ""
        hint = f" (it has {shown}{more})"
    return f"column `{column}` is not in {_where(source)}{hint}"


def _named_columns(s: Sections) -> Iterator[tuple[KeyPath, str, bool]]:
    """(key path, column, on_key) of each place the spec names a column of the training data."""
    data: Data = s["data"]
    yield ("data", "target"), data.target, False
    for index, column in enumerate(data.features):
        yield ("data", "features", index), column, False
    for index, column in enumerate(data.id_columns):
        yield ("data", "id_columns", index), column, False
    if data.split.time_column:
        yield ("data", "split", "time_column"), data.split.time_column, False
    declared = {data.target, *data.features, *data.id_columns, data.split.time_column}
    model = s.get("model")
    for index, step in enumerate(model.preprocessing if model else ()):
        for col_index, column in enumerate(step.columns):
            if column in declared:  # others are not features, which another check says
                yield ("model", "preprocessing", index, "columns", col_index), column, False
    validation = s.get("validation")
    for column in validation.columns if validation else ():
        if column in declared:
            yield ("validation", "columns", column), column, True


def column_findings(s: Sections, root: Path) -> Iterator[Finding]:
    """Every column the spec names that the header of its (existing) file source lacks."""
    data: Data = s["data"]
    read: dict[str, tuple[str, ...] | None] = {}
    for name, source in data.sources.items():
        try:
            read[name] = columns = source_columns(source, root)
        except SourceUnreadableError as exc:
            read[name] = None
            yield Finding(("data", "sources", name, exc.key), f"`{getattr(source, 'path', name)}` {exc}")
            continue
        if columns is None:
            continue
        for column in getattr(source, "dtypes", {}):
            if column not in columns:
                yield Finding(("data", "sources", name, "dtypes", column), _missing(column, columns, source),
                              on_key=True)
    train = data.training_source
    columns = read.get(train)
    if columns is not None:
        for path, column, on_key in _named_columns(s):
            if column not in columns:
                yield Finding(path, _missing(column, columns, data.sources[train]), on_key=on_key)
    monitoring = s.get("monitoring")
    for key in ("reference", "current"):
        watched: str | None = getattr(monitoring, key, None)
        if not watched or watched == train:
            continue
        current = read.get(watched)
        needed = [*data.features, *([data.target] if monitoring and monitoring.performance else [])]
        for column in needed:
            if current is not None and column not in current and (columns is None or column in columns):
                yield Finding(("monitoring", key), _missing(column, current, data.sources[watched]))
