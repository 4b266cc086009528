"""`serving.canary`: a second Deployment behind a weighted `HTTPRoute` (valid by the Gateway API's schema), or a
KServe canary share; schema-valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import KSERVE, LINT, httproute_findings, run

from .conftest import Project
from .test_kubernetes import HERE, NEWEST

CANARY = {"traffic_percent": 10, "steps": [25, 50, 100], "max_error_rate": 0.02}
HOSTILE = "0" + "-9a" * 17 + "z"  # a valid name of the most characters, starting with a digit


def with_canary(doc: dict[str, Any]) -> None:
    doc["serving"]["canary"] = CANARY
    doc["environments"].setdefault("staging", {})["targets"] = {"kubernetes": {"serving": "kserve"}}


@pytest.fixture(scope="module")
def canaried(tmp_path_factory: pytest.TempPathFactory) -> Project:
    from mlform.compiler.artifacts.output import compile_specs, write
    from mlform.specs import discover

    project = Project(tmp_path_factory.mktemp("canary") / "repo")
    project.spec("iris", edit=with_canary)
    write(compile_specs(discover([project.root / "models"]), None, None, cwd=project.root))
    return project


def load(project: Project, env: str, stem: str) -> dict[str, Any]:
    return yaml.safe_load((project.root / f"deploy/iris/{env}/kubernetes/{stem}.yaml").read_text())


def test_deployments_get_a_canary_and_a_weighted_route(canaried: Project) -> None:
    route = load(canaried, "dev", "httproute")
    port = load(canaried, "dev", "service")["spec"]["ports"][0]["port"]
    assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": "iris"}]
    backends = route["spec"]["rules"][0]["backendRefs"]
    assert [(b["name"], b["port"], b["weight"]) for b in backends] == [("iris", port, 90), ("iris-canary", port, 10)]
    assert load(canaried, "dev", "canary-service")["metadata"]["name"] == "iris-canary"
    assert route["metadata"]["annotations"]["mlform.dev/canary-steps"] == "25,50,100"
    canary = load(canaried, "dev", "canary-deployment")
    stable = load(canaried, "dev", "deployment")
    args = canary["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2:] == ["--model", "iris-classifier@staging"]
    # neither Deployment's selector matches the other's pods
    for one, other in ((canary, stable), (stable, canary)):
        selector = one["spec"]["selector"]["matchLabels"].items()
        assert not selector <= other["spec"]["template"]["metadata"]["labels"].items()
    kustomization = load(canaried, "dev", "kustomization")["resources"]
    assert {"canary-deployment.yaml", "canary-service.yaml", "httproute.yaml"} <= set(kustomization)


@pytest.mark.integration
@pytest.mark.parametrize("version", ["1.30", NEWEST])
def test_canary_workloads_pass_strict_schema_validation(canaried: Project, version: str) -> None:
    folder = canaried.root / "deploy/iris/dev/kubernetes"
    files = [folder / f"{stem}.yaml" for stem in ("canary-deployment", "canary-service")]
    done = run([LINT.bin("kubernetes-validate"), "--strict", "--quiet", "-k", version, *files])
    assert done.returncode == 0, done.stdout + done.stderr


def _hostile(doc: dict[str, Any]) -> None:
    with_canary(doc)
    doc["serving"]["canary"] = {"traffic_percent": 1, "steps": [2, 99, 100], "max_error_rate": 1e-9}
    doc["metadata"]["labels"] = {"example.com/team": "a.b_c-9", "app.kubernetes.io/name": "z" * 63}


def _routes(root: Path) -> dict[str, Any]:
    return {path.relative_to(root).as_posix(): yaml.safe_load(path.read_text())
            for path in sorted(root.glob("deploy/*/*/kubernetes/httproute.yaml"))}


@pytest.mark.integration
def test_every_emitted_route_passes_the_gateway_api_schema(compiled: Project, canaried: Project,
                                                           project: Project) -> None:
    from mlform.compiler.artifacts.output import compile_specs, write
    from mlform.specs import discover

    project.spec(HOSTILE, edit=_hostile)
    write(compile_specs(discover([project.root / "models"]), None, None, cwd=project.root))
    # every example's too, though none has a canary on plain Deployments today (fraud-detection's is KServe's)
    routes = {**_routes(compiled.root), **_routes(canaried.root), **_routes(project.root)}
    assert {f"deploy/{name}/{env}/kubernetes/httproute.yaml" for name in ("iris", HOSTILE) for env in ("dev", "prod")
            } <= set(routes)
    assert routes[f"deploy/{HOSTILE}/dev/kubernetes/httproute.yaml"]["spec"]["rules"][0]["backendRefs"][1] == {
        "group": "", "kind": "Service", "name": f"{HOSTILE}-canary", "port": 8080, "weight": 1}
    assert dict(zip(routes, httproute_findings(list(routes.values())), strict=True)) == dict.fromkeys(routes)


def _weight(route: dict[str, Any], value: object) -> None:
    route["spec"]["rules"][0]["backendRefs"][1]["weight"] = value


@pytest.mark.integration
@pytest.mark.parametrize(("breaking", "finding"), [
    (lambda r: _weight(r, "10"), "data/spec/rules/0/backendRefs/1/weight must be integer"),
    (lambda r: _weight(r, -10), "data/spec/rules/0/backendRefs/1/weight must be >= 0"),
    (lambda r: r["spec"]["parentRefs"][0].pop("name"), "data/spec/parentRefs/0 must have required property name"),
    (lambda r: r["spec"]["rules"][0]["backendRefs"][0].update(port=80_000),
     "data/spec/rules/0/backendRefs/0/port must be <= 65535"),
    (lambda r: r.update(apiVersion="gateway.networking.k8s.io/v1beta2"),
     "not a gateway.networking.k8s.io/v1 HTTPRoute: gateway.networking.k8s.io/v1beta2 HTTPRoute"),
])
def test_the_gateway_api_schema_refuses_a_broken_route(canaried: Project, breaking: Any, finding: str) -> None:
    route = load(canaried, "dev", "httproute")
    breaking(route)
    assert httproute_findings([route]) == [finding]


@pytest.mark.integration
def test_kserve_gets_the_canary_share(canaried: Project, tmp_path: Path) -> None:
    path = canaried.root / "deploy/iris/staging/kubernetes/inferenceservice.yaml"
    doc = yaml.safe_load(path.read_text())
    assert doc["spec"]["predictor"]["canaryTrafficPercent"] == 10
    done = run([KSERVE.bin("python"), HERE / "kserve_check.py", path])
    assert json.loads(done.stdout) == [], done.stderr
    doc["spec"]["predictor"]["canaryTrafficPercentage"] = 10  # a misspelt field is refused
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    assert any("canaryTrafficPercentage" in e for e in json.loads(run([KSERVE.bin("python"), HERE / "kserve_check.py",
                                                                       bad]).stdout))
