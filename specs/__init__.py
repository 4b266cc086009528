"""mlform specs: load, validate and resolve `mlform/v1` pipeline specs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (Diagnostic, EditError, GraphError, MlformError, PlanError, RenderError, SpecError, StateError,
                         StepError)
    from .loader import ResolvedSpec, discover, load_spec, validate_file
    from mlform.specs.read.overlays import BASE
    from mlform.specs.model.pipeline import Pipeline

# Public names resolve lazily so that importing an error class does not import pydantic.
_HOMES = {
    "BASE": "read.overlays",
    "Diagnostic": "errors",
    "EditError": "errors",
    "GraphError": "errors",
    "MlformError": "errors",
    "Pipeline": "model.pipeline",
    "PlanError": "errors",
    "RenderError": "errors",
    "ResolvedSpec": "loader",
    "SpecError": "errors",
    "StateError": "errors",
    "StepError": "errors",
    "discover": "loader",
    "load_spec": "loader",
    "validate_file": "loader",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
