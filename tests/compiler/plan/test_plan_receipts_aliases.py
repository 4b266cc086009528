"""Plan receipts in the states a pinned environment reaches: after its promotion is applied, after `mlform monitor`
retrained it, after an alias moved outside apply. An unchanged plan stays on the fast path (no heavy import) and
equals the full plan, notes included; a pinned `production` moved outside apply takes the full path, which shows it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_plan_apply import mlform
from test_plan_receipts import FULL, _apply, _copy, _repo, plan

from mlform.runtime.registry.models import Registry

MODEL = "iris-classifier"


def _retrains_differently(project: Path) -> None:
    """A refit gives new bytes (no `random_state`), any version passes, and the live data drifts: a breach. Three of
    the four features drift, above `max_drifted_share: 0.5`, so the breach never hangs on the refit's accuracy."""
    spec = project / "mlform.yaml"
    text = spec.read_text().replace("    random_state: 42\n", "").replace(
        "  champion:\n    metric: f1_macro\n    min_improvement: 0.0\n", "")
    spec.write_text(text.replace("{min: 0.9}", "{min: 0.3}"))
    live = pd.read_csv(project / "data" / "live.csv")
    live["petal_length"] += 2.0
    live["sepal_width"] *= 1.5
    live["petal_width"] += 1.0
    live.to_csv(project / "data" / "live.csv", index=False)


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris example applied, then `prod` pinned to version 1 by `mlform promote` and applied again."""
    project = _repo(_copy(tmp_path_factory.mktemp("pinned")))
    _retrains_differently(project)
    _apply(project)
    promoted = mlform(project, "promote", ".", "--env", "prod", "--version", "1")
    assert promoted.returncode == 0, promoted.stderr
    _apply(project)
    return project


def _full(project: Path, *args: str) -> str:
    """The plan's JSON output made in full, with the receipts set aside."""
    receipts = project / ".mlform" / "plan-receipts"
    receipts.rename(receipts.with_name("set-aside"))
    try:
        full = plan(project, "--format", "json", *args)
    finally:
        receipts.with_name("set-aside").rename(receipts)
    assert full.heavy == FULL
    return full.stdout


def _registry(project: Path) -> Registry:
    return Registry(project / ".mlform" / "registry")


def test_a_pinned_environment_after_its_promotion_and_a_monitor_retrain_plans_on_the_fast_path(pinned: Path) -> None:
    after_promotion = plan(pinned, "--format", "json")
    assert (after_promotion.exit, after_promotion.heavy) == (0, [])
    assert after_promotion.plans()["prod"]["notes"] == []
    applied = _registry(pinned).aliases(MODEL, "prod")["staging"]
    retrained = mlform(pinned, "monitor", ".", "--env", "prod")
    assert retrained.stdout.splitlines()[-1] == "monitor: breach handled, the retrained version was promoted"
    staging = _registry(pinned).aliases(MODEL, "prod")["staging"]
    fast = plan(pinned, "--format", "json")
    assert (fast.exit, fast.heavy) == (0, [])
    assert fast.plans()["prod"]["notes"] == [
        f"alias `staging` is at v{staging}, this environment's last apply set v{applied} "
        "(moved outside `mlform apply`; `mlform audit` shows by what)"]
    assert fast.stdout == _full(pinned)


def test_a_pinned_production_moved_outside_apply_takes_the_full_path(pinned: Path) -> None:
    assert plan(pinned).fast
    registry = _registry(pinned)
    aliases = registry.aliases_path(MODEL)
    assert aliases is not None
    before = aliases.read_bytes()
    other = max(v.version for v in registry.versions(MODEL, "prod"))
    assert other != 1
    registry.set_alias(MODEL, "production", other, env="prod")
    try:
        moved = plan(pinned, "--format", "json", "--env", "prod")
    finally:
        aliases.write_bytes(before)
    # the promotion's review reads the training and current data to show their drift: pandas, not scikit-learn
    assert (moved.exit, moved.heavy) == (2, sorted([*FULL, "pandas"]))
    changes = {c["address"]: (c["action"], c["reason"]) for c in moved.plans()["prod"]["changes"]
               if c["kind"] == "alias"}
    assert changes[f"{MODEL}@production"] == ("update", f"v{other} -> v1: pinned by `registry.production`")
    assert plan(pinned).fast


def test_a_forced_re_run_of_the_same_step_keeps_the_fast_path_but_a_foreign_marker_does_not(pinned: Path) -> None:
    state = json.loads((pinned / ".mlform" / "state" / "iris.dev.json").read_text())
    fingerprint = state["steps"]["train"]["fingerprint"]
    marker = pinned / ".mlform" / "store" / fingerprint[:2] / fingerprint / "_complete.json"
    kept = marker.with_name("kept")
    shutil.copy(marker, kept)
    try:
        rewritten = json.loads(marker.read_text())
        marker.unlink()
        marker.write_text(json.dumps({**rewritten, "completed": rewritten["completed"] + 1}))  # a new inode, new bytes
        assert plan(pinned).fast
        marker.write_text(json.dumps({**rewritten, "step": "evaluate"}))
        assert not plan(pinned).fast
    finally:
        kept.replace(marker)
    assert plan(pinned).fast
