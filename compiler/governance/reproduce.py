"""`mlform reproduce`: retrain a registered version from its lineage and compare predictions on its test rows.

The project folder is read from the version's git commit (never checked out) into a throwaway folder; the data
files come from the working tree only when their digests are the lineage's. Training runs in memory: nothing
is registered, tracked or written to the project's state.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlform.specs import ResolvedSpec, load_spec
from mlform.specs.errors import PlanError
from mlform.specs.fsutil import file_sha256

__all__ = ["Reproduction", "ReproduceError", "reproduce"]


class ReproduceError(PlanError):
    """A version cannot be reproduced: no clean commit in its lineage, or its data changed."""


@dataclass(frozen=True)
class Reproduction:
    """The outcome: test rows compared, differing predictions and the largest score difference."""

    model: str
    version: int
    commit: str
    rows: int
    differing: int
    max_difference: float

    @property
    def identical(self) -> bool:
        """Whether every prediction and score matched exactly."""
        return self.differing == 0 and self.max_difference == 0.0


def _repo_root(folder: Path) -> Path:
    done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, check=False)
    if done.returncode != 0:
        raise ReproduceError(f"`{folder}` is not inside a git repository: reproducing reads the spec at its commit")
    return Path(done.stdout.decode().strip()).resolve()


def _checkout(repo: Path, commit: str, folder: str, dest: Path) -> None:
    """The files of `folder` (repository-relative) at `commit`, written under `dest` at their repository paths."""
    from mlform.compiler.diff.gitrefs import materialize, side

    listing = subprocess.run(["git", "ls-tree", "-r", "-z", "--name-only", commit, "--", folder or "."],
                             cwd=repo, capture_output=True, check=False)
    if listing.returncode != 0:
        raise ReproduceError(f"commit {commit[:12]} is not in this repository (fetch it first)")
    named = {p.decode() for p in listing.stdout.split(b"\0") if p}
    materialize(repo, side(repo, commit), named, dest)


def _check_data(lineage: dict[str, Any], root: Path, copy_to: Path) -> None:
    """Copy each data file of the lineage from `root` to `copy_to`; refuse one whose digest changed."""
    for shown, digest in sorted(lineage.get("data", {}).items()):
        source = root / shown
        if not source.is_file():
            raise ReproduceError(f"data `{shown}` of the lineage is not a file here (a query, or missing): "
                                 "its rows cannot be proven the same")
        now = file_sha256(source)
        if now != digest:
            raise ReproduceError(f"data `{shown}` changed since the version was trained (lineage {digest[:19]}..., "
                                 f"now {now[:19]}...): restore it to reproduce")
        (copy_to / shown).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy_to / shown)


def _retrain(spec: ResolvedSpec) -> tuple[Any, Any]:
    """The model trained as a run trains it (split, filter, tuning), and the test rows' features."""
    from mlform.runtime.steps.ingest import read_source
    from mlform.runtime.steps.split import filter_rows, split_rows
    from mlform.runtime.steps.train import fit_pipeline

    pipeline, root = spec.pipeline, spec.root
    data = pipeline.data
    frame = read_source(data.training_source, data.sources[data.training_source], pipeline, root)
    train, test = split_rows(frame, data.split, data.target)
    if data.split.filter:
        train, test = (filter_rows(frame, part, data.split.filter, root) for part in (train, test))
    X, y = frame.iloc[train][list(data.features)], frame.iloc[train][data.target]
    model_spec = pipeline.model
    if model_spec.tuning is not None:
        from mlform.runtime.steps.tuning import search

        best = search(model_spec, pipeline.evaluation, X, y, root).best_params
        model_spec = model_spec.model_copy(update={"params": {**model_spec.params, **best}, "tuning": None})
    return fit_pipeline(model_spec, X, y, root), frame.iloc[test][list(data.features)]


def _compare(registered: Any, retrained: Any, X: Any) -> tuple[int, float]:
    """(predictions that differ, largest absolute difference of scores or numeric predictions) on `X`."""
    import numpy as np

    before, after = registered.predict(X), retrained.predict(X)
    differing = int((before != after).sum())
    if hasattr(registered, "predict_proba") and hasattr(retrained, "predict_proba"):
        gap = np.abs(registered.predict_proba(X) - retrained.predict_proba(X))
    elif np.issubdtype(np.asarray(before).dtype, np.number):
        gap = np.abs(np.asarray(before, dtype=float) - np.asarray(after, dtype=float))
    else:
        gap = np.zeros(1)
    return differing, float(gap.max()) if gap.size else 0.0


def reproduce(spec: ResolvedSpec, model: str, ref: str) -> Reproduction:
    """Retrain version `ref` (a number or an alias of the spec's environment) of `model` from its lineage."""
    from mlform.runtime.registry.models import registry_for
    from mlform.specs.check.usercode import use_project

    use_project(spec.root)  # a model holding the project's own classes imports them from its folder
    loaded = registry_for(spec).load(model, ref, spec.env)
    lineage, label = loaded.version.lineage, f"model `{model}` version {loaded.version.version}"
    commit = lineage.get("git_commit")
    if not commit:
        raise ReproduceError(f"{label} has no git commit in its lineage: it was not trained in a git work tree")
    if lineage.get("git_dirty"):
        raise ReproduceError(f"{label} was trained with uncommitted changes on {commit[:12]}: its spec and code "
                             "are not in git, so it cannot be reproduced")
    repo = _repo_root(spec.root)
    folder = spec.root.resolve().relative_to(repo).as_posix()
    with tempfile.TemporaryDirectory(prefix="mlform-reproduce-") as tmp:
        dest = Path(tmp)
        _checkout(repo, commit, "" if folder == "." else folder, dest)
        root = dest / folder
        _check_data(lineage, spec.root, root)
        then = load_spec(root / spec.path.name, lineage.get("env") or spec.env, require_data=True)
        retrained, X = _retrain(then)
        differing, gap = _compare(loaded.model, retrained, X)
    return Reproduction(model, loaded.version.version, commit, len(X), differing, gap)
