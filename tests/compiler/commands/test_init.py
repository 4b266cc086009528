"""`mlform init`: a scaffold that validates everywhere, never overwrites, and names itself properly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlform.compiler.cli import cli
from mlform.specs import validate_file
from mlform.specs.read.overlays import BASE

FILES = ("mlform.yaml", "data/train.csv", "data/live.csv")
NAME_RULE = ("is not a valid pipeline name: use lowercase letters, digits and `-`, "
             "starting and ending with a letter or digit (a DNS-1123 label)")


def _init(*args: str) -> Result:
    return CliRunner().invoke(cli, ["init", *args])


def test_scaffold_validates_in_every_environment_without_diagnostics(tmp_path: Path) -> None:
    result = _init("churn", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    specs, diagnostics = validate_file(tmp_path / "churn" / "mlform.yaml")
    assert diagnostics == []
    assert [spec.env for spec in specs] == [BASE, "dev", "prod"]
    assert {spec.name for spec in specs} == {"churn"}
    assert all(spec.pipeline.monitoring is not None for spec in specs)


def test_init_reports_what_it_made_and_what_to_do_next(tmp_path: Path) -> None:
    project = tmp_path / "new dir" / "churn"
    result = _init("churn", "--dir", str(project.parent))
    assert result.exit_code == 0, result.output
    shown = f"'{project}'"
    assert result.stdout == (
        f"created {project}/mlform.yaml\n"
        f"created {project}/data/train.csv (400 rows)\n"
        f"created {project}/data/live.csv (200 rows)\n"
        f"created {project}/.gitignore\n"
        "\n"
        "Next steps:\n"
        f"  mlform validate {shown}           check the spec in every environment\n"
        f"  mlform graph {shown} --env prod   see the steps it resolves to\n"
        f"  mlform run {shown}                train, evaluate and register the model locally\n"
    )


def test_scaffold_data_is_deterministic_and_independent_of_the_name(tmp_path: Path) -> None:
    assert _init("first", "--dir", str(tmp_path)).exit_code == 0
    assert _init("second", "--dir", str(tmp_path)).exit_code == 0
    for data in ("data/train.csv", "data/live.csv"):
        assert (tmp_path / "first" / data).read_bytes() == (tmp_path / "second" / data).read_bytes()
    first = (tmp_path / "first" / "mlform.yaml").read_text()
    assert (tmp_path / "second" / "mlform.yaml").read_text() == first.replace("first", "second")
    rows = (tmp_path / "first" / "data" / "train.csv").read_text().splitlines()
    assert rows[0] == "customer_id,tenure_months,monthly_spend,support_tickets,plan,churned"
    labels = [row.rsplit(",", 1)[1] for row in rows[1:]]
    assert set(labels) == {"0", "1"}
    assert 0.2 < labels.count("1") / len(labels) < 0.6


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "churn" / "mlform.yaml"
    spec.parent.mkdir()
    spec.write_text("keep me\n")
    result = _init("churn", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: refusing to overwrite existing files: `{spec}`; "
                             "remove them, or choose another NAME or --dir\n")
    assert spec.read_text() == "keep me\n"
    assert sorted(p.name for p in spec.parent.iterdir()) == ["mlform.yaml"]


def test_init_twice_lists_every_file_it_would_overwrite(tmp_path: Path) -> None:
    assert _init("churn", "--dir", str(tmp_path)).exit_code == 0
    result = _init("churn", "--dir", str(tmp_path))
    assert result.exit_code == 1
    shown = ", ".join(f"`{tmp_path / 'churn' / f}`" for f in FILES)
    assert result.stderr == (f"Error: refusing to overwrite existing files: {shown}; "
                             "remove them, or choose another NAME or --dir\n")


def test_init_refuses_a_project_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "churn").write_text("")
    result = _init("churn", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == f"Error: `{tmp_path / 'churn'}` exists and is not a folder\n"


@pytest.mark.parametrize(("name", "message"), [
    ("Churn", f"`Churn` {NAME_RULE}"),
    ("churn_model", f"`churn_model` {NAME_RULE}"),
    ("churn-", f"`churn-` {NAME_RULE}"),
    ("churn.v2", f"`churn.v2` {NAME_RULE}"),
    ("", f"`` {NAME_RULE}"),
    ("a" * 54, f"`{'a' * 54}` is 54 characters long; a pipeline name has at most 53"),
])
def test_bad_names_are_refused_before_anything_is_written(name: str, message: str, tmp_path: Path) -> None:
    result = _init(name, "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_longest_name_is_accepted(tmp_path: Path) -> None:
    name = "a" * 53
    assert _init(name, "--dir", str(tmp_path)).exit_code == 0
    _, diagnostics = validate_file(tmp_path / name / "mlform.yaml")
    assert diagnostics == []


def test_the_installed_command_fails_without_a_traceback(tmp_path: Path) -> None:
    mlform = Path(sys.executable).with_name("mlform")
    done = subprocess.run([str(mlform), "init", "Bad_Name", "--dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr == f"Error: `Bad_Name` {NAME_RULE}\n"


def test_gitignore_keeps_state_and_build_output_out_of_git(tmp_path: Path) -> None:
    assert _init("churn", "--dir", str(tmp_path)).exit_code == 0
    project = tmp_path / "churn"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    for made in (".mlform/registry/churn/versions/1/model.pkl", "build/demo/card.html", "dev.plan",
                 "data/__pycache__/x.pyc", "deploy/churn/dev/docker/Dockerfile.train"):
        (project / made).parent.mkdir(parents=True, exist_ok=True)
        (project / made).write_text("x")
    done = subprocess.run(["git", "-C", str(project), "status", "--porcelain", "--untracked-files=all"],
                          capture_output=True, text=True, check=True)
    shown = sorted(line[3:] for line in done.stdout.splitlines())
    assert shown == [".gitignore", "data/live.csv", "data/train.csv", "deploy/churn/dev/docker/Dockerfile.train",
                     "mlform.yaml"]


def test_an_existing_gitignore_keeps_its_lines_and_gains_only_missing_rules(tmp_path: Path) -> None:
    project = tmp_path / "churn"
    project.mkdir()
    (project / ".gitignore").write_text("secrets.env\n/.mlform\nbuild/")
    result = _init("churn", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"updated {project}/.gitignore (added 2 lines)\n" in result.stdout
    assert (project / ".gitignore").read_text() == (
        "secrets.env\n/.mlform\nbuild/\n"
        "# mlform: local state (runs, step outputs, model registry, tracking, audit log)\n*.plan\n__pycache__/\n")


def test_a_gitignore_with_every_rule_is_left_untouched(tmp_path: Path) -> None:
    project = tmp_path / "churn"
    project.mkdir()
    kept = "*.plan\n.mlform/\n# mine\nbuild\n__pycache__/\n"
    (project / ".gitignore").write_text(kept)
    result = _init("churn", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"kept {project}/.gitignore (it already ignores mlform state and build output)\n" in result.stdout
    assert (project / ".gitignore").read_text() == kept


def test_the_scaffold_is_named_after_name_everywhere(tmp_path: Path) -> None:
    assert _init("wine-quality", "--dir", str(tmp_path)).exit_code == 0
    spec = next(s for s in validate_file(tmp_path / "wine-quality" / "mlform.yaml")[0] if s.env == BASE)
    assert (spec.name, spec.pipeline.registry.model_name, spec.root.name) == ("wine-quality",) * 3
