"""The run tracker interface, and the one chosen for a backend: SQLite on the local kind, documents elsewhere."""

from __future__ import annotations

import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mlform.runtime.gitinfo import GitState
from mlform.runtime.storage.backends.base import Backend

__all__ = ["TRACKING_DB", "Tracker", "flat_params", "new_run_id", "open_tracker"]

TRACKING_DB = "tracking.db"


def new_run_id() -> str:
    """A sortable run ID: UTC time plus random hex."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def flat_params(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested mappings as dotted keys (`model.params.max_depth`); other values as text, JSON unless a string."""
    if isinstance(value, Mapping) and value:
        out: dict[str, str] = {}
        for key, inner in value.items():
            out.update(flat_params(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value if isinstance(value, str) else json.dumps(value, sort_keys=True)}


class Tracker(ABC):
    """Where runs are recorded: every writer and reader of runs goes through this interface."""

    @abstractmethod
    def start_run(self, run_id: str, spec_name: str, env: str, spec_path: str, spec_digest: str,
                  params: Mapping[str, Any], git: GitState | None = None) -> None:
        """Record a new running run with its flattened params and the project's git state (None: not looked up)."""

    @abstractmethod
    def log_step(self, run_id: str, step: str, status: str, seconds: float, fingerprint: str, reasons: list[str],
                 metrics: Mapping[str, float] | None = None, artifacts: Mapping[str, str] | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        """Record one step's outcome with its metrics, artifact URIs and the params it found (e.g. by tuning)."""

    @abstractmethod
    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        """Mark a run finished."""

    @abstractmethod
    def runs(self, limit: int = 20, spec_name: str | None = None) -> list[dict[str, Any]]:
        """The latest runs (their own fields, without steps), newest first."""

    @abstractmethod
    def step_history(self, spec_name: str, steps: Sequence[str]) -> list[dict[str, Any]]:
        """The completed (`ran` or `cached`) `steps` of every run of `spec_name`, newest run first."""

    @abstractmethod
    def run(self, run_id: str) -> dict[str, Any]:
        """One run with its steps, params, metrics and artifacts; a unique ID prefix is enough."""

    def close(self) -> None:  # noqa: B027 - a document tracker holds nothing of its own
        """Release what the tracker holds."""


def open_tracker(backend: Backend, *, create: bool = True) -> Tracker | None:
    """The tracker of `backend`: its SQLite file on the local kind (None when missing and not `create`), else
    one document per run."""
    db = backend.local_path(TRACKING_DB)
    if db is None:
        from .documents import DocumentTracker

        return DocumentTracker(backend)
    if not create and not db.is_file():  # opening a missing database would create it
        return None
    from .sqlite import SqliteTracker

    return SqliteTracker(db)
