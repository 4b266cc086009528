"""A `sql` source's database: its rows for ingest, and the cheap one-row statistic a plan fingerprints it by.

The default statistic per dialect: SQLite counts a table's rows and takes its largest `rowid` (a query's rows,
and a `WITHOUT ROWID` table's, are counted); PostgreSQL counts the rows and sums a 64-bit slice of each row's
md5, so an edited row is seen too (a full scan on the database side, but one row sent back); any other database
counts the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from mlform.runtime.secretref import read_secret
from mlform.specs.graph.statistic import statistic_digest
from mlform.specs.model.data import SqlSource
from mlform.specs.model.pipeline import Pipeline

from .ingest import IngestError

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

__all__ = ["default_statistic", "read_sql", "source_query", "sql_statistic"]

T = TypeVar("T")
_ROW_CHECKSUM = "sum(('x' || left(md5(q::text), 16))::bit(64)::bigint)"


def _with_connection(source: SqlSource, pipeline: Pipeline, use: Callable[[sa.Connection], T], key: str) -> T:
    """`use` on a connection to the source's database; any driver error is redacted of the URL's secret, and one
    that `use` met (not the connection) names the source's `key` whose query failed."""
    import sqlalchemy as sa

    secret = read_secret(pipeline, source.url.secret)
    where = f"database of secret `{secret.name}` (environment variable `{secret.variable}`)"
    failed = f"cannot read the {where}"
    try:
        engine = sa.create_engine(secret.value)
        try:
            with engine.connect() as conn:
                failed = f"`{key}`: query failed on the {where}"
                return use(conn)
        finally:
            engine.dispose()
    except IngestError:
        raise
    except Exception as exc:  # any driver error: its text is redacted before it is shown
        detail = " ".join(str(getattr(exc, "orig", None) or exc).split("(Background on this error")[0].split())
        raise IngestError(secret.redact(f"{failed}: {type(exc).__name__}: {detail}")) from None


def source_query(source: SqlSource, dialect: sa.Dialect) -> str:
    """The SQL whose result is the source's data: its `query`, or `SELECT *` from its quoted `table`."""
    if source.query:
        return source.query.strip().rstrip(";").strip()
    return f"SELECT * FROM {dialect.identifier_preparer.quote(source.table or '')}"


def default_statistic(source: SqlSource, dialect: sa.Dialect, rowid: bool = True) -> str:
    """The dialect's cheap statistic over the source (see the module's docstring); `rowid` False for a SQLite
    table without one (`WITHOUT ROWID`)."""
    if dialect.name == "sqlite" and source.table and rowid:
        table = dialect.identifier_preparer.quote(source.table)
        return f"SELECT count(*) AS count, max(rowid) AS max_rowid FROM {table}"
    checksum = f", {_ROW_CHECKSUM} AS checksum" if dialect.name == "postgresql" else ""
    return f"SELECT count(*) AS count{checksum} FROM ({source_query(source, dialect)}) AS q"


def read_sql(name: str, source: SqlSource, pipeline: Pipeline) -> pd.DataFrame:
    """The rows of source `name`."""
    import pandas as pd
    import sqlalchemy as sa

    def fetch(conn: sa.Connection) -> pd.DataFrame:
        statement = (sa.text(source.query) if source.query
                     else sa.select(sa.text("*")).select_from(sa.table(source.table or "")))
        try:
            return pd.read_sql(statement, conn)
        except pd.errors.DatabaseError as exc:  # pandas' wrapper repeats the SQL: the driver's error says it all
            raise (exc.__cause__ or exc) from None

    return _with_connection(source, pipeline, fetch, f"data.sources.{name}.{'query' if source.query else 'table'}")


def sql_statistic(name: str, source: SqlSource, pipeline: Pipeline) -> str:
    """The source's fingerprint: its normalized query and statistic query with the statistic's one row."""
    import sqlalchemy as sa

    def measure(conn: sa.Connection) -> str:
        statistic = source.statistic or default_statistic(source, conn.dialect)
        try:
            result = conn.execute(sa.text(statistic))
        except sa.exc.OperationalError as exc:
            if source.statistic or "no such column: rowid" not in str(exc.orig):
                raise
            statistic = default_statistic(source, conn.dialect, rowid=False)
            result = conn.execute(sa.text(statistic))
        rows = result.fetchmany(2)
        if len(rows) != 1:
            key = "statistic" if source.statistic else "fingerprint"
            count = "no row" if not rows else "more than one row"
            raise IngestError(f"`data.sources.{name}.{key}`: the statistic query returned {count}, not one")
        values = list(zip(result.keys(), rows[0], strict=True))
        return statistic_digest(f"{source_query(source, conn.dialect)}\n{statistic}", values)

    key = "statistic" if source.statistic else "query" if source.query else "table"
    return _with_connection(source, pipeline, measure, f"data.sources.{name}.{key}")
