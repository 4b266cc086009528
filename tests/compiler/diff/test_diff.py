"""`mlform diff` on real git repositories: specs compiled at two refs (or a ref and the working tree)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlform.compiler.cli import main
from mlform.compiler.diff.gitrefs import default_base

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MLFORM = str(Path(sys.executable).with_name("mlform"))
IRIS = "models/iris/mlform.yaml"
FRAUD = "models/fraud-detection/mlform.yaml"
Run = Callable[..., tuple[int, str, str]]


class Repo:
    """A git repository holding copies of the iris and fraud-detection examples under `models/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        self.git("init", "-q", "-b", "main")
        for name in ("iris", "fraud-detection"):
            shutil.copytree(EXAMPLES / name, root / "models" / name,
                            ignore=shutil.ignore_patterns(".mlform", "__pycache__"))
        self.commit("two pipelines")

    def git(self, *args: str) -> str:
        """Run git in the repository; its standard output."""
        done = subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
                              cwd=self.root, capture_output=True, text=True, check=True)
        return done.stdout

    def commit(self, message: str) -> str:
        """Commit everything; the new commit."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def edit(self, path: str, old: str, new: str) -> None:
        """Replace the one occurrence of `old` in the file at `path`."""
        file = self.root / path
        text = file.read_text()
        assert text.count(old) == 1, old
        file.write_text(text.replace(old, new))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.delenv("GITHUB_BASE_REF", raising=False)
    made = Repo(tmp_path / "repo")
    monkeypatch.chdir(made.root)
    return made


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """`mlform diff ARGS` in this process: (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        try:
            main(["diff", *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def _json(run: Run, *args: str) -> dict[str, Any]:
    code, out, err = run(*args, "--format", "json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def _pipeline(data: dict[str, Any], name: str, env: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in data["pipelines"] if (p["name"], p["env"]) == (name, env)]
    assert len(found) == 1
    return found[0]


def _changes(data: dict[str, Any], name: str, env: str, path: str) -> list[tuple[Any, ...]]:
    (artifact,) = [a for a in _pipeline(data, name, env)["artifacts"] if a["path"] == path]
    return [(c["action"], c["object"], c["path"], c["before"], c["after"]) for c in artifact["changes"]]


def _shown(data: dict[str, Any], name: str, env: str) -> dict[str, str]:
    """Artifact path -> status, for the artifacts that differ beyond their header."""
    return {a["path"]: a["status"] for a in _pipeline(data, name, env)["artifacts"] if a["status"] != "header-only"}


def _compiled_files(repo: Repo, spec: str, env: str) -> int:
    """How many files `mlform compile` writes for `spec` in `env`: every artifact the diff of that pipeline holds."""
    out = repo.root / f"compiled-{env}"  # inside the project, as bash Airflow tasks require; removed below
    done = subprocess.run([MLFORM, "compile", spec, "--env", env, "--out", str(out)], cwd=repo.root,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    files = sum(1 for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    return files


def test_working_tree_changes_show_as_field_changes(repo: Repo, run: Run) -> None:
    files = {env: _compiled_files(repo, IRIS, env) for env in ("dev", "prod")}
    fraud_envs = len(yaml.safe_load((repo.root / FRAUD).read_text())["environments"])
    repo.edit(IRIS, "      replicas: 2\n      autoscaling: {min_replicas: 2,",
              "      replicas: 3\n      autoscaling: {min_replicas: 3,")
    repo.edit(IRIS, "        n_estimators: 20", "        n_estimators: 30")
    data = _json(run)
    assert data["format_version"] == 1
    assert data["base"] == {"ref": "main", "commit": repo.git("rev-parse", "main").strip()}
    assert data["head"] == {"ref": None, "commit": None}
    prod_k8s = "deploy/iris/prod/kubernetes"
    assert _shown(data, "iris", "prod") == {f"{prod_k8s}/configmap.yaml": "changed",
                                           f"{prod_k8s}/horizontalpodautoscaler.yaml": "changed"}
    assert _changes(data, "iris", "prod", f"{prod_k8s}/horizontalpodautoscaler.yaml") == [
        ("changed", "HorizontalPodAutoscaler/ml-prod/iris", "spec.minReplicas", 2, 3)]
    assert _changes(data, "iris", "prod", f"{prod_k8s}/configmap.yaml") == [
        ("changed", "ConfigMap/ml-prod/iris-spec", 'data["mlform.yaml"].serving.replicas', 2, 3),
        ("changed", "ConfigMap/ml-prod/iris-spec", 'data["mlform.yaml"].serving.autoscaling.min_replicas', 2, 3)]
    assert _changes(data, "iris", "dev", "deploy/iris/dev/kubernetes/configmap.yaml") == [
        ("changed", "ConfigMap/ml-dev/iris-spec", 'data["mlform.yaml"].model.params.n_estimators', 20, 30)]
    # every other file changes only in its header (and the image tags and names made from the digest)
    header_only = [a for a in _pipeline(data, "iris", "prod")["artifacts"] if a["status"] == "header-only"]
    assert len(header_only) == files["prod"] - 2
    assert {c["path"] for a in header_only for c in a["changes"]} == {"spec-digest"}
    assert {p["status"] for p in data["pipelines"] if p["name"] == "fraud-detection"} == {"unchanged"}
    assert data["counts"] == {
        "pipelines": {"added": 0, "changed": 2, "removed": 0, "unchanged": fraud_envs},
        "artifacts": {"added": 0, "changed": 3, "removed": 0, "header-only": files["prod"] - 2 + files["dev"] - 1}}

    code, out, _ = run("--env", "prod")
    main_commit = repo.git("rev-parse", "--short=10", "main").strip()
    assert code == 0
    assert out == (
        f"mlform diff: `main` ({main_commit}) -> the working tree\n"
        "Pipelines: 0 added, 1 changed, 0 removed, 1 unchanged. "
        f"Artifacts: 0 added, 2 changed, 0 removed, {files['prod'] - 2} header-only.\n"
        "\n"
        f"~ iris (prod)  {IRIS}\n"
        f"  ~ {prod_k8s}/configmap.yaml\n"
        "      ConfigMap/ml-prod/iris-spec:\n"
        '        ~ data["mlform.yaml"].serving.replicas: 2 -> 3\n'
        '        ~ data["mlform.yaml"].serving.autoscaling.min_replicas: 2 -> 3\n'
        f"  ~ {prod_k8s}/horizontalpodautoscaler.yaml\n"
        "      HorizontalPodAutoscaler/ml-prod/iris:\n"
        "        ~ spec.minReplicas: 2 -> 3\n"
        f"  ({files['prod'] - 2} more artifacts differ only in the provenance header)\n"
    )


def test_markdown_fits_a_pull_request_comment(repo: Repo, run: Run) -> None:
    header_only = _compiled_files(repo, IRIS, "prod") - 2  # all but the two files the edit changes
    repo.edit(IRIS, "      replicas: 2\n      autoscaling: {min_replicas: 2,",
              "      replicas: 3\n      autoscaling: {min_replicas: 3,")
    code, out, _ = run("--env", "prod", "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("### mlform diff: `main` (") and lines[0].endswith(") → the working tree")
    assert "**Pipelines: 0 added, 1 changed, 0 removed, 1 unchanged. " \
           f"Artifacts: 0 added, 2 changed, 0 removed, {header_only} header-only.**" in lines
    assert f"| `~` | iris (prod) | `{IRIS}` | 2 changed, {header_only} header-only |" in lines
    hpa = "<details><summary><code>~ deploy/iris/prod/kubernetes/horizontalpodautoscaler.yaml</code> (1 change)"
    start = lines.index(hpa + "</summary>")
    assert lines[start:start + 8] == [hpa + "</summary>", "", "```diff", "  HorizontalPodAutoscaler/ml-prod/iris:",
                                      "~   spec.minReplicas: 2 -> 3", "```", "", "</details>"]
    assert f"<details><summary>{header_only} artifacts differ only in the provenance header</summary>" in lines
    assert "- `deploy/iris/prod/docker/Dockerfile.train`" in lines


