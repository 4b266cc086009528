"""Benchmark: the same MLflow Recipe run by MLflow 2.x Recipes and, after `mlform import mlflow-recipe`, by mlform.

Two recipes in the templates' format (tests/compiler/importers/recipes.py): a regression on scikit-learn's
diabetes data and a binary classification on its breast cancer data, each with a custom metric. MLflow 2.17
(the last line with Recipes that installs offline here) runs in benchmarks/.venvs/mlflow2, or in the venv whose
python `MLFLOW2_PYTHON` names. Wall time is one fresh run from an empty state, imports included; the test
metrics come from each tool's own test split (MLflow splits by a hash of the rows, mlform by a seeded shuffle,
so they agree only within the split's randomness).

Usage: python benchmarks/bench_recipes.py   (writes benchmarks/results/recipes.md)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_drift import ensure_venv
from bench_validation import load_average, machine

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULT = HERE / "results" / "recipes.md"
REQUIREMENTS = ["mlflow==2.17.2", "sqlalchemy>=2.0.30,<2.1", "scikit-learn>=1.4,<1.6"]
# mlform metric -> the name MLflow logs it under (test_ prefix added)
COMPARED = {"regression": {"rmse": "root_mean_squared_error", "within_50": "within_50"},
            "classification": {"f1": "f1_score", "error_rate": "error_rate"}}

MLFLOW_SCRIPT = """
import json, os, sys, time
os.chdir(sys.argv[1])
start = time.perf_counter()
from mlflow.recipes import Recipe
recipe = Recipe(profile="local")
recipe.run()
seconds = time.perf_counter() - start
metrics = recipe.get_artifact("run").data.metrics
print(json.dumps({"seconds": seconds, "metrics": {k[5:]: v for k, v in metrics.items() if k.startswith("test_")}}))
"""


def _for_mlflow_217(root: Path) -> None:
    """MLflow 2.17 reads `recipe:` (not `template:`), bare function names and `using: custom` for training."""
    text = (root / "recipe.yaml").read_text()
    text = text.replace('template: "regression/v1"', 'recipe: "regression/v1"').replace("using: estimator_spec",
                                                                                          "using: custom")
    text = text.replace("steps.transform.transformer_fn", "transformer_fn").replace("steps.train.estimator_fn",
                                                                                      "estimator_fn")
    (root / "recipe.yaml").write_text(text)


def _mlflow(python: Path, root: Path) -> dict[str, object]:
    env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}  # its steps run `python`
    done = subprocess.run([str(python), "-c", MLFLOW_SCRIPT, str(root)], capture_output=True, text=True, env=env,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mlform(root: Path) -> dict[str, object]:
    mlform = Path(sys.executable).parent / "mlform"
    start = time.perf_counter()
    subprocess.run([str(mlform), "import", "mlflow-recipe", str(root), "--force"], check=True, capture_output=True)
    subprocess.run([str(mlform), "apply", str(root), "--yes"], check=True, capture_output=True)
    seconds = time.perf_counter() - start
    store = root / ".mlform" / "store"
    evaluation = json.loads(next(store.rglob("evaluation.json")).read_text())
    return {"seconds": seconds, "metrics": evaluation["metrics"]}


def main() -> None:
    """Run both recipes with both tools and write the comparison."""
    sys.path.insert(0, str(REPO))
    from tests.compiler.importers.recipes import write_recipe

    started = load_average()
    named = os.environ.get("MLFLOW2_PYTHON")
    python = Path(named) if named else ensure_venv("mlflow2", REQUIREMENTS, "mlflow.recipes")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("regression", "classification"):
            for tool in ("mlflow", "mlform"):
                root = write_recipe(Path(scratch) / tool / kind, kind)
                if tool == "mlflow":
                    _for_mlflow_217(root)
                    outcome = _mlflow(python, root)
                else:
                    outcome = _mlform(root)
                metrics = outcome["metrics"]
                assert isinstance(metrics, dict)
                values = [metrics.get(name if tool == "mlform" else theirs) for name, theirs in COMPARED[kind].items()]
                rows.append((kind, tool, values, float(outcome["seconds"])))  # type: ignore[arg-type]
    lines = ["## MLflow Recipes vs `mlform import mlflow-recipe` (bench_recipes)", "",
             "The same template-format recipe, run by MLflow 2.17 Recipes and, imported, by `mlform apply`; test "
             "metrics on each tool's own test split (12.5% of the rows); one fresh run each, imports included.", ""]
    for kind, names in COMPARED.items():
        lines += [f"### {kind}", "", f"| tool | {' | '.join(f'test {n}' for n in names)} | wall s |",
                  f"|---|{'---|' * len(names)}---|"]
        lines += [f"| {tool} | {' | '.join(f'{v:.4f}' if isinstance(v, float) else 'n/a' for v in values)} "
                  f"| {seconds:.1f} |" for k, tool, values, seconds in rows if k == kind]
        lines.append("")
    lines.append(f"Machine: {machine(started)}.")
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
