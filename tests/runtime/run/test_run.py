"""`mlform run` end to end on real iris data: caching, reasons, failures, promotion, tracking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from tools.sklearn_reference import forest_scores

from mlform.runtime.registry.models import Registry
from mlform.runtime.storage.store import MARKER
from mlform.specs.loader import load_spec

CORE_STEPS = ["ingest.train", "ingest.live", "validate.train", "split", "train", "evaluate", "register", "serve"]


def outcomes(out: str) -> dict[str, tuple[str, str]]:
    """Step ID -> (status, reasons) from the step lines of `mlform run`."""
    found = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[0][:1].isalpha() and parts[2].endswith("s") and not line.startswith(" "):
            found[parts[0]] = (parts[1], parts[3] if len(parts) > 3 else "")
    return found


def values_above(spec: Path, column: str, limit: float) -> tuple[int, int, float]:
    """How many values of `column` in the training CSV exceed `limit`, and the first such row and value (pandas)."""
    frame = pd.read_csv(spec.parent / "data" / "iris.csv")
    above = frame[frame[column] > limit]
    return len(above), int(above.index[0]), float(above[column].iloc[0])


def test_full_run_then_rerun_is_all_cached(core_project: Path, mlform) -> None:
    first = mlform("run", core_project)
    assert first.code == 0, first.err
    assert list(outcomes(first.out)) == CORE_STEPS
    assert {status for status, _ in outcomes(first.out).values()} == {"ran"}
    assert "registered `iris-classifier` version 1, promoted to `staging`" in first.out

    again = mlform("run", core_project)
    assert again.code == 0, again.err
    assert outcomes(again.out) == {s: ("cached", "cached: fingerprint unchanged") for s in CORE_STEPS}
    registry = Registry(core_project.parent / ".mlform" / "registry")
    assert [v.version for v in registry.versions("iris-classifier")] == [1]


def test_param_change_reruns_train_evaluate_register_naming_the_key(core_project: Path, mlform, edit_spec) -> None:
    assert mlform("run", core_project).code == 0
    edit_spec(core_project, lambda d: d["model"]["params"].update(n_estimators=30))
    result = mlform("run", core_project)
    assert result.code == 0, result.err
    seen = outcomes(result.out)
    assert seen["train"] == ("ran", "`model.params.n_estimators` changed: 100 -> 30")
    assert seen["evaluate"] == ("ran", "upstream `train` changed")
    assert seen["register"] == ("ran", "upstream `evaluate` changed")
    assert seen["serve"] == ("ran", "upstream `register` changed")
    assert {s for s, (status, _) in seen.items() if status == "cached"} == {
        "ingest.train", "ingest.live", "validate.train", "split"}
    model = Registry(core_project.parent / ".mlform" / "registry").load("iris-classifier", "staging")
    assert model.version.version == 2
    assert model.model.named_steps["model"].n_estimators == 30


def test_data_change_reruns_ingest_with_a_data_reason(core_project: Path, mlform) -> None:
    assert mlform("run", core_project).code == 0
    data = core_project.parent / "data" / "iris.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], *lines[2:], lines[1]]) + "\n")  # same rows, new order
    seen = outcomes(mlform("run", core_project).out)
    assert seen["ingest.train"] == ("ran", "data `data/iris.csv` changed")
    assert seen["ingest.live"][0] == "cached"
    assert seen["validate.train"] == ("ran", "upstream `ingest.train` changed")


def test_a_step_cached_from_another_environment_says_what_changed_later(iris_project: Path, mlform) -> None:
    assert mlform("run", iris_project, "--env", "dev").code == 0
    first_prod = outcomes(mlform("run", iris_project, "--env", "prod").out)
    assert first_prod["ingest.train"][0] == "cached"  # dev's output: same fingerprint
    data = iris_project.parent / "data" / "iris.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], *lines[2:], lines[1]]) + "\n")
    planned = mlform("plan", iris_project, "--env", "prod")
    reasons = {line.split()[1]: line.split(None, 2)[2] for line in planned.out.splitlines()
               if line.startswith("  > ")}
    assert reasons["ingest.train"] == "data `data/iris.csv` changed"  # was "no previous run"
    assert reasons["split"] == "upstream `validate.train` changed"


def test_removed_completion_marker_reruns_only_that_step(core_project: Path, mlform) -> None:
    assert mlform("run", core_project).code == 0
    markers = list((core_project.parent / ".mlform" / "store").glob(f"*/*/{MARKER}"))
    train_marker = next(m for m in markers if json.loads(m.read_text())["step"] == "train")
    train_marker.unlink()
    seen = outcomes(mlform("run", core_project).out)
    assert seen["train"] == ("ran", "output missing: the last run did not complete or its output was removed")
    assert [s for s, (status, _) in seen.items() if status == "ran"] == ["train"]


CLI = "import sys; from mlform.compiler.cli import main; main(sys.argv[1:])"
SLOW_ESTIMATOR = """
import os
import time

