"""Wiring of the generated Kubernetes objects: clean on every example and env; each broken reference found."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from .conftest import Project

Mutate = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def build(compiled: Project) -> Any:
    """The in-memory build of the compiled project, with the context of each folder."""
    from mlform.compiler.artifacts.output import compile_specs
    from mlform.specs import discover

    return compile_specs(discover([compiled.root / "models"]), None, None, cwd=compiled.root)


def test_every_example_and_environment_is_wired(build: Any, compiled: Project) -> None:
    from mlform.compiler.artifacts.wiring import check_build

    folders = {folder for folder, (target, _) in build.contexts.items() if target == "kubernetes"}
    declared = {(name, env) for name, env, _ in compiled.declared("kubernetes")}
    assert folders == {f"deploy/{name}/{env}/kubernetes" for name, env in declared}
    assert len(declared) >= 9  # iris, full, team and watch in their environments, and fraud-detection's
    assert [str(f) for f in check_build(build)] == []


def _folder(build: Any, name: str, env: str) -> tuple[dict[str, str], Any]:
    folder = f"deploy/{name}/{env}/kubernetes"
    files = {path: text for path, text in build.files.items() if path.startswith(f"{folder}/")}
    return files, build.contexts[folder][1]


def _mutated(files: dict[str, str], stem: str, mutate: Mutate) -> dict[str, str]:
    path = next(p for p in files if p.endswith(f"/{stem}.yaml"))
    doc = yaml.safe_load(files[path])
    mutate(doc)
    return {**files, path: yaml.safe_dump(doc)}


def _server(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]["containers"][0]


def _selector_typo(doc: dict[str, Any]) -> None:
    doc["spec"]["selector"]["app.kubernetes.io/component"] = "servng"


def _state_elsewhere(doc: dict[str, Any]) -> None:
    box = _server(doc)
    box["volumeMounts"] = [{**m, "mountPath": "/app/state"} if m["name"] == "state" else m for m in box["volumeMounts"]]


def _hpa_name(doc: dict[str, Any]) -> None:
    doc["spec"]["scaleTargetRef"]["name"] = "iris-server"


def _probe_path(doc: dict[str, Any]) -> None:
    _server(doc)["livenessProbe"]["httpGet"]["path"] = "/healthz"


def _target_port(doc: dict[str, Any]) -> None:
    doc["spec"]["ports"][0]["targetPort"] = "web"


def _claim(doc: dict[str, Any]) -> None:
    doc["spec"]["template"]["spec"]["volumes"][1]["persistentVolumeClaim"]["claimName"] = "iris-data"


def _mount(doc: dict[str, Any]) -> None:
    _server(doc)["volumeMounts"][0]["name"] = "scratch"


def _pdb(doc: dict[str, Any]) -> None:
    doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] = "iris-dev"


def _job_monitors(doc: dict[str, Any]) -> None:
    _server(doc)["args"][0] = "monitor"


def _wrong_env(doc: dict[str, Any]) -> None:
    _server(doc)["args"][3] = "dev"


def _unknown_step(doc: dict[str, Any]) -> None:
    _server(doc)["args"] += ["--step", "tune"]


def _no_state(doc: dict[str, Any]) -> None:
    box = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    box["volumeMounts"] = [m for m in box["volumeMounts"] if m["name"] != "state"]


def _account(doc: dict[str, Any]) -> None:
    doc["spec"]["template"]["spec"]["serviceAccountName"] = "builder"


def _ui_account_gone(doc: dict[str, Any]) -> None:
    doc["spec"]["template"]["spec"]["serviceAccountName"] = "team-viewer"


def _ui_as_pipeline(doc: dict[str, Any]) -> None:
    doc["spec"]["template"]["spec"]["serviceAccountName"] = "team-mlform"


def _ui_probe(doc: dict[str, Any]) -> None:
    _server(doc)["readinessProbe"]["httpGet"]["path"] = "/ready"


def _ui_serves(doc: dict[str, Any]) -> None:
    _server(doc)["args"][:2] = ["serve", "mlform.yaml"]


def _ui_selector(doc: dict[str, Any]) -> None:
    doc["spec"]["selector"]["app.kubernetes.io/component"] = "serving-ui"


GET_ROUTES = "`/health`, `/ready`, `/metrics`, `/openapi.json`"
MUTATIONS = [
    ("iris", "service", _selector_typo, "Service/iris",
     "selector `app.kubernetes.io/component=servng,app.kubernetes.io/instance=iris-prod,app.kubernetes.io/name=iris`"
     " matches no pod template"),
    ("iris", "job", _state_elsewhere, "Job/iris-train-{digest}",
     "container `train` mounts `state` at `/app/state`, but the runtime keeps state in `/app/.mlform`"),
    ("iris", "horizontalpodautoscaler", _hpa_name, "HorizontalPodAutoscaler/iris",
     "scaleTargetRef Deployment/iris-server is no Deployment in the folder"),
    ("iris", "deployment", _probe_path, "Deployment/iris",
     f"container `server` livenessProbe asks for `/healthz`, which the server does not serve "
     f"(GET routes: {GET_ROUTES})"),
    ("iris", "service", _target_port, "Service/iris", "targetPort `web` is no container port of the pods it selects"),
    ("iris", "job", _claim, "Job/iris-train-{digest}",
     "volume `state` claims `iris-data`, which is not in the folder"),
    ("iris", "deployment", _mount, "Deployment/iris",
     "container `server` mounts `scratch`, which is no volume of the pod"),
    ("iris", "poddisruptionbudget", _pdb, "PodDisruptionBudget/iris",
     "selector `app.kubernetes.io/component=serving,app.kubernetes.io/instance=iris-dev,app.kubernetes.io/name=iris`"
     " matches no pod template"),
    ("iris", "job", _job_monitors, "Job/iris-train-{digest}",
     "container `train` runs `mlform monitor`, expected `mlform run`"),
    ("iris", "deployment", _wrong_env, "Deployment/iris",
     "container `server` runs spec `mlform.yaml` in env `dev`, not `mlform.yaml` in `prod`"),
    ("iris", "job", _unknown_step, "Job/iris-train-{digest}",
     "container `train` runs step `tune`, which the graph does not have"),
    ("iris", "cronjob", _no_state, "CronJob/iris-monitor", "container `monitor` mounts no `state` volume"),
    ("iris", "deployment", _account, "Deployment/iris",
     "service account `builder` is neither in the folder nor `service_account` (or `ui.service_account`)"),
    ("team", "ui-deployment", _ui_account_gone, "Deployment/team-ui",
     "service account `team-viewer` is neither in the folder nor `service_account` (or `ui.service_account`)"),
    ("team", "ui-deployment", _ui_as_pipeline, "Deployment/team-ui",
     "the UI runs as the pipeline's service account `team-mlform`, whose credentials may write the state; give it "
     "its own"),
    ("team", "ui-deployment", _ui_probe, "Deployment/team-ui",
     "container `ui` readinessProbe asks for `/ready`, which the server does not serve (GET routes: `/api`)"),
    ("team", "ui-deployment", _ui_serves, "Deployment/team-ui",
     "container `ui` runs `mlform serve mlform.yaml`, expected `mlform ui .`"),
    ("team", "ui-service", _ui_selector, "Service/team-ui",
     "selector `app.kubernetes.io/component=serving-ui,app.kubernetes.io/instance=team-prod,"
     "app.kubernetes.io/name=team` matches no pod template"),
]


@pytest.mark.parametrize(("name", "stem", "mutate", "obj", "message"), MUTATIONS,
                         ids=[m[2].__name__.strip("_") for m in MUTATIONS])
def test_each_broken_reference_is_found(build: Any, name: str, stem: str, mutate: Mutate, obj: str,
                                        message: str) -> None:
    from mlform.compiler.artifacts.wiring import WiringFinding, check_folder

    files, ctx = _folder(build, name, "prod")
    mutated = _mutated(files, stem, mutate)
    path = f"deploy/{name}/prod/kubernetes/{stem}.yaml"
    assert check_folder(mutated, ctx) == [WiringFinding(path, obj.format(digest=ctx.spec.digest[:8]), message)]


def test_an_undeclared_secret_is_found(build: Any) -> None:
    from mlform.compiler.artifacts.wiring import check_folder

    files, ctx = _folder(build, "full", "prod")

    def rename(doc: dict[str, Any]) -> None:
        doc["spec"]["predictor"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"] = "serving-tokn"
        doc["spec"]["predictor"]["imagePullSecrets"] = [{"name": "regcreds"}]

    found = [f.message for f in check_folder(_mutated(files, "inferenceservice", rename), ctx)]
    assert found == ["image pull Secret `regcreds` is not declared in the spec",
                     "container `kserve-container` reads `API_TOKEN` from Secret `serving-tokn`, "
                     "which the spec does not declare"]


def test_compile_check_reports_wiring_with_file_and_object(project: Project, cli: Any) -> None:
    project.spec("iris")
    code, _, _ = cli("compile", "models", cwd=project.root)
    assert code == 0
    service = project.root / "deploy/iris/prod/kubernetes/service.yaml"
    service.write_text(service.read_text().replace("component: serving", "component: servng"))
    code, _, err = cli("compile", "models", "--check", cwd=project.root)
    assert code == 1
    lines = err.splitlines()
    assert "hand-edited: deploy/iris/prod/kubernetes/service.yaml" in lines
    assert [line for line in lines if line.startswith("wiring:")] == [
        "wiring: deploy/iris/prod/kubernetes/service.yaml: Service/iris: selector `app.kubernetes.io/component=servng,"
        "app.kubernetes.io/instance=iris-prod,app.kubernetes.io/name=iris` matches no pod template"]
    assert "1 broken references between generated Kubernetes objects." in lines



def test_an_undeclared_secret_from_env_from_or_a_volume_is_found(build: Any) -> None:
    from mlform.compiler.artifacts.wiring import check_folder

    files, ctx = _folder(build, "team", "dev")  # an s3 backend with AWS keys: pods read the `team-aws` Secret

    def rename(doc: dict[str, Any]) -> None:
        pod = doc["spec"]["template"]["spec"]
        pod["containers"][0]["envFrom"] = [{"secretRef": {"name": "team-aws-keys"}}]
        pod["volumes"].append({"name": "certs", "secret": {"secretName": "team-certs"}})
        pod["volumes"].append({"name": "declared", "secret": {"secretName": "team-aws"}})

    found = [f.message for f in check_folder(_mutated(files, "job", rename), ctx)]
    assert found == ["volume `certs` reads Secret `team-certs`, which the spec does not declare",
                     "container `train` reads Secret `team-aws-keys`, which the spec does not declare"]


@pytest.mark.parametrize(("name", "env", "why"), [("iris", "prod", "local state"), ("team", "staging", "IAM role")])
def test_the_aws_keys_secret_is_declared_only_for_s3_with_keys(build: Any, name: str, env: str, why: str) -> None:
    from mlform.compiler.artifacts.wiring import check_folder

    files, ctx = _folder(build, name, env)

    def keys(doc: dict[str, Any]) -> None:
        doc["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": f"{name}-aws"}}]

    found = [f.message for f in check_folder(_mutated(files, "job", keys), ctx)]
    assert found == [f"container `train` reads Secret `{name}-aws`, which the spec does not declare"], why


def test_no_image_pull_secret_declared_means_none_is_accepted(build: Any) -> None:
    from mlform.compiler.artifacts.wiring import check_folder, declared_secrets

    files, ctx = _folder(build, "iris", "prod")
    assert declared_secrets(ctx) == set()

    def pull(doc: dict[str, Any]) -> None:
        doc["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "regcred"}]

    found = [f.message for f in check_folder(_mutated(files, "job", pull), ctx)]
    assert found == ["image pull Secret `regcred` is not declared in the spec"]


def test_a_config_map_volume_must_name_the_folders_config_map(build: Any) -> None:
    from mlform.compiler.artifacts.wiring import check_folder

    files, ctx = _folder(build, "iris", "prod")

    def mount(doc: dict[str, Any]) -> None:
        doc["spec"]["template"]["spec"]["volumes"] += [{"name": "spec", "configMap": {"name": "iris-spec"}},
                                                        {"name": "old", "configMap": {"name": "iris-config"}}]

    found = [f.message for f in check_folder(_mutated(files, "job", mount), ctx)]
    assert found == ["volume `old` reads ConfigMap `iris-config`, which is not in the folder"]


def test_a_cron_job_monitoring_a_spec_without_monitoring_is_found(project: Project, build: Any) -> None:
    from mlform.compiler.artifacts.output import compile_specs
    from mlform.compiler.artifacts.wiring import check_build, check_folder

    def unmonitored(doc: dict[str, Any]) -> None:
        doc.pop("monitoring")
        doc["environments"]["prod"].pop("monitoring")

    spec = project.spec(edit=unmonitored)
    quiet = compile_specs([spec], "prod", None, ["kubernetes"], cwd=project.root)
    assert check_build(quiet) == []
    folder = "deploy/iris/prod/kubernetes"
    files = {path: text for path, text in quiet.files.items() if path.startswith(folder)}
    cron = build.files[f"{folder}/cronjob.yaml"]  # the monitoring iris's, for the same name and env
    found = check_folder({**files, f"{folder}/cronjob.yaml": cron}, quiet.contexts[folder][1])
    assert [(f.obj, f.message) for f in found] == [
        ("CronJob/iris-monitor", "container `monitor` monitors, but the graph has no `monitor` step")]


def test_each_dumped_object_reads_back_from_its_rendered_file(build: Any) -> None:
    """`check_build` checks a current file as the object it was dumped from: it must be what the file reads as."""
    folders = {folder for folder, (target, _) in build.contexts.items() if target == "kubernetes"}
    paths = [path for path in build.files if path.rsplit("/", 1)[0] in folders]
    assert len(paths) >= 9 * 6
    for path in paths:
        ctx = build.contexts[path.rsplit("/", 1)[0]][1]
        assert list(yaml.load_all(build.files[path], Loader=yaml.SafeLoader)) == [ctx.dumped[path]], path


def test_a_file_broken_on_disk_is_found_though_its_rendering_is_wired(project: Project) -> None:
    from mlform.compiler.artifacts.output import compile_specs, write
    from mlform.compiler.artifacts.wiring import check_build

    spec = project.spec("iris")
    build = compile_specs([spec], "prod", None, ["kubernetes"], cwd=project.root)
    write(build)
    service = project.root / "deploy/iris/prod/kubernetes/service.yaml"
    service.write_text(service.read_text().replace("targetPort: http", "targetPort: htp"))
    assert [str(f) for f in check_build(build)] == [
        "deploy/iris/prod/kubernetes/service.yaml: Service/iris: targetPort `htp` is no container port of the "
        "pods it selects"]


def test_the_wiring_check_imports_no_pandas() -> None:
    code = ("import sys, mlform.compiler.artifacts.wiring; "
            "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
