"""`targets.kubernetes.ui`: the web UI's Deployment and Service over a shared backend (the `team` spec's prod of the
`compiled` project); strict schema validation runs on them with the other manifests in test_kubernetes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlform.compiler.artifacts.output import compile_specs, write
from mlform.specs import discover

from .conftest import READ_ROLE, ROLE, Project, shared_backends
from .test_shared_backend import Cli, manifest


def selects(service: dict[str, Any], pod_labels: dict[str, str]) -> bool:
    """Whether a Service's selector picks pods labelled `pod_labels`, as Kubernetes matches them."""
    selector = service["spec"]["selector"]
    return bool(selector) and all(pod_labels.get(key) == value for key, value in selector.items())


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_ui_service_selects_the_ui_pods_and_no_others(compiled: Project) -> None:
    ui, service = manifest(compiled, "prod", "ui-deployment"), manifest(compiled, "prod", "ui-service")
    server = manifest(compiled, "prod", "deployment")
    assert selects(service, pod_labels(ui))
    assert ui["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert not selects(service, pod_labels(server))
    assert not selects(manifest(compiled, "prod", "service"), pod_labels(ui))  # the model's Service skips it
    service["spec"]["selector"]["app.kubernetes.io/component"] = "serving"
    assert not selects(service, pod_labels(ui))  # a selector that is off by one label reaches nothing


def test_the_ui_pod_runs_mlform_ui_read_only_with_the_backend_credentials(compiled: Project) -> None:
    ui = manifest(compiled, "prod", "ui-deployment")
    pod = ui["spec"]["template"]["spec"]
    (box,) = pod["containers"]
    assert box["args"] == ["ui", ".", "--host", "0.0.0.0", "--port", "5010"]
    assert box["image"] == manifest(compiled, "prod", "job")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert box["ports"] == [{"name": "http", "containerPort": 5010, "protocol": "TCP"}]
    probe = {"path": "/api", "port": "http"}
    assert box["readinessProbe"] == {"httpGet": probe, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
    assert box["livenessProbe"] == {"httpGet": probe, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 3}
    url = {"secretKeyRef": {"name": "iris-state-read", "key": "url"}}  # `ui.state_url`: a read-only role's
    # every environment the UI lists is read from this one's backend, the only one it has credentials for
    assert box["env"] == [{"name": "IRIS_STATE_URL", "valueFrom": url}, {"name": "MLFORM_BACKEND", "valueFrom": url}]
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    assert "resources" not in box  # the model server's sizes are not the UI's
    assert {v["name"]: next(iter(set(v) - {"name"})) for v in pod["volumes"]} == {"tmp": "emptyDir",
                                                                                "state": "emptyDir"}
    service = manifest(compiled, "prod", "ui-service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 5010, "targetPort": "http", "protocol": "TCP"}]
    folder = compiled.root / "deploy/team/prod/kubernetes"
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in folder.glob("*.yaml")}
    assert "Ingress" not in kinds and "HTTPRoute" not in kinds
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    assert {"ui-deployment.yaml", "ui-service.yaml"} <= set(listed)
    assert not (compiled.root / "deploy/team/dev/kubernetes/ui-deployment.yaml").exists()  # not enabled there


KINDS_GRANTING = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


@pytest.mark.parametrize(("env", "role"), [("prod", None), ("staging", READ_ROLE)])
def test_the_ui_pod_runs_as_its_own_account_that_may_write_nothing(compiled: Project, env: str,
                                                                   role: str | None) -> None:
    pod = manifest(compiled, env, "ui-deployment")["spec"]["template"]["spec"]
    account = manifest(compiled, env, "ui-serviceaccount")
    assert pod["serviceAccountName"] == account["metadata"]["name"] == "team-ui"
    assert account["kind"] == "ServiceAccount" and account["automountServiceAccountToken"] is False
    assert account["metadata"].get("annotations") == ({"eks.amazonaws.com/role-arn": role} if role else None)
    pipeline = manifest(compiled, env, "job")["spec"]["template"]["spec"]["serviceAccountName"]
    assert pipeline == manifest(compiled, env, "serviceaccount")["metadata"]["name"] == "team-mlform"
    if env == "staging":  # the pipeline's account keeps the role that writes the bucket
        assert manifest(compiled, env, "serviceaccount")["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": ROLE}
    folder = compiled.root / f"deploy/team/{env}/kubernetes"
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in folder.glob("*.yaml")}
    assert not kinds & KINDS_GRANTING  # no binding gives either account any Kubernetes permission
    assert "ui-serviceaccount.yaml" in manifest(compiled, env, "kustomization")["resources"]


def test_an_existing_ui_account_is_used_and_not_created(project: Project, cli: Cli) -> None:
    def edit(doc: dict[str, Any]) -> None:
        shared_backends(doc)
        doc["environments"]["prod"]["targets"]["kubernetes"]["ui"]["service_account"] = "ui-reader"

    spec = project.spec("iris", edit=edit)
    assert cli("compile", spec, "--env", "prod", cwd=project.root)[0] == 0
    checked = cli("compile", spec, "--env", "prod", "--check", cwd=project.root)  # the wiring check included
    assert (checked[0], checked[2]) == (0, "")
    folder = project.root / "deploy/iris/prod/kubernetes"
    ui = yaml.safe_load((folder / "ui-deployment.yaml").read_text())
    assert ui["spec"]["template"]["spec"]["serviceAccountName"] == "ui-reader"
    assert not (folder / "ui-serviceaccount.yaml").exists()


@pytest.mark.parametrize(("backend", "message"), [
    ({"kind": "s3", "bucket": "ml-state"},
     "`state_url` is a `postgres` backend's URL, but `state.backend.kind` is `s3`; for `s3` give the UI a read-only "
     "role with `aws_role`"),
])
def test_a_read_only_url_needs_a_postgres_backend(project: Project, cli: Cli, backend: dict[str, Any],
                                                  message: str) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["secrets"] = {"read": {"env": "READ_URL", "kubernetes": {"secret": "read", "key": "url"}}}
        doc["state"] = {"backend": backend}
        doc["targets"]["kubernetes"]["ui"] = {"enabled": True, "state_url": {"secret": "read"}}

    spec = project.spec("iris", edit=edit)
    code, _, err = cli("validate", spec)
    position, found = err.splitlines()[0].split(": error: ", 1)
    assert (code, found) == (1, f"targets.kubernetes.ui.state_url: {message}")
    assert Path(spec).read_text().splitlines()[int(position.rsplit(":", 2)[1]) - 1].strip() == "state_url:"


# values YAML would read as other types when unquoted; each must come back as the same string
_TRICKY = {"namespace": "true", "label": "1e3", "other": "null", "secret": "no", "key": "0o17", "bucket": "on.off"}


class _Quoting(yaml.SafeDumper):
    """Writes every string quoted, so the spec itself reads them as strings."""


_Quoting.add_representer(str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                                                             style='"'))


