"""A team on a remote backend, end to end through the CLI: two clones of one git repository, and the bundled example.

The made-up project (wine data, ExtraTrees, dev and prod) chooses its backend in the spec (`state.backend`), as a
team commits it; the bundled example's main job runs with `MLFORM_BACKEND`, as CI sets it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sklearn.datasets import load_wine

from tests.runtime.storage.backends.conftest import postgres_url, s3_url  # noqa: F401 - fixtures of each kind
from tests.tools.server import get, serving

pytestmark = pytest.mark.integration

MLFORM = str(Path(os.sys.executable).with_name("mlform"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = "wine-cultivar"
SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: wine
  owners: [cellar@example.com]
secrets:
  TEAM_DB: {env: TEAM_DB_URL}
state:
  backend: BACKEND
data:
  sources:
    train: {type: csv, path: data/wine.csv}
    live: {type: csv, path: data/live.csv}
  train_source: train
  target: cultivar
  features: [alcohol, malic_acid, flavanoids, color_intensity, hue, proline]
  split: {method: stratified, test_size: 0.25, seed: 3}
validation:
  on_failure: fail
  columns:
    alcohol: {dtype: float, nullable: false, min: 5, max: 20}
    cultivar: {dtype: string, nullable: false, allowed: [barolo, grignolino, barbera]}
model:
  estimator: sklearn.ensemble.ExtraTreesClassifier
  params: {n_estimators: 15, max_depth: 4, random_state: 0}
evaluation:
  metrics: [accuracy, f1_macro]
  gates:
    accuracy: {min: 0.8}
registry:
  model_name: wine-cultivar
  promote_to: staging
serving:
  mode: online
  port: 8080
monitoring:
  schedule: "0 6 * * *"
  reference: train
  current: live
  drift: {method: psi, threshold: 0.2, max_drifted_share: 0.5}
  on_breach: alert
environments:
  dev:
    model:
      params: {n_estimators: 10}
  prod:
    model:
      params: {n_estimators: 25}
"""
ROW = {"alcohol": 13.2, "malic_acid": 1.8, "flavanoids": 2.9, "color_intensity": 5.1, "hue": 1.0, "proline": 1000.0}


