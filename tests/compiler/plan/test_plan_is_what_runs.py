"""One derived graph: `graph` shows, `plan` lists and `apply` executes the same steps with the same fingerprints."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_wine
from test_plan_apply import mlform

FEATURES = ["alcohol", "malic_acid", "ash", "magnesium", "color_intensity", "proline"]
SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {name: wine}
data:
  sources:
    train: {type: csv, path: data/wine.csv}
    live: LIVE
  train_source: train
  target: target
  features: FEATURES
  split: {method: stratified, test_size: 0.25, seed: 7}
model:
  estimator: sklearn.ensemble.ExtraTreesClassifier
  params: {n_estimators: 30, random_state: 0}
evaluation: {metrics: [accuracy]}
registry: {model_name: wine, promote_to: staging}
monitoring: {reference: train, current: live, schedule: "0 6 * * *"}
SECRETS
environments:
  dev:
    model: {params: {n_estimators: 10}}
  prod: {}
"""
CSV_LIVE = "{type: csv, path: data/live.csv}"
SQL_LIVE = "{type: sql, url: {secret: warehouse}, table: live}"
SQL_SECRET = "secrets:\n  warehouse: {env: WINE_WAREHOUSE_URL}"


def _project(root: Path, live: str = CSV_LIVE, secrets: str = "") -> Path:
    """A git project training an extra-trees classifier on scikit-learn's wine data."""
    frame = load_wine(as_frame=True).frame[[*FEATURES, "target"]]
    (root / "data").mkdir(parents=True)
    frame.to_csv(root / "data" / "wine.csv", index=False)
    frame.sample(60, random_state=1).to_csv(root / "data" / "live.csv", index=False)
    text = SPEC.replace("LIVE", live).replace("FEATURES", json.dumps(FEATURES)).replace("SECRETS", secrets)
    (root / "mlform.yaml").write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _ok(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = mlform(root, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _saved_steps(root: Path, plan_file: str) -> list[dict[str, Any]]:
    """The step changes of the one plan in a saved plan file, in the order the plan lists them."""
    (plan,) = json.loads((root / plan_file).read_text())["plans"]
    return [c for c in plan["changes"] if c["kind"] == "step"]


def _last_run(root: Path) -> list[dict[str, Any]]:
    """The steps of the newest tracked run, in the order they were executed or found cached."""
    newest = json.loads(_ok(root, "runs", "list", ".", "--format", "json"))[0]["id"]
    steps: list[dict[str, Any]] = json.loads(_ok(root, "runs", "show", ".", newest, "--format", "json"))["steps"]
    return steps


def _apply_saved(root: Path, env: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Plan dev into a file, apply that file; the plan's steps and the steps the apply tracked."""
    _ok(root, "plan", ".", "--env", "dev", "--artifacts-dir", "out", "--out", "dev.plan", env=env)
    _ok(root, "apply", "dev.plan", env=env)
    return _saved_steps(root, "dev.plan"), _last_run(root)


def test_apply_of_a_saved_plan_executes_exactly_its_steps_in_order(tmp_path: Path) -> None:
    root = _project(tmp_path / "wine")
    planned, tracked = _apply_saved(root)
    assert [c["address"] for c in planned] == [s["step"] for s in tracked]
    assert [c["after"] for c in planned] == [s["fingerprint"] for s in tracked]
    assert [c["address"] for c in planned if c["action"] == "run"] == [s["step"] for s in tracked
                                                                       if s["status"] == "ran"]
    assert {s["status"] for s in tracked} == {"ran"}


def test_a_step_the_plan_finds_cached_is_not_run_by_apply(tmp_path: Path) -> None:
    root = _project(tmp_path / "wine")
    _apply_saved(root)
    spec = root / "mlform.yaml"
    spec.write_text(spec.read_text().replace("{n_estimators: 10}", "{n_estimators: 12}"))
    planned, tracked = _apply_saved(root)
    to_run = [c["address"] for c in planned if c["action"] == "run"]
    assert to_run == ["train", "evaluate", "register", "monitor"]
    assert [s["step"] for s in tracked if s["status"] == "ran"] == to_run
    assert [s["step"] for s in tracked if s["status"] == "cached"] == ["ingest.train", "ingest.live",
                                                                       "validate.train", "split"]
    assert [c["after"] for c in planned] == [s["fingerprint"] for s in tracked]


def test_graph_plan_and_apply_share_fingerprints_and_graph_claims_none_resting_on_a_query(tmp_path: Path) -> None:
    root = _project(tmp_path / "wine", SQL_LIVE, SQL_SECRET)
    database = tmp_path / "warehouse.db"
    frame = load_wine(as_frame=True).frame[[*FEATURES, "target"]].sample(60, random_state=1)
    with sqlite3.connect(database) as conn:
        frame.to_sql("live", conn, index=False)
    env = {"WINE_WAREHOUSE_URL": f"sqlite:///{database}"}
    shown = json.loads(_ok(root, "graph", ".", "--env", "dev", "--format", "json", env=env))
    planned, tracked = _apply_saved(root, env)
    executed = {s["step"]: s["fingerprint"] for s in tracked}
    assert {c["address"]: c["after"] for c in planned} == executed
    graphed = {s["id"]: s["fingerprint"] for s in shown["steps"]}
    assert graphed == {step: None if step in ("ingest.live", "monitor") else fingerprint  # `graph` runs no query
                       for step, fingerprint in executed.items()}


def test_a_data_change_after_planning_refuses_the_saved_plan(tmp_path: Path) -> None:
    root = _project(tmp_path / "wine")
    _ok(root, "plan", ".", "--env", "dev", "--artifacts-dir", "out", "--out", "dev.plan")
    live = root / "data" / "live.csv"
    live.write_text(live.read_text() + live.read_text().splitlines()[1] + "\n")
    refused = mlform(root, "apply", "dev.plan")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        "data file `data/live.csv` changed since the plan was made; run `mlform plan` again")
    assert not (root / ".mlform" / "tracking.db").exists()


@pytest.fixture(autouse=True)
def _no_ambient_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WINE_WAREHOUSE_URL", raising=False)
