"""What differs between the remote kinds: a killed lock holder, unreachable or refusing servers, artifact locations."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools import s3_server
from tools.postgres_server import Cluster, free_port

from mlform.runtime.storage.backends.base import BackendError, LockHeldError
from mlform.runtime.storage.backends.url import open_backend
from mlform.specs.fsutil import file_sha256

pytestmark = pytest.mark.integration

HOLD = textwrap.dedent("""
    import sys, time
    from mlform.runtime.storage.backends.url import open_backend
    with open_backend(sys.argv[1]).lock("state/k", "apply") as info:
        print(info.id, flush=True)
        time.sleep(60)
""")


@pytest.fixture
def holder(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[str]]:
    """A process holding lock `state/k` of the backend the test's URL fixture names; killed afterwards."""
    url = request.getfixturevalue(request.param)
    process = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def lock_id(process: subprocess.Popen[str]) -> str:
    """The lock ID the holder printed once it held the lock."""
    assert process.stdout is not None
    return process.stdout.readline().strip()


def kill(process: subprocess.Popen[str]) -> None:
    """kill -9, as a crashed runner or an OOM kill would."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("holder", ["postgres_url"], indirect=True)
def test_postgres_frees_a_killed_holders_lock_within_a_second(postgres_url: str, holder: subprocess.Popen[str]) -> None:
    held = lock_id(holder)
    backend = open_backend(postgres_url)
    try:
        with pytest.raises(BackendError, match="held by a live database session: apply by .* stop the process"):
            backend.force_unlock("state/k", held)
        kill(holder)
        start = time.monotonic()
        with backend.lock("state/k", "apply", timeout=5) as info:
            waited = time.monotonic() - start
            assert backend.holder("state/k") == info
        assert waited < 1.0
        assert backend.notes == [f"took over the lock left by apply of pid {holder.pid} on {socket.gethostname()}, "
                                 "whose database session has ended"]
    finally:
        backend.close()


@pytest.mark.parametrize("holder", ["postgres_url"], indirect=True)
def test_postgres_force_unlock_clears_a_dead_holders_record(postgres_url: str, holder: subprocess.Popen[str]) -> None:
    held = lock_id(holder)
    kill(holder)
    backend = open_backend(postgres_url)
    try:
        assert backend.holder("state/k") is None  # the record left behind names no live holder
        with pytest.raises(BackendError, match="does not match"):
            backend.force_unlock("state/k", "not-the-id")
        assert backend.force_unlock("state/k", held).pid == holder.pid
        with pytest.raises(BackendError, match="state/k is not locked"):
            backend.force_unlock("state/k", held)
        with backend.lock("state/k", "apply"):
            pass
        assert backend.notes == []  # nothing was left to take over
    finally:
        backend.close()


@pytest.mark.parametrize("holder", ["s3_url"], indirect=True)
def test_s3_keeps_a_killed_holders_lock_until_force_unlock(s3_url: str, holder: subprocess.Popen[str]) -> None:
    held = lock_id(holder)
    kill(holder)
    backend = open_backend(s3_url)
    try:
        with pytest.raises(LockHeldError) as refused, backend.lock("state/k", "apply", timeout=0.5):
            pass
        host = re.escape(socket.gethostname())
        assert re.fullmatch(rf"state/k is locked: apply by \S+ \(pid {holder.pid} on {host}\)"
                            rf" since [0-9-]+ [0-9:]+ UTC, lock ID {held}; if that run is gone, clear it with "
                            rf"`mlform force-unlock {held}`", str(refused.value))
        assert backend.force_unlock("state/k", held).pid == holder.pid
        with backend.lock("state/k", "apply", timeout=5):
            pass
    finally:
        backend.close()


def test_s3_release_leaves_a_lock_taken_after_a_force_unlock(s3_url: str) -> None:
    first, second = open_backend(s3_url), open_backend(s3_url)
    try:
        stuck_lock = first.lock("state/k", "apply")
        stuck = stuck_lock.__enter__()
        assert second.force_unlock("state/k", stuck.id) == stuck
        with second.lock("state/k", "apply") as current:
            stuck_lock.__exit__(None, None, None)  # the first run ends late: its release must not free the lock
            assert second.holder("state/k") == current
        assert first.notes == ["the lock state/k was force-unlocked while this run held it"]
    finally:
        first.close()
        second.close()


def refusal(url: str) -> tuple[str, str]:
    """Open `url`, which must fail: the BackendError's message and its full traceback text."""
    with pytest.raises(BackendError) as caught:
        open_backend(url)
    return str(caught.value), "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize(("case", "problem"), [
    ("wrong password", 'cannot connect: connection failed: connection to server at "127.0.0.1", port {port} failed: '
                       'FATAL: password authentication failed for user "postgres"'),
    ("missing database", 'cannot connect: connection failed: connection to server at "127.0.0.1", port {port} '
                         'failed: FATAL: database "nowhere" does not exist'),
    ("server down", 'cannot connect: connection failed: connection to server at "127.0.0.1", port {port} failed: '
                    'Connection refused Is the server running on that host and accepting TCP/IP connections?'),
])
def test_postgres_refusals_are_one_line_without_the_password(postgres_cluster: Cluster, case: str,
                                                             problem: str) -> None:
    password = "Sup3r-s3cret-pw"
    port = free_port() if case == "server down" else postgres_cluster.port
    database = "nowhere" if case == "missing database" else "postgres"
    if case != "wrong password":
        password = postgres_cluster.password
    url = f"postgresql://postgres:{password}@127.0.0.1:{port}/{database}"
    message, text = refusal(url)
    assert message == f"postgres backend postgresql://postgres:***@127.0.0.1:{port}/{database}: " + \
        problem.format(port=port)
    assert password not in text


