"""Generated files of a spec whose state lives in a shared backend (the `team` spec of the `compiled` project):
postgres in prod, s3 with AWS keys in dev, s3 with IAM roles in staging. The real linters check these files with
the others (test_github_actions, test_kubernetes, test_docker, test_airflow); here, what they must say."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlform.compiler.artifacts.output import compile_specs, write
from mlform.specs import discover

from .conftest import ROLE, Project, shared_backends

Cli = Callable[..., Any]


def workflow(project: Project, env: str, kind: str) -> dict[str, Any]:
    """The one job of the team spec's `kind` workflow in `env`."""
    doc = yaml.safe_load((project.root / f".github/workflows/mlform-team-{env}-{kind}.yml").read_text())
    (job,) = doc["jobs"].values()
    return job


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in job["steps"] if s["name"] == name]
    return found


def manifest(project: Project, env: str, stem: str) -> dict[str, Any]:
    return yaml.safe_load((project.root / f"deploy/team/{env}/kubernetes/{stem}.yaml").read_text())


def test_apply_waits_for_the_shared_lock_with_the_backend_secret(compiled: Project) -> None:
    job = workflow(compiled, "prod", "apply")
    apply = step(job, "Apply")
    assert apply["run"] == 'mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes --lock-timeout 10m\n'
    assert apply["env"] == {"IRIS_STATE_URL": "${{ secrets.IRIS_STATE_URL }}"}
    assert step(job, "Install mlform")["run"] == "python -m pip install 'mlform[postgres]==0.1.0'\n"
    local_file = compiled.root / ".github/workflows/mlform-iris-prod-apply.yml"
    local = yaml.safe_load(local_file.read_text())["jobs"]["apply"]
    assert "--lock-timeout" not in step(local, "Apply")["run"]  # a local backend lives and dies with the runner


def test_pull_requests_plan_against_the_shared_state_without_the_lock(compiled: Project) -> None:
    job = workflow(compiled, "prod", "pr")
    for name in ("Plan", "Model card of a promotion", "Diff"):
        assert step(job, name)["env"] == {"IRIS_STATE_URL": "${{ secrets.IRIS_STATE_URL }}"}
    scripts = "".join(s.get("run", "") for s in job["steps"])
    assert "mlform apply" not in scripts and "--lock-timeout" not in scripts


