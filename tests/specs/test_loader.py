"""Loading specs: every error at once across stages, environments, resolved specs and discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlform.specs import SpecError, discover, load_spec, validate_file
from mlform.specs.check.semantic import check_sections, sections_of, valid_sections
from mlform.specs.model.pipeline import Pipeline
from mlform.specs.read.source import parse_document

MINIMAL = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: demo
data:
  sources:
    train: {type: csv, path: train.csv}
  target: y
  features: [a, b]
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
registry:
  model_name: demo
"""


def _spec(tmp_path: Path, text: str, name: str = "mlform.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    (tmp_path / "train.csv").write_text("a,b,y\n1,2,0\n")
    return path


def _lines(diagnostics: list) -> list[str]:
    return [str(d).split(":", 1)[1] for d in diagnostics]


def test_the_iris_example_is_valid_in_every_environment(iris_project: Path) -> None:
    specs, diagnostics = validate_file(iris_project)
    assert diagnostics == []
    assert [s.env for s in specs] == ["default", "dev", "prod"]


def test_a_schema_error_does_not_hide_semantic_errors_of_valid_sections(tmp_path: Path) -> None:
    text = MINIMAL.replace("name: demo\n", "name: Demo\n", 1).replace("LogisticRegression", "LogisticRegresion")
    specs, diagnostics = validate_file(_spec(tmp_path, text))
    assert specs == []
    assert _lines(diagnostics) == [
        "4:9: error: metadata.name: `Demo` is not a DNS-1123 label: lowercase letters, digits and `-`, "
        "starting and ending with a letter or digit",
        "11:14: error: model.estimator: module `sklearn.linear_model` has no `LogisticRegresion`; "
        "did you mean `LogisticRegression`?",
    ]


def test_checks_needing_an_invalid_section_are_skipped_but_others_run(tmp_path: Path) -> None:
    text = MINIMAL.replace("  target: y\n", "").replace("[accuracy]", "[accuracy, r2, acuracy]")
    text += "  path: 5\nvalidation:\n  columns:\n    nope: {}\n"
    _, diagnostics = validate_file(_spec(tmp_path, text))
    assert _lines(diagnostics) == [
        "5:1: error: data: missing required key `target`",
        "12:23: error: evaluation.metrics.1: metric `r2` is for regression, but this model does classification",
        "12:27: error: evaluation.metrics.2: unknown metric `acuracy`; did you mean `accuracy`? (classification "
        "metrics: `accuracy`, `balanced_accuracy`, `f1`, `f1_macro`, `f1_micro`, `f1_weighted`, `precision`, "
        "`precision_macro`, `recall`, `recall_macro`, `roc_auc`, `average_precision`, `log_loss`, "
     "`predict_ms_per_1k_rows`, `model_size_mb`)",
        "15:9: error: registry.path: expected a string, got integer `5`; quote it to keep it as text: \"5\"",
    ]


def test_valid_sections_keeps_sections_that_validate_alone_and_defaults_absent_ones() -> None:
    data = parse_document(MINIMAL.replace("name: demo\n", "name: 7\n", 1).encode(), "spec.yaml").data
    sections = valid_sections(data)
    assert "metadata" not in sections
    assert sections["data"].target == "y"
    assert sections["serving"] is None
    assert sections["validation"].on_failure == "fail"
    assert sections["secrets"] == {}


def test_check_sections_of_a_valid_pipeline_finds_nothing(iris_project: Path) -> None:
    spec = load_spec(iris_project)
    assert check_sections(sections_of(spec.pipeline), spec.root) == []
    assert set(sections_of(spec.pipeline)) == {f.alias or n for n, f in Pipeline.model_fields.items()}


ENVS = MINIMAL + """\
environments:
  dev:
    model:
      params: {max_iters: 5}
  prod:
    data:
      features: [a, y]
  fixed:
    model:
      estimator: sklearn.linear_model.LogisticRegression
  broken:
    modle: {}
"""


def test_errors_an_environment_adds_name_the_environment(tmp_path: Path) -> None:
    specs, diagnostics = validate_file(_spec(tmp_path, ENVS))
    assert [s.env for s in specs] == ["default", "fixed"]
    assert _lines(diagnostics) == [
        "19:16: error: environments.dev.model.params.max_iters: `LogisticRegression` has no parameter "
        "`max_iters`; did you mean `max_iter`? (in environment `dev`)",
        "22:21: error: environments.prod.data.features.1: the target `y` cannot also be a feature "
        "(in environment `prod`)",
        "27:5: error: environments.broken.modle: unknown section `modle`; did you mean `model`?",
    ]


def test_env_restricts_validation_to_that_environment(tmp_path: Path) -> None:
    path = _spec(tmp_path, ENVS)
    specs, diagnostics = validate_file(path, ["fixed"])
    assert [s.env for s in specs] == ["fixed"]
    assert diagnostics == []

    _, diagnostics = validate_file(path, ["prod"])
    assert _lines(diagnostics) == [
        "22:21: error: environments.prod.data.features.1: the target `y` cannot also be a feature "
        "(in environment `prod`)",
    ]


def test_an_error_the_base_shares_is_not_attributed_to_the_environment(tmp_path: Path) -> None:
    text = ENVS.replace("[accuracy]", "[accuracy, rmse]")
    for envs in (None, ["fixed"]):
        _, diagnostics = validate_file(_spec(tmp_path, text), envs)
        shared = [line for line in _lines(diagnostics) if "rmse" in line]
        assert shared == ["13:23: error: evaluation.metrics.1: metric `rmse` is for regression, "
                          "but this model does classification"]


def test_an_environment_that_fixes_the_base_validates_alone(tmp_path: Path) -> None:
    text = MINIMAL.replace("LogisticRegression", "LogisticRegresion") + (
        "environments:\n  fixed:\n    model: {estimator: sklearn.linear_model.LogisticRegression}\n")
    path = _spec(tmp_path, text)
    assert validate_file(path, ["fixed"])[1] == []
    assert load_spec(path, "fixed").pipeline.model.estimator == "sklearn.linear_model.LogisticRegression"
    with pytest.raises(SpecError):
        load_spec(path)


def test_load_spec_raises_every_diagnostic(tmp_path: Path) -> None:
    path = _spec(tmp_path, MINIMAL.replace("[accuracy]", "[r2, mae]"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert _lines(caught.value.errors) == [
        "13:13: error: evaluation.metrics.0: metric `r2` is for regression, but this model does classification",
        "13:17: error: evaluation.metrics.1: metric `mae` is for regression, but this model does classification",
    ]


def test_load_spec_refuses_an_undeclared_environment(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(_spec(tmp_path, MINIMAL), "prod")
    assert _lines(caught.value.diagnostics) == ["1:1: error: environments: environment `prod` is not declared "
                                                "(declared: none)"]


def test_warnings_do_not_stop_a_spec_from_loading(tmp_path: Path) -> None:
    path = _spec(tmp_path, MINIMAL.replace("path: train.csv", "path: later.csv"))
    spec = load_spec(path)
    assert _lines(list(spec.warnings)) == [
        "7:30: warning: data.sources.train.path: file `later.csv` does not exist (yet)"
    ]


def test_resolved_spec_describes_itself(iris_project: Path) -> None:
    spec = load_spec(iris_project, "prod")
    assert spec.path == iris_project.resolve()
    assert spec.root == iris_project.parent.resolve()
    assert (spec.name, spec.env) == ("iris", "prod")
    assert spec.pipeline.serving is not None and spec.pipeline.serving.replicas == 2
    assert "environments" not in spec.config
    assert spec.config["apiVersion"] == "mlform/v1"


def test_digest_follows_meaning_not_formatting(tmp_path: Path) -> None:
    base = load_spec(_spec(tmp_path, MINIMAL)).digest
    registry = "registry:\n  model_name: demo\n"
    variants = {
        "reordered.yaml": registry + MINIMAL.replace(registry, "").replace("{type: csv, path: train.csv}",
                                                                             "{path: train.csv, type: csv}"),
        "reformatted.yaml": MINIMAL.replace("features: [a, b]", "features:\n    - a\n    - 'b'") + "# comment\n",
    }
    for name, text in variants.items():
        assert load_spec(_spec(tmp_path, text, name)).digest == base, name
    assert load_spec(_spec(tmp_path, MINIMAL.replace("[a, b]", "[b, a]"), "changed.yaml")).digest != base


def test_discover_expands_directories_and_skips_tool_folders(tmp_path: Path) -> None:
    for folder in ("a", "b/c", ".venv/x", ".cache", "build", "node_modules/y", "d"):
        (tmp_path / folder).mkdir(parents=True)
    for spec in ("a/mlform.yaml", "b/c/mlform.yml", ".venv/x/mlform.yaml", ".cache/mlform.yaml", "build/mlform.yaml",
                 "node_modules/y/mlform.yaml", "d/other.yaml", "d/mlform.yamlx"):
        (tmp_path / spec).write_text("{}")
    explicit = tmp_path / "d" / "other.yaml"
    found = discover([tmp_path, explicit, tmp_path / "a"])
    assert found == [tmp_path / "a/mlform.yaml", tmp_path / "b/c/mlform.yml", explicit]
