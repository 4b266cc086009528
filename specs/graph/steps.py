"""The steps a resolved spec implies: IDs, dependencies, the config slice each depends on, files read.

A `sql` source has no file: its ingest step reads the pseudo-file `sql:<name>` in the spec's folder, whose
digest the runtime takes from a cheap statistic query (or the query's whole result).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlform.specs.check.monitoring_check import serving_log_path, serving_log_sink
from mlform.specs.check.usercode import code_files, location_files
from mlform.specs.loader import ResolvedSpec
from mlform.specs.model.data import SqlSource
from mlform.specs.model.lifecycle import Evaluation, ModelSpec
from mlform.specs.model.monitoring_checks import SERVING_LOG
from mlform.specs.model.review import Baseline

from .libraries import TRAINING_LIBRARIES, lock_files

__all__ = ["QUERY_PREFIX", "RESULT_PREFIX", "SINK_LOG", "STEP_KINDS", "Step", "pseudo_source", "serving_log_files",
           "spec_steps"]

QUERY_PREFIX = "sql:"  # the pseudo-file of a `sql` source, digested by querying
RESULT_PREFIX = "python:"  # the pseudo-file of a `python` source that reads no file, digested by its result
SINK_LOG = "serving_log:backend"  # the pseudo-file of a serving log in the state backend, digested by a listing
STEP_KINDS = ("ingest", "validate", "split", "train", "evaluate", "register", "promote", "serve", "monitor", "score")


@dataclass(frozen=True)
class Step:
    """One unit of work. `config` is the slice of the resolved spec whose change re-runs the step; `reads` are the
    data files, `code` the user code files (and lock files) and `libraries` the distributions it depends on."""

    id: str
    kind: str
    needs: tuple[str, ...]
    config: dict[str, Any] = field(compare=False)
    reads: tuple[Path, ...] = ()
    code: tuple[Path, ...] = ()
    libraries: tuple[str, ...] = ()  # distributions whose installed versions it depends on


def _dump(spec: ResolvedSpec, *path: str) -> Any:
    """The JSON dump of the section at `path` (field names, then keys of a mapping), a copy sliced from the whole
    spec's dump: dumping a section on its own builds its serializer again (a schema per model)."""
    section: Any = spec.pipeline
    dumped: Any = spec.config
    for key in path:
        name = key if isinstance(section, Mapping) else type(section).model_fields[key].alias or key
        section = section[key] if isinstance(section, Mapping) else getattr(section, key)
        if section is None:
            return None
        if not isinstance(dumped, dict) or name not in dumped:  # left out of the dump (e.g. at its default)
            return section.model_dump(mode="json", by_alias=True)
        dumped = dumped[name]
    return copy.deepcopy(dumped)


def _train_config(spec: ResolvedSpec) -> Any:
    """The model section as training sees it: preprocessing examples are tests, not inputs."""
    dumped = _dump(spec, "model")
    for step in dumped.get("preprocessing", []):
        step.pop("examples", None)
    return dumped


def _code(spec: ResolvedSpec, *refs: str | None) -> tuple[Path, ...]:
    """The project files the user functions or classes `refs` run (None entries skipped); a class of another
    package (`sklearn.linear_model.Ridge`) has none."""
    return tuple(sorted({file for ref in refs if ref for file in code_files(spec.root, ref)}))


def _model_classes(model: ModelSpec) -> list[str | None]:
    """The import paths of the estimator and transformer classes `model` names."""
    return [model.estimator, *(step.transformer for step in model.preprocessing)]


def _baseline_code(spec: ResolvedSpec) -> tuple[Path, ...]:
    """The project files of a baseline estimator class that lives in the spec's folder."""
    baseline = spec.pipeline.evaluation.baseline
    return _code(spec, baseline.estimator) if isinstance(baseline, Baseline) else ()


def _metric_code(spec: ResolvedSpec, names: list[str]) -> tuple[Path, ...]:
    return _code(spec, *(m.function for m in spec.pipeline.evaluation.custom_metrics if m.name in names))


def _evaluated(ev: Evaluation) -> list[str]:
    """Every metric the evaluate step computes: the listed ones and those its review blocks name."""
    named = [m for chosen in ev.slices.values() for m in chosen.metrics]
    named += [ev.fairness.metric] if ev.fairness else []
    named += list(ev.staleness.max_decay) if ev.staleness else []
    named += [ev.features.metric] if ev.features and ev.features.metric else []
    return list(dict.fromkeys([*ev.metrics, *named]))


def serving_log_files(spec: ResolvedSpec) -> tuple[Path, ...] | None:
    """The `*.jsonl` files the monitor reads when `monitoring.current` is `serving_log` (else None); with none
    yet, a pseudo-file whose digest is `missing`; in the state backend, the pseudo-file `SINK_LOG`."""
    monitoring = spec.pipeline.monitoring
    if monitoring is None or monitoring.current != SERVING_LOG:
        return None
    if serving_log_sink(monitoring, spec.pipeline.serving):
        return (spec.root / SINK_LOG,)
    folder = spec.root / (serving_log_path(monitoring, spec.pipeline.serving) or ".")
    return tuple(sorted(folder.glob("*.jsonl"))) or (folder / "*.jsonl",)


