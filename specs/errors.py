"""Errors raised by mlform: one root, one subclass per stage.

MlformError
├── SpecError     a spec cannot be read or is invalid; carries every Diagnostic at once
│   └── EditError a spec file cannot be edited in place safely
├── GraphError    the step graph has a cycle or a missing dependency
├── RenderError   a template failed to render
├── PlanError     a plan cannot be made, or a saved plan cannot be applied
├── StateError    state cannot be read, written or locked
└── StepError     a runtime step failed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Diagnostic",
    "EditError",
    "GraphError",
    "MlformError",
    "PlanError",
    "RenderError",
    "SpecError",
    "StateError",
    "StepError",
]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding in a spec file, located at `file:line:col` and a dotted key path."""

    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {where}{self.message}"


class MlformError(Exception):
    """Root of every error mlform raises on purpose."""


class SpecError(MlformError):
    """A spec file is unreadable or invalid; `diagnostics` holds every finding, sorted."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        """The findings of severity `error`."""
        return [d for d in self.diagnostics if d.severity == "error"]


class EditError(SpecError):
    """A spec file cannot be edited in place safely; the diagnostic says where and why."""


class GraphError(MlformError):
    """The step graph is not a DAG, or a step needs one that does not exist."""


class RenderError(MlformError):
    """A template could not be rendered."""


class PlanError(MlformError):
    """A plan cannot be made, or a saved plan does not fit the current state."""


class StateError(MlformError):
    """State cannot be read, written or locked."""


class StepError(MlformError):
    """A runtime step failed; `step` names it."""

    def __init__(self, step: str, message: str) -> None:
        self.step = step
        super().__init__(f"step `{step}` failed: {message}")
