"""What a pipeline's Kubernetes objects mean together: references that resolve, labels that select, commands that fit.

A schema check proves each object well formed alone; these checks read one environment's folder as a whole.
Every Service and PodDisruptionBudget selects a pod template and targets a port its containers declare; the
autoscaler targets the Deployment; every mount names a volume, every claim, ConfigMap and service account is
in the folder, every Secret is one the spec declares (`secrets.*.kubernetes`, `image_pull_secret`, the s3
keys); the state volume sits where the runtime looks for state; probes ask for routes the server serves; the
server and the Job run the same spec and environment (so the server loads the model the Job registers); the
Job and CronJob run steps the graph has; the UI runs `mlform ui` over the spec's folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from mlform.compiler.targets import Context
from mlform.compiler.ui import PROBE_PATH
from mlform.runtime.serving.httperror import ROUTES
from mlform.runtime.storage.statedir import HOME_ENV

from .backend import aws_secret, uses_s3
from .output import Build, Seen
from .pods import aws_role, service_account

__all__ = ["WiringFinding", "check_build", "check_folder", "declared_secrets"]

_UI_ROUTES = {PROBE_PATH: "GET"}  # what the UI's probes may ask for

_WORKLOADS = ("Deployment", "Job", "CronJob", "InferenceService")


@dataclass(frozen=True)
class WiringFinding:
    """One broken reference: the file, the object (`Kind/name`) and what is wrong."""

    path: str
    obj: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.obj}: {self.message}"


@dataclass(frozen=True)
class _Doc:
    path: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))

    @property
    def obj(self) -> str:
        return f"{self.kind}/{self.name}"


def declared_secrets(ctx: Context) -> set[str]:
    """The Kubernetes Secrets the spec says the cluster provides."""
    pipeline = ctx.spec.pipeline
    found = {ref.kubernetes.secret for ref in pipeline.secrets.values() if ref.kubernetes is not None}
    target = pipeline.targets.kubernetes
    if target is not None and target.image_pull_secret is not None:
        found.add(target.image_pull_secret)
    if uses_s3(ctx) and aws_role(ctx) is None:
        found.add(aws_secret(ctx))
    return found


def _pod(doc: _Doc) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(pod labels, pod spec) of a workload, or None for other kinds."""
    spec = doc.body.get("spec", {})
    if doc.kind == "CronJob":
        template = spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
    elif doc.kind in ("Job", "Deployment"):
        template = spec.get("template", {})
    elif doc.kind == "InferenceService":
        return doc.body.get("metadata", {}).get("labels", {}), spec.get("predictor", {})
    else:
        return None
    return template.get("metadata", {}).get("labels", {}), template.get("spec", {})


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _ports(pod: dict[str, Any]) -> set[object]:
    """Every container port of a pod, by name and by number."""
    found: set[object] = set()
    for box in pod.get("containers", []):
        for port in box.get("ports", []):
            found.update({port.get("name"), port.get("containerPort")} - {None})
    return found


def _args(box: dict[str, Any]) -> tuple[str, str, str | None, list[str]]:
    """(command, spec file, `--env`, `--step`s) of an mlform container."""
    args = [str(a) for a in box.get("args", [])]
    options = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    steps = [args[i + 1] for i in range(len(args) - 1) if args[i] == "--step"]
    return (args[0] if args else ""), (args[1] if len(args) > 1 else ""), options.get("--env"), steps


