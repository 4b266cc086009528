"""Plan receipts: after apply, an unchanged spec's plan comes from its receipt without heavy imports; any change
to what the plan depends on takes the full path, which shows the change.

The fast path is observed, not timed: each plan runs the real CLI in a fresh process that reports which
heavy packages (pydantic, scikit-learn, pandas, jinja2, networkx) it imported.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_plan_apply import mlform

REPO = Path(__file__).resolve().parents[3]
ARGS = ("--artifacts-dir", "out", "--detailed-exitcode")
HEAVY = ("jinja2", "networkx", "pandas", "pydantic", "sklearn")
# what the full path loads: the spec models and the artifact renderer, but no scikit-learn (its index answers),
# pandas, or networkx (the plan draws no graph)
FULL = ["jinja2", "pydantic"]
PROBE = f"""\
import json, sys
from mlform.compiler.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
print(json.dumps({{"exit": code, "heavy": heavy}}), file=sys.stderr)
"""
Plans = dict[str, dict[str, Any]]  # environment -> plan as JSON data


@dataclass(frozen=True)
class Planned:
    """One `mlform plan` run: exit code, the heavy packages it imported, and its output."""

    exit: int
    heavy: list[str]
    stdout: str

    @property
    def fast(self) -> bool:
        """Answered from receipts: none of the heavy packages was imported."""
        return not self.heavy

    def plans(self) -> Plans:
        """Environment -> plan, from `--format json` output."""
        return {p["env"]: p for p in json.loads(self.stdout)["plans"]}


def plan(project: Path, *args: str) -> Planned:
    """Run `mlform plan . --artifacts-dir out --detailed-exitcode ARGS` in a fresh process in `project`."""
    done = subprocess.run([sys.executable, "-c", PROBE, "plan", ".", *ARGS, *args], cwd=project,
                          capture_output=True, text=True, timeout=300)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return Planned(report["exit"], report["heavy"], done.stdout)


def _copy(root: Path, name: str = "iris") -> Path:
    project = root / name
    shutil.copytree(REPO / "examples" / "iris", project, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    return project


def _repo(root: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _apply(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = mlform(project, "apply", ".", "--artifacts-dir", "out", "--yes", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris example as a git repo, applied in every environment; each test leaves it as it found it."""
    project = _repo(_copy(tmp_path_factory.mktemp("receipts")))
    _apply(project)
    return project


def test_after_apply_the_plan_comes_from_receipts_and_equals_the_full_plan(applied: Path) -> None:
    fast = plan(applied, "--format", "json")
    assert (fast.exit, fast.heavy) == (0, [])
    receipts = applied / ".mlform" / "plan-receipts"
    receipts.rename(applied / ".mlform" / "set-aside")
    try:
        full = plan(applied, "--format", "json")
    finally:
        (applied / ".mlform" / "set-aside").rename(receipts)
    assert (full.exit, full.heavy) == (0, FULL)
    assert fast.stdout == full.stdout
    assert set(fast.plans()) == {"dev", "prod"}


Undo = Callable[[], None]


def _rewrite(path: Path, change: Callable[[str], str]) -> Undo:
    """Change a text file; the undo restores its bytes (a new mtime, the same content)."""
    before = path.read_bytes()
    after = change(before.decode())
    assert after != before.decode()
    path.write_text(after)
    return lambda: path.write_bytes(before)


def _edit_spec(project: Path) -> Undo:
    return _rewrite(project / "mlform.yaml", lambda t: t.replace("n_estimators: 20", "n_estimators: 25"))


def _add_environment(project: Path) -> Undo:
    return _rewrite(project / "mlform.yaml", lambda t: t.replace(
        "environments:\n", "environments:\n  staging:\n    model:\n      params:\n        n_estimators: 10\n"))


def _edit_data(project: Path) -> Undo:
    """Same size, new bytes; the undo restores the bytes, not the mtime (data is checked by content then)."""
    return _rewrite(project / "data" / "iris.csv", lambda t: t.replace("5.1,3.5,1.4,0.2", "5.2,3.5,1.4,0.2", 1))


SERVICE = "deploy/iris/dev/kubernetes/service.yaml"


def _edit_artifact(project: Path) -> Undo:
    return _rewrite(project / "out" / SERVICE, lambda t: t + "# tuned by hand\n")


def _delete_artifact(project: Path) -> Undo:
    path = project / "out" / SERVICE
    before = path.read_bytes()
    path.unlink()
    return lambda: path.write_bytes(before)


def _orphan_beside(project: Path) -> Undo:
    """A file the dev spec once generated, next to those it generates now."""
    orphan = project / "out" / "deploy/iris/dev/kubernetes/old.yaml"
    shutil.copy(project / "out" / SERVICE, orphan)
    return orphan.unlink


