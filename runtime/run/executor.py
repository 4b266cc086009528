"""Run a spec's steps in order, skipping those whose output for the current fingerprint is complete.

`run_pipeline` is the API for `mlform run` and for other commands (e.g. `mlform monitor`) that need
one step's output for the current spec and data.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlform.runtime.registry.journal import Journal
from mlform.runtime.storage.statedir import StateDir, state_dir_for
from mlform.runtime.storage.store import Output, Store
from mlform.runtime.tracking.tracker import Tracker, new_run_id
from mlform.specs.errors import StepError
from mlform.specs.fsutil import locked
from mlform.specs.graph.fingerprint import StatCache, step_fingerprints
from mlform.specs.graph.steps import Step, spec_steps
from mlform.specs.loader import ResolvedSpec

from .context import Context, Job
from .outcome import RunResult, StepRun
from .reasons import CACHED, Snapshot, snapshots, step_reasons

if TYPE_CHECKING:
    from mlform.runtime.tracking.tracking_mlflow import MlflowRun

__all__ = ["Reporter", "Run", "RunResult", "StepRun", "run_pipeline"]

Upstream = Literal["require", "run"]


class Reporter(Protocol):
    """Receives progress: a step starting (with why) and each step's outcome."""

    def start(self, step_id: str, reasons: list[str]) -> None:
        """A step begins, for these reasons."""

    def finish(self, outcome: StepRun) -> None:
        """A step ended, was found cached, or was blocked."""


def _ancestors(steps: Mapping[str, Step], roots: Iterable[str]) -> set[str]:
    found: set[str] = set()
    todo = [need for root in roots for need in steps[root].needs]
    while todo:
        step_id = todo.pop()
        if step_id not in found:
            found.add(step_id)
            todo.extend(steps[step_id].needs)
    return found


def _select(steps: Mapping[str, Step], wanted: Iterable[str] | None) -> list[str]:
    if wanted is None:
        return list(steps)
    chosen = list(dict.fromkeys(wanted))
    for step_id in chosen:
        if step_id not in steps:
            known = ", ".join(f"`{s}`" for s in steps)
            raise StepError(step_id, f"no such step (steps: {known})")
    return chosen


class Run:
    """The state of one run: steps, fingerprints, snapshots, reasons and the outputs completed so far."""

    def __init__(self, spec: ResolvedSpec, reporter: Reporter | None, journal: Journal | None = None) -> None:
        self.spec, self.reporter = spec, reporter
        self.state = StateDir(state_dir_for(spec.root))
        self.store = Store(self.state.store)
        self.stat = StatCache(self.state.stat_cache)
        self.context = Context(spec, self.state, journal or Journal("run"))
        self.steps = self.context.with_query_reads(spec_steps(spec))
        digest = self.context.data_digest(self.stat.digest)
        self.fingerprints = step_fingerprints(self.steps, digest)
        self.snapshots: dict[str, Snapshot] = snapshots(self.steps, self.fingerprints, digest, spec.root)
        self.record_path = self.state.record_path(spec.name, spec.env, spec.path)
        self.outputs: dict[str, Output] = {}
        for step_id, fingerprint in self.fingerprints.items():
            output = self.store.get(step_id, fingerprint)
            if output is not None:
                self.outputs[step_id] = output
        self.reasons = step_reasons(self.snapshots, self.state.load_record(self.record_path), self.outputs)
        if "promote" in self.steps and not self.reasons["promote"]:
            from mlform.runtime.registry.promotion import pin_reason

            moved = pin_reason(spec, self.context.registry)  # e.g. moved by hand, or by an older mlform
            if moved:
                self.reasons["promote"] = [moved]

    def plan(self, selected: list[str], force: bool, upstream: Upstream) -> list[str]:
        """The steps to execute, in order; fails when `require`d upstream output is missing."""
        ancestors = _ancestors(self.steps, selected) - set(selected)
        missing = [a for a in self.steps if a in ancestors and a not in self.outputs]
        if missing and upstream == "require":
            first = missing[0]
            raise StepError(selected[0], f"upstream step `{first}` has no output for the current spec and data "
                                         f"({'; '.join(self.reasons[first])}); run it first with `--step {first}`")
        todo = {s for s in selected if force or self.reasons[s]} | set(missing)
        if force:
            for step_id in selected:
                self.reasons[step_id] = ["forced (--force)"]
        return [s for s in self.steps if s in todo]

    def file_stats(self) -> dict[str, list[Any] | None]:
        """(size, mtime, inode) of each data file as fingerprinted; a query source gets a value no file has."""
        stats: dict[str, list[Any] | None] = {}
        for step in self.steps.values():
            for path in (*step.reads, *step.code):
                entry = self.stat.entries.get(str(path.resolve()))
                stats[str(path)] = ["query"] if self.context.is_query(path) else entry[:3] if entry else None
        for source in self.spec.pipeline.data.sources.values():
            if source.type == "python" and source.path and not (self.spec.root / source.path).is_file():
                stats[source.path] = ["query"]  # a folder or glob may gain files: no no-change receipt
        return stats

    def execute(self, step_id: str, run_id: str) -> StepRun:
        """Run one step into a fresh store folder; the completion marker is written last.

        A lock per fingerprint keeps two processes running the same step from sharing one folder.
        """
        fingerprint = self.fingerprints[step_id]
        if self.reporter:
            self.reporter.start(step_id, self.reasons[step_id])
        started = time.perf_counter()
        with locked(self.store.lock_path(fingerprint)):
            folder = self.store.begin(fingerprint)
            job = Job(self.context, self.steps[step_id], folder, self.outputs, run_id, self.fingerprints,
                      self.snapshots)
            try:
                values = self.context.run_step(job)
            except Exception as exc:  # estimator and library code may raise anything: put it in words, stop
                from .failures import describe_failure

                step = self.steps[step_id]
                error = describe_failure(step_id, step.kind, self.spec.pipeline, self.outputs, exc)
                cause = exc
            else:
                seconds = time.perf_counter() - started
                self.outputs[step_id] = self.store.commit(step_id, fingerprint, values, seconds)
                self.state.save_step(self.record_path, step_id, self.snapshots[step_id].to_json())
                return StepRun(step_id, "ran", self.reasons[step_id], fingerprint, seconds, values, folder)
        return StepRun(step_id, "failed", self.reasons[step_id], fingerprint, time.perf_counter() - started,
                       error=error, cause=cause)


