"""Checks of `model.tuning` (params the estimator takes, values it accepts, the metric) and of `scoring`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlform.specs.model.metrics import Task, metric_table
from mlform.specs.model.tuning import Distribution

from .estimators import EstimatorInfo, estimator_info
from .explain import did_you_mean
from .finding import Finding, Sections
from .params import param_findings

__all__ = ["scoring_findings", "tuning_findings"]


def _value_findings(info: EstimatorInfo, name: str, values: Any, path: tuple[str | int, ...]) -> Iterator[Finding]:
    """Each listed value (or each bound of a distribution) that the estimator's constraints reject."""
    if isinstance(values, Distribution):
        probes = [("low", values.low), ("high", values.high)]
        if values.distribution == "randint":
            probes[1] = ("high", values.high - 1)  # `high` itself is never drawn
        for key, value in probes:
            for _, message in param_findings(info.name, info.rules, {name: value}):
                yield Finding((*path, key), message)
        return
    for index, value in enumerate(values):
        for _, message in param_findings(info.name, info.rules, {name: value}):
            yield Finding((*path, index), message)


def tuning_findings(s: Sections, task: Task | None) -> Iterator[Finding]:
    """Findings on `model.tuning`: names the estimator has, values its constraints allow, a metric of its task."""
    model = s["model"]
    tuning = model.tuning
    if tuning is None:
        return
    at = ("model", "tuning")
    info = estimator_info(model.estimator) if model.estimator else None
    if info is not None and not isinstance(info, str):  # a factory's estimator is known only when it runs
        known = info.param_names
        short = info.name
        for name, values in tuning.params.items():
            if name not in known:
                yield Finding((*at, "params", name), f"`{short}` has no parameter `{name}`{did_you_mean(name, known)}",
                              on_key=True)
            else:
                yield from _value_findings(info, name, values, (*at, "params", name))
    evaluation = s.get("evaluation")
    if tuning.metric is None or evaluation is None:
        return
    table = metric_table(evaluation.custom_metrics)
    metric = table.get(tuning.metric)
    if metric is None:
        yield Finding((*at, "metric"), f"unknown metric `{tuning.metric}`{did_you_mean(tuning.metric, list(table))}")
    elif task is not None and metric.task not in (None, task):
        yield Finding((*at, "metric"), f"`{tuning.metric}` is a {metric.task} metric, but the model does {task}")


def scoring_findings(s: Sections) -> Iterator[Finding]:
    """Findings on `scoring`: a declared source, an alias this spec gives."""
    scoring, data, registry = s["scoring"], s["data"], s["registry"]
    if scoring is None:
        return
    sources = list(data.sources)
    if scoring.source not in data.sources:
        yield Finding(("scoring", "source"),
                      f"no source named `{scoring.source}`{did_you_mean(scoring.source, sources)}")
    elif scoring.source == data.training_source:
        yield Finding(("scoring", "source"), f"`{scoring.source}` is the training source; score another source")
    model = scoring.model
    if isinstance(model, str) and model != registry.promote_to and model != "production":
        yield Finding(("scoring", "model"), f"alias `{model}` is not one this spec gives; use `{registry.promote_to}` "
                                            "(`registry.promote_to`), `production` or a version number")
    elif model == "production" and registry.production is None:
        yield Finding(("scoring", "model"), "`production` is given only by the pin `registry.production`, "
                                            "which this spec does not set")