def _orphan_among_many(project: Path) -> Undo:
    """Same, in the workflow folder every spec writes to, among many files of others (the indexed case)."""
    folder = project / "out" / ".github" / "workflows"
    added = [folder / f"other-{i:02d}.yml" for i in range(40)]
    for path in added:
        path.write_text("name: someone else's workflow\n")
    orphan = folder / "mlform-iris-old-dev-pr.yml"
    shutil.copy(folder / "mlform-iris-dev-pr.yml", orphan)
    added.append(orphan)

    def remove() -> None:
        for path in added:
            path.unlink()
    return remove


def _state_file(project: Path) -> Path:
    return project / ".mlform" / "state" / "iris.dev.json"


def _move_serial(project: Path) -> Undo:
    def bump(text: str) -> str:
        data = json.loads(text)
        data["serial"] += 1
        return json.dumps(data)
    return _rewrite(_state_file(project), bump)


def _remove_output(project: Path) -> Undo:
    fingerprint = json.loads(_state_file(project).read_text())["steps"]["train"]["fingerprint"]
    marker = project / ".mlform" / "store" / fingerprint[:2] / fingerprint / "_complete.json"
    aside = marker.with_name("set-aside")
    marker.rename(aside)
    return lambda: aside.rename(marker)


def _receipt(project: Path, env: str | None) -> Path:
    found = [p for p in (project / ".mlform" / "plan-receipts").iterdir()
             if p.name.count(".") == (1 if env is None else 2) and (env is None or f".{env}." in p.name)]
    assert len(found) == 1
    return found[0]


def _other_mlform(project: Path) -> Undo:
    def older(text: str) -> str:
        data = json.loads(text)
        data["toolchain"]["mlform"] = "0.0.1"
        return json.dumps(data)
    return _rewrite(_receipt(project, "dev"), older)


def _other_sklearn(project: Path) -> Undo:
    def older(text: str) -> str:
        data = json.loads(text)
        data["packages"]["scikit-learn"] = "1.0.0"
        return json.dumps(data)
    return _rewrite(_receipt(project, None), older)


def _changes(plan_data: dict[str, Any], kind: str) -> dict[str, tuple[str, str]]:
    return {c["address"]: (c["action"], c["reason"]) for c in plan_data["changes"]
            if c["kind"] == kind and c["action"] != "noop"}


def _expect_spec_edit(plans: Plans, project: Path) -> None:
    assert _changes(plans["dev"], "step")["train"] == ("run", "`model.params.n_estimators` changed: 20 -> 25")
    assert not _changes(plans["prod"], "step")


def _expect_new_environment(plans: Plans, project: Path) -> None:
    assert set(plans) == {"dev", "staging", "prod"}
    created = _changes(plans["staging"], "artifact")
    assert created and {action for action, _ in created.values()} == {"create"}


def _expect_data_edit(plans: Plans, project: Path) -> None:
    reasons = [reason for _, reason in _changes(plans["dev"], "step").values()]
    assert "data `data/iris.csv` changed" in reasons


def _expect_artifact(action: str, reason: str, address: str = SERVICE) -> Callable[[Plans, Path], None]:
    def check(plans: Plans, project: Path) -> None:
        assert _changes(plans["dev"], "artifact") == {address: (action, reason)}
    return check


def _expect_serial(plans: Plans, project: Path) -> None:
    assert plans["dev"]["serial"] == json.loads(_state_file(project).read_text())["serial"] + 1


def _expect_output_missing(plans: Plans, project: Path) -> None:
    assert _changes(plans["dev"], "step")["train"] == (
        "run", "output missing: the last run did not complete or its output was removed")


def _expect_nothing(plans: Plans, project: Path) -> None:
    assert not any(p["summary"] != "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run."
                   for p in plans.values())


@pytest.mark.parametrize(("change", "exit_code", "expect"), [
    (_edit_spec, 2, _expect_spec_edit),
    (_add_environment, 2, _expect_new_environment),
    (_edit_data, 2, _expect_data_edit),
    (_edit_artifact, 2, _expect_artifact("update", "hand-edited since the last apply")),
    (_delete_artifact, 2, _expect_artifact("create", "new file")),
    (_orphan_beside, 2, _expect_artifact("delete", "no longer generated", "deploy/iris/dev/kubernetes/old.yaml")),
    (_orphan_among_many, 2,
     _expect_artifact("delete", "no longer generated", ".github/workflows/mlform-iris-old-dev-pr.yml")),
    (_move_serial, 0, _expect_serial),
    (_remove_output, 2, _expect_output_missing),
    (_other_mlform, 0, _expect_nothing),
    (_other_sklearn, 0, _expect_nothing),
], ids=["spec-edited", "environment-added", "data-edited", "artifact-edited", "artifact-deleted", "orphan",
        "orphan-in-shared-folder", "state-serial-moved", "step-output-removed", "other-mlform", "other-scikit-learn"])
def test_a_change_takes_the_full_path_and_the_plan_shows_it(
        applied: Path, change: Callable[[Path], Undo], exit_code: int, expect: Callable[[Plans, Path], None]) -> None:
    assert plan(applied).fast
    undo = change(applied)
    try:
        changed = plan(applied, "--format", "json")
    finally:
        undo()
    assert (changed.exit, changed.heavy) == (exit_code, FULL)
    expect(changed.plans(), applied)
    restored = plan(applied)
    assert (restored.exit, restored.fast) == (0, True)


