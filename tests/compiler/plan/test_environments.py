"""Environments are isolated: one registry, versions numbered once, aliases scoped per environment.

A made-up project on scikit-learn's wine data: `dev` trains extra trees (no fixed seed, so every retrain is a
new model), `prod` a seeded random forest. Applying, monitoring or running one environment never changes what
another serves, plans or shows on its model card, and every alias move is in the audit log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_plan_apply import mlform
from tools.server import get, serving

from mlform.runtime.registry.models import Registry

MODEL = "wine-classifier"
MLFORM = str(Path(sys.executable).with_name("mlform"))
FEATURES = ["alcohol", "malic_acid", "flavanoids", "color_intensity", "hue", "proline"]
SPEC = f"""\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: wine
data:
  sources:
    train: {{type: csv, path: data/train.csv}}
    live: {{type: csv, path: data/live.csv}}
  train_source: train
  target: cultivar
  features: [{", ".join(FEATURES)}]
  split: {{method: stratified, test_size: 0.25, seed: 7}}
model:
  estimator: sklearn.ensemble.ExtraTreesClassifier
  params: {{n_estimators: 10}}
evaluation:
  metrics: [accuracy, f1_macro]
  gates:
    accuracy: {{min: 0.7}}
registry:
  model_name: {MODEL}
  promote_to: staging
monitoring:
  schedule: "0 6 * * *"
  current: live
  on_breach: retrain
environments:
  dev: {{}}
  prod:
    model:
      estimator: sklearn.ensemble.RandomForestClassifier
      params: {{n_estimators: 10, random_state: 0}}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The wine project: training data, and live data whose features drifted far from it."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    root = tmp_path / "wine"
    (root / "data").mkdir(parents=True)
    frame[[*FEATURES, "cultivar"]].to_csv(root / "data" / "train.csv", index=False)
    live = frame[[*FEATURES, "cultivar"]].copy()
    live[FEATURES] = live[FEATURES] * 3
    live.to_csv(root / "data" / "live.csv", index=False)
    (root / "mlform.yaml").write_text(SPEC)
    return root


def run(root: Path, *args: str) -> str:
    result = mlform(root, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def listed(root: Path, env: str) -> dict[int, list[str]]:
    """Version -> aliases, as `mlform models list --env ENV --format json` shows them."""
    data = json.loads(run(root, "models", "list", ".", "--env", env, "--format", "json"))
    return {v["version"]: v["aliases"] for v in data[MODEL]}


def plan(root: Path, env: str) -> dict:
    return json.loads(run(root, "plan", ".", "--env", env, "--format", "json"))["plans"][0]


def served(root: Path, env: str) -> int:
    """The version `mlform serve . --env ENV` loads, as its `/ready` endpoint reports it."""
    with serving([".", "--env", env], cwd=root) as port:
        model = get(port, "/ready")[1]["model"]
    assert isinstance(model, dict)
    return int(model["version"])


def test_applying_prod_leaves_what_dev_serves_and_plans(project: Path) -> None:
    run(project, "apply", ".", "--env", "dev", "--yes")
    dev_plan = plan(project, "dev")
    assert served(project, "dev") == 1

    run(project, "apply", ".", "--env", "prod", "--yes")
    assert served(project, "dev") == 1
    assert served(project, "prod") == 2
    assert plan(project, "dev") == dev_plan
    assert listed(project, "dev") == {1: ["staging"], 2: []}
    assert listed(project, "prod") == {1: [], 2: ["staging"]}
    table = run(project, "models", "list", ".").splitlines()
    assert table[1].split()[:4] == [MODEL, "2", "dev:staging=v1,", "prod:staging=v2"]
    assert dev_plan["notes"] == []
    assert Registry(project / ".mlform" / "registry").resolve(MODEL, "staging", "dev").lineage["env"] == "dev"


def test_alias_moves_outside_apply_are_audited_planned_and_carded(project: Path) -> None:
    run(project, "apply", ".", "--env", "dev", "--yes")
    run(project, "apply", ".", "--env", "prod", "--yes")

    out = run(project, "monitor", ".", "--env", "dev")
    assert out.splitlines()[-1] == "monitor: breach handled, the retrained version was promoted"
    run(project, "run", ".", "--env", "dev", "--step", "train", "--step", "evaluate", "--step", "register",
        "--force")

    entries = json.loads(run(project, "audit", ".", "--format", "json"))
    assert [(e.get("command"), e["env"], e["result"], e["promoted"]) for e in entries] == [
        ("apply", "dev", "applied", [{"model": MODEL, "alias": "staging", "from": None, "to": 1}]),
        ("apply", "prod", "applied", [{"model": MODEL, "alias": "staging", "from": None, "to": 2}]),
        ("monitor", "dev", "applied", [{"model": MODEL, "alias": "staging", "from": 1, "to": 3}]),
        ("run", "dev", "applied", [{"model": MODEL, "alias": "staging", "from": 3, "to": 4}]),
    ]
    table = run(project, "audit", ".").splitlines()
    assert "staging v1 -> v3" in next(line for line in table if " monitor " in line)
    assert listed(project, "dev") == {1: [], 2: [], 3: [], 4: ["staging"]}
    assert listed(project, "prod") == {1: [], 2: ["staging"], 3: [], 4: []}

    assert plan(project, "dev")["notes"] == [
        "alias `staging` is at v4, this environment's last apply set v1 (moved outside `mlform apply`; "
        "`mlform audit` shows by what)"]
    assert plan(project, "prod")["notes"] == []

    def card(ref: str) -> list[dict]:
        return json.loads(run(project, "card", f"{MODEL}@{ref}", "--env", "dev", "--format", "json"))["serving"]

    assert card("staging") == [{"env": "dev", "aliases": ["staging"], "pinned": False}]
    assert card("1") == []
    assert card("2") == [{"env": "prod", "aliases": ["staging"], "pinned": False}]
