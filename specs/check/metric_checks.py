"""Checks of the metric names a spec uses and of the direction of the gates on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mlform.specs.model.lifecycle import Evaluation, Gate, Monitoring
from mlform.specs.model.metrics import METRICS, Task
from mlform.specs.read.source import KeyPath

from .explain import did_you_mean
from .finding import Finding

__all__ = ["evaluation_findings", "metric_findings", "performance_findings"]


def _names_for(task: Task | None) -> list[str]:
    return [name for name, metric in METRICS.items() if task in (None, metric.task)]


def _valid(name: str, task: Task | None) -> bool:
    metric = METRICS.get(name)
    return metric is not None and task in (None, metric.task)


def metric_findings(path: KeyPath, name: str, task: Task | None, on_key: bool = False) -> Iterator[Finding]:
    """An unknown metric (suggesting only names valid for `task`, and listing them) or one for another task."""
    metric = METRICS.get(name)
    if metric is None:
        choices = _names_for(task)
        listed = ", ".join(f"`{c}`" for c in choices)
        kind = f"{task} metrics" if task else "metrics"
        yield Finding(path, f"unknown metric `{name}`{did_you_mean(name, choices)} ({kind}: {listed})", on_key=on_key)
    elif task is not None and metric.task != task:
        yield Finding(path, f"metric `{name}` is for {metric.task}, but this model does {task}", on_key=on_key)


def _gate_direction(path: KeyPath, name: str, gate: Gate) -> Iterator[Finding]:
    """Warn about a gate whose only bound is on the side where the metric gets better."""
    metric = METRICS.get(name)
    if metric is None or (gate.min is not None and gate.max is not None):
        return  # an unknown metric is an error already; a range is deliberate
    if metric.greater_is_better and gate.max is not None:
        yield Finding((*path, "max"), f"`{name}` is better when higher, so `max: {gate.max}` fails the better "
                                      "models; did you mean `min`?", "warning", on_key=True)
    if not metric.greater_is_better and gate.min is not None:
        yield Finding((*path, "min"), f"`{name}` is better when lower, so `min: {gate.min}` fails the better "
                                      "models; did you mean `max`?", "warning", on_key=True)


def evaluation_findings(ev: Evaluation, task: Task | None) -> Iterator[Finding]:
    """The metrics, gates and champion metric of the `evaluation` section, for a model doing `task`."""
    for index, name in enumerate(ev.metrics):
        yield from metric_findings(("evaluation", "metrics", index), name, task)
    usable = [name for name in ev.metrics if _valid(name, task)]
    for name, gate in ev.gates.items():
        if name not in ev.metrics:
            yield Finding(("evaluation", "gates", name),
                          f"gate on `{name}`, which is not in `evaluation.metrics`{did_you_mean(name, usable)}",
                          on_key=True)
        yield from _gate_direction(("evaluation", "gates", name), name, gate)
    if ev.champion and ev.champion.metric not in ev.metrics:
        hint = did_you_mean(ev.champion.metric, usable)
        yield Finding(("evaluation", "champion", "metric"),
                      f"`{ev.champion.metric}` is not in `evaluation.metrics`{hint}")


def performance_findings(monitoring: Monitoring | None, task: Task | None) -> Iterator[Finding]:
    """The metric names and gate directions of `monitoring.performance`."""
    bounds: Mapping[str, Gate] = monitoring.performance if monitoring else {}
    for name, gate in bounds.items():
        path = ("monitoring", "performance", name)
        yield from metric_findings(path, name, task, on_key=True)
        yield from _gate_direction(path, name, gate)
