"""Checks beyond the schema: imports, estimator params, metrics per task, cross-references, quantities."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base import parse_quantity
from .explain import did_you_mean
from .metrics import METRICS, Task
from .pipeline import Pipeline
from .source import KeyPath

__all__ = ["Finding", "check_pipeline", "estimator_task", "import_object"]

Finding = tuple[KeyPath, str, str]  # (path, message, severity)


def import_object(path: str) -> Any:
    """Import `package.module.Name`; raise ImportError with a readable reason."""
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import module `{module_name}` ({exc.msg})"
        raise ImportError(msg) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        msg = f"module `{module_name}` has no `{attr}`{did_you_mean(attr, names)}"
        raise ImportError(msg) from None


def estimator_task(cls: type) -> Task | None:
    """Classification or regression, from the estimator's mixins; None when it says neither."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    if issubclass(cls, ClassifierMixin):
        return "classification"
    if issubclass(cls, RegressorMixin):
        return "regression"
    return None


def _param_names(cls: type) -> list[str]:
    getter = getattr(cls, "_get_param_names", None)
    return list(getter()) if callable(getter) else []


def _check_class(path: KeyPath, import_path: str, params: dict[str, Any], needs: str) -> Iterator[Finding]:
    try:
        cls = import_object(import_path)
    except ImportError as exc:
        yield path, str(exc), "error"
        return
    if not isinstance(cls, type) or not (hasattr(cls, "fit") and hasattr(cls, "get_params")):
        yield path, f"`{import_path}` is not a scikit-learn estimator (no `fit` and `get_params`)", "error"
        return
    if needs == "transform" and not hasattr(cls, "transform"):
        yield path, f"`{import_path}` is not a transformer (no `transform`)", "error"
    known = _param_names(cls)
    params_path = (*path[:-1], "params")
    for name in params:
        if name not in known:
            short = import_path.rsplit(".", 1)[-1]
            yield (*params_path, name), f"`{short}` has no parameter `{name}`{did_you_mean(name, known)}", "error"


def _check_model(spec: Pipeline) -> Iterator[Finding]:
    yield from _check_class(("model", "estimator"), spec.model.estimator, spec.model.params, "fit")
    for index, step in enumerate(spec.model.preprocessing):
        path = ("model", "preprocessing", index, "transformer")
        yield from _check_class(path, step.transformer, step.params, "transform")
        for col_index, column in enumerate(step.columns):
            if column not in spec.data.features:
                yield (("model", "preprocessing", index, "columns", col_index),
                       f"column `{column}` is not a feature{did_you_mean(column, spec.data.features)}", "error")


def _task(spec: Pipeline) -> tuple[Task | None, list[Finding]]:
    try:
        cls = import_object(spec.model.estimator)
    except ImportError:
        return spec.model.task, []
    inferred = estimator_task(cls) if isinstance(cls, type) else None
    if spec.model.task and inferred and spec.model.task != inferred:
        message = f"`{spec.model.estimator}` is a {inferred} estimator, but `task` says {spec.model.task}"
        return spec.model.task, [(("model", "task"), message, "error")]
    if inferred is None and spec.model.task is None:
        message = f"cannot tell whether `{spec.model.estimator}` classifies or regresses; set `model.task`"
        return None, [(("model", "estimator"), message, "error")]
    return spec.model.task or inferred, []


def _check_metric(path: KeyPath, name: str, task: Task | None) -> Iterator[Finding]:
    metric = METRICS.get(name)
    if metric is None:
        choices = [m for m, spec in METRICS.items() if task in (None, spec.task)]
        yield path, f"unknown metric `{name}`{did_you_mean(name, choices)}", "error"
    elif task is not None and metric.task != task:
        yield path, f"metric `{name}` is for {metric.task}, but this model does {task}", "error"


def _check_evaluation(spec: Pipeline, task: Task | None) -> Iterator[Finding]:
    ev = spec.evaluation
    for index, name in enumerate(ev.metrics):
        yield from _check_metric(("evaluation", "metrics", index), name, task)
    for name in ev.gates:
        if name not in ev.metrics:
            yield (("evaluation", "gates", name),
                   f"gate on `{name}`, which is not in `evaluation.metrics`{did_you_mean(name, ev.metrics)}", "error")
    if ev.champion and ev.champion.metric not in ev.metrics:
        yield (("evaluation", "champion", "metric"),
               f"`{ev.champion.metric}` is not in `evaluation.metrics`{did_you_mean(ev.champion.metric, ev.metrics)}",
               "error")
    if spec.monitoring:
        for name in spec.monitoring.performance:
            yield from _check_metric(("monitoring", "performance", name), name, task)


