"""What a run would do now, without doing it: each step's fingerprint and why it would run."""

from __future__ import annotations

from dataclasses import dataclass

from mlform.specs.loader import ResolvedSpec

from .executor import Run

__all__ = ["Preview", "preview"]


@dataclass(frozen=True)
class Preview:
    """Step ID -> (fingerprint, reasons; empty when the cached output is complete), and data digests."""

    steps: dict[str, tuple[str, list[str]]]
    data: dict[str, str]


def preview(spec: ResolvedSpec) -> Preview:
    """Fingerprint every step and compare with the cache and the last run; writes nothing."""
    run = Run(spec, None)
    data = {file: digest for snapshot in run.snapshots.values()
            for file, digest in (*snapshot.data.items(), *snapshot.code.items())}
    steps = {step_id: (run.fingerprints[step_id], list(run.reasons[step_id])) for step_id in run.steps}
    return Preview(steps, dict(sorted(data.items())))
