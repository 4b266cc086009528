"""Organisation policies through the real `mlform` CLI: exit codes, `--policy`, `$MLFORM_POLICY` and discovery."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_plan_apply import mlform

STRICT = """\
apiVersion: mlform/v1
kind: Policy
rules:
  - name: owners
    require:
      metadata.owners: {min_items: 2}
  - name: prod-replicas
    message: serving in prod needs at least 3 replicas
    environments: [prod]
    require:
      serving.replicas: {min: 3}
  - name: newer-python
    severity: warning
    require:
      targets.docker.base_image: {pattern: 'python:3\\.12-slim'}
"""
WARN_ONLY = STRICT.replace("  - name: owners\n    require:\n      metadata.owners: {min_items: 2}\n", "").replace(
    "environments: [prod]\n", "environments: [prod]\n    severity: warning\n")
OWNERS = "mlform.yaml:11:11: error: metadata.owners: policy `owners`: expected at least 2 items, got 1"
PYTHON = ("mlform.yaml:88:17: warning: targets.docker.base_image: policy `newer-python`: expected text matching "
          "`python:3\\.12-slim`, got string `python:3.11-slim`")
REPLICAS = ("mlform.yaml:105:17: {}: environments.prod.serving.replicas: policy `prod-replicas`: expected at least 3, "
            "got 2; serving in prod needs at least 3 replicas (in environment `prod`)")


@pytest.fixture
def project(iris_project: Path) -> Path:
    """The iris example as a project root (it holds `.git`), with a strict and a warning-only policy beside it."""
    root = iris_project.parent
    (root / ".git").mkdir()
    (root / "strict.yaml").write_text(STRICT)
    (root / "warn.yaml").write_text(WARN_ONLY)
    return root


def test_validate_reports_violations_with_spec_errors_and_exits_1(project: Path) -> None:
    spec = project / "mlform.yaml"
    spec.write_text(spec.read_text().replace("n_estimators: 20", "n_estimator: 20"))  # breaks `dev` only
    result = mlform(project, "validate", "mlform.yaml", "--policy", "strict.yaml")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        OWNERS,
        PYTHON,
        "mlform.yaml:102:9: error: environments.dev.model.params.n_estimator: `RandomForestClassifier` has no "
        "parameter `n_estimator`; did you mean `n_estimators`? (in environment `dev`)",
        REPLICAS.format("error"),
        "3 errors found.",
    ]


def test_validate_fails_on_errors_and_passes_on_warnings(project: Path) -> None:
    strict = mlform(project, "validate", "mlform.yaml", "--policy", "strict.yaml")
    assert (strict.returncode, strict.stdout) == (1, "")
    assert strict.stderr.splitlines() == [OWNERS, PYTHON, REPLICAS.format("error"), "2 errors found."]
    warned = mlform(project, "validate", "mlform.yaml", "--policy", "warn.yaml")
    assert (warned.returncode, warned.stdout) == (0, "ok: mlform.yaml (default, dev, prod)\n")
    assert warned.stderr.splitlines() == [PYTHON, REPLICAS.format("warning")]


def test_github_annotations_locate_violations_in_the_spec(project: Path) -> None:
    result = mlform(project, "validate", "mlform.yaml", "--policy", "strict.yaml", "--format", "github")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "::error file=mlform.yaml,line=11,col=11,title=mlform error::metadata.owners: policy `owners`: "
        "expected at least 2 items, got 1",
        "::warning file=mlform.yaml,line=88,col=17,title=mlform warning::targets.docker.base_image: policy "
        "`newer-python`: expected text matching `python:3\\.12-slim`, got string `python:3.11-slim`",
        "::error file=mlform.yaml,line=105,col=17,title=mlform error::environments.prod.serving.replicas: policy "
        "`prod-replicas`: expected at least 3, got 2; serving in prod needs at least 3 replicas "
        "(in environment `prod`)",
    ]


def test_the_policy_at_the_project_root_is_found_from_any_folder_below(project: Path) -> None:
    (project / "mlform-policy.yaml").write_text(STRICT.replace("kind: Policy", "kind: Polcy"))
    (project / "sub").mkdir()
    at_root = mlform(project, "validate", "mlform.yaml")
    below = mlform(project / "sub", "validate", "../mlform.yaml")
    assert (at_root.returncode, below.returncode) == (1, 1)
    message = "mlform-policy.yaml:2:7: error: kind: expected `Policy`, got string `Polcy`; did you mean `Policy`?"
    assert at_root.stderr.splitlines()[0] == message
    assert below.stderr.splitlines()[0] == f"../{message}"
    (project / "mlform-policy.yaml").write_text(STRICT)
    found = mlform(project / "sub", "validate", "../mlform.yaml", "--env", "dev")
    assert found.returncode == 1
    assert found.stderr.splitlines()[0] == "../" + OWNERS + " (in environment `dev`)"


def test_the_environment_variable_names_a_policy_and_the_option_wins(project: Path) -> None:
    named = mlform(project, "validate", "mlform.yaml", env={"MLFORM_POLICY": "strict.yaml"})
    assert (named.returncode, named.stderr.splitlines()[-1]) == (1, "2 errors found.")
    overridden = mlform(project, "validate", "mlform.yaml", "--policy", "warn.yaml",
                        env={"MLFORM_POLICY": "strict.yaml"})
    assert overridden.returncode == 0


def test_a_missing_policy_file_is_a_usage_error(project: Path) -> None:
    result = mlform(project, "validate", "mlform.yaml", "--policy", "nope.yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "Error: Invalid value for '--policy': File 'nope.yaml' does not exist."


def test_plan_exits_1_on_a_violation_even_with_detailed_exitcode(project: Path) -> None:
    result = mlform(project, "plan", ".", "--artifacts-dir", "out", "--policy", "strict.yaml", "--detailed-exitcode")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [OWNERS, PYTHON, REPLICAS.format("error")]
    assert not (project / "out").exists()


def test_plan_prints_warnings_and_plans(project: Path) -> None:
    (project / "mlform-policy.yaml").write_text(WARN_ONLY)
    result = mlform(project, "plan", ".", "--env", "prod", "--artifacts-dir", "out", "--detailed-exitcode")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{PYTHON} (in environment `prod`)", REPLICAS.format("warning")]
    assert result.stdout.splitlines()[-1].startswith("Plan: ")


def test_plan_reports_a_broken_policy_file(project: Path) -> None:
    (project / "mlform-policy.yaml").write_text(STRICT.replace("min_items: 2", "min_item: 2"))
    result = mlform(project, "plan", ".", "--artifacts-dir", "out")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "mlform-policy.yaml:6:25: error: rules.0.require.metadata.owners.min_item: unknown key `min_item`; "
        "did you mean `min_items`?"]


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_help_documents_the_policy_and_the_exit_status(tmp_path: Path, command: str) -> None:
    result = mlform(tmp_path, command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--policy FILE" in text
    assert "$MLFORM_POLICY" in text and "mlform-policy.yaml at the project root" in text
    assert "Exit status:" in text and "policy rule of severity `error`" in text
