"""A `sql` source is fingerprinted by its query and a cheap statistic: a plan never fetches its rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from mlform.runtime.run.executor import Run
from mlform.runtime.steps.sqlsource import default_statistic, sql_statistic
from mlform.specs.errors import MlformError
from mlform.specs.loader import load_spec
from mlform.specs.model.data import SqlSource

IRIS = Path(__file__).resolve().parents[3] / "examples" / "iris" / "data" / "iris.csv"
TABLE_STATISTIC = "SELECT count(*) AS count, max(rowid) AS max_rowid FROM flowers"


def _db(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        frame = pd.read_csv(IRIS)
        frame.insert(0, "updated", 1)
        frame.to_sql("flowers", conn, index=False, if_exists="replace")
    return path


def _execute(db: Path, *statements: str) -> None:
    with sqlite3.connect(db) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def project(core_project: Path, edit_spec: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The iris copy training from the SQLite table `flowers` through a `sql` source."""
    db = _db(core_project.parent / "warehouse.db")
    secret = {"env": "WAREHOUSE_URL", "kubernetes": {"secret": "warehouse", "key": "url"}}
    edit_spec(core_project, lambda d: (d.pop("environments"), d.update(secrets={"warehouse": secret})))
    _source(core_project, edit_spec, table="flowers")
    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{db}")
    return core_project


def _source(spec: Path, edit_spec: Callable[..., None], **keys: Any) -> None:
    def change(data: dict[str, Any]) -> None:
        data["data"]["sources"]["train"] = {"type": "sql", "url": {"secret": "warehouse"}, **keys}

    edit_spec(spec, change)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement SQLAlchemy sends while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def _ingest_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("ingest.train"))


def test_planning_runs_only_the_statistic_and_an_unchanged_table_is_cached(project: Path, mlform,
                                                                           statements: list[str]) -> None:
    assert mlform("run", project).code == 0
    statements.clear()
    run = Run(load_spec(project))
    assert statements == [TABLE_STATISTIC]
    assert run.context.fetched == {}
    assert run.reasons["ingest.train"] == []
    assert "ingest.train       cached" in mlform("run", project).out


@pytest.mark.parametrize(("change", "reason"), [
    ("INSERT INTO flowers SELECT * FROM flowers LIMIT 12",
     "data `sql:train` statistic changed: count 150 -> 162, max_rowid 150 -> 162"),
    ("DELETE FROM flowers WHERE rowid = 3", "data `sql:train` statistic changed: count 150 -> 149"),
])
def test_a_changed_table_re_runs_and_says_which_statistic_moved(project: Path, mlform, change: str,
                                                                reason: str) -> None:
    assert mlform("run", project).code == 0
    _execute(project.parent / "warehouse.db", change)
    assert _ingest_line(mlform("run", project).out).endswith(f"  {reason}")


def test_the_default_table_statistic_misses_an_edit_in_place_a_given_statistic_sees_it(
        project: Path, mlform, edit_spec: Callable[..., None]) -> None:
    assert mlform("run", project).code == 0
    _execute(project.parent / "warehouse.db", "UPDATE flowers SET sepal_length = 9.9, updated = 2 WHERE rowid = 7")
    assert "ingest.train       cached" in mlform("run", project).out  # documented: count and max(rowid) held
    _source(project, edit_spec, table="flowers",
            statistic="SELECT max(updated) AS updated, count(*) AS count FROM flowers")
    assert mlform("run", project).code == 0  # the fingerprint's way changed: it re-ran once
    _execute(project.parent / "warehouse.db", "UPDATE flowers SET sepal_length = 1.1, updated = 3 WHERE rowid = 8")
    assert _ingest_line(mlform("run", project).out).endswith(
        "  data `sql:train` statistic changed: updated 2 -> 3")


def test_an_edited_query_re_runs(project: Path, mlform, edit_spec: Callable[..., None]) -> None:
    _source(project, edit_spec, query="SELECT * FROM flowers")
    assert mlform("run", project).code == 0
    _source(project, edit_spec, query="SELECT * FROM flowers WHERE sepal_length > 4.5")
    line = _ingest_line(mlform("run", project).out)
    assert line.endswith('  `data.sources.train.query` changed: "SELECT * FROM flowers" -> "SELECT * FROM flowers '
                         'WHERE sepal_length > 4.5"; data `sql:train` query or statistic query changed')


def test_fingerprint_result_fetches_the_rows_and_hashes_them(project: Path, mlform, edit_spec: Callable[..., None],
                                                             statements: list[str]) -> None:
    _source(project, edit_spec, table="flowers", fingerprint="result")
    assert mlform("run", project).code == 0
    _execute(project.parent / "warehouse.db", "UPDATE flowers SET sepal_length = 9.9 WHERE rowid = 7")
    statements.clear()
    run = Run(load_spec(project))
    assert statements == ["SELECT * \nFROM flowers"]
    assert run.context.fetched["train"].shape == (150, 6)
    assert run.reasons["ingest.train"] == ["data `sql:train` changed"]


def test_a_saved_plan_is_refused_when_the_statistic_moved_and_the_plan_holds_no_secret(project: Path,
                                                                                        mlform) -> None:
    plan = project.parent / "base.plan"
    assert mlform("plan", project, "--out", plan).code == 0
    url = f"sqlite:///{project.parent / 'warehouse.db'}"
    assert url not in plan.read_text()
    assert json.loads(plan.read_text())["plans"][0]["data"]["sql:train"].startswith("statistic:")
    _execute(project.parent / "warehouse.db", "INSERT INTO flowers SELECT * FROM flowers LIMIT 2")
    refused = mlform("apply", plan)
    assert refused.code == 1
    assert refused.err.endswith("data `sql:train` statistic changed: count 150 -> 152, max_rowid 150 -> 152 since "
                                "the plan was made; run `mlform plan` again\n")
    assert not (project.parent / ".mlform" / "tracking.db").exists()


