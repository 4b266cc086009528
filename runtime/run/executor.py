"""Run a spec's steps in order, skipping those whose output for the current fingerprint is complete.

`run_pipeline` is the API for `mlform run` and for other commands (e.g. `mlform monitor`) that need
one step's output for the current spec and data. `mlform apply` makes a `Run`, plans from it and hands
the plan's steps to `run_steps`: what it executes is what it planned, fingerprinted once.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlform.runtime.registry.journal import Journal
from mlform.runtime.storage.backends.url import backend_for
from mlform.runtime.storage.statedir import StateDir, load_record, record_key, save_step, state_dir_for
from mlform.runtime.storage.store import Output, Store
from mlform.runtime.tracking.tracker import Tracker, new_run_id, open_tracker
from mlform.specs.errors import StepError
from mlform.specs.fsutil import locked
from mlform.specs.graph.fingerprint import StatCache
from mlform.specs.graph.pipeline import PipelineGraph
from mlform.specs.graph.steps import Step
from mlform.specs.loader import ResolvedSpec

from .context import Context, Job
from .outcome import RunResult, StepRun
from .reasons import CACHED, Snapshot, snapshots, step_reasons

if TYPE_CHECKING:
    from mlform.runtime.tracking.tracking_mlflow import MlflowRun

__all__ = ["Reporter", "Run", "RunResult", "StepRun", "run_pipeline", "run_steps"]

Upstream = Literal["require", "run"]


class Reporter(Protocol):
    """Receives progress: a step starting (with why) and each step's outcome."""

    def start(self, step_id: str, reasons: list[str]) -> None:
        """A step begins, for these reasons."""

    def finish(self, outcome: StepRun) -> None:
        """A step ended, was found cached, or was blocked."""


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
    """One run of a spec: its graph (derived once, here), snapshots, reasons and the outputs completed so far."""

    def __init__(self, spec: ResolvedSpec, journal: Journal | None = None) -> None:
        self.began = time.perf_counter()
        self.spec = spec
        self.state = StateDir(state_dir_for(spec.root))
        self.backend = backend_for(spec)
        self.store = Store.of(self.state.root, self.backend)
        self.stat = StatCache(self.state.stat_cache)
        self.context = Context(spec, self.state, journal or Journal("run"))
        self.graph: PipelineGraph = self.context.graph(self.stat)
        self.snapshots: dict[str, Snapshot] = snapshots(self.graph, spec.root)
        self.record_key = record_key(spec.name, spec.env, spec.path)
        self.outputs: dict[str, Output] = self.store.find(self.fingerprints)  # shared ones fetched when needed
        self.record = load_record(self.backend, self.record_key)
        self.reasons = step_reasons(self.snapshots, self.record, self.outputs)
        if "promote" in self.steps and not self.reasons["promote"]:
            from mlform.runtime.registry.promotion import pin_reason

            moved = pin_reason(spec, self.context.registry)  # e.g. moved by hand, or by an older mlform
            if moved:
                self.reasons["promote"] = [moved]

    @property
    def steps(self) -> Mapping[str, Step]:
        """The graph's steps in execution order."""
        return self.graph.steps

    @property
    def fingerprints(self) -> Mapping[str, str]:
        """The graph's step fingerprints."""
        return self.graph.fingerprints

    def plan(self, selected: list[str], force: bool, upstream: Upstream, forced_by: str = "--force") -> list[str]:
        """The steps to execute, in order; fails when `require`d upstream output is missing. Steps `force`d say
        `forced (<forced_by>)`."""
        ancestors = self.graph.upstream(selected) - set(selected)
        missing = [a for a in self.steps if a in ancestors and a not in self.outputs]
        if missing and upstream == "require":
            first = missing[0]
            raise StepError(selected[0], f"upstream step `{first}` has no output for the current spec and data "
                                         f"({'; '.join(self.reasons[first])}); run it first with `--step {first}`")
        todo = {s for s in selected if force or self.reasons[s]} | set(missing)
        if force:
            for step_id in selected:
                self.reasons[step_id] = [f"forced ({forced_by})"]
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

    def materialize(self, step_id: str) -> Output:
        """The output of `step_id` with its files here (downloaded when another working copy made it)."""
        self.outputs[step_id] = self.store.fetch(self.outputs[step_id])
        return self.outputs[step_id]

    def execute(self, step_id: str, run_id: str, reporter: Reporter | None) -> StepRun:
        """Run one step into a fresh store folder; the completion marker is written last.

        A lock per fingerprint keeps two processes running the same step from sharing one folder; one that finds
        the output completed by another once it holds the lock uses it, never removing a folder another may read.
        """
        fingerprint = self.fingerprints[step_id]
        if reporter:
            reporter.start(step_id, self.reasons[step_id])
        for upstream in self.graph.upstream([step_id]) & set(self.outputs):
            self.materialize(upstream)
        started = time.perf_counter()
        with locked(self.store.lock_path(fingerprint)):
            done = None if step_id in self.outputs else self.store.get(step_id, fingerprint)
            if done is not None:  # another process completed this very step while this one waited for its lock
                self.outputs[step_id] = done
                save_step(self.backend, self.record_key, step_id, self.snapshots[step_id].to_json())
                return StepRun(step_id, "cached", [], fingerprint, 0.0, done.values, done.dir)
            folder = self.store.begin(fingerprint)
            job = Job(self.context, self.steps[step_id], folder, self.outputs, run_id, self.fingerprints,
                      self.snapshots)
            try:
                values = self.context.run_step(job)
            except (Exception, SystemExit) as exc:  # estimator, library and user code may raise anything: in words
                from .failures import describe_failure, failure_location

                step = self.steps[step_id]
                error = describe_failure(step_id, step.kind, self.spec.pipeline, self.outputs, exc, self.spec.root)
                cause = exc
            else:
                seconds = time.perf_counter() - started
                self.outputs[step_id] = self.store.commit(step_id, fingerprint, values, seconds)
                save_step(self.backend, self.record_key, step_id, self.snapshots[step_id].to_json())
                return StepRun(step_id, "ran", self.reasons[step_id], fingerprint, seconds, values, folder)
        return StepRun(step_id, "failed", self.reasons[step_id], fingerprint, time.perf_counter() - started,
                       error=error, cause=cause, location=failure_location(self.spec, cause))