def _check_data(spec: Pipeline) -> Iterator[Finding]:
    data = spec.data
    sources = list(data.sources)
    if data.train_source is None and len(sources) > 1:
        yield ("data",), f"several sources ({', '.join(f'`{s}`' for s in sources)}); set `train_source`", "error"
    if data.train_source is not None and data.train_source not in data.sources:
        yield (("data", "train_source"),
               f"no source named `{data.train_source}`{did_you_mean(data.train_source, sources)}", "error")
    if data.target in data.features:
        index = data.features.index(data.target)
        yield ("data", "features", index), f"the target `{data.target}` cannot also be a feature", "error"
    for index, column in enumerate(data.id_columns):
        if column in data.features or column == data.target:
            yield ("data", "id_columns", index), f"`{column}` is an id column and cannot be a feature or the target", "error"
    known = [*data.features, data.target, *data.id_columns]
    if data.split.time_column:
        known.append(data.split.time_column)
    for column, rule in spec.validation.columns.items():
        if column not in known:
            yield (("validation", "columns", column),
                   f"`{column}` is not a feature, the target, an id column or the time column"
                   f"{did_you_mean(column, known)}", "error")
        elif column == data.target and (rule.max_null_fraction or 0) > 0:
            yield (("validation", "columns", column, "max_null_fraction"),
                   f"the target `{column}` cannot be allowed nulls", "error")


def _check_monitoring(spec: Pipeline) -> Iterator[Finding]:
    mon = spec.monitoring
    if mon is None:
        return
    sources = list(spec.data.sources)
    for key in ("reference", "current"):
        name = getattr(mon, key)
        if name is not None and name not in spec.data.sources:
            yield ("monitoring", key), f"no source named `{name}`{did_you_mean(name, sources)}", "error"
    if (mon.reference or spec.data.training_source) == mon.current:
        yield ("monitoring", "current"), f"`current` and `reference` are both `{mon.current}`", "error"
    for feature in mon.drift.features:
        if feature not in spec.data.features:
            yield (("monitoring", "drift", "features", feature),
                   f"`{feature}` is not a feature{did_you_mean(feature, spec.data.features)}", "error")


def _check_serving(spec: Pipeline) -> Iterator[Finding]:
    if spec.serving is None:
        return
    resources = spec.serving.resources
    for kind, limit in resources.limits.items():
        request = resources.requests.get(kind)
        if request is not None and parse_quantity(request) > parse_quantity(limit):
            yield (("serving", "resources", "requests", kind),
                   f"request {request} is above the limit {limit}", "error")
    scaling = spec.serving.autoscaling
    if scaling and "cpu" not in resources.requests:
        yield (("serving", "autoscaling"),
               "CPU autoscaling needs `serving.resources.requests.cpu`", "error")


def _secret_uses(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(node, dict):
        if set(node) == {"secret"} and isinstance(node["secret"], str):
            yield (*path, "secret"), node["secret"]
        for key, value in node.items():
            yield from _secret_uses(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_uses(value, (*path, index))


def _check_secrets(spec: Pipeline) -> Iterator[Finding]:
    declared = list(spec.secrets)
    for path, name in _secret_uses(spec.model_dump(by_alias=True, exclude={"environments", "secrets"}), ()):
        if name not in spec.secrets:
            yield path, f"secret `{name}` is not declared under `secrets`{did_you_mean(name, declared)}", "error"


def _check_files(spec: Pipeline, root: Path) -> Iterator[Finding]:
    for name, source in spec.data.sources.items():
        path = getattr(source, "path", None)
        if path is not None and not (root / path).exists():
            yield ("data", "sources", name, "path"), f"file `{path}` does not exist (yet)", "warning"


def check_pipeline(spec: Pipeline, root: Path) -> list[Finding]:
    """Every semantic finding for a schema-valid pipeline whose spec file lives in `root`."""
    task, findings = _task(spec)
    findings.extend(_check_model(spec))
    findings.extend(_check_evaluation(spec, task))
    findings.extend(_check_data(spec))
    findings.extend(_check_monitoring(spec))
    findings.extend(_check_serving(spec))
    findings.extend(_check_secrets(spec))
    findings.extend(_check_files(spec, root))
    return findings
