"""Opening a backend by URL: the client libraries of remote kinds load only when such a URL is opened."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlform.runtime.storage.backends.base import BackendError
from mlform.runtime.storage.backends.url import open_backend

CLIENTS = ("psycopg", "boto3", "botocore")


def imported_clients(cwd: Path, *args: str) -> tuple[int, list[str]]:
    """Run the CLI with `args` in a fresh interpreter: its exit code and the backend clients it imported."""
    script = textwrap.dedent(f"""
        import sys
        from mlform.compiler.cli import main
        code = 0
        try:
            main({list(args)!r})
        except SystemExit as exc:
            code = exc.code
        print(code, ",".join(sorted(m for m in {CLIENTS!r} if m in sys.modules)))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)
    code, _, clients = done.stdout.splitlines()[-1].partition(" ")
    return int(code), [name for name in clients.split(",") if name]


@pytest.mark.parametrize("args", [["--help"], ["plan", "mlform.yaml", "--env", "dev", "--artifacts-dir", "out"]])
def test_local_commands_import_no_backend_client(iris_project: Path, args: list[str]) -> None:
    assert imported_clients(iris_project.parent, *args) == (0, [])


@pytest.mark.parametrize(("url", "client", "kind"), [
    ("postgresql://ml:pw@db.example/state", "psycopg", "postgres"),
    ("s3://bucket/team", "boto3", "s3"),
])
def test_a_missing_client_says_which_extra_to_install(url: str, client: str, kind: str) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.modules[{client!r}] = None  # as if the package were not installed
        from mlform.runtime.storage.backends.url import open_backend
        open_backend({url!r})
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.stderr.strip().splitlines()[-1] == (
        f"mlform.runtime.storage.backends.base.BackendError: the {kind} backend needs the `{client}` package: "
        f"install `mlform[{kind}]`")


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://ml:pw@db.example/state?artifacts=gs://models/team",
     "`artifacts=gs://models/team` in postgresql://ml:***@db.example/state?artifacts=gs://models/team: expected a "
     "folder or s3://bucket/prefix"),
    ("s3://state/team?artifacts=postgresql://ml:pw@db/x",
     "`artifacts=postgresql://ml:***@db/x` in s3://state/team?artifacts=postgresql://ml:***@db/x: expected a folder "
     "or s3://bucket/prefix"),
    ("s3:///team", "s3 backend s3:///team: no bucket: expected s3://bucket/prefix"),
    # libpq cannot parse these, before any connection; the first it echoes whole, password and all
    ("postgresql://ml:pw@[::1/state", 'postgres backend postgresql://ml:***@[::1/state: cannot read the URL: end of '
     'string reached when looking for matching "]" in IPv6 host address in URI: "postgresql://ml:***@[::1/state"'),
    ("postgresql://ml:pw@db.example/state?colour=red",
     'postgres backend postgresql://ml:***@db.example/state?colour=red: cannot read the URL: invalid URI query '
     'parameter: "colour"'),
])
def test_bad_remote_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(BackendError) as caught:
        open_backend(url)
    assert str(caught.value) == message


@pytest.mark.parametrize(("secret", "cause"), [
    ({"env": "STATE_DB_URL"}, "is read from environment variable `STATE_DB_URL`, which is not set"),
    ({"kubernetes": {"secret": "state", "key": "url"}},
     "has no `env` variable to read locally (it is only a Kubernetes secret)"),
], ids=["unset", "kubernetes-only"])
@pytest.mark.parametrize("command", [["run", "."], ["plan", ".", "--env", "dev"], ["state", "list", "."]])
def test_a_backend_url_secret_that_cannot_be_read_stops_the_command_before_it_writes(
        iris_project: Path, mlform, edit_spec, monkeypatch: pytest.MonkeyPatch, command: list[str],
        secret: dict[str, object], cause: str) -> None:
    monkeypatch.delenv("STATE_DB_URL", raising=False)
    edit_spec(iris_project, lambda d: d.update(secrets={"state_db": secret},
                                               state={"backend": {"kind": "postgres", "url": {"secret": "state_db"}}}))
    root = iris_project.parent
    before = sorted(root.rglob("*"))

    result = mlform(*command, cwd=root)

    assert (result.code, result.err.strip().splitlines()[-1]) == (
        1, f"error: `state.backend.url`: secret `state_db` {cause}")
    assert "Traceback" not in result.out + result.err
    assert sorted(root.rglob("*")) == before


@pytest.mark.parametrize(("value", "got"), [
    ("host=db.internal dbname=mlform password=hunter2", "no URL"),  # libpq's key=value form
    ("postgresql+psycopg://ml:hunter2@db.internal/mlform", "a `postgresql+psycopg://` URL"),  # SQLAlchemy's form
    ("s3://ml-state/hunter2", "a `s3://` URL"),
], ids=["keywords", "sqlalchemy", "another-kind"])
@pytest.mark.parametrize("command", [["run", "."], ["apply", ".", "--env", "dev", "--yes"], ["state", "list", "."]])
def test_a_postgres_backend_whose_secret_holds_no_postgres_url_is_refused_without_echoing_it(
        iris_project: Path, mlform, edit_spec, monkeypatch: pytest.MonkeyPatch, command: list[str],
        value: str, got: str) -> None:
    monkeypatch.setenv("STATE_DB_URL", value)
    secret = {"env": "STATE_DB_URL", "kubernetes": {"secret": "state", "key": "url"}}
    edit_spec(iris_project, lambda d: d.update(secrets={"state_db": secret},
                                               state={"backend": {"kind": "postgres", "url": {"secret": "state_db"}}}))
    root = iris_project.parent
    before = sorted(root.rglob("*"))

    result = mlform(*command, cwd=root)

    assert (result.code, result.err.strip().splitlines()[-1]) == (
        1, f"error: `state.backend.url`: secret `state_db` (environment variable `STATE_DB_URL`) holds {got}; "
           "`kind: postgres` needs postgresql://USER@HOST:PORT/DB")
    assert "hunter2" not in result.out + result.err and "Traceback" not in result.out + result.err
    assert sorted(root.rglob("*")) == before  # no state folder named after the value
