"""`mlform compile`: layout, provenance headers, determinism, `--check`, atomicity, target selection."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlform.compiler.artifacts.output import HEADER_MARK, compile_specs
from mlform.compiler.targets import load_targets

from .conftest import Project, full_featured

IRIS_PROD = {
    ".github/workflows/mlform-iris-prod-apply.yml",
    ".github/workflows/mlform-iris-prod-monitor.yml",
    ".github/workflows/mlform-iris-prod-pr.yml",
    "deploy/iris/prod/airflow/mlform_iris_prod.py",
    "deploy/iris/prod/docker/Dockerfile.serve",
    "deploy/iris/prod/docker/Dockerfile.serve.dockerignore",
    "deploy/iris/prod/docker/Dockerfile.train",
    "deploy/iris/prod/docker/Dockerfile.train.dockerignore",
    "deploy/iris/prod/kubernetes/configmap.yaml",
    "deploy/iris/prod/kubernetes/cronjob.yaml",
    "deploy/iris/prod/kubernetes/deployment.yaml",
    "deploy/iris/prod/kubernetes/horizontalpodautoscaler.yaml",
    "deploy/iris/prod/kubernetes/job.yaml",
    "deploy/iris/prod/kubernetes/kustomization.yaml",
    "deploy/iris/prod/kubernetes/persistentvolumeclaim.yaml",
    "deploy/iris/prod/kubernetes/poddisruptionbudget.yaml",
    "deploy/iris/prod/kubernetes/service.yaml",
    "deploy/iris/prod/kubernetes/serviceaccount.yaml",
}


def test_layout_headers_and_check(project: Project, cli) -> None:
    spec = project.spec()
    code, out, _ = cli("compile", spec, "--env", "prod", cwd=project.root)
    assert code == 0, out
    files = project.files()
    assert set(files) == IRIS_PROD
    for text in (f.decode() for f in files.values()):
        lines = text.splitlines()
        assert lines[0] == f"# {HEADER_MARK}"
        assert lines[2:4] == ['# spec: "models/iris/mlform.yaml"', "# env: prod"]
        assert lines[4].startswith("# spec digest: sha256:") and len(lines[4]) == len("# spec digest: sha256:") + 64
    assert cli("compile", spec, "--env", "prod", "--check", cwd=project.root)[:2] == (
        0, f"ok: {len(IRIS_PROD)} generated files are current\n")


def test_the_pull_request_check_passes_as_generated(project: Project) -> None:
    spec = project.spec()
    mlform = Path(sys.executable).with_name("mlform")
    assert subprocess.run([str(mlform), "compile", str(spec)], cwd=project.root, check=False).returncode == 0
    workflow = yaml.safe_load((project.root / ".github/workflows/mlform-iris-prod-pr.yml").read_text())
    job = workflow["jobs"]["check"]
    env = {**os.environ, **job["env"], "PATH": f"{mlform.parent}{os.pathsep}{os.environ['PATH']}"}
    for name in ("Validate", "Fit the pipeline on a sample", "Check generated files are current"):
        step = next(s for s in job["steps"] if s["name"] == name)
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=project.root, env={**env, **step.get("env", {})},
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, (name, done.stdout, done.stderr)


def test_every_declared_environment_without_env(project: Project, cli) -> None:
    spec = project.spec()
    assert cli("compile", spec, cwd=project.root)[0] == 0
    envs = {path.split("/")[2] for path in project.files() if path.startswith("deploy/")}
    assert envs == {"dev", "prod"}
    bare = project.spec("plain", edit=lambda doc: doc.pop("environments"))
    assert cli("compile", bare, "--target", "docker", cwd=project.root)[0] == 0
    assert (project.root / "deploy/plain/default/docker/Dockerfile.train").is_file()


def _compile_in(root: Path, cwd: Path, seed: str) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    mlform = Path(sys.executable).with_name("mlform")
    done = subprocess.run([str(mlform), "compile", str(root / "models")], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return Project(root).files()


def test_byte_identical_across_runs_hash_seeds_and_working_directories(tmp_path: Path) -> None:
    first = Project(tmp_path / "a" / "repo")
    first.spec()
    first.spec("second", edit=lambda doc: doc["targets"]["kubernetes"].update(serving="kserve"))
    second = tmp_path / "elsewhere" / "deeper" / "repo"
    shutil.copytree(first.root, second)
    runs = [
        _compile_in(first.root, first.root, "0"),
        _compile_in(first.root, first.root, "0"),
        _compile_in(first.root, first.root / "models", "12345"),
        _compile_in(second, second / "models" / "iris", "random"),
    ]
    assert len(runs[0]) > 30
    assert all(run == runs[0] for run in runs[1:])


def test_check_lists_missing_stale_hand_edited_and_orphaned_files(project: Project, cli) -> None:
    spec = project.spec()
    cli("compile", spec, "--env", "prod", cwd=project.root)
    root = project.root
    (root / "deploy/iris/prod/kubernetes/service.yaml").unlink()
    edited = root / "deploy/iris/prod/docker/Dockerfile.train"
    edited.write_text(edited.read_text().replace("USER 10001:10001", "USER root"))
    doc = yaml.safe_load(spec.read_text())
    doc["environments"]["prod"]["serving"]["autoscaling"] = None  # drops the autoscaler
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = project.files()
    code, _, err = cli("compile", spec, "--env", "prod", "--check", cwd=project.root)
    assert code == 1
    lines = err.splitlines()
    assert "missing: deploy/iris/prod/kubernetes/service.yaml" in lines
    assert "hand-edited: deploy/iris/prod/docker/Dockerfile.train" not in lines  # its spec changed too: stale
    assert "stale: deploy/iris/prod/docker/Dockerfile.train" in lines
    assert "stale: deploy/iris/prod/kubernetes/deployment.yaml" in lines
    assert "orphaned: deploy/iris/prod/kubernetes/horizontalpodautoscaler.yaml" in lines
    assert project.files() == before  # --check writes nothing
    cli("compile", spec, "--env", "prod", cwd=project.root)
    edited.write_text(edited.read_text() + "# a hand edit\n")
    code, _, err = cli("compile", spec, "--env", "prod", "--check", cwd=project.root)
    assert (code, err.splitlines()[0]) == (1, "hand-edited: deploy/iris/prod/docker/Dockerfile.train")


def test_compile_deletes_only_its_own_orphans(project: Project, cli) -> None:
    spec = project.spec()
    cli("compile", spec, "--env", "prod", cwd=project.root)
    mine = project.root / "deploy/iris/prod/kubernetes/notes.yaml"
    mine.write_text("kept: true\n")
    doc = yaml.safe_load(spec.read_text())
    del doc["monitoring"]
    doc["environments"]["prod"].pop("monitoring")
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, _ = cli("compile", spec, "--env", "prod", cwd=project.root)
    assert code == 0
    assert "deleted .github/workflows/mlform-iris-prod-monitor.yml" in out.splitlines()
    assert "deleted deploy/iris/prod/kubernetes/cronjob.yaml" in out.splitlines()
    assert mine.read_text() == "kept: true\n"


def test_a_failed_render_writes_nothing(project: Project, cli, tmp_path: Path) -> None:
    spec = project.spec()
    override = tmp_path / "templates" / "airflow"
    override.mkdir(parents=True)
    (override / "dag.py.j2").write_text("{{ no_such_value }}\n")
    code, _, err = cli("compile", spec, "--templates", override.parent, cwd=project.root)
    assert code == 1
    assert err == ("error: target `airflow`: template `airflow/dag.py.j2` failed: "
                   "'no_such_value' is undefined\n")
    assert project.files() == {}


def test_templates_replace_built_ins_by_name(project: Project, cli, tmp_path: Path) -> None:
    spec = project.spec()
    override = tmp_path / "templates" / "docker"
    override.mkdir(parents=True)
    (override / "dockerignore.j2").write_text("**\n!{{ state_dir_name }}\n")
    assert cli("compile", spec, "--env", "prod", "--templates", override.parent, cwd=project.root)[0] == 0
    ignore = (project.root / "deploy/iris/prod/docker/Dockerfile.train.dockerignore").read_text()
    assert ignore.splitlines()[5:] == ["**", "!.mlform"]
    assert "USER 10001:10001" in (project.root / "deploy/iris/prod/docker/Dockerfile.train").read_text()


def test_target_selection_and_unknown_targets(project: Project, cli) -> None:
    spec = project.spec()
    assert cli("compile", spec, "--env", "prod", "--target", "docker,kubernetes", cwd=project.root)[0] == 0
    assert {path.split("/")[3] for path in project.files()} == {"docker", "kubernetes"}
    code, _, err = cli("compile", spec, "--target", "kubernets", cwd=project.root)
    assert code == 1
    assert err == ("error: unknown target `kubernets`; did you mean `kubernetes`? "
                   "(known: airflow, docker, github-actions, kubernetes)\n")


def test_two_specs_with_one_name_are_refused(project: Project, cli) -> None:
    first = project.spec("iris")
    second = project.spec("copy", edit=lambda doc: doc["metadata"].update(name="iris"))
    code, _, err = cli("compile", first, second, "--target", "docker", cwd=project.root)
    assert code == 1
    assert "error: metadata.name: pipeline `iris` is already named by " in err
    assert "so give each spec its own `metadata.name`" in err
    assert project.files() == {}


def test_the_built_in_targets_are_entry_points() -> None:
    assert list(load_targets()) == ["airflow", "docker", "github-actions", "kubernetes"]


def test_targets_that_need_images_say_which_key_is_missing(project: Project, cli) -> None:
    def drop_docker(doc: dict) -> None:
        del doc["targets"]["docker"]

    spec = project.spec(edit=drop_docker)
    code, _, err = cli("compile", spec, "--env", "prod", "--target", "kubernetes", cwd=project.root)
    assert (code, err) == (1, "error: this target runs the pipeline's images: set `targets.docker.image`\n")


def test_secrets_without_a_kubernetes_reference_are_named(project: Project, cli) -> None:
    def no_reference(doc: dict) -> None:
        full_featured(doc)
        del doc["secrets"]["api_token"]["kubernetes"]

    spec = project.spec(edit=no_reference)
    code, _, err = cli("compile", spec, "--env", "prod", "--target", "kubernetes", cwd=project.root)
    assert (code, err) == (1, "error: secret `api_token` (used by `serving.env.API_TOKEN`) has no `kubernetes` "
                              "reference: set `secrets.api_token.kubernetes`\n")


def test_pod_tasks_need_the_kubernetes_target(project: Project, cli) -> None:
    def pods_without_cluster(doc: dict) -> None:
        doc["targets"]["airflow"]["operator"] = "kubernetes"
        del doc["targets"]["kubernetes"]
        doc["environments"]["prod"].pop("targets")

    spec = project.spec(edit=pods_without_cluster)
    code, _, err = cli("compile", spec, "--env", "prod", "--target", "airflow", cwd=project.root)
    assert (code, err) == (1, "error: `targets.airflow.operator: kubernetes` runs pods: "
                              "set `targets.kubernetes` (namespace, account)\n")


@pytest.mark.parametrize(("out", "rooted"), [(None, "deploy/iris/prod/docker"),
                                             ("build", "build/deploy/iris/prod/docker"),
                                             ("build/gen", "build/gen/deploy/iris/prod/docker")])
def test_paths_in_the_files_are_relative_to_the_project_root(project: Project, out: str | None,
                                                             rooted: str) -> None:
    spec = project.spec()
    build = compile_specs([spec], "prod", None if out is None else project.root / out, ["docker", "github-actions"],
                          cwd=project.root)
    apply = yaml.safe_load(build.files[".github/workflows/mlform-iris-prod-apply.yml"])
    built = [s["with"]["file"] for s in apply["jobs"]["apply"]["steps"] if s["name"].startswith("Build and push")]
    assert built == [f"{rooted}/Dockerfile.train", f"{rooted}/Dockerfile.serve"]


def test_what_a_target_dumped_is_a_cache_outside_the_contexts_identity(project: Project) -> None:
    build = compile_specs([project.spec()], "prod", None, ["kubernetes"], cwd=project.root)
    [(_, ctx)] = build.contexts.values()
    assert ctx.dumped  # the kubernetes target keeps the objects it dumped
    other = dataclasses.replace(ctx, dumped={})
    assert other == ctx
    assert repr(other) == repr(ctx)
