"""Read a declared source (csv, parquet, sqlite, sql, python) into a DataFrame with its declared dtypes."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlform.specs.check.usercode import location_files
from mlform.specs.errors import StepPartError
from mlform.specs.model.data import CsvSource, ParquetSource, PythonSource, Source, SqliteSource
from mlform.specs.model.pipeline import Pipeline

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["IngestError", "apply_dtypes", "read_source"]

_PANDAS_DTYPE = {"float": "float64", "bool": "boolean", "string": "str", "category": "category"}


class IngestError(StepPartError):
    """A source cannot be read or does not fit its declared dtypes."""


def _convert(column: pd.Series, dtype: str) -> pd.Series:
    import pandas as pd

    if dtype == "datetime":
        return pd.to_datetime(column, errors="raise")
    if dtype == "int":
        numbers = pd.to_numeric(column, errors="raise")
        if numbers.dtype.kind == "f" and bool((numbers.dropna() % 1 != 0).any()):
            raise ValueError("not whole numbers")
        return numbers.astype("Int64" if numbers.isna().any() else "int64")
    if dtype == "float":
        return pd.to_numeric(column, errors="raise").astype("float64")
    return column.astype(_PANDAS_DTYPE[dtype])


def _first_bad(column: pd.Series, dtype: str) -> str:
    """A sample value that does not convert, found vectorized (only numbers and datetimes can fail)."""
    import pandas as pd

    if dtype in ("int", "float"):
        coerced = pd.to_numeric(column, errors="coerce")
        bad = coerced.isna() & column.notna()
        if dtype == "int":
            bad |= coerced.notna() & (coerced % 1 != 0)
    elif dtype == "datetime":
        bad = pd.to_datetime(column, errors="coerce").isna() & column.notna()
    else:
        return ""
    if not bad.any():
        return ""
    index = bad.idxmax()
    return f" (e.g. `{column[index]}` at row {index})"


def apply_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str], where: str) -> pd.DataFrame:
    """`frame` with each column in `dtypes` converted; IngestError names the column, dtype and a bad value."""
    missing = [name for name in dtypes if name not in frame.columns]
    if missing:
        raise IngestError(f"`{where}.{missing[0]}`: column `{missing[0]}` is not in the data")
    for name, dtype in dtypes.items():
        try:
            frame[name] = _convert(frame[name], dtype)
        except (ValueError, TypeError):
            sample = _first_bad(frame[name], dtype)
            raise IngestError(f"`{where}.{name}`: cannot convert column `{name}` to {dtype}{sample}") from None
    return frame


def _read_sqlite(source: SqliteSource, root: Path, name: str) -> pd.DataFrame:
    where = f"data.sources.{name}"
    path = root / source.path
    if not path.is_file():
        raise IngestError(f"`{where}.path`: SQLite file `{source.path}` does not exist")
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            # the file's own faults (unreadable, not a database) show here, so what fails after is the query's
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
            return _sqlite_rows(source, conn, where)
    except sqlite3.Error as exc:
        raise IngestError(f"`{where}.path`: cannot read SQLite file `{source.path}`: {exc}") from None


def _sqlite_rows(source: SqliteSource, conn: sqlite3.Connection, where: str) -> pd.DataFrame:
    import pandas as pd

    query = source.query or f'SELECT * FROM "{(source.table or "").replace(chr(34), chr(34) * 2)}"'
    try:
        return pd.read_sql_query(query, conn)
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else exc  # without pandas' echo of the SQL
        key, failed = ("query", "query failed on") if source.query else (
            "table", f"cannot read table `{source.table}` of")
        raise IngestError(f"`{where}.{key}`: {failed} SQLite file `{source.path}`: {cause}") from None


def _takes_two(fn: object) -> bool:
    """Whether a loader takes `(file_path, file_format)` rather than `(file_path)`, as older recipes' did."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def _read_python(name: str, source: PythonSource, root: Path) -> pd.DataFrame:
    import pandas as pd

    from .usercode import call_user, load_function

    where = f"data.sources.{name}.function"
    if source.path is None:
        frames = [call_user(source.function, root, where, **source.args)]
    else:
        files = location_files(root, source.path)
        missing = [f for f in files if not f.is_file()]
        if not files or missing:
            raise IngestError(f"`data.sources.{name}.path`: no file at `{source.path}`")
        two = _takes_two(load_function(source.function, root, where))
        frames = [call_user(source.function, root, where, str(file),
                            *((source.format or file.suffix.lstrip("."),) if two else ()), **source.args)
                  for file in files]
    wrong = [type(f).__name__ for f in frames if not isinstance(f, pd.DataFrame)]  # None: a loader without `return`
    if wrong:
        raise IngestError(f"`{where}: {source.function}` returned {wrong[0]}, not a pandas DataFrame", key=where)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return apply_dtypes(frame, source.dtypes, f"data.sources.{name}.dtypes")


def read_source(name: str, source: Source, pipeline: Pipeline, root: Path) -> pd.DataFrame:
    """The rows of source `name`, with its declared dtypes applied and its `data.pii` columns dropped or hashed."""
    from .pii import protect_pii

    frame = _read_any(name, source, pipeline, root)
    return frame if pipeline is None else protect_pii(frame, pipeline)


def _read_any(name: str, source: Source, pipeline: Pipeline, root: Path) -> pd.DataFrame:
    import pandas as pd

    where = f"data.sources.{name}.path"
    if isinstance(source, (CsvSource, ParquetSource)):
        path = root / source.path
        if not path.is_file():
            raise IngestError(f"`{where}`: file `{source.path}` does not exist")
        try:
            if isinstance(source, CsvSource):
                frame = pd.read_csv(path, sep=source.delimiter, encoding=source.encoding, engine="pyarrow")
            else:
                frame = pd.read_parquet(path)
        except (OSError, ValueError, UnicodeError) as exc:
            raise IngestError(f"`{where}`: cannot read `{source.path}`: {str(exc).splitlines()[0]}") from None
        return apply_dtypes(frame, source.dtypes, f"data.sources.{name}.dtypes")
    if isinstance(source, SqliteSource):
        return _read_sqlite(source, root, name)
    if isinstance(source, PythonSource):
        return _read_python(name, source, root)
    from .sqlsource import read_sql

    return read_sql(name, source, pipeline)
