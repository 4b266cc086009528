"""The plans of a command's spec files: each answered from its receipts when nothing changed, else loaded and
validated in full, and each environment whose receipt still holds answered from it, the others made in full."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlform.compiler.workspace import policy_file
from mlform.specs.fsutil import file_sha256

from .plans import Plan, PlanInputs
from .receipts import cached_plans, still_current

if TYPE_CHECKING:
    from mlform.specs import Diagnostic, ResolvedSpec
    from mlform.specs.check.policy import LoadedPolicy

__all__ = ["FilePlans", "plan_files"]

# below this many plans per worker, starting workers costs more than they save; and a core another process
# keeps busy gives nothing (measured: 100 specs, 2 cores, 1.6x faster with both idle, 1.2x slower with one busy)
_SPECS_PER_WORKER = 8


@dataclass
class FilePlans:
    """The plans of one spec file and, unless they came from receipts, the specs they were made from."""

    path: Path
    plans: list[Plan] = field(default_factory=list)
    specs: list[ResolvedSpec] = field(default_factory=list)  # one per plan; empty when answered from receipts
    checked: list[ResolvedSpec] = field(default_factory=list)  # every environment validated, the base spec too
    sha256: str | None = None  # of the spec file's bytes as loaded
    held: dict[str, Plan] = field(default_factory=dict)  # environment -> its plan from a receipt that still holds


def _policy(inputs: PlanInputs) -> LoadedPolicy | None:
    """The policy in force, validated; raise SpecError on a broken policy file."""
    path = policy_file(inputs.policy, Path.cwd())
    if path is None:
        return None
    from mlform.specs.check.policy import load_policy

    return load_policy(path)


def _check(policy: LoadedPolicy | None, specs: list[ResolvedSpec], diagnostics: list[Diagnostic]) -> None:
    """Raise SpecError on spec errors or policy violations of severity error; print policy warnings."""
    from mlform.specs import SpecError

    violations: list[Diagnostic] = []
    if policy is not None:
        from mlform.specs.check.policy_check import check_policy

        violations = check_policy(policy, specs)
    if any(d.severity == "error" for d in [*diagnostics, *violations]):
        raise SpecError([*diagnostics, *violations])
    for warning in violations:
        click.echo(str(warning), err=True)


def _load(path: Path, env: str | None, policy: LoadedPolicy | None) -> FilePlans:
    from mlform.specs import BASE, load_spec, validate_file

    try:
        sha: str | None = file_sha256(path)
    except OSError:
        sha = None  # loading names the problem
    if env is not None:
        spec = load_spec(path, env, require_data=True)
        _check(policy, [spec], [])
        return FilePlans(path, specs=[spec], checked=[spec], sha256=sha)
    found, diagnostics = validate_file(path, require_data=True)
    _check(policy, found, diagnostics)
    return FilePlans(path, specs=[s for s in found if s.env != BASE] or found, checked=found, sha256=sha)


def plan_files(paths: Sequence[Path], env: str | None, inputs: PlanInputs) -> list[FilePlans]:
    """Every spec file's plans (all its environments, or `env`); every spec is validated before any is planned.

    Specs not answered from receipts are checked against the policy in force (`inputs.policy`, else
    `$MLFORM_POLICY`, else `mlform-policy.yaml` at the project root), loaded once, when first needed; two of
    them naming their pipeline alike are refused.
    """
    from mlform.specs import SpecError
    from mlform.specs.check.names import duplicate_names

    found = {path: cached_plans(path, env, inputs) for path in paths}
    hits = {path: cached for path, cached in found.items() if cached is not None and cached.plans}
    current = dict(zip(hits, still_current(list(hits.values())), strict=True))
    files = []
    policy: list[LoadedPolicy | None] = []  # the policy in force, once loaded
    for path in paths:
        cached = hits.get(path) if current.get(path) else None
        if cached is not None and not cached.missed:
            files.append(FilePlans(path, cached.plans))
            continue
        if not policy:
            policy.append(_policy(inputs))
        files.append(_load(path, env, policy[0]))
        files[-1].held = {p.env: p for p in cached.plans} if cached is not None else {}
    loaded = [f for f in files if f.specs]
    clashes = duplicate_names(spec.document for f in loaded for spec in f.checked)
    if clashes:
        raise SpecError(clashes)
    planned = iter(_plan_all([spec for f in loaded for spec in f.specs if spec.env not in f.held], inputs))
    for file in loaded:
        file.plans = [_held(file.held[spec.env], spec) if spec.env in file.held else next(planned)
                      for spec in file.specs]
    return files


def _held(plan: Plan, spec: ResolvedSpec) -> Plan:
    """A plan from a receipt that holds, named as the full path names the spec it was loaded from."""
    plan.spec = spec.display
    return plan


_WORK: list[tuple[ResolvedSpec, PlanInputs]] = []  # what forked workers plan, by index


def _plan_one(index: int) -> Plan:
    from .planner import make_plan

    return make_plan(*_WORK[index])


def _workers(count: int) -> int:
    """Worker processes worth starting for `count` plans: one per idle core, when each gets enough plans."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    idle = (os.cpu_count() or 1) - os.getloadavg()[0]
    return max(1, min(round(idle), count // _SPECS_PER_WORKER))


def _plan_all(specs: list[ResolvedSpec], inputs: PlanInputs) -> list[Plan]:
    """Plan every spec, in forked worker processes when idle cores and enough specs make that pay."""
    workers = _workers(len(specs))
    _WORK[:] = [(spec, inputs) for spec in specs]
    try:
        if workers < 2:
            return [_plan_one(index) for index in range(len(specs))]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_plan_one, range(len(specs)), chunksize=4)
    finally:
        _WORK.clear()
