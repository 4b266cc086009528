"""plan / apply / state: exact plans, refusals of stale or foreign plans, locking, and secrets kept out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MLFORM = [str(Path(sys.executable).with_name("mlform"))]


def mlform(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in `cwd`."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run([*MLFORM, *args], cwd=cwd, capture_output=True, text=True, env=merged, timeout=300)


@pytest.fixture
def project(iris_project: Path) -> Path:
    """The iris example as its own project root (a git repo), with no generated files yet."""
    root = iris_project.parent
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Every file below `root` (except .git) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def compiled_files(project: Path) -> int:
    """How many files `mlform compile` writes for dev (into a folder of its own, removed after)."""
    out = project / "expected-build"
    compiled = mlform(project, "compile", ".", "--env", "dev", "--out", out.name)
    assert compiled.returncode == 0, compiled.stderr
    files = sum(1 for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    return files


def first_plan_summary(project: Path) -> str:
    """The summary a first plan of dev must print, counted from other commands: every file `compile` writes and
    the spec's `registry.promote_to` alias to add, every step of `graph` to run."""
    files = compiled_files(project)
    steps = len(json.loads(mlform(project, "graph", ".", "--env", "dev", "--format", "json").stdout)["steps"])
    return f"Plan: {files + 1} to add, 0 to change, 0 to destroy; {steps} steps to run."


def test_plan_writes_nothing_but_the_plan_file(project: Path) -> None:
    expected = first_plan_summary(project)
    before = tree(project)
    result = mlform(project, "plan", ".", "--env", "dev", "--out", "dev.plan")
    assert result.returncode == 0, result.stderr
    after = tree(project)
    assert set(after) - set(before) == {"dev.plan"}
    assert all(after[name] == content for name, content in before.items())
    assert result.stdout.splitlines()[-1] == expected


def test_apply_then_plan_is_a_no_op_and_a_change_names_its_reason(project: Path) -> None:
    assert mlform(project, "apply", ".", "--env", "dev", "--yes").returncode == 0
    quiet = mlform(project, "plan", ".", "--env", "dev", "--detailed-exitcode")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stdout.splitlines()[-1] == "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run."
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimators: 30"))
    changed = mlform(project, "plan", ".", "--env", "dev", "--detailed-exitcode", "--format", "json")
    assert changed.returncode == 2
    plan = json.loads(changed.stdout)["plans"][0]
    steps = {c["address"]: c for c in plan["changes"] if c["kind"] == "step"}
    assert steps["train"]["action"] == "run"
    assert steps["train"]["reason"] == "`model.params.n_estimators` changed: 20 -> 30"
    assert steps["evaluate"]["reason"] == "upstream `train` changed"
    assert steps["split"]["action"] == "noop"
    aliases = [c for c in plan["changes"] if c["kind"] == "alias"]
    assert [(a["address"], a["before"]) for a in aliases] == [("iris-classifier@staging", "v1")]


def _compiled(project: Path, *target: str) -> set[str]:
    """The files `compile --env dev` writes for `target` (all targets when none), relative to the project root."""
    out = project / "expected-build"
    compiled = mlform(project, "compile", ".", "--env", "dev", "--out", out.name, *target)
    assert compiled.returncode == 0, compiled.stderr
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    shutil.rmtree(out)
    return files


def test_target_limits_plan_and_apply_to_the_files_of_those_targets(project: Path) -> None:
    docker, every = _compiled(project, "--target", "docker"), _compiled(project)
    assert docker and docker < every  # the other targets write files of their own
    planned = mlform(project, "plan", ".", "--env", "dev", "--target", "docker", "--format", "json")
    assert planned.returncode == 0, planned.stderr
    changes = json.loads(planned.stdout)["plans"][0]["changes"]
    assert {c["address"] for c in changes if c["kind"] == "artifact"} == docker
    before = tree(project)
    applied = mlform(project, "apply", ".", "--env", "dev", "--target", "docker", "--yes")
    assert applied.returncode == 0, applied.stderr
    written = {name for name in set(tree(project)) - set(before) if not name.startswith(".mlform/")}
    assert written == docker
    state = json.loads((project / ".mlform" / "state" / "iris.dev.json").read_text())
    assert set(state["artifacts"]) == docker


def _edit_spec(project: Path) -> None:
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimators: 25"))


def _edit_data(project: Path) -> None:
    data = project / "data" / "iris.csv"
    data.write_text(data.read_text().replace("5.1,3.5,1.4,0.2", "5.2,3.5,1.4,0.2", 1))


def _apply_elsewhere(project: Path) -> None:
    _edit_spec(project)
    assert mlform(project, "apply", ".", "--env", "dev", "--yes").returncode == 0
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 25", "n_estimators: 20"))