def test_two_commits_an_added_environment_and_a_deleted_spec(repo: Repo, run: Run) -> None:
    repo.edit(IRIS, "environments:\n", "environments:\n  staging:\n    targets:\n      kubernetes:\n"
                                       "        namespace: ml-staging\n")
    shutil.rmtree(repo.root / "models" / "fraud-detection")
    repo.commit("staging for iris, no fraud detection")
    staging_files = _compiled_files(repo, IRIS, "staging")
    (repo.root / IRIS).write_text("not: [a, valid spec")  # the working tree is not read when head is a ref

    data = _json(run, "--base", "HEAD~1", "--head", "HEAD")
    assert data["head"]["ref"] == "HEAD"
    statuses = {(p["name"], p["env"]): p["status"] for p in data["pipelines"]}
    assert statuses == {("fraud-detection", "dev"): "removed", ("fraud-detection", "prod"): "removed",
                        ("fraud-detection", "staging"): "removed", ("iris", "dev"): "unchanged",
                        ("iris", "prod"): "unchanged", ("iris", "staging"): "added"}
    staging = _pipeline(data, "iris", "staging")
    assert staging["spec"] == {"before": None, "after": IRIS}
    assert {a["status"] for a in staging["artifacts"]} == {"added"}
    assert len(staging["artifacts"]) == staging_files
    assert _changes(data, "iris", "staging", "deploy/iris/staging/kubernetes/deployment.yaml") == [
        ("added", "Deployment/ml-staging/iris", "", None, None)]
    assert _changes(data, "iris", "staging", ".github/workflows/mlform-iris-staging-pr.yml") == [
        ("added", "workflow", "", None, None), ("added", "job check", "", None, None)]
    removed = _pipeline(data, "fraud-detection", "prod")
    assert removed["spec"] == {"before": FRAUD, "after": None}
    assert {a["path"].split("/")[1] for a in removed["artifacts"] if a["path"].startswith("deploy/")} == {
        "fraud-detection"}
    assert {a["status"] for a in removed["artifacts"]} == {"removed"}

    code, out, _ = run("--base", "HEAD~1", "--head", "HEAD", "--exit-code")
    assert code == 2
    assert f"\n+ iris (staging)  {IRIS}\n  + .github/workflows/mlform-iris-staging-apply.yml\n" in out
    assert f"\n- fraud-detection (prod)  {FRAUD}\n" in out
    assert "Pipelines: 1 added, 0 changed, 3 removed, 2 unchanged." in out

    code, out, _ = run("--base", "HEAD", "--head", "HEAD", "--exit-code")
    assert code == 0
    assert out.splitlines()[1] == "No differences: 3 pipelines compile to the same artifacts."


