"""What a run would do now, without doing it: each step's fingerprint and why it would run."""

from __future__ import annotations

from dataclasses import dataclass

from mlform.runtime.registry.journal import Journal
from mlform.runtime.storage.statedir import StateDir, state_dir_for
from mlform.specs.graph.fingerprint import StatCache
from mlform.specs.graph.pipeline import PipelineGraph
from mlform.specs.loader import ResolvedSpec

from .context import Context
from .executor import Run

__all__ = ["Preview", "current_graph", "preview"]


@dataclass(frozen=True)
class Preview:
    """Step ID -> (fingerprint, reasons; empty when the cached output is complete), and data digests."""

    steps: dict[str, tuple[str, list[str]]]
    data: dict[str, str]


def preview(run: Run) -> Preview:
    """The steps of `run`, fingerprinted and compared with the cache and the last run, before it executes any."""
    data = {file: digest for snapshot in run.snapshots.values()
            for file, digest in (*snapshot.data.items(), *snapshot.code.items())}
    steps = {step_id: (run.fingerprints[step_id], list(run.reasons[step_id])) for step_id in run.steps}
    return Preview(steps, dict(sorted(data.items())))


def current_graph(spec: ResolvedSpec) -> PipelineGraph:
    """The graph of `spec` with its files as a run would see them now; `sql` sources are not queried."""
    state = StateDir(state_dir_for(spec.root))
    return Context(spec, state, Journal("graph")).graph(StatCache(state.stat_cache), query=False)
