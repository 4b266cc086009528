"""The one step graph of a resolved spec: steps, edges and fingerprints, derived once and read by every stage.

Plan, preview, `run`, `apply`, `graph` and the compile targets all read a `PipelineGraph`; none of them
derives steps or fingerprints on its own. Plain Python: the runtime reads it without networkx.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from mlform.specs.errors import GraphError
from mlform.specs.loader import ResolvedSpec

from .fingerprint import UNQUERIED, step_fingerprints
from .libraries import installed_version
from .steps import Step, spec_steps

__all__ = ["Edge", "PipelineGraph", "check_steps", "derive_graph"]

Edge = tuple[str, str]  # (upstream, downstream)


@dataclass(frozen=True)
class PipelineGraph:
    """A spec's steps in execution order, their edges and fingerprints, and the data digests those used.

    `data` maps each file a step reads (or `sql:<name>` pseudo-file) to its digest as fingerprinted, `libraries`
    each library a step depends on to its installed version as fingerprinted.
    """

    steps: Mapping[str, Step]
    edges: tuple[Edge, ...]
    fingerprints: Mapping[str, str]
    data: Mapping[Path, str]
    libraries: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ids(self) -> list[str]:
        """Step IDs in execution order: the order plans list them and runs execute them."""
        return list(self.steps)

    def stable_order(self) -> list[str]:
        """Step IDs in the topological order drawings and Airflow list them in (ties broken by ID)."""
        waiting = {step_id: len(step.needs) for step_id, step in self.steps.items()}
        downstream: dict[str, list[str]] = {step_id: [] for step_id in self.steps}
        for upstream, step_id in self.edges:
            downstream[upstream].append(step_id)
        ready = [step_id for step_id, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            step_id = heapq.heappop(ready)
            order.append(step_id)
            for after in downstream[step_id]:
                waiting[after] -= 1
                if waiting[after] == 0:
                    heapq.heappush(ready, after)
        return order

    def unqueried(self) -> dict[str, tuple[Path, ...]]:
        """Each step whose fingerprint rests on a pseudo-file that was not queried (a `sql` source, the serving log in
        the state backend), with those pseudo-files (its own reads and its upstream steps'), sorted: such a step has
        no true fingerprint."""
        found: dict[str, tuple[Path, ...]] = {}
        for step_id, step in self.steps.items():
            rests = {path for path in step.reads if self.data[path] == UNQUERIED}
            rests.update(path for need in step.needs for path in found.get(need, ()))
            if rests:
                found[step_id] = tuple(sorted(rests))
        return found

    def upstream(self, roots: Iterable[str]) -> set[str]:
        """Every step that `roots` depend on, directly or not (the roots themselves only if one needs another)."""
        found: set[str] = set()
        todo = [need for root in roots for need in self.steps[root].needs]
        while todo:
            step_id = todo.pop()
            if step_id not in found:
                found.add(step_id)
                todo.extend(self.steps[step_id].needs)
        return found


def _cycle(steps: Mapping[str, Step], downstream: Mapping[str, list[str]]) -> list[str] | None:
    """The first cycle a depth-first walk in declaration order meets, as a path back to its start."""
    done: set[str] = set()
    for start in steps:
        if start in done:
            continue
        path, walks = [start], [iter(downstream[start])]
        while walks:
            after = next(walks[-1], None)
            if after is None:
                done.add(path.pop())
                walks.pop()
            elif after in path:
                return [*path[path.index(after):], after]
            elif after not in done:
                path.append(after)
                walks.append(iter(downstream[after]))
    return None


def check_steps(steps: Mapping[str, Step]) -> list[Edge]:
    """The edges of `steps`; raise GraphError naming every missing dependency, else the cycle's path."""
    missing = [f"step `{step_id}` needs `{need}`, which does not exist"
               for step_id, step in steps.items() for need in step.needs if need not in steps]
    if missing:
        raise GraphError("; ".join(missing))
    edges = [(need, step_id) for step_id, step in steps.items() for need in step.needs]
    downstream: dict[str, list[str]] = {step_id: [] for step_id in steps}
    for upstream, step_id in edges:
        downstream[upstream].append(step_id)
    cycle = _cycle(steps, downstream)
    if cycle is not None:
        raise GraphError(f"steps form a cycle: {' --> '.join(cycle)}")
    return edges


def derive_graph(spec: ResolvedSpec, data_digest: Callable[[Path], str]) -> PipelineGraph:
    """The graph of `spec`, each file it reads digested once with `data_digest`: the one derivation there is."""
    steps = spec_steps(spec)
    edges = check_steps(steps)
    data: dict[Path, str] = {}

    def digest(path: Path) -> str:
        if path not in data:
            data[path] = data_digest(path)
        return data[path]

    libraries = {name: installed_version(name) for step in steps.values() for name in step.libraries}
    fingerprints = step_fingerprints(steps, digest, libraries.__getitem__)
    return PipelineGraph(MappingProxyType(steps), tuple(sorted(edges)), MappingProxyType(fingerprints),
                         MappingProxyType(data), MappingProxyType(libraries))