def test_monitoring_reads_the_shared_registry(compiled: Project) -> None:
    job = workflow(compiled, "dev", "monitor")
    assert step(job, "Monitor drift and performance")["env"] == {
        "AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
        "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
        "AWS_ENDPOINT_URL": "${{ secrets.AWS_ENDPOINT_URL }}", "AWS_REGION": "us-east-1"}
    cron = manifest(compiled, "dev", "cronjob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["containers"][0]["envFrom"] == [{"secretRef": {"name": "team-aws"}}]


def test_an_oidc_role_replaces_the_aws_keys(compiled: Project) -> None:
    job = workflow(compiled, "staging", "apply")
    assert job["permissions"] == {"contents": "read", "packages": "write", "id-token": "write"}
    configure = step(job, "Configure AWS credentials")
    assert configure["with"] == {"role-to-assume": ROLE, "aws-region": "eu-west-1"}
    assert "env" not in step(job, "Apply")
    text = (compiled.root / ".github/workflows/mlform-team-staging-apply.yml").read_text()
    assert "AWS_ACCESS_KEY_ID" not in text
    account = manifest(compiled, "staging", "serviceaccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    pod = manifest(compiled, "staging", "job")["spec"]["template"]["spec"]
    assert "envFrom" not in pod["containers"][0]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_pods_keep_no_state_claim_and_a_scratch_state_folder(compiled: Project, env: str) -> None:
    folder = compiled.root / f"deploy/team/{env}/kubernetes"
    assert not (folder / "persistentvolumeclaim.yaml").exists()
    assert "persistentvolumeclaim.yaml" not in manifest(compiled, env, "kustomization")["resources"]
    assert (compiled.root / "deploy/iris/prod/kubernetes/persistentvolumeclaim.yaml").exists()
    for stem in ("job", "cronjob"):
        doc = manifest(compiled, env, stem)
        job_spec = doc["spec"] if stem == "job" else doc["spec"]["jobTemplate"]["spec"]
        pod = job_spec["template"]["spec"]
        assert {"name": "state", "emptyDir": {}} in pod["volumes"]
        assert {"name": "state", "mountPath": "/app/.mlform"} in pod["containers"][0]["volumeMounts"]


def test_the_server_loads_the_served_version_from_the_shared_registry(compiled: Project) -> None:
    pod = manifest(compiled, "prod", "deployment")["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    assert server["env"] == [{"name": "IRIS_STATE_URL",
                              "valueFrom": {"secretKeyRef": {"name": "iris-state", "key": "url"}}}]
    assert {"name": "state", "emptyDir": {}} in pod["volumes"]  # where the model is downloaded and checked
    predictor = manifest(compiled, "staging", "inferenceservice")["spec"]["predictor"]
    assert predictor["serviceAccountName"] == "team-mlform"
    folder = compiled.root / "deploy/team/prod/docker"
    assert ".mlform" in (folder / "Dockerfile.serve.dockerignore").read_text().splitlines()
    serve = (folder / "Dockerfile.serve").read_text()
    assert "'mlform[postgres]==0.1.0'" in serve and "/opt/mlform-spec/" not in serve  # no registry in the image


@pytest.mark.parametrize(("env", "credentials"), [
    ("prod", {"env": [{"name": "IRIS_STATE_URL",
                       "valueFrom": {"secretKeyRef": {"name": "iris-state", "key": "url"}}}]}),
    ("dev", {"envFrom": [{"secretRef": {"name": "team-aws"}}]}),
])
def test_servers_logging_to_the_backend_get_its_credentials(compiled: Project, env: str,
                                                            credentials: dict[str, Any]) -> None:
    spec = yaml.safe_load((compiled.root / "models/team/mlform.yaml").read_text())
    assert spec["serving"]["log"] == {"sample": 0.1, "sink": "backend"}
    (server,) = manifest(compiled, env, "deployment")["spec"]["template"]["spec"]["containers"]
    assert {key: server.get(key) for key in credentials} == credentials
    assert server["args"][:2] == ["serve", "mlform.yaml"]  # the spec whose `serving.log` it reads


@pytest.mark.parametrize(("env", "secrets"), [
    ("prod", {"IRIS_STATE_URL": "${{ secrets.IRIS_STATE_URL }}"}),
    ("dev", {"AWS_ACCESS_KEY_ID": "${{ secrets.AWS_ACCESS_KEY_ID }}",
             "AWS_SECRET_ACCESS_KEY": "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
             "AWS_ENDPOINT_URL": "${{ secrets.AWS_ENDPOINT_URL }}", "AWS_REGION": "us-east-1"}),
    ("staging", None),  # the OIDC role's credentials are the job's
])
def test_the_serving_image_installs_the_training_pins_read_from_the_shared_registry_before_the_build(
        compiled: Project, env: str, secrets: dict[str, str] | None) -> None:
    job = workflow(compiled, env, "apply")
    names = [s["name"] for s in job["steps"]]
    pin = step(job, "Pin the served model's training libraries")
    assert names.index(pin["name"]) < names.index("Build and push the serve image")
    assert pin.get("env") == secrets
    assert pin["run"] == f'mlform models pins "$MLFORM_SPEC" --env "$MLFORM_ENV" > models/team/mlform-pins-{env}.txt\n'
    serve = (compiled.root / f"deploy/team/{env}/docker/Dockerfile.serve").read_text().splitlines()
    at = serve.index(f'COPY ["mlform-pins-{env}.txt", "/opt/mlform-pins.txt"]')
    assert serve[at + 1].startswith("RUN /opt/mlform/bin/pip install --no-cache-dir -r /opt/mlform-pins.txt ")
    local = yaml.safe_load((compiled.root / ".github/workflows/mlform-iris-prod-apply.yml").read_text())["jobs"]
    assert "Pin the served model's training libraries" not in [s["name"] for s in local["apply"]["steps"]]


def test_airflow_pods_reach_the_backend_like_the_manifests(compiled: Project) -> None:
    text = (compiled.root / "deploy/team/staging/airflow/mlform_team_staging.py").read_text()
    assert "'emptyDir': {}" in text and "persistentVolumeClaim" not in text


def test_images_and_workflows_install_the_extras_the_runtime_needs(compiled: Project, project: Project) -> None:
    job = yaml.safe_load((compiled.root / ".github/workflows/mlform-full-prod-apply.yml").read_text())["jobs"]["apply"]
    assert step(job, "Install mlform")["run"] == "python -m pip install 'mlform[mlflow]==0.1.0'\n"  # tracking: mlflow

    def from_source(doc: dict[str, Any]) -> None:
        shared_backends(doc)
        doc["runtime"] = {"mlform": "./vendor/mlform"}

    project.spec("team", edit=from_source)
    write(compile_specs(discover([project.root / "models"]), "dev", None, cwd=project.root))
    train = (project.root / "deploy/team/dev/docker/Dockerfile.train").read_text()
    assert 'COPY ["vendor/mlform", "/opt/mlform-install/mlform"]' in train
    assert "pip install --no-cache-dir '/opt/mlform-install/mlform[s3]'" in train
    job = yaml.safe_load((project.root / ".github/workflows/mlform-team-dev-apply.yml").read_text())["jobs"]["apply"]
    assert step(job, "Install mlform")["env"] == {"MLFORM_INSTALL": "./models/team/vendor/mlform[s3]"}


def test_no_secret_value_reaches_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"IRIS_STATE_URL": "postgresql://ml:hunter2-pg@db.internal:5432/mlform",
              "AWS_ACCESS_KEY_ID": "AKIAHUNTER2EXAMPLE", "AWS_SECRET_ACCESS_KEY": "hunter2/aws/secret"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    project = Project(tmp_path / "repo")
    project.spec("team", edit=shared_backends)
    write(compile_specs(discover([project.root / "models"]), None, None, cwd=project.root))
    files = project.files()
    assert len(files) > 40
    for path, data in files.items():
        for value in values.values():
            assert value.encode() not in data, path


@pytest.mark.parametrize(("where", "value", "message"), [
    ("github_actions", "arn:aws:iam::123456789012:role/x ${{ github.token }}",
     "targets.github_actions.aws_role: `arn:aws:iam::123456789012:role/x ${{ github.token }}` is not an IAM role "
     "ARN like `arn:aws:iam::123456789012:role/mlform-ci`"),
    ("kubernetes", "role/ci", "targets.kubernetes.aws_role: `role/ci` is not an IAM role ARN like "
                              "`arn:aws:iam::123456789012:role/mlform-ci`"),
])
def test_a_role_that_is_not_an_arn_is_refused(project: Project, cli: Cli, where: str, value: str,
                                             message: str) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["targets"][where]["aws_role"] = value

    spec = project.spec("iris", edit=edit)
    code, _, err = cli("validate", spec)
    assert code == 1
    assert err.splitlines()[0].split(": error: ", 1)[1] == message


_HOLD = """
import sys, time
from pathlib import Path
from mlform.compiler.plan.state import StateStore
from mlform.runtime.storage.backends.url import open_backend
with StateStore(open_backend(sys.argv[1]), "iris", "dev").lock("apply"):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_plan_reads_the_state_while_an_apply_holds_its_lock(project: Project, cli: Cli) -> None:
    spec = project.spec("iris")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(spec.parent / ".mlform")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        code, out, err = cli("plan", spec, "--env", "dev")
        assert code == 0, err
        code, _, err = cli("apply", spec, "--env", "dev", "--yes")
        assert code == 1 and "is locked" in err  # the lock is really held
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_the_readme_names_what_the_generated_files_need() -> None:
    from mlform.compiler.artifacts.backend import AWS_KEYS, LOCK_TIMEOUT

    from .conftest import EXAMPLES

    text = (EXAMPLES.parent / "README.md").read_text()
    section = text[text.index("### Team set-up"):text.index("### Metric names")]
    assert f"--lock-timeout {LOCK_TIMEOUT}" in section
    assert all(f"`{key}`" in section for key in AWS_KEYS)
    assert "`<name>-aws`" in section and "eks.amazonaws.com/role-arn" in section
