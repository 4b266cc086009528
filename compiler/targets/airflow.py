"""Airflow 3 target: one DAG file per pipeline and environment.

The training DAG has one task per step (all but `monitor`), wired as the step graph. With `monitoring`,
a second DAG on the monitoring schedule runs `mlform monitor`: on a breach it triggers the training DAG
(`on_breach: retrain`), fails (`alert`; also `pull_request`, whose pull request the monitor workflow opens) or
carries on (`none`). Tasks are `BashOperator`s running `mlform run` from the project root, or
`KubernetesPodOperator`s running the training image.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlform.compiler.artifacts.common import image, secret_env, spec_file
from mlform.compiler.artifacts.pods import container, pod_metadata, pod_spec
from mlform.specs.errors import RenderError

from . import Context

__all__ = ["airflow_literal", "directory", "render"]

_JINJA_MARKERS = ("{{", "{%", "{#")
_MONITOR = 'mlform monitor "$MLFORM_SPEC" --env "$MLFORM_ENV"'
_BASH_ROUTES = {
    "retrain": f'{_MONITOR} && echo ok || {{ status=$?; [ "$status" -eq 3 ] && echo breach || exit "$status"; }}',
    "alert": _MONITOR,
    "pull_request": _MONITOR,  # the monitor workflow opens the pull request; here a breach fails the task
    "none": f'{_MONITOR} || [ "$?" -eq 3 ]',
}
_POD_ROUTES = {  # a pod reports to XCom through the file the operator's sidecar reads
    "retrain": (f'{_MONITOR}; status=$?; case "$status" in 0) result=ok ;; 3) result=breach ;; '
                '*) exit "$status" ;; esac; printf \'"%s"\' "$result" > /airflow/xcom/return.json'),
    "alert": _MONITOR,
    "pull_request": _MONITOR,  # the monitor workflow opens the pull request; here a breach fails the task
    "none": f'{_MONITOR} || [ "$?" -eq 3 ]',
}


def directory(ctx: Context) -> str:
    """`deploy/<name>/<env>/airflow`."""
    return ctx.layout.deploy_dir(ctx.spec.name, ctx.spec.env, "airflow")


def airflow_literal(value: str) -> str:
    """`value` for a field Airflow renders with Jinja, which would run markers and rewrite line ends: such
    text becomes a Jinja string literal."""
    if not any(marker in value for marker in _JINJA_MARKERS) and "\r" not in value and not value.endswith("\n"):
        return value
    escaped = value.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return "{{ '" + escaped + "' }}"


@dataclass(frozen=True)
class _Operator:
    """How one operator kind turns steps into tasks: template values, and each task's env and arguments."""

    values: dict[str, Any]
    step: Callable[[str], tuple[dict[str, str], dict[str, Any]]]
    monitor: Callable[[str], dict[str, Any]]


def _bash(ctx: Context) -> _Operator:
    """Tasks running `mlform` from the project root on the Airflow worker."""
    layout, airflow = ctx.layout, ctx.spec.pipeline.targets.airflow
    assert airflow is not None
    if layout.out.startswith("..") and airflow.project_root is None:
        msg = ("`targets.airflow.operator: bash` runs from the project root: `--out` must lie inside the project, "
               "or set `targets.airflow.project_root`")
        raise RenderError(msg)
    values = {
        "root": posixpath.relpath("/", "/" + ctx.rooted(directory(ctx))),
        "project_root": None if airflow.project_root is None else airflow_literal(airflow.project_root),
        "run_step": 'mlform run "$MLFORM_SPEC" --env "$MLFORM_ENV" --step "$MLFORM_STEP"',
        "step_env": {"MLFORM_SPEC": airflow_literal(layout.spec_path), "MLFORM_ENV": ctx.spec.env},
    }
    return _Operator(values, lambda step: ({"MLFORM_STEP": step}, {}),
                     lambda policy: {"bash_command": _BASH_ROUTES[policy]})


def _pods(ctx: Context) -> _Operator:
    """Tasks running the training image as hardened pods in the pipeline's namespace."""
    target = ctx.spec.pipeline.targets.kubernetes
    if target is None:
        msg = "`targets.airflow.operator: kubernetes` runs pods: set `targets.kubernetes` (namespace, account)"
        raise RenderError(msg)
    train, spec, env = image(ctx, "train"), airflow_literal(spec_file(ctx)), ctx.spec.env
    base = container(ctx, "base", train, [], secret_env(ctx), state=True)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_metadata(ctx, "pipeline"),
           "spec": pod_spec(ctx, [base], restart="Never", state=True)}

    def monitor(policy: str) -> dict[str, Any]:
        found: dict[str, Any] = {"image": train, "cmds": ["/bin/sh", "-c", _POD_ROUTES[policy]]}
        if policy == "retrain":
            found["do_xcom_push"] = True
        return found

    def step(step_id: str) -> tuple[dict[str, str], dict[str, Any]]:
        return {}, {"image": train, "arguments": ["run", spec, "--env", env, "--step", step_id]}

    values = {"namespace": target.namespace, "pod": pod, "step_env": {"MLFORM_SPEC": spec, "MLFORM_ENV": env}}
    return _Operator(values, step, monitor)


def _card(ctx: Context) -> dict[str, Any]:
    meta = ctx.spec.pipeline.metadata
    return {"description": meta.description, "intended_use": meta.intended_use, "owners": list(meta.owners),
            "spec": ctx.layout.spec_path, "environment": ctx.spec.env}


def render(ctx: Context) -> dict[str, str]:
    """`mlform_<name>_<env>.py`, defining the training DAG and, with monitoring, the monitoring DAG."""
    airflow = ctx.spec.pipeline.targets.airflow
    if airflow is None:
        return {}
    name, env, pipeline = ctx.spec.name, ctx.spec.env, ctx.spec.pipeline
    operator = _bash(ctx) if airflow.operator == "bash" else _pods(ctx)
    step_ids = [step for step in ctx.graph.order() if step != "monitor"]
    tasks = []
    for step in step_ids:
        env_vars, kwargs = operator.step(step)
        tasks.append({"id": step, "env": env_vars, "kwargs": kwargs})
    edges = sorted({(a, b) for a, b in ctx.graph.pipeline.edges if a in step_ids and b in step_ids})
    dag_id = f"mlform-{name}-{env}"
    monitor = None
    if pipeline.monitoring is not None:
        policy = pipeline.monitoring.on_breach
        monitor = {"dag_id": f"{dag_id}-monitor", "schedule": pipeline.monitoring.schedule,
                   "description": f"Drift and performance monitoring of {name} ({env}); on breach: {policy}",
                   "branch": policy == "retrain", "kwargs": operator.monitor(policy)}
    text = ctx.templates.render(
        "airflow", "dag.py", name=name, env=env, dag_id=dag_id, operator=airflow.operator,
        owner=", ".join(pipeline.metadata.owners) or "mlform", retries=airflow.retries,
        retry_delay_minutes=airflow.retry_delay_minutes, schedule=airflow.schedule,
        description=pipeline.metadata.description or f"mlform pipeline {name} ({env})",
        card=_card(ctx), tags=["mlform", name, env], tasks=tasks, edges=edges, monitor=monitor, **operator.values)
    return {f"mlform_{name.replace('-', '_')}_{env.replace('-', '_')}.py": text}
