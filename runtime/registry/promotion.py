"""Promotion of a pinned version to `production`: the evidence a reviewer sees, and what refuses it.

A spec pins the version an environment serves with `registry.production`. Plan shows the move with
its evidence (the git commit it was trained from and whether the tree had uncommitted changes, metric
deltas against the current production version, gate results, drift of the version's training data
against the current data); apply and the `promote` step refuse a version
that failed its gates or whose model file does not match the registered checksum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlform.runtime.gitinfo import describe_git
from mlform.runtime.steps.evaluate import check_gates
from mlform.specs.loader import ResolvedSpec
from mlform.specs.model.lifecycle import PRODUCTION

from .models import ModelVersion, Registry, RegistryError, registry_for

__all__ = ["PromotionReview", "pin_reason", "review_promotion"]


@dataclass(frozen=True)
class PromotionReview:
    """A pinned version against the one at alias `production`: evidence lines, and problems that refuse it."""

    model: str
    current: int | None
    target: int
    evidence: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def moves(self) -> bool:
        """Whether applying moves the alias."""
        return self.current != self.target

    @property
    def address(self) -> str:
        """`MODEL@production`."""
        return f"{self.model}@{PRODUCTION}"

    def refusal(self) -> str:
        """Why the promotion is refused, as one message."""
        return (f"refusing to promote `{self.model}` version {self.target} to `{PRODUCTION}` "
                f"(`registry.production`): {'; '.join(self.problems)}")


def _metric_deltas(target: ModelVersion, current: ModelVersion | None) -> list[str]:
    lines = []
    for name, value in sorted(target.metrics.items()):
        before = current.metrics.get(name) if current is not None else None
        if isinstance(before, int | float) and not math.isnan(before):
            lines.append(f"{name}: {before:.4g} -> {value:.4g} ({value - before:+.4g})")
        else:
            lines.append(f"{name}: {value:.4g}")
    return lines


def _gate_problems(spec: ResolvedSpec, target: ModelVersion) -> tuple[list[str], list[str]]:
    """Evidence and problems from the gates recorded at registration and the spec's gates now."""
    evidence: list[str] = []
    recorded = target.evaluation.get("gates")
    failed_then = [g["message"] for g in recorded or () if not g.get("passed")]
    if recorded is not None:
        evidence.append(f"gates when registered: {'failed' if failed_then else 'passed'} ({len(recorded)} checked)")
    problems = [f"when registered, {message}" for message in failed_then]
    gates = spec.pipeline.evaluation.gates
    problems += [f"version {target.version} has no `{name}` metric for gate `evaluation.gates.{name}`"
                 for name in sorted(set(gates) - set(target.metrics))]
    now = check_gates(target.metrics, {k: v for k, v in gates.items() if k in target.metrics})
    evidence += [g.message for g in now]
    problems += [g.message for g in now if not g.passed and g.message not in failed_then]
    champion = target.evaluation.get("champion")
    if champion:
        evidence.append(f"champion check when registered: {champion['message']}")
    review = target.evaluation.get("review")
    if review:  # baseline, slices, fairness, staleness, features
        checks = review.get("checks") or []
        failed = [c["message"] for c in checks if not c["passed"]]
        evidence.append(f"review when registered: {'failed' if failed else 'passed'} ({len(checks)} checks)")
        evidence += [f"review: {c['message']}" for c in checks]
        problems += [f"when registered, {message}" for message in failed]
    return evidence, problems


def _drift(spec: ResolvedSpec, target: ModelVersion, data: Mapping[str, str]) -> str:
    """The drift of the version's training data against the current data, when that data is still at hand."""
    pipeline = spec.pipeline
    monitoring = pipeline.monitoring
    if monitoring is None:
        return "drift: not monitored (the spec has no `monitoring` section)"
    trained_on: dict[str, str] = target.lineage.get("data") or {}
    if not trained_on or any(data.get(file) != digest for file, digest in trained_on.items()):
        return (f"drift: not computed: the training data of version {target.version} changed since it was "
                "registered")
    from mlform.runtime.monitoring.drift import detect_drift
    from mlform.runtime.steps.ingest import read_source

    sources = pipeline.data.sources
    reference_name, current_name = pipeline.data.training_source, monitoring.current
    try:
        reference = read_source(reference_name, sources[reference_name], pipeline, spec.root)
        current = read_source(current_name, sources[current_name], pipeline, spec.root)
        report = detect_drift(reference, current, monitoring.drift, pipeline.data.features)
    except Exception as exc:  # evidence only: a source that cannot be read is reported, not fatal
        return f"drift: not computed: {exc}"
    verdict = "BREACH" if report.breached else "ok"
    names = ", ".join(f"`{n}`" for n in report.drifted) or "none"
    return (f"drift of its training data vs `{current_name}`: {verdict}: {len(report.drifted)} of "
            f"{len(report.features)} features drifted (share {report.drifted_share:.2f}, "
            f"`max_drifted_share` {report.max_drifted_share}): {names}")


def review_promotion(spec: ResolvedSpec, data: Mapping[str, str] | None = None, *,
                     registry: Registry | None = None, with_drift: bool = True) -> PromotionReview | None:
    """Review the version `spec` pins; None when it pins none. `data` is {file: digest} of the current data."""
    target_number = spec.pipeline.registry.production
    if target_number is None:
        return None
    registry = registry or registry_for(spec)
    name = spec.pipeline.registry.model_name
    versions = {v.version: v for v in registry.versions(name, spec.env)}
    current = next((v for v in versions.values() if PRODUCTION in v.aliases), None)
    current_number = current.version if current is not None else None
    target = versions.get(target_number)
    if target is None:
        known = f"versions {min(versions)}..{max(versions)}" if versions else "no versions"
        problem = f"version {target_number} is not in the registry at {registry.describe()} ({known})"
        return PromotionReview(name, current_number, target_number, [], [problem])
    lineage = target.lineage
    git = describe_git(lineage.get("git_commit"), lineage.get("git_dirty"), lineage.get("git_diff_sha256"))
    evidence = [f"registered {target.created or 'at an unknown time'}, sha256 {target.sha256[:12]}...",
                f"git: {git}"]
    trained_in = lineage.get("env")
    if trained_in and trained_in != spec.env:  # with that environment's params and data, not this one's
        evidence.append(f"trained in environment `{trained_in}` (this plan is for `{spec.env}`)")
    problems = []
    try:
        registry.verify(name, target_number)
    except RegistryError as exc:
        problems.append(str(exc))
    evidence += [f"metric {line}" for line in _metric_deltas(target, current)]
    gate_evidence, gate_problems = _gate_problems(spec, target)
    evidence += gate_evidence
    problems += gate_problems
    if with_drift and current_number != target_number:
        evidence.append(_drift(spec, target, data or {}))
    return PromotionReview(name, current_number, target_number, evidence, problems)



def pin_reason(spec: ResolvedSpec, registry: Registry) -> str | None:
    """Why a cached `promote` step must run again: the environment's alias `production` no longer holds the pin."""
    pinned = spec.pipeline.registry.production
    if pinned is None:
        return None
    holder = registry.aliases(spec.pipeline.registry.model_name, spec.env).get(PRODUCTION)
    if holder == pinned:
        return None
    return f"alias `{PRODUCTION}` is at {f'v{holder}' if holder else 'no version'}, the spec pins v{pinned}"
