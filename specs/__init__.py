"""mlform specs: load, validate and resolve `mlform/v1` pipeline specs."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # `X as X`: re-exported for type checkers; at run time `__getattr__` imports them on first use
    from mlform.specs.model.pipeline import Pipeline as Pipeline
    from mlform.specs.read.overlays import BASE as BASE

    from .errors import Diagnostic as Diagnostic
    from .errors import EditError as EditError
    from .errors import GraphError as GraphError
    from .errors import MlformError as MlformError
    from .errors import PlanError as PlanError
    from .errors import RenderError as RenderError
    from .errors import SpecError as SpecError
    from .errors import StateError as StateError
    from .errors import StepError as StepError
    from .loader import ResolvedSpec as ResolvedSpec
    from .loader import discover as discover
    from .loader import load_spec as load_spec
    from .loader import validate_file as validate_file

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
__all__ = [  # spelled out for type checkers and linters; `_HOMES` says where each lives
    "BASE", "Diagnostic", "EditError", "GraphError", "MlformError", "Pipeline", "PlanError", "RenderError",
    "ResolvedSpec", "SpecError", "StateError", "StepError", "discover", "load_spec", "validate_file",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
