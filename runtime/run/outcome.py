"""The outcome of a run and of each step: plain data, importable without loading any spec machinery."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec

__all__ = ["RunResult", "StepRun"]


@dataclass
class StepRun:
    """One step's outcome: `ran`, `cached`, `failed` or `blocked` (an upstream step failed)."""

    id: str
    status: str
    reasons: list[str]
    fingerprint: str
    seconds: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)
    dir: Path | None = None
    error: str | None = None
    cause: BaseException | None = field(default=None, repr=False, compare=False)  # what a failed step raised
    location: str | None = None  # `file:line:col` of the spec key a failed step failed on, when known


@dataclass
class RunResult:
    """One run: its tracked ID, each shown step's outcome in order, and the data files' stats it fingerprinted.

    `spec` is None when an unchanged re-run was answered from its receipt without loading the spec.
    """

    run_id: str
    spec: ResolvedSpec | None
    steps: dict[str, StepRun]
    seconds: float = 0.0
    file_stats: dict[str, list[Any] | None] = field(default_factory=dict)

    @property
    def failed(self) -> StepRun | None:
        """The first failed step, if any."""
        return next((s for s in self.steps.values() if s.status == "failed"), None)
