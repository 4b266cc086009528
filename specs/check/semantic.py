"""Checks beyond the schema: imports, estimator params, metrics per task, cross-references, quantities.

Each check names the top-level sections it needs, so the checks still run, section by section, when
another part of the spec fails schema validation: one pass reports a schema error and an estimator typo.
"""

from __future__ import annotations

import glob
import os
import typing
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from mlform.specs.model.base import SecretUse, parse_quantity
from mlform.specs.model.metrics import Task
from mlform.specs.model.monitoring_checks import SERVING_LOG
from mlform.specs.model.pipeline import Pipeline
from mlform.specs.model.review import Baseline
from mlform.specs.model.serving_watch import has_row_rule
from mlform.specs.read.source import KeyPath

from .columns import column_findings
from .estimators import check_class, estimator_info, estimator_task, import_object, live_info
from .examples_check import example_findings, reproducible_findings
from .explain import did_you_mean
from .finding import Finding, Sections
from .metric_checks import evaluation_findings, performance_findings
from .monitoring_check import watch_findings
from .privacy_check import columns_meta_findings, pii_findings
from .review_check import review_findings
from .targets_check import kubernetes_ui_findings
from .tuning_check import scoring_findings, tuning_findings
from .usercode import forget_stale, function_findings, module_file, use_project

__all__ = [
    "Finding",
    "Sections",
    "check_sections",
    "estimator_task",
    "import_object",
    "sections_of",
    "valid_sections",
]


def _check_estimators(s: Sections) -> Iterator[Finding]:
    model = s["model"]
    if model.estimator is not None:
        yield from check_class(("model", "estimator"), model.estimator, model.params, "estimator")
    for index, step in enumerate(model.preprocessing):
        yield from check_class(("model", "preprocessing", index, "transformer"), step.transformer, step.params,
                               "transformer")


def _check_preprocessing_columns(s: Sections) -> Iterator[Finding]:
    features = s["data"].features
    for index, step in enumerate(s["model"].preprocessing):
        for col_index, column in enumerate(step.columns):
            if column not in features:
                yield Finding(("model", "preprocessing", index, "columns", col_index),
                              f"column `{column}` is not a feature{did_you_mean(column, features)}")


def _task(s: Sections) -> Task | None:
    """The model's task as declared or inferred; None when the model section is invalid or says neither."""
    model = s.get("model")
    if model is None:
        return None
    if model.estimator is None:
        task: Task | None = model.task
        return task
    info = estimator_info(model.estimator)
    return model.task or (info.task if not isinstance(info, str) else None)


def _check_task(s: Sections) -> Iterator[Finding]:
    model = s["model"]
    if model.estimator is None:
        return  # a function's estimator is known only when it runs: `task` is required then
    info = estimator_info(model.estimator)
    if isinstance(info, str):
        return  # _check_estimators says why
    if not info.has_predict:
        return  # _check_estimators says it cannot be the estimator
    inferred = info.task
    if model.task and inferred and model.task != inferred:
        yield Finding(("model", "task"), f"`{model.estimator}` is a {inferred} estimator, but `task` says {model.task}")
    if inferred is None and model.task is None:
        yield Finding(("model", "estimator"),
                      f"cannot tell whether `{model.estimator}` classifies or regresses; set `model.task`")


def _check_evaluation(s: Sections) -> Iterator[Finding]:
    yield from evaluation_findings(s["evaluation"], _task(s))


def _check_tuning(s: Sections) -> Iterator[Finding]:
    yield from tuning_findings(s, _task(s))


def _check_scoring(s: Sections) -> Iterator[Finding]:
    yield from scoring_findings(s)


def _check_performance_metrics(s: Sections) -> Iterator[Finding]:
    yield from performance_findings(s["monitoring"], _task(s), s["evaluation"])


def _check_data(s: Sections) -> Iterator[Finding]:
    data = s["data"]
    sources = list(data.sources)
    if data.train_source is None and len(sources) > 1:
        listed = ", ".join(f"`{name}`" for name in sources)
        yield Finding(("data",), f"several sources ({listed}); set `train_source`", on_key=True)
    if data.train_source is not None and data.train_source not in data.sources:
        yield Finding(("data", "train_source"),
                      f"no source named `{data.train_source}`{did_you_mean(data.train_source, sources)}")
    if data.target in data.features:
        index = data.features.index(data.target)
        yield Finding(("data", "features", index), f"the target `{data.target}` cannot also be a feature")
    for index, column in enumerate(data.id_columns):
        if column in data.features or column == data.target:
            yield Finding(("data", "id_columns", index),
                          f"`{column}` is an id column and cannot be a feature or the target")


def _check_split(s: Sections) -> Iterator[Finding]:
    if s["data"].split.method == "stratified" and _task(s) == "regression":
        yield Finding(("data", "split", "method"), "`stratified` keeps each class's share of rows, but this model "
                                                   "does regression: its target has no classes; use `random`")


