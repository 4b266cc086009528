"""Two working copies on one backend (`MLFORM_BACKEND`): shared state, lock, receipts' freshness, and migration."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_plan_apply import MLFORM, mlform, tree

from mlform.compiler.plan.state import StateStore
from mlform.runtime.storage.backends.url import open_backend

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _clone(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(EXAMPLES / "iris", root, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _plan(root: Path, env: dict[str, str]) -> dict:
    result = mlform(root, "plan", ".", "--env", "dev", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["plans"][0]


def test_a_working_copy_sees_the_others_apply_and_its_receipt_goes_stale(tmp_path: Path) -> None:
    shared = {"MLFORM_BACKEND": str(tmp_path / "team-state")}
    first, second = _clone(tmp_path, "a"), _clone(tmp_path, "b")
    assert mlform(first, "apply", ".", "--env", "dev", "--yes", env=shared).returncode == 0
    applied = _plan(first, shared)  # a no-op, answered from the receipt
    assert not (first / ".mlform" / "state").exists()
    spec = second / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimators: 30"))
    result = mlform(second, "apply", ".", "--env", "dev", "--yes", env=shared)
    assert result.returncode == 0, result.stderr
    after = json.loads((tmp_path / "team-state" / "state" / "iris.dev.json").read_text())
    assert after["lineage"] == applied["lineage"]  # one state, continued by the second copy
    assert after["serial"] > applied["serial"]
    seen = _plan(first, shared)  # the receipt recorded the state before the other copy's apply
    assert (seen["lineage"], seen["serial"]) == (after["lineage"], after["serial"])
    assert any(c["action"] != "noop" for c in seen["changes"] if c["kind"] == "step")


def test_a_waiting_apply_names_the_holder_and_one_that_waits_long_enough_proceeds(tmp_path: Path) -> None:
    shared = {"MLFORM_BACKEND": str(tmp_path / "team-state")}
    root = _clone(tmp_path, "b")
    store = StateStore(open_backend(shared["MLFORM_BACKEND"]), "iris", "dev")
    with store.lock("apply") as held:
        started = time.monotonic()
        refused = mlform(root, "apply", ".", "--env", "dev", "--yes", "--lock-timeout", "1s", env=shared)
        waited = time.monotonic() - started
    assert refused.returncode == 1
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("error: state iris.dev.json is locked: apply by ")
    assert f"lock ID {held.id} (waited 1s, held for " in last
    assert waited >= 1
    assert not (tmp_path / "team-state" / "state" / "iris.dev.json").exists()

    release = threading.Event()

    def hold() -> None:
        with store.lock("apply"):
            release.wait(30)
            time.sleep(1)

    holder = threading.Thread(target=hold)
    holder.start()
    release.set()
    try:
        result = mlform(root, "apply", ".", "--env", "dev", "--yes", "--lock-timeout", "30s", env=shared)
    finally:
        holder.join()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("given", "message"), [
    ("soon", "Invalid value for '--lock-timeout': `soon` is not a duration: use e.g. `30s`, `5m`, `1h` or `0`"),
    ("-5s", "Invalid value for '--lock-timeout': `-5s` is not a duration: use e.g. `30s`, `5m`, `1h` or `0`"),
])
def test_a_bad_lock_timeout_is_a_usage_error(tmp_path: Path, given: str, message: str) -> None:
    root = _clone(tmp_path, "b")
    result = mlform(root, "apply", ".", "--env", "dev", "--yes", "--lock-timeout", given)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"Error: {message}"


def _digests(folder: Path) -> dict[str, str]:
    """Every file's digest, SQLite's shared-memory and write-ahead files aside (opening a database makes them)."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in tree(folder).items()
            if not name.endswith(("-shm", "-wal"))}