@pytest.mark.parametrize(("first_apply", "change", "message"), [
    (True, _edit_spec, "error: the spec `mlform.yaml` (dev) changed since the plan was made; run `mlform plan` again"),
    (True, _edit_data,
     "error: data file `data/iris.csv` changed since the plan was made; run `mlform plan` again"),
    (True, _apply_elsewhere,
     "error: saved plan is stale: the state of `mlform.yaml` (dev) moved from serial {serial} to {later} since the "
     "plan was made; run `mlform plan` again"),
    (False, lambda p: mlform(p, "apply", ".", "--env", "dev", "--yes"),
     "error: the plan was made when `mlform.yaml` (dev) had no state, but state now exists (serial {later}); "
     "run `mlform plan` again"),
])
def test_apply_refuses_a_plan_that_no_longer_fits(project: Path, first_apply: bool, change, message: str) -> None:
    if first_apply:
        assert mlform(project, "apply", ".", "--env", "dev", "--yes").returncode == 0
    assert mlform(project, "plan", ".", "--env", "dev", "--out", "saved.plan").returncode == 0
    serial = json.loads((project / "saved.plan").read_text())["plans"][0]["serial"]
    change(project)
    state = project / ".mlform" / "state" / "iris.dev.json"
    later = json.loads(state.read_text())["serial"] if state.exists() else None
    before = tree(project)
    result = mlform(project, "apply", "saved.plan")
    assert result.returncode == 1
    assert result.stderr.strip() == message.format(serial=serial, later=later)
    assert "Traceback" not in result.stderr
    after, log = tree(project), ".mlform/audit/log.jsonl"  # the refusal is audited; nothing else changes
    assert json.loads(after.pop(log).splitlines()[-1])["result"] == "refused"
    before.pop(log, None)
    assert after == before


def test_apply_refuses_a_plan_for_another_lineage(project: Path) -> None:
    assert mlform(project, "apply", ".", "--env", "dev", "--yes").returncode == 0
    assert mlform(project, "plan", ".", "--env", "dev", "--out", "saved.plan").returncode == 0
    state = project / ".mlform" / "state" / "iris.dev.json"
    data = json.loads(state.read_text())
    saved_lineage = data["lineage"]
    data["lineage"] = "00000000-0000-4000-8000-000000000000"
    state.write_text(json.dumps(data))
    result = mlform(project, "apply", "saved.plan")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: the plan does not match the state of `mlform.yaml` (dev): it was made for lineage {saved_lineage}, "
        "the state has lineage 00000000-0000-4000-8000-000000000000")


def test_apply_without_a_terminal_needs_yes(project: Path) -> None:
    result = mlform(project, "apply", ".", "--env", "dev")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: refusing to apply without confirmation: pass --yes, or apply a saved plan file")
    assert not (project / ".mlform" / "state").exists()


def test_a_saved_plan_applies_exactly_and_records_state(project: Path) -> None:
    assert mlform(project, "plan", ".", "--env", "dev", "--out", "saved.plan").returncode == 0
    planned = json.loads((project / "saved.plan").read_text())["plans"][0]
    result = mlform(project, "apply", "saved.plan")
    assert result.returncode == 0, result.stderr
    state = json.loads((project / ".mlform" / "state" / "iris.dev.json").read_text())
    runs = {c["address"]: c["after"] for c in planned["changes"] if c["kind"] == "step"}
    assert {k: v["fingerprint"] for k, v in state["steps"].items()} == runs
    files = {c["address"]: c["after"] for c in planned["changes"] if c["kind"] == "artifact"}
    assert state["artifacts"] == files
    assert state["aliases"] == {"iris-classifier@staging": 1}
    shown = mlform(project, "state", "show", ".", "--env", "dev")
    assert json.loads(shown.stdout)["lineage"] == state["lineage"]


_NOT_A_PLAN_TAIL = ("a saved plan is what `mlform plan --out FILE` writes. `mlform apply` also takes a spec file or a "
                    "folder of `mlform.yaml` files, which it plans and applies after confirmation")


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("notes.txt", "remember to retrain\n", ""),
        ("dev.plan", "- not\n- a plan\n", ""),
        ("other.json", '{"name": "x"}\n', ": it has no `format_version`"),
        ("broken.plan", '{"format_version": 1, "plans": [\n', ": not JSON: Expecting value: line 2 column 1 (char 33)"),
    ],
)
def test_apply_of_a_file_that_is_not_a_plan_says_so(tmp_path: Path, run_mlform, name: str, content: str,
                                                      why: str) -> None:
    (tmp_path / name).write_text(content)

    result = run_mlform("apply", name, "--yes", cwd=tmp_path)

    assert (result.code, result.out) == (1, "")
    assert result.err == f"error: `{name}` is not a saved plan{why}; {_NOT_A_PLAN_TAIL}\n"


def test_apply_of_a_validate_report_is_not_taken_for_a_plan(iris_project: Path, run_mlform) -> None:
    report = iris_project.parent / "report.json"
    report.write_text(run_mlform("validate", iris_project, "--format", "json").out)

    result = run_mlform("apply", report, "--yes")

    assert result.code == 1
    assert result.err == f"error: `{report}` is not a saved plan: it has no `inputs`; {_NOT_A_PLAN_TAIL}\n"