def _check_positive_class(s: Sections) -> Iterator[Finding]:
    if s["evaluation"].positive_class is not None and _task(s) == "regression":
        yield Finding(("evaluation", "positive_class"), "a positive class applies to classification, but this model "
                                                        "does regression: remove `positive_class`")


def _check_validation_columns(s: Sections) -> Iterator[Finding]:
    data = s["data"]
    known = [*data.features, data.target, *data.id_columns]
    if data.split.time_column:
        known.append(data.split.time_column)
    for column, rule in s["validation"].columns.items():
        if column not in known:
            yield Finding(("validation", "columns", column),
                          f"`{column}` is not a feature, the target, an id column or the time column"
                          f"{did_you_mean(column, known)}", on_key=True)
        elif column == data.target and (rule.max_null_fraction or 0) > 0:
            yield Finding(("validation", "columns", column, "max_null_fraction"),
                          f"the target `{column}` cannot be allowed nulls")


def _check_monitoring(s: Sections) -> Iterator[Finding]:
    mon, data = s["monitoring"], s["data"]
    if mon is None:
        return
    sources = list(data.sources)
    for key in ("reference", "current"):
        name = getattr(mon, key)
        if name is not None and name not in data.sources and (key, name) != ("current", SERVING_LOG):
            yield Finding(("monitoring", key), f"no source named `{name}`{did_you_mean(name, sources)}")
    if (mon.reference or data.training_source) == mon.current:
        yield Finding(("monitoring", "current"), f"`current` and `reference` are both `{mon.current}`")
    for feature in mon.drift.features:
        if feature not in data.features:
            yield Finding(("monitoring", "drift", "features", feature),
                          f"`{feature}` is not a feature{did_you_mean(feature, data.features)}", on_key=True)


def _check_serving(s: Sections) -> Iterator[Finding]:
    serving = s["serving"]
    if serving is None:
        return
    resources = serving.resources
    for kind, limit in resources.limits.items():
        request = resources.requests.get(kind)
        if request is not None and parse_quantity(request) > parse_quantity(limit):
            yield Finding(("serving", "resources", "requests", kind), f"request {request} is above the limit {limit}")
    if serving.autoscaling and "cpu" not in resources.requests:
        yield Finding(("serving", "autoscaling"), "CPU autoscaling needs `serving.resources.requests.cpu`",
                      on_key=True)


def _check_served_rules(s: Sections) -> Iterator[Finding]:
    serving, columns = s["serving"], s["validation"].columns
    if serving is None or serving.validate_inputs == "off":
        return
    features = set(s["data"].features)
    if not any(name in features and has_row_rule(rule) for name, rule in columns.items()):
        yield Finding(("serving", "validate_inputs"), f"`{serving.validate_inputs}` checks nothing: no feature has a "
                      "row rule (`nullable: false`, `min`, `max`, `allowed`, `regex`) under `validation.columns`",
                      "warning")


def _may_hold_secret(annotation: Any) -> bool:
    """Whether a value of this type can contain a `{secret: NAME}`: a SecretUse, or free-form data."""
    if annotation is Any:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation is SecretUse or bool(_secret_fields(annotation))
    return any(_may_hold_secret(arg) for arg in typing.get_args(annotation))


