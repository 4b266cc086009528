"""Hostile values in every free-text field: every artifact still parses, with each value inside its field."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import jinja2.sandbox
import pytest
import yaml
from tools import AIRFLOW, LINT, run

from mlform.compiler.artifacts.output import compile_specs, write
from mlform.specs import load_spec

from .conftest import EXAMPLES
from .test_airflow import KUBECONFIG, TOOLS
from .test_github_actions import lint_findings
from .test_render import glob_regex

NASTY = "q'uo\"te $(touch pwned) `id` ${{ github.token }} {{ 7*7 }} {% raw %} '); import os # --- ü漢\u2028"
LONG = f"{NASTY}\n---\nkind: Secret\n" + "long " * 2000
FOLDER = "ev'il\"dir $(touch pwned) ${{ github.token }} {{ 7*7 }}\n--- *?[x]!"
SPEC_FILE = "sp'ec $(id) ${{ github.token }} {{ 7*7 }}.yaml"
DATA = f"data/{NASTY.replace('/', '_')} *?[x]!.csv"
COLUMN = f"col {NASTY}"
# what a URL (RFC 3986) may hold that a shell, a Dockerfile or a workflow would act on
INSTALL_URL = "git+https://example.com/o'rg/ml$(reboot);id&x=$(id)@v1#egg=mlform!*"
WHEEL = "wheels/-rf+x.1/mlform-0.9.0+evil-py3-none-any.whl"
ROOT = "/srv/" + NASTY.replace("\u2028", "")


def hostile(doc: dict[str, Any]) -> None:
    """Put a hostile value into each free-text field the schema allows."""
    meta = doc["metadata"]
    meta.update(description=LONG, intended_use=NASTY, owners=[NASTY, "team@example.com"])
    meta["labels"] = {"example.com/odd": "a-b_c.d" + "9" * 56}
    doc["data"]["sources"]["train"]["path"] = DATA
    doc["data"]["features"][-1] = COLUMN
    columns = doc["validation"]["columns"]
    columns[COLUMN] = columns.pop("petal_width")
    doc["model"]["params"]["class_weight"] = {NASTY: 1.0}  # a mapping: scikit-learn's constraints refuse any text
    doc["environments"]["prod"]["targets"]["airflow"] = {"operator": "kubernetes"}
    doc["targets"]["airflow"]["project_root"] = ROOT
    doc["runtime"] = {"mlform": INSTALL_URL}
    doc["environments"]["prod"]["runtime"] = {"mlform": WHEEL}


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project whose spec (odd folder, odd file name) holds hostile values, compiled; (root, spec)."""
    root = tmp_path_factory.mktemp("hostile") / "repo"
    (root / ".git").mkdir(parents=True)
    folder = root / "models" / FOLDER
    shutil.copytree(EXAMPLES / "iris", folder, ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
    (folder / "mlform.yaml").unlink()
    live = folder / "data" / "live.csv"  # the monitored data has the columns the spec names
    quoted = io.StringIO()
    csv.writer(quoted, lineterminator="").writerow([COLUMN])
    live.write_text(live.read_text(encoding="utf-8").replace("petal_width", quoted.getvalue(), 1), encoding="utf-8")
    doc = yaml.safe_load((EXAMPLES / "iris" / "mlform.yaml").read_text())
    hostile(doc)
    spec = folder / SPEC_FILE
    spec.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    write(compile_specs([spec], None, None, cwd=root))
    return root, spec


def generated(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "models" not in p.relative_to(root).parts[:1]
                  and ".git" not in p.relative_to(root).parts[:1] and not p.name.startswith("."))


def unescape_github(value: str) -> str:
    return value.replace("${{ '${{' }}", "${{")


def test_headers_name_the_spec_exactly(evil: tuple[Path, Path]) -> None:
    root, spec = evil
    files = generated(root)
    assert len(files) > 30
    for path in files:
        lines = path.read_text().split("\n")
        assert json.loads(lines[2].removeprefix("# spec: ")) == spec.relative_to(root).as_posix()
        assert lines[3] in ("# env: dev", "# env: prod")


def test_yaml_artifacts_are_one_document_with_values_in_place(evil: tuple[Path, Path]) -> None:
    root, spec = evil
    for path in generated(root):
        if path.suffix in (".yaml", ".yml"):
            assert len(list(yaml.safe_load_all(path.read_text()))) == 1, path
    config = yaml.safe_load((root / "deploy/iris/prod/kubernetes/configmap.yaml").read_text())
    assert yaml.safe_load(config["data"]["mlform.yaml"]) == load_spec(spec, "prod").config
    deployment = yaml.safe_load((root / "deploy/iris/prod/kubernetes/deployment.yaml").read_text())
    assert deployment["metadata"]["labels"]["example.com/odd"] == "a-b_c.d" + "9" * 56
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"][1] == SPEC_FILE


def test_workflows_keep_values_out_of_expressions_and_scripts(evil: tuple[Path, Path]) -> None:
    root, spec = evil
    relative = spec.relative_to(root).as_posix()
    pr = yaml.safe_load((root / ".github/workflows/mlform-iris-prod-pr.yml").read_text())
    job = pr["jobs"]["check"]
    assert unescape_github(job["env"]["MLFORM_SPEC"]) == relative
    assert "${{" not in job["env"]["MLFORM_SPEC"].replace("${{ '${{' }}", "")
    patterns = pr["on"]["pull_request"]["paths"][:2]
    for pattern, path in zip(patterns, [relative, f"models/{FOLDER}/{DATA}"], strict=True):
        assert re.fullmatch(glob_regex(pattern), path, flags=re.DOTALL)
    apply = yaml.safe_load((root / ".github/workflows/mlform-iris-prod-apply.yml").read_text())
    builds = [s["with"] for s in apply["jobs"]["apply"]["steps"] if "build-push-action" in s.get("uses", "")]
    assert {unescape_github(b["context"]) for b in builds} == {f"models/{FOLDER}"}
    for path in (root / ".github/workflows").glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            assert all(NASTY not in step.get("run", "") and "${{" not in step.get("run", "") for step in job["steps"])
            install = next(step for step in job["steps"] if step["name"] == "Install mlform")
            assert install["run"] == 'python -m pip install "$MLFORM_INSTALL"\n'
            wanted = f"mlform @ {INSTALL_URL}" if "-dev-" in path.name else f"./models/{FOLDER}/{WHEEL}"
            assert unescape_github(install["env"]["MLFORM_INSTALL"]) == wanted


def test_dockerfiles_install_the_source_as_one_word(evil: tuple[Path, Path]) -> None:
    root, _ = evil
    for env, copy, requirement in (("dev", None, f"mlform @ {INSTALL_URL}"),
                                   ("prod", WHEEL, "/opt/mlform-install/mlform-0.9.0+evil-py3-none-any.whl")):
        text = (root / f"deploy/iris/{env}/docker/Dockerfile.serve").read_text()
        lines = text.split("AS build\n", 1)[1].split("\n\n", 1)[0].splitlines()
        if copy is not None:
            assert json.loads(lines.pop(0).removeprefix("COPY ")) == [copy, requirement]
        run_line = lines[1].removeprefix(" && /opt/mlform/bin/pip install --no-cache-dir ")
        assert shlex.split(run_line) == [requirement]


@pytest.mark.integration
def test_workflows_still_pass_the_linters(evil: tuple[Path, Path]) -> None:
    files = sorted((evil[0] / ".github/workflows").glob("*.yml"))
    assert lint_findings(files) == []
    done = run([LINT.bin("zizmor"), "--offline", "--format", "json", *files])
    assert (done.returncode, json.loads(done.stdout)) == (0, []), done.stdout
    assert run([LINT.bin("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files]).returncode == 0


def _assignments(tree: ast.Module) -> dict[str, Any]:
    return {node.targets[0].id: node.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}


def test_dag_files_parse_with_values_as_literals(evil: tuple[Path, Path]) -> None:
    root, spec = evil
    sandbox = jinja2.sandbox.SandboxedEnvironment()
    for env, spec_value in (("dev", spec.relative_to(root).as_posix()), ("prod", SPEC_FILE)):
        tree = ast.parse((root / f"deploy/iris/{env}/airflow/mlform_iris_{env}.py").read_text())
        values = _assignments(tree)
        step_env = ast.literal_eval(values["STEP_ENV"])
        assert sandbox.from_string(step_env["MLFORM_SPEC"]).render() == spec_value  # Airflow renders this field
        if env == "dev":
            # the task's `cwd`, which Airflow renders too
            assert sandbox.from_string(ast.literal_eval(values["PROJECT_ROOT"].values[1])).render() == ROOT
        assert ast.literal_eval(values["DEFAULT_ARGS"].values[0]) == f"{NASTY}, team@example.com"
        dag = next(n.items[0].context_expr for n in tree.body if isinstance(n, ast.With))
        keywords = {k.arg: ast.literal_eval(k.value) for k in dag.keywords if k.arg in ("description", "doc_md")}
        assert keywords["description"] == LONG
        card = yaml.safe_load(keywords["doc_md"].split("```yaml\n", 1)[1].rsplit("```", 1)[0])
        assert (card["intended_use"], card["owners"]) == (NASTY, [NASTY, "team@example.com"])


@pytest.mark.integration
def test_dag_files_import_in_airflow(evil: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "KUBECONFIG": str(tmp_path / "kubeconfig")}
    done = run([AIRFLOW.bin("python"), TOOLS / "airflow_check.py", evil[0] / "deploy", tmp_path], env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["import_errors"] == {}
    assert report["dags"]["mlform-iris-dev"]["description"] == LONG
    pod_task = report["dags"]["mlform-iris-prod"]["tasks"]["train"]
    assert pod_task["rendered_arguments"][1] == SPEC_FILE
    bash_task = report["dags"]["mlform-iris-dev"]["tasks"]["train"]
    assert bash_task["rendered_env"]["MLFORM_SPEC"] == evil[1].relative_to(evil[0]).as_posix()
    assert run([LINT.bin("kubernetes-validate"), "--strict", "--quiet", "-k", "1.30", pod_task["pod"]]).returncode == 0


@pytest.mark.integration
def test_dockerfiles_parse_and_lint_clean(evil: tuple[Path, Path]) -> None:
    folder = evil[0] / "deploy/iris/prod/docker"
    files = [folder / "Dockerfile.train", folder / "Dockerfile.serve"]
    done = run([LINT.bin("hadolint"), "--failure-threshold", "warning", *files])
    assert done.returncode == 0, done.stdout
    parsed = json.loads(run([LINT.bin("python"), TOOLS / "dockerfile_json.py", *files]).stdout)
    commands = [json.loads(dict(parsed[str(f)])["CMD"]) for f in files]
    assert [c[1] for c in commands] == [SPEC_FILE, SPEC_FILE]


@pytest.mark.integration
def test_manifests_still_validate(evil: tuple[Path, Path]) -> None:
    files = [p for p in (evil[0] / "deploy/iris/prod/kubernetes").glob("*.yaml") if p.name != "kustomization.yaml"]
    done = run([LINT.bin("kubernetes-validate"), "--strict", "--quiet", "-k", "1.30", *files])
    assert done.returncode == 0, done.stdout