def test_the_working_tree_has_untracked_specs_but_not_ignored_or_deleted_ones(repo: Repo, run: Run) -> None:
    shutil.rmtree(repo.root / "models" / "fraud-detection")  # deleted, not staged
    for name in ("iris-v2", "scratch"):
        shutil.copytree(repo.root / "models" / "iris", repo.root / "models" / name)
        repo.edit(f"models/{name}/mlform.yaml", "  name: iris\n", f"  name: {name}\n")
    (repo.root / ".gitignore").write_text("models/scratch/\n")
    data = _json(run)
    statuses = {(p["name"], p["env"]): (p["status"], p["spec"]["after"]) for p in data["pipelines"]
                if p["status"] != "unchanged"}
    assert statuses == {("fraud-detection", env): ("removed", None) for env in ("dev", "prod", "staging")} | {
        ("iris-v2", env): ("added", "models/iris-v2/mlform.yaml") for env in ("dev", "prod")}


def test_a_renamed_source_renames_dag_tasks_and_edges(repo: Repo, run: Run) -> None:
    repo.edit(IRIS, "    train:\n      type: csv", "    training:\n      type: csv")
    repo.edit(IRIS, "train_source: train", "train_source: training")
    repo.edit(IRIS, "  reference: train", "  reference: training")
    data = _json(run, "--env", "prod", IRIS)
    dag = "dag mlform-iris-prod"
    assert _changes(data, "iris", "prod", "deploy/iris/prod/airflow/mlform_iris_prod.py") == [
        ("removed", dag, 'tasks["ingest.train"]', {"operator": "_step", "env": {"MLFORM_STEP": "ingest.train"}}, None),
        ("removed", dag, 'tasks["validate.train"]',
         {"operator": "_step", "env": {"MLFORM_STEP": "validate.train"}}, None),
        ("added", dag, 'tasks["ingest.training"]', None,
         {"operator": "_step", "env": {"MLFORM_STEP": "ingest.training"}}),
        ("added", dag, 'tasks["validate.training"]', None,
         {"operator": "_step", "env": {"MLFORM_STEP": "validate.training"}}),
        ("removed", dag, "edges", "ingest.train >> validate.train", None),
        ("removed", dag, "edges", "validate.train >> split", None),
        ("added", dag, "edges", None, "ingest.training >> validate.training"),
        ("added", dag, "edges", None, "validate.training >> split"),
    ]
    code, out, _ = run("--env", "prod", IRIS)
    assert "      dag mlform-iris-prod:\n        - tasks[\"ingest.train\"]: " in out
    assert "        + edges: ingest.training >> validate.training\n" in out


