"""The action of each step kind: read upstream outputs, write this step's files, return a JSON summary.

A summary may hold `metrics` (tracked as metrics), `params` (tracked as params), `artifacts` (name -> file in the
step folder, or an absolute path) and `notes` (lines shown under the step); the rest is kept as the step's values.
"""

from __future__ import annotations

import io
import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlform.runtime.run.context import Job
from mlform.runtime.storage.store import write_frame
from mlform.specs.errors import StepError, StepPartError
from mlform.specs.fsutil import write_atomic, write_atomic_with

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ACTIONS", "ValidationFailedError"]


class ValidationFailedError(StepPartError):
    """Validation rules failed with `on_failure: fail`."""


def _write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))


def _ingest(job: Job) -> dict[str, Any]:
    from .ingest import read_source

    name = job.step.config["name"]
    pipeline = job.spec.pipeline
    frame = job.ctx.fetched.pop(name, None)
    if frame is None:
        frame = read_source(name, pipeline.data.sources[name], pipeline, job.spec.root)
    target = job.dir / "data.parquet"
    write_frame(frame, target)
    job.ctx.frames[target] = frame
    return {"rows": len(frame), "columns": [str(c) for c in frame.columns], "artifacts": {"data": "data.parquet"}}


def _sample(failure: Any) -> str:
    shown = ", ".join(f"row {s['row']}" + (f" = {s['value']!r}" if "value" in s else "") for s in failure.samples)
    return f" (e.g. {shown})" if shown else ""


def _validate(job: Job) -> dict[str, Any]:
    from .validation import validate_frame

    pipeline = job.spec.pipeline
    frame = job.frame(pipeline.data.training_source)
    report = validate_frame(frame, pipeline.validation)
    _write_json(job.dir / "report.json", report.to_json())
    lines = [f"{f.message}{_sample(f)}" for f in report.failures]
    if lines and pipeline.validation.on_failure == "fail":
        count = len(lines)
        raise ValidationFailedError(f"{count} validation rule{'s' if count != 1 else ''} failed "
                                    f"(`validation.on_failure: fail`; report: {job.dir / 'report.json'}):\n  "
                                    + "\n  ".join(lines))
    notes = [f"warning: {line}" for line in lines]
    return {"ok": report.ok, "rows": report.rows, "rules": report.rules, "failed_rules": len(lines), "notes": notes,
            "artifacts": {"report": "report.json"}}


def _split(job: Job) -> dict[str, Any]:
    from .split import filter_rows, split_rows

    data = job.spec.pipeline.data
    frame = job.frame(data.training_source)
    train, test = split_rows(frame, data.split, data.target)
    notes = []
    if data.split.filter:
        kept = [filter_rows(frame, part, data.split.filter, job.spec.root) for part in (train, test)]
        dropped = len(train) + len(test) - sum(len(k) for k in kept)
        train, test = kept
        notes.append(f"`data.split.filter` dropped {dropped} row{'s' if dropped != 1 else ''}")
    buffer = io.BytesIO()
    np.savez(buffer, train=train, test=test)
    write_atomic(job.dir / "split.npz", buffer.getvalue())
    return {"train_rows": len(train), "test_rows": len(test), "artifacts": {"split": "split.npz"},
            **({"notes": notes} if notes else {})}


def _part(job: Job, part: str) -> pd.DataFrame:
    """The `train` or `test` rows of the training data, every column."""
    with np.load(job.output("split").dir / "split.npz") as parts:
        positions = parts[part]
    return job.frame(job.spec.pipeline.data.training_source).iloc[positions]


def _rows(job: Job, part: str) -> tuple[pd.DataFrame, pd.Series]:
    data = job.spec.pipeline.data
    subset = _part(job, part)
    return subset[list(data.features)], subset[data.target]


def _train(job: Job) -> dict[str, Any]:
    from mlform.runtime.registry.models import MODEL_FILE, save_model

    from .train import fit_pipeline, signature_of

    X, y = _rows(job, "train")
    spec = job.spec.pipeline.model
    tuned: dict[str, Any] = {}
    if spec.tuning is not None:
        from .tuning import search

        result = search(spec, job.spec.pipeline.evaluation, X, y, job.spec.root)
        _write_json(job.dir / "tuning.json", result.to_json())
        spec = spec.model_copy(update={"params": {**spec.params, **result.best_params}, "tuning": None})
        shown = ", ".join(f"{k}={v!r}" for k, v in result.best_params.items())
        tuned = {"tuning": result.to_json(),
                 "metrics": {f"tuning.best_{result.metric}": result.best_score, "tuning.trials": len(result.trials)},
                 "params": {f"tuning.best.{k}": v for k, v in result.best_params.items()},
                 "notes": [f"tuning: best of {len(result.trials)} by {result.metric} "
                           f"({result.best_score:.4g} cross-validated): {shown}"]}
    model = fit_pipeline(spec, X, y, job.spec.root)
    target = job.dir / MODEL_FILE
    write_atomic_with(target, lambda tmp: save_model(model, tmp))
    job.ctx.models[target] = model
    artifacts = {"model": MODEL_FILE, **({"tuning": "tuning.json"} if tuned else {})}
    return {"rows": len(X), "signature": signature_of(X), **tuned, "artifacts": artifacts}