from sklearn.dummy import DummyClassifier


class SlowClassifier(DummyClassifier):
    def fit(self, X, y, sample_weight=None):
        if "FIT_STARTED" in os.environ:
            open(os.environ["FIT_STARTED"], "w").close()
            time.sleep(120)
        return super().fit(X, y, sample_weight)
"""


def test_step_killed_midway_is_redone_and_nothing_else(core_project: Path, mlform, edit_spec, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = core_project.parent
    (folder / "slowmodel.py").write_text(SLOW_ESTIMATOR)
    edit_spec(core_project, lambda d: d["model"].update(estimator="slowmodel.SlowClassifier", params={}))
    started = tmp_path / "fit-started"
    env = {**os.environ, "PYTHONPATH": str(folder), "FIT_STARTED": str(started)}
    proc = subprocess.Popen([sys.executable, "-c", CLI, "run", str(core_project)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert started.exists(), "fit never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    store = folder / ".mlform" / "store"
    assert [p for p in store.glob("*/*") if p.is_dir() and not (p / MARKER).exists()] != []  # the torn train output

    monkeypatch.delenv("FIT_STARTED", raising=False)
    monkeypatch.syspath_prepend(str(folder))
    seen = outcomes(mlform("run", core_project).out)
    assert {s for s, (status, _) in seen.items() if status == "cached"} == {
        "ingest.train", "ingest.live", "validate.train", "split"}
    assert seen["train"] == ("ran", "no previous run")
    assert [s for s, (status, _) in seen.items() if status == "ran"] == ["train", "evaluate", "register", "serve"]
    assert [p for p in store.glob("*/*") if p.is_dir() and not (p / MARKER).exists()] == []


def test_validation_failure_stops_dependants_and_exits_1(core_project: Path, mlform, edit_spec) -> None:
    edit_spec(core_project, lambda d: d["validation"]["columns"]["sepal_length"].update(max=5))
    result = mlform("run", core_project)
    assert result.code == 1
    seen = outcomes(result.out)
    assert seen["validate.train"][0] == "FAILED"
    assert all(seen[s][0] == "blocked" for s in ["split", "train", "evaluate", "register", "serve"])
    assert seen["ingest.live"][0] == "ran"
    assert "error: step `validate.train` failed: 1 validation rule failed" in result.err
    count, row, value = values_above(core_project, "sepal_length", 5)
    assert f"`validation.columns.sepal_length.max`: {count} values above 5 (e.g. row {row} = {value}" in result.err
    assert "Traceback" not in result.err


def test_validation_warn_continues(core_project: Path, mlform, edit_spec) -> None:
    edit_spec(core_project, lambda d: d["validation"].update(on_failure="warn"))
    edit_spec(core_project, lambda d: d["validation"]["columns"]["sepal_length"].update(max=5))
    result = mlform("run", core_project)
    assert result.code == 0, result.err
    count, _, _ = values_above(core_project, "sepal_length", 5)
    assert f"warning: `validation.columns.sepal_length.max`: {count} values above 5" in result.out


def test_failing_gate_registers_without_promotion(core_project: Path, mlform, edit_spec) -> None:
    assert mlform("run", core_project).code == 0
    edit_spec(core_project, lambda d: d["evaluation"]["gates"].update(accuracy={"min": 0.99}))
    result = mlform("run", core_project)
    assert result.code == 0, result.err
    accuracy, _ = forest_scores(core_project)
    assert float(accuracy) < 0.99
    assert f"gate `evaluation.gates.accuracy` failed: {accuracy} < min 0.99" in result.out
    assert "registered `iris-classifier` version 2, NOT promoted to `staging`" in result.out
    assert "would serve `iris-classifier@staging` (version 1)" in result.out
    registry = Registry(core_project.parent / ".mlform" / "registry")
    assert registry.resolve("iris-classifier", "staging").version == 1
    assert registry.resolve("iris-classifier", 2).aliases == []


def test_champion_must_be_beaten(core_project: Path, mlform, edit_spec) -> None:
    edit_spec(core_project, lambda d: d["evaluation"]["champion"].update(alias="staging", min_improvement=0.01))
    assert mlform("run", core_project).code == 0
    edit_spec(core_project, lambda d: d["model"]["params"].update(n_estimators=1, max_depth=1))
    result = mlform("run", core_project)
    assert "challenger does not beat champion version 1 on `f1_macro`: " in result.out
    assert "NOT promoted to `staging`" in result.out


def test_a_tie_with_the_champion_is_a_tie_and_keeps_it(core_project: Path, mlform, edit_spec) -> None:
    edit_spec(core_project, lambda d: d["evaluation"]["champion"].update(alias="staging"))  # min_improvement 0
    assert mlform("run", core_project).code == 0
    edit_spec(core_project, lambda d: d["model"]["params"].update(n_estimators=40))  # other bytes, same score
    result = mlform("run", core_project)
    (_, champion), (_, challenger) = forest_scores(core_project, n_estimators=100), forest_scores(core_project)
    assert champion == challenger
    assert (f"challenger ties champion version 1 on `f1_macro`: {challenger} vs {champion}; a tie keeps the champion"
            in [line.strip() for line in result.out.splitlines()])
    assert "registered `iris-classifier` version 2, NOT promoted to `staging`: evaluation did not pass" in result.out
    assert Registry(core_project.parent / ".mlform" / "registry").resolve("iris-classifier", "staging").version == 1


def test_forced_retraining_of_unchanged_inputs_registers_no_copy(core_project: Path, mlform, edit_spec) -> None:
    edit_spec(core_project, lambda d: d["evaluation"]["champion"].update(alias="staging"))
    assert mlform("run", core_project).code == 0
    registry = Registry(core_project.parent / ".mlform" / "registry")
    first = registry.resolve("iris-classifier", 1)
    for _ in range(2):
        forced = mlform("run", core_project, "--force")
        assert forced.code == 0, forced.err
        assert (f"model bytes identical to version 1 (sha256 {first.sha256[:12]}...); no new version registered, "
                "`staging` already on it") in forced.out
        assert "challenger is champion version 1: identical model bytes" in forced.out
    assert [(v.version, v.aliases, v.lineage["run_id"]) for v in registry.versions("iris-classifier")] == [
        (1, ["staging"], first.lineage["run_id"])]


def test_step_option_needs_upstream_output(core_project: Path, mlform) -> None:
    result = mlform("run", core_project, "--step", "train")
    assert result.code == 1
    assert result.err.startswith("error: step `train` failed: upstream step `ingest.train` has no output")
    assert "run it first with `--step ingest.train`" in result.err
    for step in ["ingest.train", "validate.train", "split", "train"]:
        single = mlform("run", core_project, "--step", step)
        assert single.code == 0, single.err
        assert list(outcomes(single.out)) == [step]
    forced = mlform("run", core_project, "--step", "train", "--force")
    assert outcomes(forced.out) == {"train": ("ran", "forced (--force)")}


def test_unknown_step_is_named(core_project: Path, mlform) -> None:
    result = mlform("run", core_project, "--step", "trian")
    assert result.code == 1
    assert result.err.startswith("error: step `trian` failed: no such step (steps: `ingest.train`, ")


def test_env_overlay_and_state_home(core_project: Path, mlform, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFORM_HOME", str(tmp_path / "home"))
    result = mlform("run", core_project, "--env", "dev")
    assert result.code == 0, result.err
    registry = Registry(tmp_path / "home" / "registry")
    assert registry.load("iris-classifier", "staging", "dev").model.named_steps["model"].n_estimators == 20
    assert not (core_project.parent / ".mlform").exists()


def test_runs_and_models_commands(core_project: Path, mlform) -> None:
    assert mlform("run", core_project).code == 0
    listing = mlform("runs", "list", core_project)
    run_id = listing.out.splitlines()[1].split()[0]
    assert listing.out.splitlines()[1].split()[1:4] == ["iris", "default", "ran"]
    shown = mlform("runs", "show", run_id[:12], core_project, "--json")
    data = json.loads(shown.out)
    assert [s["step"] for s in data["steps"]] == CORE_STEPS
    assert data["params"]["model.params.n_estimators"] == "100"
    assert {(m["step"], m["key"]) for m in data["metrics"]} == {("evaluate", "accuracy"), ("evaluate", "f1_macro")}
    models = mlform("models", "list", core_project)
    assert models.out.splitlines()[1].split()[:3] == ["iris-classifier", "1", "staging=v1"]
    missing = mlform("runs", "show", "nope", core_project)
    assert (missing.code, missing.err) == (1, "error: run `nope` is not a tracked run\n")


def test_runs_list_limit_keeps_the_newest_runs(core_project: Path, mlform) -> None:
    for _ in range(3):
        assert mlform("run", core_project, "--step", "ingest.train", "--force").code == 0
    every = json.loads(mlform("runs", "list", core_project, "--format", "json").out)
    assert len({row["id"] for row in every}) == 3
    newest_first = sorted(every, key=lambda row: row["started"], reverse=True)
    limited = mlform("runs", "list", core_project, "--limit", "2", "--format", "json")
    assert limited.code == 0, limited.err
    assert json.loads(limited.out) == newest_first[:2]
    table = mlform("runs", "list", core_project, "--limit", "1").out.splitlines()
    assert [line.split()[0] for line in table[1:]] == [newest_first[0]["id"]]


def test_lineage_records_spec_digest_data_and_commit(core_project: Path, mlform) -> None:
    assert mlform("run", core_project).code == 0
    version = Registry(core_project.parent / ".mlform" / "registry").resolve("iris-classifier", 1)
    lineage = version.lineage
    assert lineage["spec_digest"] == load_spec(core_project).digest
    assert list(lineage["data"]) == ["data/iris.csv"]
    assert lineage["data"]["data/iris.csv"].startswith("sha256:")
    assert lineage["git_commit"] is None  # the tmp copy is not in a git work tree
    assert [c["name"] for c in version.signature] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_runtime_commands_import_no_heavy_modules() -> None:
    code = ("import sys, mlform.compiler.commands.run; "
            "print(sorted(m for m in ('pandas', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_full_iris_spec_runs_monitor_on_the_served_model(iris_project: Path, mlform) -> None:
    result = mlform("run", iris_project)
    assert result.code == 0, result.err
    seen = outcomes(result.out)
    assert list(seen) == [*CORE_STEPS, "monitor"]
    assert seen["monitor"] == ("ran", "no previous run")
    marker = next(m for m in (iris_project.parent / ".mlform" / "store").glob(f"*/*/{MARKER}")
                  if json.loads(m.read_text())["step"] == "monitor")
    values = json.loads(marker.read_text())["values"]
    assert values["breached"] is False
    report = json.loads(Path(values["report_json"]).read_text())
    assert report["performance"]["metrics"]["accuracy"]["value"] > 0.85
    assert Path(values["report_html"]).read_text().lstrip().lower().startswith("<!doctype html")


def test_unchanged_rerun_loads_neither_the_spec_nor_the_ml_stack(core_project: Path, mlform) -> None:
    assert mlform("run", core_project).code == 0
    code = (f"import sys; from mlform.compiler.cli import main\ntry:\n    main(['run', {str(core_project)!r}])\n"
            "finally:\n    print(sorted(m for m in ('pandas', 'sklearn', 'pydantic') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[-1] == "[]"
    assert [line.split()[1] for line in lines[:-2]] == ["cached"] * len(CORE_STEPS)
    data = core_project.parent / "data" / "iris.csv"
    data.write_bytes(data.read_bytes())  # same bytes, new mtime: the receipt no longer vouches for it
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "'pydantic'" in again.stdout.splitlines()[-1]  # the spec is read again
    assert [line.split()[1] for line in again.stdout.splitlines()[:-2]] == ["cached"] * len(CORE_STEPS)


def test_a_run_that_moves_an_alias_is_audited_and_a_broken_log_refuses_the_move(core_project: Path, mlform,
                                                                                edit_spec) -> None:
    from mlform.runtime.storage.auditlog import log_path, verify_log

    edit_spec(core_project, lambda d: d["evaluation"].pop("champion"))  # a passing refit moves the alias
    assert mlform("run", core_project).code == 0
    log = log_path(core_project.parent / ".mlform")
    [entry] = verify_log(log)
    assert (entry["command"], entry["env"], entry["result"], entry["registered"], entry["promoted"]) == (
        "run", "default", "applied", [{"model": "iris-classifier", "version": 1}],
        [{"model": "iris-classifier", "alias": "staging", "from": None, "to": 1}])
    assert mlform("run", core_project).code == 0  # all cached: nothing moved, nothing logged
    assert len(verify_log(log)) == 1
    log.write_text(log.read_text().replace('"actor":"', '"actor":"x', 1))
    edit_spec(core_project, lambda d: d["model"]["params"].update(random_state=7))  # new model bytes
    retrain = mlform("run", core_project, "--step", "train", "--step", "evaluate", "--step", "register", "--force")
    assert retrain.code == 1
    assert retrain.err.startswith("error: step `register` failed: audit log ")
    assert "hash mismatch" in retrain.err
    registry = Registry(core_project.parent / ".mlform" / "registry")
    assert registry.aliases("iris-classifier") == {"staging": 1}


def test_a_step_another_process_completed_meanwhile_is_used_not_redone(core_project: Path) -> None:
    """Two runs of one spec derived their graphs before either trained: the second finds the first's output once it
    holds the step's lock, and uses it instead of clearing the folder the first one's later steps read."""
    from mlform.runtime.run.executor import Run, run_steps

    spec = load_spec(core_project)
    first, second = Run(spec), Run(spec)
    upstream = [s for s in first.steps if s in first.graph.upstream(["train"])]
    run_steps(first, [*upstream, "train"], [*upstream, "train"], None)
    model = first.outputs["train"].dir / "model.pkl"
    before = model.stat()
    outcome = second.execute("train", "second-run", None)
    assert (outcome.status, outcome.dir) == ("cached", first.outputs["train"].dir)
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
