"""The drift methods, declared once: the spec's `DriftMethod`, its help and the monitor's scores come from here.

This module imports nothing heavy, so validating a spec loads no numpy or scipy; each method names the
runtime function computing it by import path, imported only when the monitor runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

__all__ = ["DEFAULT_DRIFT_METHOD", "DRIFT_METHODS", "DriftMethod", "DriftMethodInfo", "drift_method_help"]


@dataclass(frozen=True)
class DriftMethodInfo:
    """One drift method: its name in specs, a gloss for the help text, and where its computation lives."""

    name: str
    compute: str
    """Import path of `(sample) -> float`; the sample is `mlform.runtime.monitoring.samples.Sample`."""
    gloss: str = ""


_METHODS = "mlform.runtime.monitoring.methods"

DRIFT_METHODS: dict[str, DriftMethodInfo] = {m.name: m for m in (
    DriftMethodInfo("psi", f"{_METHODS}.psi", "population stability index"),
    DriftMethodInfo("ks", f"{_METHODS}.ks", "Kolmogorov-Smirnov"),
    DriftMethodInfo("wasserstein", f"{_METHODS}.wasserstein", "scaled by the reference's standard deviation"),
    DriftMethodInfo("jensenshannon", f"{_METHODS}.jensenshannon"),
)}
DEFAULT_DRIFT_METHOD = "psi"

if TYPE_CHECKING:
    DriftMethod: TypeAlias = str
else:
    DriftMethod = Literal[tuple(DRIFT_METHODS)]


def drift_method_help() -> str:
    """Each method in backticks with its gloss, as in `` `psi` (population stability index), ... or `x` ``."""
    named = [f"`{m.name}` ({m.gloss})" if m.gloss else f"`{m.name}`" for m in DRIFT_METHODS.values()]
    return f"{', '.join(named[:-1])} or {named[-1]}"
