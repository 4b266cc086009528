"""Run-time failures a user meets, as commands: each an exact one-line error, exit 1, and nothing half-written.

Corrupt state, a corrupt run record, a corrupt tracking database, MLflow missing, training data gone at run
time; and the state commands (`state list`, `force-unlock`) run as a user runs them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def applied(iris_project: Path, mlform: Callable[..., Any]) -> Path:
    """The iris copy, its own project root, applied once in dev: state, a run record, a tracking database and
    version 1 registered."""
    (iris_project.parent / ".git").mkdir()  # `apply` writes the generated files here, not in the enclosing checkout
    result = mlform("apply", ".", "--env", "dev", "--yes", cwd=iris_project.parent)
    assert result.code == 0, result.err
    return iris_project.parent.resolve()


def versions(root: Path) -> list[str]:
    """The registered versions of `iris-classifier`."""
    folder = root / ".mlform/registry/iris-classifier/versions"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def last_line(text: str) -> str:
    """The last line printed."""
    return text.strip().splitlines()[-1]


@pytest.mark.parametrize("command", [["plan", ".", "--env", "dev"], ["state", "list", "."]])
def test_a_corrupt_state_file_is_named_and_left_alone(applied: Path, mlform: Callable[..., Any],
                                                      command: list[str]) -> None:
    state = applied / ".mlform/state/iris.dev.json"
    state.write_text("{broken")
    result = mlform(*command, cwd=applied)
    assert (result.code, last_line(result.err)) == (1, (
        f"error: state file {state} is not valid JSON state: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"))
    assert state.read_text() == "{broken"


@pytest.mark.parametrize("command", [["plan", ".", "--env", "dev"], ["state", "show", ".", "--env", "dev"]])
def test_an_unreadable_state_file_is_named(applied: Path, mlform: Callable[..., Any], command: list[str]) -> None:
    state = applied / ".mlform/state/iris.dev.json"
    state.unlink()
    state.mkdir()  # in the file's place: reading it fails with an OSError other than "no such file"
    result = mlform(*command, cwd=applied)
    assert (result.code, last_line(result.err)) == (
        1, f"error: cannot read state/iris.dev.json in {applied}/.mlform: Is a directory")
    assert "Traceback" not in result.out + result.err
    assert state.is_dir() and not any(state.iterdir())


def test_a_corrupt_run_record_is_named(applied: Path, mlform: Callable[..., Any]) -> None:
    [record] = (applied / ".mlform/records").glob("iris.dev.*.json")
    record.write_text("not json")
    result = mlform("run", ".", "--env", "dev", cwd=applied)
    assert (result.code, last_line(result.err)) == (
        1, f"error: cannot read state file {record}: Expecting value: line 1 column 1 (char 0)")
    assert versions(applied) == ["1"]


def test_a_corrupt_tracking_database_stops_the_run_before_it_registers(applied: Path,
                                                                        mlform: Callable[..., Any]) -> None:
    database = applied / ".mlform/tracking.db"
    database.write_bytes(b"not a database, " * 64)
    result = mlform("run", ".", "--env", "dev", "--force", cwd=applied)
    assert (result.code, last_line(result.err)) == (
        1, f"error: cannot open tracking database {database}: file is not a database")
    assert versions(applied) == ["1"]
    assert database.read_bytes() == b"not a database, " * 64


def test_a_tracking_database_missing_a_table_stops_the_run_before_it_registers(applied: Path,
                                                                              mlform: Callable[..., Any]) -> None:
    database = applied / ".mlform/tracking.db"
    with sqlite3.connect(database) as conn:
        conn.execute("DROP TABLE steps")
    state = (applied / ".mlform/state/iris.dev.json").read_bytes()
    result = mlform("run", ".", "--env", "dev", "--force", cwd=applied)
    assert (result.code, last_line(result.err)) == (
        1, f"error: cannot write to tracking database {database}: no such table: steps")
    assert "Traceback" not in result.out + result.err
    assert versions(applied) == ["1"]
    assert (applied / ".mlform/state/iris.dev.json").read_bytes() == state


def test_a_tracking_database_of_a_newer_schema_is_refused_and_left_alone(applied: Path,
                                                                        mlform: Callable[..., Any]) -> None:
    database = applied / ".mlform/tracking.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA user_version=9")  # as a later mlform would leave it
    before = database.read_bytes()
    for command in (["run", ".", "--env", "dev", "--force"], ["runs", "list", "."]):
        result = mlform(*command, cwd=applied)
        assert (result.code, last_line(result.err)) == (
            1, f"error: tracking database {database} has schema 9; this mlform reads 2")
        assert "Traceback" not in result.out + result.err
    assert versions(applied) == ["1"]
    assert database.read_bytes() == before


def test_training_data_gone_at_run_time_fails_its_step_and_blocks_the_rest(
        iris_project: Path, mlform: Callable[..., Any]) -> None:
    root = iris_project.parent
    (root / "data/iris.csv").unlink()
    result = mlform("run", ".", "--env", "dev", cwd=root)
    assert result.code == 1
    assert last_line(result.err) == ("error: step `ingest.train` failed: `data.sources.train.path`: "
                                     "file `data/iris.csv` does not exist")
    table = {line.split()[0]: line.split()[1] for line in result.out.splitlines() if line.strip()}
    assert table["ingest.train"] == "FAILED"
    assert {table[step] for step in ("validate.train", "split", "train", "evaluate", "register")} == {"blocked"}
    assert versions(root) == []


def test_mlflow_missing_is_named_with_the_install_command(iris_project: Path,
                                                          edit_spec: Callable[..., None]) -> None:
    root = iris_project.parent
    edit_spec(iris_project, lambda d: d.update(tracking={"backend": "mlflow", "uri": "sqlite:///mlruns.db"}))
    # this Python has MLflow; the import is blocked the way a missing package fails it
    script = ("import sys; sys.modules['mlflow'] = None\n"
              "from mlform.compiler.cli import main\nmain(['run', '.', '--env', 'dev'])\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=False)
    assert (done.returncode, last_line(done.stderr)) == (
        1, "error: `tracking.backend: mlflow` needs MLflow where mlform runs: pip install 'mlform[mlflow]'")
    assert versions(root) == []
    assert not (root / "mlruns.db").exists()


def test_state_list_shows_each_environment_applied(applied: Path, mlform: Callable[..., Any]) -> None:
    assert mlform("apply", ".", "--env", "prod", "--yes", cwd=applied).code == 0
    listed = mlform("state", "list", ".", cwd=applied)
    assert listed.code == 0
    rows = [line.split() for line in listed.out.splitlines()]
    assert [row[1] for row in rows] == ["dev", "prod"]
    for row in rows:
        shown = json.loads(mlform("state", "show", ".", "--env", row[1], cwd=applied).out)
        assert (row[2:6]) == ["serial", str(shown["serial"]), "lineage", shown["lineage"]]
        assert f"{len(shown['steps'])} steps," in " ".join(row)


def test_force_unlock_clears_a_lock_whose_holder_is_gone(applied: Path, mlform: Callable[..., Any],
                                                         edit_spec: Callable[..., None]) -> None:
    edit_spec(applied / "mlform.yaml", lambda d: d["model"]["params"].update(max_depth=4))  # work for apply
    lock = applied / ".mlform/state/iris.dev.lock.json"
    lock.write_text(json.dumps({"id": "abc", "owner": "ci", "pid": 1, "host": "elsewhere", "created": 0.0,
                                "operation": "apply"}))
    refused = mlform("apply", ".", "--env", "dev", "--yes", cwd=applied)
    assert refused.code == 1
    assert "if that run is gone, clear it with `mlform force-unlock abc`" in last_line(refused.err)
    wrong = mlform("force-unlock", "xyz", ".", "--env", "dev", cwd=applied)
    assert (wrong.code, last_line(wrong.err)) == (1, "error: lock ID `xyz` does not match the holder's ID `abc`")
    assert lock.exists()
    cleared = mlform("force-unlock", "abc", ".", "--env", "dev", cwd=applied)
    assert cleared.code == 0
    assert cleared.out.startswith("Removed the lock held by apply by ci (pid 1 on elsewhere)")
    again = mlform("force-unlock", "abc", ".", "--env", "dev", cwd=applied)
    assert (again.code, last_line(again.err)) == (1, "error: state iris.dev.json is not locked")
    assert mlform("apply", ".", "--env", "dev", "--yes", cwd=applied).code == 0
