"""Make a plan: compare compiled artifacts with the disk, step fingerprints with the runtime's cache.

A plan reads one runtime `Run`: its graph is what the targets render and its step rows are what applying runs.
"""

from __future__ import annotations

import difflib
import hashlib
from typing import TYPE_CHECKING

from mlform.compiler.artifacts.output import Build, render_graphs
from mlform.compiler.diff.artifactdiff import header_only
from mlform.compiler.workspace import FOLDERS
from mlform.specs import ResolvedSpec

from .plans import Action, Change, Plan, PlanInputs, alias_notes, applied_aliases
from .state import State, StateStore

if TYPE_CHECKING:
    from mlform.runtime.run.executor import Run
    from mlform.runtime.run.preview import Preview
    from mlform.specs.graph.pipeline import PipelineGraph

__all__ = ["DIFF_LINES", "build_for", "make_plan", "moved_outside", "promotion_change", "state_store"]

DIFF_LINES = 200


def state_store(spec: ResolvedSpec) -> StateStore:
    """The state of one spec and environment, in its backend."""
    from mlform.runtime.storage.backends.url import backend_for

    return StateStore(backend_for(spec), spec.name, spec.env)


def digest_text(text: str) -> str:
    """`sha256:<hex>` of an artifact's text."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _diff(before: str, after: str, name: str) -> str:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), f"a/{name}", f"b/{name}",
                                      lineterm="", n=2))
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more lines"]
    return "\n".join(lines)


def build_for(spec: ResolvedSpec, inputs: PlanInputs, graph: PipelineGraph) -> Build:
    """The files every selected target renders for one spec and environment from its graph."""
    from mlform.compiler.graph.stepgraph import view

    return render_graphs([view(spec, graph)], inputs.out, inputs.targets, inputs.templates)


def _orphans(build: Build) -> list[str]:
    """Files in the build's folders that an earlier compile of the same spec and env wrote, but this one does not."""
    folders = {folder: [(o.spec, o.env) for o in owners] for folder, owners in build.scanned.items()}
    return FOLDERS.orphans_in(build.out, folders, build.files)


def artifact_changes(build: Build, state: State | None) -> list[Change]:
    """Create, update, delete or keep each generated file, with a content diff for updates."""
    changes = []
    recorded = state.artifacts if state else {}
    for relative, text in sorted(build.files.items()):
        path = build.out / relative
        after = digest_text(text)
        if not path.is_file():
            changes.append(Change("artifact", relative, Action.CREATE, None, after, "new file"))
            continue
        current = path.read_text(encoding="utf-8", errors="replace")
        before = digest_text(current)
        if before == after:
            changes.append(Change("artifact", relative, Action.NOOP, before, after))
            continue
        edited = recorded.get(relative) not in (None, before)  # not what the last apply wrote
        reason = "hand-edited since the last apply" if edited else "spec or mlform changed"
        compared = header_only(relative, current, text)  # a body that changed needs no structural comparison
        if compared is not None and not edited:
            fields = ", ".join(f"`{c.path.removeprefix('header.')}`" for c in compared.changes)
            reason = f"differs only in the provenance header ({fields})"
        changes.append(Change("artifact", relative, Action.UPDATE, before, after, reason,
                              _diff(current, text, relative), header_only=compared is not None))
    for relative in _orphans(build):
        before = digest_text((build.out / relative).read_text(encoding="utf-8", errors="replace"))
        changes.append(Change("artifact", relative, Action.DELETE, before, None, "no longer generated"))
    return changes


def step_changes(seen: Preview, state: State | None) -> tuple[list[Change], dict[str, str]]:
    """RUN, UPDATE (cached, but state records another fingerprint) or NOOP for every step, with why; and the
    data digests the plan was computed with."""
    changes = []
    for step_id, (fingerprint, reasons) in seen.steps.items():
        before = (state.steps.get(step_id) or {}).get("fingerprint") if state else None
        if reasons:
            changes.append(Change("step", step_id, Action.RUN, before, fingerprint, "; ".join(reasons)))
        elif before not in (None, fingerprint):  # e.g. an apply interrupted after the step's output was stored
            changes.append(Change("step", step_id, Action.UPDATE, before, fingerprint,
                                  "record the cached output: state holds another fingerprint"))
        else:
            changes.append(Change("step", step_id, Action.NOOP, fingerprint, fingerprint,
                                  "skip (cached): fingerprint unchanged"))
    return changes, seen.data


def alias_changes(spec: ResolvedSpec, steps: list[Change]) -> list[Change]:
    """The alias a passing new version would take, when `register` runs."""
    if not any(c.address == "register" and c.action is Action.RUN for c in steps):
        return []
    from mlform.runtime.registry.models import registry_for

    registry = spec.pipeline.registry
    current = registry_for(spec).aliases(registry.model_name, spec.env).get(registry.promote_to)
    address = f"{registry.model_name}@{registry.promote_to}"
    action = Action.UPDATE if current is not None else Action.CREATE
    before = f"v{current}" if current is not None else None
    reason = f"{before or 'none'} -> the new version, if it passes its gates"
    return [Change("alias", address, action, before, "new version", reason)]


def promotion_change(spec: ResolvedSpec, data: dict[str, str]) -> tuple[list[Change], list[str]]:
    """The move of alias `production` to the version the spec pins, with its evidence; and why apply would refuse."""
    if spec.pipeline.registry.production is None:
        return [], []
    from mlform.runtime.registry.promotion import review_promotion

    review = review_promotion(spec, data)
    assert review is not None  # the spec pins a version
    after = f"v{review.target}"
    if not review.moves:
        return [Change("alias", review.address, Action.NOOP, after, after, "pinned by `registry.production`")], []
    before = f"v{review.current}" if review.current is not None else None
    action = Action.UPDATE if before else Action.CREATE
    reason = f"{before or 'none'} -> {after}: pinned by `registry.production`"
    change = Change("alias", review.address, action, before, after, reason, evidence=review.evidence)
    return [change], [review.refusal()] if review.problems else []


def moved_outside(spec: ResolvedSpec, state: State | None) -> list[str]:
    """The environment's aliases that are not where its last apply left them (moved by `mlform run`, `monitor`)."""
    if state is None:
        return []
    from mlform.runtime.registry.models import registry_for

    name = spec.pipeline.registry.model_name
    return alias_notes(registry_for(spec).aliases(name, spec.env), applied_aliases(state.aliases, name))


def make_plan(spec: ResolvedSpec, inputs: PlanInputs, build: Build | None = None, run: Run | None = None) -> Plan:
    """The plan for one spec and environment from `run` (a new one when None); writes nothing.

    `build` holds the files rendered from `run.graph` (rendered here when None).
    """
    from mlform.runtime.run.executor import Run
    from mlform.runtime.run.preview import preview

    state = state_store(spec).read()
    run = run or Run(spec)
    if build is None:
        build = build_for(spec, inputs, run.graph)
    steps, data = step_changes(preview(run), state)
    plan = Plan(spec.display, spec.env, spec.digest, state.lineage if state else None,
                state.serial if state else None, data)
    promotion, plan.problems = promotion_change(spec, data)
    plan.notes = moved_outside(spec, state)
    plan.changes = [*artifact_changes(build, state), *steps, *alias_changes(spec, steps), *promotion]
    return plan
