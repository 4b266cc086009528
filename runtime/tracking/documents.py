"""Runs on a shared backend: each run one document (`runs/<spec name>/<run id>.json`), written by its own run."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from mlform.runtime.gitinfo import GitState
from mlform.runtime.storage.backends.base import ABSENT, Backend
from mlform.specs.errors import StateError

from .rundoc import RUN_FIELDS, doc_to_run, run_key, run_to_doc
from .tracker import Tracker, flat_params

__all__ = ["DocumentTracker"]

_COMPLETED = ("ran", "cached")


def _replace(rows: list[dict[str, Any]], row: dict[str, Any], *keys: str) -> None:
    """Put `row` in `rows` in place of the one with the same `keys`, else at the end."""
    same = next((i for i, old in enumerate(rows) if all(old[k] == row[k] for k in keys)), None)
    if same is None:
        rows.append(row)
    else:
        rows[same] = row


class DocumentTracker(Tracker):
    """Runs as documents on `backend`; a run's writes are compare-and-swap on the version this tracker wrote."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._written: dict[str, tuple[dict[str, Any], str]] = {}  # run ID -> (run, its document's version)

    def _save(self, run: dict[str, Any]) -> None:
        before = self._written.get(run["id"])
        version = self.backend.write(run_key(run["spec_name"], run["id"]), run_to_doc(run),
                                     expect=before[1] if before else ABSENT)
        self._written[run["id"]] = (run, version)

    def start_run(self, run_id: str, spec_name: str, env: str, spec_path: str, spec_digest: str,
                  params: Mapping[str, Any], git: GitState | None = None) -> None:
        """Write the run's document."""
        git = git or GitState()
        self._save({"id": run_id, "spec_name": spec_name, "env": env, "spec_path": spec_path,
                    "spec_digest": spec_digest, "status": "running", "started": time.time(), "finished": None,
                    "error": None, "git_commit": git.commit, "git_dirty": git.dirty,
                    "git_diff_sha256": git.diff_sha256, "steps": [], "params": flat_params(params), "metrics": [],
                    "artifacts": []})

    def log_step(self, run_id: str, step: str, status: str, seconds: float, fingerprint: str, reasons: list[str],
                 metrics: Mapping[str, float] | None = None, artifacts: Mapping[str, str] | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        """Add the step to the run's document."""
        run = self._written[run_id][0]
        _replace(run["steps"], {"step": step, "status": status, "seconds": seconds, "fingerprint": fingerprint,
                                "reasons": list(reasons)}, "step")
        for key, value in (metrics or {}).items():
            _replace(run["metrics"], {"step": step, "key": key, "value": value}, "step", "key")
        for name, uri in (artifacts or {}).items():
            _replace(run["artifacts"], {"step": step, "name": name, "uri": uri}, "step", "name")
        run["params"].update(flat_params(params) if params else {})
        self._save(run)

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        """Mark the run's document finished."""
        run = self._written[run_id][0]
        run.update(status=status, finished=time.time(), error=error)
        self._save(run)

    def _keys(self, spec_name: str | None) -> list[str]:
        return self.backend.keys(f"runs/{spec_name}/" if spec_name else "runs/")

    def _read(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The runs in `keys`, fetched in one round trip, newest first."""
        runs = [doc_to_run(doc.data, f"{key} in {self.backend.describe()}")
                for key, doc in self.backend.read_many(keys).items()]
        return sorted(runs, key=lambda run: run["started"], reverse=True)

    def runs(self, limit: int = 20, spec_name: str | None = None) -> list[dict[str, Any]]:
        """The newest runs: IDs start with their second, so only the newest IDs' documents are read."""
        keys = sorted(self._keys(spec_name), key=lambda key: key.rsplit("/", 1)[1], reverse=True)
        if len(keys) > limit:  # runs started in the cut-off second are all read, their exact order is `started`
            second = keys[limit - 1].rsplit("/", 1)[1][:15]
            keys = [key for key in keys if key.rsplit("/", 1)[1][:15] >= second]
        return [{field: run[field] for field in RUN_FIELDS} for run in self._read(keys)[:limit]]

    def step_history(self, spec_name: str, steps: Sequence[str]) -> list[dict[str, Any]]:
        """The completed `steps` of every run of `spec_name`, newest run first."""
        return [{"run_id": run["id"], "env": run["env"], "started": run["started"], "step": step["step"],
                 "fingerprint": step["fingerprint"]}
                for run in self._read(self._keys(spec_name)) for step in run["steps"]
                if step["step"] in steps and step["status"] in _COMPLETED]

    def run(self, run_id: str) -> dict[str, Any]:
        """The run whose ID starts with `run_id`, when exactly one does."""
        found = [key for key in self._keys(None) if key.rsplit("/", 1)[1].startswith(run_id)]
        if len(found) != 1:
            problem = "matches several runs" if found else "is not a tracked run"
            raise StateError(f"run `{run_id}` {problem}")
        return self._read(found)[0]
