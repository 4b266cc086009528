"""Full plans of many specs are made in forked worker processes; they equal the plans made in process."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mlform.compiler.plan import planset
from mlform.compiler.plan.plans import PlanInputs
from mlform.specs.read.discovery import discover

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _tree(root: Path, count: int) -> Path:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    text = (EXAMPLES / "iris" / "mlform.yaml").read_text()
    for index in range(count):
        folder = root / f"iris-{index}"
        shutil.copytree(EXAMPLES / "iris" / "data", folder / "data")
        (folder / "mlform.yaml").write_text(re.sub(r"(?m)^  name: iris$", f"  name: iris-{index}", text))
    return root


def test_too_few_plans_start_no_workers() -> None:
    assert planset._workers(2 * planset._SPECS_PER_WORKER - 1) == 1


def test_plans_from_workers_equal_plans_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path, 3)
    monkeypatch.chdir(root)
    paths = discover([root])
    in_process = planset.plan_files(paths, None, PlanInputs())  # 6 plans: too few for workers
    monkeypatch.setattr(planset, "_workers", lambda count: 2)  # the policy aside: the pool itself is real
    from_workers = planset.plan_files(paths, None, PlanInputs())
    assert [f.path for f in from_workers] == paths
    assert [p.to_dict() for f in from_workers for p in f.plans] == [p.to_dict() for f in in_process for p in f.plans]
    assert [(p.spec, p.env) for f in from_workers for p in f.plans] == [
        (str(path), env) for path in paths for env in ("dev", "prod")]
