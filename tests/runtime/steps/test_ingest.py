"""Reading sources: files, SQLite, SQL through a secret URL, declared dtypes, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlform.runtime.secretref import Secret, SecretMissingError
from mlform.runtime.steps.ingest import IngestError, read_source
from mlform.specs.loader import load_spec

IRIS = Path(__file__).resolve().parents[3] / "examples" / "iris" / "data" / "iris.csv"


def write_db(path: Path, frame: pd.DataFrame, table: str = "flowers") -> None:
    with sqlite3.connect(path) as conn:
        frame.to_sql(table, conn, index=False, if_exists="replace")


@pytest.fixture
def sql_project(core_project: Path, edit_spec, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The iris copy training from a SQL table whose URL is in `WAREHOUSE_URL`."""
    db = core_project.parent / "warehouse.db"
    write_db(db, pd.read_csv(IRIS))

    def to_sql(data: dict[str, Any]) -> None:
        data["data"]["sources"]["train"] = {"type": "sql", "url": {"secret": "warehouse"}, "table": "flowers"}
        data["secrets"] = {"warehouse": {"env": "WAREHOUSE_URL"}}

    edit_spec(core_project, to_sql)
    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{db}")
    return core_project


def test_sql_source_runs_caches_and_notices_new_rows(sql_project: Path, mlform) -> None:
    first = mlform("run", sql_project)
    assert first.code == 0, first.err
    again = mlform("run", sql_project)
    assert "ingest.train       cached" in again.out
    frame = pd.read_csv(IRIS)
    write_db(sql_project.parent / "warehouse.db", pd.concat([frame, frame.head(3)]))
    changed = mlform("run", sql_project)
    assert "ingest.train       ran        " in changed.out
    assert "data `sql:train` statistic changed: count 150 -> 153, max_rowid 150 -> 153" in changed.out


def test_sql_source_without_its_variable_names_it(sql_project: Path, mlform, monkeypatch) -> None:
    monkeypatch.delenv("WAREHOUSE_URL")
    result = mlform("run", sql_project)
    assert result.code == 1
    assert result.err == ("error: step `ingest.train` failed: secret `warehouse` is read from environment variable "
                          "`WAREHOUSE_URL`, which is not set\n")


@pytest.mark.parametrize("url", [
    "sqlite:////nonexistent-folder/hunter2-secret/warehouse.db",
    "postgresql://admin:hunter2-secret@127.0.0.1:1/warehouse",
    "not a url hunter2-secret",
])
def test_bad_sql_url_fails_without_showing_the_secret(sql_project: Path, mlform, monkeypatch, url: str) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", url)
    result = mlform("run", sql_project)
    assert result.code == 1
    assert result.err.startswith("error: step `ingest.train` failed: cannot read the database of secret "
                                 "`warehouse` (environment variable `WAREHOUSE_URL`): ")
    assert "hunter2" not in result.err + result.out
    state = sql_project.parent / ".mlform"
    assert all(b"hunter2" not in p.read_bytes() for p in state.rglob("*") if p.is_file())


def test_secret_values_never_reach_state(sql_project: Path, mlform) -> None:
    assert mlform("run", sql_project).code == 0
    url = f"sqlite:///{sql_project.parent / 'warehouse.db'}".encode()
    state = sql_project.parent / ".mlform"
    assert all(url not in p.read_bytes() for p in state.rglob("*") if p.is_file())


@pytest.mark.parametrize(("value", "text", "shown"), [
    ("postgresql://bob:s3cret@db:5432/x", "failed for postgresql://bob:s3cret@db:5432/x", "failed for ***"),
    ("postgresql://bob:s3cret@db:5432/x", "password s3cret rejected for bob:s3cret", "password *** rejected for ***"),
    ("sqlite:///data/a.db", "cannot open sqlite:///data/a.db", "cannot open ***"),
])
def test_redact_removes_value_userinfo_and_password(value: str, text: str, shown: str) -> None:
    secret = Secret("db", "DB_URL", value)
    assert secret.redact(text) == shown
    assert value not in repr(secret)


