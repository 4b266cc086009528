"""Checks of the metric names a spec uses and of the direction of the gates on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mlform.specs.model.lifecycle import Evaluation, Gate, Monitoring
from mlform.specs.model.metrics import METRICS, Metric, Task, metric_table
from mlform.specs.read.source import KeyPath

from .explain import did_you_mean
from .finding import Finding

__all__ = ["evaluation_findings", "metric_findings", "performance_findings"]


def _fits(metric: Metric, task: Task | None) -> bool:
    return None in (task, metric.task) or metric.task == task


def _names_for(task: Task | None, table: Mapping[str, Metric]) -> list[str]:
    return [name for name, metric in table.items() if _fits(metric, task)]


def _valid(name: str, task: Task | None, table: Mapping[str, Metric]) -> bool:
    metric = table.get(name)
    return metric is not None and _fits(metric, task)


def metric_findings(path: KeyPath, name: str, task: Task | None, on_key: bool = False,
                    table: Mapping[str, Metric] = METRICS) -> Iterator[Finding]:
    """An unknown metric (suggesting only names valid for `task`, and listing them) or one for another task."""
    metric = table.get(name)
    if metric is None:
        choices = _names_for(task, table)
        listed = ", ".join(f"`{c}`" for c in choices)
        kind = f"{task} metrics" if task else "metrics"
        yield Finding(path, f"unknown metric `{name}`{did_you_mean(name, choices)} ({kind}: {listed})", on_key=on_key)
    elif not _fits(metric, task):
        yield Finding(path, f"metric `{name}` is for {metric.task}, but this model does {task}", on_key=on_key)


def _gate_direction(path: KeyPath, name: str, gate: Gate, table: Mapping[str, Metric]) -> Iterator[Finding]:
    """Warn about a gate whose only bound is on the side where the metric gets better."""
    metric = table.get(name)
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
    table = metric_table(ev.custom_metrics)
    for index, name in enumerate(ev.metrics):
        yield from metric_findings(("evaluation", "metrics", index), name, task, table=table)
    usable = [name for name in ev.metrics if _valid(name, task, table)]
    for name, gate in ev.gates.items():
        if name not in ev.metrics:
            yield Finding(("evaluation", "gates", name),
                          f"gate on `{name}`, which is not in `evaluation.metrics`{did_you_mean(name, usable)}",
                          on_key=True)
        yield from _gate_direction(("evaluation", "gates", name), name, gate, table)
    if ev.champion and ev.champion.metric not in ev.metrics:
        hint = did_you_mean(ev.champion.metric, usable)
        yield Finding(("evaluation", "champion", "metric"),
                      f"`{ev.champion.metric}` is not in `evaluation.metrics`{hint}")


def performance_findings(monitoring: Monitoring | None, task: Task | None,
                         evaluation: Evaluation | None = None) -> Iterator[Finding]:
    """The metric names and gate directions of `monitoring.performance`; user metrics come from `evaluation`."""
    bounds: Mapping[str, Gate] = monitoring.performance if monitoring else {}
    table = metric_table(evaluation.custom_metrics if evaluation else ())
    for name, gate in bounds.items():
        path = ("monitoring", "performance", name)
        yield from metric_findings(path, name, task, on_key=True, table=table)
        yield from _gate_direction(path, name, gate, table)