def _tricky(doc: dict[str, Any]) -> None:
    doc["metadata"]["labels"] = {"yes": _TRICKY["label"], "tier": _TRICKY["other"]}
    doc["secrets"] = {"state_url": {"env": "STATE_URL", "kubernetes": {"secret": _TRICKY["secret"],
                                                                       "key": _TRICKY["key"]}}}
    doc["targets"]["kubernetes"]["namespace"] = _TRICKY["namespace"]
    doc["state"] = {"backend": {"kind": "local"}}
    prod, dev = doc["environments"]["prod"], doc["environments"]["dev"]
    prod["state"] = {"backend": {"kind": "postgres", "url": {"secret": "state_url"}}}
    prod["targets"]["kubernetes"] = {"namespace": _TRICKY["namespace"], "ui": {"enabled": True, "port": 8443}}
    dev["state"] = {"backend": {"kind": "s3", "bucket": _TRICKY["bucket"]}}
    dev["targets"] = {"kubernetes": {"ui": {"enabled": True}}}


def test_values_that_read_as_other_types_stay_strings(project: Project) -> None:
    spec = project.spec("iris", edit=_tricky)
    spec.write_text(yaml.dump(yaml.safe_load(spec.read_text()), Dumper=_Quoting, sort_keys=False))
    write(compile_specs(discover([project.root / "models"]), None, None, cwd=project.root))
    text = (project.root / "deploy/iris/prod/kubernetes/ui-deployment.yaml").read_text()
    for key, value in (("namespace", "true"), ("yes", "1e3"), ("tier", "null"), ("name", "no"), ("key", "0o17")):
        # quoted, so no YAML reader (1.1 like Kubernetes', or 1.2) takes them for numbers, booleans or null
        lines = re.findall(rf"^ *'?{key}'?: (.*)$", text, re.MULTILINE)
        assert lines and all(line[0] in "'\"" for line in lines if line.strip("'\"") == value), (key, lines)
    ui = yaml.safe_load(text)
    assert ui["metadata"]["namespace"] == "true"
    assert pod_labels(ui)["yes"] == "1e3" and pod_labels(ui)["tier"] == "null"
    (box,) = ui["spec"]["template"]["spec"]["containers"]
    url = {"secretKeyRef": {"name": "no", "key": "0o17"}}
    assert box["env"] == [{"name": "STATE_URL", "valueFrom": url}, {"name": "MLFORM_BACKEND", "valueFrom": url}]
    assert box["args"][-2:] == ["--port", "8443"]
    dev = yaml.safe_load((project.root / "deploy/iris/dev/kubernetes/ui-deployment.yaml").read_text())
    (box,) = dev["spec"]["template"]["spec"]["containers"]
    assert box["envFrom"] == [{"secretRef": {"name": "iris-aws"}}]  # s3: the AWS keys' Secret, like the Jobs
    assert box["env"] == [{"name": "MLFORM_BACKEND", "value": "s3://on.off"}]


@pytest.mark.parametrize("where", ["base", "prod"])
def test_the_ui_on_a_local_backend_is_refused_where_it_is_enabled(project: Project, cli: Cli, where: str) -> None:
    def edit(doc: dict[str, Any]) -> None:
        targets = doc["targets"] if where == "base" else doc["environments"]["prod"]["targets"]
        targets["kubernetes"]["ui"] = {"enabled": True}

    spec = project.spec("iris", edit=edit)
    code, _, err = cli("validate", spec)
    assert code == 1
    position, found = err.splitlines()[0].split(": error: ", 1)
    number = int(position.rsplit(":", 2)[1])
    assert Path(spec).read_text().splitlines()[number - 1].strip() == "enabled: true"
    key = "targets.kubernetes.ui.enabled" if where == "base" else "environments.prod.targets.kubernetes.ui.enabled"
    suffix = "" if where == "base" else " (in environment `prod`)"
    assert found == (f"{key}: the UI in the cluster reads the state from a shared backend, but `state.backend.kind` "
                     f"is `local`: set `state.backend` to `postgres` or `s3`{suffix}")
