"""Plan receipts across environments: editing and applying one environment leaves another's plan on the fast path
(a receipt holds what its environment resolves to, not only the spec file's bytes), and that plan equals the full
one; a change to what an environment resolves to, or an overlay breaking a rule, still takes the full path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from test_plan_apply import mlform
from test_plan_receipts import FULL, Planned, _apply, _changes, _copy, _repo, _rewrite, plan
from test_plan_receipts_aliases import _full

NOOP = "Plan: 0 to add, 0 to change, 0 to destroy; 0 steps to run."


@pytest.fixture(scope="module")
def other_applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris example applied, then `dev`'s overlay edited and only `dev` applied; `prod`'s receipt is older."""
    project = _repo(_copy(tmp_path_factory.mktemp("envs")))
    _apply(project)
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimators: 21"))
    _apply(project, "--env", "dev")
    return project


@pytest.mark.parametrize("args", [(), ("--env", "prod"), ("--env", "dev")], ids=["all", "prod", "dev"])
def test_after_another_environments_apply_the_plan_stays_on_the_fast_path(
        other_applied: Path, args: tuple[str, ...]) -> None:
    fast = plan(other_applied, "--format", "json", *args)
    assert (fast.exit, fast.heavy) == (0, [])
    assert {p["summary"] for p in fast.plans().values()} == {NOOP}
    assert fast.stdout == _full(other_applied, *args)


def _comment(project: Path) -> Callable[[], None]:
    return _rewrite(project / "mlform.yaml", lambda t: t.replace("environments:\n", "# overlays\nenvironments:\n"))


def test_a_comment_keeps_the_fast_path(other_applied: Path) -> None:
    undo = _comment(other_applied)
    try:
        fast = plan(other_applied)
    finally:
        undo()
    assert (fast.exit, fast.heavy) == (0, [])


def _full_path(project: Path, change: Callable[[str], str], *args: str) -> Planned:
    undo = _rewrite(project / "mlform.yaml", change)
    try:
        return plan(project, "--format", "json", *args)
    finally:
        undo()


def test_editing_an_environments_own_overlay_takes_its_full_path(other_applied: Path) -> None:
    changed = _full_path(other_applied, lambda t: t.replace("      replicas: 2\n", "      replicas: 3\n"),
                         "--env", "prod")
    assert (changed.exit, changed.heavy) == (2, FULL)
    assert _changes(changed.plans()["prod"], "step") == {"serve": ("run", "`serving.replicas` changed: 2 -> 3")}
    assert plan(other_applied, "--env", "prod").fast


def test_editing_the_base_spec_takes_every_environments_full_path(other_applied: Path) -> None:
    changed = _full_path(other_applied, lambda t: t.replace("    max_depth: 5\n", "    max_depth: 6\n"))
    assert (changed.exit, changed.heavy) == (2, FULL)
    for env in ("dev", "prod"):
        assert _changes(changed.plans()[env], "step")["train"] == ("run", "`model.params.max_depth` changed: 5 -> 6")


def test_an_overlay_breaking_a_rule_takes_the_full_path_though_nothing_resolves_differently(
        other_applied: Path) -> None:
    line = (other_applied / "mlform.yaml").read_text().splitlines().index("  prod:") + 3  # of the `name:` added
    undo = _rewrite(other_applied / "mlform.yaml", lambda t: t.replace(
        "  prod:\n", "  prod:\n    metadata:\n      name: iris\n"))
    try:
        refused = mlform(other_applied, "plan", ".", "--env", "prod", "--artifacts-dir", "out")
    finally:
        undo()
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (f"mlform.yaml:{line}:7: error: environments.prod.metadata.name: `metadata.name` "
                              "cannot be overridden per environment: it names the pipeline everywhere\n")


def test_a_plan_that_trains_nothing_imports_no_training_library(other_applied: Path) -> None:
    changed = _full_path(other_applied, lambda t: t.replace("namespace: ml-prod\n", "namespace: ml-prod-2\n"))
    assert (changed.exit, changed.heavy) == (2, FULL)  # no scikit-learn, pandas or networkx
    plans = changed.plans()
    assert [_changes(plans[env], "step") for env in ("dev", "prod")] == [{}, {}]
    assert not _changes(plans["dev"], "artifact")
    assert _changes(plans["prod"], "artifact")["deploy/iris/prod/kubernetes/deployment.yaml"][0] == "update"


def test_a_data_file_touched_but_not_changed_keeps_the_fast_path(other_applied: Path) -> None:
    data = other_applied / "data" / "iris.csv"
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    try:
        touched = plan(other_applied)
    finally:
        os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (touched.exit, touched.heavy) == (0, [])