def _track(tracker: Tracker, run_id: str, outcome: StepRun) -> None:
    metrics = outcome.values.get("metrics") if outcome.status == "ran" else None
    artifacts = {name: str(outcome.dir / rel) for name, rel in outcome.values.get("artifacts", {}).items()
                 } if outcome.dir and outcome.status == "ran" else None
    reasons = outcome.reasons if outcome.status != "cached" else [CACHED]
    if outcome.error:
        reasons = [*reasons, f"error: {outcome.error}"]
    tracker.log_step(run_id, outcome.id, outcome.status, outcome.seconds, outcome.fingerprint, reasons,
                     metrics if isinstance(metrics, dict) else None, artifacts)


def _mlflow_run(run: Run, run_id: str, todo: list[str]) -> MlflowRun | None:
    """With `tracking.backend: mlflow`, the MLflow run mirroring this one; none when no step will execute."""
    if run.spec.pipeline.tracking.backend != "mlflow" or not todo:
        return None
    from mlform.runtime.tracking.tracking_mlflow import MlflowRun

    return MlflowRun(run.spec, run_id, run.outputs, run.context.model)


def run_pipeline(spec: ResolvedSpec, steps: Iterable[str] | None = None, *, force: bool = False,
                 upstream: Upstream = "require", reporter: Reporter | None = None,
                 journal: Journal | None = None) -> RunResult:
    """Run `steps` of `spec` (all when None), reusing complete outputs; raise StepError naming the first failure.

    `upstream="require"` fails when an upstream step of a selected one has no output for the current
    fingerprint; `upstream="run"` runs such steps first. `force` re-runs the selected steps even when cached.
    The registry changes go to `journal`, whose owner audits them; without one, the run audits its own
    alias moves as a `run`.
    """
    if journal is None:
        with Journal("run").auditing(spec) as own:
            return run_pipeline(spec, steps, force=force, upstream=upstream, reporter=reporter, journal=own)
    began = time.perf_counter()
    run = Run(spec, reporter, journal)
    selected = _select(run.steps, steps)
    todo = run.plan(selected, force, upstream)
    shown = [s for s in run.steps if s in set(selected) | set(todo)]
    run_id = new_run_id()
    mirror = _mlflow_run(run, run_id, todo)
    tracker = Tracker(run.state.tracking_db)
    tracker.start_run(run_id, spec.name, spec.env, str(spec.path), spec.digest, {"env": spec.env, **spec.config},
                      run.context.git)
    result = RunResult(run_id, spec, {})
    try:
        for step_id in shown:
            blocked = [n for n in run.steps[step_id].needs if n in result.steps and result.steps[n].status in
                       ("failed", "blocked")]
            if blocked:
                outcome = StepRun(step_id, "blocked", [f"upstream `{blocked[0]}` did not complete"],
                                  run.fingerprints[step_id])
            elif step_id in todo:
                outcome = run.execute(step_id, run_id)
            else:
                output = run.outputs[step_id]
                outcome = StepRun(step_id, "cached", [], output.fingerprint, 0.0, output.values, output.dir)
            result.steps[step_id] = outcome
            if reporter:
                reporter.finish(outcome)
            _track(tracker, run_id, outcome)
            if mirror:
                mirror.log_step(outcome)
    finally:
        run.stat.save()
        result.seconds = time.perf_counter() - began
        failed = result.failed
        status = "failed" if failed else "interrupted" if len(result.steps) < len(shown) else (
            "ran" if any(s.status == "ran" for s in result.steps.values()) else "cached")
        tracker.finish_run(run_id, status, failed.error if failed else None)
        tracker.close()
        if mirror:
            mirror.finish(status)
    if failed:
        raise StepError(failed.id, failed.error or "unknown error") from failed.cause  # `--debug` shows the cause
    result.file_stats = run.file_stats()
    return result
