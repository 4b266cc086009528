"""User-code hooks: python sources, the split filter, estimator and preprocessing factories and custom metrics run,
are fingerprinted by their source files, are checked without running at validate time, and fail in words."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlform.runtime.run.executor import Run, run_pipeline
from mlform.runtime.run.preview import preview
from mlform.specs import load_spec, validate_file
from mlform.specs.errors import StepError

SPEC = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {{name: wine}}
data:
  sources:
    train: {{type: python, function: "steps.ingest:load", path: "data/*.csv"}}
    live: {{type: python, function: "steps.ingest.load_all"}}
  train_source: train
  target: target
  features: [alcohol, malic_acid, ash, magnesium]
  split: {{method: stratified, test_size: 0.3, seed: 3, filter: "steps.split:keep"}}
model:
  estimator_function: "steps.train:estimator"
  params: {{C: 0.5}}
  task: classification
  preprocessing_function: "steps.transform:scaler"
evaluation:
  metrics: [accuracy, wrong_share]
  custom_metrics:
    - {{name: wrong_share, function: "steps.metrics:wrong_share", greater_is_better: false}}
  gates: {{wrong_share: {{max: {limit}}}}}
  champion: {{metric: wrong_share, alias: staging}}
registry: {{model_name: wine}}
monitoring:
  schedule: "@daily"
  current: live
  performance: {{wrong_share: {{max: 0.9}}}}
  on_breach: none
"""

