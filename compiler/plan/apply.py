"""Apply a plan: refuse a stale or foreign one, write artifacts atomically, run steps, record state per step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlform.compiler.artifacts.output import Build
from mlform.compiler.governance.review import check_governance
from mlform.runtime.registry.journal import Journal
from mlform.specs import ResolvedSpec
from mlform.specs.errors import PlanError
from mlform.specs.fsutil import write_atomic
from mlform.specs.graph.statistic import statistic_change
from mlform.specs.model.lifecycle import PRODUCTION

from .planner import build_for, make_plan, state_store
from .plans import Action, Plan, PlanInputs
from .receipts import record
from .state import State, StateStore

__all__ = ["apply_plan", "check_saved_plan", "read_plan", "record_unchanged"]

_KEPT_VALUES = ("alias", "breached", "metrics", "model", "ok", "previous", "promoted", "rows", "sha256", "version")


def check_saved_plan(saved: Plan, fresh: Plan) -> None:
    """Raise PlanError when `saved` no longer describes what applying would do now."""
    where = f"`{saved.spec}` ({saved.env})"
    if (saved.spec, saved.env) != (fresh.spec, fresh.env):
        raise PlanError(f"the plan is for {where}, not for `{fresh.spec}` ({fresh.env})")
    if saved.lineage is None and fresh.lineage is not None:
        raise PlanError(f"the plan was made when {where} had no state, but state now exists "
                        f"(serial {fresh.serial}); run `mlform plan` again")
    if saved.lineage is not None and saved.lineage != fresh.lineage:
        raise PlanError(f"the plan does not match the state of {where}: it was made for lineage {saved.lineage}, "
                        f"the state has lineage {fresh.lineage or 'none'}")
    if saved.serial != fresh.serial:
        raise PlanError(f"saved plan is stale: the state of {where} moved from serial {saved.serial} to "
                        f"{fresh.serial} since the plan was made; run `mlform plan` again")
    if saved.spec_digest != fresh.spec_digest:
        raise PlanError(f"the spec {where} changed since the plan was made; run `mlform plan` again")
    for file, digest in sorted(saved.data.items()):
        current = fresh.data.get(file)
        if current != digest:
            what = statistic_change(digest, current) if current else None
            raise PlanError(f"data {f'`{file}` {what}' if what else f'file `{file}` changed'} since the plan was "
                            "made; run `mlform plan` again")
    pinned = {(c.address, c.before, c.after) for c in saved.changes
              if c.kind == "alias" and c.address.endswith(f"@{PRODUCTION}")}
    moved = sorted(pinned - {(c.address, c.before, c.after) for c in fresh.changes})
    if moved:
        address, before, after = moved[0]
        raise PlanError(f"alias `{address}` no longer moves as planned ({before or 'none'} -> {after}): the registry "
                        "changed since the plan was made; run `mlform plan` again")
    planned = {(c.kind, c.address, c.action, c.after) for c in saved.changes if c.kind != "alias"}
    now = {(c.kind, c.address, c.action, c.after) for c in fresh.changes if c.kind != "alias"}
    if planned != now:
        first = sorted(now ^ planned, key=str)[0]
        raise PlanError(f"{first[0]} `{first[1]}` would no longer change as planned (mlform, templates or files "
                        "changed since the plan was made); run `mlform plan` again")


def _write_artifacts(plan: Plan, build: Build, state: State) -> None:
    for change in plan.of("artifact"):
        path = build.out / change.address
        if change.action is Action.DELETE:
            path.unlink(missing_ok=True)
            state.artifacts.pop(change.address, None)
            continue
        if change.action in (Action.CREATE, Action.UPDATE):
            write_atomic(path, build.files[change.address])
        state.artifacts[change.address] = str(change.after)


class _StateReporter:
    """Prints each step like `mlform run` and records it in state as soon as it completes."""

    def __init__(self, store: StateStore, state: State, console: Any) -> None:
        self.store, self.state, self.console = store, state, console

    def start(self, step_id: str, reasons: list[str]) -> None:
        """A step begins."""
        self.console.start(step_id, reasons)

    def finish(self, outcome: Any) -> None:
        """Record a completed step in state (one atomic write, serial +1) and print it."""
        self.console.finish(outcome)
        if outcome.status not in ("ran", "cached"):
            return
        kept = {k: v for k, v in outcome.values.items() if k in _KEPT_VALUES}
        entry = {"fingerprint": outcome.fingerprint, "outputs": kept}
        if self.state.steps.get(outcome.id) != entry:
            self.state.steps[outcome.id] = entry
            self.store.write(self.state)


def _record_aliases(spec: ResolvedSpec, state: State) -> None:
    """Keep the environment's aliases as this apply left them: plan compares them with the registry's."""
    from mlform.runtime.registry.models import registry_for

    name = spec.pipeline.registry.model_name
    for alias, version in registry_for(spec).aliases(name, spec.env).items():
        state.aliases[f"{name}@{alias}"] = version


def _state_folders(run: Any) -> list[Path]:
    """mlform's own folders under the project, which never make its tree dirty."""
    registry = run.context.registry.root
    return [run.state.root, *([registry] if registry is not None else [])]