def test_targets_change_workflow_steps_triggers_dockerfiles_dags_and_containers(repo: Repo, run: Run) -> None:
    repo.edit(IRIS, "  github_actions: {}", "  github_actions: {python_version: '3.12'}")
    repo.edit(IRIS, "base_image: python:3.11-slim", "base_image: python:3.12-slim")
    repo.edit(IRIS, '    schedule: "@weekly"\n    operator: bash\n    retries: 1',
              '    schedule: "@daily"\n    operator: bash\n    retries: 3')
    repo.edit(IRIS, '  schedule: "0 6 * * *"', '  schedule: "0 7 * * *"')
    repo.edit(IRIS, "  replicas: 1\n", "  replicas: 2\n")
    repo.edit(IRIS, "  max_batch_size: 1000\n", "  max_batch_size: 1000\n  env:\n    API_TOKEN: {secret: token}\n")
    repo.edit(IRIS, "environments:\n", "secrets:\n  token:\n    env: API_TOKEN\n"
                                       "    kubernetes: {secret: api, key: token}\n\nenvironments:\n")
    data = _json(run, "--env", "dev")
    workflows = ".github/workflows/mlform-iris-dev"
    assert _changes(data, "iris", "dev", f"{workflows}-pr.yml") == [
        ("changed", "job check", "steps[Set up Python].with.python-version", "3.11", "3.12")]
    assert _changes(data, "iris", "dev", f"{workflows}-monitor.yml") == [
        ("changed", "workflow", "on.schedule[0].cron", "0 6 * * *", "0 7 * * *"),
        ("changed", "job monitor", "steps[Set up Python].with.python-version", "3.11", "3.12")]
    assert _changes(data, "iris", "dev", "deploy/iris/dev/docker/Dockerfile.train") == [
        ("changed", "stage build", "FROM", "python:3.11-slim AS build", "python:3.12-slim AS build"),
        ("changed", "stage 2", "FROM", "python:3.11-slim", "python:3.12-slim")]
    assert _changes(data, "iris", "dev", "deploy/iris/dev/airflow/mlform_iris_dev.py") == [
        ("changed", "dag mlform-iris-dev", "schedule", "@weekly", "@daily"),
        ("changed", "dag mlform-iris-dev", "default_args.retries", 1, 3),
        ("changed", "dag mlform-iris-dev-monitor", "schedule", "0 6 * * *", "0 7 * * *"),
        ("changed", "dag mlform-iris-dev-monitor", "default_args.retries", 1, 3)]
    assert _changes(data, "iris", "dev", "deploy/iris/dev/kubernetes/deployment.yaml") == [
        ("changed", "Deployment/ml-dev/iris", "spec.replicas", 1, 2),
        ("added", "Deployment/ml-dev/iris", "spec.template.spec.containers[server].env", None,
         [{"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}])]
    assert _changes(data, "iris", "dev", "deploy/iris/dev/kubernetes/cronjob.yaml") == [
        ("changed", "CronJob/ml-dev/iris-monitor", "spec.schedule", "0 6 * * *", "0 7 * * *")]


def test_a_change_that_compiles_to_the_same_artifacts_is_no_difference(repo: Repo, run: Run) -> None:
    repo.edit(IRIS, "  target: species\n", "  target: species   # what the model predicts\n")
    code, out, _ = run("--exit-code")
    assert (code, out.splitlines()[1]) == (0, "No differences: 5 pipelines compile to the same artifacts.")


def test_specs_are_selected_by_working_tree_paths(repo: Repo, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.edit(IRIS, "        n_estimators: 20", "        n_estimators: 30")
    repo.edit(FRAUD, "      params: {max_iter: 200}", "      params: {max_iter: 300}")
    monkeypatch.chdir(repo.root / "models")
    data = _json(run, "iris")
    assert {(p["name"], p["env"], p["status"]) for p in data["pipelines"]} == {
        ("iris", "dev", "changed"), ("iris", "prod", "unchanged")}
    data = _json(run, "fraud-detection/mlform.yaml", "--env", "dev")
    assert [(p["name"], p["env"], p["status"]) for p in data["pipelines"]] == [("fraud-detection", "dev", "changed")]


def test_an_unknown_ref_is_an_error_naming_it(repo: Repo) -> None:
    done = subprocess.run([MLFORM, "diff", "--base", "no-such-branch"], cwd=repo.root, capture_output=True,
                          text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "error: unknown git ref `no-such-branch`: it names no commit in this repository\n"


def test_a_folder_outside_git_is_an_error(tmp_path: Path) -> None:
    done = subprocess.run([MLFORM, "diff"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: `") and "is not inside a git repository" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_spec_invalid_at_the_base_ref_names_the_ref_and_the_file(repo: Repo, run: Run) -> None:
    repo.edit(IRIS, "      replicas: 2\n", "      replicas: -2\n")
    line = (repo.root / IRIS).read_text().splitlines().index("      replicas: -2") + 1
    broken = repo.commit("negative replicas")
    repo.edit(IRIS, "      replicas: -2\n", "      replicas: 2\n")
    repo.commit("fixed")
    code, out, err = run("--base", "HEAD~1", "--head", "HEAD")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == f"error: cannot compile the specs at `HEAD~1` ({broken[:10]}):"
    # only the error: no warnings about the data files the private copy leaves out, no temporary paths
    assert lines[1:] == [f"{IRIS}:{line}:17: error: environments.prod.serving.replicas: must be >= 0, got -2 "
                         "(in environment `prod`)"]

    assert run("--base", "HEAD~1", "--head", "HEAD", FRAUD)[0] == 0  # the other spec is not compiled


def test_selections_that_match_nothing_are_errors(repo: Repo, run: Run) -> None:
    (repo.root / "docs").mkdir()
    code, _, err = run("docs")
    main_commit = repo.git("rev-parse", "--short=10", "main").strip()
    assert (code, err) == (1, f"error: no spec found at `docs` in `main` ({main_commit}) or the working tree\n")
    code, _, err = run("HEAD", "docs")  # a ref given where spec paths go
    assert (code, err) == (1, f"error: no spec found at `HEAD` in `main` ({main_commit}) or the working tree; "
                              "`HEAD` is a git ref: compare refs with `--base HEAD` and `--head REF`\n")
    code, _, err = run("--env", "qa")
    assert (code, err) == (1, "error: nothing to compare: no spec declaring environment `qa` found in "
                              f"`main` ({main_commit}) or the working tree\n")


def test_the_default_base(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    first = repo.git("rev-parse", "HEAD").strip()
    assert (default_base(repo.root).ref, default_base(repo.root).commit) == ("main", first)
    repo.edit(IRIS, "        n_estimators: 20", "        n_estimators: 30")
    second = repo.commit("more trees")
    repo.git("update-ref", "refs/remotes/origin/main", first)
    assert (default_base(repo.root).ref, default_base(repo.root).commit) == ("origin/main", first)
    repo.git("update-ref", "refs/remotes/origin/release", second)
    monkeypatch.setenv("GITHUB_BASE_REF", "release")
    assert default_base(repo.root).ref == "origin/release"
    monkeypatch.delenv("GITHUB_BASE_REF")
    repo.git("update-ref", "-d", "refs/remotes/origin/main")
    repo.git("branch", "-q", "-m", "main", "trunk")
    assert (default_base(repo.root).ref, default_base(repo.root).commit) == ("HEAD", second)


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    script = ("import sys\nfrom mlform.compiler import cli\ntry:\n    cli.main(['diff', '--help'])\n"
              "except SystemExit:\n    pass\n"
              "print(sorted(m for m in ('pydantic', 'jinja2', 'pandas', 'sklearn') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.stdout.splitlines()[-1] == "[]", done.stderr
