"""Promotion as a reviewed change: a pinned `registry.production`, its evidence in plan, refusals in apply."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_plan_apply import mlform, tree
from tools.sklearn_reference import forest_metrics

from mlform.runtime.registry.models import Registry

MODEL = "iris-classifier"


@pytest.fixture
def project(iris_project: Path) -> Path:
    """A private copy of the iris example, as its own project root."""
    return iris_project.parent


def pin(root: Path, version: int) -> None:
    """Pin the dev environment's production version (an edit a pull request would make)."""
    spec = root / "mlform.yaml"
    text = spec.read_text()
    if "production:" in text:
        lines = [f"      production: {version}" if line.startswith("      production:") else line
                 for line in text.splitlines()]
        spec.write_text("\n".join(lines) + "\n")
    else:
        spec.write_text(text.replace("  dev:\n", f"  dev:\n    registry:\n      production: {version}\n", 1))


def edit(root: Path, old: str, new: str) -> None:
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace(old, new, 1))


def registry(root: Path) -> Registry:
    return Registry(root / ".mlform" / "registry")


def plan_json(root: Path) -> dict:
    result = mlform(root, "plan", ".", "--env", "dev", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["plans"][0]


def promotion(plan: dict) -> dict:
    [change] = [c for c in plan["changes"] if c["address"] == f"{MODEL}@production"]
    return change


def scores(root: Path, n_estimators: int) -> tuple[str, str]:
    """Accuracy and macro F1 of the dev forest with `n_estimators` trees, from scikit-learn alone, as plan prints."""
    accuracy, f1_macro = forest_metrics(root / "mlform.yaml", n_estimators=n_estimators)
    return f"{accuracy:.4g}", f"{f1_macro:.4g}"


def apply(root: Path) -> str:
    result = mlform(root, "apply", ".", "--env", "dev", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pin_promote_and_roll_back_through_plan_and_apply(project: Path) -> None:
    apply(project)
    pin(project, 1)
    accuracy, f1_macro = scores(project, 20)  # dev's `model.params`
    first = plan_json(project)
    change = promotion(first)
    assert (change["action"], change["before"], change["after"]) == ("create", None, "v1")
    assert change["reason"] == "none -> v1: pinned by `registry.production`"
    assert change["evidence"][1:] == [
        "git: none (not a git work tree)", f"metric accuracy: {accuracy}", f"metric f1_macro: {f1_macro}",
        "gates when registered: passed (2 checked)",
        f"gate `evaluation.gates.accuracy` passed: {accuracy}",
        f"gate `evaluation.gates.f1_macro` passed: {f1_macro}",
        "champion check when registered: no champion at alias `production`: the challenger wins by default",
        "drift of its training data vs `live`: ok: 0 of 4 features drifted (share 0.00, `max_drifted_share` 0.5): "
        "none"]
    steps = {c["address"]: (c["action"], c["reason"]) for c in first["changes"] if c["kind"] == "step"}
    assert steps["promote"] == ("run", "no previous run")
    assert steps["register"][0] == "noop"  # moving the pin never registers a new version
    out = apply(project)
    assert "`iris-classifier@production`: none -> v1 (pinned by `registry.production`)" in out
    assert "would serve `iris-classifier@production` (version 1)" in out
    assert registry(project).aliases(MODEL, "dev") == {"production": 1, "staging": 1}
    assert mlform(project, "plan", ".", "--env", "dev", "--detailed-exitcode").returncode == 0

    edit(project, "n_estimators: 20", "n_estimators: 3")  # a new version; production stays pinned
    apply(project)
    assert registry(project).aliases(MODEL, "dev")["production"] == 1
    assert [v.version for v in registry(project).versions(MODEL)] == [1, 2]

    pin(project, 2)
    text = mlform(project, "plan", ".", "--env", "dev")
    assert text.returncode == 0, text.stderr
    assert "  ~ iris-classifier@production               v1 -> v2: pinned by `registry.production`" in text.stdout
    deltas = [line.strip() for line in text.stdout.splitlines() if line.strip().startswith("metric ")]
    v1, v2 = (registry(project).resolve(MODEL, n).metrics for n in (1, 2))
    assert deltas == [f"metric {m}: {v1[m]:.4g} -> {v2[m]:.4g} ({v2[m] - v1[m]:+.4g})" for m in sorted(v2)]
    markdown = mlform(project, "plan", ".", "--env", "dev", "--format", "markdown").stdout
    assert "<details open><summary>evidence for <code>iris-classifier@production</code></summary>" in markdown
    apply(project)
    assert registry(project).aliases(MODEL, "dev")["production"] == 2

    pin(project, 1)  # rollback is the same reviewed change
    back = promotion(plan_json(project))
    assert (back["action"], back["before"], back["after"]) == ("update", "v2", "v1")
    apply(project)
    state = json.loads((project / ".mlform" / "state" / "iris.dev.json").read_text())
    assert state["aliases"][f"{MODEL}@production"] == 1


@pytest.mark.parametrize(("damage", "message"), [
    ("gate", "refusing to promote `iris-classifier` version 2 to `production` (`registry.production`): "
             "when registered, gate `evaluation.gates.accuracy` failed: {accuracy} < min 0.99"),
    ("checksum", "refusing to promote `iris-classifier` version 1 to `production` (`registry.production`): "
                 "model `iris-classifier` version 1: model.pkl has sha256 {actual}..., registered {registered}...; "
                 "refusing a tampered or corrupt model"),
    ("missing", "refusing to promote `iris-classifier` version 9 to `production` (`registry.production`): "
                "version 9 is not in the registry at {root} (versions 1..1)"),
])
def test_plan_and_apply_refuse_a_bad_version_and_change_nothing(project: Path, damage: str, message: str) -> None:
    apply(project)
    version = 1
    if damage == "gate":  # version 2 fails its gate when registered; relaxing the gate later does not help
        accuracy = forest_metrics(project / "mlform.yaml", n_estimators=20)[0]
        assert accuracy < 0.99  # else the raised gate below would pass
        message = message.format(accuracy=f"{accuracy:.4g}")
        edit(project, "accuracy: {min: 0.9}", "accuracy: {min: 0.99}")
        assert "NOT promoted to `staging`" in mlform(project, "apply", ".", "--env", "dev", "--yes").stdout
        edit(project, "accuracy: {min: 0.99}", "accuracy: {min: 0.9}")
        version = 2
    elif damage == "checksum":
        model = registry(project).resolve(MODEL, 1)
        model.path.write_bytes(model.path.read_bytes() + b"tampered")
        actual = hashlib.sha256(model.path.read_bytes()).hexdigest()[:12]
        message = message.format(actual=actual, registered=model.sha256[:12])
    else:
        version = 9
        message = message.format(root=project / ".mlform" / "registry")
    pin(project, version)
    before = tree(project)
    planned = mlform(project, "plan", ".", "--env", "dev", "--out", "dev.plan")
    assert planned.returncode == 1
    assert planned.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert f"Error: {message}" in planned.stdout
    applied = mlform(project, "apply", ".", "--env", "dev", "--yes")
    assert applied.returncode == 1
    assert applied.stderr.strip().splitlines()[-1] == f"error: {message}"
    after = tree(project)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert {name for name in changed if not name.startswith(".mlform/audit/")} == set()
    assert "production" not in registry(project).aliases(MODEL, "dev")


def test_a_moved_alias_is_restored_and_stales_a_saved_plan(project: Path) -> None:
    apply(project)
    edit(project, "n_estimators: 20", "n_estimators: 3")
    apply(project)
    pin(project, 1)
    assert mlform(project, "plan", ".", "--env", "dev", "--out", "dev.plan").returncode == 0
    registry(project).set_alias(MODEL, "production", 2, env="dev")  # e.g. moved by hand
    stale = mlform(project, "apply", "dev.plan")
    assert stale.returncode == 1
    assert stale.stderr.strip() == ("error: alias `iris-classifier@production` no longer moves as planned "
                                    "(none -> v1): the registry changed since the plan was made; run `mlform plan` "
                                    "again")
    apply(project)
    registry(project).set_alias(MODEL, "production", 2, env="dev")
    plan = plan_json(project)
    steps = {c["address"]: (c["action"], c["reason"]) for c in plan["changes"] if c["kind"] == "step"}
    assert steps["promote"] == ("run", "alias `production` is at v2, the spec pins v1")
    assert (promotion(plan)["before"], promotion(plan)["after"]) == ("v2", "v1")
    apply(project)
    assert registry(project).aliases(MODEL, "dev")["production"] == 1


def test_the_evidence_says_when_the_pinned_version_was_trained_by_another_environment(project: Path) -> None:
    apply(project)  # dev trains and registers version 1
    promoted = mlform(project, "promote", ".", "--env", "prod", "--version", "1")
    assert promoted.returncode == 0, promoted.stderr
    result = mlform(project, "plan", ".", "--env", "prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    evidence = promotion(json.loads(result.stdout)["plans"][0])["evidence"]
    assert evidence[2] == "trained in environment `dev` (this plan is for `prod`)"
    assert mlform(project, "promote", ".", "--env", "dev", "--version", "1").returncode == 0
    assert not [line for line in promotion(plan_json(project))["evidence"] if "trained in" in line]  # dev's own