def apply_plan(spec: ResolvedSpec, inputs: PlanInputs, saved: Plan | None, console: Any,
               spec_sha: str | None = None, journal: Journal | None = None,
               lock_timeout: float = 0.0) -> tuple[Plan, State, list[str]]:
    """Apply `saved` (or a fresh plan) under the state lock; state is written after every completed step.

    One runtime `Run` derives the graph: the artifacts are rendered from it, the fresh plan is made from it
    (a saved plan must agree with that plan) and it executes exactly the plan's steps to run.
    Returns the plan applied, the final state and notes (e.g. a lock taken over from a dead process).
    With `spec_sha`, the digest of the spec file's bytes `spec` was loaded from, a plan receipt is
    written when a fresh plan afterwards is a no-op. The versions registered and aliases moved go to
    `journal` (the audit entry's); without one, the apply audits its alias moves as a run. A held lock is
    waited for up to `lock_timeout` seconds.
    """
    from mlform.runtime.run.executor import Run, run_steps

    if journal is None:
        with Journal("run").auditing(spec) as own:
            return apply_plan(spec, inputs, saved, console, spec_sha, own)
    store = state_store(spec)
    with store.lock("apply", lock_timeout):
        run = Run(spec, journal)
        check_governance(spec, _state_folders(run))
        build = build_for(spec, inputs, run.graph)
        fresh = make_plan(spec, inputs, build, run)
        if saved is not None:
            check_saved_plan(saved, fresh)
        if fresh.problems:  # refused before anything is written
            raise PlanError("; ".join(fresh.problems))
        plan = saved or fresh
        state = store.read() or store.new_state(spec.display, spec.env)
        state.spec, state.env, state.spec_digest = spec.display, spec.env, spec.digest
        _write_artifacts(plan, build, state)
        store.write(state)
        # Cached steps are reported and recorded too, so state matches the spec even when an earlier,
        # interrupted apply already produced every output.
        to_run = [c.address for c in plan.of("step", Action.RUN)]
        run_steps(run, to_run, list(run.steps), _StateReporter(store, state, console))
        _record_aliases(spec, state)
        store.write(state)
        record(spec, inputs, build, fresh, spec_sha)
    return plan, state, store.notes


def record_unchanged(spec: ResolvedSpec, inputs: PlanInputs, planned: Plan, spec_sha: str | None) -> bool:
    """Write the plan receipt of a spec whose plan changes nothing, leaving its state as it is; True when written."""
    from mlform.runtime.run.preview import current_graph

    return record(spec, inputs, build_for(spec, inputs, current_graph(spec)), planned, spec_sha)


def read_plan(path: Path) -> Plan:
    """Read a saved plan file."""
    try:
        return Plan.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror}") from None