@pytest.mark.parametrize(("statistic", "message"), [
    ("SELECT count(*) FROM flowers WHERE 0 GROUP BY species",
     "`data.sources.train.statistic`: the statistic query returned no row, not one"),
    ("SELECT species, count(*) FROM flowers GROUP BY species",
     "`data.sources.train.statistic`: the statistic query returned more than one row, not one"),
])
def test_a_statistic_query_must_return_one_row(project: Path, statistic: str, message: str) -> None:
    pipeline = load_spec(project).pipeline
    source = SqlSource(type="sql", url={"secret": "warehouse"}, table="flowers", statistic=statistic)
    with pytest.raises(MlformError) as raised:
        sql_statistic("train", source, pipeline)
    assert str(raised.value) == message


_DATABASE = "the database of secret `warehouse` (environment variable `WAREHOUSE_URL`)"


@pytest.mark.parametrize(("keys", "expected"), [
    ({"table": "flowers", "statistic": "SELECT max(nope) FROM flowers"},
     f"`data.sources.train.statistic`: query failed on {_DATABASE}: OperationalError: no such column: nope"),
    ({"query": "SELECT * FROM nope"},
     f"`data.sources.train.query`: query failed on {_DATABASE}: OperationalError: no such table: nope"),
    ({"query": "SELEC * FROM flowers", "fingerprint": "result"},
     f'`data.sources.train.query`: query failed on {_DATABASE}: OperationalError: near "SELEC": syntax error'),
    ({"table": "nope"},
     f"`data.sources.train.table`: query failed on {_DATABASE}: OperationalError: no such table: nope"),
    ({"table": "flowers", "url": "missing/warehouse.db"},
     f"cannot read {_DATABASE}: OperationalError: unable to open database file"),
], ids=["statistic", "query", "query-fetched", "table", "unreachable"])
def test_a_failing_query_names_its_key_and_the_database_by_its_secret_only(
        project: Path, mlform, edit_spec: Callable[..., None], monkeypatch: pytest.MonkeyPatch,
        keys: dict[str, str], expected: str) -> None:
    if "url" in keys:  # a folder that does not exist: the connection fails, before any query
        monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{project.parent / keys.pop('url')}")
    _source(project, edit_spec, **keys)
    failed = mlform("plan", project)
    assert (failed.code, failed.err) == (1, f"error: step `ingest.train` failed: {expected}\n")
    assert "Traceback" not in failed.out


def test_a_sqlite_table_without_rowid_is_counted(project: Path) -> None:
    _execute(project.parent / "warehouse.db", "CREATE TABLE tags (tag TEXT PRIMARY KEY) WITHOUT ROWID",
             "INSERT INTO tags VALUES ('a'), ('b')", "CREATE VIEW big AS SELECT * FROM flowers WHERE petal_width > 2")
    pipeline = load_spec(project).pipeline
    measured = [sql_statistic("train", SqlSource(type="sql", url={"secret": "warehouse"}, table=table), pipeline)
                for table in ("tags", "big")]
    assert [digest.partition(" ")[2] for digest in measured] == ['[["count",2]]', '[["count",23],["max_rowid",null]]']


@pytest.mark.parametrize(("dialect", "table", "query", "statistic"), [
    ("sqlite", "my table", None, 'SELECT count(*) AS count, max(rowid) AS max_rowid FROM "my table"'),
    ("sqlite", None, "SELECT a FROM t;  ", "SELECT count(*) AS count FROM (SELECT a FROM t) AS q"),
    ("postgresql", 'we"ird', None,
     "SELECT count(*) AS count, sum(('x' || left(md5(q::text), 16))::bit(64)::bigint) AS checksum "
     'FROM (SELECT * FROM "we""ird") AS q'),
    ("mysql", None, "SELECT '{}' FROM t", "SELECT count(*) AS count FROM (SELECT '{}' FROM t) AS q"),
])
def test_default_statistic_per_dialect(dialect: str, table: str | None, query: str | None, statistic: str) -> None:
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    dialects = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect(), "mysql": mysql.dialect()}
    source = SqlSource(type="sql", url={"secret": "w"}, table=table, query=query)
    assert default_statistic(source, dialects[dialect]) == statistic


@pytest.mark.integration
def test_postgresql_default_statistic_sees_an_edit_in_place(postgres_cluster: Any, core_project: Path,
                                                            edit_spec: Callable[..., None]) -> None:
    import psycopg

    database = postgres_cluster.new_database("sqlfp")
    url = postgres_cluster.url(database)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE flowers (id int, species text)")
        conn.execute("INSERT INTO flowers SELECT i, 'setosa' FROM generate_series(1, 100) AS i")
    edit_spec(core_project, lambda d: d.update(secrets={"warehouse": {"env": "PG_WAREHOUSE_URL"}}))
    pipeline = load_spec(core_project).pipeline
    source = SqlSource(type="sql", url={"secret": "warehouse"}, table="flowers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PG_WAREHOUSE_URL", url.replace("postgresql://", "postgresql+psycopg://"))
        before = sql_statistic("train", source, pipeline)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE flowers SET species = 'virginica' WHERE id = 50")
        after = sql_statistic("train", source, pipeline)
    from mlform.specs.graph.statistic import statistic_change

    assert json.loads(before.partition(" ")[2])[0] == ["count", 100]
    moved = statistic_change(before, after)
    assert moved is not None
    assert moved.startswith("statistic changed: checksum ")
    postgres_cluster.drop_database(database)