def _track(tracker: Tracker, run_id: str, outcome: StepRun) -> None:
    metrics = outcome.values.get("metrics") if outcome.status == "ran" else None
    artifacts = {name: str(outcome.dir / rel) for name, rel in outcome.values.get("artifacts", {}).items()
                 } if outcome.dir and outcome.status == "ran" else None
    reasons = outcome.reasons if outcome.status != "cached" else [CACHED]
    if outcome.error:
        reasons = [*reasons, f"error: {outcome.error}"]
    params = outcome.values.get("params") if outcome.status == "ran" else None
    tracker.log_step(run_id, outcome.id, outcome.status, outcome.seconds, outcome.fingerprint, reasons,
                     metrics if isinstance(metrics, dict) else None, artifacts,
                     params if isinstance(params, dict) else None)


def _mlflow_run(run: Run, run_id: str, todo: Collection[str]) -> MlflowRun | None:
    """With `tracking.backend: mlflow`, the MLflow run mirroring this one; none when no step will execute."""
    if run.spec.pipeline.tracking.backend != "mlflow" or not todo:
        return None
    from mlform.runtime.tracking.tracking_mlflow import MlflowRun

    return MlflowRun(run.spec, run_id, run.outputs, run.context.model)


def run_pipeline(spec: ResolvedSpec, steps: Iterable[str] | None = None, *, force: bool = False,
                 upstream: Upstream = "require", reporter: Reporter | None = None,
                 journal: Journal | None = None, forced_by: str = "--force") -> RunResult:
    """Run `steps` of `spec` (all when None), reusing complete outputs; raise StepError naming the first failure.

    `upstream="require"` fails when an upstream step of a selected one has no output for the current
    fingerprint; `upstream="run"` runs such steps first. `force` re-runs the selected steps even when cached,
    giving `forced_by` as the reason.
    The registry changes go to `journal`, whose owner audits them; without one, the run audits its own
    alias moves as a `run`.
    """
    if journal is None:
        with Journal("run").auditing(spec) as own:
            return run_pipeline(spec, steps, force=force, upstream=upstream, reporter=reporter, journal=own,
                                forced_by=forced_by)
    run = Run(spec, journal)
    selected = _select(run.steps, steps)
    todo = run.plan(selected, force, upstream, forced_by)
    return run_steps(run, todo, {*selected, *todo}, reporter, fetch=selected if steps is not None else ())


def run_steps(run: Run, todo: Collection[str], shown: Collection[str], reporter: Reporter | None,
              fetch: Collection[str] = ()) -> RunResult:
    """Execute the steps in `todo` and report the other `shown` steps as cached, in the graph's order; tracked.

    Every shown step not in `todo` must have its output; raise StepError naming the first failure.
    """
    spec = run.spec
    order = [s for s in run.steps if s in shown]
    run_id = new_run_id()
    mirror = _mlflow_run(run, run_id, todo)
    tracker = open_tracker(run.backend)
    assert tracker is not None  # created when missing
    tracker.start_run(run_id, spec.name, spec.env, str(spec.path), spec.digest, {"env": spec.env, **spec.config},
                      run.context.git)
    result = RunResult(run_id, spec, {})
    try:
        for step_id in order:
            blocked = [n for n in run.steps[step_id].needs if n in result.steps and result.steps[n].status in
                       ("failed", "blocked")]
            if blocked:
                outcome = StepRun(step_id, "blocked", [f"upstream `{blocked[0]}` did not complete"],
                                  run.fingerprints[step_id])
            elif step_id in todo:
                outcome = run.execute(step_id, run_id, reporter)
            else:
                output = run.materialize(step_id) if step_id in fetch else run.outputs[step_id]  # the caller reads it
                outcome = StepRun(step_id, "cached", [], output.fingerprint, 0.0, output.values, output.dir)
                if run.record.get(step_id, {}).get("fingerprint") != output.fingerprint:
                    # output another environment made: recorded for this one, so its next change says what moved
                    save_step(run.backend, run.record_key, step_id, run.snapshots[step_id].to_json())
            result.steps[step_id] = outcome
            if reporter:
                reporter.finish(outcome)
            _track(tracker, run_id, outcome)
            if mirror:
                mirror.log_step(outcome)
    finally:
        run.stat.save()
        result.seconds = time.perf_counter() - run.began
        failed = result.failed
        status = "failed" if failed else "interrupted" if len(result.steps) < len(order) else (
            "ran" if any(s.status == "ran" for s in result.steps.values()) else "cached")
        tracker.finish_run(run_id, status, failed.error if failed else None)
        tracker.close()
        if mirror:
            mirror.finish(status)
    if failed:
        # `--debug` shows the cause
        raise StepError(failed.id, failed.error or "unknown error", location=failed.location) from failed.cause
    result.file_stats = run.file_stats()
    return result
