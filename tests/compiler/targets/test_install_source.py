"""`runtime.mlform`: where images and workflows install mlform from; `targets.airflow.project_root`: where DAGs run."""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Callable
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import LINT, run

from mlform.compiler.artifacts.output import compile_specs, write

from .conftest import Project
from .test_docker import parse
from .test_github_actions import lint_findings

WHEEL = "dist/mlform-0.9.0+team.1-py3-none-any.whl"
GIT = "git+https://github.com/example/mlform.git@5d1e0c7"


def compiled(project: Project, source: str | None, env: str = "dev", **airflow: Any) -> Path:
    """The iris spec with `runtime.mlform: source` (none when None), compiled for `env`; the project root."""
    def edit(doc: dict[str, Any]) -> None:
        if source is not None:
            doc["runtime"] = {"mlform": source}
        doc["targets"]["airflow"].update(airflow)

    write(compile_specs([project.spec("iris", edit)], env, None, cwd=project.root))
    return project.root


def install_step(root: Path, env: str = "dev") -> dict[str, Any]:
    workflow = yaml.safe_load((root / f".github/workflows/mlform-iris-{env}-pr.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    return next(step for step in steps if step["name"] == "Install mlform")


def build_stage(root: Path, env: str = "dev") -> list[str]:
    """The lines of the build stage of the training Dockerfile, after its provenance header."""
    text = (root / f"deploy/iris/{env}/docker/Dockerfile.train").read_text()
    stage = text.split("\nFROM python:3.11-slim AS build\n", 1)[1].split("\n\nFROM ", 1)[0]
    return stage.splitlines()


def test_by_default_the_compiling_version_is_installed(project: Project) -> None:
    root = compiled(project, None)
    wanted = f"mlform=={package_version('mlform')}"
    assert install_step(root) == {"name": "Install mlform", "run": f"python -m pip install {shlex.quote(wanted)}\n"}
    assert build_stage(root) == ["RUN python3 -m venv /opt/mlform \\",
                                 f" && /opt/mlform/bin/pip install --no-cache-dir {shlex.quote(wanted)}"]


@pytest.mark.parametrize(("source", "image", "copied", "checkout"), [
    ("0.9.0", "mlform==0.9.0", None, "mlform==0.9.0"),
    ("1.0.0rc2", "mlform==1.0.0rc2", None, "mlform==1.0.0rc2"),
    (GIT, f"mlform @ {GIT}", None, f"mlform @ {GIT}"),
    ("https://files.example.com/mlform-0.9.0-py3-none-any.whl",
     "mlform @ https://files.example.com/mlform-0.9.0-py3-none-any.whl", None,
     "mlform @ https://files.example.com/mlform-0.9.0-py3-none-any.whl"),
    (WHEEL, "/opt/mlform-install/mlform-0.9.0+team.1-py3-none-any.whl", WHEEL, f"./models/iris/{WHEEL}"),
    ("./vendor/mlform/", "/opt/mlform-install/mlform", "vendor/mlform", "./models/iris/vendor/mlform"),
])
def test_the_install_source_reaches_images_and_workflows(project: Project, source: str, image: str,
                                                         copied: str | None, checkout: str) -> None:
    root = compiled(project, source)
    step = install_step(root)
    assert step == {"name": "Install mlform", "env": {"MLFORM_INSTALL": checkout},
                    "run": 'python -m pip install "$MLFORM_INSTALL"\n'}
    stage = build_stage(root)
    copy = [f"COPY {json.dumps([copied, image])}"] if copied else []
    assert stage == [*copy, "RUN python3 -m venv /opt/mlform \\",
                     f" && /opt/mlform/bin/pip install --no-cache-dir {shlex.quote(image)}"]


def test_an_overlay_may_install_another_source(project: Project) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["runtime"] = {"mlform": "0.9.0"}
        doc["environments"]["dev"]["runtime"] = {"mlform": GIT}

    write(compile_specs([project.spec("iris", edit)], None, None, cwd=project.root))
    assert install_step(project.root, "dev")["env"] == {"MLFORM_INSTALL": f"mlform @ {GIT}"}
    assert install_step(project.root, "prod")["env"] == {"MLFORM_INSTALL": "mlform==0.9.0"}


@pytest.mark.parametrize(("value", "message"), [
    ("latest", "`latest`: expected a version (`0.5.0`), a URL (`git+https://github.com/ORG/mlform@REF`) or a path "
               "relative to the spec's folder (`dist/mlform-0.5.0-py3-none-any.whl`, `./vendor/mlform`)"),
    ("mlform==0.5.0", "`mlform==0.5.0`: expected a version (`0.5.0`), a URL (`git+https://github.com/ORG/mlform@REF`) "
                      "or a path relative to the spec's folder (`dist/mlform-0.5.0-py3-none-any.whl`, "
                      "`./vendor/mlform`)"),
    ("git+https://example.com/mlform a.git", "`git+https://example.com/mlform a.git` is not a URL as RFC 3986 "
                                             "writes it (percent-encode spaces and other characters)"),
    ("../wheels/mlform-0.5.0-py3-none-any.whl", "`../wheels/mlform-0.5.0-py3-none-any.whl` is outside the spec's "
                                                "folder; images are built from that folder, so the path must stay "
                                                "inside it"),
    ("./a/../../b", "`./a/../../b` is outside the spec's folder; images are built from that folder, so the path "
                    "must stay inside it"),
    ("./my wheels/m.whl", "`./my wheels/m.whl`: a path may hold only letters, digits, `.`, `_`, `+`, `-` and `/`"),
    ("./$HOME/m.whl", "`./$HOME/m.whl`: a path may hold only letters, digits, `.`, `_`, `+`, `-` and `/`"),
    ("0.5.0\nRUN id", "the value holds a line break or another control character"),
])
def test_bad_install_sources_are_spec_errors(iris_project: Path, run_mlform: Callable[..., Any], value: str,
                                             message: str) -> None:
    text = iris_project.read_text()
    iris_project.write_text(text + f"\nruntime:\n  mlform: {json.dumps(value)}\n")
    line = len(text.splitlines()) + 3
    result = run_mlform("validate", iris_project)
    assert result.code == 1
    assert result.err.splitlines()[0] == f"{iris_project}:{line}:11: error: runtime.mlform: {message}"


@pytest.mark.parametrize(("value", "message"), [
    ("srv/ml", "`srv/ml` is not an absolute path; expected one like `/opt/airflow/projects/ml`"),
    ("/srv/ml\nimport os", "the path holds a line break or another control character"),
])
def test_bad_project_roots_are_spec_errors(iris_project: Path, run_mlform: Callable[..., Any], value: str,
                                           message: str) -> None:
    doc = yaml.safe_load(iris_project.read_text())
    doc["targets"]["airflow"]["project_root"] = value
    iris_project.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run_mlform("validate", iris_project)
    assert result.code == 1
    assert f"error: targets.airflow.project_root: {message}" in result.err.splitlines()[0]


def project_root_expression(root: Path, env: str = "dev") -> ast.expr:
    tree = ast.parse((root / f"deploy/iris/{env}/airflow/mlform_iris_{env}.py").read_text())
    return next(node.value for node in tree.body if isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "PROJECT_ROOT")


def test_the_dag_takes_its_root_from_the_environment_then_the_setting(project: Project) -> None:
    root = compiled(project, None, project_root="/srv/airflow/projects/ml")
    expression = project_root_expression(root)
    assert isinstance(expression, ast.BoolOp) and isinstance(expression.op, ast.Or)
    first, second = expression.values
    assert ast.unparse(first) == "os.environ.get('MLFORM_PROJECT_ROOT')"
    assert ast.literal_eval(second) == "/srv/airflow/projects/ml"


def test_without_the_setting_the_dag_falls_back_to_its_place_in_the_layout(project: Project) -> None:
    first, second = project_root_expression(compiled(project, None)).values  # type: ignore[attr-defined]
    assert ast.unparse(first) == "os.environ.get('MLFORM_PROJECT_ROOT')"
    assert "__file__" in ast.unparse(second)


def test_with_the_setting_the_dag_may_be_written_outside_the_project(project: Project, tmp_path: Path) -> None:
    spec = project.spec("iris", lambda d: d["targets"]["airflow"].update(project_root="/srv/ml"))
    build = compile_specs([spec], "dev", tmp_path / "elsewhere", ["airflow"], cwd=project.root)
    assert len(build.files) == 1


@pytest.mark.integration
def test_custom_install_sources_pass_hadolint_and_actionlint(project: Project) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["runtime"] = {"mlform": GIT}
        doc["environments"]["prod"]["runtime"] = {"mlform": WHEEL}

    write(compile_specs([project.spec("iris", edit)], None, None, cwd=project.root))
    files = sorted(p for p in project.root.glob("deploy/iris/*/docker/Dockerfile.*") if p.suffix != ".dockerignore")
    done = run([LINT.bin("hadolint"), "--failure-threshold", "warning", "--format", "json", *files])
    assert (done.returncode, json.loads(done.stdout or "[]")) == (0, []), done.stdout + done.stderr
    parsed = parse([project.root / "deploy/iris/prod/docker/Dockerfile.serve"])
    copies = [value for instruction, value in next(iter(parsed.values())) if instruction == "COPY"]
    assert json.loads(copies[0]) == [WHEEL, "/opt/mlform-install/mlform-0.9.0+team.1-py3-none-any.whl"]
    assert lint_findings(sorted(project.root.glob(".github/workflows/*.yml"))) == []


def test_the_serving_image_pins_the_libraries_of_the_model_it_serves(project: Project) -> None:
    root = compiled(project, WHEEL)
    text = (root / "deploy/iris/dev/docker/Dockerfile.serve").read_text()
    stage = text.split("\nFROM python:3.11-slim AS build\n", 1)[1].split("\n\nFROM ", 1)[0].splitlines()
    wheel = "/opt/mlform-install/mlform-0.9.0+team.1-py3-none-any.whl"
    assert stage[3:] == [
        "# Pin scikit-learn, numpy, scipy and pandas to the versions the served model was trained with (its lineage)",
        "COPY . /opt/mlform-spec/",
        "RUN /opt/mlform/bin/mlform models pins /opt/mlform-spec/mlform.yaml --env dev > /opt/mlform-pins.txt \\",
        f" && /opt/mlform/bin/pip install --no-cache-dir -r /opt/mlform-pins.txt {shlex.quote(wheel)}"]
    assert "models pins" not in (root / "deploy/iris/dev/docker/Dockerfile.train").read_text()