def test_sqlite_table_and_query(tmp_path: Path, core_project: Path) -> None:
    write_db(tmp_path / "local.db", pd.read_csv(IRIS))
    spec = load_spec(core_project)
    from mlform.specs.model.data import SqliteSource

    table = SqliteSource(type="sqlite", path=str(tmp_path / "local.db"), table="flowers")
    query = SqliteSource(type="sqlite", path=str(tmp_path / "local.db"),
                         query="SELECT species, COUNT(*) AS n FROM flowers GROUP BY species ORDER BY species")
    assert read_source("t", table, spec.pipeline, tmp_path).shape == (150, 5)
    assert read_source("q", query, spec.pipeline, tmp_path)["n"].tolist() == [50, 50, 50]
    missing = SqliteSource(type="sqlite", path="nope.db", table="flowers")
    with pytest.raises(IngestError, match=r"^`data.sources.m.path`: SQLite file `nope.db` does not exist$"):
        read_source("m", missing, spec.pipeline, tmp_path)
    gone = SqliteSource(type="sqlite", path="local.db", table="flower")  # validate names it; it may go after
    with pytest.raises(IngestError, match=r"^`data.sources.g.table`: cannot read table `flower` of SQLite file "
                                          r"`local.db`: no such table: flower$"):
        read_source("g", gone, spec.pipeline, tmp_path)


def test_csv_and_parquet_with_dtypes(tmp_path: Path, core_project: Path) -> None:
    from mlform.specs.model.data import CsvSource, ParquetSource

    pipeline = load_spec(core_project).pipeline
    (tmp_path / "d.csv").write_text("id;when;n;label\n1;2024-01-02;1.0;a\n2;2024-02-03;;b\n")
    csv = CsvSource(type="csv", path="d.csv", delimiter=";",
                    dtypes={"id": "string", "when": "datetime", "n": "int", "label": "category"})
    frame = read_source("d", csv, pipeline, tmp_path)
    assert {c: str(t).split("[")[0] for c, t in frame.dtypes.items()} == {
        "id": "str", "when": "datetime64", "n": "Int64", "label": "category"}
    assert frame["n"].isna().tolist() == [False, True]
    frame.to_parquet(tmp_path / "d.parquet")
    parquet = ParquetSource(type="parquet", path="d.parquet", dtypes={"n": "float"})
    assert str(read_source("p", parquet, pipeline, tmp_path)["n"].dtype) == "float64"


@pytest.mark.parametrize(("content", "dtypes", "message"), [
    ("a\n1\nx\n", {"a": "int"}, "`data.sources.d.dtypes.a`: cannot convert column `a` to int (e.g. `x` at row 1)"),
    ("a\n1.5\n2\n", {"a": "int"}, "`data.sources.d.dtypes.a`: cannot convert column `a` to int (e.g. `1.5` at row 0)"),
    ("a\n2024-01-01\nlater\n", {"a": "datetime"},
     "`data.sources.d.dtypes.a`: cannot convert column `a` to datetime (e.g. `later` at row 1)"),
    ("a\n1\n", {"b": "int"}, "`data.sources.d.dtypes.b`: column `b` is not in the data"),
])
def test_dtype_errors_name_the_column_and_a_value(tmp_path: Path, core_project: Path, content: str,
                                                  dtypes: dict[str, Any], message: str) -> None:
    from mlform.specs.model.data import CsvSource

    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(IngestError) as caught:
        read_source("d", CsvSource(type="csv", path="d.csv", dtypes=dtypes), load_spec(core_project).pipeline,
                    tmp_path)
    assert str(caught.value) == message


def test_secret_missing_is_an_mlform_error() -> None:
    from mlform.specs.errors import MlformError

    assert issubclass(SecretMissingError, MlformError)