@cache
def _secret_fields(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """(attribute, key as written) of each field of `model` that can contain a `{secret: NAME}`."""
    return tuple((name, field.alias or name) for name, field in model.model_fields.items()
                 if _may_hold_secret(field.annotation))


def _secret_uses(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Every `{secret: NAME}` inside a validated value, visiting only fields whose type can hold one."""
    if isinstance(node, SecretUse):
        yield (*path, "secret"), node.secret
    elif isinstance(node, BaseModel):
        for name, key in _secret_fields(type(node)):
            yield from _secret_uses(getattr(node, name), (*path, key))
    elif isinstance(node, dict):
        if set(node) == {"secret"} and isinstance(node["secret"], str):  # free-form data, such as params
            yield (*path, "secret"), node["secret"]
        for key, value in node.items():
            yield from _secret_uses(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_uses(value, (*path, index))


def _check_secrets(s: Sections) -> Iterator[Finding]:
    declared = list(s["secrets"])
    for _, section in _secret_fields(Pipeline):
        value = s.get(section)
        if not isinstance(value, BaseModel):
            continue  # `environments` holds overlays, checked once merged; `secrets` declares, never uses
        for path, name in _secret_uses(value, (section,)):
            if name not in declared:
                yield Finding(path, f"secret `{name}` is not declared under `secrets`{did_you_mean(name, declared)}")


def _check_files(data: Any, root: Path, require_data: bool) -> Iterator[Finding]:
    for name, source in data.sources.items():
        path = getattr(source, "path", None)
        if path is None or os.path.exists(os.path.join(root, path)):
            continue
        if source.type == "python" and glob.has_magic(path) and glob.glob(path, root_dir=root):
            continue
        if require_data and name == data.training_source:
            yield Finding(("data", "sources", name, "path"), f"file `{path}` does not exist; the model trains on it")
        else:
            yield Finding(("data", "sources", name, "path"), f"file `{path}` does not exist (yet)", "warning")


def _user_functions(s: Sections) -> Iterator[tuple[KeyPath, str]]:
    """(key path, reference) of every user function the valid sections name."""
    if "data" in s:
        for name, source in s["data"].sources.items():
            if source.type == "python":
                yield ("data", "sources", name, "function"), source.function
        if s["data"].split.filter:
            yield ("data", "split", "filter"), s["data"].split.filter
    if "model" in s:
        for key in ("estimator_function", "preprocessing_function"):
            if getattr(s["model"], key):
                yield ("model", key), getattr(s["model"], key)
    if "evaluation" in s:
        for index, metric in enumerate(s["evaluation"].custom_metrics):
            yield ("evaluation", "custom_metrics", index, "function"), metric.function


def _class_paths(s: Sections) -> Iterator[str]:
    """The import paths of the estimator, transformer and baseline classes the valid sections name."""
    if "model" in s:
        if s["model"].estimator:
            yield s["model"].estimator
        yield from (step.transformer for step in s["model"].preprocessing)
    baseline = s["evaluation"].baseline if "evaluation" in s else None
    if isinstance(baseline, Baseline) and baseline.estimator:
        yield baseline.estimator


def _check_user_functions(s: Sections, root: Path) -> Iterator[Finding]:
    for path, ref in _user_functions(s):
        yield from function_findings(path, ref, root)


# (sections a check needs, the check); a check may also use other sections when they are valid
_CHECKS: tuple[tuple[tuple[str, ...], Callable[[Sections], Iterator[Finding]]], ...] = (
    (("model",), _check_task),
    (("model",), _check_estimators),
    (("model", "data"), _check_preprocessing_columns),
    (("evaluation",), _check_evaluation),
    (("model",), _check_tuning),
    (("scoring", "data", "registry"), _check_scoring),
    (("monitoring", "evaluation"), _check_performance_metrics),  # custom metrics are named in `evaluation`
    (("data",), _check_data),
    (("data", "model"), _check_split),
    (("evaluation", "model"), _check_positive_class),
    (("data", "validation"), _check_validation_columns),
    (("monitoring", "data"), _check_monitoring),
    (("monitoring", "data"), watch_findings),
    (("serving",), _check_serving),
    (("serving", "validation", "data"), _check_served_rules),
    (("secrets",), _check_secrets),
    (("targets", "state"), kubernetes_ui_findings),
    (("model",), reproducible_findings),
    (("model",), example_findings),
)


def check_sections(sections: Sections, root: Path, require_data: bool = False) -> list[Finding]:
    """Every semantic finding the valid `sections` allow, for a spec file that lives in `root`.

    Data files are read only as far as their header or schema; with `require_data` (plan, apply) a missing
    training file is an error, not a warning.
    """
    for module in {path.rpartition(".")[0] for path in _class_paths(sections)}:
        file = module_file(root, module)
        if file is not None:  # a class of the project's own modules imports from the spec's folder, as training does
            use_project(root)
            if forget_stale(module, file, root):  # another project's module of the same name: not its classes
                estimator_info.cache_clear()
                live_info.cache_clear()
    found = [finding for needs, check in _CHECKS if all(n in sections for n in needs) for finding in check(sections)]
    found.extend(_check_user_functions(sections, root))
    if "evaluation" in sections:
        found.extend(review_findings(sections, _task(sections), root))
    if "data" in sections:
        found.extend(_check_files(sections["data"], root, require_data))
        found.extend(column_findings(sections, root))
        found.extend(columns_meta_findings(sections, root))
        found.extend(pii_findings(sections, root))
    return found


def sections_of(spec: Pipeline) -> dict[str, Any]:
    """The sections of a schema-valid pipeline, keyed as written."""
    return {field.alias or name: getattr(spec, name) for name, field in Pipeline.model_fields.items()}


@cache
def _section_adapters() -> dict[str, tuple[TypeAdapter[Any], FieldInfo]]:
    """Per top-level key: a validator for that section alone, and the section's field."""
    return {field.alias or name: (TypeAdapter(field.annotation or Any), field)
            for name, field in Pipeline.model_fields.items()}


def valid_sections(data: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level sections of `data` that pass schema validation on their own (defaults for absent ones)."""
    found: dict[str, Any] = {}
    for key, (adapter, field) in _section_adapters().items():
        if key in data:
            try:
                found[key] = adapter.validate_python(data[key])
            except ValidationError:
                continue
        elif not field.is_required():
            found[key] = field.get_default(call_default_factory=True)
    return found