def pseudo_source(filename: str) -> str | None:
    """The source name of a source's pseudo-file name (`sql:live`, `python:live`); None for another name."""
    for prefix in (QUERY_PREFIX, RESULT_PREFIX):
        if filename.startswith(prefix):
            return filename.removeprefix(prefix)
    return None


def spec_steps(spec: ResolvedSpec) -> dict[str, Step]:
    """The steps of `spec`, keyed by ID, in a stable dependency-respecting order."""
    p = spec.pipeline
    data = p.data
    columns = {"target": data.target, "features": list(data.features), "id_columns": list(data.id_columns)}
    steps: list[Step] = []
    train_source = data.training_source
    for name, source in data.sources.items():
        path = getattr(source, "path", None)
        code: tuple[Path, ...] = ()
        # a pseudo-file digested by querying, or by the function's result
        query = spec.root / f"{QUERY_PREFIX if isinstance(source, SqlSource) else RESULT_PREFIX}{name}"
        if isinstance(source, SqlSource):
            reads: tuple[Path, ...] = (query,)
        elif source.type == "python":
            reads, code = tuple(location_files(spec.root, path)) if path else (query,), _code(spec, source.function)
        else:
            assert path is not None  # every file source has a path
            reads = (spec.root / path,)
        pii = {"pii": _dump(spec, "data", "pii")} if data.pii else {}  # what ingest drops or hashes: its output
        dumped = _dump(spec, "data", "sources", name)
        for how in ("fingerprint", "statistic"):  # how a change is noticed, not what is read
            dumped.pop(how, None)
        steps.append(Step(f"ingest.{name}", "ingest", (), {"source": dumped, "name": name, **pii}, reads, code))
    steps.append(Step(f"validate.{train_source}", "validate", (f"ingest.{train_source}",),
                      {"validation": _dump(spec, "validation"), **columns}))
    steps.append(Step("split", "split", (f"validate.{train_source}",),
                      {"split": _dump(spec, "data", "split"), **columns}, code=_code(spec, data.split.filter)))
    tuned = [p.model.tuning.metric or p.evaluation.metrics[0]] if p.model.tuning else []
    marker = p.monitoring.retrain_marker if p.monitoring is not None else None
    retrain = {"retrain_marker": marker} if marker is not None else {}  # absent: fingerprints stay as they were
    steps.append(Step("train", "train", ("split",), {"model": _train_config(spec), **columns, **retrain},
                      code=tuple(sorted({*_code(spec, p.model.estimator_function, p.model.preprocessing_function,
                                                *_model_classes(p.model)),
                                         *_metric_code(spec, tuned), *lock_files(spec.root)})),
                      libraries=TRAINING_LIBRARIES))
    steps.append(Step("evaluate", "evaluate", ("train", "split"), {"evaluation": _dump(spec, "evaluation"), **columns},
                      code=tuple(sorted({*_metric_code(spec, _evaluated(p.evaluation)), *_baseline_code(spec)}))))
    registry = _dump(spec, "registry")
    pinned = registry.pop("production")  # moving the pin must not register a new version
    # aliases are per environment: each environment registers and promotes its own version
    steps.append(Step("register", "register", ("evaluate",), {"registry": registry, "environment": spec.env}))
    served = "register"
    if pinned is not None:
        served = "promote"
        steps.append(Step("promote", "promote", ("register",),
                          {"model_name": p.registry.model_name, "production": pinned,
                           "gates": _dump(spec, "evaluation")["gates"], "environment": spec.env}))
    if p.serving is not None:
        steps.append(Step("serve", "serve", (served,), {"serving": _dump(spec, "serving")}))
    if p.monitoring is not None:
        reference = p.monitoring.reference or train_source
        current, logs = f"ingest.{p.monitoring.current}", serving_log_files(spec)
        needs = tuple(dict.fromkeys((served, f"ingest.{reference}", *(() if logs is not None else (current,)))))
        steps.append(Step("monitor", "monitor", needs, {"monitoring": _dump(spec, "monitoring"), **columns}, logs or (),
                          code=_metric_code(spec, list(p.monitoring.performance))))
    if p.scoring is not None:
        steps.append(_score_step(spec))
    return {step.id: step for step in steps}


def _score_step(spec: ResolvedSpec) -> Step:
    """Batch scoring: it re-runs when its source's data or the version it scores with changes (the alias's
    version through the step that moves it; a version number through the config)."""
    p = spec.pipeline
    scoring = p.scoring
    assert scoring is not None
    model = scoring.model or p.registry.promote_to
    # `production` moves in `promote`, `promote_to` in `register`; a version number never moves
    mover = () if isinstance(model, int) else ("promote",) if model == "production" else ("register",)
    needs = (*mover, f"ingest.{scoring.source}")
    config = {"scoring": _dump(spec, "scoring"), "model_name": p.registry.model_name, "model": model,
              "features": list(p.data.features), "id_columns": list(p.data.id_columns), "environment": spec.env}
    return Step("score", "score", needs, config)
