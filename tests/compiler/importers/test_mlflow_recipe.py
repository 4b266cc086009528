"""`mlform import mlflow-recipe`: recipes in the templates' format import, validate, plan and apply; what cannot
be imported is named at the recipe's file:line and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlform.compiler.cli import main
from mlform.specs import validate_file

from .recipes import write_recipe

CAPTURE = tuple[int, str, str]


def _mlform(capsys: pytest.CaptureFixture[str], *args: str) -> CAPTURE:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".mlform" not in p.parts}


def _evaluation(root: Path) -> dict[str, object]:
    store = root / ".mlform" / "store"
    found = [json.loads(p.read_text()) for p in store.rglob("evaluation.json")]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_a_template_recipe_imports_validates_and_applies(tmp_path: Path, kind: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", kind)
    code, out, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert code == 0, err
    assert "mapped      recipe.yaml:" in out and "not mapped  profiles/local.yaml:1 `experiment`" in out
    specs, diagnostics = validate_file(root / "mlform.yaml")
    assert [d for d in diagnostics if d.severity == "error"] == []
    pipeline = specs[0].pipeline
    assert pipeline.model.task == kind
    assert pipeline.data.target == "target" and "target" not in pipeline.data.features
    assert pipeline.data.sources["train"].type == "python"
    assert pipeline.evaluation.positive_class == (1 if kind == "classification" else None)
    code, out, err = _mlform(capsys, "apply", str(root), "--yes")
    assert code == 0, err
    evaluation = _evaluation(root)
    custom = "within_50" if kind == "regression" else "error_rate"
    metrics = evaluation["metrics"]
    assert isinstance(metrics, dict) and 0 <= metrics[custom] <= 1
    assert evaluation["passed"] is True
    assert "promoted to `staging`" in out


def test_comments_name_the_recipe_key_of_each_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "regression")
    assert _mlform(capsys, "import", "mlflow-recipe", str(root))[0] == 0
    text = (root / "mlform.yaml").read_text()
    assert '  target: "target"  # recipe.yaml:7 `target_col`' in text
    assert "`steps.train.estimator_params`" in text and '"rmse": {"max": 80}' in text


def test_custom_metric_in_a_failing_validation_criterion_fails_the_gate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "regression", threshold=1)  # rmse below 1: impossible
    assert _mlform(capsys, "import", "mlflow-recipe", str(root))[0] == 0
    code, out, err = _mlform(capsys, "apply", str(root), "--yes")
    assert code == 0, err
    assert _evaluation(root)["passed"] is False
    assert "gate `evaluation.gates.rmse` failed" in out and "NOT promoted to `staging`" in out


def test_a_missing_profile_variable_is_named_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "regression")
    profile = root / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace("RMSE_THRESHOLD: 80", ""))
    before = _files(root)
    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert (code, err) == (1, "recipe.yaml:26:20: error: RMSE_THRESHOLD: variable `RMSE_THRESHOLD` is not "
                              "defined in profiles/local.yaml\n")
    assert _files(root) == before


def test_a_key_in_both_files_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "regression")
    profile = root / "profiles" / "local.yaml"
    profile.write_text(profile.read_text() + 'target_col: "bmi"\n')
    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert code == 1
    assert err.startswith("profiles/local.yaml:13:1: error: target_col: `target_col` is set in both recipe.yaml and "
                          "profiles/local.yaml")


@pytest.mark.parametrize(("edit", "expected"), [
    (("    using: estimator_spec", "    using: automl/flaml"),
     "recipe.yaml:19:5: error: steps.train.using: `using: automl/flaml` is not supported (supported: `custom`, "
     "`estimator_spec`): mlform trains the estimator `estimator_method` returns"),
    (("  register:", "  register:\n    await_model_version: true"),
     "recipe.yaml:30:5: error: steps.register.await_model_version: `steps.register.await_model_version` is not "
     "supported by `mlform import`"),
    (("        threshold: 0.4", "        threshold: 0.4\n      - metric: sum_on_target\n        threshold: 1"),
     "recipe.yaml:29:9: error: steps.evaluate.validation_criteria.2.metric: metric `sum_on_target` has no mlform "
     "equivalent"),
])
def test_an_unsupported_key_is_located_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], expected: str) -> None:
    root = write_recipe(tmp_path / "recipe", "regression")
    recipe = root / "recipe.yaml"
    recipe.write_text(recipe.read_text().replace(*edit))
    before = _files(root)
    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert code == 1
    assert err.startswith(expected), err
    assert _files(root) == before


def test_a_broken_loader_is_named_with_its_file_and_line(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "regression")
    loader = root / "steps" / "ingest.py"
    loader.write_text(loader.read_text().replace("return pd.read_csv(file_path)", "return pd.read_csv(file_path, "
                                                                                   "usecols=['nope'])"))
    before = _files(root)
    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root))
    assert code == 1
    assert ("`steps.ingest:load_file_as_dataframe`: `load_file_as_dataframe` (steps/ingest.py:4) raised "
            "ValueError: ") in err and "(at steps/ingest.py:6)" in err
    assert _files(root) == before


def test_out_elsewhere_copies_the_step_modules_and_points_at_the_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "classification", custom_loader=False)
    out = tmp_path / "pipelines" / "cancer"
    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root), "--out", str(out))
    assert code == 0, err
    assert (out / "steps" / "train.py").read_text() == (root / "steps" / "train.py").read_text()
    specs, _ = validate_file(out / "mlform.yaml")
    assert specs[0].pipeline.data.sources["train"].model_dump()["path"] == "../../recipe/data/cancer.csv"


def test_a_recipe_folder_given_relative_to_the_working_folder_imports(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    write_recipe(tmp_path / "recipe", "regression")
    monkeypatch.chdir(tmp_path)
    code, out, err = _mlform(capsys, "import", "mlflow-recipe", "recipe")
    assert code == 0, err
    specs, diagnostics = validate_file(tmp_path / "recipe" / "mlform.yaml")
    assert [d for d in diagnostics if d.severity == "error"] == []
    assert specs[0].pipeline.data.sources["train"].type == "python"


def test_profile_chooses_the_profile_file_and_force_replaces_an_earlier_import(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "regression")
    local = (root / "profiles" / "local.yaml").read_text()
    assert "RMSE_THRESHOLD: 80" in local
    (root / "profiles" / "ci.yaml").write_text(local.replace("RMSE_THRESHOLD: 80", "RMSE_THRESHOLD: 42"))
    spec = root / "mlform.yaml"

    assert _mlform(capsys, "import", "mlflow-recipe", str(root))[0] == 0  # the default profile: local
    first = spec.read_text()
    assert '"rmse": {"max": 80}' in first and "(profile `local`)" in first

    refused = _mlform(capsys, "import", "mlflow-recipe", str(root), "--profile", "ci")
    assert refused[0] == 1 and "pass --force to replace" in refused[2]
    assert spec.read_text() == first

    code, out, err = _mlform(capsys, "import", "mlflow-recipe", str(root), "--profile", "ci", "--force")
    assert code == 0, err
    assert f"wrote {spec}" in out.splitlines()
    replaced = spec.read_text()
    assert '"rmse": {"max": 42}' in replaced and '"max": 80' not in replaced and "(profile `ci`)" in replaced


def test_an_existing_spec_is_not_replaced_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_recipe(tmp_path / "recipe", "regression")
    (root / "mlform.yaml").write_text("# the team's own spec\n")
    before = {name: (root / name).read_bytes() for name in _files(root)}

    code, _, err = _mlform(capsys, "import", "mlflow-recipe", str(root))

    assert (code, err) == (1, f"Error: `{root / 'mlform.yaml'}` already exists; pass --force to replace\n")
    assert {name: (root / name).read_bytes() for name in _files(root)} == before
