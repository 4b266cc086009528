"""apply under stress: kill -9 at random points, concurrent applies, and a secret that must never leak."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_plan_apply import mlform, tree

from mlform.compiler.plan.state import StateStore
from mlform.runtime.storage.backends.local import LocalBackend
from mlform.specs.errors import StateError

MLFORM = str(Path(sys.executable).with_name("mlform"))
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _project(tmp_path: Path, name: str, example: str = "iris") -> Path:
    root = tmp_path / name
    shutil.copytree(EXAMPLES / example, root, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _outcome(state_dir: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    state = json.loads((state_dir / "state" / "iris.dev.json").read_text())
    steps = {k: v["fingerprint"] for k, v in state["steps"].items()}
    return steps, state["artifacts"], sorted(state["aliases"])


def _generated(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(root).items() if k.startswith(("deploy/", ".github/"))}


def _toggle_trees(root: Path) -> None:
    spec = root / "mlform.yaml"
    text = spec.read_text()
    swapped = text.replace("n_estimators: 20", "n_estimators: 21")
    spec.write_text(swapped if swapped != text else text.replace("n_estimators: 21", "n_estimators: 20"))


@pytest.mark.integration
@pytest.mark.parametrize("shared", [False, True], ids=["local", "MLFORM_BACKEND"])
def test_kill_9_at_random_points_never_corrupts_and_converges(tmp_path: Path, shared: bool) -> None:
    reference = _project(tmp_path, "reference")
    started = time.monotonic()
    assert mlform(reference, "apply", ".", "--env", "dev", "--yes").returncode == 0
    duration = time.monotonic() - started
    expected = _generated(reference)
    toggled = _project(tmp_path, "toggled")
    _toggle_trees(toggled)
    assert mlform(toggled, "compile", ".", "--env", "dev").returncode == 0
    complete = {name: {content, _generated(toggled)[name]} for name, content in expected.items()}

    victim = _project(tmp_path, "victim")
    backend = tmp_path / "backend" if shared else victim / ".mlform"
    env = {**os.environ, "MLFORM_BACKEND": str(backend)} if shared else None
    rng = random.Random(20261126)
    for _ in range(20):
        process = subprocess.Popen([MLFORM, "apply", ".", "--env", "dev", "--yes"], cwd=victim, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, duration))
        process.send_signal(signal.SIGKILL)
        process.wait()
        state_file = backend / "state" / "iris.dev.json"
        if state_file.exists():
            json.loads(state_file.read_text())  # state always loads
        for name, content in _generated(victim).items():
            if not Path(name).name.startswith("."):  # a temp file beside its target is not the artifact
                assert content in complete[name], f"half-written artifact {name}"
        if mlform(victim, "plan", ".", "--env", "dev", "--detailed-exitcode", env=env).returncode == 0:
            _toggle_trees(victim)  # an apply got through: give the next trial work to interrupt again
    spec = victim / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 21", "n_estimators: 20"))
    final = mlform(victim, "apply", ".", "--env", "dev", "--yes", env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    assert _outcome(backend) == _outcome(reference / ".mlform")
    assert {k: v for k, v in _generated(victim).items() if not Path(k).name.startswith(".")} == expected


def test_a_second_apply_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    root = _project(tmp_path, "busy")
    store = StateStore(LocalBackend(root / ".mlform"), "iris", "dev")
    with store.lock("apply") as held:
        result = mlform(root, "apply", ".", "--env", "dev", "--yes")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: state iris.dev.json is locked: apply by ")
    assert f"(pid {os.getpid()} on " in last
    assert f"lock ID {held.id} (held for " in last  # its age, even without waiting
    with pytest.raises(StateError, match="is not locked"):
        store.force_unlock(held.id)


def test_a_lock_left_by_a_killed_apply_does_not_block_the_next(tmp_path: Path) -> None:
    root = _project(tmp_path, "crashed")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from mlform.compiler.plan.state import StateStore\n"
        "from mlform.runtime.storage.backends.local import LocalBackend\n"
        "store = StateStore(LocalBackend(Path(sys.argv[1])), 'iris', 'dev')\n"
        "with store.lock('apply'):\n    print('held', flush=True); time.sleep(60)\n"),
        str(root / ".mlform")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    result = mlform(root, "apply", ".", "--env", "dev", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"note: took over the lock left by apply of pid {holder.pid}, which has exited" in result.stderr


def test_force_unlock_needs_the_holders_id(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    store = StateStore(LocalBackend(tmp_path), "iris", "dev")
    (folder).mkdir()
    (folder / "iris.dev.lock.json").write_text(json.dumps(
        {"id": "abc", "owner": "ci", "pid": 1, "host": "elsewhere", "created": 0.0, "operation": "apply"}))
    with pytest.raises(StateError, match="^lock ID `xyz` does not match the holder's ID `abc`$"):
        store.force_unlock("xyz")
    held = (r"locked: apply by ci \(pid 1 on elsewhere\) since 1970-01-01 00:00:00 UTC, "
            r"lock ID abc; if that run is gone, clear it with `mlform force-unlock abc`")
    with pytest.raises(StateError, match=held), store.lock("apply"):
        pass
    assert store.force_unlock("abc").host == "elsewhere"
    with store.lock("apply"):
        pass


CANARY = "canary-7f3a9c-s3cr3t"


def test_a_secret_value_never_reaches_artifacts_plans_state_or_logs(tmp_path: Path) -> None:
    root = _project(tmp_path, "fraud", "fraud-detection")
    env = {"FRAUD_WAREHOUSE_URL": f"postgresql://user:{CANARY}@127.0.0.1:1/db"}
    outputs = []
    for fmt in ("text", "json", "markdown"):
        result = mlform(root, "plan", ".", "--env", "dev", "--format", fmt, "--out", f"dev.{fmt}.plan", env=env)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    applied = mlform(root, "apply", "dev.text.plan", env=env)
    assert applied.returncode == 0, applied.stderr
    prod = mlform(root, "plan", ".", "--env", "prod", env=env)  # reads the warehouse: fails, without the URL
    compiled = mlform(root, "compile", ".", env=env)
    outputs += [applied.stdout, applied.stderr, prod.stdout, prod.stderr, compiled.stdout, compiled.stderr]
    assert prod.returncode == 1
    assert "FRAUD_WAREHOUSE_URL" in prod.stderr or "warehouse" in prod.stderr
    for text in outputs:
        assert CANARY not in text
    for name, content in tree(root).items():
        assert CANARY.encode() not in content, name