STEPS = {
    "ingest.py": """
        import pandas as pd

        def load(file_path):
            return pd.read_csv(file_path)

        def load_all():
            import glob
            return pd.concat([pd.read_csv(p) for p in sorted(glob.glob("data/*.csv"))], ignore_index=True)
    """,
    "split.py": """
        def keep(frame):
            return frame["magnesium"] < 160
    """,
    "helpers.py": """
        C_SCALE = 1.0
    """,
    "train.py": """
        from sklearn.linear_model import LogisticRegression

        from steps.helpers import C_SCALE

        def estimator(C):
            return LogisticRegression(C=C * C_SCALE, max_iter=5000)
    """,
    "transform.py": """
        def scaler():
            from sklearn.preprocessing import StandardScaler
            return StandardScaler()
    """,
    "metrics.py": """
        import numpy as np

        def wrong_share(y_true, y_pred):
            return float(np.mean(y_true != y_pred))
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    (tmp_path / "data").mkdir()
    frame.iloc[::2].to_csv(tmp_path / "data" / "a.csv", index=False)
    frame.iloc[1::2].to_csv(tmp_path / "data" / "b.csv", index=False)
    (tmp_path / "steps").mkdir()
    for name, text in STEPS.items():
        (tmp_path / "steps" / name).write_text(textwrap.dedent(text).lstrip())
    (tmp_path / "mlform.yaml").write_text(SPEC.format(limit=0.5))
    return tmp_path / "mlform.yaml"


def test_every_hook_runs_and_custom_metrics_reach_gates_champion_and_monitoring(project: Path) -> None:
    result = run_pipeline(load_spec(project, require_data=True))
    assert all(step.status == "ran" for step in result.steps.values())
    rows = result.steps["ingest.train"].values["rows"]
    assert rows == 178  # two files, one call each, concatenated
    split = result.steps["split"].values
    assert split["train_rows"] + split["test_rows"] < rows  # the filter dropped the magnesium outliers
    evaluation = result.steps["evaluate"].values
    assert 0 <= evaluation["metrics"]["wrong_share"] < 0.5 and evaluation["passed"] is True
    assert "no champion" in evaluation["champion"]["message"]
    report = json.loads(Path(result.steps["monitor"].values["report_json"]).read_text())
    assert "wrong_share" in json.dumps(report)


def test_plan_names_the_user_code_file_that_changed(project: Path) -> None:
    run_pipeline(load_spec(project))
    helper = project.parent / "steps" / "helpers.py"
    helper.write_text("C_SCALE = 2.0\n")  # imported by steps/train.py: its change re-trains too
    reasons = preview(Run(load_spec(project))).steps
    assert reasons["train"][1] == ["`steps/helpers.py` changed"]
    assert reasons["split"][1] == []
    (project.parent / "steps" / "split.py").write_text("def keep(frame):\n    return frame['ash'] > 0\n")
    assert preview(Run(load_spec(project))).steps["split"][1] == ["`steps/split.py` changed"]


def test_plan_names_a_data_file_gone_from_a_loader_glob(project: Path, run_mlform: Callable[..., Any]) -> None:
    assert run_mlform("run", project).code == 0
    (project.parent / "data" / "b.csv").unlink()
    planned = run_mlform("plan", project)
    assert planned.code == 0, planned.err
    line = next(line for line in planned.out.splitlines() if "> ingest.train" in line)
    assert line.split(None, 2)[2] == "data `data/b.csv` is no longer read"  # was "a new mlform fingerprint format"


def test_a_failing_function_is_named_with_its_file_and_line(project: Path) -> None:
    (project.parent / "steps" / "train.py").write_text(
        "def estimator(C):\n    settings = {}\n    return settings['solver']\n")
    with pytest.raises(StepError) as failure:
        run_pipeline(load_spec(project))
    assert str(failure.value) == ("step `train` failed: `model.estimator_function: steps.train:estimator`: "
                                  "`estimator` (steps/train.py:1) raised KeyError: 'solver' (at steps/train.py:3)")


@pytest.mark.parametrize(("edit", "expected"), [
    (("steps.train:estimator", "steps.train:estimatr"),
     "13:23: error: model.estimator_function: `steps/train.py` defines no function `estimatr`; "
     "did you mean `estimator`?"),
    (("steps.split:keep", "steps.splits:keep"),
     "11:64: error: data.split.filter: module `steps.splits` has no file `steps/splits.py` under the spec's folder"),
    (("steps.metrics:wrong_share", "sklearn.metrics:wrong_share"),
     "20:37: error: evaluation.custom_metrics.0.function: module `sklearn.metrics` has no `wrong_share` "
     "(nor is there a file `sklearn/metrics.py` under the spec's folder)"),
    (("steps.ingest:load", "steps.ingest:load()"),
     "6:37: error: data.sources.train.function: `steps.ingest:load()` is not a function reference like "
     "`steps.train:estimator_fn` (module, `:`, function)"),
    (("task: classification", "task: null"),
     "13:3: error: model: `estimator_function` needs `task` (`classification` or `regression`)"),
])
def test_validate_checks_user_functions_without_running_them(project: Path, edit: tuple[str, str],
                                                           expected: str) -> None:
    project.write_text(project.read_text().replace(*edit))
    _, diagnostics = validate_file(project)
    assert [str(d).removeprefix(f"{project}:") for d in diagnostics if d.severity == "error"] == [expected]


def test_a_syntax_error_in_a_module_is_located_in_that_file(project: Path) -> None:
    (project.parent / "steps" / "metrics.py").write_text("def wrong_share(y_true, y_pred)\n    return 0\n")
    _, diagnostics = validate_file(project)
    assert [d.message for d in diagnostics] == ["`steps/metrics.py:1:32`: expected ':'"]


def test_a_preprocessing_function_is_used_with_an_estimator_class(project: Path,
                                                                  run_mlform: Callable[..., Any]) -> None:
    from mlform.runtime.registry.models import registry_for

    text = project.read_text().replace('estimator_function: "steps.train:estimator"',
                                       "estimator: sklearn.linear_model.LogisticRegression")
    project.write_text(text.replace("params: {C: 0.5}", "params: {C: 0.5, max_iter: 5000}"))
    result = run_mlform("run", project)
    assert result.code == 0, result.err
    model = registry_for(load_spec(project)).load("wine", 1).model
    assert [type(step).__name__ for _, step in model.steps] == ["StandardScaler", "LogisticRegression"]


def test_a_model_holding_a_project_class_loads_in_a_new_process(project: Path) -> None:
    (project.parent / "steps" / "transform.py").write_text(textwrap.dedent("""
        from sklearn.base import BaseEstimator, TransformerMixin

        class Doubler(BaseEstimator, TransformerMixin):
            def fit(self, X, y=None):
                return self

            def transform(self, X):
                return X * 2

        def scaler():
            return Doubler()
    """))
    mlform = [str(Path(sys.executable).with_name("mlform"))]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*mlform, *args], cwd=project.parent, capture_output=True, text=True, timeout=300)

    assert cli("run", str(project)).returncode == 0
    rerun = cli("run", str(project), "--step", "monitor", "--force")  # loads the registered model, trains nothing
    assert rerun.returncode == 0, rerun.stderr
    scored = cli("predict", str(project), "--model", "wine@1", "--input", str(project.parent / "data" / "a.csv"),
                 "--output", str(project.parent / "out.csv"))
    assert scored.returncode == 0, scored.stderr
    assert len((project.parent / "out.csv").read_text().splitlines()) == 90
    transform = project.parent / "steps" / "transform.py"
    transform.write_text(transform.read_text().replace("return X * 2", "raise ValueError('no doubling today')"))
    refused = cli("predict", str(project), "--model", "wine@1", "--input", "data/a.csv", "--output", "out.csv")
    assert refused.returncode == 1  # was "internal error in mlform: ValueError: ..."
    assert refused.stderr == ("error: `wine` version 1 cannot score `data/a.csv`: predict raised ValueError: "
                              "no doubling today (at steps/transform.py:9)\n")


@pytest.mark.parametrize(("module", "code", "expected"), [
    ("ingest.py", "import nosuchpkg\n\ndef load(file_path):\n    return None\n\nload_all = load\n",
     "mlform.yaml:7:36: error: step `ingest.live` failed: `data.sources.live.function: steps.ingest.load_all`: "
     "cannot import `steps.ingest`: ModuleNotFoundError: No module named 'nosuchpkg' (at steps/ingest.py:1)"),
    ("ingest.py", "import pandas as pd\n\ndef load(file_path):\n    return [file_path]\n\n"
                  "def load_all():\n    return pd.DataFrame()\n",
     "mlform.yaml:6:37: error: step `ingest.train` failed: `data.sources.train.function: steps.ingest:load` "
     "returned list, not a pandas DataFrame"),
    ("ingest.py", "import pandas as pd\n\ndef load(file_path):\n    return pd.read_csv(file_path)\n\n"
                  "def load_all():\n    pd.DataFrame()\n",  # forgot to return the frame
     "mlform.yaml:7:36: error: step `ingest.live` failed: `data.sources.live.function: steps.ingest.load_all` "
     "returned NoneType, not a pandas DataFrame"),
    ("train.py", "import sys\n\ndef estimator(C):\n    sys.exit(0)\n",  # a script's habit: silently exited 0
     "mlform.yaml:13:23: error: step `train` failed: `model.estimator_function: steps.train:estimator`: "
     "`estimator` (steps/train.py:3) raised SystemExit: 0 (at steps/train.py:4)"),
    ("transform.py", "import sys\nfrom sklearn.preprocessing import StandardScaler\n\n"
                     "class Quitter(StandardScaler):\n    def fit(self, X, y=None):\n        sys.exit('stop')\n\n"
                     "def scaler():\n    return Quitter()\n",
     "error: step `train` failed: `model.estimator_function: steps.train:estimator`: fit raised SystemExit: stop "
     "(at steps/transform.py:6)"),
    ("train.py", "def estimator(C):\n    return {}['solver']\n",
     "mlform.yaml:13:23: error: step `train` failed: `model.estimator_function: steps.train:estimator`: "
     "`estimator` (steps/train.py:1) raised KeyError: 'solver' (at steps/train.py:2)"),
    ("transform.py", "def scaler():\n    return 'scaler'\n",
     "mlform.yaml:16:27: error: step `train` failed: `model.preprocessing_function: steps.transform:scaler` "
     "returned str, not a transformer with `fit` and `transform`"),
    ("metrics.py", "def wrong_share(y_true, y_pred):\n    return 'high'\n",
     "mlform.yaml:20:37: error: step `evaluate` failed: `evaluation.custom_metrics.0.function: "
     "steps.metrics:wrong_share` returned str, not a number"),
    ("transform.py", "from sklearn.base import BaseEstimator, TransformerMixin\n\n"
                     "class Broken(BaseEstimator, TransformerMixin):\n    def fit(self, X, y=None):\n"
                     "        raise RuntimeError('no fit today')\n\n    def transform(self, X):\n        return X\n\n"
                     "def scaler():\n    return Broken()\n",
     "error: step `train` failed: `model.estimator_function: steps.train:estimator`: fit raised RuntimeError: "
     "no fit today (at steps/transform.py:5)"),
])
def test_a_failing_hook_is_reported_at_its_spec_line_and_its_code(project: Path, run_mlform: Callable[..., Any],
                                                                  module: str, code: str, expected: str) -> None:
    (project.parent / "steps" / module).write_text(code)
    result = run_mlform("run", "mlform.yaml", cwd=project.parent)
    assert result.code == 1
    assert result.err.splitlines() == [expected]


def test_an_estimator_class_of_the_project_imports_from_its_folder_and_is_fingerprinted(project: Path) -> None:
    (project.parent / "steps" / "models.py").write_text(textwrap.dedent("""
        from sklearn.linear_model import LogisticRegression

        class Shrunk(LogisticRegression):
            def __init__(self, C=0.1, max_iter=5000):
                super().__init__(C=C, max_iter=max_iter)
    """))
    text = project.read_text().replace('estimator_function: "steps.train:estimator"', "estimator: steps.models.Shrunk")
    project.write_text(text.replace("params: {C: 0.5}", "params: {C: 0.5, max_iterations: 10}"))
    mlform = [str(Path(sys.executable).with_name("mlform"))]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*mlform, *args, "mlform.yaml"], cwd=project.parent, capture_output=True, text=True,
                              timeout=300)

    assert cli("validate").stderr.splitlines()[0] == (
        "mlform.yaml:14:20: error: model.params.max_iterations: `Shrunk` has no parameter `max_iterations`; "
        "did you mean `max_iter`?")
    project.write_text(text)
    assert cli("run").returncode == 0
    with (project.parent / "steps" / "models.py").open("a") as module:
        module.write("\nSHRINK = 2\n")
    planned = cli("plan")
    assert "`steps/models.py` changed" in next(line for line in planned.stdout.splitlines() if "> train" in line)


def test_a_broken_custom_metric_entry_is_one_error_not_an_unknown_metric_too(project: Path,
                                                                           run_mlform: Callable[..., Any]) -> None:
    project.write_text(project.read_text().replace(', greater_is_better: false}', '}'))
    result = run_mlform("validate", "mlform.yaml", cwd=project.parent)
    assert result.code == 1
    assert result.err.splitlines() == [  # monitoring.performance's `wrong_share` is not "unknown" on top of it
        "mlform.yaml:20:7: error: evaluation.custom_metrics.0: missing required key `greater_is_better`",
        "1 error found."]


def test_a_loader_reading_no_file_is_named_as_a_python_source(project: Path, run_mlform: Callable[..., Any]) -> None:
    graph = run_mlform("graph", project)
    assert graph.code == 0, graph.err
    line = next(line for line in graph.out.splitlines() if line.startswith("  ingest.live "))
    assert line.endswith("python:live (fingerprint: result), queried by plan")  # was `sql:live`, as if it were SQL
    assert run_mlform("run", project).code == 0
    (project.parent / "data" / "b.csv").write_text((project.parent / "data" / "a.csv").read_text())
    planned = run_mlform("plan", project)
    line = next(line for line in planned.out.splitlines() if "> ingest.live" in line)
    assert line.split(None, 2)[2] == "data `python:live` changed"


def test_a_score_step_that_raises_is_put_in_words(project: Path, run_mlform: Callable[..., Any]) -> None:
    project.write_text(project.read_text() + "scoring: {source: live, output: {path: data/a.csv/scores.csv}}\n")
    result = run_mlform("run", "mlform.yaml", cwd=project.parent)
    assert result.code == 1
    assert result.err.splitlines()[-1].startswith(  # was "internal error in mlform: KeyError: 'score'"
        "error: step `score` failed: `scoring.source: live`: scoring raised FileExistsError: ")


def test_two_projects_with_a_steps_package_each_validate_their_own_classes(tmp_path: Path,
                                                                         run_mlform: Callable[..., Any]) -> None:
    for name, param in (("a", "shrink"), ("b", "beta")):
        (tmp_path / name / "steps").mkdir(parents=True)
        (tmp_path / name / "steps" / "models.py").write_text(textwrap.dedent(f"""
            from sklearn.linear_model import Ridge

            class Model(Ridge):
                def __init__(self, alpha=1.0, {param}=0.5):
                    self.{param} = {param}
                    super().__init__(alpha=alpha)
        """))
        (tmp_path / name / "train.csv").write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(20)))
        (tmp_path / name / "mlform.yaml").write_text(
            f"apiVersion: mlform/v1\nkind: Pipeline\nmetadata: {{name: {name}}}\n"
            "data: {sources: {train: {type: csv, path: train.csv}}, target: y, features: [x]}\n"
            f"model: {{estimator: steps.models.Model, params: {{{param}: 0.1}}}}\n"
            f"evaluation: {{metrics: [rmse]}}\nregistry: {{model_name: {name}}}\n")
    result = run_mlform("validate", ".", cwd=tmp_path)  # b's `steps.models` is not a's, already imported
    assert (result.code, result.err) == (0, ""), result.err