def test_migrate_copies_verifies_is_idempotent_reverses_and_reports_conflicts(tmp_path: Path) -> None:
    root = _clone(tmp_path, "a")
    assert mlform(root, "apply", ".", "--env", "dev", "--yes").returncode == 0
    local = root / ".mlform"
    before = _digests(local)
    team = tmp_path / "team"
    moved = mlform(root, "state", "migrate", "--to", str(team))
    assert moved.returncode == 0, moved.stderr
    registry = {k for k in tree(local / "registry") if not Path(k).name.startswith(".")}
    with sqlite3.connect(local / "tracking.db") as db:
        runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    steps = len(json.loads((local / "state" / "iris.dev.json").read_text())["steps"])
    count = len(registry) + 1 + 1 + 1 + runs + steps  # registry files, state, record, audit log, runs, step outputs
    assert f": {count} copied (1 audit log, " in moved.stdout
    assert _digests(local) == before  # the source is only read
    for key in ("state/iris.dev.json", "audit/log.jsonl", *(f"registry/{k}" for k in registry)):
        assert (team / key).read_bytes() == (local / key).read_bytes(), key
    again = mlform(root, "state", "migrate", "--to", str(team))
    assert again.stdout.strip().endswith(f": 0 copied, {count} already there")

    back = tmp_path / "back"
    reverse = mlform(root, "state", "migrate", "--from", str(team), "--to", str(back))
    assert reverse.returncode == 0, reverse.stderr
    runs = mlform(root, "runs", env={"MLFORM_HOME": str(back)})
    assert runs.stdout == mlform(root, "runs").stdout
    assert (back / "state" / "iris.dev.json").read_bytes() == (local / "state" / "iris.dev.json").read_bytes()

    edited = team / "state" / "iris.dev.json"
    edited.write_text(edited.read_text().replace('"serial"', '"serial" ', 1))
    clash = mlform(root, "state", "migrate", "--to", str(team))
    assert clash.returncode == 1
    assert clash.stderr.strip() == (f"error: 1 conflict, left as they are: state/iris.dev.json: differs in local "
                                    f"state in {team}")
    assert '"serial" ' in edited.read_text()


def test_migrating_from_a_state_folder_that_holds_nothing_says_so_and_names_from(tmp_path: Path) -> None:
    root = _clone(tmp_path, "a")  # a fresh clone: its spec's state is elsewhere, its `.mlform/` empty
    result = mlform(root, "state", "migrate", "--to", str(tmp_path / "local"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: nothing to copy: local state in {root / '.mlform'} holds no state; name the backend that does with "
        "`--from BACKEND`")
    shared = {"MLFORM_BACKEND": str(tmp_path / "team-state")}
    assert mlform(root, "apply", ".", "--env", "dev", "--yes", env=shared).returncode == 0
    moved = mlform(root, "state", "migrate", "--from", shared["MLFORM_BACKEND"], "--to", str(tmp_path / "local"))
    assert moved.returncode == 0, moved.stderr


HOLD = """
import sys, time
from mlform.compiler.plan.state import StateStore
from mlform.runtime.storage.backends.url import open_backend
with StateStore(open_backend(sys.argv[1]), "iris", "dev").lock("apply") as held:
    print(held.id, flush=True)
    time.sleep(60)
"""


def test_a_held_lock_names_its_actor_as_the_audit_log_does(tmp_path: Path) -> None:
    shared = {"MLFORM_BACKEND": str(tmp_path / "team-state")}
    root = _clone(tmp_path, "b")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, shared["MLFORM_BACKEND"]], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "MLFORM_ACTOR": "alice"})
    try:
        assert holder.stdout is not None
        held = holder.stdout.readline().strip()
        refused = mlform(root, "apply", ".", "--env", "dev", "--yes", env=shared)
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 1
    assert f"is locked: apply by alice (pid {holder.pid} on " in refused.stderr
    assert f"lock ID {held}" in refused.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="running as a uid without a passwd entry needs root (setpriv)")
def test_apply_runs_as_a_uid_without_a_passwd_entry(open_folder: Path) -> None:
    uid = next(n for n in range(10001, 10100) if not _has_passwd_entry(n))  # as the generated images' USER
    root = _clone(open_folder, "b")
    for path in (open_folder, *open_folder.rglob("*")):
        path.chmod(0o777)
    env = {"PATH": os.environ["PATH"], "HOME": str(open_folder), "XDG_CACHE_HOME": str(open_folder / ".cache")}
    done = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *MLFORM, "apply", ".",
                           "--env", "dev", "--yes"], cwd=root, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr  # the lock's holder record named a user it could not find
    entry = json.loads((root / ".mlform" / "audit" / "log.jsonl").read_text().splitlines()[-1])
    assert entry["actor"] == f"uid {uid}"


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A temporary folder every user can reach (pytest's own are private to the user running the tests)."""
    folder = Path(tempfile.mkdtemp(prefix="mlform-uid-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _has_passwd_entry(uid: int) -> bool:
    import pwd

    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True