class _Checker:
    """The checks over one folder's documents; each appends findings."""

    def __init__(self, docs: list[_Doc], ctx: Context) -> None:
        self.docs, self.ctx = docs, ctx
        self.findings: list[WiringFinding] = []
        self.pods = [(doc, *pod) for doc in docs if (pod := _pod(doc)) is not None]

    def fail(self, doc: _Doc, message: str) -> None:
        self.findings.append(WiringFinding(doc.path, doc.obj, message))

    def names(self, kind: str) -> set[str]:
        return {doc.name for doc in self.docs if doc.kind == kind}

    def run(self) -> list[WiringFinding]:
        for doc in self.docs:
            getattr(self, f"_{doc.kind.lower()}", lambda _doc: None)(doc)
        for doc, labels, pod in self.pods:
            ui = labels.get("app.kubernetes.io/component") == "ui"
            self._pod_refs(doc, pod, _UI_ROUTES if ui else ROUTES)
            if ui:
                self._ui_containers(doc, pod)
            else:
                self._mlform_containers(doc, pod)
        return self.findings

    def _kustomization(self, doc: _Doc) -> None:
        present = {PurePosixPath(d.path).name for d in self.docs}
        for resource in doc.body.get("resources", []):
            if resource not in present:
                self.fail(doc, f"lists `{resource}`, which is not in the folder")

    def _selected(self, doc: _Doc, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
        pods = [pod for _, labels, pod in self.pods if _selects(selector, labels)]
        if not pods:
            shown = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
            self.fail(doc, f"selector `{shown}` matches no pod template")
        return pods

    def _service(self, doc: _Doc) -> None:
        pods = self._selected(doc, doc.body.get("spec", {}).get("selector", {}))
        ports = set().union(*(_ports(pod) for pod in pods)) if pods else set()
        for port in doc.body.get("spec", {}).get("ports", []):
            target = port.get("targetPort", port.get("port"))
            if pods and target not in ports:
                self.fail(doc, f"targetPort `{target}` is no container port of the pods it selects")

    def _poddisruptionbudget(self, doc: _Doc) -> None:
        self._selected(doc, doc.body.get("spec", {}).get("selector", {}).get("matchLabels", {}))

    def _deployment(self, doc: _Doc) -> None:
        spec = doc.body.get("spec", {})
        labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
        if not _selects(spec.get("selector", {}).get("matchLabels", {}), labels):
            self.fail(doc, "`spec.selector` does not match its own pod template's labels")

    def _horizontalpodautoscaler(self, doc: _Doc) -> None:
        ref = doc.body.get("spec", {}).get("scaleTargetRef", {})
        if ref.get("kind") != "Deployment" or ref.get("name") not in self.names("Deployment"):
            self.fail(doc, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} is no Deployment in the folder")

    def _pod_refs(self, doc: _Doc, pod: dict[str, Any], routes: Mapping[str, str]) -> None:
        volumes = {volume.get("name"): volume for volume in pod.get("volumes", [])}
        secrets = declared_secrets(self.ctx)
        for volume in volumes.values():
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim is not None and claim not in self.names("PersistentVolumeClaim"):
                self.fail(doc, f"volume `{volume['name']}` claims `{claim}`, which is not in the folder")
            config = volume.get("configMap", {}).get("name")
            if config is not None and config not in self.names("ConfigMap"):
                self.fail(doc, f"volume `{volume['name']}` reads ConfigMap `{config}`, which is not in the folder")
            secret = volume.get("secret", {}).get("secretName")
            if secret is not None and secret not in secrets:
                self.fail(doc, f"volume `{volume['name']}` reads Secret `{secret}`, which the spec does not declare")
        account = pod.get("serviceAccountName", "default")
        target = self.ctx.spec.pipeline.targets.kubernetes
        provided = {"default", *((target.service_account, target.ui.service_account) if target is not None else ())}
        if account not in self.names("ServiceAccount") | provided:
            self.fail(doc, f"service account `{account}` is neither in the folder nor `service_account` (or "
                           "`ui.service_account`)")
        for pull in pod.get("imagePullSecrets", []):
            if pull.get("name") not in secrets:
                self.fail(doc, f"image pull Secret `{pull.get('name')}` is not declared in the spec")
        for box in pod.get("containers", []):
            self._container_refs(doc, box, volumes, secrets, routes)

    def _container_refs(self, doc: _Doc, box: dict[str, Any], volumes: dict[str, Any], secrets: set[str],
                        routes: Mapping[str, str]) -> None:
        where = f"container `{box.get('name')}`"
        for mount in box.get("volumeMounts", []):
            if mount.get("name") not in volumes:
                self.fail(doc, f"{where} mounts `{mount.get('name')}`, which is no volume of the pod")
        for var in box.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None and ref.get("name") not in secrets:
                self.fail(doc, f"{where} reads `{var.get('name')}` from Secret `{ref.get('name')}`, "
                               "which the spec does not declare")
        for source in box.get("envFrom", []):
            name = source.get("secretRef", {}).get("name")
            if name is not None and name not in secrets:
                self.fail(doc, f"{where} reads Secret `{name}`, which the spec does not declare")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = box.get(probe, {}).get("httpGet")
            if get is None:
                continue
            if routes.get(get.get("path")) != "GET":
                self.fail(doc, f"{where} {probe} asks for `{get.get('path')}`, which the server does not serve "
                               f"(GET routes: {', '.join(f'`{r}`' for r, m in routes.items() if m == 'GET')})")
            if get.get("port") not in _ports({"containers": [box]}):
                self.fail(doc, f"{where} {probe} port `{get.get('port')}` is no port of the container")

    def _mlform_containers(self, doc: _Doc, pod: dict[str, Any]) -> None:
        spec_name = PurePosixPath(self.ctx.layout.spec_path).name
        expected = {"Deployment": "serve", "InferenceService": "serve", "Job": "run", "CronJob": "monitor"}[doc.kind]
        kinds = {step.kind for step in self.ctx.graph.steps.values()}
        for box in pod.get("containers", []):
            where = f"container `{box.get('name')}`"
            command, spec, env, steps = _args(box)
            if command != expected:
                self.fail(doc, f"{where} runs `mlform {command}`, expected `mlform {expected}`")
            if (spec, env) != (spec_name, self.ctx.spec.env):
                self.fail(doc, f"{where} runs spec `{spec}` in env `{env}`, not `{spec_name}` in `{self.ctx.spec.env}`")
            unknown = [s for s in steps if s not in self.ctx.graph.steps]
            if unknown:
                self.fail(doc, f"{where} runs step `{unknown[0]}`, which the graph does not have")
            if command == "monitor" and "monitor" not in kinds:
                self.fail(doc, f"{where} monitors, but the graph has no `monitor` step")
            self._state_mount(doc, box, spec, pod)

    def _ui_containers(self, doc: _Doc, pod: dict[str, Any]) -> None:
        if pod.get("serviceAccountName", "default") == service_account(self.ctx):
            self.fail(doc, f"the UI runs as the pipeline's service account `{service_account(self.ctx)}`, whose "
                           "credentials may write the state; give it its own")
        for box in pod.get("containers", []):
            command, folder, _, _ = _args(box)
            if (command, folder) != ("ui", "."):
                self.fail(doc, f"container `{box.get('name')}` runs `mlform {command} {folder}`, "
                               "expected `mlform ui .`")
            self._state_mount(doc, box, ".", pod)

    def _state_mount(self, doc: _Doc, box: dict[str, Any], spec: str, pod: dict[str, Any]) -> None:
        mounts = {mount.get("name"): mount.get("mountPath") for mount in box.get("volumeMounts", [])}
        if "state" not in mounts:
            if doc.kind in ("Job", "CronJob"):
                self.fail(doc, f"container `{box.get('name')}` mounts no `state` volume")
            return
        home = {var.get("name"): var.get("value") for var in box.get("env", [])}.get(HOME_ENV)
        spec_root = PurePosixPath(box.get("workingDir", "/")) / PurePosixPath(spec).parent
        wanted = str(home or spec_root / ".mlform")  # where `state_dir_for` looks without MLFORM_HOME
        if mounts["state"] != wanted:
            self.fail(doc, f"container `{box.get('name')}` mounts `state` at `{mounts['state']}`, "
                           f"but the runtime keeps state in `{wanted}`")


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: 10x faster


def check_folder(files: Mapping[str, str], ctx: Context) -> list[WiringFinding]:
    """Findings for one environment's Kubernetes files (path -> YAML text) rendered from `ctx`."""
    return _check_texts(files, ctx, {})


def _check_texts(files: Mapping[str, str], ctx: Context, known: Mapping[str, Any]) -> list[WiringFinding]:
    """`check_folder`, taking the object in `known` as what a file's text reads as instead of parsing it."""
    docs = [_Doc(path, body) for path, text in sorted(files.items()) if path.endswith((".yaml", ".yml"))
            for body in ([known[path]] if path in known else yaml.load_all(text, Loader=_LOADER))
            if isinstance(body, dict)]
    return _Checker(docs, ctx).run()


def _folder_of(relative: str, folders: Mapping[str, Any]) -> str | None:
    """The folder of `folders` that holds the file at `relative`, at any depth."""
    parent = relative
    while "/" in parent:
        parent = parent.rsplit("/", 1)[0]
        if parent in folders:
            return parent
    return None


def check_build(build: Build, seen: Seen | None = None) -> list[WiringFinding]:
    """Findings for every Kubernetes folder of `build`, reading each file as it is on disk (else as rendered).

    A file whose text on disk is the rendered one is checked as the object it was dumped from, unparsed.
    `seen` is what the disk held, read before (default: read each file now).
    """
    folders = {folder: ctx for folder, (target, ctx) in build.contexts.items() if target == "kubernetes"}
    grouped: dict[str, dict[str, str]] = {folder: {} for folder in folders}
    known: dict[str, Any] = {}
    for relative, text in build.files.items():
        folder = _folder_of(relative, folders)
        if folder is None:
            continue
        found = _on_disk(build, relative, seen)
        grouped[folder][relative] = text if found is None else found
        if (found is None or found == text) and relative in folders[folder].dumped:
            known[relative] = folders[folder].dumped[relative]
    return [finding for folder in sorted(folders) for finding in _check_texts(grouped[folder], folders[folder], known)]


def _on_disk(build: Build, relative: str, seen: Seen | None) -> str | None:
    """The text of a generated file on disk; None when it is missing or its text is the rendered one."""
    if seen is None:
        path = build.out / relative
        return path.read_text(encoding="utf-8") if path.is_file() else None
    data = seen.differing.get(relative)
    return None if data is None else data.decode("utf-8")