def test_changed_templates_take_the_full_path(tmp_path: Path) -> None:
    project = _repo(_copy(tmp_path))
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates" / "docker", templates / "docker")
    _apply(project, "--env", "dev", "--templates", str(templates))
    assert plan(project, "--env", "dev", "--templates", str(templates)).fast
    ignore = templates / "docker" / "dockerignore.j2"
    ignore.write_text(ignore.read_text() + "*.secret\n")
    changed = plan(project, "--env", "dev", "--templates", str(templates), "--format", "json")
    assert (changed.exit, changed.fast) == (2, False)
    updated = _changes(changed.plans()["dev"], "artifact")
    assert updated and all(a.endswith(".dockerignore") and action == "update" for a, (action, _) in updated.items())
    assert not plan(project, "--env", "dev").fast  # other inputs than those applied


def test_apply_applies_only_changed_specs_and_records_receipts_for_the_rest(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo")
    first, second = _copy(root, "first"), _copy(root, "second")
    spec = second / "mlform.yaml"
    spec.write_text(spec.read_text().replace("name: iris\n", "name: iris-two\n").replace(
        "model_name: iris-classifier", "model_name: iris-two"))
    _apply(root, "--env", "dev")
    second_state = second / ".mlform" / "state" / "iris-two.dev.json"
    serial = json.loads(second_state.read_text())["serial"]
    shutil.rmtree(second / ".mlform" / "plan-receipts")
    _edit_spec(first)
    applied = _apply(root, "--env", "dev")
    assert [line.split(":")[0] for line in applied.stdout.splitlines() if line.startswith("Applied ")] == [
        "Applied first/mlform.yaml (dev)"]
    assert json.loads(second_state.read_text())["serial"] == serial
    after = plan(root, "--env", "dev")
    assert (after.exit, after.fast) == (0, True)
    again = _apply(root, "--env", "dev")
    assert again.stdout.splitlines()[-1] == "No changes. Nothing to apply."
    assert json.loads(second_state.read_text())["serial"] == serial


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def test_a_spec_reading_a_sql_source_gets_no_receipt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _repo(_copy(tmp_path))
    database = tmp_path / "warehouse.db"
    with (project / "data" / "live.csv").open() as handle, sqlite3.connect(database) as conn:
        header, *rows = list(csv.reader(handle))
        conn.execute(f"CREATE TABLE live ({', '.join(header)})")
        conn.executemany(f"INSERT INTO live VALUES ({', '.join('?' * len(header))})",
                         [[_number(value) for value in row] for row in rows])
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace(
        "      type: csv\n      path: data/live.csv\n",
        "      type: sql\n      url: {secret: warehouse}\n      table: live\n").replace(
        "\nenvironments:\n", "\nsecrets:\n  warehouse:\n    env: IRIS_WAREHOUSE_URL\n"
                             "    kubernetes: {secret: warehouse, key: url}\n\nenvironments:\n"))
    monkeypatch.setenv("IRIS_WAREHOUSE_URL", f"sqlite:///{database}")
    _apply(project, "--env", "dev")
    assert not (project / ".mlform" / "plan-receipts").exists()
    again = plan(project, "--env", "dev")
    assert (again.exit, again.fast) == (0, False)


POLICY = """\
apiVersion: mlform/v1
kind: Policy
rules:
  - name: prod-replicas
    environments: [prod]
    require:
      serving.replicas: {min: 2}
"""


def test_adding_or_editing_a_policy_takes_the_full_path_which_checks_it(applied: Path) -> None:
    assert plan(applied).fast
    policy = applied / "mlform-policy.yaml"
    policy.write_text(POLICY)  # the iris example satisfies it
    try:
        added = plan(applied)
        assert (added.exit, added.fast) == (0, False)
        _apply(applied)  # nothing to change; the receipts now record the policy's digest
        assert plan(applied).fast
        policy.write_text(POLICY.replace("{min: 2}", "{min: 3}"))
        edited = plan(applied)
        assert (edited.exit, edited.fast) == (1, False)
        shown = mlform(applied, "plan", ".", *ARGS)
        assert (shown.returncode, shown.stderr) == (1, "mlform.yaml:105:17: error: environments.prod.serving.replicas: "
                                                       "policy `prod-replicas`: expected at least 3, got 2 "
                                                       "(in environment `prod`)\n")
        policy.write_text(POLICY.replace("{min: 2}", "{min: 3}\n    severity: warning"))
        _apply(applied)  # a spec that breaks a rule, even a warning, gets no receipt: every plan shows the warning
        warned = plan(applied)
        assert (warned.exit, warned.fast) == (0, False)
    finally:
        policy.unlink()
    removed = plan(applied)
    assert (removed.exit, removed.fast) == (0, False)
    _apply(applied)
    assert plan(applied).fast