def _model_file(job: Job) -> Path:
    from mlform.runtime.registry.models import MODEL_FILE

    return job.output("train").dir / MODEL_FILE


def _model(job: Job) -> Any:
    return job.ctx.model(_model_file(job))


def _model_digest(job: Job) -> str:
    """The sha256 (hex) of the trained model's bytes, as the registry records it."""
    from mlform.specs.fsutil import file_sha256

    return file_sha256(_model_file(job)).removeprefix("sha256:")


def _sample_row(X: pd.DataFrame) -> dict[str, Any]:
    """A typical row kept with the version, which the server scores before it reports ready: each numeric column's
    median test value, each other column's most frequent one (no real row: rows may hold personal data)."""
    import pandas as pd

    row: dict[str, Any] = {}
    for name in X.columns:
        column = X[name].dropna()
        if column.empty:
            row[name] = None
            continue
        numeric = column.dtype.kind in "iuf"
        row[name] = column.quantile(0.5, interpolation="nearest") if numeric else column.mode().iloc[0]
    return json.loads(pd.DataFrame([row]).to_json(orient="records"))[0]


def _evaluate(job: Job) -> dict[str, Any]:
    from mlform.specs.model.metrics import metric_table

    from .evaluate import check_gates, compare_champion
    from .metrics import compute_metrics

    pipeline = job.spec.pipeline
    evaluation = pipeline.evaluation
    X, y = _rows(job, "test")
    model = _model(job)
    table = metric_table(evaluation.custom_metrics)
    metrics = compute_metrics(evaluation.metrics, model, X, y, table, job.spec.root, evaluation.positive_class)
    gates = check_gates(metrics, evaluation.gates)
    champion = (compare_champion(evaluation.champion, pipeline.registry.model_name, job.spec.env, metrics,
                                 job.ctx.registry, X, y, _model_digest(job), table, job.spec.root,
                                 evaluation.positive_class)
                if evaluation.champion else None)
    review = _review(job, model, metrics, table)
    passed = (all(g.passed for g in gates) and (champion is None or champion.passed)
              and (review is None or review.passed))
    summary = {"metrics": {**metrics, **(review.metrics if review else {})}, "gates": [g.to_json() for g in gates],
               "champion": champion.to_json() if champion else None, "passed": passed,
               **({"review": review.to_json()} if review else {}), "sample_row": _sample_row(X)}
    _write_json(job.dir / "evaluation.json", summary)
    notes = [g.message for g in gates if not g.passed] + ([champion.message] if champion else [])
    notes += [("warning: " if c.warning else "") + c.message for c in (review.checks if review else ())
              if not c.passed or c.warning]
    shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
    return {**summary, "notes": [shown, *notes], "artifacts": {"evaluation": "evaluation.json"}}


def _review(job: Job, model: Any, metrics: dict[str, float], table: Any) -> Any:
    """The evaluation's review blocks (baseline, slices, fairness, staleness, features); None without any."""
    from .review import Scorer, review_model

    pipeline = job.spec.pipeline
    data = pipeline.data
    score = Scorer(table, job.spec.root, pipeline.evaluation.positive_class)
    return review_model(pipeline.evaluation, model, metrics, _part(job, "train"), _part(job, "test"),
                        job.frame(data.training_source), list(data.features), data.target, score)


def _lineage(job: Job) -> dict[str, Any]:
    from mlform.runtime.registry.compat import training_versions

    source = job.spec.pipeline.data.training_source
    return {
        "spec": str(job.spec.path), "env": job.spec.env, "spec_digest": job.spec.digest, "run_id": job.run_id,
        **job.ctx.git.to_json(),
        "data": job.snapshots[f"ingest.{source}"].data,
        "fingerprints": {s: job.fingerprints[s] for s in ("train", "evaluate")},
        "python": platform.python_version(), **training_versions(),
    }


