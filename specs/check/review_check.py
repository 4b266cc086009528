"""Checks of the reviewer's blocks under `evaluation`: baseline, slices, fairness, staleness and features."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from mlform.specs.model.data import Data
from mlform.specs.model.lifecycle import Evaluation
from mlform.specs.model.metrics import METRICS, Metric, Task, metric_table
from mlform.specs.read.source import KeyPath

from .columns import SourceUnreadableError, source_columns
from .estimators import check_class, estimator_info
from .explain import did_you_mean
from .filter_expr import FilterSyntaxError, columns_of, parse_filter
from .finding import Finding, Sections
from .metric_checks import metric_findings

__all__ = ["review_findings"]

_AT = "evaluation"


def _listed(path: KeyPath, name: str, ev: Evaluation, on_key: bool = False) -> Iterator[Finding]:
    """A metric the review compares must be one `evaluation.metrics` computes."""
    if name not in ev.metrics:
        yield Finding(path, f"`{name}` is not in `evaluation.metrics`{did_you_mean(name, ev.metrics)}", on_key=on_key)


def _quality(path: KeyPath, name: str, what: str, on_key: bool = False) -> Iterator[Finding]:
    """A metric judged per slice, group or shuffled feature must measure quality: a cost metric measures the model."""
    if name in METRICS and METRICS[name].task is None:
        yield Finding(path, f"`{name}` measures the model's computing cost, not its quality on {what}; "
                            "gate it in `evaluation.gates`", on_key=on_key)


def _baseline(ev: Evaluation, task: Task | None) -> Iterator[Finding]:
    baseline = ev.baseline
    if baseline is None or isinstance(baseline, bool):
        return
    at = (_AT, "baseline")
    if baseline.estimator is not None:
        yield from check_class((*at, "estimator"), baseline.estimator, baseline.params, "estimator")
        info = estimator_info(baseline.estimator)
        kind = None if isinstance(info, str) else info.task
        if task and kind and kind != task:
            yield Finding((*at, "estimator"),
                          f"`{baseline.estimator}` is a {kind} estimator, but the model does {task}")
    elif baseline.params:
        yield Finding((*at, "params"), "`params` needs `estimator` (the default baseline takes none)", on_key=True)
    for name in baseline.min_improvement:
        yield from _listed((*at, "min_improvement", name), name, ev, on_key=True)


def _training_columns(s: Sections, root: Path) -> tuple[str, ...] | None:
    """The training source's columns when its header can be read; None otherwise (another check says why)."""
    data = s.get("data")
    if data is None or data.training_source not in data.sources:
        return None
    try:
        return source_columns(data.sources[data.training_source], root)
    except SourceUnreadableError:
        return None


def _column(path: KeyPath, column: str, columns: tuple[str, ...] | None, s: Sections,
            offset: int | None = None) -> Iterator[Finding]:
    """A column the review reads must exist in the training data (and is never the target)."""
    data: Data | None = s.get("data")
    if data is None:
        return
    if column == data.target:
        yield Finding(path, f"`{column}` is the target", offset=offset)
    elif columns is not None and column not in columns:
        where = data.sources[data.training_source]
        yield Finding(path, f"column `{column}` is not in {getattr(where, 'path', data.training_source)}"
                            f"{did_you_mean(column, columns)}", offset=offset)


def _offset_of(text: str, name: str) -> int | None:
    found = text.find(name)
    return found if found >= 0 else None


def _slices(ev: Evaluation, task: Task | None, table: Mapping[str, Metric], s: Sections,
            columns: tuple[str, ...] | None) -> Iterator[Finding]:
    for name, chosen in ev.slices.items():
        at = (_AT, "slices", name)
        for metric in chosen.metrics:
            yield from metric_findings((*at, "metrics", metric), metric, task, on_key=True, table=table)
            yield from _quality((*at, "metrics", metric), metric, "a slice", on_key=True)
        if chosen.column is not None:
            yield from _column((*at, "column"), chosen.column, columns, s)
            continue
        assert chosen.filter is not None  # the model requires `column` or `filter`
        try:
            tree = parse_filter(chosen.filter)
        except FilterSyntaxError as exc:
            yield Finding((*at, "filter"), f"{exc.message} (at character {exc.offset + 1})", offset=exc.offset)
            continue
        for column in columns_of(tree):
            yield from _column((*at, "filter"), column, columns, s, _offset_of(chosen.filter, column))


def _fairness(ev: Evaluation, task: Task | None, table: Mapping[str, Metric], s: Sections,
              columns: tuple[str, ...] | None) -> Iterator[Finding]:
    if ev.fairness is None:
        return
    at = (_AT, "fairness")
    yield from metric_findings((*at, "metric"), ev.fairness.metric, task, table=table)
    yield from _quality((*at, "metric"), ev.fairness.metric, "a group")
    yield from _column((*at, "group"), ev.fairness.group, columns, s)


def _staleness(ev: Evaluation, task: Task | None, table: Mapping[str, Metric], s: Sections,
               columns: tuple[str, ...] | None) -> Iterator[Finding]:
    if ev.staleness is None:
        return
    at = (_AT, "staleness")
    yield from _column((*at, "time_column"), ev.staleness.time_column, columns, s)
    for metric in ev.staleness.max_decay:
        yield from metric_findings((*at, "max_decay", metric), metric, task, on_key=True, table=table)


def _features(ev: Evaluation, task: Task | None, table: Mapping[str, Metric], s: Sections) -> Iterator[Finding]:
    review = ev.features
    if review is None:
        return
    at = (_AT, "features")
    if review.metric is not None:
        yield from metric_findings((*at, "metric"), review.metric, task, table=table)
        yield from _quality((*at, "metric"), review.metric, "shuffled features")
    data: Data | None = s.get("data")
    features = data.features if data is not None else []
    for column in review.costs if data is not None else ():
        if column not in features:
            yield Finding((*at, "costs", column), f"`{column}` is not a feature{did_you_mean(column, features)}",
                          on_key=True)


def review_findings(s: Sections, task: Task | None, root: Path) -> Iterator[Finding]:
    """Findings on `evaluation.baseline`, `slices`, `fairness`, `staleness` and `features`, for a model doing
    `task` whose spec file lives in `root`."""
    ev: Evaluation = s["evaluation"]
    if ev.baseline is None and not ev.slices and not (ev.fairness or ev.staleness or ev.features):
        return
    table = metric_table(ev.custom_metrics)
    columns = _training_columns(s, root)
    yield from _baseline(ev, task)
    yield from _slices(ev, task, table, s, columns)
    yield from _fairness(ev, task, table, s, columns)
    yield from _staleness(ev, task, table, s, columns)
    yield from _features(ev, task, table, s)
