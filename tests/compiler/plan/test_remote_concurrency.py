"""Two working copies applying at once on a remote backend, applies killed with -9, refusing backends: the CLI."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_plan_apply import mlform
from tools import s3_server
from tools.postgres_server import Cluster, free_port

from mlform.runtime.storage.backends.base import LockInfo
from mlform.runtime.storage.backends.url import open_backend
from tests.runtime.storage.backends.conftest import postgres_url, s3_url  # noqa: F401 - fixtures of each kind

pytestmark = pytest.mark.integration

MLFORM = str(Path(sys.executable).with_name("mlform"))
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
LOCK = "state/iris.dev"
KILL_TRIALS = 10  # per kind: 20 in all, beside the local trials of test_apply_reliability


def _clone(tmp_path: Path, name: str, trees: int = 20) -> Path:
    root = tmp_path / name
    shutil.copytree(EXAMPLES / "iris", root, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", f"n_estimators: {trees}"))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture(params=["postgres", "s3"])
def remote(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(kind, URL) of a fresh backend of each remote kind."""
    yield request.param, request.getfixturevalue(f"{request.param}_url")


def _start_apply(root: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([MLFORM, "apply", ".", "--env", "dev", "--yes"], cwd=root, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_holder(url: str, process: subprocess.Popen[str]) -> LockInfo:
    """The lock's holder record once `process` holds the state lock."""
    backend = open_backend(url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            held = backend.holder(LOCK)
            if held is not None:
                return held
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
    finally:
        backend.close()
    raise AssertionError("the first apply never took the lock")


def _versions(url: str) -> list[str]:
    backend = open_backend(url)
    try:
        return [key for key in backend.keys("registry/iris-classifier/") if key.endswith("/model.pkl")]
    finally:
        backend.close()


def test_two_applies_at_once_one_proceeds_the_other_names_the_holder_or_waits(
        tmp_path: Path, remote: tuple[str, str]) -> None:
    _, url = remote
    env = {"MLFORM_BACKEND": url}
    first, second = _clone(tmp_path, "a", trees=3000), _clone(tmp_path, "b")  # the first trains long enough
    running = _start_apply(first, env)
    held = _wait_for_holder(url, running)
    refused = mlform(second, "apply", ".", "--env", "dev", "--yes", "--lock-timeout", "0", env=env)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: state iris.dev.json is locked: apply by {held.owner} (pid {held.pid} on "
                           f"{socket.gethostname()}) since ")
    assert f"lock ID {held.id}" in last and " (held for " in last
    waited = mlform(second, "apply", ".", "--env", "dev", "--yes", "--lock-timeout", "5m", env=env)
    out, err = running.communicate(timeout=300)
    assert running.returncode == 0, out + err
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert "registered `iris-classifier` version 2" in waited.stdout  # after the first's version 1, not beside it
    assert len(_versions(url)) == 2


def test_a_holder_killed_with_9_frees_the_lock_on_postgres_and_force_unlock_clears_it_on_s3(
        tmp_path: Path, remote: tuple[str, str]) -> None:
    kind, url = remote
    env = {"MLFORM_BACKEND": url}
    first, second = _clone(tmp_path, "a", trees=3000), _clone(tmp_path, "b")
    running = _start_apply(first, env)
    held = _wait_for_holder(url, running)
    running.send_signal(signal.SIGKILL)
    running.wait()
    if kind == "s3":
        stuck = mlform(second, "apply", ".", "--env", "dev", "--yes", env=env)
        assert stuck.returncode == 1
        assert stuck.stderr.strip().splitlines()[-1].endswith(
            f"lock ID {held.id}; if that run is gone, clear it with `mlform force-unlock {held.id}` (held for "
            f"{stuck.stderr.rsplit('(held for ', 1)[1].strip()}")
        wrong = mlform(second, "force-unlock", "not-the-id", ".", "--env", "dev", env=env)
        assert (wrong.returncode, "does not match" in wrong.stderr) == (1, True)
        cleared = mlform(second, "force-unlock", held.id, ".", "--env", "dev", env=env)
        assert cleared.returncode == 0, cleared.stderr
    started = time.monotonic()
    result = mlform(second, "apply", ".", "--env", "dev", "--yes", "--lock-timeout", "0", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 120
    if kind == "postgres":
        assert f"took over the lock left by apply of pid {running.pid}" in result.stderr


def _state(url: str) -> dict | None:
    backend = open_backend(url)
    try:
        doc = backend.read("state/iris.dev.json")
        return None if doc is None else json.loads(doc.data)
    finally:
        backend.close()


def test_applies_killed_at_random_points_leave_state_that_loads_and_a_reapply_converges(
        tmp_path: Path, remote: tuple[str, str]) -> None:
    kind, url = remote
    env = {"MLFORM_BACKEND": url}
    victim = _clone(tmp_path, "victim")
    spec = victim / "mlform.yaml"
    started = time.monotonic()
    assert mlform(victim, "apply", ".", "--env", "dev", "--yes", env=env).returncode == 0
    duration = time.monotonic() - started
    rng = random.Random(f"{kind}-20261206")
    for trial in range(KILL_TRIALS):
        spec.write_text(spec.read_text().replace(f"n_estimators: {20 + trial}", f"n_estimators: {21 + trial}"))
        process = _start_apply(victim, env)
        time.sleep(rng.uniform(0.1, duration))
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = _state(url)
        assert state is not None and state["serial"] >= 1  # always loads: the old document or the new one
        if kind == "s3":
            holder = open_backend(url).holder(LOCK)
            if holder is not None:
                assert mlform(victim, "force-unlock", holder.id, ".", "--env", "dev", env=env).returncode == 0
    final = mlform(victim, "apply", ".", "--env", "dev", "--yes", env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    plan = mlform(victim, "plan", ".", "--env", "dev", "--detailed-exitcode", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr  # converged: nothing left to do
    audit = mlform(victim, "audit", ".", "--verify", env=env)
    assert audit.returncode == 0 and audit.stdout.startswith("audit log intact: "), audit.stdout + audit.stderr


def _files(root: Path) -> set[str]:
    """Files under the working copy's `.mlform/`, caches aside."""
    folder = root / ".mlform"
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
            and p.name != "statcache.json" and p.relative_to(folder).parts[0] != "cache"}


def _refused_cleanly(root: Path, env: dict[str, str], secret: str) -> str:
    """Run plan and apply against a refusing backend: one `error:` line each, no secret; nothing half-written."""
    before = _files(root)
    lines = []
    for args in (["plan", ".", "--env", "dev"], ["apply", ".", "--env", "dev", "--yes"]):
        done = mlform(root, *args, env=env)
        assert done.returncode == 1
        assert done.stdout == "" and len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: ")
        assert secret not in done.stdout + done.stderr
        lines.append(done.stderr.strip())
    assert _files(root) == before
    assert lines[0] == lines[1]
    return lines[0]


@pytest.mark.parametrize("case", ["wrong password", "server down"])
def test_a_postgres_backend_that_refuses_is_one_error_line(postgres_cluster: Cluster, tmp_path: Path,
                                                           case: str) -> None:
    password = "Sup3r-s3cret-pw" if case == "wrong password" else postgres_cluster.password
    port = postgres_cluster.port if case == "wrong password" else free_port()
    url = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
    line = _refused_cleanly(_clone(tmp_path, "a"), {"MLFORM_BACKEND": url}, password)
    problem = "password authentication failed" if case == "wrong password" else "Connection refused"
    assert line.startswith(f"error: postgres backend postgresql://postgres:***@127.0.0.1:{port}/postgres: ")
    assert problem in line


def test_an_s3_backend_that_refuses_credentials_or_is_down_is_one_error_line(tmp_path: Path) -> None:
    strict = s3_server.start(authenticate=True)
    try:
        env = strict.environment(tmp_path)
        root = _clone(tmp_path, "a")
        secret = env["AWS_SECRET_ACCESS_KEY"]
        denied = _refused_cleanly(root, {**env, "MLFORM_BACKEND": "s3://team-state/iris"}, secret)
        assert denied.startswith("error: s3 backend s3://team-state/iris: access to bucket `team-state` is denied")
        down = {**env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "MLFORM_BACKEND": "s3://team/iris"}
        assert "cannot reach the bucket" in _refused_cleanly(root, down, secret)
    finally:
        strict.stop()