def cli(cwd: Path, *args: object, actor: str = "ci") -> subprocess.CompletedProcess[str]:
    """`mlform ARGS` as a separate process in `cwd`, as `actor`."""
    env = {**os.environ, "MLFORM_ACTOR": actor}
    return subprocess.run([MLFORM, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The output of a command that must succeed."""
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=team", "-c", "user.email=team@example.com", *args], cwd=cwd, check=True,
                   capture_output=True)


def wine_repo(tmp_path: Path, backend: str) -> Path:
    """A bare git repository holding the wine project whose spec names `backend`; its path."""
    work = tmp_path / "origin-work"
    bunch = load_wine(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    (work / "wine" / "data").mkdir(parents=True)
    frame.to_csv(work / "wine" / "data" / "wine.csv", index=False, float_format="%.3f", lineterminator="\n")
    live = frame.sample(n=50, random_state=5)
    live.to_csv(work / "wine" / "data" / "live.csv", index=False, float_format="%.3f", lineterminator="\n")
    (work / "wine" / "mlform.yaml").write_text(SPEC.replace("BACKEND", backend))
    (work / ".gitignore").write_text(".mlform/\n")
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    git(work, "add", "-A")
    git(work, "commit", "-qm", "wine cultivar model")
    git(tmp_path, "clone", "-q", "--bare", str(work), str(tmp_path / "origin.git"))
    return tmp_path / "origin.git"


@pytest.fixture(params=["postgres", "s3"])
def team_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `state.backend` setting of a fresh backend of each remote kind (its URL's secret in the environment)."""
    monkeypatch.delenv("MLFORM_BACKEND", raising=False)
    if request.param == "postgres":
        monkeypatch.setenv("TEAM_DB_URL", request.getfixturevalue("postgres_url"))
        return "{kind: postgres, url: {secret: TEAM_DB}}"
    bucket = request.getfixturevalue("s3_url").split("/")[2]
    return f"{{kind: s3, bucket: {bucket}, prefix: team/wine}}"


def test_two_clones_share_applies_promotions_monitoring_runs_and_the_audit_log(
        tmp_path: Path, team_backend: str) -> None:
    origin = wine_repo(tmp_path, team_backend)
    git(tmp_path, "clone", "-q", str(origin), "alice")
    git(tmp_path, "clone", "-q", str(origin), "bob")
    alice, bob = tmp_path / "alice" / "wine", tmp_path / "bob" / "wine"

    assert f"registered `{MODEL}` version 1" in ok(cli(alice, "apply", ".", "--env", "dev", "--yes", actor="alice"))
    assert f"registered `{MODEL}` version 2" in ok(cli(alice, "apply", ".", "--env", "prod", "--yes", actor="alice"))
    assert not (alice / ".mlform" / "state").exists()  # the state went to the backend

    plan = cli(bob, "plan", ".", "--env", "dev", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run." in plan.stdout
    again = ok(cli(bob, "apply", ".", "--env", "dev", "--yes", actor="bob"))
    assert "No changes. Nothing to apply." in again and "registered" not in again

    promoted = cli(bob, "promote", ".", "--env", "prod", "--version", "2")
    assert promoted.returncode == 0 and "environments.prod.registry.production: unset -> 2" in promoted.stdout
    assert f"`{MODEL}@production`: none -> v2" in ok(cli(bob, "apply", ".", "--env", "prod", "--yes", actor="bob"))
    git(bob.parent, "commit", "-qam", "serve v2 in prod")
    git(bob.parent, "push", "-q", "origin", "main")

    listed = json.loads(ok(cli(alice, "models", "list", ".", "--env", "prod", "--format", "json")))
    assert {v["version"]: v["aliases"] for v in listed[MODEL]}[2] == ["production", "staging"]
    git(alice.parent, "pull", "-q", "origin", "main")
    assert cli(alice, "plan", ".", "--env", "prod", "--detailed-exitcode").returncode == 0  # bob applied it already
    with serving([".", "--env", "prod"], cwd=alice) as port:
        status, body = get(port, "/predict", {"records": [ROW]})
        assert (status, body["model"]) == (200, {"name": MODEL, "version": 2})

    monitored = cli(alice, "monitor", ".", "--env", "dev", "--out", tmp_path / "reports", actor="alice")
    assert monitored.returncode == 0, monitored.stderr
    report = json.loads((tmp_path / "reports" / "monitor.json").read_text())
    runs = [json.loads(ok(cli(copy, "runs", "list", ".", "--format", "json"))) for copy in (alice, bob)]
    assert runs[0] == runs[1]
    assert [(r["env"], r["status"]) for r in reversed(runs[1])] == [
        ("dev", "ran"), ("prod", "ran"), ("prod", "ran"), ("dev", "cached")]  # alice x2, bob's promotion, the monitor
    card = json.loads(ok(cli(bob, "card", ".", "--env", "dev", "--format", "json")))
    assert card["drift"]["latest"]["run_id"] == runs[1][0]["id"]  # bob sees alice's monitoring
    assert card["drift"]["latest"]["drifted"] == report["drift"]["drifted"]

    verified = {ok(cli(copy, "audit", ".", "--verify")) for copy in (alice, bob)}
    assert len(verified) == 1 and verified.pop().startswith("audit log intact: 3 entries, head sha256:")
    entries = json.loads(ok(cli(bob, "audit", ".", "--format", "json")))
    assert [(e["actor"], e["env"], e["result"]) for e in entries] == [
        ("alice", "dev", "applied"), ("alice", "prod", "applied"), ("bob", "prod", "applied")]


DEMO = [  # the `make demo` sequence, on a copy of the bundled example
    ["validate", "."],
    ["graph", ".", "--env", "dev"],
    ["plan", ".", "--env", "dev", "--artifacts-dir", "build", "--out", "build/dev.plan"],
    ["apply", "build/dev.plan"],
    ["plan", ".", "--env", "dev", "--artifacts-dir", "build", "--detailed-exitcode"],
    ["monitor", ".", "--env", "dev", "--out", "build/monitor"],
    ["models", "list", "."],
    ["card", ".", "--env", "dev", "--format", "html", "--output", "build/card.html"],
    ["audit", ".", "--verify"],
]


@pytest.mark.parametrize("kind", ["postgres", "s3"])
def test_the_bundled_examples_main_job_runs_on_each_remote_kind(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFORM_BACKEND", request.getfixturevalue(f"{kind}_url"))
    root = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris", root, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    git(tmp_path, "init", "-q", str(root))
    outputs = [ok(cli(root, *args)) for args in DEMO]
    assert "registered `iris-classifier` version 1" in outputs[3]
    assert "iris-classifier" in outputs[6] and "dev:staging=v1" in outputs[6]
    assert outputs[8].startswith("audit log intact: 1 entry, head sha256:")
    assert (root / "build" / "card.html").read_text().startswith("<!DOCTYPE html>")
    assert not (root / ".mlform" / "state").exists() and not (root / ".mlform" / "audit").exists()


def test_a_teammates_plan_says_why_a_step_runs_whatever_folder_the_clone_is_in(
        tmp_path: Path, team_backend: str) -> None:
    origin = wine_repo(tmp_path, team_backend)
    git(tmp_path, "clone", "-q", str(origin), "laptop")
    git(tmp_path, "clone", "-q", str(origin), "runner")
    laptop, runner = tmp_path / "laptop" / "wine", tmp_path / "runner" / "wine"
    ok(cli(laptop, "apply", ".", "--env", "dev", "--yes", actor="alice"))

    spec = runner / "mlform.yaml"
    spec.write_text(spec.read_text().replace("params: {n_estimators: 10}", "params: {n_estimators: 12}"))
    plan = ok(cli(runner, "plan", ".", "--env", "dev"))  # the records of the laptop's apply say what changed
    assert "> train                                    `model.params.n_estimators` changed: 10 -> 12" in plan
    assert "> evaluate                                 upstream `train` changed" in plan
    assert "no previous run" not in plan
    card = json.loads(ok(cli(runner, "card", ".", "--env", "dev", "--format", "json")))
    live = next(source for source in card["data"]["sources"] if source["name"] == "live")
    assert live["digest"], live  # its content digest comes from the same records


@pytest.mark.parametrize("kind", ["postgres", "s3"])
def test_after_the_team_set_up_migration_another_clone_has_nothing_to_run(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFORM_BACKEND", raising=False)
    origin = wine_repo(tmp_path, "{kind: local}")
    git(tmp_path, "clone", "-q", str(origin), "laptop")
    git(tmp_path, "clone", "-q", str(origin), "runner")
    laptop, runner = tmp_path / "laptop" / "wine", tmp_path / "runner" / "wine"
    ok(cli(laptop, "apply", ".", "--env", "dev", "--yes", actor="alice"))  # state in the laptop's .mlform/

    url = request.getfixturevalue(f"{kind}_url")
    migrated = ok(cli(laptop.parent, "state", "migrate", "--to", url, "wine/"))
    assert "step outputs" in migrated, migrated
    monkeypatch.setenv("MLFORM_BACKEND", url)
    for clone in (laptop, runner):
        plan = cli(clone, "plan", ".", "--env", "dev", "--detailed-exitcode")
        assert plan.returncode == 0, plan.stdout + plan.stderr  # nothing retrains, nothing registers again
        assert "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run." in plan.stdout
    assert "registered" not in ok(cli(runner, "apply", ".", "--env", "dev", "--yes", actor="ci"))
    monkeypatch.delenv("MLFORM_BACKEND")
    again = ok(cli(laptop.parent, "state", "migrate", "--to", url, "wine/"))
    assert again.rstrip().endswith("already there") and ": 0 copied," in again  # a second run copies nothing


HOLD = """
import sys, time
from mlform.runtime.storage.backends.url import open_backend
with open_backend(sys.argv[1]).lock("state/wine.dev", "apply") as info:
    print(info.id, flush=True)
    time.sleep(120)
"""


def test_the_force_unlock_an_s3_lock_error_names_clears_a_killed_runs_lock(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("s3_url")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    clone = wine_repo(tmp_path, f"{{kind: s3, bucket: {bucket}, prefix: {prefix}}}").parent / "origin-work" / "wine"
    holder = subprocess.Popen([os.sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        held = holder.stdout.readline().strip()
    finally:
        holder.kill()  # a runner killed with -9 leaves its S3 lock behind
        holder.wait()
    refused = cli(clone, "apply", ".", "--env", "dev", "--yes")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    hinted = re.findall(r"clear it with `mlform ([^`]+)`", refused.stderr)
    assert hinted == [f"force-unlock {held}"], refused.stderr
    cleared = cli(clone, *hinted[0].split())  # as the error says, from where the apply ran
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.startswith("Removed the lock held by apply by ") and f"pid {holder.pid}" in cleared.stdout
    assert "registered `wine-cultivar` version 1" in ok(cli(clone, "apply", ".", "--env", "dev", "--yes"))
    missing = cli(clone, "force-unlock", held)
    assert (missing.returncode, missing.stderr) == (1, f"error: no state of mlform.yaml is locked with ID {held}\n")