@pytest.fixture
def strict_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[s3_server.Endpoint]:
    """A second S3 endpoint that checks credentials: it knows no access key, so it refuses every request."""
    endpoint = s3_server.start(authenticate=True)
    for name, value in endpoint.environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    yield endpoint
    endpoint.stop()


def test_s3_refused_credentials_are_named_without_the_secret(strict_s3: s3_server.Endpoint) -> None:
    message, text = refusal("s3://team-state/iris")
    assert message == ("s3 backend s3://team-state/iris: access to bucket `team-state` is denied: check the AWS "
                       "credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the role) and the "
                       "bucket's policy")
    assert s3_server.CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in text


def test_s3_missing_bucket_and_down_endpoint(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal("s3://no-such-bucket/p")[0] == "s3 backend s3://no-such-bucket/p: bucket `no-such-bucket` does " \
                                                  "not exist"
    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    message, text = refusal(s3_url)
    bucket = s3_url.split("/")[2]
    assert message == f'{s3_url.replace("s3://", "s3 backend s3://", 1)}: cannot reach the bucket: Could not ' \
                      f'connect to the endpoint URL: "http://127.0.0.1:{port}/{bucket}"'
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in text


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_postgres_files_go_to_the_artifact_location(postgres_url: str, s3_url: str, tmp_path: Path,
                                                    kind: str) -> None:
    location = str(tmp_path / "models") if kind == "folder" else s3_url.replace("/team/state", "/models")
    model = tmp_path / "model.pkl"
    model.write_bytes(os.urandom(100_000))
    backend = open_backend(f"{postgres_url}?artifacts={location}")
    try:
        digest = backend.put_file("registry/iris/1/model.pkl", model)
        assert backend.describe().endswith(f", files in {open_backend(location).describe()}")
        assert backend.keys("registry/") == ["registry/iris/1/model.pkl"]
        backend.get_file("registry/iris/1/model.pkl", tmp_path / "back.pkl", digest)
        assert file_sha256(tmp_path / "back.pkl") == digest
    finally:
        backend.close()
    stored = open_backend(location)
    try:
        stored.get_file("registry/iris/1/model.pkl", tmp_path / "direct.pkl", digest)  # it is there, not in the db
    finally:
        stored.close()
    alone = open_backend(postgres_url)
    try:
        assert alone.keys("") == []
    finally:
        alone.close()


def test_postgres_tables_are_created_once_when_many_processes_start_together(postgres_url: str) -> None:
    start, failures, opened = threading.Barrier(8), [], []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_backend(postgres_url))
        except BackendError as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    versions = {backend.write(f"state/{n}.json", b"{}") for n, backend in enumerate(opened)}
    assert len(versions) == 8
    for backend in opened:
        backend.close()


def test_postgres_without_a_schema_to_create_tables_in_says_so(postgres_url: str) -> None:
    url = f"{postgres_url}?options=-csearch_path%3Dnowhere"  # a search_path naming no schema that exists
    message, _ = refusal(url)
    shown = re.sub(r":[^:@/]*@", ":***@", url, count=1)
    assert message == (f"postgres backend {shown}: no schema to create tables in: check the connection's "
                       "search_path")


@pytest.mark.parametrize("command", [["apply", ".", "--env", "dev", "--yes"],
                                     ["force-unlock", "abc", ".", "--env", "dev"]])
def test_s3_a_lock_object_that_is_no_holder_record_is_named(s3_url: str, iris_project: Path, mlform,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            command: list[str]) -> None:
    backend = open_backend(s3_url)
    backend.write("state/iris.dev.lock", b"not a holder record")
    monkeypatch.setenv("MLFORM_BACKEND", s3_url)
    (iris_project.parent / ".git").mkdir()  # `apply` writes the generated files here, not in the enclosing checkout

    result = mlform(*command, cwd=iris_project.parent)

    assert (result.code, result.err.strip().splitlines()[-1]) == (
        1, f"error: the lock object of state/iris.dev in {s3_url} is not a holder record")
    assert "Traceback" not in result.out + result.err
    lock = backend.read("state/iris.dev.lock")
    assert lock is not None and lock.data == b"not a holder record"
    assert [key for key in backend.keys("") if not key.startswith("audit/")] == []  # a failed apply is audited
