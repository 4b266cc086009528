"""Read a declared source (csv, parquet, sqlite, sql) into a DataFrame with its declared dtypes."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlform.runtime.secretref import read_secret
from mlform.specs.errors import StepPartError
from mlform.specs.model.data import CsvSource, ParquetSource, Source, SqliteSource, SqlSource
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


def _read_sqlite(source: SqliteSource, root: Path, where: str) -> pd.DataFrame:
    import pandas as pd

    path = root / source.path
    if not path.is_file():
        raise IngestError(f"`{where}`: SQLite file `{source.path}` does not exist")
    query = source.query or f'SELECT * FROM "{(source.table or "").replace(chr(34), chr(34) * 2)}"'
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
            return pd.read_sql_query(query, conn)
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise IngestError(f"`{where}`: cannot read SQLite file `{source.path}`: {exc}") from None


def _read_sql(source: SqlSource, pipeline: Pipeline) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    secret = read_secret(pipeline, source.url.secret)
    where = f"database of secret `{secret.name}` (environment variable `{secret.variable}`)"
    try:
        engine = sa.create_engine(secret.value)
        try:
            with engine.connect() as conn:
                statement = (sa.text(source.query) if source.query
                             else sa.select(sa.text("*")).select_from(sa.table(source.table or "")))
                return pd.read_sql(statement, conn)
        finally:
            engine.dispose()
    except Exception as exc:  # any driver error: its text is redacted before it is shown
        detail = " ".join(str(getattr(exc, "orig", None) or exc).split("(Background on this error")[0].split())
        raise IngestError(secret.redact(f"cannot read the {where}: {type(exc).__name__}: {detail}")) from None


def read_source(name: str, source: Source, pipeline: Pipeline, root: Path) -> pd.DataFrame:
    """The rows of source `name`, with its declared dtypes applied."""
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
        return _read_sqlite(source, root, where)
    return _read_sql(source, pipeline)
