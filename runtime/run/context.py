"""What a step sees while it runs: the spec, upstream outputs, and frames and models loaded once per run."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.runtime.gitinfo import GitState, git_state
from mlform.runtime.registry.journal import Journal
from mlform.runtime.registry.models import Registry, registry_for
from mlform.runtime.storage.statedir import StateDir
from mlform.runtime.storage.store import Output
from mlform.specs.errors import MlformError, StepError
from mlform.specs.graph.fingerprint import UNQUERIED, StatCache
from mlform.specs.graph.pipeline import PipelineGraph, derive_graph
from mlform.specs.graph.steps import SINK_LOG, Step, pseudo_source
from mlform.specs.loader import ResolvedSpec
from mlform.specs.model.data import PythonSource, SqlSource

from .reasons import Snapshot

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Context", "Job", "frame_digest"]


def frame_digest(frame: pd.DataFrame) -> str:
    """`sha256:<hex>` of a frame's columns, dtypes and values."""
    import pandas as pd

    digest = hashlib.sha256(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


class Context:
    """Run-wide state: the spec, its state folder, the registry changes made, and memoized frames, models and
    fetched SQL sources."""

    def __init__(self, spec: ResolvedSpec, state: StateDir, journal: Journal) -> None:
        self.spec, self.state, self.journal = spec, state, journal
        self.frames: dict[Path, pd.DataFrame] = {}
        self.models: dict[Path, Any] = {}
        self.fetched: dict[str, pd.DataFrame] = {}
        self.registered: dict[tuple[str, int], Any] = {}

    @functools.cached_property
    def registry(self) -> Registry:
        """The spec's registry (`registry_for`), opened once per run."""
        return registry_for(self.spec)

    def move_alias(self, model: str, alias: str, version: int) -> int | None:
        """Point `alias` of `model` in this environment at `version`, journaled; the version it held before."""
        return self.journal.move(self.registry, self.spec, model, alias, version)

    @functools.cached_property
    def git(self) -> GitState:
        """The project's commit and uncommitted changes (mlform's state and registry aside), looked up once per run."""
        registry = self.registry.root
        return git_state(self.spec.root, (self.state.root, registry) if registry is not None else (self.state.root,))

    def graph(self, stat: StatCache, query: bool = True) -> PipelineGraph:
        """The spec's step graph: files digested through `stat`, `sql` sources measured by their statistic (or
        fetched once, for their ingest) unless `query` is False (then their steps' fingerprints are `unqueried()`)."""
        return derive_graph(self.spec, self.data_digest(stat.digest, query))

    def is_query(self, path: Path) -> bool:
        """True for the pseudo-file of a `sql` source (or a `python` one that reads no file), or of the serving log
        in the state backend."""
        if path == self.spec.root / SINK_LOG:
            return True
        name = pseudo_source(path.name)
        if path.parent != self.spec.root or name is None:
            return False
        source = self.spec.pipeline.data.sources.get(name)
        return isinstance(source, SqlSource) or (isinstance(source, PythonSource) and source.path is None)

    def data_digest(self, file_digest: Callable[[Path], str], query: bool = True) -> Callable[[Path], str]:
        """A digest function: files through `file_digest`; `sql:<name>` (with `query`) by its statistic query, or
        by fetching the source once (`fingerprint: result`, and `python:<name>`, a `python` source reading no file)."""
        from mlform.runtime.steps.ingest import read_source

        def digest(path: Path) -> str:
            if path == self.spec.root / SINK_LOG:
                return self.sink_log_digest() if query else UNQUERIED
            if not self.is_query(path):
                return file_digest(path)
            if not query:
                return UNQUERIED
            name = pseudo_source(path.name) or ""
            source = self.spec.pipeline.data.sources[name]
            try:
                if isinstance(source, SqlSource) and source.fingerprint == "statistic":
                    from mlform.runtime.steps.sqlsource import sql_statistic

                    return sql_statistic(name, source, self.spec.pipeline)
                if name not in self.fetched:
                    self.fetched[name] = read_source(name, source, self.spec.pipeline, self.spec.root)
            except MlformError as exc:
                from .failures import failure_location

                raise StepError(f"ingest.{name}", str(exc), location=failure_location(self.spec, exc)) from None
            return frame_digest(self.fetched[name])

        return digest

    def sink_log_digest(self) -> str:
        """The serving log in the state backend, by its number of batches and latest key."""
        from mlform.runtime.serving.logsink import log_prefix, log_statistic
        from mlform.runtime.storage.backends.url import backend_for

        try:
            prefix = log_prefix(self.spec.pipeline.registry.model_name, self.spec.env)
            return log_statistic(backend_for(self.spec), prefix)
        except MlformError as exc:
            raise StepError("monitor", str(exc)) from None

    def frame(self, path: Path) -> pd.DataFrame:
        """The Parquet frame at `path`, read once per run."""
        if path not in self.frames:
            import pandas as pd

            self.frames[path] = pd.read_parquet(path)
        return self.frames[path]

    def model(self, path: Path) -> Any:
        """The model this mlform wrote at `path` (a step output), loaded once per run."""
        if path not in self.models:
            from mlform.runtime.registry.models import load_model

            self.models[path] = load_model(path)
        return self.models[path]

    def registered_model(self, name: str, version: int) -> Any:
        """Version `version` of model `name`: the one registered in this run, else loaded (and checked) once."""
        if (name, version) not in self.registered:
            self.registered[(name, version)] = self.registry.load(name, version).model
        return self.registered[(name, version)]

    def run_step(self, job: Job) -> dict[str, Any]:
        """Run `job` with the action of its step kind, the spec's folder first on `sys.path` (a model pickled with
        the project's own classes, e.g. a `preprocessing_function`'s transformer, imports them from there)."""
        from mlform.runtime.steps.actions import ACTIONS
        from mlform.runtime.steps.usercode import use_project

        use_project(self.spec.root)
        return ACTIONS[job.step.kind](job)


@dataclass(frozen=True)
class Job:
    """One step's run: its folder to write into and everything it may read."""

    ctx: Context
    step: Step
    dir: Path
    outputs: Mapping[str, Output]
    run_id: str
    fingerprints: Mapping[str, str]
    snapshots: Mapping[str, Snapshot]

    @property
    def spec(self) -> ResolvedSpec:
        """The resolved spec."""
        return self.ctx.spec

    def output(self, step_id: str) -> Output:
        """The completed output of upstream step `step_id` (a step runs only once its upstream steps completed)."""
        return self.outputs[step_id]

    def frame(self, source: str) -> pd.DataFrame:
        """The ingested rows of source `source`."""
        return self.ctx.frame(self.output(f"ingest.{source}").dir / "data.parquet")