def _register(job: Job) -> dict[str, Any]:
    """Register the trained model (or find the version holding its bytes) and give it `promote_to` if it passed."""
    pipeline = job.spec.pipeline
    name, alias = pipeline.registry.model_name, pipeline.registry.promote_to
    evaluation = job.output("evaluate").values
    registry = job.ctx.registry
    model = _model(job)
    kept = ("passed", "gates", "champion", "review", "sample_row")
    verdict: dict[str, Any] = {k: evaluation[k] for k in kept if k in evaluation}
    metrics = {k: v for k, v in evaluation["metrics"].items() if k in pipeline.evaluation.metrics}  # not the review's
    registration = registry.register(name, model, job.output("train").values["signature"], metrics,
                                     _lineage(job), verdict, model_file=_model_file(job))
    version = registration.version
    job.ctx.registered[(name, version.version)] = model
    if registration.created:
        job.ctx.journal.register(name, version.version)
        head = f"registered `{name}` version {version.version}"
    else:
        head = (f"model bytes identical to version {version.version} (sha256 {version.sha256[:12]}...); "
                "no new version registered")
    promoted = bool(evaluation["passed"])
    current = registry.aliases(name, job.spec.env).get(alias)
    if not promoted:
        previous, tail = current, f"NOT promoted to `{alias}`: evaluation did not pass"
    elif current == version.version:
        previous, tail = current, f"`{alias}` already on it"
    else:
        previous, tail = job.ctx.move_alias(name, alias, version.version), f"promoted to `{alias}`"
    served = version.version if promoted else previous
    return {"model": name, "version": version.version, "created": registration.created, "sha256": version.sha256,
            "promoted": promoted, "alias": alias, "served": served, "previous": previous, "notes": [f"{head}, {tail}"],
            "artifacts": {"model": str(version.path)}}


def _promote(job: Job) -> dict[str, Any]:
    from mlform.runtime.registry.promotion import review_promotion
    from mlform.specs.model.lifecycle import PRODUCTION

    review = review_promotion(job.spec, registry=job.ctx.registry, with_drift=False)
    assert review is not None  # the step exists only when the spec pins a version
    if review.moves and review.problems:
        raise StepError("promote", review.refusal())
    previous = job.ctx.move_alias(review.model, PRODUCTION, review.target) if review.moves else review.current
    if previous != review.target:
        before = f"v{previous}" if previous is not None else "none"
        note = f"`{review.address}`: {before} -> v{review.target} (pinned by `registry.production`)"
    else:
        note = f"`{review.address}` is v{review.target}, as pinned"
    return {"model": review.model, "alias": PRODUCTION, "version": review.target, "served": review.target,
            "previous": previous, "notes": [note]}


def _served(job: Job) -> dict[str, Any]:
    """The output naming the served version: `promote` when the spec pins one, else `register`."""
    return job.output("promote" if "promote" in job.step.needs else "register").values


def _serve(job: Job) -> dict[str, Any]:
    served = _served(job)
    name, alias, version = served["model"], served["alias"], served["served"]
    if version is None:
        note = f"nothing to serve: no version of `{name}` has alias `{alias}`"
    else:
        note = f"would serve `{name}@{alias}` (version {version}); start it with `mlform serve`"
    return {"model": name, "alias": alias, "version": version, "notes": [note]}


def _monitor(job: Job) -> dict[str, Any]:
    from mlform.runtime.monitoring.current import current_frame
    from mlform.runtime.monitoring.monitor import run_monitor

    pipeline = job.spec.pipeline
    monitoring = pipeline.monitoring
    assert monitoring is not None  # the step exists only when monitoring is declared
    served = _served(job)
    version = served["served"]
    model = job.ctx.registered_model(served["model"], version) if version is not None else None
    served_version = job.ctx.registry.resolve(served["model"], version) if version is not None else None
    reference = job.frame(monitoring.reference or pipeline.data.training_source)
    current, read_note = current_frame(job, served["model"], version)
    result = run_monitor(job.spec, reference, current, model, job.dir, served_version)
    reasons = [str(r) for r in result.reasons]
    notes = [f"breach: {r}" for r in reasons] if result.breached else ["no breach"]
    notes += [read_note] if read_note else []
    if result.notify is not None and not result.notify["posted"]:
        notes.append(f"notify: {result.notify['error']}")
    return {"breached": bool(result.breached), "reasons": reasons, "model": served["model"], "version": version,
            "report_json": str(result.report_json), "report_html": str(result.report_html),
            "on_breach": monitoring.on_breach, "notes": notes,
            "artifacts": {"report_json": str(result.report_json), "report_html": str(result.report_html)}}


def _score(job: Job) -> dict[str, Any]:
    from .scoring import score_source

    return score_source(job)


ACTIONS: dict[str, Callable[[Job], dict[str, Any]]] = {
    "ingest": _ingest,
    "validate": _validate,
    "split": _split,
    "train": _train,
    "evaluate": _evaluate,
    "register": _register,
    "promote": _promote,
    "serve": _serve,
    "monitor": _monitor,
    "score": _score,
}
