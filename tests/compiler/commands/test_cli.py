"""The `mlform` console script, run for real, and the diagnostic report formats."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from mlform.compiler.commands.report import render_diagnostics
from mlform.specs.errors import Diagnostic

MLFORM = str(Path(sys.executable).with_name("mlform"))
HEAVY = ("pandas", "numpy", "sklearn", "scipy", "pyarrow", "jinja2", "networkx", "pydantic")

BROKEN = """\
apiVersion: mlform/v1
kind: Pipeline
metadata:
  name: Broken
data:
  sources:
    train: {type: csv, path: train.csv}
  target: y
  features: [a, b]
model:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy, rmse]
registry:
  model_name: broken
"""


def _run(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLFORM, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "train.csv").write_text("a,b,y\n1,2,0\n")
    (folder / "mlform.yaml").write_text(BROKEN)
    return folder / "mlform.yaml"


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = _run(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("validate", "graph", "schema", "init", "run", "serve", "monitor"):
        assert f"  {command} " in result.stdout


def test_version(tmp_path: Path) -> None:
    result = _run(tmp_path, "--version")
    assert (result.returncode, result.stdout) == (0, f"mlform, version {version('mlform')}\n")


def heavy_imports(cwd: Path, args: list[str]) -> tuple[str, str]:
    """Run the CLI with `args` in a fresh interpreter: (its output, the heavy modules it imported, comma-joined)."""
    script = (
        "import sys\n"
        "from mlform.compiler import cli\n"
        "try:\n"
        f"    cli.main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        f"print(','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    *output, heavy = result.stdout.splitlines()
    return "\n".join(output), heavy


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"], ["graph", "--help"], ["promote", "--help"],
                                  ["card", "--help"], ["audit", "--help"]])
def test_help_imports_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    assert heavy_imports(tmp_path, args)[1] == ""


def test_validate_without_a_policy_loads_no_policy_module(iris_project: Path) -> None:
    script = ("import sys\nfrom mlform.compiler import cli\ntry:\n    cli.main(['validate', 'mlform.yaml'])\n"
              "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
              "print(sorted(m for m in sys.modules if m.startswith('mlform.specs.check.polic')))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=iris_project.parent, capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode, result.stdout.splitlines()[-1]) == (0, "[]"), result.stderr


def test_validate_a_valid_spec_exits_0(iris_project: Path) -> None:
    result = _run(iris_project.parent, "validate", "mlform.yaml")
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok: mlform.yaml (default, dev, prod)\n", "")


def test_env_restricts_validation(iris_project: Path) -> None:
    result = _run(iris_project.parent, "validate", "mlform.yaml", "--env", "prod")
    assert (result.returncode, result.stdout) == (0, "ok: mlform.yaml (prod)\n")


def test_an_undeclared_env_is_an_error(iris_project: Path) -> None:
    result = _run(iris_project.parent, "validate", "mlform.yaml", "--env", "staging")
    assert result.returncode == 1
    assert result.stderr == (
        "mlform.yaml:98:1: error: environments: environment `staging` is not declared "
        "(declared: `dev`, `prod`)\n1 error found.\n"
    )


def test_validate_an_invalid_spec_exits_1_with_every_error(broken: Path) -> None:
    result = _run(broken.parent, "validate", "mlform.yaml")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "mlform.yaml:4:9: error: metadata.name: `Broken` is not a DNS-1123 label: lowercase letters, digits "
        "and `-`, starting and ending with a letter or digit\n"
        "mlform.yaml:13:23: error: evaluation.metrics.1: metric `rmse` is for regression, but this model does "
        "classification\n"
        "2 errors found.\n"
    )


def test_directories_expand_to_every_spec(tmp_path: Path, iris_project: Path, broken: Path) -> None:
    (tmp_path / "iris" / ".venv").mkdir()
    shutil.copy(broken, tmp_path / "iris" / ".venv" / "mlform.yaml")
    result = _run(tmp_path, "validate", ".")
    assert result.returncode == 1
    assert result.stdout == "ok: iris/mlform.yaml (default, dev, prod)\n"
    files = [line.split(":")[0] for line in result.stderr.splitlines()]
    assert files == ["broken/mlform.yaml"] * 2 + ["2 errors found."]


def test_json_report(broken: Path) -> None:
    result = _run(broken.parent, "validate", "mlform.yaml", "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("format_version", "valid", "errors")} == {"format_version": 1, "valid": False,
                                                                               "errors": 2}
    assert report["diagnostics"][1] == {
        "file": "mlform.yaml", "line": 13, "col": 23, "path": "evaluation.metrics.1", "severity": "error",
        "message": "metric `rmse` is for regression, but this model does classification",
    }


def test_json_report_of_a_valid_spec(iris_project: Path) -> None:
    result = _run(iris_project.parent, "validate", "mlform.yaml", "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"format_version": 1, "valid": True, "errors": 0, "diagnostics": []}


def test_github_annotations(broken: Path) -> None:
    result = _run(broken.parent, "validate", "mlform.yaml", "--format", "github")
    assert result.returncode == 1
    assert result.stdout.splitlines()[1] == (
        "::error file=mlform.yaml,line=13,col=23,title=mlform error::evaluation.metrics.1: metric `rmse` is for "
        "regression, but this model does classification"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00", "mlform.yaml:1:1: error: invalid UTF-8 byte 0xff; save the file as UTF-8"),
        (b"- just\n- a list\n", "mlform.yaml:1:1: error: the top level of a spec must be a mapping"),
        (b"a: [1,\n", "mlform.yaml:2:1: error: the file ends inside a `[...]` or `{...}`; close it"),
    ],
)
def test_bad_input_is_reported_without_a_traceback(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "mlform.yaml").write_bytes(content)
    result = _run(tmp_path, "validate", "mlform.yaml")
    assert (result.returncode, result.stderr) == (1, f"{message}\n1 error found.\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "missing.yaml"], "Error: Invalid value for 'SPECS...': Path 'missing.yaml' does not exist."),
        (["validate", "."], "Error: no `mlform.yaml` found in ."),
        (["validate", "--format", "xml", "."], "Error: Invalid value for '--format': 'xml' is not one of 'text', "
                                               "'json', 'github'."),
        (["graph", "."], "Error: no `mlform.yaml` found in ."),
        (["nonsense"], "Error: No such command 'nonsense'."),
        (["models", "promote", "."], "Error: No such command 'promote'; `promote` is a top-level command: "
                                     "`mlform promote`."),
        (["models", "nonsense"], "Error: No such command 'nonsense'."),
    ],
)
def test_usage_errors_exit_1_without_a_traceback(tmp_path: Path, args: list[str], message: str) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == message
    assert "Traceback" not in result.stderr


def test_graph_text(iris_project: Path) -> None:
    result = _run(iris_project.parent, "graph", "mlform.yaml", "--env", "prod")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "iris (prod): 9 steps"
    assert [line.split()[0] for line in lines[1:]] == ["ingest.live", "ingest.train", "validate.train", "split",
                                                       "train", "evaluate", "register", "monitor", "serve"]


@pytest.mark.parametrize(("fmt", "first_line"), [("mermaid", "flowchart LR"), ("dot", 'digraph "iris" {')])
def test_graph_diagrams(iris_project: Path, fmt: str, first_line: str) -> None:
    result = _run(iris_project.parent, "graph", "mlform.yaml", "--format", fmt)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == first_line
    assert ("n_register --> n_serve" if fmt == "mermaid" else '"register" -> "serve";') in result.stdout


def test_graph_json_is_one_object_per_spec(iris_project: Path, tmp_path: Path) -> None:
    one = _run(iris_project.parent, "graph", "mlform.yaml", "--format", "json")
    assert one.returncode == 0
    graph = json.loads(one.stdout)
    assert (graph["name"], graph["env"], len(graph["steps"])) == ("iris", "default", 9)

    other = tmp_path / "again"
    shutil.copytree(iris_project.parent, other)
    two = _run(tmp_path, "graph", "iris/mlform.yaml", "again/mlform.yaml", "--format", "json")
    assert [g["spec"] for g in json.loads(two.stdout)] == ["iris/mlform.yaml", "again/mlform.yaml"]


def test_graph_of_an_invalid_spec_exits_1(broken: Path) -> None:
    result = _run(broken.parent, "graph", "mlform.yaml")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines()[-1].startswith("mlform.yaml:13:23: error: evaluation.metrics.1:")
    assert "Traceback" not in result.stderr


TRICKY = Diagnostic("dir,a:b%.yaml", 3, 7, "data.features", "line one\nline two, 100%\r", "error")
WARNING = Diagnostic("spec.yaml", 1, 1, "", "file `x.csv` does not exist (yet)", "warning")


def test_text_format() -> None:
    assert render_diagnostics([TRICKY, WARNING], "text") == (
        "dir,a:b%.yaml:3:7: error: data.features: line one\nline two, 100%\r\n"
        "spec.yaml:1:1: warning: file `x.csv` does not exist (yet)"
    )


def test_github_format_escapes_data_and_properties() -> None:
    assert render_diagnostics([TRICKY, WARNING], "github").splitlines() == [
        "::error file=dir%2Ca%3Ab%25.yaml,line=3,col=7,title=mlform error::"
        "data.features: line one%0Aline two, 100%25%0D",
        "::warning file=spec.yaml,line=1,col=1,title=mlform warning::file `x.csv` does not exist (yet)",
    ]


def test_json_format_counts_errors_not_warnings() -> None:
    report = json.loads(render_diagnostics([TRICKY, WARNING], "json"))
    assert report["format_version"] == 1
    assert (report["valid"], report["errors"]) == (False, 1)
    assert report["diagnostics"][1] == {"file": "spec.yaml", "line": 1, "col": 1, "path": "",
                                        "severity": "warning", "message": "file `x.csv` does not exist (yet)"}
    assert json.loads(render_diagnostics([WARNING], "json"))["valid"] is True
