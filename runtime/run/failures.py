"""Put a step's failure into words: the spec key the step is built from, what it was doing, the cause, a hint.

The step runner calls `describe_failure` for every exception a step raises, so no step failure reaches
the user as a bare exception text (`KeyError: 'x'`); `mlform --debug` still shows the traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlform.runtime.steps.usercode import raised_at
from mlform.runtime.storage.store import Output
from mlform.specs.check.explain import did_you_mean
from mlform.specs.errors import MlformError, StepError
from mlform.specs.model.pipeline import Pipeline
from mlform.specs.read.source import key_path

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["describe_failure", "failure_location", "missing_columns"]

_MAX_CAUSE = 300  # characters of an exception's first line; `--debug` shows all of it

# (pattern of the exception's text, hint); `{target}` is filled with `data.target`
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Unknown label type: '?continuous"),
     "`data.target: {target}` holds continuous values, and a classifier needs class labels: use a regressor "
     "(e.g. `sklearn.ensemble.RandomForestRegressor`), or a target of classes"),
    (re.compile(r"could not convert string to float"),
     "a feature holds text: encode it in `model.preprocessing` (e.g. `sklearn.preprocessing.OneHotEncoder`)"),
    (re.compile(r"Input (X )?contains NaN"),
     "a feature has missing values: add `sklearn.impute.SimpleImputer` to `model.preprocessing`, or use an "
     "estimator that accepts missing values (e.g. `sklearn.ensemble.HistGradientBoostingClassifier`)"),
)


def _yaml(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(str(v) for v in value)}]"
    return str(value)


def _subject(step_id: str, kind: str, pipeline: Pipeline) -> tuple[str, str]:
    """The spec line (`key: value`) the step is built from, and what the step was doing."""
    if kind == "ingest":
        name = step_id.removeprefix("ingest.")
        source = pipeline.data.sources[name]
        path = getattr(source, "path", None)
        line = f"data.sources.{name}.path: {path}" if path else f"data.sources.{name}.type: {source.type}"
        return line, "reading"
    subjects = {
        "validate": ("validation.on_failure", pipeline.validation.on_failure, "checking the rules"),
        "split": ("data.split.method", pipeline.data.split.method, "splitting"),
        "train": ("model.estimator", pipeline.model.estimator, "fit") if pipeline.model.estimator else
                 ("model.estimator_function", pipeline.model.estimator_function, "fit"),
        "evaluate": ("evaluation.metrics", pipeline.evaluation.metrics, "scoring"),
        "register": ("registry.model_name", pipeline.registry.model_name, "registering"),
        "promote": ("registry.production", pipeline.registry.production, "promoting"),
        "serve": ("registry.model_name", pipeline.registry.model_name, "serving"),
        "monitor": ("monitoring.current", pipeline.monitoring.current if pipeline.monitoring else None, "monitoring"),
        "score": ("scoring.source", pipeline.scoring.source if pipeline.scoring else None, "scoring"),
    }
    key, value, doing = subjects[kind]
    return f"{key}: {_yaml(value)}", doing


def _column_refs(pipeline: Pipeline, kind: str) -> Iterator[tuple[str, str, str]]:
    """(source, spec key, column) for each column the step of `kind` reads by name."""
    data = pipeline.data
    train = data.training_source
    if kind == "monitor" and pipeline.monitoring is not None:
        for source in dict.fromkeys((pipeline.monitoring.reference or train, pipeline.monitoring.current)):
            for column in data.features:
                yield source, "data.features", column
        return
    yield train, "data.target", data.target
    for column in data.features:
        yield train, "data.features", column
    for column in data.id_columns:
        yield train, "data.id_columns", column
    if data.split.time_column:
        yield train, "data.split.time_column", data.split.time_column
    for index, step in enumerate(pipeline.model.preprocessing):
        for column in step.columns:
            yield train, f"model.preprocessing.{index}.columns", column
    for column in pipeline.validation.columns:
        yield train, f"validation.columns.{column}", column


def missing_columns(pipeline: Pipeline, kind: str, outputs: Mapping[str, Output]) -> list[str]:
    """One message per column the spec names that the ingested data of its source does not hold."""
    found = []
    for source, key, column in dict.fromkeys(_column_refs(pipeline, kind)):
        output = outputs.get(f"ingest.{source}")
        if output is None:
            continue
        columns: Sequence[str] = output.values.get("columns", ())
        if column not in columns:
            hint = did_you_mean(column, columns)
            found.append(f"`{key}`: column `{column}` is not in the data of source `{source}`{hint}")
    return found


def _cause(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > _MAX_CAUSE:
        text = text[:_MAX_CAUSE].rstrip() + " ..."
    return f"{type(exc).__name__}: {text.rstrip('.')}" if text else type(exc).__name__


def describe_failure(step_id: str, kind: str, pipeline: Pipeline, outputs: Mapping[str, Output],
                     exc: BaseException, root: Path | None = None) -> str:
    """Why step `step_id` failed, in words: mlform's own message, a missing column, or the spec key and cause
    (with the innermost line of the spec folder `root`'s code it passed through, e.g. a user transformer's)."""
    if isinstance(exc, MlformError):
        return str(exc).removeprefix(f"step `{step_id}` failed: ")
    if isinstance(exc, KeyError):
        missing = missing_columns(pipeline, kind, outputs)
        if missing:
            return "; ".join(missing)
    line, doing = _subject(step_id, kind, pipeline)
    cause = _cause(exc)
    message = f"`{line}`: {doing} raised {cause}{raised_at(exc, root) if root is not None else ''}"
    hint = next((h for pattern, h in _HINTS if pattern.search(cause)), None)
    if hint is _HINTS[1][1]:
        hint = _hashed_hint(pipeline) or hint
    return f"{message}. Hint: {hint.format(target=pipeline.data.target)}" if hint else message


def _hashed_hint(pipeline: Pipeline) -> str | None:
    """The hint for text reaching the model when `data.pii` hashes a feature no preprocessing step encodes."""
    pii = pipeline.data.pii
    if pii is None or pii.action != "hash":
        return None
    encoded = {c for step in pipeline.model.preprocessing for c in step.columns}
    hashed = [c for c in pii.allow_as_feature if c in pipeline.data.features and c not in encoded]
    if not hashed:
        return None
    names = ", ".join(f"`{c}`" for c in hashed)
    return (f"{names} is hashed by `data.pii` (`action: hash`), so the model gets text, whatever the column held: "
            "encode it in `model.preprocessing` (e.g. `sklearn.preprocessing.OneHotEncoder` with "
            "`handle_unknown: ignore`), or drop it from `data.features`")


def failure_location(spec: ResolvedSpec, exc: BaseException) -> str | None:
    """`file:line:col` of the spec key a step part failed on (a user function's reference, say), or None."""
    key = exc.key if isinstance(exc, StepError) else None
    if not key:
        return None
    mark = spec.document.mark(key_path(key))
    return f"{spec.display}:{mark.line}:{mark.col}"
